"""``htsr analyze`` flags for large models: --device, --cache, --dask, --max-evals, --max-n."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from htsr.cli import main


@pytest.fixture
def model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    path = tmp_path / "m.safetensors"
    save_file(
        {
            "fc1.weight": rng.standard_normal((64, 32)).astype(np.float32),
            "attn.qkv_proj.weight": rng.standard_normal((96, 32)).astype(np.float32),
            "fc2.weight": rng.standard_normal((400, 200)).astype(np.float32),
        },
        path,
    )
    return path


def _csv(args: list[str], tmp_path: Path, name: str) -> pd.DataFrame:
    out = tmp_path / f"{name}.csv"
    result = CliRunner().invoke(main, ["analyze", *args, "--quiet", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out)


def test_device_cache_and_caps(model: Path, tmp_path: Path) -> None:
    plain = _csv([str(model)], tmp_path, "plain")
    assert plain["name"].tolist() == [
        "attn.qkv_proj.weight[q]",
        "attn.qkv_proj.weight[k]",
        "attn.qkv_proj.weight[v]",
        "fc1.weight",
        "fc2.weight",
    ]
    on_cpu_torch = _csv([str(model), "--device", "cpu"], tmp_path, "torch")
    np.testing.assert_allclose(on_cpu_torch["lambda_max"], plain["lambda_max"], rtol=1e-9)
    cache = tmp_path / "cache"
    first = _csv([str(model), "--cache", str(cache)], tmp_path, "first")
    assert len(list(cache.glob("*.npz"))) == 3  # one entry per tensor
    resumed = _csv([str(model), "--cache", str(cache)], tmp_path, "resumed")
    pd.testing.assert_frame_equal(resumed, first, check_exact=True)
    pd.testing.assert_frame_equal(first, plain, check_exact=True)
    capped = _csv([str(model), "--max-evals", "100", "--max-n", "300"], tmp_path, "capped")
    status = dict(zip(capped["name"], capped["status"], strict=True))
    assert status["fc2.weight"] == "skipped: too many eigenvalues (200 > max_evals=100)"
    capped = _csv([str(model), "--max-n", "50"], tmp_path, "capped_n")
    assert capped["status"].iloc[3] == "skipped: N = 64 > max_N=50"


def test_dask_address(model: Path, tmp_path: Path) -> None:
    import distributed

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        on_dask = _csv([str(model), "--dask", cluster.scheduler_address], tmp_path, "dask")
    pd.testing.assert_frame_equal(on_dask, _csv([str(model)], tmp_path, "serial"), check_exact=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--jobs", "2", "--dask", "tcp://127.0.0.1:1"],
            "--jobs and --dask cannot be used together",
        ),
        (["--dask", "tcp://127.0.0.1:1"], "--dask tcp://127.0.0.1:1: cannot connect"),
        (["--device", "cuda:9"], "`device` 'cuda:9' is not available"),
    ],
)
def test_bad_flags_exit_2(model: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["analyze", str(model), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
