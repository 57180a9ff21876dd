"""Metadata routing: ``sample_weight`` reaches every fit of the base, cut to
the rows that fit sees."""

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from metaerr_sk import DataCentricDebugger, MetaErrClassifier, SelfTrainingWithMetaErr

# (row ids, sample_weight) of every fit of a _WeightRecorder: clone deep-copies
# parameters, so the record has to live outside the instances.
FITS = []


class _WeightRecorder(ClassifierMixin, BaseEstimator):
    """Logistic regression on columns 1: whose column 0 is the row id; records
    the row ids and the weights of every fit."""

    def fit(self, X, y, sample_weight=None):
        FITS.append((X[:, 0].astype(int), sample_weight))
        self.model_ = LogisticRegression(max_iter=300).fit(
            X[:, 1:], y, sample_weight=sample_weight
        )
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X[:, 1:])

    def predict(self, X):
        return self.model_.predict(X[:, 1:])


@pytest.fixture
def weighted_digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    X = np.column_stack([np.arange(len(y)), X])
    weight = 1.0 + np.arange(len(y)) % 3
    FITS.clear()
    return X, y, weight


def _assert_every_fit_got_its_rows_weights(weight, min_fits):
    assert len(FITS) >= min_fits
    for rows, sample_weight in FITS:
        assert sample_weight is not None
        np.testing.assert_array_equal(sample_weight, weight[rows])


def test_meta_err_routes_sample_weight_to_every_base_fit(weighted_digits):
    X, y, weight = weighted_digits
    with sklearn.config_context(enable_metadata_routing=True):
        base = _WeightRecorder().set_fit_request(sample_weight=True)
        MetaErrClassifier(base, cv=3, random_state=0).fit(X, y, sample_weight=weight)
    # 3 out-of-fold models and the refit on all rows
    _assert_every_fit_got_its_rows_weights(weight, min_fits=4)
    assert sorted(FITS[-1][0]) == list(range(len(y)))


@pytest.mark.parametrize("pseudo_label_weight", [0.0, 4.0])
def test_self_training_routes_sample_weight_to_every_base_fit(
    weighted_digits, pseudo_label_weight
):
    X, y, weight = weighted_digits
    y_semi = np.full_like(y, -1)
    y_semi[:60] = y[:60]
    with sklearn.config_context(enable_metadata_routing=True):
        base = _WeightRecorder().set_fit_request(sample_weight=True)
        clf = SelfTrainingWithMetaErr(
            base,
            criterion="k_best",
            k_best=40,
            max_iter=2,
            cv=3,
            pseudo_label_weight=pseudo_label_weight,
            random_state=0,
        ).fit(X, y_semi, sample_weight=weight)
    # 3 out-of-fold models, MetaErr's refit (also round 1's base), round 2's
    # base, the final one; the routed weights times the pseudo-labels' own
    if pseudo_label_weight:
        assert np.all(clf.sample_weight_[y_semi != -1] == 1.0)
        pseudo = clf.labeled_iter_ > 0
        assert np.all(clf.sample_weight_[pseudo] < 1.0)
        weight = weight * clf.sample_weight_
    else:
        assert clf.sample_weight_ is None
    _assert_every_fit_got_its_rows_weights(weight, min_fits=6)
    final_rows = FITS[-1][0]
    assert final_rows.size == 60 + 2 * 40
    # pseudo-labelled samples keep their own weight in the later fits
    assert np.any(clf.labeled_iter_[final_rows] > 0)


@pytest.mark.parametrize("make", [MetaErrClassifier, SelfTrainingWithMetaErr])
def test_sample_weight_needs_metadata_routing(make, weighted_digits):
    X, y, weight = weighted_digits
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        make(LogisticRegression()).fit(X, y, sample_weight=weight)


@pytest.mark.parametrize("make", [MetaErrClassifier, SelfTrainingWithMetaErr])
def test_sample_weight_the_base_did_not_request_is_an_error(make, weighted_digits):
    X, y, weight = weighted_digits
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="set_fit_request"):
            make(LogisticRegression()).fit(X, y, sample_weight=weight)


