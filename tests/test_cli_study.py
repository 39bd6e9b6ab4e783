"""The CLI's study commands: tables, reports, resuming, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab.cli import main


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


BATCH = ["study", "batch-size", "--batch-sizes", "32,256", "--seeds", "1"]
BATCH += ["--until", "steps:10", "--sharpness-samples", "50"]
EDGE = ["study", "edge-of-stability", "--samples", "40", "--hidden", "4-3"]
EDGE += ["--lrs", "0.5,1", "--steps", "5", "--every", "2"]


def test_batch_size_prints_a_table_writes_a_report_and_resumes(tmp_path: Path) -> None:
    code, out, err = run(*BATCH, "--out", str(tmp_path))
    assert code == 0, err
    assert "batch 32 seed 0: 10 steps" in out and "batch 256 seed 0: 10 steps" in out
    assert out.splitlines()[2].split()[:3] == ["batch", "reached", "steps"]
    assert f"report: {tmp_path / 'report.html'}" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["batch_sizes"] == [32, 256]
    assert json.loads((tmp_path / ".gdlab.json").read_text()) == {
        "kind": "study batch-size"
    }
    code, out, err = run(*BATCH, "--out", str(tmp_path))
    assert code == 0, err
    assert out.count("(already done)") == 2


def test_edge_of_stability_prints_a_table_and_writes_a_report(tmp_path: Path) -> None:
    code, out, err = run(*EDGE, "--momentum", "0.9", "--out", str(tmp_path))
    assert code == 0, err
    assert "lr 0.5, momentum 0.9 (threshold 7.6)" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["settings"]["hidden"] == [4, 3]
    assert [r["threshold"] for r in results["runs"]] == pytest.approx([7.6, 3.8])
    assert "gdlab study edge-of-stability" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["batch-size", "--until", "loss"], "until must be 'loss:X'"),
        (["batch-size", "--batch-sizes", "16"], "at least two different sizes"),
        (["batch-size", "--batch-sizes", "16,x"], "--batch-sizes must be a comma"),
        (["batch-size", "--data", "nope"], "--data must be one of"),
        (["batch-size", "--epsilon", "0"], "epsilon must be > 0, got 0.0"),
        (["edge-of-stability", "--lrs", "0.1,a"], "--lrs must be a comma"),
        (["edge-of-stability", "--hidden", "4-"], "--hidden must be a comma"),
        (["edge-of-stability", "--momentum", "1.5"], "momentum must be"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    code, _, err = run("study", *args, "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.startswith("gdlab: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_study_folder_is_not_another_commands(tmp_path: Path) -> None:
    assert run(*BATCH, "--out", str(tmp_path))[0] == 0
    code, _, err = run(*EDGE, "--out", str(tmp_path))
    assert code == 2
    assert "holds the output of gdlab study batch-size" in err


def test_a_diverged_batch_size_run_is_reported_not_a_usage_error(
    tmp_path: Path,
) -> None:
    code, out, err = run(
        "study", "batch-size", "--lr", "1e10", "--batch-sizes", "64,128",
        "--seeds", "1", "--until", "steps:5", "--sharpness-samples", "50",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "batch 64 seed 0: diverged (diverged at step 3" in out
    assert "fewer than two batch sizes trained without diverging" in out
    assert err == ""
    runs = json.loads((tmp_path / "results.json").read_text())["runs"]
    assert [r["diverged"] for r in runs] == [True, True]


@pytest.mark.parametrize("args", [BATCH, EDGE], ids=["batch-size", "edge"])
def test_a_value_error_while_a_study_trains_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("a bug, not the user's mistake")

    # the modules, by name: the package's edge_of_stability is the function
    for module, name in (
        ("batch_size", "_batch_size_run"),
        ("edge_of_stability", "_edge_run"),
    ):
        monkeypatch.setattr(sys.modules[f"gdlab.lab.studies.{module}"], name, broken)
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert str(result.exception) == "a bug, not the user's mistake"
