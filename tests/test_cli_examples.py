"""The course from the command line: examples, figures, explain from a given state,
and train's options for the notes' MNIST experiment."""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from gdlab.lab import examples

from .conftest import run_cli as run


def test_examples_lists_every_worked_example() -> None:
    code, out, _ = run("examples")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[: len(examples.names())]]
    assert listed == examples.names()


def test_an_example_prints_the_right_numbers_beside_the_notes() -> None:
    code, out, _ = run("examples", "regression")
    assert code == 0
    assert "MSE(m, b) = ½[(m + b − 3)² + (2m + b − 5)²] = 2.5" in out
    assert "∂MSE/∂m: correct -3, notes -7" in out
    assert "(m, b) after one step: correct (-0.7, 5.1), notes (-1.7, 5.3)" in out
    code, out, _ = run("examples", "rmsprop")
    assert "θ new: correct (0.79, 1.21, 0.49), notes (0.79, 1.11, 0.48)" in out


def test_an_unknown_example_is_a_usage_error() -> None:
    code, out, err = run("examples", "newton")
    assert code == 2 and out == ""
    assert err.startswith("gdlab: error: NAME must be one of regression")
    assert len(err.strip().splitlines()) == 1


def test_the_state_option_sets_the_worked_examples_premise() -> None:
    code, out, _ = run(
        "explain", "rmsprop", "--param", "0.8,1.2,0.5", "--grad", "0.1,-0.3,0.2",
        "--lr", "0.01", "--hyper", "alpha=0.9", "--state", "v=0.01,0.09,0.04",
    )  # fmt: skip
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("θ[")]
    assert [float(r[4]) for r in rows] == [0.01, 0.09, 0.04]  # v
    assert [float(r[-1]) for r in rows] == [0.79, 1.21, 0.49]  # θ new
    code, out, _ = run(
        "explain", "adam", "--param", "1", "--grad", "0.5", "--lr", "0.1",
        "--state", "exp_avg_sq=0.25", "--state", "m=0.5", "--start-step", "9",
    )  # fmt: skip
    assert code == 0 and "step 10" in out


def test_every_examples_command_runs() -> None:
    """The command an example points to (``step by step: gdlab explain ...``) is
    one the CLI takes."""
    commands = [examples.get(n).command for n in examples.names()]
    commands = [c for c in commands if c]
    assert len(commands) >= 7
    for command in commands:
        words = shlex.split(command)
        assert words[0] == "gdlab"
        code, out, err = run(*words[1:])
        assert code == 0, f"{command}: {err}"
        assert "step 1" in out, command


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("foo=1,2", r"--state must be keyed by one of square_avg, .* got 'foo'"),
        ("v=1", r"--state\['v'\] must be 2 numbers"),
        (
            "v=-1,1",
            r"--state\['v'\] must be >= 0 \(RMSprop keeps square_avg "
            r"nonnegative\), got \[-1.0, 1.0\]",
        ),
        ("v", r"--state must look like NAME=VALUE"),
        ("v=1,x", r"--state v must be comma-separated finite numbers"),
    ],
)
def test_a_bad_state_is_a_usage_error(state: str, message: str) -> None:
    code, _, err = run(
        "explain", "rmsprop", "--param", "1,2", "--grad", "1,1", "--state", state
    )
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("gdlab: error: ")
    assert re.search(message, err), err


FIGURES = (
    "regression-surface", "residuals", "sse-vs-cee", "batch-modes", "mnist-curves",
    "flat-sharp", "optimizers", "momentum-nag", "ema", "adamp", "lr-decay",
)  # fmt: skip


def test_figure_lists_every_figure_of_the_notes() -> None:
    code, out, _ = run("figure")
    assert code == 0
    listed = [ln.split(":")[0] for ln in out.splitlines() if not ln.startswith(" ")]
    assert tuple(listed) == FIGURES
    for name in FIGURES:
        assert f"    gdlab figure {name} -o {name}.png" in out
    assert "Saito" in out
    code, _, err = run("figure", "ema")
    assert code == 2 and "-o FILE is required" in err
    code, _, err = run("figure", "ema", "--run", ".", "-o", "x.png")
    assert code == 2 and "--run and --iterations apply to mnist-curves" in err


@pytest.mark.parametrize("name", FIGURES)
def test_every_listed_figure_draws_a_png(name: str, tmp_path: Path) -> None:
    out_file = tmp_path / f"{name}.png"
    more = ["--iterations", "12"] if name == "mnist-curves" else []
    code, out, err = run("figure", name, "-o", str(out_file), *more)
    assert code == 0, err
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out_file}" in out


def test_mnist_curves_draws_a_course_mnist_run(tmp_path: Path) -> None:
    code, _, err = run(
        "train", "--preset", "course-mnist", "--data", "digits",
        "--model", "mlp:64-50-10", "--batch-size", "479", "--iterations", "7",
        "--out", str(tmp_path / "run"), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    png = tmp_path / "mnist.png"
    code, out, err = run(
        "figure", "mnist-curves", "--run", str(tmp_path / "run"), "-o", str(png)
    )
    assert code == 0, err
    assert "3 evaluations" in out and png.is_file()
    code, _, err = run("figure", "mnist-curves", "--run", str(tmp_path), "-o", "x.png")
    assert code == 2, err


def test_the_course_preset_sets_the_notes_experiment(tmp_path: Path) -> None:
    code, out, err = run(
        "train", "--preset", "course-mnist", "--data", "digits",
        "--model", "mlp:64-50-10", "--batch-size", "479", "--iterations", "10",
        "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    history = json.loads((tmp_path / "history.json").read_text())
    config = history["config"]
    assert config["sampling"] == "with-replacement" and config["notes_loop"]
    assert not config["eval_at_start"]
    assert config["batch_size"] == 479 and config["iterations"] == 10
    assert "activation='sigmoid'" in config["model"]
    assert "init='normal:0.01'" in config["model"]
    assert config["optimizer"] == "SGD" and config["param_groups"][0]["lr"] == 0.1
    assert config["data"]["train"][0] == 1437  # no validation split held out
    # iter_per_epoch = 1437/479 = 3.0: the notes evaluate after update i + 1 for
    # i = 0, 3, 6, 9, and not again at the end or at step 0.
    assert [r["step"] for r in history["epochs"]] == [1, 4, 7, 10]
    assert "the course notes' MNIST experiment, on digits 8×8" in out
    assert "where this run differs from the notes' loop:" in out
    assert "accuracy curves land in the zoom panel" in out
    assert "on real MNIST this loop reaches about 0.94-0.95" in out
    assert "final: train loss" not in out
    for name in ("loss.png", "accuracy.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_a_missing_mnist_names_the_data_path_option(tmp_path: Path) -> None:
    code, _, err = run(
        "train", "--data", "mnist", "--data-path", str(tmp_path / "none"),
        "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2
    assert "MNIST not found" in err and "--data-path DIR" in err


def test_schedule_unit_epoch_steps_the_lr_once_per_epoch(tmp_path: Path) -> None:
    code, _, err = run(
        "train", "--data", "digits", "--model", "softmax", "--optimizer", "sgd",
        "--lr", "0.1", "--batch-size", "500", "--epochs", "3",
        "--schedule", "exponential", "--schedule-arg", "rate=0.5",
        "--schedule-unit", "epoch", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    lrs = json.loads((tmp_path / "history.json").read_text())["steps"]["lr"]
    per_epoch = math.ceil(1293 / 500)  # digits: 1293 training samples besides val
    expected = [0.1 * math.exp(-0.5 * (k // per_epoch)) for k in range(3 * per_epoch)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
