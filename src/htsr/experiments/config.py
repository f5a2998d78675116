"""What a sweep is: its settings (:class:`SweepConfig`), the presets and the names of its
files. Imported by both :mod:`htsr.experiments.sweeps` (which runs a sweep) and
:mod:`htsr.experiments.summary` (which reads one), so neither imports the other.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from htsr.report.columns import RECORDED_COLUMNS

#: Sweep kinds: the CLI name -> the column holding the setting.
SWEEPS = {"batch_size": "batch_size", "l2": "l2"}

#: What a run records beside the spectral columns: the training outcome.
TRAINING_COLUMNS = ("train_acc", "test_acc", "gap")
#: Columns first in results.csv, in this order (the rest follow): the run's keys, the training
#: outcome, then the columns the training monitor records (the ``recorded`` flag of the column
#: registry, :data:`htsr.report.columns.RECORDED_COLUMNS`).
RESULT_COLUMNS = ("run", "setting", "seed", "epoch", "name", *TRAINING_COLUMNS, *RECORDED_COLUMNS)


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """One sweep: which setting varies, over which values, for which model and data.

    Attributes
    ----------
    kind : {"batch_size", "l2"}
        What varies.
    values : tuple of float
        The settings (batch sizes, or L2 strengths).
    model : str
        Model name (see :data:`htsr.experiments.models.MODELS`).
    data : str
        Data set name (see :data:`htsr.experiments.data.DATASETS`).
    data_path : str or None
        Local CIFAR-10 copy (``cifar10`` only).
    seeds : tuple of int
        Seeds; each setting runs once per seed.
    epochs : int
        Epochs per run (the nominal budget; see ``min_steps``).
    batch_size : int
        Batch size of an L2 sweep.
    l2 : float
        L2 strength of a batch-size sweep (paper: 0).
    l2_layers : tuple of str
        Layers penalised by L2.
    lr, momentum, lr_decay : float
        SGD settings (paper: 0.01, 0.9, 0.95 per epoch).
    num_samples : int or None
        MNIST-1D samples generated.
    max_train, max_test : int or None
        Keep only the first samples.
    layers : str or None
        Regex of the tensors monitored (None: every analysable layer).
    min_evals : int
        Smallest ESD analysed.
    min_steps : int
        Fewest optimizer steps per run (0: exactly ``epochs``; see
        :func:`htsr.experiments.train.planned_epochs`).
    record_every : int
        Analyse every this many epochs (and always the first and the last).
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    threads : int or None
        ``torch.set_num_threads`` during the sweep (restored after); None leaves it.
    """

    kind: str
    values: tuple[float, ...]
    model: str = "mlp1d"
    data: str = "mnist1d"
    data_path: str | None = None
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 20
    batch_size: int = 32
    l2: float = 0.0
    l2_layers: tuple[str, ...] = ("fc1",)
    lr: float = 0.01
    momentum: float = 0.9
    lr_decay: float = 0.95
    num_samples: int | None = None
    max_train: int | None = None
    max_test: int | None = None
    layers: str | None = None
    min_evals: int = 10
    min_steps: int = 0
    record_every: int = 1
    device: str = "auto"
    threads: int | None = None

    def run_id(self, value: float, seed: int) -> str:
        """``batch_size=32/seed=0``."""
        return f"{self.kind}={value:g}/seed={seed}"

    def identity(self) -> dict[str, Any]:
        """The settings that define the results (a resumed sweep must match them)."""
        out = asdict(self)
        for key in ("device", "threads", "values", "seeds"):
            out.pop(key)
        identity: dict[str, Any] = json.loads(json.dumps(out))
        return identity


def run_file(run: str) -> str:
    """File-name form of a run id: ``batch_size=32/seed=0`` -> ``batch_size-32__seed-0``.

    Examples
    --------
    >>> run_file("l2=0.001/seed=2")
    'l2-0.001__seed-2'
    """
    return run.replace("/", "__").replace("=", "-")


def with_values(config: SweepConfig, **changes: Any) -> SweepConfig:
    """A copy of ``config`` with the fields in ``changes`` that are not None replaced."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


#: Batch sizes of a batch-size sweep without a preset: powers of two from 2 to 1024.
BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
#: Batch sizes of the presets: 2 to 1024 by a factor sqrt(2) (``round(2 * 2**(k/2))``, 19
#: sizes), so that a phase seen between two powers of two is not missed (docs/experiments.md).
BATCH_SIZES_DENSE = tuple(round(2 * 2 ** (k / 2)) for k in range(19))
#: Batch sizes of the quick preset (18): powers of two from 2 to 16, where every size is
#: heavy-tailed, then a factor sqrt(2) to 512 and 2**(1/4) to 1024, where the phases change
#: (bulk+spikes, bleeding-out and random-like lie within a factor 2 of each other; the reason
#: and the measurements are in docs/experiments.md). All are ``round(2 * 2**(k/4))``.
BATCH_SIZES_QUICK = (2, 4, 8, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362, 512, 609, 724, 861, 1024)
#: The paper's L2 strengths on FC1 (1e-3 to 5e-3), then stronger ones until rank collapses.
L2_VALUES = (0.0, 1e-3, 2e-3, 5e-3, 2e-2, 5e-2, 1e-1, 2e-1)

#: The ``--quick`` presets, sized to finish in under 10 minutes on a 2-core CPU (see
#: docs/experiments.md for the measured runtime and the reason for each setting). Explicit
#: options override them.
QUICK = {
    "batch_size": SweepConfig(
        kind="batch_size",
        values=BATCH_SIZES_QUICK,
        model="mlp_wide",
        data="mnist1d",
        num_samples=5000,
        seeds=(0, 1, 2),
        epochs=10,
        record_every=10,
        threads=1,
    ),
    "l2": SweepConfig(
        kind="l2",
        values=L2_VALUES,
        model="mlp_wide",
        data="mnist1d",
        num_samples=5000,
        seeds=(0, 1, 2),
        epochs=10,
        batch_size=16,
        l2_layers=("fc2",),
        record_every=10,
        threads=1,
    ),
}

#: The ``--paper`` presets: the paper's training (100 epochs, SGD 0.01, momentum 0.9, lr
#: x0.95 per epoch, 10 seeds pooled as the paper pools FC1 over 10 runs, the 19 batch sizes
#: 2 ... 1024 by a factor sqrt(2)).
PAPER = {
    "batch_size": replace(
        QUICK["batch_size"],
        values=BATCH_SIZES_DENSE,
        seeds=tuple(range(10)),
        epochs=100,
        record_every=10,
    ),
    "l2": replace(QUICK["l2"], seeds=tuple(range(10)), epochs=100, record_every=10),
}

__all__ = [
    "BATCH_SIZES",
    "BATCH_SIZES_DENSE",
    "BATCH_SIZES_QUICK",
    "L2_VALUES",
    "PAPER",
    "QUICK",
    "RESULT_COLUMNS",
    "SWEEPS",
    "TRAINING_COLUMNS",
    "SweepConfig",
    "run_file",
    "with_values",
]
