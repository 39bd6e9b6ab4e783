"""docs/tutorial.ipynb, the course as an executed notebook: the test suite runs it
(so it cannot rot) and checks that its stored outputs show every figure inline.

``python tests/test_tutorial.py`` executes it again and stores the outputs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
BUDGET_S = 180.0
"""The tutorial runs in under three minutes on two cores."""


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


def test_the_stored_outputs_show_every_figure() -> None:
    check(nbformat.read(NOTEBOOK, as_version=4))


@pytest.mark.slow
def test_the_tutorial_executes(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    seconds = execute(nb, tmp_path)
    check(nb)
    assert seconds < BUDGET_S
    assert list(tmp_path.iterdir()) == []  # it writes nothing where it runs


if __name__ == "__main__":
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        took = execute(notebook, Path(folder))
    check(notebook)
    nbformat.write(notebook, NOTEBOOK)
    print(f"executed {NOTEBOOK} in {took:.0f} s", file=sys.stderr)
