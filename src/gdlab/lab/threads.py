"""One BLAS thread: what every run of a sweep or a study trains under.

OpenBLAS's matrix products change in their last bits with the thread count (a
float32 1437x64 by 64x16 product differs by 8e-6 between one and two threads), so a
run's numbers would otherwise depend on where it ran; and these products are too
small to share between threads, so parallel runs share the cores without
oversubscribing them. The limit covers the OpenMP pools as well, torch's among
them: a torch model's run trains on one torch thread too, whether torch was
loaded before or by the model (``tests/lab/test_worker_threads.py``).
"""

from __future__ import annotations

import importlib
from typing import Any


def one_blas_thread() -> Any:
    """One BLAS thread from now on: ``with one_blas_thread():`` for a block, or keep
    what it returns for the rest of the process (threadpoolctl's limits)."""
    return importlib.import_module("threadpoolctl").threadpool_limits(limits=1)
