"""The model file: a training folder's ``model.npz`` holds the weights at the
optimizer's evaluation point (Schedule-Free's x), the point the history measured;
its checkpoints hold the training point y and the state, so resume stays exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdlab import checkpoint, train, weights
from gdlab.experiment import RunSpec, build
from gdlab.lab import runs
from gdlab.train_config import TrainConfig

from .test_train import Crash, crash_after

SPEC = RunSpec(
    data="digits",
    model="mlp:64-16-10",
    optimizer="schedulefree_adamw",
    lr=0.01,
    train=TrainConfig(epochs=2, batch_size=128),
)


def test_the_model_file_holds_x_scores_what_the_history_says_and_resumes(
    tmp_path: Path,
) -> None:
    run = build(SPEC)
    whole = tmp_path / "whole"
    history = runs.train_into(whole, run, progress=False)
    loaded, meta = weights.read(whole / weights.FILE)
    assert meta == {
        "version": 1,
        "point": "evaluation",
        "optimizer": "AdamWScheduleFree",
        "step": run.optimizer.step_count,
    }
    x, y = run.optimizer.eval_params(), run.model.params
    assert set(loaded) == set(y)
    for name in y:
        np.testing.assert_array_equal(loaded[name], x[name])
        assert not np.array_equal(loaded[name], y[name])  # not the training point
    # the checkpoint keeps y (and the state): a resume continues where it stopped
    arrays, _, _ = checkpoint.load_latest(whole / "checkpoints")
    for name in y:
        np.testing.assert_array_equal(arrays[f"param/{name}"], y[name])
    # a user who loads the file into a fresh model gets the reported numbers
    fresh = build(SPEC)
    for name, value in loaded.items():
        fresh.model.params[name][...] = value
    last = history.epochs[-1]
    ds = fresh.dataset
    assert train.evaluate(fresh.model, ds.X_val, ds.y_val) == (
        last["val_loss"],
        last["val_acc"],
    )
    assert train.evaluate(fresh.model, ds.X_test, ds.y_test)[0] == last["test_loss"]
    # a run killed midway and resumed writes the same file, bit for bit
    broken = tmp_path / "broken"
    run = build(SPEC)
    crash_after(run.model, 15)
    with pytest.raises(Crash):
        runs.train_into(broken, run, checkpoint_every=4, progress=False)
    assert not (broken / weights.FILE).exists()  # only a finished run has one
    runs.resume_into(broken, progress=False)
    for name, value in weights.load(broken / weights.FILE).items():
        np.testing.assert_array_equal(value, loaded[name])


def test_an_optimizer_without_an_evaluation_point_saves_its_parameters(
    tmp_path: Path,
) -> None:
    from gdlab import optim

    w = {"w": np.arange(3.0)}
    opt = optim.create("adam", w, lr=0.1)
    opt.step({"w": np.ones(3)})
    path = weights.save(tmp_path / "m.npz", w, opt)
    loaded, meta = weights.read(path)
    assert meta["point"] == "parameters" and meta["step"] == 1
    np.testing.assert_array_equal(loaded["w"], w["w"])
    assert loaded["w"] is not w["w"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"x": np.ones(2)}, "unreadable"),
        ({"meta.json": np.frombuffer(b'{"version": 9}', np.uint8)}, "version must"),
        (
            {
                "meta.json": np.frombuffer(b'{"version": 1}', np.uint8),
                "w": np.ones(2),
            },
            "arrays must be named param/NAME",
        ),
    ],
)
def test_a_file_gdlab_did_not_write_is_one_error_naming_it(
    tmp_path: Path, content: dict[str, Any], message: str
) -> None:
    path = tmp_path / "model.npz"
    np.savez(path, **content)
    with pytest.raises(ValueError, match=rf"^model file {path}: {message}"):
        weights.load(path)
