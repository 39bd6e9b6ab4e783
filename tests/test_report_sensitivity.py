"""A sweep's report (gdlab.report.sensitivity): learning-rate sensitivity with
diverged runs marked, the CSVs, report.html, redrawn from the store alone."""

from __future__ import annotations

import csv
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab import sweep
from gdlab.train import TrainConfig


def test_the_report_marks_divergence_and_is_redrawn_from_the_store(
    tmp_path: Path,
) -> None:
    """Regression with plain SGD: lr 2 overflows (the loss goes to inf) for both
    seeds; the plot marks it and the table shows it."""
    base = RunSpec(data="synthetic-regression", model="linear", optimizer="sgd")
    base = base.replace(epochs=10, batch_size=32)
    grid = {"lr": [0.03, 0.3, 2.0], "seed": [0, 1]}
    result = sweep.run(sweep.Sweep(base, grid), out=tmp_path, workers=1, progress=False)
    rows = result.rows()
    assert [r.metrics.diverged for r in rows] == [False] * 4 + [True] * 2
    assert all(r.metrics.final_test_acc is None for r in rows)
    assert (rows[2].metrics.final_train_loss or 1.0) < 0.02  # noise 0.1: MSE about 0.01
    assert result.report == tmp_path / "report.html"
    page = result.report.read_text()
    assert page.count("data:image/png;base64,") == 1  # lr sensitivity only
    runs_table = page[
        page.index('<table id="runs">') : page.index(
            "</table>", page.index('<table id="runs">')
        )
    ]
    assert runs_table.count("<tr class=") == 6
    assert runs_table.count('<tr class="diverged">') == 2
    with open(tmp_path / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [float(r["lr"]) for r in table] == [0.03, 0.03, 0.3, 0.3, 2.0, 2.0]
    assert [r["diverged"] for r in table] == ["False"] * 4 + ["True"] * 2
    assert float(table[0]["final_train_loss"]) == rows[0].metrics.final_train_loss
    with open(tmp_path / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [int(r["diverged"]) for r in summary] == [0, 0, 2]
    # Everything can be redrawn from sweep.db alone.
    first = {n: (tmp_path / n).read_bytes() for n in ("results.csv", "summary.csv")}
    for name in ("results.csv", "summary.csv", "report.html", "lr_sensitivity.png"):
        (tmp_path / name).unlink()
    assert sweep.write_report(tmp_path / "sweep.db") == tmp_path / "report.html"
    assert {n: (tmp_path / n).read_bytes() for n in first} == first
    assert (tmp_path / "lr_sensitivity.png").stat().st_size > 20_000


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_report_opens_in_a_browser_with_every_figure(tmp_path: Path) -> None:
    base = RunSpec(
        model="mlp:64-16-10",
        activation="tanh",
        optimizer="sgd",
        train=TrainConfig(epochs=2),
    )
    grid = {"lr": [0.05, 0.2], "batch_size": [16, 128], "seed": [0, 1]}
    plan = sweep.Sweep(base, grid, sharpness=True)
    result = sweep.run(plan, out=tmp_path, workers=2, progress=False)
    assert result.report is not None
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=5000",
                f"--user-data-dir={profile}",
                "--dump-dom",
                result.report.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    assert 'data-figures="3"' in body.group(0)
    assert 'data-figures-loaded="3"' in body.group(0)
    runs_table = dom[dom.index('<table id="runs">') :]
    assert runs_table[: runs_table.index("</table>")].count("<tr class=") == 8


def test_the_highlighted_setting_is_chosen_on_validation(tmp_path: Path) -> None:
    """The report's highlighted row is the best final validation accuracy, and
    the page says what its ± is (a standard deviation, not an interval)."""
    base = RunSpec(data="digits", model="softmax", optimizer="sgd")
    base = base.replace(epochs=1, batch_size=64)
    grid = {"lr": [0.001, 0.03, 1.0], "seed": [0]}
    result = sweep.run(sweep.Sweep(base, grid), out=tmp_path, workers=1, progress=False)
    rows = result.rows()
    best = max(rows, key=lambda r: r.metrics.final_val_acc or 0.0)
    page = result.report.read_text()
    summary = page[page.index('<table id="summary">') :]
    marked = re.search(r'<tr class="best">(.*?)</tr>', summary, re.S)
    assert marked is not None
    assert f"<td>{best.values['lr']:g}</td>" in marked.group(1)
    assert "standard deviation over seeds" in page and "not a confidence" in page
    assert "best final test" not in page
