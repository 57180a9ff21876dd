"""Tests for metaerr_sk.metrics: hand-worked cases, a brute-force reference,
input validation and the scikit-learn scorers."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import (
    DataConversionWarning,
    UndefinedMetricWarning,
    UnsetMetadataPassedError,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from metaerr_sk.metrics import (
    ERROR_DETECTION_SCORERS,
    aupr_error,
    aurc,
    auroc_f,
    e_aurc,
    error_detection_report,
    fpr_at_95_tpr,
    make_error_detection_scorer,
    risk_coverage_curve,
)

METRICS = {
    "auroc_f": auroc_f,
    "aupr_error": aupr_error,
    "fpr_at_95_tpr": fpr_at_95_tpr,
    "aurc": aurc,
    "e_aurc": e_aurc,
}
SCORER_NAMES = ["auroc_f", "aupr_error", "neg_fpr_at_95_tpr", "neg_aurc", "neg_e_aurc"]


def _aurc_star(err):
    """Optimal AURC x1000 at error rate err, 0 < err < 1 (the formula itself)."""
    return 1000 * (err + (1 - err) * np.log(1 - err))


T, F = True, False

# Every expected value below is worked out by hand in the comments.
HAND_WORKED = {
    # Correct ones ranked strictly above the errors.
    "perfect": (
        [T, T, F, F],
        [0.9, 0.6, 0.4, 0.1],
        {
            # every (correct, wrong) pair ordered right
            "auroc_f": 1.0,
            # errors at ranks 1, 2 of -confidence: precisions 1, 1
            "aupr_error": 1.0,
            # threshold 0.6 accepts both correct ones and no error
            "fpr_at_95_tpr": 0.0,
            # risks after accepting 1..4 samples: 0, 0, 1/3, 1/2; mean x1000
            "aurc": 1000 * (0 + 0 + 1 / 3 + 1 / 2) / 4,
            # err = 0.5
            "e_aurc": 1000 * (0 + 0 + 1 / 3 + 1 / 2) / 4 - _aurc_star(0.5),
        },
    ),
    # Errors ranked strictly above the correct ones.
    "reversed": (
        [T, T, F, F],
        [0.1, 0.4, 0.6, 0.9],
        {
            "auroc_f": 0.0,
            # errors at ranks 3, 4 of -confidence: AP = (1/3 + 2/4) / 2
            "aupr_error": (1 / 3 + 2 / 4) / 2,
            # TPR reaches 1 only at threshold 0.1, which accepts both errors
            "fpr_at_95_tpr": 1.0,
            # accepted F(0.9), F(0.6), T(0.4), T(0.1): risks 1, 1, 2/3, 1/2
            "aurc": 1000 * (1 + 1 + 2 / 3 + 1 / 2) / 4,
            "e_aurc": 1000 * (1 + 1 + 2 / 3 + 1 / 2) / 4 - _aurc_star(0.5),
        },
    ),
    # Ties across and within classes.
    "ties": (
        [T, F, T, T, F],
        [0.9, 0.9, 0.6, 0.6, 0.2],
        {
            # correct {0.9, 0.6, 0.6} vs wrong {0.9, 0.2}: pairs
            # (.9,.9)=1/2 (.9,.2)=1 (.6,.9)=0 (.6,.2)=1 (.6,.9)=0 (.6,.2)=1
            "auroc_f": 3.5 / 6,
            # -confidence thresholds -0.2: P=1 R=1/2; -0.6: P=1/3 R=1/2;
            # -0.9: P=2/5 R=1 -> AP = 1/2 * 1 + 0 * 1/3 + 1/2 * 2/5
            "aupr_error": 0.5 + 0.2,
            # threshold 0.6 gives TPR 3/3 and accepts the error at 0.9 of 2
            "fpr_at_95_tpr": 0.5,
            # groups {0.9}: cov .4 risk 1/2; {0.6}: cov .8 risk 1/4;
            # {0.2}: cov 1 risk 2/5 -> .4 * .5 + .4 * .25 + .2 * .4 = .38
            # (= per-sample mean (.5 + .5 + .25 + .25 + .4) / 5)
            "aurc": 380.0,
            "e_aurc": 380.0 - _aurc_star(0.4),
        },
    ),
    # One confidence for everyone: no ranking at all.
    "all_tied": (
        [T, F, T, T, F],
        [0.5, 0.5, 0.5, 0.5, 0.5],
        {
            "auroc_f": 0.5,
            # a single threshold: precision = error rate 2/5, recall 1
            "aupr_error": 0.4,
            # the only threshold accepts everyone
            "fpr_at_95_tpr": 1.0,
            # one group at coverage 1: AURC = error rate x1000
            "aurc": 400.0,
            "e_aurc": 400.0 - _aurc_star(0.4),
        },
    ),
}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("case", HAND_WORKED)
def test_hand_worked(case, metric):
    correct, confidence, expected = HAND_WORKED[case]
    assert METRICS[metric](correct, confidence) == pytest.approx(expected[metric])


@pytest.mark.parametrize("case", HAND_WORKED)
def test_report_matches_functions(case):
    correct, confidence, expected = HAND_WORKED[case]
    report = error_detection_report(correct, confidence)
    assert list(report) == list(METRICS)
    for name, value in report.items():
        assert isinstance(value, float)
        assert value == pytest.approx(expected[name])


def test_risk_coverage_curve_groups_ties():
    correct, confidence, _ = HAND_WORKED["ties"]
    coverage, risk, thresholds = risk_coverage_curve(correct, confidence)
    # one point per distinct confidence, see the "ties" case above
    np.testing.assert_allclose(coverage, [0.4, 0.8, 1.0])
    np.testing.assert_allclose(risk, [0.5, 0.25, 0.4])
    np.testing.assert_allclose(thresholds, [0.9, 0.6, 0.2])


@pytest.mark.parametrize("n_errors", [0, 1, 3, 7])
@pytest.mark.parametrize("value", [-2.0, 0.0, 0.7])
def test_aurc_all_tied_is_error_rate(n_errors, value):
    correct = np.arange(7) >= n_errors
    confidence = np.full(7, value)
    assert aurc(correct, confidence) == pytest.approx(1000 * n_errors / 7)
    coverage, risk, thresholds = risk_coverage_curve(correct, confidence)
    assert coverage.tolist() == [1.0]
    assert risk == pytest.approx([n_errors / 7])
    assert thresholds.tolist() == [value]


@pytest.mark.parametrize("metric", [aurc, e_aurc])
def test_aurc_and_e_aurc_without_errors(metric):
    # err == 0: every accepted set is error free and AURC* = 0
    assert metric([T, T, T, T], [0.3, 0.9, 0.1, 0.5]) == 0.0


def test_all_wrong():
    # err == 1: AURC = 1000 and AURC* takes its limit 1000
    assert aurc([F, F, F], [0.3, 0.9, 0.1]) == pytest.approx(1000.0)
    assert e_aurc([F, F, F], [0.3, 0.9, 0.1]) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "n_correct, n_high, expected",
    [
        # 19/20 = 0.95 of the correct ones above every error: FPR 0
        (20, 19, 0.0),
        # 18/20 = 0.90 is not enough: the threshold must drop below the errors
        (20, 18, 1.0),
        # 1899/2000 = 0.9495 exactly counts (FD-Shifts level)...
        (2000, 1899, 0.0),
        # ...1898/2000 = 0.949 does not
        (2000, 1898, 1.0),
    ],
)
def test_fpr_at_95_tpr_threshold_edge(n_correct, n_high, expected):
    # n_high correct samples above the 3 errors, the rest of the correct below
    confidence = np.r_[
        np.full(n_high, 10.0), np.full(n_correct - n_high, 0.0), [1.0, 2.0, 3.0]
    ]
    correct = np.r_[np.ones(n_correct, dtype=bool), np.zeros(3, dtype=bool)]
    assert fpr_at_95_tpr(correct, confidence) == expected


@pytest.mark.parametrize("metric", METRICS)
def test_invariant_to_order_and_monotone_transform(metric):
    correct, confidence, _ = HAND_WORKED["ties"]
    correct, confidence = np.array(correct), np.array(confidence)
    expected = METRICS[metric](correct, confidence)
    perm = np.random.default_rng(0).permutation(len(correct))
    assert METRICS[metric](correct[perm], confidence[perm]) == pytest.approx(expected)
    assert METRICS[metric](correct, np.exp(3 * confidence)) == pytest.approx(expected)


@pytest.mark.parametrize("kind", [int, float])
@pytest.mark.parametrize("metric", METRICS)
def test_correct_accepts_zero_one(metric, kind):
    correct, confidence, _ = HAND_WORKED["ties"]
    as_numbers = np.asarray(correct).astype(kind)
    assert METRICS[metric](as_numbers, confidence) == pytest.approx(
        METRICS[metric](correct, confidence)
    )


# --------------------------------------------------------------------------
# Brute force: the definitions written as loops over thresholds and pairs.


def _brute_auroc_f(correct, confidence):
    pos, neg = confidence[correct], confidence[~correct]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def _brute_aupr_error(correct, confidence):
    error, score = ~correct, -confidence
    ap, previous_recall = 0.0, 0.0
    for t in np.unique(score)[::-1]:
        flagged = score >= t
        recall = (error & flagged).sum() / error.sum()
        precision = (error & flagged).sum() / flagged.sum()
        ap += (recall - previous_recall) * precision
        previous_recall = recall
    return ap


def _brute_fpr_at_95_tpr(correct, confidence):
    best = 1.0
    for t in np.unique(confidence):
        accepted = confidence >= t
        tpr = (accepted & correct).sum() / correct.sum()
        fpr = (accepted & ~correct).sum() / (~correct).sum()
        if tpr >= 0.9495:
            best = min(best, fpr)
    return best


def _brute_aurc(correct, confidence):
    # each sample's risk: error rate among everything at least as confident
    risks = [np.mean(~correct[confidence >= c]) for c in confidence]
    return 1000 * np.mean(risks)


def _brute_e_aurc(correct, confidence):
    err = np.mean(~correct)
    star = 0.0 if err == 0 else 1000.0 if err == 1 else _aurc_star(err)
    return _brute_aurc(correct, confidence) - star


BRUTE = {
    "auroc_f": _brute_auroc_f,
    "aupr_error": _brute_aupr_error,
    "fpr_at_95_tpr": _brute_fpr_at_95_tpr,
    "aurc": _brute_aurc,
    "e_aurc": _brute_e_aurc,
}


def _random_case(seed, n_levels):
    rng = np.random.default_rng(seed)
    n = 40
    correct = rng.random(n) < 0.7
    correct[:2] = [True, False]  # both classes
    # few levels -> many ties; the confidence leans towards correct
    confidence = np.round(rng.random(n) + 0.5 * correct, n_levels)
    return correct, confidence


@pytest.mark.parametrize("n_levels", [1, 3])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("metric", METRICS)
def test_matches_brute_force(metric, seed, n_levels):
    correct, confidence = _random_case(seed, n_levels)
    assert METRICS[metric](correct, confidence) == pytest.approx(
        BRUTE[metric](correct, confidence)
    )


@pytest.mark.parametrize("seed", range(4))
def test_risk_coverage_curve_matches_brute_force(seed):
    correct, confidence = _random_case(seed, 1)
    coverage, risk, thresholds = risk_coverage_curve(correct, confidence)
    levels = np.unique(confidence)[::-1]
    np.testing.assert_array_equal(thresholds, levels)
    np.testing.assert_allclose(coverage, [np.mean(confidence >= t) for t in levels])
    np.testing.assert_allclose(
        risk, [np.mean(~correct[confidence >= t]) for t in levels]
    )
    # the step integral over coverage is the AURC
    assert 1000 * np.sum(np.diff(coverage, prepend=0) * risk) == pytest.approx(
        aurc(correct, confidence)
    )


# --------------------------------------------------------------------------
# Input validation

BAD_INPUTS = [
    ([T, F, T], [0.1, 0.2], "same length"),
    ([[T, F], [T, F]], [0.1, 0.2, 0.3, 0.4], "1-D"),
    ([T, F], [[0.1], [0.2]], "1-D"),
    ([], [], "empty"),
    ([T, F, T], [0.1, np.nan, 0.3], "NaN or infinite"),
    ([T, F, T], [0.1, np.inf, 0.3], "NaN or infinite"),
    ([T, F, T], ["a", "b", "c"], "numeric"),
    ([1, 2, 0], [0.1, 0.2, 0.3], "boolean-like"),
    ([0.5, 1.0, 0.0], [0.1, 0.2, 0.3], "boolean-like"),
    (["yes", "no", "yes"], [0.1, 0.2, 0.3], "boolean-like"),
]


@pytest.mark.parametrize("correct, confidence, match", BAD_INPUTS)
@pytest.mark.parametrize(
    "function", [*METRICS.values(), error_detection_report, risk_coverage_curve]
)
def test_bad_input_raises(function, correct, confidence, match):
    with pytest.raises(ValueError, match=match):
        function(correct, confidence)


@pytest.mark.parametrize("correct", [[T, T, T], [F, F, F]])
@pytest.mark.parametrize(
    "function", [auroc_f, aupr_error, fpr_at_95_tpr, error_detection_report]
)
def test_single_class_raises(function, correct):
    with pytest.raises(ValueError, match="undefined when `correct` has a single"):
        function(correct, [0.1, 0.5, 0.9])


# --------------------------------------------------------------------------
# Scorers


class FakeErrorPredictor(ClassifierMixin, BaseEstimator):
    """Stand-in for MetaErrClassifier: P(wrong) = 1 - max probability."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.estimator_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def predict_error_proba(self, X):
        return 1 - self.estimator_.predict_proba(X).max(axis=1)


