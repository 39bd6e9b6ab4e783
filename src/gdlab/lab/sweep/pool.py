"""The local processes that train a command's runs: how many, started once, and
never slower than this process alone.

**How many**: ``workers`` is a most, not a must (default: one per core); one
process (this one) trains the runs unless they hold enough arithmetic to pay for
starting others, by a rule on the work of the
runs, ``W = Σ parameters × samples seen`` (samples seen = steps × batch size):
processes when ``W ≥`` :data:`PARALLEL_WORK`, about 5 s of one core's training
(gdlab's MLPs train at about 2·10⁹ parameter-samples per second on one core; a
spawned worker costs 1–3 s of a core to start: importing, loading its data and
kernels). The digits comparison of 22 runs of the 64-100-10 MLP for 20 epochs is
``W ≈ 4.3·10⁹``: one process; 8 runs of 64-64-10 for 300 epochs (``W ≈ 1.5·10¹⁰``,
which ``benchmarks/bench_sweep.py`` trains 1.5× faster on 2 processes) and
Fashion-MNIST sweeps of the 784-100-10 MLP (``W ≈ 4.3·10⁹`` per run and epoch)
from three run-epochs on are over it.

**Started once** (:class:`Workers`): a comparison trains its trials, then its
reruns, on the same warm processes; they start in the background as soon as the
command knows it needs them, while this process checks and loads.

**Never slower**: this process trains runs too, from the same queue, while the
workers start; at the end it takes over the runs no worker has begun (and, while
no worker has come up yet, those queued to one). With ``workers=N`` there are
``N - 1`` spawned processes beside this one. So a pool that starts slowly (a
loaded machine) costs at most the duplicated tail, never the wait.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from gdlab import _checks, plugins
from gdlab.data import Dataset
from gdlab.experiment import RunSpec, build_model
from gdlab.lab.sweep.populations import keys_in
from gdlab.lab.sweep.store import FinishedRun, RunOptions
from gdlab.lab.sweep.worker import execute, init_worker, ready

PARALLEL_WORK = 1e10
"""Parameter-samples (Σ parameters × samples seen) from which the runs train on
several processes: about 5 s of one core's training."""

PARALLEL_WORK_ENV = "GDLAB_PARALLEL_WORK"
"""The environment variable that sets another threshold (0: processes whenever
``workers`` allows, as the tests of the worker processes need)."""


def parallel_work() -> float:
    """:data:`PARALLEL_WORK`, or the number in ``$GDLAB_PARALLEL_WORK``."""
    given = os.environ.get(PARALLEL_WORK_ENV)
    if given is None:
        return PARALLEL_WORK
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not value >= 0 or math.isinf(value):
        raise ValueError(
            f"sweep: ${PARALLEL_WORK_ENV} must be a number >= 0, got {given!r}"
        )
    return value


SHIPPED_BYTES = 32 * 2**20
"""Data up to this size travels to the workers with each run (pickled: about a
millisecond a megabyte); larger data each worker loads once itself."""


def work(
    specs: Sequence[RunSpec], datasets: Mapping[tuple[Any, ...], Dataset]
) -> float:
    """``Σ parameters × samples seen`` over ``specs`` (their data in ``datasets``,
    keyed by :func:`~gdlab.lab.sweep.grid.source`)."""
    from gdlab.lab.sweep.grid import source

    sizes: dict[tuple[Any, ...], int] = {}
    total = 0.0
    for spec in specs:
        dataset = datasets[source(spec)]
        shape = (spec.model, source(spec))
        if shape not in sizes:
            model = build_model(spec, dataset)
            sizes[shape] = sum(int(p.size) for p in model.params.values())
        batch = spec.train.batch_size
        per_step = dataset.n_train if batch == "full" else min(batch, dataset.n_train)
        seen = spec.train.total_steps(dataset.n_train) * per_step
        total += sizes[shape] * seen
    return total


def default_workers(
    specs: Sequence[RunSpec],
    datasets: Mapping[tuple[Any, ...], Dataset],
    most: int | None = None,
) -> int:
    """How many processes train ``specs`` fastest, at most ``most`` (default: one
    per core): 1 (this process) under :data:`PARALLEL_WORK`, else one per run up
    to ``most``."""
    if not specs or work(specs, datasets) < parallel_work():
        return 1
    return max(1, min(most or os.cpu_count() or 1, len(specs)))


