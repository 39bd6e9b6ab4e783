r"""The course notes' worked examples, worked out by gdlab, slips included.

Each example computes its numbers with the library itself (the surfaces, the real
optimizers through :func:`~gdlab.lab.explain.explain`), prints the derivation with
every intermediate quantity and, where the course notes wrote other numbers, puts
them beside the right ones with the reason in one line::

    print(examples.get("regression").format())

``examples.names()`` lists them. The data behind the notes' figures is in
:mod:`gdlab.lab.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks, losses, optim, surfaces
from gdlab.i18n import gettext as _
from gdlab.lab.explain import explain
from gdlab.params import F64

Numbers = tuple[float, ...]

THETA = (0.8, 1.2, 0.5)
"""The course notes' three parameters (their RMSProp example), reused throughout."""
GRAD = (0.1, -0.3, 0.2)
"""Their gradient."""


@dataclass(frozen=True)
class Slip:
    """A quantity where the course notes' numbers differ from the right ones."""

    quantity: str
    correct: Numbers
    notes: Numbers
    reason: str


@dataclass(frozen=True)
class Claim:
    """A sentence of the course notes that is wrong, and its correction."""

    note: str
    said: str
    correction: str


@dataclass(frozen=True)
class Example:
    """One worked example: the derivation, its numbers and the notes' slips.

    Attributes:
        name: the name ``gdlab examples NAME`` takes.
        title: one line: what it shows.
        lines: the derivation, every intermediate quantity written out.
        values: the right numbers by name (what the tests check).
        slips: where the notes differ, with the reason.
        remarks: conventions worth knowing (defaults that differ, ...).
        claims: the notes' wrong sentences about the concept, corrected.
        command: a gdlab command that shows the same numbers step by step.
        figure: the gdlab command that draws the notes' figure of it.
    """

    name: str
    title: str
    lines: tuple[str, ...]
    values: dict[str, Numbers]
    slips: tuple[Slip, ...] = ()
    remarks: tuple[str, ...] = ()
    command: str = ""
    claims: tuple[Claim, ...] = ()
    figure: str = ""

    def format(self) -> str:
        out = [f"{self.name}: {self.title}", "", *self.lines]
        if self.slips:
            out += ["", _("where the course notes differ:")]
            for s in self.slips:
                out.append(
                    "  "
                    + _("{quantity}: correct {correct}, notes {notes}").format(
                        quantity=s.quantity,
                        correct=_show(s.correct),
                        notes=_show(s.notes),
                    )
                )
                out.append("    " + _("why: {reason}").format(reason=s.reason))
        if self.claims:
            out += ["", _("where the course notes' claims are wrong:")]
            for c in self.claims:
                out += [
                    "  " + _("note {note}: {said}").format(note=c.note, said=c.said),
                    "    " + _("correction: {text}").format(text=c.correction),
                ]
        if self.remarks:
            out += ["", *(_("note: {remark}").format(remark=r) for r in self.remarks)]
        if self.command or self.figure:
            out.append("")
        if self.command:
            out.append(_("step by step: {command}").format(command=self.command))
        if self.figure:
            out.append(_("the figure: {command}").format(command=self.figure))
        return "\n".join(out)


def _num(x: float) -> str:
    return f"{x:.6g}" if abs(x) >= 1e-12 else "0"


def _show(values: ArrayLike) -> str:
    items = [_num(float(v)) for v in np.ravel(values)]
    return items[0] if len(items) == 1 else "(" + ", ".join(items) + ")"


def _t(a: ArrayLike) -> Numbers:
    return tuple(float(v) for v in np.ravel(a))


# --- the worked examples ------------------------------------------------------------


