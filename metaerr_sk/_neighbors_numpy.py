"""The numpy backend of :func:`metaerr_sk.neighbors.kneighbors_l2`.

How the numpy backend is fast and still exact
---------------------------------------------
The pool is scanned in chunks, by one thread per CPU (sharing the queries, or
the pool when it is large and k small). For a chunk, one float32
matrix product gives ``a[j, i] = ||p_j||^2 - 2 q_i . p_j`` for every pool row
``j`` and query ``i``, on coordinates centred on the queries' mean;
``||q_i||^2``, constant per query, is left out. A rigorous bound ``b[j, i]`` on
the float32 rounding error gives ``a - b <= exact - ||q_i||^2 <= a + b``. Each
query keeps the candidates whose lower bound does not exceed its k-th smallest
upper bound: nothing else can be among its k nearest. That bound is a
threshold, and minima over groups of 32 rows of the distance block (one pass
over a cache-resident block, the only work per distance besides the product)
show the few places where a pool row passes it. At the end the surviving
candidates, barely more than k per query, are re-computed directly in float64
as ``sum((q - p) ** 2)`` and ranked by ``(distance, index)``.

The exact float64 re-ranking and the error bound (:class:`_Centred`) are
shared with the other backends (:mod:`metaerr_sk._neighbors_backends`).
"""

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

# Distance block per thread: small enough to stay in cache (L2 or L3), large
# enough to amortise the per-chunk numpy calls; tuned on a 2-core Xeon.
_TARGET_BLOCK_BYTES = 2 << 20
_MAX_CHUNK = 8192
_MAX_QUERY_BLOCK = 2048
_RERANK_BATCH = 1024
_GROUP = 32  # pool rows per minimum taken before looking for candidates
_POOL_ROWS_PER_THREAD_AND_K = 20_000  # fewer: extra threads do not pay off
_MIN_QUERIES_PER_THREAD = 512  # more queries: threads take whole query blocks
_U32 = 2.0**-24  # unit roundoff of float32
_F32_MAX = np.finfo(np.float32).max
_THREADPOOLS = []  # a ThreadpoolController, created on first use (it scans libraries)


def _blas_limited_to_one_thread():
    if not _THREADPOOLS:
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1, user_api="blas")


# ------------------------------------------------------------- exact re-ranking
def _exact_sq_distances(q64, pool, q_idx, p_idx, scale, batch):
    """``sum(((q - p) * scale) ** 2)`` in float64, directly, for pairs of rows."""
    out = np.empty(q_idx.shape[0], dtype=np.float64)
    for s in range(0, q_idx.shape[0], batch):
        e = min(q_idx.shape[0], s + batch)
        diff = q64[q_idx[s:e]] - pool[p_idx[s:e]]
        if scale != 1.0:
            diff *= scale
        np.square(diff, out=diff)
        out[s:e] = diff.sum(axis=1)
    return out


def _order_by_row(rows, counts, keys=None):
    """Stable argsort by row of ``keys``' order (an array, or a tuple for
    np.lexsort; None: as given), and where each row starts in it."""
    if keys is None:
        order = np.arange(rows.shape[0])
    else:
        order = np.lexsort(keys) if isinstance(keys, tuple) else np.argsort(keys)
    small = np.int16 if counts.shape[0] < 2**15 else np.int64  # int16: radix sort
    order = order[np.argsort(rows[order].astype(small), kind="stable")]
    return order, np.cumsum(counts) - counts


def _kth_smallest_per_row(rows, values, n_rows, k):
    """k-th smallest value of each row (inf where a row has fewer than k)."""
    counts = np.bincount(rows, minlength=n_rows)
    width = int(counts.max(initial=0))
    if width < k:
        return np.full(n_rows, np.inf)
    if n_rows * width <= 4 * rows.shape[0]:  # similar lengths: pad, partition
        order, starts = _order_by_row(rows, counts)
        row = rows[order]
        padded = np.full((n_rows, width), np.inf)
        padded[row, np.arange(row.shape[0]) - starts[row]] = values[order]
        return np.partition(padded, k - 1, axis=1)[:, k - 1]
    order, starts = _order_by_row(rows, counts, values)
    kth = np.full(n_rows, np.inf)
    full = counts >= k
    kth[full] = values[order[starts[full] + k - 1]]
    return kth


