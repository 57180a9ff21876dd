"""Benchmark tables: summaries over seeds rendered as Markdown."""

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
