"""Write what a sweep produced: the tables, the figures and the markdown summary."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from htsr.experiments.config import SweepConfig
from htsr.experiments.summary import correlation_table, setting_table, summary_markdown

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    return path


def write_plots(results: pd.DataFrame, config: SweepConfig, out: Path) -> dict[str, Path]:
    """Draw the metric-vs-setting figures and the ESD panel of every layer into ``out``."""
    from htsr.experiments.figures import plot_esd_panel, plot_metric_vs_setting

    files = {}
    setting = config.kind
    for metric in ("alpha", "spike_fraction", "stable_rank", "rank_collapse_fraction"):
        ax = plot_metric_vs_setting(results, setting, metric)
        ax.figure.tight_layout()
        files[f"{metric}_plot"] = _save(ax.figure, out / f"{metric}_vs_{setting}.png")
    ax = plot_metric_vs_setting(results, setting, "train_acc")
    plot_metric_vs_setting(results, setting, "test_acc", ax=ax)
    ax.set_ylabel("accuracy")
    ax.figure.tight_layout()
    files["accuracy_plot"] = _save(ax.figure, out / f"accuracy_vs_{setting}.png")
    for layer in dict.fromkeys(results["name"]):
        rows = results[results["name"] == layer]
        if not {"N", "M"} <= set(rows.columns):
            continue
        shape = (int(rows["N"].iloc[0]), int(rows["M"].iloc[0]))
        table = setting_table(results, setting, layer)
        phases = dict(zip(table[setting], table["phases"], strict=True))
        fig = plot_esd_panel(out / "esd", config, layer, shape, phases=phases)
        files[f"esd_{layer}"] = _save(fig, out / f"esd_{layer.replace('/', '_')}.png")
    return files


def write_outputs(
    results: pd.DataFrame,
    trajectories: pd.DataFrame,
    config: SweepConfig,
    out: Path,
    *,
    seconds: float | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write results.csv, trajectories.csv, correlations.csv, the plots (when ``plots`` and
    matplotlib is installed) and summary.md into ``out``; return name -> path."""
    files = {"results": out / "results.csv", "trajectories": out / "trajectories.csv"}
    results.to_csv(files["results"], index=False)
    trajectories.to_csv(files["trajectories"], index=False)
    if results.empty:
        return files
    corr = correlation_table(results, config.kind)
    files["correlations"] = out / "correlations.csv"
    corr.to_csv(files["correlations"], index=False)
    if plots:
        with contextlib.suppress(ImportError):  # matplotlib missing: tables only
            files |= write_plots(results, config, out)
    files["summary"] = out / "summary.md"
    files["summary"].write_text(summary_markdown(results, config, seconds=seconds))
    return files


__all__ = ["write_outputs", "write_plots"]
