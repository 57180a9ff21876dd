"""Benchmark tables: summaries over seeds rendered as Markdown."""

import numpy as np
import pytest

from metaerr_sk._reporting import summarize_runs, summary_table


def _summary():
    runs = [
        {"cell": "c", "scores": {"ceiling": {"acc": a + 0.3}, "x": {"acc": a},
                                 "y": {"acc": a + 0.1}}}
        for a in (0.5, 0.6)
    ]  # fmt: skip
    return summarize_runs(runs, group_by="cell", metrics=["acc"])["c"]


def test_summary_table_bolds_the_best_method():
    table = summary_table(_summary(), ["acc"])
    assert "| ceiling | **0.8500 ± 0.0707** |" in table
    assert "| y | 0.6500 ± 0.0707 |" in table


def test_summary_table_shows_references_last_and_never_bold():
    # a fully labelled ceiling is there to compare with: the best real method
    # keeps the bold
    lines = summary_table(_summary(), ["acc"], references=("ceiling",)).splitlines()
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| x", "| y", "| ceiling"]
    assert "| y | **0.6500 ± 0.0707** |" in lines
    assert "| ceiling | 0.8500 ± 0.0707 |" in lines


def test_summarize_runs_leaves_undefined_values_out():
    # the precision of a run that made no pseudo-label is NaN: it must not
    # turn the cell's mean into NaN, and a metric undefined everywhere stays NaN
    runs = [
        {"cell": "c", "scores": {"m": {"prec": p, "none": np.nan}}}
        for p in (0.8, np.nan, 0.6)
    ]
    row = summarize_runs(runs, group_by="cell", metrics=["prec", "none"])["c"]["m"]
    assert row["prec"] == {
        "mean": pytest.approx(0.7),
        "std": pytest.approx(0.1414, abs=1e-4),
        "n": 3,
    }
    assert np.isnan(row["none"]["mean"]) and np.isnan(row["none"]["std"])
