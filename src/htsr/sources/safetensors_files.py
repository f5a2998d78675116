"""Safetensors files, single or sharded, read one tensor at a time.

The header is parsed here rather than through ``safetensors.safe_open`` because its NumPy
backend cannot represent bfloat16/float8 and its torch backend needs torch; the format is a
little-endian u64 header length, a JSON header ``{name: {dtype, shape, data_offsets}}`` and
the raw data (https://github.com/huggingface/safetensors#format). Each tensor is read with
``numpy.fromfile`` at its offset, so only that tensor is in memory and no file stays mapped.
"""

from __future__ import annotations

import json
import struct
from functools import partial
from pathlib import Path

import ml_dtypes
import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, naturally_sorted

#: safetensors dtype codes -> (our dtype name, NumPy dtype).
_DTYPES: dict[str, tuple[str, np.dtype]] = {
    "F64": ("float64", np.dtype("<f8")),
    "F32": ("float32", np.dtype("<f4")),
    "F16": ("float16", np.dtype("<f2")),
    "BF16": ("bfloat16", np.dtype(ml_dtypes.bfloat16)),
    "F8_E4M3": ("float8_e4m3fn", np.dtype(ml_dtypes.float8_e4m3fn)),
    "F8_E5M2": ("float8_e5m2", np.dtype(ml_dtypes.float8_e5m2)),
    "I64": ("int64", np.dtype("<i8")),
    "I32": ("int32", np.dtype("<i4")),
    "I16": ("int16", np.dtype("<i2")),
    "I8": ("int8", np.dtype("i1")),
    "U8": ("uint8", np.dtype("u1")),
    "U16": ("uint16", np.dtype("<u2")),
    "U32": ("uint32", np.dtype("<u4")),
    "U64": ("uint64", np.dtype("<u8")),
    "BOOL": ("bool", np.dtype("?")),
}

#: Largest header the format allows (100 MB, as in the reference implementation).
_MAX_HEADER = 100_000_000


def read_header(path: Path) -> tuple[dict[str, dict[str, object]], int]:
    """Parse a safetensors header; return ``(entries, data_start)``.

    Raises
    ------
    SourceError
        If the file is missing, truncated, or its header is not valid safetensors.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            raw_len = f.read(8)
            if len(raw_len) < 8:
                raise SourceError(
                    path, "not a safetensors file: shorter than its 8-byte header length"
                )
            (header_len,) = struct.unpack("<Q", raw_len)
            if header_len > _MAX_HEADER or 8 + header_len > size:
                raise SourceError(
                    path,
                    f"corrupt or truncated safetensors file: header length {header_len} "
                    f"does not fit in a file of {size} bytes",
                )
            header_bytes = f.read(header_len)
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except IsADirectoryError as e:
        raise SourceError(path, "is a directory, expected a .safetensors file") from e
    try:
        header = json.loads(header_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(path, f"corrupt safetensors header (not JSON: {e})") from e
    if not isinstance(header, dict):
        raise SourceError(path, "corrupt safetensors header (not a JSON object)")
    header.pop("__metadata__", None)
    data_start = 8 + header_len
    data_len = size - data_start
    for name, entry in header.items():
        _check_entry(path, name, entry, data_len)
    return header, data_start


def _check_entry(path: Path, name: str, entry: object, data_len: int) -> None:
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise SourceError(path, f"corrupt safetensors header: bad entry for tensor {name!r}")
    begin, end = entry["data_offsets"]
    if end > data_len:
        raise SourceError(
            path,
            f"truncated safetensors file: tensor {name!r} ends at byte {end} of the data "
            f"section but the file holds only {data_len} bytes of data",
        )
    if entry["dtype"] in _DTYPES:
        itemsize = _DTYPES[entry["dtype"]][1].itemsize
        count = int(np.prod(entry["shape"], dtype=np.int64))
        if count * itemsize != end - begin:
            raise SourceError(
                path,
                f"corrupt safetensors header: tensor {name!r} of shape {entry['shape']} "
                f"and dtype {entry['dtype']} cannot occupy {end - begin} bytes",
            )


def _load(path: Path, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    try:
        with path.open("rb") as f:
            data = np.fromfile(f, dtype=dtype, count=count, offset=offset)
    except OSError as e:
        raise SourceError(path, f"cannot read tensor data: {e}") from e
    if data.size != count:
        raise SourceError(path, "truncated safetensors file: tensor data ends early")
    return data.reshape(shape)


def safetensors_refs(path: Path, *, names: list[str] | None = None) -> list[TensorRef]:
    """Lazy refs to the tensors of one ``.safetensors`` file, in natural name order.

    ``names`` restricts to those tensors (as listed by a shard index) and keeps their order.
    """
    header, data_start = read_header(path)
    refs = []
    for name in header if names is None else names:
        entry = header.get(name)
        if entry is None:
            raise SourceError(path, f"tensor {name!r} listed in the index is not in this shard")
        code = str(entry["dtype"])
        shape = tuple(int(d) for d in entry["shape"])  # type: ignore[attr-defined]
        our_name, np_dtype = _DTYPES.get(code, (code.lower(), np.dtype("u1")))
        begin = int(entry["data_offsets"][0])  # type: ignore[index]
        refs.append(
            TensorRef(
                name=name,
                shape=shape,
                dtype=our_name,
                origin=str(path),
                loader=partial(_load, path, data_start + begin, np_dtype, shape),
            )
        )
    return refs if names is not None else naturally_sorted(refs)


def sharded_safetensors_refs(index_path: Path) -> list[TensorRef]:
    """Lazy refs to every tensor of a sharded checkpoint (``model.safetensors.index.json``)."""
    weight_map = read_index(index_path)
    by_shard: dict[str, list[str]] = {}
    for name, shard in weight_map.items():
        by_shard.setdefault(shard, []).append(name)
    refs = []
    for shard, names in by_shard.items():
        refs.extend(safetensors_refs(index_path.parent / shard, names=names))
    return naturally_sorted(refs)


def read_index(index_path: Path) -> dict[str, str]:
    """The ``weight_map`` (tensor name -> shard file) of a Hugging Face shard index."""
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError as e:
        raise SourceError(index_path, "no such file") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(index_path, f"corrupt shard index (not JSON: {e})") from e
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise SourceError(index_path, "corrupt shard index: no 'weight_map' object")
    for shard in set(weight_map.values()):
        if not (index_path.parent / shard).is_file():
            raise SourceError(index_path.parent / shard, "shard listed in the index is missing")
    return weight_map


__all__ = ["read_header", "read_index", "safetensors_refs", "sharded_safetensors_refs"]
