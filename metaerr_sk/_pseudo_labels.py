"""Which unlabelled samples to pseudo-label, given how much each is trusted.

:func:`select_trusted` is the selection step of
:class:`~metaerr_sk.SelfTrainingWithMetaErr`, kept apart as a pure function of
the trust scores so that it can be tested and reused on its own.
"""

from numbers import Integral

import numpy as np


def k_best_count(k_best, n_unlabelled):
    """``k_best`` as a count: an int as is, a float as that fraction of the
    ``n_unlabelled`` samples unlabelled at the start (rounded, at least 1)."""
    if isinstance(k_best, Integral):
        return int(k_best)
    return max(1, int(round(k_best * n_unlabelled)))


def select_trusted(
    p_correct, pred_index, n_classes, *, criterion, threshold, k_best, balanced
):
    """Indices (into the candidates) of the samples to pseudo-label.

    Parameters
    ----------
    p_correct : ndarray of shape (n_candidates,)
        Predicted probability that the base is right on each candidate.
    pred_index : ndarray of shape (n_candidates,)
        Index of each candidate's predicted class.
    n_classes : int
    criterion : {"threshold", "k_best"}
    threshold : float
        ``"threshold"`` keeps candidates with ``p_correct > threshold``.
    k_best : int
        ``"k_best"`` keeps the ``k_best`` most trusted candidates.
    balanced : bool
        Keep the number ``k`` the criterion chose, but share it equally among
        the predicted classes (round robin over each class's most trusted
        members, below the threshold too for a class with few above it), so
        easy classes do not swamp the rest.

    Returns
    -------
    selected : ndarray of int
        Sorted candidate indices.
    """
    order = np.argsort(-p_correct, kind="stable")
    if criterion == "threshold":
        keep = order[p_correct[order] > threshold]
        k = keep.size
    else:
        k = min(k_best, p_correct.size)
        keep = order
    if not balanced:
        return np.sort(keep[:k])
    # Class-balanced (after class-balanced self-training, Zou et al. 2018, which
    # takes the same fraction of each class rather than the same count): each
    # predicted class gets the same share of the k, its most trusted members
    # first - below the threshold too when few of its members pass it, so
    # easy classes cannot take the whole iteration.
    # Rank of each candidate within its predicted class, most trusted first;
    # take rank 0 of every class, then rank 1, ... until k are taken.
    rank = np.empty(p_correct.size, dtype=int)
    for c in range(n_classes):
        members = order[pred_index[order] == c]
        rank[members] = np.arange(members.size)
    by_round = np.lexsort((-p_correct, rank))
    return np.sort(by_round[:k])
