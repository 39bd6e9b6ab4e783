"""A user's .npz file from the command line: train (regression too), compare and sweep
in worker processes, benchmark with a user suite, and one-line errors for bad files."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gdlab.cli import main

GDLAB = [str(Path(sys.executable).parent / "gdlab")]
W = np.array([1.0, -2.0, 0.5, 3.0])


def gdlab(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    return subprocess.run(
        [*GDLAB, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def make(folder: Path, kind: str) -> Path:
    """300 points in 4 features: float targets ``X @ W + 0.1·noise`` (regression)
    or the labels ``X @ W > 0`` (a linearly separable classifier)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X @ W + 0.1 * rng.normal(size=300)
    if kind == "classes":
        y = (X @ W > 0).astype(np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}.npz"
    np.savez(path, X_train=X[:240], y_train=y[:240], X_test=X[240:], y_test=y[240:])
    return path


def final(history: Path) -> dict[str, float]:
    epochs: list[dict[str, float]] = json.loads(history.read_text())["epochs"]
    return epochs[-1]


@pytest.mark.parametrize("model", ["linear", "mlp:4-8-1"])
def test_train_fits_a_regression_npz(tmp_path: Path, model: str) -> None:
    make(tmp_path / "data", "regression")
    done = gdlab(
        tmp_path, "train", "--data", "data/regression.npz", "--model", model,
        "--optimizer", "adam", "--lr", "0.05", "--batch-size", "16", "--epochs",
        "30", "--dtype", "float64", "--out", "run",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    last = final(tmp_path / "run" / "history.json")
    assert last["test_acc"] is None  # regression: no accuracy, and no plot of it
    assert done.stdout.splitlines()[-1] == (
        "wrote run/history.json, history.csv, loss.png, model.npz"
    )
    assert not (tmp_path / "run" / "accuracy.png").exists()
    # the targets' variance is |W|^2 = 14.25; the noise's is 0.01
    limit = 0.02 if model == "linear" else 0.2
    assert last["test_loss"] < limit and last["train_loss"] < limit


def test_compare_and_sweep_train_an_npz_in_worker_processes(tmp_path: Path) -> None:
    make(tmp_path / "data", "classes")
    done = gdlab(
        tmp_path, "compare", "--data", "data/classes.npz", "--model", "softmax",
        "--optimizers", "sgd,adam", "--epochs", "3", "--budget", "2", "--seeds",
        "1", "--studies", "2", "--workers", "2", "--out", "cmp", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "cmp" / "results.json").read_text())
    for name in ("sgd", "adam"):
        # separable data: the selected trials beat chance (0.5) by far
        assert results["optimizers"][name]["summary"]["test_acc"]["mean"] > 0.8

    sweep = (
        "sweep", "--data", "data/classes.npz", "--model", "softmax", "--optimizers",
        "sgd,adam", "--lrs", "0.1", "--seeds", "1", "--epochs", "2", "--workers",
        "2", "--quiet",
    )  # fmt: skip
    done = gdlab(tmp_path, *sweep)
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "runs").iterdir()  # named by the file's stem
    assert folder.name.startswith("sweep-classes-")
    rows = (folder / "results.csv").read_text().splitlines()
    assert len(rows) == 3  # header, sgd, adam

    path = tmp_path / "data" / "classes.npz"
    arrays = dict(np.load(path))
    arrays["y_train"][0] ^= 1  # one label edited in place
    np.savez(path, **arrays)
    done = gdlab(tmp_path, *sweep)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "the data of 'data/classes.npz' changed since this store was written" in (
        done.stderr
    )


def test_benchmark_runs_a_user_suite_on_an_npz(tmp_path: Path) -> None:
    make(tmp_path / "data", "classes")
    (tmp_path / "suite.toml").write_text(
        '[mine]\ndata = "data/classes.npz"\nmodel = "softmax"\nepochs = 2\n'
        'batch_size = 32\ntarget = 0.8\neval_every = 5\ncalibrated_by = "by hand"\n'
    )
    done = gdlab(
        tmp_path, "benchmark", "--suite", "suite.toml", "--optimizers", "sgd,adam",
        "--budget", "2", "--seeds", "1", "--studies", "1", "--workers", "2",
        "--out", "bench", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "mine" in done.stdout
    assert (tmp_path / "bench" / "report.html").is_file()


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 2)), np.arange(20) % 2
    good = {"X_train": X, "y_train": y, "X_test": X, "y_test": y}
    cases = {
        "pickled": (
            {**good, "X_test": np.array([[object()] * 2] * 20)},
            "X_test holds Python objects (dtype object), which gdlab does not "
            "unpickle (allow_pickle=False): save numbers",
        ),
        "unknown": (
            {**good, "weights": X},
            "unknown keys 'weights' (an npz holds X_train, y_train, X_test, y_test, "
            "optionally X_val, y_val, classes)",
        ),
        "missing": (
            {k: v for k, v in good.items() if k != "y_test"},
            "missing keys 'y_test' (an npz holds X_train, y_train, X_test, y_test, "
            "optionally X_val, y_val, classes)",
        ),
        "nan": (
            {**good, "X_train": np.where(np.arange(40).reshape(20, 2) == 5, np.nan, X)},
            "X_train must be finite, got nan at row 2, column 1",
        ),
        "labels": (
            {**good, "y_train": y + 0.5, "classes": np.array(["a", "b"])},
            "y_train must be integer class labels, got 0.5 at row 0",
        ),
        "lengths": (
            {**good, "y_train": y[:-1]},
            "y_train must be 1-D with one value per row of X_train, shape (20,), "
            "got shape (19,)",
        ),
    }
    out = {}
    for name, (arrays, message) in cases.items():
        path = folder / f"{name}.npz"
        np.savez(path, **arrays)
        out[name] = (path, f"npz file {str(path)!r}: {message}")
    out["absent"] = (
        folder / "no.npz",
        f"npz file {str(folder / 'no.npz')!r}: no such file",
    )
    return out


CASES = ["pickled", "unknown", "missing", "nan", "labels", "lengths", "absent"]


@pytest.mark.parametrize("command", ["train", "compare", "sweep"])
@pytest.mark.parametrize("case", CASES)
def test_a_bad_npz_is_one_line_and_exit_2(
    tmp_path: Path, command: str, case: str
) -> None:
    path, message = bad_files(tmp_path)[case]
    result = CliRunner().invoke(
        main, [command, "--data", str(path), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    # sweep names the first run whose data failed: "sweep: run optimizer=sgd ...: "
    assert result.stderr.startswith("gdlab: error: ")
    assert result.stderr.endswith(f"{message}\n") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()  # refused before anything ran


def test_a_data_path_with_an_npz_is_a_usage_error(tmp_path: Path) -> None:
    path = make(tmp_path, "classes")
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            str(path),
            "--data-path",
            "d",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "gdlab: error: --data-path must be None for an .npz file (its name is its "
        "path), got 'd'\n"
    )


def test_sweep_reads_an_npz_in_ray_workers(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    make(tmp_path / "data", "classes")
    done = gdlab(
        tmp_path, "sweep", "--data", "data/classes.npz", "--model", "softmax",
        "--optimizers", "sgd", "--lrs", "0.1", "--seeds", "1", "--epochs", "2",
        "--workers", "2", "--backend", "ray", "--out", "ray", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with (tmp_path / "ray" / "results.csv").open() as f:
        (row,) = csv.DictReader(f)
    assert row["optimizer"] == "sgd" and int(row["steps"]) == 6  # 216 samples / 100
    assert float(row["final_test_acc"]) > 0.7  # separable data, chance is 0.5
