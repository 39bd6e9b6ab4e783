"""Losses: values, gradients (central differences, torch), stability, checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import losses

from .conftest import raises_about

Loss = Callable[[Any, Any], tuple[float, np.ndarray]]


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Central differences of a scalar function, entry by entry (float64)."""
    h = 1e-6
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + h
        plus = f(x)
        flat[i] = orig - h
        minus = f(x)
        flat[i] = orig
        gflat[i] = (plus - minus) / (2 * h)
    return g


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(np.abs(a).max(), np.abs(b).max())
    return float(np.abs(a - b).max() / scale) if scale else 0.0


def targets_for(loss: Loss, rng: np.random.Generator, shape: tuple[int, int]) -> Any:
    if loss is losses.softmax_cross_entropy:
        return rng.integers(0, shape[1], shape[0])
    if loss is losses.binary_cross_entropy:
        return rng.uniform(size=shape)
    return rng.standard_normal(shape)


ALL = [
    losses.mse,
    losses.sse,
    losses.softmax_cross_entropy,
    losses.binary_cross_entropy,
]


@pytest.mark.parametrize("loss", ALL, ids=lambda f: f.__name__)
@settings(max_examples=15, deadline=None, derandomize=True)
@given(n=st.integers(1, 5), k=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_gradient_matches_central_differences(
    loss: Loss, n: int, k: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.standard_normal((n, k)) * 3
    target = targets_for(loss, rng, (n, k))
    _, grad = loss(pred, target)
    numeric = numeric_grad(lambda p: loss(p, target)[0], pred.copy())
    assert rel_error(grad, numeric) < 1e-6


@pytest.mark.parametrize("loss", ALL, ids=lambda f: f.__name__)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_dtype_and_shape_kept_inputs_untouched(
    loss: Loss, n: int, k: int, dtype: type
) -> None:
    rng = np.random.default_rng(n * 10 + k)
    pred = rng.standard_normal((n, k)).astype(dtype)
    target = targets_for(loss, rng, (n, k))
    before = pred.copy(), np.array(target, copy=True)
    value, grad = loss(pred, target)
    assert isinstance(value, float)
    assert grad.dtype == dtype and grad.shape == pred.shape
    np.testing.assert_array_equal(pred, before[0])
    np.testing.assert_array_equal(target, before[1])


def test_mse_and_sse_worked_numbers() -> None:
    # The seeds' start m=-1, b=5 on (1, 3), (2, 5): predictions 4 and 3.
    value, grad = losses.mse([4.0, 3.0], [3.0, 5.0])
    assert value == 2.5
    np.testing.assert_array_equal(grad, [1.0, -2.0])  # 2/N·(ŷ−y), N = 2
    value, grad = losses.sse([4.0, 3.0], [3.0, 5.0])
    assert value == 2.5  # ½·(1 + 4)
    np.testing.assert_array_equal(grad, [1.0, -2.0])
    value, _ = losses.mse(np.ones((2, 3)), np.zeros((2, 3)))
    assert value == 1.0  # mean over all 6 elements


def test_matches_torch_float64() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((7, 5)) * 4
    ids = rng.integers(0, 5, 7)
    onehot = np.eye(5)[ids]
    probs = rng.dirichlet(np.ones(5), 7)
    bits = rng.uniform(size=(7, 5))
    target = rng.standard_normal((7, 5))

    def torch_value_grad(fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        t = torch.tensor(z, requires_grad=True)
        out = fn(t)
        out.backward()
        assert t.grad is not None
        return out.item(), t.grad.numpy()

    cases = [
        (losses.softmax_cross_entropy(z, ids), lambda t: F.cross_entropy(t, tid)),
        (losses.softmax_cross_entropy(z, onehot), lambda t: F.cross_entropy(t, tid)),
        (
            losses.softmax_cross_entropy(z, probs),
            lambda t: F.cross_entropy(t, torch.tensor(probs)),
        ),
        (
            losses.binary_cross_entropy(z, bits),
            lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(bits)),
        ),
        (losses.mse(z, target), lambda t: F.mse_loss(t, torch.tensor(target))),
        (
            losses.sse(z, target),
            lambda t: 0.5 * F.mse_loss(t, torch.tensor(target), reduction="sum"),
        ),
    ]
    tid = torch.tensor(ids)
    for (value, grad), fn in cases:
        t_value, t_grad = torch_value_grad(fn)
        assert value == pytest.approx(t_value, rel=1e-12)
        np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropies_stable_for_huge_logits(dtype: type) -> None:
    # filterwarnings=error: any overflow warning would fail the test.
    z = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype)
    value, grad = losses.softmax_cross_entropy(z, [1, 2])
    # Row 1: -log softmax_1 = 1e4; row 2: uniform, log 3.
    assert value == pytest.approx((1e4 + np.log(3)) / 2, rel=1e-6)
    assert np.isfinite(grad).all() and grad.dtype == dtype
    np.testing.assert_allclose(grad[0], [0.5, -0.5, 0.0], atol=1e-7)
    np.testing.assert_allclose(grad[1], [1 / 6, 1 / 6, -1 / 3], atol=1e-6)

    zb = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    value, grad = losses.binary_cross_entropy(zb, [1.0, 0.0, 0.0, 1.0])
    assert value == pytest.approx(2e4 / 4, rel=1e-6)
    np.testing.assert_allclose(grad, [0.0, 0.0, 0.25, -0.25], atol=1e-7)
    p = losses.softmax(z)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)


