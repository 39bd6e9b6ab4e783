"""PyTorch CNNs as gdlab workloads' models: a small CNN for the 8x8 digits, and
DeepOBS's ``fmnist_2c2d`` (extra ``gdlab[torch]``; loaded only when used).

Each builder has the shape every registered model builder has,
``build(dataset, *, seed, dtype, **options) -> TrainableModel``: it reads the
image side from the dataset's features (64 -> 8x8, 784 -> 28x28) and the classes
from its labels, draws the initial weights from ``seed`` alone (torch's global
generator untouched) and checks the model on the data before anything trains.
:func:`register_builtin` registers them as ``cnn`` and ``fmnist_2c2d``; torch is
imported when one is built, not with this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gdlab import _checks
from gdlab.data import Dataset

if TYPE_CHECKING:
    from torch import nn

    from gdlab.models.torch import TorchModel


def _side(owner: str, dataset: Dataset) -> int:
    """The side of the square one-channel images a row of ``dataset`` holds."""
    features = dataset.X_train.shape[1]
    side = math.isqrt(features)
    if side * side != features:
        _checks.fail(
            owner, "dataset", "square one-channel images (64 or 784 features)", features
        )
    return side


def _classes(owner: str, dataset: Dataset) -> int:
    if not dataset.classes:
        _checks.fail(owner, "dataset", "a classification dataset", dataset.name)
    return len(dataset.classes)


def _flag(owner: str, name: str, value: object) -> bool:
    """A yes/no option as Python or the command line gives it."""
    text = {"true": True, "1": True, "false": False, "0": False}
    if isinstance(value, str) and value.lower() in text:
        return text[value.lower()]
    return _checks.flag(owner, name, value)


def _seeded(seed: int, make: Callable[[], nn.Module]) -> nn.Module:
    """``make()`` with torch's global generator seeded by ``seed`` and given back
    as it was (a module's initializers draw from it)."""
    try:
        import torch
    except ModuleNotFoundError:
        raise ValueError(
            "model: the torch CNNs need PyTorch: pip install 'gdlab[torch]'"
        ) from None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def small_cnn(
    side: int, classes: int, *, channels: int = 8, batchnorm: bool = False
) -> nn.Sequential:
    """Two 3x3 convolutions (``channels`` then twice as many filters, "same"
    padding), each followed by [BatchNorm,] ReLU and 2x2 max pooling, then one
    linear layer to the classes: about 2,000 weights for 8x8 digits."""
    from torch import nn

    layers: list[nn.Module] = []
    width, size = 1, side
    for out in (channels, 2 * channels):
        layers.append(nn.Conv2d(width, out, 3, padding=1))
        if batchnorm:
            layers.append(nn.BatchNorm2d(out))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        width, size = out, size // 2
    layers += [nn.Flatten(), nn.Linear(width * size * size, classes)]
    return nn.Sequential(*layers)


def two_conv_two_dense(side: int, classes: int) -> nn.Sequential:
    """DeepOBS's ``2c2d`` (Schneider et al. 2019, after TensorFlow's MNIST
    tutorial): 5x5 convolutions of 32 and 64 filters ("same" padding), each with
    ReLU and 2x2 max pooling of stride 2, a dense layer of 1,024 ReLU units and
    one of ``classes``; weights from a normal of std 0.05 truncated at two std,
    biases 0.05. On 28x28 images: 3,274,634 parameters."""
    from torch import nn

    pooled = math.ceil(math.ceil(side / 2) / 2)
    net = nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(64 * pooled * pooled, 1024),
        nn.ReLU(),
        nn.Linear(1024, classes),
    )
    for layer in net:
        if isinstance(layer, nn.Conv2d | nn.Linear):
            nn.init.trunc_normal_(layer.weight, std=0.05, a=-0.1, b=0.1)
            if layer.bias is not None:
                nn.init.constant_(layer.bias, 0.05)
    return net


def build_cnn(
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    channels: object = 8,
    batchnorm: object = False,
) -> TorchModel:
    """:func:`small_cnn` on ``dataset`` (``cnn:channels=8,batchnorm=false``),
    trained on softmax cross-entropy."""
    owner = "cnn"
    width = _checks.integer(
        owner, "channels", _integer(owner, "channels", channels), low=1
    )
    if width > MAX_CHANNELS:  # torch would try to allocate it first
        _checks.fail(owner, "channels", f"at most {MAX_CHANNELS}", channels)
    normed = _flag(owner, "batchnorm", batchnorm)
    side, classes = _side(owner, dataset), _classes(owner, dataset)
    net = _seeded(
        seed, lambda: small_cnn(side, classes, channels=width, batchnorm=normed)
    )
    described = f"cnn(channels={width}, batchnorm={normed})"
    return _checked(net, dataset, seed=seed, dtype=dtype, side=side, name=described)


MAX_CHANNELS = 1024
"""The most filters the small CNN's first convolution may have (its second has
twice as many)."""


def build_2c2d(dataset: Dataset, *, seed: int, dtype: str) -> TorchModel:
    """DeepOBS's ``fmnist_2c2d`` network (:func:`two_conv_two_dense`) on
    ``dataset``, trained on softmax cross-entropy; no options."""
    owner = "fmnist_2c2d"
    side, classes = _side(owner, dataset), _classes(owner, dataset)
    net = _seeded(seed, lambda: two_conv_two_dense(side, classes))
    return _checked(net, dataset, seed=seed, dtype=dtype, side=side, name=owner)


def _integer(owner: str, name: str, value: object) -> object:
    """An integer option given as text on the command line, as its int."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            _checks.fail(owner, name, "an integer", value)
    return value


def _checked(
    net: nn.Module, dataset: Dataset, *, seed: int, dtype: str, side: int, name: str
) -> TorchModel:
    from torch import nn

    from gdlab.models.torch import TorchModel

    model = TorchModel(
        net,
        nn.CrossEntropyLoss(),
        input_shape=(1, side, side),
        dtype=dtype,
        seed=seed,
        name=name,
    )
    model.check(dataset.X_train, dataset.y_train)
    return model


BUILDERS: dict[str, Callable[..., TorchModel]] = {
    "cnn": build_cnn,
    "fmnist_2c2d": build_2c2d,
}
"""Registry name -> builder of the torch models gdlab ships."""


def register_builtin(register: Callable[[str, Callable[..., Any]], object]) -> None:
    """Register :data:`BUILDERS` with ``register`` (``gdlab.models.register``).
    This module imports torch only when a model is built, so ``gdlab.models``
    may call this when it is imported."""
    for name, build in BUILDERS.items():
        register(name, build)


__all__ = [
    "BUILDERS",
    "build_2c2d",
    "build_cnn",
    "register_builtin",
    "small_cnn",
    "two_conv_two_dense",
]
