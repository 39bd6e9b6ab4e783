"""What the API site (``make docs``) is made from, checked without building it:
every public class and function has a docstring, every public value an attribute
docstring, every public module a page; README's sections split into pages with
nothing lost; and every ``>>>`` example in a docstring runs and prints what it
shows. The build itself (``make docs``, warnings as errors) checks that each
public name is described on the rendered site."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import sys
import tomllib
from pathlib import Path

import pytest

import gdlab

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE = Path(gdlab.__file__).parent
sys.path.insert(0, str(DOCS / "_ext"))

import gdlab_api  # noqa: E402
import gdlab_readme  # noqa: E402

MODULES, NAMES = gdlab_api.walk()


def own_docstring(obj: object) -> str:
    """The object's own docstring: not a base class's, nor the signature that
    dataclasses write in place of a missing one."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if not isinstance(doc, str):
        return ""
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc.strip()


def test_the_public_api_is_what_import_gdlab_reaches() -> None:
    paths = {n.path for n in NAMES}
    assert {"gdlab.Params", "gdlab.optim.Adam", "gdlab.schedules.Cosine"} <= paths
    assert {
        "gdlab.train.fit",
        "gdlab.lab.compare.compare",
        "gdlab.lab.stability",
    } <= paths
    # from gdlab's __all__, and every top-level module (callbacks is in no __all__)
    reached = {"gdlab", "gdlab.optim", "gdlab.lab.sweep", "gdlab.models.layers"}
    assert reached | {"gdlab.params", "gdlab.callbacks"} <= set(MODULES)
    private = [
        p
        for p in [*paths, *MODULES]
        if any(s.startswith("_") for s in p.split(".")[1:])
    ]
    assert private == ["gdlab.__version__"]
    assert not {"gdlab.cli", "gdlab.__main__"} & set(MODULES)  # README has the CLI


def test_every_public_class_and_function_has_a_docstring() -> None:
    missing = [n.path for n in NAMES if not n.is_value and not own_docstring(n.obj)]
    assert missing == []


def test_every_public_value_has_an_attribute_docstring_where_it_is_defined() -> None:
    missing = [
        n.path
        for n in NAMES
        if n.is_value and not gdlab_api.value_doc(n.module, n.name)
    ]
    assert missing == []


def test_a_reexported_value_takes_its_text_from_where_it_is_defined() -> None:
    assert gdlab_api.defining_module("gdlab.optim", "PAIRS") == "gdlab.optim.space"
    rst = "\n".join(gdlab_api.values_rst("gdlab.optim"))
    assert ".. py:data:: PAIRS\n   :module: gdlab.optim\n   :value: {'beta1'" in rst
    assert "Axis names that set one element of a tuple hyperparameter" in rst
    # REGISTRY is documented where it is written: automodule shows it
    assert "py:data:: REGISTRY" not in rst


def test_every_public_module_has_its_api_page() -> None:
    pages = {p.stem: p.read_text() for p in (DOCS / "api").glob("gdlab*.md")}
    assert sorted(pages) == MODULES
    for module, text in pages.items():
        assert f".. automodule:: {module}\n" in text
        assert f".. public-values:: {module}\n" in text
    index = (DOCS / "api" / "index.md").read_text()
    assert [m for m in MODULES if f"\n{m}\n" in index] == MODULES


def test_readme_sections_become_pages_with_nothing_lost() -> None:
    readme = (ROOT / "README.md").read_text()
    pages = gdlab_readme.sections(readme)
    headings = [line[3:] for line in readme.splitlines() if line.startswith("## ")]
    assert [title for title, _ in pages] == ["Introduction", *headings]
    lines = sum(len(body) for _, body in pages)
    assert lines + len(headings) + 1 == len(readme.splitlines())  # + the title
    assert not any("](docs/" in line for _, body in pages for line in body)


def test_readme_split_ignores_headings_in_code_and_lifts_subsections() -> None:
    text = "# T\nintro\n## A\n```sh\n## not a heading\n```\n### Sub\n## B\nb\n"
    assert gdlab_readme.sections(text) == [
        ("Introduction", ["intro"]),
        ("A", ["```sh", "## not a heading", "```", "## Sub"]),
        ("B", ["b"]),
    ]
    assert gdlab_readme.slug("Sweeps on a Ray cluster") == "sweeps-on-a-ray-cluster"


def modules_with_examples() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        if ">>>" in path.read_text():
            parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


EXAMPLES = modules_with_examples()


def test_the_examples_are_found() -> None:
    assert {"gdlab.losses", "gdlab.optim.adam", "gdlab.lab.explain.worked"} <= set(
        EXAMPLES
    )


@pytest.mark.parametrize("module", EXAMPLES)
def test_docstring_examples_run(module: str) -> None:
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    report: list[str] = []
    for test in doctest.DocTestFinder().find(importlib.import_module(module)):
        runner.run(test, out=report.append)
    assert runner.tries > 0
    assert runner.failures == 0, "".join(report)


def test_make_docs_builds_with_warnings_as_errors_and_ci_runs_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^docs: .*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe is not None and recipe[1].startswith("$(BIN)/sphinx-build -E -W ")
    assert "make docs" in (ROOT / ".ci" / "run").read_text().splitlines()
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["docs"]
    assert {r.split("==")[0] for r in extra} >= {"sphinx", "furo", "myst-nb"}
    assert all("==" in r for r in extra)  # pinned: a new Sphinx may warn anew
