"""One run of a sweep, wherever it executes: in this process, a worker process or
a Ray task.

**One BLAS thread per run**, wherever it runs (:mod:`gdlab.lab.threads` says
why): a stored history is bit-identical to ``fit()`` of the same spec under
``threadpoolctl.threadpool_limits(1)``.

Worker processes watch their parent and exit when it dies. The functions here are
what the pool and Ray call, by their module path: they must stay importable
top-level functions. What they return is one :class:`~.store.FinishedRun` record
per run (a population's chunk has several), checked where it was made; records
pickle to the parent process and through Ray as they are.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import importlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from gdlab import plugins
from gdlab.data import Dataset
from gdlab.experiment import Run, RunSpec, build
from gdlab.lab.sweep import datacache
from gdlab.lab.sweep.store import FinishedRun, RunOptions, now
from gdlab.lab.threads import one_blas_thread
from gdlab.results import RunMetrics
from gdlab.train import History, fit

_LIMITS: list[Any] = []


def _dataset(spec: RunSpec) -> Dataset:
    """The run's data, loaded once per process (while its files are unchanged)."""
    return datacache.load(spec)


def _one_thread() -> None:
    """One BLAS (and Numba) thread in this process, so workers share the cores."""
    if not _LIMITS:
        _LIMITS.append(one_blas_thread())
        import numba

        numba.set_num_threads(1)


def _watch_parent(parent: int) -> None:
    """Exit when the parent dies (its orphans would otherwise wait forever)."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)


def ready() -> int:
    """A worker's first task: it has started (imported gdlab); its process id."""
    return os.getpid()


def init_worker(parent: int, loaded: Sequence[str] = ()) -> None:
    """Set up a pool's worker process: one BLAS thread, the plugins the parent
    ``loaded`` (models, datasets, optimizers its runs name) imported before any
    run is built, and exit with the parent. Its end skips the interpreter's last
    garbage collections, which the pool's close waited for (0.15 s, measured), as
    the ``gdlab`` command's own end does."""
    atexit.register(gc.freeze)
    _one_thread()
    plugins.load_all(loaded)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def metrics(
    history: History, seconds: float, lambda_max: float | None = None
) -> RunMetrics:
    """A run's numbers for the store. A diverged run's last evaluation is from
    before its parameters went bad: its final numbers are None (not measurable),
    never averaged in."""
    epochs = history.epochs
    last = epochs[-1] if epochs and not history.diverged else {}
    accs = [float(a) for e in epochs if (a := e.get("val_acc")) is not None]
    return RunMetrics(
        final_train_loss=last.get("train_loss"),
        final_train_acc=last.get("train_acc"),
        final_val_loss=last.get("val_loss"),
        final_val_acc=last.get("val_acc"),
        best_val_acc=max(accs) if accs and not history.diverged else None,
        final_test_loss=last.get("test_loss"),
        final_test_acc=last.get("test_acc"),
        diverged=bool(history.diverged),
        steps=len(history.steps),
        seconds=seconds,
        lambda_max=lambda_max,
    )


def finished(
    key: str,
    history: History,
    seconds: float,
    lambda_max: float | None,
    started_at: str,
) -> FinishedRun:
    """The record of the run ``key`` trained here (this host and process)."""
    return FinishedRun(
        key=key,
        metrics=metrics(history, seconds, lambda_max),
        history=history.to_dict(),
        message=history.message,
        started_at=started_at,
        host=socket.gethostname(),
        pid=os.getpid(),
    )


def execute(
    key: str, options: RunOptions, dataset: Dataset | None = None
) -> tuple[FinishedRun, ...]:
    """What every worker calls: train the run whose key is ``key``, or, for a key
    that is a JSON list of keys, a population's runs (see :mod:`.populations`),
    on ``dataset`` (default: their data, loaded once per process); one record
    per run, for the store."""
    if key.startswith("["):  # a population's keys (see .populations)
        from gdlab.lab.sweep.populations import execute_chunk

        return execute_chunk(key, options, dataset)
    return (execute_run(key, options, dataset),)


def execute_run(
    key: str, options: RunOptions, dataset: Dataset | None = None
) -> FinishedRun:
    """Train the run whose key is ``key`` on ``dataset`` (default: its data, loaded
    once per process), and measure its sharpness if ``options`` ask."""
    spec = RunSpec.from_dict(json.loads(key))
    dataset = _dataset(spec) if dataset is None else dataset
    started_at = now()
    with one_blas_thread():
        run = build(spec, dataset)
        run.optimizer.warm_up()  # a first run's compilation is no part of its time
        started = time.perf_counter()
        history = fit(run.model, run.optimizer, dataset, spec.train, progress=False)
        seconds = time.perf_counter() - started
        lam = lambda_max(run, dataset, history, options)
    return finished(key, history, seconds, lam, started_at)


def lambda_max(
    run: Run, dataset: Dataset, history: History, options: RunOptions
) -> float | None:
    """The trained model's sharpness when ``options`` ask for it (None for a run
    that diverged, or a value that is not finite)."""
    from gdlab.lab.sharpness import sharpness

    if not options.sharpness or history.diverged:
        return None
    lam = sharpness(
        run.own_model,
        dataset.X_train,
        dataset.y_train,
        samples=options.sharpness_samples,
    )
    return lam if math.isfinite(lam) else None


def execute_in_ray(
    key: str, options: RunOptions, dataset: Dataset, loaded: Sequence[str] = ()
) -> tuple[FinishedRun, ...]:
    """A Ray task: ``dataset`` comes from the object store (Ray resolves the
    ObjectRef the driver passed), so the node needs no data files; the plugins
    the driver ``loaded`` (module names, or ``.py`` paths that must exist on the
    node) are imported before the run is built. Each record names the node."""
    _one_thread()
    plugins.load_all(loaded)
    ray = importlib.import_module("ray")  # installed: this runs on a Ray node
    node = ray.get_runtime_context().get_node_id()
    return tuple(
        dataclasses.replace(one, ray_node_id=node)
        for one in execute(key, options, dataset)
    )
