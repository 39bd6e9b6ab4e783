"""RMSprop: divide the gradient by an EMA of its square."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around, one_minus_log_uniform
from gdlab.params import Array


def rmsprop_rule(
    p: Array,
    g: Array,
    square_avg: Array,
    grad_avg: Array,
    momentum_buffer: Array,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        square_avg[i] = alpha * square_avg[i] + (1.0 - alpha) * g_i * g_i
        variance = square_avg[i]
        if centered:
            grad_avg[i] = alpha * grad_avg[i] + (1.0 - alpha) * g_i
            variance -= grad_avg[i] * grad_avg[i]
        denom = math.sqrt(variance) + eps
        if momentum > 0.0:
            momentum_buffer[i] = momentum * momentum_buffer[i] + g_i / denom
            p[i] -= lr * momentum_buffer[i]
        else:
            p[i] -= lr * g_i / denom


class RMSprop(Optimizer):
    r"""RMSprop: a per-parameter step from an EMA of squared gradients.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        v_t &\leftarrow \alpha v_{t-1} + (1-\alpha) g_t^2 \\
        \tilde v_t &\leftarrow v_t - \bar g_t^2,\;
            \bar g_t \leftarrow \alpha \bar g_{t-1} + (1-\alpha) g_t
            \quad\text{if centered, else } \tilde v_t = v_t \\
        b_t &\leftarrow \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, b_t
            \quad(\mu = 0:\ \theta_{t-1} - \eta g_t/(\sqrt{\tilde v_t}+\epsilon))

    Unlike Adagrad's growing sum, the EMA forgets old gradients, so the step does
    not stall.

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-2.
        alpha (α): EMA coefficient in [0, 1], default 0.99.
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): >= 0, default 0.
        momentum (μ): >= 0, default 0.
        centered: divide by the estimated variance instead of the raw second moment.
        maximize: ascend the objective instead.

    Convention: ε outside the square root and no bias correction (Hinton's slides
    and torch); matches ``torch.optim.RMSprop`` to 1e-10 in float64. Keras puts ε
    inside the root and starts v at zero the same way.

    References:
        Tieleman & Hinton, *Lecture 6.5 — RMSProp*, COURSERA: Neural Networks for
        Machine Learning, 2012.
        Graves, *Generating Sequences With Recurrent Neural Networks* (centered
        form), 2013. https://arxiv.org/abs/1308.0850
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "alpha": _checks.unit_interval,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "momentum": _checks.nonnegative,
        "centered": _checks.flag,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.001
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "alpha": one_minus_log_uniform(1e-3, 0.5),
        "momentum": one_minus_log_uniform(1e-2, 0.5),
        "eps": log_uniform(1e-10, 1e-2),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }

    state_spec: ClassVar[dict[str, str]] = {
        "square_avg": "nonnegative",
        "grad_avg": "real",
        "momentum_buffer": "real",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        state = {"square_avg": 0.0}
        if group["centered"]:
            state["grad_avg"] = 0.0
        if group["momentum"] > 0:
            state["momentum_buffer"] = 0.0
        return state

    rule = elementwise(rmsprop_rule)