@pytest.fixture(scope="module")
def noisy_data():
    # flip_y=0.3 randomizes 30% of the labels, so every test fold holds errors
    return make_classification(
        n_samples=150, n_features=4, n_informative=2, flip_y=0.3, random_state=0
    )


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_scorer_computes_metric_with_sign(noisy_data, name):
    X, y = noisy_data
    estimator = FakeErrorPredictor().fit(X, y)
    correct = estimator.predict(X) == y
    confidence = 1 - estimator.predict_error_proba(X)
    metric = METRICS[name.removeprefix("neg_")]
    sign = -1 if name.startswith("neg_") else 1
    score = make_error_detection_scorer(name)(estimator, X, y)
    assert isinstance(score, float)
    assert score == pytest.approx(sign * metric(correct, confidence))
    if name.startswith("neg_"):
        assert score <= 0
    else:
        assert 0 <= score <= 1
    assert ERROR_DETECTION_SCORERS[name](estimator, X, y) == score


def test_default_scorer_is_auroc_f():
    assert repr(make_error_detection_scorer()) == repr(
        ERROR_DETECTION_SCORERS["auroc_f"]
    )


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_scorer_pickles_and_reprs(noisy_data, name):
    X, y = noisy_data
    estimator = FakeErrorPredictor().fit(X, y)
    scorer = make_error_detection_scorer(name)
    assert repr(scorer) == f"make_error_detection_scorer(metric='{name}')"
    restored = pickle.loads(pickle.dumps(scorer))
    assert repr(restored) == repr(scorer)
    assert restored(estimator, X, y) == scorer(estimator, X, y)


