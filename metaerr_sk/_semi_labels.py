"""Semi-supervised labels: ``-1`` marks a sample without a label.

The convention of scikit-learn's ``SelfTrainingClassifier``, shared by
:class:`~metaerr_sk.SelfTrainingWithMetaErr` and the labelled-only scorers of
:func:`~metaerr_sk.metrics.make_labelled_scorer`.
"""

import numpy as np

UNLABELED = -1


def labelled_rows(y):
    """Indices of the samples to score against: those with ``y != -1``.

    Shared by :meth:`SelfTrainingWithMetaErr.score` and
    :func:`~metaerr_sk.metrics.make_labelled_scorer`'s scorers.
    """
    labelled = np.flatnonzero(np.asarray(y != UNLABELED, dtype=bool))
    if labelled.size == 0:
        raise ValueError(
            "y holds no labelled sample (every entry is -1): there is nothing "
            "to score the predictions against."
        )
    return labelled


def plain_label(label):
    """A label as a plain Python value (for JSON-friendly records and messages)."""
    return label.item() if isinstance(label, np.generic) else label
