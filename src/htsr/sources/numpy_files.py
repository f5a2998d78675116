"""NumPy files: ``.npy`` (one matrix, named after the file) and ``.npz`` (one per key)."""

from __future__ import annotations

import zipfile
from functools import partial
from pathlib import Path

import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef


def _load_npz_member(path: Path, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as archive:
        return np.asarray(archive[key])


def _load_npy(path: Path) -> np.ndarray:
    return np.asarray(np.load(path, allow_pickle=False))


def npy_refs(path: Path) -> list[TensorRef]:
    """One ref for a ``.npy`` file; the header is read without loading the data."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except (ValueError, OSError, EOFError) as e:
        raise SourceError(path, f"corrupt or truncated .npy file ({e})") from e
    ref = TensorRef(
        name=path.stem,
        shape=tuple(int(d) for d in array.shape),
        dtype=array.dtype.name,
        origin=str(path),
        loader=partial(_load_npy, path),
    )
    del array
    return [ref]


def npz_refs(path: Path) -> list[TensorRef]:
    """One ref per array of a ``.npz`` archive, in archive order; each loaded on demand."""
    refs = []
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                shape, dtype = _npz_member_header(archive, key)
                refs.append(
                    TensorRef(
                        name=key,
                        shape=shape,
                        dtype=dtype,
                        origin=str(path),
                        loader=partial(_load_npz_member, path, key),
                    )
                )
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise SourceError(path, f"corrupt or truncated .npz file ({e})") from e
    return refs


def _npz_member_header(archive: np.lib.npyio.NpzFile, key: str) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of an archive member, read from its .npy header only."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    assert archive.zip is not None  # open while the archive is
    with archive.zip.open(f"{key}.npy") as member:
        reader = readers.get(np.lib.format.read_magic(member))
        if reader is not None:
            shape, _, dtype = reader(member)
            return tuple(int(d) for d in shape), np.dtype(dtype).name
    array = archive[key]  # a newer header version: read the member to learn its shape
    return tuple(int(d) for d in array.shape), array.dtype.name


__all__ = ["npy_refs", "npz_refs"]
