from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from htsr.experiments import figures
from htsr.experiments.config import SweepConfig
from htsr.experiments.outputs import PANEL_MIN_EVALS, write_plots


def test_esd_panels_only_for_readable_layers(tmp_path, monkeypatch):
    # the widest layer gets a panel, and so does any layer with PANEL_MIN_EVALS eigenvalues
    # or more; a 30 x 10 layer (too few eigenvalues to read an MP bulk or a tail) does not
    drawn = []

    def panel(esd_dir, config, layer, shape, *, phases=None):
        drawn.append((layer, shape))
        return Figure(figsize=(1, 1))

    monkeypatch.setattr(figures, "plot_esd_panel", panel)
    monkeypatch.setattr(figures, "metric_figure", lambda *a, **k: Figure(figsize=(1, 1)))
    shapes = {"big": (150, 120), "mid": (200, PANEL_MIN_EVALS), "small": (30, 10)}
    config = SweepConfig(kind="batch_size", values=(4, 16), seeds=(0,), epochs=1)
    rows = [
        {"name": name, "batch_size": value, "seed": 0, "N": n, "M": m, "phase": "random_like"}
        for value in config.values
        for name, (n, m) in shapes.items()
    ]
    files = write_plots(pd.DataFrame(rows), config, tmp_path)
    assert drawn == [("big", (150, 120)), ("mid", (200, PANEL_MIN_EVALS))]
    assert sorted(k for k in files if k.startswith("esd_")) == ["esd_big", "esd_mid"]
    assert not (tmp_path / "esd_small.png").exists()

    # a sweep that analyses one small layer still gets its panel (it is the widest)
    drawn.clear()
    small = pd.DataFrame([r for r in rows if r["name"] == "small"])
    write_plots(small, config, tmp_path)
    assert drawn == [("small", (30, 10))]
