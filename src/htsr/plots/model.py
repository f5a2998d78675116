"""Figures of a whole model: alpha by layer, norm metrics, phase counts, an ESD overview.

Each function takes a :class:`~htsr.report.Report` (or, where only the table is needed, its
``layers`` DataFrame) and ``ax=None``, and returns the Figure it drew on. Only analysed rows
(``status == "ok"``) are drawn. The x axis is the layer number: the position of the row among
the table's matrices (1-D tensors left out), the ``#`` column of the HTML report, so the
figures stay readable at any number of layers; :func:`layer_legend` maps numbers to names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr._optional import import_optional
from htsr.phases import Phase
from htsr.plots.layer import _axes, _empty, _figure, _positive
from htsr.report.html import PHASE_COLORS, matrix_rows

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

#: Phases of training in order of increasing self-regularization, then rank collapse
#: (:class:`htsr.phases.Phase`); the order of legends and of the phase-count bars.
PHASES = tuple(p.value for p in Phase)
#: Norm metrics drawn by :func:`plot_norms`, when present (docs/columns.md).
NORM_METRICS = ("log_norm", "log_spectral_norm", "alpha_weighted", "log_alpha_norm", "stable_rank")
#: Range of alpha of well-trained layers (JMLR 2021, Section 5.5: 2 <= alpha <= 6), shaded.
ALPHA_BAND = (2.0, 6.0)
#: Label of the layer axis.
LAYER_AXIS = "layer # (model order)"


def phase_color(phase: Any) -> str:
    """The colour of a phase (grey when unknown or missing)."""
    return PHASE_COLORS.get(str(phase), PHASE_COLORS["unknown"])


def _frame(report: Any) -> pd.DataFrame:
    layers = getattr(report, "layers", report)
    if not isinstance(layers, pd.DataFrame):
        raise TypeError(f"expected a Report or its layers DataFrame; got {type(report).__name__}")
    return layers


def model_frame(report: Any) -> pd.DataFrame:
    """Analysed rows in model order, indexed by their layer number.

    The layer number is the row's position among the table's matrices (1-D tensors left
    out). ``alpha`` and ``D`` are NaN when the table lacks them (nothing is refitted); a missing
    ``phase`` is ``"unknown"``.
    """
    layers = matrix_rows(_frame(report))
    ok = layers[layers["status"].astype(str) == "ok"].copy()
    for col in ("alpha", "D"):
        if col not in ok.columns:
            ok[col] = math.nan
    if "phase" not in ok.columns:
        ok["phase"] = "unknown"
    ok["phase"] = ok["phase"].astype(object).where(ok["phase"].notna(), "unknown").astype(str)
    ok.index.name = "layer"
    return ok


def layer_legend(report: Any) -> pd.DataFrame:
    """Layer number -> name (and phase) of every analysed layer: the key of the layer axis."""
    return model_frame(report)[["name", "phase"]]


def _layer_ticks(ax: Axes, index: pd.Index) -> None:
    from matplotlib.ticker import MaxNLocator

    hi = int(index.max()) if len(index) else 0
    ax.set_xlim(-0.7, hi + 0.7)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set_xlabel(LAYER_AXIS)


def plot_alpha(report: Any, *, ax: Axes | None = None) -> Figure:
    """Alpha of every analysed layer in model order, coloured by phase.

    Each phase is one scatter collection (gid ``"alpha:<phase>"``, x = position among the
    analysed layers, y = alpha); the band ``2 <= alpha <= 6`` is shaded.

    Parameters
    ----------
    report : Report or pandas.DataFrame
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    frame = model_frame(report)
    ax = _axes(ax, "htsr.plots.plot_alpha")
    ax.axhspan(*ALPHA_BAND, color="0.92", zorder=0, label="2 ≤ α ≤ 6")
    phases = [p for p in PHASES if p in set(frame["phase"])]
    phases += sorted(set(frame["phase"]) - set(phases))
    for phase in phases:
        rows = frame[frame["phase"] == phase]
        ax.scatter(
            rows.index,
            rows["alpha"],
            s=18,
            color=phase_color(phase),
            label=phase,
            gid=f"alpha:{phase}",
            zorder=2,
        )
    ax.plot(frame.index, frame["alpha"], color="0.7", lw=0.6, zorder=1)
    if len(frame) and frame["alpha"].notna().any():  # far outliers must not squash the band
        top = float(np.nanmax(frame["alpha"]))
        ax.set_ylim(0, min(max(top * 1.08, ALPHA_BAND[1] + 1), 20))
    _layer_ticks(ax, frame.index)
    mean = np.nanmean(frame["alpha"]) if frame["alpha"].notna().any() else math.nan
    ax.set(
        ylabel="α", title=f"α by layer (mean {mean:.2f})" if math.isfinite(mean) else "α by layer"
    )
    ax.legend(fontsize="x-small", frameon=False, ncols=2)
    return _figure(ax)


