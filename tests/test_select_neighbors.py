"""Exact l2 neighbour search and the data-centric-debugging selection core."""

import doctest
import sys
import tracemalloc
import types

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from metaerr_sk import _neighbors_numpy, _neighbors_search, _selection
from metaerr_sk.neighbors import kneighbors_l2, select_neighbors


def _brute_force(queries, pool, k):
    """Full float64 distance matrix, then a stable sort: ties by lower index."""
    q = np.asarray(queries, dtype=np.float64)
    p = np.asarray(pool, dtype=np.float64)
    dist = ((q[:, None, :] - p[None, :, :]) ** 2).sum(axis=-1)
    ind = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, ind, axis=1), ind


def _brute_budget(errors, pool, budget, error_labels=None, pool_labels=None):
    """Pool rows by distance to their nearest (same-label) error, ties by index."""
    full = ((errors[:, None, :] - pool[None, :, :]) ** 2).sum(axis=-1)
    if error_labels is not None:
        full = np.where(error_labels[:, None] == pool_labels[None, :], full, np.inf)
    nearest = full.min(axis=0)
    order = np.lexsort((np.arange(len(pool)), nearest))[:budget]
    assert np.isfinite(nearest[order]).all()
    return np.sort(order)


def _brute_per_error(errors, pool, budget, error_labels=None, pool_labels=None):
    """Pool rows by their best rank in an (agreeing) error's sorted list."""
    full = ((errors[:, None, :] - pool[None, :, :]) ** 2).sum(axis=-1)
    if error_labels is not None:
        full = np.where(error_labels[:, None] == pool_labels[None, :], full, np.inf)
    ranks = np.empty_like(full)
    for e, dist in enumerate(full):
        ranks[e, np.argsort(dist, kind="stable")] = np.arange(len(pool))
    ranks[~np.isfinite(full)] = np.inf
    best_rank = ranks.min(axis=0)
    # the distance at the best rank, the smallest if several errors share it
    at_best = np.where(ranks == best_rank, full, np.inf).min(axis=0)
    order = np.lexsort((np.arange(len(pool)), at_best, best_rank))[:budget]
    assert np.isfinite(best_rank[order]).all()
    return np.sort(order)


@pytest.fixture
def threads_on_small_pools(monkeypatch):
    """Let n_jobs > 1 start threads even on the small pools of these tests."""
    monkeypatch.setattr(_neighbors_numpy, "_POOL_ROWS_PER_THREAD_AND_K", 1)


