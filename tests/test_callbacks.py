"""fit's callbacks: told of every step and evaluation, able to stop the run, and
TensorBoard event files that TensorBoard's own reader reads back."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from gdlab import optim
from gdlab.callbacks import Callback, Step, StopAt, TensorBoard, state_norms
from gdlab.experiment import RunSpec, build
from gdlab.train import TrainConfig, fit, resume

from .conftest import raises_about

SPEC = RunSpec(data="digits", model="mlp:64-16-10", optimizer="adam", lr=0.01)


def run(config: TrainConfig, **kwargs: object):  # type: ignore[no-untyped-def]
    built = build(SPEC)
    history = fit(
        built.model, built.optimizer, built.dataset, config, progress=False, **kwargs
    )
    return history, built


def timeless(rows: list[dict[str, float | None]]) -> list[dict[str, float | None]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


class Recorder(Callback):
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.rows: list[dict[str, float | None]] = []
        self.ended = 0

    def on_step(self, step: Step, optimizer: optim.Optimizer) -> None:
        self.steps.append(step)

    def on_evaluation(self, row, optimizer):  # type: ignore[no-untyped-def]
        self.rows.append(dict(row))

    def on_end(self) -> None:
        self.ended += 1


def test_callbacks_see_what_the_history_keeps_and_change_nothing() -> None:
    config = TrainConfig(epochs=2, batch_size=64, eval_every=10)
    plain, _ = run(config)
    seen = Recorder()
    told, _ = run(config, callbacks=[seen])
    assert told.steps == plain.steps
    assert timeless(told.epochs) == timeless(plain.epochs)
    assert [(s.step, s.loss, s.lr) for s in seen.steps] == [
        (s["step"], s["loss"], s["lr"]) for s in told.steps
    ]
    assert seen.rows == told.epochs and seen.ended == 1
    per_epoch = len(told.steps) // 2
    assert seen.steps[per_epoch - 1].epoch == 1.0


def test_stop_at_a_training_loss() -> None:
    config = TrainConfig(epochs=20, batch_size=32)
    full, _ = run(config)
    target = 0.5
    first = next(s["step"] for s in full.steps if s["loss"] <= target)
    stopped, _ = run(config, callbacks=[StopAt("loss", below=target)])
    assert len(stopped.steps) == first < len(full.steps)
    assert stopped.steps == full.steps[:first]
    assert stopped.epochs[-1]["step"] == first  # evaluated where it stopped
    assert stopped.message == f"stopped by StopAt('loss', below=0.5) at step {first}"
    assert not stopped.diverged


def test_stop_at_a_validation_accuracy() -> None:
    config = TrainConfig(epochs=20, batch_size=32, eval_every=5)
    full, _ = run(config)
    row = next(e for e in full.epochs if (e["val_acc"] or 0) >= 0.8)
    stopped, _ = run(config, callbacks=[StopAt("val_acc", above=0.8)])
    assert timeless(stopped.epochs) == timeless(
        full.epochs[: full.epochs.index(row) + 1]
    )
    assert len(stopped.steps) == row["step"]


@pytest.mark.parametrize(
    "kwargs", [{"callbacks": [print]}, {"callbacks": StopAt("loss", below=1)}]
)
def test_bad_callbacks_are_refused(kwargs: dict[str, object]) -> None:
    with raises_about("fit", "callbacks"):
        run(TrainConfig(epochs=1), **kwargs)


def test_stop_at_checks_its_arguments() -> None:
    with raises_about("StopAt", "quantity"):
        StopAt("acc", above=0.9)
    with pytest.raises(ValueError, match=r"^StopAt: give one of below= and above="):
        StopAt("loss")
    with raises_about("StopAt", "below"):
        StopAt("loss", below=math.nan)


def test_resume_tells_callbacks_of_the_steps_it_trains(tmp_path: Path) -> None:
    config = TrainConfig(epochs=3, batch_size=64)
    built = build(SPEC)
    whole = fit(built.model, built.optimizer, built.dataset, config, progress=False,
                checkpoint_dir=tmp_path, checkpoint_every=5)  # fmt: skip
    (tmp_path / "checkpoint-000000063.npz").unlink()  # as if killed after step 60
    seen = Recorder()
    again = build(SPEC)
    history, _, _ = resume(
        tmp_path, again.model, again.optimizer, again.dataset, progress=False,
        callbacks=[seen, StopAt("train_loss", below=-1.0)],  # never stops
    )  # fmt: skip
    assert [s.step for s in seen.steps] == [61, 62, 63]
    assert history.steps == whole.steps and seen.ended == 1
    assert history.message == ""


def test_tensorboard_logs_what_the_run_measured(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    config = TrainConfig(epochs=2, batch_size=64)
    history, built = run(config, callbacks=[TensorBoard(tmp_path / "tb")])
    events = accumulator.EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [s["step"] for s in history.steps]
    np.testing.assert_allclose(
        [e.value for e in losses], [s["loss"] for s in history.steps], rtol=1e-6
    )
    val = events.Scalars("eval/val_acc")
    assert [(e.step, e.value) for e in val] == [
        (r["step"], pytest.approx(r["val_acc"])) for r in history.epochs
    ]
    norms = state_norms(built.optimizer)
    assert set(norms) == {"params", "exp_avg", "exp_avg_sq"}
    last = events.Scalars("norms/params")[-1]
    flat = np.concatenate([np.ravel(a) for a in built.model.params.values()])
    assert last.value == pytest.approx(float(np.linalg.norm(flat)), rel=1e-6)
    assert events.Scalars("norms/exp_avg")[-1].value == pytest.approx(
        norms["exp_avg"], rel=1e-6
    )


def test_train_writes_tensorboard_files(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from click.testing import CliRunner

    from gdlab.cli import main

    args = ["train", "--epochs", "1", "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, [*args, "--tensorboard", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    refused = CliRunner().invoke(
        main, ["train", "--model", "convnet", "--out", str(tmp_path / "r2"),
               "--tensorboard", str(tmp_path / "tb2")],
    )  # fmt: skip
    assert refused.exit_code == 2 and not (tmp_path / "tb2").exists()


def test_tensorboard_into_a_file_is_one_line_and_leaves_no_run(tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    from click.testing import CliRunner

    from gdlab.cli import main

    (tmp_path / "afile").write_text("mine")
    out = tmp_path / "run"
    args = ["train", "--epochs", "1", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--tensorboard", str(tmp_path / "afile")])
    assert result.exit_code == 2
    assert "--tensorboard" in result.output and "it is a file" in result.output
    assert not out.exists() and (tmp_path / "afile").read_text() == "mine"
