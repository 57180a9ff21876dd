"""Exact l2 nearest neighbours in a large pool, in bounded memory.

A pure function, no estimator: :func:`kneighbors_l2` finds, for every query
embedding, its exact nearest pool embeddings. The Data-Centric Debugging
selection built on it is :func:`metaerr_sk.neighbors.select_neighbors`.

The backends live in :mod:`metaerr_sk._neighbors_numpy` (the default: fast
and exact on the CPU) and :mod:`metaerr_sk._neighbors_backends` (torch, on a
GPU, and faiss).
"""

import math
import numbers
import os

import numpy as np
from scipy import sparse

from ._neighbors_numpy import _search_numpy

__all__ = ["kneighbors_l2"]

_DEFAULT_MEMORY_LIMIT_MB = 256


# --------------------------------------------------------------------------- checks
def _check_embeddings(X, name):
    """Return ``X`` as a 2-D float32/float64 array and its largest absolute value."""
    if sparse.issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix; pass a dense array of embeddings "
            "(call .toarray() first)."
        )
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {X.dtype}; convert it, "
            "e.g. with np.asarray(..., dtype=np.float32)."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32 if X.dtype == np.float16 else np.float64)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_samples, n_features), got shape "
            f"{X.shape}; use x.reshape(1, -1) for a single embedding."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{name} is empty (shape {X.shape}); it needs at least one sample "
            "and one feature."
        )
    lo, hi = float(X.min()), float(X.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(
            f"{name} contains NaN or infinity; remove or impute those embeddings first."
        )
    return X, max(-lo, hi)


# The products run in float32 on coordinates centred on the queries' mean (taken
# in float32) and scaled by a power of two; squared, the scale must stay within
# float64's range.
_MAX_ABS, _MIN_ABS = 1e38, 1e-150


def _check_magnitude(maxabs):
    """``maxabs`` (the largest absolute coordinate) if the search can handle it."""
    if maxabs > _MAX_ABS or 0.0 < maxabs < _MIN_ABS:
        raise ValueError(
            f"The embeddings' largest absolute value is {maxabs:.3g}; the exact "
            f"search handles {_MIN_ABS:g} to {_MAX_ABS:g} (its products run in "
            "float32). Rescale the embeddings, e.g. divide them by that value."
        )
    return maxabs


def _check_number(value, name, integral=True):
    kind = numbers.Integral if integral else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an int" if integral else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r}.")
    if not value > 0 or not math.isfinite(value):
        raise ValueError(
            f"{name} must be {'>= 1' if integral else 'finite and > 0'}, got {value}."
        )
    return int(value) if integral else float(value)


def _effective_n_threads(n_jobs):
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpus = os.cpu_count() or 1
    if n_jobs is None:
        return n_cpus
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or an int, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs=0 is meaningless; use None, -1 or a positive int.")
    return int(n_jobs) if n_jobs > 0 else max(1, n_cpus + 1 + int(n_jobs))


def _check_width(queries, pool, q_name, p_name):
    if queries.shape[1] != pool.shape[1]:
        raise ValueError(
            f"{q_name} have {queries.shape[1]} features but {p_name} have "
            f"{pool.shape[1]}; both must come from the same embedding model."
        )


# ---------------------------------------------------------------------- backends
_BACKENDS = ("numpy", "faiss", "torch")


def _resolve_backend(backend):
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a string, got {backend!r}.")
    name = "numpy" if backend == "auto" else backend
    if name not in _BACKENDS:
        raise ValueError(
            f"Unknown backend {backend!r}; choose one of "
            f"{['auto', *sorted(_BACKENDS)]}."
        )
    if name == "numpy":
        return _search_numpy
    # optional packages, imported here so that their absence fails early
    from . import _neighbors_backends as other

    if name == "faiss":
        other._import_faiss()
        return other._search_faiss
    other._import_torch()
    return other._search_torch


