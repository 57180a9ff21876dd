"""Error prediction on vision data: MetaErr vs every baseline, image/embedding bases.

Protocol (issue 3, points 4-5). Cells = (dataset, base):

- digits / logistic_pixels: scikit-learn digits, 50/50 stratified split.
- mnist, fashion_mnist / cnn: the skorch SmallCNN (3 epochs, Adam) on a
  stratified subsample of the training set; MetaErr with cv=3.
- mnist, fashion_mnist / logistic_pixels: logistic regression on [0, 1] pixels.
  For these four cells MetaErr's neighbour space is ``PCA(50)`` (the default
  "scaled" 784-d pixels is too slow at this size); Trust Score uses the same
  space. Evaluation on the full 10k test set.
- cifar10 / resnet20_frozen, resnet56_frozen: the pretrained ResNet wrapped in
  ``FrozenEstimator``; the CIFAR-10 (JPEG) test set is split 50/50 (stratified,
  per seed): MetaErr is meta-trained on one half and evaluated on the other.
  Neighbour space: the same network's 64-d penultimate embedding. Trust Score is
  fitted on the embeddings of the CIFAR-10 *training* set (the labelled data the
  network was trained on).
- cifar10 / logistic_resnet20_emb, lightgbm_resnet20_emb, knn_resnet20_emb:
  classic learners (logistic regression, LightGBM, 25-NN) on the 64-d
  ResNet-20 embeddings, trained on a stratified 40,000 of the 50,000 CIFAR-10
  training images, drawn per seed (so the seeds vary the data, not only
  MetaErr's folds), evaluated on the test set; MetaErr defaults (cv=5).

Scores: MSP, margin, entropy, DOCTOR, Trust Score, MetaErr default
(``metaerr[logistic]``, the fitted ``MetaErrClassifier``) and one row per other
meta-learner, fitted on the same out-of-fold meta-features (the meta-features of
the default model, so the base is not refit per meta-learner). In the CNN
cells a second Trust Score, ``trust_score_emb``, works in the fitted CNN's own
128-d penultimate space (training-set embeddings as reference): a stronger
baseline than Trust Score in pixel PCA space, and the setting closest to the
earlier single-run numbers. MetaErr cannot use that space for its own training
rows honestly (the final network has seen them), so it keeps PCA(50). Metrics AUROC_f,
AUPR-Error, FPR@95TPR, AURC, E-AURC; mean and std over seeds; a paired
comparison of MetaErr default vs the best baseline per cell; the target check.

    python benchmarks/bench_error_prediction.py             # full run
    python benchmarks/bench_error_prediction.py --smoke     # tiny, for CI
    python benchmarks/bench_error_prediction.py --cells mnist/cnn --seeds 0
"""

import argparse
import hashlib
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from metaerr_sk import MetaErrClassifier
from metaerr_sk._environment import run_environment
from metaerr_sk._meta_learners import META_LEARNERS
from metaerr_sk._reporting import (
    LOWER_IS_BETTER,
    records_table,
    summarize_runs,
    summary_table,
)
from metaerr_sk.baselines import get_baseline
from metaerr_sk.metrics import error_detection_report

RESULTS = Path(__file__).parent / "results"
METRICS = ("auroc_f", "aupr_error", "fpr_at_95_tpr", "aurc", "e_aurc")
BASELINE_NAMES = ("msp", "margin", "entropy", "doctor", "trust_score")
# only in the CNN cells: Trust Score in the network's penultimate space
EMB_TRUST = "trust_score_emb"
DEFAULT = "metaerr[logistic]"

CELLS = (
    "digits/logistic_pixels",
    "mnist/cnn",
    "mnist/logistic_pixels",
    "fashion_mnist/cnn",
    "fashion_mnist/logistic_pixels",
    "cifar10/resnet20_frozen",
    "cifar10/resnet56_frozen",
    "cifar10/logistic_resnet20_emb",
    "cifar10/lightgbm_resnet20_emb",
    "cifar10/knn_resnet20_emb",
)
SMOKE_CELLS = ("digits/logistic_pixels", "mnist/cnn", "cifar10/resnet20_frozen")

