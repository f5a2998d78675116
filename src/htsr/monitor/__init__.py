"""Spectral monitoring of training: per-layer metrics and phase per epoch, saved as a history.

``SpectralMonitor`` is the plain PyTorch helper (``monitor.observe(model, epoch=...)``).
The framework adapters are imported from their own modules, which need their framework:
``htsr.monitor.lightning.LightningMonitor`` and
``htsr.monitor.huggingface.HuggingFaceMonitor``.
"""

from htsr.monitor.history import History, load_history
from htsr.monitor.observer import RECORDED_COLUMNS, SpectralMonitor, SpectralObserver, epoch_rows
from htsr.monitor.tensorboard import TensorBoardLogger

__all__ = [
    "RECORDED_COLUMNS",
    "History",
    "SpectralMonitor",
    "SpectralObserver",
    "TensorBoardLogger",
    "epoch_rows",
    "load_history",
]
