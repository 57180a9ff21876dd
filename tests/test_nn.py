import pickle
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.model_selection import cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from metaerr_sk import DataCentricDebugger, SelfTrainingWithMetaErr  # noqa: E402
from metaerr_sk.datasets import SHA256, load_cifar10, load_mnist  # noqa: E402
from metaerr_sk.nn import (  # noqa: E402
    CifarResNet,
    PretrainedCifarResNet,
    ResNetEmbedding,
    SmallCNN,
    images_to_float32,
    load_cifar_resnet,
    make_cnn_classifier,
)

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU visible to torch"
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # the test machines have 2 cores shared with other jobs: under load one
    # thread ran these tests about 2.5x faster than two
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def mnist_small(data_dir):
    X, y = load_mnist(data_dir, subset="train")
    X_test, y_test = load_mnist(data_dir, subset="test")
    return X[:2000], y[:2000], X_test[:1000], y_test[:1000]


@pytest.fixture(scope="module")
def cifar_test(data_dir):
    # decoded once into the default cache (see load_cifar10)
    return load_cifar10(data_dir, subset="test", verbose=False)


# ---------------------------------------------------------------- CNN


def test_images_to_float32():
    X = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    Xf = images_to_float32(X)
    assert Xf.dtype == np.float32 and Xf.shape == (1, 4)
    np.testing.assert_allclose(Xf, [[0, 1, 0.2, 0.4]], rtol=1e-6)
    np.testing.assert_array_equal(images_to_float32(Xf.astype(np.float64)), Xf)
    with pytest.raises(TypeError, match="uint8 images"):
        images_to_float32(X.astype(np.int32))
    with pytest.raises(ValueError, match="shape"):
        images_to_float32(np.zeros(5, dtype=np.uint8))
    assert images_to_float32(np.zeros((0, 28, 28), dtype=np.uint8)).shape == (0, 784)


def test_float_images_outside_the_unit_range_warn():
    # 0-255 floats (or digits' 0-16) would be read as nearly saturated
    with pytest.warns(UserWarning, match="largest value is 255"):
        images_to_float32(np.full((2, 28, 28), 255.0))
    from metaerr_sk.nn._resnet import as_image_batch

    with pytest.warns(UserWarning, match="largest value is 16"):
        as_image_batch(np.full((2, 8, 8), 16.0), allow_grey=True)


@pytest.mark.parametrize("shape", [(4, 784), (4, 28, 28), (4, 1, 28, 28)])
def test_small_cnn_input_shapes(shape):
    torch.manual_seed(0)
    module = SmallCNN(n_classes=7).eval()
    x = torch.rand(4, 784)
    np.testing.assert_array_equal(module(x.reshape(shape)).detach(), module(x).detach())
    assert module(x).shape == (4, 7)


