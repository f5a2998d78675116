"""Per-group summaries of a layer table: the experts of a mixture-of-experts layer as one.

The ``group`` column (:func:`htsr.layers.expert_group`) names the experts of one MoE layer
with the expert index replaced by ``*``; this module averages the summary metrics within each
group, as :func:`htsr.report.summarize` does over the whole model.
"""

from __future__ import annotations

import pandas as pd

from htsr.report.columns import SUMMARY_COLUMNS

#: Metrics averaged per group: the model summary's means (the registry's ``summary`` flag).
GROUP_MEANS = SUMMARY_COLUMNS


def group_summary(layers: pd.DataFrame) -> pd.DataFrame:
    """One row per group of analysed layers: ``num_layers``, ``num_analysed`` and the mean of
    each of :data:`GROUP_MEANS` over its ``ok`` rows (NaN values left out).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``group``; empty when no row has a group.

    Examples
    --------
    >>> import numpy as np, htsr
    >>> rng = np.random.default_rng(0)
    >>> model = {f"moe.experts.{i}.w.weight": rng.standard_normal((60, 30)) for i in range(3)}
    >>> groups = group_summary(htsr.analyze(model).layers)
    >>> groups.index.tolist(), int(groups["num_analysed"].iloc[0])
    (['moe.experts.*.w.weight'], 3)
    """
    columns = ["num_layers", "num_analysed", *GROUP_MEANS]
    if "group" not in layers.columns or layers["group"].isna().all():
        return pd.DataFrame(columns=columns, index=pd.Index([], name="group"))
    grouped = layers[layers["group"].notna()]
    ok = grouped[grouped["status"] == "ok"]
    summary = pd.DataFrame(
        {
            "num_layers": grouped.groupby("group", sort=False).size(),
            "num_analysed": ok.groupby("group", sort=False).size(),
        }
    )
    summary["num_analysed"] = summary["num_analysed"].fillna(0).astype(int)
    present = [c for c in GROUP_MEANS if c in ok.columns]
    means = ok.groupby("group", sort=False)[present].mean(numeric_only=True)
    return summary.join(means).reindex(columns=columns)


__all__ = ["GROUP_MEANS", "group_summary"]
