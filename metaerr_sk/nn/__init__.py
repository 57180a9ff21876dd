"""torch/skorch pieces: a small CNN, the CIFAR ResNets and image embeddings.

Needs ``torch`` and ``skorch`` (install torch first, pinned, so that pip does not
pull a several-GB CUDA build): ``pip install torch==2.13.0 skorch``.
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "metaerr_sk.nn needs torch and skorch, which are not installed: "
        "pip install torch==2.13.0 skorch"
    ) from exc

from ._cnn import (
    SeededNeuralNetClassifier,
    SmallCNN,
    images_to_float32,
    make_cnn_classifier,
)
from ._embedding import ResNetEmbedding
from ._resnet import CifarResNet, PretrainedCifarResNet, load_cifar_resnet

__all__ = [
    "CifarResNet",
    "PretrainedCifarResNet",
    "ResNetEmbedding",
    "SeededNeuralNetClassifier",
    "SmallCNN",
    "images_to_float32",
    "load_cifar_resnet",
    "make_cnn_classifier",
]
