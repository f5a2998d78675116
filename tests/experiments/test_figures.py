from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd

from htsr.experiments.config import SweepConfig, run_file
from htsr.experiments.figures import plot_esd_panel, plot_metric_vs_setting
from htsr.experiments.pooled import pooled_esd, pooled_fits
from htsr.rmt import gaussian_matrix
from htsr.spectrum import esd


def _results() -> pd.DataFrame:
    rows = [
        {"name": "fc2.weight", "batch_size": bs, "seed": s, "alpha": 2.0 + i + 0.1 * s}
        for i, bs in enumerate((2, 8, 32))
        for s in (0, 1)
    ]
    return pd.DataFrame(rows)


def test_metric_plot_uses_no_pyplot():
    backend = matplotlib.rcParams._get("backend")
    ax = plot_metric_vs_setting(_results(), "batch_size", "alpha")
    assert ax.get_xscale() == "log" and len(ax.lines) >= 1
    np.testing.assert_allclose(np.asarray(ax.lines[0].get_ydata(), float), [2.05, 3.05, 4.05])
    assert matplotlib.rcParams._get("backend") == backend


def test_figures_never_import_pyplot():
    code = (
        "import sys, pandas as pd; from htsr.experiments.figures import plot_metric_vs_setting; "
        "f = pd.DataFrame({'name': ['a'] * 3, 'batch_size': [2, 8, 32], 'seed': 0, "
        "'alpha': [2.0, 3.0, 4.0]}); plot_metric_vs_setting(f, 'batch_size', 'alpha'); "
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_esd_panel_pools_seeds(tmp_path):
    config = SweepConfig(kind="batch_size", values=(2, 8), seeds=(0, 1), epochs=1)
    esd_dir = tmp_path / "esd"
    esd_dir.mkdir()
    evals = {}
    for i, (value, seed) in enumerate([(2, 0), (2, 1), (8, 0)]):
        e = esd(gaussian_matrix(120, 60, rng=i)).evals
        evals[(value, seed)] = e
        np.savez(esd_dir / f"{run_file(config.run_id(value, seed))}.npz", **{"fc2.weight": e})
    pooled = pooled_esd(esd_dir, config, 2, "fc2.weight")
    np.testing.assert_array_equal(pooled, np.sort(np.concatenate([evals[2, 0], evals[2, 1]])))
    assert pooled_esd(esd_dir, config, 8, "fc2.weight").size == 60  # seed 1 missing
    assert pooled_esd(esd_dir, config, 8, "nope").size == 0
    fits = pooled_fits(esd_dir, config, "fc2.weight", (120, 60))
    assert fits["n"].tolist() == [120, 60] and fits["batch_size"].tolist() == [2, 8]
    # Gaussian matrices: no spike beyond the MP edge, soft rank ~1
    assert (fits["spike_fraction"] == 0).all() and (abs(fits["softrank"] - 1) < 0.2).all()
    assert np.isnan(fits.attrs["rho_alpha"])  # two settings: no Spearman
    fig = plot_esd_panel(esd_dir, config, "fc2.weight", (120, 60), phases={2: "random_like x2"})
    axes = fig.axes
    assert len(axes) == 4  # 2 rows (log-log, linear with MP) x 2 settings
    assert axes[0].get_xscale() == "log" and axes[0].get_yscale() == "log"
    assert axes[0].get_title() == "batch_size=2\nrandom_like x2"
    # Gaussian matrices: the MP fit finds no spikes, and its curve is drawn on the linear row
    assert axes[2].get_title().startswith("spikes 0.0%") and len(axes[2].lines) >= 1
    fig.savefig(tmp_path / "panel.png")
    assert (tmp_path / "panel.png").stat().st_size > 1000
