"""Execution on a local process pool and on a real local Dask cluster: the same rows, bit for
bit, in the same order; an interrupt cancels the pending work."""

from __future__ import annotations

import time
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
    """A real one-thread executor that keeps the futures it hands out, their tensors and
    when each task started."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(max_workers=1)
        self.delay = delay  # seconds each task waits before it runs
        self.futures: list[Future[Any]] = []
        self.names: list[str] = []
        self.started: list[float] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        def timed(*a, **k):  # type: ignore[no-untyped-def]
            self.started.append(time.monotonic())
            time.sleep(self.delay)
            return fn(*a, **k)

        future = super().submit(timed, *args, **kwargs)
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


_INTERRUPTED: list[float] = []


def _interrupt(done: int, total: int, name: str) -> None:
    if done == 1:  # the second tensor finished (a pool takes the largest first)
        _INTERRUPTED.append(time.monotonic())
        raise KeyboardInterrupt


def test_interrupt_cancels_pending_work(checkpoint: Path) -> None:
    _INTERRUPTED.clear()
    with _RecordingExecutor(delay=0.05) as pool:  # the tasks outlast this thread's fits
        with pytest.raises(KeyboardInterrupt):
            htsr.analyze(checkpoint, executor=pool, progress=_interrupt)
        assert len(pool.futures) == 13
    # every task is finished or cancelled, and none started after the interrupt but the one
    # the pool's thread may have been taking at that moment (the fits run in this thread, so
    # the pool's thread can be several tensors ahead of the progress callback)
    assert all(f.done() for f in pool.futures)
    assert sum(f.cancelled() for f in pool.futures) >= 13 - 4
    assert sum(t > _INTERRUPTED[0] for t in pool.started) <= 1
    assert len(pool.started) + sum(f.cancelled() for f in pool.futures) == 13


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


def test_a_worker_imports_no_fits_pandas_or_report() -> None:
    """What a spawned worker imports (``htsr.compute``, through the lazy package root) leaves
    out the heavy modules only the calling process needs: the fits (scipy.stats), pandas and
    the report."""
    import subprocess
    import sys

    code = (
        "import sys, htsr._execution; htsr._execution._warm_worker(); "
        "print(' '.join(m for m in sys.modules if m.split('.')[0] == 'pandas' "
        "or m.startswith(('scipy.stats', 'htsr.fit', 'htsr.report', 'htsr.metrics', "
        "'htsr.analysis', 'htsr.phases'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not out, f"a worker imported {out}"


def test_package_root_names_load_on_first_use() -> None:
    import htsr.report

    assert htsr.analyze is htsr.analysis.analyze
    assert htsr.Report is htsr.report.Report
    assert htsr.sources.open_model is not None  # a submodule, as after ``import htsr.sources``
    assert {"analyze", "describe", "compare", "esd", "load_report"} <= set(dir(htsr))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        htsr.not_a_name  # noqa: B018


def test_functions_named_like_their_module_stay_functions() -> None:
    """``htsr.compare`` / ``htsr.distances`` are the functions even when their submodules were
    imported first (which binds a submodule on the package), in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import htsr.distances, htsr.compare, htsr; "
        "print(callable(htsr.compare), callable(htsr.distances))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_fits_failing_in_the_caller_give_the_tensors_error_row(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fits run in the calling process, on the spectra a worker sends back; an unexpected
    failure there is that tensor's ``error:`` row, the other rows go on."""
    import htsr.analysis

    real = htsr.analysis.fit_layer

    def failing(spectrum):  # type: ignore[no-untyped-def]
        if spectrum.M == 48:  # layers.1
            raise RuntimeError("boom")
        return real(spectrum)

    monkeypatch.setattr(htsr.analysis, "fit_layer", failing)
    with pytest.warns(htsr.LayerErrorsWarning):
        layers = htsr.analyze(checkpoint).layers.set_index("name")
    assert layers.loc["layers.1.weight", "status"] == "error: RuntimeError: boom"
    assert layers.loc["layers.2.weight", "status"] == "ok"


def test_pinned_torch_sets_one_thread_and_the_last_to_leave_restores() -> None:
    import torch

    from htsr._execution import pinned_torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pinned_torch():
            assert torch.get_num_threads() == 1
            with pinned_torch():  # nested (or another thread's block): still one thread
                assert torch.get_num_threads() == 1
            assert torch.get_num_threads() == 1  # the outer block has not left yet
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_torch_device_run_solves_on_one_torch_thread(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torch's CPU eigensolver uses one thread per core unless pinned: N workers would run
    # N x cores threads; the serial run checks the thread count its solver calls see
    import torch

    import htsr.spectrum as spectrum

    seen: list[int] = []
    real = spectrum._torch_eigh  # the solver of both torch routes

    def recording(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(spectrum, "_torch_eigh", recording)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.warns(htsr.LayerErrorsWarning):
            on_torch = htsr.analyze(checkpoint, device="cpu").layers
        assert len(seen) == int((on_torch.status == "ok").sum()) > 0
        assert set(seen) == {1}
        assert torch.get_num_threads() == 2  # restored after the run
    finally:
        torch.set_num_threads(before)
