"""Editing ``param_groups`` mid-run, odd gradients and parameters, and state dicts
that do not fit: torch's numbers where torch can do it, a ValueError otherwise."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from gdlab import Params, optim

from ..conftest import raises_about
from .cases import CASES
from .test_conformance import SHAPES, gradient, random_arrays

STEPS = 60


pytestmark = pytest.mark.usefixtures("torch_float64")


def edit_for(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A mid-run edit of every continuous hyperparameter the optimizer has."""
    defaults = optim.get(name).defaults
    lr = kwargs.get("lr", defaults["lr"])
    edit: dict[str, Any] = {"lr": lr * 0.5}
    new = {
        "betas": (0.8, 0.99),
        "eps": 1e-4,
        "weight_decay": 0.05,
        "alpha": 0.95,
        "rho": 0.8,
        "momentum_decay": 0.01,
        "lr_decay": 0.02,
    }
    edit |= {
        k: v
        for k, v in new.items()
        if k in defaults and type(v) is type(defaults[k])  # Adafactor's eps is a pair
    }
    # torch creates RMSprop's momentum buffer only at the first step: change it, do
    # not switch it on; SGD creates its buffer when first needed, as gdlab does.
    momentum = kwargs.get("momentum", 0.0)
    if name == "sgd" or (name == "rmsprop" and momentum > 0):
        edit["momentum"] = 0.7 if not kwargs.get("dampening") else 0.3
    return edit


EDITS = [
    (name, kw)
    for name, case in CASES.items()
    # Muon's reference is two torch optimizers; L-BFGS solves each step to the
    # rounding floor, where 120 steps part from torch (see cases.py)
    if name not in ("adamp", "muon", "lbfgs")
    for kw in case.configs
] + [("adamp", CASES["adamp"].configs[0]), ("adamp", CASES["adamp"].configs[2])]


def run_edited(name: str, kwargs: dict[str, Any], *, fused: bool) -> dict[str, Any]:
    init = random_arrays(3, SHAPES, np.float64)
    params: Any = Params(init) if fused else {k: v.copy() for k, v in init.items()}
    opt = optim.create(name, params, **kwargs)
    scale_invariant = CASES[name].scale_invariant_grads
    for k in range(2 * STEPS):
        if k == STEPS:
            opt.param_groups[0].update(edit_for(name, kwargs))
        noise = random_arrays(1000 + k, SHAPES, np.float64)
        grads = {
            n: gradient(noise[n], params[n], scale_invariant and k % 3 != 0)
            for n in init
        }
        opt.step(grads)
    return {n: np.array(params[n]) for n in init}


