"""Hyperparameter sweeps: a grid of training runs, results in SQLite, resumable.

::

    from gdlab.experiment import RunSpec
    from gdlab.lab import sweep
    from gdlab.train import TrainConfig

    base = RunSpec(data="digits", model="mlp:64-32-10", train=TrainConfig(epochs=5))
    grid = {"optimizer": ["sgd", "adam"], "lr": [1e-3, 1e-2, 1e-1],
            "batch_size": [32, 256], "seed": [0, 1, 2]}
    result = sweep.run(base, grid, store="runs/sweep/sweep.db", workers=2)
    result.rows()        # one dict per run: its grid values and its metrics

The grid is the cartesian product of the listed values of :class:`RunSpec` fields,
applied to ``base``. Each run's key is the canonical JSON of its whole spec, so the
same run is recognized whatever grid produced it.

**One writer, one transaction per run.** Runs execute in worker processes
(``backend="local"``: a :class:`~concurrent.futures.ProcessPoolExecutor` of
``workers`` processes, each limited to one BLAS thread; ``workers=1`` trains in this
process) or as Ray tasks (``backend="ray"``: ``ray.init()`` joins the cluster
``RAY_ADDRESS`` names, or starts a local one with ``num_cpus=workers``). Results come
back to this process, which alone writes the SQLite file (WAL mode), each finished
run in its own committed transaction, with the host, process and Ray node that ran
it. A crash, Ctrl-C or SIGKILL of this process or
of a worker loses no finished run, and running the same sweep again skips every
finished key and trains only the rest: "resume exactly" — the numbers are those of
an uninterrupted sweep, since every run depends on its spec alone.

**One BLAS thread per run**, wherever it runs: in a worker, in this process
(``workers=1``) or on Ray. Workers then share the cores without oversubscribing
them, and — as important — OpenBLAS's matrix products change in their last bits
with the thread count (a float32 1437x64 by 64x16 product differs by 8e-6 between
one and two threads), so a run's numbers would otherwise depend on where it ran. A
stored history is bit-identical to ``fit()`` of the same spec under
``threadpoolctl.threadpool_limits(1)``.

The store records the sweep's base spec and options; a later sweep into the same
store must share them (fields that are grid axes excepted), or it is refused with
what differs. New grid values are welcome: only the new runs train.

With ``sharpness=True`` each run ends with :func:`gdlab.lab.sharpness.sharpness`:
λmax of the Hessian of the training loss at the final weights on the first
``sharpness_samples`` training samples (Keskar et al., 2017).

Worker processes are *spawned* (fresh interpreters, no fork of a threaded
process), so a script that calls :func:`run` with ``workers > 1`` must guard its
top level with ``if __name__ == "__main__":``.

**On a Ray cluster** every node needs gdlab installed, not the data: this process
loads each data set once (it checks every run with it before anything trains) and
puts it in Ray's object store, from which each node fetches it once. A run whose
worker or node dies is tried again elsewhere, at most :data:`RAY_RETRIES` more
times; one that fails on every try stops the sweep with its error, like any failed
run. If this process is killed, Ray stops its tasks; running the sweep again
continues it. ``docs/design/scale.md`` says what limits a sweep of 10,000 runs.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import math
import multiprocessing
import os
import signal
import socket
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gdlab import _checks, _display
from gdlab.data import Dataset
from gdlab.experiment import FIELDS, RunSpec, build, load_data
from gdlab.lab.sharpness import DEFAULT_SAMPLES
from gdlab.train import History, fit

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMAT = "gdlab-sweep"
VERSION = 3
"""Version 3 added the column ``ray_node_id``."""
BACKENDS = ("local", "ray")
RAY_RETRIES = 3
"""How many more times Ray tries a run whose worker or node died (Ray's default,
made explicit); a run that raises is not tried again: it would raise again."""
METRICS = (
    "final_train_loss",
    "final_train_acc",
    "final_val_loss",
    "final_val_acc",
    "best_val_acc",
    "final_test_loss",
    "final_test_acc",
    "diverged",
    "steps",
    "seconds",
    "lambda_max",
)
"""The numbers stored for every run: the last evaluation's, the best validation
accuracy (an epoch chosen on validation data, never on the test set), how it
ended; test numbers are None for runs with ``evaluate_test=False``,
``lambda_max`` unless measured."""
SELECTABLE = ("final_val_acc", "final_val_loss", "best_val_acc", "final_train_loss")

_FLOAT_FIELDS = ("lr", "l2", "warmup_epochs", "clip_grad_norm")
_INT_FIELDS = ("seed", "epochs", "iterations")

Folder = str | os.PathLike[str]


class SweepError(RuntimeError):
    """A sweep stopped before its end (a worker died, a run raised); every run that
    finished is in the store and running the same sweep again continues it."""


# --- the grid ------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as JSON sees it (tuples become lists)."""
    return json.loads(json.dumps(value))


