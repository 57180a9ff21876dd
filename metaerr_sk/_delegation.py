"""What the package's wrappers share about the base estimator they wrap.

:class:`~metaerr_sk.MetaErrClassifier`, :class:`~metaerr_sk.SelfTrainingWithMetaErr`
and :class:`~metaerr_sk.DataCentricDebugger` each wrap a base classifier: they
offer its optional methods only where it has them and pass ``fit`` metadata on
to it; the two that retrain it also predict with it.
"""

from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.metaestimators import available_if


def estimator_has(attr):
    """For ``available_if``: the fitted base, else the unfitted one, has ``attr``."""

    def check(self):
        base = getattr(self, "estimator_", self.estimator)
        return hasattr(base, attr)

    return check


def route_fit_to_base(wrapper):
    """Metadata routing of a wrapper around ``wrapper.estimator``: ``fit``
    metadata go to the base's ``fit``, and the wrapper's own methods keep
    their requests (``score``'s ``sample_weight``)."""
    # the self request: without it a Pipeline ending in the wrapper cannot
    # route score's sample_weight (even None) and Pipeline.score raises
    return (
        MetadataRouter(owner=wrapper)
        .add_self_request(wrapper)
        .add(
            estimator=wrapper.estimator,
            method_mapping=MethodMapping().add(caller="fit", callee="fit"),
        )
    )


class PredictsWithFittedBase:
    """Mixin: predictions are the fitted base's (``estimator_``).

    The input first goes through the estimator's own
    ``_validate_predict_data(X)`` (fitted check, the input rules of ``fit``),
    before ``estimator_`` is looked up, so that an unfitted estimator raises
    ``NotFittedError`` rather than ``AttributeError``;
    ``predict_proba``, ``decision_function`` and ``predict_log_proba`` exist
    only where the base has them.
    """

    def predict(self, X):
        """Predict with the fitted base ``estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        X = self._validate_predict_data(X)
        return self.estimator_.predict(X)

    @available_if(estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the fitted base ``estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self.estimator_.predict_proba(X)

    @available_if(estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the fitted base ``estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self.estimator_.decision_function(X)

    @available_if(estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the fitted base ``estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or what the base takes
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_predict_data(X)
        return self.estimator_.predict_log_proba(X)
