import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_predict, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from metaerr_sk import MetaErrClassifier
from metaerr_sk._meta_features import FEATURE_GROUPS
from metaerr_sk._meta_learners import META_LEARNERS
from metaerr_sk.metrics import auroc_f, make_error_detection_scorer


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


@pytest.fixture(scope="module")
def small_data():
    X, y = make_classification(
        n_samples=240,
        n_features=8,
        n_informative=5,
        n_classes=3,
        n_clusters_per_class=2,
        flip_y=0.05,
        random_state=0,
    )
    return X, y


# every method that takes X after fit
PREDICT_METHODS = [
    "predict",
    "predict_proba",
    "predict_error_proba",
    "predict_error",
    "meta_features",
]


def _fitted(X, y, **params):
    params.setdefault("random_state", 0)
    return MetaErrClassifier(LogisticRegression(max_iter=500), **params).fit(X, y)


# ------------------------------------------------------------ the contract


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog", "emu"]),
        np.array([-7, 3, 100]),
        np.array([2.0, 0.0, 5.0]),
    ],
    ids=["strings", "non-contiguous-ints", "integer-floats"],
)
def test_any_label_type(small_data, labels):
    X, y = small_data
    y_mapped = labels[y]
    clf = _fitted(X, y_mapped)
    assert set(clf.classes_) == set(labels)
    pred = clf.predict(X)
    assert set(pred) <= set(labels)
    # predict is the argmax of the probabilities, mapped through classes_.
    np.testing.assert_array_equal(pred, clf.classes_[clf.predict_proba(X).argmax(1)])
    p_error = clf.predict_error_proba(X)
    assert p_error.shape == (X.shape[0],)
    assert np.all((p_error >= 0) & (p_error <= 1))
    assert clf.predict_error(X).dtype == bool


def test_binary(small_data):
    X, y = small_data
    clf = _fitted(X, y == 0)
    assert clf.predict_proba(X).shape == (X.shape[0], 2)
    assert clf.predict_error_proba(X).shape == (X.shape[0],)


def test_error_proba_of_given_probabilities(small_data):
    X, y = small_data
    clf = _fitted(X, y)
    own = clf.predict_proba(X)
    np.testing.assert_allclose(
        clf.predict_error_proba(X, proba=own), clf.predict_error_proba(X)
    )
    # Another model's probabilities are judged, not the fitted base's: a
    # confident wrong-class vector must look riskier than the base's own.
    other = np.roll(own, 1, axis=1)
    assert not np.allclose(
        clf.predict_error_proba(X, proba=other), clf.predict_error_proba(X)
    )


@pytest.mark.parametrize(
    "proba, match",
    [
        (np.full((5, 3), 1 / 3), r"proba must have shape .*\(240, 3\)"),
        (np.full((240, 2), 0.5), r"proba must have shape"),
        (np.full((240, 3), 0.5), r"Each row of proba must sum to one"),
        (np.full((240, 3), np.nan), r"proba must hold finite"),
    ],
    ids=["rows", "columns", "not-normalised", "nan"],
)
@pytest.mark.parametrize("method", ["predict_error_proba", "meta_features"])
def test_error_proba_rejects_bad_probabilities(small_data, proba, match, method):
    X, y = small_data
    clf = _fitted(X, y)
    with pytest.raises(ValueError, match=match):
        getattr(clf, method)(X, proba=proba)


def test_float32_base_judged_alike_with_and_without_given_proba(digits_split):
    # A base on float32 inputs returns float32 probabilities; the meta-features
    # must not depend on whether they come from the base or from the caller.
    X_train, X_test, y_train, _ = digits_split
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    clf = _fitted(X_train, y_train)
    proba = clf.predict_proba(X_test)
    assert proba.dtype == np.float32
    np.testing.assert_array_equal(
        clf.meta_features(X_test, proba=proba), clf.meta_features(X_test)
    )
    np.testing.assert_array_equal(
        clf.predict_error_proba(X_test, proba=proba), clf.predict_error_proba(X_test)
    )


def test_meta_features_refit_the_meta_learner(small_data):
    X, y = small_data
    clf = _fitted(X, y)
    assert clf.meta_features_.shape[0] == X.shape[0]
    # the training rows and targets reproduce the fitted meta-learner ...
    learner = clone(clf.meta_learner_).fit(clf.meta_features_, clf.oof_error_)
    positive = np.flatnonzero(learner.classes_ == 1)[0]
    np.testing.assert_allclose(
        learner.predict_proba(clf.meta_features(X[:50]))[:, positive],
        clf.predict_error_proba(X[:50]),
    )
    # ... and are out-of-fold: not what the refitted base gives on the same X
    assert clf.meta_features(X).shape == clf.meta_features_.shape
    assert not np.allclose(clf.meta_features(X), clf.meta_features_)
    own = clf.predict_proba(X)
    np.testing.assert_allclose(clf.meta_features(X, proba=own), clf.meta_features(X))


