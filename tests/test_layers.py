"""The house reads top to bottom: each module imports only from its own floor or the
floors below it, and no module reaches for another module's private names.

Imports under ``if TYPE_CHECKING:`` are annotations, not arrows, and are skipped;
imports inside functions (lazy ones) are arrows like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import gdlab

SOURCE = Path(gdlab.__file__).parent
FLOORS = (
    (
        "gdlab._checks",
        "gdlab._blas",
        "gdlab._display",
        "gdlab.params",
        "gdlab.outputs",
        "gdlab.i18n",
        "gdlab.records",
        "gdlab.results",
        "gdlab.study_results",
        "gdlab.benchmark_results",
        "gdlab.plugins",
        "gdlab.registry",
    ),
    (
        "gdlab.optim",
        "gdlab.schedules",
        "gdlab.losses",
        "gdlab.data",
        "gdlab.report",
    ),
    ("gdlab.models", "gdlab.surfaces", "gdlab.testing"),
    (
        "gdlab.train",
        "gdlab.train_config",
        "gdlab.history",
        "gdlab.checkpoint",
        "gdlab.callbacks",
        "gdlab.population",
        "gdlab.weights",
    ),
    ("gdlab.experiment",),
    ("gdlab.lab", "gdlab.playground"),
    ("gdlab.cli", "gdlab.__main__"),
)
"""Floors from the bottom: params and checks; the pieces (optimizers, schedules,
losses, data, pictures); models and surfaces; the training loop (its config, its
history, its checkpoints); runs built from names; the lab; the command line (and
``python -m gdlab``).
``gdlab/__init__`` (the public names, lazily) stands outside."""


def floor(module: str) -> int | None:
    found = None
    for level, names in enumerate(FLOORS):
        if any(module == n or module.startswith(n + ".") for n in names):
            found = level
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module, names) of each gdlab import outside TYPE_CHECKING blocks."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gdlab"):
            assert node.module is not None and node.level == 0
            names = [a.name for a in node.names]
            if node.module == "gdlab":  # from gdlab import optim, data
                for name in names:
                    yield node.lineno, f"gdlab.{name}", []
            else:
                yield node.lineno, node.module, names
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("gdlab."):
                    yield node.lineno, alias.name, []


SOURCES = sorted(SOURCE.rglob("*.py"))


def test_every_module_has_a_floor() -> None:
    lost = [
        module_name(p)
        for p in SOURCES
        if module_name(p) != "gdlab" and floor(module_name(p)) is None
    ]
    assert lost == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    me = module_name(path)
    here = floor(me)
    if here is None:  # gdlab/__init__: the public names
        return
    upward = [
        f"line {line}: {target} (floor {floor(target)} > {here})"
        for line, target, _ in imports(path)
        if (floor(target) or 0) > here
    ]
    assert upward == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_no_private_names_across_modules(path: Path) -> None:
    me = module_name(path)
    private = [
        f"line {line}: {target}.{name}"
        for line, target, names in imports(path)
        for name in names
        if name.startswith("_") and target != me and target != "gdlab._checks"
    ]
    assert private == []
