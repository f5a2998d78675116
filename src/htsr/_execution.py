"""Where per-tensor work runs: this process, a local process pool, or any executor.

Results are handed back as each task finishes (for the cache and the progress display);
an interrupt or an error cancels every pending task and shuts an own pool down at once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

_CONTROLLER: Any = None
_PIN_LOCK = threading.Lock()
_PIN_DEPTH = 0
_PIN_LIMITER: Any = None


@contextmanager
def pinned_blas() -> Iterator[None]:
    """One BLAS thread inside the block (threadpoolctl), whatever process runs it.

    BLAS kernels split sums differently with different thread counts, so the Gram matrix
    (and every number after it) changes in the last bits with the count: up to 3.5e-13
    relative between a 2-thread serial run and 1-thread workers. Pinning every run to one
    thread makes them bit-identical; oversubscribed OpenBLAS was also up to 12x slower in
    parallel runs (docs/engine.md). The controller is built once per process (~1.6 ms).
    BLAS thread limits are process-wide, so the blocks of concurrent threads (a thread pool,
    a Dask worker with several threads) share one limit, set by the first to enter and
    restored by the last to leave.
    """
    global _CONTROLLER, _PIN_DEPTH, _PIN_LIMITER
    with _PIN_LOCK:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        if _PIN_DEPTH == 0:
            _PIN_LIMITER = _CONTROLLER.limit(limits=1, user_api="blas")
        _PIN_DEPTH += 1
    try:
        yield
    finally:
        with _PIN_LOCK:
            _PIN_DEPTH -= 1
            if _PIN_DEPTH == 0:
                _PIN_LIMITER.restore_original_limits()
                _PIN_LIMITER = None


_TORCH_LOCK = threading.Lock()
_TORCH_DEPTH = 0
#: Torch's thread count before the first of the concurrent pinned blocks set it to 1.
_TORCH_BEFORE = 0


@contextmanager
def pinned_torch() -> Iterator[None]:
    """One torch intra-op thread for the torch work of the block (``torch.set_num_threads``).

    Torch's CPU kernels, its eigensolver (``device="cpu"``: the LAPACK inside the torch wheel,
    which threadpoolctl does not reach) included, use one thread per core by default, so N
    workers would run N x cores threads. OpenMP's thread count (its ``nthreads-var``) is a
    setting of each thread, so every thread that enters sets it; the count from before the
    first concurrent block is restored by the last to leave, as :func:`pinned_blas` does.
    """
    global _TORCH_BEFORE, _TORCH_DEPTH
    import torch

    with _TORCH_LOCK:
        if _TORCH_DEPTH == 0:
            _TORCH_BEFORE = torch.get_num_threads()
        _TORCH_DEPTH += 1
        torch.set_num_threads(1)
    try:
        yield
    finally:
        with _TORCH_LOCK:
            _TORCH_DEPTH -= 1
            if _TORCH_DEPTH == 0:
                torch.set_num_threads(_TORCH_BEFORE)


def executor_iv(executor: object) -> None:
    """Validate the ``executor`` option of :func:`htsr.analyze`."""
    if executor is None or executor == "processes" or isinstance(executor, Executor):
        return
    if isinstance(executor, int) and not isinstance(executor, bool) and executor >= 1:
        return
    raise ValueError(
        "`executor` must be None, 'processes', a number of processes >= 1 or a "
        f"concurrent.futures.Executor; got {executor!r}"
    )


def _warm_worker() -> None:
    """Process initializer: one BLAS thread for the worker's life, set from the thread that
    runs the tasks; import the per-tensor code once, before the first task arrives.

    :mod:`htsr.compute` imports no fitting code, pandas or report (the fits and rows are made
    in the calling process), and the package root imports its submodules lazily, so a spawned
    worker is ready in about a third of the time ``import htsr.analysis`` takes."""
    from threadpoolctl import threadpool_limits

    import htsr.compute  # noqa: F401

    threadpool_limits(limits=1, user_api="blas")


def _ready() -> None:
    """A no-op task: submitting one per worker makes the pool spawn them all at once."""


def local_pool(executor: str | int) -> ProcessPoolExecutor:
    """A spawned process pool (one process per CPU for ``"processes"``). Spawn, not fork:
    forking a process that holds torch or BLAS threads can deadlock."""
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(_pool_size(executor), mp_context=ctx, initializer=_warm_worker)


def _pool_size(executor: str | int) -> int:
    return (os.cpu_count() or 1) if executor == "processes" else int(executor)


@contextmanager
def started_executor(executor: str | int | Executor | None) -> Iterator[Executor | None]:
    """The executor of one run: None (this process), the caller's executor (left running),
    or a local pool (``"processes"`` or an int) whose workers are started at once.

    A spawned worker takes a while to start and import the analysis code; started here, at
    the beginning of a run, that overlaps the listing of the model's tensors (a pool spawns
    its processes only as tasks are submitted, so one no-op task per worker is submitted).
    The pool is shut down at the end: waiting for it normally, without waiting (pending tasks
    cancelled) when the block raises, ``KeyboardInterrupt`` included.
    """
    if executor is None or isinstance(executor, Executor):
        yield executor
        return
    pool = local_pool(executor)
    try:
        for _ in range(_pool_size(executor)):
            pool.submit(_ready)
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def run_tasks(
    fn: Callable[..., T],
    args: Sequence[tuple[Any, ...]],
    ids: Sequence[int],
    on_done: Callable[[int, T], None],
    executor: str | int | Executor | None,
) -> None:
    """Run ``fn(*args[j])`` for every ``j``, calling ``on_done(ids[j], result)`` as each ends.

    ``None``: in this process, in order. ``"processes"`` or an int: a local pool, created
    here and shut down at the end. An ``Executor`` (e.g. a Dask cluster's
    ``client.get_executor()``): used as given and left running.

    Any exception, ``KeyboardInterrupt`` included, cancels the tasks not yet started and
    shuts an own pool down without waiting for them, then propagates.
    """
    if executor is None or not args:
        for i, a in zip(ids, args, strict=True):
            on_done(i, fn(*a))
        return
    own = not isinstance(executor, Executor)
    pool = local_pool(executor) if not isinstance(executor, Executor) else executor
    futures: dict[Future[T], int] = {}
    try:
        for i, a in zip(ids, args, strict=True):
            futures[pool.submit(fn, *a)] = i
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.__getitem__):
                on_done(futures[future], future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown(wait=True)


__all__ = ["executor_iv", "local_pool", "pinned_blas", "run_tasks", "started_executor"]
