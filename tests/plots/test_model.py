"""Model figures: alpha by layer coloured by phase, norms, phase counts, ESD overview."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

import htsr
from htsr.plots import (
    PHASE_COLORS,
    PHASES,
    layer_legend,
    model_frame,
    plot_alpha,
    plot_esd_overview,
    plot_model,
    plot_norms,
    plot_phase_counts,
)
from htsr.plots.model import esd_overview
from htsr.rmt import gaussian_matrix, pareto_matrix


def by_gid(ax, gid):  # type: ignore[no-untyped-def]
    return [a for a in ax.get_children() if a.get_gid() == gid]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """A table as the analysis writes it, with phases (one skipped row, not drawn)."""
    return pd.DataFrame(
        {
            "name": ["l0", "l1", "bias", "l2", "l3", "l4"],
            "status": ["ok", "ok", "skipped: 1-D tensor", "ok", "ok", "ok"],
            "alpha": [6.5, 3.1, np.nan, 2.2, 1.7, np.nan],
            "D": [0.1, 0.05, np.nan, 0.04, 0.03, np.nan],
            "phase": [
                "random_like",
                "heavy_tailed",
                None,
                "heavy_tailed",
                "heavy_tailed",
                "rank_collapse",
            ],
            "log_norm": [1.0, 2.0, np.nan, 3.0, 4.0, 0.5],
            "stable_rank": [50.0, 20.0, np.nan, 10.0, 5.0, 1.0],
        }
    )


@pytest.fixture(scope="module")
def report() -> htsr.Report:
    return htsr.analyze(
        {
            "a.weight": gaussian_matrix(300, 100, rng=0),
            "b.weight": pareto_matrix(400, 100, 1.5, rng=1),
            "b.bias": np.ones(100),
            "c.weight": gaussian_matrix(200, 200, rng=2),
        }
    )


def test_model_frame_keeps_analysed_rows_in_order(frame) -> None:  # type: ignore[no-untyped-def]
    got = model_frame(frame)
    assert list(got["name"]) == ["l0", "l1", "l2", "l3", "l4"]
    # the layer number is the row's position in the table (the skipped row keeps its number)
    assert list(got.index) == [0, 1, 3, 4, 5]
    assert layer_legend(frame).loc[3, "name"] == "l2"


def test_model_frame_leaves_out_vectors_and_never_refits(report) -> None:  # type: ignore[no-untyped-def]
    got = model_frame(report)
    assert list(got["name"]) == ["a.weight", "b.weight", "c.weight"]
    assert list(got.index) == [0, 1, 2]  # the bias is not a layer: no number
    assert set(got["phase"]) <= set(PHASES) | {"unknown"}
    bare = report.layers.drop(columns=["alpha", "D"])
    assert model_frame(bare)["alpha"].isna().all()  # NaN, not a refit


def test_layer_axis_readable_at_any_layer_count() -> None:
    n = 500
    frame = pd.DataFrame(
        {
            "name": [f"model.encoder.layer.{i}.attention.output.dense.weight" for i in range(n)],
            "status": ["ok"] * n,
            "alpha": np.linspace(2, 5, n),
            "phase": ["heavy_tailed"] * n,
        }
    )
    ax = plot_alpha(frame).axes[0]
    ticks = [float(t) for t in ax.get_xticks() if -1 < t < n]
    assert len(ticks) <= 13 and all(t.is_integer() for t in ticks)
    assert ax.get_xlabel().startswith("layer #")


def test_alpha_by_layer_coloured_by_phase(frame) -> None:  # type: ignore[no-untyped-def]
    ax = plot_alpha(frame).axes[0]
    heavy = by_gid(ax, "alpha:heavy_tailed")[0]
    # layer numbers (rows of the table), model order
    np.testing.assert_array_equal(heavy.get_offsets(), [[1, 3.1], [3, 2.2], [4, 1.7]])
    assert tuple(heavy.get_facecolor()[0]) == to_rgba(PHASE_COLORS["heavy_tailed"])
    assert by_gid(ax, "alpha:random_like")[0].get_offsets().tolist() == [[0, 6.5]]
    assert ax.get_xlabel() == "layer # (model order)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert (
        legend.index("random_like") < legend.index("heavy_tailed") < legend.index("rank_collapse")
    )


def test_phase_counts(frame) -> None:  # type: ignore[no-untyped-def]
    ax = plot_phase_counts(frame).axes[0]
    bars = by_gid(ax, "phase_counts")  # one rectangle per phase
    assert [b.get_height() for b in bars] == [1, 3, 1]
    labels = [t.get_text().replace("\n", "_") for t in ax.get_xticklabels()]
    assert labels == ["random_like", "heavy_tailed", "rank_collapse"]  # PHASES order
    assert tuple(bars[2].get_facecolor()) == to_rgba(PHASE_COLORS["rank_collapse"])


def test_norms_by_layer(frame) -> None:  # type: ignore[no-untyped-def]
    fig = plot_norms(frame)
    assert [a.get_ylabel() for a in fig.axes] == ["log_norm", "stable_rank"]
    (line,) = by_gid(fig.axes[1], "norm:stable_rank")
    np.testing.assert_array_equal(line.get_ydata(), [50, 20, 10, 5, 1])
    single = plot_norms(frame, metrics=("log_norm",), ax=fig.axes[0])
    assert single is fig


def test_esd_overview_rows_are_layers(report) -> None:  # type: ignore[no-untyped-def]
    edges, image, names = esd_overview(report, bins=40)
    assert names == ["a.weight", "b.weight", "c.weight"]
    assert image.shape == (3, 40) and len(edges) == 41
    np.testing.assert_allclose(np.nanmax(image, axis=1), 1.0)
    # the Pareto layer's eigenvalues reach far above the Gaussian ones
    assert np.flatnonzero(image[1] > 0).max() > np.flatnonzero(image[0] > 0).max()
    ax = plot_esd_overview(report, bins=40).axes[0]
    (mesh,) = by_gid(ax, "esd_overview")
    assert mesh.get_array().shape == (3, 40)


def test_plot_model(report) -> None:  # type: ignore[no-untyped-def]
    fig = plot_model(report)
    assert fig.get_suptitle().startswith("htsr")
    titles = " ".join(a.get_title() for a in fig.axes)
    for word in ("α by layer", "phases", "norm metrics", "ESD overview"):
        assert word in titles
    assert report.plot_model().get_suptitle() == fig.get_suptitle()


def test_report_plot_layer(report) -> None:  # type: ignore[no-untyped-def]
    fig = report.plot_layer("b.weight")
    assert fig.get_suptitle().startswith("b.weight")
    with pytest.raises(KeyError, match="no layer named"):
        report.plot_layer("nope")


def test_plots_need_a_table() -> None:
    with pytest.raises(TypeError, match="expected a Report"):
        plot_alpha([1, 2, 3])
