"""Execution on a local process pool and on a real local Dask cluster: the same rows, bit for
bit, in the same order; an interrupt cancels the pending work."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
    # a large enough Gram for multi-threaded BLAS to split its sums (the 3.5e-13 of issue 10)
    tensors["layers.12.weight"] = rng.standard_normal((600, 400)).astype(np.float32)
    save_file(tensors, path)
    return path


def _sequential(path: Path) -> pd.DataFrame:
    with pytest.warns(htsr.LayerErrorsWarning):
        return htsr.analyze(path, randomize=True, rng=7).layers


def test_process_pool_matches_sequential_exactly(checkpoint: Path) -> None:
    with pytest.warns(htsr.LayerErrorsWarning):
        parallel = htsr.analyze(checkpoint, executor=2, randomize=True, rng=7).layers
    pd.testing.assert_frame_equal(parallel, _sequential(checkpoint), check_exact=True)


def test_dask_local_cluster_matches_sequential(checkpoint: Path) -> None:
    import distributed  # the dask extra; CI installs it

    with (
        # one in-process worker with two threads: fast to start, and its threads share the
        # process-wide BLAS limit
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.warns(htsr.LayerErrorsWarning),
    ):
        on_dask = htsr.analyze(
            checkpoint, executor=client.get_executor(), randomize=True, rng=7
        ).layers
    pd.testing.assert_frame_equal(on_dask, _sequential(checkpoint), check_exact=True)


class _RecordingExecutor(ThreadPoolExecutor):
    """A real one-thread executor that keeps the futures it hands out and their tensors."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.futures: list[Future[Any]] = []
        self.names: list[str] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        self.names.append(args[0].name)
        return future


def test_pool_takes_the_largest_tensors_first_rows_stay_in_model_order(
    checkpoint: Path,
) -> None:
    with _RecordingExecutor() as pool, pytest.warns(htsr.LayerErrorsWarning):
        layers = htsr.analyze(checkpoint, executor=pool, randomize=True, rng=7).layers
    # cost k (N M^2 + M^3): the 600 x 400 layer first, then M = 128, 120, ... 40
    assert pool.names == [f"layers.{i}.weight" for i in (12, *range(11, -1, -1))]
    pd.testing.assert_frame_equal(layers, _sequential(checkpoint), check_exact=True)


def _interrupt(done: int, total: int, name: str) -> None:
    if done == 1:  # the second tensor finished (a pool takes the largest first)
        raise KeyboardInterrupt


def test_interrupt_cancels_pending_work(checkpoint: Path) -> None:
    with _RecordingExecutor() as pool:
        with pytest.raises(KeyboardInterrupt):
            htsr.analyze(checkpoint, executor=pool, progress=_interrupt)
        assert len(pool.futures) == 13
        # at most the task running when the interrupt came is not cancelled
        assert sum(f.cancelled() for f in pool.futures) >= 13 - 3


def test_interrupt_with_a_process_pool_propagates(checkpoint: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool:
        with pytest.raises(KeyboardInterrupt):
            htsr.analyze(checkpoint, executor=pool, progress=_interrupt)
        # the pool is the caller's and still works; the next run is complete and exact
        with pytest.warns(htsr.LayerErrorsWarning):
            rerun = htsr.analyze(checkpoint, executor=pool, randomize=True, rng=7).layers
    pd.testing.assert_frame_equal(rerun, _sequential(checkpoint), check_exact=True)


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
