r"""Curvature and stability: the largest Hessian eigenvalues from Hessian-vector
products, and the plain-GD stability limit :math:`\eta < 2/\lambda_{\max}`.

No Hessian is ever formed (for ``k`` below the number of parameters): a
Hessian-vector product is a central difference of two gradients,

.. math::
    Hv \approx \frac{\nabla L(\theta + h v) - \nabla L(\theta - h v)}{2h},
    \qquad \lVert v\rVert = 1,

exact up to rounding for quadratics and :math:`O(h^2)` otherwise, and SciPy's
Lanczos solver (``eigsh`` on a ``LinearOperator``) finds the extreme eigenvalues
from a few dozen of them. The same code serves a 2-D surface and a model on a batch.

On a quadratic with Hessian :math:`H`, gradient descent multiplies the error along
each eigenvector by :math:`1 - \eta\lambda_i`, so it converges iff
:math:`\eta < 2/\lambda_{\max}`; near a minimum the same holds locally.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, surfaces
from gdlab.params import F64

LossAndGrad = Callable[[Any], tuple[Any, Any]]


class _Flat:
    """A flat float64 view of parameters that are perturbed in place."""

    def __init__(self, owner: str, params: object) -> None:
        self.owner = owner
        if isinstance(params, Mapping):
            arrays = list(params.values())
            self.names: list[str] | None = list(params)
            self.target: object = params
        else:
            if not isinstance(params, np.ndarray):
                params = np.array(params, dtype=np.float64)
            arrays = [params]
            self.names = None
            self.target = params
        for a in arrays:
            if (
                not isinstance(a, np.ndarray)
                or not np.issubdtype(a.dtype, np.floating)
                or not a.flags.c_contiguous
                or not a.flags.writeable
            ):
                _checks.fail(
                    owner, "params", "writeable contiguous float arrays", type(a)
                )
        if not arrays or sum(a.size for a in arrays) == 0:
            _checks.fail(owner, "params", "at least one parameter", params)
        self.views: list[NDArray[np.floating]] = [a.reshape(-1) for a in arrays]
        self.size = sum(v.size for v in self.views)
        self.dtype = np.result_type(*(v.dtype for v in self.views))

    def get(self) -> F64:
        return np.concatenate([v.astype(np.float64) for v in self.views])

    def set(self, flat: F64) -> None:
        offset = 0
        for v in self.views:
            v[...] = flat[offset : offset + v.size]
            offset += v.size

    def flatten_grad(self, grads: object) -> F64:
        if self.names is None:
            g = np.asarray(grads, dtype=np.float64).reshape(-1)
        else:
            if not isinstance(grads, Mapping):
                _checks.fail(self.owner, "grads", "a mapping like params", grads)
            g = np.concatenate(
                [np.asarray(grads[n], dtype=np.float64).reshape(-1) for n in self.names]
            )
        if g.size != self.size:
            _checks.fail(self.owner, "grads", f"{self.size} values", g.size)
        return g


def _step_size(flat: _Flat, theta: F64, eps: float | None) -> float:
    if eps is not None:
        return _checks.number(flat.owner, "eps", eps, low=0.0, low_open=True)
    scale = max(1.0, float(np.max(np.abs(theta))))
    return float(np.cbrt(np.finfo(flat.dtype).eps)) * scale


def _hvp(
    loss_and_grad: LossAndGrad, flat: _Flat, theta: F64, h: float
) -> Callable[[F64], F64]:
    def product(v: F64) -> F64:
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros(flat.size)
        u = v / norm
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # checked below
                flat.set(theta + h * u)
                plus = flat.flatten_grad(loss_and_grad(flat.target)[1])
                flat.set(theta - h * u)
                minus = flat.flatten_grad(loss_and_grad(flat.target)[1])
                hv = np.asarray((plus - minus) * (norm / (2.0 * h)))
        finally:
            flat.set(theta)
        if not np.all(np.isfinite(hv)):  # ARPACK would fail with an obscure error
            _checks.fail(
                flat.owner,
                "params",
                "a point where the gradient is finite (it overflows here)",
                "non-finite Hessian-vector products",
            )
        return hv

    return product


def hessian_vector_product(
    loss_and_grad: LossAndGrad,
    params: Any,
    v: ArrayLike,
    *,
    eps: float | None = None,
) -> F64:
    """``H v`` at ``params`` by a central difference of gradients (flat float64).

    ``loss_and_grad(params) -> (loss, grads)``; ``params`` (an array, a mapping of
    arrays or a :class:`~gdlab.Params`) is perturbed in place and restored exactly.
    ``v`` is flat, in the order of ``params``' names.
    """
    flat = _Flat("hessian_vector_product", params)
    theta = flat.get()
    vec = np.asarray(v, dtype=np.float64).reshape(-1)
    if vec.size != flat.size:
        _checks.fail("hessian_vector_product", "v", f"{flat.size} values", vec.size)
    return _hvp(loss_and_grad, flat, theta, _step_size(flat, theta, eps))(vec)


def hessian_top_eigenvalues(
    loss_and_grad: LossAndGrad,
    params: Any,
    k: int = 1,
    *,
    which: str = "LA",
    eps: float | None = None,
    tol: float = 0.0,
    seed: int = 0,
    return_vectors: bool = False,
) -> F64 | tuple[F64, F64]:
    """The ``k`` largest Hessian eigenvalues of a loss at ``params``, descending.

    Args:
        loss_and_grad: ``loss_and_grad(params) -> (loss, grads)``; for a surface
            ``f.loss_and_grad``, for a model ``lambda p: model.loss_and_grad(X, y)``
            with ``params = model.params`` (the model reads its own parameters, which
            are perturbed in place).
        params: a float array, a mapping name -> array, or a
            :class:`~gdlab.Params`; perturbed in place and restored exactly.
        k: how many eigenvalues, >= 1.
        which: ``"LA"`` largest algebraic (default), ``"SA"`` smallest algebraic
            (returned ascending), ``"LM"`` largest magnitude.
        eps: the finite-difference step h (default ∛ε_machine · max(1, ‖θ‖∞)).
        tol: ARPACK's relative tolerance (0: machine precision).
        seed: seeds the Lanczos start vector, for reproducible results.
        return_vectors: also return the eigenvectors, shape ``(n, k)``.

    Warning: the products are central differences of gradients, so a loss with
    kinks (a ReLU network) can report spurious curvature where a perturbation
    crosses one; :func:`gdlab.lab.sharpness.sharpness` freezes the ReLU pattern
    for that case.

    ``eigsh`` with a ``LinearOperator`` of Hessian-vector products does the work;
    when ``k`` is not below the number of parameters it applies the products to
    the unit vectors and solves the small dense problem instead. A Hessian that
    maps the random start vector to exactly zero (a linear loss, a network whose
    outputs have saturated) has eigenvalues 0.

    Example:
        >>> f = surfaces.get("regression")
        >>> hessian_top_eigenvalues(f.loss_and_grad, np.array([-1.0, 5.0]))
        array([6.85410197])
    """
    owner = "hessian_top_eigenvalues"
    k = _checks.integer(owner, "k", k, low=1)
    _checks.choice(owner, "which", which, ("LA", "SA", "LM"))
    flat = _Flat(owner, params)
    theta = flat.get()
    if not np.all(np.isfinite(theta)):
        _checks.fail(owner, "params", "finite", "non-finite values")
    n = flat.size
    if k > n:
        _checks.fail(owner, "k", f"<= the number of parameters ({n})", k)
    product = _hvp(loss_and_grad, flat, theta, _step_size(flat, theta, eps))
    v0 = np.random.default_rng(seed).uniform(0.5, 1.5, n)
    if k < n and not np.any(product(v0)):  # a flat loss: ARPACK cannot start
        values, vectors = np.zeros(k), np.eye(n, k)
    elif k < n:
        from scipy.sparse.linalg import LinearOperator, eigsh  # 0.07 s: only here

        op = LinearOperator((n, n), matvec=product, dtype=np.float64)
        values, vectors = eigsh(op, k=k, which=which, v0=v0, tol=tol)
    else:
        dense = np.column_stack([product(e) for e in np.eye(n)])
        values, vectors = np.linalg.eigh(0.5 * (dense + dense.T))
    order = np.argsort(values)
    if which == "LA":
        order = order[::-1]
    elif which == "LM":
        order = np.argsort(-np.abs(values))
    order = order[:k]
    lam = np.asarray(values[order], dtype=np.float64)
    if return_vectors:
        return lam, np.asarray(vectors[:, order], dtype=np.float64)
    return lam


def top_eigenvalue(loss_and_grad: LossAndGrad, params: Any, **kwargs: Any) -> float:
    """λmax of the Hessian: ``hessian_top_eigenvalues(...)[0]`` as a float."""
    values = hessian_top_eigenvalues(loss_and_grad, params, 1, **kwargs)
    assert isinstance(values, np.ndarray)
    return float(values[0])


# --- the stability limit of plain gradient descent ---------------------------------


@dataclass(frozen=True)
class StabilityRun:
    """Plain GD at one learning rate: where it ended and what happened."""

    lr: float
    final: F64
    final_loss: float
    verdict: str  # "converged", "diverged" or "descending"


@dataclass(frozen=True)
class Stability:
    """The Hessian's extreme eigenvalues at a point, 2/λmax, and GD runs around it."""

    surface: str
    at: F64
    lambda_max: float
    lambda_min: float
    max_lr: float
    start: F64
    start_loss: float
    steps: int
    runs: tuple[StabilityRun, ...]
    labels: tuple[str, str]
    lambda_max_start: float
    value_name: str = "loss"

    def format(self) -> str:
        """A short report: eigenvalues, 2/λmax, and one line per run."""
        x, y = self.labels
        at = f"({self.at[0]:g}, {self.at[1]:g})"
        cond = self.lambda_max / self.lambda_min if self.lambda_min > 0 else math.inf
        lines = [
            f"{self.surface}: Hessian at {x}, {y} = {at}",
            f"  λmax = {self.lambda_max:.6g}, λmin = {self.lambda_min:.6g}"
            f" (condition number {cond:.4g})",
            f"  largest stable plain-GD learning rate 2/λmax = {self.max_lr:.6g}",
        ]
        if not math.isclose(self.lambda_max_start, self.lambda_max, rel_tol=1e-6):
            lines.append(
                f"  (the Hessian varies: λmax = {self.lambda_max_start:.6g} at the "
                f"start, so there the limit is {2 / self.lambda_max_start:.6g})"
            )
        lines += [
            f"plain GD from ({self.start[0]:g}, {self.start[1]:g}), "
            f"{self.value_name} {self.start_loss:.6g}, {self.steps} steps:",
            f"  {'lr':>8}  {'lr·λmax':>8}  {'final (' + x + ', ' + y + ')':>28}"
            f"  {'final ' + self.value_name:>12}  verdict",
        ]
        for r in self.runs:
            point = f"({r.final[0]:.6g}, {r.final[1]:.6g})"
            lines.append(
                f"  {r.lr:>8g}  {r.lr * self.lambda_max:>8.4g}  {point:>28}"
                f"  {r.final_loss:>12.6g}  {r.verdict}"
            )
        return "\n".join(lines)


