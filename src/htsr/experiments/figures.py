"""Figures of a sweep: a metric against the setting, and the paper's ESD panel per setting.

Matplotlib ``Figure`` objects only (no pyplot, no backend change): the caller saves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr._optional import import_optional
from htsr.experiments.config import SweepConfig
from htsr.experiments.pooled import pooled_esd
from htsr.experiments.summary import setting_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Metrics that are per run (the same on every layer's row).
PER_RUN = ("train_acc", "test_acc", "gap", "train_loss", "test_loss")


def _figure(caller: str, **kwargs: Any) -> Figure:
    figure = import_optional("matplotlib.figure", extra="plot", caller=caller)
    fig: Figure = figure.Figure(**kwargs)
    return fig


def plot_metric_vs_setting(
    results: pd.DataFrame,
    setting: str,
    metric: str,
    *,
    layers: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Mean ± std over seeds of ``metric`` against the setting, one line per layer (or one
    line when the metric is per run, like the accuracies). Returns the Axes."""
    if ax is None:
        ax = _figure("plot_metric_vs_setting", figsize=(5, 3.5)).add_subplot()
    per_run = metric in PER_RUN
    names = [results["name"].iloc[0]] if per_run else list(layers or dict.fromkeys(results["name"]))
    for layer in names:
        table = setting_table(results, setting, layer)
        if f"{metric}_mean" not in table:
            continue
        ax.errorbar(
            table[setting],
            table[f"{metric}_mean"],
            yerr=table[f"{metric}_std"],
            marker="o",
            capsize=3,
            label=metric if per_run else layer,
        )
    if setting == "batch_size" or (results[setting] > 0).all():
        ax.set_xscale("log", base=2 if setting == "batch_size" else 10)
    elif setting == "l2":
        ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlabel(setting)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    return ax


def metric_figure(
    results: pd.DataFrame, setting: str, metrics: Sequence[str], *, ylabel: str | None = None
) -> Figure:
    """One Figure with :func:`plot_metric_vs_setting` of each of ``metrics`` on one Axes."""
    fig = _figure("metric_figure", figsize=(5, 3.5), layout="tight")
    ax = fig.add_subplot()
    for metric in metrics:
        plot_metric_vs_setting(results, setting, metric, ax=ax)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    return fig


def plot_esd_panel(
    esd_dir: Path,
    config: SweepConfig,
    layer: str,
    shape: tuple[int, int],
    *,
    phases: dict[float, str] | None = None,
    columns: int = 10,
) -> Figure:
    """The paper's ESD panel (JMLR 2021, Fig. 22): one column per setting, the ESD of
    ``layer`` pooled over seeds, log-log on top (with the power-law fit of the pooled
    eigenvalues) and linear below (with the Marchenko-Pastur fit of the pooled bulk).

    Parameters
    ----------
    esd_dir : path
        ``DIR/esd`` of a sweep (one ``.npz`` per run).
    config : SweepConfig
        The sweep (settings and seeds).
    layer : str
        Tensor name (``fc2.weight``).
    shape : (int, int)
        ``(N, M)`` of one matrix, ``N >= M`` (for the MP fit of the pooled ESD: ``S`` seeds
        pool like ``S`` slices).
    phases : dict, optional
        Setting -> phase label(s) written in each column's title.
    columns : int, default 10
        Settings per band: more settings wrap onto further bands (two rows each).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from htsr.fit.mp import fit_mp, mp_pdf
    from htsr.fit.powerlaw import fit_power_law

    values = list(config.values)
    n = len(values)
    cols = min(n, columns)
    bands = -(-n // cols)
    fig = _figure("plot_esd_panel", figsize=(2.1 * cols, 4.6 * bands), layout="constrained")
    from matplotlib.ticker import MaxNLocator  # present: _figure checked the plot extra

    axes = fig.subplots(2 * bands, cols, squeeze=False)
    for unused in range(n, bands * cols):  # the last band's empty columns
        axes[2 * (bands - 1)][unused % cols].remove()
        axes[2 * bands - 1][unused % cols].remove()
    big_n, m = shape
    for index, value in enumerate(values):
        band, col = divmod(index, cols)
        top, bottom = axes[2 * band][col], axes[2 * band + 1][col]
        title = f"{config.kind}={value:g}"
        if phases and value in phases:
            title += f"\n{phases[value]}"
        top.set_title(title, fontsize=7)
        evals = pooled_esd(esd_dir, config, value, layer)
        evals = evals[evals > 0]
        if evals.size < 10:
            top.text(0.5, 0.5, "no ESD", ha="center", transform=top.transAxes)
            continue
        bins = np.logspace(np.log10(evals[0]), np.log10(evals[-1]), 40)
        top.hist(evals, bins=bins, density=True, color="C0", alpha=0.8)
        top.set_xscale("log")
        top.set_yscale("log")
        pl = fit_power_law(evals)
        if bool(pl.ok):
            tail = evals[evals >= pl.xmin]
            x = np.logspace(np.log10(pl.xmin), np.log10(evals[-1]), 30)
            frac = tail.size / evals.size
            y = frac * (pl.alpha - 1) / pl.xmin * (x / pl.xmin) ** (-pl.alpha)
            top.plot(x, y, "r-", lw=1.2, label=f"alpha {pl.alpha:.2f}")
            top.axvline(pl.xmin, color="r", ls=":", lw=0.8)
            top.legend(fontsize=6, loc="lower left")
        mp = fit_mp(evals, big_n, m)
        cut = np.quantile(evals, 0.99)
        shown = evals[evals <= max(cut, mp.lambda_plus * 1.5 if bool(mp.ok) else cut)]
        bottom.hist(shown, bins=50, density=True, color="C0", alpha=0.8)
        if bool(mp.ok):
            x = np.linspace(max(mp.lambda_minus, 1e-12), mp.lambda_plus, 200)
            weight = mp.n_bulk / evals.size
            bottom.plot(x, weight * mp_pdf(x, mp.Q, mp.sigma), "r-", lw=1.2)
            bottom.axvline(mp.threshold, color="k", ls=":", lw=0.8)
            bottom.set_title(
                f"spikes {100 * mp.spike_fraction:.1f}%, softrank {mp.softrank:.2f}", fontsize=6
            )
        bottom.xaxis.set_major_locator(MaxNLocator(nbins=3))  # labels that do not overlap
        bottom.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        bottom.xaxis.get_offset_text().set_fontsize(5)
        for ax in (top, bottom):
            ax.tick_params(labelsize=5)
    for band in range(bands):
        axes[2 * band][0].set_ylabel("density (log-log)", fontsize=7)
        axes[2 * band + 1][0].set_ylabel("density, MP fit", fontsize=7)
    fig.suptitle(
        f"ESD of {layer} ({big_n} x {m}), final epoch, pooled over {len(config.seeds)} seeds",
        fontsize=8,
    )
    return fig


__all__ = ["PER_RUN", "metric_figure", "plot_esd_panel", "plot_metric_vs_setting"]
