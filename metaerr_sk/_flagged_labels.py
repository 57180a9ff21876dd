"""The label a sample flagged as a failure should have had.

When :class:`~metaerr_sk.DataCentricDebugger` takes its error sample from
:class:`~metaerr_sk.MetaErrClassifier` flags on unlabelled deployment data, the
label filter needs a label for each flagged sample. The flag says the base's
prediction is wrong, not what is right: :func:`flagged_labels` combines the
base's runner-up probabilities with the weak labels of the sample's nearest pool
samples.
"""

import numpy as np


def flagged_labels(neighbor_labels, wrong, proba=None, proba_classes=None):
    """Most likely true label of samples whose predicted label is flagged wrong.

    The candidates are the labels found in ``neighbor_labels``. A candidate
    ``c`` scores ``q(c) * (n(c) + 1)``: ``q`` is the base's probability
    renormalised over the classes other than its (flagged) prediction - the
    base's own guess of where the label goes if not there - and ``n(c)`` counts
    the weak label ``c`` among the sample's nearest pool samples, ``+ 1`` so
    that a candidate none of its own neighbours carries keeps its prior.
    Without probabilities, or where the base gives the other classes none,
    ``q`` is uniform over them (a vote with the prediction left out); a weak
    label the base has no probability for gets none. A sample whose only
    candidate is its prediction keeps it.

    Parameters
    ----------
    neighbor_labels : ndarray of shape (n_samples, n_neighbors)
        Weak labels of each sample's nearest pool samples.

    wrong : ndarray of shape (n_samples,)
        The base's predictions, flagged as wrong.

    proba : ndarray of shape (n_samples, n_proba_classes), default=None
        The base's class probabilities for the samples.

    proba_classes : ndarray of shape (n_proba_classes,), default=None
        The classes of ``proba``'s columns, sorted (as ``classes_`` is).

    Returns
    -------
    labels : ndarray of shape (n_samples,)
        One of the weak labels per sample; ties go to the smallest label.
    """
    labels, codes = np.unique(neighbor_labels, return_inverse=True)
    codes = codes.reshape(neighbor_labels.shape)
    rows = np.arange(codes.shape[0])
    counts = np.zeros((codes.shape[0], labels.size))
    np.add.at(counts, (rows[:, None], codes), 1)
    prior = np.zeros_like(counts)
    if proba is not None:
        present = np.isin(labels, proba_classes)
        prior[:, present] = proba[:, np.searchsorted(proba_classes, labels[present])]
    is_wrong = labels[None, :] == np.asarray(wrong)[:, None]
    prior[is_wrong] = 0.0
    none = prior.sum(axis=1) == 0
    prior[none] = ~is_wrong[none]  # uniform over the other classes
    scores = prior * (counts + 1.0)
    out = labels[scores.argmax(axis=1)]
    # only the prediction among the candidates: keep it
    return np.where(scores.max(axis=1) > 0, out, wrong)