def regression() -> Example:
    """One gradient step on ŷ = m·x + b through (1, 3), (2, 5) from (−1, 5)."""
    f = surfaces.get("regression")
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    start, lr = np.array([-1.0, 5.0]), 0.1
    m, b = start
    r = m * x + b - y
    mse = float(f.value(start))
    grad = f.grad(start)
    worked = explain("sgd", start, f, lr=lr)
    new = worked.params
    times_x_twice = (float(np.sum(x * x * r)), float(np.sum(x * r)))
    notes_grad = (-7.0, -3.0)  # the notes' ∂m and ∂b
    as_written = (-1.0 - 7.0 * lr, 5.0 - 3.0 * lr)  # 'm ≔ −1 −7λ', 'b ≔ 5 −3λ'
    by_rule = (-1.0 - lr * notes_grad[0], 5.0 - lr * notes_grad[1])
    lam = np.linalg.eigvalsh(f.hessian(start))
    limit = 2.0 / lam[-1]
    finals = {
        rate: float(f.value(surfaces.trajectory(f, "sgd", start, lr=rate)[-1]))
        for rate in (0.5, 0.1, 0.005)
    }
    lines = (
        _(
            "data (x, y): (1, 3), (2, 5); model ŷ = m·x + b; start (m, b) = (−1, 5); "
            "learning rate λ = 0.1"
        ),
        _("residuals r = ŷ − y = {r}").format(r=_show(r)),
        _(
            "MSE = (1/n)·Σ r², n = 2 (the notes' get_mse divides by n; for two "
            "points that is ½·Σ):"
        ),
        f"  MSE(m, b) = ½[(m + b − 3)² + (2m + b − 5)²] = {_num(mse)}",
        f"  ∂MSE/∂m = (2/n)·Σ r·x = 5m + 3b − 13 = {_num(grad[0])}",
        f"  ∂MSE/∂b = (2/n)·Σ r   = 3m + 2b − 8  = {_num(grad[1])}",
        "  "
        + _("(the ½-mean convention (1/2n)·Σ r² halves both partials: {g})").format(
            g=_show(grad / 2)
        ),
        _("step: m ← m − λ·∂MSE/∂m = −1 − 0.1·({g}) = {m}").format(
            g=_num(grad[0]), m=_num(new[0])
        ),
        f"      b ← b − λ·∂MSE/∂b = 5 − 0.1·({_num(grad[1])}) = {_num(new[1])}",
        f"      MSE {_num(mse)} -> {_num(worked.final_loss or 0.0)}",
        _(
            "Hessian [[5, 3], [3, 2]]: eigenvalues {lam}; plain GD diverges for "
            "λ > 2/λmax = {limit}"
        ).format(lam=_show(lam), limit=_num(limit)),
        _("MSE after 100 steps: {finals} (0.5 overshoots and diverges, 0.005 crawls)")
        .format(finals=", ".join(f"λ = {k:g}: {_num(v)}" for k, v in finals.items())),
    )  # fmt: skip
    return Example(
        "regression",
        _("one gradient step on the notes' line fit, its partials written out"),
        lines,
        values={
            "MSE": (mse,),
            "gradient (∂m, ∂b)": _t(grad),
            "(m, b) after one step": _t(new),
            "MSE after one step": (float(worked.final_loss or 0.0),),
            "Σ x²·r, Σ x·r": times_x_twice,
            "largest stable lr": (limit,),
            "the notes' step lines as written": as_written,
            "θ − λ·(the notes' gradient)": by_rule,
        },
        slips=(
            Slip(
                "∂MSE/∂m",
                (float(grad[0]),),
                (-7.0,),
                _(
                    "the notes' 9m + 5b − 23 is Σ x²·r (x applied twice); "
                    "(2/n)·Σ x·r is 5m + 3b − 13"
                ),
            ),
            Slip(
                "∂MSE/∂b",
                (float(grad[1]),),
                (-3.0,),
                _(
                    "the notes' 5m + 3b − 13 is ∂MSE/∂m again (Σ x·r for Σ r); "
                    "∂MSE/∂b = 3m + 2b − 8"
                ),
            ),
            Slip(
                _("(m, b) after one step"),
                _t(new),
                (-1.7, 5.3),
                _(
                    "the two lines use opposite signs: 'm ≔ −1 − 7λ = −1.7' drops "
                    "∂m's sign (their rule on their −7 gives {m}), while "
                    "'b ≔ 5 − 3λ = 5.3' is, as written, {b}: 5.3 is 5 − λ·(−3), "
                    "their ∂b with its sign kept"
                ).format(m=_num(by_rule[0]), b=_num(as_written[1])),
            ),
        ),
        command="gdlab explain sgd --problem regression --start -1,5 --lr 0.1",
        figure="gdlab figure regression-surface -o regression.png",
    )


