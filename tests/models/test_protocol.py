"""The model protocol: gdlab's models follow it, and a user's NumPy model that does
(docs/examples/own_model.py) trains, checkpoints and resumes with fit."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from gdlab import optim
from gdlab.models import MLP, LinearRegression, SoftmaxRegression, TrainableModel
from gdlab.train import TrainConfig, fit, resume

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "own_model.py"


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("own_model", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_gdlab_models_follow_the_protocol(example: ModuleType) -> None:
    for model in (MLP([2, 3, 2]), LinearRegression(), SoftmaxRegression(2, 3)):
        assert isinstance(model, TrainableModel)
    assert isinstance(example.CircleClassifier(), TrainableModel)
    assert not isinstance(object(), TrainableModel)


def test_the_example_trains_with_fit(example: ModuleType) -> None:
    assert example.main() > 0.95


def test_the_example_gradient_matches_central_differences(example: ModuleType) -> None:
    model, data = example.CircleClassifier(seed=1), example.circle(40, seed=2)
    X, y = data.X_train, data.y_train
    _, grads = model.loss_and_grad(X, y)
    h, worst = 1e-6, 0.0
    for name in model.params:
        flat = model.params[name].reshape(-1)
        for i in range(flat.size):
            x = flat[i]
            flat[i] = x + h
            up = model.loss(X, y)
            flat[i] = x - h
            down = model.loss(X, y)
            flat[i] = x
            exact = grads[name].reshape(-1)[i]
            worst = max(worst, abs((up - down) / (2 * h) - exact))
    assert worst < 1e-8


def test_the_example_checkpoints_and_resumes(
    example: ModuleType, tmp_path: Path
) -> None:
    data = example.circle(200)
    model = example.CircleClassifier()
    fit(
        model,
        optim.create("adam", model.params, lr=0.05),
        data,
        TrainConfig(epochs=2, batch_size=20),
        progress=False,
        checkpoint_dir=tmp_path,
    )
    again = example.CircleClassifier()
    _, resumed, _ = resume(
        tmp_path,
        again,
        optim.create("adam", again.params, lr=0.05),
        data,
        progress=False,
    )
    assert resumed is again
    for name in model.params:
        np.testing.assert_array_equal(again.params[name], model.params[name])