class Workers:
    """``count - 1`` spawned processes beside this one, started by :meth:`start`
    (in the background) and kept warm until :meth:`close`; a context manager."""

    def __init__(self, count: int, plugins: Sequence[str] | None = None) -> None:
        self.count = _checks.integer("Workers", "count", count, low=1)
        self.plugins = plugins
        """The plugins each worker imports before anything else (None: those of
        ``$GDLAB_PLUGINS`` when the workers start, which ``--plugin`` fills)."""
        self._pool: ProcessPoolExecutor | None = None
        self._ready: list[Future[int]] = []
        self._sent: list[Future[tuple[FinishedRun, ...]]] = []

    def __enter__(self) -> Workers:
        """The workers, stopped at the end of the ``with`` block."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def spawned(self) -> int:
        """The processes started besides this one."""
        return self.count - 1

    def start(self) -> None:
        """Spawn the workers now (they import gdlab while this process goes on)."""
        if self._pool is not None or self.spawned < 1:
            return
        self._pool = ProcessPoolExecutor(
            max_workers=self.spawned,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(
                os.getpid(),
                plugins.listed() if self.plugins is None else list(self.plugins),
            ),
        )
        self._ready = [self._pool.submit(ready) for _ in range(self.spawned)]

    def up(self) -> bool:
        """Whether every worker has started (and answered)."""
        return all(f.done() for f in self._ready)

    def submit(self, *args: Any) -> Future[tuple[FinishedRun, ...]]:
        """Train a run (or a population's chunk) on a worker: ``args`` as
        :func:`~.worker.execute` takes; its records come back."""
        self.start()
        assert self._pool is not None
        future = self._pool.submit(execute, *args)
        self._sent = [f for f in self._sent if not f.done()] + [future]
        return future

    def close(self) -> None:
        """Stop the workers; one still training a run nobody waits for (this
        process took it over) is killed rather than awaited."""
        if self._pool is None:
            return
        busy = any(not f.done() for f in self._sent)
        pids = [f.result() for f in self._ready if f.done() and not f.exception()]
        self._pool.shutdown(wait=not busy, cancel_futures=True)
        if busy:
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
        self._pool = None
        self._ready = []
        self._sent = []


def run(
    todo: Mapping[str, Dataset],
    options: RunOptions,
    workers: Workers,
    record: Callable[[Sequence[FinishedRun]], None],
) -> list[BaseException]:
    """Train every run of ``todo`` (key -> its data) on this process and
    ``workers``; ``record`` each result as it comes; return the errors of runs that
    failed (a dead worker's too; a failed chunk's error once per run in it)."""
    queue = list(todo)
    pending: dict[Future[tuple[FinishedRun, ...]], str] = {}
    done: set[str] = set()
    errors: list[BaseException] = []
    ahead = 2 * workers.spawned  # one training and one waiting on each worker

    broken: list[BaseException] = []

    def collect(future: Future[tuple[FinishedRun, ...]]) -> None:
        key = pending.pop(future)
        if key in done or future.cancelled():
            return
        try:
            result = future.result()
        except BrokenProcessPool as error:  # a worker died: the sweep stops
            broken.append(error)
            return
        except Exception as error:  # the run raised
            errors.extend([error] * len(keys_in(key)))  # each run of a chunk
            done.add(key)
            return
        done.add(key)
        record(result)  # the runs of a chunk

    def here(key: str) -> None:
        try:
            result = execute(key, options, todo[key])
        except Exception as error:  # as a worker's: the sweep reports it
            errors.extend([error] * len(keys_in(key)))
            done.add(key)
            return
        done.add(key)
        record(result)

    while len(done) < len(todo) and not broken:
        for future in [f for f in pending if f.done()]:
            collect(future)
        if broken:
            break
        while queue and len(pending) < ahead:
            key = queue.pop(0)
            dataset = todo[key]
            shipped = dataset if _nbytes(dataset) <= SHIPPED_BYTES else None
            try:
                pending[workers.submit(key, options, shipped)] = key
            except BrokenProcessPool as error:
                broken.append(error)
                break
        if broken:
            break
        if queue:
            here(queue.pop())
            continue
        # the tail: a run no worker has begun is cancelled there and trained
        # here; while no worker is up, one queued to a worker too (the first
        # result counts, the worker's is dropped)
        open_ = [f for f in pending if not f.done() and pending[f] not in done]
        for future in reversed(open_):
            if future.cancel():
                here(pending.pop(future))
                break
        else:
            if open_ and not workers.up():
                here(pending[open_[-1]])
            elif pending:
                wait(list(pending), return_when=FIRST_COMPLETED)
    return broken[:1] + errors


def _nbytes(dataset: Dataset) -> int:
    arrays = [getattr(dataset, f.name) for f in dataclasses.fields(dataset)]
    return sum(int(a.nbytes) for a in arrays if isinstance(a, np.ndarray))


__all__ = [
    "PARALLEL_WORK",
    "PARALLEL_WORK_ENV",
    "SHIPPED_BYTES",
    "Workers",
    "default_workers",
    "parallel_work",
    "run",
    "work",
]
