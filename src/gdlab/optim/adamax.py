"""Adamax: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, adam_like
from gdlab.params import Array


def adamax_rule(
    p: Array,
    g: Array,
    exp_avg: Array,
    exp_inf: Array,
    clr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        exp_avg[i] = beta1 * exp_avg[i] + (1.0 - beta1) * g_i
        exp_inf[i] = max(beta2 * exp_inf[i], abs(g_i) + eps)
        p[i] -= clr * exp_avg[i] / exp_inf[i]


class Adamax(Optimizer):
    r"""Adamax: Adam under the infinity norm.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        u_t &\leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{u_t}

    Args:
        lr (η): learning rate >= 0 or a schedule, default 2e-3.
        betas (β1, β2): each in [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): >= 0, default 0.
        maximize: ascend the objective instead.

    Convention: ε is added to :math:`|g|` inside the max (torch), not to the
    denominator as in the paper's Algorithm 2 (which has none); matches
    ``torch.optim.Adamax`` to 1e-10 in float64.

    References:
        Kingma & Ba, *Adam: A Method for Stochastic Optimization*, §7.1, ICLR 2015.
        https://arxiv.org/abs/1412.6980
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": _checks.ema_pair,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.002
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)

    state_spec: ClassVar[dict[str, str]] = {"exp_avg": "real", "exp_inf": "nonnegative"}

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    rule = elementwise(adamax_rule)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        return {"clr": lr / (1.0 - group["betas"][0] ** step)}
