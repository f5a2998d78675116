"""GGUF files (llama.cpp): quantised tensors, dequantised one at a time.

The header is parsed here (the format is a little-endian ``GGUF`` magic, a version, the tensor
and key-value counts, the key-value pairs, then one ``(name, n_dims, dims, ggml_type, offset)``
record per tensor; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), so that opening
a file reads only its header, and a tensor of a type unknown to the ``gguf`` package gets its
own ``skipped:`` row instead of refusing the file. The loader reads a quantised tensor's bytes
a block of rows at a time and dequantises each block with :func:`gguf.quants.dequantize` into
one float32 array, so it holds little more than the dequantised tensor.

GGUF lists a tensor's dimensions fastest-varying first (``ne[0]`` is the row length); the
shape reported here is the NumPy/PyTorch order, the reverse: ``attn_q.weight`` stored with
``ne = [n_embd, n_out]`` is ``(n_out, n_embd)``.
"""

from __future__ import annotations

import struct
from functools import cache, partial
from pathlib import Path
from typing import IO, Any

import numpy as np

from htsr._optional import import_optional
from htsr.errors import SourceError
from htsr.sources.base import Layout, TensorRef

_MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
#: GGUF metadata value types -> struct format (fixed-size scalars).
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
            10: "Q", 11: "q", 12: "d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
#: Plain (unquantised) ggml types: id -> (name, NumPy dtype) read as is.
_PLAIN: dict[int, tuple[str, np.dtype[Any]]] = {
    0: ("F32", np.dtype("<f4")),
    1: ("F16", np.dtype("<f2")),
    24: ("I8", np.dtype("i1")),
    25: ("I16", np.dtype("<i2")),
    26: ("I32", np.dtype("<i4")),
    27: ("I64", np.dtype("<i8")),
    28: ("F64", np.dtype("<f8")),
}
_BF16 = 30  # widened exactly to float32 on load; the rank cut-off uses bfloat16's eps
#: Rows read and dequantised at once: the loader holds the float32 result plus this block.
_ROWS_PER_CHUNK = 256


class _Header:
    """A little-endian reader of the GGUF header with bounds checks against the file size."""

    def __init__(self, f: IO[bytes], size: int, path: Path) -> None:
        self.f, self.size, self.path = f, size, path

    def read(self, n: int) -> bytes:
        if n < 0 or self.f.tell() + n > self.size:
            raise SourceError(self.path, "truncated or corrupt GGUF header")
        return self.f.read(n)

    def unpack(self, fmt: str) -> Any:
        return struct.unpack("<" + fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = self.read(self.unpack("Q"))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SourceError(self.path, "corrupt GGUF header (a string is not UTF-8)") from e

    def skip(self, n: int) -> None:
        if n < 0 or self.f.tell() + n > self.size:
            raise SourceError(self.path, "truncated or corrupt GGUF header")
        self.f.seek(n, 1)

    def value(self, vtype: int, *, keep: bool) -> Any:
        """Read (``keep``) or skip one metadata value of type ``vtype``."""
        if vtype in _SCALARS:
            fmt = _SCALARS[vtype]
            if keep:
                return self.unpack(fmt)
            self.skip(struct.calcsize(fmt))
            return None
        if vtype == _STRING:
            if keep:
                return self.string()
            self.skip(self.unpack("Q"))
            return None
        if vtype == _ARRAY:
            etype, count = self.unpack("I"), self.unpack("Q")
            if etype in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[etype]))
            else:
                for _ in range(count):
                    self.value(etype, keep=False)
            return None
        raise SourceError(self.path, f"corrupt GGUF header (unknown value type {vtype})")


def _type_info(type_id: int) -> tuple[str, int, int] | None:
    """``(name, block_size, bytes_per_block)`` of a ggml type, None if the package lacks it."""
    gguf = import_optional("gguf", extra="formats", caller="reading a GGUF file")
    try:
        qtype = gguf.GGMLQuantizationType(type_id)
        block, size = gguf.GGML_QUANT_SIZES[qtype]
    except (ValueError, KeyError):
        return None
    return str(qtype.name), int(block), int(size)


@cache
def can_dequantize(type_id: int) -> bool:
    """Whether :func:`gguf.quants.dequantize` decodes this ggml type (tried on one zero block)."""
    info = _type_info(type_id)
    if info is None:
        return False
    if type_id in _PLAIN:
        return True
    gguf = import_optional("gguf", extra="formats", caller="reading a GGUF file")
    try:
        gguf.quants.dequantize(np.zeros((1, info[2]), np.uint8), gguf.GGMLQuantizationType(type_id))
    except NotImplementedError:
        return False
    return True


