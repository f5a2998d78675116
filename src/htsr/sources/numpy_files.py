"""NumPy files: ``.npy`` (one matrix, named after the file) and ``.npz`` (one per key).

Every failure of NumPy or zipfile (a corrupt header, a negative shape, an encrypted or
CRC-failing member, an ``.npz`` renamed ``.npy``) becomes a :class:`~htsr.errors.SourceError`
naming the file, at listing time or when the tensor is loaded; a CRC error found while a
member is loaded therefore fails the file rather than giving one ``error:`` row (the archive
is corrupt, and htsr does not report half a model as if it were whole).
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import numpy as np

from htsr.errors import SourceError
from htsr.sources.base import TensorRef, check_regular_file, reading

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _load_npz_member(path: Path, key: str) -> np.ndarray:
    with reading(path, ".npz file"), np.load(path, allow_pickle=False) as archive:
        return np.asarray(archive[key])


def _load_npy(path: Path) -> np.ndarray:
    with reading(path, ".npy file"):
        array = np.load(path, allow_pickle=False)
    if not isinstance(array, np.ndarray):
        raise SourceError(path, "not a .npy file (a .npz archive?)")
    return array


def npy_refs(path: Path) -> list[TensorRef]:
    """One ref for a ``.npy`` file; the header is read without loading the data."""
    check_regular_file(path)
    with reading(path, ".npy file"):
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    if not isinstance(array, np.ndarray):  # np.load returns an NpzFile for a zip archive
        if hasattr(array, "close"):
            array.close()
        raise SourceError(path, "not a .npy file (it is a zip archive: rename it .npz)")
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
    check_regular_file(path)
    refs = []
    with reading(path, ".npz file"), np.load(path, allow_pickle=False) as archive:
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise SourceError(path, "not a .npz archive (a single array: rename it .npy)")
        for key in archive.files:
            shape, dtype = _npz_member_header(path, archive, key)
            refs.append(
                TensorRef(
                    name=key,
                    shape=shape,
                    dtype=dtype,
                    origin=str(path),
                    loader=partial(_load_npz_member, path, key),
                )
            )
    return refs


def _npz_member_header(
    path: Path, archive: np.lib.npyio.NpzFile, key: str
) -> tuple[tuple[int, ...], str]:
    """Shape and dtype of an archive member, read from its .npy header only.

    The declared size of the member must hold the array its header announces.
    """
    assert archive.zip is not None  # open while the archive is
    member = f"{key}.npy" if f"{key}.npy" in archive.zip.NameToInfo else key
    info = archive.zip.getinfo(member)
    with archive.zip.open(member) as f:
        reader = _HEADER_READERS.get(np.lib.format.read_magic(f))
        if reader is None:  # a newer header version: read the member to learn its shape
            array = archive[key]
            return tuple(int(d) for d in array.shape), array.dtype.name
        shape, _, dtype = reader(f)
        header_end = f.tell()
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise SourceError(path, f"member {key!r} holds Python objects; refused (no pickle)")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_end + nbytes > info.file_size:
        raise SourceError(
            path,
            f"corrupt .npz file: member {key!r} of shape {shape} needs {nbytes} bytes but "
            f"holds {info.file_size - header_end}",
        )
    return tuple(int(d) for d in shape), dtype.name


__all__ = ["npy_refs", "npz_refs"]