def rmsprop() -> Example:
    """The notes' three-parameter RMSProp step, from their premise v = g²."""
    theta, g = np.array(THETA), np.array(GRAD)
    alpha, lr = 0.9, 0.01
    previous = g * g
    worked = explain(
        "rmsprop", theta, g, lr=lr, alpha=alpha, state={"v": previous}
    ).steps[0]
    cols = worked.columns
    own_rates = np.array([0.01, 0.09, 0.02]) / np.sqrt([0.009, 0.081, 0.038])
    their_new = theta - own_rates * np.abs(g)  # the notes' rule with their rates
    lines = (
        _(
            "θ = {theta}, g = {g}, α = {alpha:g}; the notes' premise: the previous "
            "average v = g² = {v}"
        ).format(theta=_show(theta), g=_show(g), alpha=alpha, v=_show(previous)),
        _(
            "the notes give no learning rate: η = 0.01 (torch's default), ε = 1e-8 "
            "outside the root (the notes put it inside; no visible change)"
        ),
        f"g² = {_show(cols['g²'])}",
        f"v = α·v + (1−α)·g² = 0.9·g² + 0.1·g² = {_show(cols['v'])}",
        _("√v + ε = {root}   (= |g|, since v = g²)").format(root=_show(cols["√v+ε"])),
        f"step = η·g/(√v + ε) = {_show(cols['step'])}   (= η·sign(g))",
        f"θ new = θ − step = {_show(worked.new)}",
    )
    return Example(
        "rmsprop",
        _("the notes' RMSProp example, premise and all"),
        lines,
        values={
            "v": _t(cols["v"]),
            "step": _t(cols["step"]),
            "θ new": _t(worked.new),
            "the notes' g²/√v": _t(own_rates),
            "θ − (the notes' g²/√v)·|g|": _t(their_new),
        },
        slips=(
            Slip(
                "v",
                _t(cols["v"]),
                (0.009, 0.081, 0.038),
                _(
                    "0.9·0.01 + 0.1·0.01 = 0.01: 0.009 and 0.081 are α·v alone; "
                    "0.038 uses g² = 0.02 for 0.2² = 0.04"
                ),
            ),
            Slip(
                "θ new",
                _t(worked.new),
                (0.79, 1.11, 0.48),
                _(
                    "the notes take g²/√v as a learning rate, computed from their v "
                    "as {rates} (written 0.1, 0.3, 0.2), and subtract it times |g|: "
                    "θ − (g²/√v)·|g| = {theirs}, rounded {rounded}. The written 0.2 "
                    "would give 0.5 − 0.2·0.2 = 0.46: their 0.48 is 0.5 − 0.103·0.2. "
                    "The step is η·g/(√v+ε), so θ[1] (g < 0) goes up"
                ).format(
                    rates=_show(np.round(own_rates, 3)),
                    theirs=_show(their_new),
                    rounded=_show(np.round(their_new, 2)),
                ),
            ),
        ),
        command="gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 "
        "--lr 0.01 --hyper alpha=0.9 --state v=0.01,0.09,0.04",
    )


