"""The Data-Centric Debugging selection: pool samples nearest to the failures.

:func:`select_neighbors` turns error-sample embeddings into the pool indices that
Data-Centric Debugging (Singla et al., WACV 2024) adds to the training set, on top
of the exact search :func:`metaerr_sk.neighbors.kneighbors_l2`.
"""

import numpy as np

from ._neighbors_numpy import _MemoryLimitTooSmall
from ._neighbors_search import (
    _DEFAULT_MEMORY_LIMIT_MB,
    _check_embeddings,
    _check_magnitude,
    _check_number,
    _check_width,
    _effective_n_threads,
    _resolve_backend,
)

__all__ = ["select_neighbors"]


def _check_labels(labels, n, name, emb_name):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{name} must be a 1-D array with one label per row of {emb_name} "
            f"({n}), got shape {labels.shape}."
        )
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        # NaN equals no label, not even itself: it would select nothing
        raise ValueError(f"{name} contains NaN; every sample needs a label.")
    return labels


def _label_groups(error_labels, pool_labels, n_error):
    """(error rows, pool rows) per label; pool rows of other labels are dropped."""
    if error_labels is None:
        return [(np.arange(n_error), None)]
    try:
        labels = np.unique(error_labels)
    except TypeError as exc:  # None, or numbers mixed with strings
        raise ValueError(
            "error_labels must be all numbers or all strings (they cannot be "
            f"sorted: {exc})."
        ) from None
    groups = []
    for label in labels:
        groups.append(
            (
                np.flatnonzero(error_labels == label),
                np.flatnonzero(pool_labels == label),
            )
        )
    return groups


