"""Safetensors files, single or sharded, read one tensor at a time.

The header is parsed and validated here (:mod:`htsr.sources.safetensors_header`) rather than
through ``safetensors.safe_open``, whose NumPy backend cannot represent bfloat16/float8 and
whose torch backend needs torch. Each tensor is read with ``numpy.fromfile`` at its offset,
so only that tensor is in memory and no file stays mapped.
"""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, check_regular_file, naturally_sorted, reading
from htsr.sources.safetensors_header import TensorEntry, read_header

#: Largest shard index accepted (real ones are a few hundred kB).
_MAX_INDEX_BYTES = 50_000_000


def _load(path: Path, entry: TensorEntry) -> np.ndarray:
    if entry.np_dtype is None:
        raise SourceError(path, f"tensor {entry.name!r}: dtype {entry.dtype} cannot be read")
    count = math.prod(entry.shape)
    with reading(path, "safetensors file"), path.open("rb") as f:
        data = np.fromfile(f, dtype=entry.np_dtype, count=count, offset=entry.offset)
    if data.size != count:
        raise SourceError(path, "truncated safetensors file: tensor data ends early")
    return data.reshape(entry.shape)


def safetensors_refs(path: Path, *, names: list[str] | None = None) -> list[TensorRef]:
    """Lazy refs to the tensors of one ``.safetensors`` file, in natural name order.

    ``names`` restricts to those tensors (as listed by a shard index) and keeps their order.
    """
    header = read_header(path)
    refs = []
    for name in header if names is None else names:
        entry = header.get(name)
        if entry is None:
            raise SourceError(path, f"tensor {name!r} listed in the index is not in this shard")
        refs.append(
            TensorRef(
                name=name,
                shape=entry.shape,
                dtype=entry.dtype,
                origin=str(path),
                loader=partial(_load, path, entry),
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
    """The ``weight_map`` (tensor name -> shard file) of a Hugging Face shard index.

    Every shard must be named by a string, and resolve (after symlinks) to an existing regular
    file inside the index's directory: an index never makes htsr read a file outside the model.

    Raises
    ------
    SourceError
        Naming the index and the offending entry.
    """
    size = check_regular_file(index_path)
    if size > _MAX_INDEX_BYTES:
        raise SourceError(index_path, f"shard index larger than {_MAX_INDEX_BYTES} bytes")
    try:
        index = json.loads(index_path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SourceError(index_path, f"corrupt shard index (not JSON: {e})") from e
    except RecursionError as e:
        raise SourceError(index_path, "corrupt shard index: nested too deep") from e
    except OSError as e:
        raise SourceError(index_path, f"cannot read the shard index ({e.strerror or e})") from e
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise SourceError(index_path, "corrupt shard index: no 'weight_map' object")
    root = index_path.parent.resolve()
    checked: set[str] = set()
    for name, shard in weight_map.items():
        if shard not in checked:
            _check_shard(index_path, root, name, shard)
            checked.add(shard)
    return weight_map


def _check_shard(index_path: Path, root: Path, name: str, shard: object) -> None:
    """A ``weight_map`` value names a regular file inside the index's directory."""
    if not isinstance(shard, str) or not shard:
        raise SourceError(
            index_path, f"corrupt shard index: tensor {name!r} maps to {shard!r}, not a file name"
        )
    where = f"shard {shard!r} listed for tensor {name!r}"
    try:
        target = (index_path.parent / shard).resolve()
    except (OSError, RuntimeError, ValueError) as e:  # symlink loop, NUL byte
        raise SourceError(index_path, f"{where} cannot be resolved ({e})") from e
    if not target.is_relative_to(root):
        raise SourceError(index_path, f"{where} resolves outside the model directory; refused")
    try:
        check_regular_file(target)
    except SourceError as e:
        raise SourceError(index_path, f"{where} is missing or unusable ({e.reason})") from e


__all__ = ["read_index", "safetensors_refs", "sharded_safetensors_refs"]
