"""The work of one tensor, decided and computed: what a process-pool worker runs.

:func:`plan_tensor` decides a tensor's rows from its metadata (kind, shape, filters, fused
projections); :func:`compute_tensor` loads the tensor and computes each analysed row's spectra
and the tail index of its entries. The fits, the phase and the row itself are made from these
by :mod:`htsr.analysis`, in the calling process. This module imports no fitting code, no
pandas and no report, so that a spawned worker starts fast (``python -X importtime -c
"import htsr.compute"``; docs/engine.md).
"""

from __future__ import annotations

import math
import re
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from htsr._execution import pinned_blas, pinned_torch
from htsr.cache import CachedPart
from htsr.entries import element_tail_index
from htsr.errors import HtsrError, LayerError, LayerSkippedError
from htsr.layers import (
    Layer,
    LayerKind,
    Part,
    expert_group,
    make_layer,
    part_layer,
    split_parts,
)
from htsr.localization import entries_heavy, spectrum_and_localization
from htsr.lowrank import low_rank_esd
from htsr.sources import Layout, TensorRef
from htsr.sources.delta import UnpairedRef
from htsr.sources.peft import LowRankRef
from htsr.spectrum import Spectrum, esd


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """Validated options of :func:`analyze` (see its docstring for their meaning)."""

    layers: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    kinds: frozenset[LayerKind] | None = None
    min_evals: int = 10
    pool: bool = True
    solver_dtype: str = "float64"
    conv_layout: Layout = Layout.AUTO
    on_error: str = "skip"
    randomize: bool = False
    seed: int = 0
    device: str | None = None
    max_evals: int | None = None
    max_N: int | None = None

    def numeric_options(self) -> dict[str, Any]:
        """The options that change a layer's numbers (the cache key's part)."""
        return {
            "pool": self.pool,
            "solver_dtype": self.solver_dtype,
            "conv_layout": str(self.conv_layout),
            "randomize": self.randomize,
            "seed": self.seed,
            "device": self.device,
        }


def _base_row(ref: TensorRef, layer: Layer | None) -> dict[str, Any]:
    """The metadata columns of a tensor's row (of a part's row, for a part's layer)."""
    shape = ref.shape if layer is None else layer.shape
    row: dict[str, Any] = {
        "name": ref.name if layer is None else layer.name,
        "kind": str(layer.kind) if layer else "vector",
        "shape": "x".join(map(str, shape)) or "scalar",
        "dtype": ref.dtype,
    }
    if ref.quant_type is not None:
        row["quant_type"] = ref.quant_type
    if layer is not None:
        row |= {"N": layer.N, "M": layer.M, "Q": layer.Q, "num_slices": layer.num_slices}
    group = expert_group(ref.name)
    if group is not None:
        row["group"] = group
    return row


def skip_reason(ref: TensorRef, layer: Layer | None, options: AnalysisOptions) -> str | None:
    """Why a tensor is not analysed, or None if it is (decided from metadata only)."""
    return _filter_reason(ref, layer, options) or (
        None if layer is None else _size_reason(layer, options)
    )


def _filter_reason(ref: TensorRef, layer: Layer | None, options: AnalysisOptions) -> str | None:
    """Skipped whatever its size: unreadable, not a matrix, empty, not float, filtered out by
    name or kind."""
    if ref.unreadable is not None:
        return ref.unreadable
    if layer is None:
        return f"{ref.ndim}-D tensor (bias, norm or scalar)"
    if isinstance(ref, UnpairedRef):  # fine-tune delta: no counterpart in the base
        return ref.reason
    if layer.M == 0 or layer.num_slices == 0:
        return f"empty tensor (shape {'x'.join(map(str, ref.shape))})"
    if not ref.is_float:
        return f"non-float dtype {ref.dtype}"
    if options.layers is not None and not options.layers.search(ref.name):
        return "filtered out by name (layers=)"
    if options.exclude is not None and options.exclude.search(ref.name):
        return "filtered out by name (exclude=)"
    if options.kinds is not None and layer.kind not in options.kinds:
        return f"filtered out by kind ({layer.kind})"
    if layer.kind is LayerKind.OTHER:
        return f"unsupported shape {ref.shape}"
    return None


def _size_reason(layer: Layer, options: AnalysisOptions) -> str | None:
    """Skipped for its size: ``min_evals`` and WeightWatcher's ``max_evals`` / ``max_N`` caps."""
    n = layer.num_evals(pool=options.pool)
    if n < options.min_evals:
        return f"too few eigenvalues ({n} < min_evals={options.min_evals})"
    if options.max_evals is not None and n > options.max_evals:
        return f"too many eigenvalues ({n} > max_evals={options.max_evals})"
    if options.max_N is not None and options.max_N < layer.N:
        return f"N = {layer.N} > max_N={options.max_N}"
    return None


