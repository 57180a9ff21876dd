"""MetaErrClassifier: a classifier that also says where it is likely to be wrong."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import Bunch, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._delegation import route_fit_to_base
from ._meta_features import (
    NeighborhoodFeatures,
    build_meta_features,
    check_feature_groups,
)
from ._meta_learners import META_LEARNERS
from ._oof import check_precomputed_proba, error_target, out_of_fold_proba

# Without "proba": the sorted probabilities repeat what "confidence" says, and
# where they saturate (GaussianNB on digits) the standardised near-zero tail
# gives a few rows extreme values; dropping them raised AUROC_f there from 0.987
# to 0.996 (benchmarks/bench_digits.py).
DEFAULT_FEATURES = ("confidence", "class", "neighbors")


def _unwrap(estimator):
    """The estimator inside a ``FrozenEstimator``, else the estimator itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _takes_raw_input(estimator):
    """A pipeline base may take text, paths or frames that only it can read."""
    return isinstance(_unwrap(estimator), Pipeline)


def _flatten(X):
    return X.reshape(X.shape[0], -1) if X.ndim > 2 else X


def _flatten_dense(X):
    """Rows as a dense 2-D array: a space fitted on dense rows centres them,
    which sparse rows given later cannot be."""
    return _flatten(X.toarray() if sp.issparse(X) else X)


def _to_space(transformer, X):
    """Rows of ``X`` in the neighbour space: a 2-D array or sparse matrix."""
    Z = transformer.transform(X)
    return Z.tocsr() if sp.issparse(Z) else _flatten(np.asarray(Z, dtype=float))


class MetaErrClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Wrap a classifier and learn to predict, per sample, whether it is wrong.

    The base ``estimator`` is cross-validated on the training data; its
    out-of-fold probabilities give every training sample an honest
    "was the base wrong here?" target and a vector of meta-features (what the
    base exposes: its probabilities, plus the neighbourhood of the sample among
    the training points). A meta-learner is fitted on them, and the base is refit
    on all data. The wrapper predicts like its base and adds
    :meth:`predict_error_proba`.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The base model. Wrapped in :class:`sklearn.frozen.FrozenEstimator`, it is
        used as it is: no cross-validation and no refit, and the data passed to
        ``fit`` must be data the base never trained on.

    meta_learner : {"logistic", "lightgbm", "hist_gradient_boosting", \
            "random_forest", "mlp", "knn"} or classifier, default="logistic"
        Learns P(base is wrong) from the meta-features. A classifier instance
        (with ``predict_proba``) is cloned.

    min_errors : int, default=1
        The fewest out-of-fold errors, and right predictions, the meta-learner
        is fitted on. With fewer there is nothing, or too little, to learn the
        difference from: ``meta_learner_`` is then ``None`` and error
        probabilities fall back to ``1 - max probability``, with a
        ``UserWarning``. The default falls back only when the base made no
        out-of-fold error, or only errors.

    features : tuple of str, default=("confidence", "class", "neighbors")
        Meta-feature groups, any of ``"confidence"`` (max probability, margin,
        entropy, DOCTOR), ``"proba"`` (sorted probabilities), ``"class"``
        (one-hot predicted class), ``"neighbors"`` (Trust Score, k-NN label
        agreement, out-of-fold error rate of the nearest training samples,
        distance to the nearest one) and ``"input"`` (the input in the neighbour
        space, e.g. an embedding). ``"proba"`` is left out of the default: it
        repeats ``"confidence"``, and where probabilities saturate its
        near-zero tail hurts (GaussianNB on digits: AUROC_f 0.996 without it,
        0.987 with it, ``benchmarks/bench_digits.py``).

    cv : int, cross-validation generator or iterable, default=5
        Folds for the out-of-fold probabilities. An int means shuffled
        ``StratifiedKFold`` seeded by ``random_state``; ``None`` means 5.

    n_neighbors : int, default=10
        Neighbours for the ``"neighbors"`` group.

    neighbor_space : {"auto", "raw", "scaled"} or transformer, default="auto"
        Where neighbourhoods are measured. ``"raw"``: the (flattened) input,
        missing values imputed; ``"scaled"``: the same, standardised;
        a transformer (e.g. ``PCA(50)`` or an embedding network) is cloned and
        fitted on the training inputs; one already fitted (say on unlabelled
        data too) and wrapped in :class:`sklearn.frozen.FrozenEstimator` is
        used as it is. ``"auto"``: for a ``Pipeline`` base, the
        output of all its steps but the last (so text pipelines work);
        otherwise ``"scaled"``. Standardising is the safe choice for features
        in different units; for inputs in one unit, such as pixels, ``"raw"``
        can be the better space: on scikit-learn's digits it raised MetaErr's
        AUROC_f for all six bases of ``benchmarks/bench_digits.py`` (its
        ``metaerr_raw`` row); standardising had given the rarely inked border
        pixels the weight of the common ones.

    error_threshold : float, default=0.5
        :meth:`predict_error` flags samples whose error probability reaches it.

    n_jobs : int, default=None
        Folds fitted in parallel by ``cross_val_predict``.

    random_state : int, RandomState instance or None, default=None
        Seeds the fold shuffling and the named meta-learners.

    verbose : int, default=0
        Progress messages; passed to ``cross_val_predict``.

    Attributes
    ----------
    estimator_ : classifier
        The base refit on all training data (or the frozen base).

    meta_learner_ : classifier or None
        The fitted meta-learner; ``None`` when the base made fewer than
        ``min_errors`` out-of-fold errors (or right predictions), in which case
        error probabilities fall back to ``1 - max probability``.

    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Features seen in ``fit`` (not set when the base pipeline takes raw input
        such as text).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen in ``fit``, when ``X`` had string column names.

    oof_proba_ : ndarray of shape (n_samples, n_classes)
        Out-of-fold (or frozen, or precomputed) base probabilities on the
        training data.

    oof_error_ : ndarray of shape (n_samples,), dtype=bool
        Whether the base's out-of-fold prediction was wrong: the meta-target.

    neighbor_space_ : transformer or None
        Fitted map from inputs to the neighbour space.

    neighborhood_ : NeighborhoodFeatures or None
        Fitted neighbour indexes over the training points.

    meta_features_ : ndarray of shape (n_samples, n_meta_features)
        The meta-learner's training inputs, built from ``oof_proba_`` (each
        training point left out of its own neighbourhood); its targets are
        ``oof_error_``. See :meth:`meta_features` for new data.

    See Also
    --------
    SelfTrainingWithMetaErr : Pseudo-labelling that trusts MetaErr.
    metaerr_sk.baselines : Confidence scores MetaErr is compared with.
    metaerr_sk.metrics : Failure-detection metrics and scorers.

    Notes
    -----
    Inspired by MetaErr (Totakura & Chakraborty, 2026), of which only the abstract
    is public: the meta-features, the neighbourhood group and the choice of
    meta-learners are this package's design.

    ``predict`` returns ``classes_[argmax(predict_proba)]`` - the prediction whose
    correctness the meta-learner models - even for bases whose own ``predict``
    can disagree with their probabilities (e.g. ``SVC(probability=True)``,
    deprecated since scikit-learn 1.9, whose ``predict`` ignores its Platt
    probabilities).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from metaerr_sk import MetaErrClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MetaErrClassifier(GaussianNB(), random_state=0).fit(X[:1000], y[:1000])
    >>> p_error = clf.predict_error_proba(X[1000:])
    >>> p_error.shape
    (797,)
    >>> bool(p_error[clf.predict(X[1000:]) != y[1000:]].mean() > p_error.mean())
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "meta_learner": [
            StrOptions(set(META_LEARNERS)),
            HasMethods(["fit", "predict_proba"]),
        ],
        "min_errors": [Interval(Integral, 1, None, closed="left")],
        "features": [list, tuple],
        "cv": ["cv_object"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "neighbor_space": [
            StrOptions({"auto", "raw", "scaled"}),
            HasMethods(["fit", "transform"]),
        ],
        "error_threshold": [Interval(Real, 0, 1, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        meta_learner="logistic",
        min_errors=1,
        features=DEFAULT_FEATURES,
        cv=5,
        n_neighbors=10,
        neighbor_space="auto",
        error_threshold=0.5,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.meta_learner = meta_learner
        self.min_errors = min_errors
        self.features = features
        self.cv = cv
        self.n_neighbors = n_neighbors
        self.neighbor_space = neighbor_space
        self.error_threshold = error_threshold
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    @_fit_context(
        # The base and the meta-learner are validated when they are fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, *, oof_proba=None, **fit_params):
        """Fit the base, its out-of-fold error targets and the meta-learner.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Training inputs. A ``Pipeline`` base may take raw input (text,
            paths); images of shape ``(n_samples, ...)`` are accepted.

        y : array-like of shape (n_samples,)
            Class labels, of any type.

        oof_proba : array-like of shape (n_samples, n_classes), default=None
            Precomputed out-of-fold probabilities of the base on ``(X, y)``,
            columns in sorted label order, used instead of running the
            cross-validation (the base is still refit on all data unless frozen).

        **fit_params : dict
            Passed to the base's ``fit`` (requires metadata routing enabled
            with ``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _raise_for_params(fit_params, self, "fit")
        features = check_feature_groups(self.features)
        X, y = self._validate_fit_data(X, y)
        check_classification_targets(y)

        frozen = isinstance(self.estimator, FrozenEstimator)
        self.classes_ = self._classes(y, frozen)
        if self.classes_.size < 2:
            raise ValueError(
                # .item(): the label as the user wrote it, not np.float64(0.0)
                f"y has a single class {np.asarray(self.classes_[0]).item()!r}: "
                "predicting errors needs a classifier trained on at least two "
                "classes."
            )

        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
        else:
            routed = Bunch(estimator=Bunch(fit={}))

        self.oof_proba_, self.estimator_ = self._fit_base(
            X, y, oof_proba, frozen, routed.estimator.fit
        )
        self.oof_error_ = error_target(self.oof_proba_, y, self.classes_)

        self.neighbor_space_, Z = self._fit_neighbor_space(X, features)
        self.neighborhood_ = None
        if "neighbors" in features:
            y_index = np.searchsorted(self.classes_, y)
            self.neighborhood_ = NeighborhoodFeatures(self.n_neighbors).fit(
                Z, y_index, self.oof_error_, self.classes_.size
            )
        # each training point is left out of its own neighbourhood
        self.meta_features_ = build_meta_features(
            self.oof_proba_,
            features,
            neighborhood=self.neighborhood_,
            Z=Z,
            exclude_self=True,
        )
        self.meta_learner_ = self._fit_meta_learner(
            self.meta_features_, self.oof_error_
        )
        return self

    def _validate_fit_data(self, X, y):
        if _takes_raw_input(self.estimator):
            # A pipeline base reads its own input (text, file paths, frames):
            # only its length and feature names are checked here.
            X, y = validate_data(self, X, y, skip_check_array=True)
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            return X, y
        return validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            allow_nd=True,
            ensure_all_finite=self._finite_policy(),
            ensure_min_samples=2,
        )

    def _finite_policy(self):
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return "allow-nan" if allow_nan else True

    def _classes(self, y, frozen):
        if not frozen:
            return np.unique(y)
        check_is_fitted(self.estimator)
        classes = self.estimator.classes_
        unseen = np.setdiff1d(np.unique(y), classes)
        if unseen.size:
            raise ValueError(
                f"y holds labels {unseen.tolist()} the frozen base does not know "
                f"(its classes_ are {classes.tolist()})."
            )
        return classes

    def _fit_base(self, X, y, oof_proba, frozen, fit_params):
        """Out-of-fold probabilities and the final base."""
        if frozen:
            if oof_proba is not None:
                raise ValueError(
                    "oof_proba cannot be combined with a FrozenEstimator base: "
                    "its probabilities on the given data are used directly."
                )
            return self.estimator.predict_proba(X), self.estimator
        n_samples = _num_samples(X)
        if oof_proba is not None:
            proba = check_precomputed_proba(oof_proba, n_samples, self.classes_.size)
        else:
            if self.verbose:
                print(f"[MetaErr] out-of-fold probabilities, cv={self.cv}")
            proba = out_of_fold_proba(
                clone(self.estimator),
                X,
                y,
                cv=self.cv,
                n_jobs=self.n_jobs,
                random_state=self.random_state,
                params=fit_params,
            )
        if self.verbose:
            print("[MetaErr] refitting the base on all training data")
        estimator = clone(self.estimator).fit(X, y, **fit_params)
        return proba, estimator

    def _fit_neighbor_space(self, X, features):
        """Fit the map to the neighbour space; return it and the training rows."""
        if "neighbors" not in features and "input" not in features:
            return None, None
        space = self.neighbor_space
        base = _unwrap(self.estimator_)
        if space == "auto" and isinstance(base, Pipeline) and len(base) > 1:
            # The base's own preprocessing is already fitted: reuse it.
            transformer = base[:-1]
            return transformer, _to_space(transformer, X)
        if isinstance(space, str):
            sparse = sp.issparse(X)
            steps = [
                FunctionTransformer(
                    _flatten if sparse else _flatten_dense, accept_sparse=True
                ),
                SimpleImputer(keep_empty_features=True),
            ]
            if space in ("auto", "scaled"):
                steps.append(StandardScaler(with_mean=not sparse))
            transformer = make_pipeline(*steps)
        else:
            transformer = clone(space)  # a FrozenEstimator clones to itself
        if not isinstance(transformer, FrozenEstimator):
            # (a frozen one is used as fitted; its fit would also demand a y)
            transformer.fit(X)
        return transformer, _to_space(transformer, X)

    def _fit_meta_learner(self, meta_X, error):
        n_errors = int(error.sum())
        if min(n_errors, error.size - n_errors) < self.min_errors:
            warnings.warn(
                f"The base made {n_errors} out-of-fold errors on "
                f"{error.size} samples (min_errors={self.min_errors} of each "
                "kind): too little to learn the difference from, so error "
                "probabilities fall back to 1 - max probability.",
                UserWarning,
                stacklevel=4,  # fit's caller, past scikit-learn's fit wrapper
            )
            return None
        m = self.meta_learner
        if isinstance(m, str):
            meta_learner = META_LEARNERS[m](self.random_state, meta_X.shape[0])
        else:
            meta_learner = clone(m)
        return meta_learner.fit(meta_X, error)

    # ------------------------------------------------------------- predict

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        if _takes_raw_input(self.estimator):
            return validate_data(self, X, reset=False, skip_check_array=True)
        return validate_data(
            self,
            X,
            reset=False,
            accept_sparse=["csr", "csc"],
            allow_nd=True,
            ensure_all_finite=self._finite_policy(),
        )

    def predict_proba(self, X):
        """Class probabilities of the base.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self.estimator_.predict_proba(X)

    def predict(self, X):
        """The base's prediction, ``classes_[argmax(predict_proba(X))]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_error_proba(self, X, *, proba=None):
        """Probability that the base's prediction on each sample is wrong.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        proba : array-like of shape (n_samples, n_classes), default=None
            Class probabilities on ``X`` to judge instead of the fitted base's,
            columns in ``classes_`` order: for instance those of a base refitted
            on more data (self-training) or computed elsewhere (a GPU batch
            job). ``None`` asks the fitted base.

        Returns
        -------
        p_error : ndarray of shape (n_samples,)
        """
        X, proba = self._data_and_proba(X, proba)
        return self._error_proba(X, proba)

    def _predict_and_error_proba(self, X):
        """``(predict(X), predict_error_proba(X))`` from one pass of the base,
        for the scorers (a skorch network's forward pass is the costly part)."""
        X, proba = self._data_and_proba(X, None)
        return self.classes_[np.argmax(proba, axis=1)], self._error_proba(X, proba)

    def meta_features(self, X, *, proba=None):
        """The meta-learner's input for ``X``: what it judges the base by.

        With ``meta_features_`` and ``oof_error_`` (its training rows and
        targets), another meta-learner can be fitted and compared without
        refitting the base; the rows also show why a sample is flagged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        proba : array-like of shape (n_samples, n_classes), default=None
            Class probabilities on ``X`` instead of the fitted base's, as in
            :meth:`predict_error_proba`.

        Returns
        -------
        meta_X : ndarray of shape (n_samples, n_meta_features)
            The groups of ``features`` side by side, as in ``meta_features_``.
        """
        X, proba = self._data_and_proba(X, proba)
        return self._meta_features(X, proba)

    def _data_and_proba(self, X, proba):
        X = self._validate_predict_data(X)
        if proba is None:
            proba = self.estimator_.predict_proba(X)
        else:
            proba = check_precomputed_proba(
                proba, _num_samples(X), self.classes_.size, name="proba"
            )
        return X, proba

    def _meta_features(self, X, proba):
        Z = None
        if self.neighbor_space_ is not None:
            Z = _to_space(self.neighbor_space_, X)
        return build_meta_features(
            proba, tuple(self.features), neighborhood=self.neighborhood_, Z=Z
        )

    def _error_proba(self, X, proba):
        if self.meta_learner_ is None:
            return 1.0 - proba.max(axis=1)
        positive = np.flatnonzero(self.meta_learner_.classes_ == 1)[0]
        meta_X = self._meta_features(X, proba)
        return self.meta_learner_.predict_proba(meta_X)[:, positive]

    def predict_error(self, X):
        """Whether the base's prediction is predicted to be wrong.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        is_error : ndarray of shape (n_samples,), dtype=bool
            ``predict_error_proba(X) >= error_threshold``.
        """
        return self.predict_error_proba(X) >= self.error_threshold

    # ------------------------------------------------------------- plumbing

    def get_metadata_routing(self):
        """Get metadata routing of this object.

        Returns
        -------
        routing : MetadataRouter
            Routes ``fit`` metadata to the base estimator's ``fit``; this
            estimator's own ``score`` takes ``sample_weight``.
        """
        return route_fit_to_base(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base_tags = get_tags(self.estimator)
        tags.input_tags.sparse = base_tags.input_tags.sparse
        tags.input_tags.allow_nan = base_tags.input_tags.allow_nan
        tags.input_tags.string = base_tags.input_tags.string
        return tags
