"""A directory of finished layers, so that an interrupted run resumes where it stopped.

Each analysed tensor is one ``<key>.npz`` file holding its spectra (and randomized spectra)
and a JSON description; nothing in it is ever executed (``numpy.load(allow_pickle=False)``,
``json.loads``). Files are written to a temporary name in the same directory and renamed into
place (``os.replace`` is atomic on POSIX and Windows), so a crash leaves either the whole entry
or none.

The key is the SHA-256 of a JSON document holding:

- the htsr version;
- the tensor's identity: for a tensor read from a file, the file's resolved path, size and
  ``st_mtime_ns`` (a rewritten file gets a new key); for an in-memory model (a module or a
  dict of arrays), the BLAKE2b hash of the tensor's bytes, dtype and shape;
- the tensor name;
- every option that changes the numbers (``pool``, ``solver_dtype``, ``conv_layout``,
  ``randomize`` and its seed, ``device``).

Filters (``layers``, ``exclude``, ``kinds``, ``min_evals``, caps) decide whether a tensor is
analysed, not its numbers, so they are not in the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from htsr.spectrum import Spectrum

#: Version of the entry layout and of the numbers in it; bump when either changes (3: Gram
#: blocks of 1 MiB and the tail index summed in sorted order move the last bits; 4:
#: ``localization`` per part).
_FORMAT = 4


def file_identity(origin: str) -> list[Any] | None:
    """``[resolved path, size, mtime_ns]`` of a regular file, or None if ``origin`` is not one."""
    try:
        path = Path(origin).resolve()
        st = path.stat()
    except (OSError, ValueError):
        return None
    if not path.is_file():
        return None
    return [str(path), st.st_size, st.st_mtime_ns]


def content_identity(array: np.ndarray) -> str:
    """BLAKE2b (128-bit) of an array's bytes, dtype and shape."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{array.dtype.str}{array.shape}".encode())
    h.update(np.ascontiguousarray(array).view(np.uint8).data)
    return h.hexdigest()


def cache_key(identity: list[Any] | str, tensor: str, options: dict[str, Any]) -> str:
    """The document a cache entry is keyed by, as canonical JSON."""
    from htsr._version import __version__

    doc = {
        "format": _FORMAT,
        "htsr": __version__,
        "identity": identity,
        "tensor": tensor,
        "options": options,
    }
    return json.dumps(doc, sort_keys=True)


@dataclass(frozen=True, slots=True)
class CachedPart:
    """One row's saved spectra.

    Attributes
    ----------
    name : str
        Row name.
    spectrum : Spectrum
        The ESD, exactly as computed.
    rand_evals : numpy.ndarray or None
        The randomized ESD, when the run had ``randomize=True``.
    element_mu : float
        Tail index of the matrix entries (:func:`htsr.metrics.element_tail_index`; NaN when
        not formed), an input of the phase.
    localization : float
        Localization of the top eigenvectors (:func:`htsr.localization.localization_ratio`;
        NaN when not computed: entries not heavy tailed), an input of the phase.
    """

    name: str
    spectrum: Spectrum
    rand_evals: np.ndarray | None
    element_mu: float = math.nan
    localization: float = math.nan


@dataclass(frozen=True, slots=True)
class LayerCache:
    """Finished layers under ``directory`` (created if missing).

    Attributes
    ----------
    directory : pathlib.Path
        Where the ``<sha256>.npz`` entries live.
    """

    directory: Path

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> LayerCache:
        """Create the directory if needed; ``ValueError`` if it is not a writable directory."""
        path = Path(directory)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f"`cache` {str(path)!r} cannot be used as a directory: {e}") from e
        if not os.access(path, os.W_OK):
            raise ValueError(f"`cache` {str(path)!r} is not writable")
        return cls(path)

    def _path(self, key: str) -> Path:
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()}.npz"

    def get(self, key: str) -> list[CachedPart] | None:
        """The saved parts for ``key``, or None when absent, unreadable or for another key."""
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"][()]))
                if meta.get("key") != key:
                    return None
                return [
                    CachedPart(
                        name=part["name"],
                        spectrum=Spectrum(
                            evals=np.array(data[f"evals_{i}"]),
                            N=int(part["N"]),
                            M=int(part["M"]),
                            num_slices=int(part["num_slices"]),
                            stored_dtype=str(part["stored_dtype"]),
                            solver_dtype=str(part["solver_dtype"]),
                        ),
                        rand_evals=np.array(data[f"rand_{i}"]) if part["rand"] else None,
                        element_mu=float(part["element_mu"]),
                        localization=float(part["localization"]),
                    )
                    for i, part in enumerate(meta["parts"])
                ]
        except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile, EOFError):
            return None

    def put(self, key: str, parts: list[CachedPart]) -> None:
        """Save the parts atomically (temporary file in the same directory, then rename)."""
        arrays: dict[str, np.ndarray] = {}
        meta_parts = []
        for i, part in enumerate(parts):
            s = part.spectrum
            arrays[f"evals_{i}"] = s.evals
            if part.rand_evals is not None:
                arrays[f"rand_{i}"] = part.rand_evals
            meta_parts.append(
                {
                    "name": part.name,
                    "N": s.N,
                    "M": s.M,
                    "num_slices": s.num_slices,
                    "stored_dtype": s.stored_dtype,
                    "solver_dtype": s.solver_dtype,
                    "rand": part.rand_evals is not None,
                    "element_mu": float(part.element_mu),  # JSON NaN when not formed
                    "localization": float(part.localization),
                }
            )
        arrays["meta"] = np.array(json.dumps({"key": key, "parts": meta_parts}))
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


__all__ = ["CachedPart", "LayerCache", "cache_key", "content_identity", "file_identity"]
