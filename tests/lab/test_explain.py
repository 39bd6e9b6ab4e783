"""Worked updates: the shown quantities reproduce what the optimizer computed."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gdlab import lab, optim, schedules, surfaces
from gdlab.lab.explain import RULES

from ..optim.cases import CASES

PARAM = np.array([0.8, -1.2, 0.5, 0.0])
GRAD = np.array([0.1, -0.3, 0.2, 0.0])


pytestmark = pytest.mark.usefixtures("torch_float64")


GENERIC = {"lion", "rprop", "asgd", "adafactor", "muon", "lbfgs", "shampoo"} | {
    "schedulefree_adamw",
    "schedulefree_sgd",
}
"""Shown as their state before and after each step (no step-by-step display)."""


def test_every_registered_optimizer_has_a_rule_or_the_generic_display() -> None:
    assert set(RULES) == set(optim.names()) - GENERIC


@pytest.mark.parametrize("name", sorted(GENERIC))
def test_the_generic_display_shows_the_state_before_and_after(name: str) -> None:
    worked = lab.explain.explain(name, PARAM, pulled, 3)
    w = {"w": PARAM.copy()}
    opt = optim.create(name, w)
    for step in worked.steps:
        before = {k: np.array(a) for k, a in opt.state["w"].items()}
        opt.step({"w": pulled(w["w"].copy())}, lambda: (0.0, {"w": pulled(w["w"])}))
        np.testing.assert_array_equal(step.new, w["w"])
        np.testing.assert_array_equal(step.columns["step"], step.columns["θ"] - w["w"])
        for key, after in opt.state["w"].items():
            if after.shape == PARAM.shape:
                np.testing.assert_array_equal(step.columns[f"{key} after"], after)
                np.testing.assert_array_equal(
                    step.columns[f"{key} before"], before[key]
                )
            elif after.shape == ():
                assert step.scalars[key] == float(after)
    assert "no step-by-step display" in worked.format()


def test_explain_runs_a_plugins_optimizer() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gdlab"), "explain", "mylion", "--plugin",
         str(Path(__file__).parents[2] / "docs" / "examples" / "lion.py"),
         "--param", "0.8,1.2", "--grad", "0.1,-0.3", "--lr", "0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exp_avg after" in done.stdout and "0.7" in done.stdout


def all_configs() -> list[tuple[str, dict[str, Any]]]:
    return [(name, config) for name, case in CASES.items() for config in case.configs]


def pulled(theta: np.ndarray) -> np.ndarray:
    """A gradient that changes with θ (so that every step differs)."""
    return np.asarray(GRAD + 0.5 * theta)


@pytest.mark.parametrize(("name", "config"), all_configs())
def test_shown_quantities_reproduce_the_optimizers_numbers(
    name: str, config: dict[str, Any]
) -> None:
    steps = 6
    worked = lab.explain.explain(name, PARAM, pulled, steps, **config)

    # The reference: the optimizer alone, on its own copy.
    w = {"w": PARAM.copy()}
    opt = optim.create(name, w, **config)
    keys = RULES[name].state_names if name in RULES else {}
    for step in worked.steps:
        before = w["w"].copy()
        np.testing.assert_array_equal(step.columns["θ"], before)
        np.testing.assert_array_equal(step.columns["g"], pulled(before))
        opt.step({"w": pulled(before)}, lambda: (0.0, {"w": pulled(w["w"])}))
        # θ new is the optimizer's own result, bit for bit.
        np.testing.assert_array_equal(step.new, w["w"])
        # State columns are the optimizer's state after the step.
        for column, key in keys.items():
            if column in step.columns:
                np.testing.assert_array_equal(step.columns[column], opt.state["w"][key])
        # The derived quantities give the same new θ: θ new = θ − Σ subtracted.
        shown = step.columns["θ"] - sum(step.columns[c] for c in step.subtracted)
        np.testing.assert_allclose(shown, step.new, rtol=1e-13, atol=1e-15)
        assert step.columns[list(step.columns)[-1]] is step.new
    np.testing.assert_array_equal(worked.params, w["w"])


def test_rmsprop_columns_follow_the_printed_formula() -> None:
    """The seeds' RMSprop example: v = αv + (1−α)g², step = ηg/(√v+ε)."""
    param, grad = [0.8, 1.2, 0.5], np.array([0.1, -0.3, 0.2])
    worked = lab.explain.explain("rmsprop", param, grad, steps=2, lr=0.01, alpha=0.9)
    assert worked.formula == (
        "g² = g·g",
        "v = α·v + (1−α)·g²",
        "step = η·g/(√v+ε)",
        "θ new = θ − step",
    )
    v = np.zeros(3)
    theta = np.array(param)
    for step in worked.steps:
        v = 0.9 * v + 0.1 * grad**2
        np.testing.assert_allclose(step.columns["g²"], grad**2, rtol=1e-15)
        np.testing.assert_allclose(step.columns["v"], v, rtol=1e-15)
        np.testing.assert_allclose(step.columns["√v+ε"], np.sqrt(v) + 1e-8, rtol=1e-15)
        np.testing.assert_allclose(
            step.columns["step"], 0.01 * grad / (np.sqrt(v) + 1e-8), rtol=1e-14
        )
        theta = theta - 0.01 * grad / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(step.new, theta, rtol=1e-14)
    # One step: v = 0.1 g², so the step is η·sign(g)/√0.1 (ε aside).
    first = worked.steps[0].columns["step"]
    np.testing.assert_allclose(first, 0.01 * np.sign(grad) / math.sqrt(0.1), rtol=1e-6)
    # And torch agrees on the new parameters.
    p = torch.tensor(param, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=0.01, alpha=0.9)
    for _ in range(2):
        p.grad = torch.tensor(grad)
        opt.step()
    np.testing.assert_allclose(worked.params, p.detach().numpy(), rtol=1e-14)