def adam_first_step() -> Example:
    """Adam's first step is η·sign(g) whatever β2: the bias correction."""
    theta, g, lr = np.array(THETA), np.array(GRAD), 0.001
    lines = [
        _(
            "θ = {theta}, g = {g}, η = {lr:g}, β1 = 0.9, m and v start at 0, t = 1"
        ).format(theta=_show(theta), g=_show(g), lr=lr),
    ]
    values: dict[str, Numbers] = {}
    for beta2 in (0.999, 0.99):
        step = explain("adam", theta, g, lr=lr, betas=(0.9, beta2)).steps[0]
        c = step.columns
        raw = float(0.1 / math.sqrt(1.0 - beta2))
        lines += [
            "",
            f"β2 = {beta2:g}:",
            f"  m = (1−β1)·g = {_show(c['m'])},  v = (1−β2)·g² = {_show(c['v'])}",
            f"  m̂ = m/(1−β1) = {_show(c['m̂'])} (= g),  v̂ = v/(1−β2) = "
            f"{_show(c['v̂'])} (= g²)",
            f"  step = η·m̂/(√v̂+ε) = {_show(c['step'])}  (= η·sign(g))",
            "  "
            + _(
                "without the corrections the step would be η·m/√v = "
                "η·(1−β1)/√(1−β2)·sign(g) = {raw}·η·sign(g)"
            ).format(raw=_num(raw)),
        ]
        values[f"step, β2 = {beta2:g}"] = _t(c["step"])
        values[f"m/√v without correction, β2 = {beta2:g}"] = (raw,)
    return Example(
        "adam-first-step",
        _("Adam's bias correction makes the first step η·sign(g)"),
        tuple(lines),
        values,
        remarks=(
            _(
                "the course notes recommend β1 = 0.9, β2 = 0.99; torch and gdlab "
                "default to β2 = 0.999 (Kingma & Ba). The first step is the same; "
                "β2 = 0.99 averages g² over ~100 steps instead of ~1000."
            ),
        ),
        command="gdlab explain adam --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 "
        "--lr 0.001 --hyper betas=0.9,0.99",
    )


def ema(values: ArrayLike, beta: float) -> tuple[F64, F64]:
    r"""The exponentially weighted average of ``values`` and its bias correction:
    :math:`v_t = \beta v_{t-1} + (1-\beta)\theta_t` (``v_0 = 0``) and
    :math:`v_t / (1 - \beta^t)`."""
    b = _checks.number("ema", "beta", beta, low=0.0, high=1.0, high_open=True)
    series = np.asarray(values, dtype=np.float64)
    raw = np.empty_like(series)
    v = 0.0
    for t, x in enumerate(series):
        v = b * v + (1.0 - b) * float(x)
        raw[t] = v
    return raw, raw / (1.0 - b ** np.arange(1, series.size + 1))


def ema_example() -> Example:
    """β = 0.9 on a short series: raw, corrected, and the window 1/(1−β)."""
    series = np.array([40.0, 49.0, 45.0, 44.0, 46.0, 50.0, 52.0, 48.0])
    beta = 0.9
    raw, corrected = ema(series, beta)
    lines = [
        _(
            "v_t = β·v_(t−1) + (1−β)·θ_t with v_0 = 0, β = {beta:g}; bias-corrected "
            "v_t/(1 − β^t)"
        ).format(beta=beta),
        f"{'t':>3} {'θ_t':>8} {'v_t':>10} {'1−β^t':>8} {'v_t/(1−β^t)':>12}",
    ]
    for t in range(series.size):
        lines.append(
            f"{t + 1:>3} {series[t]:>8g} {raw[t]:>10.6g} "
            f"{1 - beta ** (t + 1):>8.4g} {corrected[t]:>12.6g}"
        )
    window = 1.0 / (1.0 - beta)
    lines += [
        _(
            "the raw average starts near 0 (v_1 = (1−β)·θ_1 = {raw}); the "
            "corrected one starts at θ_1 = {corrected}"
        ).format(raw=_num(raw[0]), corrected=_num(corrected[0])),
        _(
            "θ_(t−k) weighs (1−β)·β^k in v_t: it averages about 1/(1−β) = {window} "
            "values (β^(1/(1−β)) = {e} ≈ 1/e)"
        ).format(window=_num(window), e=_num(beta**window)),
    ]
    return Example(
        "ema",
        _("an exponentially weighted average, raw and bias-corrected"),
        tuple(lines),
        {"v": _t(raw), "v corrected": _t(corrected), "window": (window,)},
        figure="gdlab figure ema -o ema.png",
    )


