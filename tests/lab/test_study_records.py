"""A study's records are files the user may edit (issue 27): a record edited out of
shape, or weights that are not the run's, are one line naming the file and the
field, exit 2 from the CLI, before anything trains — never a traceback."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from gdlab.cli import main
from gdlab.lab import studies

BATCH = ["study", "batch-size", "--batch-sizes", "32,256", "--seeds", "1"]
BATCH += ["--until", "steps:5", "--sharpness-samples", "50", "--model", "mlp:64-8-10"]
RUNS = "batch-size-runs"


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("study") / "study"
    result = CliRunner().invoke(main, [*BATCH, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def edit_record(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / RUNS / "bs32-seed0.json"
        record = json.loads(path.read_text())
        change(record["run"])
        path.write_text(json.dumps(record))

    return apply


def edit_weights(value: Any, **kwargs: Any) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / RUNS / "bs32-seed0.npy"
        if isinstance(value, bytes):
            path.write_bytes(value)
        else:
            np.save(path, value, **kwargs)

    return apply


RECORD = r"study record .*bs32-seed0\.json: "
WEIGHTS = r"study record .*bs32-seed0\.npy: must be a \.npy array of 610 float64 "
TAMPERED = {
    "lambda_max missing": (
        edit_record(lambda r: r.pop("lambda_max")),
        RECORD + r"run\.lambda_max must be given, got nothing",
    ),
    "lambda_max 'lots'": (
        edit_record(lambda r: r.update(lambda_max="lots")),
        RECORD + r"run\.lambda_max must be a finite number, or null .*got 'lots'",
    ),
    "an extra key": (
        edit_record(lambda r: r.update(colour="red")),
        RECORD + r"run: field 'colour' must be one of batch_size, ",
    ),
    "steps as text": (
        edit_record(lambda r: r.update(steps="5")),
        RECORD + r"run\.steps must be an integer >= 0, got '5'",
    ),
    "another batch size": (
        edit_record(lambda r: r.update(batch_size=64)),
        RECORD + r"run\.batch_size and run\.seed must be 32 and 0, got 64 and 0",
    ),
    "weights of another shape": (
        edit_weights(np.zeros(7)),
        WEIGHTS + r"weights, got shape \(7,\)",
    ),
    "weights as text": (
        edit_weights(b"these are not weights"),
        WEIGHTS + r"weights \(",
    ),
    "weights as an object array": (
        edit_weights(np.array([{"a": 1}], dtype=object), allow_pickle=True),
        WEIGHTS + r"weights \(.*allow_pickle",
    ),
    "weights as float32": (
        edit_weights(np.zeros(610, np.float32)),
        WEIGHTS + r"weights, got float32",
    ),
}


@pytest.mark.parametrize("variant", list(TAMPERED))
def test_a_tampered_record_is_one_line_naming_the_file_and_field(
    done: Path, tmp_path: Path, variant: str
) -> None:
    out = tmp_path / "study"
    shutil.copytree(done, out)
    change, message = TAMPERED[variant]
    change(out)
    result = CliRunner().invoke(main, [*BATCH, "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("gdlab: error: study record ")
    assert re.search(message, result.stderr), result.stderr
    with pytest.raises(ValueError, match=message):
        plan = studies.BatchSize(
            batch_sizes=(32, 256), seeds=1, until="steps:5", samples=50,
            model="mlp:64-8-10",
        )  # fmt: skip
        studies.prepare(plan, out=out)


def test_untouched_records_are_reused(done: Path) -> None:
    result = CliRunner().invoke(main, [*BATCH, "--out", str(done)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("(already done)") == 2


def test_a_runs_folder_symlinked_outside_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "study"
    out.mkdir()
    (out / ".gdlab.json").write_text(json.dumps({"kind": "study batch-size"}))
    (tmp_path / "victim").mkdir()
    (out / RUNS).symlink_to(tmp_path / "victim")
    result = CliRunner().invoke(main, [*BATCH, "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"gdlab: error: cannot write into {out / RUNS}: it is a symbolic link, and "
        "gdlab writes only files of its own; remove it or choose another folder\n"
    )
    assert list((tmp_path / "victim").iterdir()) == []


EDGE = ["study", "edge-of-stability", "--samples", "40", "--hidden", "4-3"]
EDGE += ["--lrs", "0.5", "--steps", "5", "--every", "2"]
EDGE_RUNS = "edge-of-stability-runs"


@pytest.fixture(scope="module")
def edge_done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("edge") / "edge"
    result = CliRunner().invoke(main, [*EDGE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def edge_edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / EDGE_RUNS / "lr0.5-momentum0.json"
        record = json.loads(path.read_text())
        change(record["run"])
        path.write_text(json.dumps(record))

    return apply


EDGE_RECORD = r"study record .*lr0\.5-momentum0\.json: "
EDGE_TAMPERED = {
    "lambda_max missing": (
        edge_edit(lambda r: r.pop("lambda_max")),
        EDGE_RECORD + r"run\.lambda_max must be given, got nothing",
    ),
    "lambda_max 'lots'": (
        edge_edit(lambda r: r.update(lambda_max="lots")),
        EDGE_RECORD + r"run\.lambda_max must be a list of .*, got 'lots'",
    ),
    "an extra key": (
        edge_edit(lambda r: r.update(colour="red")),
        EDGE_RECORD + r"run: field 'colour' must be one of lr, ",
    ),
    "a loss of text": (
        edge_edit(lambda r: r["loss"].__setitem__(0, "x")),
        EDGE_RECORD + r"run\.loss\[0\] must be a finite number, or null",
    ),
    "one lambda_max short": (
        edge_edit(lambda r: r["lambda_max"].pop()),
        EDGE_RECORD
        + r"run\.lambda_max must be one value per step of steps \(4 values\), "
        r"got 3",
    ),
    "another lr": (
        edge_edit(lambda r: r.update(lr=0.25)),
        EDGE_RECORD + r"run\.lr and run\.momentum must be 0\.5 and 0\.0, got 0\.25",
    ),
}


@pytest.mark.parametrize("variant", list(EDGE_TAMPERED))
def test_a_tampered_edge_record_is_one_line_naming_the_file_and_field(
    edge_done: Path, tmp_path: Path, variant: str
) -> None:
    out = tmp_path / "edge"
    shutil.copytree(edge_done, out)
    change, message = EDGE_TAMPERED[variant]
    change(out)
    result = CliRunner().invoke(main, [*EDGE, "--out", str(out)])
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stderr.count("\n") == 1
    assert re.search(message, result.stderr), result.stderr
    with pytest.raises(ValueError, match=message):
        plan = studies.EdgeOfStability(
            samples=40, hidden=(4, 3), lrs=(0.5,), steps=5, every=2
        )
        studies.prepare(plan, out=out)


def test_untouched_edge_records_are_reused(edge_done: Path) -> None:
    result = CliRunner().invoke(main, [*EDGE, "--out", str(edge_done)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("(already done)") == 1
