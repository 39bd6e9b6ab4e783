"""Compile an element-wise update rule once, run it fused and in place.

An update rule is a plain Python function whose first argument is the flat
parameter buffer and which loops ``for i in prange(p.size)``. :func:`elementwise`
compiles it with Numba twice from the same source: a serial version for small
buffers (no thread start-up cost) and a multi-threaded one for large buffers. Both
follow IEEE semantics (no fast-math), so float64 results match PyTorch's to rounding.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np

# Below this many elements a thread pool costs more than it saves.
PARALLEL_MIN_SIZE = 1 << 20

prange = numba.prange


class Kernel:
    """A compiled element-wise update: ``kernel(p, *arrays_and_scalars)``."""

    def __init__(self, rule: Callable[..., None]) -> None:
        self.rule = rule
        self.__doc__ = rule.__doc__
        self._serial = numba.njit(rule, cache=True, error_model="numpy", nogil=True)
        # A copy under its own name, so that the two compiled variants never share
        # an on-disk cache entry.
        twin = types.FunctionType(
            rule.__code__, rule.__globals__, rule.__name__ + "_parallel"
        )
        twin.__qualname__ = rule.__qualname__ + "_parallel"
        self._parallel = numba.njit(
            twin, cache=True, error_model="numpy", nogil=True, parallel=True
        )

    def __call__(self, p: np.ndarray, *args: Any) -> None:
        compiled = self._parallel if p.size >= PARALLEL_MIN_SIZE else self._serial
        cast(Callable[..., None], compiled)(p, *args)


def elementwise(rule: Callable[..., None]) -> Kernel:
    """Compile ``rule``, an element-wise loop over flat arrays, into a Kernel."""
    return Kernel(rule)
