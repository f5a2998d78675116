"""Orchestration: which layers, in what order, with what progress display and error policy.

This is the only module that walks a model. Every stage it calls (sources, layers, spectrum,
metrics, fits) is a plain function that can be used on its own.
"""

from __future__ import annotations

import math
import os
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from htsr._execution import executor_iv, pinned_blas, run_tasks
from htsr._validation import is_int
from htsr.cache import CachedPart, LayerCache, cache_key, content_identity, file_identity
from htsr.errors import HtsrError, LayerError, LayerErrorsWarning, LayerSkippedError
from htsr.layers import (
    Layer,
    LayerKind,
    Part,
    expert_group,
    make_layer,
    parse_kinds,
    part_layer,
    split_parts,
)
from htsr.lowrank import low_rank_esd
from htsr.metrics import element_tail_index, fit_layer
from htsr.phases import classify_layer
from htsr.report.report import Report
from htsr.report.results import LayerResult
from htsr.report.table import layers_frame
from htsr.rmt.randomize import compare_randomized, shuffle_elements
from htsr.sources import Layout, ModelSource, TensorRef, open_model
from htsr.sources.delta import UnpairedRef, with_base
from htsr.sources.peft import LowRankRef
from htsr.spectrum import SOLVER_DTYPES, Spectrum, esd, resolve_device

#: ``progress(done, total, name)`` is called before each tensor and once at the end.
ProgressCallback = Callable[[int, int, str], None]

_ON_ERROR = ("skip", "raise")


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


def _analyze_iv(
    layers: str | None,
    exclude: str | None,
    kinds: Iterable[str] | None,
    min_evals: int,
    solver_dtype: str,
    conv_layout: str,
    on_error: str,
    pool: bool,
    *,
    device: str | None = None,
    max_evals: int | None = None,
    max_N: int | None = None,
) -> AnalysisOptions:
    """Validate and standardise the options of :func:`analyze`."""
    if not is_int(min_evals) or min_evals < 1:
        raise ValueError(f"`min_evals` must be an int >= 1; got {min_evals!r}")
    for arg, cap in (("max_evals", max_evals), ("max_N", max_N)):
        if cap is not None and (not is_int(cap) or cap < 1):
            raise ValueError(f"`{arg}` must be None or an int >= 1; got {cap!r}")
    if solver_dtype not in SOLVER_DTYPES:
        raise ValueError(f"`solver_dtype` must be one of {SOLVER_DTYPES}; got {solver_dtype!r}")
    if on_error not in _ON_ERROR:
        raise ValueError(f"`on_error` must be one of {_ON_ERROR}; got {on_error!r}")
    patterns = []
    for arg, value in (("layers", layers), ("exclude", exclude)):
        try:
            patterns.append(None if value is None else re.compile(value))
        except re.error as e:
            raise ValueError(
                f"`{arg}` must be a valid regular expression; got {value!r} ({e})"
            ) from e
    if isinstance(kinds, str):
        kinds = [kinds]
    return AnalysisOptions(
        layers=patterns[0],
        exclude=patterns[1],
        kinds=parse_kinds(kinds),
        min_evals=int(min_evals),
        pool=bool(pool),
        solver_dtype=solver_dtype,
        conv_layout=Layout(conv_layout),
        on_error=on_error,
        device=resolve_device(device),
        max_evals=None if max_evals is None else int(max_evals),
        max_N=None if max_N is None else int(max_N),
    )


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


def _spectra(array: np.ndarray, layer: Layer, options: AnalysisOptions) -> list[Spectrum]:
    slices = layer.slices(array)
    matrices = [slices] if options.pool or slices.shape[0] == 1 else list(slices)
    return [
        esd(
            m,
            solver_dtype=options.solver_dtype,
            stored_dtype=layer.dtype,
            name=layer.name,
            device=options.device,
        )
        for m in matrices
    ]


