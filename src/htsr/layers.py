"""Which tensors are weight matrices, and how to cut them into N x M matrices.

A dense or embedding weight is one matrix. A convolution kernel with kernel size
``k1 x ... x kd`` is ``k1*...*kd`` slices, each an ``in x out`` matrix (Martin & Mahoney,
JMLR 22(165) 2021, Section 4: "we treat each of the k x k slices as a separate matrix").
Every matrix is oriented so that ``N >= M``; ``Q = N / M``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from htsr._compat import StrEnum
from htsr.sources.base import Layout, TensorRef


class LayerKind(StrEnum):
    """What a weight tensor is, from its module type when known, else from its shape."""

    DENSE = "dense"
    CONV1D = "conv1d"
    CONV2D = "conv2d"
    CONV3D = "conv3d"
    EMBEDDING = "embedding"
    RECURRENT = "recurrent"
    ATTENTION = "attention"
    VECTOR = "vector"
    OTHER = "other"


_CONV_BY_NDIM = {3: LayerKind.CONV1D, 4: LayerKind.CONV2D, 5: LayerKind.CONV3D}
_MODULE_KINDS = {
    "Linear": LayerKind.DENSE,
    "LazyLinear": LayerKind.DENSE,
    "Bilinear": LayerKind.OTHER,
    "Conv1D": LayerKind.DENSE,  # Hugging Face GPT-2's "Conv1D" is a dense (in, out) matrix
    "Embedding": LayerKind.EMBEDDING,
    "EmbeddingBag": LayerKind.EMBEDDING,
    "LSTM": LayerKind.RECURRENT,
    "GRU": LayerKind.RECURRENT,
    "RNN": LayerKind.RECURRENT,
    "MultiheadAttention": LayerKind.ATTENTION,
    "Dense": LayerKind.DENSE,  # Keras
    "EinsumDense": LayerKind.DENSE,  # Keras
    "Gemm": LayerKind.DENSE,  # ONNX operators consuming the tensor
    "MatMul": LayerKind.DENSE,
    "Gather": LayerKind.EMBEDDING,
}
#: Names that mark a 2-D tensor read from a file (no module type) as an embedding table.
_EMBEDDING_NAME = re.compile(
    r"(embed|wte|wpe|tok_embeddings|word_embeddings|shared\.weight|token_embd|position_embd)"
)
#: llama.cpp (GGUF) tensor names: attention projections of a block ``blk.N.attn_*``.
_GGUF_ATTENTION = re.compile(r"(^|\.)blk\.\d+\.attn_(q|k|v|qkv|output)(_[a-z]+)?\.weight$")
#: llama.cpp stacked mixture-of-experts weights ``(n_expert, out, in)``: one matrix per expert.
_GGUF_EXPERTS = re.compile(r"(^|\.)blk\.\d+\.ffn_(gate|up|down|gate_up)_exps\.weight$")
#: Kernels larger than this along an axis are not taken for spatial axes in ``auto`` layout.
_MAX_KERNEL = 15


@dataclass(frozen=True, slots=True)
class Layer:
    """A weight tensor seen as ``num_slices`` matrices of shape N x M (N >= M).

    Attributes
    ----------
    name : str
        The full dotted tensor name.
    kind : LayerKind
        Dense, convNd, embedding, ...
    shape : tuple of int
        The stored shape.
    N, M : int
        The larger and smaller side of each matrix.
    num_slices : int
        Number of matrices (``prod(kernel)`` for convolutions, 1 otherwise).
    dtype : str
        The stored dtype.
    layout : Layout
        Resolved kernel layout (``channels_first`` for non-convolutions).
    """

    name: str
    kind: LayerKind
    shape: tuple[int, ...]
    N: int
    M: int
    num_slices: int
    dtype: str
    layout: Layout

    @property
    def Q(self) -> float:
        """Aspect ratio N / M >= 1 (NaN for an empty matrix, M = 0)."""
        return self.N / self.M if self.M else float("nan")

    def num_evals(self, *, pool: bool = True) -> int:
        """Eigenvalues in one ESD: ``M * num_slices`` pooled, ``M`` per slice."""
        return self.M * self.num_slices if pool else self.M

    def slices(self, array: np.ndarray) -> np.ndarray:
        """The matrices as a ``(num_slices, a, b)`` array (a view where possible).

        Each slice is ``out x in`` (channels first) or ``in x out`` (channels last); both have
        the same singular values, so the ESD does not depend on the layout.
        """
        if array.ndim == 2:
            return array[np.newaxis]
        if self.layout is Layout.CHANNELS_LAST:
            return array.reshape(-1, array.shape[-2], array.shape[-1])
        out_ch, in_ch = array.shape[:2]
        return np.moveaxis(array.reshape(out_ch, in_ch, -1), -1, 0)


def infer_kind(ref: TensorRef) -> LayerKind:
    """The layer kind from the owning module's class name, else from shape and name."""
    if ref.ndim < 2:
        return LayerKind.VECTOR
    if ref.module_type is not None:
        if ref.module_type.startswith(("Conv", "LazyConv")) and ref.ndim in _CONV_BY_NDIM:
            return _CONV_BY_NDIM[ref.ndim]
        if ref.module_type in _MODULE_KINDS:
            return _MODULE_KINDS[ref.module_type]
    if ref.ndim == 2 and _GGUF_ATTENTION.search(ref.name):
        return LayerKind.ATTENTION
    if ref.ndim == 3 and _GGUF_EXPERTS.search(ref.name):
        return LayerKind.DENSE
    if ref.ndim == 2:
        return LayerKind.EMBEDDING if _EMBEDDING_NAME.search(ref.name) else LayerKind.DENSE
    return _CONV_BY_NDIM.get(ref.ndim, LayerKind.OTHER)


