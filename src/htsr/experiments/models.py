"""The paper's models in PyTorch, and a small MLP for 1-D data.

Layer attribute names (``fc1``, ``conv1``, ...) are the names used by ``--l2-layers`` and in
the history (``fc1.weight``). Building a model with ``seed`` never touches the global torch
random state (the initialisation runs inside ``torch.random.fork_rng``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from htsr._optional import import_optional


def _torch() -> Any:
    return import_optional("torch", extra="torch", caller="htsr.experiments.models")


def _nn() -> Any:
    return _torch().nn


def _module_base() -> type:
    """``torch.nn.Module`` (or ``object`` without torch, so that importing this module never
    needs torch; building a model does)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed wherever models are built
        return object
    base: type = torch.nn.Module
    return base


_Module: Any = _module_base()


class MiniAlexNet(_Module):  # type: ignore[misc]
    """MiniAlexNet of Martin & Mahoney (2021), Section 6 (see :func:`mini_alexnet`)."""

    def __init__(self, in_channels: int, side: int, num_classes: int) -> None:
        super().__init__()
        nn = _nn()
        self.conv1 = nn.Conv2d(in_channels, 96, 5)
        self.bn1 = nn.BatchNorm2d(96)
        self.conv2 = nn.Conv2d(96, 256, 5)
        self.bn2 = nn.BatchNorm2d(256)
        self.fc1 = nn.Linear(256 * side * side, 384)
        self.fc2 = nn.Linear(384, 192)
        self.fc3 = nn.Linear(192, num_classes)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        x = self.bn1(self.pool(self.act(self.conv1(x))))
        x = self.bn2(self.pool(self.act(self.conv2(x))))
        x = x.flatten(1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


class MLP(_Module):  # type: ignore[misc]
    """Fully connected ReLU network ``widths[0] -> ... -> widths[-1]``; layers ``fc1, fc2, ...``."""

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        nn = _nn()
        widths = [int(w) for w in widths]
        for i, (a, b) in enumerate(itertools.pairwise(widths), start=1):
            setattr(self, f"fc{i}", nn.Linear(a, b))
        self.depth = len(widths) - 1
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        x = x.flatten(1)
        for i in range(1, self.depth + 1):
            x = getattr(self, f"fc{i}")(x)
            if i < self.depth:
                x = self.act(x)
        return x


class LeNet5(_Module):  # type: ignore[misc]
    """LeNet5 with ReLU and max-pooling (see :func:`lenet5`)."""

    def __init__(self, in_channels: int, side: int, num_classes: int) -> None:
        super().__init__()
        nn = _nn()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)
        self.pool = nn.MaxPool2d(2)
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = x.flatten(1)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc3(x)


def mini_alexnet(*, in_channels: int = 3, image_size: int = 28, num_classes: int = 10) -> Any:
    """MiniAlexNet of Martin & Mahoney (2021), Section 6.

    conv 96 5x5 -> ReLU -> max-pool 2 -> BN -> conv 256 5x5 -> ReLU -> max-pool 2 -> BN ->
    FC 384 -> FC 192 -> FC 10 (ReLU between the FC layers). With 28 x 28 x 3 crops and valid
    convolutions the flattened features are 256 x 4 x 4 = 4096, so FC1 is 4096 x 384 (Q = 10.7)
    and FC2 384 x 192, the matrices whose ESDs the paper shows.

    References
    ----------
    .. [1] C. H. Martin and M. W. Mahoney, "Implicit Self-Regularization in Deep Neural
       Networks", JMLR 22(165), 2021, Section 6 (MiniAlexNet) and Section 7 (batch size).
    """
    _torch()
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ValueError(f"`image_size` must be >= 16 for MiniAlexNet; got {image_size}")
    return MiniAlexNet(in_channels, side, num_classes)


def _mlp(in_features: int, hidden: Sequence[int], num_classes: int) -> Any:
    _torch()
    return MLP([int(in_features), *map(int, hidden), int(num_classes)])


