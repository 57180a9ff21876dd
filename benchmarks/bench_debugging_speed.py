"""Speed of the exact l2 neighbour search behind data-centric debugging.

Times, in one run and on the same data (a pool of Gaussian float32 embeddings,
a fixed seed), how long it takes to find the ``k`` nearest pool embeddings of
every query:

- ``product``: only the float32 matrix product ``queries @ pool.T`` that any
  exact method computes, in chunks of pool rows so the block stays bounded,
  with BLAS's own threads: the floor to compare against;
- ``product_tiled``: the same product in the tiles and threads
  ``kneighbors_l2`` uses (one BLAS thread per worker thread);
- ``ours``: ``metaerr_sk.neighbors.kneighbors_l2`` (numpy backend);
- ``ours_torch``: the same with ``backend="torch"`` (if torch is installed) -
  on a CUDA GPU when torch sees one, the pool copied from host memory chunk by
  chunk; then ``product_torch`` is its floor: the same product, chunks and
  copies on the GPU, without the top k;
- ``sklearn``: ``NearestNeighbors(algorithm="brute")`` fit + kneighbors;
- ``naive``: chunked numpy, distances then ``argpartition`` per chunk and a
  merge with the running best;
- ``faiss``: ``faiss.IndexFlatL2`` if faiss is installed.

Timings are medians over repeats, interleaved (round-robin over the methods) so
that load from other processes spreads over all of them. Peak memory is measured
in a fresh subprocess per method: the tracemalloc peak (numpy allocations) and
the growth of the peak resident set (``VmHWM``, which also sees C/C++ buffers,
e.g. scikit-learn's). Results go to ``<out>/debugging_speed.{json,md,png}``
(``debugging_speed_smoke.*`` with ``--smoke``, ``debugging_speed_cuda.*`` where
torch sees a GPU).

Usage::

    python benchmarks/bench_debugging_speed.py            # 1,000,000 x 64 pool
    python benchmarks/bench_debugging_speed.py --smoke    # CI-sized, ~20 s
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import sklearn
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from metaerr_sk._environment import blas_libraries, cpu_model  # noqa: E402
from metaerr_sk.neighbors import kneighbors_l2  # noqa: E402

PRODUCT_CHUNK = 65_536  # pool rows per block of the bare product / naive method
METHODS = [
    "product", "product_tiled", "product_torch", "ours", "ours_torch", "sklearn",
    "naive", "faiss",
]  # fmt: skip
# The product_torch floor is run, like ours_torch, in blocks of this many pool
# rows: what the default memory_limit_mb gives for 1,000 queries of 64 features.
TORCH_CHUNK = 2**28 // (8 * 1000 + 12 * 64 + 8)


def make_data(n_pool, n_queries, n_features, seed):
    rng = np.random.default_rng(seed)
    pool = rng.standard_normal((n_pool, n_features), dtype=np.float32)
    queries = rng.standard_normal((n_queries, n_features), dtype=np.float32)
    return queries, pool


def run_product(queries, pool, k):
    block = np.empty((queries.shape[0], PRODUCT_CHUNK), dtype=np.float32)
    for s in range(0, pool.shape[0], PRODUCT_CHUNK):
        e = min(pool.shape[0], s + PRODUCT_CHUNK)
        np.matmul(queries, pool[s:e].T, out=block[:, : e - s])


def run_product_tiled(queries, pool, k):
    # The tiles of kneighbors_l2 for 1,000 queries: 256 pool rows x all queries,
    # the pool split between one worker thread per CPU.
    from concurrent.futures import ThreadPoolExecutor

    n_threads = len(os.sched_getaffinity(0))
    chunk = 256
    bounds = np.linspace(0, pool.shape[0], n_threads + 1).astype(int)

    def work(t):
        block = np.empty((chunk, queries.shape[0]), dtype=np.float32)
        for s in range(bounds[t], bounds[t + 1], chunk):
            e = min(bounds[t + 1], s + chunk)
            np.matmul(pool[s:e], queries.T, out=block[: e - s])

    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(n_threads) as ex,
    ):
        list(ex.map(work, range(n_threads)))


def run_ours(queries, pool, k):
    return kneighbors_l2(queries, pool, k)[1]


def run_ours_torch(queries, pool, k):
    return kneighbors_l2(queries, pool, k, backend="torch")[1]


def run_product_torch(queries, pool, k):
    import torch

    device = torch_device()
    q = torch.from_numpy(queries).to(device)
    for s in range(0, pool.shape[0], TORCH_CHUNK):
        p = torch.from_numpy(pool[s : s + TORCH_CHUNK]).to(device)
        q @ p.T
    if device == "cuda":
        torch.cuda.synchronize()


def run_sklearn(queries, pool, k):
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(pool)
    return nn.kneighbors(queries, return_distance=False)


def run_naive(queries, pool, k):
    chunk = 16_384
    q_norm = (queries.astype(np.float64) ** 2).sum(axis=1).astype(np.float32)
    best_d = np.full((queries.shape[0], k), np.inf, dtype=np.float32)
    best_i = np.zeros((queries.shape[0], k), dtype=np.int64)
    for s in range(0, pool.shape[0], chunk):
        p = pool[s : s + chunk]
        dist = q_norm[:, None] - 2 * queries @ p.T + (p * p).sum(axis=1)[None, :]
        kk = min(k, p.shape[0])
        part = np.argpartition(dist, kk - 1, axis=1)[:, :kk]
        cand_d = np.concatenate([best_d, np.take_along_axis(dist, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, part + s], axis=1)
        keep = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, keep, 1)
        best_i = np.take_along_axis(cand_i, keep, 1)
    order = np.argsort(best_d, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1)


def run_faiss(queries, pool, k):
    import faiss

    index = faiss.IndexFlatL2(pool.shape[1])
    index.add(pool)
    return index.search(queries, k)[1].astype(np.int64)


RUNNERS = {
    "product": run_product,
    "product_tiled": run_product_tiled,
    "product_torch": run_product_torch,
    "ours": run_ours,
    "ours_torch": run_ours_torch,
    "sklearn": run_sklearn,
    "naive": run_naive,
    "faiss": run_faiss,
}


def faiss_available():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def torch_device():
    """ "cuda" or "cpu" where torch is installed, else None."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else "cpu"


