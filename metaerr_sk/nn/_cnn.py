"""A small CNN for 28x28 grey images as a seeded skorch classifier."""

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

from ._torch_utils import (
    check_device,
    local_torch_seed,
    seed_from_random_state,
    warn_if_not_unit_range,
)


def images_to_float32(X):
    """Scale images to float32 in [0, 1] and flatten them, one row per image.

    Meant for ``FunctionTransformer(images_to_float32)`` in front of a network
    in a :class:`~sklearn.pipeline.Pipeline`.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        uint8 images (0-255, divided by 255) or floating-point images assumed
        already in [0, 1] (only cast).

    Returns
    -------
    X_float : ndarray of shape (n_samples, n_pixels), dtype float32
        The images, flattened in C order.

    Examples
    --------
    >>> import numpy as np
    >>> from metaerr_sk.nn import images_to_float32
    >>> images_to_float32(np.full((2, 28, 28), 255, dtype=np.uint8)).shape
    (2, 784)
    >>> float(images_to_float32(np.array([[0, 51, 255]], dtype=np.uint8)).max())
    1.0
    """
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(
            f"Expected images of shape (n_samples, ...), got shape {X.shape}."
        )
    if X.dtype == np.uint8:
        X = X.astype(np.float32) / np.float32(255)
    elif np.issubdtype(X.dtype, np.floating):
        warn_if_not_unit_range(X)
        X = X.astype(np.float32, copy=False)
    else:
        raise TypeError(
            f"Expected uint8 images (0-255) or float images in [0, 1], got dtype "
            f"{X.dtype}; convert them with X.astype(np.uint8) or scale to [0, 1]."
        )
    return X.reshape(len(X), int(np.prod(X.shape[1:])))  # also for 0 images