def _integer_data(rng, n_queries, n_pool, n_features, high=3):
    """Few distinct values: many exact duplicates and equal distances."""
    queries = rng.integers(0, high, size=(n_queries, n_features)).astype(np.float64)
    pool = rng.integers(0, high, size=(n_pool, n_features)).astype(np.float32)
    return queries, pool


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n_features", [1, 5, 33])
@pytest.mark.parametrize("n_pool", [1, 9, 400, 3000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kneighbors_matches_brute_force(seed, n_features, n_pool, dtype):
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((17, n_features)).astype(dtype)
    pool = rng.standard_normal((n_pool, n_features)).astype(dtype)
    k = min(n_pool, 7)
    dist, ind = kneighbors_l2(queries, pool, k)
    ref_dist, ref_ind = _brute_force(queries, pool, k)
    assert ind.dtype == np.int64 and dist.dtype == np.float64
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_jobs", [1, 3])
@pytest.mark.parametrize("memory_limit_mb", [0.05, 256])
def test_ties_break_by_lower_index(
    seed, n_jobs, memory_limit_mb, threads_on_small_pools
):
    rng = np.random.default_rng(seed)
    queries, pool = _integer_data(rng, 40, 2000, 4)
    dist, ind = kneighbors_l2(
        queries, pool, 25, memory_limit_mb=memory_limit_mb, n_jobs=n_jobs
    )
    ref_dist, ref_ind = _brute_force(queries, pool, 25)
    assert_array_equal(ind, ref_ind)
    assert_array_equal(dist, ref_dist)  # integer data: exact


@pytest.mark.parametrize("split", ["pool", "queries"])
def test_several_query_blocks_and_all_of_the_pool(
    split, monkeypatch, threads_on_small_pools
):
    monkeypatch.setattr(_neighbors_numpy, "_MAX_QUERY_BLOCK", 7)
    if split == "queries":  # threads take query blocks, not pool segments
        monkeypatch.setattr(_neighbors_numpy, "_MIN_QUERIES_PER_THREAD", 2)
    rng = np.random.default_rng(4)
    queries, pool = _integer_data(rng, 30, 600, 2)
    for k in (3, 600):
        dist, ind = kneighbors_l2(queries, pool, k, n_jobs=2, memory_limit_mb=0.1)
        ref_dist, ref_ind = _brute_force(queries, pool, k)
        assert_array_equal(ind, ref_ind)
        assert_array_equal(dist, ref_dist)


def test_many_duplicates_of_the_nearest_point():
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((3000, 8)).astype(np.float32)
    pool[::3] = pool[5]  # 1000 copies of one point
    queries = pool[[5, 7]] + 1e-3
    dist, ind = kneighbors_l2(queries, pool, 12, memory_limit_mb=0.1)
    assert_array_equal(ind, _brute_force(queries, pool, 12)[1])
    assert_array_equal(ind[0], np.sort(np.r_[5, np.arange(0, 33, 3)]))


def test_distances_float32_cannot_tell_apart_are_ranked_in_float64():
    # 400 pool points at distances 1 + i * 1e-9 (shuffled) from the query:
    # float32 sees them all equal, the float64 re-ranking orders them.
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((400, 8))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radius = 1.0 + 1e-9 * rng.permutation(400)
    pool = 500.0 + directions * radius[:, None]
    queries = np.full((1, 8), 500.0)
    dist, ind = kneighbors_l2(queries, pool, 50)
    assert_array_equal(ind, _brute_force(queries, pool, 50)[1])
    assert_array_equal(ind[0], np.argsort(radius)[:50])


@pytest.mark.parametrize(
    "offset, scale", [(0.0, 1e-30), (0.0, 1e25), (1e6, 1e-3), (-3e4, 1.0)]
)
def test_far_from_unit_scale_and_far_from_origin(offset, scale):
    rng = np.random.default_rng(0)
    pool = offset + scale * rng.standard_normal((500, 6))
    queries = offset + scale * rng.standard_normal((9, 6))
    dist, ind = kneighbors_l2(queries, pool, 5)
    ref_dist, ref_ind = _brute_force(queries, pool, 5)
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=1e-12)


def test_thread_count_does_not_change_the_result(monkeypatch, threads_on_small_pools):
    workers = []
    executor = _neighbors_numpy.ThreadPoolExecutor

    def spy(max_workers):
        workers.append(max_workers)
        return executor(max_workers)

    monkeypatch.setattr(_neighbors_numpy, "ThreadPoolExecutor", spy)
    rng = np.random.default_rng(3)
    queries, pool = _integer_data(rng, 30, 5000, 3, high=4)
    one = kneighbors_l2(queries, pool, 40, n_jobs=1)
    many = kneighbors_l2(queries, pool, 40, n_jobs=4, memory_limit_mb=1)
    assert workers == [4]
    assert_array_equal(one[1], many[1])
    assert_array_equal(one[0], many[0])


def test_no_extra_threads_for_a_small_pool(monkeypatch):
    monkeypatch.setattr(_neighbors_numpy, "ThreadPoolExecutor", None)  # unused
    rng = np.random.default_rng(3)
    queries, pool = _integer_data(rng, 30, 5000, 3, high=4)
    kneighbors_l2(queries, pool, 40, n_jobs=4, memory_limit_mb=1)


def test_tiny_memory_limit_forces_many_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((50, 10))
    pool = rng.standard_normal((4000, 10)).astype(np.float32)
    plans = []
    plan = _neighbors_numpy._plan

    def spy(*args):
        plans.append(plan(*args))
        return plans[-1]

    monkeypatch.setattr(_neighbors_numpy, "_plan", spy)
    dist, ind = kneighbors_l2(queries, pool, 6, memory_limit_mb=0.02, n_jobs=1)
    _, chunk, _, _ = plans[0]
    assert 4000 // chunk >= 50
    assert_array_equal(ind, _brute_force(queries, pool, 6)[1])


def _peak_mb(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_working_memory_stays_under_the_limit():
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((50, 32)).astype(np.float32)
    pool = rng.standard_normal((200_000, 32)).astype(np.float32)  # 25.6 MB

    def search(**kwargs):
        return lambda: kneighbors_l2(queries, pool, 5, n_jobs=2, **kwargs)

    limited = _peak_mb(search(memory_limit_mb=1.0))
    # Outside the limit: copies of the queries, the outputs and per-thread
    # candidate lists of O(n_queries * n_neighbors) entries, ~0.5 MB here.
    assert limited < 1.0 + 0.5
    # the default limit lets each thread use larger, cache-sized blocks
    assert _peak_mb(search()) > limited + 1.0


# ---------------------------------------------------------------- select_neighbors
def test_select_neighbors_is_the_union_of_each_error_samples_neighbours():
    rng = np.random.default_rng(0)
    errors, pool = _integer_data(rng, 12, 800, 3, high=5)
    selected = select_neighbors(errors, pool, n_neighbors=4)
    expected = np.unique(_brute_force(errors, pool, 4)[1])
    assert_array_equal(selected, expected)
    assert selected.dtype == np.int64
    default = select_neighbors(errors, pool)  # n_neighbors=10
    assert_array_equal(default, np.unique(_brute_force(errors, pool, 10)[1]))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("budget", [1, 7, 14, 15, 60, 700])
@pytest.mark.parametrize("integer", [False, True])
@pytest.mark.parametrize(
    "allocation, brute",
    [("global", _brute_budget), ("per_error", _brute_per_error)],
)
def test_budget_matches_brute_force(seed, budget, integer, allocation, brute):
    # global: closest to any error sample; per_error: by neighbour rank
    rng = np.random.default_rng(seed)
    if integer:
        errors, pool = _integer_data(rng, 15, 700, 3, high=4)
    else:
        errors = rng.standard_normal((15, 4))
        pool = rng.standard_normal((700, 4))
    selected = select_neighbors(
        errors, pool, budget=budget, budget_allocation=allocation
    )
    assert selected.shape == (budget,)
    assert_array_equal(selected, brute(errors, pool.astype(float), budget))


def test_budget_with_a_small_memory_limit_scans_the_pool_in_slices():
    rng = np.random.default_rng(2)
    errors, pool = _integer_data(rng, 9, 5000, 3, high=6)
    selected = select_neighbors(errors, pool, budget=400, memory_limit_mb=0.05)
    assert_array_equal(selected, _brute_budget(errors, pool.astype(float), 400))


def test_label_filter_gives_each_error_its_nearest_agreeing_samples():
    rng = np.random.default_rng(0)
    errors, pool = _integer_data(rng, 20, 900, 3, high=4)
    error_labels = rng.choice(["cat", "dog", "eel"], size=20)
    pool_labels = rng.choice(["cat", "dog", "eel", "fox"], size=900)
    selected = select_neighbors(
        errors,
        pool,
        n_neighbors=6,
        error_labels=error_labels,
        pool_labels=pool_labels,
        label_filter=True,
    )
    expected = []
    for i, label in enumerate(error_labels):
        rows = np.flatnonzero(pool_labels == label)
        expected.append(rows[_brute_force(errors[i : i + 1], pool[rows], 6)[1][0]])
    assert_array_equal(selected, np.unique(np.concatenate(expected)))
    assert (np.isin(pool_labels[selected], error_labels)).all()
    # labels without label_filter are ignored
    unfiltered = select_neighbors(
        errors, pool, n_neighbors=6, error_labels=error_labels, pool_labels=pool_labels
    )
    assert_array_equal(unfiltered, select_neighbors(errors, pool, n_neighbors=6))


@pytest.mark.parametrize("budget", [3, 50, 300])
def test_label_filter_with_budget(budget):
    rng = np.random.default_rng(1)
    errors, pool = _integer_data(rng, 10, 600, 3, high=4)
    error_labels = rng.integers(0, 2, size=10)
    pool_labels = rng.integers(0, 3, size=600)
    selected = select_neighbors(
        errors,
        pool,
        budget=budget,
        error_labels=error_labels,
        pool_labels=pool_labels,
        label_filter=True,
    )
    expected = _brute_budget(
        errors, pool.astype(float), budget, error_labels, pool_labels
    )
    assert_array_equal(selected, expected)


def test_per_error_budget_of_the_union_size_is_the_n_neighbors_union():
    # the definition: the k-per-error-sample union, with the k that fills it
    rng = np.random.default_rng(3)
    errors, pool = _integer_data(rng, 30, 2000, 4, high=5)
    for k in (1, 3, 8):
        union = select_neighbors(errors, pool, n_neighbors=k)
        per_error = select_neighbors(
            errors, pool, budget=union.size, budget_allocation="per_error"
        )
        assert_array_equal(per_error, union)


def test_per_error_budget_spreads_where_a_global_budget_piles_up():
    # 5 error samples in a dense blob, 5 in a sparse region: a global budget
    # goes almost all to the blob, a per-error budget half to each
    rng = np.random.default_rng(0)
    dense = rng.normal(0, 0.1, size=(500, 2))
    sparse = rng.normal(10, 3.0, size=(500, 2))
    pool = np.vstack([dense, sparse])
    errors = np.vstack([dense[:5], sparse[:5]]) + 0.01
    picked = {}
    for allocation in ("global", "per_error"):
        selected = select_neighbors(
            errors, pool, budget=100, budget_allocation=allocation
        )
        picked[allocation] = np.mean(selected < 500)
    assert picked["global"] > 0.9
    assert 0.4 <= picked["per_error"] <= 0.6


@pytest.mark.parametrize("budget", [3, 50, 300])
def test_per_error_budget_with_label_filter(budget):
    rng = np.random.default_rng(1)
    errors, pool = _integer_data(rng, 10, 600, 3, high=4)
    # label 2 has no pool sample: its error samples retrieve nothing
    error_labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 0, 0])
    pool_labels = rng.integers(0, 2, size=600)
    kw = dict(error_labels=error_labels, pool_labels=pool_labels, label_filter=True)
    selected = select_neighbors(
        errors, pool, budget=budget, budget_allocation="per_error", **kw
    )
    expected = _brute_per_error(
        errors, pool.astype(float), budget, error_labels, pool_labels
    )
    assert_array_equal(selected, expected)


