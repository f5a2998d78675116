"""Execution on a local process pool and on a real local Dask cluster: same rows, same order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

import htsr


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("ckpt") / "m.safetensors"
    tensors = {
        f"layers.{i}.weight": rng.standard_normal((120, 40 + 8 * i)).astype(np.float32)
        for i in range(12)
    }
    tensors["layers.3.weight"][0, 0] = np.nan  # one bad layer travels through workers too
    save_file(tensors, path)
    return path


def _sequential(path: Path) -> pd.DataFrame:
    with pytest.warns(htsr.LayerErrorsWarning):
        return htsr.analyze(path).layers


def test_process_pool_matches_sequential(checkpoint: Path) -> None:
    with pytest.warns(htsr.LayerErrorsWarning):
        parallel = htsr.analyze(checkpoint, executor=2).layers
    pd.testing.assert_frame_equal(parallel, _sequential(checkpoint))


def test_dask_local_cluster_matches_sequential(checkpoint: Path) -> None:
    import distributed  # the dask extra; CI installs it

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.warns(htsr.LayerErrorsWarning),
    ):
        on_dask = htsr.analyze(checkpoint, executor=client.get_executor()).layers
    pd.testing.assert_frame_equal(on_dask, _sequential(checkpoint))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"executor": "threads"}, "`executor` must be None, .processes., a number"),
        ({"executor": 0}, "a number of processes >= 1"),
    ],
)
def test_executor_iv(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        htsr.analyze({"w": np.ones((20, 20))}, **kwargs)
