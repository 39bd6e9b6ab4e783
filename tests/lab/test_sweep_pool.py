"""The sweep's processes: how many the rule picks, workers that stay warm across
calls, and more workers never slower than one."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec, load_data
from gdlab.lab import sweep
from gdlab.lab.sweep import pool
from gdlab.train import TrainConfig

from ..conftest import raises_about

DIGITS = RunSpec(data="digits", model="mlp:64-100-10", train=TrainConfig(epochs=20))
SMALL = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=2, batch_size=32)
)


@pytest.fixture(scope="module")
def datasets() -> dict[tuple[object, ...], object]:
    return {sweep.source(DIGITS): load_data(DIGITS)}


def test_work_is_parameters_times_samples_seen(datasets: dict) -> None:
    # 64-100-10: 64*100 + 100 + 100*10 + 10 parameters; 1293 training samples in
    # batches of 100: 13 steps an epoch, 20 epochs
    assert pool.work([DIGITS], datasets) == 7510 * 13 * 20 * 100
    assert pool.work([DIGITS] * 22, datasets) == 22 * 7510 * 13 * 20 * 100


def test_small_runs_train_in_one_process_large_ones_on_every_core(
    datasets: dict,
) -> None:
    # the digits comparison of the issue: 22 runs, about 4.3e9 parameter-samples
    assert sweep.default_workers([DIGITS] * 22, datasets) == 1
    assert sweep.default_workers([DIGITS] * 22, datasets, most=8) == 1
    big = DIGITS.replace(train=TrainConfig(epochs=2000))  # 100x the work
    assert pool.work([big] * 22, datasets) >= sweep.PARALLEL_WORK
    cores = os.cpu_count() or 1
    assert sweep.default_workers([big] * 22, datasets) == min(cores, 22)
    assert sweep.default_workers([big] * 22, datasets, most=1) == 1
    bigger = DIGITS.replace(train=TrainConfig(epochs=20000))
    assert sweep.default_workers([bigger] * 3, datasets, most=64) == 3  # as asked
    assert sweep.default_workers([], datasets) == 1


def test_workers_stay_warm_across_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "PARALLEL_WORK", 0)
    with sweep.Workers(2) as workers:
        workers.start()
        deadline = time.monotonic() + 120
        while not workers.up():
            assert time.monotonic() < deadline, "the worker never started"
            time.sleep(0.05)
        pids = []
        for seeds in ([0, 1, 2, 3], [4, 5, 6, 7]):
            specs = [SMALL.replace(seed=s) for s in seeds]
            stored, before, errors = sweep.run_specs(
                SMALL,
                specs,
                tmp_path / "sweep.db",
                axes=["seed"],
                progress=False,
                pool=workers,
            )
            assert (len(stored), before, errors) == (4, 0, [])
            pids.append({r.pid for r in stored} - {os.getpid()})
    # the worker of the first call trained in the second: started once
    assert len(pids[0] | pids[1]) == 1


def _seconds(tmp: Path, workers: int) -> float:
    pairs = [(o, s) for o in ("sgd", "adam") for s in range(4)]
    specs = [SMALL.replace(optimizer=o, seed=s) for o, s in pairs]
    started = time.perf_counter()
    _, _, errors = sweep.run_specs(
        SMALL, specs, tmp / f"w{workers}.db", axes=["optimizer", "seed"],
        workers=workers, progress=False,
    )  # fmt: skip
    assert errors == []
    return time.perf_counter() - started


@pytest.mark.parametrize("forced", [False, True], ids=["by-the-rule", "processes"])
def test_more_workers_are_never_slower_than_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forced: bool
) -> None:
    """A small plan, 1 worker against 2 (interleaved, best of 3, generously):
    by the rule 2 means 1 process here; forced onto processes, this process still
    trains while the worker starts, so the start-up is not waited for."""
    if forced:
        monkeypatch.setattr(pool, "PARALLEL_WORK", 0)
    (tmp_path / "warm").mkdir()
    _seconds(tmp_path / "warm", 1)  # kernels loaded in this process
    one, two = [], []
    for k in range(3):
        (tmp_path / str(k)).mkdir()
        one.append(_seconds(tmp_path / str(k), 1))
        two.append(_seconds(tmp_path / str(k), 2))
    assert min(two) <= 1.5 * min(one) + 0.5, (one, two)


def test_the_threshold_can_be_set_in_the_environment(
    datasets: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDLAB_PARALLEL_WORK", "0")
    assert sweep.default_workers([DIGITS] * 22, datasets, most=2) == 2
    monkeypatch.setenv("GDLAB_PARALLEL_WORK", "1e9")
    assert sweep.default_workers([DIGITS] * 3, datasets, most=2) == 1  # 5.9e8
    assert sweep.default_workers([DIGITS] * 22, datasets, most=2) == 2  # 4.3e9
    for bad in ("-1", "lots", "inf", "nan"):
        monkeypatch.setenv("GDLAB_PARALLEL_WORK", bad)
        message = f"sweep: $GDLAB_PARALLEL_WORK must be a number >= 0, got '{bad}'"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            sweep.default_workers([DIGITS], datasets)


@pytest.mark.parametrize("count", [0, 1.5, "2", True])
def test_a_bad_count_of_workers_is_refused(count: object) -> None:
    with raises_about("Workers", "count"):
        sweep.Workers(count)  # type: ignore[arg-type]
