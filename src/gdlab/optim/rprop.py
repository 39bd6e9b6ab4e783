"""Rprop: a step size per weight, grown while the gradient keeps its sign."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, lr_around
from gdlab.params import Array


def rprop_rule(
    p: Array,
    g: Array,
    prev: Array,
    step_size: Array,
    eta_minus: float,
    eta_plus: float,
    step_size_min: float,
    step_size_max: float,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = -g[i] if maximize else g[i]
        agreement = g_i * prev[i]
        factor = 1.0
        if agreement > 0.0:
            factor = eta_plus
        elif agreement < 0.0:
            factor = eta_minus
            g_i = 0.0
        step_size[i] = min(max(step_size[i] * factor, step_size_min), step_size_max)
        p[i] -= np.sign(g_i) * step_size[i]
        prev[i] = g_i


def _etas(owner: str, name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        constraints.fail(owner, name, "a pair (eta_minus, eta_plus)", value)
    minus = constraints.number(
        owner, f"{name}[0]", value[0], low=0.0, high=1.0, low_open=True, high_open=True
    )
    plus = constraints.number(owner, f"{name}[1]", value[1], low=1.0, low_open=True)
    return minus, plus


def _step_sizes(owner: str, name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        constraints.fail(owner, name, "a pair (min, max)", value)
    low = constraints.nonnegative(owner, f"{name}[0]", value[0])
    return low, constraints.number(owner, f"{name}[1]", value[1], low=low)


class Rprop(Optimizer):
    r"""Rprop: resilient backpropagation (the iRprop− variant, as torch).

    .. math::
        s_t &= g_t\,g_{t-1}, \qquad
        \Delta_t = \operatorname{clip}\bigl(\Delta_{t-1}\cdot
            \{\eta_+ \text{ if } s_t>0;\ \eta_- \text{ if } s_t<0;\ 1\},\
            \Delta_{\min}, \Delta_{\max}\bigr) \\
        g_t &\leftarrow 0 \text{ where } s_t < 0, \qquad
        \theta_t \leftarrow \theta_{t-1} - \operatorname{sign}(g_t)\,\Delta_t

    with :math:`\Delta_0 = \eta` (the lr) and :math:`g_0 = 0`.

    Args:
        lr (η): the initial step size of every weight, default 1e-2 (a schedule
            is read once, when the state is created).
        etas (η−, η+): shrink and growth factors, 0 < η− < 1 < η+, default
            (0.5, 1.2).
        step_sizes (Δmin, Δmax): bounds of each step size, default (1e-6, 50).
        maximize: ascend the objective instead.

    Convention: matches ``torch.optim.Rprop`` to 1e-10 in float64: a sign change
    zeroes the stored gradient, so the next step neither shrinks nor grows.
    Full-batch by design: mini-batch noise flips signs. A group with lr = 0 still
    moves by Δmin (torch too).

    References:
        Riedmiller & Braun, *A Direct Adaptive Method for Faster Backpropagation
        Learning: The RPROP Algorithm*, ICNN 1993.
        Igel & Hüsken, *Improving the Rprop Learning Algorithm*, 2000.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-2,
        "etas": (0.5, 1.2),
        "step_sizes": (1e-6, 50.0),
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "etas": _etas,
        "step_sizes": _step_sizes,
        "maximize": constraints.flag,
    }
    state_spec: ClassVar[dict[str, str]] = {"prev": "real", "step_size": "nonnegative"}
    suggested_lr: ClassVar[float] = 1e-3
    search_space: ClassVar[dict[str, Axis]] = {"lr": lr_around(suggested_lr)}
    rule = elementwise(rprop_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        lr = group["lr"]
        return {"prev": 0.0, "step_size": float(lr(0) if callable(lr) else lr)}

    def scalars(self, group: Group, step: int, lr: float, state: Any) -> dict[str, Any]:
        (minus, plus), (low, high) = group["etas"], group["step_sizes"]
        return {
            "eta_minus": minus,
            "eta_plus": plus,
            "step_size_min": low,
            "step_size_max": high,
        }