def test_scorers_in_cross_validate(noisy_data):
    X, y = noisy_data
    results = cross_validate(
        FakeErrorPredictor(), X, y, cv=3, scoring=ERROR_DETECTION_SCORERS
    )
    for name in SCORER_NAMES:
        scores = results[f"test_{name}"]
        assert scores.shape == (3,)
        assert np.all(np.isfinite(scores))
        if name.startswith("neg_"):
            assert np.all(scores <= 0)


@pytest.mark.parametrize("name", ["auroc_f", "neg_aurc"])
def test_scorer_in_grid_search(noisy_data, name):
    X, y = noisy_data
    search = GridSearchCV(
        FakeErrorPredictor(),
        {"C": [0.01, 1.0]},
        scoring=make_error_detection_scorer(name),
        cv=3,
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ == search.cv_results_["mean_test_score"].max()
    assert (search.best_score_ <= 0) == name.startswith("neg_")


def test_scorer_sees_an_error_predictor_at_the_end_of_a_pipeline(noisy_data):
    # `make_pipeline(scaler, MetaErrClassifier(...))` inside a grid search: the
    # pipeline has no predict_error_proba of its own.
    X, y = noisy_data
    scaler = StandardScaler().fit(X)
    pipe = make_pipeline(scaler, FakeErrorPredictor()).fit(X, y)
    last = pipe[-1]
    for name in SCORER_NAMES:
        scorer = make_error_detection_scorer(name)
        assert scorer(pipe, X, y) == scorer(last, scaler.transform(X), y)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), FakeErrorPredictor()),
        {"fakeerrorpredictor__C": [0.01, 1.0]},
        scoring=make_error_detection_scorer("auroc_f"),
        cv=3,
        error_score="raise",
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_scorer_checks_the_length_of_y(noisy_data):
    # one label (or a scalar) used to be broadcast against every prediction
    X, y = noisy_data
    estimator = FakeErrorPredictor().fit(X, y)
    scorer = make_error_detection_scorer("neg_aurc")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        scorer(estimator, X, y[:1])
    with pytest.raises(ValueError, match="1d array"):
        scorer(estimator, X, 1)
    with pytest.warns(DataConversionWarning):  # a column is raveled, as in sklearn
        assert scorer(estimator, X, y[:, None]) == scorer(estimator, X, y)


