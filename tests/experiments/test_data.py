from __future__ import annotations

import pickle
import random
import tarfile

import numpy as np
import pytest

from fixtures.cifar import write_cifar
from htsr.errors import SourceError
from htsr.experiments.data import load_cifar10, load_data, load_digits, load_mnist1d


@pytest.mark.parametrize("tarball", [False, True])
def test_cifar_fixture_loads(tmp_path, tarball):
    path = write_cifar(tmp_path, per_batch=4, n_test=6, tarball=tarball)
    data = load_cifar10(path)
    assert data.x_train.shape == (20, 3, 28, 28)
    assert data.x_test.shape == (6, 3, 28, 28)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    # standardised per channel with the training set's statistics
    np.testing.assert_allclose(data.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert data.num_classes == 10


def test_cifar_parent_folder_and_limits(tmp_path):
    write_cifar(tmp_path, per_batch=4, n_test=6)
    data = load_cifar10(tmp_path, crop=24, max_train=7, max_test=3)
    assert data.x_train.shape == (7, 3, 24, 24) and len(data.y_test) == 3


def test_cifar_crop_is_central(tmp_path):
    folder = write_cifar(tmp_path, per_batch=1, n_test=1)
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    image = batch[b"data"][0].reshape(3, 32, 32).astype(np.float32) / 255
    data = load_cifar10(folder)
    assert np.corrcoef(data.x_train[0, 0].ravel(), image[0, 2:30, 2:30].ravel())[0, 1] > 0.999


def test_cifar_iv(tmp_path):
    with pytest.raises(SourceError, match="no such file or directory; expected the CIFAR-10"):
        load_cifar10(tmp_path / "missing")
    folder = write_cifar(tmp_path / "a")
    (folder / "data_batch_3").unlink()
    with pytest.raises(SourceError, match="missing data_batch_3; expected"):
        load_cifar10(folder)
    not_tar = tmp_path / "cifar.tar.gz"
    not_tar.write_bytes(b"not a tarball")
    with pytest.raises(SourceError, match="not a tar archive"):
        load_cifar10(not_tar)
    empty_tar = tmp_path / "empty.tar"
    with tarfile.open(empty_tar, "w"):
        pass
    with pytest.raises(SourceError, match="the tarball lacks data_batch_1"):
        load_cifar10(empty_tar)
    wrong = write_cifar(tmp_path / "b")
    (wrong / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]})
    )
    with pytest.raises(SourceError, match=r"test_batch: data has shape \(2, 100\)"):
        load_cifar10(wrong)
    (wrong / "test_batch").write_bytes(pickle.dumps({b"labels": [0]}))
    with pytest.raises(SourceError, match="lacks b'data' or b'labels'"):
        load_cifar10(wrong)
    with pytest.raises(ValueError, match=r"`crop` must be an int in \[16, 32\]"):
        load_cifar10(wrong, crop=40)


def test_cifar_refuses_code_in_pickles(tmp_path):
    folder = write_cifar(tmp_path)
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": random.Random}))
    with pytest.raises(SourceError, match=r"refusing to unpickle random\.Random"):
        load_cifar10(folder)


def test_mnist1d_generated_locally_and_changes_nothing_global():
    import mnist1d  # noqa: F401  (an extra CI installs)

    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    py_state = random.getstate()
    data = load_mnist1d(num_samples=200)
    assert data.x_train.shape == (160, 40) and data.x_test.shape == (40, 40)
    assert set(np.unique(data.y_train)) <= set(range(10))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert random.getstate() == py_state
    again = load_mnist1d(num_samples=200)
    np.testing.assert_array_equal(data.x_train, again.x_train)


def test_digits():
    import sklearn  # noqa: F401  (an extra CI installs)

    data = load_digits()
    assert data.input_shape == (1, 8, 8)
    assert len(data.y_train) + len(data.y_test) == 1797  # scikit-learn's bundled digits
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1


def test_load_data_iv(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        load_data("imagenet")
    with pytest.raises(ValueError, match="cifar10 needs the path of a local copy"):
        load_data("cifar10")
    with pytest.raises(ValueError, match=r"`num_samples` must be an int >= 20"):
        load_mnist1d(num_samples=5)
