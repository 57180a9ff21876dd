"""How per-sample weights reach an arbitrary base's ``fit``.

:class:`~metaerr_sk.SelfTrainingWithMetaErr` weighs each pseudo-label by how
much MetaErr trusts it. The base may be a plain classifier, a ``Pipeline`` or
any other meta-estimator, and whether and how its ``fit`` takes
``sample_weight`` differs between them; :func:`sample_weight_key` answers it
once for all.
"""

from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import _routing_enabled, get_routing_for_object
from sklearn.utils.validation import has_fit_parameter


def sample_weight_key(estimator):
    """The ``fit`` keyword that carries per-sample weights to ``estimator``.

    - an estimator whose ``fit`` has a ``sample_weight`` parameter:
      ``"sample_weight"``;
    - with metadata routing enabled, a meta-estimator (a ``Pipeline``, a
      search) that routes ``sample_weight`` to a step that requested it
      (``set_fit_request(sample_weight=True)``): ``"sample_weight"``;
    - without routing, a ``Pipeline`` whose last step's ``fit`` has a
      ``sample_weight`` parameter: ``"<step name>__sample_weight"``, which
      ``Pipeline.fit`` hands to that step only (as it does for ``fit``
      parameters given by name);
    - otherwise ``None``: the base cannot be given weights.

    Parameters
    ----------
    estimator : estimator instance
        The (unfitted) base.

    Returns
    -------
    key : str or None
    """
    if has_fit_parameter(estimator, "sample_weight"):
        return "sample_weight"
    if _routing_enabled():
        consumed = get_routing_for_object(estimator).consumes("fit", ["sample_weight"])
        return "sample_weight" if consumed else None
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        if last not in (None, "passthrough") and has_fit_parameter(
            last, "sample_weight"
        ):
            return f"{name}__sample_weight"
    return None
