"""Configs and results cross module boundaries as declared records, not as
``dict[str, Any]`` (issue 21): the public functions, methods and dataclass fields of
every module of gdlab are read, and each ``dict[str, Any]``, ``Mapping[str, Any]``
or bare ``dict`` in their annotations must match a rule of ``ALLOWED``, which says
why that dict stays; a new one fails until it is typed or argued for.

Count (findings, rules aside): 204 on main before this test covered the whole
package; 189 after the sweep's rows and summary, the checkpoint's metadata and
the sweep store's metrics became records; 176 after the studies' results and
settings did (gdlab.study_results), which their reports draw; 174 after a
worker's result (store.FinishedRun) and a store's inputs (inputs.Inputs) did;
151 after the sweep's workers (local processes, populations, Ray tasks) built
and returned FinishedRun records and took their options as a RunOptions; 142
after the benchmark's results became records (gdlab.benchmark_results), which
its report draws, its timing helpers took the comparison's, and a built-in
suite came as workloads."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from functools import cache, cached_property
from types import ModuleType

import pytest

import gdlab

UNTYPED = re.compile(r"\b(dict|Mapping)\[str, Any\]|^(dict|Mapping)( \||$)|\| dict\b")
"""``dict[str, Any]``, ``Mapping[str, Any]``, or a bare ``dict`` / ``Mapping``."""

ALLOWED: dict[str, str] = {
    # --- by design: names -> values whose keys are the user's, not ours ---------
    r"^gdlab\.optim\.[\w.]+\.(check|initial_state|param_state|scalars|decoupled"
    r"|route|rule_arguments|update)( -> return|\(group\))$": "a param group maps "
    "hyperparameter names to values, torch.optim's convention",
    r"^gdlab\.optim\.[\w.]+\.step(_with)?\((grads|closure)\)$": (
        "torch.optim's step(closure): named gradients"
    ),
    r"(\.hyper|\(hyper\)|\.schedule_args|hyper_key\(hyper\)|trials? -> return"
    r"|chosen -> return|parse_hyper -> return|parse_schedule_args -> return"
    r"|optim\.resolve -> return|heavy_ball\(hyper\)|schedules\.examples"
    r"\.example_arguments -> return|argument_types -> return)$": "an optimizer's or "
    "a schedule's keyword arguments, by name",
    r"(registry\.parse -> return|registry\.build\(fields\)|parse_model -> return"
    r"|registry\.check_options\(options\)|options\.assignments.*|parse_fixed -> "
    r"return|run_spec\(run\))$": "a NAME:k=v model or plugin's keyword arguments",
    r"(state_dict -> return|load_state_dict\(state_dict\)|ReduceOnPlateau\.settings"
    r" -> return|CheckpointMeta\.plateau|OptimizerState\.param_groups)$": (
        "torch's state_dict format, kept as torch writes it"
    ),
    r"(checkpoint\.fingerprint -> return|CheckpointMeta\.fingerprint|same_run\(found"
    r"\)|state_arrays -> return|studies\.records\.saved_run\(settings\))$": "a "
    "fingerprint: JSON of foreign objects (a model's repr, param groups; a study "
    "run's settings, the plan's fields and that run's own) compared leaf by leaf",
    # --- the JSON boundary: plain forms read and written ----------------------
    r"(checkpoint\.read -> return|load_latest -> return|weights\.read -> return"
    r"|Store\.meta -> return|Store\.set_meta\(values\)|History\.from_dict\(values\)"
    r"|schedules\.registry\.from_dict\(config\)|runs\.rebuild\(values\)"
    r"|Meta\.check -> return|CheckpointMeta\.spec|train\.(fit|restore|resume)"
    r"\((spec|rebuild)\)|ComparisonResult\.spec|sensitivity\.sweep_report\(base\)"
    r"|check_same_sweep\(meta\)|WorkloadResult\.spec)$": "the JSON boundary: a "
    "file's plain form, before its record reads it or after its record wrote it",
    r"(History\.config|History\.of\(config\)|Rerun\.history|Rerun\.epochs -> "
    r"return|time_to_target\(evaluations\)|FinishedRun\.history)$": "a History's "
    "plain form (History is a mutable builder; its Recorded is the record)",
    # --- tables for display -------------------------------------------------------
    r"(_display\.(frame|table)\(rows\)|_display\.mean_std\(row\)|Comparison\."
    r"summary -> return|Explanation\.rows -> return|label_colors -> return"
    r"|playground\.api\.\w+_payload -> return|explain\.rules\.Rule\.(formula"
    r"|derive))$": "rows for a table, pandas or the browser (JSON)",
    r"course_mnist\.\w+\(config\)$": "the notes' loop settings, a dict in the notes",
    r"^gdlab\.testing\.check_optimizer\((configs|reference_groups)\)$": (
        "a reference optimizer's keyword arguments"
    ),
    r"^gdlab\.surfaces\.": "an optimizer's keyword arguments on a surface",
}
"""Where a ``dict[str, Any]`` stays, and why (a regex over the finding's name)."""


@cache
def modules() -> tuple[str, ...]:
    """Every module of gdlab."""
    found = pkgutil.walk_packages(gdlab.__path__, "gdlab.")
    return tuple(sorted(m.name for m in found if not m.name.endswith("__main__")))


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
    for name in modules():
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


def test_no_untyped_dict_crosses_a_module_boundary() -> None:
    found = untyped()
    assert len(found) > 100  # the walk reached the optimizers, the lab, the CLI
    unexplained = [f for f in found if not any(re.search(r, f) for r in ALLOWED)]
    assert unexplained == []
    unused = [r for r in ALLOWED if not any(re.search(r, f) for f in found)]
    assert unused == []  # the list stays exact


@pytest.mark.parametrize(
    "annotation", ["dict[str, Any]", "Mapping[str, Any]", "Row", "dict", "dict | None"]
)
def test_the_count_sees_each_spelling(annotation: str) -> None:
    assert _untyped(annotation, {"Row"})
    assert not _untyped("dict[str, float]", {"Row"})
    assert not _untyped("dict[str, GridValue]", {"Row"})
