"""Compare MetaErr with the baseline confidence scores on one train/test split.

The shared core of the command-line comparison (``metaerr compare``) and the
benchmark scripts: fit the base once inside MetaErr, then score the test set with
every baseline and every requested meta-learner, under every failure-detection
metric.
"""

import time

import numpy as np
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import _check_sample_weight

from ._failure_metrics import _is_correct, error_detection_report
from ._meta_err import MetaErrClassifier
from .baselines import BASELINES, get_baseline

__all__ = ["evaluate_error_detection", "format_table"]


def evaluate_error_detection(
    estimator,
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    meta_learners=("logistic",),
    baselines=tuple(BASELINES),
    baseline_space=None,
    metaerr_params=None,
    sample_weight=None,
    random_state=None,
):
    """Score every confidence method on ``(X_test, y_test)``.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The base, possibly a ``FrozenEstimator`` (then ``X_train`` must be data it
        did not train on).
    X_train, y_train : array-like
        Meta-training data (and base training data unless frozen).
    X_test, y_test : array-like
        Evaluation data.
    meta_learners : sequence of str or classifier
        One MetaErr row per meta-learner, named ``"metaerr[<name>]"``. The
        out-of-fold probabilities are computed once and reused.
    baselines : sequence of str
        Names from :data:`metaerr_sk.baselines.BASELINES`.
    baseline_space : callable, default=None
        Maps inputs to the space Trust Score measures distances in (default: the
        fitted MetaErr neighbour space, so Trust Score and MetaErr see the same
        geometry).
    metaerr_params : dict, default=None
        Extra ``MetaErrClassifier`` parameters.
    sample_weight : array-like of shape (n_test_samples,), default=None
        Weights of the test samples, for every metric and for the accuracy
        (e.g. importance weights towards a deployment distribution); a test
        sample of weight 0 counts for nothing. Training is unweighted.
    random_state : int or None

    Returns
    -------
    result : dict
        ``"accuracy"``, ``"error_rate"``, ``"fit_seconds"`` and ``"scores"``:
        ``{method: {metric: value}}``. With ``sample_weight``, the accuracy and
        the error rate are weighted too.

    Raises
    ------
    ValueError
        If the base is right (or wrong) on every test sample, as there is then
        no failure to detect; if two meta-learners share a row name.
    """
    params = dict(metaerr_params or {})
    first, *rest = _check_meta_learners(meta_learners)
    if isinstance(baselines, str):
        raise TypeError(
            f"baselines must be a sequence of names, e.g. ({baselines!r},); got "
            "a string."
        )
    # built first: an unknown name fails before the fitting, not after it
    baseline_models = {name: get_baseline(name) for name in baselines}
    weight = None
    if sample_weight is not None:
        # scikit-learn's checks, all-zero weights included, before any fitting
        weight = _check_sample_weight(
            sample_weight, X_test, dtype=np.float64, ensure_non_negative=True
        )
    start = time.perf_counter()
    model = MetaErrClassifier(
        estimator, meta_learner=first, random_state=random_state, **params
    ).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start

    proba = model.predict_proba(X_test)
    # MetaErr's predict is this argmax: no second pass of the base.
    correct = _is_correct(model.classes_[np.argmax(proba, axis=1)], y_test)
    counted = correct if weight is None else correct[weight > 0]
    if counted.all() or not counted.any():
        raise ValueError(
            f"The base is {'right' if counted.all() else 'wrong'} on every one of "
            f"the {counted.size} test samples"
            + ("" if weight is None else " of non-zero weight")
            + ": there is no failure to detect, so AUROC_f and the other ranking "
            "metrics are undefined. Use a larger or harder test set."
        )
    accuracy = float(np.average(correct, weights=weight))
    scores = {}

    space = baseline_space or _space_of(model)
    Z_train, Z_test = space(X_train), space(X_test)
    # The base's own training labels define Trust Score's class sets.
    for name, baseline in baseline_models.items():
        confidence = baseline.fit(Z_train, y_train).confidence(Z_test, proba)
        scores[name] = error_detection_report(correct, confidence, sample_weight=weight)

    scores[_label(first)] = error_detection_report(
        correct, -model.predict_error_proba(X_test, proba=proba), sample_weight=weight
    )
    for meta_learner in rest:
        other = clone(model).set_params(meta_learner=meta_learner)
        if not isinstance(model.estimator, FrozenEstimator):
            other.fit(X_train, y_train, oof_proba=model.oof_proba_)
        else:
            other.fit(X_train, y_train)
        scores[_label(meta_learner)] = error_detection_report(
            correct,
            -other.predict_error_proba(X_test, proba=proba),
            sample_weight=weight,
        )
    return {
        "accuracy": accuracy,
        "error_rate": 1.0 - accuracy,
        "fit_seconds": fit_seconds,
        "scores": scores,
    }


def _check_meta_learners(meta_learners):
    if isinstance(meta_learners, str):
        raise TypeError(
            "meta_learners must be a sequence of names or classifiers, e.g. "
            f"({meta_learners!r},); got a string."
        )
    meta_learners = list(meta_learners)
    if not meta_learners:
        raise ValueError(
            "meta_learners is empty; give at least one, e.g. ('logistic',)."
        )
    labels = [_label(m) for m in meta_learners]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        # each gives one row of the result, keyed by its label
        raise ValueError(
            f"meta_learners give the same row name more than once: {repeated}. "
            "Compare differently configured classifiers of one class in separate "
            "calls."
        )
    return meta_learners


def _label(meta_learner):
    name = (
        meta_learner if isinstance(meta_learner, str) else type(meta_learner).__name__
    )
    return f"metaerr[{name}]"


def _space_of(model):
    """Trust Score measures distances where MetaErr's neighbourhoods live."""
    if model.neighbor_space_ is None:
        return lambda X: np.asarray(X).reshape(len(X), -1)
    return model.neighbor_space_.transform


def format_table(scores, metrics=None, *, floatfmt=".4f"):
    """Markdown table: one row per method, one column per metric."""
    if not scores:
        raise ValueError("scores is empty: there is nothing to tabulate.")
    metrics = metrics or list(next(iter(scores.values())))
    lines = [
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for method, row in scores.items():
        cells = " | ".join(format(row[m], floatfmt) for m in metrics)
        lines.append(f"| {method} | {cells} |")
    return "\n".join(lines)
