"""Hessian eigenvalues from Hessian-vector products, and the 2/λmax stability limit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from gdlab import lab, models, surfaces

from ..conftest import raises_about

LAMBDA_REGRESSION = (7 + math.sqrt(45)) / 2  # eigenvalues of [[5, 3], [3, 2]]


pytestmark = pytest.mark.usefixtures("torch_float64")


@pytest.mark.parametrize("name", ["quadratic", "bowl", "regression"])
@pytest.mark.parametrize("k", [1, 2])
def test_quadratic_surfaces_give_the_analytic_eigenvalues(name: str, k: int) -> None:
    f = surfaces.get(name)
    point = np.array([0.3, -1.7])
    exact = np.linalg.eigvalsh(f.hessian(point))[::-1]  # analytic Hessian
    values = lab.hessian_top_eigenvalues(f.loss_and_grad, point, k=k)
    np.testing.assert_allclose(values, exact[:k], rtol=1e-8)
    smallest = lab.hessian_top_eigenvalues(f.loss_and_grad, point, which="SA")
    np.testing.assert_allclose(smallest, exact[-1:], rtol=1e-7)
    np.testing.assert_array_equal(point, [0.3, -1.7])  # restored exactly


def test_the_quadratics_are_known_by_heart() -> None:
    at = np.array([1.0, 1.0])
    assert lab.top_eigenvalue(
        surfaces.get("quadratic").loss_and_grad, at
    ) == pytest.approx(2.0, rel=1e-9)
    assert lab.top_eigenvalue(surfaces.get("bowl").loss_and_grad, at) == pytest.approx(
        2.0, rel=1e-9
    )
    assert lab.top_eigenvalue(
        surfaces.get("regression").loss_and_grad, at
    ) == pytest.approx(LAMBDA_REGRESSION, rel=1e-9)


@pytest.mark.parametrize("name", ["rosenbrock", "beale", "himmelblau", "rastrigin"])
def test_hessian_vector_products_match_the_analytic_hessian(name: str) -> None:
    f = surfaces.get(name)
    point = np.array([0.7, 1.3])
    v = np.array([0.6, -0.8])
    hv = lab.hessian_vector_product(f.loss_and_grad, point, v)
    h = f.hessian(point)
    np.testing.assert_allclose(hv, h @ v, rtol=1e-7, atol=1e-7 * np.abs(h).max())
    top = lab.hessian_top_eigenvalues(f.loss_and_grad, point, return_vectors=True)
    assert isinstance(top, tuple)
    value, vector = top
    assert value[0] == pytest.approx(np.linalg.eigvalsh(h)[-1], rel=1e-7)
    np.testing.assert_allclose(h @ vector[:, 0], value[0] * vector[:, 0], rtol=1e-6)


def test_a_mapping_of_parameters() -> None:
    """Named arrays, perturbed in place: the regression as {'m': ..., 'b': ...}."""
    f = surfaces.get("regression")
    params = {"m": np.array([-1.0]), "b": np.array([5.0])}

    def loss_and_grad(p: dict[str, np.ndarray]) -> tuple[float, dict[str, Any]]:
        xy = np.array([p["m"][0], p["b"][0]])
        g = f.grad(xy)
        return float(f.value(xy)), {"m": g[:1], "b": g[1:]}

    value = lab.top_eigenvalue(loss_and_grad, params)
    assert value == pytest.approx(LAMBDA_REGRESSION, rel=1e-9)
    assert params["m"][0] == -1.0 and params["b"][0] == 5.0


def tiny_mlp() -> tuple[models.MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    model = models.MLP([3, 5, 3], activation="tanh", seed=1)
    X = rng.standard_normal((12, 3))
    y = rng.integers(0, 3, 12)
    return model, X, y


def test_mlp_eigenvalues_match_a_dense_finite_difference_hessian() -> None:
    model, X, y = tiny_mlp()

    def loss_and_grad(p: Any) -> tuple[float, Any]:
        return model.loss_and_grad(X, y)

    buffer = model.params.buffers[np.dtype(np.float64)]
    theta = buffer.copy()
    values = lab.hessian_top_eigenvalues(loss_and_grad, model.params, k=3)
    np.testing.assert_array_equal(buffer, theta)  # restored exactly

    n, h = buffer.size, 1e-5
    dense = np.empty((n, n))
    for i in range(n):
        buffer[:] = theta
        buffer[i] += h
        plus = model.loss_and_grad(X, y)[1].buffers[np.dtype(np.float64)].copy()
        buffer[i] -= 2 * h
        minus = model.loss_and_grad(X, y)[1].buffers[np.dtype(np.float64)].copy()
        dense[:, i] = (plus - minus) / (2 * h)
    buffer[:] = theta
    expected = np.linalg.eigvalsh(0.5 * (dense + dense.T))[::-1][:3]
    np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-6)

    # And the exact Hessian from torch autograd, on the same network.
    p = model.params

    def torch_loss(flat: torch.Tensor) -> torch.Tensor:
        parts, offset = {}, 0
        for name in p:
            size = p[name].size
            parts[name] = flat[offset : offset + size].reshape(p[name].shape)
            offset += size
        hidden = torch.tanh(torch.tensor(X) @ parts["W1"] + parts["b1"])
        logits = hidden @ parts["W2"] + parts["b2"]
        return torch.nn.functional.cross_entropy(logits, torch.tensor(y))

    flat = torch.tensor(theta)
    assert torch_loss(flat).item() == pytest.approx(
        model.loss_and_grad(X, y)[0], rel=1e-12
    )
    exact = torch.autograd.functional.hessian(torch_loss, flat).numpy()
    np.testing.assert_allclose(
        values, np.linalg.eigvalsh(exact)[::-1][:3], rtol=1e-6, atol=1e-8
    )


def test_stability_of_the_seeds_regression() -> None:
    report = lab.stability("regression")
    assert report.lambda_max == pytest.approx(LAMBDA_REGRESSION, rel=1e-9)
    assert report.lambda_min == pytest.approx((7 - math.sqrt(45)) / 2, rel=1e-7)
    assert report.max_lr == pytest.approx(2 / LAMBDA_REGRESSION, rel=1e-9)
    assert round(report.max_lr, 3) == 0.292
    assert [r.lr for r in report.runs] == [0.28, 0.30]
    assert [r.verdict for r in report.runs] == ["converged", "diverged"]
    # Plain GD: θ_n − θ* = (I − ηH)^n (θ_0 − θ*).
    h = np.array([[5.0, 3.0], [3.0, 2.0]])
    for r in report.runs:
        error = np.linalg.matrix_power(np.eye(2) - r.lr * h, 500) @ np.array(
            [-3.0, 4.0]
        )
        np.testing.assert_allclose(
            r.final, np.array([2.0, 1.0]) + error, rtol=1e-8, atol=1e-12
        )
    text = report.format()
    assert "λmax = 6.8541" in text and "2/λmax = 0.291796" in text


def test_stability_of_the_quadratic() -> None:
    report = lab.stability("quadratic", [0.5, 0.99, 1.01], steps=2000)
    assert report.lambda_max == pytest.approx(2.0, rel=1e-9)
    assert report.lambda_min == pytest.approx(0.1, rel=1e-7)
    assert [r.verdict for r in report.runs] == ["converged", "converged", "diverged"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, r"hessian_top_eigenvalues: k must be an integer >= 1, got 0"),
        (
            {"k": 3},
            r"hessian_top_eigenvalues: k must be <= the number of parameters \(2\)",
        ),
        ({"which": "BE"}, r"hessian_top_eigenvalues: which must be one of LA, SA, LM"),
        ({"eps": -1.0}, r"hessian_top_eigenvalues: eps must be > 0"),
    ],
)
def test_errors(kwargs: dict[str, Any], message: str) -> None:
    f = surfaces.get("bowl")
    with pytest.raises(ValueError, match=message):
        lab.hessian_top_eigenvalues(f.loss_and_grad, np.array([1.0, 2.0]), **kwargs)


def test_stability_errors() -> None:
    with raises_about("stability", "lrs", got="-0.1"):
        lab.stability("regression", [-0.1])
    with raises_about("stability", "start"):
        lab.stability("regression", start=[1.0])


def test_where_the_gradient_overflows_is_a_value_error_not_an_arpack_error() -> None:
    f = surfaces.get("rosenbrock")

    def loss_and_grad(p: np.ndarray) -> tuple[float, np.ndarray]:  # f(x, y) + z²/2
        value, grad = f.loss_and_grad(p[:2])
        return value + p[2] ** 2 / 2, np.append(grad, p[2])

    point = np.array([1e200, 1e200, 1.0])  # k < n: eigsh (ARPACK) does the work
    with raises_about("hessian_top_eigenvalues", "params"):
        lab.hessian_top_eigenvalues(loss_and_grad, point)
    assert point.tolist() == [1e200, 1e200, 1.0]  # restored
    with raises_about("stability", "at", got="(1e+200, 1e+200)"):
        lab.stability("rosenbrock", at=[1e200, 1e200])
    with raises_about("stability", "start"):
        lab.stability("rosenbrock", start=[-1e200, 1e200])


def test_a_flat_loss_has_zero_curvature_instead_of_an_arpack_error() -> None:
    """A linear loss (or a network whose outputs saturated) maps every vector to a
    zero Hessian-vector product, which ARPACK cannot start from."""
    c = np.arange(1.0, 7.0)

    def linear(p: np.ndarray) -> tuple[float, np.ndarray]:
        return float(c @ p), c.copy()

    values = lab.hessian_top_eigenvalues(linear, np.zeros(6), 2)
    assert isinstance(values, np.ndarray)
    assert values.tolist() == [0.0, 0.0]
