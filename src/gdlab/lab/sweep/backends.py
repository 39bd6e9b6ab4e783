"""Where a sweep's runs execute: a local process pool, or Ray tasks.

``backend="local"``: this process and ``workers - 1`` *spawned* processes (fresh
interpreters, no fork of a threaded process; :mod:`.pool` says how they share
the runs); ``workers=1`` trains in this process only. ``backend="ray"``: ``ray.init()``
joins the cluster ``RAY_ADDRESS`` names, or starts a local one with
``num_cpus=workers``. Either way every result comes back to this process and goes
to the caller's ``record`` (which stores it), and the workers run the functions of
:mod:`.worker`, found there by their module path.

**On a Ray cluster** every node needs gdlab installed (and the command's
plugins: module names importable there, ``.py`` files at the same path; each
task imports them before it builds its run), not the data: each data set is put
once in Ray's object store, from which each node fetches it once. A task
trains a chunk of runs as one population, as a local worker does. A run
whose worker or node dies is tried again elsewhere, at most :data:`RAY_RETRIES`
more times; one that fails on every try is an error, like any failed run. If this
process is killed, Ray stops its tasks.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Any

from gdlab import plugins
from gdlab.data import Dataset
from gdlab.experiment import RunSpec
from gdlab.lab.sweep import populations
from gdlab.lab.sweep.grid import describe
from gdlab.lab.sweep.pool import Workers
from gdlab.lab.sweep.pool import run as run_on
from gdlab.lab.sweep.store import FinishedRun, RunOptions
from gdlab.lab.sweep.worker import execute_in_ray

BACKENDS = ("local", "ray")
"""Where a sweep's runs train: local processes, or a Ray cluster."""
RAY_RETRIES = 3
"""How many more times Ray tries a run whose worker or node died (Ray's default,
made explicit); a run that raises is not tried again: it would raise again."""


class SweepError(RuntimeError):
    """A sweep stopped before its end (a worker died, a run raised); every run that
    finished is in the store and running the same sweep again continues it."""


def run_local(
    todo: Mapping[str, Dataset],
    options: RunOptions,
    workers: int,
    record: Callable[[Sequence[FinishedRun]], None],
    pool: Workers | None = None,
) -> list[BaseException]:
    """``todo``: key -> its data, as loaded here (small data travels to the
    workers with each run, larger data each worker loads once); ``pool``: warm
    workers to train on (default: ``workers`` processes, this one included,
    started for these runs only). The runs of one workload train as populations
    (:mod:`.populations`), at least one per process."""
    if pool is None and workers == 1:
        populations.run_here(todo, options, record)
        return []
    chunked = populations.in_chunks(todo, pool.count if pool is not None else workers)
    if pool is not None:
        return run_on(chunked, options, pool, record)
    with Workers(workers) as own:
        own.start()
        return run_on(chunked, options, own, record)


def import_ray() -> Any:
    """Ray, or a ValueError saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ValueError(
            "sweep: backend 'ray' needs Ray, which is not installed: "
            "pip install 'gdlab[cluster]'"
        ) from None


def run_ray(
    todo: Mapping[str, Dataset],
    options: RunOptions,
    workers: int,
    record: Callable[[Sequence[FinishedRun]], None],
) -> list[BaseException]:
    """``todo``: key -> its data, put once in the object store for every node. The
    runs of one workload travel as populations, as to local workers
    (:func:`.populations.in_chunks`: at least one chunk per CPU of the cluster, or
    per worker), a chunk a task."""
    ray = import_ray()
    started = not ray.is_initialized()
    local = started and not os.environ.get("RAY_ADDRESS")
    before = _descendants() if local else set()
    errors: list[BaseException] = []
    try:
        if local:
            ray.init(num_cpus=workers, include_dashboard=False)
        elif started:
            ray.init()  # joins the cluster RAY_ADDRESS names
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(execute_in_ray)
        loaded = plugins.listed()  # each task imports them first
        shipped: dict[int, Any] = {}  # id(dataset) -> its ObjectRef
        tasks: dict[Future[tuple[FinishedRun, ...]], tuple[str, Any]] = {}
        cpus = int(ray.cluster_resources().get("CPU", 0))  # a chunk for each
        for key, dataset in populations.in_chunks(todo, max(workers, cpus)).items():
            if id(dataset) not in shipped:
                shipped[id(dataset)] = ray.put(dataset)
            ref = task.remote(key, options, shipped[id(dataset)], loaded)
            tasks[ref.future()] = (key, ref)
        try:
            # futures, not ray.wait(): 14 ms a call over 10,000 pending tasks
            for future in as_completed(tasks):
                try:
                    result = future.result()
                except ray.exceptions.RayTaskError as error:  # the run raised
                    errors.extend([error] * len(populations.keys_in(tasks[future][0])))
                    continue
                except ray.exceptions.RayError as error:  # lost on every try
                    keys = populations.keys_in(tasks[future][0])
                    errors.extend(_lost(key, error) for key in keys)
                    continue
                record(result)  # the runs of a chunk
        except BaseException:
            for future, (_, ref) in tasks.items():
                if not future.done():
                    ray.cancel(ref, force=True)
            raise
    finally:
        if started:
            ray.shutdown()
        if local:  # what ray.shutdown() missed: see _descendants
            for pid in _descendants() - before:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    return errors


def _lost(key: str, error: BaseException) -> SweepError:
    spec = RunSpec.from_dict(json.loads(key))
    lost = SweepError(
        f"run {describe(spec)} failed on Ray ({type(error).__name__}: {error}); "
        f"a run whose worker or node dies is tried {1 + RAY_RETRIES} times"
    )
    lost.__cause__ = error
    return lost


def _descendants() -> set[int]:
    """The ids of this process's descendants (read from /proc; none elsewhere).

    A SIGTERM while ``ray.init()`` starts the local instance is a SystemExit (Ray's
    handler) before Ray has recorded its processes, so ``ray.shutdown()`` cannot stop
    them and the raylet's agents linger for a minute: the processes that appeared
    while the sweep's own Ray instance ran are killed after it.
    """
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [os.getpid()]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.add(pid)
            todo.append(pid)
    return found
