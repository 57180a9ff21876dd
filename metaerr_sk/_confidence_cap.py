"""The base's own trust in a pseudo-label: the ceiling on MetaErr's.

``SelfTrainingWithMetaErr(cap_at_confidence=True)`` trusts a pseudo-label at
most as much as the base does. MetaErr, fitted on a few dozen real labels, can
be over-optimistic across the board; the base's max probability lets its own
doubt count where MetaErr has none. Two readings keep the base's probabilities
from blocking every sample instead:

- an under-confident base (a random forest's votes, a regularised logistic
  regression on text) is sharpened by a temperature fitted on the out-of-fold
  predictions for the real labels; an over-confident one is never softened,
  since MetaErr has learned its failures;
- a base that reaches ``threshold`` nowhere, its real labels included, cannot
  say "sure" at all (5-nearest neighbours with 4 labels per class say 4/5 at
  most), and is read relative to the highest probability it gives.
"""

import numpy as np

from ._temperature import fit_temperature, scale_proba

# A base right on more of its held-out real labels than this is "mostly
# right": the min_errors fallback reads it as the cap does. One wrong on most
# (Platt scaling fitted on 2 labels per class) is read raw and admits nothing.
MOSTLY_RIGHT = 0.5


class ConfidenceCap:
    """The base's trust in its predictions, through one ``fit``.

    Parameters
    ----------
    classes : ndarray of shape (n_classes,)
        The columns of every probability array, in order.

    threshold : float
        The trust a pseudo-label must pass.

    Attributes
    ----------
    base_said_sure : bool
        Whether a round's base has passed ``threshold`` anywhere. From then on
        the base is read raw: the samples left unlabelled late in a run are
        the hard ones, and a base refitted on many pseudo-labels may fit its
        few real labels loosely - neither says the base cannot be sure, and
        reading them relative to their highest would admit the hardest
        samples wholesale.
    """

    def __init__(self, classes, threshold):
        self.classes = classes
        self.threshold = threshold
        self.base_said_sure = False

    def temperature(self, oof_proba, y_real):
        """The temperature of the base's confidence: fitted on the
        out-of-fold predictions for the real labels, and at most 1 - an
        under-confident base is sharpened, never an over-confident one
        softened."""
        y_index = np.searchsorted(self.classes, y_real)
        return min(1.0, fit_temperature(oof_proba, y_index))

    def error_proba(
        self, meta_error_proba, proba, real_proba, *, temperature, fallback, accuracy
    ):
        """P(base is wrong) on each sample, capped by the base's own doubt.

        Parameters
        ----------
        meta_error_proba : ndarray of shape (n_samples,)
            MetaErr's prediction: the meta-learner's, or with ``fallback`` one
            minus the base's raw max probability.
        proba : ndarray of shape (n_samples, n_classes)
            The base's probabilities for the samples.
        real_proba : callable
            Returns the base's probabilities for the real labelled samples;
            called only when the samples cannot tell whether it can be sure.
        temperature : float
            From :meth:`temperature`.
        fallback : bool
            Whether MetaErr fell back to max probability (``min_errors``).
        accuracy : float
            The out-of-fold models' accuracy on the real labels.
        """
        if not fallback:
            confidence = self.confidence(proba, real_proba, temperature)
            return np.maximum(meta_error_proba, 1.0 - confidence)
        if accuracy > MOSTLY_RIGHT:  # too few errors to learn from
            return 1.0 - self.confidence(proba, real_proba, 1.0)
        return meta_error_proba

    def confidence(self, proba, real_proba, temperature):
        """The max probability at ``temperature``, and where no sample's
        reaches ``threshold``, the real labels' included, that over the
        highest."""
        confidence = scale_proba(proba, temperature).max(axis=1)
        if self.base_said_sure:
            return confidence
        ceiling = confidence.max()
        if ceiling <= self.threshold:  # the pool cannot pass: can the real labels?
            ceiling = max(ceiling, scale_proba(real_proba(), temperature).max())
        if ceiling > self.threshold:
            self.base_said_sure = True
            return confidence
        return confidence / ceiling
