"""The paper's sweeps: batch size (the 5+1 phases) and L2 strength (rank collapse).

Every (setting, seed) pair is one run, trained with :func:`~htsr.experiments.train.train_model`
and monitored into one shared history ``DIR/history.sqlite``. Running the same sweep again on
the same ``DIR`` resumes: finished runs are skipped, an interrupted run restarts after its last
finished epoch from its checkpoint (``DIR/checkpoints/<run>/``).

Outputs in ``DIR``: ``results.csv`` (one row per run and layer at the final epoch),
``trajectories.csv`` (every epoch), ``esd/<run>.npz`` (final ESDs), the plots and
``summary.md`` (see :mod:`htsr.experiments.summary`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from htsr.errors import HtsrError
from htsr.experiments.config import (
    PAPER,
    QUICK,
    RESULT_COLUMNS,
    SWEEPS,
    SweepConfig,
    run_file,
    with_values,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What a sweep wrote.

    Attributes
    ----------
    out : Path
        The output directory.
    results : pandas.DataFrame
        ``results.csv``: one row per run and layer, final epoch.
    trajectories : pandas.DataFrame
        Every epoch of every run.
    ran, skipped : list of str
        Runs trained (or resumed) by this call, and runs already finished.
    seconds : float
        Wall time.
    files : dict
        Name -> path of everything written.
    """

    out: Path
    results: pd.DataFrame = field(repr=False)
    trajectories: pd.DataFrame = field(repr=False)
    ran: list[str]
    skipped: list[str]
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def _sweep_iv(config: SweepConfig) -> None:
    from htsr.experiments.data import DATASETS
    from htsr.experiments.models import MODELS

    if config.model not in MODELS:
        raise ValueError(f"unknown model {config.model!r}; choose one of {sorted(MODELS)}")
    if config.data not in DATASETS:
        raise ValueError(f"unknown data set {config.data!r}; choose one of {DATASETS}")
    if config.kind not in SWEEPS:
        raise ValueError(f"`kind` must be one of {tuple(SWEEPS)}; got {config.kind!r}")
    if not config.values:
        raise ValueError("`values` must hold at least one setting")
    if not config.seeds:
        raise ValueError("`seeds` must hold at least one seed")
    if config.kind == "batch_size" and any(v < 1 or v != int(v) for v in config.values):
        raise ValueError(f"batch sizes must be ints >= 1; got {list(config.values)}")
    if config.kind == "l2" and any(v < 0 for v in config.values):
        raise ValueError(f"L2 strengths must be >= 0; got {list(config.values)}")
    if len(set(config.values)) != len(config.values):
        raise ValueError(f"settings must be distinct; got {list(config.values)}")


def _check_resume(out: Path, config: SweepConfig, overwrite: bool) -> None:
    meta = out / "sweep.json"
    if meta.is_file() and not overwrite:
        previous = json.loads(meta.read_text())
        if previous.get("identity") != config.identity():
            diff = {
                k: (previous.get("identity", {}).get(k), v)
                for k, v in config.identity().items()
                if previous.get("identity", {}).get(k) != v
            }
            raise HtsrError(
                f"{out} holds a different sweep (changed: {diff}); use another --out, or "
                "--overwrite to start again"
            )
    if overwrite:
        for name in ("history.sqlite", "results.csv", "trajectories.csv", "sweep.json"):
            (out / name).unlink(missing_ok=True)
        import shutil

        for folder in ("checkpoints", "esd"):
            shutil.rmtree(out / folder, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"identity": config.identity(), "config": asdict(config)}, indent=1))


#: A progress callback: ``progress(done, total, label)`` with ``done`` and ``total`` in units of
#: estimated work (see :func:`run_cost`).
ProgressCallback = Callable[[float, float, str], None]