def run_reference_edited(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    init = random_arrays(3, SHAPES, np.float64)
    tensors = [torch.tensor(a) for a in init.values()]
    opt = CASES[name].reference(tensors, **kwargs)
    scale_invariant = CASES[name].scale_invariant_grads
    for k in range(2 * STEPS):
        if k == STEPS:
            opt.param_groups[0].update(edit_for(name, kwargs))
        noise = random_arrays(1000 + k, SHAPES, np.float64)
        for t, n in zip(tensors, init, strict=True):
            t.grad = torch.from_numpy(
                gradient(noise[n], t.numpy(), scale_invariant and k % 3 != 0)
            )
        opt.step()
    return {n: t.numpy() for n, t in zip(init, tensors, strict=True)}


@pytest.mark.parametrize(
    ("name", "kwargs"),
    EDITS,
    ids=[f"{n}-{','.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in EDITS],
)
@pytest.mark.parametrize("fused", [True, False], ids=["params", "dict"])
def test_mid_run_edits_match_the_reference(
    name: str, kwargs: dict[str, Any], fused: bool
) -> None:
    ours = run_edited(name, kwargs, fused=fused)
    theirs = run_reference_edited(name, kwargs)
    for n in ours:
        np.testing.assert_allclose(ours[n], theirs[n], rtol=1e-10, atol=1e-12)


def test_momentum_switched_on_later_is_torchs_sgd() -> None:
    w = {"w": np.ones(4)}
    opt = optim.SGD(w, lr=0.1)
    opt.param_groups[0]["momentum"] = 0.9
    opt.step({"w": np.ones(4)})
    opt.step({"w": np.ones(4)})
    np.testing.assert_allclose(w["w"], 0.71, rtol=1e-15)  # 1 - 0.1 - 0.1 * 1.9


def test_momentum_switched_off_keeps_the_buffer_as_torch_does() -> None:
    w, t = np.ones(3), torch.ones(3, dtype=torch.float64)
    ours, theirs = (
        optim.SGD({"w": w}, lr=0.1, momentum=0.9, dampening=0.5),
        (torch.optim.SGD([t], lr=0.1, momentum=0.9, dampening=0.5)),
    )
    for k, momentum in enumerate([0.9, 0.9, 0.0, 0.0, 0.5, 0.5]):
        ours.param_groups[0]["momentum"] = theirs.param_groups[0]["momentum"] = momentum
        g = np.full(3, 1.0 + k)
        ours.step({"w": g})
        t.grad = torch.from_numpy(g.copy())
        theirs.step()
    np.testing.assert_allclose(w, t.numpy(), rtol=1e-15)


def test_rmsprop_centered_switched_on_starts_its_mean_at_zero() -> None:
    w = {"w": np.array([1.0, -2.0, 3.0])}
    opt = optim.RMSprop(w, lr=0.01, alpha=0.9)
    g = np.array([0.5, -1.0, 2.0])
    opt.step({"w": g})
    square_avg = opt.state["w"]["square_avg"].copy()
    before = w["w"].copy()
    opt.param_groups[0]["centered"] = True
    opt.param_groups[0]["momentum"] = 0.5
    opt.step({"w": g})
    v = 0.9 * square_avg + 0.1 * g * g
    mean = 0.1 * g
    expected = before - 0.01 * (g / (np.sqrt(v - mean * mean) + 1e-8))
    np.testing.assert_allclose(w["w"], expected, rtol=1e-14)
    assert np.isfinite(w["w"]).all()
    np.testing.assert_allclose(opt.state["w"]["grad_avg"], mean, rtol=1e-15)


def test_amsgrad_switched_on_starts_its_maximum_at_zero() -> None:
    p = Params({"w": np.array([1.0, -2.0]), "b": np.array([0.5])})
    opt = optim.Adam(p, lr=0.1)
    g = Params({"w": np.array([1.0, 2.0]), "b": np.array([-1.0])})
    opt.step(g)
    opt.param_groups[0]["amsgrad"] = True
    opt.step(Params({"w": np.array([0.1, 0.1]), "b": np.array([0.1])}))
    assert np.isfinite(p["w"]).all()
    np.testing.assert_array_equal(
        opt.state["w"]["max_exp_avg_sq"], opt.state["w"]["exp_avg_sq"]
    )
    # and switching it off and on again resumes the same maximum, as in torch
    opt.param_groups[0]["amsgrad"] = False
    opt.step(g)
    kept = opt.state["w"]["max_exp_avg_sq"].copy()
    assert (kept < opt.state["w"]["exp_avg_sq"]).any()


BAD_EDITS = [
    ("sgd", {"momentum": -5}, r"^SGD: momentum must be >= 0, got -5$"),
    ("sgd", {"lr": -1.0}, r"^SGD: lr must be >= 0, got -1\.0$"),
    ("sgd", {"nesterov": True}, r"^SGD: nesterov must be used with momentum > 0"),
    ("adam", {"betas": (5, 0.9)}, r"^Adam: betas\[0\] must be in \[0, 1\), got 5$"),
    ("adam", {"betas": np.array([0.9, 0.99])}, r"^Adam: betas must be a pair"),
    ("adam", {"eps": -1}, r"^Adam: eps must be >= 0, got -1$"),
    ("rmsprop", {"centered": "yes"}, r"^RMSprop: centered must be True or False"),
    ("adam", {"bogus": 1}, r"^Adam: keyword 'bogus' must be one of"),
]


@pytest.mark.parametrize(("name", "edit", "message"), BAD_EDITS)
def test_a_bad_edit_raises_at_the_step_and_changes_nothing(
    name: str, edit: dict[str, Any], message: str
) -> None:
    w = {"w": np.ones(3)}
    opt = optim.create(name, w, lr=0.1)
    opt.step({"w": np.ones(3)})
    before, state = w["w"].copy(), copy.deepcopy(opt.state_dict()["state"])
    opt.param_groups[0].update(edit)
    with pytest.raises(ValueError, match=message):
        opt.step({"w": np.ones(3)})
    assert opt.step_count == 1
    np.testing.assert_array_equal(w["w"], before)
    assert set(opt.state["w"]) == set(state["w"])
    for k, a in state["w"].items():
        np.testing.assert_array_equal(opt.state["w"][k], a)


def test_structural_edits_are_refused() -> None:
    opt = optim.Adam({"w": np.ones(2)}, lr=0.1)
    del opt.param_groups[0]["eps"]
    with pytest.raises(
        ValueError, match=r"param_groups\[0\] must be a value for 'eps'"
    ):
        opt.step({"w": np.ones(2)})
    opt = optim.Adam({"w": np.ones(2)}, lr=0.1)
    opt.param_groups[0]["params"] = {"w": np.ones(2)}
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\] must be the"):
        opt.step({"w": np.ones(2)})
    opt = optim.Adam({"w": np.ones(2)}, lr=0.1)
    opt.param_groups.append(dict(opt.param_groups[0]))
    with pytest.raises(ValueError, match=r"param_groups must be the 1 groups"):
        opt.step({"w": np.ones(2)})


@pytest.mark.parametrize("name", ["sgd", "adam", "muon"])
def test_an_array_swapped_in_the_params_mapping_is_refused(name: str) -> None:
    """The step would go on updating the old array through its view, and leave
    the new one as it was: refused, with nothing updated."""
    old, new = np.ones((3, 2)), np.full((3, 2), 7.0)
    params = {"w": old}
    opt = optim.create(name, params, lr=0.1)
    opt.step({"w": np.ones((3, 2))})
    before = old.copy()
    params["w"] = new
    with raises_about(type(opt).__name__, "param_groups[0]['params']"):
        opt.step({"w": np.ones((3, 2))})
    np.testing.assert_array_equal(old, before)
    np.testing.assert_array_equal(new, 7.0)


def test_an_unchanged_group_is_not_checked_again() -> None:
    opt = optim.Adam({"w": np.ones(2)}, lr=0.1)
    group = opt.param_groups[0]
    opt.step({"w": np.ones(2)})
    assert opt.param_groups[0] is group
    group["betas"] = [0.5, 0.9]  # a list, as from JSON: normalized at the next step
    opt.step({"w": np.ones(2)})
    assert group["betas"] == (0.5, 0.9)


# --- gradients and parameters ------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_array_like_gradients_are_accepted(name: str) -> None:
    def run(grads: dict[str, Any]) -> dict[str, np.ndarray]:
        params = {"s": np.array(1.5), "v": np.array([1.0, -2.0])}
        opt = optim.create(name, params, lr=0.1)
        opt.step(grads, lambda: (0.0, grads))
        return params

    scalar = np.array(2.0) * np.array(1.0)  # a NumPy scalar, not a 0-d array
    assert not isinstance(scalar, np.ndarray)
    exact = run({"s": np.array(2.0), "v": np.array([0.5, 1.0])})
    for grads in (
        {"s": scalar, "v": [0.5, 1.0]},
        {"s": 2.0, "v": (0.5, 1.0)},
        {"s": 2, "v": np.array([0.5, 1.0], dtype=np.float32)},
    ):
        got = run(grads)
        for n in exact:
            np.testing.assert_array_equal(got[n], exact[n])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"w": np.ones(2, np.float16)}, r"params\['w'\] must be float32 or float64"),
        ({"w": np.ones(2, np.complex128)}, r"params\['w'\] must be a float array"),
        ({"w": np.array([1.0, None])}, r"params\['w'\] must be a float array"),
    ],
)
def test_unsupported_parameter_arrays_are_refused(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r"^Adam: " + message):
        optim.Adam(params)


