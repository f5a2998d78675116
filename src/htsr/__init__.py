"""htsr: Heavy-Tailed Self-Regularization analysis of neural-network weights.

How well trained is a network, from its weights alone (Martin & Mahoney, JMLR 22(165) 2021).

The API, by stage
-----------------
Whole models
    analyze(model, ...) -> Report     one row of spectral metrics per layer
    describe(model)     -> DataFrame  the same rows, shapes only
    load_report(path)   -> Report     reload a saved report
    analyze(model, base=base) -> Report  fine-tune updates W - W_base; LoRA adapters as s B A
Several models (htsr.compare, htsr.distances)
    compare(models, accuracies=...) -> Comparison  model metrics, ranking, correlations
    distances(a, b)     -> DataFrame  per-layer distances of a fine-tune from its base
Sources (htsr.sources)
    open_model(model)   -> ModelSource lazy tensors of any supported format
Layers (htsr.layers)
    make_layer(ref)     -> Layer      a tensor as N x M matrices (conv slices)
Spectrum (htsr.spectrum)
    esd(matrix)         -> Spectrum   eigenvalues of X = W^T W / N
Metrics (htsr.metrics)
    norm_metrics(spectrum) -> NormMetrics
Fits (htsr.fit)
    fit_power_law(evals) -> PowerLawFit, compare_tail(evals, fit) -> TailComparison,
    fit_mp(evals, N, M) -> MPFit
Phases (htsr.phases)
    classify_layer(spectrum, mp=, power_law=) -> PhaseResult, universality_class(alpha, mu)
Random matrices (htsr.rmt)
    MP law and Tracy-Widom edge, Gaussian/spiked/Pareto/low-rank ensembles, randomized ESD,
    calibration of alpha(mu)
Figures (htsr.plots; extra ``plot``) and the HTML report (htsr.report.html; core only)
    Report.plot_layer(name), Report.plot_model(), Report.to_html(path)
Training (htsr.monitor, htsr.experiments; extras ``monitor``, ``experiments``)
    SpectralMonitor(path).observe(model, epoch=...), the paper's models, data and sweeps
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from htsr._version import __version__

if TYPE_CHECKING:
    from htsr.analysis import analyze, describe
    from htsr.compare import Comparison, compare
    from htsr.distances import distances
    from htsr.errors import (
        DegenerateLayerWarning,
        FitWarning,
        HtsrError,
        LayerError,
        LayerErrorsWarning,
        LayerSkippedError,
        SourceError,
    )
    from htsr.report import LayerResult, Report, load_report
    from htsr.spectrum import Spectrum, esd

#: Where each name of the API lives. They are imported on first use (PEP 562), so that
#: ``import htsr.<module>`` loads only that module's dependencies: a process-pool worker
#: imports the per-tensor code (:mod:`htsr.compute`), not pandas, the fits or the report.
_API = {
    "analyze": "htsr.analysis",
    "describe": "htsr.analysis",
    "Comparison": "htsr.compare",
    "compare": "htsr.compare",
    "distances": "htsr.distances",
    "DegenerateLayerWarning": "htsr.errors",
    "FitWarning": "htsr.errors",
    "HtsrError": "htsr.errors",
    "LayerError": "htsr.errors",
    "LayerErrorsWarning": "htsr.errors",
    "LayerSkippedError": "htsr.errors",
    "SourceError": "htsr.errors",
    "LayerResult": "htsr.report",
    "Report": "htsr.report",
    "load_report": "htsr.report",
    "Spectrum": "htsr.spectrum",
    "esd": "htsr.spectrum",
}


def __getattr__(name: str) -> Any:
    """``htsr.<name>``: an API name (imported from its module on first use), or a submodule
    (``htsr.report``, ``htsr.sources``, ...) as after ``import htsr.<name>``."""
    module = _API.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f"htsr.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"htsr.{name}":
                raise
            raise AttributeError(f"module 'htsr' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'htsr' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


__all__ = [
    "Comparison",
    "DegenerateLayerWarning",
    "FitWarning",
    "HtsrError",
    "LayerError",
    "LayerErrorsWarning",
    "LayerResult",
    "LayerSkippedError",
    "Report",
    "SourceError",
    "Spectrum",
    "__version__",
    "analyze",
    "compare",
    "describe",
    "distances",
    "esd",
    "load_report",
]
