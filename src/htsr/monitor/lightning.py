"""PyTorch Lightning adapter: a ``Callback`` that calls :meth:`SpectralMonitor.observe`.

Importable only when Lightning is installed (``pip install lightning``, with torch already
installed so that pip does not pull another torch build).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from htsr.errors import MissingExtraError
from htsr.monitor.observer import SpectralMonitor

try:
    from lightning.pytorch import Callback
except ImportError:  # pragma: no cover - depends on the environment
    try:
        from pytorch_lightning import Callback  # type: ignore[assignment]  # older name
    except ImportError as e:
        raise MissingExtraError(
            "htsr.monitor.lightning needs PyTorch Lightning; install it with: "
            "pip install lightning (with torch already installed)"
        ) from e


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class LightningMonitor(Callback):
    """Record the spectral history of a ``LightningModule`` at the end of each training epoch.

    Parameters
    ----------
    path : str or path, optional
        History file (see :class:`~htsr.monitor.SpectralMonitor`).
    monitor : SpectralMonitor, optional
        Use this monitor instead of building one from ``path`` and ``**options``.
    observe_start : bool, default True
        Also record the weights before training, as epoch 0.
    **options
        Passed to :class:`~htsr.monitor.SpectralMonitor` (``run``, ``layers``, ...).

    Notes
    -----
    Epoch ``k`` (1-based) is recorded after Lightning's training epoch ``k - 1``, with the
    trainer's ``callback_metrics`` (logged losses, accuracies) as scalars. Only the global
    rank 0 process records.

    Examples
    --------
    >>> cb = LightningMonitor(run="demo")
    >>> cb.monitor.run
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
        super().__init__()
        self.monitor = monitor if monitor is not None else SpectralMonitor(path, **options)
        self.observe_start = observe_start

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        first = self.observe_start and trainer.is_global_zero and trainer.current_epoch == 0
        if first and 0 not in self.monitor.completed_epochs():
            self.monitor.observe(pl_module, epoch=0)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            scalars = _scalars(dict(trainer.callback_metrics))
            self.monitor.observe(pl_module, epoch=int(trainer.current_epoch) + 1, **scalars)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self.monitor.close()


__all__ = ["LightningMonitor"]
