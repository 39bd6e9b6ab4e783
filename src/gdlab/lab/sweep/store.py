"""A sweep's SQLite store: its base spec and options, one row per finished run.

**One writer, one transaction per population.** Only the process that runs the
sweep writes the file (WAL mode), the runs that finish together (a population's
members, or a run alone) in one committed transaction as they finish, so a crash,
Ctrl-C or SIGKILL loses no finished run. A lock file refuses a second
sweep writing the same store, and :func:`check_same_sweep` one with another base
spec or other options (new grid values are welcome).

**Only its own file.** The store, its lock and SQLite's ``-wal``/``-shm``/
``-journal`` files beside it must be regular files (a symbolic link is refused, not
followed), and an existing file is recognized as a gdlab store by its ``meta``
table *before* anything is written to it (no ``PRAGMA journal_mode=WAL`` on a
foreign database).

**Stale results are refused.** A run's key names its data and optimizer, not
their contents, so the store also records the digest of each dataset it trained on
and of each plugin optimizer's source (meta ``inputs``, see :mod:`.inputs`). A
sweep into a store whose data or plugin code has changed since is refused, naming
what changed, rather than returning the old numbers as the new ones'.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from gdlab import _checks, outputs, train_config
from gdlab.experiment import FIELDS, RunSpec
from gdlab.lab.sharpness import DEFAULT_SAMPLES
from gdlab.lab.sweep.grid import describe, plain
from gdlab.records import Constraint, Record, at_least, flag, optional, record, text
from gdlab.results import RUN_METRICS, RunMetrics, SweepRun
from gdlab.train import History

_WRITE_FAILURES = (10, 13)
"""SQLite's primary result codes of a failed write (SQLITE_IOERR: a size limit,
an I/O error; SQLITE_FULL: a full disk): the machine's, not the store's fault."""

FORMAT = "gdlab-sweep"
"""The ``format`` of a sweep store (``sweep.db``)."""
VERSION = 4
"""Version 3 added the column ``ray_node_id``; version 4 the meta ``inputs`` (the
digests of the data and of plugin code, see :mod:`.inputs`)."""
METRICS = RUN_METRICS
"""The numbers stored for every run (:data:`gdlab.results.RUN_METRICS`)."""

Folder = str | os.PathLike[str]


def now() -> str:
    """The store's timestamps: UTC, ISO 8601, to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_SIDE_FILES = ("-wal", "-shm", "-journal", ".lock")
"""The files SQLite (and the lock) keep beside the store: all must be its own."""

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


def _history(owner: str, name: str, value: object) -> dict[str, Any]:
    """A :class:`~gdlab.history.History`'s plain form (an object; the store
    writes it as JSON and :attr:`StoredRun.history` reads it back)."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        _checks.fail(owner, name, "a history's plain form (an object)", value)
    return dict(value)


def _string(owner: str, name: str, value: object) -> str:
    """A string, maybe empty."""
    if not isinstance(value, str):
        _checks.fail(owner, name, "a string", value)
    return value


@dataclass(frozen=True)
class RunOptions(Record):
    """What each run of a sweep does besides training, sent with it to its worker
    and recorded in the store's meta ``options``: measure λmax of the training
    loss at the final weights (``sharpness``), on the first
    ``sharpness_samples`` training samples."""

    sharpness: bool = False
    sharpness_samples: int = DEFAULT_SAMPLES

    constraints: ClassVar[dict[str, Constraint]] = {
        "sharpness": flag,
        "sharpness_samples": at_least(1),
    }


@dataclass(frozen=True)
class FinishedRun(Record):
    """What a worker hands the store for one finished run (:meth:`Store.add`):
    its key, its :class:`~gdlab.results.RunMetrics`, its history's plain form,
    how it ended, and where and when it ran."""

    key: str
    metrics: RunMetrics
    history: dict[str, Any]
    message: str
    started_at: str
    host: str
    pid: int
    ray_node_id: str | None = None
    """The Ray node that ran it (hex); None if local."""

    constraints: ClassVar[dict[str, Constraint]] = {
        "key": text,
        "metrics": record(RunMetrics),
        "history": _history,
        "message": _string,
        "started_at": text,
        "host": _string,
        "pid": at_least(0),
        "ray_node_id": optional(text),
    }


@dataclass(frozen=True)
class StoredRun:
    """One finished run as the store holds it."""

    key: str
    spec: RunSpec
    metrics: RunMetrics
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
                f"sweep: {self.store}: the history of the run {describe(self.spec)} "
                f"is damaged ({type(error).__name__}: {error})"
            ) from None


def _strict(value: object) -> str:
    """Strict JSON (NaN as null), keys sorted."""
    return json.dumps(json.loads(outputs.json_text(value)), sort_keys=True)


def _json(text: object, path: Path, what: str) -> Any:
    """``text`` decoded, or a ValueError naming the store and what is damaged."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ValueError(f"sweep: {path}: {what} is not valid JSON ({error})") from None