def unavailable(method):
    """Why a method cannot run here, or None."""
    if method == "faiss" and not faiss_available():
        return "faiss not installed"
    if method.endswith("_torch") and torch_device() is None:
        return "torch not installed"
    if method == "product_torch" and torch_device() != "cuda":
        return "no GPU (ours_torch ran on the CPU)"
    return None


def exact_sq_distances(queries, pool, q_idx, p_idx):
    diff = queries[q_idx].astype(np.float64) - pool[p_idx]
    return (diff * diff).sum(axis=-1)


def brute_force_exact(queries, pool, k, chunk=50_000):
    """float64 top k by (distance, index), chunked over the pool."""
    best_d = np.full((queries.shape[0], 0), np.inf)
    best_i = np.zeros((queries.shape[0], 0), dtype=np.int64)
    q64 = queries.astype(np.float64)
    for s in range(0, pool.shape[0], chunk):
        p = pool[s : s + chunk].astype(np.float64)
        dist = ((q64[:, None, :] - p[None, :, :]) ** 2).sum(axis=-1)
        ind = np.broadcast_to(np.arange(s, s + p.shape[0]), dist.shape)
        cand_d = np.concatenate([best_d, dist], axis=1)
        cand_i = np.concatenate([best_i, ind], axis=1)
        order = np.lexsort((cand_i, cand_d), axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
    return best_i


def compare(queries, pool, ours, other):
    """Rows with equal neighbour sets; elsewhere, is ours never worse (float64)?"""
    same = np.array([set(a) == set(b) for a, b in zip(ours, other, strict=True)])
    ours_never_worse = True
    for row in np.flatnonzero(~same):
        q_idx = np.full(ours.shape[1], row)
        d_ours = np.sort(exact_sq_distances(queries, pool, q_idx, ours[row]))
        d_other = np.sort(exact_sq_distances(queries, pool, q_idx, other[row]))
        ours_never_worse &= bool((d_ours <= d_other).all())
    return {
        "rows_with_equal_neighbour_sets": int(same.sum()),
        "rows": int(same.shape[0]),
        "ours_never_farther_in_float64": ours_never_worse,
    }


def _status_kib(field):
    """A field of /proc/self/status (VmRSS, VmHWM = peak RSS), in KiB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def memory_probe(args):
    """Child process: run one method once, print its peak memory as JSON."""
    queries, pool = make_data(args.n_pool, args.n_queries, args.n_features, args.seed)
    run = RUNNERS[args.memory_probe]
    run(queries[:2], pool[: 10 * args.k], args.k)  # imports, thread pools, caches
    # Reset the peak-RSS mark to the current RSS (Linux >= 4.0); ru_maxrss would
    # not do: it keeps the parent's peak across fork and exec.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    rss_before = _status_kib("VmRSS:")
    on_gpu = args.memory_probe.endswith("_torch") and torch_device() == "cuda"
    if on_gpu:
        import torch

        torch.cuda.reset_peak_memory_stats()
        gpu_before = torch.cuda.memory_allocated()
    tracemalloc.start()
    run(queries, pool, args.k)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    growth = (_status_kib("VmHWM:") - rss_before) / 1024
    peaks = {"tracemalloc_peak_mb": traced / 2**20, "peak_rss_growth_mb": growth}
    if on_gpu:
        peaks["gpu_peak_mb"] = (torch.cuda.max_memory_allocated() - gpu_before) / 2**20
    print(json.dumps(peaks))


def measure_memory(args, method):
    cmd = [
        sys.executable,
        __file__,
        "--memory-probe",
        method,
        "--n-pool",
        str(args.n_pool),
        "--n-queries",
        str(args.n_queries),
        "--n-features",
        str(args.n_features),
        "-k",
        str(args.k),
        "--seed",
        str(args.seed),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine_info():
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "blas": blas_libraries(),
        "faiss_installed": faiss_available(),
        **_torch_info(),
    }


def _torch_info():
    if torch_device() is None:
        return {"torch": None}
    import torch

    gpu = torch.cuda.get_device_name(0) if torch_device() == "cuda" else None
    return {"torch": torch.__version__, "gpu": gpu}


def write_markdown(path, result):
    cfg = result["config"]
    lines = [
        "# Exact k-nearest-neighbour search for data-centric debugging",
        "",
        f"Pool {cfg['n_pool']:,} x {cfg['n_features']} float32, {cfg['n_queries']:,} "
        f"queries, k = {cfg['k']}, seed {cfg['seed']}; median of "
        f"{cfg['repeats']} interleaved repeats. CPU: {result['machine']['cpu']} "
        f"({result['machine']['usable_cpus']} usable cores), numpy "
        f"{result['machine']['numpy']}, scikit-learn "
        f"{result['machine']['scikit-learn']}, torch {result['machine']['torch']}, "
        f"GPU: {result['machine'].get('gpu')}. Load average before / after: "
        f"{result['load_average_before']} / {result['load_average_after']}.",
        "",
        "| method | median time (s) | min - max (s) | x floor | tracemalloc peak "
        "(MB) | peak RSS growth (MB) | GPU peak (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in result["methods"].items():
        if r.get("skipped"):
            lines.append(f"| {name} | {r['skipped']} | | | | | |")
            continue
        mem = r.get("memory", {})
        gpu = f"{mem['gpu_peak_mb']:.1f}" if "gpu_peak_mb" in mem else ""
        lines.append(
            f"| {name} | {r['median_s']:.3f} | {min(r['times_s']):.3f} - "
            f"{max(r['times_s']):.3f} | {r['ratio_to_floor']:.2f} | "
            f"{mem.get('tracemalloc_peak_mb', float('nan')):.1f} | "
            f"{mem.get('peak_rss_growth_mb', float('nan')):.1f} | {gpu} |"
        )
    chk = result["correctness"]
    vs = chk["vs_sklearn"]
    lines += [
        "",
        f"`product` is the bare float32 `queries @ pool.T`, in blocks of "
        f"{PRODUCT_CHUNK:,} pool rows with BLAS's own threads; `product_tiled` the "
        "same product in the tiles and threads `kneighbors_l2` uses. Peak memory, "
        "measured in a fresh process per method, excludes the inputs: the peak of "
        "numpy allocations (tracemalloc) and the growth of the peak resident set "
        "(VmHWM, which also sees scikit-learn's C++ buffers and thread stacks). "
        "`x floor` is the median time over the median of `product`, or of "
        "`product_torch` (the same product on the GPU, its pool chunks copied from "
        "host memory as `ours_torch` copies them) for the methods run there.",
        "",
        f"Correctness: ours vs scikit-learn: {vs['rows_with_equal_neighbour_sets']}"
        f" / {vs['rows']} rows with the same neighbours, ours never farther in "
        f"float64 elsewhere: {vs['ours_never_farther_in_float64']}."
        f" Ours equals a float64 brute force (ties by index) on "
        f"{chk['exact_rows_checked']} queries: {chk['equals_float64_brute_force']}."
        + (
            " The torch backend returns the numpy backend's neighbours: "
            f"{chk['torch_equals_numpy_backend']}."
            if "torch_equals_numpy_backend" in chk
            else ""
        ),
        "",
        "Generated by `benchmarks/bench_debugging_speed.py`; do not edit by hand.",
        "",
    ]
    path.write_text("\n".join(lines))


def write_plot(path, result):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, r in result["methods"].items() if not r.get("skipped")]
    med = [result["methods"][n]["median_s"] for n in names]
    lo = [med[i] - min(result["methods"][n]["times_s"]) for i, n in enumerate(names)]
    hi = [max(result["methods"][n]["times_s"]) - med[i] for i, n in enumerate(names)]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    colors = ["#999999" if n.startswith("product") else "#1f77b4" for n in names]
    for i, n in enumerate(names):
        if n.startswith("ours"):
            colors[i] = "#d62728"
        elif n == "product_torch":
            colors[i] = "#bbbbbb"
    ax.bar(names, med, yerr=[lo, hi], color=colors, capsize=4)
    for i, m in enumerate(med):
        ax.text(i, m + hi[i], f"{m:.2f} s", ha="center", va="bottom", fontsize=8)
    cfg = result["config"]
    ax.set_ylabel("seconds (median, min-max bars)")
    ax.set_title(
        f"k={cfg['k']} exact neighbours of {cfg['n_queries']:,} queries in "
        f"{cfg['n_pool']:,} x {cfg['n_features']} float32",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small CI-sized run")
    parser.add_argument("--n-pool", type=int, default=None)
    parser.add_argument("--n-queries", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=64)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-rows", type=int, default=20, help="queries to check")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--memory-probe", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n_pool is None:
        args.n_pool = 20_000 if args.smoke else 1_000_000
    if args.n_queries is None:
        args.n_queries = 100 if args.smoke else 1_000
    if args.memory_probe:
        return memory_probe(args)

    queries, pool = make_data(args.n_pool, args.n_queries, args.n_features, args.seed)
    methods = [m for m in METHODS if unavailable(m) is None]
    for m in methods:  # warm-up: imports, thread pools, page faults
        RUNNERS[m](queries[:2], pool[: 10 * args.k], args.k)
    load_before = [round(x, 2) for x in os.getloadavg()]
    times = {m: [] for m in methods}
    outputs = {}
    for rep in range(args.repeats):
        for m in methods:
            t0 = time.perf_counter()
            out = RUNNERS[m](queries, pool, args.k)
            times[m].append(time.perf_counter() - t0)
            if out is not None:
                outputs[m] = out
            print(f"repeat {rep}: {m:14s} {times[m][-1]:.3f} s", flush=True)
    load_after = [round(x, 2) for x in os.getloadavg()]

    results = {}
    for m in METHODS:
        if m not in times:
            results[m] = {"skipped": unavailable(m)}
            continue
        # the floor of a method on the GPU is the product on the GPU
        on_gpu = m.endswith("_torch") and "product_torch" in times
        floor = "product_torch" if on_gpu else "product"
        print(f"peak memory of {m} ...", flush=True)
        results[m] = {
            "times_s": times[m],
            "median_s": float(np.median(times[m])),
            "floor": floor,
            "ratio_to_floor": float(np.median(times[m]) / np.median(times[floor])),
            "memory": measure_memory(args, m),
        }
    rows = np.arange(min(args.exact_rows, args.n_queries))
    exact = brute_force_exact(queries[rows], pool, args.k)
    correctness = {
        "vs_sklearn": compare(queries, pool, outputs["ours"], outputs["sklearn"]),
        "vs_naive": compare(queries, pool, outputs["ours"], outputs["naive"]),
        "exact_rows_checked": int(rows.shape[0]),
        "equals_float64_brute_force": bool(
            np.array_equal(outputs["ours"][rows], exact)
        ),
    }
    if "ours_torch" in outputs:
        correctness["torch_equals_numpy_backend"] = bool(
            np.array_equal(outputs["ours_torch"], outputs["ours"])
        )
    if "faiss" in outputs:
        correctness["vs_faiss"] = compare(
            queries, pool, outputs["ours"], outputs["faiss"]
        )
    result = {
        "config": {
            "n_pool": args.n_pool,
            "n_queries": args.n_queries,
            "n_features": args.n_features,
            "k": args.k,
            "seed": args.seed,
            "repeats": args.repeats,
            "smoke": args.smoke,
            "product_chunk_rows": PRODUCT_CHUNK,
        },
        "machine": machine_info(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "methods": results,
        "correctness": correctness,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "debugging_speed_smoke" if args.smoke else "debugging_speed"
    if torch_device() == "cuda":
        stem += "_cuda"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    write_markdown(args.out / f"{stem}.md", result)
    write_plot(args.out / f"{stem}.png", result)
    print((args.out / f"{stem}.md").read_text())


if __name__ == "__main__":
    main()
