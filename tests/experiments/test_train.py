from __future__ import annotations

import numpy as np
import pytest
import torch

from htsr.experiments.data import Dataset
from htsr.experiments.models import mlp1d
from htsr.experiments.train import TrainConfig, evaluate, planned_epochs, train_model
from htsr.monitor import SpectralMonitor


def _data(n: int = 96) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 40)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + 2 * (x[:, 1] > 0).astype(np.int64)
    return Dataset("toy", x[: n - 32], y[: n - 32], x[n - 32 :], y[n - 32 :], num_classes=4)


def _model(seed: int = 0):
    # small enough that each epoch's analysis is quick (fc1 24 x 40, fc2 16 x 24)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return mlp1d(in_features=40, num_classes=4, hidden=(24, 16))


def test_train_records_epoch_zero_and_each_epoch():
    monitor = SpectralMonitor(run="r")
    result = train_model(_model(), _data(), TrainConfig(epochs=2, batch_size=16), monitor=monitor)
    assert result.epochs == [0, 1, 2] and result.resumed_from is None
    history = monitor.history_
    assert sorted(set(history["epoch"])) == [0, 1, 2]
    # lr x0.95 per epoch (the paper's schedule), recorded after each epoch's step
    lrs = history.groupby("epoch")["lr"].first().tolist()
    np.testing.assert_allclose(lrs, [0.01, 0.0095, 0.009025])
    losses = history.groupby("epoch")["train_loss"].first().tolist()
    assert losses[2] < losses[0]  # it learns
    assert 0 <= result.train_acc <= 1


def test_resume_matches_an_uninterrupted_run(tmp_path):
    data = _data()
    full = SpectralMonitor(tmp_path / "full.sqlite", run="r")
    model_full = _model()
    train_model(
        model_full,
        data,
        TrainConfig(epochs=3, batch_size=8),
        monitor=full,
        checkpoint_dir=tmp_path / "ck_full",
    )
    # interrupted after epoch 1, then resumed by a new process
    part = SpectralMonitor(tmp_path / "part.sqlite", run="r")
    train_model(
        _model(),
        data,
        TrainConfig(epochs=1, batch_size=8),
        monitor=part,
        checkpoint_dir=tmp_path / "ck",
    )
    resumed_monitor = SpectralMonitor(tmp_path / "part.sqlite", run="r")
    model = _model()
    result = train_model(
        model,
        data,
        TrainConfig(epochs=3, batch_size=8),
        monitor=resumed_monitor,
        checkpoint_dir=tmp_path / "ck",
    )
    assert result.resumed_from == 1 and result.epochs == [2, 3]
    for a, b in zip(model.parameters(), model_full.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(
        resumed_monitor.history_["stable_rank"], full.history_["stable_rank"]
    )
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["epoch-00003.pt"]


def test_l2_shrinks_the_penalised_layer_only():
    data = _data()
    plain, strong = _model(), _model()
    train_model(plain, data, TrainConfig(epochs=2, batch_size=16))
    train_model(strong, data, TrainConfig(epochs=2, batch_size=16, l2=0.5, l2_layers=("fc1",)))
    assert strong.fc1.weight.norm() < 0.8 * plain.fc1.weight.norm()
    assert abs(strong.fc2.weight.norm() / plain.fc2.weight.norm() - 1) < 0.1


def test_evaluate_restores_mode():
    model = _model().train()
    data = _data()
    acc, loss = evaluate(model, torch.as_tensor(data.x_test), torch.as_tensor(data.y_test))
    assert model.training and 0 <= acc <= 1 and loss > 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, r"`epochs` must be an int >= 1; got 0"),
        ("batch_size", 0, r"`batch_size` must be an int >= 1; got 0"),
        ("lr", 0.0, r"`lr` must be > 0; got 0.0"),
        ("momentum", 1.0, r"`momentum` must be in \[0, 1\); got 1.0"),
        ("lr_decay", 0.0, r"`lr_decay` must be in \(0, 1\]; got 0.0"),
        ("l2", -1.0, r"`l2` must be >= 0; got -1.0"),
        ("min_steps", -1, r"`min_steps` must be an int >= 0; got -1"),
        ("record_every", 0, r"`record_every` must be an int >= 1; got 0"),
    ],
)
def test_train_iv(field, value, message):
    config = TrainConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        train_model(_model(), _data(), config)


def test_l2_layers_iv():
    with pytest.raises(ValueError, match=r"`l2_layers` \['fc9'\] not in the model"):
        train_model(_model(), _data(), TrainConfig(epochs=1, l2=0.1, l2_layers=("fc9",)))


def test_min_steps_trains_large_batches_longer_with_the_same_lr_decay():
    data = _data()  # 64 training samples
    assert planned_epochs(TrainConfig(epochs=2, batch_size=64, min_steps=6), 64) == 6
    assert planned_epochs(TrainConfig(epochs=2, batch_size=8, min_steps=6), 64) == 2
    assert planned_epochs(TrainConfig(epochs=2, batch_size=48, min_steps=5), 64) == 3
    monitor = SpectralMonitor(run="r")
    config = TrainConfig(epochs=2, batch_size=64, min_steps=6, record_every=4)
    result = train_model(_model(), data, config, monitor=monitor)
    # 6 epochs of one step each; recorded at 0, every 4th and the last
    assert result.epochs == [0, 4, 6]
    lrs = monitor.history_.groupby("epoch")["lr"].first()
    # the decay of the nominal 2 epochs (0.95^2) is spread over the 6 epochs
    np.testing.assert_allclose(lrs[6], 0.01 * 0.95**2)
    np.testing.assert_allclose(lrs[4], 0.01 * 0.95 ** (2 * 4 / 6))
