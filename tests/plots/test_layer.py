"""Layer figures: the artists sit where the fits say, not only that a figure exists."""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import matplotlib  # noqa: F401  (an extra CI installs)
import numpy as np
import pytest

import htsr
from htsr.errors import MissingExtraError
from htsr.fit.mp import fit_mp, mp_pdf
from htsr.fit.powerlaw import fit_power_law, power_law_scan
from htsr.plots import (
    layer_data,
    plot_esd,
    plot_esd_loglog,
    plot_layer,
    plot_mp,
    plot_xmin_scan,
    power_law_line,
)
from htsr.rmt import pareto_matrix, spiked_matrix

#: Relative tolerance for coordinates read back from artists (float64 round trips only).
RTOL = 1e-12


def by_gid(ax, gid):  # type: ignore[no-untyped-def]
    return [a for a in ax.get_children() if a.get_gid() == gid]


@pytest.fixture(scope="module")
def pareto_evals() -> np.ndarray:
    W = pareto_matrix(600, 200, 2.5, rng=0)
    return htsr.esd(W).evals


@pytest.fixture(scope="module")
def spiked():  # type: ignore[no-untyped-def]
    # two strengths well above the BBP threshold 1/sqrt(Q) = 0.71 for Q = 2
    W = spiked_matrix(800, 400, [6.0, 12.0], rng=1)
    return htsr.esd(W, name="fc")


def fake_fit(evals: np.ndarray, xmin: float, **extra):  # type: ignore[no-untyped-def]
    """A power-law fit at a fixed xmin: alpha = 1 + n / sum ln(x / xmin) (CSN 2009 eq. 3.1)."""
    tail = evals[evals >= xmin]
    alpha = 1 + tail.size / np.log(tail / xmin).sum()
    return SimpleNamespace(
        alpha=alpha, xmin=xmin, xmax=float(evals[-1]), D=0.05, status="ok", **extra
    )


def test_power_law_line_is_the_fitted_density(pareto_evals) -> None:  # type: ignore[no-untyped-def]
    xmin = float(np.quantile(pareto_evals, 0.7))
    fit = fake_fit(pareto_evals, xmin)  # no pdf method: the formula is used
    fig = plot_esd_loglog(layer_data(pareto_evals, power_law=fit, fit_missing=False))
    ax = fig.axes[0]
    (line,) = by_gid(ax, "power_law")
    x, y = line.get_data()
    frac = np.count_nonzero(pareto_evals >= xmin) / pareto_evals.size
    # density of the tail (CSN 2009 eq. 2.2) times the tail fraction
    np.testing.assert_allclose(
        y, frac * (fit.alpha - 1) / xmin * (x / xmin) ** -fit.alpha, rtol=RTOL
    )
    assert x[0] == pytest.approx(xmin, rel=RTOL)
    assert x[-1] == pytest.approx(pareto_evals[-1], rel=RTOL)
    # a straight line of slope -alpha on log-log axes
    slope = np.polyfit(np.log10(x), np.log10(y), 1)[0]
    assert slope == pytest.approx(-fit.alpha, rel=1e-9)
    (marker,) = by_gid(ax, "xmin")
    assert marker.get_xdata() == pytest.approx([xmin, xmin], rel=RTOL)
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_loglog_with_real_fit(pareto_evals) -> None:  # type: ignore[no-untyped-def]
    fit = fit_power_law(pareto_evals)
    assert fit.ok
    data = layer_data(pareto_evals, name="fc1")
    assert data.alpha == fit.alpha and data.xmin == fit.xmin
    ax = plot_esd_loglog(data).axes[0]
    (line,) = by_gid(ax, "power_law")
    x, y = line.get_data()
    # the drawn line equals the fit's own pdf, scaled by the tail fraction
    np.testing.assert_allclose(y, fit.n_tail / pareto_evals.size * fit.pdf(x), rtol=RTOL)
    np.testing.assert_allclose(power_law_line(data)[1], y)
    assert by_gid(ax, "xmin")[0].get_xdata()[0] == fit.xmin
    # the histogram integrates to the share of eigenvalues it shows (log bins, density of all)
    (hist,) = by_gid(ax, "esd")
    values, edges = hist.get_data()[:2]
    assert np.sum(values * np.diff(edges)) == pytest.approx(data.positive.size / pareto_evals.size)
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))  # log-spaced


def test_mp_panel_marks_bulk_edge_and_spikes(spiked) -> None:  # type: ignore[no-untyped-def]
    mp = fit_mp(spiked.evals, spiked.N, spiked.M)
    assert mp.ok and mp.num_spikes == 2
    ax = plot_mp(spiked).axes[0]
    (curve,) = by_gid(ax, "mp")
    x, y = curve.get_data()
    scale = mp.n_bulk / spiked.evals.size
    np.testing.assert_allclose(y, scale * mp_pdf(x, mp.Q, mp.sigma), rtol=RTOL)
    assert by_gid(ax, "lambda_plus")[0].get_xdata()[0] == pytest.approx(mp.lambda_plus)
    assert by_gid(ax, "threshold")[0].get_xdata()[0] == pytest.approx(mp.threshold)
    spikes = spiked.evals[spiked.evals > mp.threshold]
    shown = by_gid(ax, "spikes")
    in_view = spikes[spikes <= ax.get_xlim()[1]]
    if in_view.size:
        np.testing.assert_allclose(np.sort(shown[0].get_xdata()), in_view)
    texts = " ".join(t.get_text() for t in ax.texts)
    if in_view.size < spikes.size:
        assert f"+{spikes.size - in_view.size} spikes beyond view" in texts
    assert "2 spikes" in ax.get_title()


