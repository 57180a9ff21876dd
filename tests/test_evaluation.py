"""evaluate_error_detection: every method under every metric on one split."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB

from metaerr_sk.evaluation import evaluate_error_detection, format_table
from metaerr_sk.metrics import error_detection_report


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return X[:900], y[:900], X[900:1300], y[900:1300]


def test_rows_match_the_metrics_called_directly(digits_split):
    X_tr, y_tr, X_te, y_te = digits_split
    result = evaluate_error_detection(
        GaussianNB(), X_tr, y_tr, X_te, y_te, baselines=("msp",), random_state=0
    )
    assert set(result["scores"]) == {"msp", "metaerr[logistic]"}
    # the MSP row from the base's own probabilities
    from metaerr_sk import MetaErrClassifier

    model = MetaErrClassifier(GaussianNB(), random_state=0).fit(X_tr, y_tr)
    correct = model.predict(X_te) == y_te
    assert result["accuracy"] == pytest.approx(correct.mean())
    expected = error_detection_report(correct, model.predict_proba(X_te).max(axis=1))
    assert result["scores"]["msp"] == pytest.approx(expected)
    table = format_table(result["scores"])
    assert table.splitlines()[2].startswith("| msp |")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"meta_learners": "logistic"}, TypeError, r"sequence .* \('logistic',\)"),
        ({"meta_learners": ()}, ValueError, "meta_learners is empty"),
        (
            {"meta_learners": ("logistic", "logistic")},
            ValueError,
            r"same row name more than once: \['metaerr\[logistic\]'\]",
        ),
        (
            {
                "meta_learners": (
                    LogisticRegression(C=1e-4),
                    LogisticRegression(C=100),
                )
            },
            ValueError,
            "metaerr\\[LogisticRegression\\]",
        ),
        ({"baselines": "msp"}, TypeError, r"baselines must be a sequence"),
        ({"baselines": ("msp", "oracle")}, ValueError, "oracle"),
    ],
)
def test_bad_arguments_fail_before_any_fitting(digits_split, kwargs, error, match):
    class NeverFitted(GaussianNB):
        def fit(self, X, y):
            raise AssertionError("fitted before the arguments were checked")

    X_tr, y_tr, X_te, y_te = digits_split
    with pytest.raises(error, match=match):
        evaluate_error_detection(NeverFitted(), X_tr, y_tr, X_te, y_te, **kwargs)


@pytest.mark.parametrize("y_test", ["one label", "short"])
def test_test_labels_of_another_length(digits_split, y_test):
    # a single label used to be broadcast against every prediction
    X_tr, y_tr, X_te, y_te = digits_split
    y_bad = y_te[:1] if y_test == "one label" else y_te[:-5]
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        evaluate_error_detection(GaussianNB(), X_tr, y_tr, X_te, y_bad)


@pytest.mark.filterwarnings("ignore:The base made 0 out-of-fold errors")
def test_no_failure_to_detect():
    X, y = make_blobs(n_samples=200, centers=[[-10, 0], [10, 0]], random_state=0)
    with pytest.raises(ValueError, match="right on every one of the 100 test"):
        evaluate_error_detection(
            LogisticRegression(), X[:100], y[:100], X[100:], y[100:]
        )


def test_sample_weight_scores_like_repeated_test_samples(digits_split):
    X_tr, y_tr, X_te, y_te = digits_split
    weight = np.random.default_rng(0).integers(0, 4, size=len(y_te))
    # Distances measured in the raw pixels, small integers: their products and
    # sums are exact in float64, so a row gets the same Trust Score and
    # neighbour features however many rows are queried with it. In the
    # standardised space the BLAS product's last bit depends on that count,
    # and one such bit broke a tie between two test samples' Trust Scores.
    kw = dict(
        meta_learners=("logistic", "knn"),
        baseline_space=lambda X: np.asarray(X, dtype=float),
        metaerr_params=dict(neighbor_space="raw"),
        random_state=0,
    )
    weighted = evaluate_error_detection(
        GaussianNB(), X_tr, y_tr, X_te, y_te, sample_weight=weight, **kw
    )
    rows = np.repeat(np.arange(len(y_te)), weight)
    repeated = evaluate_error_detection(
        GaussianNB(), X_tr, y_tr, X_te[rows], y_te[rows], **kw
    )
    assert weighted["accuracy"] == pytest.approx(repeated["accuracy"])
    assert weighted["error_rate"] == pytest.approx(repeated["error_rate"])
    assert weighted["scores"].keys() == repeated["scores"].keys()
    for method, report in weighted["scores"].items():
        assert report == pytest.approx(repeated["scores"][method]), method
    unweighted = evaluate_error_detection(GaussianNB(), X_tr, y_tr, X_te, y_te, **kw)
    assert weighted["scores"]["msp"] != pytest.approx(unweighted["scores"]["msp"])


@pytest.mark.parametrize(
    "weight, match",
    [
        (np.ones(3), "sample_weight.shape == .* expected"),
        (-np.ones(400), "Negative values in data passed to `sample_weight`"),
        (np.zeros(400), "at least one non-zero number"),
    ],
)
def test_bad_sample_weight_fails_before_any_fitting(digits_split, weight, match):
    class NeverFitted(GaussianNB):
        def fit(self, X, y):
            raise AssertionError("fitted before the weights were checked")

    X_tr, y_tr, X_te, y_te = digits_split
    with pytest.raises(ValueError, match=match):
        evaluate_error_detection(
            NeverFitted(), X_tr, y_tr, X_te, y_te, sample_weight=weight
        )


@pytest.mark.filterwarnings("ignore:The base made 0 out-of-fold errors")
def test_no_failure_among_the_weighted_test_samples():
    X, y = make_blobs(n_samples=200, centers=[[-10, 0], [10, 0]], random_state=0)
    X[150], y[150] = X[0], 1 - y[0]  # one test sample the base gets wrong
    weight = np.ones(100)
    weight[50] = 0.0  # ... weighted 0
    with pytest.raises(ValueError, match="right on every one of the 99 test samples"):
        evaluate_error_detection(
            LogisticRegression(),
            X[:100],
            y[:100],
            X[100:],
            y[100:],
            sample_weight=weight,
        )


def test_format_table_of_nothing():
    with pytest.raises(ValueError, match="nothing to tabulate"):
        format_table({})
