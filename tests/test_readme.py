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
