from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from fixtures.cifar import write_cifar
from htsr.errors import HtsrError, SourceError
from htsr.experiments.config import (
    BATCH_SIZES,
    BATCH_SIZES_DENSE,
    BATCH_SIZES_QUICK,
    L2_VALUES,
    PAPER,
    QUICK,
    SweepConfig,
)
from htsr.experiments.sweeps import collect, run_cost, run_sweep

TINY = SweepConfig(
    kind="batch_size",
    values=(8, 64),
    data="digits",
    model="mlp1d",
    seeds=(0, 1),
    epochs=1,
    max_train=128,
    max_test=64,
    layers="fc1",  # one layer analysed per epoch keeps the test fast
    threads=1,
)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    import sklearn  # noqa: F401  (an extra CI installs)

    out = tmp_path_factory.mktemp("sweep")
    calls = []
    result = run_sweep(TINY, out, plots=False, progress=lambda *a: calls.append(a))
    return result, out, calls


def test_sweep_writes_results_and_summary(tiny_sweep):
    result, out, calls = tiny_sweep
    # the progress callback: once before the runs, then after each epoch and each run, in
    # units of work (1 epoch per run here)
    assert [c[2] for c in calls] == ["starting", *(r for r in result.ran for _ in range(2))]
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1]
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))
    assert sorted(result.ran) == sorted(
        [
            "batch_size=8/seed=0",
            "batch_size=8/seed=1",
            "batch_size=64/seed=0",
            "batch_size=64/seed=1",
        ]
    )
    frame = pd.read_csv(out / "results.csv")
    # one row per run and monitored layer at the final epoch: 4 runs x fc1
    assert len(frame) == 4 and set(frame["epoch"]) == {1}
    assert set(frame["name"]) == {"fc1.weight"}
    for col in (
        "batch_size",
        "seed",
        "epoch",
        "train_acc",
        "test_acc",
        "gap",
        "alpha",
        "phase",
        "mp_softrank",
        "spike_fraction",
        "stable_rank",
        "rank_collapse_fraction",
    ):
        assert col in frame.columns, col
    assert (frame["gap"] == frame["train_acc"] - frame["test_acc"]).all()
    trajectories = pd.read_csv(out / "trajectories.csv")
    assert set(trajectories["epoch"]) == {0, 1}
    assert "## Spearman" in (out / "summary.md").read_text()
    assert (out / "esd" / "batch_size-8__seed-0.npz").is_file()
    assert "accuracy_plot" not in result.files  # plots=False


def test_rerun_skips_finished_runs_and_extends(tiny_sweep):
    _, out, _ = tiny_sweep
    again = run_sweep(TINY, out, plots=False)
    assert again.ran == [] and len(again.skipped) == 4


def _fields(config):
    return {f: getattr(config, f) for f in config.__dataclass_fields__}


def test_different_sweep_in_same_dir_is_refused(tiny_sweep):
    _, out, _ = tiny_sweep
    changed = SweepConfig(**{**_fields(TINY), "lr": 0.1})
    with pytest.raises(HtsrError, match=r"holds a different sweep \(changed: \{'lr'"):
        run_sweep(changed, out)


def test_interrupted_sweep_resumes_without_recomputing(tmp_path, monkeypatch):
    import sklearn  # noqa: F401  (an extra CI installs)

    config = SweepConfig(**{**_fields(TINY), "values": (16,), "seeds": (0,), "epochs": 2})
    import htsr.experiments.train as train_mod

    real = train_mod.evaluate
    calls = {"n": 0}

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 2's first evaluation: the process dies
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", dying)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(config, tmp_path, plots=False)
    monkeypatch.setattr(train_mod, "evaluate", real)
    result = run_sweep(config, tmp_path, plots=False)
    assert result.ran == ["batch_size=16/seed=0"]
    history, final = collect(tmp_path / "history.sqlite", config)
    assert history["epoch"].tolist() == [0, 1, 2]
    assert len(final) == 1
    meta = json.loads((tmp_path / "sweep.json").read_text())
    assert meta["identity"]["epochs"] == 2