# Single-run AUROC_f measured before this benchmark existed (MSP, Trust Score):
# the numbers MetaErr has to beat. Cells not measured then have none.
EARLIER = {
    "mnist/cnn": (0.961, 0.988),
    "fashion_mnist/cnn": (0.860, 0.894),
    "mnist/logistic_pixels": (0.899, 0.982),
    "fashion_mnist/logistic_pixels": (0.863, 0.898),
    "cifar10/resnet20_frozen": (0.860, 0.874),
    "cifar10/resnet56_frozen": (0.859, 0.885),
    "cifar10/logistic_resnet20_emb": (0.881, 0.851),
}

SIZES = {
    # full run / smoke run
    "full": {
        "n_train_cnn": 12000,
        "n_train_pixels": 20000,
        "n_test": 10000,
        "cifar_train": 50000,
        "cifar_test": 10000,
        "emb_train": 40000,
        "epochs": 3,
    },
    "smoke": {
        "n_train_cnn": 1000,
        "n_train_pixels": 1500,
        "n_test": 500,
        "cifar_train": 2000,
        "cifar_test": 800,
        "emb_train": 1600,
        "epochs": 1,
    },
}


# --------------------------------------------------------------------- data


def _stratified_subset(y, n, seed):
    if n >= len(y):
        return np.arange(len(y))
    keep, _ = train_test_split(
        np.arange(len(y)), train_size=n, stratify=y, random_state=seed
    )
    return np.sort(keep)


def load_images(dataset, sizes, seed):
    """uint8 images (train subsample, full or subsampled test)."""
    from metaerr_sk import datasets

    loader = {
        "mnist": datasets.load_mnist,
        "fashion_mnist": datasets.load_fashion_mnist,
    }[dataset]
    X_tr, y_tr = loader(subset="train")
    X_te, y_te = loader(subset="test")
    te = _stratified_subset(y_te, sizes["n_test"], 0)
    return X_tr, y_tr, X_te[te], y_te[te]


_CIFAR = {}


def cifar(sizes):
    """CIFAR-10 JPEG train/test images (subsampled in smoke mode), decoded once."""
    if not _CIFAR:
        from metaerr_sk.datasets import load_cifar10

        X_tr, y_tr = load_cifar10(subset="train", verbose=False)[:2]
        X_te, y_te = load_cifar10(subset="test", verbose=False)[:2]
        tr = _stratified_subset(y_tr, sizes["cifar_train"], 0)
        te = _stratified_subset(y_te, sizes["cifar_test"], 0)
        _CIFAR.update(X_tr=X_tr[tr], y_tr=y_tr[tr], X_te=X_te[te], y_te=y_te[te])
    return _CIFAR


# Forward passes are deterministic: memoise them per (kind, depth) and image, so
# the frozen networks are not re-run on the same images for every seed and
# scoring step (and the parent process can run them once for every worker). The
# networks themselves are unchanged.
_FORWARD = {}


def _memo(kind, depth, X, compute):
    table = _FORWARD.setdefault((kind, depth), {})
    X = np.ascontiguousarray(X)
    keys = [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in X]
    missing = [i for i, k in enumerate(keys) if k not in table]
    if missing:
        out = compute(X[missing])
        for i, row in zip(missing, out, strict=True):
            table[keys[i]] = row
    return np.stack([table[k] for k in keys])


def precompute_forward(cells, sizes):
    """Run the CIFAR networks once on every image the cells will need."""
    data = cifar(sizes)
    CachedResNet, CachedEmbedding = _nn_classes()
    depths = {int(c.split("/resnet")[1][:2]) for c in cells if "_frozen" in c}
    if any(c.endswith("_emb") for c in cells):
        depths_emb = depths | {20}
    else:
        depths_emb = depths
    for depth in sorted(depths):
        CachedResNet(depth).fit().decision_function(data["X_te"])
    for depth in sorted(depths_emb):
        embed = CachedEmbedding(depth).fit()
        embed.transform(data["X_tr"])
        embed.transform(data["X_te"])
    return dict(_FORWARD)


def _nn_classes():
    from metaerr_sk.nn import PretrainedCifarResNet, ResNetEmbedding

    class CachedResNet(PretrainedCifarResNet):
        def decision_function(self, X):
            return _memo("logits", self.depth, X, super().decision_function)

    class CachedEmbedding(ResNetEmbedding):
        def transform(self, X):
            return _memo("emb", self.depth, X, super().transform)

    return CachedResNet, CachedEmbedding


# ---------------------------------------------------------------- protocol


