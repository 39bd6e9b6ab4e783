"""Shampoo: one preconditioner per tensor dimension, applied as inverse roots."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gdlab.optim import constraints
from gdlab.optim.base import Group, Optimizer, State
from gdlab.optim.lerp import lerp
from gdlab.optim.space import Axis, log_uniform
from gdlab.params import Array

MAX_ORDER = 8
"""The most dimensions a parameter may have (one preconditioner each)."""


def inverse_root(matrix: Array, power: float) -> Array:
    r""":math:`M^{-1/p}` of a symmetric positive definite M, by its SVD
    :math:`U \operatorname{diag}(s^{-1/p}) V^\top`."""
    u, s, vh = np.linalg.svd(matrix, full_matrices=False)
    root: Array = (u * s[None, :] ** (-1.0 / power)) @ vh
    return root


def _compute_steps(owner: str, name: str, value: object) -> int:
    return constraints.integer(owner, name, value, low=1)


class Shampoo(Optimizer):
    r"""Shampoo: preconditioned stochastic tensor optimization.

    For a parameter of order k with gradient G (after momentum and decay):

    .. math::
        H^{(i)}_t &\leftarrow H^{(i)}_{t-1} + G_{(i)} G_{(i)}^\top
            \quad(H^{(i)}_0 = \epsilon I,\ G_{(i)} \text{ the mode-}i
            \text{ unfolding}) \\
        \tilde G &= G \times_1 (H^{(1)}_t)^{-1/2k} \cdots
            \times_k (H^{(k)}_t)^{-1/2k}, \qquad
        \theta_t \leftarrow \theta_{t-1} - \eta\,\tilde G

    For a matrix, :math:`\tilde G = L^{-1/4} G R^{-1/4}`; a vector gets
    :math:`H^{-1/2} g` (full-matrix AdaGrad), a scalar plain SGD. The inverse
    roots are recomputed every ``preconditioning_compute_steps`` steps. With
    momentum μ, the gradient is first mixed with the previous *preconditioned*
    update: :math:`G \leftarrow (1-\mu) G + \mu \tilde G_{t-1}` (the buffer starts
    at the first gradient, taken before ``maximize`` negates it, as the reference
    does).

    Args:
        lr (η): learning rate >= 0 or a schedule, default 1e-3.
        momentum (μ): in [0, 1), default 0.
        weight_decay (λ): >= 0, default 0, added to the gradient, or with
            ``weight_decouple`` θ ← (1 − ηλ)θ (``fixed_decay``: (1 − λ)θ).
        preconditioning_compute_steps: steps between inverse roots, default 1.
        matrix_eps (ε): the preconditioners' start, default 1e-6.
        maximize: ascend the objective instead.

    Chosen over SOAP as the preconditioned method to match: its inverse roots are
    functions of symmetric matrices, independent of how an eigen- or singular-
    vector basis is picked, so NumPy's LAPACK and torch's agree to rounding; SOAP
    runs Adam in the eigenbasis of rank-deficient statistics, whose degenerate
    eigenvectors each library picks differently (and its QR runs in float32).

    Convention: ``pytorch_optimizer.Shampoo`` 4.1, to 1e-10 in float64 (the roots
    by SVD, as there). At most 8 dimensions; the state holds a d×d matrix and its
    root for every dimension of size d.

    References:
        Gupta, Koren & Singer, *Shampoo: Preconditioned Stochastic Tensor
        Optimization*, ICML 2018. https://arxiv.org/abs/1802.09568
    """

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "weight_decouple": False,
        "fixed_decay": False,
        "preconditioning_compute_steps": 1,
        "matrix_eps": 1e-6,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "momentum": constraints.coefficient,
        "weight_decay": constraints.nonnegative,
        "weight_decouple": constraints.flag,
        "fixed_decay": constraints.flag,
        "preconditioning_compute_steps": _compute_steps,
        "matrix_eps": constraints.nonnegative,
        "maximize": constraints.flag,
    }
    state_spec: ClassVar[dict[str, str]] = {
        "momentum_buffer": "real",
        **{f"pre_cond_{i}": "real" for i in range(MAX_ORDER)},
        **{f"inv_pre_cond_{i}": "real" for i in range(MAX_ORDER)},
    }
    suggested_lr: ClassVar[float] = 0.01
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": log_uniform(1e-4, 1.0),
        "weight_decay": log_uniform(1e-6, 1e-2),
    }
    elementwise = False

    def param_state(
        self, group: Group, name: str, shape: tuple[int, ...]
    ) -> dict[str, float]:
        if len(shape) > MAX_ORDER:
            constraints.fail(
                "Shampoo",
                f"params[{name!r}]",
                f"of at most {MAX_ORDER} dimensions",
                shape,
            )
        state = {f"pre_cond_{i}": 0.0 for i in range(len(shape))}
        state |= {f"inv_pre_cond_{i}": 0.0 for i in range(len(shape))}
        return {**state, "momentum_buffer": 0.0} if group["momentum"] > 0 else state

    def state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        if key.startswith(("pre_cond_", "inv_pre_cond_")):
            i = int(key.rsplit("_", 1)[1])
            d = shape[i] if i < len(shape) else 0
            return (d, d)
        return shape

    def update(
        self, group: Group, step: int, lr: float, p: Array, g: Array, state: State
    ) -> None:
        if p.size == 0:
            return
        if "pre_cond_0" in state.fresh:
            for i, d in enumerate(p.shape):
                state[f"pre_cond_{i}"][...] = np.eye(d) * group["matrix_eps"]
        momentum = group["momentum"]
        if momentum > 0 and "momentum_buffer" in state.fresh:
            state["momentum_buffer"][...] = g  # before maximize negates it (as there)
        g = np.array(-g if group["maximize"] else g)  # a copy, 0-d included
        if momentum > 0:
            buf = state["momentum_buffer"]
            lerp(g, buf, momentum, out=g, scratch=np.empty_like(g))
        decay = group["weight_decay"]
        if decay != 0 and group["weight_decouple"]:
            p *= 1.0 - decay * (1.0 if group["fixed_decay"] else lr)
        elif decay > 0:
            g = g + decay * p
        order, statistics, current = p.ndim, g, g
        for i, d in enumerate(p.shape):
            pre, inv = state[f"pre_cond_{i}"], state[f"inv_pre_cond_{i}"]
            unfolded = np.moveaxis(statistics, i, 0).reshape(d, -1)
            pre += unfolded @ unfolded.T
            current = np.ascontiguousarray(np.swapaxes(current, 0, i))
            swapped = current.shape
            if step % group["preconditioning_compute_steps"] == 0:
                inv[...] = inverse_root(pre, 2 * order)
            rows = current.reshape(d, -1)
            if i == order - 1:
                current = (rows.T @ inv).reshape(p.shape)
            else:
                current = (inv @ rows).reshape(swapped)
        if momentum > 0:
            state["momentum_buffer"][...] = current
        p -= lr * current
