"""Stochastic gradient descent with momentum, dampening and Nesterov momentum."""

from __future__ import annotations

from typing import Any, ClassVar

from gdlab import _checks
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around, one_minus_log_uniform
from gdlab.params import Array


def sgd_rule(
    p: Array,
    g: Array,
    momentum_buffer: Array,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first: bool,
) -> None:
    for i in prange(p.size):
        d_p = -g[i] if maximize else g[i]
        d_p += weight_decay * p[i]
        if momentum != 0.0:
            b = (
                d_p
                if first
                else momentum * momentum_buffer[i] + (1.0 - dampening) * d_p
            )
            momentum_buffer[i] = b
            d_p = d_p + momentum * b if nesterov else b
        p[i] -= lr * d_p


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    .. math::
        g_t &\leftarrow \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        b_t &\leftarrow \mu b_{t-1} + (1-\tau) g_t \quad (b_1 = g_1) \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\,d_t, \quad
            d_t = g_t + \mu b_t \text{ (Nesterov) or } b_t

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-3.
        momentum (μ): >= 0, default 0.
        dampening (τ): in [0, 1], default 0.
        weight_decay (λ): L2 penalty >= 0 added to the gradient, default 0.
        nesterov: Nesterov momentum; needs momentum > 0 and dampening = 0.
        maximize: ascend the objective instead (gradient *ascent*).

    Convention: matches ``torch.optim.SGD`` to 1e-10 in float64 (lr multiplies the
    buffer, the first buffer is the gradient itself). The three written forms of
    momentum (all with a velocity starting at 0) map onto it exactly:

    * ``v ← αv − ηg; w ← w + v`` (Polyak's heavy ball, Saito's form) is
      ``SGD(momentum=α, dampening=0, lr=η)`` with ``v = −η·b``, while η is constant
      (when η changes, torch's form rescales the whole past velocity by the new η,
      the heavy ball keeps it).
    * ``a ← βa + g; w ← w − ηa`` (torch's form) is ``SGD(momentum=β, dampening=0,
      lr=η)`` with ``a = b``.
    * Ng's EMA form ``v ← βv + (1−β)g; w ← w − αv`` is ``SGD(momentum=β,
      dampening=0, lr=α(1−β))`` with ``v = (1−β)·b``. (``dampening=β, lr=α`` is
      only close: its buffer starts at ``g``, not ``(1−β)g``, so its first step is
      1/(1−β) times as large and the paths differ for many steps.)

    Nesterov's look-ahead form ``v ← μv − η∇f(w + μv); w ← w + v`` is
    ``SGD(momentum=μ, nesterov=True, lr=η)``, exactly, on the look-ahead point
    ``w' = w + μv`` (Sutskever et al., 2013): ``w' ← w' − η(g + μb)`` with
    ``g = ∇f(w')`` and ``v = −η·b``. ``gdlab examples momentum-forms`` and
    ``gdlab examples nag`` run each written form beside this class and show the
    trajectories agree to rounding.

    References:
        Polyak, *Some methods of speeding up the convergence of iteration
        methods*, USSR Comp. Math. and Math. Physics, 1964.
        Sutskever et al., *On the importance of initialization and momentum in deep
        learning*, ICML 2013. http://proceedings.mlr.press/v28/sutskever13.html

    Example:
        >>> import numpy as np
        >>> w = np.array([1.0])
        >>> opt = SGD({"w": w}, lr=0.1, momentum=0.9, nesterov=True)
        >>> opt.step({"w": 2 * w})  # b = g = 2, w -= lr·(g + μ·b) = 0.38
        >>> w
        array([0.62])
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "momentum": _checks.nonnegative,
        "dampening": _checks.unit_interval,
        "weight_decay": _checks.nonnegative,
        "nesterov": _checks.flag,
        "maximize": _checks.flag,
    }
    suggested_lr: ClassVar[float] = 0.1
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "momentum": one_minus_log_uniform(1e-2, 0.5),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }

    @classmethod
    def check(cls, group: Group) -> None:
        super().check(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            _checks.fail(
                "SGD",
                "nesterov",
                "used with momentum > 0 and dampening = 0",
                (group["momentum"], group["dampening"]),
            )

    state_spec: ClassVar[dict[str, str]] = {"momentum_buffer": "real"}

    def initial_state(self, group: Group) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if group["momentum"] != 0 else {}

    rule = elementwise(sgd_rule)

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        return {"first": "momentum_buffer" in state.fresh}