def test_small_cnn_rejects_bad_input():
    with pytest.raises(TypeError, match="images_to_float32"):
        SmallCNN()(torch.zeros(2, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match="28x28"):
        SmallCNN()(torch.zeros(2, 3, 32, 32))


def test_cnn_labels_are_checked_before_training():
    # torch's errors came from deep inside a training step
    rng = np.random.default_rng(0)
    X = rng.random((20, 784), dtype=np.float32)
    y = np.arange(20) % 10

    def fit(labels):
        return make_cnn_classifier(max_epochs=1, random_state=0).fit(X, labels)

    reference = fit(y).predict_proba(X)
    for labels in (y.astype(np.int32), y.astype(np.float64)):  # integer values
        np.testing.assert_array_equal(fit(labels).predict_proba(X), reference)
    with pytest.raises(ValueError, match="integer class labels.*LabelEncoder"):
        fit(y.astype(str))
    with pytest.raises(ValueError, match="must be 0..9, got labels from 1 to 10"):
        fit(y + 1)


def test_cnn_learns_mnist(mnist_small):
    X, y, X_test, y_test = mnist_small
    clf = make_pipeline(
        FunctionTransformer(images_to_float32),
        make_cnn_classifier(max_epochs=3, batch_size=64, random_state=0),
    )
    clf.fit(X, y)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (1000, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    # measured 0.89-0.905 over seeds 0-4
    assert clf.score(X_test, y_test) > 0.85


def test_cnn_seed_is_local_and_reproducible(mnist_small):
    X, y, X_test, _ = mnist_small
    X, X_test = images_to_float32(X[:300]), images_to_float32(X_test[:100])
    state = torch.random.get_rng_state()
    p1 = make_cnn_classifier(max_epochs=1, random_state=7).fit(X, y[:300])
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    p2 = make_cnn_classifier(max_epochs=1, random_state=7).fit(X, y[:300])
    p3 = make_cnn_classifier(max_epochs=1, random_state=8).fit(X, y[:300])
    np.testing.assert_array_equal(p1.predict_proba(X_test), p2.predict_proba(X_test))
    assert not np.array_equal(p1.predict_proba(X_test), p3.predict_proba(X_test))
    # a RandomState instance is accepted too
    rs = np.random.RandomState(0)
    make_cnn_classifier(max_epochs=1, random_state=rs).fit(X[:50], y[:50])


def test_cnn_clone_and_pickle(mnist_small):
    X, y, X_test, _ = mnist_small
    X, X_test = images_to_float32(X[:300]), images_to_float32(X_test[:100])
    net = make_cnn_classifier(max_epochs=1, lr=2e-3, random_state=3)
    cloned = clone(net)
    assert cloned.get_params()["random_state"] == 3
    assert cloned.get_params()["lr"] == 2e-3
    assert type(cloned) is type(net)
    net.fit(X, y[:300])
    cloned.fit(X, y[:300])
    expected = net.predict_proba(X_test)
    np.testing.assert_array_equal(cloned.predict_proba(X_test), expected)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    np.testing.assert_array_equal(restored.classes_, np.arange(10))


def test_cnn_in_cross_val_predict(mnist_small):
    X, y, _, _ = mnist_small
    X = images_to_float32(X[:600])
    proba = cross_val_predict(
        make_cnn_classifier(max_epochs=2, batch_size=32, random_state=0),
        X,
        y[:600],
        cv=3,
        method="predict_proba",
    )
    assert proba.shape == (600, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert (proba.argmax(axis=1) == y[:600]).mean() > 0.5  # 0.69-0.74 measured


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_is_a_clear_error(mnist_small):
    X, y, _, _ = mnist_small
    with pytest.raises(ValueError, match="CUDA is not available"):
        make_cnn_classifier(device="cuda").fit(images_to_float32(X[:10]), y[:10])
    with pytest.raises(ValueError, match="CUDA is not available"):
        ResNetEmbedding(device="cuda").fit()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")
def test_mps_unavailable_is_a_clear_error(mnist_small):
    X, y, _, _ = mnist_small
    with pytest.raises(ValueError, match="no MPS"):
        make_cnn_classifier(device="mps").fit(images_to_float32(X[:10]), y[:10])


def test_cnn_random_state_in_scikit_learn_range(mnist_small):
    X, y, _, _ = mnist_small
    with pytest.raises(ValueError, match=r"random_state must be in \[0, 2\*\*32\)"):
        make_cnn_classifier(random_state=-1).fit(images_to_float32(X[:10]), y[:10])


# ---------------------------------------------------------------- ResNet


@pytest.mark.parametrize("depth, n_params", [(20, 269_722), (56, 853_018)])
def test_cifar_resnet_matches_checkpoint(data_dir, depth, n_params):
    net = load_cifar_resnet(depth, data_dir)
    assert isinstance(net, CifarResNet) and not net.training
    assert sum(p.numel() for p in net.parameters()) == n_params
    name = {20: "resnet20-12fca82f.th", 56: "resnet56-4bfd9763.th"}[depth]
    checkpoint = torch.load(
        data_dir / "weights" / "cifar10-resnet" / name,
        map_location="cpu",
        weights_only=True,
    )["state_dict"]
    own = net.state_dict()
    for key, value in checkpoint.items():
        torch.testing.assert_close(own[key.removeprefix("module.")], value)


def test_cifar_resnet_features_feed_the_head():
    torch.manual_seed(0)
    net = CifarResNet(depth=8, n_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    assert net.features(x).shape == (2, 64)
    torch.testing.assert_close(net(x), net.linear(net.features(x)))
    with pytest.raises(ValueError, match="6 n \\+ 2"):
        CifarResNet(depth=21)


def test_load_cifar_resnet_errors(tmp_path, data_dir):
    with pytest.raises(ValueError, match="depth"):
        load_cifar_resnet(32, data_dir)
    relpath = "weights/cifar10-resnet/resnet20-12fca82f.th"
    with pytest.raises(
        FileNotFoundError, match=f"resnet20-12fca82f.th.*{SHA256[relpath]}"
    ):
        load_cifar_resnet(20, tmp_path)
    path = tmp_path / relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"definitely not a torch checkpoint")
    with pytest.raises(ValueError, match=f"expected sha256 {SHA256[relpath]}, got"):
        load_cifar_resnet(20, tmp_path)
    with pytest.raises(ValueError, match="could not be read"):
        load_cifar_resnet(20, tmp_path, verify=False)
    # a valid checkpoint of the wrong network
    shutil.copy(data_dir / "weights/cifar10-resnet/resnet56-4bfd9763.th", path)
    with pytest.raises(ValueError, match="could not be read.*Missing key|Unexpected"):
        load_cifar_resnet(20, tmp_path, verify=False)


def test_pretrained_resnet_accuracy_sample(data_dir, cifar_test):
    X, y = cifar_test
    X, y = X[::20], y[::20]  # 50 images of each class
    clf = PretrainedCifarResNet(depth=20, data_dir=data_dir).fit()
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    proba = clf.predict_proba(X)
    assert proba.shape == (500, 10) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.predict(X), proba.argmax(axis=1))
    assert clf.score(X, y) > 0.70  # 0.80 measured
    frozen = FrozenEstimator(clf)
    np.testing.assert_array_equal(frozen.predict_proba(X[:10]), proba[:10])


def test_pretrained_resnet_input_layouts(data_dir, cifar_test):
    X = cifar_test[0][:8]
    clf = PretrainedCifarResNet(data_dir=data_dir, batch_size=3).fit(X)
    expected = clf.predict_proba(X)
    for layout in (
        X.reshape(8, -1),
        X.transpose(0, 3, 1, 2),
        X.astype(np.float32) / 255,
    ):
        np.testing.assert_allclose(clf.predict_proba(layout), expected, atol=1e-6)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    with pytest.raises(ValueError, match="got shape \\(8, 28, 28\\)"):
        clf.predict(np.zeros((8, 28, 28), dtype=np.uint8))
    with pytest.raises(TypeError, match="dtype int64"):
        clf.predict(X.astype(np.int64))


def test_pretrained_resnet_is_a_sklearn_estimator(data_dir):
    clf = PretrainedCifarResNet(56, data_dir=data_dir, batch_size=64)
    assert clone(clf).get_params() == clf.get_params()
    with pytest.raises(InvalidParameterError, match="depth"):
        PretrainedCifarResNet(depth=32).fit()
    with pytest.raises(InvalidParameterError, match="batch_size"):
        ResNetEmbedding(batch_size=0).fit()


@pytest.mark.slow
@pytest.mark.parametrize("depth, low, high", [(20, 0.79, 0.83), (56, 0.81, 0.85)])
def test_pretrained_resnet_accuracy_full_test_set(
    data_dir, cifar_test, depth, low, high
):
    # ResNet-20: 0.8103 in 35 s, ResNet-56: 0.8320 in 94 s on two CPU cores
    X, y = cifar_test
    accuracy = PretrainedCifarResNet(depth, data_dir=data_dir).fit().score(X, y)
    assert low < accuracy < high


# ---------------------------------------------------------------- embedding


def test_embedding_rgb(data_dir, cifar_test):
    X = cifar_test[0][::100]
    emb = ResNetEmbedding(data_dir=data_dir, batch_size=32).fit()
    Z = emb.transform(X)
    assert Z.shape == (100, 64) and Z.dtype == np.float32
    assert np.all(Z >= 0)  # after a ReLU and average pooling
    np.testing.assert_array_equal(emb.transform(X), Z)
    np.testing.assert_array_equal(
        ResNetEmbedding(data_dir=data_dir).fit_transform(X), Z
    )
    names = emb.get_feature_names_out()
    assert names.shape == (64,) and names[0] == "resnetembedding0"
    # the classifier's logits are the head applied to the embedding
    clf = PretrainedCifarResNet(data_dir=data_dir).fit()
    head = clf.module_.linear
    logits = head(torch.from_numpy(Z)).detach().numpy()
    np.testing.assert_allclose(logits, clf.decision_function(X), atol=1e-4)


def test_embedding_grey_images(data_dir, mnist_small):
    X = mnist_small[0][:20]
    emb = ResNetEmbedding(data_dir=data_dir).fit(X)
    Z = emb.transform(X)
    assert Z.shape == (20, 64)
    np.testing.assert_array_equal(emb.transform(X.reshape(20, 784)), Z)
    # a channel axis of one, first or last, as the CNN takes
    np.testing.assert_array_equal(emb.transform(X[:, None]), Z)
    np.testing.assert_array_equal(emb.transform(X[..., None]), Z)
    # same as padding by hand to a 32x32 RGB image
    rgb = np.repeat(np.pad(X, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=3)
    np.testing.assert_allclose(emb.transform(rgb), Z, atol=1e-5)
    with pytest.raises(ValueError, match="got shape \\(20, 40, 40\\)"):
        emb.transform(np.zeros((20, 40, 40), dtype=np.uint8))
    # one RGB image used to pass as 32 grey images 3 pixels wide
    with pytest.raises(ValueError, match=r"one colour image\? Pass a batch"):
        emb.transform(np.zeros((32, 32, 3), dtype=np.uint8))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_unfitted_pretrained_models_raise_not_fitted(method):
    from sklearn.exceptions import NotFittedError

    X = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    with pytest.raises(NotFittedError):
        getattr(PretrainedCifarResNet(), method)(X)
    with pytest.raises(NotFittedError):
        ResNetEmbedding().transform(X)


# ---------------------------------------------------------------- CUDA


@pytest.mark.cuda
@needs_cuda
def test_cnn_and_embedding_on_cuda(data_dir, mnist_small):
    X, y, X_test, y_test = mnist_small
    net = make_cnn_classifier(
        max_epochs=3, batch_size=64, device="cuda", random_state=0
    ).fit(images_to_float32(X), y)
    proba = net.predict_proba(images_to_float32(X_test))
    assert (proba.argmax(axis=1) == y_test).mean() > 0.85
    again = make_cnn_classifier(
        max_epochs=3, batch_size=64, device="cuda", random_state=0
    ).fit(images_to_float32(X), y)
    np.testing.assert_allclose(
        again.predict_proba(images_to_float32(X_test)), proba, atol=1e-4
    )
    Z_cpu = ResNetEmbedding(data_dir=data_dir).fit().transform(X[:64])
    emb = ResNetEmbedding(data_dir=data_dir, device="cuda").fit()
    assert next(emb.module_.parameters()).is_cuda
    Z_gpu = emb.transform(X[:64])
    assert Z_gpu.dtype == np.float32
    np.testing.assert_allclose(Z_gpu, Z_cpu, atol=1e-3, rtol=1e-3)


@pytest.mark.cuda
@needs_cuda
def test_self_training_around_a_cnn_on_cuda(mnist_small):
    """SelfTrainingWithMetaErr with its out-of-fold fits, meta-model and refits all
    on a CUDA network."""
    X, y, X_test, y_test = mnist_small
    X, X_test = images_to_float32(X), images_to_float32(X_test)
    y_semi = np.full_like(y, -1)
    y_semi[:300] = y[:300]
    net = make_cnn_classifier(
        max_epochs=3, batch_size=64, device="cuda", random_state=0
    )
    st = SelfTrainingWithMetaErr(net, max_iter=2, random_state=0).fit(X, y_semi)
    assert next(st.estimator_.module_.parameters()).is_cuda
    added = st.labeled_iter_ > 0
    assert st.n_iter_ >= 1 and added.sum() == sum(h["n_added"] for h in st.history_)
    assert np.mean(st.transduction_[added] == y[added]) > 0.5  # chance is 0.1
    assert st.score(X_test, y_test) > 0.5


@pytest.mark.cuda
@needs_cuda
def test_debugging_loop_with_a_cnn_and_resnet_embedding_on_cuda(data_dir, mnist_small):
    """DataCentricDebugger with MetaErr flags: CNN, embedding and neighbour search
    all on the GPU, on raw images."""
    X, y, X_test, y_test = mnist_small
    X, X_test = images_to_float32(X), images_to_float32(X_test)
    net = make_cnn_classifier(
        max_epochs=2, batch_size=64, device="cuda", random_state=0
    )
    dcd = DataCentricDebugger(
        net,
        embedding=ResNetEmbedding(data_dir=data_dir, device="cuda"),
        error_source="metaerr",
        n_flagged=50,
        budget=200,
        label_filter=True,
        neighbors_backend="torch",
        random_state=0,
    ).fit(X[:500], y[:500], X_pool=X[500:], y_pool=y[500:], X_deploy=X_test[:500])
    assert next(dcd.embedding_.module_.parameters()).is_cuda
    assert next(dcd.estimator_.module_.parameters()).is_cuda
    assert dcd.selected_.shape == (200,) and dcd.error_indices_.shape == (50,)
    assert dcd.score(X_test[500:], y_test[500:]) > 0.5
