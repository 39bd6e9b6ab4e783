"""Sweeps: the grid, SQLite results, exact resume after kills, sharpness, Ray.

The report a sweep writes is tested in tests/test_report_sensitivity.py."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from gdlab import lab, models, outputs, train_config
from gdlab.experiment import RunSpec, build
from gdlab.lab import sweep
from gdlab.lab.sharpness import sharpness, training_loss
from gdlab.lab.sweep import populations
from gdlab.lab.sweep.store import check_same_sweep, exclusive
from gdlab.train import History, TrainConfig, fit

from ..conftest import raises_about

BASE = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=2, batch_size=64)
)
ROOT = Path(__file__).resolve().parents[2]


def without_time(history: History) -> dict[str, Any]:
    """A history's numbers; wall-clock seconds are the only thing that may differ."""
    d = history.to_dict()
    d["epochs"] = [{k: v for k, v in e.items() if k != "seconds"} for e in d["epochs"]]
    return d


def direct(spec: RunSpec) -> tuple[History, Any]:
    """fit() in this process, with one BLAS thread like every run of a sweep."""
    run = build(spec)
    with threadpool_limits(limits=1):
        history = fit(
            run.model, run.optimizer, run.dataset, run.spec.train, progress=False
        )
    return history, run


def quiet(**kwargs: Any) -> dict[str, Any]:
    return {"progress": False, "report": False, **kwargs}


def swept(
    base: RunSpec,
    grid: dict[str, Any],
    store: Path,
    *,
    sharpness: bool = False,
    **options: Any,
) -> sweep.SweepResult:
    """:func:`sweep.run` of the plan of ``base`` and ``grid`` into the folder of
    ``store`` (its sweep.db)."""
    assert store.name == sweep.STORE
    plan = sweep.Sweep(base, grid, sharpness=sharpness)
    return sweep.run(plan, out=store.parent, **options)


# --- the grid ------------------------------------------------------------------------


def test_the_grid_is_a_cartesian_product_first_field_slowest() -> None:
    grid = {"optimizer": ["sgd", "adam"], "lr": [1e-3, 1], "seed": [0, 1, 2]}
    specs = sweep.expand(BASE, grid)
    assert len(specs) == 12
    assert [(s.optimizer, s.lr, s.train.seed) for s in specs[:4]] == [
        ("sgd", 1e-3, 0),
        ("sgd", 1e-3, 1),
        ("sgd", 1e-3, 2),
        ("sgd", 1.0, 0),
    ]
    assert specs[-1].optimizer == "adam" and specs[-1].train.seed == 2
    assert all(s.model == "mlp:64-16-10" and s.train.epochs == 2 for s in specs)
    # lr=1 and lr=1.0 are one run: numbers are normalized before the key is taken.
    assert isinstance(specs[3].lr, float)
    assert sweep.spec_key(BASE.replace(lr=1)) == sweep.spec_key(BASE.replace(lr=1.0))
    keys = [sweep.spec_key(s) for s in specs]
    assert len(set(keys)) == 12
    assert RunSpec.from_dict(__import__("json").loads(keys[5])) == specs[5]


