"""Adam and AdamW: momentum plus RMSProp scaling with bias correction."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, adam_like
from gdlab.params import Array


def adam_rule(
    p: Array,
    g: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    max_exp_avg_sq: Array,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled: bool,
    amsgrad: bool,
    maximize: bool,
    bias_correction1: float,
    bias_correction2_sqrt: float,
) -> None:
    for i in prange(p.size):
        g_i = -g[i] if maximize else g[i]
        if decoupled:
            p[i] *= 1.0 - lr * weight_decay
        else:
            g_i += weight_decay * p[i]
        exp_avg[i] = beta1 * exp_avg[i] + (1.0 - beta1) * g_i
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + (1.0 - beta2) * g_i * g_i
        v_hat = exp_avg_sq[i]
        if amsgrad:
            max_exp_avg_sq[i] = max(max_exp_avg_sq[i], exp_avg_sq[i])
            v_hat = max_exp_avg_sq[i]
        p[i] -= (
            lr
            / bias_correction1
            * exp_avg[i]
            / (math.sqrt(v_hat) / bias_correction2_sqrt + eps)
        )


class Adam(Optimizer):
    r"""Adam: adaptive moment estimation.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
              \quad(\text{or } \theta_{t-1} \leftarrow (1-\eta\lambda)\theta_{t-1}
              \text{ if decoupled}) \\
        m_t &\leftarrow \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1-\beta_2) g_t^2
              \quad(\hat v_t = \max(\hat v_{t-1}, v_t) \text{ with AMSGrad}) \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-3.
        betas (β1, β2): EMA coefficients, each in [0, 1), default (0.9, 0.999).
        eps (ε): >= 0, default 1e-8.
        weight_decay (λ): >= 0, default 0 (1e-2 for AdamW).
        amsgrad: use the running maximum of v (Reddi et al.), default False.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding
            λθ to the gradient; default False (True for AdamW).
        maximize: ascend the objective instead.

    Convention: ε is added *after* the bias-corrected square root, as in the paper's
    Algorithm 1 and torch; decoupled decay is multiplied by lr (torch's AdamW, not
    the paper's schedule multiplier). Matches ``torch.optim.Adam``/``AdamW`` to 1e-10
    in float64.

    References:
        Kingma & Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015.
        https://arxiv.org/abs/1412.6980
        Reddi et al., *On the Convergence of Adam and Beyond*, ICLR 2018.
        https://openreview.net/forum?id=ryQu7f-RZ

    Example:
        >>> import numpy as np
        >>> w = np.array([1.0, -2.0])
        >>> opt = Adam({"w": w}, lr=0.1)
        >>> opt.step({"w": 2 * w})  # the first step moves each entry by about lr
        >>> w.round(6)
        array([ 0.9, -1.9])
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "decoupled_weight_decay": False,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "betas": _checks.ema_pair,
        "eps": _checks.nonnegative,
        "weight_decay": _checks.nonnegative,
        "amsgrad": _checks.flag,
        "decoupled_weight_decay": _checks.flag,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.001
    search_space: ClassVar[dict[str, Axis]] = adam_like(suggested_lr)

    def decoupled(self, group: Group) -> bool:
        """Whether weight decay multiplies the weights (AdamW) or joins the gradient."""
        return bool(group["decoupled_weight_decay"])

    state_spec: ClassVar[dict[str, str]] = {
        "exp_avg": "real",
        "exp_avg_sq": "nonnegative",
        "max_exp_avg_sq": "nonnegative",
    }

    def initial_state(self, group: Group) -> dict[str, float]:
        state = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        return {**state, "max_exp_avg_sq": 0.0} if group["amsgrad"] else state

    rule = elementwise(adam_rule)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        beta1, beta2 = group["betas"]
        return {
            "decoupled": self.decoupled(group),
            "bias_correction1": 1.0 - beta1**step,
            "bias_correction2_sqrt": math.sqrt(1.0 - beta2**step),
        }


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay, θ ← (1 − ηλ)θ.

    The same rule as :class:`Adam` with ``decoupled_weight_decay=True`` (which AdamW
    does not take: it is always decoupled); the default ``weight_decay`` is 1e-2.

    Convention: matches ``torch.optim.AdamW`` to 1e-10 in float64; the decay is
    multiplied by lr, as in torch (the paper multiplies it by the schedule only).

    References:
        Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019.
        https://arxiv.org/abs/1711.05101

    .. math::
        \theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}
        \text{, then the Adam step}
    """

    defaults: ClassVar[dict[str, Any]] = {
        k: v for k, v in Adam.defaults.items() if k != "decoupled_weight_decay"
    } | {"weight_decay": 1e-2}
    search_space: ClassVar[dict[str, Axis]] = adam_like(
        Adam.suggested_lr, weight_decay=(1e-5, 1e-1)
    )

    def decoupled(self, group: Group) -> bool:
        return True
