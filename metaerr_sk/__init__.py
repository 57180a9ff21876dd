"""Predict, sample by sample, when a classifier is going to be wrong."""

from ._meta_err import MetaErrClassifier
from ._self_training import SelfTrainingWithMetaErr

__all__ = ["MetaErrClassifier", "SelfTrainingWithMetaErr"]

__version__ = "0.1.0.dev0"
