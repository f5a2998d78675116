"""History figure: one panel per layer, the layers that changed most, points coloured by phase."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from htsr.plots.history import changed_most, plot_history
from htsr.plots.model import PHASE_COLORS


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """45 layers over 4 epochs; layer k's alpha moves by k / 10 (layer 44 moves most)."""
    rows = []
    for epoch in range(4):
        for k in range(45):
            alpha = 6.0 - epoch * k / 30
            phase = "heavy_tailed" if alpha < 4 else "random_like"
            rows.append(
                {"run": "r", "epoch": epoch, "name": f"l{k}.weight", "alpha": alpha, "phase": phase}
            )
    return pd.DataFrame(rows)


def test_changed_most(frame) -> None:  # type: ignore[no-untyped-def]
    assert changed_most(frame, metric="alpha", num=3) == ["l44.weight", "l43.weight", "l42.weight"]
    small = frame[frame["name"].isin(["l1.weight", "l0.weight"])]
    assert changed_most(small, metric="alpha", num=5) == ["l0.weight", "l1.weight"]  # model order


def test_one_panel_per_layer_at_most_max_layers(frame) -> None:  # type: ignore[no-untyped-def]
    fig = plot_history(frame, max_layers=6)
    shown = [a for a in fig.axes if a.get_visible()]
    assert len(shown) == 6
    assert shown[0].get_title() == "l44.weight"
    assert "6 of 45 layers" in fig.get_suptitle()
    (line,) = [c for c in shown[0].get_children() if c.get_gid() == "history:l44.weight:r"]
    np.testing.assert_allclose(line.get_ydata(), 6.0 - np.arange(4) * 44 / 30)
    # the last point of the layer that moved most is heavy-tailed
    points = shown[0].collections[-1]
    assert tuple(points.get_facecolors()[-1]) == to_rgba(PHASE_COLORS["heavy_tailed"])


def test_plot_history_iv(frame) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="`max_layers` must be an int >= 1; got 0"):
        plot_history(frame, max_layers=0)
    with pytest.raises(ValueError, match="no column 'nope'"):
        plot_history(frame, metric="nope")