def test_oof_targets_are_out_of_fold(small_data):
    X, y = small_data
    clf = _fitted(X, y, cv=4)
    # A decision tree fits its training data perfectly, so in-sample targets
    # would hold no errors; out-of-fold ones must.
    tree = MetaErrClassifier(DecisionTreeClassifier(random_state=0), random_state=0)
    tree.fit(X, y)
    assert tree.oof_error_.sum() > 10
    assert clf.oof_proba_.shape == (X.shape[0], 3)
    np.testing.assert_array_equal(
        clf.oof_error_, clf.classes_[clf.oof_proba_.argmax(1)] != y
    )


def test_predict_error_threshold(small_data):
    X, y = small_data
    clf = _fitted(X, y, error_threshold=0.2)
    np.testing.assert_array_equal(
        clf.predict_error(X), clf.predict_error_proba(X) >= 0.2
    )


@pytest.mark.parametrize("meta_learner", sorted(META_LEARNERS))
def test_every_named_meta_learner(small_data, meta_learner):
    X, y = small_data
    clf = _fitted(X, y, meta_learner=meta_learner)
    p_error = clf.predict_error_proba(X)
    assert p_error.shape == (X.shape[0],)
    assert np.all(np.isfinite(p_error))


@pytest.mark.parametrize("meta_learner", sorted(META_LEARNERS))
def test_every_named_meta_learner_learns_from_a_tiny_meta_set(small_data, meta_learner):
    # Self-training with a few labels per class fits the meta-learner on a few
    # dozen rows: k-NN used to raise at prediction (k=25 > 24 rows) and
    # histogram boosting (20-row leaves) to predict one constant.
    X, y = small_data
    clf = _fitted(X[:24], y[:24], meta_learner=meta_learner)
    assert 0 < clf.oof_error_.sum() < 24
    p_error = clf.predict_error_proba(X)
    assert np.all(np.isfinite(p_error))
    assert np.ptp(p_error) > 0


def test_meta_learner_instance_is_cloned(small_data):
    X, y = small_data
    meta = DecisionTreeClassifier(max_depth=2, random_state=0)
    clf = _fitted(X, y, meta_learner=meta)
    assert clf.meta_learner_ is not meta
    assert not hasattr(meta, "tree_")


@pytest.mark.parametrize("group", FEATURE_GROUPS)
def test_each_feature_group_alone(small_data, group):
    X, y = small_data
    clf = _fitted(X, y, features=(group,))
    assert clf.predict_error_proba(X).shape == (X.shape[0],)


def test_neighbor_space_transformer(small_data):
    from sklearn.decomposition import PCA

    X, y = small_data
    clf = _fitted(X, y, neighbor_space=PCA(n_components=3, random_state=0))
    assert clf.neighbor_space_.n_components_ == 3
    assert clf.predict_error_proba(X).shape == (X.shape[0],)


def test_neighbor_space_frozen_transformer_used_as_fitted(small_data):
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import StandardScaler

    X, y = small_data
    # fitted on more data than MetaErr trains on, as with unlabelled samples
    scaler = StandardScaler().fit(X)
    clf = _fitted(X[:120], y[:120], neighbor_space=FrozenEstimator(scaler))
    assert clf.neighbor_space_.estimator is scaler
    np.testing.assert_array_equal(clf.neighbor_space_.estimator.mean_, X.mean(axis=0))
    assert clf.predict_error_proba(X).shape == (X.shape[0],)


def test_sparse_input(small_data):
    X, y = small_data
    clf = _fitted(sp.csr_matrix(np.abs(X)), y)
    assert clf.predict_error_proba(sp.csr_matrix(np.abs(X))).shape == (X.shape[0],)


@pytest.mark.parametrize("fit_sparse", [False, True])
def test_dense_and_sparse_rows_give_the_same_error_proba(small_data, fit_sparse):
    # The base takes both; so must the neighbour space, whichever it was fitted on.
    X, y = small_data
    X = np.abs(X)
    # unseen rows: a training row's distance to itself is 0 up to rounding,
    # which differs between the sparse and dense distance code
    X_fit, y_fit, X = X[20:], y[20:], X[:20]
    clf = _fitted(sp.csr_matrix(X_fit) if fit_sparse else X_fit, y_fit)
    np.testing.assert_allclose(
        clf.predict_error_proba(sp.csr_matrix(X[:20])),
        clf.predict_error_proba(X[:20]),
        rtol=1e-10,
    )


