"""Which pseudo-labels help: MetaErr's trust against the base's confidence.

Whether MetaErr orders the unlabelled pool better than confidence, apart from
how many pseudo-labels a threshold admits (the count decides much of
``bench_self_training.py``'s accuracy): this isolates the ranking. Same data,
budgets, seeds and base as ``bench_self_training.py``. The base is fitted on
the labelled budget; each ranker orders the unlabelled pool:

- ``confidence``: the base's max probability (what scikit-learn thresholds);
- ``metaerr``: P(base is right) from the MetaErr that SelfTrainingWithMetaErr
  fits in its first iteration (its feature groups, 3 folds, real labels only);
- ``metaerr_no_neighbors``: the same without the neighbourhood features.

Measured on the pool (hidden labels): AUROC at telling the base's right
predictions from its wrong ones; precision of the class-balanced top 20 %; and
how far those top 20 % lie from the nearest labelled sample (median distance in
the base's input space, over the median for the whole pool). Then a curriculum
that takes the count out of the comparison: 5 rounds, round t pseudo-labels the
class-balanced top t/5 of the pool by the ranker (re-labelled from scratch each
round with the current model, as in curriculum labelling, Cascante-Bonilla et
al. 2021) and refits; every ranker ends with every pool sample pseudo-labelled,
so what differs is the order, and the test accuracy at the end says which
order builds the better model.

    python benchmarks/bench_self_training_selection.py --n-jobs 2
    python benchmarks/bench_self_training_selection.py --scale-on-pool --n-jobs 2
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
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from metaerr_sk import MetaErrClassifier
from metaerr_sk._environment import run_environment
from metaerr_sk._pseudo_labels import select_trusted
from metaerr_sk._reporting import records_table, summarize_runs, summary_table
from metaerr_sk._self_training import META_FEATURES
from metaerr_sk.neighbors import kneighbors_l2

RESULTS = Path(__file__).parent / "results"
RANKERS = ("confidence", "metaerr", "metaerr_no_neighbors")
ROUNDS = 5
TOP = 0.2
METRICS = (
    "auroc",
    "precision_top20",
    "distance_top20",
    "pool_accuracy",
    "test_accuracy",
)

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", message=".*lbfgs failed to converge")


def make_ranker(ranker, base, X_real, y_real, seed):
    """``trust(X_unl, proba)``, higher meaning more trusted. MetaErr's meta-model
    learns from the real labels only, so it is fitted once and judges each
    round's probabilities."""
    if ranker == "confidence":
        return lambda X_unl, proba: proba.max(axis=1)
    features = META_FEATURES
    if ranker == "metaerr_no_neighbors":
        features = tuple(group for group in features if group != "neighbors")
    # Configured as SelfTrainingWithMetaErr's (cv=3, neighbours capped by the
    # number of labels, neighbourhoods in the numeric input as given).
    meta = MetaErrClassifier(
        clone(base),
        features=features,
        cv=3,
        n_neighbors=min(10, y_real.size - 1),
        neighbor_space="raw",
        random_state=seed,
    ).fit(X_real, y_real)
    return lambda X_unl, proba: 1.0 - meta.predict_error_proba(X_unl, proba=proba)


def top_share(trust, pred, n_classes, share):
    k = max(1, int(round(share * trust.size)))
    return select_trusted(
        trust,
        pred,
        n_classes,
        criterion="k_best",
        threshold=0.0,
        k_best=k,
        balanced=True,
    )


def input_space(model, X):
    """What the base's classifier sees: after its own scaler, if it has one."""
    return model[:-1].transform(X) if isinstance(model, Pipeline) else X


def run_one(*args):
    """:func:`_run_one` on one BLAS thread, whatever ``--n-jobs`` and the machine
    (the rounds of pseudo-labelling amplify last-bit float differences; see
    ``bench_self_training.run_method``)."""
    with threadpool_limits(limits=1):
        return _run_one(*args)


