"""``explain()``: run the real optimizer on a copy and work out every quantity."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks, optim, surfaces
from gdlab.i18n import gettext as _
from gdlab.lab.explain.rules import RULES, Rule, generic
from gdlab.lab.explain.steps import ExplainedStep, Explanation
from gdlab.params import F64

Group = Mapping[str, Any]
State = Mapping[str, F64]


Gradient = ArrayLike | Callable[[F64], ArrayLike] | surfaces.Surface

MAX_STEPS = 1000
"""The most steps :func:`explain` works out: each is a table to read."""

MAX_START_STEP = 2**53
"""The largest ``start_step``: float64, in which bias corrections such as
``1 - β^t`` are computed, holds every step count up to it exactly."""


def _f64(a: object) -> F64:
    return np.array(a, dtype=np.float64)


def _vector(owner: str, name: str, value: object, size: int | None = None) -> F64:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, name, "a list of numbers", value)
    if a.ndim != 1 or a.size == 0 or (size is not None and a.size != size):
        need = (
            "a non-empty 1-D list of numbers"
            if size is None
            else f"{size} number{'s' * (size != 1)}"
        )
        _checks.fail(owner, name, need, value)
    if not np.all(np.isfinite(a)):
        _checks.fail(owner, name, "finite", a.tolist())
    return a


def _start_from(
    opt: optim.Optimizer,
    rule: Rule,
    state: Mapping[str, ArrayLike] | None,
    start_step: int,
    size: int,
) -> list[str]:
    """Load ``state`` (by state key or displayed name) and ``start_step`` into the
    fresh optimizer ``opt``; the optimizer checks the values. Returns the line the
    formula shows about it (none for a fresh optimizer)."""
    owner = "explain"
    t0 = _checks.integer(owner, "start_step", start_step, low=0)
    if t0 > MAX_START_STEP:
        _checks.fail(
            owner,
            "start_step",
            "<= 2**53 (float64 counts steps exactly up to 2**53)",
            start_step,
        )
    if not state and not t0:
        return []
    if state is not None and not isinstance(state, Mapping):
        _checks.fail(owner, "state", "a mapping name -> values", state)
    keys = type(opt).state_spec
    given: dict[str, F64] = {}
    for name, values in (state or {}).items():
        key = rule.state_names.get(name, name)
        if key not in keys:
            known = [*keys, *(n for n, k in rule.state_names.items() if k in keys)]
            _checks.fail(
                owner, "state", f"keyed by one of {', '.join(known)}", str(name)
            )
        if key in given:
            _checks.fail(owner, "state", f"given {key!r} once", str(name))
        given[key] = _vector(owner, f"state[{name!r}]", values, size)
        if keys[key] == "nonnegative" and np.any(given[key] < 0):
            _checks.fail(
                owner,
                f"state[{name!r}]",
                f">= 0 ({type(opt).__name__} keeps {key} nonnegative)",
                given[key].tolist(),
            )
    saved = opt.state_dict()
    arrays = saved["state"]["θ"] if t0 else {}  # past step 0 the state is whole
    saved["state"]["θ"] = {**arrays, **given}
    saved["step"] = t0
    try:
        opt.load_state_dict(saved)
    except ValueError as error:  # the optimizer's own check of the values
        raise ValueError(f"{owner}: state: {error}") from None
    given_keys = ", ".join(given) or _("none")
    return [
        _("(starting after {t} step(s); state given: {keys})").format(
            t=t0, keys=given_keys
        )
    ]


def explain(
    name: str,
    param: ArrayLike,
    grad: Gradient,
    steps: int = 1,
    *,
    state: Mapping[str, ArrayLike] | None = None,
    start_step: int = 0,
    **hyper: Any,
) -> Explanation:
    """Run ``steps`` steps of optimizer ``name`` on ``param`` and show every quantity.

    Args:
        name: a registered optimizer (``"rmsprop"``) or a preset (``"momentum"``,
            ``"nesterov"``).
        param: the parameter vector θ (1-D; not modified).
        grad: the gradient — a fixed vector (used at every step, as in the source
            notes' worked examples), a function θ -> gradient, or a
            :class:`~gdlab.surfaces.Surface` (then θ is a point (x, y), the gradient
            is the surface's and each step also shows the loss).
        steps: number of steps, in [1, 1000] (one table each).
        state: the optimizer state before the first step, by state key or by the
            column it is shown as (``{"square_avg": v}`` or ``{"v": v}`` for
            RMSprop), one value per element. Arrays not given start as in a fresh
            optimizer (a momentum buffer given is used at step 1 instead of g).
        start_step: the optimizer's step count before the first step, in [0,
            2**53] (the first step shown is ``start_step + 1``; Adam's bias
            corrections and a schedule use it). With ``start_step > 0`` arrays
            not given are the optimizer's initial values.
        **hyper: the optimizer's hyperparameters (``lr=0.01, alpha=0.9``).

    Example:
        >>> e = explain("rmsprop", [0.8, 1.2, 0.5], [0.1, -0.3, 0.2], lr=0.01)
        >>> print(e.format())
        RMSprop  lr=0.01, alpha=0.99, eps=1e-08, ...
          g² = g·g
          v = α·v + (1−α)·g²
          step = η·g/(√v+ε)
          θ new = θ − step
        <BLANKLINE>
        step 1
                  θ     g    g²       v  √v+ε       step  θ new
          θ[0]  0.8   0.1  0.01  0.0001  0.01  0.0999999    0.7
          θ[1]  1.2  -0.3  0.09  0.0009  0.03       -0.1    1.3
          θ[2]  0.5   0.2  0.04  0.0004  0.02        0.1    0.4
    """
    owner = "explain"
    base, preset = optim.resolve(name)
    n = _checks.integer(owner, "steps", steps, low=1)
    if n > MAX_STEPS:
        _checks.fail(owner, "steps", f"<= {MAX_STEPS} (one table per step)", n)
    theta0 = _vector(owner, "param", param)
    surface = grad if isinstance(grad, surfaces.Surface) else None
    gradient: Callable[[F64], F64]
    labels: tuple[str, ...]
    if surface is not None:
        if theta0.size != 2:
            _checks.fail(owner, "param", f"a point (x, y) on {surface.name}", param)
        gradient = surface.grad
        labels = surface.labels
    elif callable(grad):
        fn = grad

        def gradient(theta: F64) -> F64:
            return _vector(owner, "grad(θ)", fn(theta), theta0.size)

        labels = tuple(f"θ[{i}]" for i in range(theta0.size))
    else:
        fixed = _vector(owner, "grad", grad, theta0.size)

        def gradient(theta: F64) -> F64:
            return fixed.copy()

        labels = tuple(f"θ[{i}]" for i in range(theta0.size))

    def _loss_at(theta: F64) -> float:
        """What a closure reports as the loss (L-BFGS): the surface's, else 0."""
        return 0.0 if surface is None else float(surface.value(theta))

    rule = RULES[base] if base in RULES else generic(optim.get(base))
    formula = rule.formula
    value_name = _("loss")
    if surface is not None:
        value_name = surface.value_name
        x, y = surface.labels
        where = _("g = (∂{f}/∂{x}, ∂{f}/∂{y}) at θ = ({x}, {y}),").format(
            f=value_name, x=x, y=y
        )
        problem = f"    {surface.formula}"
    theta = theta0.copy()
    opt = optim.create(base, {"θ": theta}, **{**preset, **hyper})
    started = _start_from(opt, rule, state, start_step, theta0.size)
    group = opt.param_groups[0]
    shown_hyper = {k: v for k, v in group.items() if k != "params"}
    worked = []
    diverged = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _step in range(n):
            t = opt.step_count + 1
            lr = opt.lr
            before_theta = theta.copy()
            g = gradient(before_theta)
            loss = None if surface is None else float(surface.value(before_theta))
            before = {k: _f64(a) for k, a in opt.state["θ"].items()}
            opt.step({"θ": g}, lambda: (_loss_at(theta), {"θ": gradient(theta)}))
            after = {k: _f64(a) for k, a in opt.state["θ"].items()}
            derived, scalars, subtracted = rule.derive(
                group, t, lr, before_theta, g, before, after
            )
            if "step" in subtracted and "step" not in derived:  # a generic rule
                derived["step"] = before_theta - theta
            columns = {"θ": before_theta, "g": g, **derived, "θ new": theta.copy()}
            worked.append(ExplainedStep(t, lr, loss, scalars, columns, subtracted))
            reached = None if surface is None else float(surface.value(theta))
            if not all(np.all(np.isfinite(a)) for a in (theta, *after.values())) or (
                reached is not None and not math.isfinite(reached)
            ):
                diverged = _not_finite(t, lr, theta, after, value_name, reached)
                break
        final_loss = None if surface is None else float(surface.value(theta))
    return Explanation(
        name=name,
        optimizer=type(opt).__name__,
        hyper=shown_hyper,
        formula=tuple(
            (formula(group) if surface is None else [where, problem, *formula(group)])
            + started
        ),
        labels=tuple(labels),
        steps=tuple(worked),
        final_loss=final_loss,
        value_name=value_name,
        diverged=diverged,
    )


def _not_finite(
    t: int,
    lr: float,
    theta: F64,
    state: Mapping[str, F64],
    value_name: str,
    value: float | None,
) -> str:
    """What a step that overflowed float64 gave: θ new, a state array, or the
    objective after it."""
    bad = {"θ new": theta} if not np.all(np.isfinite(theta)) else {}
    bad |= {k: a for k, a in state.items() if not np.all(np.isfinite(a))}
    advice = "try a smaller learning rate"
    if bad:
        name, values = next(iter(bad.items()))
        what = f"{name} = ({', '.join(f'{v:g}' for v in values.tolist())})"
        if name != "θ new":  # the state takes no lr: g (or g²) overflowed
            advice = "try smaller values"
    else:
        what = f"{value_name} after it = {value:g}"
    return f"diverged at step {t}: {what} is not finite, with lr {lr:g} — {advice}"


__all__ = ["explain"]