def test_one_run_has_one_key_whatever_the_number_types() -> None:
    momentum = BASE.replace(optimizer="momentum")
    same = [
        (BASE.replace(split_seed=1), BASE.replace(split_seed=1.0)),
        (
            momentum.replace(hyper={"momentum": 1, "nesterov": True}),
            momentum.replace(hyper={"momentum": 1.0, "nesterov": True}),
        ),
        (
            BASE.replace(hyper={"betas": (1, 0.99), "eps": np.float64(1e-7)}),
            BASE.replace(hyper={"betas": [1.0, 0.99], "eps": 1e-7}),
        ),
        (BASE.replace(seed=np.int64(2), lr=np.float32(0.5)), BASE.replace(lr=0.5)),
    ]
    for a, b in same[:3]:
        assert sweep.spec_key(a) == sweep.spec_key(b)
    # NumPy scalars become Python numbers (np.float32(0.5) is exactly 0.5).
    kept = sweep.normalized(same[3][0])
    assert kept == same[3][1].replace(seed=2)
    assert type(kept.lr) is float and type(kept.train.seed) is int
    # A bool stays a bool, and lr=None is not the suggested lr.
    assert sweep.normalized(same[1][0]).hyper == {"momentum": 1.0, "nesterov": True}
    assert sweep.spec_key(BASE) != sweep.spec_key(BASE.replace(lr=1e-3))
    specs = sweep.expand(BASE, {"seed": [np.int64(0), np.int64(1)]})
    assert [type(s.train.seed) for s in specs] == [int, int]
    with pytest.raises(ValueError, match=r"grid\['split_seed'\] must be distinct"):
        sweep.expand(BASE, {"split_seed": [1, 1.0]})
    steps = BASE.replace(iterations=5)  # epochs beside iterations: one run
    assert sweep.spec_key(steps.replace(epochs=1)) == sweep.spec_key(steps)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (
            {"optimiser": ["sgd"]},
            r"unknown grid field 'optimiser' \(did you mean 'optimizer'\?\); "
            r"RunSpec's fields are data, data_path, "
            r".*model, .*optimizer, lr, .*seed",
        ),
        ({"lr": []}, r"sweep: grid\['lr'\] must be a non-empty list, got \[\]"),
        ({"lr": "0.1"}, r"grid\['lr'\] must be a list of values, got '0.1'"),
        ({"seed": [0, 1, 0]}, r"grid\['seed'\] must be distinct values"),
        ({"lr": [0.1, -0.1]}, r"sweep: lr must be > 0, got -0.1"),
        ({"optimizer": ["sgd", "adamm"]}, r"unknown optimizer 'adamm'"),
        (
            {"batch_size": [32, 0]},
            r"TrainConfig: batch_size must be an integer >= 1, got 0",
        ),
        ({"seed": [-1]}, r"seed must be an integer >= 0, got -1"),
        ({"model": ["mlp:64-10-3"]}, r"model: sizes must be"),
        (["lr"], r"grid must be a mapping"),
        ({"hyper": [None]}, r"^RunSpec: hyper must be a dict with string keys"),
        (
            {"schedule": ["cosine"], "schedule_args": [{1: 2}]},
            r"^RunSpec: schedule_args must be a dict with string keys, got \{1: 2\}",
        ),
        (
            {"l2": [0.0, math.nan]},
            r"^RunSpec: l2 must be finite and >= 0, got nan",  # when the spec is made
        ),
        (
            {"hyper": [{"weight_decay": math.inf}]},
            r"RunSpec: hyper must be finite \(JSON has no NaN or inf\), got \{'weight",
        ),
    ],
)
def test_bad_grids_are_refused_before_anything_runs(
    tmp_path: Path, grid: Any, message: str
) -> None:
    store = tmp_path / "sweep.db"
    with pytest.raises(ValueError, match=message):
        swept(BASE, grid, store, **quiet(workers=1))
    assert not store.exists()


def test_a_plan_is_checked_when_made_and_its_folder_claimed_once(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=r"^sweep: unknown grid field 'optimiser'"):
        sweep.Sweep(BASE, {"optimiser": ["sgd"]})  # no folder touched: none given
    with raises_about("sweep", "sharpness_samples"):
        sweep.Sweep(BASE, {"seed": [0]}, sharpness_samples=0)
    plan = sweep.Sweep(BASE, {"lr": [1, 0.1], "seed": [0, 1]})
    assert plan.grid == {"lr": (1, 0.1), "seed": (0, 1)}
    assert [s.lr for s in plan.specs] == [1.0, 1.0, 0.1, 0.1]  # normalized
    assert sweep.Sweep.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    taken = outputs.claim(tmp_path / "taken", "compare")
    (taken / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="holds the output of gdlab compare"):
        sweep.prepare(plan, out=taken)
    ready = sweep.prepare(plan, out=tmp_path / "new" / "folder", workers=1)
    assert outputs.owner(tmp_path / "new" / "folder") == "sweep"
    assert ready.store == tmp_path / "new" / "folder" / "sweep.db"
    assert not ready.store.exists()  # nothing trained, nothing written but the mark


