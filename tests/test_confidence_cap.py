import numpy as np
import pytest

from metaerr_sk._confidence_cap import ConfidenceCap


def _real_proba(top):
    """The base's probabilities for its real labels: max probability ``top``."""
    return lambda: np.array([[top, 1.0 - top], [1.0 - top, top]])


def _never_called():
    raise AssertionError("the real labels' probabilities were not needed")


def _cap(threshold=0.9):
    return ConfidenceCap(np.array([0, 1]), threshold)


LOW = np.array([[0.7, 0.3], [0.4, 0.6]])


def test_a_base_that_can_be_sure_is_read_raw():
    cap = _cap()
    np.testing.assert_allclose(cap.confidence(LOW, _real_proba(0.95), 1.0), [0.7, 0.6])
    assert cap.base_said_sure


def test_a_base_sure_nowhere_is_read_relative_to_its_highest():
    # 5-nearest neighbours with 4 labels per class say 4/5 at most
    cap = _cap()
    np.testing.assert_allclose(
        cap.confidence(LOW, _real_proba(0.75), 1.0), [0.7 / 0.75, 0.6 / 0.75]
    )
    assert not cap.base_said_sure


def test_the_pool_passing_the_threshold_needs_no_real_labels():
    sure = np.array([[0.95, 0.05], [0.4, 0.6]])
    np.testing.assert_allclose(_cap().confidence(sure, _never_called, 1.0), [0.95, 0.6])


def test_a_base_is_read_raw_once_it_has_said_sure():
    # Late in a run the pool left is the hard part, and a base refitted on
    # many pseudo-labels can fit its real labels loosely: that its highest
    # probability falls below the threshold then says nothing about whether
    # it can be sure, and reading it relative to that ceiling would admit the
    # hardest samples wholesale.
    cap = _cap()
    np.testing.assert_allclose(
        cap.confidence(LOW, _real_proba(0.7), 1.0), [1.0, 0.6 / 0.7]
    )
    cap.confidence(np.array([[0.95, 0.05]]), _never_called, 1.0)
    np.testing.assert_allclose(cap.confidence(LOW, _never_called, 1.0), [0.7, 0.6])


def test_the_meta_learner_is_capped_by_the_base():
    meta_error = np.array([0.05, 0.5])
    error = _cap().error_proba(
        meta_error,
        LOW,
        _real_proba(0.95),
        temperature=1.0,
        fallback=False,
        accuracy=0.8,
    )
    np.testing.assert_allclose(error, [0.3, 0.5])


def test_the_cap_sharpens_at_its_temperature():
    error = _cap().error_proba(
        np.zeros(2),
        LOW,
        _real_proba(0.95),
        temperature=0.5,
        fallback=False,
        accuracy=0.8,
    )
    sharpened = LOW**2 / (LOW**2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(error, 1.0 - sharpened.max(axis=1))


@pytest.mark.parametrize(
    "accuracy, expected",
    [
        # mostly right on its held-out real labels: read as the cap reads it
        (0.75, [1.0 - 0.7 / 0.75, 1.0 - 0.6 / 0.75]),
        # wrong on half or more (Platt scaling on 2 labels per class): raw
        (0.5, [0.3, 0.4]),
    ],
)
def test_the_fallback_reads_a_never_sure_base_by_its_accuracy(accuracy, expected):
    raw_error = 1.0 - LOW.max(axis=1)
    error = _cap().error_proba(
        raw_error,
        LOW,
        _real_proba(0.75),
        temperature=0.3,  # the fallback reads the base unsharpened
        fallback=True,
        accuracy=accuracy,
    )
    np.testing.assert_allclose(error, expected)


def test_temperature_sharpens_an_under_confident_base_only():
    y_real = np.array([0, 1, 0, 1])
    under = np.array([[0.6, 0.4], [0.4, 0.6], [0.6, 0.4], [0.4, 0.6]])
    over = np.array([[0.99, 0.01], [0.01, 0.99], [0.01, 0.99], [0.99, 0.01]])
    assert _cap().temperature(under, y_real) < 1.0
    assert _cap().temperature(over, y_real) == 1.0
