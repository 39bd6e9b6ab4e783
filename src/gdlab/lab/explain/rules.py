r"""One rule per optimizer: the formula it shows and the quantities derived from the
gradient, the state and the hyperparameters for display. They satisfy
``θ new = θ − Σ subtracted columns`` to rounding (the tests check it for every
optimizer and every documented switch)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdlab.i18n import gettext as _
from gdlab.optim.nadam import momentum_at
from gdlab.params import F64

Group = Mapping[str, Any]
State = Mapping[str, F64]


Columns = dict[str, F64]
Scalars = dict[str, float]
Derived = tuple[Columns, Scalars, tuple[str, ...]]


@dataclass(frozen=True)
class Rule:
    """How one optimizer is explained: its formula, its derived quantities, and
    which displayed columns are its own state arrays."""

    formula: Callable[[Group], list[str]]
    derive: Callable[[Group, int, float, F64, F64, State, State], Derived]
    state_names: Mapping[str, str]  # displayed column -> optimizer state key


def _effective(group: Group, theta: F64, g: F64, cols: Columns) -> F64:
    """The gradient the rule uses: ±g (maximize) plus λθ (L2 weight decay)."""
    d = -g if group.get("maximize") else g
    wd = group.get("weight_decay", 0.0)
    if wd:
        d = d + wd * theta
    if group.get("maximize") or wd:
        cols[("−g" if group.get("maximize") else "g") + ("+λθ" if wd else "")] = d
    return d


def _effective_formula(group: Group) -> list[str]:
    sign = "−g" if group.get("maximize") else "g"
    if group.get("weight_decay"):
        return [f"{sign}+λθ  " + _("(the gradient the rule uses, λ = weight_decay)")]
    if group.get("maximize"):
        return ["−g  " + _("(maximize: ascend)")]
    return []


def _sgd_formula(group: Group) -> list[str]:
    d = ("−g" if group["maximize"] else "g") + ("+λθ" if group["weight_decay"] else "")
    lines = _effective_formula(group)
    if not group["momentum"]:
        step = f"η·({d})" if len(d) > 1 else "η·g"
        return [*lines, f"step = {step}", "θ new = θ − step"]
    tau = "(1−τ)·" if group["dampening"] else ""
    term = f"({d})" if len(d) > 1 else d
    lines.append(
        f"buf = μ·buf + {tau}{term}  "
        + _("(buf = {d} at step 1; μ = momentum)").format(d=d)
    )
    if group["nesterov"]:
        lines += [f"g+μ·buf = {term} + μ·buf  (Nesterov)", "step = η·(g+μ·buf)"]
    else:
        lines.append("step = η·buf")
    return [*lines, "θ new = θ − step"]


def _sgd(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    d = _effective(group, theta, g, cols)
    if group["momentum"]:
        buf = after["momentum_buffer"]
        cols["buf"] = buf
        if group["nesterov"]:
            d = d + group["momentum"] * buf
            cols["g+μ·buf"] = d
        else:
            d = buf
    cols["step"] = lr * d
    return cols, {}, ("step",)


def _adagrad_formula(group: Group) -> list[str]:
    decay = "η/(1+(t−1)κ)" if group["lr_decay"] else "η"
    return [
        *_effective_formula(group),
        "g² = g·g",
        "sum = sum + g²",
        f"step = {decay}·g/(√sum+ε)",
        "θ new = θ − step",
    ]


def _adagrad(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    d = _effective(group, theta, g, cols)
    clr = lr / (1 + (t - 1) * group["lr_decay"])
    denom = np.sqrt(after["sum"]) + group["eps"]
    cols |= {"g²": d * d, "sum": after["sum"], "√sum+ε": denom}
    cols["step"] = clr * d / denom
    scalars = {"η/(1+(t−1)κ)": clr} if group["lr_decay"] else {}
    return cols, scalars, ("step",)


def _adadelta_formula(group: Group) -> list[str]:
    return [
        *_effective_formula(group),
        "v = ρ·v + (1−ρ)·g²",
        "Δ = √(u+ε)/√(v+ε)·g  " + _("(u from the previous step)"),
        "u = ρ·u + (1−ρ)·Δ²",
        "step = η·Δ",
        "θ new = θ − step",
    ]


def _adadelta(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    d = _effective(group, theta, g, cols)
    eps = group["eps"]
    root_u = np.sqrt(before["acc_delta"] + eps)
    root_v = np.sqrt(after["square_avg"] + eps)
    delta = root_u / root_v * d
    cols |= {
        "g²": d * d,
        "v": after["square_avg"],
        "√(u+ε)": root_u,
        "√(v+ε)": root_v,
        "Δ": delta,
        "u": after["acc_delta"],
        "step": lr * delta,
    }
    return cols, {}, ("step",)


def _rmsprop_formula(group: Group) -> list[str]:
    lines = [*_effective_formula(group), "g² = g·g", "v = α·v + (1−α)·g²"]
    root = "√v+ε"
    if group["centered"]:
        lines += ["ḡ = α·ḡ + (1−α)·g  (centered)", "√(v−ḡ²)+ε"]
        root = "√(v−ḡ²)+ε"
    if group["momentum"]:
        lines += [f"buf = μ·buf + g/({root})", "step = η·buf"]
    else:
        lines.append(f"step = η·g/({root})")
    return [*lines, "θ new = θ − step"]


def _rmsprop(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    d = _effective(group, theta, g, cols)
    v = after["square_avg"]
    cols |= {"g²": d * d, "v": v}
    variance = v
    root = "√v+ε"
    if group["centered"]:
        gbar = after["grad_avg"]
        variance = v - gbar * gbar
        cols |= {"ḡ": gbar, "v−ḡ²": variance}
        root = "√(v−ḡ²)+ε"
    denom = np.sqrt(variance) + group["eps"]
    cols[root] = denom
    if group["momentum"]:
        cols["buf"] = after["momentum_buffer"]
        cols["step"] = lr * after["momentum_buffer"]
    else:
        cols["step"] = lr * d / denom
    return cols, {}, ("step",)


def _decoupled(group: Group) -> bool:
    return bool(group.get("decoupled_weight_decay")) and bool(group["weight_decay"])


def _decay_column(lr: float, group: Group, theta: F64, cols: Columns) -> None:
    cols["decay"] = lr * group["weight_decay"] * theta


def _adam_formula(group: Group, *, always_decoupled: bool = False) -> list[str]:
    decoupled = group["weight_decay"] and (
        always_decoupled or group.get("decoupled_weight_decay")
    )
    lines = [] if decoupled else _effective_formula(group)
    v = "v_max" if group["amsgrad"] else "v"
    lines += ["m = β1·m + (1−β1)·g", "v = β2·v + (1−β2)·g²"]
    if group["amsgrad"]:
        lines.append("v_max = max(v_max, v)  (AMSGrad)")
    lines += [
        "m̂ = m/(1−β1^t)",
        f"v̂ = {v}/(1−β2^t)",
        "step = η·m̂/(√v̂+ε)",
    ]
    if decoupled:
        lines += [
            "decay = η·λ·θ  " + _("(decoupled weight decay)"),
            "θ new = θ − decay − step",
        ]
    else:
        lines.append("θ new = θ − step")
    return lines


def _adam_derive(
    group: Group,
    t: int,
    lr: float,
    theta: F64,
    g: F64,
    after: State,
    *,
    decoupled: bool,
) -> Derived:
    cols: Columns = {}
    if decoupled:
        if group.get("maximize"):
            cols["−g"] = -g
        if group["weight_decay"]:
            _decay_column(lr, group, theta, cols)
    else:
        _effective(group, theta, g, cols)
    beta1, beta2 = group["betas"]
    bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
    m, v = after["exp_avg"], after["exp_avg_sq"]
    cols |= {"m": m, "v": v}
    v_used = v
    if group["amsgrad"]:
        v_used = after["max_exp_avg_sq"]
        cols["v_max"] = v_used
    denom = np.sqrt(v_used) / math.sqrt(bc2) + group["eps"]
    cols |= {"m̂": m / bc1, "v̂": v_used / bc2, "√v̂+ε": denom}
    cols["step"] = lr / bc1 * m / denom
    subtracted = ("decay", "step") if "decay" in cols else ("step",)
    return cols, {"1−β1^t": bc1, "1−β2^t": bc2}, subtracted


def _adam(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    return _adam_derive(
        group, t, lr, theta, g, after, decoupled=bool(group["decoupled_weight_decay"])
    )


def _adamw(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    return _adam_derive(group, t, lr, theta, g, after, decoupled=True)


def _nadam_formula(group: Group) -> list[str]:
    lines = [] if _decoupled(group) else _effective_formula(group)
    lines += [
        "μ_t = β1·(1 − ½·0.96^(t·ψ)),  Π_t = μ_1·…·μ_t  (ψ = momentum_decay)",
        "m = β1·m + (1−β1)·g",
        "v = β2·v + (1−β2)·g²",
        "v̂ = v/(1−β2^t)",
        "step_g = η·(1−μ_t)/(1−Π_t)·g/(√v̂+ε)",
        "step_m = η·μ_{t+1}/(1−Π_t·μ_{t+1})·m/(√v̂+ε)",
    ]
    if _decoupled(group):
        return [*lines, "decay = η·λ·θ", "θ new = θ − decay − step_g − step_m"]
    return [*lines, "θ new = θ − step_g − step_m"]


def _nadam(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    if _decoupled(group):
        if group["maximize"]:
            cols["−g"] = -g
        _decay_column(lr, group, theta, cols)
        d = -g if group["maximize"] else g
    else:
        d = _effective(group, theta, g, cols)
    beta1, beta2 = group["betas"]
    psi = group["momentum_decay"]
    product = 1.0
    for i in range(1, t + 1):
        product *= momentum_at(beta1, psi, i)
    mu, mu_next = momentum_at(beta1, psi, t), momentum_at(beta1, psi, t + 1)
    bc2 = 1.0 - beta2**t
    m, v = after["exp_avg"], after["exp_avg_sq"]
    denom = np.sqrt(v / bc2) + group["eps"]
    grad_coef = lr * (1.0 - mu) / (1.0 - product)
    momentum_coef = lr * mu_next / (1.0 - product * mu_next)
    cols |= {
        "m": m,
        "v": v,
        "v̂": v / bc2,
        "√v̂+ε": denom,
        "step_g": grad_coef * d / denom,
        "step_m": momentum_coef * m / denom,
    }
    scalars = {"μ_t": mu, "μ_t+1": mu_next, "Π_t": product, "1−β2^t": bc2}
    subtracted = ("step_g", "step_m")
    return cols, scalars, (("decay", *subtracted) if "decay" in cols else subtracted)


def _radam_formula(group: Group) -> list[str]:
    lines = [] if _decoupled(group) else _effective_formula(group)
    lines += [
        "m = β1·m + (1−β1)·g",
        "v = β2·v + (1−β2)·g²",
        "m̂ = m/(1−β1^t)",
        "ρ∞ = 2/(1−β2) − 1,  ρ_t = ρ∞ − 2t·β2^t/(1−β2^t)",
        "if ρ_t > 5: r_t = √((ρ_t−4)(ρ_t−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρ_t)),",
        "            step = η·r_t·m̂·√(1−β2^t)/(√v+ε)",
        "else:       step = η·m̂  "
        + _("(SGD with momentum while the variance is untamed)"),
    ]
    if _decoupled(group):
        return [*lines, "decay = η·λ·θ", "θ new = θ − decay − step"]
    return [*lines, "θ new = θ − step"]


def _radam(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    if _decoupled(group):
        if group["maximize"]:
            cols["−g"] = -g
        _decay_column(lr, group, theta, cols)
    else:
        _effective(group, theta, g, cols)
    beta1, beta2 = group["betas"]
    bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * t * beta2**t / bc2
    m, v = after["exp_avg"], after["exp_avg_sq"]
    m_hat = m / bc1
    cols |= {"m": m, "v": v, "m̂": m_hat}
    scalars = {"1−β1^t": bc1, "1−β2^t": bc2, "ρ∞": rho_inf, "ρ_t": rho_t}
    if rho_t > 5.0:
        rect = math.sqrt(
            (rho_t - 4)
            * (rho_t - 2)
            * rho_inf
            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
        )
        scalars["r_t"] = rect
        denom = np.sqrt(v) + group["eps"]
        cols["√v+ε"] = denom
        cols["step"] = m_hat * lr * (math.sqrt(bc2) / denom) * rect
    else:
        cols["step"] = m_hat * lr
    return cols, scalars, (("decay", "step") if "decay" in cols else ("step",))


def _adamax_formula(group: Group) -> list[str]:
    return [
        *_effective_formula(group),
        "m = β1·m + (1−β1)·g",
        "u = max(β2·u, |g|+ε)",
        "step = η/(1−β1^t)·m/u",
        "θ new = θ − step",
    ]


def _adamax(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    _effective(group, theta, g, cols)
    beta1 = group["betas"][0]
    bc1 = 1.0 - beta1**t
    m, u = after["exp_avg"], after["exp_inf"]
    cols |= {"m": m, "u": u, "step": lr / bc1 * m / u}
    return cols, {"1−β1^t": bc1}, ("step",)


def _adamp_formula(group: Group) -> list[str]:
    numer = "β1·m+(1−β1)·g" if group["nesterov"] else "m"
    lines = [
        "m = β1·m + (1−β1)·g",
        "v = β2·v + (1−β2)·g²",
        f"d = {numer}/(√v/√(1−β2^t)+ε)",
        "(a 1-D parameter is never projected: the projection acts on tensors",
        " with 2 or more dimensions, whose rows are output channels)",
        "step = η/(1−β1^t)·d",
    ]
    if group["weight_decay"]:
        return [*lines, "decay = η·λ·θ", "θ new = θ − decay − step"]
    return [*lines, "θ new = θ − step"]


def _adamp(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    if group["weight_decay"]:
        _decay_column(lr, group, theta, cols)
    beta1, beta2 = group["betas"]
    bc1, bc2 = 1.0 - beta1**t, 1.0 - beta2**t
    m, v = after["exp_avg"], after["exp_avg_sq"]
    denom = np.sqrt(v) / math.sqrt(bc2) + group["eps"]
    cols |= {"m": m, "v": v, "√v̂+ε": denom}
    numer = m
    if group["nesterov"]:
        numer = beta1 * m + (1.0 - beta1) * g
        cols["β1m+(1−β1)g"] = numer
    d = numer / denom
    cols |= {"d": d, "step": lr / bc1 * d}
    subtracted = ("decay", "step") if "decay" in cols else ("step",)
    return cols, {"1−β1^t": bc1, "1−β2^t": bc2}, subtracted


def generic(cls: type) -> Rule:
    """A rule without a step-by-step display (a plugin's, Muon's, Schedule-Free's):
    its name, then each state array before and after the step and the step taken
    (``θ − θ new``, filled in by the caller); scalar state as per-step numbers."""
    title = (cls.__doc__ or cls.__name__).strip().splitlines()[0]

    def formula(group: Group) -> list[str]:
        return [
            title,
            "(no step-by-step display for this rule: each state array before and "
            "after the step; scalar state as it is after the step)",
            "step = θ − θ new",
        ]

    def derive(
        group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
    ) -> Derived:
        cols: Columns = {}
        scalars: Scalars = {}
        for key, new in after.items():
            if new.shape == theta.shape:
                if key in before:
                    cols[f"{key} before"] = before[key]
                cols[f"{key} after"] = new
            elif new.shape == ():
                scalars[key] = float(new)
        return cols, scalars, ("step",)

    return Rule(formula, derive, {})


RULES: dict[str, Rule] = {
    "sgd": Rule(_sgd_formula, _sgd, {"buf": "momentum_buffer"}),
    "adagrad": Rule(_adagrad_formula, _adagrad, {"sum": "sum"}),
    "adadelta": Rule(
        _adadelta_formula, _adadelta, {"v": "square_avg", "u": "acc_delta"}
    ),
    "rmsprop": Rule(
        _rmsprop_formula,
        _rmsprop,
        {"v": "square_avg", "ḡ": "grad_avg", "buf": "momentum_buffer"},
    ),
    "adam": Rule(
        _adam_formula,
        _adam,
        {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"},
    ),
    "adamw": Rule(
        lambda group: _adam_formula(group, always_decoupled=True),
        _adamw,
        {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"},
    ),
    "nadam": Rule(_nadam_formula, _nadam, {"m": "exp_avg", "v": "exp_avg_sq"}),
    "radam": Rule(_radam_formula, _radam, {"m": "exp_avg", "v": "exp_avg_sq"}),
    "adamax": Rule(_adamax_formula, _adamax, {"m": "exp_avg", "u": "exp_inf"}),
    "adamp": Rule(_adamp_formula, _adamp, {"m": "exp_avg", "v": "exp_avg_sq"}),
}
"""How each registered optimizer is explained: its formula, its derived quantities
and which displayed columns are the optimizer's own state arrays."""


__all__ = ["RULES", "Columns", "Derived", "Rule", "Scalars"]
