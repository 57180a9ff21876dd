"""Meta-learners by name: each a factory ``random_state -> classifier``.

The names are what ``MetaErrClassifier(meta_learner=...)`` and a
``GridSearchCV`` grid accept. Settings are chosen for the meta-task: a few
hundred to a few thousand rows, a handful of dense features, 1-20 % positives
(errors). Scale-sensitive learners get a ``StandardScaler``.
"""

from lightgbm import LGBMClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _logistic(random_state):
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))


def _lightgbm(random_state):
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


def _hist_gradient_boosting(random_state):
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=7,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=random_state,
    )


def _random_forest(random_state):
    return RandomForestClassifier(
        n_estimators=300, min_samples_leaf=5, random_state=random_state
    )


def _mlp(random_state):
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


def _knn(random_state):
    return make_pipeline(
        StandardScaler(), KNeighborsClassifier(n_neighbors=25, weights="distance")
    )


META_LEARNERS = {
    "logistic": _logistic,
    "lightgbm": _lightgbm,
    "hist_gradient_boosting": _hist_gradient_boosting,
    "random_forest": _random_forest,
    "mlp": _mlp,
    "knn": _knn,
}
