"""The failure-detection metrics, on ``(correct, confidence)`` pairs.

Public through :mod:`metaerr_sk.metrics`, whose docstring gives the conventions.
Kept apart from the scorers (``_scorer.py``, which imports
:class:`~metaerr_sk.MetaErrClassifier`): the metrics need numpy and scikit-learn
only.
"""

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    column_or_1d,
)

# FD-Shifts uses 0.9495 rather than 0.95 so that a TPR that is 0.95 up to
# floating-point rounding still counts.
_TPR_LEVEL = 0.9495


def _check_correct_confidence(correct, confidence):
    """Validate the ``(correct, confidence)`` pair shared by every metric.

    Returns ``correct`` as a boolean array and ``confidence`` as a float64
    array, both 1-D and of the same length.
    """
    correct = np.asarray(correct)
    confidence = np.asarray(confidence)
    for name, array in (("correct", correct), ("confidence", confidence)):
        if array.ndim != 1:
            raise ValueError(
                f"`{name}` must be a 1-D array with one entry per sample; got an "
                f"array of shape {array.shape}. Pass a flat array (e.g. "
                "`np.ravel(...)`)."
            )
    if correct.shape[0] != confidence.shape[0]:
        raise ValueError(
            f"`correct` and `confidence` must have the same length; got "
            f"{correct.shape[0]} and {confidence.shape[0]}. Pass one entry per "
            "sample in both."
        )
    if correct.shape[0] == 0:
        raise ValueError(
            "`correct` and `confidence` are empty; the metrics need at least one "
            "sample."
        )
    if confidence.dtype.kind not in "biuf":
        raise ValueError(
            f"`confidence` must be numeric (high = likely correct); got dtype "
            f"{confidence.dtype}. Pass real-valued scores."
        )
    confidence = confidence.astype(np.float64)
    if not np.all(np.isfinite(confidence)):
        raise ValueError(
            "`confidence` contains NaN or infinite values. Replace them with "
            "finite scores (e.g. clip or impute) before computing the metric."
        )
    if correct.dtype.kind == "b":
        return correct, confidence
    if correct.dtype.kind in "iuf" and np.all((correct == 0) | (correct == 1)):
        return correct.astype(bool), confidence
    raise ValueError(
        "`correct` must be boolean-like (True/False or 1/0: was the base "
        f"prediction right?); got dtype {correct.dtype} with values "
        f"{np.unique(correct)[:5]!r}. Pass e.g. `y_pred == y_true`."
    )


def _check_inputs(correct, confidence, sample_weight):
    """Validated ``(correct, confidence, weight)``, ``weight`` None without
    weights. Samples of weight 0 count for nothing and are dropped here, so
    that no metric sees a coverage point or a class made of them alone."""
    correct, confidence = _check_correct_confidence(correct, confidence)
    if sample_weight is None:
        return correct, confidence, None
    weight = _check_sample_weight(
        sample_weight, confidence, dtype=np.float64, ensure_non_negative=True
    )
    keep = weight > 0
    return correct[keep], confidence[keep], weight[keep]


def _check_both_classes(correct, metric_name):
    """Raise if ``correct`` holds a single class, where the metric is undefined."""
    n_correct = int(correct.sum())
    if n_correct == 0 or n_correct == correct.shape[0]:
        kind = "correct" if n_correct else "wrong"
        raise ValueError(
            f"{metric_name} is undefined when `correct` has a single class: all "
            f"{correct.shape[0]} base predictions are {kind}. Evaluate on data "
            "that contains both correct and wrong predictions, or use `aurc`, "
            "which is defined here."
        )