def test_ray_missing_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ValueError, match=r"pip install 'gdlab\[cluster\]'"):
        swept(BASE, {"seed": [0]}, tmp_path / "sweep.db", backend="ray", **quiet())
    with pytest.raises(ValueError, match="backend must be one of local, ray"):
        swept(BASE, {"seed": [0]}, tmp_path / "sweep.db", backend="dask", **quiet())


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"progress": "yes"}, "sweep: progress must be True or False, got 'yes'"),
        ({"report": None}, "sweep: report must be True or False, got None"),
        ({"out": None}, "sweep: out must be a folder, got None"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    given = {**quiet(workers=1), "out": tmp_path, **options}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        sweep.run(sweep.Sweep(BASE, {"seed": [0]}), **given)
    assert list(tmp_path.iterdir()) == []


# --- results -------------------------------------------------------------------------


def test_workers_give_the_histories_of_fit_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep.pool, "PARALLEL_WORK", 0)  # processes even for these
    grid = {"optimizer": ["sgd", "adam"], "seed": [0, 1]}
    result = swept(BASE, grid, tmp_path / "sweep.db", **quiet(workers=2))
    assert result.ran == 4 and result.already_done == 0
    rows = result.rows()
    assert [(r.get("optimizer"), r.get("seed")) for r in rows] == [
        ("sgd", 0),
        ("sgd", 1),
        ("adam", 0),
        ("adam", 1),
    ]
    for spec, stored, row in zip(result.specs, result.runs, rows, strict=True):
        history, _ = direct(spec)
        assert without_time(stored.history) == without_time(history)
        last = history.epochs[-1]
        m = row.metrics
        assert m.final_train_loss == last["train_loss"]
        assert m.final_test_acc == last["test_acc"]
        assert m.best_val_acc == max(e["val_acc"] for e in history.epochs)
        assert (
            row.values["lr"]
            == spec.learning_rate
            == {"sgd": 0.1, "adam": 1e-3}[spec.optimizer]
        )
        assert m.diverged is False and m.steps == 2 * 21  # 1293 / 64
        assert 0 < m.seconds < 30 and m.lambda_max is None
    # Two epochs of 21 steps: SGD at 0.1 is past chance (0.1), Adam at 1e-3 slower.
    assert rows[0].metrics.final_test_acc == pytest.approx(0.5333, abs=1e-4)
    assert rows[0].metrics.final_train_loss == pytest.approx(1.6231, abs=1e-4)
    assert rows[2].metrics.final_test_acc == pytest.approx(0.3056, abs=1e-4)
    # With the default BLAS threads fit() differs in the last bits only.
    run = build(result.specs[3])
    free = fit(run.model, run.optimizer, run.dataset, run.spec.train)
    np.testing.assert_allclose(
        [e["train_loss"] for e in free.epochs],
        [e["train_loss"] for e in result.runs[3].history.epochs],
        rtol=1e-6,
    )
    # The same numbers straight from SQLite.
    with sqlite3.connect(tmp_path / "sweep.db") as db:
        got = db.execute(
            "SELECT optimizer, lr, seed, final_train_loss FROM runs "
            "WHERE json_extract(key, '$.optimizer') = 'adam' ORDER BY seed"
        ).fetchall()
    assert got == [
        ("adam", 1e-3, s, r.metrics.final_train_loss) for s, r in enumerate(rows[2:])
    ]


def test_resume_runs_only_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = populations.execute_population

    def counting(keys: Any, options: Any, data: Any) -> list[sweep.FinishedRun]:
        calls.extend(keys)
        return real(keys, options, data)

    # where the local backend looks it up (workers=1 runs it in this process,
    # the runs of one workload as one population)
    monkeypatch.setattr(populations, "execute_population", counting)
    store = tmp_path / "sweep.db"
    base = BASE.replace(optimizer="sgd", epochs=1)
    first = swept(base, {"lr": [0.05], "seed": [0, 1]}, store, **quiet(workers=1))
    assert (first.ran, first.already_done, len(calls)) == (2, 0, 2)
    assert {r.pid for r in first.runs} == {os.getpid()}  # workers=1: in-process
    stamps = {r.key: r.finished_at for r in first.runs}

    again = swept(base, {"lr": [0.05], "seed": [0, 1]}, store, **quiet(workers=1))
    assert (again.ran, again.already_done, len(calls)) == (0, 2, 2)
    assert [r.finished_at for r in again.runs] == list(stamps.values())

    wider = swept(base, {"lr": [0.05, 0.2], "seed": [0, 1]}, store, **quiet(workers=1))
    assert (wider.ran, wider.already_done, len(calls)) == (2, 2, 4)
    assert len(wider.rows()) == 4 and sweep.Store(store).count() == 4
    for run in wider.runs:
        if run.key in stamps:
            assert run.finished_at == stamps[run.key]
        else:
            assert run.finished_at > max(stamps.values())
    assert calls[2:] == [sweep.spec_key(s) for s in wider.specs if s.lr == 0.2]