def run_cost(n_train: int, batch_size: int, epochs: int) -> float:
    """Estimated work of one run, for the progress bar's ETA: ``epochs * (steps per epoch +
    n_train / 64)`` (on a CPU one optimizer step of a small MLP costs about as much as the
    arithmetic of 64 samples, so batch size 2 costs ~30 times more per epoch than 1024)."""
    steps = -(-int(n_train) // int(batch_size))
    return float(epochs) * (steps + n_train / 64.0)


def _partial(
    progress: ProgressCallback | None, done: float, cost: float, total: float, run: str
) -> Callable[[int, int], None] | None:
    if progress is None:
        return None

    def on_epoch(epoch: int, epochs: int) -> None:
        progress(done + cost * epoch / max(epochs, 1), total, run)

    return on_epoch


def run_sweep(
    config: SweepConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    plots: bool = True,
    echo: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """Train every (setting, seed) run of ``config``, monitored, into ``out``; resume if
    ``out`` holds an interrupted run of the same sweep.

    Parameters
    ----------
    config : SweepConfig
        The sweep.
    out : str or path
        Output directory.
    overwrite : bool, default False
        Delete a previous sweep in ``out`` instead of resuming it.
    plots : bool, default True
        Draw the figures (needs matplotlib; skipped silently without it).
    echo : callable, optional
        Called with one line per run (default: the module's logger at INFO level).
    progress : callable, optional
        ``progress(done, total, label)`` (see :data:`ProgressCallback`), for a progress bar:
        called before the first run, after every epoch and after every run.

    Returns
    -------
    SweepResult

    Raises
    ------
    HtsrError
        If ``out`` holds a sweep with different settings (and not ``overwrite``).
    SourceError
        If the data cannot be read (a CIFAR path missing or in the wrong format).
    """
    from htsr._optional import import_optional
    from htsr.experiments.data import load_data
    from htsr.experiments.models import make_model
    from htsr.experiments.outputs import write_outputs
    from htsr.experiments.train import TrainConfig, planned_epochs, train_model
    from htsr.monitor import SpectralMonitor

    torch = import_optional("torch", extra="torch", caller="run_sweep")
    _sweep_iv(config)
    start = time.perf_counter()
    out = Path(out)
    say = echo or (lambda line: logger.info(line))
    data = load_data(
        config.data,
        path=config.data_path,
        num_samples=config.num_samples,
        max_train=config.max_train,
        max_test=config.max_test,
    )
    make_model(config.model, input_shape=data.input_shape, num_classes=data.num_classes)
    _check_resume(out, config, overwrite)
    history = out / "history.sqlite"
    n_train = len(data.y_train)
    plan = []
    for value in config.values:
        for seed in config.seeds:
            train_config = TrainConfig(
                epochs=config.epochs,
                batch_size=int(value) if config.kind == "batch_size" else config.batch_size,
                lr=config.lr,
                momentum=config.momentum,
                lr_decay=config.lr_decay,
                l2=float(value) if config.kind == "l2" else config.l2,
                l2_layers=config.l2_layers,
                seed=seed,
                device=config.device,
                min_steps=config.min_steps,
                record_every=config.record_every,
            )
            epochs = planned_epochs(train_config, n_train)
            cost = run_cost(n_train, train_config.batch_size, epochs)
            plan.append((value, seed, train_config, epochs, cost))
    total = sum(p[4] for p in plan)
    done_work = 0.0
    if progress is not None:
        progress(0.0, total, "starting")
    threads = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    ran, skipped = [], []
    try:
        for value, seed, train_config, epochs, cost in plan:
            run = config.run_id(value, seed)
            monitor = SpectralMonitor(
                history, run=run, layers=config.layers, min_evals=config.min_evals
            )
            done = monitor.completed_epochs()
            if done and max(done) >= epochs:
                skipped.append(run)
                say(f"{run}: done already ({max(done)} epochs), skipped")
            else:
                model = make_model(
                    config.model,
                    input_shape=data.input_shape,
                    num_classes=data.num_classes,
                    seed=seed,
                )
                result = train_model(
                    model,
                    data,
                    train_config,
                    monitor=monitor,
                    checkpoint_dir=out / "checkpoints" / run_file(run),
                    scalars={"setting": float(value), "seed": seed, "final_epoch": epochs},
                    on_epoch=_partial(progress, done_work, cost, total, run),
                )
                _save_esds(monitor, out / "esd" / f"{run_file(run)}.npz")
                ran.append(run)
                resumed = (
                    f", resumed after epoch {result.resumed_from}"
                    if result.resumed_from is not None
                    else ""
                )
                say(
                    f"{run}: train {result.train_acc:.3f} test {result.test_acc:.3f} "
                    f"({epochs} epochs, {result.seconds:.1f} s{resumed})"
                )
            done_work += cost
            if progress is not None:
                progress(done_work, total, run)
    finally:
        torch.set_num_threads(threads)
    trajectories, results = collect(history, config)
    seconds = time.perf_counter() - start
    files = write_outputs(results, trajectories, config, out, seconds=seconds, plots=plots)
    return SweepResult(out, results, trajectories, ran, skipped, seconds, files)


def _save_esds(monitor: Any, path: Path) -> None:
    report = getattr(monitor, "last_report_", None)
    if report is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    esds = {name: report.esd(name) for name in report.analysed["name"]}
    np.savez_compressed(path, **esds)


def collect(history: str | Path, config: SweepConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every epoch, final epoch) rows of a sweep's history, with ``gap`` and the setting
    column named after the sweep (``batch_size`` or ``l2``)."""
    from htsr.monitor import load_history

    frame = load_history(history).copy()
    frame["gap"] = frame["train_acc"] - frame["test_acc"]
    frame[SWEEPS[config.kind]] = frame["setting"]
    first = [c for c in RESULT_COLUMNS if c in frame.columns]
    first.insert(2, SWEEPS[config.kind])
    frame = frame[first + [c for c in frame.columns if c not in first]]
    wanted = {config.run_id(v, s) for v in config.values for s in config.seeds}
    frame = frame[frame["run"].isin(wanted)].reset_index(drop=True)
    frame = frame[frame["epoch"] <= frame.get("final_epoch", config.epochs)]
    frame = frame.reset_index(drop=True)
    final = frame[frame["epoch"] == frame.get("final_epoch", config.epochs)]
    final = final.reset_index(drop=True)
    return frame, final


__all__ = [
    "PAPER",
    "QUICK",
    "RESULT_COLUMNS",
    "SWEEPS",
    "ProgressCallback",
    "SweepConfig",
    "SweepResult",
    "collect",
    "run_cost",
    "run_sweep",
    "with_values",
]