def normalized(spec: RunSpec) -> RunSpec:
    """Numbers in the type their field holds, so that ``lr=1`` and ``lr=1.0`` are
    one run; anything else is left for the checks of :func:`build`."""
    changes: dict[str, Any] = {}
    values = spec.to_dict()
    for name in (*_FLOAT_FIELDS, *_INT_FIELDS, "batch_size"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if name in _FLOAT_FIELDS:
            changes[name] = float(value)
        elif float(value).is_integer():
            changes[name] = int(value)
    return spec.replace(**changes) if changes else spec


def spec_key(spec: RunSpec) -> str:
    """The run's key: the canonical JSON of its whole spec (sorted, compact)."""
    return json.dumps(
        normalized(spec).to_dict(),
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )


def _axes(grid: object) -> dict[str, list[Any]]:
    owner = "sweep"
    if not isinstance(grid, Mapping):
        _checks.fail(owner, "grid", "a mapping field -> list of values", grid)
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if name not in FIELDS:
            raise ValueError(
                f"sweep: unknown grid field {name!r}; RunSpec's fields are "
                + ", ".join(FIELDS)
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            _checks.fail(owner, f"grid[{name!r}]", "a list of values", values)
        if not values:
            _checks.fail(owner, f"grid[{name!r}]", "a non-empty list", list(values))
        texts = [json.dumps(plain(v), sort_keys=True) for v in values]
        if len(set(texts)) != len(texts):
            _checks.fail(owner, f"grid[{name!r}]", "distinct values", list(values))
        if name == "lr":
            for v in values:
                _checks.number(owner, "lr", v, low=0.0, low_open=True)
        axes[name] = list(values)
    return axes


def expand(base: RunSpec, grid: Mapping[str, Sequence[Any]]) -> list[RunSpec]:
    """Every run of the grid: ``base`` with each combination of the grid's values
    (the first field varies slowest), numbers normalized. Checks the field names
    and that every list is non-empty and distinct, nothing else (see
    :func:`validate`)."""
    if not isinstance(base, RunSpec):
        _checks.fail("sweep", "base", "a RunSpec", base)
    axes = _axes(grid)
    names = list(axes)
    return [
        normalized(base.replace(**dict(zip(names, combo, strict=True))))
        for combo in itertools.product(*axes.values())
    ]


def validate(
    specs: Sequence[RunSpec],
    names: Sequence[str] | None = None,
    loaded: Mapping[tuple[Any, ...], Dataset] | None = None,
) -> dict[tuple[Any, ...], Dataset]:
    """Build every distinct run (seeds aside) once, as a training run would, so that
    a bad value is a ValueError before anything trains; return the datasets loaded
    (and those already ``loaded``), by :func:`source`."""
    datasets: dict[tuple[Any, ...], Dataset] = dict(loaded or {})
    seen: set[str] = set()
    for spec in specs:
        try:
            probe = spec.replace(seed=0)
            key = spec_key(probe)
            if key in seen:
                continue
            seen.add(key)
            where = source(spec)
            if where not in datasets:
                datasets[where] = load_data(spec)
            build(probe, datasets[where])
        except ValueError as error:
            raise ValueError(f"sweep: run {_describe(spec, names)}: {error}") from None
    return datasets


def _describe(spec: RunSpec, names: Sequence[str] | None = None) -> str:
    shown = names if names is not None else ("optimizer", "lr", "batch_size", "seed")
    values = spec.to_dict()
    return " ".join(f"{n}={values[n]}" for n in shown)


# --- one run, wherever it executes ---------------------------------------------------

_DATASETS: dict[tuple[Any, ...], Dataset] = {}
_LIMITS: list[Any] = []


def source(spec: RunSpec) -> tuple[Any, ...]:
    """What a run's data depends on: runs that share it share one loaded Dataset."""
    return (spec.data, spec.data_path, spec.dtype, spec.val_fraction, spec.split_seed)


def _dataset(spec: RunSpec) -> Dataset:
    """The run's data, loaded once per process."""
    where = source(spec)
    if where not in _DATASETS:
        _DATASETS[where] = load_data(spec)
    return _DATASETS[where]


def _one_thread() -> None:
    """One BLAS (and Numba) thread in this process, so workers share the cores."""
    if not _LIMITS:
        threadpoolctl = importlib.import_module("threadpoolctl")
        _LIMITS.append(threadpoolctl.threadpool_limits(limits=1))
        import numba

        numba.set_num_threads(1)


def _watch_parent(parent: int) -> None:
    """Exit when the parent dies (its orphans would otherwise wait forever)."""
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)


def _init_worker(parent: int) -> None:
    _one_thread()
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _metrics(history: History) -> dict[str, Any]:
    """A diverged run's last evaluation is from before its parameters went bad:
    its final numbers are None (not measurable), never averaged in."""
    epochs = history.epochs
    last = epochs[-1] if epochs and not history.diverged else {}
    accs = [float(a) for e in epochs if (a := e.get("val_acc")) is not None]
    return {
        "final_train_loss": last.get("train_loss"),
        "final_train_acc": last.get("train_acc"),
        "final_val_loss": last.get("val_loss"),
        "final_val_acc": last.get("val_acc"),
        "best_val_acc": max(accs) if accs and not history.diverged else None,
        "final_test_loss": last.get("test_loss"),
        "final_test_acc": last.get("test_acc"),
        "diverged": bool(history.diverged),
        "steps": len(history.steps),
    }


def execute(
    key: str, options: Mapping[str, Any], dataset: Dataset | None = None
) -> dict[str, Any]:
    """Train the run whose key is ``key`` on ``dataset`` (default: its data, loaded
    once per process), and measure its sharpness if asked; return plain data for
    the store. What every worker calls."""
    from gdlab.lab.sharpness import sharpness

    spec = RunSpec.from_dict(json.loads(key))
    dataset = _dataset(spec) if dataset is None else dataset
    started_at = _now()
    threadpoolctl = importlib.import_module("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1):  # see "One BLAS thread" above
        run = build(spec, dataset)
        started = time.perf_counter()
        history = fit(run.model, run.optimizer, dataset, spec.train, progress=False)
        seconds = time.perf_counter() - started
        lam: float | None = None
        if options.get("sharpness") and not history.diverged:
            lam = sharpness(
                run.model,
                dataset.X_train,
                dataset.y_train,
                samples=int(options.get("sharpness_samples", DEFAULT_SAMPLES)),
            )
            if not math.isfinite(lam):
                lam = None
    return {
        "key": key,
        "metrics": {**_metrics(history), "seconds": seconds, "lambda_max": lam},
        "history": history.to_dict(),
        "message": history.message,
        "started_at": started_at,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "ray_node_id": None,
    }


def _execute_in_ray(
    key: str, options: Mapping[str, Any], dataset: Dataset
) -> dict[str, Any]:
    """A Ray task: ``dataset`` comes from the object store (Ray resolves the
    ObjectRef the driver passed), so the node needs no data files."""
    _one_thread()
    result = execute(key, options, dataset)
    result["ray_node_id"] = _ray().get_runtime_context().get_node_id()
    return result


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- the store ----------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    optimizer TEXT NOT NULL,
    lr REAL NOT NULL,
    batch_size,
    seed INTEGER NOT NULL,
    final_train_loss REAL,
    final_train_acc REAL,
    final_val_loss REAL,
    final_val_acc REAL,
    best_val_acc REAL,
    final_test_loss REAL,
    final_test_acc REAL,
    diverged INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    seconds REAL NOT NULL,
    lambda_max REAL,
    message TEXT NOT NULL,
    history TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    ray_node_id TEXT
);
"""


@dataclass(frozen=True)
class StoredRun:
    """One finished run as the store holds it."""

    key: str
    spec: RunSpec
    metrics: dict[str, Any]
    message: str
    started_at: str
    finished_at: str
    host: str
    pid: int
    ray_node_id: str | None
    """The Ray node that ran it (hex, as ``ray.nodes()`` names it); None if local."""
    history_json: str = field(repr=False)
    store: Path | None = field(default=None, repr=False, compare=False)

    @property
    def history(self) -> History:
        """The run's history (a ValueError naming the store if it is damaged)."""
        try:
            return History.from_dict(json.loads(self.history_json))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"sweep: {self.store}: the history of the run {_describe(self.spec)} "
                f"is damaged ({type(error).__name__}: {error})"
            ) from None