def plot_norms(
    report: Any,
    *,
    metrics: tuple[str, ...] | None = None,
    ax: Axes | None = None,
    fig: Figure | SubFigure | None = None,
) -> Figure:
    """The norm metrics by layer in model order.

    With ``ax``, every metric is one line on it; otherwise one small panel per metric (sharing
    the layer axis) in ``fig`` or a new figure. Lines have gid ``"norm:<metric>"``.

    Parameters
    ----------
    report : Report or pandas.DataFrame
    metrics : tuple of str, optional
        Columns to draw (default: those of :data:`NORM_METRICS` in the table).
    ax : matplotlib.axes.Axes, optional
    fig : matplotlib Figure or SubFigure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    frame = model_frame(report)
    metrics = tuple(m for m in (metrics or NORM_METRICS) if m in frame.columns)
    if ax is not None or not metrics:
        ax = _axes(ax, "htsr.plots.plot_norms")
        for m in metrics:
            ax.plot(
                frame.index,
                pd.to_numeric(frame[m], errors="coerce"),
                marker=".",
                lw=1,
                label=m,
                gid=f"norm:{m}",
            )
        if not metrics:
            _empty(ax, "no norm metrics")
        _layer_ticks(ax, frame.index)
        ax.set_title("norm metrics by layer")
        ax.legend(fontsize="x-small", frameon=False)
        return _figure(ax)
    if fig is None:
        import_optional("matplotlib", extra="plot", caller="htsr.plots.plot_norms")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.0, 1.4 * len(metrics) + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(metrics), 1, sharex=True))
    colors = [phase_color(p) for p in frame["phase"]]
    for a, m in zip(axes, metrics, strict=True):
        values = pd.to_numeric(frame[m], errors="coerce")
        a.plot(frame.index, values, color="0.5", lw=0.8, gid=f"norm:{m}")
        a.scatter(frame.index, values, s=8, c=colors, zorder=2)
        a.set_ylabel(m, fontsize="small", rotation=0, ha="right", va="center")
        a.tick_params(labelsize="x-small")
    _layer_ticks(axes[-1], frame.index)
    axes[0].set_title("norm metrics by layer")
    return _figure(axes[0])


def plot_phase_counts(report: Any, *, ax: Axes | None = None) -> Figure:
    """Number of analysed layers in each phase (bars in phase order, gid ``"phase_counts"``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    frame = model_frame(report)
    ax = _axes(ax, "htsr.plots.plot_phase_counts")
    counts = frame["phase"].value_counts()
    phases = [p for p in PHASES if p in counts.index] + sorted(set(counts.index) - set(PHASES))
    if not phases:
        _empty(ax, "no analysed layers")
    else:
        values = [int(counts[p]) for p in phases]
        bars = ax.bar(
            range(len(phases)), values, color=[phase_color(p) for p in phases], gid="phase_counts"
        )
        ax.bar_label(bars, fontsize="small")
        ax.set_xticks(range(len(phases)), [p.replace("_", "\n") for p in phases], fontsize="small")
    ax.set(ylabel="layers", title=f"phases ({len(frame)} layers)")
    return _figure(ax)


def esd_overview(report: Any, *, bins: int = 80) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Histograms of ``log10 lambda`` of every analysed layer, each scaled to a maximum of 1.

    Returns
    -------
    edges : numpy.ndarray
        ``bins + 1`` bin edges in ``log10 lambda``, common to all layers.
    image : numpy.ndarray
        ``(num_layers, bins)``; a row of NaN for a layer without an ESD.
    names : list of str
        The rows' layers, in model order.
    """
    names = list(model_frame(report)["name"])
    esds = []
    for name in names:
        try:
            esds.append(np.log10(_positive(report.esd(name))))
        except (KeyError, AttributeError):
            esds.append(np.empty(0))
    filled = [e for e in esds if e.size]
    if not filled:
        return np.linspace(-1, 1, bins + 1), np.full((len(names), bins), np.nan), names
    lo = min(float(e[0]) for e in filled)
    hi = max(float(e[-1]) for e in filled)
    lo = max(lo, hi - 12)  # at most 12 decades: numerical zeros would hide the rest
    edges = np.linspace(lo, hi + 1e-9, bins + 1)
    image = np.full((len(names), bins), np.nan)
    for i, e in enumerate(esds):
        if e.size:
            counts, _ = np.histogram(e, bins=edges)
            image[i] = counts / max(counts.max(), 1)
    return edges, image, names


def plot_esd_overview(report: Any, *, ax: Axes | None = None, bins: int = 80) -> Figure:
    """All ESDs at once: one row per layer, log10 lambda across, brightness = density.

    The image has gid ``"esd_overview"``; the xmin of each layer, when known, is a white dot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    frame = model_frame(report)
    ax = _axes(ax, "htsr.plots.plot_esd_overview")
    edges, image, names = esd_overview(report, bins=bins)
    if not names:
        _empty(ax, "no analysed layers")
        return _figure(ax)
    rows = np.asarray(frame.index, dtype=int)
    full = np.full((int(rows.max()) + 1, image.shape[1]), np.nan)
    full[rows] = image  # one row per layer number; rows of unanalysed layers stay empty
    mesh = ax.pcolormesh(
        edges, np.arange(full.shape[0] + 1) - 0.5, full, cmap="viridis", gid="esd_overview"
    )
    xmin = pd.to_numeric(frame["xmin"], errors="coerce") if "xmin" in frame.columns else None
    if xmin is not None and xmin.gt(0).any():
        keep = xmin.gt(0)
        ax.plot(np.log10(xmin[keep]), frame.index[keep], ".", color="white", ms=3, label="xmin")
    ax.set_ylim(full.shape[0] - 0.5, -0.5)
    ax.set_ylabel(LAYER_AXIS)
    ax.set(xlabel="log10 λ", title="ESD overview (row-normalised histograms)")
    ax.figure.colorbar(mesh, ax=ax, fraction=0.04, pad=0.01)
    return _figure(ax)


def plot_model(report: Any, *, fig: Figure | SubFigure | None = None) -> Figure:
    """The four model panels in one figure: alpha, phases, norms, ESD overview.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if fig is None:
        import_optional("matplotlib", extra="plot", caller="htsr.plots.plot_model")
        from matplotlib.figure import Figure

        fig = Figure(figsize=(13.0, 9.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.25])  # type: ignore[misc]
    left, right = top.subfigures(1, 2, width_ratios=[2, 1])
    plot_alpha(report, ax=left.subplots())
    plot_phase_counts(report, ax=right.subplots())
    left, right = bottom.subfigures(1, 2, width_ratios=[1, 1.2])
    plot_norms(report, fig=left)
    plot_esd_overview(report, ax=right.subplots())
    source = getattr(report, "source", "")
    fig.suptitle(f"htsr: {source}" if source else "htsr", fontsize="large")
    return _figure(fig)


__all__ = [
    "ALPHA_BAND",
    "NORM_METRICS",
    "PHASES",
    "PHASE_COLORS",
    "esd_overview",
    "model_frame",
    "phase_color",
    "plot_alpha",
    "plot_esd_overview",
    "plot_model",
    "plot_norms",
    "plot_phase_counts",
]
