"""Muon: momentum orthogonalized by a Newton–Schulz iteration, for hidden matrices;
AdamW for every other parameter (a declared routing policy)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from gdlab.optim import constraints, kernel
from gdlab.optim.adam import adam_rule
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.lerp import lerp
from gdlab.optim.space import Axis, log_uniform, lr_around, one_minus_log_uniform
from gdlab.params import Array

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
"""The quintic's (a, b, c), Keller Jordan's and torch's."""


def newton_schulz(
    matrix: Array, coefficients: tuple[float, float, float], steps: int, eps: float
) -> Array:
    r"""An approximately orthogonal matrix :math:`\approx UV^\top` for
    :math:`G = USV^\top`: normalize :math:`X_0 = G/\max(\lVert G\rVert_F, \epsilon)`,
    then ``steps`` times :math:`A = X X^\top,\ X \leftarrow (aI + bA + cA^2)X`
    (torch's iteration) on the wide orientation, so that :math:`A` is the smaller
    Gram matrix. A tall ``matrix`` is iterated as it lies, :math:`A = X^\top X,\
    X \leftarrow X(aI + bA + cA^2)`: the same numbers transposed, with no copy.

    Written out, not in the Gram space: every :math:`X_k = M_k X_0` with :math:`M_k`
    a polynomial in :math:`X_0X_0^\top`, so the iteration could multiply only m×m
    matrices at a third of the cost; but :math:`M_k` grows like
    :math:`\sigma_k/\sigma_0` on a small singular value and its rounding with it.
    On a 256×784 float32 gradient whose singular values span 1 to 1e-6, that form
    was off by 2e-3 at 5 steps (this one by 1.4e-6), and NaN at 20."""
    a, b, c = coefficients
    tall = matrix.shape[0] > matrix.shape[1]
    x = matrix / max(float(np.linalg.norm(matrix)), eps)
    for _ in range(steps):
        gram = x.T @ x if tall else x @ x.T
        poly = gram @ gram
        poly *= c
        poly += b * gram
        poly[np.diag_indices_from(poly)] += a
        x = x @ poly if tall else poly @ x
    return np.ascontiguousarray(x)


def _coefficients(owner: str, name: str, value: object) -> tuple[float, ...]:
    if not isinstance(value, tuple | list) or len(value) != 3:
        constraints.fail(owner, name, "three numbers (a, b, c)", value)
    return tuple(
        constraints.number(owner, f"{name}[{i}]", v) for i, v in enumerate(value)
    )


