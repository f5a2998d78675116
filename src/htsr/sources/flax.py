"""Flax/JAX ``.msgpack`` files (``flax.serialization.to_bytes``), read without Flax or JAX.

Flax writes a parameter pytree as nested msgpack maps whose leaves are msgpack extension
objects: type 1 an ndarray, ``msgpack((shape, dtype_name, C-order bytes))``; type 3 a NumPy
scalar in the same encoding; arrays over 1 GiB become a map ``{"__msgpack_chunked_array__":
True, "shape": {...}, "chunks": {...}}`` (flax/serialization.py, ``_ndarray_to_bytes``,
``_chunk``). The maps are walked here byte by byte, recording where each leaf lies in the
file; a tensor's bytes are read and decoded only when it is loaded. Decoding builds arrays
with :func:`numpy.frombuffer` from a whitelisted dtype name: nothing from the file is executed
(no pickle, no ``eval``).

Names are the ``/``-joined keys (``params/Dense_0/kernel``), as for nested dicts in memory.
Flax kernels are ``(in, out)`` for ``Dense`` and channels last ``(*kernel, in, out)`` for
``Conv``; tensors of 3 or more axes are marked channels last.
"""

from __future__ import annotations

import struct
from functools import partial
from pathlib import Path
from typing import IO, Any

import ml_dtypes
import numpy as np

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import FLOAT_DTYPES, Layout, TensorRef
from htsr.sources.mapping import SEPARATOR

_CALLER = "reading a Flax .msgpack file"
_EXT_NDARRAY, _EXT_NPSCALAR = 1, 3
_CHUNKED = "__msgpack_chunked_array__"
#: msgpack type bytes with a fixed payload size after the type byte.
_FIXED = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
          0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}  # fmt: skip
#: Length-prefixed types: type byte -> (length struct format, is an ext).
_SIZED = {0xC4: ("B", False), 0xC5: ("H", False), 0xC6: ("I", False), 0xD9: ("B", False),
          0xDA: ("H", False), 0xDB: ("I", False), 0xC7: ("B", True), 0xC8: ("H", True),
          0xC9: ("I", True)}  # fmt: skip
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


def _dtype(name: str) -> np.dtype[Any]:
    """A NumPy dtype from its name, for plain numeric and ml_dtypes names only."""
    if name in FLOAT_DTYPES and not hasattr(np, name):
        return np.dtype(getattr(ml_dtypes, name))  # type: ignore[no-any-return]
    dtype = np.dtype(name)
    if dtype.kind not in "biufc":
        raise ValueError(f"dtype {name!r} is not a numeric dtype")
    return dtype


def _decode_ext(code: int, data: bytes) -> Any:
    """Flax's extension objects -> NumPy arrays (``msgpack`` ``ext_hook``)."""
    msgpack = import_optional("msgpack", extra="formats", caller=_CALLER)
    if code in (_EXT_NDARRAY, _EXT_NPSCALAR):
        shape, name, buffer = msgpack.unpackb(data, raw=False)
        array = np.frombuffer(buffer, dtype=_dtype(name)).reshape(shape)
        return array[()] if code == _EXT_NPSCALAR else array
    if code == 2:  # native complex
        real, imag = msgpack.unpackb(data)
        return complex(real, imag)
    return msgpack.ExtType(code, data)


def _unchunk(value: dict[str, Any]) -> np.ndarray:
    shape = tuple(int(value["shape"][k]) for k in sorted(value["shape"], key=int))
    chunks = [value["chunks"][k] for k in sorted(value["chunks"], key=int)]
    return np.concatenate([np.ravel(c) for c in chunks]).reshape(shape)


def _load(path: str, start: int, stop: int) -> np.ndarray:
    msgpack = import_optional("msgpack", extra="formats", caller=_CALLER)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(stop - start)
    if len(data) != stop - start:
        raise SourceError(path, "truncated .msgpack file")
    value = msgpack.unpackb(data, raw=False, ext_hook=_decode_ext, strict_map_key=False)
    if isinstance(value, dict) and value.get(_CHUNKED):
        return _unchunk(value)
    return np.asarray(value)


def _is_map(byte: int) -> bool:
    return 0x80 <= byte <= 0x8F or byte in (0xDE, 0xDF)


