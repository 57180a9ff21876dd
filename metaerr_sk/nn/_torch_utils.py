"""Shared torch helpers: device checks and local (non-global) seeding."""

import contextlib
import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state


def warn_if_not_unit_range(X):
    """Float images are taken as already in [0, 1]; say so when they are not
    (0-255 floats, or scikit-learn's digits at 0-16, would be read as mostly
    saturated and give poor results without an error)."""
    if not np.issubdtype(X.dtype, np.floating) or not X.size:
        return
    largest = float(np.nanmax(X))  # one pass over what may be every image
    if largest > 1:
        warnings.warn(
            f"Float images are taken to be in [0, 1], but their largest value is "
            f"{largest:.4g}: divide them by their scale (255 for "
            "8-bit images, 16 for scikit-learn's digits), or pass uint8.",
            UserWarning,
            stacklevel=3,
        )


def check_device(device):
    """Return ``torch.device(device)``, refusing CUDA when it is unavailable.

    Raises a ValueError that says what to do, instead of torch's lower-level
    error deep inside a forward pass.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}."
        ) from exc
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was asked for but torch {torch.__version__} "
            "has no MPS (Apple GPU) backend here. Use device='cpu'."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for but CUDA is not available to torch "
            f"{torch.__version__} (a CPU-only build, or no GPU visible). "
            "Use device='cpu', or install a CUDA build of torch."
        )
    return dev


def seed_from_random_state(random_state):
    """An int seed for torch from a scikit-learn ``random_state``, or None."""
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)):
        if not 0 <= random_state < 2**32:  # scikit-learn's range for seeds
            raise ValueError(f"random_state must be in [0, 2**32), got {random_state}.")
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextlib.contextmanager
def local_torch_seed(seed, device="cpu"):
    """Run the block with torch's RNGs seeded, restoring them afterwards.

    ``seed=None`` leaves the RNGs alone. Only the CPU generator and, for a CUDA
    ``device``, that device's generator are forked, so a CPU run never
    initialises CUDA.
    """
    if seed is None:
        yield
        return
    dev = torch.device(device)
    devices = []
    if dev.type == "cuda":
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()]
    # A seed alone does not make CUDA runs repeat: cuDNN picks non-deterministic
    # convolution kernels (seen on an H100: same seed, different probabilities).
    # Ask for deterministic ones inside the block only, and restore the flags.
    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        cudnn.deterministic, cudnn.benchmark = True, False
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.manual_seed(seed)
            yield
    finally:
        cudnn.deterministic, cudnn.benchmark = saved
