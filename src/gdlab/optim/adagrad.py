"""Adagrad: per-parameter steps scaled by the root of all past squared gradients."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around
from gdlab.params import Array


def adagrad_rule(
    p: Array,
    g: Array,
    sum: Array,
    clr: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        sum[i] += g_i * g_i
        p[i] -= clr * g_i / (math.sqrt(sum[i]) + eps)


class Adagrad(Optimizer):
    r"""Adagrad: the step shrinks as squared gradients accumulate.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        s_t &\leftarrow s_{t-1} + g_t^2
            \qquad (s_0 = \text{initial\_accumulator\_value}) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1 + (t-1)\kappa}\,
            \frac{g_t}{\sqrt{s_t} + \epsilon}

    Because :math:`s_t` only grows, the effective step falls like
    :math:`1/\sqrt{t}` and learning stalls on long runs — the weakness Adadelta and
    RMSprop fix.

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-2.
        lr_decay (κ): >= 0, default 0.
        weight_decay (λ): >= 0, default 0.
        initial_accumulator_value: >= 0, default 0.
        eps (ε): >= 0, default 1e-10.
        maximize: ascend the objective instead.

    Convention: ε outside the square root; matches ``torch.optim.Adagrad`` to 1e-10
    in float64.

    References:
        Duchi, Hazan & Singer, *Adaptive Subgradient Methods for Online Learning and
        Stochastic Optimization*, JMLR 12, 2011.
        https://jmlr.org/papers/v12/duchi11a.html
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "lr_decay": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "initial_accumulator_value": _checks.nonnegative,
        "eps": _checks.nonnegative,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.05
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "eps": log_uniform(1e-10, 1e-2),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }

    state_spec: ClassVar[dict[str, str]] = {"sum": "nonnegative"}

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"sum": group["initial_accumulator_value"]}

    rule = elementwise(adagrad_rule)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        return {"clr": lr / (1 + (step - 1) * group["lr_decay"])}
