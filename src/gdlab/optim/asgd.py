"""ASGD: SGD with a decaying step and a running (Polyak) average of the iterates."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.kernel import elementwise, prange
from gdlab.optim.space import Axis, log_uniform, lr_around
from gdlab.params import Array


def asgd_rule(
    p: Array,
    g: Array,
    ax: Array,
    eta: float,
    mu: float,
    lambd: float,
    weight_decay: float,
    averaging: bool,
    maximize: bool,
) -> None:
    for i in prange(p.size):
        g_i = (-g[i] if maximize else g[i]) + weight_decay * p[i]
        p[i] *= 1.0 - lambd * eta
        p[i] -= eta * g_i
        if averaging:
            ax[i] += (p[i] - ax[i]) * mu
        # ax = p bit for bit (-0.0 == 0.0, nan != nan), ax read first: written
        # unread, its stream took 1.5x as long (10M float32, 1 and 2 threads)
        elif ax[i] != p[i] or p[i] == 0.0:
            ax[i] = p[i]


class ASGD(Optimizer):
    r"""ASGD: averaged stochastic gradient descent.

    .. math::
        \eta_t &= \frac{\eta}{(1 + \lambda\eta\,(t-1))^{\alpha}}, \qquad
        \mu_t = \frac{1}{\max(1,\ t-1-t_0)} \\
        \theta_t &\leftarrow (1 - \lambda\eta_t)\,\theta_{t-1}
            - \eta_t\,(g_t + w\,\theta_{t-1}) \\
        \bar\theta_t &\leftarrow \bar\theta_{t-1} + \mu_t(\theta_t - \bar\theta_{t-1})

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-2.
        lambd (λ): decay term, >= 0, default 1e-4.
        alpha (α): power of the step decay, >= 0, default 0.75.
        t0 (t₀): the step after which averaging starts, >= 0, default 1e6.
        weight_decay (w): L2 penalty >= 0, default 0.
        maximize: ascend the objective instead.

    The evaluation point (:meth:`eval_params`, where ``fit`` evaluates) is the
    average :math:`\bar\theta` (``state["ax"]``): that is the estimate Polyak &
    Juditsky average for; before step t₀ it equals θ.

    Convention: matches ``torch.optim.ASGD`` to 1e-10 in float64, mid-run edits
    included: η_t and μ_t are state, computed at the end of step t − 1 from that
    step's lr (so a schedule or an edited lr takes effect one step later, as in
    torch).

    References:
        Polyak & Juditsky, *Acceleration of Stochastic Approximation by Averaging*,
        SIAM J. Control and Optimization, 1992.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-2,
        "lambd": 1e-4,
        "alpha": 0.75,
        "t0": 1e6,
        "weight_decay": 0.0,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "lambd": constraints.nonnegative,
        "alpha": constraints.nonnegative,
        "t0": constraints.nonnegative,
        "weight_decay": constraints.nonnegative,
        "maximize": constraints.flag,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "ax": "real",
        "eta": "scalar",
        "mu": "scalar",
    }
    suggested_lr: ClassVar[float] = 0.1
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }
    rule = elementwise(asgd_rule)

    def initial_state(self, group: Group) -> dict[str, float]:
        lr = group["lr"]
        return {"ax": 0.0, "eta": float(lr(0) if callable(lr) else lr), "mu": 1.0}

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        eta, mu = float(state["eta"]), float(state["mu"])
        lambd, alpha = group["lambd"], group["alpha"]
        state["eta"][...] = lr / ((1 + lambd * lr * step) ** alpha)  # for t + 1
        state["mu"][...] = 1 / max(1, step - group["t0"])
        return {"eta": eta, "mu": mu, "averaging": mu != 1}

    warm_up_steps = 3  # the copy below averages from its step 3

    def warm_up(self) -> None:
        """Also compile the averaging variant, which a run meets only after step
        t₀ (10⁶ by default): on a copy whose t₀ is 0, so it averages from step 3."""
        super().warm_up()
        averaging = copy.deepcopy(self)
        for group in averaging.param_groups:
            group["t0"] = 0.0
        Optimizer.warm_up(averaging)

    def eval_params(self) -> dict[str, Array]:
        """The running average of the iterates (θ itself before the first step)."""
        point = super().eval_params()
        if self.step_count == 0:
            return point
        return {n: self.state[n]["ax"] for n in point}