def _round_sig(x: float, up: bool) -> float:
    """``x`` rounded down (or up) to two significant digits."""
    if x <= 0 or not math.isfinite(x):
        return x
    scale = 10.0 ** (math.floor(math.log10(x)) - 1)
    q = x / scale
    q = math.ceil(q - 1e-9) if up else math.floor(q + 1e-9)
    return float(f"{q * scale:.12g}")


def stability(
    f: surfaces.Surface | str,
    lrs: list[float] | None = None,
    *,
    start: ArrayLike | None = None,
    at: ArrayLike | None = None,
    steps: int = 500,
) -> Stability:
    """λmax and λmin of ``f``'s Hessian at ``at``, 2/λmax, and plain GD around it.

    Args:
        f: a surface or its name.
        lrs: learning rates to run (default: just below and just above 2/λmax,
            rounded to two digits — 0.28 and 0.30 for the regression).
        start: where the runs start (default: the surface's start).
        at: where the Hessian is taken (default: the surface's first minimum, or
            the start if it has none); for a quadratic it is the same everywhere.
        steps: GD steps per run, in [1, 10^6], the paths at most 1 GiB (see
            :func:`~gdlab.surfaces.check_steps`).

    The runs are one vectorized :func:`~gdlab.surfaces.trajectories` call of SGD.
    """
    owner = "stability"
    surface = surfaces.get(f)
    origin = surface.start if start is None else start
    start_point = surfaces.as_point(owner, "start", origin)
    where = at if at is not None else (surface.minima or (start_point,))[0]
    point = surfaces.as_point(owner, "at", where)
    lrs = None if lrs is None else list(lrs)
    n = surfaces.check_steps(owner, steps, 2 if lrs is None else len(lrs))
    for name, p in (("at", point), ("start", start_point)):
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.all(np.isfinite(surface.grad(p)))
        if not finite:
            _checks.fail(
                owner, name, "a point where the gradient is finite", tuple(p.tolist())
            )
    lam_max = top_eigenvalue(surface.loss_and_grad, point.copy())
    lam_start = top_eigenvalue(surface.loss_and_grad, start_point.copy())
    lam_min = float(
        np.asarray(
            hessian_top_eigenvalues(surface.loss_and_grad, point.copy(), which="SA")
        )[0]
    )
    max_lr = 2.0 / lam_max if lam_max > 0 else math.inf
    if lrs is None:
        if not math.isfinite(max_lr):
            _checks.fail(owner, "lrs", "given: λmax <= 0 here", lam_max)
        lrs = [_round_sig(0.97 * max_lr, up=False), _round_sig(1.02 * max_lr, up=True)]
    rates = [_checks.number(owner, "lrs", lr, low=0.0) for lr in lrs]
    if not rates:
        _checks.fail(owner, "lrs", "at least one learning rate", lrs)
    paths = surfaces.trajectories(
        surface,
        "sgd",
        np.repeat(start_point[None], len(rates), axis=0),
        lr=rates,
        steps=n,
    )
    start_loss = float(surface.value(start_point))
    gap0 = max(start_loss - surface.min_value, np.finfo(np.float64).tiny)
    runs = []
    bad = surfaces.diverged(surface, paths)
    with np.errstate(over="ignore", invalid="ignore"):
        for j, lr in enumerate(rates):
            final = paths[-1, j].copy()
            loss = float(surface.value(final))
            if bad[j]:
                verdict = "diverged"
            elif loss - surface.min_value <= 1e-6 * gap0:
                verdict = "converged"
            else:
                verdict = "descending"
            runs.append(StabilityRun(lr, final, loss, verdict))
    return Stability(
        surface=surface.name,
        at=point,
        lambda_max=lam_max,
        lambda_min=lam_min,
        max_lr=max_lr,
        start=start_point,
        start_loss=start_loss,
        steps=n,
        runs=tuple(runs),
        labels=surface.labels,
        lambda_max_start=lam_start,
        value_name=surface.value_name,
    )


__all__ = [
    "Stability",
    "StabilityRun",
    "hessian_top_eigenvalues",
    "hessian_vector_product",
    "stability",
    "top_eigenvalue",
]
