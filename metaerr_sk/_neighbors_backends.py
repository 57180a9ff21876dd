"""Neighbour-search backends on optional packages: faiss and torch.

Both find float32 candidates with their package and hand them to the exact
float64 re-ranking of :mod:`metaerr_sk._neighbors_numpy`:

- ``"faiss"``: ``faiss.IndexFlatL2`` per pool chunk; its float32 top k is
  re-ranked, so float32 rounding can change which near-tied points it returns.
- ``"torch"``: float32 products and ``torch.topk`` on torch's device (a CUDA GPU
  when torch sees one, else the CPU). Each query keeps a few more candidates
  than it needs and gets a *certificate*: with the rigorous error bound of the
  numpy backend, the gap between its k-th and its last candidate proves that no
  pool row left out can be among its k nearest. The rare queries without one
  (many near-ties, e.g. duplicates) are searched again by the numpy backend, so
  the result is exactly the numpy backend's.
"""

import warnings

import numpy as np

from ._neighbors_numpy import (
    _RERANK_BATCH,
    _Centred,
    _exact_top_k,
    _MemoryLimitTooSmall,
    _search_numpy,
)

# Candidates kept per query beyond k, for the certificate's gap (at least k).
_EXTRA_CANDIDATES = 16
# Pool rows per chunk worth shrinking the query block for.
_MIN_TORCH_CHUNK = 4096


# ------------------------------------------------------------------------- faiss
def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "backend='faiss' needs the optional faiss package (pip install "
            "faiss-cpu); use backend='numpy' or 'auto' otherwise."
        ) from exc
    return faiss