def auroc_f(correct, confidence, *, sample_weight=None):
    """Area under the ROC curve for separating correct from wrong predictions.

    ``roc_auc_score(correct, confidence)``: the probability that a randomly
    drawn correct prediction gets a higher confidence than a randomly drawn
    wrong one (ties count one half). 1 is a perfect failure detector, 0.5 is
    chance.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    score : float
        AUROC_f in [0, 1]; higher is better.

    Raises
    ------
    ValueError
        If the inputs are malformed, or if ``correct`` holds a single class
        (AUROC is then undefined).

    See Also
    --------
    aupr_error : Average precision for finding the errors.
    fpr_at_95_tpr : False positive rate at 95% true positive rate.

    References
    ----------
    .. [1] P. F. Jaeger, C. T. Lüth, L. Klein and T. J. Bungert, "A Call to
       Reflect on Evaluation Practices for Failure Detection in Image
       Classification", ICLR 2023.

    Examples
    --------
    >>> from metaerr_sk.metrics import auroc_f
    >>> auroc_f([True, True, False, False], [0.9, 0.4, 0.6, 0.1])
    0.75
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    _check_both_classes(correct, "AUROC_f")
    return float(roc_auc_score(correct, confidence, sample_weight=weight))


def aupr_error(correct, confidence, *, sample_weight=None):
    """Average precision for detecting wrong predictions.

    ``average_precision_score(~correct, -confidence)``: the errors are the
    positive class and low confidence flags them.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    score : float
        AUPR-Error in [0, 1]; higher is better. A random detector scores about
        the error rate.

    Raises
    ------
    ValueError
        If the inputs are malformed, or if ``correct`` holds a single class.

    See Also
    --------
    auroc_f : Threshold-free ranking quality of the confidence.

    Examples
    --------
    >>> from metaerr_sk.metrics import aupr_error
    >>> round(aupr_error([True, True, False, False], [0.9, 0.4, 0.6, 0.1]), 4)
    0.8333
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    _check_both_classes(correct, "AUPR-Error")
    return float(average_precision_score(~correct, -confidence, sample_weight=weight))


def fpr_at_95_tpr(correct, confidence, *, sample_weight=None):
    """False positive rate at 95% true positive rate, ``correct`` positive.

    The smallest fraction of wrong predictions accepted by a threshold
    ``confidence >= t`` that accepts at least 94.95% of the correct ones
    (0.9495, as in FD-Shifts, so that a rate of 0.95 up to rounding counts).

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    fpr : float
        FPR@95TPR in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        If the inputs are malformed, or if ``correct`` holds a single class.

    See Also
    --------
    auroc_f : Area under the whole ROC curve.

    Examples
    --------
    >>> from metaerr_sk.metrics import fpr_at_95_tpr
    >>> fpr_at_95_tpr([True, True, False, False], [0.9, 0.4, 0.6, 0.1])
    0.5
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    _check_both_classes(correct, "FPR@95TPR")
    fpr, tpr, _ = roc_curve(
        correct, confidence, sample_weight=weight, drop_intermediate=False
    )
    # fpr is non-decreasing along the curve, so the minimum is the first point
    # that reaches the TPR level; the last point (tpr == 1) always does.
    return float(fpr[tpr >= _TPR_LEVEL].min())


def risk_coverage_curve(correct, confidence, *, sample_weight=None):
    """Selective risk against coverage, accepting the most confident first.

    Samples are accepted in decreasing order of confidence, **ties grouped**:
    all samples sharing a confidence value are accepted together, so the curve
    has exactly one point per distinct confidence value. For the ``j``-th
    largest distinct value ``t_j`` the accepted set is
    ``confidence >= t_j`` and

    - ``coverage[j]`` = fraction of samples accepted,
    - ``risk[j]`` = fraction of wrong predictions among the accepted ones,
    - ``thresholds[j]`` = ``t_j``.

    Coverage increases strictly and ends at 1, where the risk is the overall
    error rate. No point is added at coverage 0, where the risk is undefined.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    coverage : ndarray of shape (n_thresholds,)
        Fraction of samples (of their total weight) accepted, increasing,
        ``coverage[-1] == 1``.

    risk : ndarray of shape (n_thresholds,)
        Error rate (weighted) among the accepted samples.

    thresholds : ndarray of shape (n_thresholds,)
        The distinct confidence values, decreasing; sample ``i`` is accepted at
        point ``j`` when ``confidence[i] >= thresholds[j]``.

    See Also
    --------
    aurc : Area under this curve.
    metaerr_sk.plotting.RiskCoverageDisplay : Plot this curve.

    Examples
    --------
    >>> from metaerr_sk.metrics import risk_coverage_curve
    >>> coverage, risk, thresholds = risk_coverage_curve(
    ...     [True, False, True, False], [0.9, 0.9, 0.5, 0.1]
    ... )
    >>> coverage.tolist(), risk.round(3).tolist(), thresholds.tolist()
    ([0.5, 0.75, 1.0], [0.5, 0.333, 0.5], [0.9, 0.5, 0.1])
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    return _risk_coverage(correct, confidence, weight)