def test_per_error_budget_searches_deeper_when_the_lists_overlap():
    # identical error samples share every neighbour: the lists must be searched
    # budget deep, far past the first guess of 2 * budget / n_errors
    rng = np.random.default_rng(2)
    errors = np.repeat(rng.standard_normal((1, 3)), 40, axis=0)
    pool = rng.standard_normal((5000, 3))
    selected = select_neighbors(
        errors, pool, budget=1234, budget_allocation="per_error", memory_limit_mb=0.1
    )
    assert_array_equal(selected, _brute_per_error(errors[:1], pool, 1234))
    assert_array_equal(selected, select_neighbors(errors[:1], pool, budget=1234))


# ---------------------------------------------------------------------- backends
def test_faiss_backend_needs_faiss(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.raises(ImportError, match="optional faiss package"):
        kneighbors_l2(np.zeros((1, 2)), np.zeros((3, 2)), 1, backend="faiss")


def test_faiss_backend_with_a_stand_in_module(monkeypatch):
    class IndexFlatL2:  # what the backend uses of faiss, in float32 like faiss
        def __init__(self, d):
            self.xb = np.empty((0, d), dtype=np.float32)

        def add(self, x):
            assert x.dtype == np.float32 and x.flags.c_contiguous
            self.xb = np.vstack([self.xb, x])

        def search(self, x, k):
            dist, ind = _brute_force(x, self.xb, k)
            return dist.astype(np.float32), ind

    threads = [4]
    fake = types.SimpleNamespace(
        IndexFlatL2=IndexFlatL2,
        omp_get_max_threads=lambda: threads[0],
        omp_set_num_threads=lambda n: threads.__setitem__(0, n),
    )
    monkeypatch.setitem(sys.modules, "faiss", fake)
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((8, 5))
    pool = rng.standard_normal((3000, 5))
    dist, ind = kneighbors_l2(
        queries, pool, 4, backend="faiss", memory_limit_mb=0.05, n_jobs=1
    )
    ref_dist, ref_ind = _brute_force(queries, pool, 4)
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=1e-12)
    assert threads == [4]  # faiss's thread count is restored


