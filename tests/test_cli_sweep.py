"""The CLI's sweep command: a table, a report, resume by re-running, bad input."""

from __future__ import annotations

import csv
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab.cli import main
from gdlab.lab import sweep

SMALL = ["--model", "mlp:64-16-10", "--epochs", "1", "--workers", "1"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_sweep_prints_a_table_writes_a_report_and_resumes(tmp_path: Path) -> None:
    args = [
        "sweep",
        *SMALL,
        "--optimizers",
        "sgd,adam",
        "--lrs",
        "1e-2,1e-1",
        "--batch-sizes",
        "32,128",
        "--seeds",
        "2",
        "--grid",
        "l2=0,1e-3",
        "--out",
        str(tmp_path),
    ]
    code, out, err = run(*args)
    assert code == 0, err
    assert "32 runs (0 already done" in out
    assert "32 runs: 0 were already done, 32 ran now" in out
    assert len([ln for ln in out.splitlines() if ln.lstrip().startswith("[")]) == 32
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("optimizer"))
    assert lines[header].split()[:5] == ["optimizer", "lr", "batch_size", "l2", "runs"]
    table = [ln.split() for ln in lines[header + 2 : header + 18]]
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in table[:3]] == [
        ("sgd", "0.01", "32", "0", "2"),
        ("sgd", "0.01", "32", "0.001", "2"),
        ("sgd", "0.01", "128", "0", "2"),
    ]
    assert f"report: {tmp_path / 'report.html'}" in out
    with open(tmp_path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 32 and {r["l2"] for r in rows} == {"0.0", "0.001"}
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 1
    assert "--grid l2=0,1e-3" in page  # the command that made it

    code, again, err = run(*args)
    assert code == 0, err
    assert "32 runs (32 already done" in again
    assert "32 runs: 32 were already done, 0 ran now" in again
    table_again = again[again.index("optimizer  lr") :]
    assert table_again == out[out.index("optimizer  lr") :]  # seconds included
    assert sweep.Store(tmp_path / "sweep.db").count() == 32


def test_sharpness_from_the_command_line(tmp_path: Path) -> None:
    code, out, err = run(
        "sweep",
        *SMALL,
        "--optimizers",
        "sgd",
        "--batch-sizes",
        "16,256",
        "--seeds",
        "1",
        "--sharpness",
        "--sharpness-samples",
        "300",
        "--val-fraction",
        "0.2",
        "--split-seed",
        "3",
        "--quiet",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    assert "λmax" in out.splitlines()[1]
    base = sweep.Store(tmp_path / "sweep.db").meta()["base"]
    assert (base["val_fraction"], base["split_seed"]) == (0.2, 3)
    rows = sweep.Store(tmp_path / "sweep.db").rows()
    assert all((r.metrics.lambda_max or 0) > 0 for r in rows)
    assert (tmp_path / "sharpness.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--optimizers", "sgd,adamm"], "unknown optimizer 'adamm'"),
        (["--optimizers", ""], "--optimizers must be a comma-separated list of names"),
        (["--lrs", ""], "--lrs must be a comma-separated list of numbers, got ''"),
        (["--lrs", "0.1,,1"], "--lrs must be a comma-separated list of numbers"),
        (["--lrs", "0.1,-1"], "--lrs must be > 0, got -1.0"),
        (["--lrs", "0.1,fast"], "--lrs must be a comma-separated list of numbers"),
        (["--batch-sizes", "32,big"], "--batch-sizes must be a comma-separated list"),
        (["--batch-sizes", "0"], "--batch-sizes must be an integer >= 1, got 0"),
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--val-fraction", "0.7"], "--val-fraction must be in (0, 0.5], got 0.7"),
        (["--split-seed", "-1"], "--split-seed: -1 is not in"),
        (["--grid", "optimiser=sgd"], "unknown grid field 'optimiser'"),
        (["--grid", "l2"], "--grid must look like FIELD=V1,V2, got 'l2'"),
        (["--grid", "seed=0,1"], "--grid seed repeats a field the options already"),
        (["--model", "mlp:64-10-3"], "--model must be the data's 64 features first"),
        (["--backend", "dask"], "'dask' is not one of 'local', 'ray'"),
        (
            ["--optimizers", "sgd,adam", "--hyper", "betas=0.8,0.99"],
            "--hyper: sgd has no 'betas'; it takes momentum",
        ),
        (
            ["--schedule", "step", "--schedule-arg", "gamma=high"],
            "--schedule-arg gamma must be a number, got 'high'",
        ),
        (
            ["--workers", "0"],
            "--workers: 0 is not in the range x>=1",
        ),
        (
            ["--grid", 'hyper={"lr":5}'],
            "--grid hyper must be free of 'lr', which the run sets, got {'lr': 5}",
        ),
        (
            ["--grid", "hyper=null"],
            "--grid hyper must be a dict with string keys, got None",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, out, err = run("sweep", *SMALL, *args, "--out", str(tmp_path / "out"))
    assert code == 2, out
    assert err.startswith("gdlab: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "out" / "sweep.db").exists()


def test_an_unwritable_out_and_a_missing_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run("sweep", *SMALL, "--out", str(blocker / "sweep"))
    assert code == 2 and err.startswith(
        f"gdlab: error: cannot write to --out {blocker}"
    )
    monkeypatch.setitem(sys.modules, "ray", None)
    code, _, err = run(
        "sweep", *SMALL, "--backend", "ray", "--out", str(tmp_path / "ray")
    )
    assert code == 2
    assert err == (
        "gdlab: error: --backend 'ray' needs Ray, which is not installed: "
        "pip install 'gdlab[cluster]'\n"
    )


def test_a_changed_setting_on_rerun_is_refused(tmp_path: Path) -> None:
    code, _, err = run("sweep", *SMALL, "--seeds", "1", "--out", str(tmp_path))
    assert code == 0, err
    code, _, err = run(
        "sweep", *SMALL, "--seeds", "1", "--l2", "0.01", "--out", str(tmp_path)
    )
    assert code == 2
    assert (
        "holds a sweep with a different base spec or options (l2: 0.0 -> 0.01)" in err
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            """UPDATE meta SET value = '["zzz"]' WHERE key = 'axes'""",
            "meta 'axes' is damaged (it must be a list of RunSpec fields, got ['zzz'])",
        ),
        (
            "UPDATE runs SET final_val_acc = 'abc'",
            "is damaged (final_val_acc must be a number, got 'abc')",
        ),
    ],
    ids=["axes", "metric"],
)
def test_a_hand_edited_store_is_one_line_naming_it(
    tmp_path: Path, sql: str, message: str
) -> None:
    code, _, err = run("sweep", *SMALL, "--seeds", "1", "--out", str(tmp_path))
    assert code == 0, err
    with sqlite3.connect(tmp_path / "sweep.db") as db:
        db.execute(sql)
    db.close()
    code, _, err = run("sweep", *SMALL, "--seeds", "1", "--out", str(tmp_path))
    assert code == 2
    assert err.startswith(f"gdlab: error: {tmp_path / 'sweep.db'}: ")
    assert message in err and err.count("\n") == 1, err
