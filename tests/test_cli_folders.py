"""Default output folders never clobber: a plan with other options gets its own
folder, named after those options; the same command finds its folder again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gdlab.cli import main
from gdlab.cli.options import default_out


@click.command()
@click.option("--optimizers", default=None)
@click.option("--budget", default=8, type=int)
@click.option("--workers", default=None, type=int)
@click.option("--out", default=None)
def shows(**_: object) -> None:
    click.echo(default_out("runs/compare-digits"))


def folder_of(*args: str) -> str:
    result = CliRunner().invoke(shows, list(args))
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_the_default_plan_keeps_the_plain_name() -> None:
    assert folder_of() == "runs/compare-digits"
    assert folder_of("--budget", "8", "--workers", "2") == "runs/compare-digits"


def test_other_plans_get_their_own_stable_folder() -> None:
    mine = folder_of("--optimizers", "sgd,adam", "--budget", "4")
    assert mine.startswith("runs/compare-digits-") and len(mine) == 28
    assert folder_of("--budget", "4", "--optimizers", "sgd,adam") == mine
    assert (
        folder_of("--optimizers", "sgd,adam", "--budget", "4", "--workers", "1") == mine
    )
    assert folder_of("--optimizers", "sgd,adam") != mine
    assert folder_of("--optimizers", "sgd,lion") != mine


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    here = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(here)


def test_a_second_comparison_leaves_the_first_intact(in_tmp: Path) -> None:
    small = ["--budget", "1", "--seeds", "1", "--epochs", "1", "--workers", "1"]
    first = CliRunner().invoke(main, ["compare", "--optimizers", "sgd", *small])
    assert first.exit_code == 0, first.output
    (made,) = (in_tmp / "runs").iterdir()
    before = (made / "results.json").read_bytes()
    other = CliRunner().invoke(main, ["compare", "--optimizers", "adam", *small])
    assert other.exit_code == 0, other.output
    assert len(list((in_tmp / "runs").iterdir())) == 2
    assert (made / "results.json").read_bytes() == before
    again = CliRunner().invoke(main, ["compare", "--optimizers", "sgd", *small])
    assert again.exit_code == 0 and f"report: runs/{made.name}/" in again.output
    assert len(list((in_tmp / "runs").iterdir())) == 2


def test_the_plugin_example_does_not_take_the_demos_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README's plugin example (issue 28) wrote into runs/compare-digits, replacing
    make demo's report: a plan with a plugin has its own default folder."""
    from gdlab.lab import compare

    chosen: list[str] = []

    def prepare(plan: object, out: str) -> None:
        chosen.append(out)
        raise SystemExit(0)  # the folder is all this test needs

    monkeypatch.setattr(compare, "plan", lambda *_, **__: None)  # no runs built
    monkeypatch.setattr(compare, "prepare", prepare)
    lion = str(Path(__file__).parents[1] / "docs" / "examples" / "lion.py")
    args = ["compare", "--optimizers", "mylion,adamw", "--budget", "8", "--seeds", "3"]
    result = CliRunner().invoke(main, ["compare", "--plugin", lion, *args[1:]])
    assert result.exit_code == 0, result.output
    assert chosen[0].startswith("runs/compare-digits-"), chosen
    assert folder_of() == "runs/compare-digits" != chosen[0]