def _compute(array: np.ndarray, planned: PlannedRow, options: AnalysisOptions) -> list[CachedPart]:
    """The spectra of one planned row: one, or one per slice when not pooled."""
    assert planned.layer is not None
    matrix = array if planned.part is None else planned.part.take(array)
    spectra = _spectra(matrix, planned.layer, options)
    rand: list[np.ndarray | None] = [None] * len(spectra)
    if options.randomize:
        rand = list(_randomized_spectra(matrix, planned.layer, options))
    element_mu = element_tail_index(matrix)  # the whole matrix (or part), for every slice
    if len(spectra) == 1:
        return [CachedPart(planned.name, spectra[0], rand[0], element_mu)]
    return [
        CachedPart(f"{planned.name}[{i}]", s, r, element_mu)
        for i, (s, r) in enumerate(zip(spectra, rand, strict=True))
    ]


def _finish(planned: PlannedRow, parts: list[CachedPart]) -> list[LayerResult]:
    """Fits, phase and the full row of each computed spectrum of a planned row."""
    results = []
    for part in parts:
        spectrum, rand = part.spectrum, part.rand_evals
        row = dict(planned.row)
        if len(parts) > 1:
            row["name"], row["num_slices"] = part.name, 1
        fits = fit_layer(spectrum)
        phase = classify_layer(
            spectrum, mp=fits.mp, power_law=fits.power_law, element_mu=part.element_mu
        )
        row |= fits.as_row() | _randomized_row(spectrum, rand) | phase.as_row()
        row["status"] = "ok"
        results.append(LayerResult(part.name, row, spectrum, fits, rand, phase))
    return results


def _unanalysed(planned: PlannedRow, status: str) -> LayerResult:
    return LayerResult(planned.name, planned.row | {"status": status})


def _assemble(
    planned: list[PlannedRow], computed: dict[str, list[CachedPart] | str]
) -> list[LayerResult]:
    """Every planned row's results, in order: skipped, error (a ``str``), or computed."""
    results = []
    for p in planned:
        outcome = computed.get(p.name)
        if p.skip is not None:
            results.append(_unanalysed(p, f"skipped: {p.skip}"))
        elif isinstance(outcome, str):
            results.append(_unanalysed(p, f"error: {outcome}"))
        elif outcome is not None:
            results.extend(_finish(p, outcome))
    return results


def _skipped(planned: list[PlannedRow], why: LayerSkippedError) -> list[LayerResult]:
    return [_unanalysed(p, f"skipped: {p.skip or why.reason}") for p in planned]


def analyze_tensor(ref: TensorRef, options: AnalysisOptions) -> list[LayerResult]:
    """Analyse one tensor: one result (or one per part of a fused projection, or per slice
    when not pooled).

    Errors of the layer itself (NaN/Inf, all zero) become an ``error:`` row; errors that are
    not the layer's fault (unreadable file) propagate.
    """
    planned = plan_tensor(ref, options)
    todo = [p for p in planned if p.skip is None]
    computed: dict[str, list[CachedPart] | str] = {}
    if todo and isinstance(ref, LowRankRef) and not options.randomize:
        # a LoRA update: exact ESD from the factors, never the dense product
        try:
            spectrum = low_rank_esd(*ref.factors(), stored_dtype=ref.dtype, name=ref.name)
            # the entries' tail is not formed for a low-rank update
            computed[todo[0].name] = [CachedPart(todo[0].name, spectrum, None, math.nan)]
        except LayerSkippedError as e:
            return _skipped(planned, e)
        except LayerError as e:
            if options.on_error == "raise":
                raise
            computed[todo[0].name] = e.reason
    elif todo:
        try:
            array = ref.load()
        except LayerSkippedError as e:
            return _skipped(planned, e)
        for p in todo:
            try:
                computed[p.name] = _compute(array, p, options)
            except LayerError as e:
                if options.on_error == "raise":
                    raise
                computed[p.name] = e.reason
        del array  # release the tensor before fitting
    return _assemble(planned, computed)


