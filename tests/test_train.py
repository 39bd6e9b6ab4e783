"""The training loop: history, divergence, clipping, checkpoints and exact resume."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gdlab import checkpoint, data, losses, models, optim, train, train_config
from gdlab.experiment import RunSpec, build
from gdlab.lab.runs import rebuild
from gdlab.train import TrainConfig

from .conftest import raises_about, write_checkpoint

SPEC = RunSpec(
    data="digits",
    model="mlp:64-32-10",
    optimizer="adam",
    lr=0.01,
    train=TrainConfig(epochs=3, batch_size=64),
)


def fresh(spec: RunSpec = SPEC) -> tuple[models.Model, optim.Optimizer, data.Dataset]:
    run = build(spec)
    return run.model, run.optimizer, run.dataset


def test_fit_records_every_step_and_epoch_and_learns() -> None:
    model, opt, ds = fresh()
    hist = train.fit(model, opt, ds, SPEC.train, progress=False)
    per_epoch = math.ceil(ds.n_train / 64)
    assert [s["step"] for s in hist.steps] == list(range(1, 3 * per_epoch + 1))
    assert [e["epoch"] for e in hist.epochs] == [1, 2, 3]
    assert hist.epochs[-1]["step"] == 3 * per_epoch
    assert hist.epochs[-1]["test_acc"] > 0.85
    assert hist.epochs[-1]["train_loss"] < hist.epochs[0]["train_loss"]
    assert not hist.diverged
    loss, acc = train.evaluate(model, ds.X_test, ds.y_test)
    assert loss == pytest.approx(model.loss(ds.X_test, ds.y_test), rel=1e-5)
    assert acc == model.accuracy(ds.X_test, ds.y_test) == hist.epochs[-1]["test_acc"]


def test_training_metrics_are_taken_on_a_fixed_sample_of_the_training_rows() -> None:
    model, opt, ds = fresh()
    n = ds.n_train
    config = TrainConfig(epochs=2, batch_size=64, train_eval_rows=400, seed=3)
    index = config.train_eval_index(n)
    assert index is not None and len(index) == 400 == len(set(index.tolist()))
    assert list(index) == sorted(index) and index.max() < n
    np.testing.assert_array_equal(index, config.train_eval_index(n))  # fixed
    other = TrainConfig(train_eval_rows=400).train_eval_index(n)  # another seed
    assert not np.array_equal(index, other)
    assert TrainConfig().train_eval_index(n) is None  # 10,000 by default: all
    assert TrainConfig(train_eval_rows=None).train_eval_index(60_000) is None
    assert TrainConfig(notes_loop=True).train_eval_index(60_000) is None
    assert TrainConfig().train_eval_index(60_000).shape == (10_000,)  # type: ignore[union-attr]
    hist = train.fit(model, opt, ds, config, progress=False)
    last = hist.epochs[-1]
    sample = train.evaluate(model, ds.X_train[index], ds.y_train[index])
    assert (last["train_loss"], last["train_acc"]) == sample
    assert last["train_loss"] != train.evaluate(model, ds.X_train, ds.y_train)[0]
    validation = train.evaluate(model, ds.X_val, ds.y_val)
    assert (last["val_loss"], last["val_acc"]) == validation  # every row
    assert hist.config["train_eval_rows"] == 400
    # the sample changes no training step
    model2, opt2, _ = fresh()
    whole = TrainConfig(epochs=2, batch_size=64, seed=3, train_eval_rows=None)
    hist2 = train.fit(model2, opt2, ds, whole, progress=False)
    assert [s["loss"] for s in hist2.steps] == [s["loss"] for s in hist.steps]


def test_the_loss_kernel_is_compiled_before_the_clock_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 28: a kernel's compile time is no part of a run's seconds; fit warms
    the model's loss kernel up (as the optimizer's) before the first step."""
    model, opt, ds = fresh()
    events: list[str] = []
    kernel = losses.softmax_cross_entropy_inplace

    def recorded(z: np.ndarray, labels: np.ndarray) -> float:
        events.append(f"kernel {z.dtype} {len(z)}")
        return kernel(z, labels)

    monkeypatch.setattr(losses, "softmax_cross_entropy_inplace", recorded)
    step = model.loss_and_grad

    def first(X: np.ndarray, y: np.ndarray, **out: Any) -> tuple[float, Any]:
        events.append("step")
        return step(X, y, **out)

    model.loss_and_grad = first  # type: ignore[method-assign,assignment]
    train.fit(model, opt, ds, TrainConfig(iterations=1), progress=False)
    assert events[:2] == ["kernel float32 1", "step"]


