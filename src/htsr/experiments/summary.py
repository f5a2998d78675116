"""Tables, Spearman correlations, plots and the markdown summary of a sweep.

Computing (``setting_table``, ``spearman_by_seed``, ``correlation_table``) is separate from
drawing (``plot_metric_vs_setting``, ``plot_esds``) and from writing (``write_outputs``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from htsr.experiments.config import TRAINING_COLUMNS, SweepConfig
from htsr.phases import Phase
from htsr.report.columns import RECORDED_COLUMNS

if TYPE_CHECKING:
    pass

#: The 5+1 phases in order of increasing implicit self-regularization, then rank collapse
#: (JMLR 2021, Section 5), as listed by :class:`htsr.phases.Phase`; a phase's rank is its
#: position here (for Spearman correlations).
PHASE_ORDER = tuple(p.value for p in Phase)
#: Metrics summarised per setting (mean and standard deviation over seeds): the training
#: outcome and the numeric columns the monitor records (registry flag ``recorded``).
TABLE_METRICS = (*TRAINING_COLUMNS, *(c for c in RECORDED_COLUMNS if c != "phase"))
#: Metrics correlated with the setting. ``phase_rank`` is the position in PHASE_ORDER.
CORRELATED = ("alpha", "phase_rank", "test_acc", "gap", "mp_softrank", "stable_rank")
#: The paper's ordering, as the sign of Spearman(batch size, metric): smaller batches give
#: smaller alpha (+), a more heavy-tailed phase (-), better test accuracy (-)
#: (JMLR 2021, Section 7, Figs. 30-32).
PAPER_SIGNS = {"alpha": +1, "phase_rank": -1, "test_acc": -1}


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


def spearman_of_means(results: pd.DataFrame, setting: str, metric: str, layer: str) -> float:
    """Spearman's rho between the setting and the mean of ``metric`` over seeds (one point
    per setting); NaN with fewer than 3 finite means or a constant one."""
    from scipy.stats import spearmanr

    frame = _with_rank(results)
    frame = frame[frame["name"] == layer]
    if metric not in frame:
        return math.nan
    values = pd.to_numeric(frame[metric], errors="coerce")
    means = values.groupby(pd.to_numeric(frame[setting], errors="coerce")).mean().dropna()
    if len(means) < 3 or np.ptp(means.to_numpy(float)) == 0:
        return math.nan
    return float(spearmanr(means.index.to_numpy(float), means.to_numpy(float)).statistic)


def correlation_table(
    results: pd.DataFrame, setting: str, *, metrics: Sequence[str] = CORRELATED
) -> pd.DataFrame:
    """Per layer and metric: Spearman rho with the setting per seed (mean/std/min/max over
    seeds) and of the seeds' means (``rho_of_means``)."""
    out = []
    for layer in dict.fromkeys(results["name"]):
        for metric in metrics:
            rho = spearman_by_seed(results, setting, metric, layer)
            finite = rho[np.isfinite(rho)]
            out.append(
                {
                    "name": layer,
                    "metric": metric,
                    "rho_of_means": spearman_of_means(results, setting, metric, layer),
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
    """Smallest setting at which every seed of ``layer`` is in the ``rank_collapse`` phase
    (the analysis's own verdict, :func:`htsr.phases.classify_layer`); NaN if none."""
    rows = results[results["name"] == layer]
    if "phase" not in rows:
        return math.nan
    for value, group in rows.groupby(setting, sort=True):
        if len(group) and bool(group["phase"].astype(str).eq(Phase.RANK_COLLAPSE.value).all()):
            return float(value)
    return math.nan


def widest_layer(results: pd.DataFrame) -> str | None:
    """The layer with the most eigenvalues (``M``, else ``num_evals``); None when empty."""
    if results.empty:
        return None
    size = "M" if "M" in results else "num_evals"
    if size not in results:
        return str(results["name"].iloc[0])
    sizes = pd.to_numeric(results[size], errors="coerce").groupby(results["name"]).max()
    return str(sizes.idxmax())


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
        f"model `{config.model}`, data `{config.data}`, {config.epochs} epochs"
        + (f" (at least {config.min_steps} optimizer steps)" if config.min_steps else "")
        + ", seeds "
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
        f"## Spearman rho({setting}, metric) across settings: of the seeds' means; "
        "per seed: mean ± std [each seed]",
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
                else f"{r['rho_of_means']:+.2f}; {r['rho_mean']:+.2f} ± {r['rho_std']:.2f} "
                f"[{r['per_seed']}]"
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


def headline(results: pd.DataFrame, config: SweepConfig) -> str:
    """One line for the terminal: on the widest layer, the phases from the first setting to
    the last and Spearman rho(setting, alpha) (batch size), or the rank-collapse onset (L2)."""
    layer = widest_layer(results)
    if layer is None:
        return f"{config.kind} sweep: no finished run"
    table = setting_table(results, config.kind, layer)
    first, last = table.iloc[0], table.iloc[-1]
    phases = (
        f"{config.kind} {first[config.kind]:g}: {first['phases']} ... "
        f"{last[config.kind]:g}: {last['phases']}"
    )
    seen = set(results.loc[results["name"] == layer, "phase"].dropna().astype(str))
    if config.kind == "l2":
        onset = collapse_onset(results, "l2", layer)
        what = (
            f"rank collapse in every seed from l2 = {onset:g}"
            if np.isfinite(onset)
            else "no rank collapse at any strength tried"
        )
        return f"{layer}: {what}; {phases}"
    rho = spearman_of_means(results, config.kind, "alpha", layer)
    majority = set()
    for _, group in results[results["name"] == layer].groupby(config.kind):
        counts = group["phase"].dropna().astype(str).value_counts()
        if len(counts) and counts.iloc[0] * 2 > len(group):
            majority.add(str(counts.index[0]))
    return (
        f"{layer}: Spearman rho(batch size, mean alpha) {rho:+.2f}; "
        f"{len(seen & set(PHASE_ORDER))} phases seen "
        f"({len(majority & set(PHASE_ORDER))} as a setting's majority); {phases}"
    )


__all__ = [
    "CORRELATED",
    "PAPER_SIGNS",
    "PHASE_ORDER",
    "TABLE_METRICS",
    "collapse_onset",
    "correlation_table",
    "headline",
    "phase_rank",
    "setting_table",
    "spearman_by_seed",
    "spearman_of_means",
    "summary_markdown",
    "widest_layer",
]
