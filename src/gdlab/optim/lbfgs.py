"""L-BFGS: a quasi-Newton direction from the last gradient differences, with an
optional strong-Wolfe line search; several evaluations per step (a closure)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks
from gdlab.optim import constraints
from gdlab.optim.base import Closure, Group, Optimizer
from gdlab.optim.space import Axis, lr_around
from gdlab.params import Array

Evaluate = Callable[[float], tuple[float, Array]]
"""f and its flat gradient at x + t·d, for step length t."""


def cubic_minimum(
    x1: float,
    f1: float,
    g1: float,
    x2: float,
    f2: float,
    g2: float,
    bounds: tuple[float, float] | None = None,
) -> float:
    """The minimizer of the cubic through (x1, f1, f'=g1) and (x2, f2, f'=g2),
    clipped to ``bounds`` (the interval [x1, x2] by default); the middle of the
    bounds when the cubic has no minimum (Nocedal & Wright, eq. 3.59)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1**2 - g1 * g2
    if square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(square)
    if x1 <= x2:
        at = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        at = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(at, low), high)


def strong_wolfe(
    evaluate: Evaluate,
    t: float,
    d: Array,
    f: float,
    g: Array,
    gtd: float,
    *,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, Array, float, int]:
    """A step length t along d meeting the strong Wolfe conditions
    f(t) <= f + c1·t·gtd and |f'(t)| <= −c2·gtd: bracket, then zoom by cubic
    interpolation (Nocedal & Wright, Algorithms 3.5 and 3.6, as minFunc and torch
    write them). Returns (f, g, t, evaluations) at the step taken."""
    d_norm = float(np.max(np.abs(d))) if d.size else 0.0
    f_new, g_new = evaluate(t)
    evals, ls_iter = 1, 0
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[Array] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        low, high = t + 0.01 * (t - t_prev), t * 10
        t_prev, t = (
            t,
            cubic_minimum(
                t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(low, high)
            ),
        )
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
    insufficient = False
    low_i, high_i = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = cubic_minimum(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
        )
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:  # too close to an end: move inwards
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low_i]:
            bracket[high_i], bracket_f[high_i] = t, f_new
            bracket_g[high_i], bracket_gtd[high_i] = g_new, gtd_new
            low_i, high_i = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_i] - bracket[low_i]) >= 0:
                bracket[high_i], bracket_f[high_i] = bracket[low_i], bracket_f[low_i]
                bracket_g[high_i] = bracket_g[low_i]
                bracket_gtd[high_i] = bracket_gtd[low_i]
            bracket[low_i], bracket_f[low_i] = t, f_new
            bracket_g[low_i], bracket_gtd[low_i] = g_new, gtd_new
    return bracket_f[low_i], bracket_g[low_i], bracket[low_i], evals


def _line_search(owner: str, name: str, value: object) -> str | None:
    return (
        None
        if value is None
        else constraints.choice(owner, name, value, ("strong_wolfe",))
    )


def _max_eval(owner: str, name: str, value: object) -> int | None:
    return None if value is None else constraints.integer(owner, name, value, low=1)


