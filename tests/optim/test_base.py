"""The optimizer base: schedules as lr, the signature, repr."""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import pytest

from gdlab import optim, schedules
from gdlab.optim import kernel
from gdlab.optim.base import Group, State

from ..conftest import raises_about


def test_signature_shows_the_hyperparameters() -> None:
    params = inspect.signature(optim.Adam).parameters
    assert list(params) == [
        "params",
        "lr",
        "betas",
        "eps",
        "weight_decay",
        "amsgrad",
        "decoupled_weight_decay",
        "maximize",
    ]
    assert params["lr"].default == 1e-3


def test_schedule_is_evaluated_at_the_step_count() -> None:
    w = {"w": np.zeros(1)}
    opt = optim.SGD(w, lr=schedules.step(1.0, step_size=2, gamma=0.5))
    seen = []
    for _ in range(5):
        seen.append(opt.lr)
        opt.step({"w": np.full(1, -1.0)})  # w grows by exactly the lr
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert w["w"][0] == sum(seen)


def test_a_broken_schedule_fails_at_construction() -> None:
    with raises_about("SGD", "lr(0)", got="-1.0"):
        optim.SGD({"w": np.zeros(1)}, lr=lambda step: -1.0)


def test_a_schedule_that_goes_bad_later_fails_before_the_step() -> None:
    w = {"w": np.zeros(1)}
    opt = optim.SGD(w, lr=lambda step: 0.1 if step == 0 else float("nan"))
    opt.step({"w": np.ones(1)})
    with raises_about("SGD", "the scheduled lr at step 1"):
        opt.step({"w": np.ones(1)})
    assert opt.step_count == 1
    assert w["w"][0] == pytest.approx(-0.1)


def test_state_dict_records_the_schedule_and_refuses_another() -> None:
    cosine = schedules.cosine(0.1, total_steps=100)
    opt = optim.Adam({"w": np.zeros(2)}, lr=cosine)
    opt.step({"w": np.ones(2)})
    state = opt.state_dict()
    assert state["param_groups"][0]["lr"] == cosine.to_dict()
    same = optim.Adam({"w": np.zeros(2)}, lr=schedules.cosine(0.1, total_steps=100))
    same.load_state_dict(state)
    assert same.step_count == 1 and same.lr == cosine(1)
    other = optim.Adam({"w": np.zeros(2)}, lr=schedules.cosine(0.1, total_steps=200))
    with pytest.raises(
        ValueError, match=r"Adam: state_dict was saved with lr .*cosine"
    ):
        other.load_state_dict(state)
    flat = optim.Adam({"w": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match=r"saved with lr \{'name': 'cosine'"):
        flat.load_state_dict(state)


def test_load_state_dict_restores_float_hyperparameters() -> None:
    source = optim.SGD({"w": np.zeros(2)}, lr=0.5, momentum=0.9)
    source.param_groups[0]["lr"] = 0.05
    target = optim.SGD({"w": np.zeros(2)}, lr=0.5, momentum=0.9)
    target.load_state_dict(source.state_dict())
    assert target.param_groups[0]["lr"] == 0.05


def test_repr_lists_groups() -> None:
    opt = optim.SGD(
        [{"params": {"w": np.zeros(2)}, "lr": 0.1}, {"params": {"b": np.zeros(1)}}]
    )
    text = repr(opt)
    assert text.startswith("SGD (step 0)")
    assert "group 0: ['w'] lr=0.1" in text and "group 1: ['b'] lr=0.001" in text


def scaled_rule(
    p: np.ndarray,
    g: np.ndarray,
    trace: np.ndarray,
    lr: float,
    beta2: float,
    scale: float,
    step: int,
) -> None:
    for i in kernel.prange(p.size):
        trace[i] = beta2 * trace[i] + g[i]
        p[i] -= lr * scale * trace[i] + 0.0 * step


class _Bound(optim.Optimizer):
    """A rule whose arguments come from the state, a pair, lr, step and scalars()."""

    defaults: ClassVar[dict[str, Any]] = {"lr": 0.1, "betas": (0.0, 0.5), "scale": 2.0}
    state_spec: ClassVar[dict[str, str]] = {"trace": "real"}
    rule = kernel.elementwise(scaled_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"trace": 0.0}

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, float]:
        return {"scale": group["scale"] * step}  # scalars() wins over the group


def test_rule_arguments_are_bound_by_name() -> None:
    w = {"w": np.zeros(2)}
    opt = _Bound(w)
    opt.step({"w": np.ones(2)})  # trace 1, p -= 0.1 * 2 * 1
    opt.step({"w": np.ones(2)})  # trace 1.5, p -= 0.1 * 4 * 1.5
    np.testing.assert_allclose(w["w"], [-0.8, -0.8], rtol=1e-15)
    np.testing.assert_array_equal(opt.state["w"]["trace"], [1.5, 1.5])


def test_a_rule_argument_nothing_binds_is_a_type_error() -> None:
    class Unbound(_Bound):
        defaults: ClassVar[dict[str, Any]] = {"lr": 0.1, "betas": (0.0, 0.5)}

        def scalars(
            self, group: Group, step: int, lr: float, state: State
        ) -> dict[str, float]:
            return {}

    with pytest.raises(TypeError, match=r"Unbound: the rule's argument 'scale'"):
        Unbound({"w": np.zeros(2)}).step({"w": np.ones(2)})
