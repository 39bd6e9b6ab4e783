"""Adafactor: Adam's second moment in factored form, O(m + n) memory per matrix."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.space import Axis, log_uniform, lr_around
from gdlab.params import Array


def _eps_pair(owner: str, name: str, value: object) -> tuple[float | None, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        constraints.fail(owner, name, "a pair (eps1 or None, eps2)", value)
    first = (
        None
        if value[0] is None
        else constraints.nonnegative(owner, f"{name}[0]", value[0])
    )
    return first, constraints.nonnegative(owner, f"{name}[1]", value[1])


class Adafactor(Optimizer):
    r"""Adafactor (torch's variant: no first moment, relative step size).

    For a matrix gradient :math:`G` (the last two dimensions; leading ones are
    batched), with :math:`\hat\beta_t = 1 - t^{c}` (c = ``beta2_decay``):

    .. math::
        R_t &\leftarrow \hat\beta_t R_{t-1} + (1-\hat\beta_t)\,
            \operatorname{mean}_{\text{cols}}(G^2), \qquad
        C_t \leftarrow \hat\beta_t C_{t-1} + (1-\hat\beta_t)\,
            \operatorname{mean}_{\text{rows}}(G^2) \\
        \hat V_t &= R_t C_t / \max(\operatorname{mean}(R_t), \epsilon_1), \qquad
        U_t = G / \sqrt{\max(\hat V_t, \epsilon_1^2)} \\
        \alpha_t &= \max\bigl(\epsilon_2, \operatorname{RMS}(\theta_{t-1})\bigr)
            \min\bigl(\eta, 1/\sqrt t\bigr) \\
        \theta_t &\leftarrow (1-\eta\lambda)\,\theta_{t-1}
            - \frac{\alpha_t}{\max(1, \operatorname{RMS}(U_t)/d)}\,U_t

    A vector or scalar keeps a full :math:`V_t` (the EMA of :math:`g^2`) instead.
    The state differs per parameter: ``row_var`` of shape ``(..., m, 1)`` and
    ``col_var`` of shape ``(..., 1, n)`` for a matrix, ``variance`` otherwise.

    Args:
        lr (η): caps the relative step size min(η, 1/√t), default 1e-2.
        beta2_decay (c): <= 0, default −0.8.
        eps (ε1, ε2): ε1 floors the variance (None: the dtype's machine epsilon),
            ε2 the parameter RMS; default (None, 1e-3).
        d: update clipping threshold >= 1, default 1.
        weight_decay (λ): decoupled decay >= 0, default 0.
        maximize: ascend the objective instead.

    Convention: matches ``torch.optim.Adafactor`` to 1e-10 in float64 (torch's
    variant of the paper: no first moment, the variance normalized by the mean of
    the row factor). A parameter with no elements is skipped (torch divides by 0).

    References:
        Shazeer & Stern, *Adafactor: Adaptive Learning Rates with Sublinear Memory
        Cost*, ICML 2018. https://arxiv.org/abs/1804.04235
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-2,
        "beta2_decay": -0.8,
        "eps": (None, 1e-3),
        "d": 1.0,
        "weight_decay": 0.0,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "beta2_decay": lambda owner, name, value: constraints.number(
            owner, name, value, high=0.0
        ),
        "eps": _eps_pair,
        "d": lambda owner, name, value: constraints.number(owner, name, value, low=1.0),
        "weight_decay": constraints.nonnegative,
        "maximize": constraints.flag,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "row_var": "nonnegative",
        "col_var": "nonnegative",
        "variance": "nonnegative",
    }
    suggested_lr: ClassVar[float] = 1e-2
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }
    elementwise = False

    def param_state(
        self, group: Group, name: str, shape: tuple[int, ...]
    ) -> dict[str, float]:
        if len(shape) > 1:
            return {"row_var": 0.0, "col_var": 0.0}
        return {"variance": 0.0}

    def state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        if key == "row_var" and len(shape) > 1:
            return (*shape[:-1], 1)
        if key == "col_var" and len(shape) > 1:
            return (*shape[:-2], 1, shape[-1])
        return shape

    def update(
        self, group: Group, step: int, lr: float, p: Array, g: Array, state: State
    ) -> None:
        if p.size == 0:
            return
        g = -g if group["maximize"] else g
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype).eps)
        decay = step ** group["beta2_decay"]  # 1 - β̂_t
        rho = min(lr, 1 / (step**0.5))
        alpha = max(eps2, float(np.linalg.norm(p.reshape(-1))) / (p.size**0.5)) * rho
        if group["weight_decay"] != 0:
            p *= 1 - lr * group["weight_decay"]
        if g.ndim > 1:
            row, col = state["row_var"], state["col_var"]
            row += decay * (np.sum(g * g, axis=-1, keepdims=True) / g.shape[-1] - row)
            col += decay * (np.sum(g * g, axis=-2, keepdims=True) / g.shape[-2] - col)
            estimate: Array = row @ col
            estimate /= np.maximum(np.mean(row, axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]
            variance += decay * (g * g - variance)
            estimate = variance.copy()
        update = g / np.sqrt(np.maximum(estimate, eps1 * eps1))
        rms = float(np.linalg.norm(update.reshape(-1))) / (
            math.sqrt(update.size) * group["d"]
        )
        p -= alpha / max(1.0, rms) * update
