"""Each layer's backward against central differences (float64), buffers, in place."""

from __future__ import annotations

import numpy as np
import pytest

from gdlab.models import layers

from .helpers import numeric_grad, rel_error

ACTIVATIONS = [layers.ReLU, layers.Tanh, layers.Sigmoid]


@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("inplace", [False, True])
def test_activation_backward(cls: type[layers._Activation], inplace: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5)) * 2
    r = rng.standard_normal((4, 5))  # L = sum(f(x) * r), so dL/dy = r

    def value() -> float:
        return float(np.sum(cls().forward(x.copy()) * r))

    layer = cls(inplace=inplace)
    xin = x.copy()
    y = layer.forward(xin)
    assert (y is xin) == inplace
    if not inplace:
        np.testing.assert_array_equal(xin, x)
    dout = r.copy()
    dx = layer.backward(dout)
    assert (dx is dout) == inplace
    assert rel_error(dx, numeric_grad(value, x)) < 1e-6


def test_dense_backward() -> None:
    rng = np.random.default_rng(1)
    x, W = rng.standard_normal((6, 3)), rng.standard_normal((3, 4))
    b = rng.standard_normal(4)
    r = rng.standard_normal((6, 4))
    layer = layers.Dense(W, b)

    def value() -> float:
        return float(np.sum(layers.Dense(W, b).forward(x) * r))

    np.testing.assert_allclose(layer.forward(x), x @ W + b, rtol=1e-14)
    dx = layer.backward(r)
    assert rel_error(layer.dW, numeric_grad(value, W)) < 1e-6
    assert rel_error(layer.db, numeric_grad(value, b)) < 1e-6
    assert rel_error(dx, numeric_grad(value, x)) < 1e-6


def test_dense_writes_into_the_arrays_it_was_given() -> None:
    W, b = np.ones((2, 3)), np.zeros(3)
    dW, db = np.zeros((2, 3)), np.zeros(3)
    layer = layers.Dense(W, b, dW, db)
    layer.forward(np.array([[1.0, 2.0]]))
    layer.backward_params(np.array([[1.0, 0.0, -1.0]]))
    np.testing.assert_array_equal(dW, [[1, 0, -1], [2, 0, -2]])
    np.testing.assert_array_equal(db, [1, 0, -1])


@pytest.mark.parametrize(
    ("cls", "target"),
    [
        (layers.SoftmaxCrossEntropy, np.array([0, 2, 1, 2])),
        (layers.SoftmaxCrossEntropy, np.eye(3)[[1, 0, 0, 2]]),
        (layers.BinaryCrossEntropy, np.random.default_rng(3).uniform(size=(4, 3))),
        (layers.MeanSquaredError, np.random.default_rng(4).standard_normal((4, 3))),
        (layers.SumSquaredError, np.random.default_rng(5).standard_normal((4, 3))),
    ],
    ids=["xent-ids", "xent-onehot", "bce", "mse", "sse"],
)
def test_loss_layer_backward(cls: type[layers._Loss], target: np.ndarray) -> None:
    z = np.random.default_rng(2).standard_normal((4, 3)) * 2
    layer = cls()
    zin = z.copy()
    layer.forward(zin, target)
    np.testing.assert_array_equal(zin, z)  # not in place by default
    dz = layer.backward()
    numeric = numeric_grad(lambda: cls().forward(z, target), z)
    assert rel_error(dz, numeric) < 1e-6
    assert rel_error(layer.backward(2.0), 2 * numeric) < 1e-6


def test_backward_before_forward() -> None:
    with pytest.raises(RuntimeError, match="ReLU: backward called before forward"):
        layers.ReLU().backward(np.ones(2))
    with pytest.raises(RuntimeError, match="Dense: backward called before forward"):
        layers.Dense(np.ones((1, 1)), np.ones(1)).backward(np.ones((1, 1)))
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy: backward called"):
        layers.SoftmaxCrossEntropy().backward()


def test_buffers_are_reused_and_bounded() -> None:
    buffers = layers.Buffers(keep=2)
    a = buffers.get("out", (3, 2), np.dtype(np.float32))
    assert buffers.get("out", (3, 2), np.dtype(np.float32)) is a
    assert buffers.get("out", (3, 2), np.dtype(np.float64)) is not a
    ones = buffers.get("ones", (4,), np.dtype(np.float64), fill=1.0)
    np.testing.assert_array_equal(ones, 1.0)
    # Three keys used, two kept: the float32 one, the oldest made, is gone.
    assert buffers.get("out", (3, 2), np.dtype(np.float32)) is not a


def test_dense_keeps_float32() -> None:
    W = np.ones((3, 2), dtype=np.float32)
    layer = layers.Dense(W, np.zeros(2, dtype=np.float32))
    out = layer.forward(np.ones((5, 3), dtype=np.float32))
    assert out.dtype == np.float32
    assert layer.backward(out).dtype == np.float32
    assert layer.dW.dtype == np.float32