# fitted on labels only: the self-training warns it has nothing to pseudo-label
@pytest.mark.filterwarnings("ignore:y contains no unlabeled samples")
@pytest.mark.parametrize("make", [MetaErrClassifier, SelfTrainingWithMetaErr])
def test_pipeline_score_with_routing_enabled(make, weighted_digits):
    """Pipeline.score routes ``sample_weight`` (None too) to its last step,
    which must declare its own ``score``: it raised TypeError before."""
    X, y, weight = weighted_digits
    X = X[:, 1:]
    with sklearn.config_context(enable_metadata_routing=True):
        last = make(LogisticRegression(max_iter=300), random_state=0)
        pipe = make_pipeline(StandardScaler(), last).fit(X, y)
        assert pipe.score(X, y) == accuracy_score(y, pipe.predict(X))
        last.set_score_request(sample_weight=True)
        assert pipe.score(X, y, sample_weight=weight) == pytest.approx(
            accuracy_score(y, pipe.predict(X), sample_weight=weight)
        )


# ------------------------------------------------------- DataCentricDebugger
def _debugger_split(X, y, weight):
    """Training rows 0-199 (weighted), error sample / deployment 200-209, pool
    210-299: distinct row ids in column 0."""
    train = dict(X=X[:200], y=y[:200], sample_weight=weight[:200])
    pool = dict(X_pool=X[210:], y_pool=y[210:])
    return train, X[200:210], y[200:210], pool


@pytest.mark.parametrize("error_source", ["labels", "metaerr"])
def test_debugger_routes_sample_weight_added_samples_weigh_one(
    error_source, weighted_digits
):
    X, y, weight = weighted_digits
    train, X_err, y_err, pool = _debugger_split(X, y, weight)
    errors = (
        dict(X_error=X_err, y_error=y_err)
        if error_source == "labels"
        else dict(X_deploy=X_err)
    )
    with sklearn.config_context(enable_metadata_routing=True):
        base = _WeightRecorder().set_fit_request(sample_weight=True)
        dcd = DataCentricDebugger(
            base, budget=20, error_source=error_source, n_flagged=10
        ).fit(**train, **pool, **errors)
    # with "metaerr", MetaErr's 5 out-of-fold models and refit come first
    assert len(FITS) == (1 if error_source == "labels" else 7)
    expected = np.append(weight[:200], 1.0)  # row ids >= 200: added samples
    for rows, sample_weight in FITS:
        np.testing.assert_array_equal(sample_weight, expected[np.minimum(rows, 200)])
    final_rows = FITS[-1][0]
    n_added = 20 + (10 if error_source == "labels" else 0)
    assert final_rows.size == 200 + n_added
    # the final fit: training rows, the selected pool samples, the error sample
    np.testing.assert_array_equal(final_rows[200:220], dcd.selected_ + 210)


def test_debugger_routes_to_a_given_meta_estimator_on_its_own(weighted_digits):
    X, y, weight = weighted_digits
    train, X_err, _, pool = _debugger_split(X, y, weight)
    with sklearn.config_context(enable_metadata_routing=True):
        base = _WeightRecorder().set_fit_request(sample_weight=False)
        meta = MetaErrClassifier(
            _WeightRecorder().set_fit_request(sample_weight=True), cv=3
        )
        DataCentricDebugger(
            base, budget=20, error_source="metaerr", meta_estimator=meta, n_flagged=10
        ).fit(**train, **pool, X_deploy=X_err)
    *meta_fits, (final_rows, final_weight) = FITS
    assert len(meta_fits) == 4  # 3 out-of-fold models, the refit
    for rows, sample_weight in meta_fits:
        np.testing.assert_array_equal(sample_weight, weight[rows])
    assert final_weight is None and final_rows.size == 220


def test_debugger_refuses_other_per_sample_metadata(weighted_digits):
    class _GroupsConsumer(_WeightRecorder):
        def fit(self, X, y, groups=None):
            return super().fit(X, y)

    X, y, weight = weighted_digits
    train, X_err, y_err, pool = _debugger_split(X, y, weight)
    train.pop("sample_weight")
    with sklearn.config_context(enable_metadata_routing=True):
        base = _GroupsConsumer().set_fit_request(groups=True)
        with pytest.raises(ValueError, match="'groups' has one value per training"):
            DataCentricDebugger(base, budget=20).fit(
                **train, **pool, X_error=X_err, y_error=y_err, groups=np.arange(200)
            )


def test_debugger_sample_weight_needs_metadata_routing(weighted_digits):
    X, y, weight = weighted_digits
    train, X_err, y_err, pool = _debugger_split(X, y, weight)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        DataCentricDebugger(LogisticRegression(), budget=20).fit(
            **train, **pool, X_error=X_err, y_error=y_err
        )
