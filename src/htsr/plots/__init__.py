"""Figures of an analysis (needs ``pip install 'htsr[plot]'``).

Every function returns a :class:`matplotlib.figure.Figure`, draws on ``ax`` when given, and
never calls ``pyplot`` or ``show`` (safe on headless machines; no global state changes).

One layer (:mod:`htsr.plots.layer`)
    :func:`plot_layer` (all four panels), :func:`plot_esd`, :func:`plot_esd_loglog`,
    :func:`plot_mp`, :func:`plot_xmin_scan`; :func:`layer_data` -> :class:`LayerPlotData`
Whole model (:mod:`htsr.plots.model`)
    :func:`plot_model` (all four panels), :func:`plot_alpha`, :func:`plot_norms`,
    :func:`plot_phase_counts`, :func:`plot_esd_overview`
Files (:mod:`htsr.plots.naming`, :mod:`htsr.plots.export`)
    :func:`safe_filename`, :func:`unique_filenames`, :func:`save_figures`
"""

from htsr.plots.export import save_figures
from htsr.plots.layer import (
    LayerPlotData,
    layer_data,
    plot_esd,
    plot_esd_loglog,
    plot_layer,
    plot_mp,
    plot_xmin_scan,
    power_law_line,
)
from htsr.plots.model import (
    PHASE_COLORS,
    PHASES,
    layer_legend,
    model_frame,
    plot_alpha,
    plot_esd_overview,
    plot_model,
    plot_norms,
    plot_phase_counts,
)
from htsr.plots.naming import safe_filename, unique_filenames

__all__ = [
    "PHASES",
    "PHASE_COLORS",
    "LayerPlotData",
    "layer_data",
    "layer_legend",
    "model_frame",
    "plot_alpha",
    "plot_esd",
    "plot_esd_loglog",
    "plot_esd_overview",
    "plot_layer",
    "plot_model",
    "plot_mp",
    "plot_norms",
    "plot_phase_counts",
    "plot_xmin_scan",
    "power_law_line",
    "safe_filename",
    "save_figures",
    "unique_filenames",
]
