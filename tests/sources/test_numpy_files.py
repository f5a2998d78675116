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


def _npy_with_header(path: Path, header: str, data: bytes) -> Path:
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data)
    return path


@pytest.mark.parametrize(
    "header",
    [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3",
        "{'descr': 'O', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2**40, 2**40), }",
    ],
)
def test_corrupt_npy_headers_give_source_error(tmp_path: Path, header: str) -> None:
    path = _npy_with_header(tmp_path / "w.npy", header, b"\0" * 24)
    with pytest.raises(SourceError, match=r"w\.npy") as info:
        open_model(path)
    assert "weights_only" not in str(info.value)


def test_npz_renamed_npy_and_npy_renamed_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", w=np.ones((3, 3)))
    (tmp_path / "a.npz").rename(tmp_path / "a.npy")
    with pytest.raises(SourceError, match=r"rename it \.npz"):
        open_model(tmp_path / "a.npy")
    np.save(tmp_path / "b.npy", np.ones((3, 3)))
    (tmp_path / "b.npy").rename(tmp_path / "b.npz")
    with pytest.raises(SourceError, match=r"b\.npz"):
        open_model(tmp_path / "b.npz")


def test_npz_member_without_npy_suffix(tmp_path: Path) -> None:
    import zipfile

    buffer = tmp_path / "w.npy"
    np.save(buffer, np.ones((4, 3), np.float32))
    with zipfile.ZipFile(tmp_path / "m.npz", "w") as z:
        z.write(buffer, "plain")
    (ref,) = open_model(tmp_path / "m.npz").refs
    assert (ref.name, ref.shape) == ("plain", (4, 3))
    np.testing.assert_array_equal(ref.load(), np.ones((4, 3)))


def test_npz_crc_error_at_load_fails_the_file(tmp_path: Path) -> None:
    """A CRC error found when a member is read is a corrupt FILE: SourceError, not a row."""
    import htsr

    rng = np.random.default_rng(0)
    path = tmp_path / "m.npz"
    np.savez(path, a=rng.standard_normal((30, 20)), b=rng.standard_normal((30, 20)))
    data = bytearray(path.read_bytes())
    data[data.rfind(b"NUMPY") + 200] ^= 0xFF  # flip a data byte of the last member
    path.write_bytes(bytes(data))
    assert len(open_model(path).refs) == 2  # headers still read
    with pytest.raises(SourceError, match=r"m\.npz.*(CRC|corrupt)"):
        htsr.analyze(path)


def test_encrypted_npz_member(tmp_path: Path) -> None:
    np.savez(tmp_path / "m.npz", w=np.ones((3, 3)))
    data = bytearray((tmp_path / "m.npz").read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag bit everywhere
        i = data.find(sig)
        flag = 6 if sig == b"PK\x03\x04" else 8
        data[i + flag] |= 1
    (tmp_path / "m.npz").write_bytes(bytes(data))
    with pytest.raises(SourceError, match=r"m\.npz"):
        open_model(tmp_path / "m.npz")
