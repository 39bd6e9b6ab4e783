r"""What the studies measure at a solution: Keskar's ε-sharpness, the Hessian's top
eigenpair (warm-startable Lanczos), and the losses along the line between two
solutions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks, data, models
from gdlab.lab.analysis import hessian_vector_product
from gdlab.params import F64
from gdlab.train import evaluate

Echo = Callable[[str], None] | None
Folder = str | Path

ALPHAS = tuple(k / 10 for k in range(-10, 21))
"""α of the interpolation θ(α) = (1−α)·θ_small + α·θ_large: −1 to 2 by 0.1; 0 and
1 exactly (the two solutions themselves)."""
LANCZOS_TOL = 1e-6
LANCZOS_NCV = 8
"""Lanczos vectors per restart: warm-started, 8 converge in about 15 products
where ARPACK's default 20 always spends 21."""


def epsilon_sharpness(
    model: models.Model,
    X: ArrayLike,
    y: ArrayLike,
    epsilon: float = 1e-3,
    *,
    maxiter: int = 10,
) -> float:
    r"""Keskar's ε-sharpness of ``model``'s cost on ``(X, y)``, in percent:

    .. math::
        \phi(\varepsilon) = 100\cdot\frac{\max_{|\delta_i|\le\varepsilon(|\theta_i|+1)}
        f(\theta+\delta) - f(\theta)}{1 + f(\theta)}

    The box maximization is L-BFGS-B (``maxiter`` iterations, as Keskar's 10) from
    the corner the gradient points to, in a float64 copy (``model`` is unchanged).
    The loss is not concave there, so this is a lower bound of the maximum; it is 0
    at ε = 0 and grows with ε.
    """
    from scipy.optimize import minimize

    owner = "epsilon_sharpness"
    eps = _checks.number(owner, "epsilon", epsilon, low=0.0)
    iterations = _checks.integer(owner, "maxiter", maxiter, low=1)
    copy = model.astype(np.float64)
    X64 = np.asarray(X, dtype=np.float64)
    buffer = copy.params.buffers[np.dtype(np.float64)]
    theta: F64 = buffer.astype(np.float64)

    def negative(point: F64) -> tuple[float, F64]:
        buffer[...] = point
        value, grads = copy.loss_and_grad(X64, y)
        return -value, -grads.buffers[np.dtype(np.float64)].astype(np.float64)

    minus_f0, minus_g0 = negative(theta)
    radius = eps * (np.abs(theta) + 1.0)
    start = theta - radius * np.sign(minus_g0)  # the corner the gradient points to
    found = minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=np.column_stack([theta - radius, theta + radius]),
        options={"maxiter": iterations},
    )
    highest = max(-negative(start)[0], -float(found.fun))
    return 100.0 * (highest + minus_f0) / (1.0 - minus_f0)


def top_eigenpair(
    loss_and_grad: Callable[[Any], tuple[Any, Any]],
    params: Any,
    v0: ArrayLike | None = None,
    *,
    tol: float = LANCZOS_TOL,
) -> tuple[float, F64]:
    """λmax of the Hessian at ``params`` and its unit eigenvector, by Lanczos
    (``eigsh`` on a ``LinearOperator`` of
    :func:`~gdlab.lab.hessian_vector_product`), started from ``v0`` (a warm start:
    the previous eigenvector) or from a fixed vector."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = sum(np.asarray(a).size for a in params.values())
    op = LinearOperator(
        (n, n),
        matvec=lambda v: hessian_vector_product(loss_and_grad, params, v),
        dtype=np.float64,
    )
    start = (
        np.random.default_rng(0).uniform(0.5, 1.5, n)
        if v0 is None
        else np.asarray(v0, dtype=np.float64)
    )
    values, vectors = eigsh(
        op, k=1, which="LA", v0=start, tol=tol, ncv=min(LANCZOS_NCV, n)
    )
    return float(values[0]), np.asarray(vectors[:, 0], dtype=np.float64)


def interpolate(
    model: models.Model,
    theta_a: ArrayLike,
    theta_b: ArrayLike,
    dataset: data.Dataset,
    alphas: Sequence[float] = ALPHAS,
) -> dict[str, list[float | None]]:
    """Train and test loss and accuracy at θ(α) = (1−α)·θ_a + α·θ_b for each α
    (``model`` is a template: a copy takes the weights), as lists by α."""
    copy = model.copy()
    buffer = copy.params.buffers[copy.dtype]
    a = np.asarray(theta_a, dtype=np.float64)
    b = np.asarray(theta_b, dtype=np.float64)
    curves: dict[str, list[float | None]] = {
        "alpha": [float(x) for x in alphas],
        **{k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
    }
    for alpha in alphas:
        buffer[...] = (1.0 - alpha) * a + alpha * b
        for part in ("train", "test"):
            with np.errstate(over="ignore", invalid="ignore"):
                loss, acc = evaluate(
                    copy, getattr(dataset, f"X_{part}"), getattr(dataset, f"y_{part}")
                )
            curves[f"{part}_loss"].append(loss)
            curves[f"{part}_acc"].append(acc)
    return curves


__all__ = ["ALPHAS", "epsilon_sharpness", "interpolate", "top_eigenpair"]
