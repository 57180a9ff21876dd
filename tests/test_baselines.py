import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from metaerr_sk.baselines import (
    BASELINES,
    TrustScore,
    doctor,
    get_baseline,
    margin,
    max_softmax_probability,
    negative_entropy,
)

PROBA = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]])


def test_probability_scores_by_hand():
    np.testing.assert_allclose(max_softmax_probability(PROBA), [0.7, 0.4, 1.0])
    np.testing.assert_allclose(margin(PROBA), [0.5, 0.0, 1.0])
    expected_entropy = [
        0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1),
        2 * 0.4 * np.log(0.4) + 0.2 * np.log(0.2),
        0.0,
    ]
    np.testing.assert_allclose(negative_entropy(PROBA), expected_entropy)
    # DOCTOR: g = 1 - sum p^2; confidence -g / (1 - g).
    sum_sq = np.array([0.54, 0.36, 1.0])
    np.testing.assert_allclose(doctor(PROBA), -(1 - sum_sq) / sum_sq)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_common_interface_ranks_the_sure_sample_first(name):
    # Two classes on a line; the sample at 0.05 is deep in class 0 and its
    # prediction is confident, the one at 0.5 sits on the boundary.
    X_train = np.array([[0.0], [0.1], [0.2], [0.8], [0.9], [1.0]])
    y_train = np.array([0, 0, 0, 1, 1, 1])
    X = np.array([[0.05], [0.5]])
    proba = np.array([[0.95, 0.05], [0.55, 0.45]])
    confidence = get_baseline(name).fit(X_train, y_train).confidence(X, proba)
    assert confidence.shape == (2,)
    assert confidence[0] > confidence[1]


def test_trust_score_by_hand():
    X_train = np.array([[0.0], [1.0], [3.0], [4.0]])
    ts = TrustScore().fit(X_train, ["a", "a", "b", "b"])
    # x = 1.5 predicted "a": nearest a at 0.5, nearest b at 1.5 -> ratio 3.
    # x = 1.5 predicted "b": the inverse, 1/3.
    scores = ts.confidence([[1.5], [1.5]], [[0.6, 0.4], [0.4, 0.6]])
    np.testing.assert_allclose(scores, [3.0, 1 / 3], rtol=1e-9)


def test_trust_score_alpha_filters_outliers():
    # Class 0 has one far outlier at 10; with alpha it leaves the class index,
    # so a sample near 10 predicted as 0 is no longer trusted.
    X_train = np.array([[0.0], [0.1], [0.2], [0.3], [10.0], [5.0], [5.1], [5.2]])
    y_train = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1]])
    plain = TrustScore().fit(X_train, y_train).confidence([[9.9]], proba)
    filtered = (
        TrustScore(n_neighbors=2, alpha=0.2)
        .fit(X_train, y_train)
        .confidence([[9.9]], proba)
    )
    assert plain[0] > 1 > filtered[0]


def _reference_trust_score(X, y, X_test, pred, k, alpha):
    """Jiang et al.'s reference code (google-research TrustScore), ported."""
    from sklearn.neighbors import KDTree

    kept = []
    for c in np.unique(y):
        X_c = X[y == c]
        radius = KDTree(X_c).query(X_c, k=k)[0][:, -1]
        kept.append(X_c[radius <= np.percentile(radius, (1 - alpha) * 100)])
    d = np.column_stack([KDTree(X_c).query(X_test, k=1)[0][:, 0] for X_c in kept])
    rows = np.arange(len(X_test))
    d_pred = d[rows, pred].copy()
    d[rows, pred] = np.inf
    return (d.min(axis=1) + 1e-12) / (d_pred + 1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.3])
def test_trust_score_density_filter_matches_the_reference_code(alpha):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((300, 4))
    y = rng.randint(0, 3, 300)
    X_test = rng.standard_normal((100, 4))
    proba = rng.dirichlet(np.ones(3), size=100)
    ours = TrustScore(n_neighbors=10, alpha=alpha).fit(X, y).confidence(X_test, proba)
    ref = _reference_trust_score(X, y, X_test, proba.argmax(axis=1), 10, alpha)
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


@pytest.mark.parametrize("n_neighbors", [0, -3, 2.5, "10"])
def test_trust_score_rejects_bad_n_neighbors(n_neighbors):
    with pytest.raises(ValueError, match="'n_neighbors' parameter of TrustScore"):
        TrustScore(n_neighbors=n_neighbors).fit([[0.0], [1.0], [2.0]], [0, 1, 1])


@pytest.mark.parametrize(
    ("proba", "message"),
    [
        ([[0.5], [0.5]], r"1 column\(s\); it needs one per class"),
        ([[-0.1, 1.1]], "non-negative"),
        # scores, not probabilities: a positive "negative entropy", a DOCTOR
        # score above any distribution's
        ([[2.0, 1.0]], "row 0 sums to 3"),
        ([[0.0, 0.0]], "row 0 sums to 0"),
    ],
)
@pytest.mark.parametrize(
    "score", [max_softmax_probability, margin, negative_entropy, doctor]
)
def test_bad_proba(proba, message, score):
    with pytest.raises(ValueError, match=message):
        score(proba)


def test_trust_score_errors():
    ts = TrustScore()
    with pytest.raises(NotFittedError):
        ts.confidence([[0.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="at least two classes"):
        ts.fit([[0.0], [1.0]], [1, 1])
    with pytest.raises(
        ValueError, match=r"'alpha' parameter .* in the range \[0.0, 1.0\)"
    ):
        TrustScore(alpha=1.0).fit([[0.0], [1.0]], [0, 1])
    ts.fit([[0.0], [1.0], [2.0]], [0, 1, 2])
    with pytest.raises(ValueError, match="proba must have shape"):
        ts.confidence([[0.0]], [[0.5, 0.5]])


def test_unknown_baseline():
    with pytest.raises(ValueError, match="Unknown baseline 'odin'"):
        get_baseline("odin")


def test_probabilities_may_miss_one_by_float32_rounding():
    # float32 probabilities (GaussianNB on MNIST pixels: 1.2e-4) are still
    # probabilities; scores are off by far more (see test_bad_proba)
    proba = np.array([[0.7005, 0.3], [0.5, 0.4995]], dtype=np.float32)
    for score in (max_softmax_probability, margin, negative_entropy, doctor):
        assert np.all(np.isfinite(score(proba)))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_clones_and_pickles(name):
    X, y = np.array([[0.0], [0.1], [1.0], [1.1]]), np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.3, 0.7]])
    score = get_baseline(name).fit(X, y)
    expected = score.confidence(X[:2], proba)
    np.testing.assert_array_equal(
        clone(score).fit(X, y).confidence(X[:2], proba), expected
    )
    restored = pickle.loads(pickle.dumps(score))
    np.testing.assert_array_equal(restored.confidence(X[:2], proba), expected)
    assert repr(score).startswith(type(score).__name__ + "(")