def _momentum_paths(
    f: surfaces.Surface, start: F64, steps: int, lr: float, beta: float
) -> dict[str, F64]:
    """The three written forms of momentum, each in its own three lines."""

    def run(update: Callable[[F64, F64], tuple[F64, F64]]) -> F64:
        theta, v = start.copy(), np.zeros(2)
        path = [theta.copy()]
        for _step in range(steps):
            theta, v = update(theta, v)
            path.append(theta.copy())
        return np.array(path)

    def saito(theta: F64, v: F64) -> tuple[F64, F64]:
        v = beta * v - lr * f.grad(theta)
        return theta + v, v

    def torch_form(theta: F64, a: F64) -> tuple[F64, F64]:
        a = beta * a + f.grad(theta)
        return theta - lr * a, a

    alpha = lr / (1.0 - beta)

    def ng(theta: F64, v: F64) -> tuple[F64, F64]:
        v = beta * v + (1.0 - beta) * f.grad(theta)
        return theta - alpha * v, v

    return {
        "v ← αv − η∇; θ ← θ + v": run(saito),
        "a ← βa + ∇; θ ← θ − ηa": run(torch_form),
        "v ← βv + (1−β)∇; θ ← θ − αv": run(ng),
    }


def momentum_claims() -> tuple[Claim, ...]:
    """The notes' wrong claims about momentum, with their corrections."""
    return (
        Claim(
            "000",
            _("momentum SGD prevents overfitting (과적합(overfitting)을 방지)"),
            _(
                "momentum changes how fast and how smoothly the training loss falls, "
                "not what the model fits; overfitting is held back by more data and "
                "regularization (an L2 term, early stopping on validation data), not "
                "by the update rule"
            ),
        ),
        Claim(
            "002",
            _(
                "Momentum 문제점: 느림, 평탄한 지점에서 학습 불가 (momentum is slow "
                "and cannot learn on flat regions)"
            ),
            _(
                "that is plain SGD's problem, which momentum was made to solve: its "
                "buffer keeps moving where the gradient is small, and it speeds up "
                "along a shallow, consistent slope by up to 1/(1−β) = 10× at β = 0.9"
            ),
        ),
    )


def momentum_forms() -> Example:
    """Saito's, torch's and Ng's momentum: one trajectory, three spellings."""
    f = surfaces.get("regression")
    start, steps, lr, beta = np.array([-1.0, 5.0]), 30, 0.1, 0.9
    alpha = lr / (1.0 - beta)
    paths = _momentum_paths(f, start, steps, lr, beta)
    sgd = surfaces.trajectory(f, "sgd", start, lr=lr, steps=steps, momentum=beta)
    damped = surfaces.trajectory(
        f, "sgd", start, lr=alpha, steps=steps, momentum=beta, dampening=beta
    )
    ng = paths["v ← βv + (1−β)∇; θ ← θ − αv"]
    gaps = {label: float(np.max(np.abs(p - sgd))) for label, p in paths.items()}
    off = np.max(np.abs(damped - ng), axis=1)
    mappings = (
        f"SGD(momentum=α, dampening=0, lr=η), v = −η·b  (α = {beta:g}, η = {lr:g})",
        f"SGD(momentum=β, dampening=0, lr=η), a = b  (β = {beta:g}, η = {lr:g})",
        f"SGD(momentum=β, dampening=0, lr=α(1−β)), v = (1−β)·b  (α = {alpha:g})",
    )
    lines = [
        _(
            "the regression example from (−1, 5), {steps} steps; each form written "
            "out by hand, and gdlab's SGD (torch's b ← μb + g; θ ← θ − lr·b):"
        ).format(steps=steps),
    ]
    for (label, p), mapping in zip(paths.items(), mappings, strict=True):
        lines += [
            f"  {label:<28} = {mapping}",
            f"  {'':<28}   "
            + _("step 1 {first}, step {n} {last}; max |form − SGD| = {gap:.1e}")
            .format(first=_show(p[1]), n=steps, last=_show(p[-1]), gap=gaps[label]),
        ]  # fmt: skip
    lines += [
        _(
            "SGD(momentum=β, dampening=β, lr=α) is only close to the EMA form: its "
            "buffer starts at g, not (1−β)·g, so its first step is 1/(1−β) = "
            "{ratio}× as large; the paths differ by up to {gap} (step {at})"
        ).format(
            ratio=_num(1 / (1 - beta)), gap=_num(float(off.max())),
            at=int(off.argmax()),
        ),
    ]  # fmt: skip
    return Example(
        "momentum-forms",
        _("the three written forms of momentum are one SGD, mapped exactly"),
        tuple(lines),
        {
            "max |form − SGD|": tuple(gaps.values()),
            "max |dampening=β − EMA form|": (float(off.max()),),
            "final point": _t(sgd[-1]),
        },
        claims=momentum_claims(),
        remarks=(
            _(
                "the notes' 'Deep Learning Basic 05' writes W ← W − η·g_(t+1) after "
                "a ← βa + g: the update must use a, or the momentum is never applied"
            ),
        ),
        command="gdlab explain momentum --problem regression --start -1,5 --lr 0.1 "
        "--steps 3",
        figure="gdlab figure optimizers -o optimizers.png",
    )


