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

from ._meta_err import MetaErrClassifier
from .baselines import BASELINES, get_baseline
from .metrics import error_detection_report

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
    random_state : int or None

    Returns
    -------
    result : dict
        ``"accuracy"``, ``"error_rate"``, ``"fit_seconds"`` and ``"scores"``:
        ``{method: {metric: value}}``.
    """
    params = dict(metaerr_params or {})
    first, *rest = meta_learners
    start = time.perf_counter()
    model = MetaErrClassifier(
        estimator, meta_learner=first, random_state=random_state, **params
    ).fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start

    proba = model.predict_proba(X_test)
    correct = model.predict(X_test) == np.asarray(y_test)
    scores = {}

    space = baseline_space or _space_of(model)
    Z_train, Z_test = space(X_train), space(X_test)
    # The base's own training labels define Trust Score's class sets.
    for name in baselines:
        confidence = get_baseline(name).fit(Z_train, y_train).confidence(Z_test, proba)
        scores[name] = error_detection_report(correct, confidence)

    scores[_label(first)] = error_detection_report(
        correct, -model.predict_error_proba(X_test, proba=proba)
    )
    for meta_learner in rest:
        other = clone(model).set_params(meta_learner=meta_learner)
        if not isinstance(model.estimator, FrozenEstimator):
            other.fit(X_train, y_train, oof_proba=model.oof_proba_)
        else:
            other.fit(X_train, y_train)
        scores[_label(meta_learner)] = error_detection_report(
            correct, -other.predict_error_proba(X_test, proba=proba)
        )
    return {
        "accuracy": float(correct.mean()),
        "error_rate": float(1 - correct.mean()),
        "fit_seconds": fit_seconds,
        "scores": scores,
    }


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
    metrics = metrics or list(next(iter(scores.values())))
    lines = [
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for method, row in scores.items():
        cells = " | ".join(format(row[m], floatfmt) for m in metrics)
        lines.append(f"| {method} | {cells} |")
    return "\n".join(lines)
