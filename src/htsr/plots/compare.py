"""Figures and a self-contained HTML page comparing several models (needs ``htsr[plot]``).

The functions take the tables of a :class:`htsr.compare.Comparison` (``models``, ``layers``,
``correlations``) and ``ax=None``, return the Figure they drew on, and never call ``pyplot``.
The HTML page inlines its figures as SVG: one file, no script, no network.
"""

from __future__ import annotations

import html
import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr._optional import import_optional
from htsr.phases import Phase

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _axes(ax: Axes | None, caller: str, size: tuple[float, float] = (5.0, 3.6)) -> Axes:
    if ax is not None:
        return ax
    figure = import_optional("matplotlib.figure", extra="plot", caller=caller)
    fig = figure.Figure(figsize=size, layout="constrained")
    new: Axes = fig.add_subplot()
    return new


def _figure(ax: Axes) -> Figure:
    fig: Any = ax.figure
    while not hasattr(fig, "savefig"):
        fig = fig.figure
    out: Figure = fig
    return out


def plot_metric_vs_accuracy(
    models: pd.DataFrame,
    metric: str,
    *,
    correlations: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Scatter of ``metric`` against ``accuracy``, one labelled point per model, with the
    least-squares line ``accuracy ~ intercept + slope * metric`` and Kendall's tau in the title
    when ``correlations`` (from :func:`htsr.compare.correlations`) has the metric."""
    ax = _axes(ax, "plot_metric_vs_accuracy")
    x = pd.to_numeric(models[metric], errors="coerce").to_numpy(dtype=float)
    y = models["accuracy"].to_numpy(dtype=float)
    ax.scatter(x, y, color="#4c72b0", zorder=3, gid="models")
    for name, xi, yi in zip(models.index, x, y, strict=True):
        if math.isfinite(xi):
            ax.annotate(str(name), (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    title = metric
    if correlations is not None and metric in correlations.index:
        row = correlations.loc[metric]
        finite = x[np.isfinite(x)]
        if math.isfinite(row["slope"]) and finite.size:
            line = np.linspace(finite.min(), finite.max(), 2)
            ax.plot(line, row["intercept"] + row["slope"] * line, color="#dd8452", gid="fit")
        title = f"{metric}: Kendall tau {row['kendall_tau']:.2f}, R² {row['r2']:.2f}"
    ax.set_xlabel(metric)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=9)
    return _figure(ax)


def plot_layer_alpha(layers: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Alpha of every analysed layer, one line per model, layers in model order."""
    ax = _axes(ax, "plot_layer_alpha", size=(7.0, 3.6))
    for name, rows in layers.groupby("model", sort=False):
        ok = rows[rows["status"] == "ok"]
        alpha = pd.to_numeric(ok.get("alpha", pd.Series(dtype=float)), errors="coerce")
        ax.plot(np.arange(len(ok)), alpha.to_numpy(dtype=float), marker="o", ms=3, label=str(name))
    ax.axhspan(2.0, 6.0, color="#55a868", alpha=0.08, lw=0)  # JMLR 2021, Sec. 5.5: 2..6
    ticker = import_optional("matplotlib.ticker", extra="plot", caller="plot_layer_alpha")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("analysed layer (model order)")
    ax.set_ylabel("alpha")
    ax.legend(fontsize=7, ncols=2)
    return _figure(ax)


def plot_phase_counts(models: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Stacked bars: layers of each model in each phase of training (JMLR 2021, Section 5)."""
    from htsr.plots import PHASE_COLORS

    ax = _axes(ax, "plot_phase_counts")
    bottom = np.zeros(len(models))
    for phase in Phase:
        column = f"num_{phase.value}"
        if column not in models.columns:
            continue
        counts = models[column].fillna(0).to_numpy(dtype=float)
        ax.bar(
            [str(n) for n in models.index],
            counts,
            bottom=bottom,
            label=phase.value,
            color=PHASE_COLORS.get(phase.value, "#aaaaaa"),
        )
        bottom += counts
    ax.set_ylabel("layers")
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    ax.legend(fontsize=7)
    return _figure(ax)


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _table(frame: pd.DataFrame) -> str:
    return (
        "<div class='scroll'>"
        + str(frame.to_html(float_format=lambda v: f"{v:.4g}", na_rep="", border=0, escape=True))
        + "</div>"
    )


def comparison_html(
    models: pd.DataFrame,
    layers: pd.DataFrame,
    correlations: pd.DataFrame | None,
    *,
    metric: str = "alpha",
    ranking: pd.DataFrame | None = None,
) -> str:
    """One self-contained HTML page: the ranked model table, the correlations (with
    accuracies), metric-vs-accuracy scatter plots with their fitted lines, per-layer alpha of
    every model on one axis, and phase counts per model. Figures are inline SVG."""
    parts = [
        f"<h2>Models ranked by {html.escape(metric)}</h2>",
        _table(ranking if ranking is not None else models),
    ]
    if correlations is not None:
        parts += ["<h2>Correlation with accuracy</h2>", _table(correlations)]
        shown = [m for m in correlations.index if m in models.columns]
        shown.sort(key=lambda m: m != metric)
        parts.append("<div class='grid'>")
        for m in shown:
            fig = plot_metric_vs_accuracy(models, m, correlations=correlations)
            parts.append(f"<figure id='scatter-{html.escape(m)}'>{_svg(fig)}</figure>")
        parts.append("</div>")
    parts += [
        "<h2>Alpha of every layer</h2>",
        f"<figure id='layer-alpha'>{_svg(plot_layer_alpha(layers))}</figure>",
        "<h2>Phases of training per model</h2>",
        f"<figure id='phase-counts'>{_svg(plot_phase_counts(models))}</figure>",
    ]
    style = (
        "body{font-family:sans-serif;margin:1.5em;max-width:1400px}"
        "table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;text-align:right}"
        "tr:nth-child(even){background:#f4f4f4}.grid{display:flex;flex-wrap:wrap;gap:8px}"
        "figure{margin:0}svg{max-width:100%;height:auto}.scroll{overflow-x:auto}"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>htsr comparison</title>"
        f"<style>{style}</style></head><body><h1>htsr model comparison</h1>"
        + "\n".join(parts)
        + "</body></html>"
    )


__all__ = ["comparison_html", "plot_layer_alpha", "plot_metric_vs_accuracy", "plot_phase_counts"]
