"""Self-training on text: SelfTrainingWithMetaErr as the last step of a tf-idf pipeline.

Issue 4 checks the estimator on a text pipeline. No text corpus ships with
scikit-learn without a download, so this one generates its corpora, seeded:
"topics", three topics, a document three words of its topic's six, two of a
random topic's and five fillers (the corpus of the estimator's tests); and
"overlap", two classes whose 40-word vocabularies share 30 words, a document
eight words of its class's.

Protocol: per seed, a pool of 300 documents of which the first 3 or 10 of each
class are labelled, and 1,000 test documents drawn alike. Every method reads
the same tf-idf, fitted on the whole pool's text (no labels) and frozen, and
fits a logistic regression on it. Methods: supervised-only (the pipeline
tf-idf -> logistic regression on the labelled documents); scikit-learn's
SelfTrainingClassifier at thresholds 0.75, 0.9 and 0.95 on the tf-idf matrix -
its wrapper validates X, so it cannot take the pipeline (scikit-learn issue
23323); SelfTrainingWithMetaErr with its defaults around the pipeline, on the
raw documents, and the same with pseudo_label_weight=0 (unweighted
pseudo-labels). Reported: test accuracy, pseudo-label precision and count, mean
and standard deviation over seeds.

    python benchmarks/bench_self_training_text.py --n-jobs 2
    python benchmarks/bench_self_training_text.py --smoke
"""

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from bench_self_training import _against_rival, pseudo_scores
from joblib import Parallel, delayed
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import SelfTrainingClassifier

from metaerr_sk import SelfTrainingWithMetaErr
from metaerr_sk._environment import run_environment
from metaerr_sk._reporting import records_table, summarize_runs, summary_table

RESULTS = Path(__file__).parent / "results"
METRICS = ("accuracy", "pseudo_precision", "n_pseudo")
N_POOL, N_TEST = 300, 1000
SKLEARN = ("sklearn_0.75", "sklearn_0.9", "sklearn_0.95")
RIVALS = ("supervised", *SKLEARN)
OURS = {"metaerr": {}, "metaerr_unweighted": {"pseudo_label_weight": 0.0}}

warnings.filterwarnings("ignore", category=UserWarning)

TOPICS = [
    ["ball", "goal", "team", "match", "score", "coach"],
    ["code", "chip", "data", "cloud", "server", "network"],
    ["bread", "cheese", "recipe", "oven", "spice", "soup"],
]
FILLER = ["the", "a", "of", "and", "to", "in", "is", "it"]
VOCABULARY = [f"w{i}" for i in range(50)]


def corpus(name, n, rng):
    """``n`` documents of corpus ``name`` and their classes."""
    if name == "topics":
        topic = rng.integers(3, size=n)
        docs = [
            " ".join(
                rng.permutation(
                    [
                        *rng.choice(TOPICS[t], 3),
                        *rng.choice(TOPICS[rng.integers(3)], 2),
                        *rng.choice(FILLER, 5),
                    ]
                )
            )
            for t in topic
        ]
        return docs, topic
    # overlap: words 0-39 for class 0, 10-49 for class 1
    label = rng.integers(2, size=n)
    docs = [" ".join(rng.choice(VOCABULARY[10 * c : 40 + 10 * c], 8)) for c in label]
    return docs, label


def split(name, per_class, seed):
    """Pool documents, their semi-supervised labels (-1: unlabelled), their
    hidden true labels, and the test documents and labels."""
    rng = np.random.default_rng(seed)
    docs, y = corpus(name, N_POOL + N_TEST, rng)
    pool, y_pool = docs[:N_POOL], y[:N_POOL]
    y_semi = np.full(N_POOL, -1)
    for c in np.unique(y_pool):
        first = np.flatnonzero(y_pool == c)[:per_class]
        y_semi[first] = c
    return pool, y_semi, y_pool, docs[N_POOL:], y[N_POOL:]


def pipeline(tfidf):
    """The text pipeline every method but scikit-learn's fits: the frozen
    pool tf-idf, then a logistic regression."""
    return make_pipeline(FrozenEstimator(tfidf), LogisticRegression())


def run_cell(name, per_class, seed):
    pool, y_semi, y_pool, test, y_test = split(name, per_class, seed)
    labelled = np.flatnonzero(y_semi != -1)
    tfidf = TfidfVectorizer().fit(pool)
    scores = {}
    model = pipeline(tfidf).fit([pool[i] for i in labelled], y_semi[labelled])
    scores["supervised"] = {
        "accuracy": model.score(test, y_test),
        **pseudo_scores(np.zeros(N_POOL, bool), y_semi, y_pool),
    }
    for method in SKLEARN:
        theirs = SelfTrainingClassifier(
            LogisticRegression(), threshold=float(method.split("_")[1])
        ).fit(tfidf.transform(pool), y_semi)
        scores[method] = {
            "accuracy": theirs.score(tfidf.transform(test), y_test),
            **pseudo_scores(theirs.labeled_iter_ > 0, theirs.transduction_, y_pool),
        }
    for method, params in OURS.items():
        ours = SelfTrainingWithMetaErr(pipeline(tfidf), random_state=seed, **params)
        ours.fit(pool, y_semi)
        scores[method] = {
            "accuracy": ours.score(test, y_test),
            **pseudo_scores(ours.labeled_iter_ > 0, ours.transduction_, y_pool),
        }
    return {"cell": f"{name} {per_class}/class", "seed": seed, "scores": scores}