def make_cell(cell, seed, sizes):
    """(base, X_train, y_train, X_test, y_test, metaerr params, trust reference)."""
    dataset, base_name = cell.split("/")
    trust_ref = None
    if dataset == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return base, X_tr, y_tr, X_te, y_te, {}, None
    if dataset in ("mnist", "fashion_mnist"):
        from metaerr_sk.nn import images_to_float32, make_cnn_classifier

        X_tr, y_tr, X_te, y_te = load_images(dataset, sizes, seed)
        n = sizes["n_train_cnn" if base_name == "cnn" else "n_train_pixels"]
        tr = _stratified_subset(y_tr, n, seed)
        X_tr, y_tr = images_to_float32(X_tr[tr]), y_tr[tr]
        X_te = images_to_float32(X_te)
        params = {"neighbor_space": PCA(50, random_state=seed)}
        if base_name == "cnn":
            base = make_cnn_classifier(max_epochs=sizes["epochs"], random_state=seed)
            params["cv"] = 3
        else:
            base = LogisticRegression(max_iter=300)
            params["n_jobs"] = 5
        return base, X_tr, y_tr, X_te, y_te, params, None
    data = cifar(sizes)
    CachedResNet, CachedEmbedding = _nn_classes()
    if base_name.endswith("_frozen"):
        depth = int(base_name[len("resnet") : -len("_frozen")])
        X_meta, X_eval, y_meta, y_eval = train_test_split(
            data["X_te"],
            data["y_te"],
            test_size=0.5,
            stratify=data["y_te"],
            random_state=seed,
        )
        base = FrozenEstimator(CachedResNet(depth).fit())
        embed = CachedEmbedding(depth).fit()
        params = {"neighbor_space": embed}
        trust_ref = (embed.transform(data["X_tr"]), data["y_tr"], embed.transform)
        return base, X_meta, y_meta, X_eval, y_eval, params, trust_ref
    embed = CachedEmbedding(20).fit()
    Z_tr, Z_te = embed.transform(data["X_tr"]), embed.transform(data["X_te"])
    tr = _stratified_subset(data["y_tr"], sizes["emb_train"], seed)
    if base_name.startswith("logistic"):
        base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    elif base_name.startswith("lightgbm"):
        # one thread: the (cell, seed) tasks are the parallel unit, and a
        # single-threaded LightGBM gives the same trees on every machine
        base = LGBMClassifier(
            n_estimators=100,
            learning_rate=0.1,
            num_leaves=15,
            random_state=seed,
            n_jobs=1,
            verbose=-1,
        )
    else:
        base = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=25))
    return base, Z_tr[tr], data["y_tr"][tr], Z_te, data["y_te"], {"n_jobs": 5}, None


def penultimate(net, X):
    """A fitted skorch net's input to its last linear layer, batch by batch."""
    import torch

    last = [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)][-1]
    batches = []
    hook = last.register_forward_hook(
        lambda module, inputs, output: batches.append(inputs[0].detach().cpu())
    )
    try:
        net.predict_proba(X)
    finally:
        hook.remove()
    return torch.cat(batches).numpy()


def evaluate(cell, seed, sizes, meta_learners):
    """One (cell, seed): every score's report, and the raw confidences."""
    base, X_tr, y_tr, X_te, y_te, params, trust_ref = make_cell(cell, seed, sizes)
    start = time.perf_counter()
    model = MetaErrClassifier(base, random_state=seed, **params).fit(X_tr, y_tr)
    fit_seconds = time.perf_counter() - start
    proba = model.predict_proba(X_te)
    correct = model.predict(X_te) == y_te
    conf = {}
    for name in BASELINE_NAMES[:-1]:
        conf[name] = get_baseline(name).fit().confidence(X_te, proba)
    if trust_ref is None:
        space = model.neighbor_space_.transform
        Z_ref, y_ref = space(X_tr), y_tr
    else:
        Z_ref, y_ref, space = trust_ref
    conf["trust_score"] = (
        get_baseline("trust_score").fit(Z_ref, y_ref).confidence(space(X_te), proba)
    )
    if cell.endswith("/cnn"):
        net = model.estimator_
        conf[EMB_TRUST] = (
            get_baseline("trust_score")
            .fit(penultimate(net, X_tr), y_tr)
            .confidence(penultimate(net, X_te), proba)
        )
    conf[DEFAULT] = -model.predict_error_proba(X_te)
    # Other meta-learners on the default model's meta-features: what
    # MetaErrClassifier(meta_learner=m) fits given the same out-of-fold
    # probabilities and neighbour space, without refitting the base.
    meta_tr = model.meta_features_
    meta_te = model.meta_features(X_te, proba=proba)
    for m in meta_learners:
        learner = META_LEARNERS[m](seed, meta_tr.shape[0]).fit(
            meta_tr, model.oof_error_
        )
        positive = np.flatnonzero(learner.classes_ == 1)[0]
        p = learner.predict_proba(meta_te)[:, positive]
        if m == "logistic":
            # the re-fit logistic must reproduce the estimator's own row
            assert np.allclose(-p, conf[DEFAULT], atol=1e-6)
            continue
        conf[f"metaerr[{m}]"] = -p
    scores = {name: error_detection_report(correct, c) for name, c in conf.items()}
    dataset, base_name = cell.split("/")
    return {
        "cell": cell,
        "dataset": dataset,
        "base": base_name,
        "seed": seed,
        "n_meta_train": len(y_tr),
        "n_test": len(y_te),
        "accuracy": float(correct.mean()),
        "error_rate": float(1 - correct.mean()),
        "fit_seconds": fit_seconds,
        "seconds": time.perf_counter() - start,
        "scores": scores,
    }, (correct, conf)


