"""Which tensors are weight matrices, and how to cut them into N x M matrices.

A dense or embedding weight is one matrix. A convolution kernel with kernel size
``k1 x ... x kd`` is ``k1*...*kd`` slices, each an ``in x out`` matrix (Martin & Mahoney,
JMLR 22(165) 2021, Section 4: "we treat each of the k x k slices as a separate matrix").
Every matrix is oriented so that ``N >= M``; ``Q = N / M``.

Language models fuse projections into one stored matrix: :func:`split_parts` cuts fused
query/key/value and gate/up projections into their parts when the layout is known from the
name and shape, and :func:`expert_group` names the group of a mixture-of-experts weight.
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


class PartLabel(StrEnum):
    """The parts of a fused projection."""

    Q = "q"
    K = "k"
    V = "v"
    GATE = "gate"
    UP = "up"


@dataclass(frozen=True, slots=True)
class Part:
    """A contiguous block of a fused 2-D weight: ``stored[start:stop]`` along ``axis``.

    Attributes
    ----------
    label : PartLabel
        Which projection it is; its row is named ``<tensor name>[<label>]``.
    axis : int
        The stored axis that is cut (0 for ``(out, in)`` Linear weights, 1 for GPT-2
        ``Conv1D`` weights stored ``(in, out)``).
    start, stop : int
        The block along that axis.
    """

    label: PartLabel
    axis: int
    start: int
    stop: int

    def shape(self, stored: tuple[int, ...]) -> tuple[int, int]:
        """The part's shape, cut from a tensor of shape ``stored``."""
        size = self.stop - self.start
        return (size, stored[1]) if self.axis == 0 else (stored[0], size)

    def take(self, array: np.ndarray) -> np.ndarray:
        """The part of a stored 2-D array (a view)."""
        return array[self.start : self.stop] if self.axis == 0 else array[:, self.start : self.stop]


#: Fused query/key/value stored contiguously as ``[q; k; v]`` along the output axis: Phi-3
#: ``qkv_proj``, MPT/MosaicBERT ``Wqkv``, timm ViT ``qkv``, ``nn.MultiheadAttention``
#: ``in_proj_weight``, GPT-2 ``c_attn`` (a ``Conv1D``, stored ``(in, out)``).
_FUSED_QKV = re.compile(r"(?:^|\.)(?:qkv_proj|Wqkv|qkv|c_attn)(?:\.weight)?$|in_proj_weight$")
#: Fused QKV interleaved per attention head (GPT-NeoX, Falcon, BLOOM ``query_key_value``).
_INTERLEAVED_QKV = re.compile(r"(?:^|\.)query_key_value(?:\.weight)?$")
#: Fused MLP input ``[gate; up]`` along the output axis (Phi-3 ``gate_up_proj``).
_FUSED_GATE_UP = re.compile(r"(?:^|\.)gate_up_proj(?:\.weight)?$")
#: A mixture-of-experts weight: ``...experts.<N>....``.
_EXPERT = re.compile(r"(^|\.)experts\.\d+\.")


def _qkv_sizes(out: int, hidden: int) -> tuple[int, int] | None:
    """``(q, kv)`` widths of ``[q; k; v]`` with ``out = q + 2 kv`` rows and ``hidden`` inputs.

    The query width equals the hidden size in every fused-QKV model we know (GPT-2, Phi-3,
    MPT, ViT, Llama-style grouped-query attention: ``heads * head_dim = hidden``); K and V then
    share the rest equally. None when that does not give ``0 < kv <= q``.
    """
    rest = out - hidden
    if rest <= 0 or rest % 2 or rest // 2 > hidden:
        return None
    return hidden, rest // 2


def split_parts(
    name: str, shape: tuple[int, ...], module_type: str | None = None
) -> tuple[tuple[Part, ...], str | None]:
    """How a fused projection is cut into parts, from its name, shape and module type.

    Rules (2-D weights only):

    - ``qkv_proj``, ``Wqkv``, ``qkv``, ``in_proj_weight``, ``c_attn``: ``[q; k; v]`` along the
      output axis. The output axis is axis 0 for ``(out, in)`` weights and axis 1 for GPT-2's
      ``Conv1D`` (module type ``Conv1D``, or a file's ``c_attn`` whose second axis is the
      larger). ``q`` is as wide as the input (hidden) size and ``k``, ``v`` share the rest
      equally, which covers equal thirds (``out = 3 in``) and grouped-query attention
      (``out = in + 2 kv``).
    - ``gate_up_proj``: ``[gate; up]``, two equal halves of the output axis.
    - ``query_key_value`` (GPT-NeoX, Falcon, BLOOM) interleaves q, k, v per head, and the head
      count is not in the shape: analysed whole.

    Returns
    -------
    parts : tuple of Part
        Empty when the tensor is analysed whole.
    note : str or None
        Why a fused-looking tensor is analysed whole (for its row), else None.
    """
    if len(shape) != 2:
        return (), None
    if _INTERLEAVED_QKV.search(name):
        return (
            (),
            "fused QKV interleaved per head; head count unknown from the shape: analysed whole",
        )
    if _FUSED_GATE_UP.search(name):
        if shape[0] % 2:
            return (), f"fused gate/up of odd output size {shape[0]}: analysed whole"
        half = shape[0] // 2
        return (Part(PartLabel.GATE, 0, 0, half), Part(PartLabel.UP, 0, half, shape[0])), None
    if not _FUSED_QKV.search(name):
        return (), None
    conv1d = module_type == "Conv1D" or (
        module_type is None and name.split(".")[-2:-1] == ["c_attn"] and shape[1] > shape[0]
    )
    axis = 1 if conv1d else 0
    out, hidden = shape[axis], shape[1 - axis]
    sizes = _qkv_sizes(out, hidden)
    if sizes is None:
        return (), f"fused QKV of {out} outputs for {hidden} inputs: layout unknown, analysed whole"
    q, kv = sizes
    return (
        Part(PartLabel.Q, axis, 0, q),
        Part(PartLabel.K, axis, q, q + kv),
        Part(PartLabel.V, axis, q + kv, out),
    ), None


def part_layer(layer: Layer, part: Part) -> Layer:
    """The :class:`Layer` view of one part of a fused 2-D weight."""
    a, b = part.shape(layer.shape)
    return Layer(
        name=f"{layer.name}[{part.label}]",
        kind=layer.kind,
        shape=(a, b),
        N=max(a, b),
        M=min(a, b),
        num_slices=1,
        dtype=layer.dtype,
        layout=layer.layout,
    )


def expert_group(name: str) -> str | None:
    """The group of a mixture-of-experts weight: its name with the expert index as ``*``.

    >>> expert_group("model.layers.0.mlp.experts.7.w1.weight")
    'model.layers.0.mlp.experts.*.w1.weight'
    >>> expert_group("model.layers.0.mlp.gate.weight") is None
    True
    """
    group, count = _EXPERT.subn(r"\1experts.*.", name)
    return group if count else None


def parse_kinds(kinds: Iterable[str | LayerKind] | None) -> frozenset[LayerKind] | None:
    """Validate a user's kind filter (``None``: every kind)."""
    return None if kinds is None else frozenset(LayerKind(k) for k in kinds)


__all__ = [
    "Layer",
    "LayerKind",
    "Part",
    "PartLabel",
    "expert_group",
    "infer_kind",
    "make_layer",
    "parse_kinds",
    "part_layer",
    "resolve_layout",
    "split_parts",
]