def test_iterations_instead_of_epochs_ends_mid_epoch() -> None:
    model, opt, ds = fresh()
    per_epoch = math.ceil(ds.n_train / 100)
    config = TrainConfig(batch_size=100, iterations=2 * per_epoch + 5)
    hist = train.fit(model, opt, ds, config, progress=False)
    assert len(hist.steps) == 2 * per_epoch + 5
    assert [e["epoch"] for e in hist.epochs] == [1, 2, round(2 + 5 / per_epoch, 4)]


def test_evaluation_every_n_steps() -> None:
    model, opt, ds = fresh()
    per_epoch = math.ceil(ds.n_train / 64)
    config = TrainConfig(epochs=2, batch_size=64, eval_every=10)
    hist = train.fit(model, opt, ds, config, progress=False)
    expected = [*range(10, 2 * per_epoch + 1, 10), 2 * per_epoch]
    assert [e["step"] for e in hist.epochs] == sorted(set(expected))
    assert hist.epochs[0]["epoch"] == round(10 / per_epoch, 4)


def test_full_batch_is_one_step_per_epoch() -> None:
    model, opt, ds = fresh()
    hist = train.fit(
        model, opt, ds, TrainConfig(epochs=4, batch_size="full"), progress=False
    )
    assert len(hist.steps) == 4


def test_progress_prints_one_line_per_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    model, opt, ds = fresh()
    train.fit(model, opt, ds, TrainConfig(epochs=2, batch_size=64), progress=True)
    lines = [
        ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("epoch")
    ]
    assert len(lines) == 2
    assert lines[1].startswith("epoch 2/2  loss ")
    assert (
        "train acc " in lines[1]
        and "test acc " in lines[1]
        and "lr 1.0e-02" in lines[1]
    )


def test_divergence_stops_before_the_bad_update() -> None:
    # The worked example diverges for lr > 2 / 6.854; at lr = 5 it overflows fast.
    spec = RunSpec(data="regression", model="linear", optimizer="sgd", lr=5.0)
    model, opt, ds = fresh(spec)
    config = TrainConfig(iterations=5000, batch_size="full")
    hist = train.fit(model, opt, ds, config, progress=False)
    assert hist.diverged
    assert 5 < len(hist.steps) < 5000
    assert re.match(r"diverged at step \d+: .* with lr 5 ", hist.message)
    assert hist.message.endswith("— try a smaller learning rate")
    for buffer in model.params.buffers.values():
        assert np.all(np.isfinite(buffer))


def test_a_finite_but_absurd_loss_is_divergence() -> None:
    """The loss grows by ~47x a step at lr 5: it passes 1e20 long before it
    overflows, and the run stops there, not at inf."""
    spec = RunSpec(data="regression", model="linear", optimizer="sgd", lr=5.0)
    model, opt, ds = fresh(spec)
    config = TrainConfig(iterations=5000, batch_size="full")
    hist = train.fit(model, opt, ds, config, progress=False)
    assert hist.diverged
    assert max(s["loss"] for s in hist.steps) <= train.ABSURD_LOSS
    found = re.match(
        r"diverged at step (\d+): (loss =|the training loss is) (\S+) ", hist.message
    )
    assert found is not None and int(found.group(1)) == len(hist.steps)
    assert train.ABSURD_LOSS < float(found.group(3)) < math.inf


def test_logits_that_overflow_at_an_evaluation_stop_the_run() -> None:
    """A mini-batch loss can be finite while the whole set's logits overflow:
    evaluate() gives NaN and fit stops the run as diverged, with a message."""
    model, opt, ds = fresh()
    model.params["W1"][...] = 3e38  # float32: the hidden layer overflows
    assert all(math.isnan(v) for v in train.evaluate(model, ds.X_train, ds.y_train))
    config = TrainConfig(epochs=2, batch_size=64, eval_at_start=True)
    hist = train.fit(model, opt, ds, config, progress=False)
    assert hist.diverged and hist.steps == [] and hist.epochs == []
    assert hist.message.startswith(
        "diverged at step 0: the training loss is nan at the evaluation, with lr 0.01"
    )


def test_clipping_bounds_every_update() -> None:
    model, _, ds = fresh()
    opt = optim.SGD(model.params, lr=1.0)
    before = model.params.copy()
    config = TrainConfig(iterations=1, batch_size=64, clip_grad_norm=1e-3)
    train.fit(model, opt, ds, config, progress=False)
    moved = sum(float(np.sum((model.params[n] - before[n]) ** 2)) for n in before)
    assert math.sqrt(moved) == pytest.approx(1e-3, rel=1e-3)


