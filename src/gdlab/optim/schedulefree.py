"""Schedule-Free SGD and AdamW: no schedule, an average of iterates instead.

Both keep three sequences: z (the base iterate, an SGD or Adam step), x (the
weighted average of the z's, where the model is *evaluated*) and y (between
them, where the gradient is taken — the parameters themselves while training).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import (
    Axis,
    adam_like,
    log_uniform,
    lr_around,
    one_minus_log_uniform,
)
from gdlab.params import Array


def sgd_schedulefree_rule(
    p: Array,
    g: Array,
    z: Array,
    x: Array,
    lr: float,
    momentum: float,
    weight_decay: float,
    ckp1: float,
    first: bool,
) -> None:
    for i in prange(p.size):
        if first:
            z[i] = p[i]
            x[i] = p[i]
        g_i = g[i] + weight_decay * p[i]
        z[i] -= lr * g_i
        x[i] = x[i] * (1.0 - ckp1) + ckp1 * z[i]
        p[i] = x[i] * momentum + (1.0 - momentum) * z[i]


def adamw_schedulefree_rule(
    p: Array,
    g: Array,
    z: Array,
    x: Array,
    exp_avg_sq: Array,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decay_at_z: bool,
    bias_correction2: float,
    ckp1: float,
    first: bool,
) -> None:
    for i in prange(p.size):
        if first:
            z[i] = p[i]
            x[i] = p[i]
        if decay_at_z:
            z[i] -= lr * weight_decay * z[i]
        else:
            z[i] -= lr * weight_decay * p[i]
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g[i] * g[i]
        denom = math.sqrt(exp_avg_sq[i] / bias_correction2) + eps
        z[i] -= lr * (g[i] / denom)
        x[i] = x[i] * (1.0 - ckp1) + ckp1 * z[i]
        p[i] = x[i] * beta1 + (1.0 - beta1) * z[i]


def _integer(owner: str, name: str, value: object) -> int:
    return constraints.integer(owner, name, value, low=0)


class _ScheduleFree(Optimizer):
    """What both share: the averaging weights and the evaluation point x."""

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        k, warmup = step - 1, group["warmup_steps"]
        lr = lr * ((k + 1) / warmup if k < warmup else 1.0)
        lr_max = max(lr, float(state["lr_max"]))
        weight = ((k + 1) ** group["r"]) * (lr_max ** group["weight_lr_power"])
        weight_sum = float(state["weight_sum"]) + weight
        state["lr_max"][...], state["weight_sum"][...] = lr_max, weight_sum
        return {
            "lr": lr,
            "ckp1": weight / weight_sum if weight_sum != 0 else 0.0,
            "first": "z" in state.fresh,
        }

    def eval_params(self) -> dict[str, Array]:
        """The average x, where the model is evaluated (θ before the first step)."""
        point = super().eval_params()
        if self.step_count == 0:
            return point
        return {n: self.state[n]["x"] for n in point}


class SGDScheduleFree(_ScheduleFree):
    r"""Schedule-Free SGD.

    .. math::
        z_t &\leftarrow z_{t-1} - \eta_t\,(\nabla f(y_{t-1}) + \lambda y_{t-1}) \\
        x_t &\leftarrow (1-c_t)\,x_{t-1} + c_t z_t \\
        y_t &\leftarrow \beta x_t + (1-\beta) z_t

    Args:
        lr (η): learning rate >= 0 or a schedule (needs none), default 1.0.
        momentum (β): interpolation in (0, 1), default 0.9.
        weight_decay (λ): L2 penalty >= 0 at y, default 0.
        warmup_steps: linear warm-up of the lr, default 0.
        r: power of t in the averaging weights, default 0.
        weight_lr_power (p): power of the lr in the weights, default 2.

    The averaging weight of step t is c_t = w_t / Σ w_i with
    w_t = t^r · (max lr so far)^p (the lr warmed up linearly over ``warmup_steps``).
    ``fit`` evaluates (and ``eval_params`` returns) x; the parameters hold y.

    Convention: matches ``schedulefree.SGDScheduleFreeReference`` 1.4 to 1e-10 in
    float64, y (the parameters) and x (after its ``eval()``) both.

    References:
        Defazio et al., *The Road Less Scheduled*, NeurIPS 2024.
        https://arxiv.org/abs/2405.15682
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1.0,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "momentum": lambda owner, name, value: constraints.number(
            owner, name, value, low=0.0, high=1.0, low_open=True, high_open=True
        ),
        "weight_decay": constraints.nonnegative,
        "warmup_steps": _integer,
        "r": constraints.nonnegative,
        "weight_lr_power": constraints.nonnegative,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "z": "real",
        "x": "real",
        "lr_max": "scalar",
        "weight_sum": "scalar",
    }
    suggested_lr: ClassVar[float] = 0.1
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "momentum": one_minus_log_uniform(1e-2, 0.5),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }
    rule = elementwise(sgd_schedulefree_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"z": 0.0, "x": 0.0, "lr_max": -1.0, "weight_sum": 0.0}


class AdamWScheduleFree(_ScheduleFree):
    r"""Schedule-Free AdamW.

    .. math::
        z_t &\leftarrow z_{t-1} - \eta_t\lambda\,y_{t-1}
            \quad(\text{or } \eta_t\lambda\,z_{t-1} \text{ with decay\_at\_z}) \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        z_t \leftarrow z_t - \eta_t\,\frac{g_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon} \\
        x_t &\leftarrow (1-c_t)\,x_{t-1} + c_t z_t, \qquad
        y_t \leftarrow \beta_1 x_t + (1-\beta_1) z_t

    with :math:`g_t = \nabla f(y_{t-1})`.

    Args:
        lr (η): learning rate >= 0 or a schedule (needs none), default 2.5e-3.
        betas (β1, β2): interpolation and second-moment coefficients, each in
            [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): decoupled decay >= 0, default 0.
        warmup_steps: linear warm-up of the lr, default 0.
        r: power of t in the averaging weights, default 0.
        weight_lr_power (p): power of the lr in the weights, default 2.
        decay_at_z: decay z instead of y, default False.

    The averaging weight of step t is c_t = w_t / Σ w_i with
    w_t = t^r · (max lr so far)^p (the lr warmed up linearly over ``warmup_steps``).
    ``fit`` evaluates (and ``eval_params`` returns) x; the parameters hold y.

    Convention: matches ``schedulefree.AdamWScheduleFreeReference`` 1.4 to 1e-10
    in float64, y (the parameters) and x (after its ``eval()``) both.

    References:
        Defazio et al., *The Road Less Scheduled*, NeurIPS 2024.
        https://arxiv.org/abs/2405.15682
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 2.5e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "r": 0.0,
        "weight_lr_power": 2.0,
        "decay_at_z": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": constraints.ema_pair,
        "eps": constraints.nonnegative,
        "weight_decay": constraints.nonnegative,
        "warmup_steps": _integer,
        "r": constraints.nonnegative,
        "weight_lr_power": constraints.nonnegative,
        "decay_at_z": constraints.flag,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "z": "real",
        "x": "real",
        "exp_avg_sq": "nonnegative",
        "lr_max": "scalar",
        "weight_sum": "scalar",
    }
    suggested_lr: ClassVar[float] = 2.5e-3
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)
    rule = elementwise(adamw_schedulefree_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        return {
            "z": 0.0,
            "x": 0.0,
            "exp_avg_sq": 0.0,
            "lr_max": -1.0,
            "weight_sum": 0.0,
        }

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        return super().scalars(group, step, lr, state) | {
            "bias_correction2": 1 - group["betas"][1] ** step
        }
