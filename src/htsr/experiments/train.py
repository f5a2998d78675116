"""Train one model with the paper's settings, monitored, checkpointed and resumable.

Defaults (Martin & Mahoney 2021, Section 7; the Keras/TensorFlow setup of their MiniAlexNet):
SGD with learning rate 0.01 and momentum 0.9, the learning rate multiplied by 0.95 after each
epoch, softmax cross-entropy loss. L2 regularization is the Keras ``kernel_regularizer``
penalty ``l2 * ||W||_F^2`` added to the loss for the chosen layers only (gradient
``2 l2 W``), not optimizer weight decay on every parameter.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from htsr._optional import import_optional

if TYPE_CHECKING:
    import pandas as pd

    from htsr.experiments.data import Dataset
    from htsr.monitor.observer import SpectralObserver


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Settings of one training run (the defaults are the paper's).

    Attributes
    ----------
    epochs : int
        Training epochs.
    batch_size : int
        Mini-batch size.
    lr : float
        Initial SGD learning rate (paper: 0.01).
    momentum : float
        SGD momentum (paper: 0.9).
    lr_decay : float
        Learning rate factor applied after every epoch (paper: 0.95).
    l2 : float
        Strength of the L2 penalty ``l2 * ||W||_F^2`` on ``l2_layers`` (0 = none).
    l2_layers : tuple of str
        Module names whose ``weight`` is penalised (``("fc1",)``).
    seed : int
        Seed of the initialisation and of the mini-batch order.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    eval_batch_size : int
        Batch size for computing accuracies.
    min_steps : int
        Fewest optimizer steps: a run with a large batch trains for more than ``epochs``
        epochs until it has taken this many steps (0 = exactly ``epochs``; see
        :func:`planned_epochs`). The learning-rate decay is spread over the longer run, so
        every run ends at ``lr * lr_decay**epochs``.
    record_every : int
        Evaluate, checkpoint and observe every this many epochs (and always after the last
        and before the first).
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.01
    momentum: float = 0.9
    lr_decay: float = 0.95
    l2: float = 0.0
    l2_layers: tuple[str, ...] = ("fc1",)
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 2048
    min_steps: int = 0
    record_every: int = 1


def planned_epochs(config: TrainConfig, n_train: int) -> int:
    r"""Epochs a run trains for: ``max(epochs, ceil(min_steps / steps_per_epoch))`` with
    ``steps_per_epoch = ceil(n_train / batch_size)``.

    With a fixed number of epochs (the paper's protocol) a batch of 1024 on a few thousand
    samples takes a few dozen steps and stays barely trained; ``min_steps`` gives every batch
    size at least that many optimizer steps while the small batches keep the epoch budget.

    Examples
    --------
    >>> planned_epochs(TrainConfig(epochs=20, batch_size=1024, min_steps=600), 1347)
    300
    >>> planned_epochs(TrainConfig(epochs=20, batch_size=2, min_steps=600), 1347)
    20
    """
    per_epoch = -(-int(n_train) // int(config.batch_size))
    return max(int(config.epochs), -(-int(config.min_steps) // max(per_epoch, 1)))


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What one run produced.

    Attributes
    ----------
    epochs : list of int
        Epochs recorded by this call (0 = the initialisation); empty if all were done.
    resumed_from : int or None
        The epoch the run resumed after, or None for a fresh start.
    train_acc, test_acc : float
        Accuracies after the last epoch (NaN when nothing was run).
    seconds : float
        Wall time of this call.
    history : pandas.DataFrame
        The monitor's rows for this run so far (None without a monitor that keeps one).
    """

    epochs: list[int]
    resumed_from: int | None
    train_acc: float
    test_acc: float
    seconds: float
    history: pd.DataFrame | None = field(default=None, repr=False)


def _train_iv(config: TrainConfig) -> None:
    checks = {
        "epochs": config.epochs >= 1,
        "batch_size": config.batch_size >= 1,
        "lr": config.lr > 0,
        "momentum": 0 <= config.momentum < 1,
        "lr_decay": 0 < config.lr_decay <= 1,
        "l2": config.l2 >= 0,
        "eval_batch_size": config.eval_batch_size >= 1,
        "min_steps": config.min_steps >= 0,
        "record_every": config.record_every >= 1,
    }
    rules = {
        "epochs": "an int >= 1",
        "batch_size": "an int >= 1",
        "lr": "> 0",
        "momentum": "in [0, 1)",
        "lr_decay": "in (0, 1]",
        "l2": ">= 0",
        "eval_batch_size": "an int >= 1",
        "min_steps": "an int >= 0",
        "record_every": "an int >= 1",
    }
    for name, ok in checks.items():
        if not ok:
            raise ValueError(f"`{name}` must be {rules[name]}; got {getattr(config, name)!r}")


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is available, else ``"cpu"``."""
    torch = import_optional("torch", extra="torch", caller="htsr.experiments")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _penalised(model: Any, names: tuple[str, ...]) -> list[Any]:
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules or not hasattr(modules[n], "weight")]
    if missing:
        have = [n for n, m in modules.items() if n and hasattr(m, "weight")]
        raise ValueError(f"`l2_layers` {missing} not in the model; layers with weights: {have}")
    return [modules[n].weight for n in names]


def evaluate(model: Any, x: Any, y: Any, *, batch_size: int = 2048) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` on tensors ``x, y`` in eval mode.

    The model's training mode is restored afterwards.
    """
    torch = import_optional("torch", extra="torch", caller="htsr.experiments.evaluate")
    was_training = model.training
    model.eval()
    correct, loss = 0, 0.0
    try:
        with torch.no_grad():
            for i in range(0, len(y), batch_size):
                out = model(x[i : i + batch_size])
                target = y[i : i + batch_size]
                loss += float(torch.nn.functional.cross_entropy(out, target, reduction="sum"))
                correct += int((out.argmax(1) == target).sum())
    finally:
        model.train(was_training)
    n = max(len(y), 1)
    return correct / n, loss / n


class Checkpoints:
    """One checkpoint file per run, written before the epoch's history (so a history epoch
    always has its checkpoint) and replaced atomically."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def file(self, epoch: int) -> Path:
        return self.directory / f"epoch-{epoch:05d}.pt"

    def save(self, epoch: int, state: dict[str, Any]) -> None:
        torch = import_optional("torch", extra="torch", caller="Checkpoints.save")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.file(epoch)
        tmp = target.with_name(target.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, target)

    def prune(self, keep: int) -> None:
        for path in self.directory.glob("epoch-*.pt"):
            if path != self.file(keep):
                path.unlink(missing_ok=True)

    def load(self, epoch: int) -> dict[str, Any] | None:
        torch = import_optional("torch", extra="torch", caller="Checkpoints.load")
        path = self.file(epoch)
        if not path.is_file():
            return None
        return dict(torch.load(path, map_location="cpu", weights_only=True))


def _epoch_seed(seed: int, epoch: int) -> int:
    # The mini-batch order of each epoch depends on (seed, epoch) only, so a resumed run
    # sees exactly the batches an uninterrupted one would.
    return int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0])


def train_model(
    model: Any,
    data: Dataset,
    config: TrainConfig,
    *,
    monitor: SpectralObserver | None = None,
    checkpoint_dir: str | Path | None = None,
    scalars: dict[str, Any] | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train ``model`` on ``data`` with ``config``; observe it before training and after
    each epoch; resume from the monitor's history when it has finished epochs.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (moved to the device and back to the CPU at the end).
    data : Dataset
        Train/test split.
    config : TrainConfig
        Settings.
    monitor : SpectralObserver, optional
        Its ``observe(model, epoch=k, train_acc=..., test_acc=..., train_loss=...,
        test_loss=..., lr=..., **scalars)`` is called for k = 0 (initialisation) to
        :func:`planned_epochs` (every ``record_every``-th). A monitor with
        ``completed_epochs()`` makes the run resumable.
    checkpoint_dir : str or path, optional
        Where the per-run checkpoint goes (needed for resuming).
    scalars : dict, optional
        Extra values recorded on every row (the run's settings).
    on_epoch : callable, optional
        ``on_epoch(epoch, total)`` after every epoch (for a progress bar).

    Returns
    -------
    TrainResult
    """
    torch = import_optional("torch", extra="torch", caller="train_model")
    _train_iv(config)
    start = time.perf_counter()
    device = resolve_device(config.device)
    x_train = torch.as_tensor(data.x_train).to(device)
    y_train = torch.as_tensor(data.y_train).to(device)
    x_test = torch.as_tensor(data.x_test).to(device)
    y_test = torch.as_tensor(data.y_test).to(device)
    model.to(device)
    total = planned_epochs(config, len(data.y_train))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    # lr x lr_decay per epoch of the nominal budget: spread over `total` epochs
    gamma = config.lr_decay ** (config.epochs / total)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=gamma)
    penalised = _penalised(model, config.l2_layers) if config.l2 > 0 else []
    checkpoints = Checkpoints(checkpoint_dir) if checkpoint_dir is not None else None
    extra = dict(scalars or {})

    completed = getattr(monitor, "completed_epochs", None)
    done: list[int] = completed() if callable(completed) else []
    resumed_from = None
    if done and checkpoints is not None:
        last = max(done)
        state = checkpoints.load(last)
        if state is not None:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            resumed_from = last

    def record(epoch: int) -> tuple[float, float]:
        train_acc, train_loss = evaluate(model, x_train, y_train, batch_size=config.eval_batch_size)
        test_acc, test_loss = evaluate(model, x_test, y_test, batch_size=config.eval_batch_size)
        if checkpoints is not None:
            checkpoints.save(
                epoch,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                },
            )
        if monitor is not None:
            monitor.observe(
                model,
                epoch=epoch,
                train_acc=train_acc,
                test_acc=test_acc,
                train_loss=train_loss,
                test_loss=test_loss,
                lr=float(optimizer.param_groups[0]["lr"]),
                **extra,
            )
        if checkpoints is not None:
            checkpoints.prune(keep=epoch)
        return train_acc, test_acc

    recorded: list[int] = []
    accs = (float("nan"), float("nan"))
    if resumed_from is None:
        accs = record(0)
        recorded.append(0)
        first = 1
    else:
        first = resumed_from + 1
    n = len(y_train)
    model.train()
    for epoch in range(first, total + 1):
        gen = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))
        order = torch.randperm(n, generator=gen).to(device)
        for i in range(0, n, config.batch_size):
            idx = order[i : i + config.batch_size]
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
            if penalised:
                loss = loss + config.l2 * sum((w**2).sum() for w in penalised)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        if epoch % config.record_every == 0 or epoch == total:
            accs = record(epoch)
            recorded.append(epoch)
        if on_epoch is not None:
            on_epoch(epoch, total)
    model.to("cpu")
    history = getattr(monitor, "history_", None)
    return TrainResult(
        recorded, resumed_from, accs[0], accs[1], time.perf_counter() - start, history
    )


__all__ = [
    "Checkpoints",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "planned_epochs",
    "resolve_device",
    "train_model",
]
