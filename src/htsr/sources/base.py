"""Lazy tensors: what every source format yields, one tensor in memory at a time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from htsr._compat import StrEnum

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


__all__ = ["FLOAT_DTYPES", "Layout", "TensorRef", "natural_key", "naturally_sorted"]
