"""Messages speak the user's words: a misspelled name gets the closest one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab import _checks, data, optim, schedules
from gdlab.cli import main

from .conftest import AS_FROM_A_TERMINAL


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("adm", "adam"), ("Adm", "adam"), ("rmsporp", "rmsprop"), ("nesterv", "nesterov")],
)
def test_a_misspelled_optimizer_names_the_closest(typed: str, meant: str) -> None:
    with pytest.raises(ValueError, match=rf"did you mean '{meant}'\?"):
        optim.resolve(typed)


def test_a_name_far_from_every_option_gets_no_guess() -> None:
    with pytest.raises(ValueError) as error:
        optim.resolve("zzzzqqq")
    assert "did you mean" not in str(error.value)
    assert _checks.did_you_mean("zzzzqqq", ["adam", "sgd"]) == ""
    assert _checks.did_you_mean(3, ["adam"]) == ""


def test_schedules_and_choices_suggest_too() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'cosine'\?"):
        schedules.get("cosin")
    with pytest.raises(ValueError, match=r"did you mean 'fashion-mnist'\?"):
        data.load("fashion-mnst")


def test_the_cli_suggests_in_its_one_line() -> None:
    result = CliRunner().invoke(main, ["compare", "--optimizers", "sgd,adm"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "did you mean 'adam'?" in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["compare", "--optimizers", "sgd", "--model", "mlp:784-10"],
        ["sweep", "--optimizers", "sgd", "--lrs", "0.1", "--model", "mlp:784-10"],
    ],
)
def test_a_refused_command_leaves_no_folder(
    args: list[str], tmp_path: pytest.TempPathFactory
) -> None:
    out = tmp_path / "deep" / "out"  # type: ignore[operator]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "deep").exists()  # type: ignore[operator]


def test_a_zero_learning_rate_is_warned_about(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["train", "--lr", "0", "--epochs", "1", "--out", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    assert "warning: --lr 0 leaves the weights unchanged" in result.output
    quiet = CliRunner().invoke(
        main, ["train", "--lr", "0.1", "--epochs", "1", "--out", str(tmp_path / "s")]
    )
    assert "warning" not in quiet.output


@pytest.mark.slow
def test_ctrl_c_says_how_to_continue(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--epochs", "100000", "--checkpoint-every", "50"]
    with subprocess.Popen(
        [sys.executable, "-c", AS_FROM_A_TERMINAL, *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:  # a failure kills the run: its pipes must not outlive this test
            deadline = time.monotonic() + 60
            while not any(out.glob("checkpoints/*")) and time.monotonic() < deadline:
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130
    assert "Aborted!" not in err
    assert "interrupted" in err and "gdlab train --resume" in err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["train", "--data", "cifar"], "--data must be one of digits"),
        (["train", "--model", "convnet"], "--model must be one of mlp"),
        (
            ["train", "--model", "mlp:784-256-128-10"],
            "--model must be the data's 64 features first and its 10 outputs last, "
            "like mlp:64-100-10",
        ),
        (["compare", "--budget", "-1"], "--budget must be an integer >= 0"),
        (["compare", "--val-fraction", "0.9"], "--val-fraction must be in (0, 0.5]"),
    ],
)
def test_messages_name_the_option_typed(
    args: list[str], line: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert result.output.startswith(f"gdlab: error: {line}")


def test_a_field_set_by_grid_is_named_as_grid(tmp_path: Path) -> None:
    """`--grid hyper=null` sets RunSpec's hyper, but --hyper was not typed: the
    message names --grid (it named RunSpec, the owner)."""
    result = CliRunner().invoke(
        main, ["sweep", "--grid", "hyper=null", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.output.startswith("gdlab: error: --grid hyper must be a dict")
