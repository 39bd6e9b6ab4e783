"""Linear and softmax regression: MISSION's worked numbers, gradients, fits, checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import data, models, optim

from .helpers import randomize

POINTS_X, POINTS_Y = [1.0, 2.0], [3.0, 5.0]


def worked(loss: str = "mse", m0: float = -1.0, b0: float = 5.0) -> models.Model:
    m = models.LinearRegression(n_features=1, loss=loss)
    m.params["W"][...] = m0
    m.params["b"][...] = b0
    return m


@pytest.mark.parametrize("loss", ["mse", "sse"])
def test_mission_worked_example(loss: str) -> None:
    m = worked(loss)
    value, grads = m.loss_and_grad(POINTS_X, POINTS_Y)
    assert value == 2.5
    assert grads["W"].item() == -3.0 and grads["b"].item() == -1.0
    optim.SGD(m.params, lr=0.1).step(grads)
    assert m.params["W"].item() == pytest.approx(-0.7, abs=1e-15)
    assert m.params["b"].item() == pytest.approx(5.1, abs=1e-15)


def test_worked_example_from_the_dataset() -> None:
    ds = data.load("regression")
    m = worked()
    value, grads = m.loss_and_grad(ds.X_train, ds.y_train)
    assert (value, grads["W"].item(), grads["b"].item()) == (2.5, -3.0, -1.0)


@settings(max_examples=30, deadline=None)
@given(m0=st.floats(-10, 10, allow_nan=False), b0=st.floats(-10, 10, allow_nan=False))
def test_gradient_is_the_closed_form(m0: float, b0: float) -> None:
    # MISSION: ∂/∂m = 5m + 3b − 13, ∂/∂b = 3m + 2b − 8.
    value, grads = worked("mse", m0, b0).loss_and_grad(POINTS_X, POINTS_Y)
    assert value == pytest.approx(0.5 * ((m0 + b0 - 3) ** 2 + (2 * m0 + b0 - 5) ** 2))
    assert grads["W"].item() == pytest.approx(5 * m0 + 3 * b0 - 13, abs=1e-12)
    assert grads["b"].item() == pytest.approx(3 * m0 + 2 * b0 - 8, abs=1e-12)


def run_gd(lr: float, steps: int) -> tuple[float, float]:
    m = worked()
    opt = optim.SGD(m.params, lr=lr)
    for _ in range(steps):
        opt.step(m.loss_and_grad(POINTS_X, POINTS_Y)[1])
    return m.params["W"].item(), m.params["b"].item()


def test_learning_rates_converge_crawl_and_diverge() -> None:
    # Hessian [[5, 3], [3, 2]]: λmax ≈ 6.854, GD is stable for lr < 2/λmax ≈ 0.292.
    assert run_gd(0.1, 2000) == pytest.approx((2.0, 1.0), abs=1e-9)
    slow = run_gd(0.005, 200)
    assert abs(slow[0] - 2.0) > 0.1  # crawls
    fast = run_gd(0.5, 60)
    assert abs(fast[0]) > 1e3  # overshoots and diverges


def test_fits_least_squares() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    y = X @ np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]) + [0.3, -1.0]
    y += 0.01 * rng.standard_normal(y.shape)
    m = models.LinearRegression(3, 2)
    opt = optim.SGD(m.params, lr=0.2)
    for _ in range(500):
        opt.step(m.loss_and_grad(X, y)[1])
    A = np.hstack([X, np.ones((50, 1))])
    solution = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(m.params["W"], solution[:3], atol=1e-8)
    np.testing.assert_allclose(m.params["b"], solution[3], atol=1e-8)
    assert m.predict(X).shape == (50, 2)
    assert models.LinearRegression(3).predict(X).shape == (50,)


@pytest.mark.parametrize("loss", ["mse", "sse"])
def test_gradcheck_linear(loss: str) -> None:
    m = models.LinearRegression(4, 3, loss=loss, l2=0.2)
    randomize(m, seed=0)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    assert models.gradcheck(m, X, y) < 1e-6


def test_gradcheck_softmax_regression() -> None:
    m = models.SoftmaxRegression(5, 4, l2=0.5)
    randomize(m, seed=2)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    assert models.gradcheck(m, X, y) < 1e-6
    assert models.gradcheck(m, X, np.eye(4)[y]) < 1e-6


def test_softmax_regression_start_and_names() -> None:
    m = models.SoftmaxRegression(n_features=784, n_classes=10, seed=0)
    assert list(m.params) == ["W", "b"] and m.params["W"].shape == (784, 10)
    X = np.random.default_rng(0).uniform(size=(5, 784))
    assert m.loss(X, [0, 1, 2, 3, 4]) == pytest.approx(np.log(10))
    glorot = models.SoftmaxRegression(784, 10, init="glorot", seed=0)
    assert glorot.params["W"].any()
    assert "SoftmaxRegression(n_features=784, n_classes=10" in repr(m)


def test_l2_adds_half_lambda_w_squared() -> None:
    m = worked()
    m_l2 = models.LinearRegression(1, l2=0.4)
    m_l2.params["W"][...] = -1.0
    m_l2.params["b"][...] = 5.0
    value, grads = m_l2.loss_and_grad(POINTS_X, POINTS_Y)
    assert value == pytest.approx(2.5 + 0.5 * 0.4 * 1.0)
    assert grads["W"].item() == pytest.approx(-3.0 + 0.4 * -1.0)
    assert grads["b"].item() == -1.0  # biases are not penalized
    assert m.loss(POINTS_X, POINTS_Y) == 2.5


BAD: list[tuple[Callable[[], object], str]] = [
    (lambda: models.LinearRegression(0), r"LinearRegression: n_features must be an"),
    (lambda: models.LinearRegression(1, 0), r"LinearRegression: n_outputs must be"),
    (
        lambda: models.LinearRegression(1, loss="softmax_cross_entropy"),
        r"LinearRegression: loss must be one of mse, sse",
    ),
    (lambda: models.SoftmaxRegression(4, 1), r"SoftmaxRegression: n_classes must be"),
    (
        lambda: models.SoftmaxRegression(4, 3).loss_and_grad(np.ones((2, 5)), [0, 1]),
        r"SoftmaxRegression: X must have 4 features, got 5",
    ),
    (
        lambda: models.LinearRegression(2).loss_and_grad(np.ones(2), [0.0, 1.0]),
        r"LinearRegression: X must be a 2-D array",
    ),
    (
        lambda: models.LinearRegression(1).accuracy([1.0], [1.0]),
        r"LinearRegression: accuracy needs a classification loss, got loss='mse'",
    ),
]


@pytest.mark.parametrize(("call", "match"), BAD)
def test_bad_arguments(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