def _json(text: object, path: Path, what: str) -> Any:
    """``text`` decoded, or a ValueError naming the store and what is damaged."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ValueError(f"sweep: {path}: {what} is not valid JSON ({error})") from None


class Store:
    """A sweep's SQLite file: its base spec and options, and one row per finished run.

    ``Store(path)`` opens (or, with ``create=True``, creates) it; plain SQL works on
    it too, e.g. ``SELECT optimizer, lr, avg(final_test_acc) FROM runs GROUP BY 1, 2``
    (``json_extract(key, '$.l2')`` reaches any field of a run's spec).
    """

    def __init__(self, path: Folder, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ValueError(f"no sweep store at {self.path}")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
            if create and not tables:
                self._db.executescript(_SCHEMA)
                tables = {"meta", "runs"}
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            meta = self.meta() if {"meta", "runs"} <= tables else {"format": None}
        except (sqlite3.Error, OSError) as error:
            raise ValueError(f"cannot open sweep store {self.path}: {error}") from None
        if meta and meta.get("format") != FORMAT:
            self._db.close()
            raise ValueError(f"{self.path} is not a gdlab sweep store")
        if meta and meta.get("version") != VERSION:
            self._db.close()
            raise ValueError(
                f"{self.path} was written by another version of gdlab (store "
                f"version {meta.get('version')}, this one reads {VERSION}); use "
                "another store"
            )

    # --- plumbing ----------------------------------------------------------------

    @contextlib.contextmanager
    def _sqlite(self, doing: str) -> Iterator[None]:
        """SQLite's complaints about the file (a corrupted page, a read-only file)
        as one line naming it; a misuse of the API (ProgrammingError) is a bug."""
        try:
            yield
        except sqlite3.ProgrammingError:
            raise
        except sqlite3.DatabaseError as error:
            raise ValueError(f"sweep: cannot {doing} {self.path}: {error}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._sqlite("write"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what it holds -------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        """``format``, ``version``, ``base`` (a spec dict), ``axes`` (every grid field
        any sweep into this store varied), ``options``, ``created``."""
        with self._sqlite("read"):
            rows = self._db.execute("SELECT key, value FROM meta").fetchall()
        return {k: _json(v, self.path, f"meta {k!r}") for k, v in rows}

    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
            )

    def keys(self) -> set[str]:
        """The keys of every finished run."""
        with self._sqlite("read"):
            return {r[0] for r in self._db.execute("SELECT key FROM runs")}

    def count(self) -> int:
        with self._sqlite("read"):
            return int(self._db.execute("SELECT count(*) FROM runs").fetchone()[0])

    def _spec(self, key: str) -> RunSpec:
        value = _json(key, self.path, f"the run key {key!r}")
        try:
            return RunSpec.from_dict(value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"sweep: {self.path}: the run key {key!r} is not a RunSpec ({error})"
            ) from None

    def add(self, result: Mapping[str, Any]) -> bool:
        """Record one finished run (what :func:`execute` returned) in its own
        transaction; False if its key was already there."""
        spec = self._spec(result["key"])
        m = result["metrics"]
        row = (
            result["key"],
            spec.optimizer,
            spec.learning_rate,
            spec.train.batch_size,
            spec.train.seed,
            *(m.get(k) for k in METRICS[:7]),
            int(bool(m["diverged"])),
            int(m["steps"]),
            float(m["seconds"]),
            m.get("lambda_max"),
            str(result.get("message", "")),
            json.dumps(result["history"]),
            result["started_at"],
            _now(),
            str(result["host"]),
            int(result["pid"]),
            result.get("ray_node_id"),
        )
        with self._transaction() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO runs VALUES ({', '.join('?' * len(row))})",
                row,
            )
        return cursor.rowcount == 1

    def runs(self, keys: Sequence[str] | None = None) -> list[StoredRun]:
        """The finished runs (those of ``keys``, in that order, when given; else all,
        in the order they finished)."""
        columns = ", ".join(
            (
                "key",
                *METRICS,
                "message",
                "started_at",
                "finished_at",
                "host",
                "pid",
                "ray_node_id",
            )
        )
        query = f"SELECT {columns}, history FROM runs ORDER BY finished_at, key"
        found: dict[str, StoredRun] = {}
        with self._sqlite("read"):
            rows = self._db.execute(query).fetchall()
        for row in rows:
            values = dict(zip(("key", *METRICS), row[: 1 + len(METRICS)], strict=True))
            values["diverged"] = bool(values["diverged"])
            key = str(values.pop("key"))
            message, started, finished, host, pid, node, history = row[
                1 + len(METRICS) :
            ]
            found[key] = StoredRun(
                key,
                self._spec(key),
                values,
                message,
                started,
                finished,
                host,
                pid,
                node,
                history,
                self.path,
            )
        if keys is None:
            return list(found.values())
        return [found[k] for k in keys if k in found]

    def rows(self, axes: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """One flat dict per finished run: its values of ``axes`` (default: the
        store's), the effective learning rate, then its metrics."""
        names = list(self.meta().get("axes", []) if axes is None else axes)
        return [_row(r, names) for r in self.runs()]


def _row(run: StoredRun, axes: Sequence[str]) -> dict[str, Any]:
    values = run.spec.to_dict()
    row = {name: plain(values[name]) for name in axes}
    row["lr"] = run.spec.learning_rate
    for name in ("optimizer", "batch_size", "seed"):
        row.setdefault(name, values[name])
    return {**row, **run.metrics}


@contextlib.contextmanager
def _exclusive(store: Path) -> Iterator[None]:
    """Refuse a second sweep writing the same store at the same time."""
    try:
        import fcntl
    except ImportError:  # not on Unix: no lock
        yield
        return
    try:
        lock = open(store.with_name(store.name + ".lock"), "a+")  # noqa: SIM115
    except OSError as error:
        raise ValueError(
            f"sweep: cannot write {store}: its lock file: {error.strerror or error}"
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"another sweep is writing {store}; wait for it or use another store"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _check_same_sweep(
    path: Path,
    meta: Mapping[str, Any],
    base: RunSpec,
    axes: Sequence[str],
    options: Any,
) -> None:
    if not (
        isinstance(meta.get("base"), dict)
        and isinstance(meta.get("axes", []), list)
        and isinstance(meta.get("options", {}), dict)
    ):
        raise ValueError(
            f"sweep: {path}: its meta table is damaged (base must be an object, "
            "axes a list, options an object)"
        )
    old_base, new_base = meta["base"], plain(base.to_dict())
    free = set(meta.get("axes", [])) | set(axes)
    changed = [
        f"{name}: {old_base.get(name)!r} -> {new_base[name]!r}"
        for name in FIELDS
        if name not in free and old_base.get(name) != new_base[name]
    ]
    old_options = meta.get("options", {})
    changed += [
        f"{name}: {old_options.get(name)!r} -> {value!r}"
        for name, value in plain(options).items()
        if old_options.get(name) != value
    ]
    if changed:
        raise ValueError(
            f"sweep: {path} holds a sweep with a different base spec or options ("
            + "; ".join(changed)
            + "); run it with the same settings (new grid values are fine) or use "
            "another store"
        )


# --- the sweep ----------------------------------------------------------------------


@dataclass
class SweepResult:
    """The grid's runs as stored: ``rows()`` for numbers, ``runs`` for histories."""

    store: Path
    base: RunSpec
    axes: list[str]
    specs: list[RunSpec]
    runs: list[StoredRun]
    already_done: int
    ran: int
    sharpness: bool
    report: Path | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per finished run of the grid, in grid order: the grid's values
        (``lr``: the learning rate used), then the metrics."""
        rows = [_row(r, self.axes) for r in self.runs]
        if not self.sharpness:
            for row in rows:
                row.pop("lambda_max")
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """Mean and std over seeds per combination of the other grid values."""
        return summarize(self.rows(), [a for a in self.axes if a != "seed"])

    def to_frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        return _display.frame("SweepResult.to_frame", self.rows())

    def plot(self, ax: Axes | None = None, kind: str = "lr_sensitivity") -> Figure:
        """One figure of the sweep's report drawn into ``ax`` (a new Figure when
        None): ``"lr_sensitivity"``, ``"sharpness"`` (λmax against batch size) or
        ``"sharpness_accuracy"``."""
        from gdlab.report import sweep as pages

        draw = {
            "lr_sensitivity": pages.plot_lr_sensitivity,
            "sharpness": pages.plot_sharpness,
            "sharpness_accuracy": pages.plot_sharpness_accuracy,
        }
        if kind not in draw:
            _checks.fail("SweepResult.plot", "kind", f"one of {list(draw)}", kind)
        fig = draw[kind](self.rows(), ax=ax)
        if fig is None:
            needs = "runs at two learning rates or more"
            if kind != "lr_sensitivity":
                needs = "a sweep with sharpness=True over two batch sizes or more"
            _checks.fail("SweepResult.plot", f"kind {kind!r}", needs, self.axes)
        return fig

    def _repr_html_(self) -> str:
        by = [a for a in self.axes if a != "seed"]
        metrics = [m for m in SUMMARIZED if m != "lambda_max" or self.sharpness]
        rows = [
            {
                **{b: r[b] for b in by},
                "runs": r["runs"],
                **{f"{m} (± std)": _display.pm(r[m], r[f"{m}_std"]) for m in metrics},
                "diverged": r["diverged"],
            }
            for r in self.summary()
        ]
        caption = (
            f"Sweep on {self.base.data}: {len(self.runs)} runs over "
            f"{', '.join(self.axes) or 'nothing'} (mean ± std over seeds)"
        )
        return _display.table(caption, rows)


def summarize(
    rows: Sequence[Mapping[str, Any]], by: Sequence[str]
) -> list[dict[str, Any]]:
    """Group ``rows`` by the fields ``by``; per group: ``runs``, ``diverged``, mean
    ``seconds``, and the mean, sample std (``*_std``) and 95% t-interval
    (``*_ci95``) of each metric over the runs that did not diverge (a diverged
    run has no final numbers: it is counted, never averaged in)."""
    from gdlab.lab.tuning import interval95

    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(json.dumps([row.get(b) for b in by]), []).append(row)
    out = []
    for members in groups.values():
        summary: dict[str, Any] = {b: members[0].get(b) for b in by}
        summary["runs"] = len(members)
        summary["diverged"] = sum(bool(m["diverged"]) for m in members)
        kept = [m for m in members if not m["diverged"]]
        for name in SUMMARIZED:
            values = [float(v) for m in kept if (v := m.get(name)) is not None]
            stats = interval95(values)
            summary[name] = stats["mean"]
            summary[f"{name}_std"] = stats["std"]
            summary[f"{name}_ci95"] = stats["ci95"]
        summary["seconds"] = statistics.fmean(float(m["seconds"]) for m in members)
        out.append(summary)
    return out


SUMMARIZED = (
    "final_train_loss",
    "final_val_acc",
    "best_val_acc",
    "final_test_acc",
    "lambda_max",
)


def _run_local(
    todo: Mapping[str, Dataset],
    options: Mapping[str, Any],
    workers: int,
    record: Callable[[dict[str, Any]], None],
) -> list[BaseException]:
    """``todo``: key -> its data, as loaded here (spawned workers load their own)."""
    if workers == 1:
        for key, dataset in todo.items():
            record(execute(key, options, dataset))
        return []
    errors: list[BaseException] = []
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(os.getpid(),),
    )
    try:
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(execute, key, options) for key in todo
        ]
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # BrokenProcessPool too: a worker died
                errors.append(error)
                continue
            record(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return errors


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ValueError(
            "sweep: backend 'ray' needs Ray, which is not installed: "
            "pip install 'gdlab[cluster]'"
        ) from None


def _run_ray(
    todo: Mapping[str, Dataset],
    options: Mapping[str, Any],
    workers: int,
    record: Callable[[dict[str, Any]], None],
) -> list[BaseException]:
    """``todo``: key -> its data, put once in the object store for every node."""
    ray = _ray()
    started = not ray.is_initialized()
    local = started and not os.environ.get("RAY_ADDRESS")
    before = _descendants() if local else set()
    errors: list[BaseException] = []
    try:
        if local:
            ray.init(num_cpus=workers, include_dashboard=False)
        elif started:
            ray.init()  # joins the cluster RAY_ADDRESS names
        task = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(_execute_in_ray)
        shipped: dict[int, Any] = {}  # id(dataset) -> its ObjectRef
        tasks: dict[Future[dict[str, Any]], tuple[str, Any]] = {}  # -> key, task
        for key, dataset in todo.items():
            if id(dataset) not in shipped:
                shipped[id(dataset)] = ray.put(dataset)
            ref = task.remote(key, dict(options), shipped[id(dataset)])
            tasks[ref.future()] = (key, ref)
        try:
            # futures, not ray.wait(): 14 ms a call over 10,000 pending tasks
            for future in as_completed(tasks):
                try:
                    result = future.result()
                except ray.exceptions.RayTaskError as error:  # the run raised
                    errors.append(error)
                    continue
                except ray.exceptions.RayError as error:  # lost on every try
                    errors.append(_lost(tasks[future][0], error))
                    continue
                record(result)
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
        f"run {_describe(spec)} failed on Ray ({type(error).__name__}: {error}); "
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


def run(
    base: RunSpec,
    grid: Mapping[str, Sequence[Any]],
    store: Folder,
    *,
    workers: int | None = None,
    backend: str = "local",
    sharpness: bool = False,
    sharpness_samples: int = DEFAULT_SAMPLES,
    progress: bool = True,
    report: bool = True,
    command: str | None = None,
) -> SweepResult:
    """Train every run of ``grid`` over ``base`` that ``store`` does not hold yet.

    Args:
        base: the spec every run starts from.
        grid: RunSpec field -> non-empty list of values, e.g. ``{"optimizer":
            ["sgd", "adam"], "lr": [1e-3, 1e-2], "seed": [0, 1, 2]}``.
        store: the SQLite file (created with its folder if missing); a store
            holding runs of the same sweep is resumed.
        workers: processes (``"local"``) or local Ray CPUs (default:
            ``os.cpu_count()``); 1 trains in this process. A cluster
            (``RAY_ADDRESS``) runs one run per CPU it has.
        backend: ``"local"`` or ``"ray"`` (``pip install 'gdlab[cluster]'``).
        sharpness: also measure λmax of the training loss at the final weights.
        sharpness_samples: how many (first) training samples λmax is taken on.
        progress: print a line per finished run.
        report: write ``results.csv``, ``summary.csv``, the PNGs and
            ``report.html`` next to the store when done.
        command: the command line shown in the report.

    Raises:
        ValueError: bad grid or spec (before anything trains), a store of another
            sweep, a store another sweep is writing, or Ray missing.
        SweepError: runs failed or a worker died; finished runs are stored.
    """
    _checks.flag("sweep", "sharpness", sharpness)
    options = {
        "sharpness": sharpness,
        "sharpness_samples": _checks.integer(
            "sweep", "sharpness_samples", sharpness_samples, low=1
        ),
    }
    specs = expand(base, grid)
    axes = list(grid)
    shown = [a for a in axes if len({json.dumps(plain(v)) for v in grid[a]}) > 1]
    path = Path(store)
    stored, done_before, errors = run_specs(
        base,
        specs,
        path,
        axes=axes,
        options=options,
        workers=workers,
        backend=backend,
        progress=progress,
        shown=shown,
    )
    result = SweepResult(
        path,
        base,
        axes,
        specs,
        stored,
        done_before,
        len(stored) - done_before,
        sharpness,
    )
    if report and not errors:
        result.report = write_report(path, command=command)
    raise_for(errors, stored, len(result.specs), path)
    return result


def run_specs(
    base: RunSpec,
    specs: Sequence[RunSpec],
    store: Folder,
    *,
    axes: Sequence[str],
    options: Mapping[str, Any] | None = None,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    shown: Sequence[str] | None = None,
    datasets: Mapping[tuple[Any, ...], Dataset] | None = None,
) -> tuple[list[StoredRun], int, list[BaseException]]:
    """The engine of sweeps and comparisons: train every spec of ``specs`` (runs of
    ``base`` with the fields ``axes`` varied) that ``store`` does not hold yet.

    Returns the stored runs in the order of ``specs``, how many were done before,
    and the errors of runs that failed (see :func:`run`; the caller raises them).
    ``datasets`` are data already loaded by :func:`validate`: the runs are then not
    checked once more, and train on these very datasets (Ray ships them to the
    nodes).
    """
    owner = "sweep"
    backend = _checks.choice(owner, "backend", backend, BACKENDS)
    n_workers = _checks.integer(
        owner, "workers", (os.cpu_count() or 1) if workers is None else workers, low=1
    )
    options = dict(
        options or {"sharpness": False, "sharpness_samples": DEFAULT_SAMPLES}
    )
    if backend == "ray":
        _ray()
    datasets = dict(validate(specs, axes) if datasets is None else datasets)
    for spec in specs:  # any the caller did not load
        if source(spec) not in datasets:
            datasets[source(spec)] = load_data(spec)
    keys = list(dict.fromkeys(spec_key(s) for s in specs))
    path = Path(store)
    with _exclusive_store(path) as db:
        meta = db.meta()
        if meta:
            _check_same_sweep(path, meta, base, axes, options)
            known = list(dict.fromkeys([*meta.get("axes", []), *axes]))
        else:
            known = list(axes)
        db.set_meta(
            {
                "format": FORMAT,
                "version": VERSION,
                "base": plain(base.to_dict()) if not meta else meta["base"],
                "axes": known,
                "options": options,
                "created": meta.get("created", _now()),
                "gdlab": _version(),
            }
        )
        finished = db.keys()
        todo = [k for k in keys if k not in finished]
        done_before = len(keys) - len(todo)
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
        by_key = {spec_key(s): s for s in specs}
        counter = itertools.count(done_before + 1)
        labels = list(axes) if shown is None else list(shown)

        def record(result: dict[str, Any]) -> None:
            db.add(result)
            if progress:
                print(
                    _progress_line(
                        next(counter), len(keys), by_key[result["key"]], labels, result
                    ),
                    flush=True,
                )

        errors: list[BaseException] = []
        if todo:
            runner = _run_local if backend == "local" else _run_ray
            data = {k: datasets[source(by_key[k])] for k in todo}
            errors = runner(data, options, min(n_workers, len(todo)), record)
        stored = db.runs(keys)
    return stored, done_before, errors


def raise_for(
    errors: Sequence[BaseException], stored: Sequence[StoredRun], total: int, path: Path
) -> None:
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


def _version() -> str:
    import gdlab

    return gdlab.__version__


@contextlib.contextmanager
def _exclusive_store(path: Path) -> Iterator[Store]:
    if path.exists() and path.is_dir():
        raise ValueError(f"sweep: store {path} is a folder; give a file like sweep.db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"sweep: cannot create {path.parent}: {error.strerror or error}"
        ) from None
    with _exclusive(path), Store(path, create=True) as db:
        yield db


def _progress_line(
    index: int, total: int, spec: RunSpec, shown: Sequence[str], result: Any
) -> str:
    m = result["metrics"]
    width = len(str(total))
    values = spec.to_dict()
    what = " ".join(f"{a}={values[a]}" for a in shown) or "run"
    parts = [f"  [{index:>{width}}/{total}] {what}"]
    if m["final_train_loss"] is not None:
        parts.append(f"train loss {m['final_train_loss']:.4f}")
    if m["final_val_acc"] is not None:
        parts.append(f"val acc {m['final_val_acc']:.3f}")
    if m["final_test_acc"] is not None:
        parts.append(f"test acc {m['final_test_acc']:.3f}")
    if m.get("lambda_max") is not None:
        parts.append(f"λmax {m['lambda_max']:.3g}")
    if m["diverged"]:
        parts.append("diverged")
    parts.append(f"{m['seconds']:.2f}s")
    return "  ".join(parts)


# --- reports ------------------------------------------------------------------------


def write_report(store: Store | Folder, *, command: str | None = None) -> Path:
    """Write results.csv, summary.csv, the PNGs and report.html next to the store,
    from the store alone; return the report's path."""
    from gdlab.report import sweep as pages

    db = store if isinstance(store, Store) else Store(store)
    try:
        meta = db.meta()
        axes = list(meta.get("axes", []))
        rows = db.rows(axes)
        by = [a for a in axes if a != "seed"] or ["optimizer"]
        return pages.sweep_report(
            rows,
            summarize(rows, by),
            db.path.parent,
            axes=axes,
            base=meta.get("base", {}),
            sharpness=bool(meta.get("options", {}).get("sharpness")),
            command=command or f"gdlab sweep ... --out {db.path.parent}",
        )
    finally:
        if db is not store:
            db.close()


def format_table(summary: Sequence[Mapping[str, Any]], by: Sequence[str]) -> str:
    """The summary as an aligned text table (mean ± std over seeds)."""

    def pm(row: Mapping[str, Any], key: str, digits: int) -> str:
        value, std = row.get(key), row.get(f"{key}_std")
        if value is None:
            return "—"
        return f"{_fixed(value, digits)} ± {_fixed(std or 0.0, digits)}"

    sharp = any(r.get("lambda_max") is not None for r in summary)
    header = [
        *by,
        "runs",
        "train loss",
        "val acc",
        "best val acc",
        "test acc",
        *(["λmax"] if sharp else []),
        "diverged",
        "time",
    ]
    lines = [
        [
            *(f"{r[b]:g}" if isinstance(r[b], float) else str(r[b]) for b in by),
            str(r["runs"]),
            pm(r, "final_train_loss", 4),
            pm(r, "final_val_acc", 3),
            pm(r, "best_val_acc", 3),
            pm(r, "final_test_acc", 3),
            *([pm(r, "lambda_max", 2)] if sharp else []),
            str(r["diverged"]),
            f"{r['seconds']:.2f}s",
        ]
        for r in summary
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
        for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    return "\n".join(out)


def _fixed(value: float, digits: int) -> str:
    """``digits`` decimals, or 3 significant digits for huge values (1.23e+28)."""
    return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"


__all__ = [
    "BACKENDS",
    "METRICS",
    "Store",
    "StoredRun",
    "SweepError",
    "SweepResult",
    "execute",
    "expand",
    "format_table",
    "run",
    "spec_key",
    "summarize",
    "validate",
    "write_report",
]
