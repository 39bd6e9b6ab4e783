"""Every registered optimizer through the same checks, driven by ``cases.py``."""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlab import Params, optim
from gdlab.optim.kernel import PARALLEL_MIN_SIZE

from .cases import CASES, COMMON_BAD

SHAPES: dict[str, tuple[int, ...]] = {"s": (), "v": (7,), "m": (5, 3), "t": (2, 3, 4)}
STEPS = 120

Arrays = dict[str, np.ndarray]


@pytest.fixture(autouse=True)
def torch_float64() -> Iterator[None]:
    """torch keeps scalar state (NAdam's mu_product) in the default dtype."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


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
        grads = {
            n: gradient(noise[n], params[n], scale_invariant and k % 3 != 0)
            for n in init
        }
        opt.step(Params(grads) if fused else grads)
    return {n: np.array(params[n]) for n in init}


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
        for t, n in zip(tensors, init, strict=True):
            t.grad = torch.from_numpy(
                gradient(noise[n], t.numpy(), scale_invariant and k % 3 != 0)
            )
        opt.step()
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
    ]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown optimizer 'adamm'; known optimizers: sgd, adagrad"
    ):
        optim.create("adamm", {"w": np.zeros(2)})


@pytest.mark.parametrize("name", CASES)
def test_defaults_and_names_match_the_reference(name: str) -> None:
    cls = optim.get(name)
    reference = inspect.signature(CASES[name].reference.__init__).parameters
    for key, value in cls.defaults.items():
        assert key in reference, f"{name}: {key} is not a reference hyperparameter"
        assert reference[key].default == value, key
    assert set(cls.defaults) - {"lr"} <= set(cls.constraints)
    doc = cls.__doc__ or ""
    assert "math::" in doc and "Convention" in doc and "References" in doc


# --- the same numbers as the reference ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"), CONFIGS, ids=[f"{n}-{config_id(k)}" for n, k in CONFIGS]
)
def test_matches_reference_float64(name: str, kwargs: dict[str, Any]) -> None:
    init = random_arrays(0, SHAPES, np.float64)
    expected = run_reference(name, kwargs, init, STEPS)
    for fused in (False, True):
        got = run_gdlab(name, kwargs, init, STEPS, fused=fused)
        for n in init:
            np.testing.assert_allclose(
                got[n], expected[n], rtol=1e-10, atol=1e-12, err_msg=n
            )


@pytest.mark.parametrize(
    ("name", "kwargs"), CONFIGS, ids=[f"{n}-{config_id(k)}" for n, k in CONFIGS]
)
def test_mapping_and_params_paths_are_identical(
    name: str, kwargs: dict[str, Any]
) -> None:
    init = random_arrays(2, SHAPES, np.float64)
    plain = run_gdlab(name, kwargs, init, 30, fused=False)
    fused = run_gdlab(name, kwargs, init, 30, fused=True)
    for n in init:
        np.testing.assert_array_equal(plain[n], fused[n])


@pytest.mark.parametrize("name", CASES)
def test_float32_stays_float32_and_agrees(name: str) -> None:
    kwargs = CASES[name].configs[-1]
    init = random_arrays(3, SHAPES, np.float32)
    expected = run_reference(name, kwargs, init, 30)
    for fused in (False, True):
        got = run_gdlab(name, kwargs, init, 30, fused=fused)
        for n in init:
            assert got[n].dtype == np.float32
            np.testing.assert_allclose(
                got[n], expected[n], rtol=1e-5, atol=1e-5, err_msg=n
            )


@pytest.mark.parametrize("name", CASES)
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


@pytest.mark.parametrize(
    ("name", "kwargs"), CONFIGS, ids=[f"{n}-{config_id(k)}" for n, k in CONFIGS]
)
def test_state_dict_resume_is_bit_identical(name: str, kwargs: dict[str, Any]) -> None:
    init = random_arrays(6, SHAPES, np.float64)
    grads = [random_arrays(100 + k, SHAPES, np.float64) for k in range(40)]
    p = Params(init)
    opt = optim.create(name, p, **kwargs)
    for g in grads[:20]:
        opt.step(g)
    saved_params, saved = p.copy(), copy.deepcopy(opt.state_dict())
    for g in grads[20:]:
        opt.step(g)
    q = saved_params
    resumed = optim.create(name, q, **kwargs)
    resumed.load_state_dict(saved)
    for g in grads[20:]:
        resumed.step(g)
    assert resumed.step_count == opt.step_count == 40
    for n in init:
        np.testing.assert_array_equal(q[n], p[n])


@pytest.mark.parametrize("name", CASES)
def test_state_dict_for_other_names_is_refused(name: str) -> None:
    source = optim.create(name, {"W": np.ones((2, 2)), "b": np.ones(2)})
    source.step({"W": np.ones((2, 2)), "b": np.ones(2)})
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


@pytest.mark.parametrize("name", CASES)
def test_zero_gradient_leaves_params_unchanged(name: str) -> None:
    init = random_arrays(7, SHAPES, np.float64)
    p = Params(init)
    opt = optim.create(name, p, weight_decay=0.0)
    for _ in range(5):
        opt.step(p.zeros_like())
    for n in init:
        np.testing.assert_array_equal(p[n], init[n])


@pytest.mark.parametrize("name", CASES)
def test_group_with_zero_lr_is_unchanged(name: str) -> None:
    frozen, moving = (
        random_arrays(8, {"W": (3, 4)}, np.float64),
        random_arrays(9, {"b": (4,)}, np.float64),
    )
    before_frozen, before_moving = copy.deepcopy(frozen), copy.deepcopy(moving)
    opt = optim.create(
        name, [{"params": frozen, "lr": 0.0}, {"params": moving}], lr=0.1
    )
    for k in range(5):
        opt.step({**random_arrays(10 + k, {"W": (3, 4), "b": (4,)}, np.float64)})
    np.testing.assert_array_equal(frozen["W"], before_frozen["W"])
    assert not np.array_equal(moving["b"], before_moving["b"])


@pytest.mark.parametrize("name", CASES)
def test_zero_size_arrays(name: str) -> None:
    p = Params({"empty": np.zeros((0, 3)), "w": np.ones(2)})
    opt = optim.create(name, p, lr=0.1)
    g = p.zeros_like()
    g["w"][...] = 1.0
    opt.step(g)
    assert p["empty"].shape == (0, 3)
    assert np.all(p["w"] < 1.0)


@pytest.mark.parametrize("name", CASES)
def test_inputs_other_than_params_and_state_are_untouched(name: str) -> None:
    init = random_arrays(11, SHAPES, np.float64)
    grads = random_arrays(12, SHAPES, np.float64)
    grads_before = copy.deepcopy(grads)
    params = copy.deepcopy(init)
    opt = optim.create(name, params, **CASES[name].configs[-1])
    opt.step(grads)
    for n in grads:
        np.testing.assert_array_equal(grads[n], grads_before[n])
    assert opt.step_count == 1


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
    opt.step({"W": np.ones((2, 2)), "b": np.ones(2)})
    before_params, before_state = copy.deepcopy(params), copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=message):
        opt.step(corrupt({"W": np.ones((2, 2)), "b": np.ones(2)}))
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
    full = f"^{cls.__name__}{message}" if message.startswith(":") else f"^{message}"
    with pytest.raises(ValueError, match=full):
        cls({"w": np.zeros(3)}, **kwargs)
    with pytest.raises(ValueError, match=full):
        cls([{"params": {"w": np.zeros(3)}, **kwargs}])


def test_bad_params_are_refused() -> None:
    with pytest.raises(
        ValueError, match=r"SGD: params\['w'\] must be a float array, got 'list'"
    ):
        optim.SGD({"w": [1.0, 2.0]})
    with pytest.raises(
        ValueError, match=r"SGD: params\['w'\] must be C-contiguous and writeable"
    ):
        optim.SGD({"w": np.ones((3, 2)).T})
    with pytest.raises(ValueError, match=r"Adam: params\['w'\] must be a float array"):
        optim.Adam({"w": np.arange(3)})
    with pytest.raises(
        ValueError, match=r"Adam: params must be unique names across groups"
    ):
        optim.Adam([{"params": {"w": np.ones(2)}}, {"params": {"w": np.ones(2)}}])
    with pytest.raises(ValueError, match=r"Adam: params must be a non-empty mapping"):
        optim.Adam({})


@pytest.mark.parametrize(
    "name", [n for n in CASES if "maximize" in optim.get(n).defaults]
)
def test_maximize_is_descent_on_the_negated_gradient(name: str) -> None:
    init = random_arrays(13, SHAPES, np.float64)
    up, down = Params(init), Params(init)
    ascend = optim.create(name, up, maximize=True, lr=0.01)
    descend = optim.create(name, down, lr=0.01)
    for k in range(20):
        g = Params(random_arrays(200 + k, SHAPES, np.float64))
        ascend.step(g)
        negated = g.copy()
        for buffer in negated.buffers.values():
            buffer *= -1
        descend.step(negated)
    for n in init:
        np.testing.assert_array_equal(up[n], down[n])


# --- convergence -------------------------------------------------------------------


def quadratic(w: np.ndarray) -> tuple[float, np.ndarray]:
    scales = np.array([1.0, 4.0, 10.0])
    return 0.5 * float(np.sum(scales * w * w)), scales * w


def rosenbrock(w: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = w
    value = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return float(value), grad


@pytest.mark.parametrize("name", CASES)
def test_converges_on_a_quadratic(name: str) -> None:
    w = {"w": np.array([1.0, -2.0, 0.5])}
    opt = optim.create(name, w, lr=CASES[name].quadratic_lr)
    start, _ = quadratic(w["w"])
    for _ in range(1000):
        opt.step({"w": quadratic(w["w"])[1]})
    assert quadratic(w["w"])[0] < 1e-3 * start


@pytest.mark.parametrize("name", CASES)
def test_converges_on_rosenbrock(name: str) -> None:
    w = {"w": np.array([-1.5, 2.0])}
    opt = optim.create(name, w, lr=CASES[name].rosenbrock_lr)
    start, _ = rosenbrock(w["w"])
    for _ in range(5000):
        opt.step({"w": rosenbrock(w["w"])[1]})
    final, _ = rosenbrock(w["w"])
    assert math.isfinite(final) and final < 0.05 * start
