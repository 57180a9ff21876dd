"""Penultimate-layer features of the pretrained CIFAR ResNet as a transformer."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context

from ._resnet import _PretrainedResNetBase

__all__ = ["ResNetEmbedding"]


class ResNetEmbedding(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, _PretrainedResNetBase
):
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

    _allow_grey = True

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
        self._load_network(X)
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
        return self._apply(
            lambda net: net.features, X, desc=f"ResNet-{self.depth} embedding"
        )
