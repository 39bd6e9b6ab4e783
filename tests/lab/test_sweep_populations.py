"""The engine's populations: which runs train together, in what chunks, and that
each member's result is the one its run alone gives."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gdlab.experiment import RunSpec, build, load_data
from gdlab.lab import sweep
from gdlab.lab.sweep import populations, spec_key, worker
from gdlab.lab.sweep.store import FinishedRun, RunOptions
from gdlab.train import TrainConfig, fit

BASE = RunSpec(
    data="digits", model="mlp:64-8-10", train=TrainConfig(epochs=1, batch_size=256)
)


def without_time(run: FinishedRun) -> dict[str, Any]:
    result = run.to_dict()
    history = dict(result["history"])
    history["epochs"] = [
        {k: v for k, v in e.items() if k != "seconds"} for e in history["epochs"]
    ]
    metrics = {k: v for k, v in result["metrics"].items() if k != "seconds"}
    return {"key": result["key"], "metrics": metrics, "history": history}


def test_runs_differing_in_hyperparameters_and_seeds_are_one_workload() -> None:
    specs = [
        BASE.replace(optimizer="sgd", lr=0.1, seed=0),
        BASE.replace(optimizer="adam", lr=0.01, seed=0),
        BASE.replace(optimizer="sgd", lr=0.2, seed=1, schedule="cosine", l2=1e-4),
        BASE.replace(optimizer="sgd", lr=0.1, seed=0, batch_size=128),
        BASE.replace(optimizer="adam", lr=0.02, seed=2, hyper={"betas": [0.8, 0.9]}),
    ]
    keys = [spec_key(s) for s in specs]
    assert populations.groups(keys) == [
        [keys[0], keys[2]],
        [keys[1], keys[4]],
        [keys[3]],
    ]


def test_chunks_are_even_and_bounded() -> None:
    keys = [str(i) for i in range(10)]
    assert [len(c) for c in populations.chunks(keys, 100)] == [10]
    assert [len(c) for c in populations.chunks(keys, 100, parts=3)] == [3, 4, 3]
    size = populations.MOST_ELEMENTS // 4  # four runs' parameters at most
    assert [len(c) for c in populations.chunks(keys, size)] == [3, 4, 3]
    many = [str(i) for i in range(populations.MOST + 1)]
    assert [len(c) for c in populations.chunks(many, 10)] == [32, 33]
    assert [k for c in populations.chunks(keys, 7) for k in c] == keys


def test_members_come_back_as_their_runs_alone() -> None:
    specs = [
        BASE.replace(optimizer="sgd", lr=lr, seed=seed)
        for lr, seed in ((0.1, 0), (0.3, 1), (1e30, 0))  # the last diverges
    ]
    keys = [spec_key(s) for s in specs]
    dataset = load_data(BASE)
    options = RunOptions()
    with np.errstate(over="ignore", invalid="ignore"):  # the diverging run's, as fit
        together = populations.execute_population(keys, options, dataset)
        alone = [worker.execute_run(k, options, dataset) for k in keys]
    assert [without_time(r) for r in together] == [without_time(r) for r in alone]
    assert together[2].message.startswith("diverged at step")
    assert together[2].metrics.final_train_loss is None  # not measurable
    # a record crosses to the parent process (and Ray) as it is
    assert pickle.loads(pickle.dumps(together[0])) == together[0]
    chunk = worker.execute(json.dumps(keys[:2]), options, dataset)
    assert [without_time(r) for r in chunk] == [without_time(r) for r in alone[:2]]
    # NAdam cannot run as a population: its runs train alone, with the same results
    nadam = [spec_key(s.replace(optimizer="nadam")) for s in specs[:2]]
    assert [
        without_time(r) for r in populations.execute_population(nadam, options, dataset)
    ] == [without_time(worker.execute_run(k, options, dataset)) for k in nadam]


def test_worker_processes_train_chunks_as_populations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep.pool, "PARALLEL_WORK", 0)  # processes even for these
    base = BASE.replace(optimizer="sgd")
    grid = {"lr": [0.05, 0.1], "seed": [0, 1]}
    keys = [spec_key(s) for s in sweep.expand(base, grid)]
    chunked = populations.in_chunks(dict.fromkeys(keys, load_data(base)), 2)
    assert [json.loads(k) for k in chunked] == [keys[:2], keys[2:]]
    result = sweep.run(
        sweep.Sweep(base, grid), out=tmp_path, workers=2, progress=False, report=False
    )
    assert result.ran == 4
    for spec, stored in zip(result.specs, result.runs, strict=True):
        run = build(spec)
        with threadpool_limits(limits=1):
            history = fit(
                run.model, run.optimizer, run.dataset, spec.train, progress=False
            )
        want = history.to_dict()
        got = stored.history.to_dict()
        for h in (want, got):
            h["epochs"] = [
                {k: v for k, v in e.items() if k != "seconds"} for e in h["epochs"]
            ]
        assert got == want


class _FailingWorker:
    """A pool of one worker process whose every run raised there: each future it
    gives holds the exception, as a real worker's does."""

    spawned = 1

    def submit(self, *args: Any) -> Future[tuple[FinishedRun, ...]]:
        future: Future[tuple[FinishedRun, ...]] = Future()
        future.set_exception(ValueError("RunSpec: optimizer must be known, got 'x'"))
        return future

    def up(self) -> bool:
        return True


@pytest.mark.parametrize("where", ["worker", "here"])
def test_a_failed_chunk_counts_each_of_its_runs(tmp_path: Path, where: str) -> None:
    keys = [spec_key(BASE.replace(optimizer="sgd", seed=s)) for s in range(3)]
    bad = [k.replace('"sgd"', '"no-such-optimizer"') for k in keys]
    chunk = json.dumps(bad)  # one key: three runs as one population
    assert populations.keys_in(chunk) == bad
    assert populations.keys_in(keys[0]) == [keys[0]]
    todo = {chunk: load_data(BASE)}
    recorded: list[FinishedRun] = []
    workers: Any = _FailingWorker() if where == "worker" else sweep.Workers(1)
    errors = sweep.pool.run(todo, RunOptions(), workers, recorded.append)
    assert recorded == []
    assert len(errors) == 3 and all(isinstance(e, ValueError) for e in errors)
    with pytest.raises(sweep.SweepError, match=r"3 runs failed \(ValueError: "):
        sweep.runner.raise_for(errors, [], 3, tmp_path / "sweep.db")
