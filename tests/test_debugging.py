"""DataCentricDebugger: selection, retraining, the MetaErr loop, bad input."""

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from metaerr_sk import DataCentricDebugger, MetaErrClassifier
from metaerr_sk._flag_label_check import compare_flag_labellings
from metaerr_sk._flagged_labels import flagged_labels
from metaerr_sk.neighbors import kneighbors_l2, select_neighbors

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# MetaErr on the toy problem sees no out-of-fold error and says so; expected here.
pytestmark = pytest.mark.filterwarnings("ignore:The base made 0 out-of-fold errors")


class _SelfPoolDebugger(DataCentricDebugger):
    """Test adapter for scikit-learn's common checks, which call ``fit(X, y)``:
    the training data doubles as pool and error sample."""

    def fit(self, X, y, **fit_params):
        kw = dict(X_pool=X, y_pool=y, X_error=X, y_error=y)
        return super().fit(X, y, **kw, **fit_params)


# fit needs a pool and an error sample, which the checks never pass: they run on
# the adapter, so input validation, fitted state, clone and pickle are checked
@parametrize_with_checks([_SelfPoolDebugger(LogisticRegression(), n_neighbors=1)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _gap_problem(seed=0):
    """Two classes, each two clusters; training covers only one cluster per class.

    Returns train, a labelled error sample from the uncovered clusters, a pool
    (20% label noise) covering all four, and a held-out set of the uncovered
    clusters.
    """
    rng = np.random.RandomState(seed)
    # the uncovered clusters 2 and 3 lie nearer the covered cluster of the other
    # class, and nearer the base's boundary than the covered ones
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [1.5, 4.0], [4.5, 4.0]])
    cls = np.array([0, 1, 1, 0])
    scale = np.array([1.4, 1.4, 0.7, 0.7])

    def draw(clusters, n, p=None):
        c = rng.choice(clusters, size=n, p=p)
        return centres[c] + rng.normal(size=(n, 2)) * scale[c, None], cls[c]

    X, y = draw([0, 1], 80)
    X_err, y_err = draw([2, 3], 6)
    # the uncovered clusters are rare in the pool (2% of it)
    X_pool, y_pool = draw([0, 1, 2, 3], 2000, p=[0.49, 0.49, 0.01, 0.01])
    noisy = rng.rand(2000) < 0.2
    y_pool = np.where(noisy, 1 - y_pool, y_pool)
    X_held, y_held = draw([2, 3], 200)
    return X, y, X_err, y_err, X_pool, y_pool, X_held, y_held


@pytest.fixture
def gap():
    return _gap_problem()


def _base():
    return KNeighborsClassifier(n_neighbors=5)


