"""Data sets for the experiments, all local: CIFAR-10 (a copy on disk), MNIST-1D (generated),
scikit-learn's bundled digits. Nothing is downloaded.
"""

from __future__ import annotations

import io
import pickle
import random
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from htsr._optional import import_optional
from htsr.errors import SourceError

#: The files of the CIFAR-10 "python version" (cifar-10-python.tar.gz / cifar-10-batches-py).
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"
_CIFAR_EXPECTED = (
    "expected the CIFAR-10 python version: the tarball cifar-10-python.tar.gz, or its extracted "
    "folder cifar-10-batches-py holding data_batch_1 ... data_batch_5 and test_batch (pickled "
    "dicts with b'data', an N x 3072 uint8 array, and b'labels')"
)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A train/test split held in memory.

    Attributes
    ----------
    name : str
        Data set name.
    x_train, x_test : numpy.ndarray
        float32 inputs, first axis the samples.
    y_train, y_test : numpy.ndarray
        int64 class labels.
    num_classes : int
        Number of classes.
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input (without the sample axis)."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )


# -- MNIST-1D ----------------------------------------------------------------------------------


def load_mnist1d(*, num_samples: int = 5000, train_split: float = 0.8, seed: int = 42) -> Dataset:
    """MNIST-1D (Greydanus 2020) generated locally with ``mnist1d.data.make_dataset``.

    Parameters
    ----------
    num_samples : int, default 5000
        Samples generated (train + test); the package's default.
    train_split : float, default 0.8
        Fraction used for training.
    seed : int, default 42
        The generator's seed (the package's default, which gives its published data set).

    Notes
    -----
    ``make_dataset`` seeds NumPy's and Python's global generators; their states are saved
    and restored around it, so calling this changes nothing global. Needs
    ``pip install 'htsr[experiments]'``.
    """
    if not isinstance(num_samples, int) or num_samples < 20:
        raise ValueError(f"`num_samples` must be an int >= 20; got {num_samples!r}")
    if not 0 < train_split < 1:
        raise ValueError(f"`train_split` must be in (0, 1); got {train_split!r}")
    data_mod = import_optional("mnist1d.data", extra="experiments", caller="load_mnist1d")
    args = data_mod.get_dataset_args()
    args.num_samples = int(num_samples)
    args.train_split = float(train_split)
    args.seed = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        raw = data_mod.make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return Dataset(
        "mnist1d",
        np.asarray(raw["x"], dtype=np.float32),
        np.asarray(raw["y"], dtype=np.int64),
        np.asarray(raw["x_test"], dtype=np.float32),
        np.asarray(raw["y_test"], dtype=np.int64),
    )


# -- scikit-learn digits -----------------------------------------------------------------------


