"""The sweep engine's populations: runs of one workload trained as one computation.

A sweep's or comparison's runs that differ only in hyperparameters (``lr``,
``hyper``, the schedule and its warm-up, ``l2``) and seeds train together as one
population (:func:`gdlab.population.fit_population`) in chunks of at most
:data:`MOST` runs (fewer where their parameters would pass
:data:`MOST_ELEMENTS`). Each member comes back as its own
:class:`~gdlab.lab.sweep.store.FinishedRun`, the same record a run alone gives
(:func:`gdlab.lab.sweep.worker.execute_run`), with the same history and
metrics; its ``seconds`` is its share of the population's time. The store
records each member as its own run when its chunk ends, so a kill loses at most
the chunk in training, and a resumed sweep trains only the runs it lacks.

With worker processes (``backend="local"``, ``workers > 1``) each workload's runs
are cut in at least one chunk per process, and a chunk travels to a worker as one
key, the JSON list of its runs' keys (:func:`in_chunks`); it comes back as its
members' records, recorded one by one. Ray tasks train the same chunks,
one a task. A chunk that fails counts as the failure of each of its runs
(:func:`keys_in`).

Runs that cannot train as a population (another model or optimizer kind, see
:func:`gdlab.population.unsupported`) and groups of one train alone, as before.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence

from gdlab.data import Dataset
from gdlab.experiment import RunSpec, build
from gdlab.lab.sweep import datacache
from gdlab.lab.sweep.store import FinishedRun, RunOptions, now
from gdlab.lab.sweep.worker import execute_run, finished, lambda_max
from gdlab.lab.threads import one_blas_thread
from gdlab.population import fit_population, unsupported

MOST = 64
"""The most runs in one population."""
MOST_ELEMENTS = 8 * 2**20
"""The most parameters (over all members) in one population: with gradients and
two state arrays, 256 MiB in float64."""
FREE = ("lr", "hyper", "seed", "schedule", "schedule_args", "warmup_epochs", "l2")
"""The RunSpec fields in which a population's members may differ."""


def workload(key: str) -> str:
    """What runs of one population share: the key without the :data:`FREE` fields."""
    values = json.loads(key)
    return json.dumps(
        {k: v for k, v in values.items() if k not in FREE}, sort_keys=True
    )


def groups(keys: Sequence[str]) -> list[list[str]]:
    """``keys`` in groups of one workload, in the order of their first key."""
    found: dict[str, list[str]] = {}
    for key in keys:
        found.setdefault(workload(key), []).append(key)
    return list(found.values())


def chunks(keys: Sequence[str], size: int, parts: int = 1) -> list[list[str]]:
    """``keys`` in chunks for populations of ``size`` parameters each: at most
    :data:`MOST` runs and :data:`MOST_ELEMENTS` parameters, and at least ``parts``
    chunks when there are as many keys (one per process), of even sizes."""
    most = max(1, min(MOST, MOST_ELEMENTS // max(size, 1)))
    count = max(math.ceil(len(keys) / most), min(parts, len(keys)))
    if not keys:
        return []
    bounds = [round(i * len(keys) / count) for i in range(count + 1)]
    return [list(keys[a:b]) for a, b in itertools.pairwise(bounds)]


def execute_population(
    keys: Sequence[str], options: RunOptions, dataset: Dataset
) -> list[FinishedRun]:
    """Train the runs ``keys`` (of one workload) as one population, or alone
    where they cannot; one record per key, as :func:`~.worker.execute_run`
    gives."""
    specs = [RunSpec.from_dict(json.loads(k)) for k in keys]
    started_at = now()
    with one_blas_thread():
        runs = [build(s, dataset) for s in specs]
        if len(runs) < 2 or any(
            unsupported(r.model, r.optimizer, r.spec.train) for r in runs
        ):
            return [execute_run(k, options, dataset) for k in keys]
        started = time.perf_counter()
        histories = fit_population(
            [r.own_model for r in runs],  # unsupported() said each is gdlab's
            [r.optimizer for r in runs],
            dataset,
            [s.train for s in specs],
        )
        seconds = (time.perf_counter() - started) / len(runs)  # warm-up included
        return [
            finished(key, h, seconds, lambda_max(r, dataset, h, options), started_at)
            for key, r, h in zip(keys, runs, histories, strict=True)
        ]


def execute_chunk(
    key: str, options: RunOptions, dataset: Dataset | None = None
) -> tuple[FinishedRun, ...]:
    """:func:`execute_population` of the keys in ``key`` (a JSON list of run keys,
    as :func:`in_chunks` makes them), where a worker process calls it."""
    keys = json.loads(key)
    if dataset is None:
        dataset = datacache.load(RunSpec.from_dict(json.loads(keys[0])))
    return tuple(execute_population(keys, options, dataset))


def in_chunks(todo: Mapping[str, Dataset], parts: int) -> dict[str, Dataset]:
    """``todo`` (key -> its data) with the runs of each workload in at least
    ``parts`` chunks (one per process), each chunk of two or more runs one key:
    the JSON list of its runs' keys, which :func:`~.worker.execute` trains as one
    population."""
    out: dict[str, Dataset] = {}
    for group in groups(list(todo)):
        dataset = todo[group[0]]
        for chunk in chunks(group, _parameters(group[0], dataset), parts):
            key = chunk[0] if len(chunk) == 1 else json.dumps(chunk)
            out[key] = dataset
    return out


def keys_in(key: str) -> list[str]:
    """The keys of the runs that ``key`` trains: a chunk's (a JSON list of keys, as
    :func:`in_chunks` makes them), or ``key`` itself for a run alone."""
    return list(json.loads(key)) if key.startswith("[") else [key]


def run_here(
    todo: Mapping[str, Dataset],
    options: RunOptions,
    record: Callable[[Sequence[FinishedRun]], None],
) -> None:
    """Train every run of ``todo`` (key -> its data) in this process, those of one
    workload as populations; ``record`` each result as its population ends."""
    for group in groups(list(todo)):
        dataset = todo[group[0]]
        size = _parameters(group[0], dataset)
        for chunk in chunks(group, size):
            record(execute_population(chunk, options, dataset))


def _parameters(key: str, dataset: Dataset) -> int:
    from gdlab.experiment import build_model

    model = build_model(RunSpec.from_dict(json.loads(key)), dataset)
    return sum(int(p.size) for p in model.params.values())


__all__ = [
    "FREE",
    "MOST",
    "MOST_ELEMENTS",
    "chunks",
    "execute_chunk",
    "execute_population",
    "groups",
    "in_chunks",
    "keys_in",
    "run_here",
    "workload",
]