def nag() -> Example:
    """Nesterov's look-ahead form and torch's form: the same points, shifted."""
    f = surfaces.get("regression")
    start, steps, lr, mu = np.array([-1.0, 5.0]), 30, 0.1, 0.9
    theta, v = start.copy(), np.zeros(2)
    ahead = [theta.copy()]
    for _step in range(steps):  # Sutskever et al.: the gradient at the look-ahead point
        v = mu * v - lr * f.grad(theta + mu * v)
        theta = theta + v
        ahead.append(theta + mu * v)
    looked = np.array(ahead)
    sgd = surfaces.trajectory(
        f, "sgd", start, lr=lr, steps=steps, momentum=mu, nesterov=True
    )
    heavy = surfaces.trajectory(f, "sgd", start, lr=lr, steps=steps, momentum=mu)
    gap = float(np.max(np.abs(looked - sgd)))
    final = (float(f.value(sgd[-1])), float(f.value(heavy[-1])))
    lines = (
        _("look-ahead form: v ← μv − η∇f(θ + μv); θ ← θ + v"),
        "torch / gdlab:   b ← μb + g; θ' ← θ' − η(g + μb), g = ∇f(θ')",
        _(
            "θ' is the look-ahead point θ + μv (Sutskever et al., 2013): the two "
            "forms give the same points, shifted by μv"
        ),
        _(
            "on the regression example from (−1, 5), η = {lr:g}, μ = {mu:g}, {n} "
            "steps: max |θ + μv − θ'| = {gap:.1e}"
        ).format(lr=lr, mu=mu, n=steps, gap=gap),
        _("MSE after {n} steps: Nesterov {a}, heavy-ball momentum {b}").format(
            n=steps, a=_num(final[0]), b=_num(final[1])
        ),
    )
    return Example(
        "nag",
        _("Nesterov's look-ahead gradient is SGD(nesterov=True), exactly"),
        lines,
        {"max |look-ahead − SGD|": (gap,), "MSE, Nesterov vs momentum": final},
        command="gdlab explain nesterov --problem regression --start -1,5 --lr 0.1 "
        "--steps 3",
        figure="gdlab figure momentum-nag -o momentum-nag.png",
    )


