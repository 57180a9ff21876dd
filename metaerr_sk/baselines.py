"""Confidence scores to compare MetaErr with: MSP, margin, entropy, DOCTOR, Trust Score.

Every score follows one small interface, so benchmarks can loop over them::

    score = get_baseline("trust_score").fit(X_train, y_train)
    confidence = score.confidence(X_test, proba_test)   # high = likely correct

(``confidence``, not ``score``: scikit-learn reserves ``score(X, y)`` for a fit
quality.) The four probability-only scores ignore ``X`` and have a no-op ``fit``;
Trust Score needs the training data. ``proba`` columns follow the sorted class
labels seen in ``fit`` (the scikit-learn ``classes_`` order).

References
----------
Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution
Examples in Neural Networks", ICLR 2017 (MSP).
Granese et al., "DOCTOR: A Simple Method for Detecting Misclassification Errors",
NeurIPS 2021.
Jiang, Kim, Guan & Gupta, "To Trust Or Not To Trust A Classifier", NeurIPS 2018.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._neighbors import ClassNeighbors, trust_ratio
from ._oof import check_rows_sum_to_one

__all__ = [
    "BASELINES",
    "DOCTOR",
    "MSP",
    "Margin",
    "NegativeEntropy",
    "TrustScore",
    "doctor",
    "get_baseline",
    "margin",
    "max_softmax_probability",
    "negative_entropy",
]


def _check_proba(proba):
    proba = check_array(proba, input_name="proba")
    if proba.shape[1] < 2:
        raise ValueError(
            f"proba has {proba.shape[1]} column(s); it needs one per class, at least 2."
        )
    if np.any(proba < 0):
        raise ValueError("proba must be non-negative class probabilities.")
    return proba


def _check_distributions(proba):
    """``_check_proba``, and rows that sum to one: scores would give e.g. a
    positive "negative entropy". A loose tolerance, as float32 probabilities
    are off by 1e-4 and more (GaussianNB on float32 MNIST pixels)."""
    proba = _check_proba(proba)
    check_rows_sum_to_one(proba, "proba", atol=1e-2)
    return proba


def max_softmax_probability(proba):
    """Largest class probability (MSP).

    Examples
    --------
    >>> max_softmax_probability([[0.7, 0.3], [0.4, 0.6]])
    array([0.7, 0.6])
    """
    return _check_distributions(proba).max(axis=1)


def margin(proba):
    """Difference between the two largest class probabilities.

    Examples
    --------
    >>> margin([[0.7, 0.2, 0.1]])
    array([0.5])
    """
    return _margin(_check_distributions(proba))


def _margin(proba):
    top2 = np.sort(proba, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def negative_entropy(proba):
    """Negative Shannon entropy (nats) of the class distribution.

    Examples
    --------
    >>> negative_entropy([[1.0, 0.0], [0.5, 0.5]]).round(4)
    array([ 0.    , -0.6931])
    """
    return _negative_entropy(_check_distributions(proba))


def _negative_entropy(proba):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return terms.sum(axis=1)


def doctor(proba):
    """DOCTOR confidence ``-g / (1 - g)`` with Gini impurity ``g = 1 - sum p^2``.

    DOCTOR rejects a sample when ``g / (1 - g)`` exceeds a threshold, so its negation
    is a confidence (high = likely correct).

    Examples
    --------
    >>> doctor([[1.0, 0.0], [0.5, 0.5]])
    array([-0., -1.])
    """
    return _doctor(_check_distributions(proba))


def _doctor(proba):
    sum_sq = np.square(proba).sum(axis=1)
    return -(1.0 - sum_sq) / sum_sq


class _ProbaScore(BaseEstimator):
    """A confidence that only reads the probabilities; ``fit`` does nothing.

    An estimator without parameters, so that ``clone``, ``get_params`` and
    ``repr`` treat it like :class:`TrustScore`.
    """

    _function = None

    def fit(self, X=None, y=None):
        return self

    def confidence(self, X, proba):
        return type(self)._function(proba)


class MSP(_ProbaScore):
    """Maximum softmax probability, as a baseline object."""

    _function = staticmethod(max_softmax_probability)


class Margin(_ProbaScore):
    """Top-1 minus top-2 probability, as a baseline object."""

    _function = staticmethod(margin)


class NegativeEntropy(_ProbaScore):
    """Negative entropy, as a baseline object."""

    _function = staticmethod(negative_entropy)


class DOCTOR(_ProbaScore):
    """DOCTOR (Gini) confidence, as a baseline object."""

    _function = staticmethod(doctor)


class TrustScore(BaseEstimator):
    """Trust Score: how much closer a sample is to its predicted class than to others.

    The ratio of the distance to the nearest training point of another class over
    the distance to the nearest training point of the predicted class, after
    removing the ``alpha`` fraction of each class's lowest-density points.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours used to estimate density for the ``alpha`` filter.

    alpha : float, default=0.0
        Fraction of each class's training points, those with the largest
        ``n_neighbors``-NN radius (the point itself counted as its first
        neighbour), left out of the class's index: the points above the
        ``1 - alpha`` percentile of the radii, as in the authors' reference
        code. A class of fewer than ``n_neighbors`` points is kept whole.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels seen in ``fit``; ``proba`` columns follow them.

    n_features_in_ : int
        Number of features seen in ``fit``.

    References
    ----------
    Jiang, Kim, Guan & Gupta, "To Trust Or Not To Trust A Classifier",
    NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> ts = TrustScore().fit(X, [0, 0, 1, 1])
    >>> ts.confidence([[0.2]], [[0.9, 0.1]]).round(2)
    array([8.])
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(self, n_neighbors=10, alpha=0.0):
        self.n_neighbors = n_neighbors
        self.alpha = alpha

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Index the training points of each class."""
        X, y = validate_data(self, X, y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "TrustScore needs at least two classes in y; got "
                f"{self.classes_.size} class."
            )
        self.neighbors_ = ClassNeighbors(self.n_neighbors, self.alpha).fit(
            X, y_index, self.classes_.size
        )
        return self

    def confidence(self, X, proba):
        """Trust Score of the prediction ``argmax(proba)`` for each row of ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        proba = _check_proba(proba)
        if proba.shape != (X.shape[0], self.classes_.size):
            raise ValueError(
                f"proba must have shape (n_samples, n_classes) = "
                f"({X.shape[0]}, {self.classes_.size}), got {proba.shape}."
            )
        distances = self.neighbors_.class_distances(X)
        return trust_ratio(distances, proba.argmax(axis=1))


BASELINES = {
    "msp": MSP,
    "margin": Margin,
    "entropy": NegativeEntropy,
    "doctor": DOCTOR,
    "trust_score": TrustScore,
}


def get_baseline(name, **params):
    """A fresh baseline object by name (see ``BASELINES``).

    Examples
    --------
    >>> get_baseline("msp").fit().confidence(None, [[0.8, 0.2]])
    array([0.8])
    """
    if name not in BASELINES:
        raise ValueError(
            f"Unknown baseline {name!r}; choose one of {sorted(BASELINES)}."
        )
    return BASELINES[name](**params)