def _randomized_spectra(
    array: np.ndarray, layer: Layer, options: AnalysisOptions
) -> list[np.ndarray]:
    """ESDs of the matrix with its elements shuffled, by a generator seeded from the run's
    seed and the tensor's name (the same numbers whatever the executor or layer order)."""
    rng = np.random.default_rng([options.seed, zlib.crc32(layer.name.encode())])
    shuffled = shuffle_elements(np.asarray(array), rng=rng)
    return [s.evals for s in _spectra(shuffled, layer, options)]


def _randomized_row(spectrum: Spectrum, rand_evals: np.ndarray | None) -> dict[str, Any]:
    if rand_evals is None:
        return {}
    r = compare_randomized(spectrum.evals, rand_evals, N=spectrum.N, M=spectrum.M)
    return {
        "rand_lambda_max": r.rand_lambda_max,
        "rand_log_w1": r.rand_distance,
        "num_traps": r.num_traps,
    }


def analyze_tensor_safely(ref: TensorRef, options: AnalysisOptions) -> list[LayerResult]:
    """:func:`analyze_tensor`, with any unexpected failure of the layer recorded in its row.

    Errors of the source itself (:class:`~htsr.errors.SourceError`) propagate.
    """
    try:
        return analyze_tensor(ref, options)
    except HtsrError:
        raise
    except Exception as e:  # a layer's unexpected failure: record it, go on
        if options.on_error == "raise":
            raise
        return [LayerResult(ref.name, _error_row(ref, options, e))]


def _error_row(ref: TensorRef, options: AnalysisOptions, error: Exception) -> dict[str, Any]:
    """The row of a tensor whose analysis (or metadata) failed unexpectedly."""
    try:
        row = _base_row(ref, layer_of(ref, options))
    except Exception:  # the metadata itself is what failed: keep what is safe to show
        row = {"name": ref.name, "kind": "other", "shape": str(ref.shape), "dtype": ref.dtype}
    return row | {"status": f"error: {type(error).__name__}: {error}"}


def _analyze_pinned(ref: TensorRef, options: AnalysisOptions) -> list[LayerResult]:
    """:func:`analyze_tensor_safely` with one BLAS thread, whichever process runs it: the
    Gram product's rounding depends on the BLAS thread count, and one thread everywhere
    makes serial, process-pool and Dask runs bit-identical. (Measured with the OpenBLAS 0.3.31
    that NumPy ships: a limit set from a worker thread did not take effect, one set from the
    main thread did, for every thread; so :func:`run_analysis` also pins the calling thread,
    and process-pool workers pin their task thread when they start.)"""
    with pinned_blas():
        return analyze_tensor_safely(ref, options)


def _cache_entry(results: list[LayerResult]) -> list[CachedPart] | None:
    """What a tensor's results leave in the cache: its spectra when every analysed row is
    ``ok`` (errors are not cached: they are cheap to meet again and may be transient)."""
    if any(r.row["status"].startswith("error") for r in results):
        return None
    return [
        CachedPart(
            r.name, r.spectrum, r.rand_evals, math.nan if r.phase is None else r.phase.element_mu
        )
        for r in results
        if r.spectrum is not None
    ]


def _cached_results(
    ref: TensorRef, planned: list[PlannedRow], options: AnalysisOptions, cache: LayerCache
) -> tuple[str, list[LayerResult] | None]:
    """The tensor's cache key and its results rebuilt from the cache (None on a miss)."""
    # a plain ref read from a file: the file's identity; anything else (in-memory tensors,
    # fine-tune deltas, LoRA updates): the hash of what it loads
    identity: list[Any] | str | None = file_identity(ref.origin) if type(ref) is TensorRef else None
    if identity is None:
        identity = content_identity(ref.load())
    key = cache_key(identity, ref.name, options.numeric_options())
    parts = cache.get(key)
    if parts is None:
        return key, None
    computed: dict[str, list[CachedPart] | str] = {}
    for p in planned:
        if p.skip is None:
            computed[p.name] = [
                c for c in parts if c.name == p.name or c.name.startswith(f"{p.name}[")
            ]
    if any(not v for v in computed.values()):
        return key, None  # the entry does not cover these rows
    return key, _assemble(planned, computed)