def test_unsupported_dtypes_in_params_are_refused() -> None:
    with raises_about("Adam", "params['h']"):
        optim.Adam(Params({"w": np.ones(2), "h": np.ones(2, np.float16)}))
    with raises_about("Params", "w"):
        Params({"w": np.ones(2, np.complex128)})
    with raises_about("Params", "w"):
        Params({"w": np.array([1.0, None])})
    with raises_about("Params", "w"):
        Params({"w": [[1.0], [2.0, 3.0]]})


def test_one_array_under_two_names_is_refused() -> None:
    w = np.ones(4)
    with raises_about("SGD", "params"):
        optim.SGD({"a": w, "b": w})
    with pytest.raises(ValueError, match=r"share no memory, got \['a', 'b'\]"):
        optim.SGD([{"params": {"a": w[:3]}}, {"params": {"b": w[2:]}}])
    p = Params({"a": np.ones(2), "b": np.ones(2)})
    with pytest.raises(ValueError, match=r"share no memory"):
        optim.SGD([{"params": p}, {"params": {"c": p["b"]}}])
    optim.SGD({"a": w[:2], "b": w[2:]})  # neighbours that do not overlap are fine


# --- load_state_dict ---------------------------------------------------------------


def trained(name: str, **kwargs: Any) -> optim.Optimizer:
    opt = optim.create(name, {"w": np.ones(3), "b": np.zeros(2)}, lr=0.1, **kwargs)
    for k in range(3):
        opt.step({"w": np.full(3, 1.0 + k), "b": np.full(2, -1.0)})
    return opt


