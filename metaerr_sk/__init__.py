"""Predict, sample by sample, when a classifier is going to be wrong."""

from ._debugging import DataCentricDebugger
from ._meta_err import MetaErrClassifier
from ._self_training import SelfTrainingWithMetaErr

__all__ = ["DataCentricDebugger", "MetaErrClassifier", "SelfTrainingWithMetaErr"]

__version__ = "0.1.0.dev0"
