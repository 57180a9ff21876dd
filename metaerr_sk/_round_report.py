"""One self-training round as ``history_`` records it and ``verbose`` prints it.

Also the warnings for a run that ends in its first round: the user then gets
the base fitted on the labelled samples alone, which should not pass silently.
"""

import warnings

import numpy as np

from ._semi_labels import plain_label


def round_record(
    *,
    iteration,
    labels,
    classes,
    error_proba,
    n_pseudo,
    n_oof_errors,
    trust,
    cap_temperature,
    oof_auroc,
    oof_auroc_msp,
    oof_accuracy,
    oof_accuracy_with_pseudo,
    kept,
):
    """The ``history_`` entry of a round that pseudo-labelled ``labels`` at
    MetaErr's predicted P(error) ``error_proba``; the keys are documented in
    :class:`~metaerr_sk.SelfTrainingWithMetaErr`."""
    return {
        "iteration": iteration,
        "n_added": int(labels.size),
        "n_added_per_class": {
            plain_label(c): int(np.sum(labels == c)) for c in classes
        },
        "mean_error_proba": (
            float(error_proba.mean()) if error_proba.size else float("nan")
        ),
        "n_pseudo": int(n_pseudo),
        "n_oof_errors": int(n_oof_errors),
        "trust": trust,
        "cap_temperature": float(cap_temperature),
        "oof_auroc": oof_auroc,
        "oof_auroc_msp": oof_auroc_msp,
        "oof_accuracy": oof_accuracy,
        "oof_accuracy_with_pseudo": oof_accuracy_with_pseudo,
        "kept": bool(kept),
    }


def round_message(record, n_unlabelled):
    """The ``verbose`` line of a round; ``n_unlabelled``: samples left unlabelled."""
    line = (
        f"[SelfTrainingWithMetaErr] iteration {record['iteration']}: added "
        f"{record['n_added']} pseudo-label{'' if record['n_added'] == 1 else 's'} "
        f"({record['n_pseudo']} in all, "
        f"{n_unlabelled} unlabelled left); "
    )
    if record["trust"] == "max_proba":
        # The meta-model needs min_errors of both kinds; the rarer one is short.
        short = "errors" if record["oof_accuracy"] > 0.5 else "right predictions"
        line += (
            f"{record['n_oof_errors']} out-of-fold errors "
            f"(out-of-fold accuracy {record['oof_accuracy']:.3f}), too few "
            f"{short} for the meta-model: trusting max probability"
        )
    else:
        line += (
            f"meta-model learned from {record['n_oof_errors']} out-of-fold "
            f"errors, out-of-fold AUROC {record['oof_auroc']:.3f}"
        )
    with_pseudo = record["oof_accuracy_with_pseudo"]
    if np.isnan(with_pseudo):  # no early-stopping check this round
        return line
    return (
        f"{line}; out-of-fold accuracy on the real labels "
        f"{record['oof_accuracy']:.3f} alone, {with_pseudo:.3f} with the "
        f"pseudo-labels{'' if record['kept'] else ': undone, stopping'}"
    )


def warn_first_round_undone(record):
    """Early stopping undid the first round: the result is the supervised base."""
    warnings.warn(
        "SelfTrainingWithMetaErr undid its first pseudo-labels: with them the "
        "out-of-fold accuracy on the real labels fell from "
        f"{record['oof_accuracy']:.3g} to {record['oof_accuracy_with_pseudo']:.3g} "
        "(early_stopping=True), so the final model is the base fitted on the "
        "labelled samples only.",
        UserWarning,
        stacklevel=4,  # fit's caller, past scikit-learn's fit wrapper
    )


def warn_nothing_trusted(threshold, highest_p_correct):
    """The first round added nothing: the result is the supervised base."""
    warnings.warn(
        "SelfTrainingWithMetaErr added no pseudo-label: no unlabelled sample's "
        f"predicted P(base is right) exceeds threshold={threshold} (the highest "
        f"is {highest_p_correct:.3g}), so the final model is the base fitted on "
        "the labelled samples only. Lower the threshold or use "
        "criterion='k_best'.",
        UserWarning,
        stacklevel=4,  # fit's caller, past scikit-learn's fit wrapper
    )