def corrupt(edit: Any) -> dict[str, Any]:
    state = trained("adam").state_dict()
    edit(state)
    return state


def set_group(key: str, value: Any) -> Any:
    return lambda s: s["param_groups"][0].__setitem__(key, value)


def set_state(name: str, key: str, value: Any) -> Any:
    return lambda s: s["state"][name].__setitem__(key, value)


BAD_STATES: list[tuple[str, Any, str]] = [
    ("adamw", lambda: trained("adam").state_dict(), r"keyword 'decoupled_weight_d"),
    (
        "nadam",
        lambda: trained("adam").state_dict(),
        r"keyword 'amsgrad' must be one of",
    ),
    ("adam", lambda: trained("nadam").state_dict(), r"keyword 'momentum_decay'"),
    ("adam", lambda: None, r"state_dict must be a mapping, got 'NoneType'"),
    ("adam", lambda: corrupt(lambda s: s.pop("state")), r"state_dict\['state'\] must"),
    (
        "adam",
        lambda: corrupt(lambda s: s.__setitem__("param_groups", [1])),
        r"state_dict\['param_groups'\]\[i\] must be a dict, got 1",
    ),
    ("adam", lambda: corrupt(set_group("betas", (5, 0.9))), r"betas\[0\] must be in"),
    ("adam", lambda: corrupt(set_group("eps", -1)), r"eps must be >= 0, got -1"),
    ("adam", lambda: corrupt(set_group("lr", "fast")), r"lr must be a real number"),
    (
        "adam",
        lambda: corrupt(lambda s: s.__setitem__("step", -1)),
        r"state_dict\['step'\] must be an integer >= 0, got -1",
    ),
    (
        "adam",
        lambda: corrupt(lambda s: s.__setitem__("step", 2.5)),
        r"state_dict\['step'\] must be an integer",
    ),
    (
        "adam",
        lambda: corrupt(lambda s: s.__setitem__("extra", 1)),
        r"state_dict must be without unknown keys, got \['extra'\]",
    ),
    (
        "adam",
        lambda: corrupt(set_state("w", "bogus", np.zeros(3))),
        r"state_dict\['state'\]\['w'\] must be keys among .*, got \['bogus'\]",
    ),
    (
        "adam",
        lambda: corrupt(lambda s: s["state"]["w"].pop("exp_avg")),
        r"state_dict\['state'\]\['w'\] must be to hold 'exp_avg'",
    ),
    (
        "adam",
        lambda: corrupt(set_state("w", "exp_avg", np.zeros(4))),
        r"\['exp_avg'\] must be a real array of shape \(3,\), got 'shape \(4,\)",
    ),
    (
        "adam",
        lambda: corrupt(set_state("w", "exp_avg", np.full(3, np.nan))),
        r"\['exp_avg'\] must be finite",
    ),
    (
        "adam",
        lambda: corrupt(set_state("w", "exp_avg_sq", -np.ones(3))),
        r"\['exp_avg_sq'\] must be finite and >= 0",
    ),
    (
        "adam",
        lambda: corrupt(set_state("w", "exp_avg", None)),
        r"\['exp_avg'\] must be a real array of shape \(3,\), got 'shape \(\) and dt",
    ),
    (
        "adam",
        lambda: corrupt(lambda s: s["state"].__setitem__("x", {})),
        r"state_dict\['state'\] must be keyed by this optimizer's parameters",
    ),
]


