import gzip
import io
import shutil
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

from metaerr_sk import _data_files, datasets
from metaerr_sk.datasets import (
    CIFAR10_CLASSES,
    SHA256,
    get_data_dir,
    load_cifar10,
    load_dataset,
    load_digits_images,
    load_fashion_mnist,
    load_mnist,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---------------------------------------------------------------- data folder


def test_get_data_dir_order(tmp_path, monkeypatch):
    monkeypatch.setenv("METAERR_DATA_DIR", str(tmp_path / "env"))
    assert get_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert get_data_dir() == tmp_path / "env"

    monkeypatch.delenv("METAERR_DATA_DIR")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert get_data_dir() == (tmp_path / "shared" / "data").resolve()


def test_get_data_dir_falls_back_to_repo_root(tmp_path, monkeypatch):
    monkeypatch.delenv("METAERR_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared/data here
    repo_root = datasets.__file__.rsplit("/metaerr_sk/", 1)[0]
    expected = (datasets.Path(repo_root) / ".." / "shared" / "data").resolve()
    if not expected.is_dir():
        pytest.skip("no ../shared/data beside the repository")
    assert get_data_dir() == expected


# ---------------------------------------------------------------- MNIST-like


@pytest.mark.parametrize(
    "subset, n, first, counts",
    [
        ("train", 60_000, [5, 0, 4, 1, 9], MNIST_TRAIN_COUNTS),
        ("test", 10_000, [7, 2, 1, 0, 4], MNIST_TEST_COUNTS),
    ],
)
def test_load_mnist(data_dir, subset, n, first, counts):
    X, y = load_mnist(data_dir, subset=subset)
    assert X.shape == (n, 28, 28) and X.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.int64
    assert y[:5].tolist() == first
    assert np.bincount(y).tolist() == counts
    assert X.min() == 0 and X.max() == 255
    assert X.flags.writeable
    X2, y2 = load_mnist(data_dir, subset=subset)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("subset, n", [("train", 60_000), ("test", 10_000)])
def test_load_fashion_mnist(data_dir, subset, n):
    X, y = load_fashion_mnist(data_dir, subset=subset)
    assert X.shape == (n, 28, 28) and X.dtype == np.uint8
    assert y.dtype == np.int64
    assert np.bincount(y).tolist() == [n // 10] * 10
    assert y[0] == 9  # "Ankle boot", the first image of both files


def test_subset_all_concatenates(data_dir):
    X, y = load_mnist(data_dir, subset="all")
    X_test, y_test = load_mnist(data_dir, subset="test")
    assert X.shape == (70_000, 28, 28)
    np.testing.assert_array_equal(X[60_000:], X_test)
    np.testing.assert_array_equal(y[60_000:], y_test)


def test_checksum_is_memoised(data_dir, monkeypatch):
    load_mnist(data_dir, subset="test")

    def no_hashing(*args, **kwargs):
        raise AssertionError("sha256 computed again")

    monkeypatch.setattr(_data_files.hashlib, "sha256", no_hashing)
    X, _ = load_mnist(data_dir, subset="test")
    assert X.shape == (10_000, 28, 28)


def test_missing_file_error(tmp_path, monkeypatch):
    monkeypatch.delenv("METAERR_DATA_DIR", raising=False)
    sha = SHA256["mnist/train-images-idx3-ubyte.gz"]
    path = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match=f"Missing data file {path}.*{sha}"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="METAERR_DATA_DIR"):
        load_dataset("fashion_mnist", tmp_path)
    with pytest.raises(FileNotFoundError, match="cifar-10-images-jpeg.tar.gz"):
        load_cifar10(tmp_path, cache_dir=tmp_path / "cache")


def _copy_mnist_test(data_dir, tmp_path):
    (tmp_path / "mnist").mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_dir / "mnist" / name, tmp_path / "mnist" / name)
    return tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"


def test_corrupt_file_error(data_dir, tmp_path):
    path = _copy_mnist_test(data_dir, tmp_path)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    expected = SHA256["mnist/t10k-images-idx3-ubyte.gz"]
    with pytest.raises(ValueError, match=f"{path}.*expected sha256 {expected}, got"):
        load_mnist(tmp_path, subset="test")
    # without the checksum the parser still refuses it
    with pytest.raises(ValueError, match="could not be read"):
        load_mnist(tmp_path, subset="test", verify=False)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"not a gzip file at all", "could not be read"),
        (gzip.compress(b"\x00\x00\x08\x01" + b"\x00" * 20), "bad magic number"),
        (
            gzip.compress(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") * 3 + b"\x00"),
            "data bytes for shape",
        ),
    ],
)
def test_unparsable_file_error(data_dir, tmp_path, payload, reason):
    path = _copy_mnist_test(data_dir, tmp_path)
    path.chmod(0o644)
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=reason):
        load_mnist(tmp_path, subset="test", verify=False)


