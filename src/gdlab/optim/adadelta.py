"""Adadelta: RMSprop with the step measured in units of past updates."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around, one_minus_log_uniform
from gdlab.params import Array


def adadelta_rule(
    p: Array,
    g: Array,
    square_avg: Array,
    acc_delta: Array,
    lr: float,
    rho: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        square_avg[i] = rho * square_avg[i] + (1.0 - rho) * g_i * g_i
        delta = math.sqrt((acc_delta[i] + eps) / (square_avg[i] + eps)) * g_i
        acc_delta[i] = rho * acc_delta[i] + (1.0 - rho) * delta * delta
        p[i] -= lr * delta


class Adadelta(Optimizer):
    r"""Adadelta: an EMA of squared gradients and an EMA of squared updates.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &\leftarrow \rho v_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &\leftarrow
            \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
        u_t &\leftarrow \rho u_{t-1} + (1-\rho) \Delta_t^2 \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,\Delta_t

    The ratio of the two RMS values gives the step its units, so the paper needs no
    learning rate (η = 1, the default).

    Args:
        lr (η): scale of the update >= 0 or a schedule, default 1.0.
        rho (ρ): EMA coefficient in [0, 1], default 0.9.
        eps (ε): >= 0, default 1e-6.
        weight_decay (λ): >= 0, default 0.
        maximize: ascend the objective instead.

    Convention: ε inside both square roots; matches ``torch.optim.Adadelta`` to
    1e-10 in float64.

    References:
        Zeiler, *ADADELTA: An Adaptive Learning Rate Method*, 2012.
        https://arxiv.org/abs/1212.5701
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1.0,
        "rho": 0.9,
        "eps": 1e-6,
        "weight_decay": 0.0,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "rho": _checks.unit_interval,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 1.0
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "rho": one_minus_log_uniform(1e-3, 0.5),
        "eps": log_uniform(1e-8, 1e-3),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }

    state_spec: ClassVar[dict[str, str]] = {
        "square_avg": "nonnegative",
        "acc_delta": "nonnegative",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"square_avg": 0.0, "acc_delta": 0.0}

    rule = elementwise(adadelta_rule)
