"""Log per-layer spectral metrics and epoch scalars to TensorBoard (via ``tensorboardX``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

#: Per-layer columns logged as ``htsr/<layer>/<column>`` when present and finite.
TENSORBOARD_COLUMNS = (
    "alpha",
    "mp_softrank",
    "spike_fraction",
    "stable_rank",
    "log_spectral_norm",
    "rank_collapse_fraction",
)


def scalar_tags(
    rows: pd.DataFrame,
    scalars: Mapping[str, Any],
    *,
    columns: Sequence[str] = TENSORBOARD_COLUMNS,
) -> dict[str, float]:
    """The ``tag -> value`` pairs logged for one epoch (finite numbers only).

    Examples
    --------
    >>> rows = pd.DataFrame({"name": ["fc1.weight"], "alpha": [3.5], "stable_rank": [float("nan")]})
    >>> scalar_tags(rows, {"test_acc": 0.9})
    {'htsr/fc1.weight/alpha': 3.5, 'htsr/test_acc': 0.9}
    """
    tags: dict[str, float] = {}
    for _, row in rows.iterrows():
        for col in columns:
            if col in row.index:
                value = _finite(row[col])
                if value is not None:
                    tags[f"htsr/{row['name']}/{col}"] = value
    for key, raw in scalars.items():
        value = _finite(raw)
        if value is not None:
            tags[f"htsr/{key}"] = value
    return tags


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class TensorBoardLogger:
    """Writes :func:`scalar_tags` to a TensorBoard event directory.

    Parameters
    ----------
    logdir : str or path
        Event-file directory (created on the first write).
    """

    def __init__(self, logdir: str | Path) -> None:
        self.logdir = Path(logdir)

    def log(self, rows: pd.DataFrame, scalars: Mapping[str, Any], *, step: int) -> None:
        """Log one epoch's layer metrics and scalars at ``step``."""
        if not hasattr(self, "writer_"):
            from htsr._optional import import_optional

            tbx = import_optional("tensorboardX", extra="monitor", caller="TensorBoard logging")
            self.writer_ = tbx.SummaryWriter(logdir=str(self.logdir))
        for tag, value in scalar_tags(rows, scalars).items():
            self.writer_.add_scalar(tag, value, global_step=step)
        self.writer_.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        if hasattr(self, "writer_"):
            self.writer_.close()
            del self.writer_


__all__ = ["TENSORBOARD_COLUMNS", "TensorBoardLogger", "scalar_tags"]
