"""SelfTrainingWithMetaErr: pseudo-label where MetaErr predicts the base is right.

scikit-learn's :class:`~sklearn.semi_supervised.SelfTrainingClassifier` adds the
unlabelled samples on which the base is *confident*. Confidence is exactly what
fails on the samples that matter, so here a :class:`MetaErrClassifier`, trained
on the real labels only, predicts P(base is right) for each unlabelled sample
and that decides.

Honest meta-targets. The meta-model learns from out-of-fold mistakes on the
*real* labelled samples, never from pseudo-labels. A trap: if the pseudo-labelled
set is added to the models that produce the out-of-fold predictions, those
pseudo-labels (made by a base that saw the held-out fold) carry the held-out
labels back in, the real samples look almost always correct, the meta-model has
no failures left and selection collapses to plain confidence. ``history_``
records the number of out-of-fold errors and the meta-model's own out-of-fold
AUROC each iteration so such a collapse shows.
"""

import warnings
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.metrics import accuracy_score
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
)
from sklearn.utils.metadata_routing import (
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._confidence_cap import ConfidenceCap
from ._delegation import PredictsWithFittedBase, route_fit_to_base
from ._meta_err import MetaErrClassifier
from ._meta_features import check_feature_groups
from ._meta_learners import META_LEARNERS
from ._oof import few_label_folds, fold_fit_error, meta_learner_oof_auroc
from ._pseudo_labels import k_best_count, select_trusted
from ._round_report import (
    round_message,
    round_record,
    warn_first_round_undone,
    warn_nothing_trusted,
)
from ._sample_weight import sample_weight_key
from ._semi_labels import UNLABELED, labelled_rows, plain_label

# MetaErr's feature groups here by default. Unlike MetaErrClassifier's default
# they keep the sorted probabilities: without them, or without the one-hot
# class as well, the benchmark met its targets in no more cells on the seeds
# those were not first tried on (benchmarks/README.md, "Pseudo-labelling").
META_FEATURES = ("confidence", "proba", "class", "neighbors")


class SelfTrainingWithMetaErr(
    PredictsWithFittedBase, ClassifierMixin, MetaEstimatorMixin, BaseEstimator
):
    """Self-training that pseudo-labels where MetaErr predicts the base is right.

    Follows :class:`sklearn.semi_supervised.SelfTrainingClassifier`: ``y == -1``
    marks unlabelled samples. Each iteration the base is fitted on the real and
    pseudo labels so far; a :class:`MetaErrClassifier` fitted on the *real*
    labelled samples only (out-of-fold errors, neighbourhood features) predicts
    P(base is right) on the unlabelled ones, and those it trusts get the base's
    prediction as label.

    Parameters
    ----------
    estimator : classifier with ``fit`` and ``predict_proba``
        The base. A ``Pipeline`` base may take raw input (text, paths): ``X`` is
        then not validated here, only indexed, and the pipeline reads it.

    meta_learner : {"logistic", "lightgbm", "hist_gradient_boosting", \
            "random_forest", "mlp", "knn"} or classifier, default="logistic"
        MetaErr's meta-learner.

    features : tuple of str, default=("confidence", "proba", "class", \
            "neighbors")
        MetaErr's meta-feature groups (see :class:`MetaErrClassifier`, whose
        default leaves out ``"proba"``). With a few dozen real labels every
        group is a handful more weights to fit on a few out-of-fold errors.
        On the benchmark, ``("confidence", "neighbors")`` made the
        pseudo-labels more precise in 19 of 24 cells over three seed sets,
        from fewer of them, and lost test accuracy where more pseudo-labels
        pay (Fashion-MNIST, 10 labels per class: 1.0 point); on the seed sets
        it was not tried on first, it and the default meet both targets in as
        many cells (``benchmarks/README.md``).

    min_errors : int, default=5
        The fewest out-of-fold errors on the real labels, and right
        predictions, for MetaErr's meta-learner to be used. With fewer (a few
        labels per class on an easy task) it has next to nothing to learn
        failures from, and the base's max probability is the trust instead, as
        in ``SelfTrainingClassifier`` (relative to its highest for a base that
        reaches ``threshold`` nowhere, see ``cap_at_confidence``);
        ``history_``'s ``trust`` says which.
        On small tabular sets (see Notes) most runs have fewer than 5, and
        there the fallback made the pseudo-labels more precise than a
        meta-learner fitted on 1 to 4 errors, at about the same test accuracy.

    cap_at_confidence : bool, default=True
        Trust a pseudo-label at most as much as the base does: P(base is
        right) is the lower of MetaErr's and the base's max probability.
        MetaErr, fitted on a few dozen real labels, can be over-optimistic
        across the board (on CIFAR-10 with 4 labels per class, seed 0, its
        first round put two thirds of the pool above ``threshold``); the cap
        lets the base's own doubt count where MetaErr has none. A base that
        the out-of-fold predictions for the real labels show to be
        under-confident (a random forest's votes, a regularised logistic
        regression on text) is first sharpened by temperature scaling fitted
        on them, so that its raw probabilities do not block every sample; an
        over-confident one is never softened. A base whose probabilities
        reach ``threshold`` on no sample, its real labels included, cannot say
        "sure" at all (5-nearest neighbours with 4 labels per class say 4/5 at
        most): its confidence is then read relative to the highest it gives,
        in the ``min_errors`` fallback too (there unsharpened, as in
        ``SelfTrainingClassifier`` otherwise).
        ``history_`` records the temperature. ``False`` trusts MetaErr alone.

    threshold : float, default=0.9
        With ``criterion="threshold"``, unlabelled samples whose predicted
        P(base is right) exceeds it are pseudo-labelled.

    criterion : {"threshold", "k_best"}, default="threshold"
        ``"threshold"``: every sample above ``threshold``; ``"k_best"``: the
        ``k_best`` most trusted samples per iteration.

    k_best : int or float, default=10
        Samples added per iteration with ``criterion="k_best"``: an int is a
        count; a float in (0, 1] a fraction of the samples unlabelled when
        ``fit`` starts (rounded, at least 1), so that ``k_best=0.1`` with
        ``max_iter=10`` labels them all, the most trusted first, whatever the
        size of the unlabelled set.

    balanced : bool, default=True
        Share the ``k`` samples an iteration adds (the number above
        ``threshold``, or ``k_best``) equally among the predicted classes, each
        class's most trusted first - below the threshold too for a class with few
        above it - so easy classes do not swamp the rest. After class-balanced
        self-training (Zou et al. 2018), which takes the same fraction of each
        predicted class rather than the same count. It assumes classes of
        similar size: on imbalanced ones prefer ``False`` (breast cancer, 37 %
        / 63 %, 10 labels per class: test accuracy 0.951 against 0.933,
        ``benchmarks/README.md``).

    max_iter : int or None, default=10
        Maximum number of iterations; ``None`` runs until nothing is added or
        every sample is labelled.

    cv : int, cross-validation generator or iterable, default=3
        Folds over the real labelled samples for MetaErr's out-of-fold errors.
        An int means shuffled ``StratifiedKFold`` seeded by ``random_state``
        (``None``: 5, as in scikit-learn). Where a labelled class has fewer
        real labels than an int ``cv``, the folds shrink to that count, with a
        warning (2 labels per class run on 2 folds); a class with a single real
        label is a ``ValueError``, as no fold's model could have seen it.
        Each fold's model sees only part of the real labels: a base that needs
        more samples than that (5-nearest neighbours on 2 labels of each of 3
        classes, folds of 3) raises a ``ValueError`` naming the fold.

    oof_fit : {"real", "real+pseudo"}, default="real"
        What each fold's model trains on. ``"real"``: the other folds' real
        labels only - the meta-targets are then the same every iteration and
        computed once. ``"real+pseudo"``: plus the current pseudo-labels, so the
        judged model resembles the current base (recomputed every iteration).
        Either way the targets are the real labels of the held-out fold.

    pseudo_label_weight : float, default=4.0
        How much a pseudo-label counts in the base's fits, from how much MetaErr
        trusts it: its sample weight is its predicted P(base is right) (the
        trust that admitted it, capped as ``cap_at_confidence`` says), at the
        iteration that added it, raised to this power; real labels weigh 1.
        ``0`` counts every pseudo-label as a real label (as
        scikit-learn's ``SelfTrainingClassifier`` does). The weights reach the
        base's ``fit`` as ``sample_weight`` - directly, through a
        ``Pipeline``'s last step, or by metadata routing to a step that
        requested it - and multiply any ``sample_weight`` routed to ``fit``; a
        base whose ``fit`` cannot take them (k-NN, a skorch network) is fitted
        unweighted (``sample_weight_`` is then ``None``). The default was chosen
        on the benchmark's seeds 0-2 (see Notes); on the tabular pages the
        weights pay too. Not everywhere: on the synthetic text corpora of
        ``benchmarks/results/self_training_text.md`` ``0`` did better in all
        four cells, by 0.8 to 5.3 points. On a new kind of data, compare both.

    early_stopping : bool, default=True
        After each iteration, refit the out-of-fold models on their real labels
        plus every pseudo-label so far, and if their accuracy on the held-out
        real labels falls below that of the real labels alone, undo the
        iteration's pseudo-labels and stop (``termination_condition_ ==
        "early_stopping"``). It catches pseudo-labels that contradict the real
        labels - a run going wrong - at the cost of ``cv`` extra fits of the
        base per iteration, on nearly as many rows as the iteration's base:
        ``fit`` took 1.3 to 3.1 times as long on the benchmark's cells
        (``benchmarks/results/early_stopping_cost.md``). The check errs
        towards keeping: the pseudo-labels were made by a base that saw every
        real label, so they carry some of the held-out labels back in. With a
        few dozen labels it is coarse: one held-out sample can decide it.
        ``False`` trusts every iteration (as scikit-learn's
        ``SelfTrainingClassifier`` does).

    n_neighbors : int, default=10
        MetaErr's neighbours (capped at the number of real labels minus one).

    neighbor_space : {"auto", "raw", "scaled"} or transformer, default="auto"
        Where MetaErr measures neighbourhoods (see :class:`MetaErrClassifier`).
        ``"auto"``: the input as given (``"raw"``) when it is numeric - an
        array or sparse matrix of numbers, as scikit-learn's
        ``LabelSpreading`` and k-NN measure it, so inputs with mixed units
        should be scaled first (on all samples) - and a ``Pipeline`` base's
        preprocessing for any other input (text, paths). MetaErr here is fitted
        on the few real labels: a preprocessing fitted on them (the base
        pipeline's ``StandardScaler``, or ``"scaled"``) builds the geometry out
        of a few dozen rows; on MNIST with 4 labels per class that cost 8
        points of test accuracy (see Notes). A transformer is fitted
        on the real labelled samples; one already fitted on all inputs,
        labelled and unlabelled, can be passed wrapped in
        :class:`sklearn.frozen.FrozenEstimator`.

    random_state : int, RandomState instance or None, default=None
        Seeds the folds and the named meta-learners.

    verbose : int, default=0
        Print one line per iteration.

    Attributes
    ----------
    estimator_ : classifier
        The base fitted on the real and pseudo labels at the end.

    meta_estimator_ : MetaErrClassifier or None
        The last iteration's MetaErr (``None`` when no iteration ran).

    classes_ : ndarray of shape (n_classes,)
        Labels of the real labelled samples.

    transduction_ : ndarray of shape (n_samples,)
        The labels used for the final fit: real labels, pseudo-labels, and -1
        for samples never labelled.

    labeled_iter_ : ndarray of shape (n_samples,)
        Iteration in which each sample was labelled: 0 for real labels, -1 for
        never.

    n_iter_ : int
        Number of self-training iterations run.

    termination_condition_ : {"max_iter", "no_change", "all_labeled", \
            "early_stopping"}
        Why fitting stopped. ``"no_change"`` in the first iteration (nothing
        trusted enough) comes with a ``UserWarning``, and so does
        ``"early_stopping"`` there (the final model then saw no pseudo-label).

    sample_weight_ : ndarray of shape (n_samples,) or None
        The weight of each sample in the base's fits (before any routed
        ``sample_weight``): 1 for real labels, the trust that admitted them
        raised to ``pseudo_label_weight`` for pseudo-labels, 0 for samples
        never labelled. ``None`` when the fits were unweighted:
        ``pseudo_label_weight=0``, or a base that cannot take
        ``sample_weight``.

    history_ : list of dict
        One record per iteration: ``iteration``, ``n_added``,
        ``n_added_per_class`` (label -> count), ``mean_error_proba`` (MetaErr's
        mean predicted P(error) over the added samples, after the cap),
        ``n_pseudo`` (total pseudo-labels so far), ``n_oof_errors``
        (out-of-fold errors on the real labels the meta-model learned from),
        ``trust`` (``"meta_learner"``, or ``"max_proba"`` with fewer than
        ``min_errors``), ``cap_temperature`` (the temperature of the base's
        probabilities in ``cap_at_confidence``, at most 1; ``nan`` without
        the cap), ``oof_auroc`` (the meta-model's own out-of-fold AUROC
        at telling right from wrong on the real labels; ``nan`` when there are
        fewer than 2 of either) and ``oof_auroc_msp`` (the same for the base's
        max probability), ``oof_accuracy`` (the out-of-fold models' accuracy on
        the real labels, from the real labels alone), and with
        ``early_stopping`` ``oof_accuracy_with_pseudo`` (the same with every
        pseudo-label so far; ``nan`` without it) and ``kept`` (``False`` for an
        iteration whose pseudo-labels were undone).

    n_features_in_ : int
        Features seen in ``fit`` (not set for a pipeline base taking raw input).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen in ``fit``, when ``X`` had string column names.

    See Also
    --------
    MetaErrClassifier : The error predictor that picks the pseudo-labels.
    sklearn.semi_supervised.SelfTrainingClassifier : Confidence-based self-training.

    Notes
    -----
    Inspired by MetaErr (Totakura & Chakraborty, 2026), whose abstract reports
    better pseudo-labelling from a meta-model of base failures; only the abstract
    is public and this procedure is the package's own design. Meta-targets come
    only from real labels; with ``oof_fit="real"`` (the default, chosen because
    it gave the more precise pseudo-labels on digits, see
    ``benchmarks/bench_self_training.py``) the fold models never see a
    pseudo-label.

    Unsupervised preprocessing inside the base is refitted on the labelled rows
    only. With a few labels per class that matters: a ``StandardScaler`` in a
    ``Pipeline`` base is then fitted on a few dozen inputs, and on MNIST with 4
    labels per class this cost more accuracy than the choice of pseudo-labels.
    Fit such steps on all of ``X`` (labelled and unlabelled) before self-training,
    as ``bench_self_training.py --scale-on-pool`` does.

    Where MetaErr measures neighbourhoods decides most of what it is worth
    here: its neighbourhood features (agreement of the nearest labelled samples
    with the prediction, their out-of-fold errors) carry its edge over
    confidence. On MNIST with 4 labels per class, neighbourhoods in the base
    pipeline's scaler fitted on the 40 labelled images cost 8 points of test
    accuracy against the raw pixels (the ``"auto"`` default on numeric input),
    and pixels standardised on the whole pool are a weaker space than the raw
    ones too (``benchmarks/README.md`` has the measurements).

    MetaErr's P(base is right) is calibrated on the real labels, so
    ``threshold=0.9`` takes fewer samples than a 0.9 confidence threshold
    (Fashion-MNIST, 4 labels per class: under a thousand of 20,000 against
    18,700), and with a weak base that can lose accuracy even with more
    precise pseudo-labels. ``history_`` shows how many each iteration took; a
    lower ``threshold`` takes more, and so does ``criterion="k_best",
    k_best=0.1`` (a tenth of the unlabelled samples per iteration, whatever
    their trust: on the benchmark more accurate, less precise). A held-out
    score against ``SelfTrainingClassifier`` says whether that pays.

    The same calibration can err the other way: with a few out-of-fold errors
    to learn from, MetaErr may find nearly every sample trustworthy where the
    base itself is unsure (CIFAR-10 embeddings, 4 labels per class). With
    ``cap_at_confidence`` (the default) the trust is the lower of the two, so
    a sample is admitted only where MetaErr and the base agree that it is
    safe (``benchmarks/README.md`` has what it changed per cell). The base's
    probabilities are first sharpened where the real labels show them
    under-confident: capped at a random forest's raw votes, self-training on
    digits with 5 labels per class admitted no sample at all. A base that
    reaches ``threshold`` nowhere is read relative to its highest probability:
    capped at the raw votes of 5-nearest neighbours (4/5 at most with 4 labels
    per class), it added nothing in 9 of 10 runs on digits.

    MetaErr learns from the base's out-of-fold failures on the real labels, so
    it needs some. An easy task with a few labels per class may give none or
    one (scikit-learn's iris, wine and breast cancer sets with 4 or 10 labels
    per class: 0 to 5, median 1); below ``min_errors`` the base's max
    probability is the trust, and the estimator is confidence self-training
    with class balancing, weights and early stopping, no better there than
    ``SelfTrainingClassifier`` (``benchmarks/README.md``). MetaErr pays where
    the base fails often enough to learn from: dozens of out-of-fold errors, as
    on the benchmark's vision cells.

    Pseudo-labels weigh what MetaErr trusts them (``pseudo_label_weight``): one
    admitted at P(base is right) 0.99 weighs 0.96 in the refits, one at 0.8
    (the balanced selection reaches below the threshold for classes with few
    trusted members) 0.41. The power 4 was chosen among 2, 4 and 8 on the
    benchmark's seeds 0-2 and then checked on seeds and label budgets that
    played no part in the choice: a small, steady gain over unweighted
    pseudo-labels, largest where they are least precise.

    Pseudo-labels can go wrong as a whole. With a few labels per class the
    base can be confidently wrong on a whole class, and the balanced selection
    then adds some of those errors every round; weighting the pseudo-labels
    slows such a run but does not stop it (on Fashion-MNIST with 4 labels per
    class, one benchmark run without early stopping ended with 30 % of its
    pseudo-labels right, 9 points below the base on the labels alone). That
    is why ``early_stopping`` is on by default; ``early_stopping=False``
    saves its cost where a collapse is unlikely (more labels per class) or is
    checked otherwise. Its check is coarse with a few dozen labels, so
    cross-validating on the labelled samples
    (:func:`metaerr_sk.metrics.make_labelled_scorer`) against the base alone
    is still worth it before trusting a run with so few labels.

    String labels follow scikit-learn: use an object array with ``-1`` for the
    unlabelled samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from metaerr_sk import SelfTrainingWithMetaErr
    >>> X, y = load_digits(return_X_y=True)
    >>> y_semi = np.full_like(y[:600], -1)
    >>> labelled = np.concatenate([np.flatnonzero(y[:600] == c)[:5] for c in range(10)])
    >>> y_semi[labelled] = y[labelled]
    >>> clf = SelfTrainingWithMetaErr(
    ...     LogisticRegression(max_iter=1000), max_iter=3, random_state=0
    ... ).fit(X[:600], y_semi)
    >>> clf.n_iter_ <= 3
    True
    >>> added = clf.labeled_iter_ > 0
    >>> int(added.sum()) > 100
    True
    >>> bool((clf.transduction_[added] == y[:600][added]).mean() > 0.8)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "meta_learner": [
            StrOptions(set(META_LEARNERS)),
            HasMethods(["fit", "predict_proba"]),
        ],
        "features": [list, tuple],
        "min_errors": [Interval(Integral, 1, None, closed="left")],
        "cap_at_confidence": ["boolean"],
        "threshold": [Interval(Real, 0.0, 1.0, closed="left")],
        "criterion": [StrOptions({"threshold", "k_best"})],
        "k_best": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0.0, 1.0, closed="right"),
        ],
        "balanced": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "cv": ["cv_object"],
        "oof_fit": [StrOptions({"real", "real+pseudo"})],
        "early_stopping": ["boolean"],
        "pseudo_label_weight": [Interval(Real, 0.0, None, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "neighbor_space": [
            StrOptions({"auto", "raw", "scaled"}),
            HasMethods(["fit", "transform"]),
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        meta_learner="logistic",
        features=META_FEATURES,
        min_errors=5,
        cap_at_confidence=True,
        threshold=0.9,
        criterion="threshold",
        k_best=10,
        balanced=True,
        max_iter=10,
        cv=3,
        oof_fit="real",
        early_stopping=True,
        pseudo_label_weight=4.0,
        n_neighbors=10,
        neighbor_space="auto",
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.meta_learner = meta_learner
        self.features = features
        self.min_errors = min_errors
        self.cap_at_confidence = cap_at_confidence
        self.threshold = threshold
        self.criterion = criterion
        self.k_best = k_best
        self.balanced = balanced
        self.max_iter = max_iter
        self.cv = cv
        self.oof_fit = oof_fit
        self.early_stopping = early_stopping
        self.pseudo_label_weight = pseudo_label_weight
        self.n_neighbors = n_neighbors
        self.neighbor_space = neighbor_space
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def _raw_input(self):
        return isinstance(self.estimator, Pipeline)

    def _validate_fit_data(self, X, y):
        if self._raw_input():
            # scikit-learn's SelfTrainingClassifier validates X itself and so
            # breaks on text pipelines (scikit-learn issue 23323): a pipeline
            # base reads its own input, X is only counted and indexed here.
            X, y = validate_data(self, X, y, skip_check_array=True)
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            return X, y
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            ensure_all_finite="allow-nan" if allow_nan else True,
        )

    @_fit_context(
        # The base and MetaErr are validated when they are fitted.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, **params):
        """Self-train the base, pseudo-labelling where MetaErr trusts it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            All samples, labelled and unlabelled.

        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabelled samples (object dtype for string
            labels).

        **params : dict
            Metadata for the base's ``fit``, such as ``sample_weight``; only
            with ``sklearn.set_config(enable_metadata_routing=True)`` and a
            base that requests it (``set_fit_request``). A value with one
            entry per sample follows its samples into every fit: the
            out-of-fold models, each iteration's base (pseudo-labelled
            samples keep their own weight) and the final model.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _raise_for_params(params, self, "fit")
        check_feature_groups(self.features)  # before the folds' fits, not after
        X, y = self._validate_fit_data(X, y)
        fit_params = (
            process_routing(self, "fit", **params).estimator.fit
            if _routing_enabled()
            else {}
        )
        real = self._start(y)
        if real.size == y.shape[0]:
            warnings.warn(
                "y contains no unlabeled samples (-1): the base is fitted on the "
                "labelled data and no self-training happens.",
                UserWarning,
                stacklevel=3,  # fit's caller, past scikit-learn's fit wrapper
            )
            self.termination_condition_ = "all_labeled"
            self.estimator_ = self._fit_base(X, real, fit_params)
            return self

        splitter = few_label_folds(
            y[real],
            self.cv,
            self.random_state,
            hint="Label another sample of that class, or use scikit-learn's "
            "SelfTrainingClassifier, which holds no labels out.",
        )
        X_real, y_real = _safe_indexing(X, real), y[real]
        folds = list(splitter.split(np.zeros((real.size, 1)), y_real))
        oof = real_accuracy = checked_oof = None
        cap = (
            ConfidenceCap(self.classes_, self.threshold)
            if self.cap_at_confidence
            else None
        )
        k_best = k_best_count(self.k_best, y.shape[0] - real.size)
        self.termination_condition_ = "max_iter"

        while (self.labeled_iter_ < 0).any() and (
            self.max_iter is None or self.n_iter_ < self.max_iter
        ):
            self.n_iter_ += 1
            pseudo = np.flatnonzero(self.labeled_iter_ > 0)
            unlabelled = np.flatnonzero(self.labeled_iter_ < 0)

            if oof is None or self.oof_fit == "real+pseudo":
                if checked_oof is not None:
                    # the last round's early-stopping check fitted these folds
                    oof, checked_oof = checked_oof, None
                else:
                    extra = pseudo if self.oof_fit == "real+pseudo" else pseudo[:0]
                    oof = self._oof_proba(X, real, extra, folds, fit_params)
                meta = self._fit_meta(
                    X_real, y_real, oof, _check_method_params(X, fit_params, real)
                )
                oof_auroc, oof_auroc_msp = meta_learner_oof_auroc(meta, folds)
                cap_temperature = cap.temperature(oof, y_real) if cap else float("nan")
                oof_accuracy = self._accuracy(oof, y_real)
                if real_accuracy is None:  # the first round: real labels only
                    real_accuracy = oof_accuracy

            # With no pseudo-label yet the base would be fitted on the real
            # labels alone: MetaErr's own refit is that very model.
            if pseudo.size:
                base = self._fit_base(X, self._labelled(), fit_params)
            else:
                base = meta.estimator_
            X_unl = _safe_indexing(X, unlabelled)
            proba = self._proba(base, X_unl)
            p_error = meta.predict_error_proba(X_unl, proba=proba)
            if cap is not None:  # never above the base's own trust
                p_error = cap.error_proba(
                    p_error,
                    proba,
                    partial(self._proba, base, X_real),
                    temperature=cap_temperature,
                    fallback=meta.meta_learner_ is None,
                    accuracy=oof_accuracy,
                )
            pred_index = np.argmax(proba, axis=1)
            chosen = select_trusted(
                1.0 - p_error,
                pred_index,
                self.classes_.size,
                criterion=self.criterion,
                threshold=self.threshold,
                k_best=k_best,
                balanced=self.balanced,
            )
            added = unlabelled[chosen]
            labels = self.classes_[pred_index[chosen]]
            self._pseudo_label(added, labels, p_error[chosen])
            self.meta_estimator_ = meta

            kept, with_pseudo = True, float("nan")
            if self.early_stopping and added.size:
                # the out-of-fold models again, with every pseudo-label so far
                oof_with_pseudo = self._oof_proba(
                    X, real, np.flatnonzero(self.labeled_iter_ > 0), folds, fit_params
                )
                with_pseudo = self._accuracy(oof_with_pseudo, y_real)
                kept = with_pseudo >= real_accuracy
                if kept and self.oof_fit == "real+pseudo":
                    checked_oof = oof_with_pseudo  # next round's folds, as they are
                if not kept:  # undo the round: its labels made things worse
                    self._unlabel(added, y)

            record = round_record(
                iteration=self.n_iter_,
                labels=labels,
                classes=self.classes_,
                error_proba=p_error[chosen],
                n_pseudo=pseudo.size + (added.size if kept else 0),
                n_oof_errors=meta.oof_error_.sum(),
                trust="max_proba" if meta.meta_learner_ is None else "meta_learner",
                cap_temperature=cap_temperature,
                oof_auroc=oof_auroc,
                oof_auroc_msp=oof_auroc_msp,
                oof_accuracy=real_accuracy,
                oof_accuracy_with_pseudo=with_pseudo,
                kept=kept,
            )
            self.history_.append(record)
            if self.verbose:
                print(round_message(record, int((self.labeled_iter_ < 0).sum())))
            if not kept:
                self.termination_condition_ = "early_stopping"
                if self.n_iter_ == 1:
                    warn_first_round_undone(record)
                break
            if added.size == 0:
                self.termination_condition_ = "no_change"
                if self.n_iter_ == 1:
                    warn_nothing_trusted(self.threshold, 1.0 - p_error.min())
                break

        if (self.labeled_iter_ >= 0).all():
            self.termination_condition_ = "all_labeled"
        if self.termination_condition_ in ("no_change", "early_stopping"):
            # the last round added nothing, or had it undone: its base saw
            # every labelled sample
            self.estimator_ = base
        else:
            self.estimator_ = self._fit_base(X, self._labelled(), fit_params)
        return self

    def _start(self, y):
        """Check the labels, set the fitted attributes' starting values and
        return the indices of the real labelled samples."""
        if y.dtype.kind in ("U", "S"):
            raise ValueError(
                "y has a string dtype, which cannot hold the unlabelled marker -1: "
                "use an object array with -1 for unlabelled samples."
            )
        has_label = np.asarray(y != UNLABELED, dtype=bool)
        if not has_label.any():
            raise ValueError(
                "y holds no labelled sample (every entry is -1): self-training "
                "needs some real labels to start from."
            )
        check_classification_targets(y[has_label])
        real = np.flatnonzero(has_label)
        self.classes_ = np.unique(y[real])
        if self.classes_.size < 2:
            raise ValueError(
                "The labelled samples hold one class only, "
                f"{plain_label(self.classes_[0])!r}: "
                "label samples of at least two classes."
            )
        self.transduction_ = y.copy()
        self.labeled_iter_ = np.full(y.shape[0], -1, dtype=int)
        self.labeled_iter_[real] = 0
        self.n_iter_ = 0
        self.history_ = []
        self.meta_estimator_ = None
        # how the weights reach the base's fit, found once: None, unweighted
        self._weight_key = (
            sample_weight_key(self.estimator) if self.pseudo_label_weight > 0 else None
        )
        self.sample_weight_ = has_label.astype(float) if self._weight_key else None
        return real

    def _labelled(self):
        """Indices of the samples with a label, real or pseudo."""
        return np.flatnonzero(self.labeled_iter_ >= 0)

    def _pseudo_label(self, rows, labels, error_proba):
        """Give ``rows`` this round's pseudo-labels, weighted by MetaErr's trust."""
        self.transduction_[rows] = labels
        self.labeled_iter_[rows] = self.n_iter_
        if self.sample_weight_ is not None:
            # the expected share of right labels among such samples, sharpened
            self.sample_weight_[rows] = (1.0 - error_proba) ** self.pseudo_label_weight

    def _unlabel(self, rows, y):
        """Undo :meth:`_pseudo_label`: ``rows`` are unlabelled again."""
        self.transduction_[rows] = y[rows]
        self.labeled_iter_[rows] = -1
        if self.sample_weight_ is not None:
            self.sample_weight_[rows] = 0.0

    def _fit_base(self, X, rows, fit_params):
        """A fresh base fitted on ``rows`` with their (pseudo-)labels and
        weights; metadata with one entry per sample is cut to the same rows."""
        params = _check_method_params(X, fit_params, rows)
        if self.sample_weight_ is not None:
            key = self._weight_key
            weight = self.sample_weight_[rows]
            params[key] = weight if params.get(key) is None else params[key] * weight
        return clone(self.estimator).fit(
            _safe_indexing(X, rows), self.transduction_[rows], **params
        )

    def _proba(self, model, X):
        """``model``'s probabilities for ``X``, in ``classes_`` order (a class
        its training rows lacked gets a column of zeros)."""
        proba = model.predict_proba(X)
        if np.array_equal(model.classes_, self.classes_):
            return proba
        out = np.zeros((proba.shape[0], self.classes_.size))
        out[:, np.searchsorted(self.classes_, model.classes_)] = proba
        return out

    def _oof_proba(self, X, real, extra, folds, fit_params):
        """Out-of-fold probabilities on the real labelled samples; each fold's
        model also trains on the ``extra`` (pseudo-labelled) rows."""
        proba = np.zeros((real.size, self.classes_.size))
        for train, test in folds:
            fit_idx = np.concatenate([real[train], extra])
            try:
                model = self._fit_base(X, fit_idx, fit_params)
                proba[test] = self._proba(model, _safe_indexing(X, real[test]))
            except ValueError as error:
                raise fold_fit_error(
                    error,
                    f" fitted on {train.size} of the {real.size} real labels "
                    f"(and {extra.size} pseudo-labels) of {len(folds)} folds",
                    "MetaErr learns from real labels held out of the base's "
                    "fit, so each fold's model sees fewer than all of them: "
                    "label more samples, give the base settings that fit on "
                    "that few, or use scikit-learn's SelfTrainingClassifier, "
                    "which holds no labels out.",
                ) from error
        return proba

    def _accuracy(self, proba, y_real):
        """Accuracy of the predictions that ``proba`` (``classes_`` order) makes."""
        return float(accuracy_score(y_real, self.classes_[np.argmax(proba, axis=1)]))

    def _neighbor_space(self, X_real):
        """MetaErr's ``neighbor_space``: ``"auto"`` resolved (see the docstring)."""
        if self.neighbor_space != "auto":
            return self.neighbor_space
        return "raw" if _is_numeric(X_real) else "auto"

    def _fit_meta(self, X_real, y_real, oof, fit_params):
        n_neighbors = max(1, min(self.n_neighbors, y_real.shape[0] - 1))
        meta = MetaErrClassifier(
            clone(self.estimator),
            meta_learner=self.meta_learner,
            min_errors=self.min_errors,
            features=self.features,
            cv=self.cv,
            n_neighbors=n_neighbors,
            neighbor_space=self._neighbor_space(X_real),
            random_state=self.random_state,
        )
        with warnings.catch_warnings():
            # Fewer than min_errors out-of-fold errors: MetaErr falls back to
            # max probability; history_ shows it (trust == "max_proba").
            warnings.filterwarnings("ignore", message=".*out-of-fold errors")
            return meta.fit(X_real, y_real, oof_proba=oof, **fit_params)

    # ------------------------------------------------------------- predict

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        if self._raw_input():
            return validate_data(self, X, reset=False, skip_check_array=True)
        allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return validate_data(
            self,
            X,
            reset=False,
            accept_sparse=["csr", "csc"],
            ensure_all_finite="allow-nan" if allow_nan else True,
        )

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on the labelled samples of ``(X, y)``.

        Samples marked unlabelled (``y == -1``) are left out: a validation fold
        of semi-supervised data carries the marker, and counting it as a wrong
        prediction (as scikit-learn's ``SelfTrainingClassifier``, a plain
        ``ClassifierMixin.score``, does) would rank models by how many
        unlabelled samples a fold happens to hold. So the default score of
        ``GridSearchCV`` or ``cross_val_score`` on ``y`` with ``-1`` measures
        the real labels only. A ``scoring`` argument bypasses this method and
        sees every sample: wrap it in
        :func:`metaerr_sk.metrics.make_labelled_scorer`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Test samples.

        y : array-like of shape (n_samples,)
            True labels, ``-1`` for unlabelled samples.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights; those of unlabelled samples are dropped with them.

        Returns
        -------
        score : float
            Accuracy of ``predict`` on the labelled samples.

        Raises
        ------
        ValueError
            If every sample of ``y`` is unlabelled.
        """
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        labelled = labelled_rows(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y)[labelled]
        return accuracy_score(
            y[labelled],
            self.predict(_safe_indexing(X, labelled)),
            sample_weight=sample_weight,
        )

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


def _is_numeric(X):
    """Whether ``X`` holds numbers (an array, sparse matrix or data frame of
    them), as opposed to what only a pipeline can read (text, paths)."""
    dtypes = getattr(X, "dtypes", None)  # a data frame: one dtype per column
    if dtypes is not None and not hasattr(dtypes, "kind"):
        return all(getattr(dtype, "kind", "O") in "biuf" for dtype in dtypes)
    return getattr(getattr(X, "dtype", None), "kind", "O") in "biuf"