class LBFGS(Optimizer):
    r"""L-BFGS: limited-memory BFGS.

    Each ``step(grads, closure)`` runs up to ``max_iter`` iterations:

    .. math::
        y_k &= g_k - g_{k-1}, \quad s_k = t_{k-1} d_{k-1}
            \quad(\text{kept while } y_k^\top s_k > 10^{-10}) \\
        d_k &= -H_k g_k \quad\text{(two-loop recursion over the last}
            \text{ ``history_size`` pairs, } H_0 = \tfrac{y^\top s}{y^\top y} I) \\
        \theta &\leftarrow \theta + t_k d_k, \quad
            t_k = \eta \text{ (} \min(1, 1/\lVert g_1\rVert_1)\,\eta
            \text{ at the first) or by a strong-Wolfe line search}

    and stops early when max|g| <= ``tolerance_grad``, when the step or the loss
    change falls below ``tolerance_change``, or after ``max_eval`` evaluations.
    The closure (required) returns ``(loss, grads)`` at the current parameters; the
    step starts by calling it (``grads`` given to ``step`` is checked, then
    superseded by the closure's, as torch re-evaluates too) and returns that loss.

    Args:
        lr (η): step length >= 0, default 1.
        max_iter: iterations per step, default 20.
        max_eval: evaluations per step, default ⌊1.25·max_iter⌋ (None).
        tolerance_grad, tolerance_change: stopping tolerances, default 1e-7, 1e-9.
        history_size: pairs (y, s) kept, default 100 (fixed at construction: the
            state holds 2·history_size arrays of each parameter's size).
        line_search_fn: None or ``"strong_wolfe"``.

    Convention: matches ``torch.optim.LBFGS`` (2.13) to 1e-10 in float64, with and
    without the line search; one parameter group only (as torch); all parameters
    are treated as one flat vector, in the order given.

    References:
        Liu & Nocedal, *On the limited memory BFGS method for large scale
        optimization*, Mathematical Programming 45, 1989.
        Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006, §3.5 and §7.2.
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1.0,
        "max_iter": 20,
        "max_eval": None,
        "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9,
        "history_size": 100,
        "line_search_fn": None,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "max_iter": constraints.count,
        "max_eval": _max_eval,
        "tolerance_grad": constraints.nonnegative,
        "tolerance_change": constraints.nonnegative,
        "history_size": constraints.count,
        "line_search_fn": _line_search,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "d": "real",
        "prev_grad": "real",
        "old_dirs": "real",
        "old_stps": "real",
        "t": "scalar",
        "H_diag": "scalar",
        "prev_loss": "scalar",
        "n_iter": "scalar",
        "func_evals": "scalar",
        "num_old": "scalar",
    }
    needs_closure: ClassVar[bool] = True
    suggested_lr: ClassVar[float] = 1.0
    search_space: ClassVar[dict[str, Axis]] = {"lr": lr_around(suggested_lr)}
    elementwise = False
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "line_search_fn": (None, "strong_wolfe")
    }

    def __init__(self, params: Any, lr: Any = None, **hyper: Any) -> None:
        super().__init__(params, lr, **hyper)
        if len(self.param_groups) != 1:
            _checks.fail(
                "LBFGS", "params", "one group (L-BFGS has one)", len(self.param_groups)
            )
        self._history = self.param_groups[0]["history_size"]

    def initial_state(self, group: Group) -> dict[str, float]:
        return dict.fromkeys(self.state_spec, 0.0)

    def state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        if key in ("old_dirs", "old_stps"):
            return (self.param_groups[0]["history_size"], *shape)
        return super().state_shape(key, shape)

    def step(
        self, grads: Mapping[str, Any], closure: Closure | None = None
    ) -> float | None:
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` is required."""
        self._checked_grads(grads)
        if not callable(closure):
            _checks.fail(
                "LBFGS",
                "closure",
                "a function returning (loss, grads) at the current parameters",
                closure,
            )
        group = self.param_groups[0]
        if group.get("history_size") != self._history:
            _checks.fail(
                "LBFGS",
                "history_size",
                f"{self._history}, fixed at construction",
                group.get("history_size"),
            )
        (lr,) = self._begin_step()
        run = _Run(self, group, closure)
        return run.iterate(lr)


