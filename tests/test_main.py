"""``python -m gdlab`` and the version: one copy (pyproject.toml), read from the
installed package's metadata by ``gdlab.__version__`` and ``gdlab --version``."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

import gdlab
from gdlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SOURCE = Path(gdlab.__file__).parent
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
    "version"
]


def python_m_gdlab(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m gdlab ARGS`` running this checkout's gdlab."""
    path = os.pathsep.join(
        filter(None, [str(SOURCE.parent), os.environ.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-m", "gdlab", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_python_m_gdlab_is_the_command_line() -> None:
    done = python_m_gdlab("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m gdlab [OPTIONS] COMMAND")
    listed = re.findall(r"^  (\S+)", done.stdout.split("Commands:")[1], re.MULTILINE)
    assert listed == sorted(main.commands)


def test_python_m_gdlab_reports_errors_as_gdlab_does() -> None:
    done = python_m_gdlab("train", "--optimizer", "adamm")
    assert done.returncode == 2
    assert done.stderr.startswith("gdlab: error:") and done.stderr.count("\n") == 1
    same = CliRunner().invoke(main, ["train", "--optimizer", "adamm"])
    assert (same.exit_code, same.stderr) == (2, done.stderr)


def test_the_version_is_pyprojects_read_from_the_package_metadata() -> None:
    assert gdlab.__version__ == importlib.metadata.version("gdlab")
    assert gdlab.__version__ == PYPROJECT_VERSION
    done = python_m_gdlab("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"gdlab, version {PYPROJECT_VERSION}\n"
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.stdout == done.stdout


def test_no_source_file_writes_the_version_down() -> None:
    written = [
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if re.search(r"^\s*__version__\s*=\s*['\"]", path.read_text(), re.MULTILINE)
    ]
    assert written == []


def test_the_citation_and_the_changelog_name_the_version() -> None:
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^version: (\S+)$", citation, re.MULTILINE).group(1) == (  # type: ignore[union-attr]
        PYPROJECT_VERSION
    )
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{PYPROJECT_VERSION}] - " in changelog


def test_the_command_leaves_the_objects_out_of_the_collections_at_exit() -> None:
    """``gdlab`` freezes the garbage collector after its exit handlers: the
    interpreter's last collections took 0.2 s of each command that trained."""
    program = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'frozen {gc.get_freeze_count()}'))\n"
        "from gdlab.cli import main\n"
        "main(['--version'])\n"
    )
    path = os.pathsep.join(
        filter(None, [str(SOURCE.parent), os.environ.get("PYTHONPATH")])
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0 and done.stdout.startswith("gdlab, version")
    frozen = re.fullmatch(r"frozen (\d+)", done.stderr)
    assert frozen and int(frozen[1]) > 10_000, done.stderr
