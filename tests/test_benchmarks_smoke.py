"""Every benchmark script runs end to end in its smoke mode (what CI can afford)."""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name, *args, timeout=600, check=True):
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / name), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def test_bench_digits_smoke(tmp_path):
    run_script("bench_digits.py", "--out", str(tmp_path), "--n-jobs", "2")
    payload = json.loads((tmp_path / "digits_smoke.json").read_text())
    methods = payload["summary"]["GaussianNB"]
    assert {"msp", "trust_score", "metaerr[logistic]"} <= set(methods)
    # the raw-pixel rows measure in another space than the default rows
    for default, raw in [
        ("trust_score", "trust_score_raw"),
        ("metaerr[logistic]", "metaerr_raw"),
    ]:
        assert methods[raw]["auroc_f"]["mean"] != methods[default]["auroc_f"]["mean"]
    # the parallel cells come back whole and in order
    assert [r["base"] for r in payload["runs"]] == ["GaussianNB", "LogisticRegression"]
    assert set(methods["msp"]) == {
        "auroc_f",
        "aupr_error",
        "fpr_at_95_tpr",
        "aurc",
        "e_aurc",
    }
    assert "| metaerr[logistic] |" in (tmp_path / "digits_smoke.md").read_text()


@pytest.mark.parametrize("argv", [["compare", "--seeds", "0", "--base", "gaussian_nb"]])
def test_cli_compare_prints_every_method_and_metric(argv, capsys):
    from metaerr_sk._cli import main

    assert main(argv) == 0
    out = capsys.readouterr().out
    for name in (
        "msp",
        "margin",
        "entropy",
        "doctor",
        "trust_score",
        "metaerr[logistic]",
        "auroc_f",
        "e_aurc",
    ):
        assert name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--meta-learner", "foo"], "invalid choice: 'foo'"),
        (["compare", "--n-samples", "0"], "must be at least 1, got 0"),
        (["compare", "--seeds", "-1"], r"must be in \[0, 2\*\*32\), got -1"),
        (["compare", "--seeds", "0", "0"], r"--seeds repeats a value: \[0, 0\]"),
        (
            ["compare", "--dataset", "mnist", "--data-dir", "/nonexistent"],
            "Missing data file /nonexistent/mnist/.*never downloads",
        ),
    ],
)
def test_cli_bad_arguments_are_usage_errors(argv, message, capsys):
    # exit status 2 and one line, not a traceback
    from metaerr_sk._cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def _bench_module(name):
    """A benchmark script imported as a module, for its pure helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # a script may import its neighbours, as it does when run from benchmarks/
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


@pytest.mark.parametrize(
    "script, task",
    [
        ("bench_self_training", "run_method"),
        ("bench_self_training_selection", "run_one"),
        ("bench_debugging", "run_one"),
        ("bench_digits", "run_cell"),
    ],
)
def test_bench_tasks_run_on_one_blas_thread(script, task, monkeypatch):
    # self-training and the coverage gap's KMeans change with the thread count
    # in the last bits and then visibly: a page reproduces only with it fixed
    from threadpoolctl import threadpool_info, threadpool_limits

    bench = _bench_module(script)

    def blas_threads(*args, **kwargs):
        return {lib["num_threads"] for lib in threadpool_info()}

    monkeypatch.setattr(bench, f"_{task}", blas_threads)
    with threadpool_limits(limits=2):
        # the wrapper passes the task's arguments on unread: stand-ins do
        run = getattr(bench, task)
        stand_ins = [None] * len(inspect.signature(run).parameters)
        assert run(*stand_ins) == {1}


def test_bench_self_training_smoke(tmp_path):
    run_script("bench_self_training.py", "--out", str(tmp_path))
    written = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.endswith(".json") for name in written), written
    assert any(name.endswith(".png") for name in written), written
    # --render rewrites the same page from the runs in its JSON
    md = tmp_path / "self_training_smoke.md"
    first = md.read_text()
    md.unlink()
    subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_self_training.py"),
            "--render",
            str(tmp_path / "self_training_smoke.json"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert md.read_text() == first
    assert "| acc_seeds_won |" in first
    # the fully labelled ceiling is run, and how much of the gap ours closes
    assert "| gap_closed |" in first and "| all_labels |" in first
    assert "Stretch goal (half the gap" in first
    assert "; BLAS: " in first  # which kernels gave these last digits


def _reseeded(page, seed):
    """A copy of ``page`` as if its runs had been drawn with ``seed``."""
    page = json.loads(json.dumps(page))
    runs = [{**run, "seed": seed} for run in page["runs"]]
    return {**page, "seeds": [seed], "runs": runs}


def test_bench_self_training_merges_pages_of_other_seeds(tmp_path):
    bench = _bench_module("bench_self_training")
    run_script("bench_self_training.py", "--out", str(tmp_path))
    page = json.loads((tmp_path / "self_training_smoke.json").read_text())
    # the smoke run, and a copy in which only ours is 0.1 lower: two seeds,
    # paired margins m and m - 0.1, mean m - 0.05 and standard error 0.05
    lower = _reseeded(page, 7)
    for run in lower["runs"]:
        scores = run["scores"]["metaerr"]
        scores["accuracy"] = scores["accuracy"] - 0.1
    (tmp_path / "lower.json").write_text(json.dumps(lower))
    subprocess.run(
        [
            sys.executable, str(BENCHMARKS / "bench_self_training.py"),
            "--merge", str(tmp_path / "self_training_smoke.json"),
            str(tmp_path / "lower.json"),
            "--stem", "pooled", "--out", str(tmp_path),
        ],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    merged = json.loads((tmp_path / "pooled.json").read_text())
    assert merged["seeds"] == [0, 7] and len(merged["runs"]) == 2
    (one,) = page["acceptance"]
    (row,) = merged["acceptance"]
    margin = one["acc_margin"]
    assert row["acc_seeds_won"] == f"{int(margin > 0) + int(margin > 0.1)}/2"
    assert row["acc_margin"] == pytest.approx(margin - 0.05)
    assert row["acc_margin_se"] == pytest.approx(0.05)
    md = (tmp_path / "pooled.md").read_text()
    assert "Pooled with --merge from the pages `self_training_smoke` (seeds [0]" in md
    assert "`lower` (seeds [7]" in md

    # only pages of the same settings and of different seeds pool
    other = {**_reseeded(page, 8), "pool": 5000}
    with pytest.raises(ValueError, match="differ in pool"):
        bench.merge_pages({"a": page, "b": other})
    with pytest.raises(ValueError, match=r"seed\(s\) \[0\] are on more than one"):
        bench.merge_pages({"a": page, "b": page})
    # a page from before ``features`` was recorded ran the four groups
    older = _reseeded(page, 10)
    del older["metaerr_settings"]["features"]
    assert bench.merge_pages({"a": page, "b": older})["seeds"] == [0, 10]
    older["metaerr_settings"]["features"] = ["confidence"]
    with pytest.raises(ValueError, match="differ in SelfTrainingWithMetaErr param"):
        bench.merge_pages({"a": page, "b": older})
    elsewhere = _reseeded(page, 9)
    elsewhere["runs"] = [{**run, "cell": "digits 25/class"} for run in page["runs"]]
    with pytest.raises(ValueError, match="differ in datasets or budgets"):
        bench.merge_pages({"a": page, "b": elsewhere})


@pytest.mark.parametrize(
    "args, message",
    [
        (["--merge", "a.json"], "at least two pages"),
        (["--merge", "a.json", "b.json"], "needs --stem"),
        (["--merge", "a.json", "b.json", "--render", "a.json"], "not allowed with"),
        (["--merge", "x/a.json", "y/a.json", "--stem", "s"], "give each once"),
    ],
)
def test_bench_self_training_merge_usage_errors(args, message, capsys):
    bench = _bench_module("bench_self_training")
    with pytest.raises(SystemExit) as exit_info:
        bench.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bench_self_training_counts_the_seeds_won_against_the_best_rival():
    bench = _bench_module("bench_self_training")
    methods = ("metaerr", *bench.RIVALS)
    # ours wins the mean through one large win and loses the other two seeds
    accuracy = {0: 0.9, 1: 0.6, 2: 0.6}
    runs = [
        {
            "cell": "d 4/class",
            "seed": seed,
            "scores": {
                m: {
                    "accuracy": acc if m == "metaerr" else 0.65,
                    "pseudo_precision": 0.8,
                    "n_pseudo": 10.0,
                }
                for m in methods
            },
        }
        for seed, acc in accuracy.items()
    ]
    summary = bench.summarize_runs(runs, group_by="cell", metrics=bench.METRICS)
    (row,) = bench.acceptance(summary, runs)
    assert row["acc_met"] is True
    assert row["acc_seeds_won"] == "1/3"
    # differences +0.25, -0.05, -0.05: mean 0.05, standard error 0.1
    assert row["acc_margin"] == pytest.approx(0.05)
    assert row["acc_margin_se"] == pytest.approx(0.1)


def test_bench_self_training_measures_the_gap_closed_towards_all_labels():
    bench = _bench_module("bench_self_training")
    accuracy = {  # supervised, ours, all labels: ours closes 0.6 / 0.25 / 0.5
        "a 4/class": (0.5, 0.8, 1.0),
        "a 25/class": (0.6, 0.7, 1.0),
        "b 4/class": (0.5, 0.6, 0.7),
        "c 4/class": (0.2, 0.3, 0.8),
    }
    methods = ("metaerr", "all_labels", *bench.RIVALS)
    runs = [
        {
            "cell": cell,
            "seed": 0,
            "scores": {
                m: {
                    "accuracy": {"supervised": sup, "metaerr": ours}.get(
                        m, full if m == "all_labels" else sup
                    ),
                    "pseudo_precision": 0.8,
                    "n_pseudo": 10.0,
                }
                for m in methods
            },
        }
        for cell, (sup, ours, full) in accuracy.items()
    ]
    summary = bench.summarize_runs(runs, group_by="cell", metrics=bench.METRICS)
    rows = bench.acceptance(summary, runs)
    gaps = {row["cell"]: row["gap_closed"] for row in rows}
    assert gaps == pytest.approx(
        {"a 4/class": 0.6, "a 25/class": 0.25, "b 4/class": 0.5, "c 4/class": 1 / 6}
    )
    # a dataset counts by its best budget; exactly half the gap counts as closed
    sentence = bench.gap_check(rows)
    assert "2 of 3 datasets (a, b) - met" in sentence
    assert bench.gap_check(rows[2:3]).endswith("b 0.50.")
    # a run without the ceiling (an older page) has no gap to report
    del summary["a 4/class"]["all_labels"]
    (row,) = bench.acceptance({"a 4/class": summary["a 4/class"]}, runs)
    assert "gap_closed" not in row and bench.gap_check([row]) is None


def test_bench_self_training_methods_subset_skips_the_target_check(tmp_path):
    # against part of the rivals a "met" would mislead; it crashed before
    run_script(
        "bench_self_training.py", "--methods", "metaerr", "supervised",
        "--out", str(tmp_path),
    )  # fmt: skip
    payload = json.loads((tmp_path / "self_training_smoke.json").read_text())
    assert set(payload["summary"]["digits 4/class"]) == {"metaerr", "supervised"}
    assert payload["acceptance"] == []
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert "Not checked: this run leaves out sklearn_0.75, sklearn_0.9," in md


def test_bench_self_training_bases_fit_and_are_named_on_the_page():
    bench = _bench_module("bench_self_training")
    X, y = load_iris(return_X_y=True)
    for kind in bench.BASES:
        base = bench.make_base(kind=kind).fit(X, y)
        assert base.predict_proba(X).shape == (150, 3), kind
    assert bench.base_sentence("logistic") == "."
    assert "Gaussian naive Bayes (--base gaussian_nb)" in bench.base_sentence(
        "gaussian_nb"
    )


def test_bench_self_training_refuses_methods_without_metaerr(tmp_path):
    done = run_script(
        "bench_self_training.py", "--methods", "supervised", "--out", str(tmp_path),
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--methods must include metaerr" in done.stderr
    assert not any(tmp_path.iterdir())


def test_bench_self_training_text_smoke(tmp_path):
    run_script("bench_self_training_text.py", "--out", str(tmp_path))
    page = json.loads((tmp_path / "self_training_text_smoke.json").read_text())
    (run,) = page["runs"]
    scores = run["scores"]
    # every method reads the same tf-idf: a scikit-learn run that admits
    # nothing is the supervised-only model, to the last digit
    idle = [m for m in ("sklearn_0.75", "sklearn_0.9", "sklearn_0.95")
            if scores[m]["n_pseudo"] == 0]  # fmt: skip
    assert idle
    for method in idle:
        assert scores[method]["accuracy"] == scores["supervised"]["accuracy"]
    assert scores["metaerr"]["n_pseudo"] > 0
    rows = {row["method"]: row for row in page["against_rivals"]}
    assert set(rows) == {"metaerr", "metaerr_unweighted"}
    md = (tmp_path / "self_training_text_smoke.md").read_text()
    assert "## Against the best rival" in md and "| metaerr_unweighted |" in md
    assert (tmp_path / "self_training_text_smoke.png").exists()


def test_bench_self_training_selection_smoke(tmp_path):
    run_script("bench_self_training_selection.py", "--out", str(tmp_path))
    payload = json.loads((tmp_path / "self_training_selection_smoke.json").read_text())
    rankers = payload["summary"]["digits 4/class"]
    assert set(rankers) == {"confidence", "metaerr", "metaerr_no_neighbors"}
    # every ranker ends with the same number of pseudo-labels: only the order differs
    last = [r for r in payload["rounds"] if r["round"] == 5]
    assert len({r["n_pseudo"] for r in last}) == 1
    md = (tmp_path / "self_training_selection_smoke.md").read_text()
    # distance to the labels is reported, not ranked: no arrow, no bold
    assert "| distance_top20 |" in md


def test_bench_self_training_early_stopping_shows_the_check(tmp_path):
    run_script("bench_self_training.py", "--out", str(tmp_path))
    page = tmp_path / "self_training_smoke.json"
    payload = json.loads(page.read_text())
    # the page records every parameter, so it stays readable after a default moves
    assert payload["metaerr_settings"]["early_stopping"] is True
    assert payload["metaerr_settings"]["pseudo_label_weight"] == 4.0
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert (
        "defaults (threshold=0.9, early_stopping=True, pseudo_label_weight=4.0, "
        "min_errors=5, cap_at_confidence=True)" in md
    )
    assert "| n_oof_errors | trust | cap_temperature | oof_auroc |" in md
    assert "| oof_accuracy | oof_accuracy_with_pseudo | kept |" in md

    run_script(
        "bench_self_training.py", "--metaerr-params", '{"early_stopping": false}',
        "--out", str(tmp_path),
    )  # fmt: skip
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert (
        "parameters {'early_stopping': False} (threshold=0.9, early_stopping=False, "
        "pseudo_label_weight=4.0, min_errors=5, cap_at_confidence=True)" in md
    )
    assert "| kept |" not in md

    # a page from before pseudo_label_weight ran with unweighted pseudo-labels,
    # and one from before min_errors let the meta-learner learn from one error
    # (its history has no trust: read from the error count)
    payload = json.loads(page.read_text())
    del payload["metaerr_settings"]["pseudo_label_weight"]
    del payload["metaerr_settings"]["min_errors"]
    del payload["metaerr_settings"]["cap_at_confidence"]
    for run in payload["runs"]:
        for record in run["metaerr_history"]:
            del record["trust"]
    page.write_text(json.dumps(payload))
    run_script("bench_self_training.py", "--render", str(page))
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert (
        "(threshold=0.9, early_stopping=False, pseudo_label_weight=0.0, "
        "min_errors=1, cap_at_confidence=False)" in md
    )
    assert "| meta_learner |" in md

    # a page from before metaerr_settings ran when early_stopping defaulted to
    # False: re-rendered, it says so and shows no check
    del payload["metaerr_settings"]
    payload["metaerr_params"] = {}
    page.write_text(json.dumps(payload))
    run_script("bench_self_training.py", "--render", str(page))
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert (
        "parameters defaults (threshold=0.9, early_stopping=False, "
        "pseudo_label_weight=0.0, min_errors=1, cap_at_confidence=False)" in md
    )
    assert "| kept |" not in md


def test_bench_self_training_scale_on_pool_smoke(tmp_path):
    run_script("bench_self_training.py", "--scale-on-pool", "--out", str(tmp_path))
    payload = json.loads((tmp_path / "self_training_smoke.json").read_text())
    assert payload["scale_on_pool"] is True
    md = (tmp_path / "self_training_smoke.md").read_text()
    assert "standardised on the whole pool (--scale-on-pool)" in md


def test_bench_self_training_runs_a_bundled_tabular_set(tmp_path):
    # not --smoke, which runs digits: a full run of one small cell
    subprocess.run(
        [
            sys.executable, str(BENCHMARKS / "bench_self_training.py"),
            "--datasets", "iris", "--budgets", "4", "--seeds", "0", "--no-curves",
            "--scale-on-pool", "--stem", "tabular", "--out", str(tmp_path),
        ],
        capture_output=True, timeout=600, check=True,
    )  # fmt: skip
    payload = json.loads((tmp_path / "tabular.json").read_text())
    assert [row["cell"] for row in payload["acceptance"]] == ["iris 4/class"]
    (run,) = payload["runs"]
    assert run["scores"]["metaerr"]["accuracy"] > 0.5  # three classes


def test_bench_self_training_random_forest_base(tmp_path):
    subprocess.run(
        [
            sys.executable, str(BENCHMARKS / "bench_self_training.py"),
            "--datasets", "iris", "--budgets", "4", "--seeds", "0", "--no-curves",
            "--base", "random_forest", "--methods", "supervised", "metaerr",
            "--stem", "forest", "--out", str(tmp_path),
        ],
        capture_output=True, timeout=600, check=True,
    )  # fmt: skip
    payload = json.loads((tmp_path / "forest.json").read_text())
    assert payload["base"] == "random_forest"
    assert "random forest of 100 trees" in (tmp_path / "forest.md").read_text()
    (run,) = payload["runs"]
    assert run["scores"]["supervised"]["accuracy"] > 0.5  # three classes
    # the cap's temperature, at most 1, is on every row of the history
    temperatures = [row["cap_temperature"] for row in payload["metaerr_history"]]
    assert temperatures and all(0 < t <= 1 for t in temperatures)


def test_bench_early_stopping_cost_smoke(tmp_path):
    run_script("bench_early_stopping_cost.py", "--out", str(tmp_path))
    payload = json.loads((tmp_path / "early_stopping_cost_smoke.json").read_text())
    (row,) = payload["cost"]
    assert row["seconds_with"] > 0 and row["seconds_without"] > 0
    # on digits the check stops nothing: the same model, only the time differs
    assert row["seeds_stopped"] == "0/1" and row["seeds_changed"] == "0/1"
    assert {r["setting"] for r in payload["runs"]} == {"with", "without"}
    assert (tmp_path / "early_stopping_cost_smoke.png").stat().st_size > 0