def layer_of(ref: TensorRef, options: AnalysisOptions) -> Layer | None:
    """The matrix view of a tensor with 2 or more axes, else None."""
    return make_layer(ref, layout=options.conv_layout) if ref.ndim >= 2 else None


@dataclass(frozen=True, slots=True)
class PlannedRow:
    """A row decided from metadata: the matrix (a whole tensor or a part of a fused one),
    its metadata columns, and why it is skipped (None when it is analysed).

    Attributes
    ----------
    name : str
        Row name.
    layer : Layer or None
        The matrix view (None for tensors with fewer than 2 axes).
    part : Part or None
        The block of a fused projection, or None for the whole tensor.
    row : dict
        Metadata columns.
    skip : str or None
        Reason the row is not analysed.
    """

    name: str
    layer: Layer | None
    part: Part | None
    row: dict[str, Any]
    skip: str | None


def plan_tensor(ref: TensorRef, options: AnalysisOptions) -> list[PlannedRow]:
    """The rows of one tensor, from its metadata only: one, or one per part of a fused
    projection (:func:`htsr.layers.split_parts`)."""
    layer = layer_of(ref, options)
    reason = _filter_reason(ref, layer, options)
    if layer is None or reason is not None:
        return [PlannedRow(ref.name, layer, None, _base_row(ref, layer), reason)]
    parts, note = split_parts(ref.name, ref.shape, ref.module_type)
    planned = []
    for part in parts or (None,):
        view = layer if part is None else part_layer(layer, part)
        row = _base_row(ref, view)
        if note is not None:
            row["note"] = note
        planned.append(PlannedRow(view.name, view, part, row, _size_reason(view, options)))
    return planned


def _spectra(
    array: np.ndarray, layer: Layer, options: AnalysisOptions, element_mu: float = math.nan
) -> list[tuple[Spectrum, float]]:
    """Each ESD (pooled, or per slice) with the localization of its top eigenvectors, computed
    only for heavy-tailed entries (:mod:`htsr.localization`; NaN otherwise)."""
    slices = layer.slices(array)
    matrices = [slices] if options.pool or slices.shape[0] == 1 else list(slices)
    kw = {"solver_dtype": options.solver_dtype, "stored_dtype": layer.dtype, "name": layer.name}
    if entries_heavy(element_mu):
        return [
            spectrum_and_localization(m, element_mu=element_mu, device=options.device, **kw)
            for m in matrices
        ]
    return [(esd(m, device=options.device, **kw), math.nan) for m in matrices]


def _compute(array: np.ndarray, planned: PlannedRow, options: AnalysisOptions) -> list[CachedPart]:
    """The spectra of one planned row: one, or one per slice when not pooled."""
    assert planned.layer is not None
    matrix = array if planned.part is None else planned.part.take(array)
    element_mu = element_tail_index(matrix)  # the whole matrix (or part), for every slice
    spectra = _spectra(matrix, planned.layer, options, element_mu)
    rand: list[np.ndarray | None] = [None] * len(spectra)
    if options.randomize:
        rand = list(_randomized_spectra(matrix, planned.layer, options))
    if len(spectra) == 1:
        return [CachedPart(planned.name, spectra[0][0], rand[0], element_mu, spectra[0][1])]
    return [
        CachedPart(f"{planned.name}[{i}]", s, r, element_mu, loc)
        for i, ((s, loc), r) in enumerate(zip(spectra, rand, strict=True))
    ]


def _randomized_spectra(
    array: np.ndarray, layer: Layer, options: AnalysisOptions
) -> list[np.ndarray]:
    """ESDs of the matrix with its elements shuffled, by a generator seeded from the run's
    seed and the tensor's name (the same numbers whatever the executor or layer order)."""
    from htsr.rmt.randomize import shuffle_elements  # fitting code: only when asked for

    rng = np.random.default_rng([options.seed, zlib.crc32(layer.name.encode())])
    shuffled = shuffle_elements(np.asarray(array), rng=rng)
    return [s.evals for s, _ in _spectra(shuffled, layer, options)]