def adagrad() -> Example:
    """Adagrad: a rarely-updated weight takes the larger step."""
    theta, lr = np.array(THETA), 0.01
    seen = np.array(
        [[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 1]], dtype=np.float64
    )  # which weights get a gradient at t = 1..5: every step, every other, once
    grads = 0.1 * seen
    opt = optim.Adagrad({"θ": theta}, lr=lr)
    lines = [
        _(
            "θ = {theta}, η = {lr:g}; the gradient is 0.1 where a weight is used and "
            "0 where it is not: θ[0] at every step, θ[1] at every other, θ[2] only "
            "at t = 5"
        ).format(theta=_show(THETA), lr=lr),
        "sum = sum + g²;  step = η·g/(√sum + ε)",
    ]
    steps = []
    for t, g in enumerate(grads, start=1):
        before = theta.copy()
        opt.step({"θ": g})
        steps.append(before - theta)
        total = opt.state["θ"]["sum"]
        lines.append(
            f"  t = {t}: g = {_show(g)}, sum = {_show(total)}, step = "
            f"{_show(steps[-1])}"
        )
    last = steps[-1]
    lines += [
        _(
            "at t = 5 every weight has the same g = 0.1, yet the steps are {steps}: "
            "η·0.1/√(k·0.01) = η/√k for a weight updated k times, so the "
            "once-updated θ[2] moves {ratio}× as far as θ[0]"
        ).format(steps=_show(last), ratio=_num(last[2] / last[0])),
        _(
            "the sum only grows: a weight updated at every step moves by η/√t, after "
            "10,000 steps by η/100, so learning stalls (Adadelta and RMSProp replace "
            "the sum by an average)"
        ),
    ]
    return Example(
        "adagrad",
        _("Adagrad gives rarely-updated weights larger steps, and stalls"),
        tuple(lines),
        {
            "step at t = 5": _t(last),
            "θ after 5 steps": _t(theta),
            "|step[0]| at t = 1..5": tuple(float(s[0]) for s in steps),
        },
        command="gdlab explain adagrad --param 0.8,1.2,0.5 --grad 0.1,0.1,0.1 "
        "--lr 0.01 --state sum=0.04,0.02,0",
    )


def adadelta() -> Example:
    """Adadelta: the step is √(u+ε)/√(v+ε)·g, its size set by past steps."""
    theta, g, steps, rho, eps = np.array(THETA), np.array(GRAD), 5, 0.9, 1e-6
    worked = explain("adadelta", theta, g, steps, lr=1.0, rho=rho, eps=eps)
    lines = [
        _(
            "θ = {theta}, the same g = {g} at every step, ρ = {rho:g}, ε = {eps:g}"
        ).format(theta=_show(theta), g=_show(g), rho=rho, eps=eps),
        "v = ρ·v + (1−ρ)·g²;  Δ = √(u+ε)/√(v+ε)·g;  u = ρ·u + (1−ρ)·Δ²;  θ ← θ − Δ",
    ]
    deltas = []
    for s in worked.steps:
        deltas.append(float(s.columns["Δ"][0]))
        lines.append(
            f"  t = {s.t}: v = {_show(s.columns['v'])}, Δ = {_show(s.columns['Δ'])}, "
            f"u = {_show(s.columns['u'])}"
        )
    first = math.sqrt(eps) / math.sqrt((1 - rho) * GRAD[0] ** 2 + eps) * GRAD[0]
    lines.append(
        _(
            "the first step is √ε/√((1−ρ)g² + ε)·g = {first} for g = 0.1: ε, not a "
            "learning rate, sets the scale, and the steps grow as u fills"
        ).format(first=_num(first))
    )
    return Example(
        "adadelta",
        _("Adadelta: no learning rate, the step scaled by the past steps"),
        tuple(lines),
        {"Δ[0] at t = 1..5": tuple(deltas), "first Δ[0], by hand": (first,)},
        remarks=(
            _(
                "the notes say Adadelta has no learning rate; torch keeps lr "
                "(default 1.0) as a factor on Δ, and so does gdlab: lr = 1 is "
                "Zeiler's rule"
            ),
        ),
        command="gdlab explain adadelta --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 "
        "--lr 1 --hyper rho=0.9 --hyper eps=1e-6 --steps 5",
    )