def test_squared_losses_overflow_to_inf_quietly() -> None:
    value, _ = losses.mse([1e200], [-1e200])
    assert value == np.inf


def test_one_hot_equals_class_ids() -> None:
    z = np.random.default_rng(1).standard_normal((6, 4))
    ids = np.array([0, 3, 1, 1, 2, 0], dtype=np.uint8)
    v1, g1 = losses.softmax_cross_entropy(z, ids)
    v2, g2 = losses.softmax_cross_entropy(z, np.eye(4)[ids])
    assert v1 == pytest.approx(v2, rel=1e-14)
    np.testing.assert_allclose(g1, g2, atol=1e-15)


def test_non_contiguous_logits() -> None:
    z = np.random.default_rng(2).standard_normal((5, 8))[:, ::2]
    v, g = losses.softmax_cross_entropy(z, [0, 1, 2, 3, 0])
    v2, g2 = losses.softmax_cross_entropy(z.copy(), [0, 1, 2, 3, 0])
    assert v == v2
    np.testing.assert_array_equal(g, g2)


@pytest.mark.parametrize(
    ("call", "owner", "field", "got"),
    [
        (lambda: losses.mse([1.0, 2.0], [1.0]), "mse", "target", "(1,)"),
        (lambda: losses.sse([np.nan], [1.0]), "sse", "pred", "1 non-finite value"),
        (lambda: losses.mse([1.0], [np.inf]), "mse", "target", "1 non-finite value"),
        (lambda: losses.mse(["a"], [1.0]), "mse", "pred", "dtype <U1"),
        (
            lambda: losses.mse([[1.0], [1.0, 2]], [1.0]),
            "mse",
            "pred",
            "a ragged sequence",
        ),
        (
            lambda: losses.softmax_cross_entropy([1.0, 2.0], [0]),
            "softmax_cross_entropy",
            "logits",
            "(2,)",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [2]),
            "softmax_cross_entropy",
            "labels",
            "2",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [-1]),
            "softmax_cross_entropy",
            "labels",
            "-1",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [0, 1]),
            "softmax_cross_entropy",
            "labels",
            "(2,)",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [0.0]),
            "softmax_cross_entropy",
            "labels",
            "dtype float64 and shape (1,)",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [[0.5, 0.6]]),
            "softmax_cross_entropy",
            "labels",
            "other rows",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, 2.0]], [[1.0, 0, 0]]),
            "softmax_cross_entropy",
            "labels",
            "(1, 3)",
        ),
        (
            lambda: losses.softmax_cross_entropy([[1.0, np.nan]], [0]),
            "softmax_cross_entropy",
            "logits",
            "1 non-finite value",
        ),
        (
            lambda: losses.binary_cross_entropy([0.0], [2.0]),
            "binary_cross_entropy",
            "labels",
            "2.0",
        ),
        (
            lambda: losses.binary_cross_entropy([0.0, 1.0], [1.0]),
            "binary_cross_entropy",
            "labels",
            "(1,)",
        ),
    ],
)
def test_bad_inputs(
    call: Callable[[], object], owner: str, field: str, got: str
) -> None:
    with raises_about(owner, field, got=got):
        call()
