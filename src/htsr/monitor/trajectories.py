"""Trajectories of a history: per-layer summaries over epochs, and their plot."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: Phases in order of increasing implicit self-regularization, then rank collapse
#: (JMLR 2021, Section 5): the y axis of the phase plot.
PHASE_AXIS = (
    "random_like",
    "bleeding_out",
    "bulk_spikes",
    "bulk_decay",
    "heavy_tailed",
    "rank_collapse",
)


def phase_path(epochs: pd.Series, phases: pd.Series) -> str:
    """``random_like@0 -> bulk_spikes@3`` (each change of phase with its first epoch).

    Examples
    --------
    >>> phase_path(pd.Series([0, 1, 2]), pd.Series(["random_like", "random_like", "bulk_decay"]))
    'random_like@0 -> bulk_decay@2'
    """
    steps, last = [], None
    for epoch, phase in zip(epochs, phases, strict=True):
        if phase is None or (isinstance(phase, float) and math.isnan(phase)):
            continue
        if phase != last:
            steps.append(f"{phase}@{int(epoch)}")
            last = phase
    return " -> ".join(steps) if steps else "n/a"


def summarize_history(frame: pd.DataFrame, *, metric: str = "alpha") -> pd.DataFrame:
    """One row per (run, layer): epochs recorded, ``metric`` first/last/min/max, the phase
    path over epochs."""
    rows = []
    for (run, name), group in frame.groupby(["run", "name"], sort=False):
        group = group.sort_values("epoch")
        values = pd.to_numeric(group.get(metric, pd.Series(dtype=float)), errors="coerce")
        finite = values[np.isfinite(values)]
        phases = group["phase"] if "phase" in group else pd.Series([None] * len(group))
        rows.append(
            {
                "run": run,
                "name": name,
                "epochs": f"{int(group['epoch'].min())}-{int(group['epoch'].max())}",
                f"{metric}_first": float(finite.iloc[0]) if len(finite) else math.nan,
                f"{metric}_last": float(finite.iloc[-1]) if len(finite) else math.nan,
                f"{metric}_min": float(finite.min()) if len(finite) else math.nan,
                f"{metric}_max": float(finite.max()) if len(finite) else math.nan,
                "phase_path": phase_path(group["epoch"], phases),
            }
        )
    return pd.DataFrame(rows)


def plot_trajectories(
    frame: pd.DataFrame, *, metric: str = "alpha", run: str | None = None, axes: Any = None
) -> Any:
    """``metric`` (top) and phase (bottom) against epoch, one line per layer (and run).

    Parameters
    ----------
    frame : pandas.DataFrame
        A history (see :func:`htsr.monitor.load_history`).
    metric : str, default "alpha"
        Column drawn in the top panel.
    run : str, optional
        Only this run.
    axes : pair of Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from htsr._optional import import_optional

    plt = import_optional("matplotlib.pyplot", extra="plot", caller="plot_trajectories")
    if run is not None:
        frame = frame[frame["run"] == run]
    if axes is None:
        fig, axes = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    else:
        fig = axes[0].figure
    several = frame["run"].nunique() > 1
    for i, ((run_name, name), group) in enumerate(frame.groupby(["run", "name"], sort=False)):
        group = group.sort_values("epoch")
        label = f"{run_name}: {name}" if several else name
        style = {"marker": "o", "markersize": 3, "color": f"C{i % 10}", "label": label}
        values = pd.to_numeric(group.get(metric, pd.Series(dtype=float)), errors="coerce")
        axes[0].plot(group["epoch"], values, **style)
        if "phase" in group:
            ranks = group["phase"].map(lambda p: PHASE_AXIS.index(p) if p in PHASE_AXIS else np.nan)
            axes[1].plot(group["epoch"], ranks.astype(float), drawstyle="steps-post", **style)
    axes[0].set_ylabel(metric)
    axes[1].set_yticks(range(len(PHASE_AXIS)), PHASE_AXIS, fontsize=7)
    axes[1].set_ylim(-0.5, len(PHASE_AXIS) - 0.5)
    axes[1].set_ylabel("phase")
    axes[1].set_xlabel("epoch")
    axes[0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


__all__ = ["PHASE_AXIS", "phase_path", "plot_trajectories", "summarize_history"]
