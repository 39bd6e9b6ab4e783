"""Scrambled Sobol points, the very numbers of SciPy's ``qmc.Sobol(d,
scramble=True, seed=seed).random(n)``, without importing ``scipy.stats`` (about
half a second of every comparison's start-up).

Sobol's sequence (Bratley and Fox 1988, Algorithm 659) with Joe and Kuo's
direction numbers (search criterion D(6), 2008; the first :data:`MOST_DIMENSIONS`
rows of the table SciPy ships, in ``sobol_directions.npz``), 30 bits, scrambled
as SciPy scrambles it (Owen-style linear matrix scrambling plus a digital shift,
Matoušek 1998): from ``numpy.random.default_rng(seed)``, first the shift's bits
``(d, 30)``, then the lower-triangular matrices' bits ``(d, 30, 30)``. Point 0 is
the shift; point i+1 is point i with direction number c XORed in, c the position
of the lowest zero bit of i (Antonov and Saleev's Gray-code order). A test holds
the points equal to SciPy's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gdlab import _checks

__all__ = ["MOST_DIMENSIONS", "points"]

BITS = 30
"""Bits of each coordinate (SciPy's default)."""
MOST_DIMENSIONS = 64
"""Dimensions the shipped direction numbers cover (a search space has a few)."""
_TABLE = Path(__file__).with_name("sobol_directions.npz")


def _directions(dimensions: int) -> np.ndarray[Any, Any]:
    """The direction numbers ``(dimensions, BITS)``, each scaled to its bit."""
    with np.load(_TABLE) as table:
        poly = [int(p) for p in table["poly"][:dimensions]]
        start = table["vinit"][:dimensions].astype(np.int64)
    v = np.zeros((dimensions, BITS), dtype=np.int64)
    v[0, :] = 1
    for d in range(1, dimensions):
        degree = poly[d].bit_length() - 1
        v[d, :degree] = start[d, :degree]
        for j in range(degree, BITS):
            value = int(v[d, j - degree])
            for k in range(degree):
                if (poly[d] >> (degree - 1 - k)) & 1:
                    value ^= int(v[d, j - k - 1]) << (k + 1)
            v[d, j] = value
    return v << np.arange(BITS - 1, -1, -1, dtype=np.int64)


def _scrambled(
    v: np.ndarray[Any, Any], rng: np.random.Generator
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(the digital shift ``(d,)``, the scrambled direction numbers)."""
    d = len(v)
    shift_bits = rng.integers(0, 2, size=(d, BITS), dtype=np.uint32)
    shift = shift_bits.astype(np.int64) @ (1 << np.arange(BITS, dtype=np.int64))
    lower = np.tril(rng.integers(0, 2, size=(d, BITS, BITS), dtype=np.uint32))
    lower[:, np.arange(BITS), np.arange(BITS)] = 1
    # bit BITS-1-p of a scrambled number: the parity of row p of the matrix (its
    # column k weighing 2^(BITS-1-k)) ANDed with the number
    weights = np.arange(BITS)
    v_bits = (v[:, :, None] >> weights) & 1  # (d, j, bit k)
    row_bits = lower[:, :, ::-1].astype(np.int64)  # (d, p, bit k)
    parity = np.einsum("djk,dpk->djp", v_bits, row_bits) % 2
    scrambled = parity @ (1 << (BITS - 1 - weights))
    return shift, scrambled


def points(n: int, dimensions: int, seed: int) -> np.ndarray[Any, Any]:
    """The first ``n`` scrambled Sobol points in [0, 1)^dimensions from ``seed``
    (float64, ``(n, dimensions)``)."""
    owner = "sobol_points"
    n = _checks.integer(owner, "n", n, low=1)
    if n > 2**BITS:
        _checks.fail(owner, "n", f"at most 2**{BITS}", n)
    dimensions = _checks.integer(owner, "dimensions", dimensions, low=1)
    if dimensions > MOST_DIMENSIONS:
        _checks.fail(owner, "dimensions", f"at most {MOST_DIMENSIONS}", dimensions)
    shift, v = _scrambled(_directions(dimensions), np.random.default_rng(seed))
    out = np.empty((n, dimensions), dtype=np.float64)
    quasi = shift.copy()
    out[0] = quasi
    for i in range(n - 1):
        c = (~i & (i + 1)).bit_length() - 1  # the lowest zero bit of i
        quasi ^= v[:, c]
        out[i + 1] = quasi
    out *= 1.0 / 2**BITS  # exact: a power of two
    return out
