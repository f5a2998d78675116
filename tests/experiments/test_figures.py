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
    # the pooled ESD's own phase (the phase rules on the seeds' eigenvalues as slices)
    assert fits["phase"].tolist() == ["random_like", "random_like"]
    fig = plot_esd_panel(esd_dir, config, "fc2.weight", (120, 60), phases={2: "random_like x2"})
    axes = fig.axes
    assert len(axes) == 4  # 2 rows (log-log, linear with MP) x 2 settings
    assert axes[0].get_xscale() == "log" and axes[0].get_yscale() == "log"
    assert axes[0].get_title() == "batch_size=2\nrandom_like x2"
    # Gaussian matrices: the MP fit finds no spikes, and its curve is drawn on the linear row
    assert axes[2].get_title().startswith("spikes 0.0%") and len(axes[2].lines) >= 1
    fig.savefig(tmp_path / "panel.png")
    assert (tmp_path / "panel.png").stat().st_size > 1000


def test_pooled_phase_sees_a_spike_shared_by_the_seeds(tmp_path):
    # each seed: Gaussian noise plus the same strong rank-one signal -> bulk + spikes
    config = SweepConfig(kind="batch_size", values=(4,), seeds=(0, 1, 2), epochs=1)
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(200), rng.standard_normal(100)
    signal = np.outer(u / np.linalg.norm(u), v / np.linalg.norm(v))
    for seed in config.seeds:
        noise = gaussian_matrix(200, 100, rng=seed)
        # singular value 3x the bulk edge sigma (sqrt N + sqrt M): far above it (BBP)
        w = noise + 3.0 * noise.std() * (np.sqrt(200) + np.sqrt(100)) * signal
        e = esd(w).evals
        path = tmp_path / f"{run_file(config.run_id(4, seed))}.npz"
        np.savez(path, **{"fc2.weight": e})
    fits = pooled_fits(tmp_path, config, "fc2.weight", (200, 100))
    assert fits["n"].tolist() == [300]
    assert fits["phase"].tolist() == ["bulk_spikes"]
    np.testing.assert_allclose(fits["spike_fraction"], 3 / 300)  # one spike per seed


def test_esd_panel_wraps_into_bands(tmp_path):
    config = SweepConfig(kind="batch_size", values=(2, 8, 32), seeds=(0,), epochs=1)
    for i, value in enumerate(config.values):
        e = esd(gaussian_matrix(80, 40, rng=i)).evals
        np.savez(tmp_path / f"{run_file(config.run_id(value, 0))}.npz", **{"fc2.weight": e})
    fig = plot_esd_panel(tmp_path, config, "fc2.weight", (80, 40), columns=2)
    # two bands of two rows; the last band's second column is removed
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles.count("batch_size=32") == 1 and titles.count("batch_size=2") == 1
