"""Orchestration: which layers, in what order, with what progress display and error policy.

This is the only module that walks a model. Every stage it calls (sources, layers, spectrum,
metrics, fits) is a plain function that can be used on its own.
"""

from __future__ import annotations

import math
import multiprocessing
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from htsr.errors import HtsrError, LayerError, LayerErrorsWarning
from htsr.layers import Layer, LayerKind, make_layer, parse_kinds
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
from htsr.spectrum import SOLVER_DTYPES, Spectrum, esd

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


def _analyze_iv(
    layers: str | None,
    exclude: str | None,
    kinds: Iterable[str] | None,
    min_evals: int,
    solver_dtype: str,
    conv_layout: str,
    on_error: str,
    pool: bool,
) -> AnalysisOptions:
    """Validate and standardise the options of :func:`analyze`."""
    if not isinstance(min_evals, (int, np.integer)) or isinstance(min_evals, bool) or min_evals < 1:
        raise ValueError(f"`min_evals` must be an int >= 1; got {min_evals!r}")
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
    )


def _base_row(ref: TensorRef, layer: Layer | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": ref.name,
        "kind": str(layer.kind) if layer else "vector",
        "shape": "x".join(map(str, ref.shape)) or "scalar",
        "dtype": ref.dtype,
    }
    if ref.quant_type is not None:
        row["quant_type"] = ref.quant_type
    if layer is not None:
        row |= {"N": layer.N, "M": layer.M, "Q": layer.Q, "num_slices": layer.num_slices}
    return row


def skip_reason(ref: TensorRef, layer: Layer | None, options: AnalysisOptions) -> str | None:
    """Why a tensor is not analysed, or None if it is (decided from metadata only)."""
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
    n = layer.num_evals(pool=options.pool)
    if n < options.min_evals:
        return f"too few eigenvalues ({n} < min_evals={options.min_evals})"
    return None


def layer_of(ref: TensorRef, options: AnalysisOptions) -> Layer | None:
    """The matrix view of a tensor with 2 or more axes, else None."""
    return make_layer(ref, layout=options.conv_layout) if ref.ndim >= 2 else None


def _spectra(array: np.ndarray, layer: Layer, options: AnalysisOptions) -> list[Spectrum]:
    slices = layer.slices(array)
    kwargs = {"solver_dtype": options.solver_dtype, "stored_dtype": layer.dtype, "name": layer.name}
    if options.pool or slices.shape[0] == 1:
        return [esd(slices, **kwargs)]
    return [esd(s, **kwargs) for s in slices]


def analyze_tensor(ref: TensorRef, options: AnalysisOptions) -> list[LayerResult]:
    """Analyse one tensor: one result (or one per slice when not pooled).

    Errors of the layer itself (NaN/Inf, all zero) become an ``error:`` row; errors that are
    not the layer's fault (unreadable file) propagate.
    """
    layer = layer_of(ref, options)
    base = _base_row(ref, layer)
    reason = skip_reason(ref, layer, options)
    if reason is not None or layer is None:
        return [LayerResult(ref.name, base | {"status": f"skipped: {reason}"})]
    try:
        element_mu = math.nan  # the entries' tail; not formed for a low-rank update
        if isinstance(ref, LowRankRef) and not options.randomize:  # exact, from the factors
            spectra, randomized = (
                [low_rank_esd(*ref.factors(), stored_dtype=ref.dtype, name=ref.name)],
                None,
            )
            array = None
        else:
            array = ref.load()
            spectra = _spectra(array, layer, options)
            randomized = _randomized_spectra(array, layer, options) if options.randomize else None
            element_mu = element_tail_index(array)  # whole tensor, for every slice
    except LayerError as e:
        if options.on_error == "raise":
            raise
        return [LayerResult(ref.name, base | {"status": f"error: {e.reason}"})]
    del array  # release the tensor before fitting
    results = []
    for i, spectrum in enumerate(spectra):
        name, row = ref.name, dict(base)
        if len(spectra) > 1:
            name, row["name"], row["num_slices"] = f"{ref.name}[{i}]", f"{ref.name}[{i}]", 1
        rand = randomized[i] if randomized is not None else None
        fits = fit_layer(spectrum)
        phase = classify_layer(
            spectrum, mp=fits.mp, power_law=fits.power_law, element_mu=element_mu
        )
        row |= fits.as_row() | _randomized_row(spectrum, rand) | phase.as_row()
        row["status"] = "ok"
        results.append(LayerResult(name, row, spectrum, fits, rand, phase))
    return results


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