def load_digits(
    *, test_fraction: float = 0.25, rng: np.random.Generator | int | None = 0
) -> Dataset:
    """scikit-learn's bundled 8 x 8 digits (1797 images), scaled to [0, 1], as 1 x 8 x 8.

    The split is a seeded shuffle (``rng``). Needs ``pip install 'htsr[experiments]'``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1); got {test_fraction!r}")
    datasets = import_optional("sklearn.datasets", extra="experiments", caller="load_digits")
    bunch = datasets.load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(rng).permutation(len(y))
    n_test = round(len(y) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test])


# -- CIFAR-10 ----------------------------------------------------------------------------------


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches (dicts, lists, NumPy arrays) and refuses anything else."""

    _ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _read_batch(raw: bytes, origin: Path, member: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:
        raise SourceError(
            origin, f"{member} is not a CIFAR-10 batch ({e}); {_CIFAR_EXPECTED}"
        ) from e
    if not isinstance(obj, dict):
        raise SourceError(origin, f"{member} holds a {type(obj).__name__}; {_CIFAR_EXPECTED}")
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if data is None or labels is None:
        raise SourceError(origin, f"{member} lacks b'data' or b'labels'; {_CIFAR_EXPECTED}")
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise SourceError(
            origin,
            f"{member}: data has shape {data.shape} for {labels.shape[0]} labels; "
            f"{_CIFAR_EXPECTED}",
        )
    return data.astype(np.uint8, copy=False), labels


def _cifar_members(path: Path) -> dict[str, bytes]:
    wanted = (*CIFAR_TRAIN, CIFAR_TEST)
    if not path.exists():
        raise SourceError(path, f"no such file or directory; {_CIFAR_EXPECTED}")
    if path.is_dir():
        folder = path / "cifar-10-batches-py" if (path / "cifar-10-batches-py").is_dir() else path
        missing = [m for m in wanted if not (folder / m).is_file()]
        if missing:
            raise SourceError(path, f"missing {', '.join(missing)}; {_CIFAR_EXPECTED}")
        return {m: (folder / m).read_bytes() for m in wanted}
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [m for m in wanted if m not in members]
            if missing:
                raise SourceError(
                    path, f"the tarball lacks {', '.join(missing)}; {_CIFAR_EXPECTED}"
                )
            out = {}
            for m in wanted:
                handle = tar.extractfile(members[m])
                if handle is None:
                    raise SourceError(path, f"cannot read {m} in the tarball")
                out[m] = handle.read()
            return out
    except tarfile.TarError as e:
        raise SourceError(path, f"not a tar archive ({e}); {_CIFAR_EXPECTED}") from e


def load_cifar10(
    path: str | Path,
    *,
    crop: int = 28,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """CIFAR-10 from a local copy of its python version (no download).

    Parameters
    ----------
    path : str or path
        ``cifar-10-python.tar.gz``, the extracted ``cifar-10-batches-py`` folder, or a folder
        containing it.
    crop : int, default 28
        Side of the central crop (the paper trains MiniAlexNet on 28 x 28 x 3 crops).
    max_train, max_test : int, optional
        Keep only the first images (quick runs).

    Returns
    -------
    Dataset
        Inputs as float32 N x 3 x crop x crop, standardised per channel with the training
        set's mean and standard deviation.

    Raises
    ------
    SourceError
        If the path is missing or not in the CIFAR-10 python format (the message says what
        was expected).

    Notes
    -----
    The batches are pickles; they are read with an unpickler that only builds dicts, lists
    and NumPy arrays. The paper's TensorFlow pipeline used random crops for training; this
    loader uses central crops for both splits, which keeps runs deterministic.
    """
    if not isinstance(crop, int) or not 16 <= crop <= 32:
        raise ValueError(f"`crop` must be an int in [16, 32]; got {crop!r}")
    path = Path(path)
    members = _cifar_members(path)
    train = [_read_batch(members[m], path, m) for m in CIFAR_TRAIN]
    x_train = np.concatenate([x for x, _ in train])[:max_train]
    y_train = np.concatenate([y for _, y in train])[:max_train]
    x_test, y_test = _read_batch(members[CIFAR_TEST], path, CIFAR_TEST)
    x_test, y_test = x_test[:max_test], y_test[:max_test]
    off = (32 - crop) // 2

    def images(flat: np.ndarray) -> np.ndarray:
        x = flat.reshape(-1, 3, 32, 32)[:, :, off : off + crop, off : off + crop]
        return x.astype(np.float32) / 255.0

    xtr, xte = images(x_train), images(x_test)
    mean = xtr.mean(axis=(0, 2, 3), keepdims=True)
    std = xtr.std(axis=(0, 2, 3), keepdims=True) + 1e-8
    num_classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    return Dataset(
        "cifar10", (xtr - mean) / std, y_train, (xte - mean) / std, y_test, max(num_classes, 10)
    )


#: Data set names accepted by :func:`load_data` and the CLI.
DATASETS = ("mnist1d", "digits", "cifar10")


def load_data(
    name: str,
    *,
    path: str | Path | None = None,
    num_samples: int | None = None,
    max_train: int | None = None,
    max_test: int | None = None,
) -> Dataset:
    """Load a data set by name (``path`` is needed, and only used, for ``cifar10``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {DATASETS}")
    if name == "cifar10":
        if path is None:
            raise ValueError(
                "cifar10 needs the path of a local copy (--data-path); it is never downloaded"
            )
        return load_cifar10(path, max_train=max_train, max_test=max_test)
    data = load_mnist1d(num_samples=num_samples or 5000) if name == "mnist1d" else load_digits()
    if max_train is None and max_test is None:
        return data
    return Dataset(
        data.name,
        data.x_train[:max_train],
        data.y_train[:max_train],
        data.x_test[:max_test],
        data.y_test[:max_test],
        data.num_classes,
    )


__all__ = [
    "CIFAR_TEST",
    "CIFAR_TRAIN",
    "DATASETS",
    "Dataset",
    "load_cifar10",
    "load_data",
    "load_digits",
    "load_mnist1d",
]