def test_minialexnet_on_cifar_fixture_end_to_end(tmp_path):
    path = write_cifar(tmp_path / "data", per_batch=4, n_test=6, tarball=True)
    config = SweepConfig(
        kind="l2",
        values=(1e-3,),
        model="minialexnet",
        data="cifar10",
        data_path=str(path),
        seeds=(0,),
        epochs=1,
        batch_size=10,
        layers="fc",  # the convolutions train but are not analysed (slow here)
        threads=1,
    )
    result = run_sweep(config, tmp_path / "out", plots=False)
    names = list(dict.fromkeys(result.results["name"]))
    assert names == ["fc1.weight", "fc2.weight", "fc3.weight"]
    fc1 = result.results[result.results["name"] == "fc1.weight"]
    assert fc1["N"].tolist() == [4096] and fc1["M"].tolist() == [384]
    assert fc1["l2"].tolist() == [1e-3]


def test_bad_cifar_path_fails_before_training(tmp_path):
    config = SweepConfig(
        kind="batch_size",
        values=(8,),
        model="minialexnet",
        data="cifar10",
        data_path=str(tmp_path / "nope"),
        epochs=1,
    )
    with pytest.raises(SourceError, match="expected the CIFAR-10 python version"):
        run_sweep(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "dropout"}, r"`kind` must be one of \('batch_size', 'l2'\)"),
        ({"values": ()}, "at least one setting"),
        ({"seeds": ()}, "at least one seed"),
        ({"values": (2.5,)}, "batch sizes must be ints >= 1"),
        ({"values": (8, 8)}, "settings must be distinct"),
        ({"kind": "l2", "values": (-1.0,)}, "L2 strengths must be >= 0"),
    ],
)
def test_sweep_iv(tmp_path, changes, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(SweepConfig(**{**_fields(TINY), **changes}), tmp_path)


def test_presets_are_the_documented_ones():
    quick, paper = QUICK["batch_size"], PAPER["batch_size"]
    assert BATCH_SIZES == (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
    # the paper preset: 2 to 1024 by a factor sqrt(2), every power of two included
    assert paper.values == BATCH_SIZES_DENSE
    assert len(BATCH_SIZES_DENSE) == 19 and set(BATCH_SIZES) <= set(BATCH_SIZES_DENSE)
    ratios = np.diff(np.log2(BATCH_SIZES_DENSE))
    np.testing.assert_allclose(ratios, 0.5, atol=0.09)  # 3/2 and 4/3 at the small end
    # the quick preset: factor 2 up to 16, sqrt(2) up to 512, 2**(1/4) up to 1024
    assert quick.values == BATCH_SIZES_QUICK and set(BATCH_SIZES) <= set(BATCH_SIZES_QUICK)
    steps = np.diff(np.log2(BATCH_SIZES_QUICK))
    np.testing.assert_allclose(steps[:3], 1.0)
    np.testing.assert_allclose(steps[3:13], 0.5, atol=0.03)
    np.testing.assert_allclose(steps[13:], 0.25, atol=0.01)
    assert set(BATCH_SIZES_QUICK) <= {round(2 * 2 ** (k / 4)) for k in range(37)}
    assert quick.model == "mlp_wide" and quick.data == "mnist1d" and len(quick.seeds) == 3
    assert quick.num_samples == paper.num_samples == QUICK["l2"].num_samples == 5000
    assert (paper.epochs, len(paper.seeds), paper.lr, paper.momentum, paper.lr_decay) == (
        100,
        10,
        0.01,
        0.9,
        0.95,
    )
    assert QUICK["l2"].l2_layers == ("fc2",) and QUICK["l2"].values == L2_VALUES
    assert {1e-3, 5e-3} <= set(L2_VALUES)  # the paper's strengths


def test_run_cost():
    # 1000 samples: batch 2 takes 500 steps per epoch, batch 1000 one
    assert run_cost(1000, 2, 3) == 3 * (500 + 1000 / 64)
    assert run_cost(1000, 1000, 3) == 3 * (1 + 1000 / 64)


def test_min_steps_sweep_records_each_runs_final_epoch(tmp_path):
    import sklearn  # noqa: F401  (an extra CI installs)

    config = SweepConfig(**{**_fields(TINY), "values": (16, 128), "seeds": (0,), "min_steps": 4})
    result = run_sweep(config, tmp_path, plots=False)
    # 128 samples: batch 16 takes 8 steps in its 1 epoch, batch 128 needs 4 epochs for 4 steps
    final = result.results.set_index("batch_size")["epoch"].to_dict()
    assert final == {16: 1, 128: 4}
    assert set(result.trajectories.loc[result.trajectories["batch_size"] == 128, "epoch"]) == {
        0,
        1,
        2,
        3,
        4,
    }