def _single_threaded_blas() -> None:
    """Worker initializer: one BLAS thread per worker (oversubscribed OpenBLAS was up to
    12x slower here, docs/engine.md)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _executor_iv(executor: object) -> None:
    """Validate the ``executor`` option of :func:`analyze`."""
    if executor is None or executor == "processes" or isinstance(executor, Executor):
        return
    if isinstance(executor, int) and not isinstance(executor, bool) and executor >= 1:
        return
    raise ValueError(
        "`executor` must be None, 'processes', a number of processes >= 1 or a "
        f"concurrent.futures.Executor; got {executor!r}"
    )


@contextmanager
def _executor(executor: str | int | Executor | None) -> Iterator[Executor | None]:
    """``None``: run in this process; ``"processes"`` (one per CPU) or an int: a local process
    pool with single-threaded BLAS; an ``Executor`` (e.g. ``dask.distributed.Client(...)
    .get_executor()``): used as given and not shut down."""
    if executor is None or isinstance(executor, Executor):
        yield executor
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch/BLAS
    n_jobs = None if executor == "processes" else int(executor)
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_single_threaded_blas) as pool:
        yield pool


def run_analysis(
    source: ModelSource,
    options: AnalysisOptions,
    *,
    progress: ProgressCallback | None = None,
    executor: str | int | Executor | None = None,
) -> list[LayerResult]:
    """Analyse every tensor of a source, results in model order whatever the executor.

    Workers receive lazy refs (a file path and an offset for file formats), never the model.
    """
    total = len(source.refs)
    results: list[LayerResult] = []
    with _executor(executor) as pool:
        if pool is None:
            per_tensor: Iterable[list[LayerResult]] = (
                analyze_tensor_safely(ref, options) for ref in source.refs
            )
        else:
            per_tensor = pool.map(analyze_tensor_safely, source.refs, [options] * total)
        for i, (ref, tensor_results) in enumerate(zip(source.refs, per_tensor, strict=True)):
            if progress is not None:
                progress(i, total, ref.name)
            results.extend(tensor_results)
    if progress is not None:
        progress(total, total, "")
    _warn_errors(results, source.description)
    return results


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
        number given; BLAS pinned to one thread each); or any executor, e.g. a Dask cluster's
        ``client.get_executor()``. Results are identical and in model order whatever runs them.
    progress : callable, optional
        ``progress(done, total, name)``, called as each tensor's result arrives.

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
        layers, exclude, kinds, min_evals, solver_dtype, conv_layout, on_error, pool
    )
    source = open_model(model)
    if base is not None:
        source = with_base(source, open_model(base))
    _executor_iv(executor)
    seed = int(np.random.default_rng(rng).integers(2**63)) if randomize else 0
    options = replace(options, randomize=bool(randomize), seed=seed)
    results = run_analysis(source, options, progress=progress, executor=executor)
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
    model: Any, *, min_evals: int = 10, pool: bool = True, conv_layout: str = "auto"
) -> Any:
    """The rows :func:`analyze` would produce, with shapes only; no tensor data is read
    where the format allows (safetensors and NumPy headers, module metadata).

    Returns
    -------
    pandas.DataFrame
        ``name, kind, shape, dtype, N, M, Q, num_slices, num_evals, status``.
    """
    options = _analyze_iv(None, None, None, min_evals, "float64", conv_layout, "skip", pool)
    rows = []
    for ref in open_model(model).refs:
        try:
            rows.append(_describe_row(ref, options))
        except HtsrError:
            raise
        except Exception as e:  # one tensor's metadata never stops the others
            rows.append(_error_row(ref, options, e))
    return layers_frame(rows)


def _describe_row(ref: TensorRef, options: AnalysisOptions) -> dict[str, Any]:
    layer = layer_of(ref, options)
    row = _base_row(ref, layer)
    if layer is not None:
        row["num_evals"] = layer.num_evals(pool=options.pool)
    reason = skip_reason(ref, layer, options)
    row["status"] = "ok" if reason is None else f"skipped: {reason}"
    return row


__all__ = ["AnalysisOptions", "LayerResult", "analyze", "analyze_tensor", "describe", "provenance"]

