"""Compile an element-wise update rule once, run it fused and in place.

An update rule is a plain Python function whose first argument is the flat
parameter buffer and which loops ``for i in prange(p.size)``. :func:`elementwise`
compiles it with Numba's parallel loop lowering (which also tells LLVM that the
arrays do not overlap, so the loop is vectorized) and IEEE semantics (no
fast-math), so float64 results match PyTorch's to rounding.

Buffers below :data:`PARALLEL_MIN_SIZE` elements run on the calling thread only:
a pool's start-up costs more than it saves there, and Numba's OpenMP workers spin
after a parallel loop, stealing the cores that the BLAS of the next forward pass
needs (a 784-100-10 MLP trained 17x slower that way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np

PARALLEL_MIN_SIZE = 1 << 20

# Numba's on-disk cache is keyed by the rule's source file, not by the options
# below: after changing them, delete the cache (``make clean``) or stale machine
# code compiled with the old options is loaded.

prange = numba.prange


class Kernel:
    """A compiled element-wise update: ``kernel(p, *arrays_and_scalars)``."""

    def __init__(self, rule: Callable[..., None]) -> None:
        self.rule = rule
        self.__doc__ = rule.__doc__
        self._compiled = cast(
            Callable[..., None],
            numba.njit(rule, cache=True, error_model="numpy", parallel=True),
        )

    def __call__(self, p: np.ndarray, *args: Any) -> None:
        if p.size >= PARALLEL_MIN_SIZE:
            self._compiled(p, *args)
            return
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            self._compiled(p, *args)
        finally:
            numba.set_num_threads(threads)


def elementwise(rule: Callable[..., None]) -> Kernel:
    """Compile ``rule``, an element-wise loop over flat arrays, into a Kernel."""
    return Kernel(rule)