def _budget_select(search, errors, pool, groups, budget, kwargs):
    """The ``budget`` pool rows closest to their nearest (agreeing) error sample.

    One pass with the roles swapped: every pool row is a query whose single
    nearest neighbour is searched among the error samples, slice by slice so
    that the copies of the pool rows stay within the memory limit.
    """
    n_pool, d = pool.shape
    nearest = np.full(n_pool, np.inf)
    # half the limit for the search, half for the copies of pool rows
    kwargs = {**kwargs, "memory_bytes": kwargs["memory_bytes"] / 2}
    step = max(1024, int(kwargs["memory_bytes"] // (32 * (d + 1))))
    for q_rows, p_rows in groups:
        errors_g = errors[q_rows]
        n_rows = n_pool if p_rows is None else p_rows.shape[0]
        for s in range(0, n_rows, step):
            part = (
                slice(s, min(n_rows, s + step))
                if p_rows is None
                else p_rows[s : s + step]
            )
            try:
                dist, _ = search(pool[part], errors_g, 1, rows=None, **kwargs)
            except _MemoryLimitTooSmall as exc:
                raise _MemoryLimitTooSmall(
                    2 * exc.need_mb, f"budget selection with {exc.what}", exc.advice
                ) from None
            nearest[part] = dist[:, 0]
    cutoff = np.partition(nearest, budget - 1)[budget - 1]
    tied = np.flatnonzero(nearest <= cutoff)
    return np.sort(tied[np.lexsort((tied, nearest[tied]))[:budget]])


def _per_error_select(search, errors, pool, groups, budget, kwargs):
    """The ``budget`` pool rows of smallest neighbour rank.

    A pool row's rank is its best position in an (agreeing) error sample's
    list of nearest pool rows; ties by the distance at that position, then by
    index. The lists are searched ``k`` deep, with ``k`` doubled until they
    hold ``budget`` distinct rows: every row outside them ranks deeper than
    ``k``, behind every row inside, so the choice is exact.
    """
    # overlapping lists need more than budget / n_errors each; start at twice
    k = 2 * -(-budget // errors.shape[0])
    while True:
        ranks, dists, rows = [], [], []
        for q_rows, p_rows in groups:
            n_avail = pool.shape[0] if p_rows is None else p_rows.shape[0]
            k_g = min(k, n_avail)
            if k_g == 0:  # a label no pool sample has: the others fill the budget
                continue
            dist, ind = search(errors[q_rows], pool, k_g, rows=p_rows, **kwargs)
            ranks.append(np.broadcast_to(np.arange(k_g), dist.shape).ravel())
            dists.append(dist.ravel())
            rows.append(ind.ravel() if p_rows is None else p_rows[ind.ravel()])
        ranks, dists, rows = map(np.concatenate, (ranks, dists, rows))
        order = np.lexsort((rows, dists, ranks))
        # each row once, at its best (first) place in the order
        _, first = np.unique(rows[order], return_index=True)
        best = order[np.sort(first)]
        # the budget was checked against the rows available, so a deep enough
        # k always gets there
        if best.size >= budget:
            return np.sort(rows[best[:budget]])
        k *= 2


def select_neighbors(
    error_embeddings,
    pool_embeddings,
    *,
    n_neighbors=None,
    budget=None,
    error_labels=None,
    pool_labels=None,
    label_filter=False,
    budget_allocation="global",
    memory_limit_mb=_DEFAULT_MEMORY_LIMIT_MB,
    backend="auto",
    n_jobs=None,
):
    """Pool samples to add to training for Data-Centric Debugging.

    Given embeddings of samples where the model fails and of a large, weakly
    labelled pool, return the pool samples closest in l2 distance to the
    failures (Singla et al., 2024). Exactly one of two modes applies:

    - ``n_neighbors``: the ``n_neighbors`` nearest pool samples of every error
      sample, united (so at most ``n_errors * n_neighbors`` indices);
    - ``budget``: exactly ``budget`` pool samples, shared out as
      ``budget_allocation`` says.

    Parameters
    ----------
    error_embeddings : array-like of shape (n_errors, n_features)
        Embeddings of the error sample (labelled failures, or samples a
        :class:`~metaerr_sk.MetaErrClassifier` flags as likely failures).
    pool_embeddings : array-like of shape (n_pool, n_features)
        Embeddings of the candidate pool, from the same embedding model.
    n_neighbors : int, default=None
        Neighbours per error sample. ``None`` means 10 unless ``budget`` is given.
    budget : int, default=None
        Total number of pool samples to select. Give it or ``n_neighbors``, not
        both.
    error_labels : array-like of shape (n_errors,), default=None
        Label of each error sample (its true label, or the label the model should
        have given). Needed when ``label_filter=True``.
    pool_labels : array-like of shape (n_pool,), default=None
        Weak (noisy) label of each pool sample. Needed when ``label_filter=True``.
    label_filter : bool, default=False
        If True, an error sample may only retrieve pool samples whose weak label
        equals its own label. The filter applies *before* the nearest are taken:
        each error sample gets its ``n_neighbors`` nearest *agreeing* pool
        samples, and in budget mode a pool sample's distance is to its nearest
        agreeing error sample. Pool samples whose label no error sample has are
        never selected. An error sample whose label no pool sample has
        retrieves nothing: an error with ``n_neighbors`` (it cannot get its
        ``n_neighbors``), not with ``budget`` (the others fill it).
    budget_allocation : {"global", "per_error"}, default="global"
        How ``budget`` is shared out (budget mode only):

        - ``"global"``: the ``budget`` pool samples closest to their nearest
          error sample (ties by lower index). Error samples in dense regions of
          the pool take most of the budget.
        - ``"per_error"``: evenly over the error samples, by neighbour rank:
          every error sample's nearest pool sample first, then every second
          nearest, and so on; at the last rank that fits only partly, the
          samples closest to their error sample (ties by lower index). This is
          the ``n_neighbors`` union with the depth that fills the budget. A
          pool sample shared by several lists counts once, so the lists are
          searched deeper than ``budget / n_errors``: up to ``budget`` deep
          when all error samples share their neighbours.
    memory_limit_mb : float, default=256
        Passed to :func:`~metaerr_sk.neighbors.kneighbors_l2`.
    backend : {"auto", "numpy", "torch", "faiss"}, default="auto"
        Passed to :func:`~metaerr_sk.neighbors.kneighbors_l2`.
    n_jobs : int, default=None
        Passed to :func:`~metaerr_sk.neighbors.kneighbors_l2`.

    Returns
    -------
    indices : ndarray of shape (n_selected,), dtype int64
        Unique pool row indices, sorted ascending.

    See Also
    --------
    metaerr_sk.neighbors.kneighbors_l2 : The exact search underneath.

    Notes
    -----
    The paper does not publish its selection details (neighbours per error
    sample, label filtering); both are parameters here, our design. Budget mode
    swaps the roles: it finds, in one pass, the exact nearest (agreeing) error
    sample of every pool sample, then keeps the ``budget`` smallest distances.

    References
    ----------
    .. [1] S. Singla, A. M. Chegini, M. Moayeri, S. Feizi, "Data-Centric
       Debugging: Mitigating Model Failures via Targeted Image Retrieval",
       WACV 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from metaerr_sk.neighbors import select_neighbors
    >>> pool = np.arange(10.0).reshape(-1, 1)
    >>> select_neighbors([[0.2], [7.9]], pool, n_neighbors=2)
    array([0, 1, 7, 8])
    >>> select_neighbors([[0.2], [7.9]], pool, budget=3)
    array([0, 1, 8])

    A global budget goes to the error sample in the dense part of the pool;
    ``"per_error"`` gives each error sample its share:

    >>> pool = np.array([[0.0], [3], [6], [20], [21], [22], [23], [24]])
    >>> select_neighbors([[0.0], [22]], pool, budget=4)
    array([0, 4, 5, 6])
    >>> select_neighbors([[0.0], [22]], pool, budget=4, budget_allocation="per_error")
    array([0, 1, 4, 5])
    """
    errors, e_max = _check_embeddings(error_embeddings, "error_embeddings")
    pool, p_max = _check_embeddings(pool_embeddings, "pool_embeddings")
    _check_width(errors, pool, "error_embeddings", "pool_embeddings")
    if n_neighbors is not None and budget is not None:
        raise ValueError(
            "Give either n_neighbors (neighbours per error sample) or budget "
            "(total number of pool samples), not both."
        )
    if budget_allocation not in ("global", "per_error"):
        raise ValueError(
            'budget_allocation must be "global" or "per_error", got '
            f"{budget_allocation!r}."
        )
    if budget is None and budget_allocation != "global":
        raise ValueError(
            f"budget_allocation={budget_allocation!r} shares out a budget; give "
            "budget, or drop budget_allocation when selecting n_neighbors per "
            "error sample."
        )
    if error_labels is not None:
        error_labels = _check_labels(
            error_labels, errors.shape[0], "error_labels", "error_embeddings"
        )
    if pool_labels is not None:
        pool_labels = _check_labels(
            pool_labels, pool.shape[0], "pool_labels", "pool_embeddings"
        )
    if not isinstance(label_filter, bool | np.bool_):
        raise TypeError(f"label_filter must be True or False, got {label_filter!r}.")
    if label_filter and (error_labels is None or pool_labels is None):
        raise ValueError(
            "label_filter=True needs both error_labels and pool_labels; pass them "
            "or set label_filter=False."
        )
    groups = _label_groups(
        error_labels if label_filter else None, pool_labels, errors.shape[0]
    )
    kwargs = dict(
        maxabs=_check_magnitude(max(e_max, p_max)),
        memory_bytes=_check_number(memory_limit_mb, "memory_limit_mb", False) * 2**20,
        n_threads=_effective_n_threads(n_jobs),
    )
    search = _resolve_backend(backend)

    if budget is not None:
        budget = _check_number(budget, "budget")
        n_avail = sum(pool.shape[0] if p is None else p.shape[0] for _, p in groups)
        if budget > n_avail:
            what = "pool samples"
            if label_filter:
                what += " whose label an error sample has"
            raise ValueError(
                f"budget={budget} is larger than the {n_avail} {what}; lower the "
                "budget."
            )
        select = _budget_select if budget_allocation == "global" else _per_error_select
        return select(search, errors, pool, groups, budget, kwargs)

    k = 10 if n_neighbors is None else _check_number(n_neighbors, "n_neighbors")
    selected = []
    for q_rows, p_rows in groups:
        n_avail = pool.shape[0] if p_rows is None else p_rows.shape[0]
        if k > n_avail:
            where = (
                f"the {n_avail} pool samples labelled "
                f"{np.asarray(error_labels[q_rows[0]]).item()!r}"
                if p_rows is not None
                else f"the pool ({n_avail} samples)"
            )
            hint = (
                " (are error_labels and pool_labels of the same type?)"
                if n_avail == 0
                else ""
            )
            raise ValueError(
                f"n_neighbors={k} is larger than {where}{hint}; lower n_neighbors "
                "or use budget instead."
            )
        _, ind = search(errors[q_rows], pool, k, rows=p_rows, **kwargs)
        selected.append(ind.ravel() if p_rows is None else p_rows[ind.ravel()])
    return np.unique(np.concatenate(selected))