@pytest.mark.parametrize(
    ("name", "make", "message"),
    BAD_STATES,
    ids=[str(i) for i in range(len(BAD_STATES))],
)
def test_a_bad_state_dict_is_refused_and_changes_nothing(
    name: str, make: Any, message: str
) -> None:
    opt = trained(name, betas=(0.8, 0.9))
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(make())
    after = opt.state_dict()
    assert after["step"] == before["step"] == 3
    assert after["param_groups"] == before["param_groups"]
    for n, s in before["state"].items():
        assert set(after["state"][n]) == set(s)
        for k, a in s.items():
            np.testing.assert_array_equal(after["state"][n][k], a)


def test_a_state_dict_saved_after_an_edit_round_trips() -> None:
    source = trained("adam")
    source.param_groups[0]["amsgrad"] = True
    source.step({"w": np.ones(3), "b": np.ones(2)})
    source.param_groups[0]["amsgrad"] = False
    saved = copy.deepcopy(source.state_dict())
    target = optim.Adam({"w": np.ones(3), "b": np.zeros(2)}, lr=0.1)
    target.load_state_dict(saved)
    for opt in (source, target):
        opt.param_groups[0]["amsgrad"] = True
        opt.step({"w": np.full(3, 0.01), "b": np.full(2, 0.01)})
    for n in ("w", "b"):
        for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            np.testing.assert_array_equal(target.state[n][k], source.state[n][k])


def test_sgd_state_saved_before_the_buffer_exists_starts_it_fresh() -> None:
    a = {"w": np.ones(2)}
    source = optim.SGD(a, lr=0.1, dampening=0.5)
    source.step({"w": np.ones(2)})
    source.param_groups[0]["momentum"] = 0.9
    b = {"w": a["w"].copy()}
    target = optim.SGD(b, lr=0.1)
    target.load_state_dict(source.state_dict())
    for opt in (source, target):
        opt.step({"w": np.ones(2)})
    np.testing.assert_array_equal(a["w"], b["w"])
    np.testing.assert_allclose(a["w"], 0.8, rtol=1e-15)  # buffer starts at g: 1 step
