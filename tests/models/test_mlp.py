"""MLP: backprop vs central differences and torch autograd, init, dtype, checks."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import Params, data, models, optim

from ..conftest import raises_about
from .helpers import numeric_grad, randomize, rel_error, targets

ACTIVATIONS = ["relu", "tanh", "sigmoid"]
LOSSES = ["softmax_cross_entropy", "binary_cross_entropy", "mse", "sse"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_gradcheck_every_activation_loss_and_l2(
    activation: str, loss: str, l2: float
) -> None:
    m = models.MLP([5, 4, 6, 3], activation, loss=loss, l2=l2, seed=1)
    randomize(m, seed=2)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((7, 5))
    assert models.gradcheck(m, X, targets(loss, rng, 7, 3)) < 1e-6


@pytest.mark.parametrize("sizes", [[3, 2], [3, 5, 2], [4, 3, 3, 3, 2]])
def test_gradcheck_depths(sizes: list[int]) -> None:
    m = models.MLP(sizes, "tanh", l2=0.1, seed=0)
    randomize(m, seed=5)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((5, sizes[0]))
    assert models.gradcheck(m, X, rng.integers(0, sizes[-1], 5)) < 1e-6


def torch_net(m: models.MLP) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The MLP's weights as leaf tensors (W is (in, out), as in gdlab)."""
    n = len(m.sizes) - 1
    return [
        (
            torch.tensor(m.params[f"W{i}"], requires_grad=True),
            torch.tensor(m.params[f"b{i}"], requires_grad=True),
        )
        for i in range(1, n + 1)
    ]


