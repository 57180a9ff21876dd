"""Failure-detection metrics and scikit-learn scorers.

The conventions follow FD-Shifts (Jaeger et al., ICLR 2023): a *confidence*
score is high when the base prediction is likely correct, and ``correct`` is a
boolean array saying whether the base prediction was right. Every metric takes
``(correct, confidence)`` in that order, like scikit-learn's
``(y_true, y_score)``.

The scorers (:func:`make_error_detection_scorer`, :data:`ERROR_DETECTION_SCORERS`)
plug these metrics into ``GridSearchCV`` and ``cross_validate`` for estimators
that expose ``predict`` and ``predict_error_proba`` such as
:class:`~metaerr_sk.MetaErrClassifier`; :func:`make_labelled_scorer` makes any
scorer leave out the unlabelled samples (``y == -1``) of semi-supervised folds.
"""

from ._failure_metrics import (
    aupr_error,
    aurc,
    auroc_f,
    e_aurc,
    error_detection_report,
    fpr_at_95_tpr,
    risk_coverage_curve,
)
from ._labelled_scorer import make_labelled_scorer
from ._scorer import (
    ERROR_DETECTION_SCORERS,
    make_error_detection_scorer,
)

__all__ = [
    "ERROR_DETECTION_SCORERS",
    "aupr_error",
    "auroc_f",
    "aurc",
    "e_aurc",
    "error_detection_report",
    "fpr_at_95_tpr",
    "make_error_detection_scorer",
    "make_labelled_scorer",
    "risk_coverage_curve",
]
