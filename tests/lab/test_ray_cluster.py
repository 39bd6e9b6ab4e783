"""Sweeps on a multi-node Ray cluster, reached through RAY_ADDRESS as a real one is.

One cluster for the module (``ray.cluster_utils.Cluster``: a head with no CPUs, so
that no run trains on it, and two worker nodes of one CPU each, all on this
machine); the test process, or a subprocess, is the sweep's driver.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdlab import data
from gdlab.experiment import RunSpec, load_data
from gdlab.lab import sweep
from gdlab.lab.sweep import worker
from gdlab.train import TrainConfig

pytestmark = [
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc"),
    # imported by the cluster's fixture: importing Ray takes half a second of every
    # pytest-xdist worker's collection, and the cluster's tests are slow ones
    pytest.mark.skipif(find_spec("ray") is None, reason="needs ray"),
]

BASE = RunSpec(
    data="digits", model="mlp:64-8-10", train=TrainConfig(epochs=1, batch_size=64)
)
GRID = {"optimizer": ["sgd", "adam"], "seed": [0, 1, 2]}
LONG = BASE.replace(epochs=100)  # 0.5 s a run: long enough to be caught running
RUNNING = f"ray::{worker.execute_in_ray.__name__}"  # a worker training a run
FASHION = Path("/usr/share/datasets/fashion-mnist")


def quiet(**kwargs: Any) -> dict[str, Any]:
    return {"progress": False, "report": False, **kwargs}


# --- processes -------------------------------------------------------------------


def processes() -> dict[int, tuple[int, str]]:
    """Every living process: pid -> (parent, command line)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
            raw = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if state != "Z":
            command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
            found[int(stat.parent.name)] = (int(parent), command)
    return found


