"""Meta-learners by name: each a factory ``(random_state, n_samples) -> classifier``.

The names are what ``MetaErrClassifier(meta_learner=...)`` and a
``GridSearchCV`` grid accept. Settings are chosen for the meta-task: a few
hundred to a few thousand rows, a handful of dense features, 1-20 % positives
(errors). Scale-sensitive learners get a ``StandardScaler``. Self-training with a
few labels per class gives meta-sets of a few dozen rows, so settings that need
more rows than that (leaf sizes, ``k``) shrink with ``n_samples``, the rows the
meta-learner is fitted on.
"""

from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _logistic(random_state, n_samples):
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))


def _lightgbm(random_state, n_samples):
    return LGBMClassifier(
        n_estimators=200,
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=10,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        random_state=random_state,
        n_jobs=1,
        verbose=-1,
    )


def _hist_gradient_boosting(random_state, n_samples):
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=7,
        # scikit-learn's default leaf of 20 rows leaves a meta-set under ~40
        # rows without a single split: a constant predictor.
        min_samples_leaf=min(20, max(1, n_samples // 20)),
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
    )


def _random_forest(random_state, n_samples):
    return RandomForestClassifier(
        n_estimators=300, min_samples_leaf=5, random_state=random_state
    )


def _mlp(random_state, n_samples):
    return make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(32,),
            alpha=1e-2,
            max_iter=1000,
            early_stopping=False,
            random_state=random_state,
        ),
    )


class _AtMostKNeighbors(KNeighborsClassifier):
    """k-NN that uses every training row when there are fewer than ``k``.

    scikit-learn's raises at prediction time instead. A meta-learner is refitted
    on subsets of its rows (out-of-fold diagnostics, grid searches), so ``k``
    cannot simply be set from the full meta-set's size. Needs
    ``weights="distance"`` (the uniform-weight fast path reads ``n_neighbors``
    directly).
    """

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        if n_neighbors is None:
            # without X the query rows are the training rows, each its own
            # neighbour left out
            n_neighbors = min(self.n_neighbors, self.n_samples_fit_ - (X is None))
        return super().kneighbors(X, n_neighbors, return_distance)


def _knn(random_state, n_samples):
    return make_pipeline(
        StandardScaler(), _AtMostKNeighbors(n_neighbors=25, weights="distance")
    )


META_LEARNERS = {
    "logistic": _logistic,
    "lightgbm": _lightgbm,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _random_forest,
    "mlp": _mlp,
    "knn": _knn,
}
