"""Meta-features: what the base model exposes, turned into a feature matrix.

Only the base's outputs (its class probabilities) and, optionally, the input or
an embedding of it are used - never its weights or architecture - which is what
makes MetaErr agnostic of the base model.

Groups (selected by ``MetaErrClassifier(features=...)``):

``"confidence"``
    Max probability, margin top1 - top2, negative entropy and DOCTOR, each also
    on a log scale where the classic scores saturate near 1 (``-log(1 - p_max)``).
``"proba"``
    The probability vector sorted in decreasing order.
``"class"``
    One-hot predicted class: errors are rarely spread evenly over classes.
``"neighbors"``
    The neighbourhood of the sample among the training points: log Trust Score,
    k-NN agreement with the predicted class, the out-of-fold error rate of the
    nearest training samples and the log distance to the nearest one.
``"input"``
    The (transformed) input itself.
"""

import numpy as np

from ._neighbors import ClassNeighbors, trust_ratio
from .baselines import _check_proba, _doctor, _margin, _negative_entropy

FEATURE_GROUPS = ("confidence", "proba", "class", "neighbors", "input")

_EPS = 1e-7
# log-ratios beyond this carry no extra information and only hurt linear models.
_LOG_CLIP = 10.0


def check_feature_groups(features):
    """``features`` as a tuple, or a ``ValueError`` naming the groups there are."""
    groups = tuple(features)
    if not groups or set(groups) - set(FEATURE_GROUPS):
        raise ValueError(
            f"features must be a non-empty subset of {FEATURE_GROUPS}, got "
            f"{features!r}."
        )
    return groups


def confidence_features(proba):
    """Classic confidence scores of each row, shape ``(n_samples, 6)``.

    The base's probabilities are taken as they come (finite, non-negative):
    float32 ones can miss a row sum of one by far more than rounding, which
    the public baselines reject as "not probabilities"."""
    proba = _check_proba(proba)
    p_max = proba.max(axis=1)
    marg = _margin(proba)
    return np.column_stack(
        [
            p_max,
            -np.log(np.clip(1.0 - p_max, _EPS, None)),
            marg,
            -np.log(np.clip(1.0 - marg, _EPS, None)),
            _negative_entropy(proba),
            _doctor(proba),
        ]
    )


def sorted_proba_features(proba):
    """Probabilities sorted in decreasing order, shape ``(n_samples, n_classes)``."""
    return -np.sort(-proba, axis=1)


def predicted_class_features(proba):
    """One-hot predicted class, shape ``(n_samples, n_classes)``."""
    onehot = np.zeros_like(proba)
    onehot[np.arange(proba.shape[0]), proba.argmax(axis=1)] = 1.0
    return onehot


class NeighborhoodFeatures:
    """The ``"neighbors"`` group, fitted on the meta-training points.

    Parameters
    ----------
    n_neighbors : int
        Neighbours for label agreement and neighbour error rate.
    """

    n_features = 5

    def __init__(self, n_neighbors=10):
        self.n_neighbors = n_neighbors

    def fit(self, Z, y_index, error, n_classes):
        """``Z`` the neighbour space, ``y_index`` class indices, ``error`` the
        out-of-fold error of each training point."""
        self.index_ = ClassNeighbors(self.n_neighbors).fit(Z, y_index, n_classes)
        self.error_ = np.asarray(error, dtype=float)
        return self

    def transform(self, Z, pred_index, *, exclude_self=False):
        """Features of rows of ``Z`` whose predicted class indices are ``pred_index``.

        ``exclude_self=True`` is for ``Z`` being the training points themselves:
        each then sees the others but never itself.
        """
        index = self.index_
        class_dist = index.class_distances(Z, exclude_self=exclude_self)
        dist, neigh = index.kneighbors(Z, exclude_self=exclude_self)
        neigh_labels = index.y_index_[neigh]
        # Closer neighbours count more: weights 1/(rank+1) keep it scale-free.
        weights = 1.0 / np.arange(1, neigh.shape[1] + 1)
        weights /= weights.sum()
        agreement = (neigh_labels == pred_index[:, None]) @ weights
        neighbor_error = self.error_[neigh] @ weights
        with np.errstate(divide="ignore"):
            # ratio 0 (predicted class absent from the training rows): -inf,
            # clipped like every other extreme
            log_trust = np.clip(
                np.log(trust_ratio(class_dist, pred_index)), -_LOG_CLIP, _LOG_CLIP
            )
        nearest = np.log(dist[:, 0] + _EPS)
        # Share of the k nearest whose label differs AND who the base got wrong:
        # a failure region rather than a label boundary.
        wrong_and_other = (
            (neigh_labels != pred_index[:, None]) & (self.error_[neigh] > 0)
        ) @ weights
        return np.column_stack(
            [log_trust, agreement, neighbor_error, nearest, wrong_and_other]
        )


def build_meta_features(
    proba, features, *, neighborhood=None, Z=None, exclude_self=False
):
    """Stack the selected groups into one matrix.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Base probabilities, columns in ``classes_`` order.
    features : sequence of str
        Groups from ``FEATURE_GROUPS``.
    neighborhood : NeighborhoodFeatures, optional
        Fitted; required for ``"neighbors"``.
    Z : ndarray or sparse matrix, optional
        The neighbour/input space rows; required for ``"neighbors"`` and ``"input"``.
    exclude_self : bool
        Rows of ``Z`` are the meta-training points (see ``NeighborhoodFeatures``).
    """
    # float64 whatever the base returns: the log-scale confidence features lose
    # their top end to float32 rounding of p near 1 (skorch, float32 inputs),
    # and fit and predict must compute them alike.
    proba = np.asarray(proba, dtype=np.float64)
    blocks = []
    if "confidence" in features:
        blocks.append(confidence_features(proba))
    if "proba" in features:
        blocks.append(sorted_proba_features(proba))
    if "class" in features:
        blocks.append(predicted_class_features(proba))
    if "neighbors" in features:
        blocks.append(
            neighborhood.transform(Z, proba.argmax(axis=1), exclude_self=exclude_self)
        )
    if "input" in features:
        blocks.append(Z.toarray() if hasattr(Z, "toarray") else np.asarray(Z))
    return np.hstack(blocks)