def mlp3(*, in_features: int = 3072, num_classes: int = 10, hidden: int = 512) -> Any:
    """MLP3 of Martin & Mahoney (2021): three hidden layers of 512 units, ReLU."""
    return _mlp(in_features, (hidden,) * 3, num_classes)


def mlp1d(
    *, in_features: int = 40, num_classes: int = 10, hidden: Sequence[int] = (512, 256)
) -> Any:
    """A small MLP for 1-D data (MNIST-1D: 40 inputs): 40 -> 512 -> 256 -> 10, ReLU.

    FC1 is 512 x 40 (40 eigenvalues), FC2 512 x 256 (Q = 2, 256 eigenvalues): FC2 is the
    layer with enough eigenvalues for a tail fit.
    """
    return _mlp(in_features, hidden, num_classes)


def mlp_wide(
    *, in_features: int = 40, num_classes: int = 10, hidden: Sequence[int] = (400, 300)
) -> Any:
    """The experiments' MLP: in -> 400 -> 300 -> 10, ReLU.

    FC2 is 400 x 300 (Q = 1.33, M = 300 eigenvalues): wide enough for its ESD, its MP bulk
    and its spikes to be read, and small enough to train with batch size 2 on a CPU.
    """
    return _mlp(in_features, hidden, num_classes)


def lenet5(*, in_channels: int = 1, image_size: int = 28, num_classes: int = 10) -> Any:
    """LeNet5 (LeCun et al. 1998) with ReLU and max-pooling, as in Martin & Mahoney (2021).

    conv 6 5x5 (padding 2) -> pool 2 -> conv 16 5x5 -> pool 2 -> FC 120 -> FC 84 -> FC 10.
    """
    _torch()
    side = (image_size // 2 - 4) // 2
    if side < 1:
        raise ValueError(f"`image_size` must be >= 12 for LeNet5; got {image_size}")
    return LeNet5(in_channels, side, num_classes)


def _image_kwargs(input_shape: tuple[int, ...], num_classes: int) -> dict[str, int]:
    if len(input_shape) != 3 or input_shape[1] != input_shape[2]:
        raise ValueError(f"this model needs square images (C, H, H); the data has {input_shape}")
    return {"in_channels": input_shape[0], "image_size": input_shape[1], "num_classes": num_classes}


def _flat_kwargs(input_shape: tuple[int, ...], num_classes: int) -> dict[str, int]:
    size = 1
    for d in input_shape:
        size *= int(d)
    return {"in_features": size, "num_classes": num_classes}


#: name -> (builder, how to derive its arguments from the data's input shape).
MODELS: dict[str, tuple[Callable[..., Any], Callable[..., dict[str, int]]]] = {
    "minialexnet": (mini_alexnet, _image_kwargs),
    "mlp3": (mlp3, _flat_kwargs),
    "lenet5": (lenet5, _image_kwargs),
    "mlp1d": (mlp1d, _flat_kwargs),
    "mlp_wide": (mlp_wide, _flat_kwargs),
}


def make_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, seed: int = 0) -> Any:
    """Build a model by name for data of ``input_shape``, initialised from ``seed``.

    The global torch random state is saved and restored around the initialisation.

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists the models) or the data does not fit it.

    Examples
    --------
    >>> model = make_model("mlp1d", input_shape=(40,), num_classes=10, seed=0)
    >>> [n for n, _ in model.named_parameters()][:2]
    ['fc1.weight', 'fc1.bias']
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    torch = _torch()
    builder, kwargs_of = MODELS[name]
    kwargs = kwargs_of(tuple(input_shape), int(num_classes))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return builder(**kwargs)


__all__ = [
    "MLP",
    "MODELS",
    "LeNet5",
    "MiniAlexNet",
    "lenet5",
    "make_model",
    "mini_alexnet",
    "mlp1d",
    "mlp3",
    "mlp_wide",
]
