"""Running a sweep: a :class:`Sweep` plan, checked when made; :func:`prepare`
checks it against its data and its store and claims its folder once; what is
missing from the store trains, on the chosen backend, with a progress line per
finished run; errors become one :class:`SweepError`."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from gdlab import _checks, outputs
from gdlab.data import Dataset
from gdlab.experiment import RunSpec
from gdlab.lab.sharpness import DEFAULT_SAMPLES
from gdlab.lab.sweep import datacache
from gdlab.lab.sweep.backends import (
    BACKENDS,
    SweepError,
    import_ray,
    run_local,
    run_ray,
)
from gdlab.lab.sweep.grid import expand, plain, source, spec_key, validate
from gdlab.lab.sweep.inputs import Inputs, check_same_inputs, inputs
from gdlab.lab.sweep.pool import Workers, default_workers, parallel_work
from gdlab.lab.sweep.store import (
    FORMAT,
    VERSION,
    FinishedRun,
    Folder,
    RunOptions,
    Store,
    StoredRun,
    check_own_files,
    check_same_sweep,
    now,
    open_for_writing,
)
from gdlab.lab.sweep.summary import SweepResult, write_report
from gdlab.records import Constraint, Record, flag
from gdlab.results import RunMetrics

STORE = "sweep.db"
"""The SQLite file of a sweep in its output folder."""


def _base(owner: str, name: str, value: object) -> RunSpec:
    if isinstance(value, Mapping):
        return RunSpec.from_dict(value)
    if not isinstance(value, RunSpec):
        _checks.fail(owner, name, "a RunSpec", value)
    return value


@dataclass(frozen=True)
class Sweep(Record):
    """What a sweep computes, checked when made: every run of ``grid`` over
    ``base``.

    Fields:
        base: the spec every run starts from.
        grid: RunSpec field -> non-empty list of distinct values, e.g.
            ``{"optimizer": ["sgd", "adam"], "lr": [1e-3, 1e-2], "seed": [0, 1]}``;
            the runs are every combination, the first field varying slowest.
        sharpness: also measure λmax of the training loss at the final weights.
        sharpness_samples: how many (first) training samples λmax is taken on.

    Example::

        plan = Sweep(base, {"optimizer": ["sgd", "adam"], "seed": [0, 1, 2]})
        result = sweep.run(plan, out="runs/sweep", workers=2)
    """

    base: RunSpec
    grid: Mapping[str, Sequence[Any]]
    sharpness: bool = False
    sharpness_samples: int = DEFAULT_SAMPLES

    constraints: ClassVar[dict[str, Constraint]] = {
        "base": _base,
        "sharpness": flag,
        "sharpness_samples": lambda owner, name, value: _checks.integer(
            "sweep", name, value, low=1
        ),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        specs = expand(self.base, self.grid)  # the field names and their values
        object.__setattr__(self, "grid", {k: tuple(v) for k, v in self.grid.items()})
        object.__setattr__(self, "_specs", specs)

    def to_dict(self) -> dict[str, Any]:
        """The plain form: the base spec's own, each grid axis a list."""
        return {
            "base": self.base.to_dict(),
            "grid": {k: plain(list(v)) for k, v in self.grid.items()},
            **self.options.to_dict(),
        }

    @property
    def specs(self) -> list[RunSpec]:
        """Every run of the grid, numbers normalized (see :func:`.grid.expand`)."""
        return list(self._specs)  # type: ignore[attr-defined]

    @property
    def options(self) -> RunOptions:
        """What each run does besides training, as the store records it."""
        return RunOptions(self.sharpness, self.sharpness_samples)


class SweepReady:
    """A :class:`Sweep` ready to run (see :func:`prepare`): every run built once,
    its data loaded, the store in ``out`` checked, ``out`` claimed."""

    def __init__(
        self,
        plan: Sweep,
        out: Folder,
        workers: int | None = None,
        backend: str = "local",
    ) -> None:
        if not isinstance(plan, Sweep):
            _checks.fail("sweep", "plan", "a Sweep", plan)
        if not isinstance(out, str | os.PathLike) or not os.fspath(out):
            _checks.fail("sweep", "out", "a folder", out)
        self.plan, self.workers, self.backend = plan, workers, backend
        with outputs.claiming(out, "sweep") as folder:
            self.datasets = check_specs(
                plan.base,
                plan.specs,
                folder / STORE,
                axes=list(plan.grid),
                options=plan.options,
                workers=workers,
                backend=backend,
            )
        self.store = folder / STORE

    def run(
        self, *, progress: bool = True, report: bool = True, command: str | None = None
    ) -> SweepResult:
        """Train every run the store does not hold yet; with ``report``, write
        ``results.csv``, ``summary.csv``, the PNGs and ``report.html`` beside it.
        ``progress``: print a line per finished run."""
        _checks.flag("sweep", "progress", progress)
        _checks.flag("sweep", "report", report)
        plan, specs = self.plan, self.plan.specs
        axes = list(plan.grid)
        values = [s.to_dict() for s in specs]
        shown = [a for a in axes if len({json.dumps(plain(v[a])) for v in values}) > 1]
        stored, done_before, errors = run_specs(
            plan.base,
            specs,
            self.store,
            axes=axes,
            options=plan.options,
            workers=self.workers,
            backend=self.backend,
            progress=progress,
            shown=shown,
            datasets=self.datasets,
        )
        result = SweepResult(
            self.store,
            plan.base,
            axes,
            specs,
            stored,
            done_before,
            len(stored) - done_before,
            plan.sharpness,
        )
        if report and not errors:
            result.report = write_report(self.store, command=command)
        raise_for(errors, stored, len(result.specs), self.store)
        return result