def test_nan_allowed_when_the_base_allows_it(small_data):
    X, y = small_data
    X = X.copy()
    X[::7, 0] = np.nan
    clf = MetaErrClassifier(
        HistGradientBoostingClassifier(max_iter=10, random_state=0),
        cv=3,
        random_state=0,
    ).fit(X, y)
    assert np.all(np.isfinite(clf.predict_error_proba(X)))


def test_reproducible_and_parallel_folds_agree(small_data):
    X, y = small_data
    a = _fitted(X, y).predict_error_proba(X)
    b = _fitted(X, y).predict_error_proba(X)
    c = _fitted(X, y, n_jobs=2).predict_error_proba(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c)


# -------------------------------------------------- frozen and precomputed


def test_frozen_base_is_used_as_is(small_data):
    X, y = small_data
    base = LogisticRegression(max_iter=500).fit(X[:120], y[:120])
    coef = base.coef_.copy()
    clf = MetaErrClassifier(FrozenEstimator(base), random_state=0).fit(X[120:], y[120:])
    np.testing.assert_array_equal(base.coef_, coef)
    np.testing.assert_array_equal(clf.oof_proba_, base.predict_proba(X[120:]))
    np.testing.assert_array_equal(clf.predict_proba(X), base.predict_proba(X))


def test_frozen_base_rejects_unknown_labels(small_data):
    X, y = small_data
    base = LogisticRegression(max_iter=500).fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="frozen base does not know"):
        MetaErrClassifier(FrozenEstimator(base)).fit(X, y)


