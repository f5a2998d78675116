"""The training-monitor protocol and the plain PyTorch helper.

A monitor is anything with ``observe(model, *, epoch, **scalars)``; the Lightning and
Hugging Face adapters (:mod:`htsr.monitor.lightning`, :mod:`htsr.monitor.huggingface`) only
call :meth:`SpectralMonitor.observe` from their framework's epoch hook.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

from htsr.monitor.history import KEY_COLUMNS, History
from htsr.report.columns import COLUMNS_BY_NAME
from htsr.report.columns import RECORDED_COLUMNS as _RECORDED

if TYPE_CHECKING:
    from htsr.report import Report

#: Columns every history row has (the registry's ``recorded`` flag), NaN until the analysis
#: provides them.
RECORDED_COLUMNS: tuple[str, ...] = _RECORDED
#: Recorded columns holding text (missing values are None, stored as TEXT).
_TEXT = frozenset(c for c in _RECORDED if COLUMNS_BY_NAME[c].dtype == "string")


@runtime_checkable
class SpectralObserver(Protocol):
    """Anything that records a model's spectral state once per epoch."""

    def observe(self, model: Any, *, epoch: int, **scalars: Any) -> pd.DataFrame:
        """Analyse ``model`` at ``epoch``; return this epoch's rows."""
        ...


def epoch_rows(report: Report, **scalars: Any) -> pd.DataFrame:
    """One epoch's history rows from a report: analysed (and failed) layers, plus scalars.

    Skipped tensors (biases, norms, filtered layers) are left out. The columns of
    :data:`RECORDED_COLUMNS` are added as NaN when the analysis did not produce them, and each
    scalar becomes a column repeated on every row.

    Examples
    --------
    >>> import numpy as np, htsr
    >>> report = htsr.analyze({"fc": np.random.default_rng(0).standard_normal((60, 30))})
    >>> rows = epoch_rows(report, test_acc=0.5)
    >>> rows[["name", "test_acc"]].values.tolist(), "alpha" in rows
    ([['fc', 0.5]], True)
    """
    layers = report.layers
    keep = ~layers["status"].astype(str).str.startswith("skipped")
    rows = layers[keep].reset_index(drop=True).copy()
    for col in RECORDED_COLUMNS:
        if col not in rows.columns:
            rows[col] = pd.Series([None] * len(rows), dtype=object) if col in _TEXT else math.nan
    for key, value in scalars.items():
        if key in KEY_COLUMNS:
            raise ValueError(f"scalar name {key!r} is reserved (one of {KEY_COLUMNS})")
        rows[key] = value
    return rows


