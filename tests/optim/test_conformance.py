"""Every registered optimizer through the same checks, driven by ``cases.py``.

The generic checks are :func:`gdlab.testing.check_optimizer`, the one users run on
their own optimizers; this file adds what is specific to gdlab's built-ins (the
error-message table, AdamP's projection, the multithreaded kernel, hypothesis ranges,
bad gradients and parameters).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import Params, optim
from gdlab.optim.kernel import PARALLEL_MIN_SIZE
from gdlab.testing import check_optimizer

from ..conftest import raises_about
from .cases import CASES, COMMON_BAD

SHAPES: dict[str, tuple[int, ...]] = {"s": (), "v": (7,), "m": (5, 3), "t": (2, 3, 4)}
STEPS = 120

Arrays = dict[str, np.ndarray]


pytestmark = pytest.mark.usefixtures("torch_float64")


def random_arrays(seed: int, shapes: dict[str, tuple[int, ...]], dtype: Any) -> Arrays:
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}


def gradient(noise: np.ndarray, p: np.ndarray, scale_invariant: bool) -> np.ndarray:
    """Noise plus a pull towards 0; or (AdamP, two steps in three) noise with its
    component along each row of ``p`` removed (the case AdamP projects)."""
    if scale_invariant and p.ndim > 1:
        rows, noise_rows = p.reshape(p.shape[0], -1), noise.reshape(p.shape[0], -1)
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        return (
            noise_rows - unit * np.sum(unit * noise_rows, axis=1, keepdims=True)
        ).reshape(p.shape)
    return np.asarray(noise + 0.5 * p)


def run_gdlab(
    name: str,
    kwargs: dict[str, Any],
    init: Arrays,
    steps: int,
    *,
    fused: bool,
    seed: int = 1,
) -> Arrays:
    params: Any = Params(init) if fused else {k: v.copy() for k, v in init.items()}
    opt = optim.create(name, params, **kwargs)
    scale_invariant = CASES[name].scale_invariant_grads
    for k in range(steps):
        noise = random_arrays(
            seed * 1000 + k,
            {n: a.shape for n, a in init.items()},
            next(iter(init.values())).dtype,
        )
        projected = scale_invariant and k % 3 != 0

        def closure(noise: Arrays = noise, projected: bool = projected) -> Any:
            grads = {n: gradient(noise[n], params[n], projected) for n in init}
            return loss(noise, params), Params(grads) if fused else grads

        opt.step(closure()[1], closure)
    return {n: np.array(params[n]) for n in init}


def loss(noise: Arrays, params: Any) -> float:
    """Σ z·θ + θ²/4, whose gradient is ``gradient`` without the projection (what
    L-BFGS's closure evaluates)."""
    return float(
        sum(np.sum(noise[n] * params[n] + 0.25 * params[n] ** 2) for n in noise)
    )


def run_reference(
    name: str, kwargs: dict[str, Any], init: Arrays, steps: int, seed: int = 1
) -> Arrays:
    tensors = [torch.tensor(a) for a in init.values()]
    opt = CASES[name].reference(tensors, **kwargs)
    scale_invariant = CASES[name].scale_invariant_grads
    for k in range(steps):
        noise = random_arrays(
            seed * 1000 + k,
            {n: a.shape for n, a in init.items()},
            next(iter(init.values())).dtype,
        )
        projected = scale_invariant and k % 3 != 0

        def closure(noise: Arrays = noise, projected: bool = projected) -> Any:
            now = {n: t.detach().numpy() for t, n in zip(tensors, init, strict=True)}
            for t, n in zip(tensors, init, strict=True):
                t.grad = torch.from_numpy(gradient(noise[n], now[n], projected))
            return torch.tensor(loss(noise, now))

        closure()
        opt.step(closure)
    return {n: t.numpy() for n, t in zip(init, tensors, strict=True)}


CONFIGS = [(name, kw) for name, case in CASES.items() for kw in case.configs]


def config_id(value: Any) -> str:
    return (
        ",".join(f"{k}={v}" for k, v in value.items()) or "defaults"
        if isinstance(value, dict)
        else str(value)
    )


# --- the registry ------------------------------------------------------------------


def test_every_registered_optimizer_has_a_case() -> None:
    assert sorted(optim.names()) == sorted(CASES)
    assert optim.names() == [
        "sgd",
        "adagrad",
        "adadelta",
        "rmsprop",
        "adam",
        "adamw",
        "nadam",
        "radam",
        "adamax",
        "adamp",
        "lion",
        "rprop",
        "asgd",
        "adafactor",
        "muon",
        "lbfgs",
        "shampoo",
        "schedulefree_adamw",
        "schedulefree_sgd",
    ]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown optimizer 'adamm' \(did you mean 'adam'\?\); "
        r"known optimizers: sgd, adagrad",
    ):
        optim.create("adamm", {"w": np.zeros(2)})