def test_frozen_base_predicting_a_class_absent_from_fit_is_quiet(small_data):
    # Trust Score's ratio is 0 for a predicted class with no training row; its
    # log is clipped, and no divide-by-zero warning should reach the user.
    X, y = small_data
    base = LogisticRegression(max_iter=500).fit(X, y)
    clf = MetaErrClassifier(FrozenEstimator(base), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        clf.fit(X[y < 2], y[y < 2])
        p_error = clf.predict_error_proba(X[y == 2])
    assert np.all(np.isfinite(p_error))


def test_precomputed_oof_proba_replaces_the_cv(small_data):
    X, y = small_data
    base = LogisticRegression(max_iter=500)
    oof = cross_val_predict(base, X, y, cv=3, method="predict_proba")
    clf = MetaErrClassifier(base, random_state=0).fit(X, y, oof_proba=oof)
    np.testing.assert_array_equal(clf.oof_proba_, oof)
    # The same out-of-fold probabilities give the same meta-model as the CV.
    ref = _fitted(X, y)
    again = MetaErrClassifier(base, random_state=0).fit(X, y, oof_proba=ref.oof_proba_)
    np.testing.assert_allclose(again.predict_error_proba(X), ref.predict_error_proba(X))


# --------------------------------------------- pipelines, search, pickling


def test_text_pipeline_base():
    docs = [
        "the cat sat on the mat",
        "a cat and a kitten",
        "dogs chase cats",
        "the dog barked loudly",
        "a puppy and a dog",
        "dogs love bones",
        "stocks fell sharply",
        "the market rallied",
        "bond yields rose",
        "cats purr softly",
        "my dog sleeps",
        "shares and stocks",
    ] * 5
    y = np.array(
        [
            "pet",
            "pet",
            "pet",
            "dog",
            "dog",
            "dog",
            "money",
            "money",
            "money",
            "pet",
            "dog",
            "money",
        ]
        * 5
    )
    # Some wrong labels, so the base makes out-of-fold errors to learn from.
    y[[5, 13, 22, 30, 41, 50, 57]] = [
        "money",
        "dog",
        "pet",
        "pet",
        "money",
        "pet",
        "dog",
    ]
    base = make_pipeline(CountVectorizer(), LogisticRegression(max_iter=500))
    clf = MetaErrClassifier(base, cv=3, random_state=0).fit(docs, y)
    assert set(clf.predict(["a cat on a mat", "stocks rallied"])) <= set(y)
    assert clf.predict_error_proba(["a dog", "bond market"]).shape == (2,)
    assert clf.meta_learner_ is not None
    assert not hasattr(clf, "n_features_in_")


def test_last_step_of_a_pipeline(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    pipe = make_pipeline(
        StandardScaler(), MetaErrClassifier(GaussianNB(), random_state=0)
    ).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.7
    # Pipeline exposes only the standard methods: reach the error head directly.
    p_error = pipe[-1].predict_error_proba(pipe[:-1].transform(X_test))
    assert p_error.shape == (len(X_test),)


def test_grid_search_over_meta_learners(small_data):
    X, y = small_data
    search = GridSearchCV(
        MetaErrClassifier(LogisticRegression(max_iter=500), cv=3, random_state=0),
        {"meta_learner": ["logistic", "lightgbm"]},
        scoring=make_error_detection_scorer("auroc_f"),
        cv=3,
    ).fit(X, y)
    assert search.best_params_["meta_learner"] in ("logistic", "lightgbm")
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict_error_proba(X).shape == (X.shape[0],)


def test_clone_and_pickle_round_trip(small_data):
    X, y = small_data
    clf = _fitted(X, y, meta_learner="lightgbm")
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(
        restored.predict_error_proba(X), clf.predict_error_proba(X)
    )
    fresh = clone(clf)
    assert not hasattr(fresh, "meta_learner_")
    np.testing.assert_array_equal(
        fresh.fit(X, y).predict_error_proba(X), clf.predict_error_proba(X)
    )


# ------------------------------------------------------------- bad input


def test_base_without_predict_proba(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match="predict_proba"):
        MetaErrClassifier(SVC()).fit(X, y)


def test_single_class(small_data):
    X, _ = small_data
    with pytest.raises(ValueError, match=r"single class 0\.0: predicting errors"):
        MetaErrClassifier(LogisticRegression()).fit(X, np.zeros(len(X)))


@pytest.mark.parametrize("cv", [5, None])
def test_class_smaller_than_folds(small_data, cv):
    # cv=None is scikit-learn's 5 folds, with the same message
    X, y = small_data
    y = y.copy()
    y[:3] = 7
    with pytest.raises(ValueError, match=r"Class 7 has 3 member\(s\), fewer than cv=5"):
        MetaErrClassifier(LogisticRegression(), cv=cv).fit(X, y)


def test_base_that_cannot_fit_a_fold_named_in_the_error():
    # 7-NN fits the 9 samples but not a fold's 6, and scikit-learn's own
    # message speaks of a fit the user never made.
    X = np.random.default_rng(0).normal(size=(9, 3))
    y = np.repeat([0, 1, 2], 3)
    with pytest.raises(
        ValueError,
        match=r"out-of-fold model, 3 folds of the 9 training samples.*"
        r"n_neighbors = 7.*use more folds",
    ) as excinfo:
        MetaErrClassifier(KNeighborsClassifier(7), cv=3).fit(X, y)
    assert isinstance(excinfo.value.__cause__, ValueError)  # the base's own error


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda p: p[:, :2], "must have shape"),
        (lambda p: p[:-1], "must have shape"),
        (lambda p: p * 2, "must sum to one"),
        (lambda p: np.log(p), "finite, non-negative"),
    ],
    ids=["too-few-columns", "too-few-rows", "not-normalised", "logits"],
)
def test_bad_precomputed_proba(small_data, make_bad, message):
    X, y = small_data
    proba = np.full((len(X), 3), 1 / 3)
    with pytest.raises(ValueError, match=message):
        MetaErrClassifier(LogisticRegression()).fit(X, y, oof_proba=make_bad(proba))


def test_precomputed_proba_with_frozen_base(small_data):
    X, y = small_data
    base = FrozenEstimator(LogisticRegression(max_iter=500).fit(X, y))
    with pytest.raises(ValueError, match="cannot be combined"):
        MetaErrClassifier(base).fit(X, y, oof_proba=np.full((len(X), 3), 1 / 3))


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_wrong_number_of_features(small_data, method):
    X, y = small_data
    clf = _fitted(X, y)
    with pytest.raises(ValueError, match="features"):
        getattr(clf, method)(X[:, :5])


