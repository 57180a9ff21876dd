"""Out-of-fold base probabilities, the error targets they define, and how well
a meta-learner learns them.

The meta-model must learn from mistakes the base makes on data it did not train
on; probabilities on its own training data are over-confident and nearly never
wrong. ``cross_val_predict`` over stratified folds gives each training sample a
probability vector from a model that never saw it.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_predict
from sklearn.utils.validation import _num_samples

from ._semi_labels import plain_label

_FOLD_HINT = (
    "Lower cv, add samples of that class, or pass precomputed oof_proba to fit."
)


def check_folds(y, cv, random_state, *, hint=_FOLD_HINT):
    """A CV splitter for ``y``, with an error when a class cannot fill the folds.

    An int ``cv`` becomes shuffled ``StratifiedKFold`` seeded by ``random_state``;
    a splitter object or an iterable of splits is used as given. ``hint`` ends
    the error message: what the caller's user can do about a short class.
    ``None`` is scikit-learn's default, 5 folds.
    """
    if cv is None:
        cv = 5
    if isinstance(cv, int | np.integer):
        classes, counts = np.unique(y, return_counts=True)
        too_small = counts < cv
        if np.any(too_small):
            smallest = classes[too_small][0].item()  # a plain Python label
            raise ValueError(
                f"Class {smallest!r} has {counts[too_small].min()} "
                f"member(s), fewer than cv={cv} folds: every class needs at least "
                f"one sample per fold for out-of-fold probabilities. {hint}"
            )
        return StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    return check_cv(cv, y, classifier=True)


def few_label_folds(y, cv, random_state, *, hint):
    """``check_folds`` for a handful of labels: an int ``cv`` above the smallest
    class's count shrinks to that count, with a warning.

    Self-training is run on budgets of a few labels per class, where the
    default ``cv`` can exceed a class's count; with 2 labels of a class each
    fold's model still trains on one of them. A class with a single label is an
    error: no model that saw its class could predict it out of fold.
    """
    if cv is None:
        cv = 5
    if isinstance(cv, int | np.integer):
        classes, counts = np.unique(y, return_counts=True)
        smallest = np.argmin(counts)
        label, count = plain_label(classes[smallest]), counts[smallest]
        if count < 2:
            raise ValueError(
                f"Class {label!r} has a single real label: out-of-fold "
                "predictions need at least 2 per class (one held out while a "
                f"model trains on another). {hint}"
            )
        if count < cv:
            warnings.warn(
                f"Class {label!r} has {count} real labels, fewer than cv={cv}: "
                f"the out-of-fold predictions use {count} folds.",
                UserWarning,
                stacklevel=4,  # fit's caller, past scikit-learn's fit wrapper
            )
            cv = int(count)
    return check_folds(y, cv, random_state, hint=hint)


def out_of_fold_proba(
    estimator, X, y, *, cv=5, n_jobs=None, random_state=None, params=None
):
    """Out-of-fold ``predict_proba`` of ``estimator`` on ``(X, y)``.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
    X : array-like of shape (n_samples, ...)
    y : array-like of shape (n_samples,)
    cv : int, CV splitter or iterable, default=5
    n_jobs : int, default=None
        Folds fitted in parallel.
    random_state : int, RandomState or None
        Seeds the fold shuffling when ``cv`` is an int.
    params : dict, default=None
        Passed to the estimator's ``fit``.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
        Columns in sorted label order (``np.unique(y)``).
    """
    splitter = check_folds(y, cv, random_state)
    try:
        return cross_val_predict(
            estimator,
            X,
            y,
            cv=splitter,
            n_jobs=n_jobs,
            method="predict_proba",
            params=params,
        )
    except ValueError as error:
        raise fold_fit_error(
            error,
            f", {splitter.get_n_splits(X, y)} folds of the {_num_samples(X)} "
            "training samples",
            "MetaErr learns from the base's errors on samples held out of its "
            "fit, so each fold's model sees (cv - 1) / cv of them: use more "
            "folds (cv), or give the base settings that fit on that few.",
        ) from error


def fold_fit_error(error, fitted_on, advice):
    """The ``ValueError`` for a base that failed on an out-of-fold model.

    A base sized for the whole training set (k-NN's ``n_neighbors``, PCA's
    ``n_components``) can fail on a fold's share of it, a fit the user never
    made, and its own message does not say so. ``fitted_on`` follows "an
    out-of-fold model" and says what that model saw; ``advice`` says what to do.
    """
    return ValueError(
        f"The base failed on an out-of-fold model{fitted_on} ({error}). {advice}"
    )


def error_target(proba, y, classes):
    """``True`` where the base's prediction ``classes[argmax(proba)]`` is wrong."""
    return classes[np.argmax(proba, axis=1)] != np.asarray(y)


def check_precomputed_proba(proba, n_samples, n_classes, *, name="oof_proba"):
    """Validate user-supplied probabilities (``name`` is the argument's name)."""
    given = np.asarray(proba)
    proba = given.astype(float)
    if proba.shape != (n_samples, n_classes):
        raise ValueError(
            f"{name} must have shape (n_samples, n_classes) = ({n_samples}, "
            f"{n_classes}), got {proba.shape}. Columns follow the sorted class "
            "labels of y."
        )
    if not np.all(np.isfinite(proba)) or np.any(proba < 0):
        raise ValueError(f"{name} must hold finite, non-negative probabilities.")
    # float32 probabilities are off by more: scikit-learn's GaussianNB on
    # float32 MNIST pixels by 1.2e-4
    check_rows_sum_to_one(proba, name, 1e-4 if given.dtype == np.float64 else 1e-2)
    return proba


def check_rows_sum_to_one(proba, name, atol):
    """Probabilities, not scores: each row of ``proba`` sums to one (``atol``)."""
    row_sums = proba.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=atol):
        worst = np.argmax(np.abs(row_sums - 1.0))
        raise ValueError(
            f"Each row of {name} must sum to one; row "
            f"{worst} sums to {row_sums[worst]:.6g}. Pass probabilities, not "
            "scores or logits (apply a softmax first)."
        )


def meta_learner_oof_auroc(meta, folds):
    """Out-of-fold AUROC of a fitted MetaErr's meta-learner on its own training
    rows, and of the base's max probability: ``(meta_auroc, msp_auroc)``.

    Correct predictions are the positives, as in ``auroc_f``. A meta-model with
    nothing left to learn (too few errors, or errors that leaked away) shows
    here. ``folds`` are the splits that produced ``meta.oof_proba_``; an AUROC
    is ``nan`` where it is undefined: fewer than 2 right or wrong rows, no
    meta-learner (MetaErr's max-probability fallback), or a fold whose training
    rows are all right or all wrong.
    """
    correct = ~meta.oof_error_
    if min(correct.sum(), (~correct).sum()) < 2 or meta.meta_learner_ is None:
        return float("nan"), float("nan")
    msp_auroc = float(roc_auc_score(correct, meta.oof_proba_.max(axis=1)))
    splits = [(tr, te) for tr, te in folds if 0 < meta.oof_error_[tr].sum() < tr.size]
    if len(splits) < len(folds):
        return float("nan"), msp_auroc
    p_error = cross_val_predict(
        clone(meta.meta_learner_),
        meta.meta_features_,
        meta.oof_error_,
        cv=splits,
        method="predict_proba",
    )[:, 1]
    return float(roc_auc_score(correct, -p_error)), msp_auroc