def test_history_round_trips_through_json_and_csv(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=2, batch_size=64)
    hist = train.fit(model, opt, ds, config, progress=False)
    hist.to_json(tmp_path / "h.json")
    again = train.History.from_json(tmp_path / "h.json")
    assert again == hist
    hist.to_csv(tmp_path / "h.csv")
    rows = (tmp_path / "h.csv").read_text().splitlines()
    assert rows[0].startswith(
        "epoch,step,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,lr"
    )
    assert len(rows) == 3
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"history .*bad\.json is unreadable"):
        train.History.from_json(tmp_path / "bad.json")
    edited = json.loads((tmp_path / "h.json").read_text())
    edited["epochs"][1]["val_loss"] = "low"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    with pytest.raises(ValueError, match=r"^history .*edited\.json: epochs\[1\]\.val"):
        train.History.from_json(tmp_path / "edited.json")  # the file and the field


# --- checkpoints and resume -------------------------------------------------------


def uninterrupted(spec: RunSpec) -> tuple[train.History, models.Model]:
    model, opt, ds = fresh(spec)
    hist = train.fit(model, opt, ds, spec.train, progress=False)
    return hist, model


def params_equal(a: models.Model, b: models.Model) -> None:
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


class Crash(Exception):
    pass


def crash_after(model: models.Model, steps: int) -> None:
    """Make the model's backprop raise on the call after ``steps`` calls."""
    original, calls = model.loss_and_grad, [0]

    def loss_and_grad(X: np.ndarray, y: np.ndarray, **out: Any) -> tuple[float, Any]:
        calls[0] += 1
        if calls[0] > steps:
            raise Crash
        return original(X, y, **out)

    model.loss_and_grad = loss_and_grad  # type: ignore[method-assign,assignment]


@pytest.mark.parametrize(("every", "crash"), [(None, 50), (5, 17), (5, 20)])
def test_resume_after_a_crash_is_bit_identical(
    tmp_path: Path, every: int | None, crash: int
) -> None:
    spec = SPEC.replace(schedule="cosine", warmup_epochs=0.5, optimizer="nadam")
    expected_hist, expected = uninterrupted(spec)
    run = build(spec)
    crash_after(run.model, crash)
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=tmp_path,
            checkpoint_every=every,
            progress=False,
            spec=spec.to_dict(),
        )
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    params_equal(model, expected)
    assert [s["loss"] for s in hist.steps] == [s["loss"] for s in expected_hist.steps]
    assert [s["lr"] for s in hist.steps] == [s["lr"] for s in expected_hist.steps]
    assert hist.epochs == [
        {**e, "seconds": h["seconds"]}
        for e, h in zip(expected_hist.epochs, hist.epochs, strict=True)
    ]


def test_resume_evaluates_the_same_training_rows(tmp_path: Path) -> None:
    spec = SPEC.replace(train_eval_rows=300, epochs=2)
    expected_hist, expected = uninterrupted(spec)
    run = build(spec)
    crash_after(run.model, 30)
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=tmp_path,
            progress=False,
            spec=spec.to_dict(),
        )
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    params_equal(model, expected)
    assert [(e["train_loss"], e["train_acc"]) for e in hist.epochs] == [
        (e["train_loss"], e["train_acc"]) for e in expected_hist.epochs
    ]