def test_adam_columns_are_the_textbook_quantities() -> None:
    grad = np.array([0.1, -0.3, 0.2])
    worked = lab.explain.explain("adam", [0.8, 1.2, 0.5], grad, steps=3, lr=0.1)
    m = v = np.zeros(3)
    for t, step in enumerate(worked.steps, start=1):
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad**2
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        for column, expected in {"m": m, "v": v, "m̂": m_hat, "v̂": v_hat}.items():
            np.testing.assert_allclose(step.columns[column], expected, rtol=1e-13)
        np.testing.assert_allclose(
            step.columns["step"], 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-13
        )
        assert step.scalars["1−β1^t"] == pytest.approx(1 - 0.9**t, rel=1e-15)
    # With a constant gradient m̂ = g and v̂ = g², so each step is η·sign(g).
    np.testing.assert_allclose(
        worked.params, np.array([0.8, 1.2, 0.5]) - 3 * 0.1 * np.sign(grad), rtol=1e-7
    )


def test_sgd_momentum_buffer() -> None:
    grad = np.array([1.0, -2.0])
    worked = lab.explain.explain("momentum", [0.0, 0.0], grad, steps=3, lr=0.1)
    buffers = [grad, 1.9 * grad, 2.71 * grad]  # b = g, then b = 0.9 b + g
    for step, b in zip(worked.steps, buffers, strict=True):
        np.testing.assert_allclose(step.columns["buf"], b, rtol=1e-15)
        np.testing.assert_allclose(step.columns["step"], 0.1 * b, rtol=1e-15)
    np.testing.assert_allclose(worked.params, -0.1 * 5.61 * grad, rtol=1e-14)


def test_the_seeds_worked_regression_step() -> None:
    """MSE 2.5, ∂/∂m = −3, ∂/∂b = −1, new (m, b) = (−0.7, 5.1)."""
    f = surfaces.get("regression")
    worked = lab.explain.explain("sgd", [-1.0, 5.0], f, lr=0.1)
    (step,) = worked.steps
    assert step.loss == 2.5
    np.testing.assert_array_equal(step.columns["g"], [-3.0, -1.0])
    np.testing.assert_allclose(step.new, [-0.7, 5.1], rtol=1e-15)
    # ½[(−0.7 + 5.1 − 3)² + (−1.4 + 5.1 − 5)²] = ½(1.96 + 1.69)
    assert worked.final_loss == pytest.approx(1.825, rel=1e-14)
    assert worked.labels == ("m", "b")
    text = worked.format()
    assert "MSE before the step: 2.5" in text
    assert "m = -0.7, b = 5.1" in text


def test_a_schedule_shows_the_lr_of_each_step() -> None:
    s = schedules.create("exponential", lr=0.1, gamma=0.5)
    worked = lab.explain.explain("sgd", [1.0], [1.0], steps=3, lr=s)
    assert [step.lr for step in worked.steps] == [0.1, 0.05, 0.025]
    assert worked.params[0] == pytest.approx(1.0 - 0.175, rel=1e-15)
    assert "(lr 0.05)" in worked.format()