# ---------------------------------------------------------------- analysis


def _better(metric, a, b):
    return a < b if metric in LOWER_IS_BETTER else a > b


def _baselines(methods):
    """The baselines scored in a cell (the embedding Trust Score where present)."""
    return [b for b in (*BASELINE_NAMES, EMB_TRUST) if b in methods]


def paired(runs, summary):
    """MetaErr default vs the best baseline (by mean) per cell, per metric."""
    rows = []
    for cell, methods in summary.items():
        cell_runs = sorted(
            (r for r in runs if r["cell"] == cell), key=lambda r: r["seed"]
        )
        for metric in ("auroc_f", "aurc"):
            pick = min if metric in LOWER_IS_BETTER else max
            best = pick(_baselines(methods), key=lambda b: methods[b][metric]["mean"])
            diffs = [
                r["scores"][DEFAULT][metric] - r["scores"][best][metric]
                for r in cell_runs
            ]
            wins = sum(_better(metric, d, 0.0) for d in diffs)
            rows.append(
                {
                    "cell": cell,
                    "metric": metric,
                    "best_baseline": best,
                    "per_seed_diff": " ".join(f"{d:+.4f}" for d in diffs),
                    "mean_diff": float(np.mean(diffs)),
                    "metaerr_wins": f"{wins}/{len(diffs)}",
                }
            )
    return rows


def targets(summary):
    """Per cell: MetaErr default beats MSP (AUROC_f, AURC) and the best baseline."""
    rows = []
    for cell, methods in summary.items():
        mean = {m: {k: v["mean"] for k, v in row.items()} for m, row in methods.items()}
        meta = mean[DEFAULT]
        best_auroc = max(_baselines(mean), key=lambda b: mean[b]["auroc_f"])
        best_aurc = min(_baselines(mean), key=lambda b: mean[b]["aurc"])
        earlier = EARLIER.get(cell)
        best_meta = max(
            (m for m in mean if m.startswith("metaerr[")),
            key=lambda m: mean[m]["auroc_f"],
        )
        rows.append(
            {
                "cell": cell,
                "msp_auroc": mean["msp"]["auroc_f"],
                "trust_auroc": max(
                    mean[b]["auroc_f"] for b in ("trust_score", EMB_TRUST) if b in mean
                ),
                "metaerr_auroc": meta["auroc_f"],
                "beats_msp_auroc": bool(meta["auroc_f"] > mean["msp"]["auroc_f"]),
                "beats_msp_aurc": bool(meta["aurc"] < mean["msp"]["aurc"]),
                "best_baseline": best_auroc,
                "beats_best_baseline": bool(
                    meta["auroc_f"] > mean[best_auroc]["auroc_f"]
                    and meta["aurc"] < mean[best_aurc]["aurc"]
                ),
                "earlier_trust_auroc": "-" if earlier is None else earlier[1],
                "beats_earlier": "-"
                if earlier is None
                else bool(meta["auroc_f"] > max(earlier)),
                "best_metaerr": best_meta,
                "best_metaerr_auroc": mean[best_meta]["auroc_f"],
            }
        )
    return rows


