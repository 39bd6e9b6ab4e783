"""RAdam: Adam whose adaptive step is switched on once its variance is tractable."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, adam_like
from gdlab.params import Array


def radam_rule(
    p: Array,
    g: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    maximize: bool,
    bias_correction1: float,
    bias_correction2: float,
    rect: float,
    adaptive: bool,
) -> None:
    for i in prange(p.size):
        g_i = -g[i] if maximize else g[i]
        if decoupled_weight_decay:
            p[i] *= 1.0 - lr * weight_decay
        else:
            g_i += weight_decay * p[i]
        exp_avg[i] = beta1 * exp_avg[i] + (1.0 - beta1) * g_i
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g_i * g_i
        m_hat = exp_avg[i] / bias_correction1
        if adaptive:
            p[i] -= (
                m_hat
                * lr
                * (math.sqrt(bias_correction2) / (math.sqrt(exp_avg_sq[i]) + eps))
                * rect
            )
        else:
            p[i] -= m_hat * lr


class RAdam(Optimizer):
    r"""RAdam: rectified Adam.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
        r_t &= \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}
                          {(\rho_\infty-4)(\rho_\infty-2)\rho_t}} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,\hat m_t \cdot
            \begin{cases} r_t\,\sqrt{1-\beta_2^t}/(\sqrt{v_t}+\epsilon)
                & \rho_t > 5 \\ 1 & \text{otherwise (SGD with momentum)}\end{cases}

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-3.
        betas (β1, β2): each in [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): >= 0, default 0.
        decoupled_weight_decay: AdamW-style decay, default False.
        maximize: ascend the objective instead.

    Convention: the switch at ρ_t > 5 and ε outside the root as in torch, which this
    matches to 1e-10 in float64 (the paper's code switches at ρ_t >= 5).

    References:
        Liu et al., *On the Variance of the Adaptive Learning Rate and Beyond*,
        ICLR 2020. https://arxiv.org/abs/1908.03265
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": _checks.ema_pair,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "decoupled_weight_decay": _checks.flag,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.002
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)

    state_spec: ClassVar[dict[str, str]] = {
        "exp_avg": "real",
        "exp_avg_sq": "nonnegative",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    rule = elementwise(radam_rule)
    warm_up_steps = 8  # the rectified variant starts at step 6 (7 for β2 = 0.8)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        bias_correction2 = 1.0 - beta2**step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2**step / bias_correction2
        adaptive = rho_t > 5.0
        rect = 0.0
        if adaptive:
            rect = math.sqrt(
                (rho_t - 4)
                * (rho_t - 2)
                * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
        return {
            "bias_correction1": 1.0 - beta1**step,
            "bias_correction2": bias_correction2,
            "rect": rect,
            "adaptive": adaptive,
        }