def test_a_store_of_another_sweep_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "sweep.db"
    base = BASE.replace(epochs=1)
    swept(base, {"lr": [0.01]}, store, **quiet(workers=1))
    with pytest.raises(ValueError, match=r"different base spec .*epochs: 1 -> 2"):
        swept(base.replace(epochs=2), {"lr": [0.01]}, store, **quiet(workers=1))
    with pytest.raises(ValueError, match=r"sharpness: False -> True"):
        swept(base, {"lr": [0.01]}, store, **quiet(workers=1, sharpness=True))
    # A field that is a grid axis may differ in the base: the grid overrides it.
    result = swept(base.replace(lr=0.5), {"lr": [0.01]}, store, **quiet(workers=1))
    assert result.ran == 0
    # New axes extend the sweep; the runs already there are reused.
    result = swept(base, {"lr": [0.01], "seed": [0, 1]}, store, **quiet(workers=1))
    assert (result.ran, result.already_done) == (1, 1)
    assert sweep.Store(store).meta()["axes"] == ["lr", "seed"]


def test_a_store_made_before_a_later_field_is_the_same_sweep(tmp_path: Path) -> None:
    """A store whose base spec predates a field of TrainConfig (train_eval_rows,
    notes_loop) holds that field at its default: the same command continues it."""
    store = tmp_path / "sweep.db"
    swept(BASE, {"lr": [0.01]}, store, **quiet(workers=1))
    meta = dict(sweep.Store(store).meta())
    old_base = {k: v for k, v in meta["base"].items() if k not in train_config.LATER}
    options = sweep.RunOptions.from_dict(meta["options"])
    meta = {**meta, "base": old_base}
    check_same_sweep(store, meta, BASE, ["lr"], options)  # no error
    with pytest.raises(ValueError, match=r"train_eval_rows: 10000 -> None"):
        check_same_sweep(store, meta, BASE.replace(train_eval_rows=None), [], options)


def test_one_writer_at_a_time_and_only_real_stores(tmp_path: Path) -> None:
    store = outputs.claim(tmp_path, "sweep") / "sweep.db"  # as the writer did
    with (
        exclusive(store),
        pytest.raises(ValueError, match="another sweep is writing"),
    ):
        swept(BASE, {"seed": [0]}, store, **quiet(workers=1))
    other = tmp_path / "other" / "sweep.db"
    other.parent.mkdir()
    other.write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(ValueError, match="cannot open sweep store"):
        swept(BASE, {"seed": [0]}, other, **quiet(workers=1))
    foreign = tmp_path / "foreign" / "sweep.db"
    foreign.parent.mkdir()
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(ValueError, match="is not a gdlab sweep store"):
        swept(BASE, {"seed": [0]}, foreign, **quiet(workers=1))
    with pytest.raises(ValueError, match="no sweep store at"):
        sweep.Store(tmp_path / "missing.db")


# --- damaged stores ------------------------------------------------------------------