def _exact_top_k(q64, pool, rows, pos, k, *, pool_rows, scale, batch):
    """Top k of each query among candidate (query, pool position) pairs.

    Distances are computed directly in float64 and ranked by (distance, pool
    position); every query must have at least k candidates.
    """
    p_idx = pos if pool_rows is None else pool_rows[pos]
    dist = _exact_sq_distances(q64, pool, rows, p_idx, scale, batch)
    counts = np.bincount(rows, minlength=q64.shape[0])
    order, starts = _order_by_row(rows, counts, (pos, dist))
    take = order[starts[:, None] + np.arange(k)]
    return dist[take], pos[take]


# ------------------------------------------------------------------- numpy backend
def _round_up(x):
    """float64 -> float32 rounded up, at most the largest float32 (not inf)."""
    return np.minimum(np.nextafter(x.astype(np.float32), np.float32(np.inf)), _F32_MAX)


class _MemoryLimitTooSmall(ValueError):
    """``memory_limit_mb`` below what a search needs: ``need_mb`` (for the
    memory it was given), ``what`` (the setting), ``advice``. A caller that
    gives the search a share of the user's limit rescales ``need_mb``."""

    def __init__(self, need_mb, what, advice=""):
        self.need_mb, self.what, self.advice = need_mb, what, advice
        super().__init__(
            f"memory_limit_mb is too small for {what}; it needs at least "
            f"{need_mb:.3g} MB.{advice}"
        )


def _power_of_two_scale(bound):
    """A power of two bringing coordinates near 1 when they risk float32 range."""
    if bound == 0.0 or 2.0**-40 <= bound <= 2.0**40:
        return 1.0
    return 2.0 ** -math.ceil(math.log2(bound))