def sse_vs_cee() -> Example:
    """SSE against cross-entropy on Saito's softmax output, right and wrong."""
    t = np.zeros(10)
    t[2] = 1.0
    right = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
    wrong = right.copy()
    wrong[[2, 7]] = wrong[[7, 2]]
    rows = []
    values: dict[str, Numbers] = {}
    for label, y in ((_("right (0.6 on class 2)"), right),
                     (_("wrong (0.6 on class 7)"), wrong)):  # fmt: skip
        sse, grad = losses.sse(y, t)
        cee = float(-np.log(y[2]))
        rows.append(
            _("{label}: SSE = ½·Σ(y − t)² = {sse}, CEE = −log y_2 = −log {p} = {cee}")
            .format(label=label, sse=_num(sse), p=_num(y[2]), cee=_num(cee))
        )  # fmt: skip
        rows.append(
            "  "
            + _("∂SSE/∂y_2 = y_2 − 1 = {g}; ∂CEE/∂y_2 = −1/y_2 = {c}").format(
                g=_num(grad[2]), c=_num(-1.0 / y[2])
            )
        )
        values[f"SSE, CEE ({'right' if y is right else 'wrong'})"] = (sse, cee)
    lines = (
        _(
            "t = one-hot label 2; y = Saito's softmax output (Deep Learning from "
            "Scratch, §4.2), then the same with 0.6 on class 7"
        ),
        *rows,
        _(
            "both losses grow as the right class's probability falls, but SSE "
            "stays at most 1 while cross-entropy grows without bound: a confident "
            "wrong answer costs much more, and with softmax its gradient on the "
            "logits is simply y − t"
        ),
    )
    return Example(
        "sse-vs-cee",
        _("SSE and cross-entropy on one softmax output"),
        lines,
        values,
        remarks=(
            _(
                "the notes name SSE (오차 제곱 합) and CEE (교차 엔트로피 오차) but "
                "give no formula; the ½ in ½·Σ(y − t)² is Saito's, and gdlab's sse "
                "uses it"
            ),
        ),
        figure="gdlab figure sse-vs-cee -o sse-vs-cee.png",
    )


EXAMPLES: dict[str, Callable[[], Example]] = {
    "regression": regression,
    "rmsprop": rmsprop,
    "adam-first-step": adam_first_step,
    "ema": ema_example,
    "momentum-forms": momentum_forms,
    "nag": nag,
    "adagrad": adagrad,
    "adadelta": adadelta,
    "sse-vs-cee": sse_vs_cee,
}
"""The worked examples by name, in the order of the course."""


def names() -> list[str]:
    """The names of the worked examples, e.g. ``["regression", "rmsprop", ...]``."""
    return list(EXAMPLES)


def summaries() -> dict[str, str]:
    """Each example's name and its one-line summary (its docstring's first line,
    translated: :data:`SUMMARIES` marks them for the catalogue)."""
    return {n: _(SUMMARIES[n]) for n in EXAMPLES}


def _n(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


SUMMARIES = {
    "regression": _n(
        "One gradient step on ŷ = m·x + b through (1, 3), (2, 5) from (−1, 5)."
    ),
    "rmsprop": _n(
        "The notes' three-parameter RMSProp step, from their premise v = g²."
    ),
    "adam-first-step": _n(
        "Adam's first step is η·sign(g) whatever β2: the bias correction."
    ),
    "ema": _n("β = 0.9 on a short series: raw, corrected, and the window 1/(1−β)."),
    "momentum-forms": _n(
        "Saito's, torch's and Ng's momentum: one trajectory, three spellings."
    ),
    "nag": _n("Nesterov's look-ahead form and torch's form: the same points, shifted."),
    "adagrad": _n("Adagrad: a rarely-updated weight takes the larger step."),
    "adadelta": _n(
        "Adadelta: the step is √(u+ε)/√(v+ε)·g, its size set by past steps."
    ),
    "sse-vs-cee": _n(
        "SSE against cross-entropy on Saito's softmax output, right and wrong."
    ),
}
"""Each example's docstring's first line (a test keeps them equal)."""


def get(name: str) -> Example:
    """Work out the example ``name`` (see :func:`names`)."""
    key = _checks.choice("examples", "name", name, tuple(EXAMPLES))
    return EXAMPLES[key]()


__all__ = [
    "EXAMPLES",
    "SUMMARIES",
    "Claim",
    "Example",
    "Slip",
    "ema",
    "get",
    "momentum_claims",
    "names",
    "summaries",
]
