"""Tests for temperature scaling (the cap of SelfTrainingWithMetaErr's trust)."""

import numpy as np
import pytest

from metaerr_sk._temperature import fit_temperature, scale_proba


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_fit_temperature_recovers_a_known_miscalibration(true_temperature):
    # Labels drawn from softmax(z); the classifier reports softmax(z / T):
    # the fitted temperature undoes T.
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(20_000, 5))
    y_index = np.array([rng.choice(5, p=p) for p in _softmax(logits)])
    reported = _softmax(logits / true_temperature)
    fitted = fit_temperature(reported, y_index)
    assert fitted == pytest.approx(1.0 / true_temperature, rel=0.05)
    # scaling at the fitted temperature gives back the true probabilities
    np.testing.assert_allclose(
        scale_proba(reported, fitted), _softmax(logits), atol=0.02
    )


def test_no_error_at_all_gives_the_lower_bound():
    proba = np.array([[0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    # the log-loss falls all the way to T -> 0: the optimiser stops at the bound
    assert 0.01 <= fit_temperature(proba, np.array([0, 1, 0])) < 0.02


def test_zero_probabilities_are_handled():
    # a class a fold's model never saw: probability 0, even for the true class
    proba = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    temperature = fit_temperature(proba, np.array([0, 1, 2]))
    assert np.isfinite(temperature)
    scaled = scale_proba(proba, temperature)
    assert np.all(np.isfinite(scaled))


def test_scale_proba_keeps_the_ranking_and_sums_to_one():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(4), size=50)
    assert scale_proba(proba, 1.0) is proba  # bit for bit at 1
    sharp, soft = scale_proba(proba, 0.5), scale_proba(proba, 2.0)
    for scaled in (sharp, soft):
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0)
        np.testing.assert_array_equal(scaled.argmax(axis=1), proba.argmax(axis=1))
    assert np.all(sharp.max(axis=1) >= proba.max(axis=1))
    assert np.all(soft.max(axis=1) <= proba.max(axis=1))
