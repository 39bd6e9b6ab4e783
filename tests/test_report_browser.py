"""report.html in a real browser: Debian's headless Chromium loads every figure."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab import compare, runs
from gdlab.train import TrainConfig

CHROMIUM = shutil.which("chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


def chromium(*args: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium (make test installs it)"
)
def test_report_opens_offline_with_every_figure_and_the_table(tmp_path: Path) -> None:
    spec = RunSpec(
        data="digits", model="mlp:64-32-10", train=TrainConfig(epochs=3, batch_size=64)
    )
    protocol = compare.Protocol(budget=3, seeds=2, studies=2)
    found, page = runs.compare_into(
        tmp_path,
        spec,
        ["sgd", "momentum", "adam", "rmsprop"],
        protocol,
        workers=1,
        progress=False,
    )
    dom = chromium("--dump-dom", page.as_uri())
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    figures = re.search(r'data-figures="(\d+)"', body.group(0))
    loaded = re.search(r'data-figures-loaded="(\d+)"', body.group(0))
    assert figures is not None and loaded is not None, body.group(0)
    assert int(figures.group(1)) == int(loaded.group(1)) == 5
    start = dom.index('<table id="results">')
    table = dom[start : dom.index("</table>", start)]
    rows = re.findall(r"<tr class=\"[^\"]*\"><td>(\w+)</td><td>(\w+)</td>", table)
    assert rows == [(r["group"], r["optimizer"]) for r in found.summary()]
    assert sorted(name for _, name in rows) == ["adam", "momentum", "rmsprop", "sgd"]
    assert "What this comparison shows" in dom
    shot = tmp_path / "report.png"
    chromium("--window-size=1280,1800", f"--screenshot={shot}", page.as_uri())
    assert (
        shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    )