class _Walker:
    """Reads the structure of a msgpack stream: map headers, keys, and leaf extents."""

    def __init__(self, f: IO[bytes], size: int, path: Path) -> None:
        self.f, self.size, self.path = f, size, path

    def _read(self, n: int) -> bytes:
        if self.f.tell() + n > self.size:
            raise SourceError(self.path, "truncated or corrupt .msgpack file")
        return self.f.read(n)

    def _unpack(self, fmt: str) -> int:
        return int(struct.unpack(">" + fmt, self._read(struct.calcsize(fmt)))[0])

    def map_size(self, byte: int) -> int | None:
        if 0x80 <= byte <= 0x8F:
            return byte & 0x0F
        if byte == 0xDE:
            return self._unpack("H")
        if byte == 0xDF:
            return self._unpack("I")
        return None

    def skip(self) -> tuple[int, int | None]:
        """Skip one object; returns its type byte and, for an ext, its ext code."""
        byte = self._read(1)[0]
        if byte <= 0x7F or byte >= 0xE0:
            return byte, None
        if 0xA0 <= byte <= 0xBF:
            self._read(byte & 0x1F)
            return byte, None
        if byte in _FIXED:
            self._read(_FIXED[byte])
            return byte, None
        if byte in _SIZED:
            fmt, is_ext = _SIZED[byte]
            n = self._unpack(fmt)
            code = struct.unpack(">b", self._read(1))[0] if is_ext else None
            self._skip_bytes(n)
            return byte, code
        if byte in _FIXEXT:
            code = struct.unpack(">b", self._read(1))[0]
            self._skip_bytes(_FIXEXT[byte])
            return byte, code
        n_map = self.map_size(byte)
        if n_map is not None:
            for _ in range(2 * n_map):
                self.skip()
            return byte, None
        n_items = {0xDC: "H", 0xDD: "I"}.get(byte)
        count = byte & 0x0F if 0x90 <= byte <= 0x9F else self._unpack(n_items) if n_items else -1
        if count < 0:
            raise SourceError(self.path, f"corrupt .msgpack file (type byte 0x{byte:02x})")
        for _ in range(count):
            self.skip()
        return byte, None

    def _skip_bytes(self, n: int) -> None:
        if self.f.tell() + n > self.size:
            raise SourceError(self.path, "truncated or corrupt .msgpack file")
        self.f.seek(n, 1)

    def peek(self) -> int:
        byte = self._read(1)[0]
        self.f.seek(-1, 1)
        return byte

    def key(self) -> str:
        start = self.f.tell()
        self.skip()
        stop = self.f.tell()
        self.f.seek(start)
        msgpack = import_optional("msgpack", extra="formats", caller=_CALLER)
        return str(msgpack.unpackb(self._read(stop - start), raw=False))

    def leaves(self, prefix: str, out: list[tuple[str, int, int]]) -> None:
        """Append ``(name, start, stop)`` for every leaf under the map at the cursor."""
        start = self.f.tell()
        n = self.map_size(self._read(1)[0])
        assert n is not None
        for i in range(n):
            key = self.key()
            if i == 0 and key == _CHUNKED:  # a chunked array is one leaf
                self.skip()
                for _ in range(2 * (n - 1)):
                    self.skip()
                out.append((prefix, start, self.f.tell()))
                return
            name = f"{prefix}{SEPARATOR}{key}" if prefix else key
            value_start = self.f.tell()
            if _is_map(self.peek()):
                self.leaves(name, out)
            else:
                self.skip()
                out.append((name, value_start, self.f.tell()))


def _leaf_header(
    path: Path, f: IO[bytes], start: int, stop: int
) -> tuple[tuple[int, ...], str] | str:
    """Shape and dtype of an array leaf (reading only its header), or the type name of a
    value that is not an array."""
    msgpack = import_optional("msgpack", extra="formats", caller=_CALLER)
    f.seek(start)
    head = f.read(min(stop - start, 4096))
    byte = head[0]
    is_ext = byte in _FIXEXT or byte in (0xC7, 0xC8, 0xC9)
    if is_ext:
        offset = 2 if byte in _FIXEXT else 2 + struct.calcsize(_SIZED[byte][0])
        code = struct.unpack(">b", head[offset - 1 : offset])[0]
        if code in (_EXT_NDARRAY, _EXT_NPSCALAR):
            unpacker = msgpack.Unpacker(raw=False)
            unpacker.feed(head[offset:])
            try:
                unpacker.read_array_header()
                shape, name = unpacker.unpack(), unpacker.unpack()
                _dtype(name)
            except (ValueError, TypeError, msgpack.OutOfData) as e:
                raise SourceError(path, f"corrupt array in .msgpack file ({e})") from e
            return (() if code == _EXT_NPSCALAR else tuple(int(d) for d in shape)), np.dtype(
                _dtype(name)
            ).name
    if _is_map(byte) and _CHUNKED.encode() in head[:64]:
        f.seek(start)
        value = _load(str(path), start, stop)  # a > 1 GiB chunked array: decoded to learn it
        return tuple(value.shape), value.dtype.name
    f.seek(start)
    value = msgpack.unpackb(f.read(stop - start), raw=False, ext_hook=_decode_ext)
    return type(value).__name__


def _not_an_array(path: str, name: str, type_name: str) -> np.ndarray:
    raise SourceError(path, f"{name!r} is not an array ({type_name})")


def msgpack_refs(path: Path) -> list[TensorRef]:
    """Lazy refs to every leaf of a Flax ``.msgpack`` file, in the file's order.

    Raises
    ------
    SourceError
        If the file is missing, not a msgpack map, truncated or corrupt.
    """
    import_optional("msgpack", extra="formats", caller=_CALLER)
    if not path.is_file():
        raise SourceError(path, "no such file")
    size = path.stat().st_size
    refs = []
    with path.open("rb") as f:
        walker = _Walker(f, size, path)
        if size == 0 or not _is_map(walker.peek()):
            raise SourceError(path, "not a Flax .msgpack file (the top level is not a map)")
        leaves: list[tuple[str, int, int]] = []
        walker.leaves("", leaves)
        if f.tell() != size:
            raise SourceError(path, "corrupt .msgpack file (trailing bytes after the map)")
        for name, start, stop in leaves:
            header = _leaf_header(path, f, start, stop)
            if isinstance(header, str):
                refs.append(
                    TensorRef(
                        name=name,
                        shape=(),
                        dtype=header,
                        origin=str(path),
                        loader=partial(_not_an_array, str(path), name, header),
                        unreadable=f"not an array ({header})",
                    )
                )
                continue
            shape, dtype = header
            refs.append(
                TensorRef(
                    name=name,
                    shape=shape,
                    dtype=dtype,
                    origin=str(path),
                    loader=partial(_load, str(path), start, stop),
                    layout=Layout.CHANNELS_LAST if len(shape) >= 3 else Layout.AUTO,
                )
            )
    return refs


__all__ = ["msgpack_refs"]
