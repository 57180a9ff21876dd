"""CIFAR-10 ResNets (He et al. 2016, option A) and a frozen-base classifier."""

from numbers import Integral
from os import PathLike

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._data_files import _corrupt_error, _resolve_file, get_data_dir
from ._torch_utils import check_device, warn_if_not_unit_range

__all__ = ["CifarResNet", "PretrainedCifarResNet", "load_cifar_resnet"]

#: Normalisation the pretrained checkpoints were trained with.
CIFAR_MEAN = (0.485, 0.456, 0.406)
CIFAR_STD = (0.229, 0.224, 0.225)

_CHECKPOINTS = {
    20: "weights/cifar10-resnet/resnet20-12fca82f.th",
    56: "weights/cifar10-resnet/resnet56-4bfd9763.th",
}


class _PadShortcut(nn.Module):
    """Option-A shortcut: subsample by 2 and zero-pad the new channels."""

    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class _BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.shortcut = _PadShortcut(planes)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32x32 CIFAR images with option-A identity shortcuts.

    Three stages of ``(depth - 2) / 6`` basic blocks with 16, 32 and 64
    channels, global average pooling and a linear layer (He et al. 2016,
    section 4.2). Parameter names match the checkpoints of Yerlan Idelbayev's
    ``pytorch_resnet_cifar10`` once their ``module.`` prefix is stripped.

    Parameters
    ----------
    depth : int, default=20
        ``6 n + 2`` layers: 20, 32, 44, 56, 110, ...
    n_classes : int, default=10
        Number of outputs.

    See Also
    --------
    load_cifar_resnet : The module with the pretrained CIFAR-10 weights.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for Image
       Recognition", CVPR 2016.

    Examples
    --------
    >>> import torch
    >>> from metaerr_sk.nn import CifarResNet
    >>> net = CifarResNet(depth=20).eval()
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> net(x).shape, net.features(x).shape
    (torch.Size([2, 10]), torch.Size([2, 64]))
    """

    def __init__(self, depth=20, n_classes=10):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6 n + 2 with n >= 1, got {depth}.")
        n_blocks = (depth - 2) // 6
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 16, 3, 1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, 16, n_blocks, stride=1)
        self.layer2 = self._make_layer(16, 32, n_blocks, stride=2)
        self.layer3 = self._make_layer(32, 64, n_blocks, stride=2)
        self.linear = nn.Linear(64, n_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    @staticmethod
    def _make_layer(in_planes, planes, n_blocks, stride):
        blocks = [_BasicBlock(in_planes, planes, stride)]
        blocks += [_BasicBlock(planes, planes) for _ in range(n_blocks - 1)]
        return nn.Sequential(*blocks)

    def features(self, x):
        """The 64-d penultimate features (after global average pooling).

        Parameters
        ----------
        x : torch.Tensor of shape (n, 3, 32, 32)
            Normalised images.

        Returns
        -------
        features : torch.Tensor of shape (n, 64)
        """
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return out.mean(dim=(2, 3))

    def forward(self, x):
        """Logits, shape (n, n_classes), for normalised images (n, 3, 32, 32)."""
        return self.linear(self.features(x))


def load_cifar_resnet(depth=20, data_dir=None, *, verify=True, device="cpu"):
    """The pretrained CIFAR-10 ResNet-20 or ResNet-56, in eval mode.

    Reads ``weights/cifar10-resnet/resnet20-12fca82f.th`` or
    ``resnet56-4bfd9763.th`` under the data folder (BSD-2-Clause, Yerlan
    Idelbayev). The networks expect 32x32 RGB images scaled to [0, 1] and
    normalised with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).

    Parameters
    ----------
    depth : {20, 56}, default=20
        Which network.
    data_dir : str or path-like, default=None
        Folder holding ``weights/``; see :func:`metaerr_sk.datasets.get_data_dir`.
    verify : bool, default=True
        Check the checkpoint's sha256 (once per process).
    device : str or torch.device, default="cpu"
        Where to put the module.

    Returns
    -------
    module : CifarResNet
        The network with its weights, in eval mode, with gradients disabled.

    Raises
    ------
    FileNotFoundError
        When the checkpoint is missing; the message says where to put it.
    ValueError
        When it is corrupt, or when ``depth`` has no checkpoint.

    Examples
    --------
    >>> from metaerr_sk.nn import load_cifar_resnet
    >>> net = load_cifar_resnet(20)  # doctest: +SKIP
    >>> sum(p.numel() for p in net.parameters())  # doctest: +SKIP
    272474
    """
    if depth not in _CHECKPOINTS:
        raise ValueError(
            f"Pretrained weights exist for depth {sorted(_CHECKPOINTS)}, got {depth!r}."
        )
    dev = check_device(device)
    relpath = _CHECKPOINTS[depth]
    data_dir = get_data_dir(data_dir)
    path = _resolve_file(relpath, data_dir, verify=verify)
    module = CifarResNet(depth)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        state = checkpoint.get("state_dict", checkpoint)
        state = {k.removeprefix("module."): v for k, v in state.items()}
        module.load_state_dict(state)
    except Exception as exc:  # torch raises many types for a broken pickle
        raise _corrupt_error(path, relpath, data_dir, reason=str(exc)) from exc
    module.requires_grad_(False)
    return module.to(dev).eval()


def as_image_batch(X, *, allow_grey):
    """Validate images; return them as (n, 32, 32, 3) RGB or (n, H, W) grey.

    Accepted: RGB (n, 32, 32, 3), (n, 3, 32, 32) or flattened (n, 3072) in
    height-width-channel order; with ``allow_grey``, grey (n, H, W) with H, W
    at most 32, (n, 784) as 28x28 and (n, 1024) as 32x32. uint8 (0-255) or
    floats in [0, 1].
    """
    X = np.asarray(X)
    if X.dtype != np.uint8 and not np.issubdtype(X.dtype, np.floating):
        raise TypeError(
            f"Expected uint8 images (0-255) or float images in [0, 1], got dtype "
            f"{X.dtype}."
        )
    warn_if_not_unit_range(X)
    shape = X.shape
    if X.ndim == 2 and shape[1] == 3072:
        return X.reshape(-1, 32, 32, 3)
    if X.ndim == 4 and shape[1:] == (32, 32, 3):
        return X
    if X.ndim == 4 and shape[1:] == (3, 32, 32):
        return X.transpose(0, 2, 3, 1)
    if allow_grey:
        if X.ndim == 4 and 1 in (shape[1], shape[3]):  # one channel, NCHW or NHWC
            X = X[:, 0] if shape[1] == 1 else X[..., 0]
            shape = X.shape
        if X.ndim == 2 and shape[1] in (784, 1024):
            side = int(round(shape[1] ** 0.5))
            return X.reshape(-1, side, side)
        if X.ndim == 3 and shape[2] in (3, 4):
            # one RGB(A) image, not 32 grey images 3 pixels wide
            raise ValueError(
                f"Got shape {shape}: one colour image? Pass a batch, X[None]; "
                "grey images are (n, H, W) with H, W between 5 and 32."
            )
        if X.ndim == 3 and 5 <= min(shape[1:]) and max(shape[1:]) <= 32:
            return X
    accepted = "(n, 32, 32, 3), (n, 3, 32, 32) or (n, 3072) RGB images"
    if allow_grey:
        accepted += ", or grey (n, H, W) with 5 <= H, W <= 32, (n, 784), (n, 1024)"
    raise ValueError(f"Expected {accepted}; got shape {shape}.")


def _to_input_tensor(batch, device):
    """Scale, pad grey to 3x32x32, normalise and move a batch to ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if x.ndim == 3:  # grey (n, H, W): centre in 32x32, repeat to 3 channels
        h, w = x.shape[1:]
        top, left = (32 - h) // 2, (32 - w) // 2
        x = F.pad(x, (left, 32 - w - left, top, 32 - h - top))
        x = x.unsqueeze(1).expand(-1, 3, -1, -1)
    else:
        x = x.permute(0, 3, 1, 2)
    mean = torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def batched_apply(fn, X, *, batch_size, device, verbose, desc):
    """``fn`` on normalised input batches of images ``X``; numpy float32 out."""
    from tqdm.auto import tqdm

    outputs = []
    with torch.inference_mode():
        for start in tqdm(
            range(0, len(X), batch_size), desc=desc, unit="batch", disable=not verbose
        ):
            x = _to_input_tensor(X[start : start + batch_size], device)
            outputs.append(fn(x).float().cpu().numpy())
    if not outputs:
        raise ValueError("Found an array with 0 images; at least 1 is required.")
    return np.concatenate(outputs)