def test_mp_panel_without_fit_says_why() -> None:
    evals = np.linspace(1, 2, 50)  # a bare array: no N, M, so no MP fit
    ax = plot_mp(layer_data(evals, fit_missing=False)).axes[0]
    assert by_gid(ax, "mp") == []
    assert "no MP fit" in " ".join(t.get_text() for t in ax.texts)


def test_xmin_scan_shows_why_xmin_was_chosen(pareto_evals) -> None:  # type: ignore[no-untyped-def]
    scan = power_law_scan(pareto_evals)
    fit = fit_power_law(pareto_evals)
    fig = plot_xmin_scan(layer_data(pareto_evals))
    ax, twin = fig.axes
    (D,) = by_gid(ax, "D")
    np.testing.assert_array_equal(D.get_xdata(), scan.xmins)
    np.testing.assert_array_equal(D.get_ydata(), scan.Ds)
    (alpha,) = by_gid(twin, "alpha")
    np.testing.assert_array_equal(alpha.get_ydata(), scan.alphas)
    (xmin,) = by_gid(ax, "xmin")
    # the marker is at the candidate with the smallest D
    assert xmin.get_xdata()[0] == fit.xmin == scan.xmins[np.argmin(scan.Ds)]


def test_randomized_esd_overlaid_only_when_given(pareto_evals) -> None:  # type: ignore[no-untyped-def]
    rand = pareto_evals[::-1] * 0.5
    with_rand = layer_data(pareto_evals, rand_evals=rand)
    for plot in (plot_esd, plot_esd_loglog):
        assert by_gid(plot(with_rand).axes[0], "rand")
        assert not by_gid(plot(layer_data(pareto_evals)).axes[0], "rand")


def test_layer_result_fields_are_used(spiked) -> None:  # type: ignore[no-untyped-def]
    fit = fake_fit(spiked.evals, float(np.quantile(spiked.evals, 0.8)))
    result = SimpleNamespace(
        name="block.0/fc[1]",
        row={"phase": "bulk_spikes", "N": spiked.N, "M": spiked.M},
        spectrum=spiked,
        power_law=fit,
        mp=None,
        rand_evals=spiked.evals * 2,
    )
    data = layer_data(result)
    assert data.power_law is fit and data.mp is not None and data.phase == "bulk_spikes"
    assert data.rand_evals is not None
    fig = plot_layer(result)
    title = fig.get_suptitle()
    assert title.startswith("block.0/fc[1]")
    assert f"α={fit.alpha:.2f}" in title and "D=0.050" in title and "bulk_spikes" in title


def test_plot_layer_panels_and_given_axes(spiked) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.figure import Figure

    fig = plot_layer(spiked, name="fc")
    assert len(fig.axes) == 5  # four panels + the alpha axis of the xmin scan
    assert [a.get_title().split(":")[0] for a in fig.axes[:3]] == [
        "ESD (linear)",
        "ESD (log-log)",
        "Marchenko-Pastur bulk",
    ]
    mine = Figure()
    ax = mine.add_subplot()
    assert plot_esd(spiked, ax=ax) is mine
    assert by_gid(ax, "esd")


def test_degenerate_inputs_do_not_raise() -> None:
    for evals in (np.zeros(20), np.ones(20), np.array([0.0, 0.0, 1.0])):
        fig = plot_layer(layer_data(evals, fit_missing=False, name="z"))
        assert "α=-" in fig.get_suptitle()
    assert math.isnan(layer_data(np.ones(5), fit_missing=False).alpha)


def test_layer_data_iv() -> None:
    with pytest.raises(ValueError, match="has no spectrum to plot"):
        layer_data(SimpleNamespace(name="x", row={}, spectrum=None))


def test_missing_matplotlib_names_the_extra(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"plot_esd.*pip install 'htsr\[plot\]'"):
        plot_esd(np.linspace(1, 2, 20))


def test_no_pyplot_and_no_backend_change() -> None:
    code = (
        "import sys, numpy as np, matplotlib, htsr\n"
        "before = matplotlib.get_backend.__module__, matplotlib.rcParams._get('backend')\n"
        "from htsr.plots import plot_layer\n"
        "fig = plot_layer(htsr.esd(np.random.default_rng(0).standard_normal((60, 30))))\n"
        "import io; fig.savefig(io.BytesIO(), format='png')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert matplotlib.rcParams._get('backend') == before[1]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=None)
    assert done.returncode == 0, done.stderr
