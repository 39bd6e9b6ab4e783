"""BLAS threads chosen by the size of the work: one thread for small products.

A matrix product of a small mini-batch (100 x 784 by 784 x 100: 7.8 million
multiply-adds) gains little from a second thread (an epoch of the 784-100-10 MLP
at batch 100: 0.249 s on two OpenBLAS threads, 0.259 s on one, on idle cores), and
on a machine whose cores are busy with other jobs the threads that wait for a core
cost far more than that: the same epoch took 1.1 s on one thread and 24 s on two
(load 8 on 2 cores, a one-off timing; ``benchmarks/bench_paths.py`` times the
paths). At batch 1000 (78 million) the second thread pays: 0.132 against 0.180 s.
So the models run products of fewer than :data:`ONE_THREAD_BELOW` multiply-adds on
one BLAS thread, and larger ones on as many as the process allows. The count
depends on the size alone, never on the load, because it changes the last bits of
a product's sums. A limit set by the user (``threadpoolctl.threadpool_limits``,
``OPENBLAS_NUM_THREADS``) is never raised.

The limit is set and restored around each call with OpenBLAS's own
``openblas_get/set_num_threads`` (found once through threadpoolctl; about 12 µs a
call for both of NumPy's and SciPy's OpenBLAS, 19 µs through threadpoolctl's
controllers), not with ``threadpool_limits``, which scans the loaded libraries on
every use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

ONE_THREAD_BELOW = 10_000_000
"""Multiply-adds of the largest product in a call under which BLAS runs on one
thread (a batch of 127 rows through a 784 x 100 layer is 9.96 million)."""

_libraries: list[tuple[Callable[[], Any], Callable[[int], Any]]] | None = None


def _blas() -> list[tuple[Callable[[], Any], Callable[[int], Any]]]:
    """``(get_num_threads, set_num_threads)`` of each BLAS library (found once):
    OpenBLAS's C functions where it runs its own threads, else threadpoolctl's
    controller methods.

    SciPy's BLAS, which Numba's kernels call, is loaded first: Numba loads it with
    the first kernel, which would otherwise come after the search and keep its
    threads (NumPy's wheels and SciPy's bring one OpenBLAS each).
    """
    global _libraries
    if _libraries is None:
        importlib.import_module("scipy.linalg")
        threadpoolctl = importlib.import_module("threadpoolctl")
        controller = threadpoolctl.ThreadpoolController()
        _libraries = []
        for lib in controller.select(user_api="blas").lib_controllers:
            functions = None
            if lib.internal_api == "openblas" and lib.threading_layer != "openmp":
                functions = _openblas_functions(lib.dynlib)
            _libraries.append(functions or (lib.get_num_threads, lib.set_num_threads))
    return _libraries


def _openblas_functions(
    dynlib: Any,
) -> tuple[Callable[[], Any], Callable[[int], Any]] | None:
    """OpenBLAS's ``openblas_get/set_num_threads`` under the library's symbol
    affixes (NumPy's wheels name them ``scipy_openblas_get_num_threads64_``)."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            get = getattr(dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                return get, put
    return None


class threads_for:
    """Run the block on one BLAS thread if its largest product has fewer than
    :data:`ONE_THREAD_BELOW` multiply-adds; otherwise leave the threads as they are.

    A class rather than a generator: it is entered once per training step, and
    costs less than half as much (1.1 against 2.6 µs).
    """

    __slots__ = ("_lowered", "_multiply_adds")

    def __init__(self, multiply_adds: int) -> None:
        self._multiply_adds = multiply_adds
        self._lowered: list[tuple[Callable[[int], Any], int]] = []

    def __enter__(self) -> None:
        if self._multiply_adds >= ONE_THREAD_BELOW:
            return
        for get, put in _blas():
            n = get()
            if n is not None and n > 1:
                put(1)
                self._lowered.append((put, n))

    def __exit__(self, *exc: object) -> None:
        for put, n in self._lowered:
            put(n)
        self._lowered.clear()
