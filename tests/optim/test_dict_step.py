"""A step over a plain dict of arrays (each gradient taken as it is, the rule's
compiled variant kept with its bound arguments) gives bit for bit what the
per-array update gave: the rule called through ``Kernel.__call__`` with its
arguments bound anew for every array at every step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gdlab import optim
from gdlab.optim import kernel
from gdlab.optim.base import Group, Optimizer, State

from .cases import CASES

Arrays = dict[str, np.ndarray]
STEPS = 7  # RAdam's rectification turns on at step 6
KINDS = ("mixed", "aliased")


def reference_update(
    self: Optimizer,
    group: Group,
    step: int,
    lr: float,
    p: np.ndarray,
    g: np.ndarray,
    state: State,
) -> None:
    """The per-array update: arguments bound anew, the variant looked up by the
    kernel from its flags (an ``update`` of its own also takes the step's
    general path, one array after another)."""
    assert self.rule is not None
    self.rule(p, *self.rule_arguments(group, step, lr, p, g, state))


def default_update(name: str) -> bool:
    cls = type(optim.create(name, {"w": np.ones(2)}, **CASES[name].configs[0]))
    return cls.elementwise and cls.update is Optimizer.update


CONFIGS = [
    (name, i)
    for name, case in CASES.items()
    if default_update(name)
    for i in range(len(case.configs))
]


def params(mixed: bool) -> Arrays:
    """Float64 arrays (the variants test_conformance compiles), one 0-d; a and d
    float32 where ``mixed``."""
    rng = np.random.default_rng(0)
    shapes = {"a": (3, 4), "s": (), "c": (5,), "d": (2, 3)}
    return {
        n: rng.standard_normal(s).astype(
            np.float32 if mixed and n in "ad" else np.float64
        )
        for n, s in shapes.items()
    }


def gradients(p: Arrays, k: int, kinds: str) -> dict[str, Any]:
    """Step ``k``'s gradients: ``plain`` arrays of each parameter's dtype and
    shape (taken as they are); ``mixed``: another dtype, a number, views of
    parameter ``a`` (cast before anything moves, or copied after ``a`` moved);
    ``aliased``: a parameter itself, and a view of ``a`` read after it moved."""
    rng = np.random.default_rng(100 + k)
    g: dict[str, Any] = {
        n: (rng.standard_normal(a.shape) + 0.5 * a).astype(a.dtype)
        for n, a in p.items()
    }
    if kinds == "mixed":
        g["a"] = g["a"].astype(np.float64)  # cast
        g["s"] = float(g["s"])
        g["d"] = p["a"].T[:2, :3]  # a strided view of a: copied at d's turn
        g["c"] = p["a"].reshape(-1)[3:8]  # a float32 view of a: cast, before a moves
    if kinds == "aliased":
        g["c"] = p["c"]  # the parameter itself
        g["d"] = p["a"].reshape(-1)[:6].reshape(2, 3)  # a's memory, read at d's turn
    return g


def run(name: str, i: int, kinds: str, *, reference: bool) -> tuple[Arrays, Any]:
    cls = type(optim.create(name, {"w": np.ones(2)}))
    if reference:
        cls = type(f"Reference{cls.__name__}", (cls,), {"update": reference_update})
    p = params(mixed=kinds != "plain")
    opt = cls(p, **CASES[name].configs[i])
    for k in range(STEPS):
        opt.step(gradients(p, k, kinds))
    return p, opt.state_dict()["state"]


@pytest.mark.parametrize(
    ("name", "i", "kinds"),
    [(name, i, "plain") for name, i in CONFIGS]
    + [(name, i, k) for name, i in [("sgd", 1), ("adam", 0)] for k in KINDS],
)
def test_a_dict_step_is_the_per_array_update(name: str, i: int, kinds: str) -> None:
    """Every configuration with gradients as a model makes them (taken as they
    are), and float32 beside float64 with gradients that are checked, cast,
    copied or alias a parameter (SGD-momentum's variants, and Adam's)."""
    with np.errstate(all="ignore"):
        got, got_state = run(name, i, kinds, reference=False)
        expected, expected_state = run(name, i, kinds, reference=True)
    for n, a in expected.items():
        assert got[n].dtype == a.dtype
        np.testing.assert_array_equal(got[n], a, err_msg=n)
        for key, s in expected_state[n].items():
            np.testing.assert_array_equal(got_state[n][key], s, err_msg=f"{n} {key}")


def test_a_large_dict_step_runs_the_parallel_variants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step of at least PARALLEL_MIN_SIZE elements runs the parallel variant
    for each array of at least PARALLEL_MIN_ARRAY, and keeps it with the
    arguments beside the serial one that a small step ran."""
    config = CASES["sgd"].configs[-1]  # variants test_conformance compiles
    p = params(mixed=False)
    expected = {n: a.copy() for n, a in p.items()}
    opt = optim.SGD(p, **config)
    cls = type("ReferenceSGD", (optim.SGD,), {"update": reference_update})
    twin = cls(expected, **config)
    for k in range(4):
        if k == 2:
            monkeypatch.setattr(kernel, "PARALLEL_MIN_SIZE", 1)
            monkeypatch.setattr(kernel, "PARALLEL_MIN_ARRAY", 6)
        opt.step(gradients(p, k, "plain"))
        twin.step(gradients(expected, k, "plain"))
    for n, a in expected.items():
        np.testing.assert_array_equal(p[n], a, err_msg=n)
    modes = {}
    for seg in opt._segments[0]:
        assert seg.state.bound is not None
        modes[seg.names[0]] = {key[0] for key in seg.state.bound.variants}
    # a: 12 elements, s: 1, c: 5, d: 6
    assert modes == {"a": {False, True}, "s": {False}, "c": {False}, "d": {False, True}}


@pytest.mark.parametrize("strided", [False, True])
def test_a_gradient_viewing_a_parameter_is_read_at_its_turn(strided: bool) -> None:
    """As the arrays are updated one after another, a gradient that views an
    earlier parameter sees it moved (a strided one copied then, not before)."""
    rng = np.random.default_rng(3)
    a, d = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    a0, d0 = a.copy(), d.copy()
    opt = optim.SGD({"a": a, "d": d}, lr=0.5)
    view = a.T[:2, :3] if strided else a.reshape(-1)[:6].reshape(2, 3)
    opt.step({"a": np.ones((3, 4)), "d": view})
    np.testing.assert_array_equal(a, a0 - 0.5)
    moved = (a0 - 0.5).T[:2, :3] if strided else (a0 - 0.5).reshape(-1)[:6]
    np.testing.assert_array_equal(d, d0 - 0.5 * moved.reshape(2, 3))


def test_groups_of_a_dict_step_are_the_per_array_update() -> None:
    """Each group's arrays with its own hyperparameters and flags."""
    results = []
    for cls in (optim.SGD, type("R", (optim.SGD,), {"update": reference_update})):
        p = params(mixed=True)
        groups = [
            {"params": {n: p[n] for n in "as"}, "momentum": 0.9, "nesterov": True},
            {"params": {n: p[n] for n in "cd"}, "lr": 0.05, "weight_decay": 0.1},
        ]
        opt = cls(groups, lr=0.1)
        for k in range(3):
            opt.step(gradients(p, k, "plain"))
        results.append(p)
    for n, a in results[1].items():
        np.testing.assert_array_equal(results[0][n], a, err_msg=n)