def _risk_coverage(correct, confidence, weight=None):
    """:func:`risk_coverage_curve` on already validated arrays."""
    n_samples = confidence.shape[0]
    order = np.argsort(confidence, kind="stable")[::-1]
    sorted_confidence = confidence[order]
    # Index of the last (least confident) sample of each tie group.
    group_ends = np.r_[np.flatnonzero(np.diff(sorted_confidence)), n_samples - 1]
    sorted_weight = np.ones(n_samples) if weight is None else weight[order]
    accepted = np.cumsum(sorted_weight)[group_ends]
    errors = np.cumsum(sorted_weight * ~correct[order])[group_ends]
    coverage = accepted / accepted[-1]
    risk = errors / accepted
    return coverage, risk, sorted_confidence[group_ends]


def aurc(correct, confidence, *, sample_weight=None):
    """Area under the risk-coverage curve, x1000.

    With the curve of :func:`risk_coverage_curve` (ties grouped), the area is
    the step integral

    ``AURC = 1000 * sum_j (coverage[j] - coverage[j - 1]) * risk[j]``

    with ``coverage[-1] := 0`` before the first point: each tie group's risk
    holds over the coverage its samples add. Equivalently, AURC is 1000 times
    the mean over samples of the selective risk at the moment the sample is
    accepted, samples of a tie group sharing the group's risk (the FD-Shifts
    reading of "mean selective risk"). When all confidences tie, AURC is the
    error rate x1000.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    score : float
        AURC x1000, in [0, 1000]; lower is better.

    See Also
    --------
    e_aurc : AURC minus the best AURC reachable at this error rate.
    risk_coverage_curve : The curve whose area this is.

    Notes
    -----
    Defined for a single class too: 0 when every prediction is correct, 1000
    when every prediction is wrong.

    References
    ----------
    .. [1] Y. Geifman, G. Uziel and R. El-Yaniv, "Bias-Reduced Uncertainty
       Estimation for Deep Neural Classifiers", ICLR 2019.
    .. [2] P. F. Jaeger, C. T. Lüth, L. Klein and T. J. Bungert, "A Call to
       Reflect on Evaluation Practices for Failure Detection in Image
       Classification", ICLR 2023.

    Examples
    --------
    >>> from metaerr_sk.metrics import aurc
    >>> # groups: {0.9} risk 1/2 over 0.5 coverage, {0.5} risk 1/3 over 0.25,
    >>> # {0.1} risk 1/2 over 0.25
    >>> round(aurc([True, False, True, False], [0.9, 0.9, 0.5, 0.1]), 3)
    458.333
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    return _aurc(correct, confidence, weight)


def _aurc(correct, confidence, weight=None):
    """:func:`aurc` on already validated arrays."""
    coverage, risk, _ = _risk_coverage(correct, confidence, weight)
    return float(1000 * np.sum(np.diff(coverage, prepend=0.0) * risk))


def _optimal_aurc(error_rate):
    """AURC* x1000 = err + (1 - err) ln(1 - err), with its limits at 0 and 1."""
    if error_rate <= 0:
        return 0.0
    if error_rate >= 1:
        # (1 - err) ln(1 - err) -> 0 as err -> 1.
        return 1000.0
    return float(1000 * (error_rate + (1 - error_rate) * np.log1p(-error_rate)))


def e_aurc(correct, confidence, *, sample_weight=None):
    """Excess AURC: AURC minus the optimal AURC at the same error rate, x1000.

    ``E-AURC = AURC - AURC*`` with ``AURC* = err + (1 - err) ln(1 - err)``
    (x1000), the area under the risk-coverage curve of a perfect ranking in
    the continuous limit, where ``err`` is the overall error rate. ``AURC* = 0``
    when ``err == 0`` and ``AURC* = 1000`` (its limit) when ``err == 1``.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    score : float
        E-AURC x1000; lower is better.

    See Also
    --------
    aurc : The area itself.

    Notes
    -----
    ``AURC*`` is the continuous limit. On ``n`` samples a perfect ranking has
    an AURC (:func:`aurc`, step integral) slightly above it, so E-AURC of a
    perfect detector (no ties) is a small positive number that vanishes as
    ``n`` grows.

    References
    ----------
    .. [1] Y. Geifman, G. Uziel and R. El-Yaniv, "Bias-Reduced Uncertainty
       Estimation for Deep Neural Classifiers", ICLR 2019.

    Examples
    --------
    >>> from metaerr_sk.metrics import e_aurc
    >>> # AURC = 1000 * (0 + 0 + 1/3 + 1/2) / 4 = 208.333...
    >>> # AURC* = 1000 * (0.5 + 0.5 * ln 0.5) = 153.426...
    >>> round(e_aurc([True, True, False, False], [0.9, 0.6, 0.4, 0.1]), 3)
    54.907
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    error_rate = np.average(~correct, weights=weight)
    return _aurc(correct, confidence, weight) - _optimal_aurc(error_rate)


