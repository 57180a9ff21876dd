"""The torch neighbour backend returns exactly what the numpy backend returns."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from metaerr_sk import _neighbors_backends
from metaerr_sk.neighbors import kneighbors_l2, select_neighbors

torch = pytest.importorskip("torch")

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU visible to torch"
)


@pytest.fixture
def fallbacks(monkeypatch):
    """Count the queries the torch backend hands back to the numpy backend."""
    handed_back = []
    search = _neighbors_backends._search_numpy

    def spy(queries, *args, **kwargs):
        handed_back.append(queries.shape[0])
        return search(queries, *args, **kwargs)

    monkeypatch.setattr(_neighbors_backends, "_search_numpy", spy)
    return handed_back


def _both(queries, pool, k, **kwargs):
    ours = kneighbors_l2(queries, pool, k, backend="torch", **kwargs)
    ref = kneighbors_l2(queries, pool, k, backend="numpy", **kwargs)
    assert_array_equal(ours[1], ref[1])
    assert_array_equal(ours[0], ref[0])  # the same float64 values, bit for bit
    return ours


@pytest.mark.parametrize(
    "n_queries, n_pool, k, dtype",
    [(37, 5003, 7, np.float32), (5, 777, 1, np.float64), (60, 40, 40, np.float32)],
)
def test_same_neighbours_as_numpy(fallbacks, n_queries, n_pool, k, dtype):
    rng = np.random.default_rng(n_pool)
    queries = rng.standard_normal((n_queries, 9)).astype(dtype)
    pool = rng.standard_normal((n_pool, 9)).astype(dtype)
    _both(queries, pool, k, memory_limit_mb=1)
    assert fallbacks == []  # generic data: every query certified on torch's side


def test_coordinates_far_from_float32_range_are_scaled(fallbacks):
    rng = np.random.default_rng(1)
    pool = rng.standard_normal((900, 6)) * 1e30
    _both(pool[:11] + 1e28, pool, 5)
    assert fallbacks == []


def test_duplicates_are_handed_to_the_numpy_backend(fallbacks):
    # Every query has 40 pool rows at the same distance: no gap certifies it.
    rng = np.random.default_rng(2)
    points = rng.integers(0, 5, size=(50, 4)).astype(np.float32)
    pool = np.repeat(points, 40, axis=0)
    dist, ind = _both(points[:6], pool, 3)
    assert fallbacks == [6]
    assert_array_equal(ind[0], np.flatnonzero((pool == points[0]).all(axis=1))[:3])


def test_small_memory_limit_splits_the_queries():
    rng = np.random.default_rng(3)
    queries = rng.standard_normal((300, 16), dtype=np.float32)
    pool = rng.standard_normal((20_000, 16), dtype=np.float32)
    qb, chunk = _neighbors_backends._torch_plan(300, 16, 20_000, 26, 2**20 * 0.5)
    assert qb < 300 and chunk >= 26
    _both(queries, pool, 10, memory_limit_mb=0.5)


def test_label_filtered_selection_is_the_same(fallbacks):
    rng = np.random.default_rng(4)
    errors = rng.standard_normal((25, 5))
    pool = rng.standard_normal((3000, 5)).astype(np.float32)
    labels = dict(
        error_labels=rng.integers(0, 3, 25),
        pool_labels=rng.integers(0, 3, 3000),
        label_filter=True,
    )
    modes = (
        dict(n_neighbors=4),
        dict(budget=321),
        dict(budget=321, budget_allocation="per_error"),
    )
    for mode in modes:
        assert_array_equal(
            select_neighbors(errors, pool, backend="torch", **mode, **labels),
            select_neighbors(errors, pool, backend="numpy", **mode, **labels),
        )
    assert fallbacks == []


def test_torch_settings_are_restored():
    before = torch.get_float32_matmul_precision(), torch.get_num_threads()
    torch.set_float32_matmul_precision("high")
    try:
        x = np.random.default_rng(5).standard_normal((100, 3))
        kneighbors_l2(x[:5], x, 2, backend="torch", n_jobs=1)
        assert torch.get_float32_matmul_precision() == "high"
        assert torch.get_num_threads() == before[1]
    finally:
        torch.set_float32_matmul_precision(before[0])


def test_no_tf32_products_during_the_search():
    """The error bound is for float32 products: TF32 must be off inside."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # the caller allows TF32
    try:
        with _neighbors_backends._TorchSettings(torch, 1, on_cpu=False):
            assert torch.get_float32_matmul_precision() == "highest"
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.get_float32_matmul_precision() == "high"
    finally:
        torch.set_float32_matmul_precision(before)


def test_too_little_memory_is_a_clear_error():
    x = np.zeros((10, 500_000), dtype=np.float32)
    with pytest.raises(ValueError, match="too small for the torch backend"):
        kneighbors_l2(x[:1], x, 3, backend="torch", memory_limit_mb=1)


def test_torch_backend_needs_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(ImportError, match="backend='torch' needs torch"):
        kneighbors_l2(np.zeros((1, 2)), np.zeros((3, 2)), 1, backend="torch")


@pytest.mark.cuda
@needs_cuda
def test_on_the_gpu_with_tf32_allowed_by_the_caller(fallbacks):
    """On CUDA, even where the caller allows TF32 products, the result is exact."""
    rng = np.random.default_rng(6)
    queries = rng.standard_normal((1000, 64), dtype=np.float32)
    pool = rng.standard_normal((200_000, 64), dtype=np.float32)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        _both(queries, pool, 10)
    finally:
        torch.set_float32_matmul_precision(before)
    assert fallbacks == []


def test_read_only_pool_gives_no_torch_warning(tmp_path):
    # torch warns once per process about non-writable arrays; a fresh process
    # is the only place where the warning can show.
    code = f"""
import warnings
import numpy as np
from metaerr_sk.neighbors import kneighbors_l2
pool = np.lib.format.open_memmap(
    {str(tmp_path / "pool.npy")!r}, mode="w+", dtype=np.float32, shape=(300, 4)
)
pool[:] = np.random.RandomState(0).standard_normal((300, 4))
pool.flush()
pool = np.load({str(tmp_path / "pool.npy")!r}, mmap_mode="r")
warnings.simplefilter("error")
kneighbors_l2(pool[:5], pool, 3, backend="torch")
"""
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)
