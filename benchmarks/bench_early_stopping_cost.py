"""What SelfTrainingWithMetaErr's early stopping costs in fitting time.

``early_stopping`` (on by default) refits the ``cv`` out-of-fold models on their
real labels plus every pseudo-label after each round: ``cv`` more fits of the
base per round, on nearly as many rows as the round's base. The results pages of
``bench_self_training.py`` time whole tasks (per-iteration test curves and the
rival methods included), which hides this; here only ``fit`` is timed, with and
without it, on the same data, base, budgets and seeds as that benchmark.

Protocol: the cells of ``bench_self_training.py`` (standardised logistic
regression on raw pixels for digits, MNIST and Fashion-MNIST, on 64-d ResNet-20
embeddings for CIFAR-10; pools of 20,000; 4 and 25 labels per class);
SelfTrainingWithMetaErr's defaults apart from ``early_stopping``; the CPU time
of ``fit`` on one BLAS thread (process time, so other work on the machine does
not count).

    python benchmarks/bench_early_stopping_cost.py --n-jobs 2
    python benchmarks/bench_early_stopping_cost.py --smoke
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from bench_self_training import _cifar_embeddings, load, make_base, semi_labels
from joblib import Parallel, delayed
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from metaerr_sk import SelfTrainingWithMetaErr
from metaerr_sk._environment import run_environment
from metaerr_sk._reporting import records_table, summarize_runs, summary_table

RESULTS = Path(__file__).parent / "results"
SETTINGS = {"without": False, "with": True}  # row name -> early_stopping
METRICS = ("fit_seconds", "accuracy", "n_iter", "n_pseudo")


def time_fit(name, per_class, seed, setting, data_dir, device):
    """One fit's CPU seconds and outcome, on one BLAS thread."""
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an undone first round warns
        X, y_pool, X_test, y_test = load(name, seed, data_dir, device)
        y_semi = semi_labels(y_pool, per_class, seed)
        model = SelfTrainingWithMetaErr(
            clone(make_base()), random_state=seed, early_stopping=SETTINGS[setting]
        )
        start = time.process_time()
        model.fit(X, y_semi)
        seconds = time.process_time() - start
        accuracy = float(model.score(X_test, y_test))
    print(
        f"{name:13s} {per_class:2d}/class seed {seed} {setting:7s} early stopping: "
        f"{seconds:6.1f} s, accuracy {accuracy:.4f}",
        flush=True,
    )
    return {
        "cell": f"{name} {per_class}/class",
        "seed": seed,
        "setting": setting,
        "scores": {
            setting: {
                "fit_seconds": seconds,
                "accuracy": accuracy,
                "n_iter": model.n_iter_,
                "n_pseudo": int(np.sum(model.labeled_iter_ > 0)),
            }
        },
        "termination": model.termination_condition_,
    }


def cost_rows(runs):
    """Per cell: the ratio of fit times (mean and spread over seeds, seed by
    seed), and on how many seeds early stopping ended the run or changed it."""
    by_cell = {}
    for r in runs:
        by_cell.setdefault(r["cell"], {}).setdefault(r["seed"], {})[r["setting"]] = r
    rows = []
    for cell, by_seed in by_cell.items():
        pairs = [(s["without"], s["with"]) for s in by_seed.values()]
        seconds = np.array(
            [[a["scores"]["without"]["fit_seconds"], b["scores"]["with"]["fit_seconds"]]
             for a, b in pairs]
        )  # fmt: skip
        ratios = seconds[:, 1] / seconds[:, 0]
        stopped = sum(b["termination"] == "early_stopping" for _, b in pairs)
        changed = sum(
            {k: v for k, v in a["scores"]["without"].items() if k != "fit_seconds"}
            != {k: v for k, v in b["scores"]["with"].items() if k != "fit_seconds"}
            for a, b in pairs
        )
        rows.append(
            {
                "cell": cell,
                "seconds_without": float(seconds[:, 0].mean()),
                "seconds_with": float(seconds[:, 1].mean()),
                "ratio_mean": float(ratios.mean()),
                "ratio_std": float(ratios.std(ddof=1)) if len(ratios) > 1 else 0.0,
                "seeds_stopped": f"{stopped}/{len(pairs)}",
                "seeds_changed": f"{changed}/{len(pairs)}",
            }
        )
    return rows


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    y = np.arange(len(rows))
    ax.barh(
        y,
        [r["ratio_mean"] for r in rows],
        xerr=[r["ratio_std"] for r in rows],
        color="tab:blue",
    )
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(y, [r["cell"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("fit time with early stopping / without (mean ± std over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_markdown(path, payload):
    parts = [
        "# What SelfTrainingWithMetaErr's early stopping costs",
        "",
        "Generated by `benchmarks/bench_early_stopping_cost.py`; do not edit by hand.",
        "",
        f"Protocol: {payload['protocol']}",
        "",
        f"Seeds: {payload['seeds']} (mean ± standard deviation). Run time: "
        f"{payload['seconds']:.0f} s on {payload['environment']['cpus']} CPU cores "
        f"({payload['environment']['cpu']}), n_jobs={payload['n_jobs']}.",
        "",
        "## Cost per cell",
        "",
        "seconds_*: mean CPU seconds of `fit` without and with early stopping; "
        "ratio: with / without, seed by seed; seeds_stopped: runs that early "
        "stopping ended; seeds_changed: runs whose test accuracy, iterations or "
        "pseudo-label count differ (the check changes the model only where it "
        "stops a run).",
        "",
        records_table(payload["cost"]),
        "",
    ]
    for cell, methods in payload["summary"].items():
        table = summary_table(methods, METRICS, unranked=METRICS)
        parts += [f"## {cell}", "", table, ""]
    path.write_text("\n".join(parts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, 1 seed, 4/class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "mnist", "fashion_mnist", "cifar10"]
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[4, 25])
    parser.add_argument("--data-dir", default=None, help="default ../shared/data")
    parser.add_argument("--device", default="cpu", help="for the CIFAR embedding")
    parser.add_argument("--n-jobs", type=int, default=1, help="fits in parallel")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    stem = "early_stopping_cost"
    if args.smoke:
        args.seeds, args.datasets, args.budgets = [0], ["digits"], [4]
        stem += "_smoke"

    start = time.perf_counter()
    if "cifar10" in args.datasets:  # embed once, before the workers fork
        _cifar_embeddings(args.data_dir, args.device)
    tasks = [
        (d, b, s, setting)
        for d in args.datasets
        for b in args.budgets
        for s in args.seeds
        for setting in SETTINGS
    ]
    runs = Parallel(n_jobs=args.n_jobs)(
        delayed(time_fit)(*task, args.data_dir, args.device) for task in tasks
    )
    payload = {
        "benchmark": "early stopping's fitting time",
        "protocol": " ".join(__doc__.split("\n\n")[2].split())
        .removeprefix("Protocol: ")
        .replace("``", "`"),
        "seeds": args.seeds,
        "n_jobs": args.n_jobs,
        "environment": run_environment(),
        "seconds": time.perf_counter() - start,
        "summary": summarize_runs(runs, group_by="cell", metrics=METRICS),
        "cost": cost_rows(runs),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    write_markdown(args.out / f"{stem}.md", payload)
    plot(payload["cost"], args.out / f"{stem}.png")
    print(records_table(payload["cost"]))
    print(f"wrote {args.out / stem}.{{json,md,png}} (run: {payload['seconds']:.0f}s)")


if __name__ == "__main__":
    main()
