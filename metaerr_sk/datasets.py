"""Loaders for the canonical vision files (MNIST, Fashion-MNIST, CIFAR-10 JPEG).

Every loader reads local files only - nothing is ever downloaded. The data
folder holds the canonical files in this layout::

    <data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data_dir>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    <data_dir>/cifar10-jpeg/cifar-10-images-jpeg.tar.gz
    <data_dir>/weights/cifar10-resnet/resnet{20-12fca82f,56-4bfd9763}.th

``data_dir=None`` resolves, in this order, to:

1. the environment variable ``METAERR_DATA_DIR`` when it is set;
2. ``../shared/data`` relative to the current working directory, when it exists;
3. ``../shared/data`` relative to the repository root (the folder holding the
   ``metaerr_sk`` package), when it exists.

Every file is checked against its published sha256 (once per process and file,
memoised on path, size and modification time) unless ``verify=False``.
"""

import gzip
import io
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np

from ._data_files import (
    SHA256,
    _atomic_savez,
    _corrupt_error,
    _default_cache_dir,
    _file_sha256,
    _resolve_file,
    get_data_dir,
)

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_NAMES",
    "FASHION_MNIST_CLASSES",
    "get_data_dir",
    "load_cifar10",
    "load_dataset",
    "load_digits_images",
    "load_fashion_mnist",
    "load_mnist",
]

#: CIFAR-10 class names in label order (also their alphabetical order).
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

#: Fashion-MNIST class names in label order.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Names accepted by :func:`load_dataset`.
DATASET_NAMES = ("digits", "mnist", "fashion_mnist", "cifar10")

_SUBSETS = ("train", "test", "all")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_CIFAR10_FILE = "cifar10-jpeg/cifar-10-images-jpeg.tar.gz"
_CIFAR10_SIZES = {"train": 50_000, "test": 10_000}
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _check_subset(subset):
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {_SUBSETS}, got {subset!r}.")


