r"""The samples of DeepOBS's noisy quadratic (``quadratic_deep``): draws
:math:`x \sim \mathcal N(0, \sigma^2 I)` in 100 dimensions, :math:`\sigma = 0.6`,
1,000 for training and 1,000 for testing, each set from a fixed seed of its own
(the data is part of the problem, not of a run). ``y`` is zeros: the model
(:class:`gdlab.models.NoisyQuadratic`) needs only ``x``.

Reference: Schneider, Balles, Hennig, *DeepOBS*, ICLR 2019 (its ``quadratic``
data set: ``noise_level=0.6``, ``train_size=1000``; DeepOBS draws from NumPy's
``RandomState(42)`` and ``(43)``, gdlab from ``default_rng``: the same
distribution, not the same numbers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks
from gdlab.data.datasets import Dataset

TRAIN_SEED, TEST_SEED = 42, 43


MAX_VALUES = 10**8
"""The most numbers each of the training and test sets may hold (400 MB in
float32)."""


def quadratic_deep(
    *,
    dtype: Any = np.float64,
    noise: float = 0.6,
    n: int = 1000,
    dim: int = 100,
) -> Dataset:
    """``n`` training and ``n`` test samples of :math:`\\mathcal N(0,
    \\text{noise}^2 I_{dim})`` (regression: ``y`` is zeros)."""
    owner = "quadratic-deep"
    noise = _checks.number(owner, "noise", noise, low=0.0)
    n = _checks.integer(owner, "n", n, low=2)
    dim = _checks.integer(owner, "dim", dim, low=1)
    if n * dim > MAX_VALUES:
        _checks.fail(owner, "n * dim", f"at most {MAX_VALUES:,}", f"{n} * {dim}")

    def draw(seed: int) -> NDArray[Any]:
        return np.random.default_rng(seed).normal(0.0, noise, (n, dim)).astype(dtype)

    zeros = np.zeros(n, dtype=dtype)
    return Dataset(draw(TRAIN_SEED), zeros, draw(TEST_SEED), zeros.copy(), (), owner)


__all__ = ["quadratic_deep"]