def against_rivals(summary, runs):
    """Per cell and per variant of ours: the best rival on mean accuracy, and
    ours against it seed by seed (``bench_self_training``'s paired margin)."""
    rows = []
    for cell, methods in summary.items():
        best = max(RIVALS, key=lambda m: methods[m]["accuracy"]["mean"])
        for method in OURS:
            rows.append(
                {
                    "cell": cell,
                    "method": method,
                    "accuracy": methods[method]["accuracy"]["mean"],
                    "best_rival": best,
                    "rival_accuracy": methods[best]["accuracy"]["mean"],
                    **_against_rival(runs, cell, best, ours=method),
                }
            )
    return rows


def plot(summary, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [*RIVALS, *OURS]
    cells = list(summary)
    fig, ax = plt.subplots(figsize=(2.2 * len(cells) + 2, 3.6))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        stats = [summary[c][method]["accuracy"] for c in cells]
        ax.bar(
            np.arange(len(cells)) + (i - (len(methods) - 1) / 2) * width,
            [s["mean"] for s in stats],
            width,
            yerr=[s["std"] for s in stats],
            label=method,
            capsize=2,
        )
    ax.set_xticks(np.arange(len(cells)), cells)
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    lows = [summary[c][m]["accuracy"]["mean"] for c in cells for m in methods]
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Self-training on a tf-idf pipeline (synthetic corpora)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(path, payload):
    parts = [
        "# Self-training on text: a tf-idf pipeline",
        "",
        "Generated by `benchmarks/bench_self_training_text.py`; do not edit by hand.",
        "",
        f"Protocol: {payload['protocol']}",
        "",
        f"Seeds: {payload['seeds']} (mean ± standard deviation). Run time: "
        f"{payload['seconds']:.0f} s on {payload['environment']['cpus']} CPU cores, "
        f"n_jobs={payload['n_jobs']}.",
        "",
        "## Against the best rival",
        "",
        "best_rival: supervised-only or the scikit-learn threshold with the best "
        "mean test accuracy; acc_seeds_won: seeds on which ours is ahead of it; "
        "acc_margin ± acc_margin_se: ours minus it, seed by seed, averaged, and "
        "its standard error.",
        "",
        records_table(payload["against_rivals"]),
        "",
    ]
    for cell, methods in payload["summary"].items():
        parts += [f"## {cell}", "", summary_table(methods, METRICS), ""]
    path.write_text("\n".join(parts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="topics, 3/class, 1 seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(20)))
    parser.add_argument(
        "--corpora",
        nargs="+",
        choices=["topics", "overlap"],
        default=["topics", "overlap"],
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--n-jobs", type=int, default=1, help="cells in parallel")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--stem", default="self_training_text")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.corpora, args.budgets = [0], ["topics"], [3]
        args.stem = "self_training_text_smoke"

    start = time.perf_counter()
    runs = Parallel(n_jobs=args.n_jobs)(
        delayed(run_cell)(name, per_class, seed)
        for name in args.corpora
        for per_class in args.budgets
        for seed in args.seeds
    )
    summary = summarize_runs(runs, group_by="cell", metrics=METRICS)
    payload = {
        "benchmark": "self-training on a text pipeline",
        "protocol": " ".join(__doc__.split("\n\n")[2].split()).removeprefix(
            "Protocol: "
        ),
        "seeds": args.seeds,
        "n_jobs": args.n_jobs,
        "environment": run_environment(),
        "seconds": time.perf_counter() - start,
        "summary": summary,
        "against_rivals": against_rivals(summary, runs),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.stem}.json").write_text(json.dumps(payload, indent=2))
    write_markdown(args.out / f"{args.stem}.md", payload)
    plot(summary, args.out / f"{args.stem}.png")
    for row in payload["against_rivals"]:
        print(
            f"{row['cell']:16s} {row['method']:19s} {row['accuracy']:.4f} vs "
            f"{row['best_rival']} {row['rival_accuracy']:.4f}: margin "
            f"{row['acc_margin']:+.4f} ± {row['acc_margin_se']:.4f} "
            f"(won {row['acc_seeds_won']})"
        )
    print(f"wrote {args.out / args.stem}.{{json,md,png}} ({payload['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
