"""PyTorch zip checkpoints read one tensor at a time, without torch and without executing
anything in the file.

A ``torch.save`` file (PyTorch >= 1.6) is a zip archive ``<prefix>/data.pkl`` (the pickled
object, whose tensors refer to storages by key) plus one member ``<prefix>/data/<key>`` per
storage, stored uncompressed. ``data.pkl`` is read here by a restricted unpickler that knows
a short list of globals (:data:`_GLOBALS`: tensor and parameter rebuilders, storage types,
dtypes, ``OrderedDict``) and replaces each by a harmless recorder: it builds plain records of
(storage key, dtype, offset, size, stride) and never calls anything from the file. Any other
global raises :class:`UnsupportedPickleError` (the caller then falls back to
``torch.load(weights_only=True)``). A tensor's data is read when it is analysed, by
``numpy.fromfile`` at the member's offset in the archive, so only that tensor is in memory
(``torch.load(mmap=True)`` maps the whole file, and the pages it touches count in RSS).
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, reading

#: Largest ``data.pkl`` read (the pickled structure, not the tensor data).
MAX_PICKLE_BYTES = 256 * 2**20

_STORAGES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
_NUMPY_DTYPES = {
    name: np.dtype(name)
    for name in (
        *("float64", "float32", "float16", "complex64", "complex128", "bool"),
        *("int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"),
    )
} | {
    name: np.dtype(getattr(ml_dtypes, name))
    for name in ("bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")
}
_PKL = re.compile(r"^[^/]+/data\.pkl$")


class UnsupportedPickleError(Exception):
    """``data.pkl`` uses a construct this reader does not record (not an error of the file)."""


@dataclass(frozen=True, slots=True)
class _DType:
    name: str


@dataclass(frozen=True, slots=True)
class _Storage:
    key: str
    dtype: str
    numel: int


@dataclass(frozen=True, slots=True)
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


def _ints(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise pickle.UnpicklingError(f"tensor {what} {value!r} is not a tuple of ints >= 0")
    return value


def _tensor(storage: object, offset: object, size: object, stride: object, dtype: str) -> _Tensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise pickle.UnpicklingError(f"tensor offset {offset!r} is not an int >= 0")
    size_t, stride_t = _ints(size, "size"), _ints(stride, "stride")
    if len(size_t) != len(stride_t):
        raise pickle.UnpicklingError("tensor size and stride differ in length")
    return _Tensor(storage, offset, size_t, stride_t, dtype)


def _rebuild_v2(
    storage: object, offset: object, size: object, stride: object, *_: object
) -> _Tensor:
    dtype = storage.dtype if isinstance(storage, _Storage) else "?"
    return _tensor(storage, offset, size, stride, dtype)


def _rebuild_v3(
    storage: object, offset: object, size: object, stride: object, _grad: object,
    _hooks: object, dtype: object, *_: object,
) -> _Tensor:  # fmt: skip
    if not isinstance(dtype, _DType):
        raise pickle.UnpicklingError("tensor dtype is not a torch dtype")
    return _tensor(storage, offset, size, stride, dtype.name)


def _parameter(data: object, *_: object) -> object:
    return data


def _encode(text: object, encoding: object = "latin1") -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise pickle.UnpicklingError("unexpected _codecs.encode call")
    return text.encode("latin1")


_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_v3,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): _encode,
}


class _Recorder(pickle.Unpickler):
    """An unpickler that resolves only :data:`_GLOBALS`, storage types and dtypes."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _GLOBALS:
            target = _GLOBALS[module, name]
            return lambda *args: target(*args)  # a throwaway: BUILD cannot alter ours
        if module in ("torch", "torch.storage") and name in _STORAGES:
            return _DType(_STORAGES[name])
        if module == "torch" and name.isidentifier() and name[0].islower():
            return _DType(name)
        raise UnsupportedPickleError(f"{module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, _DType) or not isinstance(key, str) or not isinstance(numel, int):
            raise pickle.UnpicklingError("malformed storage reference")
        if numel < 0:
            raise pickle.UnpicklingError("negative storage size")
        return _Storage(key, dtype.name, numel)


def is_torch_zip(path: Path) -> bool:
    """Whether ``path`` is a zip archive (the format of ``torch.save`` since PyTorch 1.6)."""
    with reading(path, "PyTorch checkpoint"):
        return zipfile.is_zipfile(path)


def read_zip_checkpoint(path: Path) -> object:
    """The object pickled in a zip checkpoint, with each tensor replaced by a record.

    Raises
    ------
    UnsupportedPickleError
        If ``data.pkl`` uses a global this reader does not know (fall back to torch).
    SourceError
        If the archive is corrupt or not a PyTorch checkpoint.
    """
    with reading(path, "PyTorch checkpoint"), zipfile.ZipFile(path) as archive:
        pkls = [i for i in archive.infolist() if _PKL.match(i.filename)]
        if len(pkls) != 1:
            raise SourceError(
                path, "zip archive without one <name>/data.pkl: not a PyTorch checkpoint"
            )
        if pkls[0].file_size > MAX_PICKLE_BYTES:
            raise SourceError(path, f"data.pkl larger than {MAX_PICKLE_BYTES} bytes; refused")
        prefix = pkls[0].filename.removesuffix("data.pkl")
        order = prefix + "byteorder"
        if order in archive.NameToInfo and archive.read(order).strip() not in (b"little", b""):
            raise UnsupportedPickleError("big-endian checkpoint")
        raw = archive.read(pkls[0])
        try:
            obj = _Recorder(io.BytesIO(raw)).load()
        except UnsupportedPickleError:
            raise
        except (pickle.UnpicklingError, RecursionError) as e:
            raise SourceError(path, f"corrupt PyTorch checkpoint (data.pkl: {e})") from e
        return obj


def is_record(value: object) -> bool:
    """Whether ``value`` is a tensor found by :func:`read_zip_checkpoint`."""
    return isinstance(value, _Tensor)


def zip_tensor_refs(path: Path, tensors: dict[str, Any]) -> list[TensorRef]:
    """Lazy refs to the recorded tensors of ``path``, checked against the archive's members."""
    refs = []
    with reading(path, "PyTorch checkpoint"), zipfile.ZipFile(path) as archive:
        prefix = next(i.filename for i in archive.infolist() if _PKL.match(i.filename))
        prefix = prefix.removesuffix("data.pkl")
        for name, record in tensors.items():
            t = _validated(path, str(name), record)
            info = archive.NameToInfo.get(f"{prefix}data/{t.storage.key}")
            if info is None:
                raise SourceError(path, f"tensor {name!r}: storage {t.storage.key!r} is missing")
            _check_extent(path, name, t, info)
            refs.append(
                TensorRef(
                    name=str(name),
                    shape=t.size,
                    dtype=t.dtype,
                    origin=str(path),
                    loader=partial(_load, path, name, t, info.filename),
                )
            )
    return refs


def _validated(path: Path, name: str, t: _Tensor) -> _Tensor:
    """Check a record's fields again: the pickle's BUILD opcode can set any of them."""
    s = t.storage
    ok = (
        isinstance(s, _Storage)
        and isinstance(s.key, str)
        and isinstance(s.dtype, str)
        and isinstance(s.numel, int)
        and s.numel >= 0
        and isinstance(t.dtype, str)
    )
    if not ok:
        raise SourceError(path, f"tensor {name!r}: malformed record in data.pkl")
    try:
        return _tensor(s, t.offset, t.size, t.stride, t.dtype)
    except pickle.UnpicklingError as e:
        raise SourceError(path, f"tensor {name!r}: {e}") from e


def _itemsize(dtype: str) -> int:
    np_dtype = _NUMPY_DTYPES.get(dtype)
    return np_dtype.itemsize if np_dtype is not None else 1


def _check_extent(path: Path, name: str, t: _Tensor, info: zipfile.ZipInfo) -> None:
    storage_bytes = t.storage.numel * _itemsize(t.storage.dtype)
    if info.file_size < storage_bytes:
        raise SourceError(
            path, f"tensor {name!r}: storage member holds {info.file_size} of {storage_bytes} bytes"
        )
    if math.prod(t.size) == 0:
        return
    last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True))
    if (last + 1) * _itemsize(t.dtype) > storage_bytes:
        raise SourceError(path, f"tensor {name!r}: shape and strides run past its storage")


