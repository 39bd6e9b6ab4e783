"""gdlab's public API, and a build step that checks the site documents all of it.

The public API is what a user reaches from ``import gdlab``: the names in a module's
``__all__`` (or, for a module without one, the functions, classes and values it
defines at top level whose names do not begin with ``_``), walked from ``gdlab``
and each of its top-level modules (but the command line) through every public
module those names hold. ``tests/test_docs.py`` checks that
each public class and function has a docstring; the Sphinx extension here checks,
on every ``make docs``, that each public name is described on some page of the site
and that each public module has a page, and reports every miss as a warning (which
``sphinx-build -W`` makes an error).

Each page's ``public-values`` directive adds the values that ``automodule`` leaves
out (a re-export such as ``gdlab.optim.PAIRS``, defined in ``gdlab.optim.space``),
with the attribute docstring of the module that defines them: a constant is
described once, where it is written.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
import pkgutil
import types
from dataclasses import dataclass
from typing import Any

ROOT = "gdlab"


@dataclass(frozen=True)
class Name:
    """One public name: ``module.name`` and the object it holds."""

    module: str
    name: str
    obj: Any

    @property
    def path(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def is_value(self) -> bool:
        """True for a constant or type alias: it has no docstring of its own."""
        return not (inspect.isclass(self.obj) or inspect.isroutine(self.obj))


def defined_names(module: types.ModuleType) -> list[str]:
    """Top-level functions, classes and assignments of a module, without ``_``."""
    tree = ast.parse(inspect.getsource(module))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [n for n in names if not n.startswith("_")]


def public_names(module: types.ModuleType) -> list[str]:
    declared = getattr(module, "__all__", None)
    return list(declared) if declared is not None else defined_names(module)


COMMAND_LINE = ("cli", "__main__")
"""Top-level modules that README documents as commands, not as an API."""


def top_level() -> list[str]:
    """Every top-level module and package of gdlab without a leading ``_``."""
    package = importlib.import_module(ROOT)
    return [
        f"{ROOT}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_") and info.name not in COMMAND_LINE
    ]


def walk() -> tuple[list[str], list[Name]]:
    """The public modules (sorted) and every public name that is not a module:
    from ``gdlab`` and each top-level module, through the modules their public
    names hold."""
    todo, modules, names = [ROOT, *top_level()], set(), []
    while todo:
        current = todo.pop(0)
        if current in modules:
            continue
        modules.add(current)
        module = importlib.import_module(current)
        for name in public_names(module):
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType):
                if obj.__name__.startswith(ROOT + "."):
                    todo.append(obj.__name__)
            else:
                names.append(Name(current, name, obj))
    return sorted(modules), names


def defining_module(module: str, name: str) -> str:
    """The module whose source assigns ``name`` (following ``from X import name``)."""
    source = inspect.getsource(importlib.import_module(module))
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return defining_module(node.module, alias.name)
    return module


def attribute_docs(module: str) -> dict[str, str]:
    """Name -> the string literal that follows its top-level assignment."""
    body = ast.parse(inspect.getsource(importlib.import_module(module))).body
    docs = {}
    for node, after in itertools.pairwise(body):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        else:
            continue
        if (
            isinstance(target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[target.id] = inspect.cleandoc(after.value.value)
    return docs


def value_doc(module: str, name: str) -> list[str]:
    """The attribute docstring of a value, from the module that defines it."""
    text = attribute_docs(defining_module(module, name)).get(name, "")
    return text.splitlines()


# The Sphinx extension ------------------------------------------------------------


def values_rst(module: str) -> list[str]:
    """``py:data`` entries for the public values of ``module`` that ``automodule``
    leaves out: autodoc shows a module-level value only when the module's own source
    documents it, so a re-export (or a value with no docstring) would be missing.
    Each takes its text from the module that defines it; a short value is shown."""
    own = attribute_docs(module)
    lines: list[str] = []
    for n in walk()[1]:
        shown = n.name in own and not n.name.startswith("_")  # autodoc skips dunders
        if n.module != module or not n.is_value or shown:
            continue
        lines += [f".. py:data:: {n.name}", f"   :module: {module}"]
        if len(repr(n.obj)) <= 60:
            lines.append(f"   :value: {n.obj!r}")
        lines.append("")
        lines += [f"   {line}" for line in value_doc(module, n.name)]
        lines.append("")
    return lines


def _directive() -> Any:
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles

    class PublicValues(SphinxDirective):
        """``.. public-values:: gdlab.optim``: the values ``automodule`` leaves out."""

        required_arguments = 1

        def run(self) -> list[Any]:
            from docutils import nodes

            module = self.arguments[0]
            self.env.note_dependency(importlib.import_module(module).__file__)
            node = nodes.section()
            content = StringList(values_rst(module), source=f"<values of {module}>")
            nested_parse_with_titles(self.state, content, node)
            return list(node.children)

    return PublicValues


def _described(env: Any) -> dict[str, bool]:
    """Every Python object the site describes -> whether its description has text."""
    from sphinx import addnodes

    found: dict[str, bool] = {}
    for docname in env.found_docs:
        for desc in env.get_doctree(docname).findall(addnodes.desc):
            if desc.get("domain") != "py":
                continue
            content = [c for c in desc.children if isinstance(c, addnodes.desc_content)]
            text = bool(content) and bool(content[0].astext().strip())
            for sig in desc.children:
                if isinstance(sig, addnodes.desc_signature) and sig.get("fullname"):
                    full = f"{sig['module']}.{sig['fullname']}"
                    found[full] = found.get(full, False) or text
    return found


def check_coverage(app: Any, env: Any) -> None:
    """Warn for each public module without a page and each public name that no page
    describes (a class or function counts as described under any of its public
    names: ``gdlab.lab.stability`` is ``gdlab.lab.analysis.stability``)."""
    from sphinx.util import logging

    logger = logging.getLogger("gdlab.api")
    modules, names = walk()
    pages = set(env.domaindata["py"]["modules"])
    for module in modules:
        if module not in pages:
            logger.warning("public module %s has no page in docs/api", module)
    described = _described(env)
    by_object: dict[int, list[str]] = {}
    for n in names:
        if not n.is_value:
            by_object.setdefault(id(n.obj), []).append(n.path)
    for n in names:
        paths = [n.path] if n.is_value else by_object[id(n.obj)]
        if not any(described.get(p) for p in paths):
            logger.warning("public name %s is not described in the site", n.path)


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("public-values", _directive())
    app.connect("env-check-consistency", check_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
