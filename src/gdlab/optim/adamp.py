"""AdamP: Adam that removes the radial part of the update of scale-invariant weights."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.space import Axis, adam_like
from gdlab.params import Array


def _unit_rows(x: Array, eps: float) -> Array:
    norm: Array = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, eps)


def project(
    p: Array, g: Array, perturb: Array, delta: float, wd_ratio: float, eps: float
) -> tuple[Array, float]:
    """Remove the component of ``perturb`` along ``p`` when ``g`` is nearly orthogonal
    to ``p`` (a sign of scale invariance), per output channel and then per layer.

    Returns the projected update and the weight-decay ratio to apply (``wd_ratio``
    when projected, else 1).
    """
    for rows in (p.shape[0], 1):
        p_rows, g_rows = p.reshape(rows, -1), g.reshape(rows, -1)
        cosine = np.abs(
            np.sum(_unit_rows(g_rows, eps) * _unit_rows(p_rows, eps), axis=1)
        )
        if cosine.max() < delta / math.sqrt(p_rows.shape[1]):
            p_n = p_rows / (np.linalg.norm(p_rows, axis=1, keepdims=True) + eps)
            radial = p_n * np.sum(
                p_n * perturb.reshape(rows, -1), axis=1, keepdims=True
            )
            return perturb - radial.reshape(p.shape), wd_ratio
    return perturb, 1.0


class AdamP(Optimizer):
    r"""AdamP: Adam with projection for scale-invariant weights.

    .. math::
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        d_t &= \frac{m_t \text{ (or } \beta_1 m_t + (1-\beta_1) g_t
            \text{ with Nesterov)}}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon} \\
        d_t &\leftarrow d_t - \hat\theta\,(\hat\theta \cdot d_t)
            \quad\text{if}\ \max|\cos(\theta, g_t)| < \delta/\sqrt{\dim}
            \quad(\hat\theta = \theta / (\lVert\theta\rVert + \epsilon)) \\
        \theta_t &\leftarrow (1 - \eta\lambda r)\,\theta_{t-1}
            - \frac{\eta}{1-\beta_1^t}\, d_t

    The test and projection run per output channel (rows of ``p.reshape(p.shape[0],
    -1)``) and, failing that, over the whole tensor; only tensors with 2 or more
    dimensions are projected. ``r`` is ``wd_ratio`` when projected, else 1.

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-3.
        betas (β1, β2): each in [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): decoupled decay >= 0, default 0.
        delta (δ): cosine threshold >= 0, default 0.1.
        wd_ratio (r): decay ratio for projected tensors, in [0, 1], default 0.1.
        nesterov: Nesterov momentum, default False.

    Convention: the authors' reference ``adamp`` 0.3.0 package, which this matches to
    1e-10 in float64. The rule needs per-tensor norms, so it runs per array with
    NumPy rather than as one fused element-wise pass.

    References:
        Heo et al., *AdamP: Slowing Down the Slowdown for Momentum Optimizers on
        Scale-invariant Weights*, ICLR 2021. https://arxiv.org/abs/2006.08217
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "delta": 0.1,
        "wd_ratio": 0.1,
        "nesterov": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": _checks.ema_pair,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "delta": _checks.nonnegative,
        "wd_ratio": _checks.unit_interval,
        "nesterov": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.001
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)
    elementwise = False

    state_spec: ClassVar[dict[str, str]] = {
        "exp_avg": "real",
        "exp_avg_sq": "nonnegative",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def update(
        self,
        group: Group,
        step: int,
        lr: float,
        p: Array,
        g: Array,
        state: State,
    ) -> None:
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        denom = np.sqrt(v) / math.sqrt(1.0 - beta2**step) + eps
        perturb = (beta1 * m + (1.0 - beta1) * g if group["nesterov"] else m) / denom
        ratio = 1.0
        if p.ndim > 1 and p.size > 0:
            perturb, ratio = project(
                p, g, perturb, group["delta"], group["wd_ratio"], eps
            )
        if group["weight_decay"] > 0:
            p *= 1.0 - lr * group["weight_decay"] * ratio
        p -= lr / (1.0 - beta1**step) * perturb
