"""--plugin: an optimizer written outside the package, known to every command and
to the worker processes of a sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LION = Path(__file__).parents[1] / "docs" / "examples" / "lion.py"
GDLAB = [str(Path(sys.executable).parent / "gdlab")]


def gdlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    return subprocess.run(
        [*GDLAB, *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_compare_runs_a_plugin_in_worker_processes(tmp_path: Path) -> None:
    done = gdlab(
        "compare", "--plugin", str(LION), "--optimizers", "mylion,adamw",
        "--model", "mlp:64-16-10", "--epochs", "2", "--budget", "2", "--seeds", "1",
        "--workers", "2", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["optimizers"]) == ["mylion", "adamw"]
    lion = results["optimizers"]["mylion"]
    assert len(lion["trials"]) == 2 and lion["summary"]["test_acc"]["mean"] > 0.2
    assert "--plugin" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("no/such/file.py", "plugin no/such/file.py: no such file"),
        ("no_such_module_here", "plugin no_such_module_here: cannot import it"),
    ],
)
def test_a_missing_plugin_is_one_line(plugin: str, message: str) -> None:
    done = gdlab("train", "--plugin", plugin, "--out", "x")
    assert done.returncode == 2
    assert done.stderr == f"gdlab: error: {message}" + done.stderr.split(message)[1]
    assert done.stderr.count("\n") == 1
