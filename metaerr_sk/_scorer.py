"""scikit-learn scorers from the failure-detection metrics.

Public through :mod:`metaerr_sk.metrics`.
"""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import MetadataRequest, _routing_enabled

from ._failure_metrics import (
    _check_inputs,
    _is_correct,
    aupr_error,
    aurc,
    auroc_f,
    e_aurc,
    fpr_at_95_tpr,
)
from ._meta_err import MetaErrClassifier

# scorer name -> (metric, sign, defined with a single class)
_SCORER_METRICS = {
    "auroc_f": (auroc_f, 1, False),
    "aupr_error": (aupr_error, 1, False),
    "neg_fpr_at_95_tpr": (fpr_at_95_tpr, -1, False),
    "neg_aurc": (aurc, -1, True),
    "neg_e_aurc": (e_aurc, -1, True),
}


def _correct_and_confidence(estimator, X, y):
    """``(predict(X) == y, 1 - predict_error_proba(X))`` for an error predictor
    (also the last step of a ``Pipeline``, which exposes no such method)."""
    if isinstance(estimator, Pipeline) and hasattr(
        estimator[-1], "predict_error_proba"
    ):
        X, estimator = estimator[:-1].transform(X), estimator[-1]
    if not hasattr(estimator, "predict_error_proba"):
        raise TypeError(
            "Error-detection scoring needs an estimator with `predict` and "
            "`predict_error_proba` (such as MetaErrClassifier); got "
            f"{type(estimator).__name__}, which has no `predict_error_proba`."
        )
    if y is None:
        raise ValueError(
            "Error-detection scoring needs the true labels `y` to know which "
            "base predictions are correct; got y=None."
        )
    if isinstance(estimator, MetaErrClassifier):
        y_pred, p_error = estimator._predict_and_error_proba(X)
    else:
        y_pred, p_error = estimator.predict(X), estimator.predict_error_proba(X)
    correct = _is_correct(y_pred, y)
    return correct, 1 - np.asarray(p_error, dtype=np.float64)


class _ErrorDetectionScorer:
    """Scorer ``(estimator, X, y) -> float`` for one failure-detection metric.

    Built by :func:`make_error_detection_scorer`; a plain module-level class
    holding only the metric name (and a routing request), so it pickles.
    """

    def __init__(self, metric):
        self.metric = metric

    def __call__(self, estimator, X, y, sample_weight=None):
        metric, sign, single_class_ok = _SCORER_METRICS[self.metric]
        correct, confidence = _correct_and_confidence(estimator, X, y)
        # the metrics' own validation, which leaves out samples of weight 0
        correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
        if not single_class_ok and np.unique(correct).shape[0] < 2:
            what = "base predictions" + (
                "" if weight is None else " of non-zero weight"
            )
            warnings.warn(
                f"Scorer {self.metric!r} is undefined on this split: all "
                f"{correct.shape[0]} {what} are "
                f"{'correct' if correct.all() else 'wrong'}. Returning nan; use "
                "larger or stratified test splits, or 'neg_aurc'.",
                UndefinedMetricWarning,
                stacklevel=2,
            )
            return np.nan
        return sign * metric(correct, confidence, sample_weight=weight)

    def set_score_request(self, *, sample_weight=None):
        """Request ``sample_weight`` when a meta-estimator routes metadata.

        As scikit-learn's own scorers: with
        ``sklearn.set_config(enable_metadata_routing=True)``,
        ``scorer.set_score_request(sample_weight=True)`` lets ``cross_validate``
        or ``GridSearchCV`` pass the test fold's weights to the metric.

        Parameters
        ----------
        sample_weight : bool, str or None, default=None
            ``True``: requested; ``False``: not requested; ``None``: an error
            if given; a string: the name under which it is passed.

        Returns
        -------
        self : object
            The scorer.
        """
        if not _routing_enabled():
            raise RuntimeError(
                "set_score_request is only available when metadata routing is "
                "enabled: sklearn.set_config(enable_metadata_routing=True)."
            )
        self._score_request = sample_weight
        return self

    def get_metadata_routing(self):
        """The scorer's metadata request (see :meth:`set_score_request`)."""
        request = MetadataRequest(owner=self)
        request.score.add_request(
            param="sample_weight", alias=getattr(self, "_score_request", None)
        )
        return request

    def __repr__(self):
        return f"make_error_detection_scorer(metric={self.metric!r})"


def make_error_detection_scorer(metric="auroc_f"):
    """Make a scikit-learn scorer from a failure-detection metric.

    The scorer is a callable ``scorer(estimator, X, y) -> float`` usable as
    ``scoring=`` in ``GridSearchCV``, ``cross_validate`` and friends. It
    computes ``correct = estimator.predict(X) == y`` and
    ``confidence = 1 - estimator.predict_error_proba(X)``, then the metric.
    A ``Pipeline`` ending in such an estimator is scored through its steps.
    Greater is better, as for every scikit-learn scorer: the metrics where
    lower is better are negated and their names start with ``neg_``.

    Parameters
    ----------
    metric : {"auroc_f", "aupr_error", "neg_fpr_at_95_tpr", "neg_aurc", \
            "neg_e_aurc"}, default="auroc_f"
        The metric: :func:`auroc_f`, :func:`aupr_error`, minus
        :func:`fpr_at_95_tpr`, minus :func:`aurc`, minus :func:`e_aurc`.

    Returns
    -------
    scorer : callable
        A picklable object ``scorer(estimator, X, y, sample_weight=None) ->
        float``. The estimator must have ``predict`` and
        ``predict_error_proba``, like :class:`~metaerr_sk.MetaErrClassifier`.
        With metadata routing enabled,
        ``scorer.set_score_request(sample_weight=True)`` lets
        ``cross_validate`` and ``GridSearchCV`` pass each test fold's weights.

    Raises
    ------
    ValueError
        If ``metric`` is not one of the names above.

    See Also
    --------
    ERROR_DETECTION_SCORERS : One scorer per metric name, for multi-metric
        scoring.

    Notes
    -----
    AUROC_f, AUPR-Error and FPR@95TPR are undefined when a test split holds
    only correct (or only wrong) predictions, which happens with small splits
    and rare errors. Their scorers then return ``np.nan`` with an
    ``UndefinedMetricWarning`` instead of raising, so that a grid search
    carries on; scikit-learn ranks candidates with a nan mean score last.
    AURC and E-AURC are always defined.

    Examples
    --------
    >>> from metaerr_sk.metrics import make_error_detection_scorer
    >>> make_error_detection_scorer("neg_aurc")
    make_error_detection_scorer(metric='neg_aurc')
    """
    if not isinstance(metric, str) or metric not in _SCORER_METRICS:
        hint = ""
        if isinstance(metric, str) and f"neg_{metric}" in _SCORER_METRICS:
            hint = (
                f" Lower {metric!r} is better, so its scorer is negated "
                f"(greater is better): use 'neg_{metric}'."
            )
        raise ValueError(
            f"Unknown error-detection metric {metric!r}; valid names are "
            f"{sorted(_SCORER_METRICS)}.{hint}"
        )
    return _ErrorDetectionScorer(metric)


ERROR_DETECTION_SCORERS = {
    name: make_error_detection_scorer(name) for name in _SCORER_METRICS
}
"""dict: scorer name -> scorer, for ``scoring=ERROR_DETECTION_SCORERS``.

Shared instances: to request ``sample_weight``, build your own with
:func:`make_error_detection_scorer` rather than changing these."""
