"""Predict, sample by sample, when a classifier is going to be wrong."""

from ._meta_err import MetaErrClassifier

__all__ = ["MetaErrClassifier"]

__version__ = "0.1.0.dev0"