@pytest.mark.parametrize("name", CASES)
def test_hyperparameters_are_the_references_and_documented(name: str) -> None:
    cls = optim.get(name)
    case = CASES[name]
    reference = inspect.signature(case.signature or case.reference.__init__).parameters
    for key in cls.defaults:
        assert key in reference, f"{name}: {key} is not a reference hyperparameter"
    doc = cls.__doc__ or ""
    assert "math::" in doc and "Convention" in doc and "References" in doc


# --- the generic checks, as users run them -----------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_check_optimizer_passes_against_the_reference(name: str) -> None:
    case = CASES[name]
    check_optimizer(
        name,
        reference=case.reference,
        steps=case.steps,
        configs=case.configs,
        convergence_lr=(case.quadratic_lr, case.rosenbrock_lr),
        skip=case.skip,
    )


@pytest.mark.parametrize("name", list(optim.PRESETS))
def test_check_optimizer_passes_for_presets(name: str) -> None:
    check_optimizer(name, reference=CASES[optim.resolve(name)[0]].reference)


# --- what check_optimizer does not cover -------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [(n, kw) for n, kw in CONFIGS if CASES[n].scale_invariant_grads],
    ids=config_id,
)
def test_matches_reference_on_scale_invariant_grads(
    name: str, kwargs: dict[str, Any]
) -> None:
    """AdamP's projection runs only for gradients orthogonal to the weights."""
    init = random_arrays(0, SHAPES, np.float64)
    expected = run_reference(name, kwargs, init, STEPS)
    for fused in (False, True):
        got = run_gdlab(name, kwargs, init, STEPS, fused=fused)
        for n in init:
            np.testing.assert_allclose(
                got[n], expected[n], rtol=1e-10, atol=1e-12, err_msg=n
            )


@pytest.mark.parametrize("name", [n for n in CASES if n != "shampoo"])  # 1M² roots
def test_multithreaded_kernel_on_a_large_buffer(name: str) -> None:
    init = random_arrays(
        4, {"big": (PARALLEL_MIN_SIZE + 13,), "w": (40, 30)}, np.float64
    )
    kwargs = CASES[name].configs[-1]
    expected = run_reference(name, kwargs, init, 3)
    got = run_gdlab(name, kwargs, init, 3, fused=True)
    for n in init:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
    lr=st.floats(1e-4, 0.5),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    eps=st.floats(1e-10, 1e-2),
    weight_decay=st.floats(0.0, 0.5),
    amsgrad=st.booleans(),
    name=st.sampled_from(["adam", "adamw", "nadam", "radam", "adamax"]),
)
def test_adam_family_matches_over_hyperparameter_ranges(
    shape: tuple[int, ...],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    name: str,
) -> None:
    kwargs: dict[str, Any] = {
        "lr": lr,
        "betas": (beta1, beta2),
        "eps": eps,
        "weight_decay": weight_decay,
    }
    if name in ("adam", "adamw"):
        kwargs["amsgrad"] = amsgrad
    init = random_arrays(5, {"w": shape, "b": (3,)}, np.float64)
    expected = run_reference(name, kwargs, init, 20)
    got = run_gdlab(name, kwargs, init, 20, fused=True)
    for n in init:
        np.testing.assert_allclose(got[n], expected[n], rtol=1e-10, atol=1e-12)