def prepare(
    plan: Sweep, *, out: Folder, workers: int | None = None, backend: str = "local"
) -> SweepReady:
    """Everything :func:`run` checks before anything trains, as a step of its own
    (a command hands it what its user typed): the options, every run built once
    (its data loaded), and a store in ``out`` that holds no other sweep and no
    damaged run; then ``out`` is claimed for the sweep (a refused one is left as
    it was)."""
    return SweepReady(plan, out, workers, backend)


def run(
    plan: Sweep,
    *,
    out: Folder,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    report: bool = True,
    command: str | None = None,
) -> SweepResult:
    """Train every run of ``plan`` that the store in ``out`` does not hold yet.

    Args:
        plan: a :class:`Sweep`.
        out: the sweep's folder (created if missing): its store ``sweep.db`` and
            its report; a folder holding runs of the same sweep is resumed.
        workers: the most processes (``"local"``, this one included: fewer where
            the runs are too small to pay for starting them, see :mod:`.pool`;
            default: one per core) or local Ray CPUs (default: all cores); 1
            trains in this process. A cluster
            (``RAY_ADDRESS``) runs one run per CPU it has.
        backend: ``"local"`` or ``"ray"`` (``pip install 'gdlab[cluster]'``).
        progress: print a line per finished run.
        report: write ``results.csv``, ``summary.csv``, the PNGs and
            ``report.html`` next to the store when done.
        command: the command line shown in the report.

    Raises:
        ValueError: bad options or runs (before anything trains), a store of
            another sweep, a store another sweep is writing, or Ray missing.
        SweepError: runs failed or a worker died; finished runs are stored.
    """
    _checks.flag("sweep", "progress", progress)
    _checks.flag("sweep", "report", report)
    ready = prepare(plan, out=out, workers=workers, backend=backend)
    return ready.run(progress=progress, report=report, command=command)


def run_specs(
    base: RunSpec,
    specs: Sequence[RunSpec],
    store: Folder,
    *,
    axes: Sequence[str],
    options: RunOptions | None = None,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    shown: Sequence[str] | None = None,
    datasets: Mapping[tuple[Any, ...], Dataset] | None = None,
    pool: Workers | None = None,
) -> tuple[list[StoredRun], int, list[BaseException]]:
    """The engine of sweeps and comparisons: train every spec of ``specs`` (runs of
    ``base`` with the fields ``axes`` varied) that ``store`` does not hold yet.

    Returns the stored runs in the order of ``specs``, how many were done before,
    and the errors of runs that failed (see :func:`run`; the caller raises them).
    ``datasets`` are data already loaded by :func:`validate`: the runs are then not
    checked once more, and train on these very datasets (Ray ships them to the
    nodes). ``pool``: warm local workers (:class:`~.pool.Workers`) shared with
    other calls, as a comparison's trials and reruns share them.
    """
    path = _path(store)
    options = RunOptions() if options is None else options
    datasets = check_specs(
        base,
        specs,
        path,
        axes=axes,
        options=options,
        workers=workers,
        backend=backend,
        progress=progress,
        datasets=datasets,
    )
    keys = list(dict.fromkeys(spec_key(s) for s in specs))
    found = inputs(specs, datasets)
    with open_for_writing(path) as db:
        meta = db.meta()
        recorded = Inputs.from_dict(meta.get("inputs", {}))  # checked by the store
        if meta:
            check_same_sweep(path, meta, base, axes, options)
            check_same_inputs(path, recorded, found)
            known = list(dict.fromkeys([*meta.get("axes", []), *axes]))
        else:
            known = list(axes)
        db.set_meta(
            {
                "format": FORMAT,
                "version": VERSION,
                "base": plain(base.to_dict()) if not meta else meta["base"],
                "axes": known,
                "options": options.to_dict(),
                "inputs": recorded.merged(found).to_dict(),
                "created": meta.get("created", now()),
                "gdlab": _version(),
            }
        )
        by_key = {spec_key(s): s for s in specs}
        finished = db.keys()
        todo = [k for k in keys if k not in finished]
        done_before = len(keys) - len(todo)
        if pool is not None and backend == "local":
            n_workers = pool.count
        elif backend == "ray":
            n_workers = (os.cpu_count() or 1) if workers is None else int(workers)
        else:
            n_workers = default_workers([by_key[k] for k in todo], datasets, workers)
        if progress:
            cluster = os.environ.get("RAY_ADDRESS") if backend == "ray" else None
            where = (
                f" on the Ray cluster at {cluster}"
                if cluster
                else f" on {min(n_workers, len(todo))} workers"
            )
            print(
                f"{len(keys)} runs ({done_before} already done in {path}, "
                f"{len(todo)} to run" + (where if todo else "") + ")",
                flush=True,
            )
        counter = itertools.count(done_before + 1)
        labels = list(axes) if shown is None else list(shown)
        started = time.perf_counter()

        def record(runs: Sequence[FinishedRun]) -> None:
            db.add(runs)
            if not progress:
                return
            for run in runs:
                index = next(counter)
                line = _progress_line(
                    index, len(keys), by_key[run.key], labels, run.metrics
                )
                elapsed = time.perf_counter() - started
                eta = _eta(elapsed, index - done_before, len(keys) - index)
                print(f"{line}  ({eta})", flush=True)

        errors: list[BaseException] = []
        if todo:
            data = {k: datasets[source(by_key[k])] for k in todo}
            count = min(n_workers, len(todo))
            if backend == "local":
                errors = run_local(data, options, count, record, pool)
            else:
                errors = run_ray(data, options, count, record)
        stored = db.runs(keys)
    return stored, done_before, errors


