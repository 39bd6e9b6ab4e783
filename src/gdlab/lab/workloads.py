"""Workloads: a problem to optimize, by name — data, model (its loss with it),
evaluation, the run's defaults and, for benchmarks, a target.

A :class:`Workload` is a :class:`~gdlab.experiment.RunSpec` (data, model, epochs,
batch size, ``eval_every``, ...), the validation measure that judges it
(``select``: ``val_acc``, higher is better, or ``val_loss``, lower is better, for
a model without accuracy such as the autoencoder or the noisy quadratic), the
``target`` of that measure a benchmark's time-to-result waits for, and the
command that calibrated the target (``calibrated_by``).

Registered workloads are known by name to every suite; gdlab's own are those of
the built-in suite files (``suites/small.toml``, ``suites/medium.toml``),
registered the same way a user's are::

    from gdlab.lab import workloads
    workloads.register(workloads.Workload("my-task", RunSpec(model="my-net"), 0.9))

Installed packages register theirs under the ``gdlab.workloads`` entry-point
group. In a suite file, a table with ``workload = "NAME"`` starts from a
registered workload and changes the fields it gives.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar

from gdlab import _checks, registry
from gdlab.experiment import RunSpec
from gdlab.records import Constraint, Record, one_of, optional, text

GROUP = "gdlab.workloads"
"""The entry-point group installed packages register their workloads under."""
SELECT = ("val_acc", "val_loss")
"""The validation measures a workload is judged by."""
BUILT_IN_SUITES = ("small", "medium")
"""The suite files whose workloads are gdlab's own (``suites/NAME.toml``)."""
RESERVED_SUFFIXES = (".json", ".html", ".png", ".csv", ".db", ".lock", ".tmp")
"""A workload's folder sits beside a benchmark's own files (``benchmark.json``,
``report.html``, ``profiles.png``): its name may not end like one of them."""
OWN_KEYS = ("target", "select", "calibrated_by", "workload")
"""The keys of a suite table that are not RunSpec fields."""


def _name(owner: str, name: str, value: object) -> str:
    if (
        not isinstance(value, str)
        or not re.fullmatch(r"[A-Za-z0-9_.-]+", value)
        or value.startswith(".")
    ):
        _checks.fail(owner, name, "letters, digits, _ . -", value)
    if value.lower().endswith(RESERVED_SUFFIXES):
        _checks.fail(
            owner,
            name,
            f"a folder name not ending in {', '.join(RESERVED_SUFFIXES)} (the "
            "benchmark's own files sit beside it)",
            value,
        )
    return value


def _spec(owner: str, name: str, value: object) -> RunSpec:
    if isinstance(value, RunSpec):
        return value
    if isinstance(value, Mapping):
        return RunSpec.from_dict(value)
    _checks.fail(owner, name, "a RunSpec or its fields", value)


def _target(owner: str, name: str, value: object) -> float:
    return _checks.number(owner, name, value, low=0.0, low_open=True)


@dataclass(frozen=True)
class Workload(Record):
    """One problem: a run to train, the measure that judges it and its target."""

    name: str
    spec: RunSpec
    target: float
    select: str = "val_acc"
    """``val_acc`` (the target is reached from below) or ``val_loss`` (from
    above)."""
    calibrated_by: str | None = None
    """The command that calibrated ``target`` (AlgoPerf sets targets from
    well-tuned baselines run with a large budget)."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "name": _name,
        "spec": _spec,
        "target": _target,
        "select": one_of(*SELECT),
        "calibrated_by": optional(text),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.select == "val_acc" and self.target > 1:
            _checks.fail("Workload", "target", "in (0, 1] for val_acc", self.target)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "spec": self.spec.to_dict()}

    @classmethod
    def from_table(cls, name: str, fields: object, where: str = "suite") -> Workload:
        """The workload of a suite file's table ``[name]``: RunSpec fields,
        ``target``, ``select``, ``calibrated_by``, and ``workload = "NAME"`` to
        start from a registered one. Errors name ``where`` and the workload."""
        _name(where, "a workload name", name)
        if not isinstance(fields, Mapping):
            _checks.fail(where, f"workload {name!r}", "a table of fields", fields)
        values = dict(fields)
        base_name = values.pop("workload", None)
        own: dict[str, Any] = {}
        spec: dict[str, Any] = {}
        if base_name is not None:
            base = get(base_name)
            spec = base.spec.to_dict()
            own = {"target": base.target, "select": base.select}
            own["calibrated_by"] = base.calibrated_by
        for key in ("target", "select", "calibrated_by"):
            if key in values:
                own[key] = values.pop(key)
        select = _checks.choice(
            where, f"{name}.select", own.get("select", "val_acc"), SELECT
        )
        high = 1.0 if select == "val_acc" else None
        own["target"] = _checks.number(
            where, f"{name}.target", own.get("target"), low=0, high=high,
            low_open=True,
        )  # fmt: skip
        calibrated_by = own.get("calibrated_by")
        if calibrated_by is not None and not isinstance(calibrated_by, str):
            _checks.fail(where, f"{name}.calibrated_by", "a command", calibrated_by)
        try:
            return cls(name, RunSpec.from_dict({**spec, **values}), **own)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: workload {name!r}: {error}") from None


WORKLOADS: registry.Registry[Workload] = registry.Registry("workload", GROUP)
"""Name -> workload, in registration order."""


def register(workload: Workload) -> Workload:
    """Make ``workload`` known by its name to every suite (``workload = "NAME"``)
    and to :func:`get`; a name registered twice is refused."""
    if not isinstance(workload, Workload):
        _checks.fail("register", "workload", "a Workload", workload)
    WORKLOADS.add(workload.name, workload)
    return workload


def get(name: str) -> Workload:
    """The registered workload ``name``."""
    found = WORKLOADS.find(name)
    if found is None:
        raise ValueError(WORKLOADS.unknown("workload", "name", name))
    return found[1]


def names() -> tuple[str, ...]:
    """The registered workload names."""
    return WORKLOADS.names()


def built_in_suite(suite: str) -> list[Workload]:
    """The workloads of built-in suite file ``suite``, in its order."""
    source = resources.files("gdlab.lab").joinpath(f"suites/{suite}.toml").read_text()
    where = f"suite {suite!r}"
    return [Workload.from_table(n, f, where) for n, f in tomllib.loads(source).items()]


def _register_built_ins() -> None:
    for suite in BUILT_IN_SUITES:
        for workload in built_in_suite(suite):
            if workload.name not in WORKLOADS:  # a suite may list another's workload
                register(workload)


_register_built_ins()

__all__ = [
    "BUILT_IN_SUITES",
    "GROUP",
    "SELECT",
    "WORKLOADS",
    "Workload",
    "built_in_suite",
    "get",
    "names",
    "register",
]