def test_multimetric_grid_search(noisy_data):
    X, y = noisy_data
    search = GridSearchCV(
        FakeErrorPredictor(),
        {"C": [0.01, 1.0]},
        scoring=ERROR_DETECTION_SCORERS,
        refit="neg_e_aurc",
        cv=3,
    ).fit(X, y)
    assert set(SCORER_NAMES) <= {
        key.removeprefix("mean_test_") for key in search.cv_results_
    }
    assert search.best_score_ <= 0


def test_single_class_split_gives_nan_with_warning():
    # well separated blobs: the base is right on every sample
    X, y = make_blobs(n_samples=30, centers=[[-10, 0], [10, 0]], random_state=0)
    estimator = FakeErrorPredictor().fit(X, y)
    assert np.all(estimator.predict(X) == y)
    for name in ["auroc_f", "aupr_error", "neg_fpr_at_95_tpr"]:
        with pytest.warns(UndefinedMetricWarning, match="undefined on this split"):
            assert np.isnan(make_error_detection_scorer(name)(estimator, X, y))
    # AURC and E-AURC are defined without errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_error_detection_scorer("neg_aurc")(estimator, X, y) == 0
        assert make_error_detection_scorer("neg_e_aurc")(estimator, X, y) == 0


def test_grid_search_survives_single_class_split():
    X, y = make_blobs(n_samples=30, centers=[[-10, 0], [10, 0]], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nan scores, expected here
        search = GridSearchCV(
            FakeErrorPredictor(),
            {"C": [0.1, 1.0]},
            scoring=make_error_detection_scorer("auroc_f"),
            cv=StratifiedKFold(3),
        ).fit(X, y)
    assert np.all(np.isnan(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize(
    "metric, match",
    [
        ("roc_auc", r"valid names are \['aupr_error', 'auroc_f'"),
        ("aurc", "use 'neg_aurc'"),
        ("fpr_at_95_tpr", "use 'neg_fpr_at_95_tpr'"),
        (None, "Unknown error-detection metric None"),
        (["auroc_f"], r"Unknown error-detection metric \['auroc_f'\]"),
    ],
)
def test_make_scorer_unknown_metric(metric, match):
    with pytest.raises(ValueError, match=match):
        make_error_detection_scorer(metric)


def test_scorer_needs_predict_error_proba(noisy_data):
    X, y = noisy_data
    plain = LogisticRegression().fit(X, y)
    with pytest.raises(TypeError, match="predict_error_proba"):
        make_error_detection_scorer()(plain, X, y)


def test_scorer_needs_y(noisy_data):
    X, y = noisy_data
    estimator = FakeErrorPredictor().fit(X, y)
    with pytest.raises(ValueError, match="needs the true labels"):
        make_error_detection_scorer()(estimator, X, None)


class CountingLogisticRegression(LogisticRegression):
    """Counts the rows it is asked to predict on, to see the passes over X."""

    rows_seen = 0

    def predict_proba(self, X):
        type(self).rows_seen += len(X)
        return super().predict_proba(X)


def test_scorer_asks_a_metaerr_base_once(noisy_data):
    # predict and predict_error_proba each ran the base: two forward passes of a
    # network where one does (predict is the argmax of the same probabilities).
    from metaerr_sk import MetaErrClassifier

    X, y = noisy_data
    meta = MetaErrClassifier(CountingLogisticRegression(), random_state=0).fit(X, y)
    expected = auroc_f(meta.predict(X) == y, 1 - meta.predict_error_proba(X))
    CountingLogisticRegression.rows_seen = 0
    assert make_error_detection_scorer("auroc_f")(meta, X, y) == expected
    assert CountingLogisticRegression.rows_seen == len(X)


# ------------------------------------------------------------ sample_weight


@pytest.fixture(scope="module")
def weighted_pairs():
    rng = np.random.RandomState(7)
    correct = rng.rand(200) < 0.7
    confidence = rng.randint(0, 8, 200) / 8  # many ties
    weight = rng.randint(0, 4, 200)  # zeros included
    return correct, confidence, weight


@pytest.mark.parametrize("name", sorted(METRICS))
def test_integer_weights_equal_repeated_samples(weighted_pairs, name):
    correct, confidence, weight = weighted_pairs
    weighted = METRICS[name](correct, confidence, sample_weight=weight)
    repeated = METRICS[name](np.repeat(correct, weight), np.repeat(confidence, weight))
    assert weighted == pytest.approx(repeated, rel=1e-12)


def test_weighted_risk_coverage_curve_equals_repeated_samples(weighted_pairs):
    correct, confidence, weight = weighted_pairs
    weighted = risk_coverage_curve(correct, confidence, sample_weight=weight)
    repeated = risk_coverage_curve(
        np.repeat(correct, weight), np.repeat(confidence, weight)
    )
    for got, expected in zip(weighted, repeated, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_uniform_weights_change_nothing(weighted_pairs, name):
    correct, confidence, _ = weighted_pairs
    uniform = np.full(correct.shape[0], 2.5)
    assert METRICS[name](correct, confidence, sample_weight=uniform) == pytest.approx(
        METRICS[name](correct, confidence), rel=1e-12
    )


def test_weighted_report_matches_each_metric(weighted_pairs):
    correct, confidence, weight = weighted_pairs
    report = error_detection_report(correct, confidence, sample_weight=weight)
    for name, metric in METRICS.items():
        assert report[name] == metric(correct, confidence, sample_weight=weight)


@pytest.mark.parametrize(
    "weight, match",
    [
        ([1.0, -1.0, 1.0, 1.0], "[Nn]egative"),
        ([1.0, 1.0, 1.0], r"sample_weight\.shape"),
        ([1.0, np.nan, 1.0, 1.0], "NaN"),
        ([0.0, 0.0, 0.0, 0.0], "non-zero"),
    ],
)
@pytest.mark.parametrize("name", sorted(METRICS))
def test_bad_sample_weight_raises(name, weight, match):
    with pytest.raises(ValueError, match=match):
        METRICS[name](
            [True, False, True, False], [0.9, 0.8, 0.3, 0.1], sample_weight=weight
        )


@pytest.mark.parametrize("name", SCORER_NAMES)
def test_scorer_takes_sample_weight(noisy_data, name):
    X, y = noisy_data
    weight = 1.0 + np.arange(len(y)) % 3
    estimator = FakeErrorPredictor().fit(X, y)
    correct = estimator.predict(X) == y
    confidence = 1 - estimator.predict_error_proba(X)
    metric = METRICS[name.removeprefix("neg_")]
    sign = -1 if name.startswith("neg_") else 1
    score = make_error_detection_scorer(name)(estimator, X, y, sample_weight=weight)
    assert score == pytest.approx(
        sign * metric(correct, confidence, sample_weight=weight)
    )
    assert score != pytest.approx(sign * metric(correct, confidence))


def test_scorer_receives_routed_sample_weight(noisy_data):
    X, y = noisy_data
    weight = 1.0 + np.arange(len(y)) % 3
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_error_detection_scorer("neg_aurc").set_score_request(
            sample_weight=True
        )
        scores = cross_validate(
            FakeErrorPredictor(),
            X,
            y,
            cv=cv,
            scoring=scorer,
            params={"sample_weight": weight},
        )["test_score"]
        restored = pickle.loads(pickle.dumps(scorer))
        assert restored.get_metadata_routing().score.requests == {"sample_weight": True}
    for score, (train, test) in zip(scores, cv.split(X), strict=True):
        model = FakeErrorPredictor().fit(X[train], y[train])
        expected = -aurc(
            model.predict(X[test]) == y[test],
            1 - model.predict_error_proba(X[test]),
            sample_weight=weight[test],
        )
        assert score == pytest.approx(expected)


def test_scorer_sample_weight_must_be_requested(noisy_data):
    X, y = noisy_data
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="set_score_request"):
            cross_validate(
                FakeErrorPredictor(),
                X,
                y,
                cv=3,
                scoring=make_error_detection_scorer(),
                params={"sample_weight": np.ones(len(y))},
            )
    with pytest.raises(RuntimeError, match="enable_metadata_routing"):
        make_error_detection_scorer().set_score_request(sample_weight=True)


def test_scorer_counts_only_weighted_predictions_for_single_class(noisy_data):
    X, y = noisy_data
    estimator = FakeErrorPredictor().fit(X, y)
    correct = estimator.predict(X) == y
    weight = correct.astype(float)  # every wrong prediction weighs 0
    with pytest.warns(UndefinedMetricWarning, match="non-zero weight are correct"):
        score = make_error_detection_scorer("auroc_f")(
            estimator, X, y, sample_weight=weight
        )
    assert np.isnan(score)
    # AURC is defined: no weighted error, no risk
    assert make_error_detection_scorer("neg_aurc")(
        estimator, X, y, sample_weight=weight
    ) == pytest.approx(0.0)