def test_public_module_exposes_the_selection_core():
    # The pure functions are public API (issue 5's "selection core"), importable
    # without reaching into private modules.
    import metaerr_sk.neighbors as public

    assert sorted(public.__all__) == ["kneighbors_l2", "select_neighbors"]
    rng = np.random.RandomState(3)
    errors, pool = rng.standard_normal((3, 4)), rng.standard_normal((50, 4))
    assert_array_equal(
        public.select_neighbors(errors, pool, budget=7),
        select_neighbors(errors, pool, budget=7),
    )


def test_docstring_examples():
    search = doctest.testmod(_neighbors_search)
    selection = doctest.testmod(_selection)
    assert search.attempted >= 2 and search.failed == 0
    assert selection.attempted >= 3 and selection.failed == 0


# ------------------------------------------------------------------- bad inputs
X = np.zeros((4, 3))


@pytest.mark.parametrize(
    "queries, pool, kwargs, error, match",
    [
        (X, np.zeros((5, 2)), {}, ValueError, "3 features but pool have 2"),
        (np.zeros((0, 3)), X, {}, ValueError, "queries is empty"),
        (X, np.zeros((0, 3)), {}, ValueError, "pool is empty"),
        (X, np.zeros((4, 0)), {}, ValueError, "pool is empty"),
        (X, X, {"n_neighbors": 5}, ValueError, "larger than the pool"),
        (X, X, {"n_neighbors": 0}, ValueError, "n_neighbors must be >= 1"),
        (X, X, {"n_neighbors": 2.0}, TypeError, "n_neighbors must be an int"),
        ([[np.nan, 0, 0]], X, {}, ValueError, "queries contains NaN or inf"),
        (X, np.full((2, 3), np.inf), {}, ValueError, "pool contains NaN or inf"),
        (np.zeros(3), X, {}, ValueError, r"2-D array.*reshape\(1, -1\)"),
        (X, np.zeros((2, 3, 1)), {}, ValueError, "pool must be a 2-D array"),
        ([["a", "b", "c"]], X, {}, TypeError, "must hold real numbers"),
        (X, X, {"backend": "annoy"}, ValueError, "Unknown backend 'annoy'"),
        (X, X, {"backend": len}, TypeError, "backend must be a string"),
        (X, X, {"memory_limit_mb": 0}, ValueError, "memory_limit_mb must be finite"),
        (X, X, {"memory_limit_mb": np.inf}, ValueError, "must be finite and > 0"),
        # beyond float32 (the products) or so small that the scaling overflows:
        # these gave wrong neighbours or an OverflowError
        ([[1e39]], [[0.0], [1.0]], {}, ValueError, "largest absolute value is 1e"),
        ([[0.0]], [[1.0], [1e160]], {}, ValueError, "search handles 1e-150 to 1e"),
        ([[0.0]], [[3e-160], [2e-160]], {}, ValueError, "Rescale the embeddings"),
        (X, X, {"memory_limit_mb": 1e-5}, ValueError, "memory_limit_mb is too small"),
        (X, X, {"n_jobs": 0}, ValueError, "n_jobs=0"),
        (X, X, {"n_jobs": 1.5}, TypeError, "n_jobs must be None or an int"),
    ],
)
def test_kneighbors_rejects_bad_input(queries, pool, kwargs, error, match):
    kwargs = {"n_neighbors": 1, **kwargs}
    n_neighbors = kwargs.pop("n_neighbors")
    with pytest.raises(error, match=match):
        kneighbors_l2(queries, pool, n_neighbors, **kwargs)


