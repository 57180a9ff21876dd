"""Temperature scaling of predicted probabilities (Guo et al., 2017).

One parameter, fitted by log-loss on held-out predictions, so it can be
estimated from a few dozen labels: ``T > 1`` softens an over-confident
classifier, ``T < 1`` sharpens an under-confident one (a heavily regularised
logistic regression on text, naive Bayes). Works on probabilities from any
classifier: ``softmax(log(p) / T)`` is ``p ** (1 / T)`` renormalised.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

# log10 T in [-2, 2]: beyond that a few dozen labels say nothing more
_LOG10_BOUNDS = (-2.0, 2.0)
_TINY = 1e-12  # a class a fold's model never saw has probability 0


def fit_temperature(proba, y_index):
    """The temperature that minimises the log-loss of ``proba`` on ``y_index``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Held-out (out-of-fold) predicted probabilities.

    y_index : ndarray of shape (n_samples,)
        Column of each sample's true class in ``proba``.

    Returns
    -------
    temperature : float
        In ``[0.01, 100]``; with no error at all the log-loss falls towards
        ``T -> 0`` and the result is next to the lower bound.
    """
    log_proba = np.log(np.clip(proba, _TINY, None))
    rows = np.arange(log_proba.shape[0])

    def log_loss(log10_t):
        scaled = log_softmax(log_proba / 10.0**log10_t, axis=1)
        return -scaled[rows, y_index].mean()

    result = minimize_scalar(log_loss, bounds=_LOG10_BOUNDS, method="bounded")
    return float(10.0**result.x)


def scale_proba(proba, temperature):
    """``proba`` at temperature ``temperature`` (rows sum to 1); ``proba``
    itself, bit for bit, at 1."""
    if temperature == 1.0:
        return proba
    log_proba = np.log(np.clip(proba, _TINY, None))
    return np.exp(log_softmax(log_proba / temperature, axis=1))