def run_analysis(
    source: ModelSource,
    options: AnalysisOptions,
    *,
    progress: ProgressCallback | None = None,
    executor: str | int | Executor | None = None,
    cache: LayerCache | None = None,
) -> list[LayerResult]:
    """Analyse every tensor of a source, results in model order whatever the executor.

    Rows decided from metadata alone (skipped tensors) and tensors found in ``cache`` are
    done here; the others run on the executor, which receives lazy refs (a file path and an
    offset for file formats), never arrays or the model. Each finished tensor is written to
    the cache as it arrives.
    """
    refs = source.refs
    total = len(refs)
    slots: list[list[LayerResult] | None] = [None] * total
    keys: dict[int, str] = {}
    done = 0

    def finished(i: int, results: list[LayerResult]) -> None:
        nonlocal done
        slots[i] = results
        entry = _cache_entry(results) if cache is not None and i in keys else None
        if cache is not None and entry:
            cache.put(keys[i], entry)
        if progress is not None:
            progress(done, total, refs[i].name)
        done += 1

    with pinned_blas():  # in this thread too: threads of an in-process executor follow it
        _run_pending(refs, options, finished, keys, executor, cache)
    if progress is not None:
        progress(total, total, "")
    results = [r for slot in slots if slot is not None for r in slot]
    _warn_errors(results, source.description)
    return results


def _run_pending(
    refs: list[TensorRef],
    options: AnalysisOptions,
    finished: Callable[[int, list[LayerResult]], None],
    keys: dict[int, str],
    executor: str | int | Executor | None,
    cache: LayerCache | None,
) -> None:
    """Finish what metadata and the cache answer here; run the rest on the executor."""
    pending = []
    cost: dict[int, int] = {}
    for i, ref in enumerate(refs):
        planned = plan_tensor(ref, options)
        if all(p.skip is not None for p in planned):
            finished(i, _assemble(planned, {}))
            continue
        if cache is not None:
            keys[i], hit = _cached_results(ref, planned, options, cache)
            if hit is not None:
                finished(i, hit)
                continue
        pending.append(i)
        cost[i] = sum(_eigen_cost(p.layer) for p in planned if p.skip is None)
    if executor is not None:  # largest first: the last task to finish is a small one
        pending.sort(key=lambda i: -cost[i])
    run_tasks(_analyze_pinned, [(refs[i], options) for i in pending], pending, finished, executor)


def _eigen_cost(layer: Layer | None) -> int:
    """Multiply-adds of a layer's Gram matrices and eigensolves, ``k (N M^2 + M^3)`` for ``k``
    slices: the order in which a pool takes the tensors (longest processing time first keeps
    the workers busy to the end; rows are put back in model order)."""
    if layer is None:
        return 0
    return int(layer.num_slices) * (int(layer.N) * int(layer.M) ** 2 + int(layer.M) ** 3)


def _warn_errors(results: list[LayerResult], description: str) -> None:
    errors = Counter(r.row["status"] for r in results if r.row["status"].startswith("error"))
    if not errors:
        return
    n_err = sum(errors.values())
    if not any(r.row["status"] == "ok" for r in results):
        raise HtsrError(
            f"{description}: every analysable layer failed: "
            + "; ".join(f"{reason} ({n} layers)" for reason, n in errors.most_common())
        )
    grouped = "; ".join(f"{reason} ({n})" for reason, n in errors.most_common())
    warnings.warn(
        f"{description}: {n_err} layer(s) failed: {grouped}", LayerErrorsWarning, stacklevel=3
    )