def resolve_layout(shape: tuple[int, ...], layout: Layout | str) -> Layout:
    """The kernel layout of a convolution of this shape.

    ``auto``: channels last when the leading axes are small and equal-looking kernel axes
    while the trailing two are not (``(k, k, in, out)``), channels first otherwise (PyTorch,
    ONNX). Pass the layout explicitly for kernels this cannot tell apart.
    """
    layout = Layout(layout)
    if layout is not Layout.AUTO or len(shape) < 3:
        return Layout.CHANNELS_FIRST if layout is Layout.AUTO else layout
    spatial = len(shape) - 2
    leading, trailing = shape[:spatial], shape[-spatial:]
    leading_is_kernel = max(leading) <= _MAX_KERNEL
    trailing_is_kernel = max(trailing) <= _MAX_KERNEL
    if leading_is_kernel and not trailing_is_kernel:
        return Layout.CHANNELS_LAST
    return Layout.CHANNELS_FIRST


def make_layer(ref: TensorRef, *, layout: Layout | str = Layout.AUTO) -> Layer:
    """The :class:`Layer` view of a tensor of 2 or more axes."""
    kind = infer_kind(ref)
    resolved = resolve_layout(ref.shape, ref.layout if layout == Layout.AUTO else layout)
    if ref.ndim == 2:
        a, b, slices = ref.shape[0], ref.shape[1], 1
    elif resolved is Layout.CHANNELS_LAST:
        a, b = ref.shape[-2], ref.shape[-1]
        slices = int(np.prod(ref.shape[:-2]))
    else:
        a, b = ref.shape[0], ref.shape[1]
        slices = int(np.prod(ref.shape[2:]))
    return Layer(
        name=ref.name,
        kind=kind,
        shape=ref.shape,
        N=max(a, b),
        M=min(a, b),
        num_slices=slices,
        dtype=ref.dtype,
        layout=resolved if ref.ndim > 2 else Layout.CHANNELS_FIRST,
    )


def parse_kinds(kinds: Iterable[str | LayerKind] | None) -> frozenset[LayerKind] | None:
    """Validate a user's kind filter (``None``: every kind)."""
    return None if kinds is None else frozenset(LayerKind(k) for k in kinds)


__all__ = ["Layer", "LayerKind", "infer_kind", "make_layer", "parse_kinds", "resolve_layout"]
