"""Orchestration: which layers, in what order, with what progress display and error policy.

This is the only module that walks a model. Every stage it calls (sources, layers, spectrum,
metrics, fits) is a plain function that can be used on its own.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from htsr._execution import executor_iv, pinned_blas, run_tasks, started_executor
from htsr._validation import is_int
from htsr.cache import CachedPart, LayerCache, cache_key, content_identity, file_identity
from htsr.compute import (
    AnalysisOptions,
    Computed,
    PlannedRow,
    TensorOutcome,
    compute_tensor,
    compute_tensor_pinned,
    compute_tensor_safely,
    error_row,
    plan_tensor,
)
from htsr.errors import HtsrError, LayerErrorsWarning, LayerSkippedError
from htsr.layers import Layer, parse_kinds
from htsr.metrics import fit_layer
from htsr.phases import classify_layer
from htsr.report.report import Report
from htsr.report.results import LayerResult
from htsr.report.table import layers_frame
from htsr.rmt.randomize import compare_randomized
from htsr.sources import Layout, ModelSource, TensorRef, open_model
from htsr.sources.delta import with_base
from htsr.spectrum import SOLVER_DTYPES, Spectrum, resolve_device

#: ``progress(done, total, name)`` is called before each tensor and once at the end.
ProgressCallback = Callable[[int, int, str], None]

_ON_ERROR = ("skip", "raise")


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
            spectrum,
            mp=fits.mp,
            power_law=fits.power_law,
            element_mu=part.element_mu,
            localization=part.localization,
        )
        row |= fits.as_row() | _randomized_row(spectrum, rand) | phase.as_row()
        row["status"] = "ok"
        results.append(LayerResult(part.name, row, spectrum, fits, rand, phase))
    return results


def _unanalysed(planned: PlannedRow, status: str) -> LayerResult:
    return LayerResult(planned.name, planned.row | {"status": status})


def _assemble(planned: list[PlannedRow], computed: Computed) -> list[LayerResult]:
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


def analyze_tensor(ref: TensorRef, options: AnalysisOptions) -> list[LayerResult]:
    """Analyse one tensor: one result (or one per part of a fused projection, or per slice
    when not pooled).

    Errors of the layer itself (NaN/Inf, all zero) become an ``error:`` row; errors that are
    not the layer's fault (unreadable file) propagate.
    """
    planned = plan_tensor(ref, options)
    try:
        return _assemble(planned, compute_tensor(ref, options))
    except LayerSkippedError as e:
        return _skipped(planned, e.reason)


def _skipped(planned: list[PlannedRow], why: str) -> list[LayerResult]:
    """Every row of a tensor found to have nothing to analyse once loaded (a zero update)."""
    return [_unanalysed(p, f"skipped: {p.skip or why}") for p in planned]


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
    return _results(ref, plan_tensor(ref, options), compute_tensor_safely(ref, options), options)


def _results(
    ref: TensorRef, planned: list[PlannedRow], outcome: TensorOutcome, options: AnalysisOptions
) -> list[LayerResult]:
    """A computed tensor's rows: the fits and phase are made here, in the calling process,
    from the spectra a worker sent back (a worker then imports no fitting code, and its
    result is only the spectra). An unexpected failure of the fits is the tensor's ``error:``
    row, as one of its computation is."""
    if outcome.error_row is not None:
        return [LayerResult(ref.name, outcome.error_row)]
    if outcome.skipped is not None:
        return _skipped(planned, outcome.skipped)
    try:
        return _assemble(planned, outcome.computed)
    except HtsrError:
        raise
    except Exception as e:  # a layer's unexpected failure: record it, go on
        if options.on_error == "raise":
            raise
        return [LayerResult(ref.name, error_row(ref, options, e))]


def _cache_entry(results: list[LayerResult]) -> list[CachedPart] | None:
    """What a tensor's results leave in the cache: its spectra when every analysed row is
    ``ok`` (errors are not cached: they are cheap to meet again and may be transient)."""
    if any(r.row["status"].startswith("error") for r in results):
        return None
    return [
        CachedPart(
            r.name,
            r.spectrum,
            r.rand_evals,
            math.nan if r.phase is None else r.phase.element_mu,
            math.nan if r.phase is None else r.phase.localization,
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
    computed: Computed = {}
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
    """Finish what metadata and the cache answer here; compute the rest on the executor and
    make their rows here as they come back."""
    pending = []
    plans: dict[int, list[PlannedRow]] = {}
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
        plans[i] = planned
        cost[i] = sum(_eigen_cost(p.layer) for p in planned if p.skip is None)
    if executor is not None:  # largest first: the last task to finish is a small one
        pending.sort(key=lambda i: -cost[i])

    def computed(i: int, outcome: TensorOutcome) -> None:
        finished(i, _results(refs[i], plans.pop(i), outcome, options))

    run_tasks(
        compute_tensor_pinned, [(refs[i], options) for i in pending], pending, computed, executor
    )


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
        the float64 Gram (batched over convolution slices): on a GPU the Gram is formed
        there, on ``"cpu"`` by BLAS here and only solved by torch's LAPACK (faster than
        NumPy's for layers 4096 wide and more, slower below ~2048; docs/engine.md), on one
        torch thread per worker. ``"auto"`` is CUDA when torch sees a GPU, else NumPy. Same
        eigenvalues as NumPy to ~1e-12 relative. A CUDA device that torch cannot see is a
        ``ValueError``.
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
    seed = int(np.random.default_rng(rng).integers(2**63)) if randomize else 0
    options = replace(options, randomize=bool(randomize), seed=seed)
    # a local pool's workers start now, importing the per-tensor code while the model is listed
    with started_executor(executor) as runner:
        source = open_model(model)
        if base is not None:
            source = with_base(source, open_model(base))
        results = run_analysis(
            source, options, progress=progress, executor=runner, cache=layer_cache
        )
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
            rows.append(error_row(ref, options, e))
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