def _run_one(name, per_class, seed, ranker, data_dir, scale_on_pool):
    start = time.perf_counter()
    X, y_pool, X_test, y_test = load(name, seed, data_dir, "cpu")
    if scale_on_pool:
        scaler = StandardScaler().fit(X)
        X, X_test = scaler.transform(X), scaler.transform(X_test)
    base = make_base(scale=not scale_on_pool)
    y_semi = semi_labels(y_pool, per_class, seed)
    real, unl = np.flatnonzero(y_semi != -1), np.flatnonzero(y_semi == -1)
    classes = np.unique(y_semi[real])
    model = clone(base).fit(X[real], y_semi[real])

    # First round: how well the ranker orders the pool, and where its top lies.
    proba = model.predict_proba(X[unl])
    pred = proba.argmax(axis=1)
    right = classes[pred] == y_pool[unl]
    trust_of = make_ranker(ranker, base, X[real], y_semi[real], seed)
    trust = trust_of(X[unl], proba)
    top = top_share(trust, pred, classes.size, TOP)
    Z = input_space(model, X).astype(np.float64)
    nearest, _ = kneighbors_l2(Z[unl], Z[real], n_neighbors=1)
    nearest = nearest[:, 0]
    scores = {
        "auroc": float(roc_auc_score(right, trust)),
        "precision_top20": float(right[top].mean()),
        "distance_top20": float(np.median(nearest[top]) / np.median(nearest)),
    }

    rounds = []
    for t in range(1, ROUNDS + 1):
        chosen = top_share(trust, pred, classes.size, t / ROUNDS)
        keep = np.concatenate([real, unl[chosen]])
        labels = np.concatenate([y_semi[real], classes[pred[chosen]]])
        model = clone(base).fit(X[keep], labels)
        rounds.append(
            {
                "round": t,
                "n_pseudo": int(chosen.size),
                "pseudo_precision": float(right[chosen].mean()),
                "test_accuracy": float(model.score(X_test, y_test)),
            }
        )
        proba = model.predict_proba(X[unl])
        pred = proba.argmax(axis=1)
        right = classes[pred] == y_pool[unl]
        if t < ROUNDS:
            trust = trust_of(X[unl], proba)
    scores["pool_accuracy"] = float(right.mean())
    scores["test_accuracy"] = rounds[-1]["test_accuracy"]
    seconds = time.perf_counter() - start
    print(
        f"{name:13s} {per_class:2d}/class seed {seed} {ranker:21s} "
        + " ".join(f"{k} {v:.4f}" for k, v in scores.items())
        + f" ({seconds:.0f}s)",
        flush=True,
    )
    return (name, per_class, seed), ranker, scores, rounds


def collect(results):
    runs = {}
    for (name, per_class, seed), ranker, scores, rounds in results:
        run = runs.setdefault(
            (name, per_class, seed),
            {
                "cell": f"{name} {per_class}/class",
                "seed": seed,
                "scores": {},
                "rounds": {},
            },
        )
        run["scores"][ranker] = scores
        run["rounds"][ranker] = rounds
    return list(runs.values())


def plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = list(dict.fromkeys(r["cell"] for r in runs))
    n_cols = min(4, len(cells))
    n_rows = -(-len(cells) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(4 * n_cols, 3 * n_rows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for j, cell in enumerate(cells):
        ax = axes.flat[j]
        ax.axis("on")
        cell_runs = [r for r in runs if r["cell"] == cell]
        for ranker in RANKERS:
            curves = np.array(
                [
                    [row["test_accuracy"] for row in r["rounds"][ranker]]
                    for r in cell_runs
                ]
            )
            ax.plot(
                np.arange(1, ROUNDS + 1) / ROUNDS,
                curves.mean(axis=0),
                "-o" if ranker == "metaerr" else "--",
                ms=3,
                label=ranker,
            )
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("share of the pool pseudo-labelled")
        ax.set_ylabel("test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Curriculum self-training: the same counts, ordered by each ranker")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(path, payload):
    parts = [
        "# Which pseudo-labels help: MetaErr's trust against the base's confidence",
        "",
        "Generated by `benchmarks/bench_self_training_selection.py`; do not edit "
        "by hand.",
        "",
        " ".join(payload["protocol"].split()),
        "",
        f"Inputs: {payload['inputs']}. Seeds: {payload['seeds']} (mean ± "
        f"standard deviation). Run time: {payload['seconds']:.0f} s on "
        f"{payload['environment']['cpus']} CPU cores "
        f"({payload['environment']['cpu']}).",
        "",
        "Columns: auroc and precision_top20 of the first-round ranking on the "
        "pool; distance_top20: median distance of the top 20 % to the nearest "
        "labelled sample over that median for the whole pool (below 1: the ranker "
        "prefers samples next to the labels); pool_accuracy and test_accuracy: "
        "the model after the last curriculum round (every pool sample "
        "pseudo-labelled) on the pool's hidden labels and on the test set. The "
        "per-round table's pseudo_precision is that of the labels the round "
        "trained on.",
        "",
    ]
    for cell, rankers in payload["summary"].items():
        table = summary_table(rankers, METRICS, unranked=("distance_top20",))
        parts += [f"## {cell}", "", table, ""]
    parts += [
        "## Per round (mean over seeds)",
        "",
        records_table(payload["rounds"]),
        "",
        "![curriculum](" + payload["stem"] + ".png)",
        "",
    ]
    path.write_text("\n".join(parts))


def round_rows(runs):
    """Per cell, ranker and round: each round's numbers, mean over seeds."""
    rows = []
    for cell in dict.fromkeys(r["cell"] for r in runs):
        cell_runs = [r for r in runs if r["cell"] == cell]
        for ranker in RANKERS:
            for t in range(ROUNDS):
                row = {"cell": cell, "ranker": ranker, "round": t + 1}
                for key in ("n_pseudo", "pseudo_precision", "test_accuracy"):
                    values = [r["rounds"][ranker][t][key] for r in cell_runs]
                    row[key] = float(np.mean(values))
                rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, 1 seed, 4/class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--datasets", nargs="+", default=["digits", "mnist", "fashion_mnist", "cifar10"]
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[4, 25])
    parser.add_argument("--data-dir", default=None, help="default ../shared/data")
    parser.add_argument("--n-jobs", type=int, default=1, help="tasks in parallel")
    parser.add_argument(
        "--scale-on-pool",
        action="store_true",
        help="standardise on every pool input, as bench_self_training.py does",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    stem = "self_training_selection" + ("_scale_on_pool" if args.scale_on_pool else "")
    if args.smoke:
        args.seeds, args.datasets, args.budgets = [0], ["digits"], [4]
        stem += "_smoke"

    start = time.perf_counter()
    if "cifar10" in args.datasets:  # embed once, before the workers fork
        _cifar_embeddings(args.data_dir, "cpu")
    tasks = [
        (d, b, s, r)
        for d in args.datasets
        for b in args.budgets
        for s in args.seeds
        for r in RANKERS
    ]
    tasks.sort(key=lambda t: t[0] == "digits")  # big pools first
    runs = collect(
        Parallel(n_jobs=args.n_jobs)(
            delayed(run_one)(d, b, s, r, args.data_dir, args.scale_on_pool)
            for d, b, s, r in tasks
        )
    )
    payload = {
        "benchmark": "self-training selection: MetaErr trust vs confidence",
        "protocol": " ".join(__doc__.split("\n\n")[1:4]),
        "inputs": (
            "standardised on the whole pool (--scale-on-pool)"
            if args.scale_on_pool
            else "standardised inside the base on the labelled (and pseudo-"
            "labelled) rows, as in the issue's protocol"
        ),
        "seeds": args.seeds,
        "stem": stem,
        "environment": run_environment(),
        "seconds": time.perf_counter() - start,
        "summary": summarize_runs(runs, group_by="cell", metrics=METRICS),
        "rounds": round_rows(runs),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    write_markdown(args.out / f"{stem}.md", payload)
    plot(runs, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.{{json,md,png}} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