def test_fit_selects_what_the_core_selects(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    dcd = DataCentricDebugger(_base(), n_neighbors=7).fit(
        X, y, X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err
    )
    expected = select_neighbors(X_err, X_pool, n_neighbors=7)
    np.testing.assert_array_equal(dcd.selected_, expected)
    np.testing.assert_array_equal(dcd.error_indices_, np.arange(6))
    np.testing.assert_array_equal(dcd.classes_, [0, 1])
    assert dcd.meta_estimator_ is None and dcd.embedding_ is None
    assert dcd.n_features_in_ == 2
    # train + selected pool + the error sample itself
    assert dcd.estimator_.n_samples_fit_ == 80 + expected.size + 6


@pytest.mark.parametrize("add_error_sample", [True, False])
@pytest.mark.parametrize("budget", [1, 25])
def test_budget_selects_exactly_budget(gap, budget, add_error_sample):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    dcd = DataCentricDebugger(
        _base(), budget=budget, add_error_sample=add_error_sample
    ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    assert dcd.selected_.shape == (budget,)
    assert np.all(np.diff(dcd.selected_) > 0)
    extra = 6 if add_error_sample else 0
    assert dcd.estimator_.n_samples_fit_ == 80 + budget + extra


@pytest.mark.parametrize("label_filter", [False, True])
def test_budget_allocation_is_the_cores(gap, label_filter):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    selected = {}
    for allocation in ("global", "per_error"):
        dcd = DataCentricDebugger(
            _base(), budget=40, label_filter=label_filter, budget_allocation=allocation
        ).fit(X, y, **kw)
        expected = select_neighbors(
            X_err,
            X_pool,
            budget=40,
            error_labels=y_err,
            pool_labels=y_pool,
            label_filter=label_filter,
            budget_allocation=allocation,
        )
        np.testing.assert_array_equal(dcd.selected_, expected)
        selected[allocation] = dcd.selected_
    assert not np.array_equal(selected["global"], selected["per_error"])
    # without a budget there is nothing to share out: n_neighbors per error
    dcd = DataCentricDebugger(_base(), budget_allocation="per_error").fit(X, y, **kw)
    np.testing.assert_array_equal(
        dcd.selected_, select_neighbors(X_err, X_pool, n_neighbors=10)
    )


def test_label_filter_keeps_agreeing_weak_labels(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    y_err = np.zeros_like(y_err)  # every failure labelled 0
    dcd = DataCentricDebugger(_base(), budget=30, label_filter=True).fit(
        X, y, X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err
    )
    assert np.all(y_pool[dcd.selected_] == 0)
    unfiltered = DataCentricDebugger(_base(), budget=30).fit(
        X, y, X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err
    )
    assert np.any(y_pool[unfiltered.selected_] == 1)


def test_random_strategy_is_seeded_and_sized(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    a = DataCentricDebugger(_base(), strategy="random", budget=40, random_state=0)
    b = clone(a)
    a.fit(X, y, **kw)
    b.fit(X, y, **kw)
    np.testing.assert_array_equal(a.selected_, b.selected_)
    assert a.selected_.shape == (40,)
    nearest = DataCentricDebugger(_base(), budget=40).fit(X, y, **kw)
    assert not np.array_equal(a.selected_, nearest.selected_)


@pytest.mark.parametrize("label_filter", [False, True])
def test_random_strategy_draws_as_many_from_the_same_candidates(gap, label_filter):
    # In n_neighbors mode the nearest strategy adds the union of the error
    # samples' neighbours, fewer than n_errors * k; the random baseline must add
    # as many, and with the label filter only pool samples of an error label.
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    y_err = np.zeros_like(y_err)  # every failure labelled 0
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    params = dict(n_neighbors=10, label_filter=label_filter)
    nearest = DataCentricDebugger(_base(), **params).fit(X, y, **kw)
    rand = DataCentricDebugger(_base(), strategy="random", random_state=0, **params)
    rand.fit(X, y, **kw)
    assert nearest.selected_.size < 10 * X_err.shape[0]
    assert rand.selected_.size == nearest.selected_.size
    if label_filter:
        assert np.all(y_pool[rand.selected_] == 0)
    else:
        assert np.any(y_pool[rand.selected_] == 1)


@pytest.mark.parametrize("add_error_sample", [True, False])
@pytest.mark.parametrize("strategy", ["nearest", "random"])
def test_misclassified_candidates_are_what_the_base_gets_wrong(
    gap, strategy, add_error_sample
):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    params = dict(budget=30, label_filter=True, add_error_sample=add_error_sample)
    dcd = DataCentricDebugger(
        _base(),
        pool_candidates="misclassified",
        strategy=strategy,
        random_state=0,
        **params,
    ).fit(X, y, **kw)
    # the base the retraining starts from: train, plus the error sample if added
    start = (np.vstack([X, X_err]), np.concatenate([y, y_err]))
    seen = _base().fit(*(start if add_error_sample else (X, y)))
    misfit = np.flatnonzero(seen.predict(X_pool) != y_pool)
    assert dcd.n_pool_candidates_ == misfit.size
    assert dcd.selected_.size == 30 and np.isin(dcd.selected_, misfit).all()
    if strategy == "nearest":  # the core's choice within the candidates
        expected = select_neighbors(
            X_err,
            X_pool[misfit],
            budget=30,
            error_labels=y_err,
            pool_labels=y_pool[misfit],
            label_filter=True,
        )
        np.testing.assert_array_equal(dcd.selected_, misfit[expected])
    everything = DataCentricDebugger(_base(), strategy=strategy, **params).fit(
        X, y, **kw
    )
    assert everything.n_pool_candidates_ == X_pool.shape[0]
    assert not np.isin(everything.selected_, misfit).all()


def test_misclassified_candidates_with_metaerr_use_its_base(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    dcd = DataCentricDebugger(
        _base(),
        error_source="metaerr",
        n_flagged=20,
        budget=40,
        pool_candidates="misclassified",
        random_state=0,
    ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=np.vstack([X[:40], X_held]))
    misfit = dcd.meta_estimator_.predict(X_pool) != y_pool
    assert dcd.n_pool_candidates_ == misfit.sum()
    assert misfit[dcd.selected_].all()


def test_misclassified_candidates_errors_say_why(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    dcd = DataCentricDebugger(_base(), budget=1500, pool_candidates="misclassified")
    with pytest.raises(ValueError, match=r"budget=1500 is larger .*misclassifies"):
        dcd.fit(X, y, **kw)
    # a pool the base fits entirely leaves nothing to choose from
    fitted = _base().fit(X, y)
    clean = dict(kw, y_pool=fitted.predict(X_pool), X_error=X[:6], y_error=y[:6])
    with pytest.raises(ValueError, match="leaves no pool sample"):
        dcd.set_params(budget=10, add_error_sample=False).fit(X, y, **clean)


def test_nearest_selection_repairs_the_gap_and_beats_random(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    base = _base().fit(X, y)
    nearest = DataCentricDebugger(_base(), budget=60, add_error_sample=False)
    nearest.fit(X, y, **kw)
    rand = DataCentricDebugger(
        _base(), budget=60, strategy="random", add_error_sample=False, random_state=0
    ).fit(X, y, **kw)
    acc_base = base.score(X_held, y_held)
    acc_nn = nearest.score(X_held, y_held)
    assert acc_base < 0.2  # the uncovered clusters are predicted wrong
    assert acc_nn > 0.7
    assert acc_nn > rand.score(X_held, y_held) + 0.1


def test_metaerr_source_flags_deployment_samples(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    X_deploy = np.vstack([X[:40], X_held[:40]])  # half covered, half the gap
    meta = MetaErrClassifier(LogisticRegression(), random_state=0)
    dcd = DataCentricDebugger(
        _base(),
        error_source="metaerr",
        meta_estimator=meta,
        n_flagged=20,
        budget=60,
        random_state=0,
    ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=X_deploy)
    assert dcd.error_indices_.shape == (20,)
    assert isinstance(dcd.meta_estimator_, MetaErrClassifier)
    assert dcd.meta_estimator_ is not meta
    # flagged samples are on the unlabelled side only: no error sample added
    assert dcd.estimator_.n_samples_fit_ == 80 + 60
    # the flags point at the gap often enough to repair part of it
    assert dcd.score(X_held, y_held) > _base().fit(X, y).score(X_held, y_held) + 0.2


def test_metaerr_source_default_flags_with_predict_error(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    meta = MetaErrClassifier(LogisticRegression(), error_threshold=0.1)
    dcd = DataCentricDebugger(
        _base(), error_source="metaerr", meta_estimator=meta, n_neighbors=3
    )
    X_deploy = np.vstack([X[:30], X_held[:30]])
    dcd.fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=X_deploy)
    flags = dcd.meta_estimator_.predict_error(X_deploy)
    np.testing.assert_array_equal(dcd.error_indices_, np.flatnonzero(flags))


def test_verbose_prints_one_line_per_stage(gap, capsys):
    X, y, X_err, y_err, X_pool, y_pool, X_held, _ = gap
    _fit(DataCentricDebugger(_base(), budget=30, label_filter=True), gap)
    assert capsys.readouterr().out == ""

    dcd = _fit(
        DataCentricDebugger(_base(), embedding=PCA(2), n_neighbors=4, verbose=1),
        gap,
    )
    n = dcd.selected_.size
    lines = capsys.readouterr().out.splitlines()
    assert [re.sub(r" \(\d+\.\ds\)$", "", line) for line in lines] == [
        "[DataCentricDebugger] embedding fitted on 80 samples",
        "[DataCentricDebugger] error sample: 6 labelled failures",
        f"[DataCentricDebugger] selected {n} of 2000 pool samples (4 per error "
        "sample, nearest)",
        f"[DataCentricDebugger] base retrained on {80 + n + 6} samples",
    ]

    DataCentricDebugger(
        _base(),
        error_source="metaerr",
        meta_estimator=MetaErrClassifier(LogisticRegression(), random_state=0),
        n_flagged=20,
        budget=60,
        budget_allocation="per_error",
        label_filter=True,
        verbose=1,
    ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=np.vstack([X, X_held]))
    out = capsys.readouterr().out
    assert "error sample: 20 of 280 deployment samples flagged by MetaErr" in out
    assert "selected 60 of 2000 pool samples (budget 60, per_error, label filter" in out


@pytest.mark.parametrize(
    "neighbors, wrong, proba, expected",
    [
        # the base's runner-up prior breaks an even vote ...
        ([[0, 0, 1, 2]], [0], [[0.6, 0.1, 0.3]], [2]),
        # ... and a clear majority of weak labels overrides the prior
        ([[1, 1, 1, 1, 1, 1, 1, 2]], [0], [[0.6, 0.1, 0.3]], [1]),
        # without probabilities: a vote with the prediction left out
        ([[0, 0, 0, 1]], [0], None, [1]),
        # a base certain of its prediction: the same vote
        ([[0, 0, 2, 1, 1]], [0], [[1.0, 0.0, 0.0]], [1]),
        # only the prediction among the weak labels: kept
        ([[0, 0, 0]], [0], [[0.6, 0.1, 0.3]], [0]),
        # a row per sample
        ([[2, 2, 1], [0, 0, 1]], [0, 2], [[0.5, 0.4, 0.1], [0.2, 0.1, 0.7]], [1, 0]),
    ],
)
def test_flagged_labels_combines_runner_up_and_vote(neighbors, wrong, proba, expected):
    proba_classes = None if proba is None else np.array([0, 1, 2])
    proba = None if proba is None else np.array(proba)
    labels = flagged_labels(np.array(neighbors), np.array(wrong), proba, proba_classes)
    np.testing.assert_array_equal(labels, expected)


def test_flagged_labels_string_labels_and_unseen_classes():
    # "c" is a weak label the base never saw: no prior, so "b" wins on its prior
    neighbors = np.array([["c", "c", "c", "b"]])
    proba = np.array([[0.9, 0.1]])
    labels = flagged_labels(neighbors, np.array(["a"]), proba, np.array(["a", "b"]))
    np.testing.assert_array_equal(labels, ["b"])


def test_metaerr_label_filter_votes_weak_labels(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    X_deploy = np.vstack([X[:40], X_held[:40]])
    meta = MetaErrClassifier(LogisticRegression(), random_state=0)
    dcd = DataCentricDebugger(
        _base(),
        error_source="metaerr",
        meta_estimator=meta,
        n_flagged=20,
        n_neighbors=9,
        budget=40,
        label_filter=True,
        flag_labels="vote",
    ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=X_deploy)
    flagged = X_deploy[dcd.error_indices_]
    _, ind = kneighbors_l2(flagged, X_pool, 9)
    wrong = dcd.meta_estimator_.predict(flagged)
    # two classes: the base's (flagged as wrong) prediction is never the estimate
    np.testing.assert_array_equal(dcd.error_labels_, 1 - wrong)
    # the estimate recovers most true labels of the flagged samples
    true = np.concatenate([y[:40], y_held[:40]])[dcd.error_indices_]
    assert np.mean(dcd.error_labels_ == true) >= 0.7
    assert set(y_pool[dcd.selected_]) <= set(dcd.error_labels_)


def _filtered_loop(gap, **extra):
    """The label-filtered MetaErr loop on the gap problem: its parameters, and
    ``fit``'s pool and deployment set (half covered, half from the gap)."""
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    params = dict(
        error_source="metaerr",
        meta_estimator=MetaErrClassifier(LogisticRegression(), random_state=0),
        n_flagged=20,
        budget=40,
        label_filter=True,
        **extra,
    )
    X_deploy = np.vstack([X[:40], X_held[:40]])
    return params, dict(X_pool=X_pool, y_pool=y_pool, X_deploy=X_deploy)


def test_metaerr_pool_model_labels_come_from_train_plus_pool(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    params, kw = _filtered_loop(gap)
    X_deploy = kw["X_deploy"]
    dcd = DataCentricDebugger(_base(), flag_labels="pool_model", **params).fit(
        X, y, **kw
    )
    flagged = X_deploy[dcd.error_indices_]
    pool_model = _base().fit(np.vstack([X, X_pool]), np.concatenate([y, y_pool]))
    np.testing.assert_array_equal(dcd.error_labels_, pool_model.predict(flagged))
    # then retrieval as for labelled failures with those labels
    as_labelled = DataCentricDebugger(
        _base(), budget=40, label_filter=True, add_error_sample=False
    ).fit(
        X, y, X_pool=X_pool, y_pool=y_pool, X_error=flagged, y_error=dcd.error_labels_
    )
    np.testing.assert_array_equal(dcd.selected_, as_labelled.selected_)
    vote = DataCentricDebugger(_base(), flag_labels="vote", **params).fit(X, y, **kw)
    assert not np.array_equal(vote.error_labels_, dcd.error_labels_)
    # without the label filter the flagged samples need no label
    params["label_filter"] = False
    unfiltered = [
        DataCentricDebugger(_base(), flag_labels=how, **params).fit(X, y, **kw)
        for how in ("vote", "pool_model")
    ]
    np.testing.assert_array_equal(unfiltered[0].selected_, unfiltered[1].selected_)
    assert not hasattr(unfiltered[1], "error_labels_")


@pytest.mark.parametrize("label_filter", [False, True])
def test_torch_neighbors_backend_selects_the_same(gap, label_filter, monkeypatch):
    pytest.importorskip("torch")
    from metaerr_sk import _neighbors_backends

    calls = []
    search = _neighbors_backends._search_torch

    def spy(*args, **kwargs):
        calls.append(args[0].shape[0])
        return search(*args, **kwargs)

    monkeypatch.setattr(_neighbors_backends, "_search_torch", spy)
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    fits = [
        DataCentricDebugger(
            _base(),
            error_source="metaerr",
            meta_estimator=MetaErrClassifier(LogisticRegression(), random_state=0),
            n_flagged=20,
            budget=40,
            label_filter=label_filter,
            flag_labels="vote",
            neighbors_backend=backend,
        ).fit(X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=X_held[:60])
        for backend in ("numpy", "torch")
    ]
    np.testing.assert_array_equal(fits[0].selected_, fits[1].selected_)
    # the torch fit searched with torch: selection, plus the vote with the filter
    assert len(calls) == (3 if label_filter else 1)
    if label_filter:  # the flagged samples' neighbours vote the same
        np.testing.assert_array_equal(fits[0].error_labels_, fits[1].error_labels_)


def test_embedding_transformer_is_fitted_on_train(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    widen = np.hstack  # 4-D inputs, a 2-D embedding
    X4, E4, P4 = (widen([a, a * 0.5]) for a in (X, X_err, X_pool))
    dcd = DataCentricDebugger(_base(), embedding=PCA(2), n_neighbors=4).fit(
        X4, y, X_pool=P4, y_pool=y_pool, X_error=E4, y_error=y_err
    )
    assert dcd.embedding_.n_components_ == 2
    emb = PCA(2).fit(X4)
    expected = select_neighbors(emb.transform(E4), emb.transform(P4), n_neighbors=4)
    np.testing.assert_array_equal(dcd.selected_, expected)
    assert dcd.predict(X4[:3]).shape == (3,)


def test_clone_pickle_params_and_pipelines(gap):
    X, y, X_err, y_err, X_pool, y_pool, X_held, _ = gap
    base = make_pipeline(StandardScaler(), LogisticRegression())
    dcd = DataCentricDebugger(base, budget=20, label_filter=True)
    assert clone(dcd).get_params()["budget"] == 20
    assert dcd.set_params(budget=30).budget == 30
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    dcd.fit(X, y, **kw)
    restored = pickle.loads(pickle.dumps(dcd))
    np.testing.assert_array_equal(restored.predict(X_held), dcd.predict(X_held))
    np.testing.assert_allclose(
        restored.predict_proba(X_held), dcd.predict_proba(X_held)
    )
    # as the last step of a Pipeline, the pool is routed as a fit parameter
    pipe = Pipeline([("dcd", clone(dcd))])
    pipe.fit(X, y, **{f"dcd__{k}": v for k, v in kw.items()})
    np.testing.assert_array_equal(pipe.predict(X_held), dcd.predict(X_held))
    assert not hasattr(DataCentricDebugger(_base()), "decision_function")
    assert hasattr(DataCentricDebugger(LogisticRegression()), "decision_function")
    # the retrained base's own log-probabilities, where it has them
    assert not hasattr(DataCentricDebugger(_base()), "predict_log_proba")
    np.testing.assert_allclose(
        dcd.predict_log_proba(X_held), np.log(dcd.predict_proba(X_held))
    )


# ----------------------------------------------------------------- bad input
def _fit(dcd, gap, **over):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    kw.update(over)
    return dcd.fit(over.pop("X", X), y, **kw)


@pytest.mark.parametrize("strategy", ["nearest", "random"])
def test_mismatched_embedding_widths(gap, strategy):
    X_err, X_pool = gap[2], gap[4]
    dcd = DataCentricDebugger(_base(), strategy=strategy, budget=5)
    with pytest.raises(ValueError, match="X_error embeds to 3 features but X_pool"):
        _fit(dcd, gap, X_error=np.hstack([X_err, X_err[:, :1]]))
    with pytest.raises(ValueError, match="X_pool has 3 features but X has 2"):
        _fit(dcd, gap, X_pool=np.hstack([X_pool, X_pool[:, :1]]))


def test_empty_error_sample(gap):
    with pytest.raises(ValueError, match="error sample is empty"):
        _fit(
            DataCentricDebugger(_base()),
            gap,
            X_error=np.empty((0, 2)),
            y_error=np.empty(0, dtype=int),
        )
    X, y, _, _, X_pool, y_pool, *_ = gap
    never = MetaErrClassifier(_base(), error_threshold=0.999999, random_state=0)
    with pytest.raises(ValueError, match="MetaErr flags none"):
        DataCentricDebugger(_base(), error_source="metaerr", meta_estimator=never).fit(
            X, y, X_pool=X_pool, y_pool=y_pool, X_deploy=X[:10]
        )


@pytest.mark.parametrize("strategy", ["nearest", "random"])
def test_budget_larger_than_pool(gap, strategy):
    with pytest.raises(ValueError, match="budget=2001 is larger than the"):
        _fit(DataCentricDebugger(_base(), budget=2001, strategy=strategy), gap)


@pytest.mark.parametrize("strategy", ["nearest", "random"])
@pytest.mark.parametrize("where", ["X_pool", "X_error"])
def test_nan_embeddings(gap, where, strategy):
    arr = (gap[4] if where == "X_pool" else gap[2]).copy()
    arr[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        _fit(DataCentricDebugger(_base(), strategy=strategy), gap, **{where: arr})


@pytest.mark.parametrize("where", ["y_pool", "y_error"])
def test_labels_of_another_type_than_y(gap, where):
    labels = gap[5] if where == "y_pool" else gap[3]
    with pytest.raises(ValueError, match=f"y and {where} must hold labels of the same"):
        _fit(DataCentricDebugger(_base()), gap, **{where: labels.astype(str)})


@pytest.mark.parametrize("sparse_part", ["X_pool", "X_error"])
def test_sparse_pool_or_error_sample_beside_dense_training_rows(gap, sparse_part):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    kw = dict(X_pool=X_pool, y_pool=y_pool, X_error=X_err, y_error=y_err)
    dense = DataCentricDebugger(_base(), budget=25).fit(X, y, **kw)
    kw[sparse_part] = sp.csr_matrix(kw[sparse_part])
    mixed = DataCentricDebugger(_base(), budget=25).fit(X, y, **kw)
    np.testing.assert_array_equal(mixed.selected_, dense.selected_)
    np.testing.assert_array_equal(mixed.predict(X_err), dense.predict(X_err))


def test_missing_or_misplaced_error_sample(gap):
    X, y, X_err, y_err, X_pool, y_pool, *_ = gap
    with pytest.raises(ValueError, match="needs the labelled failures"):
        DataCentricDebugger(_base()).fit(X, y, X_pool=X_pool, y_pool=y_pool)
    with pytest.raises(ValueError, match="needs unlabelled deployment data"):
        DataCentricDebugger(_base(), error_source="metaerr").fit(
            X, y, X_pool=X_pool, y_pool=y_pool
        )
    with pytest.raises(ValueError, match="only used with error_source='metaerr'"):
        _fit(DataCentricDebugger(_base()), gap, X_deploy=X_err)
    with pytest.raises(ValueError, match="X_pool is empty"):
        _fit(
            DataCentricDebugger(_base()),
            gap,
            X_pool=np.empty((0, 2)),
            y_pool=np.empty(0, dtype=int),
        )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"budget": 0}, "'budget' parameter"),
        ({"strategy": "farthest"}, "'strategy' parameter"),
        ({"budget_allocation": "even"}, "'budget_allocation' parameter"),
        ({"pool_candidates": "hard"}, "'pool_candidates' parameter"),
        ({"flag_labels": "oracle"}, "'flag_labels' parameter"),
        ({"n_flag_label_splits": 0}, "'n_flag_label_splits' parameter"),
        ({"error_source": "oracle"}, "'error_source' parameter"),
        ({"neighbors_backend": "annoy"}, "'neighbors_backend' parameter"),
    ],
)
def test_parameter_validation(gap, params, match):
    with pytest.raises(ValueError, match=match):
        _fit(DataCentricDebugger(_base(), **params), gap)


# ----------------------------------------------------------------- benchmark
def _run_bench_smoke(out, data_dir, options, *, timeout, check):
    """``bench_debugging.py --smoke *options --out out`` in a subprocess."""
    return subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_debugging.py"),
            "--smoke",
            *options,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        env={**__import__("os").environ, "METAERR_DATA_DIR": str(data_dir)},
    )


@pytest.mark.parametrize(
    "options, stem",
    [
        ([], "debugging_smoke"),
        (["--base", "mlp"], "debugging_smoke_base_mlp"),
        (["--pool-size", "0"], "debugging_smoke_pool_all"),
        (["--failing-cluster", "random"], "debugging_smoke_failing_random"),
        # slow: the CIFAR-10 ResNet-20 and ResNet-56 embeddings, once per cache
        pytest.param(
            ["--retrieval-embedding", "resnet56"],
            "debugging_smoke_retrieval_resnet56",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_bench_debugging_smoke(tmp_path, data_dir, options, stem):
    _run_bench_smoke(tmp_path, data_dir, options, timeout=1200, check=True)
    payload = json.loads((tmp_path / f"{stem}.json").read_text())
    assert payload["acceptance"]
    # the smoke curve has the main budget only: its check is the main one
    (budget,) = payload["config"]["budgets"]
    assert budget == payload["config"]["main_budget"]
    assert [
        {k: v for k, v in row.items() if k != "budget"}
        for row in payload["acceptance_by_budget"]
    ] == payload["acceptance"]
    assert "## Target check by budget" in (tmp_path / f"{stem}.md").read_text()
    second_network = "resnet56" in options
    assert payload["config"]["retrieval"] == ("resnet56" if second_network else "base")
    assert ("ResNet-56" in payload["protocol"]) == second_network
    assert payload["config"]["base"] == ("mlp" if "mlp" in options else "logistic")
    assert payload["config"]["failing_cluster"] == (
        "random" if "random" in options else "hardest"
    )
    run = payload["runs"][0]
    sizes, cfg = run["info"]["sizes"], payload["config"]
    if cfg["pool_size"] == 0:  # the pool is all the rest of the training split
        assert sum(sizes.values()) == cfg["n_sub"]
    else:
        assert sizes["pool"] == cfg["pool_size"]
    # the share of the vote's neighbours from a flagged sample's own class
    assert 0.0 <= run["info"]["flag_neighbors_same_class"] <= 1.0
    quality = run["info"]["selection"]["+nn_filter"]
    assert quality["n_selected"] == payload["config"]["main_budget"]
    assert 0.0 <= quality["from_failing"] <= 1.0
    assert "## Selections at the main budget" in (tmp_path / f"{stem}.md").read_text()
    assert (tmp_path / f"{stem}.png").stat().st_size > 0


def _bench_module():
    """``bench_debugging.py`` imported as a module, for its pure helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_debugging", BENCHMARKS / "bench_debugging.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_debugging_checks_every_budget_against_its_own_arms():
    bench = _bench_module()

    def score(heldout, test=0.8):
        return {"heldout_acc": {"mean": heldout}, "test_acc": {"mean": test}}

    main = dict.fromkeys(bench.CURVE_ARMS, score(0.55))
    main.update({"base": score(0.5), "+E_sample": score(0.6)})
    main["+whole_pool"] = score(0.9, test=0.7)  # loses 10 test points: not a rival
    at_budget = {
        10: {
            **dict.fromkeys(bench.CURVE_ARMS, score(0.61)),
            "+random": score(0.58),
            "+nn": score(0.66),
        },
        20: {
            **dict.fromkeys(bench.CURVE_ARMS, score(0.6)),
            "+random": score(0.62),  # beats +E_sample at this budget only
            "+nn_filter": score(0.66),
            "+metaerr_nn_vote": score(0.53),
        },
    }
    rows = bench.acceptance_by_budget(
        {"d": main},
        {f"d budget={b}": arms for b, arms in at_budget.items()},
        [10, 20],
    )
    table = bench.budget_check_table(rows)
    assert [(r["budget"], r["best_baseline"], r["best_selection"]) for r in table] == [
        (10, "+E_sample", "+nn"),
        (20, "+random", "+nn_filter"),
    ]
    assert [r["gain"] for r in table] == pytest.approx([0.06, 0.04])
    assert [r["met"] for r in table] == [True, False]
    # the loop is held to half of its own budget's best labelled gain
    assert [r["loop_required_gain"] for r in table] == pytest.approx([0.03, 0.02])
    assert [r["loop_gain_over_base"] for r in table] == pytest.approx([0.11, 0.1])


def test_bench_debugging_console_judges_a_loop_against_the_base():
    bench = _bench_module()

    def score(heldout):
        return {"heldout_acc": {"mean": heldout}, "test_acc": {"mean": 0.8}}

    arms = dict.fromkeys(bench.CURVE_ARMS, score(0.55))
    arms.update(
        {"base": score(0.5), "+E_sample": score(0.6), "+whole_pool": score(0.5)}
    )
    arms["+nn_filter"] = score(0.7)  # +0.10 over +E_sample: the loop needs +0.05
    rows = {r["arm"]: r for r in bench.acceptance({"d": arms})}
    # +0.05 over the base, -0.05 under +E_sample: met without deployment labels
    loop = bench.target_line(rows["+metaerr_nn_vote"])
    assert "gain +0.0500 over base" in loop and loop.endswith(" met")
    assert rows["+metaerr_nn_vote"]["met"] is False
    labelled = bench.target_line(rows["+nn_filter"])
    assert "over +E_sample" in labelled and labelled.endswith(" met")
    assert bench.target_line(rows["+nn"]).endswith("MISSED")


def test_bench_debugging_pages_on_other_seeds_do_not_overwrite_the_committed_ones():
    bench = _bench_module()
    assert bench.seeds_suffix(bench.SEEDS) == ""
    assert bench.seeds_suffix([20, 21, 22]) == "_seeds_20_21_22"
    assert bench.seeds_suffix([2, 1, 0]) != ""  # another order is another page


@pytest.mark.parametrize(
    "options, message",
    [
        (["--pool-size", "-5"], "--pool-size must be >= 0"),
        (
            ["--datasets", "fashion-mnist-pca50", "--retrieval-embedding", "resnet56"],
            "--retrieval-embedding resnet56 needs CIFAR-10 images",
        ),
    ],
)
def test_bench_debugging_refuses_bad_options(tmp_path, data_dir, options, message):
    # --smoke and --out: were the check gone, a short run into tmp_path
    done = _run_bench_smoke(tmp_path, data_dir, options, timeout=300, check=False)
    assert done.returncode == 2
    assert message in done.stderr


def test_compare_flag_labellings_prefers_the_labelling_that_is_right():
    # symmetric noise: 40 % of the weak labels are any other of 10 classes
    rng = np.random.RandomState(0)
    truth = rng.randint(10, size=600)
    noisy = rng.rand(600) < 0.4
    y_pool = np.where(noisy, (truth + rng.randint(1, 10, size=600)) % 10, truth)
    Z_pool = rng.normal(size=(600, 3))
    Z_flagged = rng.normal(size=(15, 3))
    calls = []

    def right(proxies, reference):
        calls.append((proxies, reference))
        return truth[proxies]

    def guess(proxies, reference):
        return np.random.RandomState(1).randint(10, size=proxies.size)

    # the error probability: high for the first half of the pool's rows
    p_error = np.where(np.arange(600) < 300, 0.9, 0.1) - np.arange(600) * 1e-5
    agreement = compare_flag_labellings(
        Z_flagged,
        Z_pool,
        y_pool,
        labellings={"right": right, "guess": guess},
        error_proba=lambda rows: p_error[rows],
        n_neighbors=8,
        search=kneighbors_l2,
        rng=np.random.RandomState(0),
        n_splits=2,
    )
    # the right labelling reproduces the weak labels the noise left right
    proxies = np.concatenate([c[0] for c in calls])
    assert agreement["right"] == pytest.approx(np.mean(~noisy[proxies]))
    assert agreement["right"] > 0.4 > 0.2 > agreement["guess"]
    # cross-fitted: each half's proxies are labelled from the other half only,
    # on two random splits
    assert len(calls) == 4
    splits = [(calls[0], calls[1]), (calls[2], calls[3])]
    for (p0, r0), (p1, r1) in splits:
        assert np.intersect1d(p0, r0).size == 0 and np.intersect1d(p1, r1).size == 0
        assert np.union1d(r0, r1).size == 600 and np.intersect1d(r0, r1).size == 0
    assert not np.array_equal(np.sort(calls[0][1]), np.sort(calls[2][1]))
    for proxies, reference in calls:
        held = np.setdiff1d(np.arange(600), reference)
        _, near = kneighbors_l2(Z_flagged, Z_pool[held], 8)
        near = held[np.unique(near)]
        # as many proxies as flags, the likeliest failures among the neighbours
        assert proxies.size == 15
        assert p_error[proxies].min() >= np.sort(p_error[near])[-15]


def test_metaerr_auto_flag_labels_takes_the_labelling_that_agrees_more(gap, capsys):
    X, y, X_err, y_err, X_pool, y_pool, X_held, y_held = gap
    params, kw = _filtered_loop(gap, random_state=0)
    X_deploy = kw["X_deploy"]
    auto = DataCentricDebugger(_base(), flag_labels="auto", verbose=1, **params)
    auto.fit(X, y, **kw)
    shares = auto.flag_label_agreement_
    assert set(shares) == {"vote", "pool_model"}
    assert all(0.0 <= s <= 1.0 for s in shares.values())
    chosen = "pool_model" if shares["pool_model"] > shares["vote"] else "vote"
    assert auto.flag_labels_ == chosen
    assert f"labelled by {chosen!r}" in capsys.readouterr().out
    # then the loop runs as with that labelling named
    named = DataCentricDebugger(_base(), flag_labels=chosen, **params).fit(X, y, **kw)
    assert named.flag_labels_ == chosen
    assert not hasattr(named, "flag_label_agreement_")
    np.testing.assert_array_equal(auto.error_labels_, named.error_labels_)
    np.testing.assert_array_equal(auto.selected_, named.selected_)
    # a one-sample pool has no halves to compare: the vote
    tiny = DataCentricDebugger(_base(), flag_labels="auto", **params)
    tiny.set_params(budget=None, n_neighbors=1, meta_estimator=None)
    tiny.set_params(estimator=LogisticRegression())
    tiny.fit(X, y, X_pool=X_pool[:1], y_pool=y_pool[:1], X_deploy=X_deploy)
    assert tiny.flag_labels_ == "vote"