def error_row(ref: TensorRef, options: AnalysisOptions, error: Exception) -> dict[str, Any]:
    """The row of a tensor whose analysis (or metadata) failed unexpectedly."""
    try:
        row = _base_row(ref, layer_of(ref, options))
    except Exception:  # the metadata itself is what failed: keep what is safe to show
        row = {"name": ref.name, "kind": "other", "shape": str(ref.shape), "dtype": ref.dtype}
    return row | {"status": f"error: {type(error).__name__}: {error}"}


#: What :func:`compute_tensor` gives for each analysed row: its spectra, or the reason its
#: layer failed (the ``error:`` status).
Computed = dict[str, list[CachedPart] | str]


@dataclass(frozen=True, slots=True)
class TensorOutcome:
    """What one tensor's computation sends back to the calling process (small: spectra,
    never the weights).

    Attributes
    ----------
    computed : dict
        Row name -> its spectra (:class:`~htsr.cache.CachedPart`), or the reason the layer
        failed.
    error_row : dict or None
        The whole tensor's row when its analysis failed unexpectedly (then ``computed`` is
        empty).
    skipped : str or None
        Why the whole tensor turned out to have nothing to analyse once loaded
        (:class:`~htsr.errors.LayerSkippedError`: a zero fine-tune update), else None.
    """

    computed: Computed
    error_row: dict[str, Any] | None = None
    skipped: str | None = None


def compute_tensor(ref: TensorRef, options: AnalysisOptions) -> Computed:
    """Load one tensor and compute the spectra of each of its analysed rows.

    Errors of the layer itself (NaN/Inf, all zero) become the row's reason (re-raised with
    ``on_error="raise"``); errors that are not the layer's fault (unreadable file) propagate,
    and so does :class:`~htsr.errors.LayerSkippedError` (nothing to analyse: every row of the
    tensor is skipped).
    """
    todo = [p for p in plan_tensor(ref, options) if p.skip is None]
    computed: Computed = {}
    if todo and isinstance(ref, LowRankRef) and not options.randomize:
        # a LoRA update: exact ESD from the factors, never the dense product
        try:
            spectrum = low_rank_esd(*ref.factors(), stored_dtype=ref.dtype, name=ref.name)
            # the entries' tail is not formed for a low-rank update
            computed[todo[0].name] = [CachedPart(todo[0].name, spectrum, None, math.nan)]
        except LayerSkippedError:
            raise
        except LayerError as e:
            if options.on_error == "raise":
                raise
            computed[todo[0].name] = e.reason
    elif todo:
        array = ref.load()
        for p in todo:
            try:
                computed[p.name] = _compute(array, p, options)
            except LayerError as e:
                if options.on_error == "raise":
                    raise
                computed[p.name] = e.reason
        del array
    return computed


def compute_tensor_safely(ref: TensorRef, options: AnalysisOptions) -> TensorOutcome:
    """:func:`compute_tensor`, with any unexpected failure of the layer recorded in its row
    and a tensor with nothing to analyse recorded as skipped (another
    :class:`~htsr.errors.HtsrError`, e.g. a source's failure, propagates)."""
    try:
        return TensorOutcome(compute_tensor(ref, options))
    except LayerSkippedError as e:  # not a failure: never raised, whatever ``on_error``
        return TensorOutcome({}, skipped=e.reason)
    except HtsrError:
        raise
    except Exception as e:  # a layer's unexpected failure: record it, go on
        if options.on_error == "raise":
            raise
        return TensorOutcome({}, error_row(ref, options, e))


def compute_tensor_pinned(ref: TensorRef, options: AnalysisOptions) -> TensorOutcome:
    """:func:`compute_tensor_safely` with one BLAS thread, whichever process runs it: the
    task every executor receives.

    The Gram product's rounding depends on the BLAS thread count; one thread everywhere makes
    serial, process-pool and Dask runs bit-identical. (Measured with the OpenBLAS 0.3.31 that
    NumPy ships: a limit set from a worker thread did not take effect, one set from the main
    thread did, for every thread; so :func:`htsr.analysis.run_analysis` also pins the calling
    thread, and process-pool workers pin their task thread when they start.) With a torch
    device, torch's own threads are pinned too (:func:`~htsr._execution.pinned_torch`).
    """
    with pinned_blas(), pinned_torch() if options.device is not None else nullcontext():
        return compute_tensor_safely(ref, options)


__all__ = [
    "AnalysisOptions",
    "Computed",
    "PlannedRow",
    "TensorOutcome",
    "compute_tensor",
    "compute_tensor_pinned",
    "compute_tensor_safely",
    "error_row",
    "layer_of",
    "plan_tensor",
    "skip_reason",
]
