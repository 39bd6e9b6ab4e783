"""A PyTorch model trained by ``gdlab.train.fit`` with gdlab's fused optimizers, and
compared with ``torch.optim``'s (``pip install 'gdlab[torch]'``)::

    python docs/examples/torch_model.py

:class:`gdlab.models.torch.TorchModel` makes the module's parameters views of one
gdlab buffer, so ``optim.create("adam", model.params)`` updates all of them in
one pass, and ``"torch:Adam"`` runs ``torch.optim.Adam`` over the same arrays.
``build`` is a model builder: importing this file registers it as ``tiny_cnn``,
for ``gdlab compare --plugin docs/examples/torch_model.py --model tiny_cnn
--optimizers adam,torch:Adam,sgd --workers 2``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gdlab import data, models, optim
from gdlab.models.torch import TorchModel
from gdlab.train import TrainConfig, fit


def tiny_cnn() -> nn.Module:
    """8x8 digits -> 8 filters of 3x3, ReLU, 2x2 max pooling -> 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def build(
    dataset: data.Dataset, *, seed: int, dtype: str, **options: Any
) -> TorchModel:
    """The model for ``dataset`` (the digits' 64 pixels), its weights from ``seed``."""
    with torch.random.fork_rng(devices=[]):  # torch's global generator untouched
        torch.manual_seed(seed)
        module = tiny_cnn()
    model = TorchModel(
        module,
        nn.CrossEntropyLoss(),
        input_shape=(1, 8, 8),
        dtype=dtype,
        seed=seed,
        name="tiny_cnn",
    )
    model.check(dataset.X_train, dataset.y_train)  # bad data: refused now
    return model


models.register("tiny_cnn", build)


def main() -> dict[str, float]:
    """Train with gdlab's Adam and with torch.optim's, from the same weights on
    the same batches; return each one's validation accuracy."""
    dataset = data.load("digits")
    found = {}
    for name in ("adam", "torch:Adam"):
        model = build(dataset, seed=0, dtype="float32")
        opt = optim.create(name, model.params, lr=3e-3)
        history = fit(model, opt, dataset, TrainConfig(epochs=3, batch_size=32))
        found[name] = history.epochs[-1]["val_acc"]
    return found


if __name__ == "__main__":
    for name, accuracy in main().items():
        print(f"{name}: validation accuracy {accuracy:.3f}")