def overall(rows):
    n = len(rows)
    both_msp = sum(r["beats_msp_auroc"] and r["beats_msp_aurc"] for r in rows)
    best = sum(r["beats_best_baseline"] for r in rows)
    return {
        "cells": n,
        "beats_msp_both_in": both_msp,
        "beats_msp_all_cells": both_msp == n,
        "beats_best_baseline_in": best,
        "beats_best_baseline_fraction": best / n if n else 0.0,
        "beats_best_baseline_target_80pct_met": bool(n and best / n >= 0.8),
    }


def plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metaerr_sk.plotting import RiskCoverageDisplay

    n = len(curves)
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    # one colour per score in every panel (MetaErr red), whichever a cell has
    colors = dict(
        zip(
            ("msp", "doctor", "trust_score", EMB_TRUST, DEFAULT),
            ("C0", "C1", "C2", "C4", "C3"),
            strict=True,
        )
    )
    for ax, (cell, (correct, conf)) in zip(axes.flat, curves.items(), strict=False):
        for name, color in colors.items():
            if name in conf:
                RiskCoverageDisplay.from_scores(
                    correct,
                    conf[name],
                    name=name,
                    ax=ax,
                    plot_oracle=name == "msp",
                    color=color,
                )
        ax.set_title(cell)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_md(path, payload):
    s = payload
    env = s["environment"]
    parts = [
        "# Error prediction on vision data"
        + (" (smoke run: tiny subsets, numbers not meaningful)" if s["suffix"] else ""),
        "",
        "Generated by `benchmarks/bench_error_prediction.py`; do not edit by hand.",
        "",
        s["protocol"],
        "",
        f"Seeds: {s['seeds']} (mean ± standard deviation over seeds). Sizes: "
        f"{s['sizes']}. AURC and E-AURC are x1000. Run time: {s['seconds']:.0f} s "
        f"on {env['machine_description']} ({env['cpus']} CPUs {env['cpu']}, torch "
        f"{env['torch']} on device cpu, torch threads {env['torch_threads']}).",
        "",
        "## Target check",
        "",
        "MetaErr default = `metaerr[logistic]`. `beats_best_baseline`: higher mean "
        "AUROC_f than the baseline with the best mean AUROC_f *and* lower mean AURC "
        "than the baseline with the best mean AURC. `beats_earlier`: mean AUROC_f "
        "above both single-run numbers measured earlier (MSP, Trust Score).",
        "",
        records_table(s["targets"]),
        "",
        records_table([s["overall"]]),
        "",
    ]
    missed = [r["cell"] for r in s["targets"] if not r["beats_best_baseline"]]
    missed_msp = [
        r["cell"]
        for r in s["targets"]
        if not (r["beats_msp_auroc"] and r["beats_msp_aurc"])
    ]
    missed_earlier = [r["cell"] for r in s["targets"] if r["beats_earlier"] is False]
    parts += [
        "Missed - does not beat MSP on both AUROC_f and AURC: "
        f"{', '.join(missed_msp) or 'none'}; does not beat the best baseline: "
        f"{', '.join(missed) or 'none'}; below the earlier single-run numbers: "
        f"{', '.join(missed_earlier) or 'none'}.",
        "",
        "## Paired comparison: MetaErr default minus the best baseline, per seed",
        "",
        "(AUROC_f: positive is better; AURC: negative is better.)",
        "",
        records_table(s["paired"]),
        "",
        f"Risk-coverage curves (first seed): `error_prediction{s['suffix']}.png`.",
        "",
    ]
    for cell, methods in s["summary"].items():
        accs = [r["accuracy"] for r in s["runs"] if r["cell"] == cell]
        parts += [
            f"## {cell} (base accuracy {np.mean(accs):.4f})",
            "",
            summary_table(methods, METRICS),
            "",
        ]
    path.write_text("\n".join(parts))


def _one(cell, seed, sizes, meta_learners, threads, forward=None):
    import torch

    torch.set_num_threads(threads)
    if forward:
        _FORWARD.update(forward)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    result, curve = evaluate(cell, seed, sizes, meta_learners)
    print(
        f"{cell:32s} seed {seed} acc {result['accuracy']:.3f}  "
        f"MSP {result['scores']['msp']['auroc_f']:.4f}  "
        f"Trust {result['scores']['trust_score']['auroc_f']:.4f}  "
        f"MetaErr {result['scores'][DEFAULT]['auroc_f']:.4f}  "
        f"({result['seconds']:.1f}s)",
        flush=True,
    )
    return result, curve


