r"""Worked updates: every quantity of one optimizer step, element by element.

``explain("rmsprop", param, grad, lr=0.01, alpha=0.9)`` runs the real optimizer on
a copy of ``param`` and returns, per step and per element, the quantities of its
update rule (for RMSprop: g, g², v, √v+ε, step, new θ) with the formula above
them — the worked example the course notes try by hand and get wrong.

``state=`` starts the optimizer from a given state instead of a fresh one, so the
premise of a worked example ("the previous average of g² was g²") can be set:
``explain("rmsprop", θ, g, lr=0.01, alpha=0.9, state={"v": g**2})``.

Where the numbers come from:

* **θ new** is what the optimizer itself computed (its parameter after ``step``);
* the **state** columns (m, v, momentum buffers, ...) are the optimizer's state
  arrays after the step;
* the **derived** columns (g², m̂, v̂, √v̂+ε, step, ...) are recomputed here from
  the gradient, the state and the hyperparameters, for display. They satisfy
  ``θ new = θ − Σ subtracted columns`` to rounding, which the tests check for every
  optimizer and every documented switch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, optim, surfaces
from gdlab.optim.nadam import momentum_at

F64 = NDArray[np.float64]
Group = Mapping[str, Any]
State = Mapping[str, F64]


@dataclass(frozen=True)
class ExplainedStep:
    """One optimizer step, worked out.

    Attributes:
        t: the step number (1 for the first step).
        lr: the learning rate this step used (a schedule's value at step t−1).
        loss: the objective at θ before the step (with a surface), else None.
        scalars: per-step numbers shared by all elements (bias corrections, ...).
        columns: name -> one value per element, in display order, from ``"θ"``
            (before the step) and ``"g"`` to ``"θ new"`` (what the optimizer wrote).
        subtracted: the columns whose sum the step subtracts from θ:
            ``θ new = θ − Σ columns[subtracted]``.
    """

    t: int
    lr: float
    loss: float | None
    scalars: dict[str, float]
    columns: dict[str, F64]
    subtracted: tuple[str, ...]

    @property
    def new(self) -> F64:
        return self.columns["θ new"]


@dataclass(frozen=True)
class Explanation:
    """The worked steps of one optimizer; ``format()`` renders formula and tables."""

    name: str
    optimizer: str
    hyper: dict[str, Any]
    formula: tuple[str, ...]
    labels: tuple[str, ...]
    steps: tuple[ExplainedStep, ...]
    final_loss: float | None
    value_name: str = "loss"

    @property
    def params(self) -> F64:
        """The parameters after the last step (the optimizer's own numbers)."""
        return self.steps[-1].new

    def rows(self) -> list[dict[str, Any]]:
        """The table as records: one per step ``t`` and element, every column."""
        return [
            {
                "t": s.t,
                "element": label,
                **{name: float(values[i]) for name, values in s.columns.items()},
            }
            for s in self.steps
            for i, label in enumerate(self.labels)
        ]

    def format(self, digits: int = 6) -> str:
        """The formula, then one table per step (``digits`` significant digits)."""

        def num(x: float) -> str:
            return f"{x:.{digits}g}"

        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.hyper.items())
        lines = [f"{self.optimizer}  {shown}", *(f"  {f}" for f in self.formula)]
        for s in self.steps:
            lines.append("")
            scheduled = callable(self.hyper.get("lr"))
            head = f"step {s.t}" + (f"  (lr {num(s.lr)})" if scheduled else "")
            if s.loss is not None:
                head += f"  {self.value_name} before the step: {num(s.loss)}"
            lines.append(head)
            if s.scalars:
                lines.append(
                    "  " + ", ".join(f"{k} = {num(v)}" for k, v in s.scalars.items())
                )
            names = ["", *s.columns]
            cells = [
                [label, *(num(float(v[i])) for v in s.columns.values())]
                for i, label in enumerate(self.labels)
            ]
            widths = [
                max(len(names[j]), *(len(row[j]) for row in cells))
                for j in range(len(names))
            ]
            lines.append(
                "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
            )
            lines.extend(
                "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
                for row in cells
            )
        if self.final_loss is not None:
            lines.append("")
            point = ", ".join(
                f"{label} = {num(float(v))}"
                for label, v in zip(self.labels, self.params, strict=True)
            )
            lines.append(
                f"after {len(self.steps)} step(s): {point}; "
                f"{self.value_name} {num(self.final_loss)}"
            )
        return "\n".join(lines)


def _show(v: object) -> str:
    if callable(v):
        return repr(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return str(v)


# --- one rule per optimizer: its formula and its derived quantities --------------

Columns = dict[str, F64]
Scalars = dict[str, float]
Derived = tuple[Columns, Scalars, tuple[str, ...]]


@dataclass(frozen=True)
class _Rule:
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
        return [f"{sign}+λθ  (the gradient the rule uses, λ = weight_decay)"]
    if group.get("maximize"):
        return ["−g  (maximize: ascend)"]
    return []


def _sgd_formula(group: Group) -> list[str]:
    d = ("−g" if group["maximize"] else "g") + ("+λθ" if group["weight_decay"] else "")
    lines = _effective_formula(group)
    if not group["momentum"]:
        step = f"η·({d})" if len(d) > 1 else "η·g"
        return [*lines, f"step = {step}", "θ new = θ − step"]
    tau = "(1−τ)·" if group["dampening"] else ""
    term = f"({d})" if len(d) > 1 else d
    lines.append(f"b = μ·b + {tau}{term}  (b = {d} at step 1; μ = momentum)")
    if group["nesterov"]:
        lines += [f"g+μb = {term} + μ·b  (Nesterov)", "step = η·(g+μb)"]
    else:
        lines.append("step = η·b")
    return [*lines, "θ new = θ − step"]


def _sgd(
    group: Group, t: int, lr: float, theta: F64, g: F64, before: State, after: State
) -> Derived:
    cols: Columns = {}
    d = _effective(group, theta, g, cols)
    if group["momentum"]:
        b = after["momentum_buffer"]
        cols["b"] = b
        if group["nesterov"]:
            d = d + group["momentum"] * b
            cols["g+μb"] = d
        else:
            d = b
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
        "Δ = √(u+ε)/√(v+ε)·g  (u from the previous step)",
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
        lines += [f"b = μ·b + g/({root})", "step = η·b"]
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
        cols["b"] = after["momentum_buffer"]
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
        lines += ["decay = η·λ·θ  (decoupled weight decay)", "θ new = θ − decay − step"]
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
        "else:       step = η·m̂  (SGD with momentum while the variance is untamed)",
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


RULES: dict[str, _Rule] = {
    "sgd": _Rule(_sgd_formula, _sgd, {"b": "momentum_buffer"}),
    "adagrad": _Rule(_adagrad_formula, _adagrad, {"sum": "sum"}),
    "adadelta": _Rule(
        _adadelta_formula, _adadelta, {"v": "square_avg", "u": "acc_delta"}
    ),
    "rmsprop": _Rule(
        _rmsprop_formula,
        _rmsprop,
        {"v": "square_avg", "ḡ": "grad_avg", "b": "momentum_buffer"},
    ),
    "adam": _Rule(
        _adam_formula,
        _adam,
        {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"},
    ),
    "adamw": _Rule(
        lambda group: _adam_formula(group, always_decoupled=True),
        _adamw,
        {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"},
    ),
    "nadam": _Rule(_nadam_formula, _nadam, {"m": "exp_avg", "v": "exp_avg_sq"}),
    "radam": _Rule(_radam_formula, _radam, {"m": "exp_avg", "v": "exp_avg_sq"}),
    "adamax": _Rule(_adamax_formula, _adamax, {"m": "exp_avg", "u": "exp_inf"}),
    "adamp": _Rule(_adamp_formula, _adamp, {"m": "exp_avg", "v": "exp_avg_sq"}),
}
"""How each registered optimizer is explained: its formula, its derived quantities
and which displayed columns are the optimizer's own state arrays."""


# --- the entry point ----------------------------------------------------------------

Gradient = ArrayLike | Callable[[F64], ArrayLike] | surfaces.Surface


def _f64(a: object) -> F64:
    return np.array(a, dtype=np.float64)


def _vector(owner: str, name: str, value: object, size: int | None = None) -> F64:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, name, "a list of numbers", value)
    if a.ndim != 1 or a.size == 0 or (size is not None and a.size != size):
        need = "a non-empty 1-D list of numbers" if size is None else f"{size} numbers"
        _checks.fail(owner, name, need, value)
    if not np.all(np.isfinite(a)):
        _checks.fail(owner, name, "finite", a.tolist())
    return a


def _start_from(
    opt: optim.Optimizer,
    rule: _Rule,
    state: Mapping[str, ArrayLike] | None,
    start_step: int,
    size: int,
) -> list[str]:
    """Load ``state`` (by state key or displayed name) and ``start_step`` into the
    fresh optimizer ``opt``; the optimizer checks the values. Returns the line the
    formula shows about it (none for a fresh optimizer)."""
    owner = "explain"
    t0 = _checks.integer(owner, "start_step", start_step, low=0)
    if not state and not t0:
        return []
    if state is not None and not isinstance(state, Mapping):
        _checks.fail(owner, "state", "a mapping name -> values", state)
    keys = type(opt).state_spec
    given: dict[str, F64] = {}
    for name, values in (state or {}).items():
        key = rule.state_names.get(name, name)
        if key not in keys:
            known = [*keys, *(n for n, k in rule.state_names.items() if k in keys)]
            _checks.fail(
                owner, "state", f"keyed by one of {', '.join(known)}", str(name)
            )
        if key in given:
            _checks.fail(owner, "state", f"given {key!r} once", str(name))
        given[key] = _vector(owner, f"state[{name!r}]", values, size)
    saved = opt.state_dict()
    arrays = saved["state"]["θ"] if t0 else {}  # past step 0 the state is whole
    saved["state"]["θ"] = {**arrays, **given}
    saved["step"] = t0
    try:
        opt.load_state_dict(saved)
    except ValueError as error:  # the optimizer's own check of the values
        raise ValueError(f"{owner}: state: {error}") from None
    given_keys = ", ".join(given) or "none"
    return [f"(starting after {t0} step(s); state given: {given_keys})"]


def explain(
    name: str,
    param: ArrayLike,
    grad: Gradient,
    steps: int = 1,
    *,
    state: Mapping[str, ArrayLike] | None = None,
    start_step: int = 0,
    **hyper: Any,
) -> Explanation:
    """Run ``steps`` steps of optimizer ``name`` on ``param`` and show every quantity.

    Args:
        name: a registered optimizer (``"rmsprop"``) or a preset (``"momentum"``,
            ``"nesterov"``).
        param: the parameter vector θ (1-D; not modified).
        grad: the gradient — a fixed vector (used at every step, as in the source
            notes' worked examples), a function θ -> gradient, or a
            :class:`~gdlab.surfaces.Surface` (then θ is a point (x, y), the gradient
            is the surface's and each step also shows the loss).
        steps: number of steps >= 1.
        state: the optimizer state before the first step, by state key or by the
            column it is shown as (``{"square_avg": v}`` or ``{"v": v}`` for
            RMSprop), one value per element. Arrays not given start as in a fresh
            optimizer (a momentum buffer given is used at step 1 instead of g).
        start_step: the optimizer's step count before the first step, >= 0 (the
            first step shown is ``start_step + 1``; Adam's bias corrections and a
            schedule use it). With ``start_step > 0`` arrays not given are the
            optimizer's initial values.
        **hyper: the optimizer's hyperparameters (``lr=0.01, alpha=0.9``).

    Example:
        >>> e = explain("rmsprop", [0.8, 1.2, 0.5], [0.1, -0.3, 0.2], lr=0.01)
        >>> print(e.format())
    """
    owner = "explain"
    base, preset = optim.resolve(name)
    n = _checks.integer(owner, "steps", steps, low=1)
    theta0 = _vector(owner, "param", param)
    surface = grad if isinstance(grad, surfaces.Surface) else None
    gradient: Callable[[F64], F64]
    labels: tuple[str, ...]
    if surface is not None:
        if theta0.size != 2:
            _checks.fail(owner, "param", f"a point (x, y) on {surface.name}", param)
        gradient = surface.grad
        labels = surface.labels
    elif callable(grad):
        fn = grad

        def gradient(theta: F64) -> F64:
            return _vector(owner, "grad(θ)", fn(theta), theta0.size)

        labels = tuple(f"θ[{i}]" for i in range(theta0.size))
    else:
        fixed = _vector(owner, "grad", grad, theta0.size)

        def gradient(theta: F64) -> F64:
            return fixed.copy()

        labels = tuple(f"θ[{i}]" for i in range(theta0.size))
    rule = RULES[base]
    formula = rule.formula
    value_name = "loss"
    if surface is not None:
        value_name = surface.value_name
        x, y = surface.labels
        where = f"g = (∂{value_name}/∂{x}, ∂{value_name}/∂{y}) at θ = ({x}, {y}),"
        problem = f"    {surface.formula}"
    theta = theta0.copy()
    opt = optim.create(base, {"θ": theta}, **{**preset, **hyper})
    started = _start_from(opt, rule, state, start_step, theta0.size)
    group = opt.param_groups[0]
    shown_hyper = {k: v for k, v in group.items() if k != "params"}
    worked = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(n):
            t = opt.step_count + 1
            lr = opt.lr
            before_theta = theta.copy()
            g = gradient(before_theta)
            loss = None if surface is None else float(surface.value(before_theta))
            before = {k: _f64(a) for k, a in opt.state["θ"].items()}
            opt.step({"θ": g})
            after = {k: _f64(a) for k, a in opt.state["θ"].items()}
            derived, scalars, subtracted = rule.derive(
                group, t, lr, before_theta, g, before, after
            )
            columns = {"θ": before_theta, "g": g, **derived, "θ new": theta.copy()}
            worked.append(ExplainedStep(t, lr, loss, scalars, columns, subtracted))
        final_loss = None if surface is None else float(surface.value(theta))
    return Explanation(
        name=name,
        optimizer=type(opt).__name__,
        hyper=shown_hyper,
        formula=tuple(
            (formula(group) if surface is None else [where, problem, *formula(group)])
            + started
        ),
        labels=tuple(labels),
        steps=tuple(worked),
        final_loss=final_loss,
        value_name=value_name,
    )


__all__ = ["RULES", "ExplainedStep", "Explanation", "explain"]