def _load(path: str, offset: int, nbytes: int, type_id: int, shape: tuple[int, ...]) -> np.ndarray:
    """Read one tensor's bytes and dequantise them (float32), or view them (plain types)."""
    if type_id in _PLAIN:
        dtype = _PLAIN[type_id][1]
        data = np.fromfile(path, dtype=dtype, count=nbytes // dtype.itemsize, offset=offset)
        if data.size * dtype.itemsize != nbytes:
            raise SourceError(path, "truncated GGUF file (tensor data cut short)")
        return np.asarray(data.reshape(shape))
    gguf = import_optional("gguf", extra="formats", caller="reading a GGUF file")
    qtype = gguf.GGMLQuantizationType(type_id)
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    row_bytes = nbytes // rows
    out = np.empty((rows, shape[-1]), dtype=np.float32)
    with open(path, "rb") as f:  # the raw bytes too are read a block of rows at a time
        f.seek(offset)
        for start in range(0, rows, _ROWS_PER_CHUNK):
            stop = min(start + _ROWS_PER_CHUNK, rows)
            raw = np.fromfile(f, dtype=np.uint8, count=(stop - start) * row_bytes)
            if raw.size != (stop - start) * row_bytes:
                raise SourceError(path, "truncated GGUF file (tensor data cut short)")
            out[start:stop] = gguf.quants.dequantize(raw.reshape(stop - start, row_bytes), qtype)
    return out.reshape(shape)


def _dtype_of(type_id: int) -> str:
    """The dtype :meth:`TensorRef.load` returns: the stored one for plain types, else float32."""
    if type_id in _PLAIN:
        return _PLAIN[type_id][1].name
    return "bfloat16" if type_id == _BF16 else "float32"


_TensorInfo = tuple[str, tuple[int, ...], int, int]


def read_gguf_header(path: Path) -> tuple[dict[str, Any], list[_TensorInfo]]:
    """The kept metadata (``general.*``) and ``(name, ne, type_id, offset)`` per tensor.

    ``ne`` is in GGUF order (fastest-varying first); ``offset`` is absolute in the file.

    Raises
    ------
    SourceError
        If the file is missing, not GGUF, of an unsupported version, or truncated.
    """
    try:
        size = path.stat().st_size
        f = path.open("rb")
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except OSError as e:
        raise SourceError(path, f"cannot open ({e.strerror or e})") from e
    with f:
        h = _Header(f, size, path)
        if size < 24 or h.read(4) != _MAGIC:
            raise SourceError(path, "not a GGUF file (bad magic bytes)")
        version = h.unpack("I")
        if version not in (2, 3):
            hint = " (big-endian files are not supported)" if version & 0xFFFF == 0 else ""
            raise SourceError(path, f"unsupported GGUF version {version}{hint}")
        n_tensors, n_kv = h.unpack("Q"), h.unpack("Q")
        if n_tensors > size or n_kv > size:
            raise SourceError(path, "corrupt GGUF header (impossible tensor or key count)")
        meta: dict[str, Any] = {}
        for _ in range(n_kv):
            key = h.string()
            vtype = h.unpack("I")
            value = h.value(vtype, keep=key.startswith("general."))
            if value is not None:
                meta[key] = value
        infos = []
        for _ in range(n_tensors):
            name = h.string()
            n_dims = h.unpack("I")
            if n_dims > 8:
                raise SourceError(path, f"corrupt GGUF header (tensor {name!r} has {n_dims} dims)")
            ne = tuple(int(h.unpack("Q")) for _ in range(n_dims))
            infos.append((name, ne, int(h.unpack("I")), int(h.unpack("Q"))))
        alignment = int(meta.get("general.alignment", _DEFAULT_ALIGNMENT))
        if alignment <= 0 or alignment & (alignment - 1):
            raise SourceError(path, f"corrupt GGUF header (alignment {alignment})")
        data_start = -(-f.tell() // alignment) * alignment
    return meta, [(n, ne, t, data_start + off) for n, ne, t, off in infos]


def gguf_refs(path: Path) -> list[TensorRef]:
    """Lazy refs to every tensor of a GGUF file, in file order, names as llama.cpp wrote them.

    A tensor of a ggml type the ``gguf`` package cannot dequantise (or does not know) gets a
    ref with ``unreadable`` set, hence a ``skipped: <type>`` row. Tensors of three or more
    axes (stacked MoE experts ``(n_expert, out, in)``) are laid out so that each slice is one
    expert's matrix.

    Raises
    ------
    SourceError
        If the header is corrupt or a tensor's data lies beyond the end of the file.
    """
    _, infos = read_gguf_header(path)
    size = path.stat().st_size
    refs = []
    for name, ne, type_id, offset in infos:
        shape = tuple(reversed(ne))
        n_elems = int(np.prod(ne)) if ne else 1
        info = _type_info(type_id)
        type_name = info[0] if info is not None else f"ggml type {type_id}"
        common: dict[str, Any] = {
            "name": name,
            "shape": shape,
            "origin": str(path),
            "quant_type": type_name,
            "layout": Layout.CHANNELS_LAST if len(shape) >= 3 else Layout.AUTO,
        }
        if info is None or not can_dequantize(type_id):
            why = "unknown to the gguf package" if info is None else "no dequantiser in gguf"
            refs.append(
                TensorRef(
                    dtype="float32",
                    loader=partial(_unreadable, str(path), name, type_name),
                    unreadable=f"{type_name} ({why})",
                    **common,
                )
            )
            continue
        _, block, block_bytes = info
        if ne and ne[0] % block:
            raise SourceError(
                path, f"corrupt GGUF: tensor {name!r} row {ne[0]} not a multiple of {block}"
            )
        nbytes = n_elems // block * block_bytes
        if offset + nbytes > size:
            raise SourceError(
                path,
                f"truncated GGUF file: tensor {name!r} ends at byte {offset + nbytes}, "
                f"the file has {size}",
            )
        refs.append(
            TensorRef(
                dtype=_dtype_of(type_id),
                loader=partial(_load, str(path), offset, nbytes, type_id, shape),
                **common,
            )
        )
    return refs


def _unreadable(path: str, name: str, type_name: str) -> np.ndarray:
    raise SourceError(path, f"tensor {name!r}: cannot dequantise {type_name}")


__all__ = ["can_dequantize", "gguf_refs", "read_gguf_header"]
