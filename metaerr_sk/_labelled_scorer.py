"""Scorers that leave out unlabelled samples, for semi-supervised model selection.

Public through :mod:`metaerr_sk.metrics`.
"""

from sklearn.metrics import check_scoring
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.validation import _check_method_params, column_or_1d

from ._semi_labels import labelled_rows


class _LabelledScorer:
    """``scorer(estimator, X, y, **kwargs)`` on the samples with ``y != -1``.

    Built by :func:`make_labelled_scorer`; holds the wrapped scorer only, so it
    pickles whenever that scorer does.
    """

    def __init__(self, scorer):
        self.scorer = scorer

    def __call__(self, estimator, X, y, **kwargs):
        y = column_or_1d(y, warn=True)
        labelled = labelled_rows(y)
        # metadata with one value per sample (sample_weight, ...) follows its
        # samples; anything else passes through unchanged
        kwargs = _check_method_params(X, kwargs, labelled)
        return self.scorer(
            estimator, _safe_indexing(X, labelled), y[labelled], **kwargs
        )

    def set_score_request(self, **kwargs):
        """Request metadata of the wrapped scorer (metadata routing only).

        Parameters
        ----------
        **kwargs : dict
            Passed to the wrapped scorer's ``set_score_request``, such as
            ``sample_weight=True``.

        Returns
        -------
        self : object
            This scorer.
        """
        if not hasattr(self.scorer, "set_score_request"):
            raise TypeError(
                f"The wrapped scorer {self.scorer!r} takes no metadata requests "
                "(it has no set_score_request)."
            )
        self.scorer.set_score_request(**kwargs)
        return self

    def get_metadata_routing(self):
        """The wrapped scorer's metadata request."""
        return get_routing_for_object(self.scorer)

    def __repr__(self):
        return f"make_labelled_scorer({self.scorer!r})"


def make_labelled_scorer(scoring):
    """Make a scorer that scores only the labelled samples (``y != -1``).

    Semi-supervised targets mark unlabelled samples with ``-1``, and
    ``GridSearchCV`` or ``cross_validate`` score a held-out fold against that
    ``y`` as it is: a ``scoring="accuracy"`` counts every ``-1`` as a wrong
    prediction, ``"f1_macro"`` averages over a class ``-1`` - so candidates are
    ranked by how many unlabelled samples their folds hold.
    :meth:`SelfTrainingWithMetaErr.score <metaerr_sk.SelfTrainingWithMetaErr.score>`
    (the default ``scoring=None``) already leaves them out; this does the same
    for any other scorer.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name (``"accuracy"``, ``"f1_macro"``,
        ``"neg_log_loss"``, ...) or a scorer ``scorer(estimator, X, y)``, such
        as one from :func:`sklearn.metrics.make_scorer` or
        :func:`make_error_detection_scorer`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, **kwargs) -> float``: the wrapped scorer on
        the rows of ``X`` and ``y`` where ``y != -1``. Keyword arguments with
        one value per sample (``sample_weight``) are cut to the same rows. It
        raises ``ValueError`` when every sample is unlabelled. With metadata
        routing enabled, ``scorer.set_score_request(sample_weight=True)``
        requests the weights, as for scikit-learn's scorers.

    See Also
    --------
    SelfTrainingWithMetaErr.score : The default score, labelled samples only.
    sklearn.metrics.get_scorer : The scorer names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.linear_model import LogisticRegression
    >>> from metaerr_sk import SelfTrainingWithMetaErr
    >>> from metaerr_sk.metrics import make_labelled_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:500], y[:500].copy()
    >>> y[np.random.RandomState(0).rand(500) < 0.7] = -1  # 70 % unlabelled
    >>> search = GridSearchCV(
    ...     SelfTrainingWithMetaErr(LogisticRegression(max_iter=500), max_iter=2),
    ...     {"threshold": [0.8, 0.95]},
    ...     scoring=make_labelled_scorer("f1_macro"),
    ...     cv=3,
    ... ).fit(X, y)
    >>> bool(search.best_score_ > 0.8)
    True
    """
    if not (isinstance(scoring, str) or callable(scoring)):
        raise TypeError(
            "scoring must be a scorer name or a callable scorer(estimator, X, y); "
            f"got {scoring!r}. For several metrics, wrap each one."
        )
    return _LabelledScorer(check_scoring(scoring=scoring))
