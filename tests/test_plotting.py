"""Tests for metaerr_sk.plotting.RiskCoverageDisplay."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from metaerr_sk.metrics import aurc, e_aurc, risk_coverage_curve
from metaerr_sk.plotting import RiskCoverageDisplay

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# ties included: groups {0.9}: risk 1/2, {0.6}: 1/4, {0.2}: 2/5 -> AURC 380
CORRECT = np.array([True, False, True, True, False])
CONFIDENCE = np.array([0.9, 0.9, 0.6, 0.6, 0.2])


class FakeErrorPredictor(ClassifierMixin, BaseEstimator):
    """Stand-in for MetaErrClassifier: P(wrong) = 1 - max probability."""

    def fit(self, X, y):
        self.estimator_ = LogisticRegression().fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_error_proba(self, X):
        return 1 - self.estimator_.predict_proba(X).max(axis=1)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _step_area(line):
    """Area under a steps-pre line: y[j] held over (x[j - 1], x[j]]."""
    x, y = line.get_xdata(), line.get_ydata()
    return float(np.sum(np.diff(x) * y[1:]))


def test_from_scores_sets_attributes():
    display = RiskCoverageDisplay.from_scores(CORRECT, CONFIDENCE, name="MSP")
    assert isinstance(display.line_, matplotlib.lines.Line2D)
    assert isinstance(display.ax_, matplotlib.axes.Axes)
    assert display.figure_ is display.ax_.figure
    assert display.oracle_line_ is None
    assert display.line_.get_label() == "MSP (AURC = 380.0)"
    assert display.aurc == pytest.approx(380.0)
    np.testing.assert_allclose(display.coverage, [0.4, 0.8, 1.0])
    np.testing.assert_allclose(display.risk, [0.5, 0.25, 0.4])
    assert display.ax_.get_xlabel() == "Coverage"
    assert display.ax_.get_legend() is not None


@pytest.mark.parametrize("seed", range(3))
def test_drawn_area_is_aurc(seed):
    rng = np.random.default_rng(seed)
    correct = rng.random(30) < 0.7
    confidence = np.round(rng.random(30), 1)
    display = RiskCoverageDisplay.from_scores(correct, confidence)
    assert 1000 * _step_area(display.line_) == pytest.approx(aurc(correct, confidence))
    assert display.line_.get_label().startswith("AURC = ")


@pytest.mark.parametrize(
    "correct, confidence, err",
    [
        (CORRECT, CONFIDENCE, 0.4),
        ([True, True, True], [0.2, 0.5, 0.9], 0.0),
        ([False, False], [0.2, 0.5], 1.0),
    ],
)
def test_oracle_curve(correct, confidence, err):
    display = RiskCoverageDisplay.from_scores(correct, confidence, plot_oracle=True)
    oracle = display.oracle_line_
    assert isinstance(oracle, matplotlib.lines.Line2D)
    assert oracle.get_label().startswith("Oracle (AURC = ")
    x, y = oracle.get_xdata(), oracle.get_ydata()
    # zero risk up to coverage 1 - err, the overall error rate at full coverage
    assert np.all(y[x < 1 - err - 1e-9] == 0)
    assert y[-1] == pytest.approx(err)
    # its area is AURC* (up to the trapezoid rule on the drawing grid)
    area_star = 1000 * np.trapezoid(y, x)
    expected_star = aurc(correct, confidence) - e_aurc(correct, confidence)
    assert area_star == pytest.approx(expected_star, abs=0.5)


def test_plot_on_given_ax_with_kwargs_and_name():
    coverage, risk, _ = risk_coverage_curve(CORRECT, CONFIDENCE)
    display = RiskCoverageDisplay(coverage=coverage, risk=risk, aurc=380.0, name="a")
    fig, ax = plt.subplots()
    display.plot(ax=ax, name="b", color="red", oracle_kw={"color": "blue"})
    assert display.ax_ is ax
    assert display.figure_ is fig
    assert display.line_.get_label() == "b (AURC = 380.0)"
    assert display.line_.get_color() == "red"
    # kwargs do not leak into a second plot, and the stored name is kept
    display.plot(ax=ax, plot_oracle=True, oracle_kw={"color": "blue"})
    assert display.line_.get_label() == "a (AURC = 380.0)"
    assert display.oracle_line_.get_color() == "blue"
    assert len(ax.get_lines()) == 3


def test_plot_without_name_or_aurc_has_no_legend():
    display = RiskCoverageDisplay(coverage=[0.5, 1.0], risk=[0.0, 0.5]).plot()
    assert "AURC" not in display.line_.get_label()
    assert display.ax_.get_legend() is None


@pytest.mark.parametrize(
    "coverage, risk, plot_oracle, match",
    [
        ([0.5, 1.0], [0.1], False, "same length"),
        ([], [], False, "non-empty"),
        ([[0.5, 1.0]], [[0.1, 0.2]], False, "1-D"),
        ([0.2, 0.6], [0.1, 0.2], True, "full coverage"),
    ],
)
def test_plot_bad_curve_raises(coverage, risk, plot_oracle, match):
    display = RiskCoverageDisplay(coverage=coverage, risk=risk)
    with pytest.raises(ValueError, match=match):
        display.plot(plot_oracle=plot_oracle)


def test_from_scores_validates_input():
    with pytest.raises(ValueError, match="same length"):
        RiskCoverageDisplay.from_scores([True, False], [0.1, 0.2, 0.3])


def test_from_estimator():
    X, y = make_classification(n_samples=120, flip_y=0.3, random_state=0)
    estimator = FakeErrorPredictor().fit(X, y)
    correct = estimator.predict(X) == y
    confidence = 1 - estimator.predict_error_proba(X)

    display = RiskCoverageDisplay.from_estimator(estimator, X, y, plot_oracle=True)
    expected = aurc(correct, confidence)
    assert display.aurc == pytest.approx(expected)
    assert display.line_.get_label() == f"FakeErrorPredictor (AURC = {expected:.1f})"
    assert display.oracle_line_ is not None

    named = RiskCoverageDisplay.from_estimator(estimator, X, y, name="MetaErr")
    assert named.line_.get_label().startswith("MetaErr (AURC = ")


def test_sample_weight_draws_the_curve_of_repeated_samples():
    weight = np.array([2, 0, 1, 3, 1])
    weighted = RiskCoverageDisplay.from_scores(
        CORRECT, CONFIDENCE, sample_weight=weight, plot_oracle=True
    )
    rows = np.repeat(np.arange(CORRECT.size), weight)
    repeated = RiskCoverageDisplay.from_scores(
        CORRECT[rows], CONFIDENCE[rows], plot_oracle=True
    )
    np.testing.assert_allclose(weighted.coverage, repeated.coverage)
    np.testing.assert_allclose(weighted.risk, repeated.risk)
    assert weighted.aurc == pytest.approx(repeated.aurc)
    assert weighted.aurc == pytest.approx(
        aurc(CORRECT, CONFIDENCE, sample_weight=weight)
    )
    assert 1000 * _step_area(weighted.line_) == pytest.approx(weighted.aurc)
    np.testing.assert_allclose(
        weighted.oracle_line_.get_ydata(), repeated.oracle_line_.get_ydata()
    )
    with pytest.raises(ValueError, match="Negative values"):
        RiskCoverageDisplay.from_scores(CORRECT, CONFIDENCE, sample_weight=-weight)


def test_from_estimator_with_sample_weight():
    X, y = make_classification(n_samples=120, flip_y=0.3, random_state=0)
    estimator = FakeErrorPredictor().fit(X, y)
    correct = estimator.predict(X) == y
    confidence = 1 - estimator.predict_error_proba(X)
    weight = np.random.default_rng(0).integers(0, 4, size=120)
    display = RiskCoverageDisplay.from_estimator(estimator, X, y, sample_weight=weight)
    expected = aurc(correct, confidence, sample_weight=weight)
    assert display.aurc == pytest.approx(expected)
    assert display.aurc != pytest.approx(aurc(correct, confidence))


def test_from_estimator_needs_predict_error_proba():
    X, y = make_classification(n_samples=40, random_state=0)
    with pytest.raises(TypeError, match="predict_error_proba"):
        RiskCoverageDisplay.from_estimator(LogisticRegression().fit(X, y), X, y)


def test_import_does_not_load_matplotlib():
    code = "import sys, metaerr_sk.plotting; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
