"""What every benchmark shares: interleaved timing, "median (min–max)" figures and a
line on the machine (cores, load, BLAS kernel, threading layers).

A figure is measured once per repeat (the median of a few interleaved calls) and
printed as the median over repeats with the range of the repeats, so a claim quotes
how much it moved on the machine that printed it.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

import threadpoolctl


def summary(values: Sequence[float], digits: int = 2, scale: float = 1.0) -> str:
    """``median (min–max)`` of ``values`` times ``scale``."""
    v = sorted(x * scale for x in values)
    return f"{statistics.median(v):.{digits}f} ({v[0]:.{digits}f}–{v[-1]:.{digits}f})"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    contenders: Mapping[str, Callable[[], object]],
    repeats: int,
    calls: int,
    warmup: int = 2,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one median per repeat.

    Within a repeat, the contenders take turns call by call, so a noisy neighbour
    slows them alike.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for _ in range(calls):
            for name, fn in contenders.items():
                times[name].append(timed(fn))
        for name, ts in times.items():
            out[name].append(statistics.median(ts))
    return out


def machine() -> str:
    """Cores, load, the BLAS libraries with the kernel they run, and OpenBLAS's env.

    OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force an older (slower) kernel where they
    are set; ``make bench`` unsets them for the benchmarks, and this line shows which
    kernel ran.
    """
    blas = sorted(
        {
            f"{i['internal_api']} {i['version']} {i.get('architecture', '?')} "
            f"({i['num_threads']} threads)"
            for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, load average {load}; BLAS: {'; '.join(blas)}; "
        + ", ".join(f"{k}={v or 'unset'}" for k, v in env.items())
    )
