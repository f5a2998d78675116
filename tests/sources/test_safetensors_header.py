"""The strict safetensors header validator: hand-made hostile headers, each refused with the
file named (before any data is read), and the limits that bound time and memory."""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from htsr.errors import SourceError
from htsr.sources import open_model
from htsr.sources.safetensors_header import MAX_DEPTH, MAX_OBJECTS, read_header


def _write(path: Path, header: dict[str, object] | bytes, data: bytes) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def _entry(dtype: str, shape: list[int], begin: int, end: int) -> dict[str, object]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def test_reference_files_pass(tmp_path: Path) -> None:
    """Files written by the safetensors library itself, including empty tensors, validate."""
    tensors = {
        "w": np.ones((3, 4), np.float32),
        "empty": np.zeros((0, 5), np.float32),
        "i": np.arange(3, dtype=np.int8),
    }
    save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "np"})
    header = read_header(tmp_path / "m.safetensors")
    assert {k: v.shape for k, v in header.items()} == {k: v.shape for k, v in tensors.items()}


@pytest.mark.parametrize(
    ("header", "data", "match"),
    [
        ({"a": _entry("F32", [2], 0, 8), "b": _entry("F32", [2], 4, 12)}, 12, "overlaps"),
        ({"a": _entry("F32", [2], 0, 8), "b": _entry("F32", [1], 12, 16)}, 16, "gap"),
        ({"a": _entry("F32", [2], -8, 0)}, 0, "non-negative ints"),
        ({"a": _entry("F32", [-2, -4], 0, 32)}, 32, "non-negative ints"),
        ({"a": _entry("F32", [2**70], 0, 8)}, 8, "needs"),
        ({"a": _entry("F32", [2**32, 2**32], 0, 0)}, 0, "needs 73786976294838206464 bytes"),
        ({"a": _entry("F32", [2.0], 0, 8)}, 8, "non-negative ints"),
        ({"a": _entry("F32", [True], 0, 4)}, 4, "non-negative ints"),
        ({"a": _entry("X99", [2], 0, 8)}, 8, "unknown dtype"),
        ({"a": _entry("F32", [2], 0, 8), "__metadata__": {"k": 1}}, 8, "__metadata__"),
        ({"a": _entry("F32", [2], 0, 8)}, 12, "holds 12 bytes|the tensors end"),
        ({"a": _entry("F32", [4], 0, 16)}, 8, "truncated"),
        ({"a": {"dtype": "F32", "shape": [2]}}, 8, "not an object with"),
        ({"a": _entry("F32", [2], 0, 8) | {"data_offsets": [0, 8, 9]}}, 8, "begin, end"),
    ],
)
def test_invalid_headers_are_refused(
    tmp_path: Path, header: dict[str, object], data: int, match: str
) -> None:
    path = _write(tmp_path / "bad.safetensors", header, b"\0" * data)
    with pytest.raises(SourceError, match=match) as info:
        open_model(path)
    assert info.value.path == str(path)


def test_deep_nesting_is_refused_without_recursion_error(tmp_path: Path) -> None:
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' + b"[1," * 5000 + b"1" + b"]" * 5000):
        path = _write(tmp_path / "deep.safetensors", raw + b"}" * raw.startswith(b"{"), b"")
        with pytest.raises(SourceError, match="nested"):
            open_model(path)
    assert MAX_DEPTH < 1000  # below Python's recursion limit


def test_header_with_too_many_entries_is_refused_quickly(tmp_path: Path) -> None:
    """An 83 MB header of 1.4 M entries took 2.1 GB and 32 s; the object count is checked
    on the raw bytes before parsing."""
    n = MAX_OBJECTS + 1
    entry = b'"t%d":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}'
    raw = b"{" + b",".join(entry % (i, i, i + 1) for i in range(n)) + b"}"
    path = _write(tmp_path / "huge.safetensors", raw, b"\0" * n)
    start = time.perf_counter()
    with pytest.raises(SourceError, match="too large"):
        open_model(path)
    assert time.perf_counter() - start < 10  # generous: the check is two bytes.count calls


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.safetensors"
    os.mkfifo(path)
    with pytest.raises(SourceError, match="not a regular file"):
        open_model(path)


def test_describe_refuses_invalid_header_before_reading_data(tmp_path: Path) -> None:
    import htsr

    path = _write(tmp_path / "m.safetensors", {"a": _entry("F32", [2, 2], 0, 8)}, b"\0" * 8)
    with pytest.raises(SourceError, match="needs 16 bytes"):
        htsr.describe(path)
