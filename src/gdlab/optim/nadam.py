"""NAdam: Adam with Nesterov momentum and a momentum-warming schedule."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, adam_like
from gdlab.params import Array


def nadam_rule(
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
    grad_coef: float,
    momentum_coef: float,
    bias_correction2: float,
) -> None:
    for i in prange(p.size):
        g_i = -g[i] if maximize else g[i]
        if decoupled_weight_decay:
            p[i] *= 1.0 - lr * weight_decay
        else:
            g_i += weight_decay * p[i]
        exp_avg[i] = beta1 * exp_avg[i] + (1.0 - beta1) * g_i
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g_i * g_i
        denom = math.sqrt(exp_avg_sq[i] / bias_correction2) + eps
        p[i] -= (grad_coef * g_i + momentum_coef * exp_avg[i]) / denom


def momentum_at(beta1: float, momentum_decay: float, step: int) -> float:
    """The warming momentum of step t: μ_t = β1 (1 − ½·0.96^(t ψ))."""
    return beta1 * (1.0 - 0.5 * math.pow(0.96, step * momentum_decay))


class NAdam(Optimizer):
    r"""NAdam: Nesterov-accelerated Adam.

    .. math::
        \mu_t &= \beta_1\bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
            \Pi_t = \textstyle\prod_{i \le t} \mu_i \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &\leftarrow \theta_{t-1}
            - \eta\,\frac{1-\mu_t}{1-\Pi_t}\,\frac{g_t}{\sqrt{\hat v_t}+\epsilon}
            - \eta\,\frac{\mu_{t+1}}{1-\Pi_{t+1}}\,\frac{m_t}{\sqrt{\hat v_t}+\epsilon},
            \qquad \hat v_t = v_t / (1-\beta_2^t)

    The gradient term is the Nesterov look-ahead: the momentum of the *next* step
    is applied now.

    Args:
        lr (η): learning rate >= 0 or a schedule, default 2e-3.
        betas (β1, β2): each in [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): >= 0, default 0.
        momentum_decay (ψ): >= 0, default 4e-3.
        decoupled_weight_decay: AdamW-style decay (NAdamW), default False.
        maximize: ascend the objective instead.

    Convention: matches ``torch.optim.NAdam`` to 1e-10 in float64. The product
    :math:`\Pi_t` is accumulated in the state (``mu_product``), as torch does:
    each step multiplies in its own :math:`\mu_t`, from the group's β1 and ψ at
    that step, so a β1 changed mid-run changes only the factors after the change.

    References:
        Dozat, *Incorporating Nesterov Momentum into Adam*, ICLR 2016 workshop.
        https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": _checks.ema_pair,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "momentum_decay": _checks.nonnegative,
        "decoupled_weight_decay": _checks.flag,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.002
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)

    state_spec: ClassVar[dict[str, str]] = {
        "exp_avg": "real",
        "exp_avg_sq": "nonnegative",
        "mu_product": "scalar",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0, "mu_product": 1.0}

    rule = elementwise(nadam_rule)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        psi = group["momentum_decay"]
        mu, mu_next = momentum_at(beta1, psi, step), momentum_at(beta1, psi, step + 1)
        state["mu_product"] *= mu  # Π_t, with the coefficients of each step
        mu_product = float(state["mu_product"])
        return {
            "grad_coef": lr * (1.0 - mu) / (1.0 - mu_product),
            "momentum_coef": lr * mu_next / (1.0 - mu_product * mu_next),
            "bias_correction2": 1.0 - beta2**step,
        }