class _Run:
    """One L-BFGS step over the parameters as one flat vector."""

    def __init__(self, opt: LBFGS, group: Group, closure: Closure) -> None:
        self.opt, self.group, self.closure = opt, group, closure
        self.params: Mapping[str, Array] = group["params"]
        self.names = list(self.params)
        self.state = opt.state
        first = self.names[0]
        self.scalars = {
            k: float(self.state[first][k])
            for k in opt.state_spec
            if opt.state_spec[k] == "scalar"
        }
        dtypes = [a.dtype for a in self.params.values()]
        self.dtype = np.result_type(*dtypes)

    def flat(self, key: str) -> Array:
        return np.concatenate(
            [np.ravel(self.state[n][key]).astype(self.dtype) for n in self.names]
        )

    def history(self, key: str, count: int) -> list[Array]:
        return [
            np.concatenate(
                [np.ravel(self.state[n][key][i]).astype(self.dtype) for n in self.names]
            )
            for i in range(count)
        ]

    def evaluate(self) -> tuple[float, Array]:
        loss, grads = self.closure()
        checked = self.opt._checked_grads(grads)
        flat = np.concatenate(
            [np.ravel(checked[n]).astype(self.dtype) for n in self.names]
        )
        return float(loss), flat

    def move(self, t: float, d: Array) -> None:
        """θ ← θ + t·d, parameter by parameter."""
        offset = 0
        for n in self.names:
            p = self.params[n]
            piece = d[offset : offset + p.size].reshape(p.shape)
            np.add(p, t * piece, out=p, casting="unsafe")
            offset += p.size

    def iterate(self, lr: float) -> float:
        g_ = self.group
        max_iter, tol_grad, tol_change = (
            g_["max_iter"],
            g_["tolerance_grad"],
            g_["tolerance_change"],
        )
        max_eval = g_["max_eval"] if g_["max_eval"] is not None else max_iter * 5 // 4
        history = g_["history_size"]
        sc = self.scalars
        orig_loss, flat_grad = self.evaluate()
        loss = orig_loss
        evals = 1
        sc["func_evals"] += 1
        if flat_grad.size == 0 or np.max(np.abs(flat_grad)) <= tol_grad:
            self.save(None, None, None)
            return orig_loss
        num_old = int(sc["num_old"])
        d = self.flat("d")
        t = sc["t"]
        old_dirs, old_stps = (
            self.history("old_dirs", num_old),
            self.history("old_stps", num_old),
        )
        prev_grad = self.flat("prev_grad")
        h_diag = sc["H_diag"]
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            sc["n_iter"] += 1
            if sc["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, h_diag = [], [], 1.0
            else:
                y = flat_grad - prev_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    h_diag = ys / float(y @ y)
                ro = [
                    1.0 / float(y_i @ s_i)
                    for y_i, s_i in zip(old_dirs, old_stps, strict=True)
                ]
                q = -flat_grad
                al = [0.0] * len(old_dirs)
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q + (-al[i]) * old_dirs[i]
                r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ r) * ro[i]
                    r = r + (al[i] - be_i) * old_stps[i]
                d = r
            prev_grad = flat_grad.copy()
            sc["prev_loss"] = loss
            if sc["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:
                break
            if g_["line_search_fn"] == "strong_wolfe":
                start = {n: self.params[n].copy() for n in self.names}

                def at(
                    step: float, d: Array = d, start: dict[str, Array] = start
                ) -> tuple[float, Array]:
                    self.move(step, d)
                    value = self.evaluate()
                    for n in self.names:
                        self.params[n][...] = start[n]
                    return value

                loss, flat_grad, t, ls_evals = strong_wolfe(
                    at, t, d, loss, flat_grad, gtd, max_ls=max_eval - evals
                )
                self.move(t, d)
                optimal = float(np.max(np.abs(flat_grad))) <= tol_grad
            else:
                self.move(t, d)
                ls_evals = 0
                optimal = False
                if n_iter != max_iter:
                    loss, flat_grad = self.evaluate()
                    optimal = float(np.max(np.abs(flat_grad))) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            sc["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or optimal:
                break
            if float(np.max(np.abs(d * t))) <= tol_change:
                break
            if abs(loss - sc["prev_loss"]) < tol_change:
                break
        sc["t"], sc["H_diag"], sc["num_old"] = t, h_diag, len(old_dirs)
        self.save(d, prev_grad, (old_dirs, old_stps))
        return orig_loss

    def save(
        self,
        d: Array | None,
        prev_grad: Array | None,
        pairs: tuple[list[Array], list[Array]] | None,
    ) -> None:
        """Write the flat vectors back into each parameter's state."""
        offset = 0
        for n in self.names:
            state, size = self.state[n], self.params[n].size
            shape = self.params[n].shape
            window = slice(offset, offset + size)
            if d is not None:
                state["d"][...] = d[window].reshape(shape)
            if prev_grad is not None:
                state["prev_grad"][...] = prev_grad[window].reshape(shape)
            if pairs is not None:
                for key, arrays in zip(("old_dirs", "old_stps"), pairs, strict=True):
                    for i, a in enumerate(arrays):
                        state[key][i] = a[window].reshape(shape)
            for key, value in self.scalars.items():
                state[key][...] = value
            offset += size