class Muon(Optimizer):
    r"""Muon: MomentUm Orthogonalized by Newton–Schulz.

    For each hidden weight matrix :math:`W` (``in × out`` in gdlab's layout):

    .. math::
        b_t &\leftarrow \mu b_{t-1} + (1-\mu) g_t, \qquad
        u_t = (1-\mu) g_t + \mu b_t \text{ (Nesterov) or } b_t \\
        O_t &= \operatorname{NS}_5(u_t) \approx UV^\top, \qquad
        W_t \leftarrow (1-\eta\lambda)\,W_{t-1} - \eta\,s\,O_t

    with :math:`s = \sqrt{\max(1, \text{out}/\text{in})}` (``adjust_lr_fn=None`` or
    ``"original"``) or :math:`0.2\sqrt{\max(\text{in}, \text{out})}`
    (``"match_rms_adamw"``). **Fan-in is the first dimension** here: gdlab's
    ``Wl`` is ``(in, out)`` (x @ W), torch's ``nn.Linear`` weight is ``(out, in)``;
    the result equals torch's Muon on the transposed matrix (the iteration is
    transpose-equivariant, and s is computed from torch's ``(A, B) = (out, in)``).

    Routing (:meth:`route`): a 2-D parameter gets Muon, except the group's last
    2-D one when ``adamw_last`` (the output layer, in gdlab's layer order) and any
    name in ``adamw_params``; every other parameter (biases, scalars, tensors) gets
    AdamW at lr η·``adamw_lr_ratio`` (so a schedule and lr = 0 apply to both
    rules, and tuning η moves both) with ``adamw_betas``, ``adamw_eps`` and
    ``adamw_weight_decay`` (default 0: torch's AdamW has 0.01). Only the
    parameters routed to AdamW keep its two moments; the Muon matrices keep one
    buffer.

    Args:
        lr (η): learning rate of the Muon matrices >= 0 or a schedule, default 1e-3.
        weight_decay (λ): decoupled decay of the matrices >= 0, default 0.1.
        momentum (μ): >= 0, default 0.95.
        nesterov: Nesterov momentum, default True.
        ns_coefficients (a, b, c), ns_steps (default 5), eps (default 1e-7): the
            Newton–Schulz iteration.
        adjust_lr_fn: ``None``, ``"original"`` or ``"match_rms_adamw"``.
        adamw_last, adamw_params: the routing (see above).
        adamw_lr_ratio (default 0.1), adamw_betas, adamw_eps, adamw_weight_decay:
            the AdamW of the other parameters.

    Convention: torch's ``torch.optim.Muon`` (2.13) for the matrices and
    ``torch.optim.AdamW`` for the rest, to 1e-10 in float64. torch runs the
    iteration in bfloat16; gdlab in the parameters' dtype: compared with torch's
    bfloat16 iteration the update differs by about 1e-2 relative (bfloat16's
    8-bit mantissa), so the conformance test compares against torch's code with the
    cast disabled.

    References:
        Jordan et al., *Muon: An optimizer for hidden layers in neural networks*,
        2024. https://kellerjordan.github.io/posts/muon/
        Liu et al., *Muon is Scalable for LLM Training*, 2025 (match_rms_adamw).
        https://arxiv.org/abs/2502.16982
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "weight_decay": 0.1,
        "momentum": 0.95,
        "nesterov": True,
        "ns_coefficients": NS_COEFFICIENTS,
        "eps": 1e-7,
        "ns_steps": 5,
        "adjust_lr_fn": None,
        "adamw_last": True,
        "adamw_params": (),
        "adamw_lr_ratio": 0.1,
        "adamw_betas": (0.9, 0.999),
        "adamw_eps": 1e-8,
        "adamw_weight_decay": 0.0,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "weight_decay": constraints.nonnegative,
        "momentum": constraints.nonnegative,
        "nesterov": constraints.flag,
        "ns_coefficients": _coefficients,
        "eps": constraints.nonnegative,
        "ns_steps": lambda owner, name, value: constraints.integer(
            owner, name, value, low=0
        ),
        "adjust_lr_fn": lambda owner, name, value: (
            None
            if value is None
            else constraints.choice(owner, name, value, ("original", "match_rms_adamw"))
        ),
        "adamw_last": constraints.flag,
        "adamw_params": lambda owner, name, value: _names(owner, name, value),
        "adamw_lr_ratio": constraints.nonnegative,
        "adamw_betas": constraints.ema_pair,
        "adamw_eps": constraints.nonnegative,
        "adamw_weight_decay": constraints.nonnegative,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "momentum_buffer": "real",
        "exp_avg": "real",
        "exp_avg_sq": "nonnegative",
    }
    suggested_lr: ClassVar[float] = 0.02
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": lr_around(suggested_lr),
        "momentum": one_minus_log_uniform(1e-2, 0.2),
        "weight_decay": log_uniform(1e-4, 0.3),
    }
    elementwise = False
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "adjust_lr_fn": (None, "original", "match_rms_adamw")
    }
    adamw = kernel.elementwise(adam_rule)

    def route(self, group: Group, name: str, shape: tuple[int, ...]) -> str:
        """``"muon"`` or ``"adamw"``: the rule parameter ``name`` gets (the policy
        in the class docstring)."""
        if len(shape) != 2 or name in group["adamw_params"]:
            return "adamw"
        matrices = [n for n, a in group["params"].items() if np.ndim(a) == 2]
        last = group["adamw_last"] and matrices and name == matrices[-1]
        return "adamw" if last else "muon"

    def param_state(
        self, group: Group, name: str, shape: tuple[int, ...]
    ) -> dict[str, float]:
        if self.route(group, name, shape) == "muon":
            return {"momentum_buffer": 0.0}
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def update(
        self, group: Group, step: int, lr: float, p: Array, g: Array, state: State
    ) -> None:
        if "momentum_buffer" not in state:
            beta1, beta2 = group["adamw_betas"]
            self.adamw(
                p.reshape(-1),
                g.reshape(-1),
                state["exp_avg"].reshape(-1),
                state["exp_avg_sq"].reshape(-1),
                np.empty(0, p.dtype),
                lr * group["adamw_lr_ratio"],
                beta1,
                beta2,
                group["adamw_eps"],
                group["adamw_weight_decay"],
                True,
                False,
                False,
                1.0 - beta1**step,
                math.sqrt(1.0 - beta2**step),
            )
            return
        mu, buf = group["momentum"], state["momentum_buffer"]
        scratch = np.empty_like(buf)
        lerp(buf, g, 1 - mu, out=buf, scratch=scratch)
        u = lerp(g, buf, mu, out=scratch, scratch=scratch) if group["nesterov"] else buf
        # torch's (A, B) = (out, in) is gdlab's (shape[1], shape[0]).
        orthogonal = newton_schulz(
            u, group["ns_coefficients"], group["ns_steps"], group["eps"]
        )
        fan_out, fan_in = p.shape[1], p.shape[0]
        if group["adjust_lr_fn"] == "match_rms_adamw":
            ratio = 0.2 * math.sqrt(max(fan_out, fan_in))
        else:
            ratio = math.sqrt(max(1, fan_out / fan_in))
        p *= 1 - lr * group["weight_decay"]
        p -= (lr * ratio) * orthogonal


def _names(owner: str, name: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list) or not all(
        isinstance(v, str) for v in value
    ):
        constraints.fail(owner, name, "a tuple of parameter names", value)
    return tuple(value)