def test_kneighbors_rejects_sparse_input():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match=r"sparse matrix.*toarray"):
        kneighbors_l2(sparse.csr_matrix(X), X, 1)


E = np.arange(6.0).reshape(2, 3)
P = np.arange(30.0).reshape(10, 3)
LE = np.array([0, 1])
LP = np.array([0] * 8 + [1] * 2)


@pytest.mark.parametrize(
    "errors, pool, kwargs, match",
    [
        (E, P[:, :2], {}, "error_embeddings have 3 features but pool_embeddings"),
        (E[:0], P, {}, "error_embeddings is empty"),
        (E, P[:0], {}, "pool_embeddings is empty"),
        (E, P, {"n_neighbors": 11}, r"larger than the pool \(10 samples\)"),
        (E, P, {"budget": 11}, "budget=11 is larger than the 10 pool samples"),
        (E, P, {"budget": 0}, "budget must be >= 1"),
        (E, P, {"n_neighbors": 2, "budget": 3}, "either n_neighbors .* or budget"),
        (E, P, {"budget": 3, "budget_allocation": "even"}, "must be .global. or"),
        (E, P, {"budget_allocation": "per_error"}, "shares out a budget; give"),
        (E + np.nan, P, {}, "error_embeddings contains NaN"),
        (E, P + np.inf, {}, "pool_embeddings contains NaN or inf"),
        (E.ravel(), P, {}, "error_embeddings must be a 2-D array"),
        (E, P, {"error_labels": [0]}, r"error_labels must be .* \(2\)"),
        (E, P, {"pool_labels": LP[:3]}, r"pool_labels must be .* \(10\)"),
        (E, P, {"pool_labels": LP[:, None]}, "pool_labels must be a 1-D array"),
        (E, P, {"label_filter": True}, "needs both error_labels and pool_labels"),
        (
            E,
            P,
            {"label_filter": True, "error_labels": LE},
            "needs both error_labels and pool_labels",
        ),
        (
            E,
            P,
            {
                "label_filter": True,
                "error_labels": LE,
                "pool_labels": LP,
                "n_neighbors": 5,
            },
            "n_neighbors=5 is larger than the 2 pool samples labelled 1",
        ),
        (
            E,
            P,
            {
                "label_filter": True,
                "error_labels": [1, 1],
                "pool_labels": LP,
                "budget": 3,
            },
            "budget=3 is larger than the 2 pool samples whose label",
        ),
        (E, P, {"budget": 3, "memory_limit_mb": np.inf}, "must be finite and > 0"),
        (
            E,
            P,
            {"label_filter": True, "error_labels": [np.nan, 1.0], "pool_labels": LP},
            "error_labels contains NaN",
        ),
        (
            E,
            P,
            {"label_filter": True, "error_labels": [None, "a"], "pool_labels": LP},
            "error_labels must be all numbers or all strings",
        ),
        (
            E,
            P,
            {"label_filter": True, "error_labels": ["0", "1"], "pool_labels": LP},
            r"the 0 pool samples labelled '0' \(are error_labels and pool_labels of",
        ),
    ],
)
def test_select_neighbors_rejects_bad_input(errors, pool, kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_neighbors(errors, pool, **kwargs)


def test_budget_mode_reports_the_memory_it_needs():
    # The budget pass gives the search half of the limit; the minimum it
    # reports must be the user's limit, not the half.
    errors, pool = np.ones((2, 513)), np.ones((5, 513))
    with pytest.raises(ValueError, match="needs at least") as info:
        select_neighbors(errors, pool, budget=2, memory_limit_mb=0.01, n_jobs=1)
    need = float(str(info.value).split("at least ")[1].split(" MB")[0])
    selected = select_neighbors(
        errors, pool, budget=2, memory_limit_mb=need * 1.01, n_jobs=1
    )
    assert_array_equal(selected, [0, 1])
    with pytest.raises(ValueError, match="needs at least"):
        select_neighbors(errors, pool, budget=2, memory_limit_mb=need * 0.97, n_jobs=1)


def test_select_neighbors_label_filter_must_be_a_bool():
    with pytest.raises(TypeError, match="label_filter must be True or False"):
        select_neighbors(E, P, label_filter="yes", error_labels=LE, pool_labels=LP)


@pytest.mark.parametrize("k", [1, 20_000])
def test_many_ties_merge_candidates_geometrically(monkeypatch, k):
    # Every pool row tied (duplicates), or k = the whole pool: all rows stay
    # candidates, and a merge costs O(candidates). Merging every chunk made the
    # search quadratic (20k duplicates under a small memory limit: ~1 min);
    # merging only when the pending rows match those kept takes O(log n) merges.
    merges = []
    merge = _neighbors_numpy._Candidates.merge

    def counted(self, kappa_p):
        merges.append(self.n_pending)
        return merge(self, kappa_p)

    monkeypatch.setattr(_neighbors_numpy._Candidates, "merge", counted)
    dist, ind = kneighbors_l2(
        np.zeros((5, 3)), np.zeros((20_000, 3)), k, memory_limit_mb=0.05, n_jobs=1
    )
    assert_array_equal(ind, np.tile(np.arange(k), (5, 1)))  # ties: lower index
    assert np.all(dist == 0)
    assert len(merges) <= 2 * np.log2(20_000) + 4
