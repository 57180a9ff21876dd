"""Penultimate-layer features of the pretrained CIFAR ResNet as a transformer."""

from numbers import Integral
from os import PathLike

import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import check_is_fitted

from ._resnet import _CHECKPOINTS, as_image_batch, batched_apply, load_cifar_resnet

__all__ = ["ResNetEmbedding"]


class ResNetEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """64-d image embeddings from the pretrained CIFAR-10 ResNet.

    A fixed feature extractor: ``fit`` loads the checkpoint (no training, no
    labels used) and ``transform`` returns the penultimate features (after
    global average pooling) of each image - the "vision embedding" for
    meta-features, classic learners or nearest-neighbour data selection.

    Parameters
    ----------
    depth : {20, 56}, default=20
        ResNet-20 or ResNet-56.
    data_dir : str or path-like, default=None
        Folder holding ``weights/``; see :func:`metaerr_sk.datasets.get_data_dir`.
    device : str, default="cpu"
        Torch device; "cuda" raises a ValueError at fit time when CUDA is not
        available.
    batch_size : int, default=256
        Images per forward pass.
    verbose : bool, default=False
        Show a progress bar over batches.

    Attributes
    ----------
    module_ : CifarResNet
        The network, in eval mode.

    See Also
    --------
    PretrainedCifarResNet : The same network as a classifier.

    Notes
    -----
    Accepted images: RGB (n, 32, 32, 3), (n, 3, 32, 32) or (n, 3072); grey
    (n, H, W) with H, W <= 32, (n, 784) read as 28x28 or (n, 1024) read as
    32x32. uint8 (0-255) or floats in [0, 1]. Grey images are centred on a
    black 32x32 canvas (MNIST's 28x28 gets a 2-pixel border) and repeated over
    the 3 channels, then normalised like CIFAR-10 images. The network was
    trained on CIFAR-10 only: on grey digits or clothing it is a generic,
    label-free feature extractor, not a model of those datasets.

    Examples
    --------
    >>> import numpy as np
    >>> from metaerr_sk.nn import ResNetEmbedding
    >>> X = np.zeros((3, 28, 28), dtype=np.uint8)
    >>> emb = ResNetEmbedding(depth=20).fit()  # doctest: +SKIP
    >>> emb.transform(X).shape  # doctest: +SKIP
    (3, 64)
    >>> emb.get_feature_names_out()[:2]  # doctest: +SKIP
    array(['resnetembedding0', 'resnetembedding1'], dtype=object)
    """

    _parameter_constraints: dict = {
        "depth": [Options(Integral, set(_CHECKPOINTS))],
        "data_dir": [str, PathLike, None],
        "device": [str, torch.device],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
    }

    def __init__(
        self, depth=20, *, data_dir=None, device="cpu", batch_size=256, verbose=False
    ):
        self.depth = depth
        self.data_dir = data_dir
        self.device = device
        self.batch_size = batch_size
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Load the pretrained weights; nothing is trained.

        Parameters
        ----------
        X : array-like of images, default=None
            Ignored apart from a shape check when given.
        y : None
            Ignored.

        Returns
        -------
        self : ResNetEmbedding
            The transformer with its network loaded.
        """
        if X is not None:
            as_image_batch(X, allow_grey=True)
        self.module_ = load_cifar_resnet(self.depth, self.data_dir, device=self.device)
        self._n_features_out = 64
        return self

    def transform(self, X):
        """Penultimate-layer features of each image.

        Parameters
        ----------
        X : array-like of images
            See Notes for the accepted shapes.

        Returns
        -------
        X_emb : ndarray of shape (n_samples, 64), dtype float32
        """
        check_is_fitted(self)
        X = as_image_batch(X, allow_grey=True)
        return batched_apply(
            self.module_.features,
            X,
            batch_size=self.batch_size,
            device=next(self.module_.parameters()).device,
            verbose=self.verbose,
            desc=f"ResNet-{self.depth} embedding",
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # images, not a 2-d feature matrix: the generic estimator checks do
        # not apply
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
