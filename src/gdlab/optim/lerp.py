"""Linear interpolation evaluated as ``torch.lerp`` evaluates it, so that the
momentum buffers of Muon and Shampoo equal torch's to the last bit."""

from __future__ import annotations

import numpy as np

from gdlab.params import Array


def lerp(a: Array, b: Array, weight: float, out: Array, scratch: Array) -> Array:
    r""":math:`a + w(b - a)` into ``out``, computed from :math:`b`'s side,
    :math:`b - (1 - w)(b - a)`, when :math:`w \ge 0.5` (as torch does), in place
    through ``scratch`` (which may be ``out``, but not ``a`` or ``b``)."""
    np.subtract(b, a, out=scratch)
    if weight < 0.5:
        scratch *= weight
        return np.add(a, scratch, out=out)
    scratch *= 1 - weight
    return np.subtract(b, scratch, out=out)
