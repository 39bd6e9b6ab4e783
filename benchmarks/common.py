"""What every benchmark shares: interleaved timing, "median (min–max)" figures, a
line on the machine (cores, load, BLAS kernel, threading layers) and the check
that no kernel compiles inside a timed region (:func:`no_compilation`).

A figure is measured once per repeat (the median of a few interleaved calls) and
printed as the median over repeats with the range of the repeats, so a claim quotes
how much it moved on the machine that printed it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

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
    pause: float = 0.2,
) -> dict[str, list[float]]:
    """Seconds per call of each contender, one median per repeat.

    Within a repeat, each contender makes its ``calls`` calls as one block, after
    ``pause`` seconds of sleep, and the contenders take turns block by block (the
    order rotating from repeat to repeat), so a noisy neighbour slows them alike.
    The pause lets the previous contender's idle threads stop spinning: OpenBLAS's
    and OpenMP's worker threads busy-wait for a while after each parallel call, and
    taking turns call by call made each library pay for the other's spinning
    (torch's Muon step took 9 ms there against 3 ms alone, on the 2 cores). The
    ``warmup`` calls compile what they run: a kernel compiled in the timed calls
    raises :class:`CompiledWhileTimed`.
    """
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    with no_compilation(", ".join(contenders)):
        for repeat in range(repeats):
            turn = repeat % len(names)
            for name in names[turn:] + names[:turn]:
                time.sleep(pause)
                fn = contenders[name]
                out[name].append(statistics.median(timed(fn) for _ in range(calls)))
    return out


class CompiledWhileTimed(RuntimeError):
    """A kernel compiled (or loaded from Numba's disk cache) inside a timed region:
    the figure would include it. Warm up first (``Optimizer.warm_up()``, a call of
    each path before the clock starts)."""


def _signatures() -> int:
    """Compiled signatures of every Numba dispatcher alive now (0 before Numba is
    imported): one more for each kernel compiled or loaded from the disk cache."""
    import sys

    if "numba" not in sys.modules:
        return 0
    from numba.core.dispatcher import Dispatcher

    # type(), not isinstance(): that would ask weak proxies and lazy modules
    return sum(
        len(o.signatures) for o in gc.get_objects() if issubclass(type(o), Dispatcher)
    )


@contextlib.contextmanager
def no_compilation(what: str) -> Iterator[None]:
    """Raise :class:`CompiledWhileTimed` if a Numba kernel compiles inside the block
    (Numba's ``numba:compile`` events) or a dispatcher gains a signature (a variant
    compiled, or loaded from the disk cache). Wrap a benchmark's whole timed loop:
    the signature count is taken once before and once after (tens of ms each),
    outside the figures."""
    import sys

    events: list[object] = []
    listener = None
    if "numba" in sys.modules:
        from numba.core import event

        listener = event.RecordingListener()
        event.register("numba:compile", listener)
    before = _signatures()
    try:
        yield
    finally:
        if listener is not None:
            from numba.core import event

            event.unregister("numba:compile", listener)
            events = [e for e in listener.buffer if e[1].is_start]
    after = _signatures()
    if events or after != before:
        raise CompiledWhileTimed(
            f"{what}: {len(events)} Numba compilation(s) and {after - before} new "
            "compiled signature(s) inside the timed region; warm the kernels up "
            "before the clock starts"
        )


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
