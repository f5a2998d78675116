from __future__ import annotations

import math

import pandas as pd

from htsr.monitor.trajectories import phase_path, plot_trajectories, summarize_history


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": ["r"] * 6,
            "epoch": [0, 0, 1, 1, 2, 2],
            "name": ["a", "b"] * 3,
            "alpha": [6.0, math.nan, 4.0, 5.0, 3.0, 4.5],
            "phase": ["random_like", None, "bulk_decay", "bulk_spikes", "heavy_tailed", None],
        }
    )


def test_phase_path():
    assert phase_path(pd.Series([0, 1, 2, 3]), pd.Series(["x", "x", None, "y"])) == "x@0 -> y@3"
    assert phase_path(pd.Series([0]), pd.Series([None])) == "n/a"


def test_summarize_history():
    table = summarize_history(_history())
    a = table[table["name"] == "a"].iloc[0]
    assert (a["alpha_first"], a["alpha_last"], a["alpha_min"]) == (6.0, 3.0, 3.0)
    assert a["phase_path"] == "random_like@0 -> bulk_decay@1 -> heavy_tailed@2"
    b = table[table["name"] == "b"].iloc[0]
    assert (b["alpha_first"], b["alpha_last"], b["epochs"]) == (5.0, 4.5, "0-2")


def test_plot_trajectories():
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_trajectories(_history())
    top, bottom = fig.axes
    assert len(top.lines) == 2
    assert bottom.get_yticklabels()[4].get_text() == "heavy_tailed"