class _PretrainedResNetBase(BaseEstimator):
    """Parameters, weight loading and batched inference shared by the estimators
    around a pretrained CIFAR ResNet (the classifier and the embedding)."""

    # whether grey images (n, H, W), H and W at most 32, are accepted
    _allow_grey = False

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

    def _load_network(self, X):
        """Check ``X``'s shape when given, and load the pretrained weights."""
        if X is not None:
            as_image_batch(X, allow_grey=self._allow_grey)
        self.module_ = load_cifar_resnet(self.depth, self.data_dir, device=self.device)

    def _apply(self, part, X, desc):
        """``part(module_)`` (the network or a part of it) on ``X``, batch by
        batch; ``part`` is a function so that an unfitted model fails in
        ``check_is_fitted`` rather than on the missing ``module_``."""
        check_is_fitted(self)
        return batched_apply(
            part(self.module_),
            as_image_batch(X, allow_grey=self._allow_grey),
            batch_size=self.batch_size,
            device=next(self.module_.parameters()).device,
            verbose=self.verbose,
            desc=desc,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # images, not a 2-d feature matrix: the generic estimator checks do
        # not apply
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class PretrainedCifarResNet(ClassifierMixin, _PretrainedResNetBase):
    """The pretrained CIFAR-10 ResNet as a scikit-learn classifier.

    ``fit`` trains nothing: it loads the checkpoint and sets ``classes_`` to
    0..9 (CIFAR-10's labels, see
    :data:`metaerr_sk.datasets.CIFAR10_CLASSES`). Wrap the fitted estimator in
    :class:`sklearn.frozen.FrozenEstimator` to use it as a frozen base.

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
    classes_ : ndarray of shape (10,)
        ``np.arange(10)``.

    See Also
    --------
    load_cifar_resnet : The underlying torch module.
    ResNetEmbedding : Its 64-d penultimate features as a transformer.

    Notes
    -----
    Inputs are RGB images (n, 32, 32, 3) - uint8, or floats in [0, 1] - also
    accepted as (n, 3, 32, 32) or flattened to (n, 3072) in
    height-width-channel order; they are normalised with mean
    (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). Accuracy on the JPEG
    copy of the CIFAR-10 test set loaded by
    :func:`metaerr_sk.datasets.load_cifar10`: about 81% (ResNet-20) and 83%
    (ResNet-56), below the published 91.8% / 93.6% on the original PNGs.

    Examples
    --------
    >>> from sklearn.frozen import FrozenEstimator
    >>> from metaerr_sk.datasets import load_cifar10
    >>> from metaerr_sk.nn import PretrainedCifarResNet
    >>> X, y = load_cifar10(subset="test")  # doctest: +SKIP
    >>> base = FrozenEstimator(PretrainedCifarResNet(depth=20).fit())  # doctest: +SKIP
    >>> base.score(X, y)  # doctest: +SKIP
    0.81...
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Load the pretrained weights; nothing is trained.

        Parameters
        ----------
        X : array-like of images, default=None
            Ignored apart from a shape check when given.
        y : array-like of shape (n_samples,), default=None
            Ignored.

        Returns
        -------
        self : PretrainedCifarResNet
            The estimator with its network loaded.
        """
        self._load_network(X)
        self.classes_ = np.arange(10)
        return self

    def decision_function(self, X):
        """Logits of the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 32, 32, 3)
            RGB images, uint8 or floats in [0, 1].

        Returns
        -------
        logits : ndarray of shape (n_samples, 10), dtype float32
        """
        return self._apply(lambda net: net, X, desc=f"ResNet-{self.depth}")

    def predict_proba(self, X):
        """Softmax class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, 32, 32, 3)
            RGB images, uint8 or floats in [0, 1].

        Returns
        -------
        proba : ndarray of shape (n_samples, 10), dtype float64
            Rows sum to 1; columns follow ``classes_``.
        """
        logits = self.decision_function(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, 32, 32, 3)
            RGB images, uint8 or floats in [0, 1].

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), dtype int64
        """
        scores = self.decision_function(X)  # checks that the model is fitted
        return self.classes_[scores.argmax(axis=1)]
