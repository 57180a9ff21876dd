"""The error-prediction benchmark runs end to end in its smoke mode (CI)."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = (
    Path(__file__).resolve().parents[1] / "benchmarks" / "bench_error_prediction.py"
)
METRICS = {"auroc_f", "aupr_error", "fpr_at_95_tpr", "aurc", "e_aurc"}


def test_bench_error_prediction_smoke(tmp_path, data_dir):
    env = {**os.environ, "METAERR_DATA_DIR": str(data_dir)}
    subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env=env,
    )
    payload = json.loads((tmp_path / "error_prediction_smoke.json").read_text())
    assert payload["cells"] == [
        "digits/logistic_pixels",
        "mnist/cnn",
        "cifar10/resnet20_frozen",
    ]
    for cell, methods in payload["summary"].items():
        assert {
            "msp",
            "margin",
            "entropy",
            "doctor",
            "trust_score",
            "metaerr[logistic]",
            "metaerr[lightgbm]",
        } <= set(methods), cell
        for row in methods.values():
            assert set(row) == METRICS
            assert 0.0 <= row["auroc_f"]["mean"] <= 1.0
    # the CNN cell also scores Trust Score in the network's penultimate space
    assert "trust_score_emb" in payload["summary"]["mnist/cnn"]
    assert "trust_score_emb" not in payload["summary"]["digits/logistic_pixels"]
    assert len(payload["targets"]) == 3
    assert {r["cell"] for r in payload["paired"]} == set(payload["cells"])
    md = (tmp_path / "error_prediction_smoke.md").read_text()
    assert "## Target check" in md and "| metaerr[logistic] |" in md
    assert (tmp_path / "error_prediction_smoke.png").stat().st_size > 0