def analyze(
    model: Any,
    *,
    base: Any = None,
    layers: str | None = None,
    exclude: str | None = None,
    kinds: Iterable[str] | None = None,
    min_evals: int = 10,
    pool: bool = True,
    solver_dtype: str = "float64",
    conv_layout: str = "auto",
    on_error: str = "skip",
    randomize: bool = False,
    rng: np.random.Generator | int | None = None,
    executor: str | int | Executor | None = None,
    progress: ProgressCallback | None = None,
    device: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    max_evals: int | None = None,
    max_N: int | None = None,
) -> Report:
    """Spectral analysis of every weight matrix of a model, one layer at a time.

    Parameters
    ----------
    model : torch.nn.Module, dict, str or path
        A module; a state dict or dict of NumPy arrays; or a path to a ``.safetensors``,
        ``.pt/.pth/.bin``, ``.npy/.npz`` file, a shard index, or a directory (Hugging Face
        ``save_pretrained`` layout, a PEFT LoRA adapter, or a folder of weight files).
        Never modified. A LoRA adapter is analysed as its updates ``dW = s B A``, each ESD
        being the ``r`` nonzero eigenvalues, computed exactly from the factors
        (:mod:`htsr.sources.peft`, :func:`htsr.lowrank.low_rank_esd`).
    base : model, optional
        Anything ``model`` may be. The rows are then the updates ``dW = W - W_base`` of the
        tensors present in both with the same shape (others: ``skipped: not in base`` /
        ``skipped: shape differs``); for a LoRA adapter, its updates plus the merged weights
        ``W_base + dW`` as rows named ``<name>:merged`` (:mod:`htsr.sources.delta`).
    layers : str, optional
        Regular expression; only tensor names matching it (``re.search``) are analysed.
    exclude : str, optional
        Regular expression; tensor names matching it are not analysed.
    kinds : iterable of str, optional
        Only these :class:`~htsr.layers.LayerKind` values (``dense``, ``conv2d``, ...).
    min_evals : int, default 10
        Layers with fewer eigenvalues are skipped.
    pool : bool, default True
        Pool the ESDs of a convolution's k x k slices into one row (False: one row per slice).
    solver_dtype : {"float64", "float32"}, default "float64"
        Precision of the Gram matrix and eigensolver. float32 is faster but inaccurate below
        ~1e-7 lambda_max, so rank columns are NaN with it.
    conv_layout : {"auto", "channels_first", "channels_last"}, default "auto"
        Axis order of convolution kernels (PyTorch is channels first, Keras channels last).
    on_error : {"skip", "raise"}, default "skip"
        ``skip``: a failing layer gets ``status="error: ..."``; ``raise``: re-raise (debugging).
    randomize : bool, default False
        Also analyse each matrix with its elements shuffled (``rand_lambda_max``,
        ``rand_log_w1``, ``num_traps``: correlation traps).
    rng : numpy.random.Generator, int or None
        Seeds the shuffles. Each layer's generator is derived from one draw of ``rng`` and the
        layer's name, so the same seed gives the same numbers whatever the executor.
    executor : None, "processes", int or concurrent.futures.Executor, default None
        Where layers run: in this process; in a local pool of processes (one per CPU, or the
        number given); or any executor, e.g. a Dask cluster's ``client.get_executor()``.
        Workers receive (file, tensor name) refs, never arrays, for file formats. BLAS is
        pinned to one thread in every case, the serial run included, so the numbers are
        bit-identical and in model order whatever runs them.
    progress : callable, optional
        ``progress(done, total, name)``, called as each tensor's result arrives.
    device : {None, "auto", "cpu", "cuda", "cuda:N"}, default None
        Eigensolver: None is NumPy/LAPACK; a torch device runs ``torch.linalg.eigvalsh`` of
        the float64 Gram there (batched over convolution slices); ``"auto"`` is CUDA when
        torch sees a GPU, else NumPy. Same eigenvalues as NumPy to ~1e-12 relative. A CUDA
        device that torch cannot see is a ``ValueError``.
    cache : path, optional
        A directory of finished layers (created if missing; see :mod:`htsr.cache`). Each
        analysed tensor is saved as it completes; a rerun with the same file, tensor and
        options reads it back and gives identical rows, so an interrupted run loses at most
        the tensors in flight.
    max_evals, max_N : int, optional
        WeightWatcher's caps: skip layers with more than ``max_evals`` eigenvalues, or whose
        larger side ``N`` exceeds ``max_N`` (reason in ``status``). None: no cap.

    Returns
    -------
    Report
        ``report.layers`` (one row per tensor, model order), ``report.summary``,
        ``report.esd(name)``.

    Raises
    ------
    SourceError
        If the model file is missing, truncated, corrupt or of an unsupported type.
    HtsrError
        If every analysable layer failed.

    Warns
    -----
    LayerErrorsWarning
        Once, grouping identical failure reasons with their counts.

    Examples
    --------
    >>> import numpy as np, htsr
    >>> rng = np.random.default_rng(0)
    >>> report = htsr.analyze({"fc": rng.standard_normal((200, 100))})
    >>> report.layers.loc[0, ["name", "N", "M", "status"]].tolist()
    ['fc', 200, 100, 'ok']
    """
    options = _analyze_iv(
        layers,
        exclude,
        kinds,
        min_evals,
        solver_dtype,
        conv_layout,
        on_error,
        pool,
        device=device,
        max_evals=max_evals,
        max_N=max_N,
    )
    executor_iv(executor)
    layer_cache = None if cache is None else LayerCache.open(cache)
    source = open_model(model)
    if base is not None:
        source = with_base(source, open_model(base))
    seed = int(np.random.default_rng(rng).integers(2**63)) if randomize else 0
    options = replace(options, randomize=bool(randomize), seed=seed)
    results = run_analysis(source, options, progress=progress, executor=executor, cache=layer_cache)
    return Report.from_results(
        results, source=source.description, provenance=provenance(options, source.description)
    )


