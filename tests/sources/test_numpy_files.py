"""NumPy .npy / .npz files and in-memory dicts of arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from htsr.errors import SourceError
from htsr.sources import open_model


def test_npy_named_after_file(tmp_path: Path) -> None:
    w = np.arange(12.0).reshape(4, 3)
    np.save(tmp_path / "fc1.npy", w)
    (ref,) = open_model(tmp_path / "fc1.npy").refs
    assert (ref.name, ref.shape, ref.dtype) == ("fc1", (4, 3), "float64")
    np.testing.assert_array_equal(ref.load(), w)


def test_npz_order_and_lazy_members(tmp_path: Path) -> None:
    arrays = {"z": np.ones((5, 4), np.float32), "a": np.zeros((3, 2), np.float16)}
    np.savez(tmp_path / "m.npz", **arrays)
    refs = open_model(tmp_path / "m.npz").refs
    assert [(r.name, r.shape, r.dtype) for r in refs] == [
        ("z", (5, 4), "float32"),
        ("a", (3, 2), "float16"),
    ]
    np.testing.assert_array_equal(refs[1].load(), arrays["a"])


def test_pickled_object_arrays_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SourceError, match=r"obj\.npy"):
        open_model(tmp_path / "obj.npy")


@pytest.mark.parametrize(
    ("name", "match"),
    [("nothere.safetensors", "no such file"), ("model.onnx2", "unsupported file type")],
)
def test_bad_paths(tmp_path: Path, name: str, match: str) -> None:
    path = tmp_path / name
    if "unsupported" in match:
        path.write_text("x")
    with pytest.raises(SourceError, match=match):
        open_model(path)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no model weights"):
        open_model(tmp_path)


def test_unsupported_object() -> None:
    with pytest.raises(TypeError, match=r"must be a torch\.nn\.Module"):
        open_model(42)