def _plan(qb, n_features, n_pool, k, extra_row_bytes, memory_bytes, n_threads):
    """Shrink the query block ``qb`` and choose a pool chunk to fit the limit."""
    d = n_features
    chunk = min(_MAX_CHUNK, max(64, _TARGET_BLOCK_BYTES // (4 * qb)), n_pool)
    # A first chunk of several k rows bounds each query's k-th distance well.
    chunk = max(chunk, min(4 * k, n_pool))
    batch = _RERANK_BATCH

    def per_thread(qb, chunk, batch):
        padded = -(-chunk // _GROUP) * _GROUP
        return (
            9 * padded * qb  # distance block, a partial copy of it, a mask
            + 40 * chunk * qb  # the chunk's candidates, worst case (all tied)
            + (4 * (d + 1) + extra_row_bytes) * chunk  # converted pool rows
            + 24 * batch * d  # float64 re-ranking buffers
        )

    budget = memory_bytes / n_threads
    while per_thread(qb, chunk, batch) > budget:
        if batch > 64:
            batch //= 2
        elif chunk > 1 and chunk * d >= qb:
            chunk //= 2
        elif qb > 1:
            qb = (qb + 1) // 2
        elif batch > 1:
            batch //= 2
        elif chunk > 1:
            chunk //= 2
        else:
            raise _MemoryLimitTooSmall(
                per_thread(1, 1, 1) * n_threads / 2**20,
                f"{d}-dimensional embeddings with {n_threads} thread(s)",
                " Raise memory_limit_mb or lower n_jobs.",
            )
    # Pending candidates that trigger a merge; a merge costs O(qb * k), so this
    # amortises it. Like the candidate lists, O(n_queries * k): not in the limit.
    merge_at = max(1024, qb * k)
    return qb, chunk, batch, merge_at


class _Candidates:
    """Pool rows that may still be among the k nearest of a block of queries.

    Each candidate keeps bounds ``lo <= exact - ||q~||^2 <= hi`` on its exact
    squared distance, from its float32 approximation and the rounding-error
    bound. With ``kth_hi`` the k-th smallest ``hi`` of a query, any row with
    ``lo > kth_hi`` is provably farther than the query's k-th nearest: dropped.
    """

    def __init__(self, start, stop, k, margin_q):
        n = stop - start
        self.start, self.stop, self.k = start, stop, k
        self.margin_q = margin_q  # query term of the error bound (+ underflow)
        self.margin_p = 0.0  # pool term of the error bound that thr allows for
        self.row = np.empty(0, dtype=np.int64)  # query, local to the block
        self.pos = np.empty(0, dtype=np.int64)  # pool position
        self.lo, self.hi = np.empty(0), np.empty(0)
        self.kth_hi = np.full(n, np.inf)
        self.thr = np.full(n, _F32_MAX, dtype=np.float32)
        self.seeded = False  # every query has k candidates
        self.pending, self.n_pending = [], 0

    def threshold(self, margin_p):
        """float32 bound above which an approximate distance is never needed."""
        if margin_p > self.margin_p:  # grows geometrically: rarely recomputed
            self.margin_p = 1.5 * margin_p
            self._refresh()
        return self.thr

    def _refresh(self):
        self.thr = _round_up(self.kth_hi + self.margin_q + self.margin_p)

    def add(self, row, pos, approx, p_norm):
        self.pending.append((row, pos, approx, p_norm))
        self.n_pending += row.shape[0]

    def merge(self, kappa_p):
        if not self.n_pending:
            return
        row, pos, approx, p_norm = map(np.concatenate, zip(*self.pending, strict=True))
        self.pending, self.n_pending = [], 0
        bound = self.margin_q[row] + kappa_p * p_norm.astype(np.float64)
        approx = approx.astype(np.float64)
        self.row = np.concatenate([self.row, row])
        self.pos = np.concatenate([self.pos, pos])
        self.lo = np.concatenate([self.lo, approx - bound])
        self.hi = np.concatenate([self.hi, approx + bound])
        n = self.stop - self.start
        self.kth_hi = _kth_smallest_per_row(self.row, self.hi, n, self.k)
        keep = self.lo <= self.kth_hi[self.row]
        self.row, self.pos = self.row[keep], self.pos[keep]
        self.lo, self.hi = self.lo[keep], self.hi[keep]
        self.seeded = bool(np.isfinite(self.kth_hi).all())
        self._refresh()


def _scan(st, pc, s, q_aug, block, group_min, margin_p, k):
    """Distances of one pool chunk ``pc`` (first row ``s``) to the query block of
    ``st``; add the pool rows that pass its threshold to its candidates."""
    nb, n, d = st.stop - st.start, pc.shape[0], pc.shape[1] - 1
    n_groups = -(-n // _GROUP)
    # Rows padded to whole groups of _GROUP with +inf, which no threshold passes
    # (thresholds are at most the largest float32).
    blk = block[: n_groups * _GROUP * nb].reshape(-1, nb)
    np.matmul(pc, q_aug[st.start : st.stop].T, out=blk[:n])
    blk[n:] = np.inf
    # Minima over groups of _GROUP pool rows: one pass over the block, then only
    # the few (group, query) pairs under the threshold are looked into.
    gmin = group_min[: n_groups * nb].reshape(n_groups, nb)
    np.minimum.reduce(blk.reshape(n_groups, _GROUP, nb), axis=1, out=gmin)
    thr = st.threshold(margin_p)
    if not st.seeded and n >= k:
        # Until a query has k candidates, bound its k-th distance by the k-th
        # smallest approximation in this chunk plus the error bound.
        cols = np.flatnonzero(thr == _F32_MAX)
        if k == 1:
            kth = gmin[:, cols].min(axis=0)
        else:
            part = np.ascontiguousarray(blk[:n, cols].T)
            part.partition(k - 1, axis=1)
            kth = part[:, k - 1]
        thr = thr.copy()
        thr[cols] = _round_up(kth + 2.0 * (st.margin_p + st.margin_q[cols]))
    hits = np.flatnonzero(gmin <= thr)  # (flat: much faster than 2-D)
    if hits.size == 0:
        return
    flat = block[: blk.size]
    if hits.size * _GROUP * 8 > blk.size:  # many: test the whole block
        idx = np.flatnonzero(blk <= thr)
    else:
        grp, col = np.divmod(hits, nb)
        idx = (grp * (_GROUP * nb) + col)[:, None] + np.arange(0, _GROUP * nb, nb)
        idx = idx[flat[idx] <= thr[col][:, None]]
    row, col = np.divmod(idx, nb)
    st.add(col, row + s, flat[idx], pc[row, d])


def _schedule(n_q, n_pool, k, n_threads):
    """Query-block size, threads, and whether threads split queries or pool.

    Threads take whole query blocks when there are many queries; otherwise
    they split the pool and each keeps candidates for every query (about
    k log(n_pool / k) of them pass the threshold), which pays off only when
    that is small next to a thread's share of the product.
    """
    by_queries = n_threads > 1 and n_q >= 2 * _MIN_QUERIES_PER_THREAD * n_threads
    qb = _MAX_QUERY_BLOCK
    if n_pool <= _MAX_CHUNK // 2:  # one chunk: the block size sets the query block
        qb = max(1, min(qb, _TARGET_BLOCK_BYTES // (4 * n_pool)))
    n_blocks = -(-n_q // qb)
    if by_queries:
        n_blocks = n_threads * -(-n_blocks // n_threads)  # balanced
    else:
        n_threads = max(1, min(n_threads, n_pool // (_POOL_ROWS_PER_THREAD_AND_K * k)))
    return -(-n_q // n_blocks), n_threads, by_queries


class _Centred:
    """Queries prepared for float32 products ``a = ||p~||^2 - 2 q~ . p~``, on
    coordinates centred on the queries' mean (and scaled by a power of two when
    they risk float32's range), with the rigorous bound on ``a``'s error.

    ``centre(src, out)`` centres pool rows the one way the bound allows: one
    rounding to float32 per coordinate.
    """

    def __init__(self, queries, maxabs):
        n_q, d = queries.shape
        self.q64 = queries.astype(np.float64)
        self.center32 = self.q64.mean(axis=0).astype(np.float32)
        self.center = self.center32.astype(np.float64)
        self.scale = _power_of_two_scale(maxabs + float(np.abs(self.center).max()))
        q_s = ((self.q64 - self.center) * self.scale).astype(np.float32)
        self.q_aug = np.empty((n_q, d + 1), dtype=np.float32)
        np.multiply(q_s, -2.0, out=self.q_aug[:, :d])
        self.q_aug[:, d] = 1.0
        q64 = q_s.astype(np.float64)
        q_norm = np.einsum("ij,ij->i", q64, q64)
        # Bound on |a - (exact - ||q~||^2)| for one pair, in units of ||q~||^2
        # and ||p~||^2: centring rounds each coordinate (<= 4u (|q|^2 + |p|^2)),
        # the (d + 1)-term float32 dot product errs by <= (d + 1) u sum |terms|
        # (in any order of summation), the float32 squared norm of p by
        # <= d u |p|^2. Doubled for safety (it also covers float64 rounding);
        # ``eta`` covers float32 underflow.
        kappa_q = 2.0 * (d + 6) * _U32
        self.kappa_p = 2.0 * (3 * d + 8) * _U32
        eta = 16.0 * (d + 2) * float(np.finfo(np.float32).tiny)
        self.margin_q = kappa_q * q_norm + eta

    def centre(self, src, out, tmp=None):
        """``(src - center) * scale`` into the float32 ``out`` (``tmp``: a
        float64 buffer of its shape, needed when ``scale != 1``)."""
        if self.scale == 1.0:
            np.subtract(src, self.center32, out=out, casting="same_kind")
        else:  # in float64: float32 could overflow before the scaling
            np.subtract(src, self.center, out=tmp)
            tmp *= self.scale
            out[...] = tmp
        return out


def _search_numpy(queries, pool, k, *, rows, maxabs, memory_bytes, n_threads):
    n_q, d = queries.shape
    n_pool = pool.shape[0] if rows is None else rows.shape[0]
    cq = _Centred(queries, maxabs)
    q64, scale, q_aug = cq.q64, cq.scale, cq.q_aug
    kappa_p, margin_q = cq.kappa_p, cq.margin_q

    qb, n_threads, by_queries = _schedule(n_q, n_pool, k, n_threads)
    extra_row_bytes = (pool.dtype.itemsize * d if rows is not None else 0) + (
        8 * d if scale != 1.0 else 0
    )
    qb, chunk, batch, merge_at = _plan(
        qb, d, n_pool, k, extra_row_bytes, memory_bytes, n_threads
    )
    n_blocks = -(-n_q // qb)
    if by_queries:  # work items: (query blocks, first pool row, end pool row)
        work = [([b], 0, n_pool) for b in range(n_blocks)]
    else:  # segments of the pool, handed out in increasing order
        n_chunks = -(-n_pool // chunk)
        n_threads = max(1, min(n_threads, n_chunks))
        seg = max(1, -(-n_chunks // (8 * n_threads))) * chunk
        blocks = list(range(n_blocks))
        work = [(blocks, s, min(n_pool, s + seg)) for s in range(0, n_pool, seg)]
    work, lock = iter(work), threading.Lock()

    def worker():
        states = {}
        block = np.empty(-(-chunk // _GROUP) * _GROUP * qb, dtype=np.float32)
        group_min = np.empty(-(-chunk // _GROUP) * qb, dtype=np.float32)
        p_aug = np.empty((chunk, d + 1), dtype=np.float32)
        gathered = np.empty((chunk, d), dtype=pool.dtype) if rows is not None else None
        rescaled = np.empty((chunk, d)) if scale != 1.0 else None
        while True:
            with lock:
                item = next(work, None)
            if item is None:
                break
            blocks, start, stop = item
            for b in blocks:
                if b not in states:
                    q = slice(b * qb, min(n_q, b * qb + qb))
                    states[b] = _Candidates(q.start, q.stop, k, margin_q[q])
            for s in range(start, stop, chunk):
                e = min(stop, s + chunk)
                if rows is None:
                    src = pool[s:e]
                else:
                    src = np.take(pool, rows[s:e], axis=0, out=gathered[: e - s])
                pc = p_aug[: e - s]  # centred (scaled) rows, then ||row||^2
                tmp = None if rescaled is None else rescaled[: e - s]
                cq.centre(src, pc[:, :d], tmp)
                np.einsum("ij,ij->i", pc[:, :d], pc[:, :d], out=pc[:, d])
                margin_p = kappa_p * float(pc[:, d].max())
                for b in blocks:
                    st = states[b]
                    _scan(st, pc, s, q_aug, block, group_min, margin_p, k)
                    # A merge costs O(candidates kept): waiting for as many
                    # pending keeps many ties (duplicates) or k near the pool
                    # size O(n log n) rather than O(n^2). Unseeded queries merge
                    # early, for a finite k-th bound, but as geometrically.
                    due = max(merge_at, st.row.size)
                    if st.n_pending >= due or (
                        not st.seeded and st.n_pending >= st.row.size
                    ):
                        st.merge(kappa_p)
        for st in states.values():
            st.merge(kappa_p)
        return [(st.row + st.start, st.pos, st.lo, st.hi) for st in states.values()]

    with _blas_limited_to_one_thread():
        if n_threads == 1:
            parts = worker()
        else:
            with ThreadPoolExecutor(max_workers=n_threads) as ex:
                futures = [ex.submit(worker) for _ in range(n_threads)]
                parts = [part for f in futures for part in f.result()]
    row, pos, lo, hi = map(np.concatenate, zip(*parts, strict=True))
    if n_threads > 1 and not by_queries:  # threads' candidates against each other
        keep = lo <= _kth_smallest_per_row(row, hi, n_q, k)[row]
        row, pos = row[keep], pos[keep]
    dist, ind = _exact_top_k(
        q64, pool, row, pos, k, pool_rows=rows, scale=scale, batch=batch
    )
    if scale != 1.0:
        dist = dist / (scale * scale)
    return dist, ind