class SmallCNN(nn.Module):
    """Two conv blocks and a linear head for 28x28 one-channel images.

    ``conv(32) - ReLU - maxpool - conv(64) - ReLU - maxpool - linear(128) -
    ReLU - dropout - linear(n_classes)``; returns logits.

    Parameters
    ----------
    n_classes : int, default=10
        Number of outputs.
    dropout : float, default=0.25
        Dropout probability before the last layer.

    Examples
    --------
    >>> import torch
    >>> from metaerr_sk.nn import SmallCNN
    >>> SmallCNN(n_classes=3)(torch.zeros(5, 784)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_classes=10, dropout=0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(128, n_classes),
        )

    def forward(self, X):
        """Logits for images of shape (n, 784), (n, 28, 28) or (n, 1, 28, 28)."""
        if not torch.is_floating_point(X):
            raise TypeError(
                f"SmallCNN expects float images in [0, 1], got dtype {X.dtype}; "
                "convert uint8 images with metaerr_sk.nn.images_to_float32."
            )
        if X[0].numel() != 28 * 28:
            raise ValueError(
                "SmallCNN expects 28x28 one-channel images, shaped (n, 784), "
                f"(n, 28, 28) or (n, 1, 28, 28); got shape {tuple(X.shape)}."
            )
        X = X.reshape(-1, 1, 28, 28).to(self.features[0].weight.dtype)
        return self.head(self.features(X))


class SeededNeuralNetClassifier(NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` whose ``fit`` is seeded by ``random_state``.

    ``fit`` (weight initialisation, shuffling, dropout) runs inside
    ``torch.random.fork_rng`` with ``torch.manual_seed(seed)``: two fits with
    the same integer ``random_state`` give identical networks, and torch's
    global random state is left as it was. ``random_state=None`` uses torch's
    global RNG (not reproducible). ``partial_fit`` called on its own is not
    seeded.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network; see :class:`skorch.NeuralNetClassifier`.
    *args : list
        Passed to :class:`skorch.NeuralNetClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds torch inside ``fit``.
    **kwargs : dict
        Passed to :class:`skorch.NeuralNetClassifier`.

    See Also
    --------
    make_cnn_classifier : A ready-made instance around :class:`SmallCNN`.
    """

    def __init__(self, module, *args, random_state=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.random_state = random_state

    def fit(self, X, y=None, **fit_params):
        """Initialise (unless warm-starting) and train the network, seeded.

        Parameters
        ----------
        X : array-like or Dataset
            Inputs; see :meth:`skorch.NeuralNetClassifier.fit`.
        y : array-like of shape (n_samples,), default=None
            Integer class labels.
        **fit_params : dict
            Passed to :meth:`skorch.NeuralNetClassifier.fit`.

        Returns
        -------
        self : SeededNeuralNetClassifier
            The trained network.
        """
        check_device(self.device)
        if y is not None and not isinstance(y, torch.utils.data.Dataset):
            y = _class_indices(y, self.classes)
        seed = seed_from_random_state(self.random_state)
        with local_torch_seed(seed, self.device):
            return super().fit(X, y, **fit_params)


def _class_indices(y, classes):
    """``y`` as the int64 class indices the cross-entropy loss takes.

    torch's own errors for int32, float or out-of-range labels ("expected
    target dtype to be Long", "Target 10 is out of bounds") come from deep in a
    training step."""
    y = np.asarray(y)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if y.dtype.kind not in "iub":
        raise ValueError(
            f"The network needs integer class labels, got dtype {y.dtype}; encode "
            "them with sklearn.preprocessing.LabelEncoder."
        )
    top = None if classes is None else len(classes) - 1
    if y.size and (y.min() < 0 or (top is not None and y.max() > top)):
        raise ValueError(
            f"Class labels must be 0..{'n_classes - 1' if top is None else top}, "
            f"got labels from {y.min()} to {y.max()}; encode them with "
            "sklearn.preprocessing.LabelEncoder, or set n_classes."
        )
    return y.astype(np.int64, copy=False)


def make_cnn_classifier(
    *,
    n_classes=10,
    max_epochs=3,
    lr=1e-3,
    batch_size=128,
    optimizer=torch.optim.Adam,
    device="cpu",
    random_state=None,
    verbose=0,
    **kwargs,
):
    """A seeded skorch classifier around :class:`SmallCNN` for 28x28 images.

    It takes float32 inputs in [0, 1] of shape (n, 784), (n, 28, 28) or
    (n, 1, 28, 28) (put ``FunctionTransformer(images_to_float32)`` in front
    for uint8 images) and integer labels ``0..n_classes-1``. Its classes are
    fixed to ``np.arange(n_classes)``, there is no internal validation split
    and batches are shuffled, so it works inside ``cross_val_predict(...,
    method="predict_proba")``, ``clone`` and pickle.

    Parameters
    ----------
    n_classes : int, default=10
        Number of classes; labels must be ``0..n_classes-1``.
    max_epochs : int, default=3
        Training epochs.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=128
        Mini-batch size for training and prediction.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimiser.
    device : str, default="cpu"
        Torch device, e.g. "cuda". A CUDA device that is unavailable raises a
        ValueError at fit time.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and dropout (locally).
    verbose : int, default=0
        skorch's per-epoch log when > 0.
    **kwargs : dict
        More :class:`skorch.NeuralNetClassifier` parameters (``callbacks``,
        ``module__dropout``, ``iterator_train__num_workers``, ...).

    Returns
    -------
    net : SeededNeuralNetClassifier
        An unfitted classifier.

    See Also
    --------
    images_to_float32 : Scale uint8 images for this network.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from metaerr_sk.nn import images_to_float32, make_cnn_classifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    >>> y = np.arange(64) % 10
    >>> clf = make_pipeline(
    ...     FunctionTransformer(images_to_float32),
    ...     make_cnn_classifier(max_epochs=1, random_state=0),
    ... ).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 10)
    """
    params = dict(
        criterion=nn.CrossEntropyLoss,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=None,
        classes=np.arange(n_classes),
        iterator_train__shuffle=True,
        device=device,
        verbose=verbose,
        module__n_classes=n_classes,
    )
    params.update(kwargs)
    return SeededNeuralNetClassifier(SmallCNN, random_state=random_state, **params)