def _one_indexed(k, *args):
    return k, _one(*args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny subsets, 1 seed, 3 cells, 1 CNN epoch",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cells", nargs="+", default=None, choices=CELLS)
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="(cell, seed) tasks run in parallel processes",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per task (default: cpus / n_jobs)",
    )
    parser.add_argument(
        "--machine",
        default=platform.node(),
        help="words describing the machine, for the results",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if args.smoke:
        seeds, cells, suffix = [0], list(args.cells or SMOKE_CELLS), "_smoke"
        sizes, meta_learners = SIZES["smoke"], ("logistic", "lightgbm")
    else:
        seeds, cells, suffix = args.seeds, list(args.cells or CELLS), ""
        sizes, meta_learners = SIZES["full"], tuple(META_LEARNERS)
    cpus = os.cpu_count() or 1
    threads = args.threads or max(1, cpus // args.n_jobs)

    import torch

    start = time.perf_counter()
    forward = {}
    if any(c.startswith("cifar10") for c in cells):
        torch.set_num_threads(cpus)
        forward = precompute_forward(cells, sizes)  # once, before the workers
        print(
            f"CIFAR-10 forward passes done ({time.perf_counter() - start:.0f}s)",
            flush=True,
        )
    tasks = [(c, s) for c in cells for s in seeds]
    # heaviest first so the parallel pool stays busy
    tasks.sort(key=lambda t: ("cnn" not in t[0], "frozen" not in t[0]))
    if args.n_jobs == 1:
        out = [_one(c, s, sizes, meta_learners, threads) for c, s in tasks]
        # (the forward memo is already in this process)
    else:
        from joblib import Parallel, delayed

        done = {}
        jobs = Parallel(
            n_jobs=args.n_jobs, backend="loky", return_as="generator_unordered"
        )(
            delayed(_one_indexed)(
                k,
                c,
                s,
                sizes,
                meta_learners,
                threads,
                forward if c.startswith("cifar10") else None,
            )
            for k, (c, s) in enumerate(tasks)
        )
        args.out.mkdir(parents=True, exist_ok=True)
        for k, result in jobs:
            done[k] = result
            # partial results survive a run cut short
            partial = [r for r, _ in done.values()]
            (args.out / f"error_prediction{suffix}_partial.json").write_text(
                json.dumps({"seconds": time.perf_counter() - start, "runs": partial})
            )
        out = [done[k] for k in range(len(tasks))]
        (args.out / f"error_prediction{suffix}_partial.json").unlink()
    order = {c: i for i, c in enumerate(cells)}
    pairs = sorted(
        zip(tasks, out, strict=True), key=lambda p: (order[p[0][0]], p[0][1])
    )
    runs = [r for _, (r, _) in pairs]
    curves = {}
    for (cell, seed), (_, curve) in pairs:
        if seed == seeds[0]:
            curves[cell] = curve
    summary = summarize_runs(runs, group_by="cell", metrics=METRICS)
    summary = {c: summary[c] for c in cells}
    check = targets(summary)
    payload = {
        "benchmark": "error prediction on vision data",
        "protocol": " ".join(__doc__.split("    python")[0].split("\n", 1)[1].split()),
        "suffix": suffix,
        "seeds": seeds,
        "cells": cells,
        "sizes": sizes,
        "meta_learners": list(meta_learners),
        "environment": run_environment(
            machine_description=args.machine,
            torch_threads=threads,
            parallel_tasks=args.n_jobs,
            device="cpu",
        ),
        "seconds": time.perf_counter() - start,
        "summary": summary,
        "targets": check,
        "overall": overall(check),
        "paired": paired(runs, summary),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"error_prediction{suffix}"
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2))
    write_md(stem.with_suffix(".md"), payload)
    plot(curves, stem.with_suffix(".png"))
    for row in check:
        print(
            f"{row['cell']:32s} MSP {row['msp_auroc']:.4f} Trust "
            f"{row['trust_auroc']:.4f} MetaErr {row['metaerr_auroc']:.4f} "
            f"beats MSP {row['beats_msp_auroc'] and row['beats_msp_aurc']} "
            f"beats best {row['beats_best_baseline']}"
        )
    print(payload["overall"])
    print(f"wrote {stem}.{{json,md,png}} in {payload['seconds']:.0f}s")


if __name__ == "__main__":
    main()
