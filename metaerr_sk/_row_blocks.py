"""Blocks of rows that :class:`~metaerr_sk.DataCentricDebugger` puts together.

The training set, the pool and the error sample each come as an array, a
sparse matrix or a data frame; these make them meet the same input rules,
take rows from them and stack them into one training set for the base.
"""

import numpy as np
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _is_arraylike, _num_samples, check_array


def as_rows(X, already_embedded):
    """Array-likes (lists) as arrays; arrays, sparse matrices and frames as is.

    ``already_embedded`` (no embedding transformer): as ``validate_data`` makes the
    training ``X`` - sparse as CSR, object dtype as float - so that the pool and
    the error sample meet the same input rules; NaN, shape and emptiness are
    left to the checks that give this estimator's messages.
    """
    if X is None:
        return X
    if already_embedded:
        return check_array(
            X,
            accept_sparse=["csr"],
            dtype="numeric",
            ensure_all_finite=False,
            ensure_2d=False,
            allow_nd=True,
            ensure_min_samples=0,
        )
    if hasattr(X, "iloc") or hasattr(X, "tocsr"):
        return X
    return np.asarray(X)


def take_rows(X, indices):
    """Rows ``indices`` of an array, sparse matrix or frame."""
    if hasattr(X, "iloc"):
        return X.iloc[indices]
    return X[indices]


def with_added_rows(params, n_train, n_added):
    """Fit metadata for the training rows followed by ``n_added`` added rows.

    ``sample_weight`` gives every added sample (selected pool samples, error
    sample) weight 1; any other metadata with one value per training sample
    has no value to give them and is refused.
    """
    out = {}
    for key, value in params.items():
        if _is_arraylike(value) and _num_samples(value) == n_train:
            if key != "sample_weight":
                raise ValueError(
                    f"{key!r} has one value per training sample, and "
                    f"DataCentricDebugger adds {n_added} samples (the selected pool "
                    "samples and the error sample) that it has no value for; only "
                    "sample_weight is extended to them (weight 1)."
                )
            value = np.concatenate([np.asarray(value, dtype=float), np.ones(n_added)])
        out[key] = value
    return out


def concat_rows(parts):
    """Stack row blocks: frames, else sparse if any block is sparse, else arrays."""
    parts = [p for p in parts if _num_samples(p) > 0]
    if hasattr(parts[0], "iloc"):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    if any(hasattr(p, "tocsr") for p in parts):
        # a sparse pool beside a dense training set: stacking them dense could
        # need far more memory than either
        from scipy import sparse

        return sparse.vstack(parts, format="csr")
    return np.concatenate([np.asarray(p) for p in parts])


def check_label_types(y, **others):
    """The pool's and error sample's labels must be the training labels' kind:
    a number/string mix would only fail later, in the base or in ``score``."""
    for name, labels in others.items():
        if labels is None:
            continue
        try:
            unique_labels(y, labels)
        except ValueError as exc:
            raise ValueError(
                f"y and {name} must hold labels of the same type (all numbers or "
                f"all strings): {exc}"
            ) from exc
