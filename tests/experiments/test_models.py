from __future__ import annotations

import pickle

import pytest
import torch

from htsr.experiments.models import MODELS, make_model


def _shapes(model):
    return {n: tuple(p.shape) for n, p in model.named_parameters() if n.endswith("weight")}


def test_minialexnet_matches_the_paper():
    model = make_model("minialexnet", input_shape=(3, 28, 28), num_classes=10)
    shapes = _shapes(model)
    # JMLR 2021, Section 6: conv 96 5x5, conv 256 5x5, FC1 4096 x 384, FC2 384 x 192, FC3 10
    assert shapes["conv1.weight"] == (96, 3, 5, 5)
    assert shapes["conv2.weight"] == (256, 96, 5, 5)
    assert shapes["fc1.weight"] == (384, 4096)
    assert shapes["fc2.weight"] == (192, 384)
    assert shapes["fc3.weight"] == (10, 192)
    assert model(torch.zeros(2, 3, 28, 28)).shape == (2, 10)


def test_mlp3_lenet5_mlp1d():
    mlp3 = make_model("mlp3", input_shape=(3, 28, 28), num_classes=10)
    assert list(_shapes(mlp3).values()) == [(512, 2352), (512, 512), (512, 512), (10, 512)]
    lenet = make_model("lenet5", input_shape=(1, 28, 28), num_classes=10)
    assert _shapes(lenet)["fc1.weight"] == (120, 400)  # 16 x 5 x 5 after two pools
    assert lenet(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    mlp1d = make_model("mlp1d", input_shape=(40,), num_classes=10)
    assert list(_shapes(mlp1d).values()) == [(512, 40), (256, 512), (10, 256)]
    assert mlp1d(torch.zeros(3, 40)).shape == (3, 10)


def test_seeded_and_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = make_model("mlp1d", input_shape=(40,), num_classes=10, seed=7)
    assert torch.equal(torch.rand(1), expected)  # global state as it was
    b = make_model("mlp1d", input_shape=(40,), num_classes=10, seed=7)
    c = make_model("mlp1d", input_shape=(40,), num_classes=10, seed=8)
    assert torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


def test_make_model_iv():
    with pytest.raises(ValueError, match=r"unknown model 'vgg'; choose one of"):
        make_model("vgg", input_shape=(40,), num_classes=10)
    with pytest.raises(ValueError, match="needs square images"):
        make_model("minialexnet", input_shape=(40,), num_classes=10)
    with pytest.raises(ValueError, match="`image_size` must be >= 16"):
        make_model("minialexnet", input_shape=(1, 8, 8), num_classes=10)
    assert set(MODELS) == {"minialexnet", "mlp3", "lenet5", "mlp1d", "mlp_wide"}


def test_mlp_wide_and_models_pickle():
    model = make_model("mlp_wide", input_shape=(40,), num_classes=10, seed=0)
    # FC2 400 x 300: M = 300 eigenvalues, the layer the experiments read
    assert list(_shapes(model).values()) == [(400, 40), (300, 400), (10, 300)]
    for name, shape in [("mlp_wide", (40,)), ("lenet5", (1, 28, 28)), ("minialexnet", (3, 28, 28))]:
        m = make_model(name, input_shape=shape, num_classes=10, seed=1)
        clone = pickle.loads(pickle.dumps(m))  # module-level classes: picklable
        assert type(clone) is type(m)
        for a, b in zip(m.parameters(), clone.parameters(), strict=True):
            assert torch.equal(a, b)
    # one class per architecture, not a new class per call
    assert type(make_model("mlp1d", input_shape=(40,), num_classes=10)) is type(model)
