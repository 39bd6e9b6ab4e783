"""ASGD's running average before t₀ is the parameter itself, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from gdlab import optim


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("parallel", [False, True])
def test_ax_is_p_bit_for_bit_before_averaging(dtype: type, parallel: bool) -> None:
    """The rule writes ax only where it differs from p: -0.0 and +0.0 compare
    equal and NaN unequal, so each must still be copied."""
    p = np.array([-0.0, 0.0, np.nan, 1.5, -2.0], dtype=dtype)
    g = np.array([0.0, 0.0, 1.0, 0.5, 1.0], dtype=dtype)
    opt = optim.ASGD({"w": p}, lr=0.1)
    ax = opt.state["w"]["ax"]
    ax[...] = [0.0, -0.0, 3.0, 7.0, np.nan]  # differs from p bit for bit
    if parallel:  # the parallel variant, called as a large step calls it
        seg = opt._segments[0][0]
        args = opt.rule_arguments(opt.param_groups[0], 1, 0.1, p, g, seg.state)
        opt.rule(p, *args)
    else:
        opt.step({"w": g})
    assert np.signbit(p[0]) and not np.signbit(p[1])
    np.testing.assert_array_equal(ax.view(f"u{p.itemsize}"), p.view(f"u{p.itemsize}"))
