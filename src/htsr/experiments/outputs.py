"""Write what a sweep produced: the tables, the figures and the markdown summary."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from htsr.experiments.config import SweepConfig
from htsr.experiments.summary import (
    correlation_table,
    setting_table,
    summary_markdown,
    widest_layer,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    return path


#: Fewest eigenvalues of a layer whose ESD panel is drawn (besides the widest layer's): below
#: it neither an MP bulk nor a tail can be read, and a panel costs seconds of CPU to draw.
PANEL_MIN_EVALS = 100


def write_plots(
    results: pd.DataFrame,
    config: SweepConfig,
    out: Path,
    *,
    pooled: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Draw the metric-vs-setting figures and the ESD panels into ``out``: one for the widest
    layer and for every layer with at least :data:`PANEL_MIN_EVALS` eigenvalues (with the
    phase of each pooled ESD, from ``pooled``, under the seeds' phases)."""
    from htsr.experiments.figures import metric_figure, plot_esd_panel

    files = {}
    setting = config.kind
    for metric in ("alpha", "spike_fraction", "stable_rank", "rank_collapse_fraction"):
        fig = metric_figure(results, setting, [metric])
        files[f"{metric}_plot"] = _save(fig, out / f"{metric}_vs_{setting}.png")
    fig = metric_figure(results, setting, ["train_acc", "test_acc"], ylabel="accuracy")
    files["accuracy_plot"] = _save(fig, out / f"accuracy_vs_{setting}.png")
    widest = widest_layer(results)
    for layer in dict.fromkeys(results["name"]):
        rows = results[results["name"] == layer]
        if not {"N", "M"} <= set(rows.columns):
            continue
        shape = (int(rows["N"].iloc[0]), int(rows["M"].iloc[0]))
        if layer != widest and min(shape) < PANEL_MIN_EVALS:
            continue
        table = setting_table(results, setting, layer)
        phases = dict(zip(table[setting], table["phases"], strict=True))
        if pooled is not None:  # the pooled ESD's own phase under the seeds' phases
            mine = pooled[pooled["name"] == layer]
            for value, phase in zip(mine[setting], mine["phase"], strict=True):
                if value in phases and isinstance(phase, str):
                    phases[value] += f"\npooled: {phase}"
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
    pooled = _pooled(results, config, out)
    if plots:
        with contextlib.suppress(ImportError):  # matplotlib missing: tables only
            files |= write_plots(results, config, out, pooled=pooled)
    text = summary_markdown(results, config, seconds=seconds)
    if pooled is not None:
        files["pooled"] = out / "pooled.csv"
        pooled.to_csv(files["pooled"], index=False)
        text += _pooled_markdown(pooled, config)
    files["summary"] = out / "summary.md"
    files["summary"].write_text(text)
    return files


def _pooled(results: pd.DataFrame, config: SweepConfig, out: Path) -> pd.DataFrame | None:
    """Fits of the ESDs pooled over seeds, for every layer with a shape, stacked."""
    from htsr.experiments.pooled import pooled_fits

    if not {"N", "M"} <= set(results.columns) or not (out / "esd").is_dir():
        return None
    frames = []
    for layer in dict.fromkeys(results["name"]):
        rows = results[results["name"] == layer]
        shape = (int(rows["N"].iloc[0]), int(rows["M"].iloc[0]))
        frame = pooled_fits(out / "esd", config, layer, shape)
        frame.insert(0, "name", layer)
        frame["rho_alpha"] = frame.attrs["rho_alpha"]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def _pooled_markdown(pooled: pd.DataFrame, config: SweepConfig) -> str:
    setting = config.kind
    lines = [
        "",
        f"## ESDs pooled over the {len(config.seeds)} seeds (as the paper pools FC1 over its runs)",
        "",
        f"| layer | {setting} | eigenvalues | alpha | phase | spike fraction | MP soft rank |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in pooled.iterrows():
        phase = r.get("phase")
        lines.append(
            f"| `{r['name']}` | {r[setting]:g} | {r['n']} | {r['alpha']:.2f} "
            f"| {phase if isinstance(phase, str) else 'n/a'} "
            f"| {r['spike_fraction']:.3f} | {r['softrank']:.3f} |"
        )
    lines.append("")
    for layer, group in pooled.groupby("name", sort=False):
        lines.append(
            f"- `{layer}`: Spearman rho({setting}, pooled alpha) {group['rho_alpha'].iloc[0]:+.2f}"
        )
    return "\n".join(lines) + "\n"


__all__ = ["write_outputs", "write_plots"]