def test_a_second_run_into_a_checkpoint_folder_being_written_is_refused(
    tmp_path: Path,
) -> None:
    held = subprocess.Popen(  # another process writing the folder holds its lock
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from gdlab import outputs\n"
            "with outputs.locked(Path(sys.argv[1]) / '.gdlab.lock', 'busy'):\n"
            "    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.stdout is not None and held.stdout.readline() == "held\n"
        run = build(SPEC)
        with pytest.raises(ValueError, match="is being written by another run"):
            train.fit(
                run.model,
                run.optimizer,
                run.dataset,
                run.spec.train,
                checkpoint_dir=tmp_path,
                progress=False,
            )
        assert checkpoint.paths(tmp_path) == []
    finally:
        held.kill()
        held.communicate()
    train.fit(  # once it is done, the folder takes a run
        run.model,
        run.optimizer,
        run.dataset,
        run.spec.train,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert checkpoint.paths(tmp_path)


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    run = build(SPEC)
    done = train.fit(
        run.model,
        run.optimizer,
        run.dataset,
        run.spec.train,
        checkpoint_dir=tmp_path,
        progress=False,
        spec=SPEC.to_dict(),
    )
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert hist == done
    params_equal(model, run.model)


KILLED_RUN = """
import sys
from gdlab import train
from gdlab.experiment import RunSpec, build
spec = RunSpec.from_dict({spec})
run = build(spec)
train.fit(run.model, run.optimizer, run.dataset, run.spec.train,
          checkpoint_dir=sys.argv[1], checkpoint_every=3, progress=False,
          spec=spec.to_dict())
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.15, 0.4])
def test_sigkill_at_any_point_then_resume_is_bit_identical(
    tmp_path: Path, delay: float
) -> None:
    spec = SPEC.replace(
        epochs=6, batch_size=16, optimizer="momentum", schedule="cosine"
    )
    expected_hist, expected = uninterrupted(spec)
    script = KILLED_RUN.format(spec=repr(spec.to_dict()))
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not checkpoint.paths(tmp_path) and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no checkpoint in 120 s"
        time.sleep(0.005)
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate()
    assert child.returncode in (0, -signal.SIGKILL), stderr.decode()
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    params_equal(model, expected)
    assert len(hist.steps) == len(expected_hist.steps)
    assert [e["test_acc"] for e in hist.epochs] == [
        e["test_acc"] for e in expected_hist.epochs
    ]


def test_corrupt_newest_checkpoint_falls_back_with_a_warning(tmp_path: Path) -> None:
    spec = SPEC.replace(epochs=2)
    _, expected = uninterrupted(spec)
    run = build(spec)
    crash_after(run.model, 12)
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=tmp_path,
            checkpoint_every=4,
            progress=False,
            spec=spec.to_dict(),
        )
    newest, older = checkpoint.paths(tmp_path)
    newest.write_bytes(newest.read_bytes()[:100])  # a torn write
    with pytest.warns(UserWarning, match=r"checkpoint .* is unreadable.*falling back"):
        _, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert older.name == "checkpoint-000000008.npz"
    params_equal(model, expected)


def test_resume_with_a_changed_configuration_is_refused(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=1, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    other, _, ds = fresh(SPEC.replace(model="mlp:64-16-10"))
    with pytest.raises(
        ValueError,
        match=r"^checkpoint .*checkpoint-[0-9]+\.npz: cannot resume: the model, "
        r"optimizer or data differ from the checkpoint's: fingerprint\.model: "
        r"\"MLP\(sizes=\[64, 32, 10\].*\" -> "
        r"\"MLP\(sizes=\[64, 16",
    ):
        train.resume(
            tmp_path, other, optim.Adam(other.params, lr=0.01), ds, progress=False
        )
    with pytest.raises(ValueError, match=r"param_groups\[0\]\.lr: 0\.01 -> 0\.05"):
        m2, _, ds = fresh()
        train.resume(tmp_path, m2, optim.Adam(m2.params, lr=0.05), ds, progress=False)


@pytest.mark.parametrize("every", [0, -1, 2.5])
def test_resume_refuses_a_bad_checkpoint_every_before_it_trains(
    tmp_path: Path, every: float
) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(iterations=3, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    model, opt, ds = fresh()
    with raises_about("resume", "checkpoint_every", got=str(every)):
        train.resume(tmp_path, model, opt, ds, progress=False, checkpoint_every=every)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


SCHEDULE_MODULE = """
def decay(step):
    return 0.01 / (1 + 0.01 * step)
"""


def test_a_plain_function_lr_resumes_in_another_process(tmp_path: Path) -> None:
    """A function's repr holds its address, which differs between processes: the
    fingerprint names it instead, so a killed run with it resumes elsewhere."""
    (tmp_path / "lrs.py").write_text(SCHEDULE_MODULE)
    folder = tmp_path / "run"
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import lrs
from gdlab import optim, train
from gdlab.experiment import RunSpec, build
run = build(RunSpec(model="softmax"))
opt = optim.SGD(run.model.params, lr=lrs.decay)
train.fit(run.model, opt, run.dataset, train.TrainConfig(epochs=2, batch_size=64),
          checkpoint_dir={str(folder)!r}, progress=False)
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    sys.path.insert(0, str(tmp_path))
    try:
        import lrs  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    run = build(RunSpec(model="softmax"))
    opt = optim.SGD(run.model.params, lr=lrs.decay)
    meta = checkpoint.read(checkpoint.paths(folder)[0])[1]
    assert meta["fingerprint"]["param_groups"][0]["lr"] == "lrs.decay"
    hist, _, _ = train.resume(folder, run.model, opt, run.dataset, progress=False)
    assert hist.steps[-1]["step"] == meta["position"]["step"]
    other = optim.SGD(run.model.params, lr=lambda t: 0.01)
    with pytest.raises(ValueError, match=r"lr: 'lrs\.decay' -> '.*<lambda>'"):
        train.resume(folder, run.model, other, run.dataset, progress=False)


def test_fit_refuses_a_checkpoint_folder_it_cannot_use(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=1, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    before = sorted(p.name for p in tmp_path.iterdir())
    model, opt, ds = fresh()
    with pytest.raises(ValueError, match=r"holds another run's checkpoints: resume"):
        train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    (tmp_path / "file").write_text("")
    for bad, message in [
        (tmp_path / "file", r"it is a file, not a folder"),
        ("", r"checkpoint_dir must name a folder, got ''"),
    ]:
        with pytest.raises(ValueError, match=message):
            train.fit(model, opt, ds, config, checkpoint_dir=bad, progress=False)
    assert model.params["W1"].tobytes() == fresh()[0].params["W1"].tobytes()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (SPEC, r"^fit: spec must be a dict such as RunSpec.to_dict\(\)"),
        ({**SPEC.to_dict(), "l2": np.float32(0)}, r"^fit: spec must be plain JSON"),
        ({**SPEC.to_dict(), "seed": 4}, r"^fit: spec must be in agreement with "),
    ],
)
def test_fit_checks_the_spec_before_training(spec: Any, message: str) -> None:
    model, opt, ds = fresh()
    with pytest.raises(ValueError, match=message):
        train.fit(model, opt, ds, SPEC.train, spec=spec, progress=False)
    short = SPEC.replace(iterations=1)
    nan_l2 = {**short.to_dict(), "l2": math.nan}  # not a setting of the config
    train.fit(model, opt, ds, short.train, spec=nan_l2, progress=False)


def test_resume_tells_another_split_of_the_same_size_apart(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=1, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    other, opt2, split = fresh(SPEC.replace(split_seed=7))
    assert split.X_train.shape == ds.X_train.shape
    with pytest.raises(ValueError, match=r"data\.digest: '[0-9a-f]{16}' -> '"):
        train.resume(tmp_path, other, opt2, split, progress=False)


def plateau_run(
    tmp_path: Path, crash: int | None
) -> tuple[models.Model, optim.Optimizer, data.Dataset, Any]:
    from gdlab.schedules import ReduceOnPlateau

    model, opt, ds = fresh(SPEC.replace(optimizer="sgd", lr=0.5, epochs=6))
    plateau = ReduceOnPlateau(opt, mode="max", factor=0.5, patience=0)
    if crash is not None:
        crash_after(model, crash)
    return model, opt, ds, plateau


def test_resume_of_a_plateau_run_needs_the_same_plateau(tmp_path: Path) -> None:
    from gdlab.schedules import ReduceOnPlateau

    config = SPEC.replace(epochs=6).train
    expected_model, opt, ds, plateau = plateau_run(tmp_path, None)
    expected = train.fit(
        expected_model, opt, ds, config, plateau=plateau, progress=False
    )
    lrs = [e["lr"] for e in expected.epochs]
    assert lrs[-1] < lrs[0]  # the plateau did reduce it
    folder = tmp_path / "run"
    m, o, d, p = plateau_run(tmp_path, 100)
    with pytest.raises(Crash):
        train.fit(m, o, d, config, plateau=p, checkpoint_dir=folder, progress=False)
    m, o, d, _ = plateau_run(tmp_path, None)
    with pytest.raises(ValueError, match=r"^cannot resume: the run stepped a Reduce"):
        train.resume(folder, m, o, d, progress=False)
    other = ReduceOnPlateau(o, mode="max", factor=0.9, patience=0)
    with pytest.raises(ValueError, match=r"plateau differs .*: factor: 0\.5 -> 0\.9"):
        train.resume(folder, m, o, d, plateau=other, progress=False)
    m, o, d, p = plateau_run(tmp_path, None)
    hist, model, _ = train.resume(folder, m, o, d, plateau=p, progress=False)
    assert [e["lr"] for e in hist.epochs] == lrs
    params_equal(model, expected_model)


def test_resume_needs_objects_or_a_spec(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=1, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(
        ValueError, match=r"cannot resume .*: pass model, optimizer and dataset to"
    ):
        train.resume(tmp_path, progress=False, rebuild=rebuild)


def test_resume_without_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no checkpoint in .*: start a run"):
        train.resume(tmp_path)


def test_checkpoints_are_plain_npz_and_json(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    config = TrainConfig(epochs=1, batch_size=64)
    train.fit(model, opt, ds, config, checkpoint_dir=tmp_path, progress=False)
    path = checkpoint.paths(tmp_path)[0]
    with np.load(path, allow_pickle=False) as npz:
        assert {"param/W1", "optim/W1/exp_avg", "meta.json"} <= set(npz.files)
        meta = json.loads(npz["meta.json"].tobytes())
    assert meta["position"]["epoch"] == 1
    # A file carrying a pickled object array is refused, not unpickled.
    evil = tmp_path / "checkpoint-999999999.npz"
    np.savez(evil, x=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="unreadable"):
        checkpoint.read(evil)
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())


def test_only_the_newest_two_checkpoints_are_kept(tmp_path: Path) -> None:
    model, opt, ds = fresh()
    train.fit(
        model,
        opt,
        ds,
        TrainConfig(epochs=3, batch_size=64),
        checkpoint_dir=tmp_path,
        checkpoint_every=5,
        progress=False,
    )
    assert len(checkpoint.paths(tmp_path)) == 2
    assert zipfile.is_zipfile(checkpoint.paths(tmp_path)[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, r"epochs must be an integer >= 1, got 0"),
        ({"epochs": None}, r"epochs must be an integer >= 1, got None"),
        ({"epochs": 2.5}, r"epochs must be an integer >= 1, got 2\.5"),
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
        ({"batch_size": "half"}, r"batch_size must be an integer >= 1, got 'half'"),
        ({"iterations": -1}, r"iterations must be an integer >= 1, got -1"),
        ({"clip_grad_norm": 0.0}, r"clip_grad_norm must be > 0, got 0\.0"),
        ({"clip_grad_norm": "1"}, r"clip_grad_norm must be a real number > 0"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"seed": True}, r"seed must be an integer >= 0, got True"),
        ({"eval_every": 0}, r"eval_every must be an integer >= 1, got 0"),
        ({"eval_every": "step"}, r"eval_every must be an integer >= 1, got 'step'"),
        ({"sampling": "bootstrap"}, r"sampling must be one of without-replacement"),
        ({"eval_at_start": 1}, r"eval_at_start must be True or False, got 1"),
        ({"evaluate_test": "no"}, r"evaluate_test must be True or False, got 'no'"),
        ({"train_eval_rows": 0}, r"train_eval_rows must be an integer >= 1, got 0"),
        ({"train_eval_rows": 2.5}, r"train_eval_rows must be an integer >= 1"),
    ],
)
def test_bad_train_config_values_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=rf"^TrainConfig: {message}"):
        TrainConfig(**kwargs)


def test_train_config_normalizes_and_round_trips() -> None:
    config = TrainConfig(epochs=3.0, batch_size=np.int64(64), clip_grad_norm=1)
    assert (config.epochs, config.batch_size, config.clip_grad_norm) == (3, 64, 1.0)
    assert type(config.batch_size) is int and type(config.clip_grad_norm) is float
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({"seed": 4}) == TrainConfig(seed=4)
    assert TrainConfig(iterations=10, epochs=None).total_steps(1000) == 10
    assert TrainConfig(epochs=2, batch_size="full").total_steps(1000) == 2
    # iterations set the length: the epochs given beside them are one run's config
    assert TrainConfig(iterations=10, epochs=3) == TrainConfig(iterations=10)
    assert TrainConfig(iterations=10).epochs is None
    with raises_about("TrainConfig", "epochs"):
        TrainConfig(iterations=10, epochs=0)


def test_train_config_from_dict_refuses_unknown_keys() -> None:
    with raises_about("TrainConfig", "each field", got="'batchsize'"):
        TrainConfig.from_dict({"batchsize": 64})


def test_fit_takes_a_train_config() -> None:
    model, opt, ds = fresh()
    with raises_about("fit", "config", got="3"):
        train.fit(model, opt, ds, 3, progress=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="epochs"):
        train.fit(model, opt, ds, epochs=3)  # type: ignore[call-arg]
    with raises_about("fit", "spec", got="'seed=1'"):
        train.fit(model, opt, ds, SPEC.train, spec={"seed": 1, "model": "mlp"})


def test_optimizer_of_another_model_is_refused() -> None:
    model, _, ds = fresh()
    with raises_about("fit", "the optimizer"):
        train.fit(model, optim.SGD({"w": np.zeros(3)}, lr=0.1), ds, progress=False)


def test_an_optimizer_on_another_models_parameters_is_refused() -> None:
    model, _, ds = fresh()
    other, _, _ = fresh()  # the same names and shapes, other arrays
    before = model.params.buffers[np.dtype(np.float32)].copy()
    with raises_about(
        "fit", "the optimizer"
    ):  # was accepted: the other model trained, this one stayed at loss 2.357
        train.fit(model, optim.Adam(other.params), ds, progress=False)
    copied = {n: np.array(a) for n, a in model.params.items()}
    with pytest.raises(
        ValueError, match=r"other arrays for \['W1', 'b1', 'W2', 'b2'\]"
    ):
        train.fit(model, optim.Adam(copied), ds, progress=False)
    np.testing.assert_array_equal(model.params.buffers[np.dtype(np.float32)], before)
    held = {n: model.params[n] for n in model.params}  # views of the model's own
    history = train.fit(
        model, optim.SGD(held, lr=0.1), ds, TrainConfig(iterations=3), progress=False
    )
    assert len(history.steps) == 3
    assert not np.array_equal(model.params.buffers[np.dtype(np.float32)], before)


def test_numpy_scalar_hyperparameters_are_checkpointed_as_numbers(
    tmp_path: Path,
) -> None:
    config = TrainConfig(iterations=5, batch_size=64)
    runs = []
    for lr, betas, folder in (
        (np.float32(0.01), (np.float64(0.9), np.float32(0.99)), tmp_path / "numpy"),
        (float(np.float32(0.01)), (0.9, float(np.float32(0.99))), tmp_path / "py"),
    ):
        model, _, ds = fresh()
        opt = optim.Adam(model.params, lr=lr, betas=betas)
        runs.append(
            train.fit(model, opt, ds, config, checkpoint_dir=folder, progress=False)
        )  # was: "Object of type float32 is not JSON serializable" at the end
        assert type(opt.param_groups[0]["lr"]) is float
        assert checkpoint.paths(folder)
    assert runs[0].steps == runs[1].steps  # the same values, bit for bit


# --- checkpoints edited by hand ------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The last checkpoint of a one-epoch run of 21 steps (digits, batches of 64)."""
    folder = tmp_path_factory.mktemp("finished")
    spec = SPEC.replace(epochs=1)
    run = build(spec)
    train.fit(
        run.model,
        run.optimizer,
        run.dataset,
        run.spec.train,
        checkpoint_dir=folder,
        progress=False,
        spec=spec.to_dict(),
    )
    return checkpoint.paths(folder)[0]


def set_rng(meta: dict[str, Any], value: object) -> None:
    meta["position"]["rng_state"]["state"]["state"] = value


EDITS: list[tuple[str, Callable[[dict[str, Any], dict[str, Any]], None], str]] = [
    (
        "rng-float",
        lambda m, a: set_rng(m, 1.5),
        r"position\.rng_state\.state\.state must be an integer >= 0, got 1\.5",
    ),
    (
        "rng-huge",
        lambda m, a: set_rng(m, 2**130),
        r"position\.rng_state\.state\.state must be an integer in \[0, 2\*\*128\)",
    ),
    (
        "rng-text",
        lambda m, a: m["position"].update(rng_state="x"),
        r"position\.rng_state must be an object, got 'x'",
    ),
    (
        "no-history",
        lambda m, a: m.pop("history"),
        r"history must be given, got nothing",
    ),
    (
        "step-huge",
        lambda m, a: m["position"].update(step=10**12),
        r"optimizer\.step must be an integer >= position\.step \(1000000000000\), "
        r"got 21",
    ),
    (
        "batch-negative",
        lambda m, a: m["position"].update(batch=-5),
        r"position\.batch must be an integer >= 0, got -5",
    ),
    (
        "batch-too-big",
        lambda m, a: m["position"].update(batch=22),
        r"position\.batch must be at most 21 \(batches per epoch\), got 22",
    ),
    (
        "step-text",
        lambda m, a: m["position"].update(step="21"),
        r"position\.step must be an integer >= 0, got '21'",
    ),
    (
        "step-inconsistent",
        lambda m, a: m["position"].update(step=20),
        r"position\.step must be epoch x 21 \+ batch = 21, got 20",
    ),
    (
        "epoch-inconsistent",
        lambda m, a: m["position"].update(epoch=0),
        r"position\.step must be epoch x 21 \+ batch = 0, got 21",
    ),
    (
        "steps-short",
        lambda m, a: m["history"]["steps"]["loss"].pop(),
        r"history\.steps\.loss must be 21 values, one per step, got 20",
    ),
    (
        "steps-missing",
        lambda m, a: [c.pop() for c in m["history"]["steps"].values()],
        r"history\.steps must be 21 rows \(one per step\), got '20 rows'",
    ),
    (
        "diverged-text",
        lambda m, a: m["history"].update(diverged="no"),
        r"history\.diverged must be True or False, got 'no'",
    ),
    (
        "elapsed-text",
        lambda m, a: m.update(elapsed="1s"),
        r"elapsed must be a real number >= 0, got '1s'",
    ),
    (
        "version",
        lambda m, a: m.update(version=4),
        r"version must be 3, got 4: it was written by another version of gdlab",
    ),
    (
        "config-batch",
        lambda m, a: m["config"].update(batch_size=-5),
        r"config\.batch_size must be an integer >= 1, got -5",
    ),
    (
        "config-unknown",
        lambda m, a: m["config"].update(speed=3),
        r"config must be an object with keys batch_size, sampling, epochs, "
        r"iterations, seed, clip_grad_norm, eval_every\b.*, got \{'batch_size'",
    ),
    (
        "config-missing",
        lambda m, a: m["config"].pop("seed"),
        r"config must be an object with keys batch_size, .*seed",
    ),
    ("config-list", lambda m, a: m.update(config=[]), r"config must be an object"),
    (
        "no-fingerprint",
        lambda m, a: m.pop("fingerprint"),
        r"fingerprint must be given, got nothing",
    ),
    ("spec-number", lambda m, a: m.update(spec=3), r"spec must be null or an object"),
    (
        "spec-with-settings",
        lambda m, a: m["spec"].update(seed=0),
        r"spec must be free of the run-length settings, which config holds, got \{",
    ),
    (
        "spec-field",
        lambda m, a: m["spec"].update(colour="red"),
        r"spec: RunSpec: field 'colour' must be one of",
    ),
    (
        "optimizer-list",
        lambda m, a: m.update(optimizer=[]),
        r"optimizer must be an object, got \[\]",
    ),
    (
        "param-shape",
        lambda m, a: a.update({"param/W1": np.zeros(3)}),
        r"arrays\['param/W1'\] must be of shape \(64, 32\) and dtype float32, got "
        r"shape \(3,\) and dtype float64",
    ),
    (
        "optim-array-name",
        lambda m, a: a.update({"optim/W9/exp_avg": np.zeros(3)}),
        r"arrays\['optim/W9/exp_avg'\] must be param/<parameter> or "
        r"optim/<parameter>/<state>",
    ),
    (
        "epoch-row-empty",
        lambda m, a: m["history"]["epochs"].append({}),
        r"history\.epochs\[1\]\.epoch must be given, got nothing",
    ),
    (
        "epoch-row-text",
        lambda m, a: m["history"]["epochs"][0].update(train_acc="abc"),
        r"history\.epochs\[0\]\.train_acc must be a real number, got 'abc'",
    ),
    (
        "epoch-row-step",
        lambda m, a: m["history"]["epochs"][0].update(step="x"),
        r"history\.epochs\[0\]\.step must be an integer >= 0, got 'x'",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [e[1:] for e in EDITS], ids=[e[0] for e in EDITS]
)
def test_metadata_edited_by_hand_is_refused_naming_the_file_and_key(
    tmp_path: Path,
    finished: Path,
    edit: Callable[[dict[str, Any], dict[str, Any]], None],
    message: str,
) -> None:
    arrays, meta = checkpoint.read(finished)
    edit(meta, arrays)
    path = tmp_path / finished.name
    text = json.dumps(meta).encode()
    np.savez(path, **arrays, **{checkpoint.META: np.frombuffer(text, np.uint8)})
    with pytest.raises(ValueError) as error:
        train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert "\n" not in str(error.value)
    assert re.match(rf"checkpoint {re.escape(str(path))}: {message}", str(error.value))


def keys_named(value: Any, names: set[str], where: str = "") -> list[str]:
    """The paths of every key in ``names`` in a JSON value."""
    if isinstance(value, dict):
        return [
            found
            for k, v in value.items()
            for found in ([f"{where}{k}"] if k in names else [])
            + keys_named(v, names, f"{where}{k}.")
        ]
    if isinstance(value, list):
        return [p for v in value for p in keys_named(v, names, where + "[].")]
    return []


def test_a_checkpoint_stores_the_run_length_settings_once(finished: Path) -> None:
    _, meta = checkpoint.read(finished)
    names = set(train_config.FIELDS)
    assert sorted(keys_named(meta, names)) == sorted(
        [f"config.{k}" for k in names] + ["history.epochs"]  # the evaluations' list
    )
    assert meta["config"] == SPEC.replace(epochs=1).train.to_dict()
    assert meta["version"] == 3 and "config" not in meta["history"]
    assert set(meta["fingerprint"]) == {"model", "optimizer", "param_groups", "data"}
    given: list[dict[str, Any]] = []

    def recording(values: dict[str, Any]) -> Any:
        given.append(values)
        return rebuild(values)

    hist, _, _ = train.resume(finished.parent, progress=False, rebuild=recording)
    assert given == [SPEC.replace(epochs=1).to_dict()]  # the spec, made whole
    assert hist.config["epochs"] == 1 and hist.config["optimizer"] == "Adam"


def test_a_checkpoint_of_version_1_is_refused_naming_its_version(
    tmp_path: Path, finished: Path
) -> None:
    arrays, meta = checkpoint.read(finished)
    settings = meta.pop("config")  # what version 1 wrote, three times
    meta.update(version=1, settings=settings, spec={**meta["spec"], **settings})
    meta["history"]["config"] = {**meta.pop("fingerprint"), **settings}
    path = write_checkpoint(tmp_path / finished.name, arrays, meta)
    with pytest.raises(ValueError) as error:
        train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert str(error.value) == (
        f"checkpoint {path}: version must be 3, got 1: it was written by another "
        "version of gdlab and cannot be resumed; start the run again"
    )


def test_resume_removes_what_a_killed_save_left(tmp_path: Path, finished: Path) -> None:
    (tmp_path / finished.name).write_bytes(finished.read_bytes())
    leftovers = [
        tmp_path / f".{finished.name}.k2j4_x.tmp",
        tmp_path / ".checkpoint-000000030.npz.a8f9.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b"PK\x03\x04 half a zip")
    kept = [tmp_path / "notes.tmp", tmp_path / ".other.tmp"]
    for path in kept:
        path.write_text("not ours")
    train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert not any(path.exists() for path in leftovers)
    assert all(path.exists() for path in kept)
