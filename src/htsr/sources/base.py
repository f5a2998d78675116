"""Lazy tensors: what every source format yields, one tensor in memory at a time."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from htsr._compat import StrEnum
from htsr.errors import HtsrError, SourceError

#: Floating dtypes, by the names this package uses for them (NumPy names, plus ml_dtypes').
FLOAT_DTYPES = frozenset(
    {
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "float8_e4m3fn",
        "float8_e4m3fnuz",
        "float8_e5m2",
        "float8_e5m2fnuz",
    }
)


class Layout(StrEnum):
    """How a convolution kernel stores its axes.

    - ``channels_first``: PyTorch and ONNX, ``(out, in, *kernel)``.
    - ``channels_last``: Keras/TensorFlow, ``(*kernel, in, out)``.
    - ``auto``: decided from the shape (see :func:`htsr.layers.resolve_layout`).
    """

    CHANNELS_FIRST = "channels_first"
    CHANNELS_LAST = "channels_last"
    AUTO = "auto"


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A tensor of a model, known by its metadata, loaded only on demand.

    Attributes
    ----------
    name : str
        The full dotted tensor name, e.g. ``encoder.layer.0.attention.self.query.weight``.
    shape : tuple of int
        The stored shape.
    dtype : str
        The stored dtype (``float32``, ``bfloat16``, ``int8``, ...). Rank cut-offs use its eps.
    origin : str
        Where it comes from (a file path, or ``<torch.nn.Module>``), for error messages.
    module_type : str or None
        The class name of the owning module when known (``Linear``, ``Conv2d``, ...).
    layout : Layout
        The axis order of a convolution kernel.
    quant_type : str or None
        The stored quantisation of a quantised tensor (a GGUF ``Q4_K``, ``Q8_0``, ...), which
        :meth:`load` dequantises; None for plain arrays.
    unreadable : str or None
        Why the data cannot be read (an encoding the reader does not decode, a value that is
        not an array); such a tensor gets a ``skipped: <unreadable>`` row and is never loaded.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    origin: str
    loader: Callable[[], np.ndarray] = field(repr=False, compare=False)
    module_type: str | None = None
    layout: Layout = Layout.AUTO
    quant_type: str | None = None
    unreadable: str | None = None

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        """Whether the stored dtype is a floating type."""
        return self.dtype in FLOAT_DTYPES

    def load(self) -> np.ndarray:
        """Read the tensor's data (a NumPy array in the stored dtype, or float32 for bf16/fp8
        coming from torch). The caller must not keep it longer than needed."""
        return self.loader()


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``layers.2`` before ``layers.10``.

    Examples
    --------
    >>> sorted(["l.10.w", "l.2.w", "emb"], key=natural_key)
    ['emb', 'l.2.w', 'l.10.w']
    """
    parts = _DIGITS.split(name)
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p != "")


def naturally_sorted(refs: list[TensorRef]) -> list[TensorRef]:
    """Refs in natural name order (file formats store names alphabetically)."""
    return sorted(refs, key=lambda r: natural_key(r.name))


def check_regular_file(path: Path) -> int:
    """The size of ``path`` after checking, without opening it, that it is a regular file.

    A FIFO, socket or device is refused before any ``open`` (opening a FIFO blocks until a
    writer appears; reading a device may never end).

    Raises
    ------
    SourceError
        If the path is missing, a directory, or not a regular file.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as e:
        raise SourceError(path, "no such file") from e
    except OSError as e:
        raise SourceError(path, f"cannot stat the file ({e.strerror or e})") from e
    if stat.S_ISDIR(info.st_mode):
        raise SourceError(path, "is a directory, expected a model file")
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(path, "not a regular file (a FIFO, socket or device); refused")
    return info.st_size


@contextmanager
def reading(path: Path | str, what: str) -> Iterator[None]:
    """Turn any failure of a reading library into a :class:`~htsr.errors.SourceError`.

    The one error contract of the source boundary: a reader's own errors (``HtsrError``)
    pass unchanged; a ``MemoryError`` (a corrupt header that declares a huge object, or a
    tensor larger than the memory left) becomes a ``SourceError`` saying so; every other
    exception of the underlying library (torch, NumPy, zipfile, zlib, struct, ...) becomes
    ``SourceError(path, "corrupt or truncated <what> (<type>: <first line>)")``.
    The library's own advice (e.g. torch's "use weights_only=False") is dropped.
    """
    try:
        yield
    except HtsrError:
        raise
    except MemoryError as e:
        raise SourceError(
            path, f"out of memory reading this {what} (corrupt sizes, or a tensor too large)"
        ) from e
    except Exception as e:
        raise SourceError(path, f"corrupt or truncated {what} ({_summary(e)})") from e


def _guarded_load(loader: Callable[[], np.ndarray], origin: str, what: str) -> np.ndarray:
    with reading(origin, what):
        return loader()


def guarded(ref: TensorRef, what: str) -> TensorRef:
    """``ref`` whose loader obeys the error contract of :func:`reading` (picklable, so it
    still travels to worker processes)."""
    return replace(ref, loader=partial(_guarded_load, ref.loader, ref.origin, what))


def _summary(error: BaseException) -> str:
    """``Type: first line`` of an exception, without a library's advice that follows."""
    text = str(error).strip().splitlines()
    first = text[0][:200] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


__all__ = [
    "FLOAT_DTYPES",
    "Layout",
    "TensorRef",
    "check_regular_file",
    "guarded",
    "natural_key",
    "naturally_sorted",
    "reading",
]
