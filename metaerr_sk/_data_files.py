"""Where the canonical data files live, their integrity, and the decode cache.

``get_data_dir`` finds the data folder, ``_resolve_file`` checks a file
against its published sha256 (memoised per process), and the CIFAR-10 decode
cache is written atomically so that parallel readers never see half a file.
Public names are re-exported by :mod:`metaerr_sk.datasets`.
"""

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

#: sha256 of every canonical file, keyed by its path relative to the data folder.
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "mnist/train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
    "fashion-mnist/train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "fashion-mnist/train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
    "cifar10-jpeg/cifar-10-images-jpeg.tar.gz": (
        "58a034a153504009a9473d52d4337c331e4b1d2de16fbb9c30e79cce947403e5"
    ),
    "weights/cifar10-resnet/resnet20-12fca82f.th": (
        "12fca82f0bebc4135bf1f32f6e3710e61d5108578464b84fd6d7f5c1b04036c8"
    ),
    "weights/cifar10-resnet/resnet56-4bfd9763.th": (
        "4bfd97631478d6b638d2764fd2baff3edb1d7d82252d54439343b6596b9b5367"
    ),
}

# (resolved path, size, mtime_ns) -> sha256 hex digest; see _file_sha256.
_SHA256_MEMO = {}


def get_data_dir(data_dir=None):
    """Return the folder holding the canonical data files.

    Parameters
    ----------
    data_dir : str or path-like, default=None
        Folder to use. When None: the environment variable ``METAERR_DATA_DIR``
        if set, else ``../shared/data`` relative to the current working
        directory if it exists, else ``../shared/data`` relative to the
        repository root (the folder holding the ``metaerr_sk`` package).

    Returns
    -------
    data_dir : pathlib.Path
        The folder. It may not exist: the loaders then raise a
        ``FileNotFoundError`` that says where to put the files.

    Examples
    --------
    >>> from metaerr_sk.datasets import get_data_dir
    >>> get_data_dir("/srv/vision-data")
    PosixPath('/srv/vision-data')
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("METAERR_DATA_DIR")
    if env:
        return Path(env).expanduser()
    candidates = [
        Path.cwd() / ".." / "shared" / "data",
        Path(__file__).resolve().parent.parent / ".." / "shared" / "data",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return candidates[0].resolve()


def _file_sha256(path):
    """sha256 of a file, memoised on (path, size, mtime) for this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _SHA256_MEMO.get(key)
    if digest is None:
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        digest = sha.hexdigest()
        _SHA256_MEMO[key] = digest
    return digest


def _where_to_put(relpath, data_dir):
    return (
        f"Put the canonical file at {Path(data_dir) / relpath}, or point data_dir "
        "(or the environment variable METAERR_DATA_DIR) at a folder holding "
        f"'{relpath}'."
    )


def _corrupt_error(path, relpath, data_dir, reason=None):
    """ValueError for a file whose content is not the canonical one."""
    actual = _file_sha256(path)
    what = (
        "does not match its published checksum"
        if reason is None
        else f"could not be read ({reason})"
    )
    return ValueError(
        f"File {path} {what}: expected sha256 {SHA256[relpath]}, "
        f"got {actual}. It is corrupt or not the canonical file: replace it "
        f"with a fresh copy. {_where_to_put(relpath, data_dir)}"
    )


def _resolve_file(relpath, data_dir=None, *, verify=True):
    """Path of a canonical file, checked to exist and (optionally) its sha256.

    Raises FileNotFoundError when it is missing, ValueError when its sha256
    differs from the published one.
    """
    data_dir = get_data_dir(data_dir)
    path = data_dir / relpath
    if not path.is_file():
        raise FileNotFoundError(
            f"Missing data file {path} (expected sha256 {SHA256[relpath]}). "
            f"{_where_to_put(relpath, data_dir)} metaerr_sk never downloads "
            "data."
        )
    if verify and _file_sha256(path) != SHA256[relpath]:
        raise _corrupt_error(path, relpath, data_dir)
    return path


def _default_cache_dir():
    env = os.environ.get("METAERR_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "metaerr_sk"


def _atomic_savez(path, **arrays):
    """Write an ``.npz`` through a temporary file and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        # mkstemp makes the file private (0600); a cache shared through
        # METAERR_CACHE_DIR must be readable by its other users
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