def torch_loss(
    net: list[tuple[torch.Tensor, torch.Tensor]],
    X: np.ndarray,
    y: np.ndarray,
    activation: str,
    l2: float,
) -> torch.Tensor:
    act: Callable[[torch.Tensor], torch.Tensor] = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }[activation]
    h = torch.tensor(X)
    for i, (W, b) in enumerate(net):
        h = h @ W + b
        if i < len(net) - 1:
            h = act(h)
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    return loss + 0.5 * l2 * sum((W**2).sum() for W, _ in net)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_grad_matches_torch_autograd(activation: str) -> None:
    m = models.MLP([8, 6, 5, 4], activation, l2=0.01, seed=0)
    randomize(m, seed=1)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((10, 8)), rng.integers(0, 4, 10)
    loss, grads = m.loss_and_grad(X, y)
    net = torch_net(m)
    t_loss = torch_loss(net, X, y, activation, 0.01)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    for i, (W, b) in enumerate(net, start=1):
        assert W.grad is not None and b.grad is not None
        np.testing.assert_allclose(grads[f"W{i}"], W.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(grads[f"b{i}"], b.grad.numpy(), rtol=1e-10)


def test_sgd_steps_match_torch() -> None:
    m = models.MLP([8, 6, 4], "relu", seed=0)
    rng = np.random.default_rng(3)
    net = torch_net(m)
    opt = optim.SGD(m.params, lr=0.1)
    t_opt = torch.optim.SGD([p for pair in net for p in pair], lr=0.1)
    for _ in range(5):
        X, y = rng.standard_normal((10, 8)), rng.integers(0, 4, 10)
        _, grads = m.loss_and_grad(X, y)
        opt.step(grads)
        t_opt.zero_grad()
        torch_loss(net, X, y, "relu", 0.0).backward()
        t_opt.step()
        for i, (W, b) in enumerate(net, start=1):
            np.testing.assert_allclose(m.params[f"W{i}"], W.detach(), rtol=1e-10)
            np.testing.assert_allclose(m.params[f"b{i}"], b.detach(), rtol=1e-10)


def test_grads_share_the_params_layout() -> None:
    m = models.MLP([4, 3, 2], seed=0)
    assert list(m.params) == ["W1", "b1", "W2", "b2"]
    assert m.params["W1"].shape == (4, 3) and m.params["b2"].shape == (2,)
    _, grads = m.loss_and_grad(np.ones((2, 4)), [0, 1])
    assert isinstance(grads, Params) and grads is not m.grads
    assert m.params.same_layout(grads)
    # the weights live in the one buffer the optimizer updates
    buffer = m.params.buffers[np.dtype(np.float64)]
    assert np.shares_memory(buffer, m.params["W2"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype: type) -> None:
    m = models.MLP([6, 5, 3], seed=0, dtype=dtype, l2=0.1)
    X = np.random.default_rng(0).standard_normal((4, 6))
    for x in (X.astype(dtype), X, (X * 10).astype(np.int64)):
        loss, grads = m.loss_and_grad(x, [0, 1, 2, 0])
        assert isinstance(loss, float) and np.isfinite(loss)
        assert all(grads[n].dtype == dtype for n in grads)
        assert m.forward(x).dtype == dtype
        assert m.predict_proba(x).dtype == dtype


def test_float32_close_to_float64() -> None:
    m64 = models.MLP([6, 5, 3], seed=4)
    m32 = m64.astype(np.float32)
    assert m32.dtype == np.float32 and repr(m32) == repr(m64).replace("64", "32")
    X = np.random.default_rng(0).standard_normal((8, 6))
    y = np.arange(8) % 3
    l64, g64 = m64.loss_and_grad(X, y)
    l32, g32 = m32.loss_and_grad(X.astype(np.float32), y)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for name in g64:
        np.testing.assert_allclose(g32[name], g64[name], rtol=1e-3, atol=1e-6)


def test_init_he_glorot_seeded_no_global_rng() -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (the global RNG)
    relu = models.MLP([400, 300, 10], "relu", seed=0)
    tanh = models.MLP([400, 300, 10], "tanh", seed=0)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    assert relu.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    limit = np.sqrt(6 / 700)
    assert np.abs(tanh.params["W1"]).max() <= limit
    assert tanh.params["W1"].std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    assert not relu.params["b1"].any() and not tanh.params["b2"].any()
    again = models.MLP([400, 300, 10], "relu", seed=0, dtype=np.float32)
    np.testing.assert_array_equal(
        again.params["W2"], relu.params["W2"].astype(np.float32)
    )
    other = models.MLP([400, 300, 10], "relu", seed=1)
    assert not np.array_equal(other.params["W1"], relu.params["W1"])
    gen = models.MLP([3, 2], seed=np.random.default_rng(0))
    assert gen.params["W1"].shape == (3, 2)
    assert not models.MLP([3, 2], init="zeros").params["W1"].any()


def test_predict_accuracy_and_loss() -> None:
    m = models.MLP([4, 5, 3], seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    logits = m.forward(X)
    np.testing.assert_array_equal(m.predict(X), logits.argmax(axis=1))
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    accuracy = m.accuracy(X, y)
    assert accuracy == np.mean(logits.argmax(axis=1) == y)
    assert m.accuracy(X, np.eye(3)[y]) == accuracy
    assert m.loss(X, y) == m.loss_and_grad(X, y)[0]


@pytest.mark.parametrize("chunk", [7, 20, 10_000])
def test_evaluate_is_loss_and_accuracy_in_chunks(chunk: int) -> None:
    m = models.MLP([4, 5, 3], seed=0, l2=0.1)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    loss, accuracy = m.evaluate(X, y, chunk=chunk)
    assert loss == pytest.approx(m.loss(X, y), rel=1e-12)
    assert accuracy == m.accuracy(X, y)
    assert m.evaluate(X, np.eye(3)[y], chunk=chunk) == pytest.approx((loss, accuracy))
    r = models.MLP([4, 2], loss="mse", seed=0)
    assert r.evaluate(X, X[:, :2]) == (r.loss(X, X[:, :2]), None)
    m.params["b2"][1] = np.inf  # logits that are not finite: NaN for both
    assert all(np.isnan(v) for v in m.evaluate(X, y, chunk=chunk))


def test_evaluate_checks_its_input() -> None:
    m = models.MLP([4, 5, 3], seed=0)
    X = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"^MLP: y must be class ids of shape \(5,\)"):
        m.evaluate(X, np.zeros(6, dtype=int))
    with pytest.raises(ValueError, match=r"^MLP: X must be non-empty"):
        m.evaluate(np.zeros((0, 4)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"^MLP: chunk must be an integer >= 1"):
        m.evaluate(X, np.zeros(5, dtype=int), chunk=0)


def test_binary_and_regression_heads() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    b = models.MLP([3, 4, 1], loss="binary_cross_entropy", seed=0)
    y = np.array([0, 1, 1, 0, 1, 0])
    assert b.predict(X).shape == (6,) and set(b.predict(X)) <= {0, 1}
    assert b.predict_proba(X).shape == (6,)
    assert b.accuracy(X, y) == np.mean(b.predict(X) == y)
    r = models.MLP([3, 4, 2], loss="mse", seed=0)
    assert r.predict(X).shape == (6, 2)
    with pytest.raises(ValueError, match="MLP: accuracy needs a classification loss"):
        r.accuracy(X, np.zeros((6, 2)))


def test_learns_digits() -> None:
    ds = data.load("digits")
    m = models.MLP([64, 32, 10], seed=0)
    opt = optim.SGD(m.params, lr=0.1)
    for xb, yb in data.batches(ds.X_train, ds.y_train, 32, seed=0):
        opt.step(m.loss_and_grad(xb, yb)[1])
    for _ in range(4):
        for xb, yb in data.batches(ds.X_train, ds.y_train, 32, seed=1):
            opt.step(m.loss_and_grad(xb, yb)[1])
    assert m.accuracy(ds.X_test, ds.y_test) > 0.9


def test_copy_is_independent() -> None:
    m = models.MLP([3, 2], seed=0)
    c = m.copy()
    c.params["W1"][...] = 0
    assert m.params["W1"].any()


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    classes=st.integers(2, 4),
    n=st.integers(1, 9),
    activation=st.sampled_from(ACTIVATIONS),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_shapes_and_dtypes(
    sizes: list[int], classes: int, n: int, activation: str, dtype: type
) -> None:
    m = models.MLP([*sizes, classes], activation, seed=0, dtype=dtype)
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, classes, n)
    loss, grads = m.loss_and_grad(X, y)
    assert np.isfinite(loss) and loss >= 0
    for name in m.params:
        assert grads[name].shape == m.params[name].shape
        assert grads[name].dtype == dtype
        assert np.isfinite(grads[name]).all()
    assert m.predict(X).shape == (n,)


BAD: list[tuple[Callable[[], object], str]] = [
    (lambda: models.MLP([784]), r"MLP: sizes must be a list of at least 2 positive"),
    (lambda: models.MLP([784, 0, 10]), r"MLP: sizes must be .* got \[784, 0, 10\]"),
    (lambda: models.MLP([784, 10.5]), r"MLP: sizes must be"),
    (lambda: models.MLP("784"), r"MLP: sizes must be"),
    (lambda: models.MLP([4, 1]), r"MLP: sizes\[-1\] must be >= 2 classes"),
    (lambda: models.MLP([4, 2], "gelu"), r"MLP: activation must be one of relu, tanh"),
    (lambda: models.MLP([4, 2], loss="hinge"), r"MLP: loss must be one of"),
    (lambda: models.MLP([4, 2], l2=-1.0), r"MLP: l2 must be >= 0, got -1.0"),
    (lambda: models.MLP([4, 2], dtype=np.float16), r"MLP: dtype must be float32 or"),
    (lambda: models.MLP([4, 2], dtype="int32"), r"got int32"),
    (lambda: models.MLP([4, 2], seed=-1), r"MLP: seed must be an integer >= 0"),
    (lambda: models.MLP([4, 2], init="orthogonal"), r"MLP: init must be one of he"),
    (lambda: models.MLP([4, 2], init="normal:-1"), r"MLP: init must be normal:σ with"),
    (lambda: models.MLP([4, 2], init="normal:x"), r"MLP: init must be normal:σ with"),
]


def test_init_normal_is_deep_learning_from_scratch_weight_init_std() -> None:
    m = models.MLP([400, 300, 10], "sigmoid", init="normal:0.01", seed=3)
    # TwoLayerNet: weight_init_std * randn, here from a seeded Generator.
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(
        m.params["W1"], 0.01 * rng.standard_normal((400, 300))
    )
    np.testing.assert_array_equal(m.params["W2"], 0.01 * rng.standard_normal((300, 10)))
    assert not m.params["b1"].any()
    assert "init='normal:0.01'" in repr(m)


@pytest.mark.parametrize(("call", "match"), BAD)
def test_bad_construction(call: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def _batch(**change: object) -> tuple[object, object]:
    X = np.zeros((3, 784), dtype=np.float32)
    y: object = np.array([0, 9, 3])
    if "X" in change:
        X = change["X"]  # type: ignore[assignment]
    if "y" in change:
        y = change["y"]
    return X, y


def _nan_X() -> np.ndarray:
    X = np.zeros((3, 784), dtype=np.float32)
    X[1, 5] = np.nan
    X[2, 7] = np.inf
    return X


BAD_BATCHES = [
    (_batch(X=np.zeros((3, 100))), r"MLP: X must have 784 features, got 100"),
    (_batch(X=np.zeros(784)), r"MLP: X must be a 2-D array \(samples, 784 features\)"),
    (_batch(X=np.zeros((0, 784))), r"MLP: X must be non-empty"),
    (
        _batch(X=np.full((3, 784), "a")),
        r"MLP: X must be an array of numbers, got dtype",
    ),
    (_batch(X=_nan_X()), r"MLP: X must be finite \(no NaN or Inf\), got 2 non-finite"),
    (_batch(y=np.array([0, 10, 3])), r"MLP: y must be class ids in \[0, 10\), got 10"),
    (_batch(y=np.array([0, -1, 3])), r"MLP: y must be class ids in \[0, 10\), got -1"),
    (_batch(y=np.array([0, 1])), r"MLP: y must be class ids of shape \(3,\), got \(2,"),
    (_batch(y=np.array([0.0, 1.0, 2.0])), r"MLP: y must be integer class ids \(3,\)"),
    (_batch(y=np.array(["a", "b", "c"])), r"MLP: y must be an array of numbers"),
    (_batch(y=np.full((3, 10), 0.5)), r"MLP: y must be one-hot or probability rows"),
]


@pytest.mark.parametrize(("batch", "match"), BAD_BATCHES)
@pytest.mark.parametrize("method", ["loss_and_grad", "loss", "accuracy"])
def test_bad_batches(batch: tuple[object, object], match: str, method: str) -> None:
    m = models.MLP([784, 10, 10], seed=0, dtype=np.float32)
    before = m.params.copy()
    with pytest.raises(ValueError, match=match):
        getattr(m, method)(*batch)
    for name in m.params:
        np.testing.assert_array_equal(m.params[name], before[name])


def test_bad_regression_targets() -> None:
    m = models.MLP([2, 3, 1], loss="mse", seed=0)
    X = np.zeros((2, 2))
    with raises_about("MLP", "y"):
        m.loss_and_grad(X, [0.0, np.nan])
    with raises_about("MLP", "y"):
        m.loss_and_grad(X, [0.0, 1.0, 2.0])
    b = models.MLP([2, 3, 1], loss="binary_cross_entropy", seed=0)
    with raises_about("MLP", "y"):
        b.loss_and_grad(X, [0, 2])


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", ">i8"])
def test_class_ids_of_any_integer_dtype_are_checked(dtype: str) -> None:
    m = models.MLP([4, 3, 10], seed=0)
    X = np.zeros((3, 4))
    assert np.isfinite(m.loss(X, np.array([0, 9, 3], dtype=dtype)))
    ids = [(0, 10, 3), (0, -1, 3), (-128, 10, 3)] if dtype != "uint8" else [(0, 10, 3)]
    for bad in ids:
        with pytest.raises(
            ValueError,
            match=rf"class ids in \[0, 10\), got {min(bad) if min(bad) < 0 else 10}$",
        ):
            m.loss(X, np.array(bad, dtype=dtype))


@pytest.mark.parametrize("init", ["zeros", "he"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, "both"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_non_finite_input_is_found_through_the_first_product(
    init: str, bad: object, dtype: type
) -> None:
    """X is proved finite by X·W1 (no pass of its own): a bad entry is found with
    weights of zeros (0·Inf is NaN), with +Inf and -Inf in one row, in any chunk of
    ``evaluate``, by every method, before any gradient is written, and before a bad
    ``y`` is named."""
    m = models.MLP([6, 4, 3], init=init, dtype=dtype)
    X = np.random.default_rng(0).standard_normal((9, 6))
    if bad == "both":
        X[7, 1], X[7, 4] = np.inf, -np.inf
    else:
        X[7, 2] = bad
    y = np.arange(9) % 3
    grads = m.grads.copy()
    calls = [
        lambda: m.loss_and_grad(X, y),
        lambda: m.loss_and_grad(X, y + 10),  # X's error before y's
        lambda: m.loss_and_grad(X, y, out=m.grads),
        lambda: m.loss(X, y + 10),
        lambda: m.loss(X, y),
        lambda: m.accuracy(X, y),
        lambda: m.predict(X),
        lambda: m.forward(X),
        lambda: m.evaluate(X, y, chunk=4),
        lambda: m.frozen_relu(X, y),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"^MLP: X must be finite \(no NaN or Inf"):
            call()
    for name in m.grads:
        np.testing.assert_array_equal(m.grads[name], grads[name])


def test_diverged_weights_do_not_make_a_finite_input_an_error() -> None:
    m = models.MLP([6, 4, 3], seed=0)
    m.params["W1"][2, 1] = np.nan  # a product that is not finite, from the weights
    X, y = np.ones((5, 6)), np.zeros(5, dtype=int)
    loss, grads = m.loss_and_grad(X, y)
    assert np.isnan(loss) and np.isnan(grads["W1"]).any()
    assert all(np.isnan(v) for v in m.evaluate(X, y))


def test_finite_check_survives_huge_values() -> None:
    # A finite batch whose sums overflow float32 is not mistaken for NaN/Inf.
    m = models.MLP([784, 3, 2], init="zeros", dtype=np.float32)
    X = np.full((2, 784), 3e38, dtype=np.float32)
    assert m.predict(X).shape == (2,)


def test_loss_and_grad_returns_a_fresh_gradient_unless_asked_for_the_buffer() -> None:
    m = models.MLP([4, 3, 2], seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    X1, X2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    y = np.array([0, 1, 0, 1, 1])
    _, g1 = m.loss_and_grad(X1, y)
    _, g2 = m.loss_and_grad(X2, y)
    assert not np.shares_memory(
        g1.buffers[np.dtype(np.float64)], m.grads.buffers[np.dtype(np.float64)]
    )
    assert not np.array_equal(g1["W1"], g2["W1"])  # the first is not overwritten
    _, again = m.loss_and_grad(X1, y)
    np.testing.assert_array_equal(again["W1"], g1["W1"])
    _, own = m.loss_and_grad(X1, y, out=m.grads)
    assert own is m.grads
    np.testing.assert_array_equal(own["W1"], g1["W1"])
    with pytest.raises(ValueError, match=r"out must be None or the model's grads"):
        m.loss_and_grad(X1, y, out=m.grads.copy())


F64 = np.dtype(np.float64)
HOLDS: dict[str, Callable[[Params], object]] = {
    "the Params": lambda g: g,
    "a named view": lambda g: g["W1"],
    "a slice of a view": lambda g: g["b2"][1:],
    "its buffer": lambda g: g.buffers[F64],
    "a memoryview": lambda g: memoryview(g["W2"]),
    "a Params view": lambda g: g.view(),
}


def _batches(n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((5, 4)), rng.integers(0, 3, 5)) for _ in range(n)]


@pytest.mark.parametrize("hold", HOLDS, ids=list(HOLDS))
def test_a_fresh_gradient_is_never_written_while_anything_holds_it(hold: str) -> None:
    """Fresh gradients reuse the memory of those let go; whatever part of one is
    still held keeps its numbers, call after call."""
    m = models.MLP([4, 3, 3], seed=0, l2=0.1)
    (X, y), *others = _batches(6)
    held = HOLDS[hold](m.loss_and_grad(X, y)[1])

    def numbers() -> np.ndarray:
        return held.buffers[F64] if isinstance(held, Params) else np.asarray(held)

    expected = numbers().copy()
    later = [m.loss_and_grad(Xb, yb)[1] for Xb, yb in others[:2]]
    for Xb, yb in others[2:]:
        m.loss_and_grad(Xb, yb)  # let go at once: its memory may be used again
    np.testing.assert_array_equal(numbers(), expected)
    for g in later:
        assert not np.shares_memory(numbers(), g.buffers[F64])


def test_fresh_gradients_let_go_are_written_into_the_same_two_buffers() -> None:
    """README's loop (``loss, g = m.loss_and_grad(...)``, g bound anew each step)
    takes turns between two buffers, and gets the gradient of ``out=m.grads``,
    L2 term included, bit for bit; the model's own buffer is left alone."""
    m = models.MLP([4, 3, 3], seed=0, l2=0.1)
    twin = models.MLP([4, 3, 3], seed=0, l2=0.1)
    opt, twin_opt = optim.SGD(m.params, lr=0.1), optim.SGD(twin.params, lr=0.1)
    own = m.grads.copy()
    addresses = set()
    for X, y in _batches(8):
        loss, g = m.loss_and_grad(X, y)
        twin_loss, twin_g = twin.loss_and_grad(X, y, out=twin.grads)
        assert loss == twin_loss
        np.testing.assert_array_equal(g.buffers[F64], twin_g.buffers[F64])
        addresses.add(g.buffers[F64].ctypes.data)
        opt.step(g)
        twin_opt.step(twin_g)
    assert len(addresses) == 2
    np.testing.assert_array_equal(m.grads.buffers[F64], own.buffers[F64])


@pytest.mark.parametrize(
    "clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))]
)
def test_a_cloned_model_writes_gradients_of_its_own(
    clone: Callable[[models.MLP], models.MLP],
) -> None:
    """A deep copy or pickle of a model that has handed out gradients writes its
    own: right numbers, into its own grads, sharing no memory with the original's."""
    m = models.MLP([4, 3, 3], seed=0)
    (X, y), (X2, y2) = _batches(2)
    held = m.loss_and_grad(X, y)[1]
    m.loss_and_grad(X2, y2, out=m.grads)
    c = clone(m)
    for fresh in (c.loss_and_grad(X, y)[1], c.loss_and_grad(X, y, out=c.grads)[1]):
        np.testing.assert_array_equal(fresh.buffers[F64], held.buffers[F64])
        for g in (held, m.grads):
            assert not np.shares_memory(fresh.buffers[F64], g.buffers[F64])
    assert c.loss_and_grad(X, y, out=c.grads)[1] is c.grads


def test_a_call_that_fails_midway_leaves_the_next_gradients_right() -> None:
    """A bad y is found after the forward pass; the calls after it, fresh or into
    ``m.grads``, still give the gradient of a model that never saw it."""
    m, twin = models.MLP([4, 3, 3], seed=0), models.MLP([4, 3, 3], seed=0)
    (X, y), *_ = _batches(1)
    for out in (None, m.grads):
        with pytest.raises(ValueError, match="y must be class ids"):
            m.loss_and_grad(X, y + 3, out=out)
        for again in (None, m.grads):
            g = m.loss_and_grad(X, y, out=again)[1]
            expected = twin.loss_and_grad(X, y)[1]
            np.testing.assert_array_equal(g.buffers[F64], expected.buffers[F64])


@pytest.mark.parametrize("loss", LOSSES)
def test_frozen_relu_is_the_gradient_with_the_masks_of_the_weights_it_froze_at(
    loss: str,
) -> None:
    """Equal to the model's own cost and gradient where the masks were taken; once
    the weights move across a kink, a different function, whose gradient is still
    exact (central differences of the frozen cost, which has no kink there)."""
    m = models.MLP([5, 4, 6, 3], "relu", loss=loss, l2=0.3, seed=1)
    randomize(m, seed=2)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((7, 5)), targets(loss, rng, 7, 3)
    frozen = m.frozen_relu(X, y)
    value, grads = frozen()
    own_value, own = m.loss_and_grad(X, y)
    assert value == pytest.approx(own_value, rel=1e-12)
    for name in m.params:
        np.testing.assert_allclose(grads[name], own[name], rtol=1e-12, atol=1e-15)

    pre = X @ m.params["W1"] + m.params["b1"]
    assert (pre < 0).any()
    m.params["b1"][...] += 1.0 - pre.min()  # every unit of the first layer turns on
    value, grads = frozen()
    own_value, own = m.loss_and_grad(X, y)  # the model's ReLUs are not frozen
    assert value != pytest.approx(own_value, rel=1e-6)
    assert not np.allclose(grads["W1"], own["W1"], rtol=1e-6)
    for name in m.params:
        numeric = numeric_grad(lambda: frozen()[0], m.params[name])
        assert rel_error(grads[name], numeric) < 1e-7, name


def test_frozen_relu_of_a_smooth_model_is_its_own_gradient() -> None:
    m = models.MLP([3, 4, 2], "tanh", loss="mse", seed=1)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    frozen = m.frozen_relu(X, y)
    m.params["W1"][...] += 1.0
    value, grads = frozen()
    own_value, own = m.loss_and_grad(X, y)
    assert value == own_value
    np.testing.assert_array_equal(grads.buffers[m.dtype], own.buffers[m.dtype])


def test_a_network_too_large_to_hold_is_refused_before_any_allocation() -> None:
    with raises_about("MLP", "sizes", got="[64, 100000000000, 10]"):
        models.MLP([64, 10**11, 10])  # 7.5e12 weights: NumPy's MemoryError before
    with raises_about("AutoEncoder", "sizes"):
        models.AutoEncoder(64, hidden=[10**12])
    assert models.MLP([64, 10]).sizes == (64, 10)  # a small one is built
