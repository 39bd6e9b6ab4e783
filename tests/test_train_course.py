"""The run options of the course notes' MNIST experiment: an evaluation at step 0,
batches drawn with replacement (resumed exactly), 0.01·N(0, 1) weights, and
schedules stepped per epoch."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdlab import schedules, train
from gdlab.experiment import RunSpec, build, build_schedule
from gdlab.lab.runs import rebuild
from gdlab.train import TrainConfig

SPEC = RunSpec(
    data="digits",
    model="mlp:64-32-10",
    optimizer="sgd",
    lr=0.1,
    init="normal:0.01",
    activation="sigmoid",
    train=TrainConfig(
        epochs=2, batch_size=64, sampling="with-replacement", eval_at_start=True
    ),
)


def test_eval_at_start_and_sampling_with_replacement() -> None:
    run = build(SPEC)
    w1 = run.model.params["W1"].copy()
    assert np.std(w1) == pytest.approx(0.01, rel=0.1)
    hist = train.fit(
        run.model, run.optimizer, run.dataset, run.spec.train, progress=False
    )
    per_epoch = math.ceil(run.dataset.n_train / 64)
    assert [e["step"] for e in hist.epochs] == [0, per_epoch, 2 * per_epoch]
    assert hist.epochs[0]["epoch"] == 0
    assert hist.epochs[0]["train_acc"] < 0.2  # the untrained net guesses
    assert hist.config["sampling"] == "with-replacement"
    assert len(hist.steps) == 2 * per_epoch
    without = build(SPEC.replace(sampling="without-replacement", eval_at_start=False))
    other = train.fit(
        without.model,
        without.optimizer,
        without.dataset,
        without.spec.train,
        progress=False,
    )
    assert [e["step"] for e in other.epochs] == [per_epoch, 2 * per_epoch]
    assert [s["loss"] for s in other.steps] != [s["loss"] for s in hist.steps]


def test_bad_sampling_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^TrainConfig: sampling must be one of without"
    ):
        SPEC.replace(sampling="bootstrap")


class Crash(Exception):
    pass


def test_resume_with_replacement_is_bit_identical(tmp_path: Path) -> None:
    spec = SPEC.replace(epochs=3)
    expected = build(spec)
    done = train.fit(
        expected.model,
        expected.optimizer,
        expected.dataset,
        expected.spec.train,
        progress=False,
    )
    run = build(spec)
    calls, original = [0], run.model.loss_and_grad

    def crashing(X: np.ndarray, y: np.ndarray, **out: Any) -> tuple[float, Any]:
        calls[0] += 1
        if calls[0] > 30:  # mid-epoch, two steps after the checkpoint at 28
            raise Crash
        return original(X, y, **out)

    run.model.loss_and_grad = crashing  # type: ignore[method-assign,assignment]
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=tmp_path,
            checkpoint_every=7,
            progress=False,
            spec=spec.to_dict(),
        )
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert [s["loss"] for s in hist.steps] == [s["loss"] for s in done.steps]
    assert [e["step"] for e in hist.epochs] == [e["step"] for e in done.epochs]
    for name in model.params:
        np.testing.assert_array_equal(model.params[name], expected.model.params[name])


def test_schedule_unit_epoch() -> None:
    spec = RunSpec(
        lr=0.1, schedule="exponential", schedule_args={"rate": 0.5}, warmup_epochs=1
    )
    lr = build_schedule(spec.replace(schedule_unit="epoch"), 40, 10)
    assert isinstance(lr, schedules.Schedule)
    # one epoch of warm-up at lr/2 (from lr/(W + 1), as torch's LinearLR with
    # start_factor 1/(W + 1)), then e^(−0.5·epoch) from the second epoch on
    assert [lr(k) for k in (0, 9, 10, 19, 20, 39)] == pytest.approx(
        [0.05, 0.05, 0.1, 0.1, 0.1 * math.exp(-0.5), 0.1 * math.exp(-1.0)]
    )
    per_step = build_schedule(spec, 40, 10)
    assert isinstance(per_step, schedules.Schedule)
    assert per_step(9) != per_step(10) != per_step(11)
    with pytest.raises(ValueError, match=r"RunSpec: schedule_unit must be one of"):
        build_schedule(spec.replace(schedule_unit="batch"), 40, 10)