SMALL = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=1, batch_size=64)
)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished sweep of two runs, closed (no -wal file beside it)."""
    store = tmp_path_factory.mktemp("small") / "sweep.db"
    swept(SMALL, {"seed": [0, 1]}, store, **quiet(workers=1))
    return store


def copy_of(store: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / store.name).write_bytes(store.read_bytes())
    return folder / store.name


def execute(store: Path, sql: str) -> None:
    db = sqlite3.connect(store)
    with db:
        db.execute(sql)
    db.close()


def test_a_corrupted_page_is_one_line_naming_the_store(
    tmp_path: Path, small_store: Path
) -> None:
    store = copy_of(small_store, tmp_path)
    db = sqlite3.connect(store)
    (root,) = db.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'runs'"
    ).fetchone()
    (size,) = db.execute("PRAGMA page_size").fetchone()
    db.close()
    with open(store, "r+b") as f:  # the page of the runs table: garbage
        f.seek((root - 1) * size)
        f.write(b"\xa5" * 64)
    message = f"sweep: cannot read {store}: database disk image is malformed"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        swept(SMALL, {"seed": [0, 1]}, store, **quiet(workers=1))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        sweep.write_report(store)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "UPDATE meta SET value = '{bad' WHERE key = 'base'",
            "{store}: meta 'base' is not valid JSON (Expecting property name "
            "enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (
            "UPDATE meta SET value = '5' WHERE key = 'base'",
            "{store}: meta 'base' is damaged (it must be an object, got 5)",
        ),
        (
            "UPDATE runs SET key = '[1' WHERE seed = 1",
            "{store}: the run key '[1' is not valid JSON (Expecting ',' delimiter: "
            "line 1 column 3 (char 2))",
        ),
        (
            "UPDATE runs SET key = '[1]' WHERE seed = 1",
            "{store}: the run key '[1]' is not a RunSpec (",
        ),
    ],
    ids=["meta-json", "meta-type", "key-json", "key-type"],
)
def test_bad_json_in_the_store_names_the_store(
    tmp_path: Path, small_store: Path, sql: str, message: str
) -> None:
    store = copy_of(small_store, tmp_path)
    execute(store, sql)
    with pytest.raises(ValueError) as error:
        swept(SMALL, {"seed": [0, 1]}, store, **quiet(workers=1))
    assert str(error.value).startswith("sweep: " + message.format(store=store))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            """UPDATE meta SET value = '["zzz"]' WHERE key = 'axes'""",
            "meta 'axes' is damaged (it must be a list of RunSpec fields, got ['zzz'])",
        ),
        (
            "UPDATE meta SET value = '[1, 2]' WHERE key = 'axes'",
            "meta 'axes' is damaged (it must be a list of RunSpec fields, got [1, 2])",
        ),
        (
            """UPDATE meta SET value = '"seed"' WHERE key = 'axes'""",
            "meta 'axes' is damaged (it must be a list of RunSpec fields, got 'seed')",
        ),
        (
            "UPDATE runs SET final_val_acc = 'abc' WHERE seed = 1",
            "the run optimizer=adam lr=None batch_size=64 seed=1 is damaged "
            "(final_val_acc must be a number, got 'abc')",
        ),
        (
            "UPDATE runs SET seconds = 'x' WHERE seed = 1",
            "the run optimizer=adam lr=None batch_size=64 seed=1 is damaged "
            "(seconds must be a number, got 'x')",
        ),
        (
            "UPDATE runs SET lambda_max = 'x' WHERE seed = 0",
            "the run optimizer=adam lr=None batch_size=64 seed=0 is damaged "
            "(lambda_max must be a number, got 'x')",
        ),
        (
            "UPDATE runs SET diverged = 'maybe' WHERE seed = 0",
            "the run optimizer=adam lr=None batch_size=64 seed=0 is damaged "
            "(diverged must be 0 or 1, got 'maybe')",
        ),
    ],
    ids=[
        "axes-unknown",
        "axes-numbers",
        "axes-text",
        "metric",
        "seconds",
        "lambda",
        "diverged",
    ],
)
def test_damaged_meta_and_metrics_name_the_store(
    tmp_path: Path, small_store: Path, sql: str, message: str
) -> None:
    store = copy_of(small_store, tmp_path)
    execute(store, sql)
    expected = f"^{re.escape(f'sweep: {store}: {message}')}$"
    with pytest.raises(ValueError, match=expected):
        sweep.Store(store).rows()
    with pytest.raises(ValueError, match=expected):
        swept(SMALL, {"seed": [0, 1]}, store, **quiet(workers=1))
    with pytest.raises(ValueError, match=expected):
        sweep.write_report(store)


def test_a_damaged_history_names_the_store_and_the_run(
    tmp_path: Path, small_store: Path
) -> None:
    store = copy_of(small_store, tmp_path)
    execute(store, "UPDATE runs SET history = '{bad' WHERE seed = 1")
    first, second = sweep.Store(store).runs()
    assert first.history.steps  # the other run is whole
    with pytest.raises(ValueError) as error:
        second.history  # noqa: B018
    assert str(error.value) == (
        f"sweep: {store}: the history of the run optimizer=adam lr=None "
        "batch_size=64 seed=1 is damaged (JSONDecodeError: Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1))"
    )


SWEEP_SCRIPT = """
import sys
from gdlab.experiment import RunSpec
from gdlab.lab import sweep

try:
    plan = sweep.Sweep(RunSpec.from_dict({spec!r}), {{"seed": [0, 1]}})
    sweep.run(plan, out=sys.argv[1], progress=False, report=False, {options})