def _digests(value: object) -> bool:
    """Whether ``value`` is a meta ``inputs``: {"data": {...}, "code": {...}} of
    strings."""
    return (
        isinstance(value, dict)
        and set(value) == {"data", "code"}
        and all(
            isinstance(m, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
            for m in value.values()
        )
    )


def _check_meta(path: Path, meta: Mapping[str, Any]) -> None:
    """Refuse a file that is not a whole store of this version (an empty meta
    table: a new store)."""
    if not meta:
        return
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gdlab sweep store")
    if meta.get("version") != VERSION:
        raise ValueError(
            f"{path} was written by another version of gdlab (store version "
            f"{meta.get('version')}, this one reads {VERSION}); use another store"
        )
    for key, need, whole in (
        ("base", "an object", isinstance(meta.get("base"), dict)),
        ("options", "an object", isinstance(meta.get("options"), dict)),
        (
            "inputs",
            "an object of data and code, each a map of names to digests",
            _digests(meta.get("inputs")),
        ),
        (
            "axes",
            "a list of RunSpec fields",
            isinstance(meta.get("axes"), list)
            and all(isinstance(a, str) and a in FIELDS for a in meta["axes"]),
        ),
    ):
        if not whole:
            raise ValueError(
                f"sweep: {path}: meta {key!r} is damaged (it must be {need}, got "
                f"{meta.get(key)!r})"
            )


def check_own_files(path: Path) -> None:
    """Refuse a store whose file, lock or SQLite side files are symbolic links or
    not regular files: gdlab writes only files of its own."""
    if path.is_dir() and not path.is_symlink():
        raise ValueError(f"sweep: store {path} is a folder; give a file like sweep.db")
    for file in (path, *(Path(f"{path}{suffix}") for suffix in _SIDE_FILES)):
        try:
            outputs.own_file(file)
        except outputs.WriteError as error:
            raise ValueError(f"sweep: {error}") from None


class Store:
    """A sweep's SQLite file: its base spec and options, and one row per finished run.

    ``Store(path)`` opens (or, with ``create=True``, creates) it; plain SQL works on
    it too, e.g. ``SELECT optimizer, lr, avg(final_test_acc) FROM runs GROUP BY 1, 2``
    (``json_extract(key, '$.l2')`` reaches any field of a run's spec).
    """

    def __init__(self, path: Folder, *, create: bool = False) -> None:
        self.path = Path(path)
        check_own_files(self.path)
        if not create and not self.path.is_file():
            raise ValueError(f"no sweep store at {self.path}")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except (sqlite3.Error, OSError) as error:
            message = f"cannot open sweep store {self.path}: {error}"
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in _WRITE_FAILURES:
                raise outputs.WriteError(message) from None
            raise ValueError(message) from None
        try:
            self._open(create)
        except BaseException:
            self._db.close()
            raise

    def _open(self, create: bool) -> None:
        """Recognize the file as a store (reading only), then set it up."""
        try:
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
            if tables:  # whose is it? Read, before anything is written
                meta = self.meta() if {"meta", "runs"} <= tables else {"format": None}
                _check_meta(self.path, meta)
            elif create:
                self._db.executescript(_SCHEMA)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        except (sqlite3.Error, OSError) as error:
            message = f"cannot open sweep store {self.path}: {error}"
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in _WRITE_FAILURES:
                raise outputs.WriteError(message) from None
            raise ValueError(message) from None

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
            message = f"cannot {doing} {self.path}: {error}"
            if getattr(error, "sqlite_errorcode", 0) & 0xFF in _WRITE_FAILURES:
                raise outputs.WriteError(message) from None  # not the file's fault
            raise ValueError(f"sweep: {message}") from None

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
                [(k, _strict(v)) for k, v in values.items()],
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

    def add(self, runs: Sequence[FinishedRun]) -> int:
        """Record runs that finished together in one transaction (one fsync of
        the file, not one per run); how many were new (a key already there keeps
        its row)."""
        rows = [self._row(run) for run in runs]
        if not rows:
            return 0
        with self._transaction() as db:
            cursor = db.executemany(
                f"INSERT OR IGNORE INTO runs VALUES ({', '.join('?' * len(rows[0]))})",
                rows,
            )
        return int(cursor.rowcount)

    def _row(self, run: FinishedRun) -> tuple[Any, ...]:
        spec = self._spec(run.key)
        m = run.metrics
        return (
            run.key,
            spec.optimizer,
            spec.learning_rate,
            spec.train.batch_size,
            spec.train.seed,
            *(getattr(m, k) for k in METRICS[:7]),
            int(m.diverged),
            m.steps,
            m.seconds,
            m.lambda_max,
            run.message,
            outputs.json_text(run.history),
            run.started_at,
            now(),
            run.host,
            run.pid,
            run.ray_node_id,
        )

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
            key = str(values.pop("key"))
            message, started, finished, host, pid, node, history = row[
                1 + len(METRICS) :
            ]
            spec = self._spec(key)
            self._check_row(spec, {**values, "pid": pid})
            found[key] = StoredRun(
                key,
                spec,
                RunMetrics.from_dict({**values, "diverged": bool(values["diverged"])}),
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

    def _check_row(self, spec: RunSpec, values: Mapping[str, Any]) -> None:
        """Refuse a run row whose numbers are not numbers (a hand-edited store)."""
        for name, value in values.items():
            if name == "diverged":
                need, whole = "0 or 1", value in (0, 1)
            elif name in ("steps", "pid"):
                need, whole = "an integer >= 0", isinstance(value, int) and value >= 0
            else:  # REAL columns; only seconds is NOT NULL
                need = "a number"
                whole = isinstance(value, int | float) or (
                    value is None and name != "seconds"
                )
            if not whole:
                raise ValueError(
                    f"sweep: {self.path}: the run {describe(spec)} is damaged "
                    f"({name} must be {need}, got {value!r})"
                )

    def rows(self, axes: Sequence[str] | None = None) -> list[SweepRun]:
        """One :class:`~gdlab.results.SweepRun` per finished run: its values of
        ``axes`` (default: the store's), the effective learning rate, then its
        metrics."""
        names = list(self.meta().get("axes", []) if axes is None else axes)
        return [as_row(r, names) for r in self.runs()]


def as_row(run: StoredRun, axes: Sequence[str]) -> SweepRun:
    """``run`` as a :class:`~gdlab.results.SweepRun`: its values of ``axes``, the
    learning rate used, optimizer, batch size and seed, then its metrics."""
    values = run.spec.to_dict()
    row = {name: plain(values[name]) for name in axes}
    row["lr"] = run.spec.learning_rate
    for name in ("optimizer", "batch_size", "seed"):
        row.setdefault(name, values[name])
    return SweepRun(row, run.metrics)


class StoreBusy(ValueError):
    """Another sweep is writing the store: the user's second command, told in one
    line (the data is safe)."""


def exclusive(store: Path) -> contextlib.AbstractContextManager[None]:
    """Refuse a second sweep writing the same store at the same time (a lock on
    ``<store>.lock``, never followed through a symbolic link)."""
    return outputs.locked(
        store.with_name(store.name + ".lock"),
        f"another sweep is writing {store}; wait for it or use another store",
        error=StoreBusy,
    )


def check_same_sweep(
    path: Path,
    meta: Mapping[str, Any],
    base: RunSpec,
    axes: Sequence[str],
    options: RunOptions,
) -> None:
    """Refuse a sweep into a store that holds another one: the base spec (grid
    axes aside) and the options must be the stored ones (``meta``: a whole meta
    table, as :class:`Store` checks it when it opens)."""
    old_base, new_base = meta["base"], plain(base.to_dict())
    free = set(meta["axes"]) | set(axes)
    old_base = {**train_config.LATER, **old_base}  # fields added since: defaults
    changed = [
        f"{name}: {old_base.get(name)!r} -> {new_base[name]!r}"
        for name in FIELDS
        if name not in free and old_base.get(name) != new_base[name]
    ]
    old_options = meta["options"]
    changed += [
        f"{name}: {old_options.get(name)!r} -> {value!r}"
        for name, value in options.to_dict().items()
        if old_options.get(name) != value
    ]
    if changed:
        raise ValueError(
            f"sweep: {path} holds a sweep with a different base spec or options ("
            + "; ".join(changed)
            + "); run it with the same settings (new grid values are fine) or use "
            "another store"
        )


@contextlib.contextmanager
def open_for_writing(path: Path) -> Iterator[Store]:
    """The store at ``path`` (created with its folder if missing), locked for this
    sweep alone while the block runs."""
    if path.exists() and path.is_dir():
        raise ValueError(f"sweep: store {path} is a folder; give a file like sweep.db")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"sweep: cannot create {path.parent}: {error.strerror or error}"
        ) from None
    with exclusive(path), Store(path, create=True) as db:
        yield db
