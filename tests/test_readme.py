"""The README's Python examples run as written."""

import re
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.naive_bayes import GaussianNB

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    X, y = load_digits(return_X_y=True)
    X, y = X[:360], y[:360]  # a quick run
    # the names the examples leave to the reader
    namespace = {
        "base_model": GaussianNB(),  # any classifier; a quick one here
        "X_train": X[:240],
        "y_train": y[:240],
        "X": X,
        "y": y,
    }
    for block in blocks:  # in order: later blocks may use earlier names
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["clf"].predict_error_proba(X).shape == (X.shape[0],)
    scores = namespace["search"].cv_results_["mean_test_score"]
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_readme_result_tables_are_copied_from_the_results_pages():
    # the tables under the marker are copies; a re-run benchmark that changes
    # a number must not leave a stale copy on the README's first screen
    section = README.read_text().split("<!-- results-table -->")[1]
    section = section.split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert len(rows) > 10
    pages = re.findall(r"\(benchmarks/results/([\w.]+\.md)\)", section)
    assert pages
    page_rows = set()
    for page in pages:
        page_rows.update(
            (README.parent / "benchmarks/results" / page).read_text().splitlines()
        )
    assert [row for row in rows if row not in page_rows] == []
