from __future__ import annotations

import math

import pandas as pd

from htsr.monitor.tensorboard import TensorBoardLogger, scalar_tags


def test_scalar_tags_keeps_finite_numbers_only():
    rows = pd.DataFrame(
        {
            "name": ["fc1.weight", "fc2.weight"],
            "alpha": [3.5, math.nan],
            "stable_rank": [12.0, 7.0],
            "phase": ["heavy_tailed", None],
        }
    )
    tags = scalar_tags(rows, {"test_acc": 0.75, "note": "text", "bad": math.inf})
    assert tags == {
        "htsr/fc1.weight/alpha": 3.5,
        "htsr/fc1.weight/stable_rank": 12.0,
        "htsr/fc2.weight/stable_rank": 7.0,
        "htsr/test_acc": 0.75,
    }


def test_logger_writes_event_file(tmp_path):
    import tensorboardX  # noqa: F401  (an extra CI installs)

    logger = TensorBoardLogger(tmp_path / "tb")
    logger.log(pd.DataFrame({"name": ["w"], "stable_rank": [2.0]}), {"acc": 0.5}, step=1)
    logger.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_monitor_logs_to_tensorboard(tmp_path):
    import tensorboardX  # noqa: F401  (an extra CI installs)
    import torch

    from htsr.monitor import SpectralMonitor

    monitor = SpectralMonitor(tmp_path / "h.sqlite", run="r", tensorboard=True)
    monitor.observe(torch.nn.Linear(30, 20), epoch=0, acc=0.1)
    monitor.close()
    assert list((tmp_path / "h.sqlite.tb" / "r").glob("events.out.tfevents.*"))