class SpectralMonitor:
    """Record per-layer spectral metrics and phase once per epoch of a training loop.

    Call :meth:`observe` after each epoch (and once before training, as epoch 0, to record
    the initialisation). Each call runs :func:`htsr.analyze` on the model's weights and
    appends one row per layer to the history; with a ``path`` the epoch is written to disk
    at once (a crash loses at most the epoch in progress) and an interrupted run resumes
    where :meth:`completed_epochs` says it stopped.

    Parameters
    ----------
    path : str or path, optional
        History file: ``.sqlite``/``.db`` (default format) or ``.parquet`` (a directory).
        None keeps the history in memory only.
    run : str, default "run"
        Name of this run in the history (several runs may share one file).
    layers, exclude : str, optional
        Regular expressions on tensor names (as in :func:`htsr.analyze`).
    kinds : iterable of str, optional
        Only these layer kinds (``dense``, ``conv2d``, ...).
    min_evals : int, default 10
        Layers with fewer eigenvalues are skipped.
    every : int, default 1
        Analyse only epochs that are multiples of ``every`` (the others return no rows).
    tensorboard : bool, str or path, optional
        Also log scalars to TensorBoard: True puts the events in ``<path>.tb`` (or ``runs/``),
        a path puts them there. Needs ``pip install 'htsr[monitor]'``.
    format : {"sqlite", "parquet"}, optional
        Overrides the format implied by the suffix of ``path``.

    Attributes
    ----------
    history_ : pandas.DataFrame
        Rows of this run so far (including those read back from ``path`` on resume).
    last_report_ : Report
        The report of the last analysed epoch.

    Examples
    --------
    >>> import torch
    >>> monitor = SpectralMonitor(run="demo")
    >>> model = torch.nn.Sequential(torch.nn.Linear(64, 32))
    >>> rows = monitor.observe(model, epoch=0, test_acc=0.1)
    >>> monitor.history_[["run", "epoch", "name", "test_acc"]].values.tolist()
    [['demo', 0, '0.weight', 0.1]]
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        run: str = "run",
        layers: str | None = None,
        exclude: str | None = None,
        kinds: Iterable[str] | None = None,
        min_evals: int = 10,
        every: int = 1,
        tensorboard: bool | str | Path | None = None,
        format: str | None = None,
    ) -> None:
        self.path = path
        self.run = run
        self.layers = layers
        self.exclude = exclude
        self.kinds = kinds
        self.min_evals = min_evals
        self.every = every
        self.tensorboard = tensorboard
        self.format = format

    # -- state ---------------------------------------------------------------------------------

    @property
    def store_(self) -> History | None:
        """The on-disk history, or None when in memory only."""
        if self.path is None:
            return None
        return History(self.path, format=self.format)

    def completed_epochs(self) -> list[int]:
        """Epochs of this run already in the history (for resuming)."""
        store = self.store_
        if store is not None:
            return store.completed_epochs(self.run)
        if not hasattr(self, "history_") or self.history_.empty:
            return []
        return sorted({int(e) for e in self.history_["epoch"]})

    # -- the one operation ---------------------------------------------------------------------

    def observe(self, model: Any, *, epoch: int, **scalars: Any) -> pd.DataFrame:
        """Analyse ``model`` at ``epoch``; record and return this epoch's rows.

        Parameters
        ----------
        model : torch.nn.Module or state dict
            Read only; never modified.
        epoch : int
            Epoch number (>= 0; 0 = before training).
        **scalars
            Numbers (or strings) to store on every row of the epoch: accuracies, losses,
            the learning rate, the run's settings.

        Returns
        -------
        pandas.DataFrame
            One row per analysed layer (empty when ``epoch`` is not a multiple of ``every``).
        """
        self._observe_iv(epoch)
        if epoch % self.every:
            return pd.DataFrame(columns=list(KEY_COLUMNS))
        from htsr.analysis import analyze

        report = analyze(
            model,
            layers=self.layers,
            exclude=self.exclude,
            kinds=self.kinds,
            min_evals=self.min_evals,
        )
        rows = epoch_rows(report, **scalars)
        store = self.store_
        if store is not None:
            store.append_epoch(rows, run=self.run, epoch=epoch)
        recorded = rows.copy()
        recorded.insert(0, "epoch", int(epoch))
        recorded.insert(0, "run", self.run)
        self.history_ = self._previous(epoch, store)
        self.history_ = (
            recorded
            if self.history_.empty
            else pd.concat([self.history_, recorded], ignore_index=True)
        )
        self.last_report_ = report
        logger = self._tensorboard_logger()
        if logger is not None:
            logger.log(rows, scalars, step=epoch)
        return rows

    def close(self) -> None:
        """Close the TensorBoard writer, if any (the history needs no closing)."""
        if hasattr(self, "tb_logger_"):
            self.tb_logger_.close()

    # -- helpers -------------------------------------------------------------------------------

    def _observe_iv(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"`epoch` must be an int >= 0; got {epoch!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ValueError(f"`every` must be an int >= 1; got {self.every!r}")

    def _previous(self, epoch: int, store: History | None) -> pd.DataFrame:
        """Rows of earlier epochs: in memory, else (first call of a resumed run) from disk."""
        if hasattr(self, "history_"):
            previous = self.history_
        elif store is not None and store.exists():
            previous = store.to_frame(self.run)
        else:
            return pd.DataFrame()
        return previous[previous["epoch"] != epoch].reset_index(drop=True)

    def _tensorboard_logger(self) -> Any:
        if not self.tensorboard:
            return None
        if not hasattr(self, "tb_logger_"):
            from htsr.monitor.tensorboard import TensorBoardLogger

            if self.tensorboard is True:
                logdir = Path(f"{self.path}.tb") if self.path is not None else Path("runs")
            else:
                logdir = Path(self.tensorboard)
            self.tb_logger_ = TensorBoardLogger(logdir / self.run)
        return self.tb_logger_


__all__ = ["RECORDED_COLUMNS", "SpectralMonitor", "SpectralObserver", "epoch_rows"]