@pytest.mark.parametrize("method", PREDICT_METHODS)
def test_predict_before_fit(small_data, method):
    X, _ = small_data
    with pytest.raises(NotFittedError):
        getattr(MetaErrClassifier(LogisticRegression()), method)(X)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_rejected_when_base_cannot_take_it(small_data, bad):
    X, y = small_data
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        MetaErrClassifier(LogisticRegression()).fit(X, y)
    clf = _fitted(small_data[0], y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clf.predict_error_proba(X)


def test_unknown_feature_group(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match="features must be a non-empty subset"):
        _fitted(X, y, features=("proba", "weights"))


def test_unknown_meta_learner_name(small_data):
    X, y = small_data
    with pytest.raises(ValueError, match="meta_learner"):
        _fitted(X, y, meta_learner="xgboost")


def test_no_out_of_fold_errors_falls_back_to_msp():
    # Two far-apart blobs: the base never errs, so no meta-model can be learned.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-10, 1, (40, 2)), rng.normal(10, 1, (40, 2))])
    y = np.repeat([0, 1], 40)
    with pytest.warns(UserWarning, match="0 out-of-fold errors"):
        clf = _fitted(X, y)
    assert clf.meta_learner_ is None
    np.testing.assert_allclose(
        clf.predict_error_proba(X), 1 - clf.predict_proba(X).max(axis=1)
    )


def test_fewer_errors_than_min_errors_falls_back_to_msp(small_data):
    X, y = small_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default learns from a few errors
        learned = _fitted(X, y)
    n_errors = int(learned.oof_error_.sum())
    assert 0 < n_errors < X.shape[0] - n_errors
    assert learned.meta_learner_ is not None
    assert _fitted(X, y, min_errors=n_errors).meta_learner_ is not None
    with pytest.warns(UserWarning, match=f"min_errors={n_errors + 1}") as record:
        clf = _fitted(X, y, min_errors=n_errors + 1)
    # it names the line that called fit (in _fitted), not scikit-learn's wrapper
    assert {w.filename for w in record if "min_errors" in str(w.message)} == {__file__}
    assert clf.meta_learner_ is None
    np.testing.assert_allclose(
        clf.predict_error_proba(X), 1 - clf.predict_proba(X).max(axis=1)
    )


# ------------------------------------------------- the statistical claim


def test_beats_msp_on_digits_with_gaussian_nb(digits_split):
    # bench_digits.py measures +0.205 mean AUROC_f over seeds 0-4; a 0.10 margin
    # on one fixed seed leaves ample room.
    X_train, X_test, y_train, y_test = digits_split
    clf = MetaErrClassifier(GaussianNB(), random_state=0).fit(X_train, y_train)
    correct = clf.predict(X_test) == y_test
    msp = auroc_f(correct, clf.predict_proba(X_test).max(axis=1))
    meta = auroc_f(correct, -clf.predict_error_proba(X_test))
    assert meta >= msp + 0.10


def test_default_features_leave_out_the_saturated_sorted_probabilities(digits_split):
    # GaussianNB's probabilities are nearly one-hot: the standardised tail of the
    # sorted vector gives a few rows extreme values. bench_digits.py measures
    # the default without them at 0.9955 mean AUROC_f against 0.9866 with them
    # (seeds 0-4, never worse on a seed); here, seed 0, 0.995 against 0.982.
    X_train, X_test, y_train, y_test = digits_split
    default = MetaErrClassifier(GaussianNB(), random_state=0).fit(X_train, y_train)
    with_proba = clone(default).set_params(features=default.features + ("proba",))
    with_proba.fit(X_train, y_train, oof_proba=default.oof_proba_)
    correct = default.predict(X_test) == y_test
    assert auroc_f(correct, -default.predict_error_proba(X_test)) > auroc_f(
        correct, -with_proba.predict_error_proba(X_test)
    )


def test_no_worse_than_msp_with_logistic_regression(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MetaErrClassifier(base, random_state=0).fit(X_train, y_train)
    correct = clf.predict(X_test) == y_test
    msp = auroc_f(correct, clf.predict_proba(X_test).max(axis=1))
    meta = auroc_f(correct, -clf.predict_error_proba(X_test))
    assert meta >= msp - 0.005


def test_float32_probabilities_off_by_more_than_rounding(data_dir):
    # GaussianNB on float32 MNIST pixels: rows of predict_proba miss 1 by 1.2e-4.
    # `metaerr compare --dataset mnist` crashed once the baselines started to
    # check that rows sum to one; the base's own probabilities must pass.
    from sklearn.naive_bayes import GaussianNB

    from metaerr_sk.datasets import load_mnist

    X, y = load_mnist(data_dir, subset="test")
    X = X[:3000].reshape(3000, -1).astype(np.float32) / 255
    y = y[:3000]
    base = GaussianNB().fit(X[:2000], y[:2000])
    off = np.abs(base.predict_proba(X[2000:]).sum(axis=1) - 1).max()
    assert 1e-4 < off < 1e-2  # the case at hand
    clf = MetaErrClassifier(GaussianNB(), cv=3, random_state=0).fit(X[:2000], y[:2000])
    assert np.all(np.isfinite(clf.predict_error_proba(X[2000:])))