# ------------------------------------------------------------------ public: search
def kneighbors_l2(
    queries,
    pool,
    n_neighbors,
    *,
    memory_limit_mb=_DEFAULT_MEMORY_LIMIT_MB,
    backend="auto",
    n_jobs=None,
):
    """Exact l2 nearest neighbours of each query in a pool, in bounded memory.

    Parameters
    ----------
    queries : array-like of shape (n_queries, n_features)
        Query embeddings (e.g. the error samples).
    pool : array-like of shape (n_pool, n_features)
        Pool embeddings. float32 and float64 pools (also memory-mapped ones)
        are read chunk by chunk, never copied whole.
    n_neighbors : int
        Number of neighbours per query, at most ``n_pool``.
    memory_limit_mb : float, default=256
        Bound on the working buffers of the search, summed over threads:
        distance blocks, converted pool chunks, the candidates a chunk yields,
        re-ranking buffers. Not included: the inputs, float32 and float64 copies
        of the queries, the results and the candidate lists (about
        ``n_neighbors`` entries per query and thread). The numpy backend uses
        a few MB per thread when allowed; the pool is never copied whole.
    backend : {"auto", "numpy", "torch", "faiss"}, default="auto"
        ``"numpy"``: the chunked float32 search with exact float64 re-ranking
        described in the Notes. ``"torch"``: float32 products and top k with
        torch, on a CUDA GPU when torch sees one (else the CPU), each query's
        candidates certified by the same error bound and re-ranked in float64:
        the numpy backend's result (see
        :mod:`metaerr_sk._neighbors_backends`). ``"faiss"``:
        ``faiss.IndexFlatL2`` per pool chunk (needs the optional ``faiss``
        package), its float32 top k re-ranked in float64. ``"auto"`` is
        ``"numpy"``, which was faster than faiss and torch on the CPU in our
        benchmark (``benchmarks/bench_debugging_speed.py``); pass ``"torch"``
        to use a GPU. The numpy backend is tuned on 2 cores and does not gain
        from more than about 5 threads: on 16 cores scikit-learn's brute force
        was slightly faster than it (``results/debugging_speed_cuda.md``).
    n_jobs : int, default=None
        Most threads scanning the pool. ``None`` or ``-1``: every available
        CPU, as scikit-learn's brute-force neighbour search does with its OpenMP
        threads; ``-2`` all but one. In the numpy backend threads share the
        queries when there are over 1,024 per thread, else the pool, with at
        most one thread per 20,000 * ``n_neighbors`` pool rows (each keeps its
        own candidates, which below that cost more than they save); BLAS is
        limited to one thread meanwhile.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors), dtype float64
        **Squared** Euclidean distances ``sum((q - p) ** 2)``, non-decreasing
        along each row. ``np.sqrt`` gives scikit-learn's ``kneighbors`` values.
    indices : ndarray of shape (n_queries, n_neighbors), dtype int64
        Pool row of each neighbour. Equal distances are ordered by lower pool
        index first, so the result is deterministic.

    See Also
    --------
    metaerr_sk.neighbors.select_neighbors : Pool indices to add for
        Data-Centric Debugging.
    sklearn.neighbors.NearestNeighbors : The general-purpose equivalent.

    Notes
    -----
    Exactness of the numpy backend: candidates are found with float32 products
    ``||p||^2 - 2 q . p`` on coordinates centred on the queries' mean, but a pool
    row is discarded only when a rigorous bound on the float32 rounding error
    proves it cannot enter the top k. The survivors' distances are computed
    again directly in float64 as ``sum((q - p) ** 2)`` and ranked by
    ``(distance, index)``. The result is the exact top k of those float64
    distances: exact for data whose squared differences are exactly
    representable (e.g. small integers), otherwise exact up to float64 rounding,
    which can in principle split two mathematically equal distances. Points
    tied with a query's k-th neighbour (e.g. duplicates) are all kept and
    re-ranked: still exact, but slower (116 queries against 80,000 copies of one
    point: 4 s on 2 cores, against 0.5 s for scikit-learn's brute force).
    Deduplicate such pools first. The ``"torch"``
    backend returns the same result.
    The ``"faiss"`` backend re-ranks only faiss's float32 top k, so float32
    rounding can change which near-tied points it returns.

    Examples
    --------
    >>> import numpy as np
    >>> from metaerr_sk.neighbors import kneighbors_l2
    >>> pool = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    >>> dist, ind = kneighbors_l2([[0.1, 0.0]], pool, n_neighbors=2)
    >>> ind
    array([[0, 1]])
    >>> dist.round(2)
    array([[0.01, 0.81]])
    """
    queries, q_max = _check_embeddings(queries, "queries")
    pool, p_max = _check_embeddings(pool, "pool")
    _check_width(queries, pool, "queries", "pool")
    k = _check_number(n_neighbors, "n_neighbors")
    if k > pool.shape[0]:
        raise ValueError(
            f"n_neighbors={k} is larger than the pool ({pool.shape[0]} samples); "
            "lower n_neighbors or enlarge the pool."
        )
    search = _resolve_backend(backend)
    return search(
        queries,
        pool,
        k,
        rows=None,
        maxabs=_check_magnitude(max(q_max, p_max)),
        memory_bytes=_check_number(memory_limit_mb, "memory_limit_mb", False) * 2**20,
        n_threads=_effective_n_threads(n_jobs),
    )