def test_rows_and_format() -> None:
    worked = lab.explain.explain("rmsprop", [0.8, 1.2], [0.1, -0.3], steps=2, lr=0.01)
    rows = worked.rows()
    assert len(rows) == 4
    assert rows[0]["t"] == 1 and rows[0]["element"] == "θ[0]"
    assert rows[3]["t"] == 2 and rows[3]["element"] == "θ[1]"
    assert set(rows[0]) == {"t", "element", *worked.steps[0].columns}
    assert rows[3]["θ new"] == worked.params[1]
    text = worked.format()
    assert text.splitlines()[0].startswith("RMSprop  lr=0.01, alpha=0.99")
    assert "v = α·v + (1−α)·g²" in text and "step 2" in text


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("adamx", [1.0], [1.0]), {}, r"unknown optimizer 'adamx'"),
        (("sgd", [1.0, 2.0], [1.0]), {}, r"explain: grad must be 2 numbers"),
        (("sgd", [[1.0]], [1.0]), {}, r"explain: param must be a non-empty 1-D list"),
        (("sgd", [np.inf], [1.0]), {}, r"explain: param must be finite"),
        (("sgd", [1.0], [1.0], 0), {}, r"explain: steps must be an integer >= 1"),
        (("sgd", [1.0], [1.0]), {"lr": -1.0}, r"SGD: lr must be >= 0, got -1\.0"),
        (("sgd", [1.0], [1.0]), {"alpha": 0.9}, r"SGD: keyword 'alpha' must be one"),
        (
            ("sgd", [1.0, 2.0, 3.0], surfaces.get("bowl")),
            {},
            r"explain: param must be a point \(x, y\) on bowl",
        ),
    ],
)
def test_errors(args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lab.explain.explain(*args, **kwargs)


def test_a_given_state_is_the_optimizers_state_before_the_first_step() -> None:
    theta, g = np.array([0.8, 1.2, 0.5]), np.array([0.1, -0.3, 0.2])
    by_column = lab.explain.explain(
        "rmsprop", theta, g, lr=0.01, alpha=0.9, state={"v": g * g}
    )
    by_key = lab.explain.explain(
        "rmsprop", theta, g, lr=0.01, alpha=0.9, state={"square_avg": g * g}
    )
    np.testing.assert_array_equal(by_column.params, by_key.params)
    np.testing.assert_allclose(by_column.steps[0].columns["v"], g * g, rtol=1e-15)
    np.testing.assert_allclose(by_column.params, [0.79, 1.21, 0.49], rtol=1e-8)
    # A momentum buffer given is used at step 1 (torch: buf = μ·buf + g), not buf = g.
    sgd = lab.explain.explain("momentum", theta, g, lr=0.1, state={"buf": [1, 1, 1]})
    np.testing.assert_allclose(sgd.steps[0].columns["buf"], 0.9 + g)


def test_start_step_sets_the_bias_correction_and_the_schedule() -> None:
    theta, g = np.array([1.0, -1.0]), np.array([0.5, 0.25])
    worked = lab.explain.explain(
        "adam", theta, g, lr=0.1, state={"exp_avg_sq": g * g}, start_step=9
    )
    step = worked.steps[0]
    assert step.t == 10 and step.scalars["1−β1^t"] == pytest.approx(1 - 0.9**10)
    # The torch reference from the same state.
    p = torch.tensor(theta, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.tensor(g)
    opt.step()  # creates the state; overwrite it with the given one
    p.data = torch.tensor(theta)
    state = opt.state[p]
    state["step"].fill_(9)
    state["exp_avg"].zero_()
    state["exp_avg_sq"].copy_(torch.tensor(g * g))
    opt.step()
    np.testing.assert_allclose(worked.params, p.detach().numpy(), rtol=1e-12)
    lr = schedules.exponential(0.1, gamma=0.5)
    assert lab.explain.explain("sgd", [1.0], [1.0], lr=lr, start_step=3).steps[
        0
    ].lr == pytest.approx(0.1 * 0.5**3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"state": {"m": [1.0]}}, r"explain: state must be keyed by one of sum, "),
        ({"state": {"sum": [1.0, 2.0]}}, r"explain: state\['sum'\] must be 1 number,"),
        (
            {"state": {"sum": [-1.0]}},
            r"explain: state\['sum'\] must be >= 0 \(Adagrad keeps sum nonnegative\)",
        ),
        ({"state": {"sum": [1.0], "sum ": [1.0]}}, r"must be keyed by one of"),
        ({"start_step": -1}, r"explain: start_step must be an integer >= 0"),
        ({"start_step": 10**400}, r"explain: start_step must be <= 2\*\*53 \(float64"),
        ({"steps": 1001}, r"explain: steps must be <= 1000 \(one table per step\)"),
    ],
)
def test_state_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lab.explain.explain("adagrad", [1.0], [1.0], **kwargs)


def test_a_step_that_overflows_stops_the_explanation_and_says_so() -> None:
    e = lab.explain.explain("adam", [1.0, 2.0], [0.5, 1.0], 3, lr=1e308)
    assert len(e.steps) == 1  # was three tables of inf and NaN, silently
    assert e.diverged == (
        "diverged at step 1: θ new = (-inf, -inf) is not finite, with lr 1e+308 — "
        "try a smaller learning rate"
    )
    assert e.format().endswith(f"\nstopped: {e.diverged}")
    on = lab.explain.explain("sgd", [-2.0, 2.0], surfaces.get("rosenbrock"), 9, lr=0.1)
    assert len(on.steps) == 4  # θ ≈ 1e80 is finite, its f ≈ 100·x⁴ is not
    assert on.diverged == (
        "diverged at step 4: f after it = inf is not finite, with lr 0.1 — try a "
        "smaller learning rate"
    )
    assert on.steps[-1].loss is not None and math.isfinite(on.steps[-1].loss)
    squared = lab.explain.explain("adam", [1.0], [1e200], 1)
    assert squared.diverged == (
        "diverged at step 1: exp_avg_sq = (inf) is not finite, with lr 0.001 — try "
        "smaller values"
    )  # g² overflowed, whatever the lr
    fine = lab.explain.explain("sgd", [1.0], [1.0], 3, lr=0.1)
    assert fine.diverged is None and "stopped" not in fine.format()
