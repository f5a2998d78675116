"""Tables, Spearman correlations, plots and the markdown summary of a sweep.

Computing (``setting_table``, ``spearman_by_seed``, ``correlation_table``) is separate from
drawing (``plot_metric_vs_setting``, ``plot_esds``) and from writing (``write_outputs``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from htsr.experiments.sweeps import SweepConfig

#: The 5+1 phases in order of increasing implicit self-regularization, then rank collapse
#: (JMLR 2021, Section 5); a phase's rank is its position here (for Spearman correlations).
PHASE_ORDER = (
    "random_like",
    "bleeding_out",
    "bulk_spikes",
    "bulk_decay",
    "heavy_tailed",
    "rank_collapse",
)
#: Metrics summarised per setting (mean and standard deviation over seeds).
TABLE_METRICS = (
    "train_acc",
    "test_acc",
    "gap",
    "alpha",
    "mp_softrank",
    "spike_fraction",
    "stable_rank",
    "rank_collapse_fraction",
)
#: Metrics correlated with the setting. ``phase_rank`` is the position in PHASE_ORDER.
CORRELATED = ("alpha", "phase_rank", "test_acc", "gap", "mp_softrank", "stable_rank")
#: The paper's ordering, as the sign of Spearman(batch size, metric): smaller batches give
#: smaller alpha (+), a more heavy-tailed phase (-), better test accuracy (-)
#: (JMLR 2021, Section 7, Figs. 30-32).
PAPER_SIGNS = {"alpha": +1, "phase_rank": -1, "test_acc": -1}
#: Criterion of the L2 summary only (the phase itself comes from the analysis): a layer is
#: said to collapse when at least this fraction of its eigenvalues is below 1e-4 lambda_max.
COLLAPSE_REPORT_FRACTION = 0.1


def phase_rank(phase: Any) -> float:
    """Position of a phase in :data:`PHASE_ORDER`, NaN when unknown or missing."""
    try:
        return float(PHASE_ORDER.index(str(phase)))
    except ValueError:
        return math.nan


def _with_rank(results: pd.DataFrame) -> pd.DataFrame:
    frame = results.copy()
    frame["phase_rank"] = frame["phase"].map(phase_rank) if "phase" in frame.columns else math.nan
    return frame


def setting_table(results: pd.DataFrame, setting: str, layer: str) -> pd.DataFrame:
    """Per setting: mean and std over seeds of :data:`TABLE_METRICS` for one layer, and the
    phases seen (``heavy_tailed x2, bulk_decay x1``)."""
    rows = results[results["name"] == layer]
    out = []
    for value, group in rows.groupby(setting, sort=True):
        row: dict[str, Any] = {setting: value, "seeds": group["seed"].nunique()}
        for metric in TABLE_METRICS:
            values = pd.to_numeric(group.get(metric, pd.Series(dtype=float)), errors="coerce")
            row[f"{metric}_mean"] = float(values.mean()) if values.notna().any() else math.nan
            row[f"{metric}_std"] = float(values.std(ddof=0)) if values.notna().any() else math.nan
        phases = group["phase"].dropna().astype(str) if "phase" in group else pd.Series([])
        counts = phases.value_counts()
        row["phases"] = ", ".join(f"{p} x{n}" for p, n in counts.items()) or "n/a"
        out.append(row)
    return pd.DataFrame(out)


def spearman_by_seed(results: pd.DataFrame, setting: str, metric: str, layer: str) -> pd.Series:
    """Spearman's rho between the setting and ``metric`` across settings, one per seed.

    NaN for a seed with fewer than 3 finite points or a constant metric.
    """
    from scipy.stats import spearmanr

    frame = _with_rank(results)
    frame = frame[frame["name"] == layer]
    rhos = {}
    for seed, group in frame.groupby("seed", sort=True):
        x = pd.to_numeric(group[setting], errors="coerce").to_numpy(float)
        y = pd.to_numeric(group.get(metric), errors="coerce").to_numpy(float)
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(y[ok]) == 0 or np.ptp(x[ok]) == 0:
            rhos[seed] = math.nan
        else:
            rhos[seed] = float(spearmanr(x[ok], y[ok]).statistic)
    return pd.Series(rhos, name=metric, dtype=float)


def correlation_table(
    results: pd.DataFrame, setting: str, *, metrics: Sequence[str] = CORRELATED
) -> pd.DataFrame:
    """Per layer and metric: Spearman rho with the setting, mean/std/min/max over seeds."""
    out = []
    for layer in dict.fromkeys(results["name"]):
        for metric in metrics:
            rho = spearman_by_seed(results, setting, metric, layer)
            finite = rho[np.isfinite(rho)]
            out.append(
                {
                    "name": layer,
                    "metric": metric,
                    "rho_mean": float(finite.mean()) if len(finite) else math.nan,
                    "rho_std": float(finite.std(ddof=0)) if len(finite) else math.nan,
                    "rho_min": float(finite.min()) if len(finite) else math.nan,
                    "rho_max": float(finite.max()) if len(finite) else math.nan,
                    "seeds": len(finite),
                    "per_seed": " ".join(f"{v:+.2f}" for v in rho),
                }
            )
    return pd.DataFrame(out)


def collapse_onset(results: pd.DataFrame, setting: str, layer: str) -> float:
    """Smallest setting at which every seed of ``layer`` is in rank collapse (the phase, when
    the analysis gives it, else rank_collapse_fraction >= COLLAPSE_REPORT_FRACTION); NaN if
    none."""
    rows = results[results["name"] == layer]
    for value, group in rows.groupby(setting, sort=True):
        by_phase = (
            group["phase"].astype(str).eq("rank_collapse")
            if "phase" in group and group["phase"].notna().any()
            else None
        )
        by_fraction = pd.to_numeric(group["rank_collapse_fraction"], errors="coerce").ge(
            COLLAPSE_REPORT_FRACTION
        )
        collapsed = by_phase if by_phase is not None else by_fraction
        if len(group) and bool(collapsed.all()):
            return float(value)
    return math.nan


# -- drawing -----------------------------------------------------------------------------------


def plot_metric_vs_setting(
    results: pd.DataFrame,
    setting: str,
    metric: str,
    *,
    layers: Sequence[str] | None = None,
    ax: Any = None,
) -> Any:
    """Mean ± std over seeds of ``metric`` against the setting, one line per layer (or one
    line when the metric is per run, like the accuracies). Returns the Axes."""
    from htsr._optional import import_optional

    plt = import_optional("matplotlib.pyplot", extra="plot", caller="plot_metric_vs_setting")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    per_run = metric in ("train_acc", "test_acc", "gap", "train_loss", "test_loss")
    names = [results["name"].iloc[0]] if per_run else list(layers or dict.fromkeys(results["name"]))
    for layer in names:
        table = setting_table(results, setting, layer)
        if f"{metric}_mean" not in table:
            continue
        label = metric if per_run else layer
        ax.errorbar(
            table[setting],
            table[f"{metric}_mean"],
            yerr=table[f"{metric}_std"],
            marker="o",
            capsize=3,
            label=label,
        )
    if setting == "batch_size" or (results[setting] > 0).all():
        ax.set_xscale("log", base=2 if setting == "batch_size" else 10)
    elif setting == "l2":
        ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_xlabel(setting)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7)
    return ax


def plot_esds(esd_dir: Path, config: SweepConfig, layer: str, *, seed: int | None = None) -> Any:
    """Histograms of log10 eigenvalues of ``layer`` at the final epoch, one panel per
    setting (the first seed). Returns the Figure."""
    from htsr._optional import import_optional

    plt = import_optional("matplotlib.pyplot", extra="plot", caller="plot_esds")
    from htsr.experiments.sweeps import _safe

    seed = config.seeds[0] if seed is None else seed
    n = len(config.values)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 2.6), squeeze=False, sharey=False)
    for ax, value in zip(axes[0], config.values, strict=True):
        path = esd_dir / f"{_safe(config.run_id(value, seed))}.npz"
        ax.set_title(f"{config.kind}={value:g}", fontsize=8)
        if not path.is_file():
            continue
        with np.load(path) as esds:
            if layer not in esds:
                continue
            evals = esds[layer]
        evals = evals[evals > evals.max() * 1e-12]
        ax.hist(np.log10(evals), bins=40, color="C0")
        ax.set_xlabel("log10 eigenvalue", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"ESD of {layer}, seed {seed}, final epoch", fontsize=9)
    fig.tight_layout()
    return fig


# -- writing -----------------------------------------------------------------------------------


def _fmt(mean: float, std: float, digits: int = 3) -> str:
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def summary_markdown(
    results: pd.DataFrame, config: SweepConfig, *, seconds: float | None = None
) -> str:
    """The short markdown summary of a sweep (tables per layer, correlations, verdicts)."""
    setting = config.kind
    lines = [
        f"# htsr experiment: {setting} sweep",
        "",
        f"model `{config.model}`, data `{config.data}`, {config.epochs} epochs, seeds "
        f"{list(config.seeds)}, {setting} in {', '.join(f'{v:g}' for v in config.values)}; "
        f"SGD lr {config.lr}, "
        f"momentum {config.momentum}, lr x{config.lr_decay} per epoch, cross-entropy"
        + (f", L2 on {list(config.l2_layers)}" if setting == "l2" else "")
        + ".",
        "",
        "## Final epoch, mean ± std over seeds",
    ]
    for layer in dict.fromkeys(results["name"]):
        table = setting_table(results, setting, layer)
        lines += ["", f"### `{layer}`", ""]
        lines.append(
            f"| {setting} | train acc | test acc | gap | alpha | phases | mp_softrank | "
            "spike_fraction | stable_rank | rank_collapse_fraction |"
        )
        lines.append("|---" * 10 + "|")
        for _, r in table.iterrows():
            lines.append(
                f"| {r[setting]:g} | {_fmt(r['train_acc_mean'], r['train_acc_std'])} "
                f"| {_fmt(r['test_acc_mean'], r['test_acc_std'])} "
                f"| {_fmt(r['gap_mean'], r['gap_std'])} "
                f"| {_fmt(r['alpha_mean'], r['alpha_std'], 2)} | {r['phases']} "
                f"| {_fmt(r['mp_softrank_mean'], r['mp_softrank_std'])} "
                f"| {_fmt(r['spike_fraction_mean'], r['spike_fraction_std'])} "
                f"| {_fmt(r['stable_rank_mean'], r['stable_rank_std'], 1)} "
                f"| {_fmt(r['rank_collapse_fraction_mean'], r['rank_collapse_fraction_std'])} |"
            )
    corr = correlation_table(results, setting)
    lines += [
        "",
        f"## Spearman rho({setting}, metric) across settings: mean ± std over seeds [per seed]",
        "",
        "| layer | " + " | ".join(CORRELATED) + " |",
        "|---" * (len(CORRELATED) + 1) + "|",
    ]
    for layer, group in corr.groupby("name", sort=False):
        cells = []
        for metric in CORRELATED:
            r = group[group["metric"] == metric].iloc[0]
            cells.append(
                "n/a"
                if not np.isfinite(r["rho_mean"])
                else f"{r['rho_mean']:+.2f} ± {r['rho_std']:.2f} [{r['per_seed']}]"
            )
        lines.append(f"| `{layer}` | " + " | ".join(cells) + " |")
    lines += ["", _verdicts(corr, results, config)]
    if seconds is not None:
        lines += ["", f"Wall time of the last call: {seconds:.0f} s."]
    return "\n".join(lines) + "\n"


def _verdicts(corr: pd.DataFrame, results: pd.DataFrame, config: SweepConfig) -> str:
    if config.kind == "l2":
        out = ["## Rank collapse", ""]
        for layer in dict.fromkeys(results["name"]):
            onset = collapse_onset(results, "l2", layer)
            out.append(
                f"- `{layer}`: "
                + (
                    f"rank collapse in every seed from l2 = {onset:g}"
                    if np.isfinite(onset)
                    else "no rank collapse at any strength tried"
                )
            )
        return "\n".join(out)
    out = [
        "## The paper's ordering (smaller batch: smaller alpha, more heavy-tailed phase, "
        "better test accuracy)",
        "",
    ]
    for layer, group in corr.groupby("name", sort=False):
        parts = []
        for metric, sign in PAPER_SIGNS.items():
            r = group[group["metric"] == metric].iloc[0]
            if not np.isfinite(r["rho_mean"]):
                parts.append(f"{metric}: n/a")
                continue
            rhos = [float(v) for v in r["per_seed"].split()]
            rhos = [v for v in rhos if np.isfinite(v)]
            agree = sum(sign * v > 0 for v in rhos)
            perfect = sum(sign * v >= 1 - 1e-9 for v in rhos)
            verdict = f"paper's sign in {agree}/{len(rhos)} seeds"
            if perfect:
                verdict += f", strictly monotone in {perfect}"
            parts.append(f"{metric}: {verdict} (rho {r['rho_mean']:+.2f} ± {r['rho_std']:.2f})")
        out.append(f"- `{layer}`: " + "; ".join(parts))
    return "\n".join(out)


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
            files |= _write_plots(results, config, out)
    files["summary"] = out / "summary.md"
    files["summary"].write_text(summary_markdown(results, config, seconds=seconds))
    return files


def _write_plots(results: pd.DataFrame, config: SweepConfig, out: Path) -> dict[str, Path]:
    from htsr._optional import import_optional

    import_optional("matplotlib", extra="plot", caller="experiment plots")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    files = {}
    setting = config.kind
    for metric in ("alpha", "stable_rank", "rank_collapse_fraction"):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        plot_metric_vs_setting(results, setting, metric, ax=ax)
        files[f"{metric}_plot"] = out / f"{metric}_vs_{setting}.png"
        fig.tight_layout()
        fig.savefig(files[f"{metric}_plot"], dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for metric in ("train_acc", "test_acc"):
        plot_metric_vs_setting(results, setting, metric, ax=ax)
    ax.set_ylabel("accuracy")
    files["accuracy_plot"] = out / f"accuracy_vs_{setting}.png"
    fig.tight_layout()
    fig.savefig(files["accuracy_plot"], dpi=110)
    plt.close(fig)
    for layer in dict.fromkeys(results["name"]):
        fig = plot_esds(out / "esd", config, layer)
        key = f"esd_{layer}"
        files[key] = out / f"esd_{layer.replace('/', '_')}.png"
        fig.savefig(files[key], dpi=110)
        plt.close(fig)
    return files


__all__ = [
    "COLLAPSE_REPORT_FRACTION",
    "CORRELATED",
    "PAPER_SIGNS",
    "PHASE_ORDER",
    "TABLE_METRICS",
    "collapse_onset",
    "correlation_table",
    "phase_rank",
    "plot_esds",
    "plot_metric_vs_setting",
    "setting_table",
    "spearman_by_seed",
    "summary_markdown",
    "write_outputs",
]
