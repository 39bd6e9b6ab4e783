"""docs/tutorial.ipynb and docs/tutorial.ko.ipynb, the course notes followed
section by section in English and in Korean, as executed notebooks: the test suite
runs them (so they cannot rot) and checks that their stored outputs show every
figure inline, and that they are the notebooks docs/tutorials.py writes.

``python docs/tutorials.py && python tests/test_tutorial.py`` rewrites them from
their source, executes them and stores the outputs.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = {"en": DOCS / "tutorial.ipynb", "ko": DOCS / "tutorial.ko.ipynb"}
BUDGET_S = 80.0
"""Each tutorial runs in well under a minute and a half on two cores (both, in
under three minutes)."""
HANGUL = re.compile("[가-힣]")


def execute(nb: Any, folder: Path) -> float:
    """Run every cell of ``nb`` in a fresh kernel in ``folder``, in place; return
    the seconds it took. A cell that raises stops it with CellExecutionError."""
    started = time.perf_counter()
    NotebookClient(
        nb,
        timeout=int(BUDGET_S),
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return time.perf_counter() - started


def check(nb: Any) -> None:
    """No cell failed or wrote to stderr, and every figure cell shows an image."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code), "not executed"
    for c in code:
        for out in c.outputs:
            assert out.output_type != "error", (c.source, out.get("evalue"))
            assert out.get("name") != "stderr", (c.source, out.get("text"))
    figures = [c for c in code if "figure" in c.metadata.get("tags", [])]
    assert len(figures) >= 9
    for c in figures:
        images = [o for o in c.outputs if "image/png" in o.get("data", {})]
        assert images, f"no image from:\n{c.source}"


def source() -> Any:
    """docs/tutorials.py, the notebooks' source, as a module."""
    spec = importlib.util.spec_from_file_location("tutorials", DOCS / "tutorials.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("language", NOTEBOOKS)
def test_the_stored_outputs_show_every_figure(language: str) -> None:
    nb = nbformat.read(NOTEBOOKS[language], as_version=4)
    check(nb)
    written = source().notebook(language)
    assert [c.source for c in nb.cells] == [c.source for c in written.cells], (
        "run python docs/tutorials.py, then python tests/test_tutorial.py"
    )


def test_every_note_section_has_a_place_in_the_tutorial() -> None:
    """Each note's sections, as README's table lists them, head a section."""
    text = "\n".join(
        c.source for c in nbformat.read(NOTEBOOKS["en"], as_version=4).cells
    )
    readme = (DOCS.parent / "README.md").read_text()
    listed = re.findall(r"^\| (\d{3}\.\d+) ", readme, flags=re.M)
    assert len(listed) >= 25
    for section in listed:
        assert re.search(rf"^##+ .*{re.escape(section)}", text, flags=re.M), section


def test_the_korean_tutorial_speaks_korean() -> None:
    nb = nbformat.read(NOTEBOOKS["ko"], as_version=4)
    prose = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert all(HANGUL.search(p) for p in prose)
    printed = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code" and "examples.get" in c.source
        for o in c.outputs
    )
    assert "강의 노트와 다른 곳:" in printed


@pytest.mark.slow
@pytest.mark.parametrize("language", NOTEBOOKS)
def test_the_tutorial_executes(language: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS[language], as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    seconds = execute(nb, tmp_path)
    check(nb)
    assert seconds < BUDGET_S
    assert list(tmp_path.iterdir()) == []  # it writes nothing where it runs


if __name__ == "__main__":
    for path in NOTEBOOKS.values():
        notebook = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as folder:
            took = execute(notebook, Path(folder))
        check(notebook)
        nbformat.write(notebook, path)
        print(f"executed {path} in {took:.0f} s", file=sys.stderr)