def descendants(root: int) -> dict[int, str]:
    """The living descendants of ``root``: pid -> command line."""
    table = processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = {}, [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found[pid] = table[pid][1]
            todo.append(pid)
    return found


def running(root: int) -> list[int]:
    """The Ray workers under ``root`` that are training a run."""
    return [p for p, c in descendants(root).items() if c.startswith(RUNNING)]


def workers(root: int) -> dict[int, str]:
    """The Ray workers under ``root``, idle or not (a node's agents aside)."""
    return {
        p: c
        for p, c in descendants(root).items()
        if c.startswith("ray::") and not c.endswith("Agent")
    }


def wait_until(condition: Any, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s"
        time.sleep(0.02)


# --- the cluster -----------------------------------------------------------------


def reset_ray_auth() -> None:
    """Make this process's Ray read its authentication settings (RAY_AUTH_MODE,
    ~/.ray/auth_token) again: it caches them, and a local ``ray.init()`` earlier in
    the session (tests/lab/test_sweep.py) left them pointing at a deleted token."""
    try:
        from ray._private.authentication_test_utils import reset_auth_token_state
    except ImportError:  # a Ray without token authentication
        return
    reset_auth_token_state()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head with no CPUs and two one-CPU worker nodes, with token authentication
    as a real cluster should have; its files, token and address file under a
    temporary folder; every process it started ends with it."""
    from ray import cluster_utils

    before = set(descendants(os.getpid()))
    with (
        tempfile.TemporaryDirectory(prefix="ray", dir="/tmp") as folder,
        pytest.MonkeyPatch.context() as env,
    ):
        env.setenv("RAY_TMPDIR", folder)
        env.setenv("HOME", folder)  # the nodes and drivers read ~/.ray/auth_token
        env.setenv("RAY_AUTH_MODE", "token")
        env.delenv("RAY_ADDRESS", raising=False)
        token = Path(folder, ".ray", "auth_token")
        token.parent.mkdir()
        token.write_text(uuid.uuid4().hex)
        reset_ray_auth()
        made = cluster_utils.Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 0,
                "include_dashboard": False,
                # A dead node is known in 2 s rather than 15 (Ray's defaults:
                # every 3 s, 5 misses): its lost runs are tried again sooner.
                "_system_config": {
                    "health_check_period_ms": 500,
                    "health_check_failure_threshold": 4,
                },
            },
        )
        try:
            for _ in range(2):
                made.add_node(num_cpus=1)
            yield made
        finally:
            made.shutdown()
            left = {
                p: c
                for p, c in descendants(os.getpid()).items()
                if p not in before and "ray" in c
            }
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            assert not left, f"the cluster left processes behind: {left}"
    reset_ray_auth()  # as the environment, restored, now says


@pytest.fixture
def address(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The cluster's address in RAY_ADDRESS, with two worker nodes (a test that
    removes one gets a new one after)."""
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    import ray

    yield cluster.address
    assert not ray.is_initialized()  # the sweep disconnected
    while len(cluster.worker_nodes) < 2:
        cluster.add_node(num_cpus=1)


def worker_ids(cluster: Any) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, sweep.StoredRun]:
    """The grid of LONG trained in this process: what every cluster must give."""
    out = tmp_path_factory.mktemp("local")
    result = sweep.run(sweep.Sweep(LONG, GRID), out=out, **quiet(workers=1))
    return {r.key: r for r in result.runs}


def numbers(run: sweep.StoredRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run's metrics and history: all but the seconds it took."""
    history = run.history.to_dict()
    history["epochs"] = [
        {k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]
    ]
    return {k: v for k, v in run.metrics.to_dict().items() if k != "seconds"}, history


def assert_same_runs(
    runs: list[sweep.StoredRun], expected: dict[str, sweep.StoredRun]
) -> None:
    assert sorted(r.key for r in runs) == sorted(expected)
    for run in runs:
        assert numbers(run) == numbers(expected[run.key])


def stored(store: Path) -> list[tuple[str, str | None]]:
    """(key, ray_node_id) of every run in ``store``, read as another process would."""
    if not store.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        with closing(db):
            return db.execute("SELECT key, ray_node_id FROM runs").fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return []


# --- the tests -------------------------------------------------------------------


def test_the_store_has_a_node_column_none_for_local_runs(tmp_path: Path) -> None:
    store = tmp_path / "sweep.db"
    sweep.run(sweep.Sweep(BASE, {"seed": [0, 1]}), out=tmp_path, **quiet(workers=1))
    assert [n for _, n in stored(store)] == [None, None]
    with closing(sqlite3.connect(store)) as db, db:  # a store of version 2
        db.execute("UPDATE meta SET value = '2' WHERE key = 'version'")
    with pytest.raises(ValueError, match=r"another version of gdlab \(store version 2"):
        sweep.Store(store)


@pytest.mark.slow
def test_runs_spread_over_the_nodes_and_equal_a_local_sweep(
    address: str,
    cluster: Any,
    tmp_path: Path,
    local: dict[str, sweep.StoredRun],
    capsys: pytest.CaptureFixture[str],
) -> None:
    plan = sweep.Sweep(LONG, GRID)
    result = sweep.run(plan, out=tmp_path, backend="ray", report=False)
    assert f"6 to run on the Ray cluster at {address})" in capsys.readouterr().out
    assert_same_runs(result.runs, local)
    nodes = {r.ray_node_id for r in result.runs}
    assert len(nodes) == 2 and nodes == worker_ids(cluster)  # none on the head
    assert os.getpid() not in {r.pid for r in result.runs}
    assert {r.ray_node_id for r in local.values()} == {None}  # local runs: no node


@pytest.mark.slow
def test_a_node_lost_mid_sweep_loses_and_duplicates_no_run(
    address: str, cluster: Any, tmp_path: Path, local: dict[str, sweep.StoredRun]
) -> None:
    store = tmp_path / "sweep.db"
    doomed = next(iter(cluster.worker_nodes))
    raylet = doomed.all_processes["raylet"][0].process.pid
    removed: list[float] = []

    def remove_it_while_it_trains() -> None:
        # a run of it finished and another is training there: that one is lost
        wait_until(
            lambda: (
                (doomed.node_id in {n for _, n in stored(store)}) and running(raylet)
            ),
            "a second run on the node",
        )
        cluster.remove_node(doomed, allow_graceful=False)
        removed.append(time.monotonic())

    remover = threading.Thread(target=remove_it_while_it_trains, daemon=True)
    remover.start()
    plan = sweep.Sweep(LONG, GRID)
    result = sweep.run(plan, out=store.parent, **quiet(workers=2, backend="ray"))
    remover.join(timeout=60)
    assert removed, "the node was not removed before the sweep ended"
    with closing(sqlite3.connect(store)) as db:
        counts = db.execute("SELECT count(*), count(DISTINCT key) FROM runs")
        assert counts.fetchone() == (len(local), len(local))
    assert_same_runs(result.runs, local)
    on_it = [r for r in result.runs if r.ray_node_id == doomed.node_id]
    assert 1 <= len(on_it) < len(local)


DRIVER = """
import sys
from gdlab.experiment import RunSpec
from gdlab.lab import sweep

sweep.run(sweep.Sweep(RunSpec.from_dict({spec!r}), {grid!r}), out=sys.argv[1],
          workers=2, backend="ray", progress=False, report=False)
"""


@pytest.mark.slow
def test_a_killed_driver_resumes_and_leaves_no_ray_process(
    address: str, cluster: Any, tmp_path: Path, local: dict[str, sweep.StoredRun]
) -> None:
    store = tmp_path / "out" / "sweep.db"
    script = tmp_path / "driver.py"  # beside the sweep's folder
    script.write_text(DRIVER.format(spec=LONG.to_dict(), grid=GRID))
    driver = subprocess.Popen(
        [sys.executable, str(script), str(store.parent)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: len(stored(store)) >= 2 or driver.poll(), "two runs")
        spawned = descendants(driver.pid)
    finally:
        driver.kill()  # SIGKILL
        _, err = driver.communicate()
    assert driver.returncode == -signal.SIGKILL, err.decode()
    done = len(stored(store))
    assert 2 <= done < len(local)
    # Nothing the driver started outlives it (joining a cluster starts nothing
    # today), and the nodes end its workers: none is left, training or idle.
    wait_until(lambda: not set(spawned) & set(processes()), "the driver's processes")
    wait_until(lambda: not workers(os.getpid()), "the dead driver's workers ended")
    plan = sweep.Sweep(LONG, GRID)
    resumed = sweep.run(plan, out=store.parent, **quiet(workers=2, backend="ray"))
    assert (resumed.already_done, resumed.ran) == (done, len(local) - done)
    assert_same_runs(resumed.runs, local)


@pytest.mark.slow
def test_a_run_whose_worker_dies_on_every_try_is_reported(
    address: str, tmp_path: Path
) -> None:
    spec = BASE.replace(epochs=400)  # seconds: it is killed long before its end
    kills: list[int] = []
    finished = threading.Event()

    def kill_every_try() -> None:
        while not finished.is_set() and len(kills) <= sweep.RAY_RETRIES + 2:
            for pid in running(os.getpid()):
                if pid not in kills:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_every_try, daemon=True)
    killer.start()
    try:
        with pytest.raises(sweep.SweepError) as info:
            plan = sweep.Sweep(spec, {"seed": [0]})
            sweep.run(plan, out=tmp_path, **quiet(backend="ray"))
    finally:
        finished.set()
        killer.join(timeout=30)
    assert len(kills) == 1 + sweep.RAY_RETRIES
    message = str(info.value)
    assert re.search(
        r"1 runs failed \(SweepError: run optimizer=adam lr=None batch_size=64 "
        r"seed=0 failed on Ray \(WorkerCrashedError: .*\); a run whose worker or "
        rf"node dies is tried {1 + sweep.RAY_RETRIES} times\); 0 of 1 runs are saved",
        message,
    ), message


@pytest.fixture
def fashion_subset(tmp_path: Path) -> Path:
    """The first 1,200 images of Fashion-MNIST's test set as a small set of the four
    IDX files: 1,000 to train on, 200 to test."""
    if not (FASHION / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is absent: `apt-get install dataset-fashion-mnist`")
    images = data.read_idx(FASHION / "t10k-images-idx3-ubyte.gz")[:1200]
    labels = data.read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")[:1200]
    folder = tmp_path / "fashion"
    folder.mkdir()
    for part, rows in (("train", slice(0, 1000)), ("t10k", slice(1000, 1200))):
        data.write_idx(folder / f"{part}-images-idx3-ubyte", images[rows])
        data.write_idx(folder / f"{part}-labels-idx1-ubyte", labels[rows])
    return folder


@pytest.mark.slow
def test_nodes_train_fashion_mnist_without_its_files(
    address: str, cluster: Any, tmp_path: Path, fashion_subset: Path
) -> None:
    base = RunSpec(
        data="fashion-mnist",
        data_path=str(fashion_subset),
        model="mlp:784-8-10",
        optimizer="adam",
        train=TrainConfig(epochs=2, batch_size=64),
    )
    specs = sweep.expand(base, {"seed": [0, 1, 2, 3]})
    loaded = sweep.validate(specs)  # the driver reads the files, once
    shutil.rmtree(fashion_subset)  # and then nobody can
    with pytest.raises(ValueError, match="Fashion-MNIST not found"):
        load_data(base)
    on_nodes, _, errors = sweep.run_specs(
        base,
        specs,
        tmp_path / "ray.db",
        axes=["seed"],
        workers=2,
        backend="ray",
        progress=False,
        datasets=loaded,
    )
    assert errors == []
    assert {r.ray_node_id for r in on_nodes} <= worker_ids(cluster)
    here, _, _ = sweep.run_specs(
        base,
        specs,
        tmp_path / "local.db",
        axes=["seed"],
        workers=1,
        progress=False,
        datasets=loaded,
    )
    assert_same_runs(on_nodes, {r.key: r for r in here})
    accuracy = np.mean([r.metrics.final_test_acc for r in on_nodes])
    assert accuracy > 0.3  # trained: chance is 0.1


EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "own_workload.py"


@pytest.mark.slow
def test_a_plugin_model_trains_on_nodes_that_never_loaded_it(
    address: str, cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nodes started before the plugin was loaded here: each task imports it
    (the driver's list travels with the runs) before it builds its model."""
    from gdlab import plugins
    from gdlab.data import registry as datasets
    from gdlab.models import registry as models

    monkeypatch.setenv(plugins.ENV, "[]")
    plugins.load(str(EXAMPLE))
    try:
        spec = BASE.replace(model="my-softmax:scale=0.1")
        plan = sweep.Sweep(spec, {"optimizer": ["adam", "sgd"]})
        result = sweep.run(plan, out=tmp_path, **quiet(backend="ray"))
    finally:
        models.MODELS.remove("my-softmax")
        datasets.DATASETS.remove("blobs")
    assert len(result.runs) == 2
    assert {r.ray_node_id for r in result.runs} <= worker_ids(cluster)
    for run in result.runs:  # trained there: 21 steps of 64 of digits' 1293
        assert run.metrics.steps == 21 and not run.metrics.diverged
        assert 0 <= run.metrics.final_val_acc <= 1


TORCH_EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "torch_model.py"


@pytest.mark.slow
def test_a_torch_plugin_model_trains_on_the_nodes(
    address: str, cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: a torch model from a plugin file, with gdlab's Adam and
    torch.optim's, on Ray (2 runs of one epoch on digits)."""
    pytest.importorskip("torch")
    from gdlab import plugins
    from gdlab.models import registry as models

    monkeypatch.setenv(plugins.ENV, "[]")
    plugins.load(str(TORCH_EXAMPLE))
    try:
        spec = BASE.replace(model="tiny_cnn", lr=3e-3)
        plan = sweep.Sweep(spec, {"optimizer": ["adam", "torch:Adam"]})
        result = sweep.run(plan, out=tmp_path, **quiet(backend="ray"))
    finally:
        models.MODELS.remove("tiny_cnn")
    assert len(result.runs) == 2
    assert {r.ray_node_id for r in result.runs} <= worker_ids(cluster)
    ours, theirs = sorted(result.runs, key=lambda r: r.spec.optimizer)
    assert ours.metrics.steps == theirs.metrics.steps > 0
    # the same start and batches: gdlab's Adam and torch's agree to float32's noise
    assert theirs.metrics.final_val_loss == pytest.approx(
        ours.metrics.final_val_loss, rel=1e-4
    )
