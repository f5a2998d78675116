"""Fine-tune updates: the tensors ``W - W_base`` of a model against its base, lazily.

:func:`with_base` pairs the tensors of a model with those of its base by name. A tensor present
in both with the same shape becomes a lazy tensor whose ``load()`` returns

.. math:: \\Delta W = W - W_{base}

computed in float64 (the difference of two float32, float16 or bfloat16 numbers is exact in
float64), one pair in memory at a time; the loader is a ``functools.partial`` of the two lazy
refs, so it pickles for process and Dask executors when they do. A tensor missing in the base,
or of another shape, becomes an :class:`UnpairedRef` whose row says ``skipped: not in base`` or
``skipped: shape differs (...)``. A tensor equal to its base (a frozen layer) has a zero update:
its row says ``skipped: unchanged from base``. Tensors only in the base are ignored.

A LoRA adapter (:class:`~htsr.sources.peft.LowRankRef`) is an update already: with a base its
rows are the update ``dW`` and, named ``<name>:merged``, the merged weight ``W_base + dW``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import numpy as np

from htsr.errors import LayerSkippedError
from htsr.sources.base import TensorRef
from htsr.sources.peft import LowRankRef
from htsr.sources.resolve import ModelSource

#: Suffix of the row of a LoRA adapter merged into its base.
MERGED_SUFFIX = ":merged"


@dataclass(frozen=True, slots=True)
class UnpairedRef(TensorRef):
    """A tensor that cannot be analysed against the base; ``reason`` goes into its row."""

    reason: str = ""


def _as(cls: type[TensorRef], ref: TensorRef, **changes: Any) -> Any:
    values = {f.name: getattr(ref, f.name) for f in fields(TensorRef)} | changes
    return cls(**values)


#: Status reason of a tensor whose update is exactly zero.
UNCHANGED = "unchanged from base (W = W_base)"


def difference(ref: TensorRef, base: TensorRef) -> np.ndarray:
    """``ref.load() - base.load()`` in float64 (never modifies either tensor's data).

    Raises
    ------
    LayerSkippedError
        When the update is exactly zero (a layer the fine-tune left frozen).
    """
    delta = np.array(ref.load(), dtype=np.float64)  # a copy: the source's data stays intact
    delta -= np.asarray(base.load(), dtype=np.float64)
    if not delta.any():
        raise LayerSkippedError(ref.name, UNCHANGED)
    return delta


def merged(base: TensorRef, update: LowRankRef) -> np.ndarray:
    """``base.load() + update.load()`` in float64: a LoRA update merged into its base."""
    weight = np.array(base.load(), dtype=np.float64)
    weight += update.load()
    return weight


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _unpaired_reason(ref: TensorRef, base: TensorRef | None) -> str | None:
    if base is None:
        return "not in base"
    if base.shape != ref.shape:
        return f"shape differs (model {_shape_text(ref.shape)}, base {_shape_text(base.shape)})"
    return None


def delta_refs(refs: list[TensorRef], base_refs: list[TensorRef]) -> list[TensorRef]:
    """The update of every tensor of ``refs`` against ``base_refs`` (paired by name).

    Plain tensors become ``W - W_base``; LoRA updates stay as they are and gain a
    ``<name>:merged`` tensor ``W_base + dW``. Model order is kept.
    """
    by_name = {r.name: r for r in base_refs}
    out: list[TensorRef] = []
    for ref in refs:
        base = by_name.get(ref.name)
        reason = _unpaired_reason(ref, base)
        if isinstance(ref, LowRankRef):
            out.append(ref)
            name = ref.name + MERGED_SUFFIX
            if reason is not None or base is None:
                out.append(_as(UnpairedRef, ref, name=name, reason=str(reason)))
            else:
                loader = partial(merged, base, ref)
                out.append(_as(TensorRef, base, name=name, loader=loader))
        elif reason is not None or base is None:
            out.append(_as(UnpairedRef, ref, reason=str(reason)))
        else:
            origin = f"{ref.origin} - {base.origin}"
            out.append(_as(TensorRef, ref, origin=origin, loader=partial(difference, ref, base)))
    return out


def with_base(source: ModelSource, base: ModelSource) -> ModelSource:
    """The source of the updates of ``source`` against ``base`` (see :func:`delta_refs`)."""
    return ModelSource(
        delta_refs(source.refs, base.refs),
        f"{source.description} - {base.description}",
        f"{source.format} delta",
    )


__all__ = [
    "MERGED_SUFFIX",
    "UNCHANGED",
    "UnpairedRef",
    "delta_refs",
    "difference",
    "merged",
    "with_base",
]
