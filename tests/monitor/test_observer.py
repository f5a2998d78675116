from __future__ import annotations

import numpy as np
import pytest
import torch

from htsr.monitor import (
    RECORDED_COLUMNS,
    SpectralMonitor,
    SpectralObserver,
    epoch_rows,
    load_history,
)


def _model(seed: int = 0):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Linear(48, 32), torch.nn.ReLU(), torch.nn.Linear(32, 24)
        )


def test_monitor_is_an_observer():
    assert isinstance(SpectralMonitor(), SpectralObserver)


def test_observe_in_memory_records_layers_and_scalars():
    monitor = SpectralMonitor(run="r")
    model = _model()
    before = [p.detach().clone() for p in model.parameters()]
    rows = monitor.observe(model, epoch=0, test_acc=0.25, lr=0.01)
    monitor.observe(model, epoch=1, test_acc=0.5)
    # the two weight matrices; biases are skipped tensors and are not recorded
    assert rows["name"].tolist() == ["0.weight", "2.weight"]
    for col in RECORDED_COLUMNS:
        assert col in rows.columns
    history = monitor.history_
    assert history["epoch"].tolist() == [0, 0, 1, 1]
    assert history["test_acc"].tolist() == [0.25, 0.25, 0.5, 0.5]
    assert monitor.completed_epochs() == [0, 1]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # stable rank of W itself (docs/definitions.md), from the same weights
    w = model[0].weight.detach().double().numpy()
    s = np.linalg.svd(w, compute_uv=False)
    np.testing.assert_allclose(rows.loc[0, "stable_rank"], (s**2).sum() / s[0] ** 2, rtol=1e-10)
    if "alpha" in rows and rows["alpha"].notna().any():  # once the power-law fit has landed
        assert (rows["alpha"].dropna() > 1).all()


@pytest.mark.parametrize("name", ["h.sqlite", "h.parquet"])
def test_observe_saves_each_epoch_and_resumes(tmp_path, name):
    path = tmp_path / name
    first = SpectralMonitor(path, run="r")
    first.observe(_model(0), epoch=0, test_acc=0.1)
    first.observe(_model(1), epoch=1, test_acc=0.2)
    # a new process: a fresh monitor on the same file sees the finished epochs
    second = SpectralMonitor(path, run="r")
    assert second.completed_epochs() == [0, 1]
    second.observe(_model(2), epoch=2, test_acc=0.3)
    assert second.history_["epoch"].tolist() == [0, 0, 1, 1, 2, 2]
    frame = load_history(path)
    assert frame["test_acc"].tolist() == [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]


def test_every_skips_epochs():
    monitor = SpectralMonitor(every=2)
    assert monitor.observe(_model(), epoch=1).empty
    assert len(monitor.observe(_model(), epoch=2)) == 2
    assert monitor.completed_epochs() == [2]


def test_epoch_rows_guards_reserved_names():
    import htsr

    report = htsr.analyze({"w": np.random.default_rng(0).standard_normal((40, 20))})
    with pytest.raises(ValueError, match="reserved"):
        epoch_rows(report, epoch=3)


def test_observe_iv():
    with pytest.raises(ValueError, match=r"`epoch` must be an int >= 0; got -1"):
        SpectralMonitor().observe(_model(), epoch=-1)
    with pytest.raises(ValueError, match=r"`epoch` must be an int >= 0; got 1.5"):
        SpectralMonitor().observe(_model(), epoch=1.5)
    with pytest.raises(ValueError, match=r"`every` must be an int >= 1; got 0"):
        SpectralMonitor(every=0).observe(_model(), epoch=0)