def test_damaged_deflate_stream_error(data_dir, tmp_path):
    # bytes flipped inside the compressed data: zlib.error, which escaped
    path = _copy_mnist_test(data_dir, tmp_path)
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[500:516] = bytes(b ^ 0xFF for b in raw[500:516])
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="could not be read.*invalid distance"):
        load_mnist(tmp_path, subset="test", verify=False)


@pytest.mark.parametrize("subset", ["valid", None])
def test_bad_subset(subset):
    with pytest.raises(ValueError, match="subset must be one of"):
        load_mnist(subset=subset)
    with pytest.raises(ValueError, match="subset must be one of"):
        load_digits_images(subset=subset)


# ---------------------------------------------------------------- digits


def test_load_digits_images():
    X, y = load_digits_images(subset="all")
    assert X.shape == (1797, 8, 8) and X.dtype == np.float64
    assert y.dtype == np.int64 and set(y) == set(range(10))
    X_train, y_train = load_digits_images()
    X_test, y_test = load_digits_images(subset="test")
    assert len(y_train) == 898 and len(y_test) == 899
    np.testing.assert_array_equal(np.concatenate([X_train, X_test]), X)


def test_load_dataset_dispatch(data_dir):
    X, y = load_dataset("digits", subset="test")
    assert X.shape == (899, 8, 8)
    # the file options every other dataset takes: nothing to do for digits
    X2, _ = load_dataset("digits", subset="test", verify=False, cache_dir="/nowhere")
    np.testing.assert_array_equal(X2, X)
    X, y = load_dataset("mnist", data_dir, subset="test")
    np.testing.assert_array_equal(y, load_mnist(data_dir, subset="test")[1])
    with pytest.raises(ValueError, match="Unknown dataset 'svhn'"):
        load_dataset("svhn")


# ---------------------------------------------------------------- CIFAR-10


def _jpeg(color):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _make_tarball(root, members):
    """Write root/cifar10-jpeg/cifar-10-images-jpeg.tar.gz with ``members``."""
    path = root / "cifar10-jpeg" / "cifar-10-images-jpeg.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(f"cifar-10-images/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# (subset/class/file, colour); deliberately out of order
TINY = [
    ("train/zebra/0001.jpg", (0, 0, 250)),
    ("train/ant/0001.jpg", (250, 0, 0)),
    ("test/zebra/0000.jpg", (0, 0, 200)),
    ("train/zebra/0000.jpg", (0, 250, 0)),
    ("train/ant/0000.jpg", (200, 200, 200)),
]


@pytest.fixture
def tiny_cifar(tmp_path, monkeypatch):
    monkeypatch.delenv("METAERR_DATA_DIR", raising=False)
    _make_tarball(tmp_path / "data", [(n, _jpeg(c)) for n, c in TINY])
    return tmp_path / "data", tmp_path / "cache"


def test_cifar_decode_order_and_labels(tiny_cifar):
    data, cache = tiny_cifar
    X, y = load_cifar10(data, subset="train", cache_dir=cache, verify=False)
    assert X.shape == (4, 32, 32, 3) and X.dtype == np.uint8
    assert y.dtype == np.int64
    # sorted by class then file name; labels index the sorted class names
    assert y.tolist() == [0, 0, 1, 1]
    dominant = [
        tuple(int(v) for v in img.reshape(-1, 3).mean(0).round(-1)) for img in X
    ]
    assert dominant == [(200, 200, 200), (250, 0, 0), (0, 250, 0), (0, 0, 250)]
    X_test, y_test = load_cifar10(data, subset="test", cache_dir=cache, verify=False)
    assert y_test.tolist() == [1]  # "zebra" is class 1 although "ant" has no test image
    X_all, y_all = load_cifar10(data, subset="all", cache_dir=cache, verify=False)
    assert y_all.tolist() == [0, 0, 1, 1, 1]


def test_cifar_cache_is_reused(tiny_cifar, monkeypatch):
    data, cache = tiny_cifar
    X, y = load_cifar10(data, cache_dir=cache, verify=False, verbose=False)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].endswith("-train.npz")  # no temp file left
    # readable by the other users of a shared cache (mkstemp made it 0600)
    assert (cache / files[0]).stat().st_mode & 0o777 == 0o644

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(datasets, "_decode_cifar_tarball", no_decoding)
    X2, y2 = load_cifar10(data, cache_dir=cache, verify=False)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)

    # a changed tarball has another sha256, hence another cache entry
    _make_tarball(data, [(n, _jpeg(c)) for n, c in TINY[:2]])
    with pytest.raises(AssertionError, match="decoded again"):
        load_cifar10(data, cache_dir=cache, verify=False)


