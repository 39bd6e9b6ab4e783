"""gdlab's Sobol points and t distribution: SciPy's numbers, without importing
scipy.stats at run time (the test imports it to compare)."""

from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest
from scipy.stats import qmc, t

from gdlab.lab import claims, sobol, tuning

from ..conftest import raises_about


@pytest.mark.parametrize("dimensions", [1, 2, 3, 7, 64])
def test_points_are_scipys_scrambled_sobol(dimensions: int) -> None:
    for seed in (0, 1, 2024):
        for n in (1, 2, 6, 16, 33):
            with warnings.catch_warnings():  # its note about powers of two
                warnings.simplefilter("ignore")
                want = qmc.Sobol(d=dimensions, scramble=True, seed=seed).random(n)
            got = tuning.sobol_points(n, dimensions, seed)
            assert got.dtype == np.float64
            assert np.array_equal(got, want), (dimensions, seed, n)


@pytest.mark.parametrize(
    ("field", "n", "dimensions"),
    [("n", 0, 2), ("dimensions", 4, 0), ("dimensions", 4, 65), ("n", 2**31, 1)],
)
def test_bad_sizes_are_refused(field: str, n: int, dimensions: int) -> None:
    with raises_about("sobol_points", field):
        sobol.points(n, dimensions, 0)


def test_paired_t_and_interval_are_scipys() -> None:
    rng = np.random.default_rng(3)
    for size in (2, 3, 5, 30):
        d = list(rng.normal(0.01, 0.02, size))
        mean, (low, high), p = claims.paired_t(d)
        se = statistics.stdev(d) / math.sqrt(size)
        half = float(t.ppf(0.975, size - 1)) * se
        assert (low, high) == (mean - half, mean + half)
        assert p == min(1.0, float(2.0 * t.sf(abs(mean) / se, size - 1)))
        ci = tuning.interval95(d)["ci95"]
        assert ci == float(t.ppf(0.975, size - 1)) * statistics.stdev(d) / math.sqrt(
            size
        )
