"""``metaerr``: the command line.

``metaerr compare`` runs the error-prediction comparison - MetaErr against every
baseline confidence score, under every failure-detection metric - on one dataset,
for a few base classifiers and seeds, and prints the tables.
"""

import argparse
import sys
import time
import warnings

import numpy as np
from sklearn.model_selection import train_test_split

from ._reporting import summarize_runs, summary_table
from .evaluation import evaluate_error_detection

METRICS = ("auroc_f", "aupr_error", "fpr_at_95_tpr", "aurc", "e_aurc")


def _bases(seed):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "gaussian_nb": GaussianNB(),
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "knn": KNeighborsClassifier(),
        "hist_gradient_boosting": HistGradientBoostingClassifier(random_state=seed),
    }


def _load(name, data_dir, n_samples, seed):
    """Flattened float features and labels; image sets subsampled to n_samples."""
    if name == "digits":
        from sklearn.datasets import load_digits

        return load_digits(return_X_y=True)
    from .datasets import load_dataset

    X, y = load_dataset(name, data_dir)
    if n_samples and n_samples < len(X):
        keep, _ = train_test_split(
            np.arange(len(X)), train_size=n_samples, stratify=y, random_state=seed
        )
        X, y = X[keep], y[keep]
    if name == "cifar10":
        # CIFAR-10 bases work on the pretrained ResNet-20's 64-d embeddings.
        from .nn import ResNetEmbedding

        return ResNetEmbedding(depth=20, data_dir=data_dir).fit().transform(X), y
    return X.reshape(len(X), -1).astype(np.float32) / 255.0, y


def compare(args):
    runs = []
    for seed in args.seeds:
        X, y = _load(args.dataset, args.data_dir, args.n_samples, seed)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
        bases = _bases(seed)
        for name in args.base:
            start = time.perf_counter()
            result = evaluate_error_detection(
                bases[name],
                X_train,
                y_train,
                X_test,
                y_test,
                meta_learners=args.meta_learner,
                random_state=seed,
            )
            result.update(base=name, seed=seed)
            runs.append(result)
            print(
                f"[{args.dataset}] seed {seed} base {name}: accuracy "
                f"{result['accuracy']:.3f} ({time.perf_counter() - start:.1f}s)",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize_runs(runs, group_by="base", metrics=METRICS)
    print(
        f"\nError prediction on {args.dataset} (50/50 split, seeds {args.seeds}; "
        "mean ± std; AURC/E-AURC x1000; best per column in bold)"
    )
    for base, methods in summary.items():
        print(f"\n## base: {base}\n")
        print(summary_table(methods, METRICS))
    return 0


def _count(text):
    """argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text):
    """argparse type: a seed scikit-learn accepts (0 to 2**32 - 1)."""
    value = int(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {value}")
    return value


def main(argv=None):
    from . import __version__
    from ._meta_learners import META_LEARNERS

    parser = argparse.ArgumentParser(
        prog="metaerr",
        description="Predict, sample by sample, when a classifier is going to be "
        "wrong: MetaErr against the baseline confidence scores.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="MetaErr vs baseline confidence scores on one dataset",
        description="MetaErr against every baseline confidence score, under every "
        "failure-detection metric, on one dataset (50/50 split per seed).",
    )
    cmp.add_argument(
        "--dataset",
        default="digits",
        choices=["digits", "mnist", "fashion_mnist", "cifar10"],
        help="digits (default) is embedded; the others read --data-dir; cifar10 "
        "compares the bases on the pretrained ResNet-20's 64-d embeddings (needs "
        "torch)",
    )
    cmp.add_argument(
        "--data-dir",
        default=None,
        help="folder of the canonical data files (default: $METAERR_DATA_DIR, "
        "then ../shared/data); not used for digits",
    )
    cmp.add_argument(
        "--base",
        nargs="+",
        default=["gaussian_nb", "logistic"],
        choices=sorted(_bases(0)),
        help="base classifiers whose errors are predicted (default: %(default)s)",
    )
    cmp.add_argument(
        "--meta-learner",
        nargs="+",
        default=["logistic", "lightgbm"],
        choices=sorted(META_LEARNERS),
        help="meta-learners to compare; the first is reported as MetaErr's "
        "default (default: %(default)s)",
    )
    cmp.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        default=[0, 1, 2],
        help="one run per seed (default: %(default)s)",
    )
    cmp.add_argument(
        "--n-samples",
        type=_count,
        default=10000,
        help="subsample the image datasets to this many samples before the "
        "split (default: %(default)s; digits: all 1,797)",
    )
    args = parser.parse_args(argv)
    for option in ("base", "meta_learner", "seeds"):
        values = getattr(args, option)
        if len(set(values)) < len(values):
            cmp.error(f"--{option.replace('_', '-')} repeats a value: {values}")
    with warnings.catch_warnings():
        # Convergence chatter from base models would bury the tables.
        warnings.simplefilter("ignore", category=UserWarning)
        try:
            return compare(args)
        except FileNotFoundError as exc:  # a data file: the message says where
            parser.exit(2, f"metaerr: error: {exc}\n")


if __name__ == "__main__":
    sys.exit(main())
