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
OWN_WORKLOAD = Path(__file__).parents[1] / "docs" / "examples" / "own_workload.py"
GDLAB = [str(Path(sys.executable).parent / "gdlab")]


def gdlab(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    env["GDLAB_PARALLEL_WORK"] = "0"  # worker processes even for these small runs
    return subprocess.run(
        [*GDLAB, *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_compare_runs_a_plugin_in_worker_processes(tmp_path: Path) -> None:
    # a plugin optimizer on a plugin model (issue 24: any model), on digits
    done = gdlab(
        "compare", "--plugin", str(LION), "--plugin", str(OWN_WORKLOAD),
        "--optimizers", "mylion,adamw", "--model", "my-softmax:scale=0.1",
        "--epochs", "2", "--budget", "2", "--seeds", "1", "--studies", "2",
        "--workers", "2", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["spec"]["model"] == "my-softmax:scale=0.1"
    assert list(results["optimizers"]) == ["mylion", "adamw"]
    lion = results["optimizers"]["mylion"]
    assert [len(st["trials"]) for st in lion["studies"]] == [2, 2]
    assert lion["summary"]["test_acc"]["mean"] > 0.2
    assert "--plugin" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("no/such/file.py", "plugin no/such/file.py: no such file"),
        ("no_such_module_here", "plugin no_such_module_here: cannot import it"),
        ("a" * 300 + ".py", "plugin " + "a" * 300 + ".py: File name too long"),
        ("a" * 300, "plugin " + "a" * 300 + ": cannot import it"),
    ],
    ids=["file", "module", "long-file", "long-module"],
)
def test_a_missing_plugin_is_one_line(plugin: str, message: str) -> None:
    done = gdlab("train", "--plugin", plugin, "--out", "x")
    assert done.returncode == 2
    assert done.stderr == f"gdlab: error: {message}" + done.stderr.split(message)[1]
    assert done.stderr.count("\n") == 1


def plugin_file(path: Path, name: str) -> Path:
    """A plugin registering ``name``: SGD under another name (its numbers are SGD's;
    a sign flip would show if the other file's class were used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "from gdlab import optim\n"
        f"class Plugged(optim.SGD):\n    pass\n"
        f"optim.register({name!r}, Plugged)\n"
    )
    return path


def test_two_plugin_files_with_one_stem_are_both_loaded(tmp_path: Path) -> None:
    a = plugin_file(tmp_path / "dirA" / "opt.py", "opt_a")
    b = plugin_file(tmp_path / "dirB" / "opt.py", "opt_b")
    done = gdlab(
        "sweep", "--plugin", str(a), "--plugin", str(b), "--optimizers",
        "opt_a,opt_b", "--model", "mlp:64-8-10", "--epochs", "1", "--seeds", "1",
        "--workers", "1", "--out", str(tmp_path / "out"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # was: unknown optimizer 'opt_b'
    assert "2 runs: 0 were already done, 2 ran now" in done.stdout


def test_a_plugin_path_with_a_colon_reaches_the_worker_processes(
    tmp_path: Path,
) -> None:
    plugin = plugin_file(tmp_path / "a:b" / "coloned.py", "coloned")
    done = gdlab(
        "sweep", "--plugin", str(plugin), "--optimizers", "coloned,sgd",
        "--model", "mlp:64-8-10", "--epochs", "1", "--seeds", "1",
        "--workers", "2", "--out", str(tmp_path / "out"), "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # was: 0 of 2 runs saved
    assert "2 runs: 0 were already done, 2 ran now" in done.stdout


def test_gdlab_plugins_is_a_json_list_and_a_plain_one_still_works(
    tmp_path: Path,
) -> None:
    plugin = plugin_file(tmp_path / "plain" / "plain.py", "plain")
    script = (
        "import json, os; from gdlab import optim; "
        "print(optim.get('plain').__name__); "
        "optim.load_plugin('json'); print(json.loads(os.environ['GDLAB_PLUGINS']))"
    )
    env = {**os.environ, "GDLAB_PLUGINS": f"{tmp_path}/none.py{os.pathsep}{plugin}"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    # the missing first file does not stop the second; a name is added as JSON
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Plugged",
        str([f"{tmp_path}/none.py", str(plugin), "json"]),
    ]


def test_an_unknown_optimizer_is_named_beside_a_plugin_that_did_not_load(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "GDLAB_PLUGINS": json.dumps([f"{tmp_path}/gone.py"])}
    done = subprocess.run(
        [*GDLAB, "train", "--optimizer", "nope", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(
        "gdlab: error: --optimizer: unknown optimizer 'nope'; known "
    )
    assert done.stderr.endswith(
        f"($GDLAB_PLUGINS names a plugin that did not load: plugin "
        f"{tmp_path}/gone.py: no such file)\n"
    )
    assert done.stderr.count("\n") == 1


def test_a_module_name_of_a_file_in_this_folder_gets_a_hint(tmp_path: Path) -> None:
    plugin_file(tmp_path / "cwdmod.py", "cwdmod")
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    done = subprocess.run(
        [*GDLAB, "train", "--plugin", "cwdmod", "--out", "o"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "gdlab: error: plugin cwdmod: cannot import it (No module named 'cwdmod'); "
        "to load the file, give a path: ./cwdmod.py\n"
    )
