from __future__ import annotations

import torch

from htsr.monitor import load_history
from htsr.monitor.huggingface import HuggingFaceMonitor, latest_scalars


def test_latest_scalars():
    logs = [{"loss": 2.0, "epoch": 1.0, "step": 4}, {"loss": 1.0, "eval_acc": 0.5, "tag": "x"}]
    assert latest_scalars(logs) == {"loss": 1.0, "eval_acc": 0.5}


def test_callback_hooks_record_epochs(tmp_path):
    # The hooks as transformers.Trainer calls them (TrainerState / TrainerControl objects).
    from transformers import TrainerCallback, TrainerControl, TrainerState

    callback = HuggingFaceMonitor(tmp_path / "h.parquet", run="hf")
    assert isinstance(callback, TrainerCallback)
    model = torch.nn.Sequential(torch.nn.Linear(32, 20), torch.nn.Linear(20, 12))
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control, model=model)
    for epoch in (1, 2):
        state.epoch = epoch - 1e-9  # the Trainer's float epoch counter
        state.global_step = 10 * epoch
        state.log_history.append({"loss": 1.0 / epoch, "epoch": state.epoch})
        callback.on_epoch_end(None, state, control, model=model)
    callback.on_train_end(None, state, control, model=model)
    frame = load_history(tmp_path / "h.parquet")
    assert frame.groupby("epoch")["global_step"].first().tolist() == [0, 10, 20]
    assert frame.loc[frame["epoch"] == 2, "loss"].tolist() == [0.5, 0.5]


def test_callback_records_nothing_off_the_main_process(tmp_path):
    from transformers import TrainerControl, TrainerState

    callback = HuggingFaceMonitor(run="hf")
    state = TrainerState(is_world_process_zero=False)
    state.epoch = 1.0
    callback.on_epoch_end(None, state, TrainerControl(), model=torch.nn.Linear(20, 20))
    assert callback.monitor.completed_epochs() == []
