"""Self-training with MetaErr vs scikit-learn's self-training (issue 4).

Protocol: labelled budgets of 4 and 25 per class, the rest of the training
pool unlabelled, the test set untouched. Bases see only features that used no
labels beyond the budget: standardised logistic regression on raw pixels for
digits (50/50 stratified split), MNIST and Fashion-MNIST (training pool: a
seeded random 20,000 of the 60,000 training images; the official 10,000 test
images); for CIFAR-10, logistic regression on 64-d ResNet-20 embeddings (pool
20,000 of the 50,000 JPEG training images, official test set) - an optimistic
cell, since the pretrained ResNet-20 saw every CIFAR-10 training label.
Off the vision benchmark, ``--datasets iris wine breast_cancer`` runs
scikit-learn's bundled tabular sets, split like digits.

Methods: supervised-only (the labelled budget); scikit-learn's
SelfTrainingClassifier at thresholds 0.75, 0.9, 0.95 and with k_best (k=10,
its defaults otherwise); "fixmatch_0.95": one round - fit on the labels,
pseudo-label every pool sample with confidence >= 0.95, refit once (FixMatch's
fixed confidence rule without its augmentations or iteration); and
SelfTrainingWithMetaErr with defaults; and "all_labels", the base fitted on
every pool label - not a rival but the ceiling, against which the fraction of
the gap between supervised-only and all labels that ours closes is reported.
Reported: test accuracy, pseudo-label precision (against the hidden pool
labels) and count, per method and per iteration, mean and standard deviation
over seeds.

    python benchmarks/bench_self_training.py            # full run
    python benchmarks/bench_self_training.py --smoke    # digits, 1 seed, CI
    python benchmarks/bench_self_training.py --render benchmarks/results/X.json
                                        # rewrite a page from its JSON's runs
    python benchmarks/bench_self_training.py --merge A.json B.json --stem AB
                                        # one page from two pages' seeds
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from metaerr_sk import SelfTrainingWithMetaErr
from metaerr_sk._environment import describe_blas, run_environment
from metaerr_sk._reporting import records_table, summarize_runs, summary_table

RESULTS = Path(__file__).parent / "results"
METRICS = ("accuracy", "pseudo_precision", "n_pseudo")
POOL = 20_000
# scikit-learn's bundled datasets (no files): split 50/50, stratified, per seed.
# The default run uses digits; iris, wine and breast_cancer are tabular cells
# off the vision benchmark, for checking the defaults on other data.
BUNDLED = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
}
SKLEARN = ("sklearn_0.75", "sklearn_0.9", "sklearn_0.95", "sklearn_k_best")
# Best sklearn self-training / supervised-only measured before this package's
# method existed (std. LR on raw pixels, pool 20k, seeds 0-2), at 4 / 25 per class:
# the reference numbers, shown beside ours in the target check.
REFERENCE = {
    ("digits", 4): (87.1, 81.3),
    ("digits", 25): (93.6, 92.5),
    ("mnist", 4): (59.7, 57.4),
    ("mnist", 25): (84.4, 80.8),
    ("fashion_mnist", 4): (58.0, 55.4),
    ("fashion_mnist", 25): (75.5, 73.6),
    ("cifar10", 4): (81.0, 77.5),
    ("cifar10", 25): (81.8, 80.1),
}

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", message=".*lbfgs failed to converge")


# Bases besides the vision pages' logistic regression, to check that the method
# is agnostic of the base: --base name -> (factory, how the page names it).
OTHER_BASES = {
    # vote shares sit well below its accuracy; needs no scaling
    "random_forest": (
        lambda: RandomForestClassifier(n_estimators=100, random_state=0),
        "a random forest of 100 trees",
    ),
    # probabilities in fifths: many ties at 0.8 and 1.0
    "knn": (
        lambda: make_pipeline(StandardScaler(), KNeighborsClassifier()),
        "standardised 5-nearest neighbours",
    ),
    # over-confident: independence assumed between correlated pixels
    "gaussian_nb": (GaussianNB, "Gaussian naive Bayes"),
    # vote shares of randomised trees: less sure still than a random forest
    "extra_trees": (
        lambda: ExtraTreesClassifier(n_estimators=100, random_state=0),
        "extremely randomised trees (100)",
    ),
    # a small network, fitted by Adam: sure of most of what it fitted
    "mlp": (
        lambda: make_pipeline(
            StandardScaler(), MLPClassifier((64,), max_iter=500, random_state=0)
        ),
        "a standardised one-hidden-layer network (64 units)",
    ),
    # Platt scaling, itself cross-validated on the few labels
    "svc": (
        lambda: make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)),
        "a standardised RBF support vector machine with Platt scaling",
    ),
}
BASES = ("logistic", *OTHER_BASES)


def make_base(scale=True, kind="logistic"):
    """Standardised logistic regression (``scale=False`` for inputs already
    standardised on the whole pool, ``--scale-on-pool``), or one of
    ``OTHER_BASES`` by name."""
    if kind in OTHER_BASES:
        return OTHER_BASES[kind][0]()
    if not scale:
        return LogisticRegression(max_iter=1000)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


# ------------------------------------------------------------------- data


def load(name, seed, data_dir, device, pool=POOL):
    """``(X_pool, y_pool, X_test, y_test)`` as float arrays for one seed."""
    if name in BUNDLED:
        X, y = BUNDLED[name](return_X_y=True)
        X_pool, X_test, y_pool, y_test = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        return X_pool, y_pool, X_test, y_test
    from metaerr_sk import datasets

    if name == "cifar10":
        X_pool, y_pool, X_test, y_test = _cifar_embeddings(data_dir, device)
    else:
        loader = {
            "mnist": datasets.load_mnist,
            "fashion_mnist": datasets.load_fashion_mnist,
        }[name]
        X_pool, y_pool = loader(data_dir, subset="train")
        X_test, y_test = loader(data_dir, subset="test")
        X_pool = X_pool.reshape(len(X_pool), -1).astype(np.float32)
        X_test = X_test.reshape(len(X_test), -1).astype(np.float32)
    pick = np.random.RandomState(seed).choice(len(y_pool), pool, replace=False)
    return X_pool[pick], y_pool[pick], X_test, y_test


def _cifar_embeddings(data_dir, device):
    """ResNet-20 embeddings of CIFAR-10, computed once and cached on disk so
    parallel workers share them."""
    import os

    cache = Path(
        os.environ.get("METAERR_CACHE_DIR", Path.home() / ".cache" / "metaerr_sk")
    )
    path = cache / "cifar10-jpeg-resnet20-embeddings.npz"
    if path.exists():
        with np.load(path) as f:
            return f["X_pool"], f["y_pool"], f["X_test"], f["y_test"]
    from metaerr_sk.datasets import load_cifar10
    from metaerr_sk.nn import ResNetEmbedding

    X_tr, y_tr = load_cifar10(data_dir, subset="train", verbose=False)[:2]
    X_te, y_te = load_cifar10(data_dir, subset="test", verbose=False)[:2]
    emb = ResNetEmbedding(depth=20, data_dir=data_dir, device=device).fit()
    arrays = {
        "X_pool": emb.transform(X_tr),
        "y_pool": np.asarray(y_tr),
        "X_test": emb.transform(X_te),
        "y_test": np.asarray(y_te),
    }
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays["X_pool"], arrays["y_pool"], arrays["X_test"], arrays["y_test"]


def semi_labels(y_pool, per_class, seed):
    rng = np.random.RandomState(seed + 1000)
    labelled = np.concatenate(
        [
            rng.choice(np.flatnonzero(y_pool == c), per_class, replace=False)
            for c in np.unique(y_pool)
        ]
    )
    y_semi = np.full_like(y_pool, -1)
    y_semi[labelled] = y_pool[labelled]
    return y_semi


# ---------------------------------------------------------------- methods


def fixmatch_once(X, y_semi, base, threshold=0.95):
    """One round: fit on the labels, add pool samples at confidence >= 0.95,
    refit. Returns the model and a SelfTraining-like ``labeled_iter_``."""
    has = y_semi != -1
    first = clone(base).fit(X[has], y_semi[has])
    proba = first.predict_proba(X[~has])
    take = proba.max(axis=1) >= threshold
    transduction = y_semi.copy()
    idx = np.flatnonzero(~has)[take]
    transduction[idx] = first.classes_[proba[take].argmax(axis=1)]
    labeled_iter = np.where(has, 0, -1)
    labeled_iter[idx] = 1
    keep = labeled_iter >= 0
    model = clone(base).fit(X[keep], transduction[keep])
    return model, transduction, labeled_iter


def pseudo_scores(added, transduction, y_pool):
    """Precision (against the hidden pool labels; NaN for none) and count of
    the pseudo-labels given to the ``added`` rows."""
    n = int(added.sum())
    precision = float(np.mean(transduction[added] == y_pool[added])) if n else np.nan
    return {"pseudo_precision": precision, "n_pseudo": n}


def per_iteration(transduction, labeled_iter, y_pool, n_iter):
    """Cumulative pseudo-label precision and count after each iteration."""
    return [
        {
            "iteration": it,
            **pseudo_scores(
                (labeled_iter > 0) & (labeled_iter <= it), transduction, y_pool
            ),
        }
        for it in range(1, n_iter + 1)
    ]


def iteration_accuracy(X, transduction, labeled_iter, X_test, y_test, n_iter, base):
    """Test accuracy of the base refit on what was labelled after each iteration."""
    out = []
    for it in range(1, n_iter + 1):
        keep = (labeled_iter >= 0) & (labeled_iter <= it)
        model = clone(base).fit(X[keep], transduction[keep])
        out.append(float(model.score(X_test, y_test)))
    return out


METHODS = ("supervised", *SKLEARN, "fixmatch_0.95", "metaerr", "all_labels")
# what issue 4's target holds SelfTrainingWithMetaErr against
RIVALS = ("supervised", *SKLEARN)
# issue 4's stretch goal: close at least this fraction of the gap between
# supervised-only and the fully labelled model on at least two datasets
GAP_TARGET = 0.5
# shown beside the methods in the tables, never ranked against them
REFERENCES = ("all_labels",)


def run_method(*args, **kwargs):
    """:func:`_run_method` on one BLAS thread, whatever ``--n-jobs`` and the
    machine. Self-training amplifies last-bit float differences: on Fashion-MNIST
    4/class seed 24 (no early stopping, unweighted pseudo-labels) one thread
    ended at 0.334 test accuracy, two at 0.309, so a
    page reproduces only with the thread count fixed (joblib's workers had set it
    to cpus // n_jobs: 1 for the committed pages, run with --n-jobs 2 on 2 CPUs)."""
    with threadpool_limits(limits=1):
        return _run_method(*args, **kwargs)


def _run_method(
    name,
    per_class,
    seed,
    method,
    data_dir,
    device,
    curves,
    params,
    pool,
    scale_on_pool=False,
    base_kind="logistic",
):
    """One method on one (dataset, budget, seed): scores and per-iteration rows."""
    start = time.perf_counter()
    X, y_pool, X_test, y_test = load(name, seed, data_dir, device, pool)
    if scale_on_pool:
        # Transductive preprocessing, the same for every method: the scaler
        # sees every pool input (no label), not just the labelled ones.
        scaler = StandardScaler().fit(X)
        X, X_test = scaler.transform(X), scaler.transform(X_test)
    base = make_base(scale=not scale_on_pool, kind=base_kind)
    y_semi = semi_labels(y_pool, per_class, seed)
    has = y_semi != -1
    out = {"method": method, "iterations": []}
    if method == "supervised":
        model = clone(base).fit(X[has], y_semi[has])
        transduction, labeled_iter, n_iter = y_semi, np.where(has, 0, -1), 0
    elif method == "all_labels":  # the ceiling: every pool label, none pseudo
        model = clone(base).fit(X, y_pool)
        transduction, labeled_iter, n_iter = y_pool, np.zeros_like(y_pool), 0
    elif method == "fixmatch_0.95":
        model, transduction, labeled_iter = fixmatch_once(X, y_semi, base)
        n_iter = 1
    elif method == "metaerr":
        model = SelfTrainingWithMetaErr(clone(base), random_state=seed, **params)
        model.fit(X, y_semi)
        out["history"] = model.history_
        out["termination"] = model.termination_condition_
    elif method == "sklearn_k_best":
        model = SelfTrainingClassifier(clone(base), criterion="k_best", k_best=10)
        model.fit(X, y_semi)
    else:
        model = SelfTrainingClassifier(clone(base), threshold=float(method[8:]))
        model.fit(X, y_semi)
    if hasattr(model, "transduction_"):
        transduction, labeled_iter = model.transduction_, model.labeled_iter_
        n_iter = model.n_iter_
    out["scores"] = {
        "accuracy": float(model.score(X_test, y_test)),
        **pseudo_scores(labeled_iter > 0, transduction, y_pool),
    }
    out["iterations"] = per_iteration(transduction, labeled_iter, y_pool, n_iter)
    if curves and n_iter:
        accs = iteration_accuracy(
            X, transduction, labeled_iter, X_test, y_test, n_iter, base
        )
        for row, acc in zip(out["iterations"], accs, strict=True):
            row["accuracy"] = acc
    out["seconds"] = time.perf_counter() - start
    s = out["scores"]
    print(
        f"{name:13s} {per_class:2d}/class seed {seed} {method:15s} acc "
        f"{s['accuracy']:.4f} precision {s['pseudo_precision']:.4f} "
        f"n {s['n_pseudo']:5d} "
        f"({out['seconds']:.0f}s)",
        flush=True,
    )
    return (name, per_class, seed), out


def collect(results):
    """Group per-method results into one run per (dataset, budget, seed)."""
    runs = {}
    for (name, per_class, seed), out in results:
        run = runs.setdefault(
            (name, per_class, seed),
            {
                "cell": f"{name} {per_class}/class",
                "dataset": name,
                "per_class": per_class,
                "seed": seed,
                "scores": {},
                "iterations": {},
                "seconds": 0.0,
            },
        )
        run["scores"][out["method"]] = out["scores"]
        run["iterations"][out["method"]] = out["iterations"]
        run["seconds"] += out["seconds"]
        if out["method"] == "metaerr":
            run["metaerr_history"] = out["history"]
            run["metaerr_termination"] = out["termination"]
    return list(runs.values())


# --------------------------------------------------------------- reporting


def acceptance(summary, runs):
    """Issue 4's targets per cell: ours beats supervised-only and every sklearn
    configuration on mean accuracy, and has higher pseudo-label precision than
    the sklearn configuration whose pseudo-label count is closest to ours.

    ``acc_seeds_won`` counts the seeds on which ours beats that best rival (same
    seed, same data), and ``acc_margin`` ± ``acc_margin_se`` is the mean of
    those per-seed differences and its standard error: where the means are a
    near-tie, they say whether the difference has a consistent sign or is
    noise. ``gap_closed`` (where the run
    has ``all_labels``): the fraction of the gap between supervised-only and
    the fully labelled base that ours closes, from the means."""
    rows = []
    for cell, methods in summary.items():
        if not set(RIVALS) <= set(methods):
            # a --methods subset: against part of the rivals a "met" would mislead
            continue
        ours = methods["metaerr"]
        acc = ours["accuracy"]["mean"]
        best_rival = max(RIVALS, key=lambda m: methods[m]["accuracy"]["mean"])
        n_ours = ours["n_pseudo"]["mean"]
        closest = min(
            SKLEARN, key=lambda m: abs(methods[m]["n_pseudo"]["mean"] - n_ours)
        )
        name, budget = cell.split(" ")
        ref = REFERENCE.get((name, int(budget.split("/")[0])), (np.nan, np.nan))
        rows.append(
            {
                "cell": cell,
                "metaerr_acc": acc,
                "best_rival": best_rival,
                "rival_acc": methods[best_rival]["accuracy"]["mean"],
                "acc_met": bool(acc > methods[best_rival]["accuracy"]["mean"]),
                **_against_rival(runs, cell, best_rival),
                "metaerr_prec": ours["pseudo_precision"]["mean"],
                "metaerr_n": n_ours,
                "closest_count": closest,
                "closest_prec": methods[closest]["pseudo_precision"]["mean"],
                "closest_n": methods[closest]["n_pseudo"]["mean"],
                "prec_met": bool(
                    ours["pseudo_precision"]["mean"]
                    > methods[closest]["pseudo_precision"]["mean"]
                ),
                "issue_ref_best_sklearn": ref[0] / 100,
                "issue_ref_supervised": ref[1] / 100,
                **_gap_closed(methods),
            }
        )
    return rows


def _gap_closed(methods):
    """``{"all_labels_acc", "gap_closed"}`` from the cell's mean accuracies, or
    ``{}`` for a run without the fully labelled base."""
    if "all_labels" not in methods:
        return {}
    ours, sup, full = (
        methods[m]["accuracy"]["mean"] for m in ("metaerr", "supervised", "all_labels")
    )
    return {"all_labels_acc": full, "gap_closed": (ours - sup) / (full - sup)}


def gap_check(rows):
    """The stretch goal in one sentence: on how many datasets some budget's
    ``gap_closed`` reaches ``GAP_TARGET`` (``None`` without ``all_labels``)."""
    if not rows or "gap_closed" not in rows[0]:
        return None
    best = {}
    for row in rows:
        dataset = row["cell"].split(" ")[0]
        best[dataset] = max(best.get(dataset, -np.inf), row["gap_closed"])
    reached = [d for d, gap in best.items() if gap >= GAP_TARGET]
    return (
        f"Stretch goal (half the gap between supervised-only and all labels closed "
        f"on at least two datasets, at either budget): {len(reached)} of "
        f"{len(best)} datasets ({', '.join(reached) or 'none'}) - "
        f"{'met' if len(reached) >= 2 else 'missed'}. Best gap_closed per dataset: "
        + ", ".join(f"{d} {gap:.2f}" for d, gap in best.items())
        + "."
    )


def _against_rival(runs, cell, rival, ours="metaerr"):
    """``ours`` against ``rival`` seed by seed (same seed, same data):
    ``acc_seeds_won`` ``"k/n"``, ours ahead on k of the cell's n seeds, and
    ``acc_margin`` ± ``acc_margin_se``, the mean of ours minus ``rival``'s
    accuracy and its standard error (``nan`` for one seed). Pairing by seed
    takes out what the seed's labels do to both."""
    diffs = np.array(
        [
            r["scores"][ours]["accuracy"] - r["scores"][rival]["accuracy"]
            for r in runs
            if r["cell"] == cell
        ]
    )
    se = diffs.std(ddof=1) / np.sqrt(diffs.size) if diffs.size > 1 else np.nan
    return {
        "acc_seeds_won": f"{int(np.sum(diffs > 0))}/{diffs.size}",
        "acc_margin": float(diffs.mean()),
        "acc_margin_se": float(se),
    }


def metaerr_settings(overrides):
    """Every SelfTrainingWithMetaErr parameter the runs used, so a page says
    what ran even after a default changes (the base and seed are per run)."""
    params = SelfTrainingWithMetaErr(None).get_params(deep=False)
    del params["estimator"], params["random_state"]
    return {**params, **overrides}


# What the older pages ran with: those without ``metaerr_settings`` when
# ``early_stopping`` defaulted to False, and every page from before
# ``pseudo_label_weight`` with unweighted pseudo-labels; every page before
# ``k_best`` fractions admitted by ``threshold=0.9``, the default; every page
# before ``min_errors`` let MetaErr's meta-learner learn from a single error,
# and every page before ``cap_at_confidence`` trusted MetaErr alone. Every page
# from before ``features`` was a parameter used these four groups (what each
# group computes has changed over time; which groups, not).
FORMER_DEFAULTS = {
    "features": ["confidence", "proba", "class", "neighbors"],
    "cap_at_confidence": False,
    "min_errors": 1,
    "early_stopping": False,
    "pseudo_label_weight": 0.0,
    "criterion": "threshold",
    "threshold": 0.9,
}


def settings_of(payload):
    """Every SelfTrainingWithMetaErr parameter the page's runs used, as far as
    the page or ``FORMER_DEFAULTS`` tell."""
    recorded = payload.get("metaerr_settings") or payload["metaerr_params"]
    return {**FORMER_DEFAULTS, **recorded}


def setting_of(payload, name):
    """A SelfTrainingWithMetaErr parameter the page's runs used."""
    return settings_of(payload)[name]


def admission(payload):
    """How the page's runs chose their pseudo-labels, e.g. ``threshold=0.9``."""
    criterion = setting_of(payload, "criterion")
    return f"{criterion}={setting_of(payload, criterion)}"


def base_sentence(kind):
    """The end of the page's "This run" sentence: which base, if not the
    logistic regression (pages from before ``--base`` all ran that)."""
    if kind == "logistic":
        return "."
    return (
        f"; every method's base {OTHER_BASES[kind][1]} (--base {kind}), not the "
        "logistic regression."
    )


def history_rows(runs, early_stopping):
    """MetaErr's ``history_`` per run; with ``early_stopping`` also what the
    check saw (the out-of-fold accuracy on the real labels, alone and with the
    pseudo-labels) and whether the iteration was kept."""
    checks = ("oof_accuracy", "oof_accuracy_with_pseudo", "kept")
    rows = []
    for run in runs:
        for h in run["metaerr_history"]:
            rows.append(
                {
                    "cell": run["cell"],
                    "seed": run["seed"],
                    "iteration": h["iteration"],
                    "n_added": h["n_added"],
                    "n_pseudo": h["n_pseudo"],
                    "mean_error_proba": h["mean_error_proba"],
                    "n_oof_errors": h["n_oof_errors"],
                    # pages from before min_errors fell back at 0 errors only
                    "trust": h.get(
                        "trust",
                        "max_proba" if h["n_oof_errors"] == 0 else "meta_learner",
                    ),
                    # not recorded on pages from before it
                    "cap_temperature": h.get("cap_temperature", float("nan")),
                    "oof_auroc": h["oof_auroc"],
                    "oof_auroc_msp": h["oof_auroc_msp"],
                    **({key: h[key] for key in checks} if early_stopping else {}),
                }
            )
    return rows


def plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = list(dict.fromkeys(r["cell"] for r in runs))
    methods = [
        m for m in ("metaerr", *SKLEARN, "fixmatch_0.95") if m in runs[0]["iterations"]
    ]
    has_acc = all("accuracy" in r["iterations"]["metaerr"][0] for r in runs)
    keys = ["accuracy", "pseudo_precision"] if has_acc else ["pseudo_precision"]
    # Cells four to a row of panels; each cell gets one panel per key, stacked.
    n_cols = min(4, len(cells))
    n_blocks = -(-len(cells) // n_cols)
    fig, axes = plt.subplots(
        n_blocks * len(keys),
        n_cols,
        figsize=(4 * n_cols, 3.0 * n_blocks * len(keys)),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    for j, cell in enumerate(cells):
        cell_runs = [r for r in runs if r["cell"] == cell]
        block, col = divmod(j, n_cols)
        for i, key in enumerate(keys):
            ax = axes[block * len(keys) + i, col]
            ax.axis("on")
            for method in methods:
                curves = [
                    [row[key] for row in r["iterations"][method]] for r in cell_runs
                ]
                length = max(len(c) for c in curves)
                padded = np.array([c + [c[-1]] * (length - len(c)) for c in curves])
                style = "-o" if method == "metaerr" else "--"
                ax.plot(
                    np.arange(1, length + 1),
                    np.nanmean(padded, axis=0),
                    style,
                    label=method,
                    lw=2 if method == "metaerr" else 1,
                    ms=3,
                )
            if key == "accuracy":
                for ref, line in (("supervised", "-"), ("all_labels", ":")):
                    if ref in cell_runs[0]["scores"]:
                        mean = np.mean(
                            [r["scores"][ref]["accuracy"] for r in cell_runs]
                        )
                        ax.axhline(mean, color="grey", ls=line, lw=1, label=ref)
            ax.set_title(cell, fontsize=9)
            ax.set_xlabel("iteration")
            ax.set_ylabel(key.replace("_", " "))
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Self-training: mean over seeds (precision is cumulative)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pooled_sentence(payload):
    """Where a merged page's runs come from (``--merge``)."""
    pages = [
        f"`{p['page']}` (seeds {p['seeds']}"
        + (f"; BLAS: {p['blas']}" if p["blas"] else "")
        + ")"
        for p in payload["pooled_from"]
    ]
    return (
        f"Pooled with --merge from the pages {', '.join(pages)}: their runs as "
        f"they were run, nothing re-run ({payload['seconds']:.0f} s of runs in all)."
    )


def write_markdown(path, payload):
    env = payload["environment"]
    blas = describe_blas(env)
    parts = [
        "# Self-training with MetaErr vs scikit-learn's self-training",
        "",
        "Generated by `benchmarks/bench_self_training.py`; do not edit by hand.",
        "",
        f"Protocol: {payload['protocol']}",
        "",
        f"This run: pool size {payload['pool']} for MNIST, Fashion-MNIST and "
        f"CIFAR-10 (scikit-learn's bundled sets: a 50 % split); "
        f"SelfTrainingWithMetaErr parameters "
        f"{payload['metaerr_params'] or 'defaults'} ({admission(payload)}, "
        f"early_stopping={setting_of(payload, 'early_stopping')}, "
        f"pseudo_label_weight={setting_of(payload, 'pseudo_label_weight')}, "
        f"min_errors={setting_of(payload, 'min_errors')}, "
        f"cap_at_confidence={setting_of(payload, 'cap_at_confidence')})"
        + (
            "; inputs standardised on the whole pool (--scale-on-pool), the base "
            "without its own scaler"
            if payload.get("scale_on_pool")
            else ""
        )
        + base_sentence(payload.get("base", "logistic")),
        "",
        f"Seeds: {payload['seeds']} (mean ± standard deviation). "
        + (
            pooled_sentence(payload)
            if "pooled_from" in payload
            else f"Run time: {payload['seconds']:.0f} s on {env['cpus']} CPU cores"
            # pages from before the CPU model was recorded lack it
            + (f" ({env['cpu']})" if "cpu" in env else "")
            + f", n_jobs={payload['n_jobs']}"
            + (f"; BLAS: {blas}" if blas else "")
            + "."
        ),
        "",
        "## Target check",
        "",
        "acc_met: SelfTrainingWithMetaErr's mean test accuracy beats supervised-only "
        "and every sklearn configuration (best_rival); acc_seeds_won: on how many "
        "seeds it beats that rival, seed by seed; acc_margin ± acc_margin_se: "
        "their accuracy difference, seed by seed, averaged, and its standard "
        "error (a margin within about one standard error of zero is a tie). "
        "prec_met: its mean "
        "pseudo-label precision beats the sklearn configuration with the closest "
        "mean pseudo-label count. issue_ref_*: the issue's earlier measurements "
        "(best sklearn self-training, supervised-only), for comparison only."
        + (
            " gap_closed: (metaerr - supervised) / (all_labels - supervised), the "
            "fraction of the way from the labelled budget to every label."
            if "all_labels" in payload["methods"]
            else ""
        ),
        "",
        records_table(payload["acceptance"])
        if payload["acceptance"]
        else "Not checked: this run leaves out "
        + ", ".join(m for m in RIVALS if m not in payload["methods"])
        + " (--methods), and the target is against all of them.",
        "",
    ]
    stretch = gap_check(payload["acceptance"])
    if stretch:
        parts += [stretch, ""]
    for cell, methods in payload["summary"].items():
        table = summary_table(methods, METRICS, references=REFERENCES)
        parts += [f"## {cell}", "", table, ""]
    parts += [
        "## MetaErr's meta-model per iteration",
        "",
        "n_oof_errors: out-of-fold errors on the real labels the meta-model "
        "learned from; trust: meta_learner, or max_proba where fewer than "
        "min_errors of them left the meta-model too little to learn from and "
        "the base's max probability chose; oof_auroc: its own out-of-fold AUROC "
        "at telling right from wrong on the real labels (oof_auroc_msp: the same "
        "for max probability); cap_temperature: the temperature that "
        "cap_at_confidence sharpened the base's probabilities to, fitted on the "
        "out-of-fold predictions for the real labels (1: not sharpened; nan: no "
        "cap, or not recorded). "
        "A collapse of the meta-targets would show as n_oof_errors falling to 0."
        + (
            " With early_stopping: oof_accuracy, the out-of-fold models' accuracy "
            "on the real labels from those labels alone, oof_accuracy_with_pseudo "
            "the same with every pseudo-label so far; kept False: the iteration "
            "was undone and self-training stopped."
            if setting_of(payload, "early_stopping")
            else ""
        ),
        "",
        records_table(payload["metaerr_history"]),
        "",
    ]
    path.write_text("\n".join(parts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="digits, 1 seed, 4/class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=[*BUNDLED, "mnist", "fashion_mnist", "cifar10"],
        default=["digits", "mnist", "fashion_mnist", "cifar10"],
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[4, 25])
    parser.add_argument("--data-dir", default=None, help="default ../shared/data")
    parser.add_argument("--device", default="cpu", help="for the CIFAR embedding")
    parser.add_argument("--n-jobs", type=int, default=1, help="tasks in parallel")
    parser.add_argument(
        "--stem", default=None, help="the page's file name (default self_training)"
    )
    parser.add_argument(
        "--no-curves",
        action="store_true",
        help="skip per-iteration test accuracy (refits per iteration)",
    )
    parser.add_argument(
        "--metaerr-params",
        type=json.loads,
        default={},
        help="JSON of non-default SelfTrainingWithMetaErr parameters, e.g. "
        "'{\"threshold\": 0.8}' (the committed results use the defaults)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=POOL,
        help="training pool size for MNIST, Fashion-MNIST and CIFAR-10",
    )
    parser.add_argument(
        "--scale-on-pool",
        action="store_true",
        help="standardise with a scaler fitted on every pool input (no labels), "
        "for every method, instead of inside the base on the labelled rows only",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="methods to run (metaerr always: the tables and plot are about it)",
    )
    parser.add_argument(
        "--base",
        choices=BASES,
        default="logistic",
        help="the base of every method: standardised logistic regression (the "
        "committed vision pages), or another kind to check the method is "
        "agnostic of the base",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    rewrite = parser.add_mutually_exclusive_group()
    rewrite.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="rewrite a results page (its .md, .png and target check) from the "
        "runs in its JSON, without running anything",
    )
    rewrite.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="write one page (to --out, named --stem) from the runs of several "
        "pages that ran the same settings on different seeds, without running "
        "anything",
    )
    args = parser.parse_args(argv)
    if args.render:
        payload = rerender(json.loads(args.render.read_text()))
        write_outputs(payload, args.render.parent, args.render.stem)
        return
    if args.merge:
        if len(args.merge) < 2:
            parser.error("--merge needs at least two pages")
        if args.stem is None:
            parser.error("--merge needs --stem, the merged page's name")
        if len({p.stem for p in args.merge}) < len(args.merge):
            parser.error("--merge names each page by its file name: give each once")
        try:
            payload = merge_pages(
                {p.stem: json.loads(p.read_text()) for p in args.merge}
            )
        except ValueError as exc:
            parser.error(str(exc))
        write_outputs(payload, args.out, args.stem)
        return
    args.stem = args.stem or "self_training"
    if "metaerr" not in args.methods:
        parser.error("--methods must include metaerr, what every table reports on")
    if args.smoke:
        args.seeds, args.datasets, args.budgets = [0], ["digits"], [4]
        args.stem, args.no_curves = "self_training_smoke", True

    start = time.perf_counter()
    if "cifar10" in args.datasets:  # embed once, before the workers fork
        _cifar_embeddings(args.data_dir, args.device)
    tasks = [
        (d, b, s, m)
        for d in args.datasets
        for b in args.budgets
        for s in args.seeds
        for m in args.methods
    ]
    # Slowest first: self-training on the big pools.
    tasks.sort(key=lambda t: (t[0] in BUNDLED, t[3] in ("supervised", "fixmatch_0.95")))
    runs = collect(
        Parallel(n_jobs=args.n_jobs)(
            delayed(run_method)(
                d,
                b,
                s,
                m,
                args.data_dir,
                args.device,
                not args.no_curves,
                args.metaerr_params,
                args.pool,
                args.scale_on_pool,
                args.base,
            )
            for d, b, s, m in tasks
        )
    )
    summary = summarize_runs(runs, group_by="cell", metrics=METRICS)
    check = acceptance(summary, runs)
    settings = metaerr_settings(args.metaerr_params)
    payload = {
        "benchmark": "self-training with MetaErr",
        "protocol": " ".join(__doc__.split("\n\n")[1].split()).removeprefix(
            "Protocol: "
        ),
        "seeds": args.seeds,
        "n_jobs": args.n_jobs,
        "metaerr_params": args.metaerr_params,
        "metaerr_settings": settings,
        "methods": [m for m in METHODS if m in args.methods],
        "pool": args.pool,
        "scale_on_pool": args.scale_on_pool,
        "base": args.base,
        "environment": run_environment(),
        "seconds": time.perf_counter() - start,
        "summary": summary,
        "acceptance": check,
        "metaerr_history": history_rows(runs, settings["early_stopping"]),
        "runs": runs,
    }
    write_outputs(payload, args.out, args.stem)


def rerender(payload):
    """``payload`` with its summary, target check and history recomputed from
    its runs (what ``--render`` and ``--merge`` write)."""
    runs = payload["runs"]
    summary = summarize_runs(runs, group_by="cell", metrics=METRICS)
    return {
        **payload,
        "summary": summary,
        "acceptance": acceptance(summary, runs),
        "metaerr_history": history_rows(runs, setting_of(payload, "early_stopping")),
    }


# What pages must share for their runs to count as one experiment's seeds.
SAME_SETTINGS = ("protocol", "methods", "pool", "scale_on_pool")


def merge_pages(pages):
    """One page from the runs of ``pages`` (name -> payload) that ran the same
    settings on different seeds: their runs as they were run, nothing re-run,
    so a target check over more seeds costs no compute. Three seeds decide a
    near-tie by which seeds were drawn; pooling pages narrows the margin's
    standard error without re-running anything."""
    (first_name, first), *others = pages.items()
    cells = {r["cell"] for r in first["runs"]}
    for name, page in others:
        differ = [k for k in SAME_SETTINGS if page.get(k) != first.get(k)]
        # as JSON: a list and a tuple of feature groups are the same setting
        if json.dumps(settings_of(page), sort_keys=True) != json.dumps(
            settings_of(first), sort_keys=True
        ):
            differ.append("SelfTrainingWithMetaErr parameters")
        # pages from before --base was recorded ran the logistic base
        if page.get("base", "logistic") != first.get("base", "logistic"):
            differ.append("base")
        if {r["cell"] for r in page["runs"]} != cells:
            differ.append("datasets or budgets")
        if differ:
            raise ValueError(
                f"{name} and {first_name} differ in {', '.join(differ)}: only "
                "pages that ran the same settings pool into one."
            )
    seeds = [seed for page in pages.values() for seed in page["seeds"]]
    twice = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if twice:
        raise ValueError(
            f"seed(s) {twice} are on more than one page: a seed counted twice "
            "would weigh double in the means."
        )
    return rerender(
        {
            **first,
            "seeds": seeds,
            "seconds": sum(page["seconds"] for page in pages.values()),
            "pooled_from": [
                {
                    "page": name,
                    "seeds": page["seeds"],
                    "blas": describe_blas(page["environment"]),
                }
                for name, page in pages.items()
            ],
            "runs": [run for page in pages.values() for run in page["runs"]],
        }
    )


def write_outputs(payload, out, stem):
    """The page's JSON, Markdown and plot, and its target check on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(payload, indent=2))
    write_markdown(out / f"{stem}.md", payload)
    plot(payload["runs"], out / f"{stem}.png")
    for row in payload["acceptance"]:
        print(
            f"{row['cell']:20s} ours {row['metaerr_acc']:.4f} vs {row['best_rival']} "
            f"{row['rival_acc']:.4f}: {'met' if row['acc_met'] else 'MISSED'} "
            f"(won {row['acc_seeds_won']} seeds, margin {row['acc_margin']:+.4f} "
            f"± {row['acc_margin_se']:.4f}); "
            f"precision {row['metaerr_prec']:.4f} (n {row['metaerr_n']:.0f}) vs "
            f"{row['closest_count']} {row['closest_prec']:.4f} "
            f"(n {row['closest_n']:.0f}): {'met' if row['prec_met'] else 'MISSED'}"
        )
    stretch = gap_check(payload["acceptance"])
    if stretch:
        print(stretch)
    print(f"wrote {out / stem}.{{json,md,png}} (run: {payload['seconds']:.0f}s)")


if __name__ == "__main__":
    main()
