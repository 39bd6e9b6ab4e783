"""The course notes' MNIST loop as written (loss after the update, their evaluation
schedule, their plots), warm-up from above zero, and the explain columns' names."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.lines import Line2D

from gdlab import schedules, train
from gdlab.experiment import RunSpec, build
from gdlab.lab import course_mnist
from gdlab.report import course
from gdlab.train import TrainConfig

from .conftest import run_cli as run

# --- the notes' loop -----------------------------------------------------------------


def test_the_notes_schedule_gives_17_evaluations_in_10000_steps() -> None:
    config = TrainConfig(iterations=10_000, batch_size=100, notes_loop=True)
    steps = [s for s in range(1, 10_001) if config.notes_evaluates(s, 60_000)]
    assert steps == [1 + 600 * k for k in range(17)]
    # iter_per_epoch = 14.37 (digits): i % 14.37 == 0 only at i = 0, as written
    assert [s for s in range(1, 500) if config.notes_evaluates(s, 1437)] == [1]


def test_the_notes_loop_records_the_loss_after_the_update() -> None:
    spec = RunSpec(
        data="digits", val_fraction=None, model="mlp:64-50-10", optimizer="sgd",
        lr=0.1, init="normal:0.01", activation="sigmoid",
        train=TrainConfig(iterations=9, batch_size=479, notes_loop=True),
    )  # fmt: skip
    built = build(spec)
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    original = built.model.loss_and_grad

    def spy(xb: np.ndarray, yb: np.ndarray, **kw: object) -> object:
        seen.append((xb.copy(), yb.copy()))
        return original(xb, yb, **kw)  # type: ignore[arg-type]

    built.model.loss_and_grad = spy  # type: ignore[method-assign]
    history = train.fit(
        built.model, built.optimizer, built.dataset, spec.train, progress=False
    )
    assert [r["step"] for r in history.epochs] == [1, 4, 7]
    # the last recorded loss is the trained model's loss on the last batch
    xb, yb = seen[-1]
    assert history.steps[-1]["loss"] == pytest.approx(built.model.loss(xb, yb))
    # and not the loss before that update, which the generic loop records
    plain = build(spec.replace(notes_loop=False))
    generic = train.fit(
        plain.model, plain.optimizer, plain.dataset, plain.spec.train, progress=False
    )
    assert generic.steps[-1]["loss"] != pytest.approx(history.steps[-1]["loss"])
    assert [r["step"] for r in generic.epochs] == [3, 6, 9]


def test_the_notes_plots_are_drawn_as_the_notes_draw_them() -> None:
    losses = np.linspace(2.3, 0.4, 1500)
    fig = course.plot_notes_loss(losses, "loss per iteration — Fashion-MNIST")
    whole, zoom = fig.axes
    assert whole.get_yscale() == "linear" and whole.get_ylim() == (0.0, 3.0)
    assert zoom.get_ylim() == (0.0, 3.0)
    np.testing.assert_array_equal(whole.get_lines()[0].get_ydata(), losses)
    np.testing.assert_array_equal(zoom.get_lines()[0].get_ydata(), losses[:1000])
    assert "Fashion-MNIST" in whole.get_title()
    fig = course.plot_notes_accuracy([0.1, 0.8, 0.85], [0.1, 0.79, 0.84], "acc — MNIST")
    (ax,) = fig.axes
    assert ax.get_ylim() == (0.0, 1.0) and ax.get_title() == "acc — MNIST"
    train_line, test_line = ax.get_lines()
    assert isinstance(train_line, Line2D)
    assert train_line.get_linestyle() == "-" and test_line.get_linestyle() == "--"
    np.testing.assert_array_equal(test_line.get_ydata(), [0.1, 0.79, 0.84])


def test_the_summary_names_the_data_and_each_difference() -> None:
    config = {"data": {"name": "fashion-mnist", "train": [60000, 784]},
              "batch_size": 100, "seed": 0}  # fmt: skip
    lines = course_mnist.differences(config)
    assert lines[0].startswith("data: Fashion-MNIST, not MNIST")
    assert any("zoom panel" in line for line in lines)
    assert not any("whole number" in line for line in lines)  # 600 per epoch
    mnist = course_mnist.differences(
        {**config, "data": {"name": "mnist", "train": [60000, 784]}}
    )
    assert not any(line.startswith("data:") for line in mnist)


# --- warm-up -------------------------------------------------------------------------


def test_a_run_warm_up_starts_above_zero_as_torch_linear_lr() -> None:
    s = schedules.for_run("cosine", 0.1, 100, warmup=4)
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    L = torch.optim.lr_scheduler
    sched = L.SequentialLR(
        opt,
        [
            L.LinearLR(opt, start_factor=1 / 5, total_iters=4),
            L.CosineAnnealingLR(opt, 96),
        ],
        milestones=[4],
    )
    expected = []
    for _ in range(100):
        expected.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    np.testing.assert_allclose([s(k) for k in range(100)], expected, rtol=1e-12)
    assert s(0) == pytest.approx(0.1 / 5)


def test_an_epoch_warm_up_trains_in_its_first_epoch(tmp_path: Path) -> None:
    code, _, err = run(
        "train", "--data", "digits", "--optimizer", "sgd", "--lr", "0.1",
        "--schedule", "cosine", "--warmup-epochs", "2", "--schedule-unit", "epoch",
        "--epochs", "4", "--eval-at-start", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    history = json.loads((tmp_path / "history.json").read_text())
    rows = history["epochs"]
    assert rows[0]["step"] == 0
    assert rows[1]["train_loss"] < rows[0]["train_loss"] - 0.01  # epoch 1 trains
    lrs = history["steps"]["lr"]
    per_epoch = len(lrs) // 4
    assert lrs[0] == pytest.approx(0.1 / 3) and lrs[per_epoch] == pytest.approx(0.2 / 3)
    assert lrs[2 * per_epoch] == pytest.approx(0.1)
    assert math.isclose(lrs[3 * per_epoch], 0.05, rel_tol=1e-12)


# --- explain -------------------------------------------------------------------------


def test_explain_momentum_on_the_regression_does_not_reuse_b() -> None:
    code, out, err = run(
        "explain", "momentum", "--problem", "regression", "--start", "-1,5",
        "--lr", "0.1",
    )  # fmt: skip
    assert code == 0, err
    header = next(ln for ln in out.splitlines() if ln.split()[:2] == ["θ", "g"])
    assert header.split() == ["θ", "g", "buf", "step", "θ", "new"]
    assert "buf = μ·buf + g" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("  b ")]
    assert rows == [["b", "5", "-1", "-1", "-0.1", "5.1"]]  # b: the intercept only


def test_the_notes_plotting_code_draws_accuracy_into_the_zoom_panel() -> None:
    """The notes' code, run as written: plt.plot after plt.subplots(2, 1) draws into
    the current axes, ax2 (the zoom panel), whose ylim plt.ylim then resets to
    0-1; course_mnist names this difference and draws accuracy on its own."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    iters_num = 1200
    train_loss_list = list(np.linspace(2.3, 0.3, iters_num))
    train_acc_list, test_acc_list = [0.1, 0.8], [0.1, 0.79]
    try:
        _, (ax1, ax2) = plt.subplots(2, 1)
        x = np.array(range(iters_num))
        ax1.plot(x, train_loss_list, label="loss")
        ax1.set_ylim(0, 3.0)
        ax2.plot(x[:1000], train_loss_list[:1000], label="loss")
        ax2.set_ylim(0, 3.0)
        x = np.arange(len(train_acc_list))
        plt.plot(x, train_acc_list, label="train acc")
        plt.plot(x, test_acc_list, label="test acc", linestyle="--")
        plt.ylim(0, 1.0)
        assert [ln.get_label() for ln in ax2.get_lines()] == [
            "loss", "train acc", "test acc",
        ]  # fmt: skip
        assert len(ax1.get_lines()) == 1 and ax2.get_ylim() == (0.0, 1.0)
    finally:
        plt.close("all")
    config = {"data": {"name": "mnist", "train": [60000, 784]}, "batch_size": 100,
              "seed": 0}  # fmt: skip
    assert any("zoom panel (ax2)" in d for d in course_mnist.differences(config))
