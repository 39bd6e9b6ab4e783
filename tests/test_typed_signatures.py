"""Configs and results cross module boundaries as declared records, not as
``dict[str, Any]`` (issue 21): the public signatures and record fields of the
comparison path are counted, and the few dicts that must stay are named here with
their reason, so a new one fails until it is typed or argued for."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from collections.abc import Iterator
from functools import cached_property
from types import ModuleType

import pytest

MODULES = (
    "gdlab.experiment",
    "gdlab.results",
    "gdlab.lab.compare",
    "gdlab.lab.claims",
    "gdlab.report.compare",
    "gdlab.report.sensitivity",
    "gdlab.cli.compare",
)
"""The modules the comparison path owns."""
UNTYPED = re.compile(r"\b(dict|Mapping)\[str, Any\]")

ALLOWED = {
    # keyword arguments, built into an optimizer or a schedule by name
    "gdlab.experiment.RunSpec.hyper": "an optimizer's keyword arguments",
    "gdlab.experiment.RunSpec.schedule_args": "a schedule's keyword arguments",
    "gdlab.results.Trial.hyper": "an optimizer's keyword arguments",
    "gdlab.results.Selected.hyper": "an optimizer's keyword arguments",
    "gdlab.lab.compare.trials -> return": "each trial's keyword arguments",
    "gdlab.lab.compare.Plan.chosen -> return": "each trial's keyword arguments",
    "gdlab.experiment.parse_model -> return": "a model builder's keyword arguments",
    # plain forms of records on a higher floor than gdlab.results
    "gdlab.results.Rerun.history": "a gdlab.history.History's plain form",
    "gdlab.results.Rerun.epochs -> return": "a History's rows (gdlab.history)",
    "gdlab.results.ComparisonResult.spec": "a RunSpec's flat plain form",
    "gdlab.report.sensitivity.sweep_report(base)": "a sweep store's meta base",
    # a sweep store's rows: the sweep's records (lab.sweep, not this path)
    "gdlab.report.sensitivity.plot_lr_sensitivity(rows)": "a sweep store's rows",
    "gdlab.report.sensitivity.plot_sharpness(rows)": "a sweep store's rows",
    "gdlab.report.sensitivity.plot_sharpness_accuracy(rows)": "a sweep store's rows",
    "gdlab.report.sensitivity.write_csv(rows)": "any rows, as CSV",
    "gdlab.report.sensitivity.sweep_report(rows)": "a sweep store's rows",
    "gdlab.report.sensitivity.sweep_report(summary)": "a sweep's summary rows",
    # a table for display
    "gdlab.lab.compare.Comparison.summary -> return": "rows for pandas",
}
"""Where a ``dict[str, Any]`` stays, and why."""


def _aliases(module: ModuleType) -> set[str]:
    """The module's names for ``dict[str, Any]`` (``Row``, ``Hyper``)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("__")
        and UNTYPED.search(str(value).replace("typing.", ""))
        and not inspect.isfunction(value)
        and not inspect.isclass(value)
    }


def _untyped(annotation: object, aliases: set[str]) -> bool:
    text = str(annotation)
    return bool(UNTYPED.search(text)) or any(
        re.search(rf"\b{a}\b", text) for a in aliases
    )


def _public(module: ModuleType) -> Iterator[tuple[str, object]]:
    """Public functions, classes' public methods and record fields defined in
    ``module``, by qualified name."""
    for name, value in vars(module).items():
        if (
            name.startswith("_")
            or getattr(value, "__module__", None) != module.__name__
        ):
            continue
        if inspect.isfunction(value):
            yield f"{module.__name__}.{name}", value
        elif inspect.isclass(value):
            for attr, member in vars(value).items():
                if isinstance(member, property | cached_property):
                    getter = (
                        member.fget if isinstance(member, property) else member.func
                    )
                    if not attr.startswith("_") and getter is not None:
                        yield f"{module.__name__}.{name}.{attr}", getter
                elif not attr.startswith("_") and inspect.isfunction(
                    getattr(member, "__func__", member)
                ):
                    yield (
                        f"{module.__name__}.{name}.{attr}",
                        getattr(member, "__func__", member),
                    )
            if dataclasses.is_dataclass(value):
                own = inspect.get_annotations(value)
                for field in dataclasses.fields(value):
                    if field.name in own:
                        yield f"{module.__name__}.{name}.{field.name}", field


def untyped() -> list[str]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        aliases = _aliases(module)
        for where, thing in _public(module):
            if isinstance(thing, dataclasses.Field):
                if _untyped(thing.type, aliases):
                    found.append(where)
                continue
            assert callable(thing)
            for param, annotation in thing.__annotations__.items():
                if param == "return" and where.endswith((".to_dict", ".to_frame")):
                    continue  # a plain form is a dict by definition
                if _untyped(annotation, aliases):
                    found.append(
                        f"{where} -> return"
                        if param == "return"
                        else f"{where}({param})"
                    )
    return found


def test_no_untyped_dict_crosses_the_comparison_paths_boundaries() -> None:
    found = untyped()
    assert sorted(set(found) - set(ALLOWED)) == []
    assert sorted(set(ALLOWED) - set(found)) == []  # the list stays exact


@pytest.mark.parametrize("annotation", ["dict[str, Any]", "Mapping[str, Any]", "Row"])
def test_the_count_sees_each_spelling(annotation: str) -> None:
    assert _untyped(annotation, {"Row"})
    assert not _untyped("dict[str, float]", {"Row"})
