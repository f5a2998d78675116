"""A training history as small multiples: one panel per layer, the metric against epoch.

One line per run in each panel, its points coloured by the layer's phase at that epoch, so a
panel reads without a legend of layer names. Past ``max_layers`` layers only those whose
metric changed most are drawn (the title says how many are left out). Like every figure of
:mod:`htsr.plots`, it returns a :class:`matplotlib.figure.Figure` and never touches pyplot.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from htsr._optional import import_optional
from htsr.plots.model import ALPHA_BAND, PHASE_COLORS, PHASES, phase_color

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Most panels drawn by default (4 x 3 at a readable size).
MAX_LAYERS = 12


def changed_most(frame: pd.DataFrame, *, metric: str, num: int) -> list[str]:
    """The ``num`` layers whose ``metric`` moved most: ``max |last - first|`` over runs.

    Layers whose metric is never finite come last; ties keep model order (first appearance).
    """
    order = list(dict.fromkeys(frame["name"]))
    if len(order) <= num:
        return order
    values = frame.assign(_v=pd.to_numeric(frame[metric], errors="coerce")).dropna(subset=["_v"])
    values = values.sort_values("epoch", kind="stable")
    moves = values.groupby(["name", "run"], sort=False)["_v"].agg(
        lambda v: abs(v.iloc[-1] - v.iloc[0])
    )
    move = moves.groupby(level="name").max()
    score = {name: float(move.get(name, -math.inf)) for name in order}
    return sorted(order, key=lambda n: (-score[n], order.index(n)))[:num]


def plot_history(
    frame: pd.DataFrame, *, metric: str = "alpha", max_layers: int = MAX_LAYERS
) -> Figure:
    """``metric`` against epoch, one panel per layer (the ``max_layers`` that changed most).

    Parameters
    ----------
    frame : pandas.DataFrame
        A history (:func:`htsr.monitor.load_history`): ``run``, ``epoch``, ``name``,
        ``metric`` and optionally ``phase``.
    metric : str, default "alpha"
    max_layers : int, default 12
        Most panels; see :func:`changed_most`.

    Returns
    -------
    matplotlib.figure.Figure
        Panels share both axes; each line has gid ``"history:<layer>:<run>"``.
    """
    if max_layers < 1:
        raise ValueError(f"`max_layers` must be an int >= 1; got {max_layers!r}")
    if metric not in frame.columns:
        raise ValueError(f"no column {metric!r} in the history")
    import_optional("matplotlib", extra="plot", caller="htsr.plots.plot_history")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    names = changed_most(frame, metric=metric, num=max_layers)
    ncols = min(len(names), 4) or 1
    nrows = max(math.ceil(len(names) / ncols), 1)
    fig = Figure(figsize=(3.2 * ncols + 0.6, 2.3 * nrows + 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
    runs = list(dict.fromkeys(frame["run"]))
    styles = ["-", "--", ":", "-."]
    for ax, name in zip(axes.flat, names, strict=False):
        layer = frame[frame["name"] == name]
        for k, run in enumerate(runs):
            group = layer[layer["run"] == run].sort_values("epoch")
            if group.empty:
                continue
            y = pd.to_numeric(group[metric], errors="coerce")
            ax.plot(
                group["epoch"], y, color="0.45", lw=1, ls=styles[k % 4], gid=f"history:{name}:{run}"
            )
            colors = [
                phase_color(p) for p in group.get("phase", pd.Series(["unknown"] * len(group)))
            ]
            ax.scatter(group["epoch"], y, s=14, c=colors, zorder=3)
        if metric == "alpha":
            ax.axhspan(*ALPHA_BAND, color="0.93", zorder=0)
        ax.set_title(_short(name), fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize="small")
    for ax in axes[:, 0]:
        ax.set_ylabel(metric, fontsize="small")
    present = [p for p in PHASES if "phase" in frame.columns and p in set(frame["phase"])]
    handles = [
        Line2D([], [], marker="o", ls="", color=PHASE_COLORS[p], label=p, markersize=5)
        for p in present
    ]
    if len(runs) > 1:
        handles += [
            Line2D([], [], color="0.45", ls=styles[k % 4], label=str(run))
            for k, run in enumerate(runs)
        ]
    if handles:
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(len(handles), 6),
            fontsize="small",
            frameon=False,
        )
    total = frame["name"].nunique()
    left_out = total - len(names)
    title = f"{metric} by epoch"
    if left_out:
        title += f": the {len(names)} of {total} layers that changed most"
    fig.suptitle(title, fontsize="medium")
    return fig


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


__all__ = ["MAX_LAYERS", "changed_most", "plot_history"]