def provenance(options: AnalysisOptions, source: str) -> dict[str, Any]:
    """How a report was produced: htsr version, the analysis options, the seed, the source."""
    from htsr._version import __version__

    opts = asdict(options)
    for key in ("layers", "exclude"):
        opts[key] = None if opts[key] is None else opts[key].pattern
    opts["kinds"] = None if opts["kinds"] is None else sorted(str(k) for k in opts["kinds"])
    opts["conv_layout"] = str(opts["conv_layout"])
    seed = opts.pop("seed")
    return {"htsr_version": __version__, "options": opts, "seed": seed, "source": source}


def describe(
    model: Any,
    *,
    min_evals: int = 10,
    pool: bool = True,
    conv_layout: str = "auto",
    max_evals: int | None = None,
    max_N: int | None = None,
) -> Any:
    """The rows :func:`analyze` would produce, with shapes only; no tensor data is read
    where the format allows (safetensors and NumPy headers, module metadata).

    Returns
    -------
    pandas.DataFrame
        ``name, kind, shape, dtype, N, M, Q, num_slices, num_evals, status``.
    """
    options = _analyze_iv(
        None,
        None,
        None,
        min_evals,
        "float64",
        conv_layout,
        "skip",
        pool,
        max_evals=max_evals,
        max_N=max_N,
    )
    rows = []
    for ref in open_model(model).refs:
        try:
            rows.extend(_describe_rows(ref, options))
        except HtsrError:
            raise
        except Exception as e:  # one tensor's metadata never stops the others
            rows.append(_error_row(ref, options, e))
    return layers_frame(rows)


def _describe_rows(ref: TensorRef, options: AnalysisOptions) -> list[dict[str, Any]]:
    rows = []
    for p in plan_tensor(ref, options):
        row = dict(p.row)
        if p.layer is not None:
            row["num_evals"] = p.layer.num_evals(pool=options.pool)
        row["status"] = "ok" if p.skip is None else f"skipped: {p.skip}"
        rows.append(row)
    return rows


__all__ = ["AnalysisOptions", "LayerResult", "analyze", "analyze_tensor", "describe", "provenance"]