# --- state ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_state_dict_for_other_names_is_refused(name: str) -> None:
    source = optim.create(name, {"W": np.ones((2, 2)), "b": np.ones(2)})
    ones = {"W": np.ones((2, 2)), "b": np.ones(2)}
    source.step(ones, lambda: (0.0, ones))
    target = optim.create(name, {"W1": np.ones((2, 2)), "b1": np.ones(2)})
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(
        ValueError,
        match=r"state_dict is for parameters \['W', 'b'\], "
        r"but this optimizer has \['W1', 'b1'\]",
    ):
        target.load_state_dict(source.state_dict())
    assert target.step_count == 0
    for n, s in before["state"].items():
        for k, a in s.items():
            np.testing.assert_array_equal(target.state[n][k], a)


def test_state_is_keyed_by_name_and_shares_the_buffer() -> None:
    p = Params({"W": np.ones((3, 2)), "b": np.zeros(2)})
    opt = optim.Adam(p, lr=0.1)
    opt.step(p.zeros_like())
    assert set(opt.state) == {"W", "b"}
    assert opt.state["W"]["exp_avg"].shape == (3, 2)
    assert set(opt.state_dict()["state"]["b"]) == {"exp_avg", "exp_avg_sq"}


# --- edge cases ----------------------------------------------------------------------


BAD_GRADS = [
    (
        "missing",
        lambda g: {k: v for k, v in g.items() if k != "b"},
        r"grads are missing \['b'\]",
    ),
    ("extra", lambda g: {**g, "c": np.zeros(2)}, r"have unexpected \['c'\]"),
    (
        "shape",
        lambda g: {**g, "b": np.zeros(3)},
        r"grads\['b'\] must be a real array of shape \(2,\), "
        r"got shape \(3,\) and dtype float64$",
    ),
    (
        "complex",
        lambda g: {**g, "b": np.zeros(2, np.complex128)},
        r"grads\['b'\] must be a real array of shape \(2,\), "
        r"got shape \(2,\) and dtype complex128",
    ),
    ("text", lambda g: {**g, "b": ["a", "b"]}, r"got shape \(2,\) and dtype <U1"),
    ("ragged", lambda g: {**g, "b": [0.0, [1.0]]}, r"got list$"),
    ("none", lambda g: {**g, "b": None}, r"got NoneType$"),
]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("label", "corrupt", "message"), BAD_GRADS, ids=[b[0] for b in BAD_GRADS]
)
def test_bad_grads_raise_and_update_nothing(
    name: str, label: str, corrupt: Any, message: str
) -> None:
    params = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt = optim.create(name, params, lr=0.1)
    ones = {"W": np.ones((2, 2)), "b": np.ones(2)}
    opt.step(ones, lambda: (0.0, ones))
    before_params, before_state = copy.deepcopy(params), copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=message):
        bad = corrupt({"W": np.ones((2, 2)), "b": np.ones(2)})
        opt.step(bad, lambda: (0.0, bad))
    assert opt.step_count == 1
    for n in params:
        np.testing.assert_array_equal(params[n], before_params[n])
        for k, a in before_state["state"][n].items():
            np.testing.assert_array_equal(opt.state[n][k], a)


BAD_HYPER = [
    (name, kwargs, message)
    for name, case in CASES.items()
    for kwargs, message in case.bad + COMMON_BAD
]


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    BAD_HYPER,
    ids=[f"{n}-{config_id(k)}" for n, k, _ in BAD_HYPER],
)
def test_bad_hyperparameters_raise_before_any_state(
    name: str, kwargs: dict[str, Any], message: str
) -> None:
    cls = optim.get(name)
    field, _, got = message.partition(", got ")
    with raises_about(cls.__name__, field, got=got or None):
        cls({"w": np.zeros(3)}, **kwargs)
    with raises_about(cls.__name__, field, got=got or None):
        cls([{"params": {"w": np.zeros(3)}, **kwargs}])


def test_bad_params_are_refused() -> None:
    with raises_about("SGD", "params['w']", got="'list'"):
        optim.SGD({"w": [1.0, 2.0]})
    with raises_about("SGD", "params['w']"):
        optim.SGD({"w": np.ones((3, 2)).T})
    with raises_about("Adam", "params['w']"):
        optim.Adam({"w": np.arange(3)})
    with raises_about("Adam", "params"):
        optim.Adam([{"params": {"w": np.ones(2)}}, {"params": {"w": np.ones(2)}}])
    with raises_about("Adam", "params"):
        optim.Adam({})