def _search_faiss(queries, pool, k, *, rows, maxabs, memory_bytes, n_threads):
    faiss = _import_faiss()
    n_q, d = queries.shape
    n_pool = pool.shape[0] if rows is None else rows.shape[0]
    q32 = np.ascontiguousarray(queries, dtype=np.float32)
    chunk = int(max(k, memory_bytes // (2 * 4 * (d + 1))))
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        found = []
        for s in range(0, n_pool, chunk):
            src = pool[s : s + chunk] if rows is None else pool[rows[s : s + chunk]]
            index = faiss.IndexFlatL2(d)
            index.add(np.ascontiguousarray(src, dtype=np.float32))
            found.append(index.search(q32, min(k, src.shape[0]))[1] + s)
    finally:
        faiss.omp_set_num_threads(previous)
    pos = np.concatenate(found, axis=1).astype(np.int64)
    row = np.repeat(np.arange(n_q), pos.shape[1])
    return _exact_top_k(
        queries.astype(np.float64), pool, row, pos.ravel(), k, pool_rows=rows,
        scale=1.0, batch=_RERANK_BATCH,
    )  # fmt: skip


# ------------------------------------------------------------------------- torch
def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "backend='torch' needs torch (pip install torch==2.13.0 for the CPU "
            "build); use backend='numpy' or 'auto' otherwise."
        ) from exc
    return torch


def _torch_plan(n_q, d, n_pool, n_keep, memory_bytes):
    """Query block and pool chunk whose buffers fit ``memory_bytes``.

    Per pool row of a chunk: its distances to the block's queries and the
    top-k's working copy (8 bytes per query), the centred float32 row, its
    float64 staging row and its norm.
    """
    qb = n_q
    while True:
        chunk = int(memory_bytes // (8 * qb + 12 * d + 8))
        if chunk >= min(n_pool, max(n_keep, _MIN_TORCH_CHUNK)) or qb == 1:
            break
        qb = (qb + 1) // 2
    chunk = min(n_pool, chunk)
    if chunk < min(n_pool, n_keep):
        raise _MemoryLimitTooSmall(
            (8 + 12 * d + 8) * min(n_pool, n_keep) / 2**20,
            f"the torch backend with {d}-dimensional embeddings",
        )
    return qb, chunk


class _TorchSettings:
    """Full float32 matrix products (no TF32: the error bound is for float32) and
    ``n_threads`` CPU threads while searching; the caller's settings after."""

    def __init__(self, torch, n_threads, on_cpu):
        self.torch, self.n_threads, self.on_cpu = torch, n_threads, on_cpu

    def __enter__(self):
        self.precision = self.torch.get_float32_matmul_precision()
        self.threads = self.torch.get_num_threads()
        self.torch.set_float32_matmul_precision("highest")
        if self.on_cpu:
            self.torch.set_num_threads(self.n_threads)

    def __exit__(self, *exc):
        self.torch.set_float32_matmul_precision(self.precision)
        self.torch.set_num_threads(self.threads)


def _torch_candidates(torch, device, cq, pool, rows, n_keep, qb, chunk):
    """Each query's ``n_keep`` smallest float32 approximations, sorted, with
    their pool positions, and the largest centred pool norm.

    Each pool chunk is centred and copied to the device once, then scored
    against every block of ``qb`` queries.
    """
    n_q, d = cq.q_aug.shape[0], pool.shape[1]
    n_pool = pool.shape[0] if rows is None else rows.shape[0]
    qm2 = torch.from_numpy(cq.q_aug[:, :d]).to(device).contiguous()  # -2 q~, exactly
    center32 = torch.from_numpy(cq.center32).to(device)
    blocks = [slice(b, min(n_q, b + qb)) for b in range(0, n_q, qb)]
    best = [None] * len(blocks)  # running (values, positions) per query block
    p_max = torch.zeros((), dtype=torch.float32, device=device)
    for s in range(0, n_pool, chunk):
        src = pool[s : s + chunk] if rows is None else pool[rows[s : s + chunk]]
        if src.dtype == np.float32 and cq.scale == 1.0:  # centred on the device
            with warnings.catch_warnings():
                # a read-only pool (memory-mapped): the tensor is only read
                warnings.filterwarnings("ignore", message=".*not writable")
                pc = torch.from_numpy(np.ascontiguousarray(src))
            pc = pc.to(device) - center32
        else:  # rounded once, as the bound requires
            tmp = np.empty(src.shape) if cq.scale != 1.0 else None
            out = np.empty(src.shape, dtype=np.float32)
            pc = torch.from_numpy(cq.centre(src, out, tmp)).to(device)
        p_norm = (pc * pc).sum(dim=1)
        p_max = torch.maximum(p_max, p_norm.max())
        for b, q in enumerate(blocks):
            # ||p~||^2 - 2 q~.p~ for the block's queries
            approx = torch.addmm(p_norm.unsqueeze(0), qm2[q], pc.T)
            v, i = torch.topk(approx, min(n_keep, pc.shape[0]), dim=1, largest=False)
            del approx  # freed before the next block's is allocated
            i += s
            if best[b] is not None:  # merge with the running best
                v = torch.cat([best[b][0], v], dim=1)
                i = torch.cat([best[b][1], i], dim=1)
                v, top = torch.topk(v, min(n_keep, v.shape[1]), dim=1, largest=False)
                i = torch.gather(i, 1, top)
            best[b] = (v, i)
        del pc
    # topk returns its values sorted
    values = torch.cat([v for v, _ in best]).cpu().numpy()
    positions = torch.cat([i for _, i in best]).cpu().numpy()
    return values, positions, float(p_max)


def _search_torch(queries, pool, k, *, rows, maxabs, memory_bytes, n_threads):
    torch = _import_torch()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    n_q, d = queries.shape
    n_pool = pool.shape[0] if rows is None else rows.shape[0]
    n_keep = min(n_pool, k + max(k, _EXTRA_CANDIDATES))
    cq = _Centred(queries, maxabs)
    qb, chunk = _torch_plan(n_q, d, n_pool, n_keep, memory_bytes)
    with _TorchSettings(torch, n_threads, device.type == "cpu"), torch.no_grad():
        approx, pos, p_max = _torch_candidates(
            torch, device, cq, pool, rows, n_keep, qb, chunk
        )
    # A pool row left out has an approximation >= the last kept one, so its
    # exact distance is >= last - bound; the k-th nearest is <= k-th + bound.
    bound = cq.margin_q + cq.kappa_p * p_max
    gap = approx[:, -1].astype(np.float64) - approx[:, k - 1]
    certain = (n_keep == n_pool) | (gap > 2.0 * bound)
    dist = np.empty((n_q, k))
    ind = np.empty((n_q, k), dtype=np.int64)
    sure = np.flatnonzero(certain)
    if sure.size:
        row = np.repeat(np.arange(sure.size), n_keep)
        dist[sure], ind[sure] = _exact_top_k(
            cq.q64[sure], pool, row, pos[sure].ravel(), k, pool_rows=rows,
            scale=cq.scale, batch=_RERANK_BATCH,
        )  # fmt: skip
        dist[sure] /= cq.scale * cq.scale  # as the numpy backend does
    unsure = np.flatnonzero(~certain)
    if unsure.size:
        dist[unsure], ind[unsure] = _search_numpy(
            queries[unsure], pool, k, rows=rows, maxabs=maxabs,
            memory_bytes=memory_bytes, n_threads=n_threads,
        )  # fmt: skip
    return dist, ind