except ValueError as error:
    print(error)
    sys.exit(2)
"""


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only, for root too (which writes to any file but an immutable
    one)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        yield
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
        pytest.skip("root, and chattr +i is refused here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file permissions")
def test_a_read_only_store_is_one_line_naming_it(
    tmp_path: Path, small_store: Path
) -> None:
    store = copy_of(small_store, tmp_path)
    message = f"sweep: cannot write {store}: attempt to write a readonly database"
    with read_only(store), pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        swept(SMALL, {"seed": [0, 1]}, store, **quiet(workers=1))


# --- kills ---------------------------------------------------------------------------

KILL_BASE = RunSpec(
    data="digits", model="mlp:64-32-10", train=TrainConfig(epochs=4, batch_size=16)
)
KILL_GRID = {"optimizer": ["sgd", "adam"], "lr": [0.01, 0.1], "seed": [0, 1, 2]}


def start_sweep(store: Path, workers: int = 2) -> subprocess.Popen[str]:
    script = textwrap.dedent(
        f"""
        from gdlab.experiment import RunSpec
        from gdlab.lab import sweep

        sweep.pool.PARALLEL_WORK = 0  # a worker process even for these small runs
        if __name__ == "__main__":
            sweep.run(
                sweep.Sweep(RunSpec.from_dict({KILL_BASE.to_dict()!r}), {KILL_GRID!r}),
                out={str(store.parent)!r},
                workers={workers},
                progress=False,
                report=False,
            )
        """
    )
    path = store.parent.parent / "go.py"  # beside the sweep's folder, not in it
    path.write_text(script)
    return subprocess.Popen(
        [sys.executable, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished_runs(store: Path) -> list[tuple[str, int]]:
    if not store.exists():
        return []
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT key, pid FROM runs").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []


def wait_for_runs(store: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while len(finished_runs(store)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.02)


def a_worker(proc: subprocess.Popen[str]) -> int:
    """The process id of a pool worker the sweep ``proc`` spawned (a child running
    multiprocessing's spawn_main, not its resource tracker)."""
    deadline = time.monotonic() + 60
    while True:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != proc.pid:
                    continue
                line = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                if b"spawn_main" in line and b"resource_tracker" not in line:
                    return int(stat.parent.name)
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep started no worker"
        time.sleep(0.01)


def gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return bool(re.search(r"^State:\s+Z", status, re.MULTILINE))  # a zombie


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> sweep.SweepResult:
    store = tmp_path_factory.mktemp("whole") / "sweep.db"
    return swept(KILL_BASE, KILL_GRID, store, **quiet(workers=1))


def assert_same_sweep(a: sweep.SweepResult, b: sweep.SweepResult) -> None:
    assert [r.key for r in a.runs] == [r.key for r in b.runs]
    for x, y in zip(a.runs, b.runs, strict=True):
        assert without_time(x.history) == without_time(y.history)
        assert {k: v for k, v in x.metrics.to_dict().items() if k != "seconds"} == {
            k: v for k, v in y.metrics.to_dict().items() if k != "seconds"
        }


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_parent_loses_no_finished_run_and_resumes_exactly(
    tmp_path: Path, uninterrupted: sweep.SweepResult
) -> None:
    store = tmp_path / "sweep.db"
    proc = start_sweep(store)
    wait_for_runs(store, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    before = finished_runs(store)
    total = len(uninterrupted.runs)
    assert 3 <= len(before) < total
    # Orphaned workers notice and exit instead of waiting forever.
    deadline = time.monotonic() + 10
    while not all(gone(pid) for _, pid in before):
        assert time.monotonic() < deadline, "workers outlived their parent"
        time.sleep(0.05)
    # Every stored run is whole, and equal to the same run of an uninterrupted sweep.
    stored = {r.key: r for r in sweep.Store(store).runs()}
    expected = {r.key: r for r in uninterrupted.runs}
    for key, run in stored.items():
        assert without_time(run.history) == without_time(expected[key].history)
    resumed = swept(KILL_BASE, KILL_GRID, store, **quiet(workers=2))
    assert (resumed.already_done, resumed.ran) == (len(before), total - len(before))
    assert_same_sweep(resumed, uninterrupted)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_population_loses_no_finished_member_and_resumes_exactly(
    tmp_path: Path, uninterrupted: sweep.SweepResult
) -> None:
    """workers=1 trains each optimizer's 6 runs as one population; killed after
    the first, the store holds its members whole, and a rerun trains the rest."""
    store = tmp_path / "sweep.db"
    proc = start_sweep(store, workers=1)
    wait_for_runs(store, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = finished_runs(store)
    # the first population's members, stored one by one as it ended
    assert 1 <= len(before) <= 6 and {pid for _, pid in before} == {proc.pid}
    expected = {r.key: r for r in uninterrupted.runs}
    for run in sweep.Store(store).runs():
        assert without_time(run.history) == without_time(expected[run.key].history)
    resumed = swept(KILL_BASE, KILL_GRID, store, **quiet(workers=1))
    assert (resumed.already_done, resumed.ran) == (len(before), 12 - len(before))
    assert_same_sweep(resumed, uninterrupted)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_killed_worker_stops_the_sweep_and_a_rerun_completes_it(
    tmp_path: Path, uninterrupted: sweep.SweepResult
) -> None:
    store = tmp_path / "sweep.db"
    proc = start_sweep(store)
    wait_for_runs(store, 1, proc)
    os.kill(a_worker(proc), signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "SweepError: sweep stopped: a worker process died" in err
    assert "run the same command again to continue" in err
    done = len(finished_runs(store))
    assert 1 <= done < len(uninterrupted.runs)
    resumed = swept(KILL_BASE, KILL_GRID, store, **quiet(workers=2))
    assert resumed.already_done == done
    assert_same_sweep(resumed, uninterrupted)


# --- sharpness -----------------------------------------------------------------------


def test_sharpness_grows_with_the_batch_size(tmp_path: Path) -> None:
    """Keskar et al.'s measurement: tanh MLP, SGD lr 0.1, the same 10 epochs for
    every batch size; λmax at the final weights rises from about 1.8 (batch 16) to
    about 3.2 (batch 256) for every seed. (The larger batches take fewer steps and
    end at a higher loss: this is the equal-epochs comparison of the paper.)"""
    base = RunSpec(
        model="mlp:64-32-10",
        activation="tanh",
        optimizer="sgd",
        lr=0.1,
        train=TrainConfig(epochs=10),
    )
    grid = {"batch_size": [16, 64, 256], "seed": [0, 1, 2]}
    result = swept(
        base, grid, tmp_path / "sweep.db", workers=1, sharpness=True, progress=False
    )
    lam = {
        (r.get("batch_size"), r.get("seed")): r.metrics.lambda_max
        for r in result.rows()
    }
    for seed in (0, 1, 2):
        assert 1.4 < lam[16, seed] < 2.1 < lam[64, seed] < 2.8 < lam[256, seed] < 3.6
        assert lam[256, seed] > 1.6 * lam[16, seed]
    # The stored value is hessian_top_eigenvalues of the training loss at the final
    # weights, float64, on the first 1,000 training samples.
    _, run = direct(base.replace(batch_size=64, seed=1))
    model = run.model.astype(np.float64)
    X, y = run.dataset.X_train[:1000].astype(np.float64), run.dataset.y_train[:1000]
    with threadpool_limits(limits=1):
        values = lab.hessian_top_eigenvalues(
            lambda _: model.loss_and_grad(X, y), model.params, 1
        )
        measured = sharpness(run.model, run.dataset.X_train, run.dataset.y_train)
    assert isinstance(values, np.ndarray)
    assert lam[64, 1] == values[0] == measured
    # ... and the report draws it.
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert "Sharpness against batch size" in page
    assert (tmp_path / "sharpness.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture
def relu_model() -> Iterator[tuple[models.MLP, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    model = models.MLP([5, 7, 6, 3], activation="relu", l2=0.01, seed=2)
    X = rng.standard_normal((40, 5))
    y = rng.integers(0, 3, 40)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield model, X, y
    torch.set_default_dtype(old)


def test_relu_sharpness_is_the_exact_hessian_of_autograd(
    relu_model: tuple[models.MLP, np.ndarray, np.ndarray],
) -> None:
    model, X, y = relu_model
    frozen = training_loss(model, X, y)
    value, grads = frozen(model.params)
    expected_value, expected = model.loss_and_grad(X, y)
    assert value == pytest.approx(expected_value, rel=1e-14)
    for name in model.params:
        np.testing.assert_allclose(grads[name], expected[name], rtol=1e-12, atol=1e-15)

    p = model.params
    names = list(p)

    def loss(flat: torch.Tensor) -> torch.Tensor:
        parts, offset = {}, 0
        for name in names:
            size = p[name].size
            parts[name] = flat[offset : offset + size].reshape(p[name].shape)
            offset += size
        a = torch.as_tensor(X)
        for k in (1, 2):
            a = torch.relu(a @ parts[f"W{k}"] + parts[f"b{k}"])
        z = a @ parts["W3"] + parts["b3"]
        penalty = sum((parts[f"W{k}"] ** 2).sum() for k in (1, 2, 3))
        return torch.nn.functional.cross_entropy(z, torch.as_tensor(y)) + 0.005 * (
            penalty
        )

    flat = torch.as_tensor(np.concatenate([p[n].ravel() for n in names]))
    hessian = torch.autograd.functional.hessian(loss, flat).numpy()
    exact = np.linalg.eigvalsh(hessian)[-1]
    assert sharpness(model, X, y) == pytest.approx(exact, rel=1e-7)


# --- Ray -----------------------------------------------------------------------------


@pytest.fixture
def ray_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Ray's session files and its auth token under one short temporary folder."""
    pytest.importorskip("ray")
    with tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as folder:
        monkeypatch.setenv("RAY_TMPDIR", folder)
        monkeypatch.setenv("HOME", folder)
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        yield Path(folder)


@pytest.mark.slow
def test_ray_gives_the_rows_of_local_processes(
    tmp_path: Path, ray_sandbox: Path
) -> None:
    """Each Ray task trains a chunk of runs as one population, as a local worker
    does: the same rows as the local pool's."""
    import ray

    grid = {"optimizer": ["sgd", "adam"], "seed": [0, 1, 2, 3]}
    local = swept(
        BASE, grid, tmp_path / "local" / "sweep.db", **quiet(workers=2)
    )  # by the rule, this process's populations
    remote = swept(
        BASE, grid, tmp_path / "ray" / "sweep.db", **quiet(workers=2, backend="ray")
    )
    assert not ray.is_initialized()  # the cluster it started is shut down
    assert_same_sweep(remote, local)
    assert {r.pid for r in remote.runs}.isdisjoint({os.getpid()})
    assert any(ray_sandbox.iterdir())  # its files went to the sandbox
    # 4 tasks of 2 runs (one workload's 4 runs in a chunk per CPU): the members
    # of a population share its time, and its process
    runs = {json.loads(r.key)["seed"]: r for r in remote.runs if "sgd" in r.key}
    for a, b in ((0, 1), (2, 3)):
        assert runs[a].metrics.seconds == runs[b].metrics.seconds
        assert runs[a].pid == runs[b].pid
    assert runs[0].metrics.seconds != runs[2].metrics.seconds


def descendants(root: int) -> dict[int, str]:
    """The living descendants of process ``root``: pid -> command line."""
    tree: dict[int, list[tuple[int, str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            raw = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if state != "Z":
            command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            tree.setdefault(int(parent), []).append((int(stat.parent.name), command))
    found, todo = {}, [root]
    while todo:
        for pid, command in tree.get(todo.pop(), []):
            found[pid] = command
            todo.append(pid)
    return found


def alive(pids: Iterable[int]) -> list[int]:
    return [pid for pid in pids if not gone(pid)]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_while_ray_starts_leaves_no_ray_process(
    tmp_path: Path, ray_sandbox: Path
) -> None:
    script = tmp_path / "go.py"
    spec = SMALL.replace(epochs=200).to_dict()
    options = "workers=2, backend='ray'"
    script.write_text(SWEEP_SCRIPT.format(spec=spec, options=options))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    ray: dict[int, str] = {}
    try:
        # SIGTERM once the raylet has started its two agents, before ray.init()
        # returns: Ray's own handler then exits in the middle of it
        deadline = time.monotonic() + 60
        while sum(c.startswith("ray::") and "Agent" in c for c in ray.values()) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "Ray did not start in 60 s"
            ray = descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        deadline = time.monotonic() + 10  # the agents of old stayed for a minute
        while left := alive(ray):
            assert time.monotonic() < deadline, [ray[p] for p in left]
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.communicate()
        for pid in alive(ray):
            os.kill(pid, signal.SIGKILL)
