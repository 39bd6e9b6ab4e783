"""gdlab's t distribution: scipy.stats.t's numbers, computed with scipy.special
(the test imports scipy.stats to compare)."""

from __future__ import annotations

import math
import statistics

import numpy as np
from scipy.stats import t

from gdlab.lab import claims, tuning


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
