"""Orchestration: which layers, in what order, with what progress display and error policy.

This is the only module that walks a model. Every stage it calls (sources, layers, spectrum,
metrics, fits) is a plain function that can be used on its own.
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from htsr.errors import HtsrError, LayerError, LayerErrorsWarning
from htsr.layers import Layer, LayerKind, make_layer, parse_kinds
from htsr.metrics import norm_metrics
from htsr.sources import Layout, ModelSource, TensorRef, open_model
from htsr.spectrum import SOLVER_DTYPES, Spectrum, esd

if TYPE_CHECKING:
    from htsr.report import Report

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


@dataclass(frozen=True, slots=True)
class LayerResult:
    """Everything computed for one row of the table.

    Attributes
    ----------
    name : str
        Row name (the tensor name, plus ``[i]`` for an unpooled convolution slice).
    row : dict
        The row's columns.
    spectrum : Spectrum or None
        The ESD, when the layer was analysed.
    """

    name: str
    row: dict[str, Any]
    spectrum: Spectrum | None = field(default=None, repr=False)


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
    if layer is not None:
        row |= {"N": layer.N, "M": layer.M, "Q": layer.Q, "num_slices": layer.num_slices}
    return row


def skip_reason(ref: TensorRef, layer: Layer | None, options: AnalysisOptions) -> str | None:
    """Why a tensor is not analysed, or None if it is (decided from metadata only)."""
    if layer is None:
        return f"{ref.ndim}-D tensor (bias, norm or scalar)"
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
        spectra = _spectra(ref.load(), layer, options)  # the tensor is released on return
    except LayerError as e:
        if options.on_error == "raise":
            raise
        return [LayerResult(ref.name, base | {"status": f"error: {e.reason}"})]
    if len(spectra) == 1:
        return [LayerResult(ref.name, base | _analyse_spectrum(spectra[0]), spectra[0])]
    results = []
    for i, spectrum in enumerate(spectra):
        name = f"{ref.name}[{i}]"
        row = base | {"name": name, "num_slices": 1} | _analyse_spectrum(spectrum)
        results.append(LayerResult(name, row, spectrum))
    return results


def _analyse_spectrum(spectrum: Spectrum) -> dict[str, Any]:
    """All metrics of one ESD, as columns."""
    return norm_metrics(spectrum).as_row() | {"status": "ok"}


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
        row = _base_row(ref, layer_of(ref, options))
        return [LayerResult(ref.name, row | {"status": f"error: {type(e).__name__}: {e}"})]


def _single_threaded_blas() -> None:
    """Worker initializer: one BLAS thread per worker (oversubscribed OpenBLAS was up to
    12x slower here, DESIGN.md section 5)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _executor_iv(executor: object, n_jobs: object) -> None:
    """Validate the execution options of :func:`analyze`."""
    if executor is not None and not isinstance(executor, Executor) and executor != "processes":
        raise ValueError(
            "`executor` must be None, 'processes' or a concurrent.futures.Executor; "
            f"got {executor!r}"
        )
    if n_jobs is not None and (not isinstance(n_jobs, int) or n_jobs < 1):
        raise ValueError(f"`n_jobs` must be an int >= 1 or None; got {n_jobs!r}")


@contextmanager
def _executor(executor: str | Executor | None, n_jobs: int | None) -> Iterator[Executor | None]:
    """``None``: run in this process; ``"processes"``: a local process pool of ``n_jobs``
    workers with single-threaded BLAS; an ``Executor`` (e.g. ``dask.distributed.Client(...)
    .get_executor()``): used as given and not shut down."""
    if executor is None or isinstance(executor, Executor):
        yield executor
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch/BLAS
    with ProcessPoolExecutor(n_jobs, mp_context=ctx, initializer=_single_threaded_blas) as pool:
        yield pool


def run_analysis(
    source: ModelSource,
    options: AnalysisOptions,
    *,
    progress: ProgressCallback | None = None,
    executor: str | Executor | None = None,
    n_jobs: int | None = None,
) -> list[LayerResult]:
    """Analyse every tensor of a source, results in model order whatever the executor.

    Workers receive lazy refs (a file path and an offset for file formats), never the model.
    """
    total = len(source.refs)
    results: list[LayerResult] = []
    with _executor(executor, n_jobs) as pool:
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
    layers: str | None = None,
    exclude: str | None = None,
    kinds: Iterable[str] | None = None,
    min_evals: int = 10,
    pool: bool = True,
    solver_dtype: str = "float64",
    conv_layout: str = "auto",
    on_error: str = "skip",
    progress: ProgressCallback | None = None,
    executor: str | Executor | None = None,
    n_jobs: int | None = None,
) -> Report:
    """Spectral analysis of every weight matrix of a model, one layer at a time.

    Parameters
    ----------
    model : torch.nn.Module, dict, str or path
        A module; a state dict or dict of NumPy arrays; or a path to a ``.safetensors``,
        ``.pt/.pth/.bin``, ``.npy/.npz`` file, a shard index, or a directory (Hugging Face
        ``save_pretrained`` layout, or a folder of weight files). Never modified.
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
    progress : callable, optional
        ``progress(done, total, name)``, called as each tensor's result arrives.
    executor : None, "processes" or concurrent.futures.Executor, default None
        Where layers run: in this process; in a local pool of ``n_jobs`` processes (BLAS
        pinned to one thread each); or any executor, e.g. a Dask cluster's
        ``client.get_executor()``. Results are identical and in model order whatever runs them.
    n_jobs : int, optional
        Workers of the ``"processes"`` pool (default: the number of CPUs).

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
    from htsr.report import Report

    options = _analyze_iv(
        layers, exclude, kinds, min_evals, solver_dtype, conv_layout, on_error, pool
    )
    source = open_model(model)
    _executor_iv(executor, n_jobs)
    results = run_analysis(source, options, progress=progress, executor=executor, n_jobs=n_jobs)
    return Report.from_results(results, source=source.description)


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
    from htsr.report import layers_frame

    options = _analyze_iv(None, None, None, min_evals, "float64", conv_layout, "skip", pool)
    rows = []
    for ref in open_model(model).refs:
        layer = layer_of(ref, options)
        row = _base_row(ref, layer)
        if layer is not None:
            row["num_evals"] = layer.num_evals(pool=options.pool)
        reason = skip_reason(ref, layer, options)
        row["status"] = "ok" if reason is None else f"skipped: {reason}"
        rows.append(row)
    return layers_frame(rows)


__all__ = ["AnalysisOptions", "LayerResult", "analyze", "analyze_tensor", "describe"]