def error_detection_report(correct, confidence, *, sample_weight=None):
    """All five failure-detection metrics at once.

    Parameters
    ----------
    correct : array-like of shape (n_samples,)
        Whether the base prediction is right (bool, or 0/1).

    confidence : array-like of shape (n_samples,)
        Confidence that the base prediction is right; higher means more likely
        correct.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights; a sample of weight 0 counts for nothing.

    Returns
    -------
    report : dict
        ``{"auroc_f", "aupr_error", "fpr_at_95_tpr", "aurc", "e_aurc"}`` -> float,
        each as returned by the function of that name.

    Raises
    ------
    ValueError
        If the inputs are malformed, or if ``correct`` holds a single class
        (AUROC_f, AUPR-Error and FPR@95TPR are then undefined).

    Examples
    --------
    >>> from metaerr_sk.metrics import error_detection_report
    >>> report = error_detection_report(
    ...     [True, True, False, False], [0.9, 0.6, 0.4, 0.1]
    ... )
    >>> for name, value in report.items():
    ...     print(name, round(value, 3))
    auroc_f 1.0
    aupr_error 1.0
    fpr_at_95_tpr 0.0
    aurc 208.333
    e_aurc 54.907
    """
    correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
    return {
        name: metric(correct, confidence, sample_weight=weight)
        for name, metric in (
            ("auroc_f", auroc_f),
            ("aupr_error", aupr_error),
            ("fpr_at_95_tpr", fpr_at_95_tpr),
            ("aurc", aurc),
            ("e_aurc", e_aurc),
        )
    }


def _is_correct(y_pred, y_true):
    """``y_pred == y_true`` for two label vectors of one length: numpy would
    broadcast a single label, or a column, without a word."""
    y_true = column_or_1d(y_true, warn=True)
    check_consistent_length(y_pred, y_true)
    return np.asarray(y_pred) == y_true
