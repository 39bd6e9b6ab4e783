"""Lion: the sign of an interpolated momentum, found by program search."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around, one_minus_log_uniform
from gdlab.params import Array


def lion_rule(
    p: Array,
    g: Array,
    exp_avg: Array,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
) -> None:
    for i in prange(p.size):
        g_i = g[i]
        p[i] *= 1.0 - lr * weight_decay
        p[i] -= lr * np.sign(beta1 * exp_avg[i] + (1.0 - beta1) * g_i)
        exp_avg[i] = beta2 * exp_avg[i] + (1.0 - beta2) * g_i


class Lion(Optimizer):
    r"""Lion (EvoLved Sign Momentum).

    .. math::
        c_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        \theta_t &\leftarrow (1-\eta\lambda)\,\theta_{t-1}
              - \eta\,\operatorname{sign}(c_t) \\
        m_t &\leftarrow \beta_2 m_{t-1} + (1-\beta_2) g_t

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-4 (every weight moves
            by ±η each step: take 3-10x less than for AdamW).
        betas (β1, β2): interpolation and momentum coefficients, each in [0, 1),
            default (0.9, 0.99).
        weight_decay (λ): decoupled decay >= 0, default 0 (take 3-10x more than
            for AdamW, so that ηλ stays the same).

    Convention: the decay is multiplied by lr, as in the paper's Algorithm 2 and
    torch's AdamW; sign(0) = 0. Matches ``lion_pytorch.Lion`` 0.2 (its default
    ``decoupled_weight_decay=False``) to 1e-10 in float64.

    References:
        Chen et al., *Symbolic Discovery of Optimization Algorithms*, NeurIPS 2023.
        https://arxiv.org/abs/2302.06675

    Example:
        >>> import numpy as np
        >>> w = np.array([1.0, -2.0])
        >>> opt = Lion({"w": w}, lr=0.1)
        >>> opt.step({"w": 2 * w})  # every entry moves by lr, against its sign
        >>> w.round(6)
        array([ 0.9, -1.9])
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-4,
        "betas": (0.9, 0.99),
        "weight_decay": 0.0,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": constraints.ema_pair,
        "weight_decay": constraints.nonnegative,
    }
    state_spec: ClassVar[dict[str, str]] = {"exp_avg": "real"}
    suggested_lr: ClassVar[float] = 3e-4
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "beta1": one_minus_log_uniform(2e-2, 0.5),
        "beta2": one_minus_log_uniform(1e-3, 0.1),
        "weight_decay": log_uniform(1e-5, 1.0),
    }
    rule = elementwise(lion_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"exp_avg": 0.0}
