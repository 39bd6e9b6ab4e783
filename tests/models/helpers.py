"""Shared helpers for the model tests: central differences and random parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gdlab import models


def numeric_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``f()`` with respect to the entries of ``x`` (in place,
    restored)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + h
        plus = f()
        flat[i] = orig - h
        minus = f()
        flat[i] = orig
        gflat[i] = (plus - minus) / (2 * h)
    return g


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()))
    return float(np.abs(a - b).max()) / scale if scale else 0.0


def randomize(model: models.Model, seed: int, scale: float = 0.7) -> None:
    """Random weights *and* biases, so no ReLU input sits exactly on its kink."""
    rng = np.random.default_rng(seed)
    for name in model.params:
        p = model.params[name]
        p[...] = rng.standard_normal(p.shape) * scale


def targets(loss: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Valid targets for ``loss`` with ``k`` outputs."""
    if loss == "softmax_cross_entropy":
        return rng.integers(0, k, n)
    if loss == "binary_cross_entropy":
        return rng.uniform(size=(n, k))
    return rng.standard_normal((n, k))