def _load(path: Path, name: str, t: _Tensor, member: str) -> np.ndarray:
    np_dtype = _NUMPY_DTYPES.get(t.dtype)
    if np_dtype is None:
        raise SourceError(path, f"tensor {name!r}: dtype {t.dtype} cannot be read")
    if math.prod(t.size) == 0:
        return np.zeros(t.size, np_dtype)
    span = 1 + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True))
    with reading(path, "PyTorch checkpoint"), zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        start = t.offset * np_dtype.itemsize
        if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 1:
            with path.open("rb") as f:
                f.seek(info.header_offset)
                local = f.read(30)
                if local[:4] != b"PK\x03\x04":
                    raise SourceError(path, f"tensor {name!r}: corrupt zip member header")
                name_len, extra_len = struct.unpack("<HH", local[26:30])
                offset = info.header_offset + 30 + name_len + extra_len + start
                flat = np.fromfile(f, dtype=np_dtype, count=span, offset=offset - f.tell())
        else:  # compressed by a tool other than torch.save: read the member
            data = archive.read(info)
            flat = np.frombuffer(data, dtype=np_dtype, count=span, offset=start)
    if flat.size != span:
        raise SourceError(path, f"tensor {name!r}: data ends early (truncated file)")
    strides = tuple(s * np_dtype.itemsize for s in t.stride)
    view = np.lib.stride_tricks.as_strided(flat, shape=t.size, strides=strides, writeable=False)
    return view if view.flags.c_contiguous else np.ascontiguousarray(view)


__all__ = [
    "UnsupportedPickleError",
    "is_record",
    "is_torch_zip",
    "read_zip_checkpoint",
    "zip_tensor_refs",
]