def _read_idx(path, relpath, data_dir, *, ndim):
    """Parse an IDX file of unsigned bytes with ``ndim`` dimensions."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        magic = int.from_bytes(raw[:4], "big")
        if magic != 0x0800 + ndim:
            raise ValueError(f"bad magic number {magic:#010x}")
        header = 4 + 4 * ndim
        shape = tuple(
            int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
        )
        if len(raw) != header + int(np.prod(shape)):
            raise ValueError(f"{len(raw) - header} data bytes for shape {shape}")
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise _corrupt_error(path, relpath, data_dir, reason=str(exc)) from exc
    # bytearray: the returned array owns writable memory
    return np.frombuffer(bytearray(raw[header:]), dtype=np.uint8).reshape(shape)


def _load_idx_pair(folder, data_dir, subset, verify):
    _check_subset(subset)
    if subset == "all":
        parts = [_load_idx_pair(folder, data_dir, s, verify) for s in _IDX_FILES]
        return (
            np.concatenate([X for X, _ in parts]),
            np.concatenate([y for _, y in parts]),
        )
    data_dir = get_data_dir(data_dir)
    arrays = []
    for name, ndim in zip(_IDX_FILES[subset], (3, 1), strict=True):
        relpath = f"{folder}/{name}"
        path = _resolve_file(relpath, data_dir, verify=verify)
        arrays.append(_read_idx(path, relpath, data_dir, ndim=ndim))
    X, y = arrays
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{folder} {subset}: {X.shape[0]} images but {y.shape[0]} labels; "
            "the files do not belong together. Copy the canonical files again."
        )
    return X, y.astype(np.int64)


def load_mnist(data_dir=None, *, subset="train", verify=True):
    """Load MNIST from its canonical IDX ``.gz`` files.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder holding ``mnist/``; see :func:`get_data_dir` for the default.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (training
        then test).
    verify : bool, default=True
        Check each file's sha256 (once per process and file).

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28), dtype uint8
        Grey images, 0 (background) to 255, in file order.
    y : ndarray of shape (n_samples,), dtype int64
        Digit labels 0-9.

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message says where to put it.
    ValueError
        When a file is corrupt (checksum mismatch or unparsable).

    See Also
    --------
    load_fashion_mnist : Same format, clothing images.
    load_dataset : Load any of the datasets by name.

    Examples
    --------
    >>> from metaerr_sk.datasets import load_mnist
    >>> X, y = load_mnist(subset="test")  # doctest: +SKIP
    >>> X.shape, X.dtype, y[:5]  # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'), array([7, 2, 1, 0, 4]))
    """
    return _load_idx_pair("mnist", data_dir, subset, verify)


def load_fashion_mnist(data_dir=None, *, subset="train", verify=True):
    """Load Fashion-MNIST from its canonical IDX ``.gz`` files.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder holding ``fashion-mnist/``; see :func:`get_data_dir` for the
        default.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (training
        then test).
    verify : bool, default=True
        Check each file's sha256 (once per process and file).

    Returns
    -------
    X : ndarray of shape (n_samples, 28, 28), dtype uint8
        Grey images, 0 (background) to 255, in file order.
    y : ndarray of shape (n_samples,), dtype int64
        Labels 0-9, named by :data:`FASHION_MNIST_CLASSES`.

    Raises
    ------
    FileNotFoundError
        When a file is missing; the message says where to put it.
    ValueError
        When a file is corrupt (checksum mismatch or unparsable).

    See Also
    --------
    load_mnist : Same format, hand-written digits.
    load_dataset : Load any of the datasets by name.

    Examples
    --------
    >>> from metaerr_sk.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
    >>> X, y = load_fashion_mnist(subset="test")  # doctest: +SKIP
    >>> FASHION_MNIST_CLASSES[y[0]]  # doctest: +SKIP
    'Ankle boot'
    """
    return _load_idx_pair("fashion-mnist", data_dir, subset, verify)


def _decode_cifar_tarball(path, subset, *, verbose=True):
    """Decode the images of one subset from a CIFAR-10 JPEG tarball.

    The tarball is streamed (never extracted to disk); only members
    ``<top>/<subset>/<class name>/<file>`` are decoded. Order: class name,
    then file name. Labels index the sorted class names found in the whole
    tarball (both subsets).

    Returns
    -------
    X : ndarray of shape (n, 32, 32, 3), uint8
    y : ndarray of shape (n,), int64
    class_names : ndarray of str
    """
    from PIL import Image
    from tqdm.auto import tqdm

    entries = []  # (class name, file name, image)
    all_classes = set()
    total = (
        _CIFAR10_SIZES[subset] if _file_sha256(path) == SHA256[_CIFAR10_FILE] else None
    )
    with (
        tarfile.open(path, mode="r|gz") as tar,
        tqdm(
            total=total,
            desc=f"Decoding CIFAR-10 {subset} JPEGs",
            unit="img",
            disable=not verbose,
        ) as progress,
    ):
        for member in tar:
            parts = member.name.split("/")
            if (
                not member.isfile()
                or len(parts) < 3
                or parts[-3] not in _CIFAR10_SIZES
                or not parts[-1].lower().endswith(_IMAGE_SUFFIXES)
            ):
                continue
            all_classes.add(parts[-2])
            if parts[-3] != subset:
                continue
            data = tar.extractfile(member).read()
            with Image.open(io.BytesIO(data)) as img:
                image = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if image.shape != (32, 32, 3):
                raise ValueError(
                    f"{member.name}: expected a 32x32 image, got shape {image.shape}"
                )
            entries.append((parts[-2], parts[-1], image))
            progress.update()
    if not entries:
        raise ValueError(
            f"no '<top>/{subset}/<class name>/<file>.jpg' images in the tarball"
        )
    entries.sort(key=lambda e: (e[0], e[1]))
    class_names = sorted(all_classes)
    label_of = {name: i for i, name in enumerate(class_names)}
    X = np.stack([e[2] for e in entries])
    y = np.array([label_of[e[0]] for e in entries], dtype=np.int64)
    return X, y, np.array(class_names)


def load_cifar10(
    data_dir=None, *, subset="train", cache_dir=None, verify=True, verbose=True
):
    """Load the JPEG copy of CIFAR-10, decoding it once into a cache.

    The tarball ``cifar10-jpeg/cifar-10-images-jpeg.tar.gz`` holds
    ``cifar-10-images/{train,test}/<class name>/NNNN.jpg``. The first call
    decodes the requested subset with Pillow (streaming the tarball, about
    10-20 s for the 50,000 training images on two cores) and stores the arrays
    in ``<cache_dir>/cifar10-jpeg-<sha256>-<subset>.npz``; later calls read
    that file. The cache key is the tarball's sha256, so a changed tarball is
    decoded again.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder holding ``cifar10-jpeg/``; see :func:`get_data_dir` for the
        default.
    subset : {"train", "test", "all"}, default="train"
        The 50,000 training images, the 10,000 test images, or both (training
        then test).
    cache_dir : str or path-like, default=None
        Where decoded arrays are cached. Defaults to the environment variable
        ``METAERR_CACHE_DIR``, else ``~/.cache/metaerr_sk``.
    verify : bool, default=True
        Check the tarball's sha256 (once per process) and that its classes are
        CIFAR-10's. With ``verify=False`` any tarball of the same layout is
        accepted; its labels index its sorted class folder names.
    verbose : bool, default=True
        Show a progress bar while decoding (never when reading the cache).

    Returns
    -------
    X : ndarray of shape (n_samples, 32, 32, 3), dtype uint8
        RGB images, sorted by class name then file name.
    y : ndarray of shape (n_samples,), dtype int64
        Labels 0-9, named by :data:`CIFAR10_CLASSES` (their alphabetical
        order is CIFAR-10's canonical label order).

    Raises
    ------
    FileNotFoundError
        When the tarball is missing; the message says where to put it.
    ValueError
        When it is corrupt (checksum mismatch or undecodable).

    See Also
    --------
    load_dataset : Load any of the datasets by name.

    Notes
    -----
    The images were re-encoded as JPEG (quality about 75, 4:2:0 chroma
    subsampling) and their original order is lost: accuracies on this copy are
    lower than, and not comparable to, published CIFAR-10 results.

    Examples
    --------
    >>> from metaerr_sk.datasets import CIFAR10_CLASSES, load_cifar10
    >>> X, y = load_cifar10(subset="test")  # doctest: +SKIP
    >>> X.shape, CIFAR10_CLASSES[y[-1]]  # doctest: +SKIP
    ((10000, 32, 32, 3), 'truck')
    """
    _check_subset(subset)
    if subset == "all":
        parts = [
            load_cifar10(
                data_dir,
                subset=s,
                cache_dir=cache_dir,
                verify=verify,
                verbose=verbose,
            )
            for s in _CIFAR10_SIZES
        ]
        return (
            np.concatenate([X for X, _ in parts]),
            np.concatenate([y for _, y in parts]),
        )
    data_dir = get_data_dir(data_dir)
    path = _resolve_file(_CIFAR10_FILE, data_dir, verify=verify)
    cache_dir = _default_cache_dir() if cache_dir is None else Path(cache_dir)
    cache = cache_dir / f"cifar10-jpeg-{_file_sha256(path)}-{subset}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as npz:
                X, y, class_names = npz["X"], npz["y"], npz["class_names"]
        except (OSError, EOFError, KeyError, ValueError) as exc:
            warnings.warn(
                f"Ignoring unreadable cache file {cache} ({exc}); decoding the "
                "tarball again.",
                RuntimeWarning,
                stacklevel=2,
            )
        else:
            _check_cifar_classes(class_names, path, data_dir, verify)
            return X, y
    try:
        X, y, class_names = _decode_cifar_tarball(path, subset, verbose=verbose)
    except (OSError, EOFError, tarfile.TarError, ValueError) as exc:
        raise _corrupt_error(path, _CIFAR10_FILE, data_dir, reason=str(exc)) from exc
    _check_cifar_classes(class_names, path, data_dir, verify)
    try:
        _atomic_savez(cache, X=X, y=y, class_names=class_names)
    except OSError as exc:  # the cache only saves time: keep the decoded data
        warnings.warn(
            f"Could not write the CIFAR-10 decode cache {cache} ({exc}); the data "
            "is returned, but the next call decodes again. Set cache_dir or "
            "METAERR_CACHE_DIR to a writable folder.",
            RuntimeWarning,
            stacklevel=2,
        )
    return X, y


def _check_cifar_classes(class_names, path, data_dir, verify):
    if verify and tuple(class_names) != CIFAR10_CLASSES:
        raise _corrupt_error(
            path,
            _CIFAR10_FILE,
            data_dir,
            reason=f"class folders {list(class_names)} are not CIFAR-10's",
        )


def load_digits_images(*, subset="train"):
    """Load scikit-learn's 8x8 digits as images (no files needed).

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The digits have no canonical split; as in scikit-learn's "Recognizing
        hand-written digits" example, "train" is the first 898 samples and
        "test" the last 899 (``train_test_split(..., test_size=0.5,
        shuffle=False)``). "all" is the 1,797 samples.

    Returns
    -------
    X : ndarray of shape (n_samples, 8, 8), dtype float64
        Grey images with values 0 to 16.
    y : ndarray of shape (n_samples,), dtype int64
        Digit labels 0-9.

    See Also
    --------
    sklearn.datasets.load_digits : The underlying loader.

    Examples
    --------
    >>> from metaerr_sk.datasets import load_digits_images
    >>> X, y = load_digits_images(subset="all")
    >>> X.shape, X.dtype, y.dtype
    ((1797, 8, 8), dtype('float64'), dtype('int64'))
    >>> load_digits_images()[0].shape, load_digits_images(subset="test")[0].shape
    ((898, 8, 8), (899, 8, 8))
    """
    from sklearn.datasets import load_digits

    _check_subset(subset)
    digits = load_digits()
    X, y = digits.images, digits.target.astype(np.int64)
    n_train = len(y) - (len(y) + 1) // 2
    if subset == "train":
        return X[:n_train], y[:n_train]
    if subset == "test":
        return X[n_train:], y[n_train:]
    return X, y


#: Loader options about files, which the embedded digits ignore.
_FILE_OPTIONS = ("verify", "cache_dir", "verbose")


def load_dataset(name, data_dir=None, *, subset="train", **kwargs):
    """Load a vision dataset by name.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion_mnist", "cifar10"}
        The dataset; see :func:`load_digits_images`, :func:`load_mnist`,
        :func:`load_fashion_mnist` and :func:`load_cifar10`.
    data_dir : str or path-like, default=None
        Folder holding the canonical files (ignored for "digits"); see
        :func:`get_data_dir` for the default.
    subset : {"train", "test", "all"}, default="train"
        Which part of the dataset.
    **kwargs : dict
        Passed to the loader (``verify``; ``cache_dir`` and ``verbose`` for
        "cifar10"); "digits", embedded, ignores them.

    Returns
    -------
    X : ndarray of shape (n_samples, height, width) or (n_samples, 32, 32, 3)
        Images: uint8 for the file datasets, float64 0-16 for "digits".
    y : ndarray of shape (n_samples,), dtype int64
        Labels 0-9.

    Examples
    --------
    >>> from metaerr_sk.datasets import load_dataset
    >>> X, y = load_dataset("digits", subset="test")
    >>> X.shape
    (899, 8, 8)
    """
    if name == "digits":
        # embedded in scikit-learn: no file to verify or cache
        kwargs = {k: v for k, v in kwargs.items() if k not in _FILE_OPTIONS}
        return load_digits_images(subset=subset, **kwargs)
    loaders = {
        "mnist": load_mnist,
        "fashion_mnist": load_fashion_mnist,
        "cifar10": load_cifar10,
    }
    if name not in loaders:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {DATASET_NAMES}.")
    return loaders[name](data_dir, subset=subset, **kwargs)
