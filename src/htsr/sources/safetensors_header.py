"""A strict validator of safetensors headers, run before any tensor data is read.

The format (https://github.com/huggingface/safetensors#format) is an 8-byte little-endian
header length ``n``, ``n`` bytes of JSON ``{name: {"dtype", "shape", "data_offsets"}, ...,
"__metadata__": {str: str}}`` and the data section. A header is accepted only if

- the file is a regular file (checked with ``os.stat`` before opening: a FIFO never blocks)
  and ``n`` is at most 100 MB (:data:`MAX_HEADER_BYTES`, the reference library's limit) and
  fits in the file;
- the JSON is bounded before it is parsed: no run of more than :data:`MAX_DEPTH` opening
  brackets, at most :data:`MAX_OBJECTS` ``{`` and :data:`MAX_ITEMS` ``,`` bytes (counted on
  the raw text, so brackets inside strings count too; a valid header nests 3 deep and holds
  one object per tensor), and any ``RecursionError`` of the parser is caught;
- every entry has a known dtype, a shape of non-negative ints and ``data_offsets``
  ``[begin, end]`` of non-negative ints with ``end - begin == ceil(prod(shape) * bits / 8)``
  (Python ints: no overflow, so a ``[2**32, 2**32]`` shape cannot wrap to 0);
- sorted by ``begin``, the entries tile the data section exactly: the first starts at 0, each
  starts where the previous ends (no overlap, no gap), the last ends at the end of the file,
  as the reference implementation requires;
- ``__metadata__``, if present, maps strings to strings.
"""

from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import check_regular_file

#: Largest header accepted (100 MB, as in the reference implementation).
MAX_HEADER_BYTES = 100_000_000
#: Longest run of opening brackets accepted (a valid header nests 3 deep).
MAX_DEPTH = 64
#: Most ``{`` accepted in a header: one object per tensor, so this bounds the tensors of one
#: file (the largest public shards hold a few thousand) and the parser's memory and time.
MAX_OBJECTS = 250_000
#: Most ``,`` accepted in a header (a tensor entry holds about 4 + ndim).
MAX_ITEMS = 8_000_000

#: safetensors dtype code -> (our dtype name, NumPy dtype or None if not loadable, bits).
DTYPES: dict[str, tuple[str, np.dtype | None, int]] = {
    "F64": ("float64", np.dtype("<f8"), 64),
    "F32": ("float32", np.dtype("<f4"), 32),
    "F16": ("float16", np.dtype("<f2"), 16),
    "BF16": ("bfloat16", np.dtype(ml_dtypes.bfloat16), 16),
    "F8_E4M3": ("float8_e4m3fn", np.dtype(ml_dtypes.float8_e4m3fn), 8),
    "F8_E5M2": ("float8_e5m2", np.dtype(ml_dtypes.float8_e5m2), 8),
    "F8_E8M0": ("float8_e8m0fnu", None, 8),
    "F6_E2M3": ("float6_e2m3fn", None, 6),
    "F6_E3M2": ("float6_e3m2fn", None, 6),
    "F4": ("float4_e2m1fn", None, 4),
    "C64": ("complex64", np.dtype("<c8"), 64),
    "I64": ("int64", np.dtype("<i8"), 64),
    "I32": ("int32", np.dtype("<i4"), 32),
    "I16": ("int16", np.dtype("<i2"), 16),
    "I8": ("int8", np.dtype("i1"), 8),
    "U8": ("uint8", np.dtype("u1"), 8),
    "U16": ("uint16", np.dtype("<u2"), 16),
    "U32": ("uint32", np.dtype("<u4"), 32),
    "U64": ("uint64", np.dtype("<u8"), 64),
    "BOOL": ("bool", np.dtype("?"), 8),
}
_DEEP = re.compile(rb"[\[{](?:\s*[\[{]){%d}" % MAX_DEPTH)


@dataclass(frozen=True, slots=True)
class TensorEntry:
    """One validated header entry.

    Attributes
    ----------
    name : str
        The tensor name.
    dtype : str
        Our dtype name (``float32``, ``bfloat16``, ...).
    np_dtype : numpy.dtype or None
        The NumPy dtype to read it with (None: a dtype NumPy cannot hold, never loaded).
    shape : tuple of int
        Non-negative sizes.
    offset : int
        Absolute byte offset of the data in the file.
    nbytes : int
        Byte length of the data.
    """

    name: str
    dtype: str
    np_dtype: np.dtype | None
    shape: tuple[int, ...]
    offset: int
    nbytes: int