def test_cifar_cache_dir_from_env(tiny_cifar, monkeypatch):
    data, cache = tiny_cifar
    monkeypatch.setenv("METAERR_CACHE_DIR", str(cache / "from-env"))
    load_cifar10(data, verify=False)
    assert len(list((cache / "from-env").glob("cifar10-jpeg-*-train.npz"))) == 1


def test_cifar_unreadable_cache_is_rebuilt(tiny_cifar):
    data, cache = tiny_cifar
    X, _ = load_cifar10(data, cache_dir=cache, verify=False)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"garbage")
    with pytest.warns(RuntimeWarning, match="unreadable cache file"):
        X2, _ = load_cifar10(data, cache_dir=cache, verify=False)
    np.testing.assert_array_equal(X, X2)


def test_cifar_unwritable_cache_keeps_the_decoded_data(tiny_cifar):
    data, cache = tiny_cifar
    cache.write_bytes(b"a file where the cache folder should be")
    with pytest.warns(RuntimeWarning, match="Could not write the CIFAR-10 decode"):
        X, y = load_cifar10(data, cache_dir=cache, verify=False)
    X_ok, y_ok = load_cifar10(data, cache_dir=cache.with_name("ok"), verify=False)
    np.testing.assert_array_equal(X, X_ok)
    np.testing.assert_array_equal(y, y_ok)


def test_cifar_checksum_mismatch(tiny_cifar):
    data, cache = tiny_cifar
    expected = SHA256["cifar10-jpeg/cifar-10-images-jpeg.tar.gz"]
    with pytest.raises(
        ValueError, match=f"expected sha256 {expected}, got [0-9a-f]{{64}}"
    ):
        load_cifar10(data, cache_dir=cache)
    assert not cache.exists()


@pytest.mark.parametrize(
    "members, reason",
    [
        ([("train/ant/0000.jpg", b"no jpeg")], "could not be read"),
        ([("train/ant/0000.jpg", b"")], "could not be read"),
        ([("README.txt", b"hello")], "no '<top>/train/<class name>/<file>.jpg' images"),
    ],
)
def test_cifar_undecodable(tmp_path, members, reason):
    _make_tarball(tmp_path, members)
    with pytest.raises(ValueError, match=reason):
        load_cifar10(tmp_path, cache_dir=tmp_path / "cache", verify=False)


def test_cifar_wrong_image_size(tmp_path):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="PNG")
    _make_tarball(tmp_path, [("train/ant/0000.png", buf.getvalue())])
    with pytest.raises(ValueError, match="expected a 32x32 image"):
        load_cifar10(tmp_path, cache_dir=tmp_path / "cache", verify=False)


def test_cifar_not_a_tarball(tmp_path):
    path = tmp_path / "cifar10-jpeg" / "cifar-10-images-jpeg.tar.gz"
    path.parent.mkdir()
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="could not be read.*expected sha256"):
        load_cifar10(tmp_path, cache_dir=tmp_path / "cache", verify=False)


def test_load_cifar10_test_set(data_dir):
    # decodes 10,000 JPEGs (about 6 s on two cores) into the default cache the
    # first time; later runs read the cache
    X, y = load_cifar10(data_dir, subset="test", verbose=False)
    assert X.shape == (10_000, 32, 32, 3) and X.dtype == np.uint8
    assert y.dtype == np.int64
    assert np.bincount(y).tolist() == [1000] * 10
    assert np.all(np.diff(y) >= 0)  # sorted by class name
    assert 80 < X.mean() < 160
    start = time.perf_counter()
    X2, y2 = load_cifar10(data_dir, subset="test")
    assert time.perf_counter() - start < 5
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert tuple(sorted(CIFAR10_CLASSES)) == CIFAR10_CLASSES


@pytest.mark.slow
def test_load_cifar10_full_decode(data_dir, tmp_path):
    start = time.perf_counter()
    X, y = load_cifar10(data_dir, subset="all", cache_dir=tmp_path, verbose=False)
    print(f"decoded 60,000 CIFAR-10 JPEGs in {time.perf_counter() - start:.1f} s")
    assert X.shape == (60_000, 32, 32, 3)
    assert np.bincount(y[:50_000]).tolist() == [5000] * 10
    assert np.bincount(y[50_000:]).tolist() == [1000] * 10
    X_test, _ = load_cifar10(data_dir, subset="test", verbose=False)  # default cache
    np.testing.assert_array_equal(X[50_000:], X_test)


def test_nn_import_guard_without_torch():
    # metaerr_sk.datasets needs no torch; metaerr_sk.nn says how to install it
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'skorch'):\n"
        "            raise ImportError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import metaerr_sk.datasets\n"
        "try:\n"
        "    import metaerr_sk.nn\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install torch==2.13.0 skorch" in out
