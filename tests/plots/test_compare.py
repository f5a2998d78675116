"""Comparison figures: scatter with the fitted line, per-layer alpha, phase counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from htsr.compare import correlations
from htsr.plots.compare import plot_layer_alpha, plot_metric_vs_accuracy, plot_phase_counts


@pytest.fixture
def models() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alpha": [2.0, 3.0, 5.0],
            "accuracy": [0.9, 0.7, 0.6],
            "num_heavy_tailed": [3, 1, 0],
            "num_random_like": [0, 2, 3],
        },
        index=pd.Index(["a", "b", "c"], name="model"),
    )


def test_scatter_draws_the_least_squares_line(models: pd.DataFrame) -> None:
    corr = correlations(models)
    fig = plot_metric_vs_accuracy(models, "alpha", correlations=corr)
    ax = fig.axes[0]
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "fit"]
    x, y = line.get_data()
    slope, intercept = np.polyfit(models["alpha"], models["accuracy"], 1)  # numpy reference
    np.testing.assert_allclose(y, intercept + slope * np.asarray(x), rtol=1e-12)
    assert "Kendall tau -1.00" in ax.get_title()


def test_layer_alpha_one_line_per_model_and_phase_bars(models: pd.DataFrame) -> None:
    layers = pd.DataFrame(
        {
            "model": ["a", "a", "b", "b", "b"],
            "status": ["ok", "ok", "ok", "skipped: x", "ok"],
            "alpha": [2.0, 3.0, 4.0, np.nan, 5.0],
        }
    )
    ax = plot_layer_alpha(layers).axes[0]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["a", "b"]
    np.testing.assert_array_equal(lines[1].get_ydata(), [4.0, 5.0])
    bars = plot_phase_counts(models).axes[0].patches
    heights = [p.get_height() for p in bars]
    assert heights == [0, 2, 3, 3, 1, 0]  # random_like stacked under heavy_tailed, model order