def read_header(path: Path) -> dict[str, TensorEntry]:
    """Read and validate the header of a ``.safetensors`` file (no tensor data is read).

    Returns
    -------
    dict
        Tensor name -> :class:`TensorEntry`, in header order.

    Raises
    ------
    SourceError
        If the file is not a regular file, or is truncated, or its header breaks any rule of
        the module docstring; the message names the tensor at fault.
    """
    size = check_regular_file(path)
    try:
        with path.open("rb") as f:
            raw_len = f.read(8)
            if len(raw_len) < 8:
                raise SourceError(
                    path, "not a safetensors file: shorter than its 8-byte header length"
                )
            (header_len,) = struct.unpack("<Q", raw_len)
            if header_len > MAX_HEADER_BYTES or 8 + header_len > size:
                raise SourceError(
                    path,
                    f"corrupt or truncated safetensors file: header length {header_len} "
                    f"does not fit in a file of {size} bytes (limit {MAX_HEADER_BYTES})",
                )
            raw = f.read(header_len)
    except OSError as e:
        if isinstance(e, SourceError):
            raise
        raise SourceError(path, f"cannot read the file ({e.strerror or e})") from e
    header = _parse_json(path, raw)
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise SourceError(path, "corrupt safetensors header: __metadata__ is not a str -> str map")
    data_start = 8 + header_len
    entries = {name: _entry(path, name, value, data_start) for name, value in header.items()}
    _check_tiling(path, entries, data_start, size)
    return entries


def _parse_json(path: Path, raw: bytes) -> dict[str, object]:
    """The header's JSON object, refused before parsing if its size could blow up."""
    if _DEEP.search(raw):
        raise SourceError(path, f"corrupt safetensors header: nested deeper than {MAX_DEPTH}")
    if raw.count(b"{") > MAX_OBJECTS or raw.count(b",") > MAX_ITEMS:
        raise SourceError(
            path,
            f"safetensors header too large: more than {MAX_OBJECTS} objects or "
            f"{MAX_ITEMS} items (at most {MAX_OBJECTS - 1} tensors per file are read)",
        )
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(path, f"corrupt safetensors header (not JSON: {e})") from e
    except RecursionError as e:
        raise SourceError(path, "corrupt safetensors header: nested too deep") from e
    if not isinstance(header, dict):
        raise SourceError(path, "corrupt safetensors header (not a JSON object)")
    return header


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _entry(path: Path, name: str, value: object, data_start: int) -> TensorEntry:
    def bad(reason: str) -> SourceError:
        return SourceError(path, f"corrupt safetensors header: tensor {name!r}: {reason}")

    if not isinstance(value, dict) or not {"dtype", "shape", "data_offsets"} <= value.keys():
        raise bad("not an object with dtype, shape and data_offsets")
    code, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(code, str) or code not in DTYPES:
        raise bad(f"unknown dtype {code!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad(f"shape {shape!r} is not a list of non-negative ints")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise bad(f"data_offsets {offsets!r} is not [begin, end] of non-negative ints")
    begin, end = offsets
    our_name, np_dtype, bits = DTYPES[code]
    nbytes = -(-math.prod(shape) * bits // 8)  # exact: Python ints do not overflow
    if end - begin != nbytes:
        raise bad(
            f"shape {shape} of dtype {code} needs {nbytes} bytes, data_offsets give {end - begin}"
        )
    return TensorEntry(name, our_name, np_dtype, tuple(shape), data_start + begin, nbytes)


def _check_tiling(path: Path, entries: dict[str, TensorEntry], data_start: int, size: int) -> None:
    """The entries, sorted by offset, cover the data section exactly once."""
    position = data_start
    for entry in sorted(entries.values(), key=lambda e: (e.offset, e.nbytes)):
        if entry.offset != position:
            what = "overlaps the previous tensor" if entry.offset < position else "leaves a gap"
            raise SourceError(
                path,
                f"corrupt safetensors header: tensor {entry.name!r} at data offset "
                f"{entry.offset - data_start} {what} (expected {position - data_start})",
            )
        position += entry.nbytes
    if position != size:
        state = "truncated" if position > size else "corrupt"
        raise SourceError(
            path,
            f"{state} safetensors file: the tensors end at byte {position} of the file "
            f"but the file holds {size} bytes",
        )


__all__ = ["DTYPES", "MAX_DEPTH", "MAX_HEADER_BYTES", "MAX_OBJECTS", "TensorEntry", "read_header"]
