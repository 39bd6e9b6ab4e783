"""Which optimizers a comparison compares when it is not told, and 'all'."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab import optim
from gdlab.cli import main
from gdlab.lab import compare


def test_the_default_is_the_course_twelve_and_all_is_every_one() -> None:
    default = compare.chosen_optimizers(None)
    assert len(default) == 12 and set(default) == set(compare.COURSE_OPTIMIZERS)
    assert default == [n for n in optim.names(presets=True) if n in default]
    everything = compare.chosen_optimizers(["all"])
    assert everything == optim.names(presets=True)
    assert {"lion", "muon", "lbfgs"} <= set(everything) - set(default)
    assert compare.chosen_optimizers(["Adam", "sgd"]) == ["adam", "sgd"]
    with pytest.raises(ValueError, match=r"distinct names"):
        compare.chosen_optimizers(["adam", "ADAM"])


def test_a_dash_stands_for_an_underscore_in_optimizer_names() -> None:
    assert compare.chosen_optimizers(["schedulefree-adamw", "SGD"]) == [
        "schedulefree_adamw",
        "sgd",
    ]
    assert optim.resolve("Schedulefree-SGD")[0] == "schedulefree_sgd"


def test_hyper_fixes_a_setting_where_an_optimizer_has_it(tmp_path: Path) -> None:
    out = tmp_path / "fixed"
    result = CliRunner().invoke(
        main,
        ["compare", "--optimizers", "sgd,adam", "--hyper", "weight_decay=0.01",
         "--hyper", "betas=0.8,0.99", "--budget", "1", "--seeds", "1",
         "--studies", "1", "--epochs", "1", "--workers", "1", "--quiet",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with sqlite3.connect(out / "sweep.db") as db:
        runs = [json.loads(key) for (key,) in db.execute("select key from runs")]
    assert {r["optimizer"] for r in runs} == {"sgd", "adam"}
    for run in runs:
        expected = {"weight_decay": 0.01}
        if run["optimizer"] == "adam":
            expected["betas"] = [0.8, 0.99]
        assert run["hyper"] == expected  # sgd has no betas: not given any


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hyper", "foo=1"], "--hyper: none of sgd, adam has 'foo'"),
        (["--hyper", "lr=0.1"], "--hyper lr: the lr is what a comparison tunes"),
        (
            ["--hyper", "betas=0.8,0.99", "--tune", "lr,beta1"],
            "--hyper fixes ['betas'], which tune tunes",
        ),
    ],
)
def test_hyper_refuses_what_it_cannot_fix(
    args: list[str], message: str, tmp_path: Path
) -> None:
    out = tmp_path / "never"
    result = CliRunner().invoke(
        main, ["compare", "--optimizers", "sgd,adam", *args, "--out", str(out)]
    )
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()
