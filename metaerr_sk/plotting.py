"""Visualizations, following scikit-learn's Display convention.

matplotlib is imported inside :meth:`RiskCoverageDisplay.plot` only, so the
package imports without it.
"""

import numpy as np

from ._failure_metrics import _aurc, _check_inputs, _optimal_aurc, _risk_coverage
from ._scorer import _correct_and_confidence

__all__ = ["RiskCoverageDisplay"]


class RiskCoverageDisplay:
    """Risk-coverage curve visualization.

    Use :meth:`from_estimator` or :meth:`from_scores` to create one. All
    parameters are stored as attributes.

    Parameters
    ----------
    coverage : ndarray of shape (n_thresholds,)
        Fraction of samples accepted, increasing, as returned by
        :func:`~metaerr_sk.metrics.risk_coverage_curve`.

    risk : ndarray of shape (n_thresholds,)
        Error rate among the accepted samples at each coverage.

    aurc : float, default=None
        Area under the curve x1000 (:func:`~metaerr_sk.metrics.aurc`), shown in
        the legend. If None, it is not shown.

    name : str, default=None
        Name of the confidence score or estimator, shown in the legend. If
        None, no name is shown.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The risk-coverage curve.

    oracle_line_ : matplotlib Line2D or None
        The optimal curve, or None if ``plot_oracle=False``.

    ax_ : matplotlib Axes
        Axes with the curve.

    figure_ : matplotlib Figure
        Figure containing the curve.

    See Also
    --------
    metaerr_sk.metrics.risk_coverage_curve : Compute the curve.
    metaerr_sk.metrics.aurc : Compute the area under the curve.

    Notes
    -----
    The curve is drawn as a step function, each tie group's risk held over
    the coverage its samples add and the first risk extended to coverage 0,
    so the area under the drawn line is exactly AURC / 1000.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from metaerr_sk.metrics import aurc, risk_coverage_curve
    >>> from metaerr_sk.plotting import RiskCoverageDisplay
    >>> correct = [True, True, False, True, False]
    >>> confidence = [0.9, 0.8, 0.7, 0.6, 0.2]
    >>> coverage, risk, _ = risk_coverage_curve(correct, confidence)
    >>> display = RiskCoverageDisplay(
    ...     coverage=coverage, risk=risk, aurc=aurc(correct, confidence), name="MSP"
    ... ).plot()
    >>> display.line_.get_label()
    'MSP (AURC = 196.7)'
    """

    def __init__(self, *, coverage, risk, aurc=None, name=None):
        self.coverage = coverage
        self.risk = risk
        self.aurc = aurc
        self.name = name

    def plot(self, ax=None, *, name=None, plot_oracle=False, oracle_kw=None, **kwargs):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        name : str, default=None
            Name for the legend; overrides the ``name`` attribute if given.

        plot_oracle : bool, default=False
            Also draw the optimal curve at the same overall error rate ``err``
            (``risk[-1]``, the risk at full coverage): zero risk up to coverage
            ``1 - err``, then ``1 - (1 - err) / coverage``. Its area is the
            AURC* of :func:`~metaerr_sk.metrics.e_aurc`.

        oracle_kw : dict, default=None
            Keyword arguments for the oracle line, passed to ``ax.plot``.

        **kwargs : dict
            Keyword arguments for the curve, passed to ``ax.plot``.

        Returns
        -------
        display : RiskCoverageDisplay
            Object that stores the computed values.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
            raise ImportError(
                "RiskCoverageDisplay.plot requires matplotlib; install it with "
                "`pip install matplotlib`."
            ) from exc

        coverage = np.asarray(self.coverage, dtype=np.float64)
        risk = np.asarray(self.risk, dtype=np.float64)
        if coverage.ndim != 1 or coverage.shape != risk.shape or coverage.size == 0:
            raise ValueError(
                "`coverage` and `risk` must be non-empty 1-D arrays of the same "
                f"length; got shapes {coverage.shape} and {risk.shape}. Build them "
                "with `metaerr_sk.metrics.risk_coverage_curve`."
            )
        if plot_oracle and not np.isclose(coverage[-1], 1.0):
            raise ValueError(
                "plot_oracle=True needs the curve to reach full coverage "
                f"(coverage[-1] == 1) to read the overall error rate; got "
                f"coverage[-1] = {coverage[-1]}."
            )

        if ax is None:
            _, ax = plt.subplots()

        name = self.name if name is None else name
        line_kwargs = {"drawstyle": "steps-pre"}
        label = _label(name, self.aurc)
        if label is not None:
            line_kwargs["label"] = label
        line_kwargs.update(kwargs)
        # A step function: risk[j] holds over (coverage[j - 1], coverage[j]].
        (self.line_,) = ax.plot(
            np.r_[0.0, coverage], np.r_[risk[0], risk], **line_kwargs
        )

        self.oracle_line_ = None
        if plot_oracle:
            error_rate = float(risk[-1])
            oracle_coverage = np.union1d(np.linspace(0.0, 1.0, 201), [1.0 - error_rate])
            oracle_risk = np.clip(
                1.0 - (1.0 - error_rate) / np.maximum(oracle_coverage, 1e-12), 0, None
            )
            oracle_kwargs = {
                "label": f"Oracle (AURC = {_optimal_aurc(error_rate):0.1f})",
                "color": "k",
                "linestyle": "--",
            }
            oracle_kwargs.update(oracle_kw or {})
            (self.oracle_line_,) = ax.plot(
                oracle_coverage, oracle_risk, **oracle_kwargs
            )

        ax.set(
            xlabel="Coverage",
            ylabel="Selective risk (error rate among accepted)",
            xlim=(-0.01, 1.01),
        )
        ax.set_ylim(bottom=0)
        if label is not None or plot_oracle:
            ax.legend(loc="upper left")

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_scores(
        cls,
        correct,
        confidence,
        *,
        sample_weight=None,
        name=None,
        ax=None,
        plot_oracle=False,
        **kwargs,
    ):
        """Plot the risk-coverage curve of a confidence score.

        Parameters
        ----------
        correct : array-like of shape (n_samples,)
            Whether the base prediction is right (bool, or 0/1).

        confidence : array-like of shape (n_samples,)
            Confidence that the base prediction is right; higher means more
            likely correct.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, as in
            :func:`~metaerr_sk.metrics.risk_coverage_curve`.

        name : str, default=None
            Name of the score, shown in the legend.

        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        plot_oracle : bool, default=False
            Also draw the optimal curve at the same error rate.

        **kwargs : dict
            Keyword arguments passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : RiskCoverageDisplay
            Object that stores the computed values.

        See Also
        --------
        RiskCoverageDisplay.from_estimator : Plot from a fitted error predictor.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from metaerr_sk.plotting import RiskCoverageDisplay
        >>> display = RiskCoverageDisplay.from_scores(
        ...     [True, False, True, False], [0.9, 0.9, 0.5, 0.1], name="MSP"
        ... )
        >>> display.line_.get_label()
        'MSP (AURC = 458.3)'
        """
        correct, confidence, weight = _check_inputs(correct, confidence, sample_weight)
        coverage, risk, _ = _risk_coverage(correct, confidence, weight)
        display = cls(
            coverage=coverage,
            risk=risk,
            aurc=_aurc(correct, confidence, weight),
            name=name,
        )
        return display.plot(ax=ax, plot_oracle=plot_oracle, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        sample_weight=None,
        ax=None,
        name=None,
        plot_oracle=False,
        **kwargs,
    ):
        """Plot the risk-coverage curve of a fitted error predictor.

        ``correct = estimator.predict(X) == y`` and
        ``confidence = 1 - estimator.predict_error_proba(X)``.

        Parameters
        ----------
        estimator : estimator instance
            Fitted estimator with ``predict`` and ``predict_error_proba``, such
            as :class:`~metaerr_sk.MetaErrClassifier`.

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input values.

        y : array-like of shape (n_samples,)
            True labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, as in
            :func:`~metaerr_sk.metrics.risk_coverage_curve`.

        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        name : str, default=None
            Name for the legend. If None, the estimator's class name.

        plot_oracle : bool, default=False
            Also draw the optimal curve at the same error rate.

        **kwargs : dict
            Keyword arguments passed to ``ax.plot`` for the curve.

        Returns
        -------
        display : RiskCoverageDisplay
            Object that stores the computed values.

        See Also
        --------
        RiskCoverageDisplay.from_scores : Plot from precomputed confidences.
        """
        correct, confidence = _correct_and_confidence(estimator, X, y)
        name = type(estimator).__name__ if name is None else name
        return cls.from_scores(
            correct,
            confidence,
            sample_weight=sample_weight,
            name=name,
            ax=ax,
            plot_oracle=plot_oracle,
            **kwargs,
        )


def _label(name, aurc):
    """Legend label from a name and an AURC, or None if neither is given."""
    if aurc is None:
        return name
    if name is None:
        return f"AURC = {aurc:0.1f}"
    return f"{name} (AURC = {aurc:0.1f})"
