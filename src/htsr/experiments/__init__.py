"""The paper's experiments: models, local data sets, training with the paper's settings, and
the batch-size and L2 sweeps (Martin & Mahoney, JMLR 22(165) 2021, Sections 6-8).

Needs torch (``pip install torch==2.13.0``) and, for MNIST-1D and the digits,
``pip install 'htsr[experiments]'``; the plots need ``htsr[plot]``.
"""

from htsr.experiments.config import PAPER, QUICK, SweepConfig
from htsr.experiments.data import (
    DATASETS,
    Dataset,
    load_cifar10,
    load_data,
    load_digits,
    load_mnist1d,
)
from htsr.experiments.models import (
    MODELS,
    lenet5,
    make_model,
    mini_alexnet,
    mlp1d,
    mlp3,
    mlp_wide,
)
from htsr.experiments.sweeps import SweepResult, run_sweep
from htsr.experiments.train import TrainConfig, TrainResult, evaluate, train_model

__all__ = [
    "DATASETS",
    "MODELS",
    "PAPER",
    "QUICK",
    "Dataset",
    "SweepConfig",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "lenet5",
    "load_cifar10",
    "load_data",
    "load_digits",
    "load_mnist1d",
    "make_model",
    "mini_alexnet",
    "mlp1d",
    "mlp3",
    "mlp_wide",
    "run_sweep",
    "train_model",
]
