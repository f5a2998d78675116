"""Hugging Face adapter: a ``transformers.TrainerCallback`` that calls
:meth:`SpectralMonitor.observe` at the end of each epoch.

Importable only when ``transformers`` is installed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from htsr.errors import MissingExtraError
from htsr.monitor.observer import SpectralMonitor

try:
    from transformers import TrainerCallback
except ImportError as e:  # pragma: no cover - depends on the environment
    raise MissingExtraError(
        "htsr.monitor.huggingface needs transformers; install it with: "
        "pip install transformers accelerate (with torch already installed)"
    ) from e


def latest_scalars(log_history: list[dict[str, Any]]) -> dict[str, float]:
    """The most recent value of every numeric key in a ``TrainerState.log_history``.

    Examples
    --------
    >>> latest_scalars([{"loss": 2.0, "epoch": 1.0}, {"eval_loss": 1.5, "epoch": 1.0}])
    {'loss': 2.0, 'eval_loss': 1.5}
    """
    out: dict[str, float] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key in ("epoch", "step"):
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = float(value)
    return out


class HuggingFaceMonitor(TrainerCallback):
    """Record the spectral history of a model trained by ``transformers.Trainer``.

    Parameters
    ----------
    path : str or path, optional
        History file (see :class:`~htsr.monitor.SpectralMonitor`).
    monitor : SpectralMonitor, optional
        Use this monitor instead of building one from ``path`` and ``**options``.
    observe_start : bool, default True
        Also record the weights before training, as epoch 0.
    **options
        Passed to :class:`~htsr.monitor.SpectralMonitor`.

    Notes
    -----
    The epoch recorded is ``round(state.epoch)`` (the Trainer's epoch counter is a float);
    the scalars are the latest numeric values of ``state.log_history`` plus ``global_step``.
    Only the main process (``state.is_world_process_zero``) records.

    Examples
    --------
    >>> HuggingFaceMonitor(run="demo").monitor.run
    'demo'
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        monitor: SpectralMonitor | None = None,
        observe_start: bool = True,
        **options: Any,
    ) -> None:
        self.monitor = monitor if monitor is not None else SpectralMonitor(path, **options)
        self.observe_start = observe_start

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not (self.observe_start and state.is_world_process_zero and model is not None):
            return
        if not state.epoch and 0 not in self.monitor.completed_epochs():
            self.monitor.observe(model, epoch=0, global_step=int(state.global_step))

    def on_epoch_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or model is None:
            return
        epoch = round(state.epoch) if state.epoch is not None and math.isfinite(state.epoch) else 0
        scalars = latest_scalars(list(state.log_history))
        self.monitor.observe(model, epoch=int(epoch), global_step=int(state.global_step), **scalars)

    def on_train_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        self.monitor.close()


__all__ = ["HuggingFaceMonitor", "latest_scalars"]
