"""scikit-learn's common estimator checks for every public estimator."""

from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from metaerr_sk import MetaErrClassifier
from metaerr_sk.baselines import TrustScore

ESTIMATORS = [
    MetaErrClassifier(LogisticRegression(), cv=3, random_state=0),
    TrustScore(),
]

# Each entry: estimator -> {check name: why it is expected to fail}.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est), {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