def check_specs(
    base: RunSpec,
    specs: Sequence[RunSpec],
    store: Folder,
    *,
    axes: Sequence[str],
    options: RunOptions | None = None,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    datasets: Mapping[tuple[Any, ...], Dataset] | None = None,
) -> dict[tuple[Any, ...], Dataset]:
    """What :func:`run_specs` checks before anything trains: the options, every run
    built once (:func:`validate`, unless ``datasets`` holds its data already) and a
    ``store`` that holds no other sweep and no damaged run. Returns the datasets of
    the runs."""
    owner = "sweep"
    path = _path(store)
    _checks.flag(owner, "progress", progress)
    if options is not None and not isinstance(options, RunOptions):
        _checks.fail(owner, "options", "a RunOptions (or None)", options)
    backend = _checks.choice(owner, "backend", backend, BACKENDS)
    if workers is not None:
        _checks.integer(owner, "workers", workers, low=1)
    parallel_work()  # a bad $GDLAB_PARALLEL_WORK is refused before anything trains
    if backend == "ray":
        import_ray()
    loaded = dict(validate(specs, axes) if datasets is None else datasets)
    for spec in specs:  # any the caller did not load
        if source(spec) not in loaded:
            loaded[source(spec)] = datacache.load(spec)
    check_own_files(path)  # no link planted as the store or its lock
    if path.is_file():
        with Store(path) as db:
            meta = db.meta()
            db.runs()  # a hand-edited run row is refused now, not after training
        if meta:
            check_same_sweep(
                path, meta, base, axes, RunOptions() if options is None else options
            )
            stored = Inputs.from_dict(meta["inputs"])  # checked by the store
            check_same_inputs(path, stored, inputs(specs, loaded))
    return loaded


def raise_for(
    errors: Sequence[BaseException], stored: Sequence[StoredRun], total: int, path: Path
) -> None:
    """Raise the first of ``errors`` as one :class:`SweepError` that says how many
    of the ``total`` runs are saved in ``path`` and how to continue."""
    if errors:
        first = errors[0]
        what = (
            "a worker process died (killed, or out of memory)"
            if isinstance(first, BrokenProcessPool)
            else f"{len(errors)} runs failed ({type(first).__name__}: {first})"
        )
        raise SweepError(
            f"sweep stopped: {what}; {len(stored)} of {total} runs are saved in "
            f"{path}; run the same command again to continue"
        ) from first


def _path(store: object) -> Path:
    if not isinstance(store, str | os.PathLike):
        _checks.fail("sweep", "store", "a path to a file like sweep.db", store)
    return Path(store)


def _version() -> str:
    import gdlab

    return gdlab.__version__


def _eta(elapsed: float, done: int, left: int) -> str:
    """``"12 s so far, about 30 s left"``: the rate of the runs done this time."""
    so_far = f"{_duration(elapsed)} so far"
    if not left:
        return so_far
    return f"{so_far}, about {_duration(elapsed / done * left)} left"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _progress_line(
    index: int, total: int, spec: RunSpec, shown: Sequence[str], m: RunMetrics
) -> str:
    width = len(str(total))
    values = spec.to_dict()
    what = " ".join(f"{a}={values[a]}" for a in shown) or "run"
    parts = [f"  [{index:>{width}}/{total}] {what}"]
    if m.final_train_loss is not None:
        parts.append(f"train loss {m.final_train_loss:.4f}")
    if m.final_val_acc is not None:
        parts.append(f"val acc {m.final_val_acc:.3f}")
    if m.final_test_acc is not None:
        parts.append(f"test acc {m.final_test_acc:.3f}")
    if m.lambda_max is not None:
        parts.append(f"λmax {m.lambda_max:.3g}")
    if m.diverged:
        parts.append("diverged")
    parts.append(f"{m.seconds:.2f}s")
    return "  ".join(parts)
