"""Schedules by name: the registry, JSON round trips, and the one builder of a
training run's schedule (:func:`for_run`) with the defaults it states."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from gdlab import _checks
from gdlab.schedules.closed_form import (
    Constant,
    Cosine,
    CosineRestarts,
    Exponential,
    InverseTime,
    Join,
    LinearWarmup,
    MultiStep,
    OneCycle,
    PerEpoch,
    Polynomial,
    Schedule,
    Step,
)

REGISTRY: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (
        Constant,
        Step,
        MultiStep,
        Exponential,
        InverseTime,
        Polynomial,
        Cosine,
        CosineRestarts,
        LinearWarmup,
        OneCycle,
        Join,
        PerEpoch,
    )
}
"""Registry name -> schedule class (``"cosine"`` -> :class:`Cosine`)."""


def names() -> list[str]:
    """The registry names of all schedules, e.g. ``["constant", "step", ...]``."""
    return list(REGISTRY)


def get(name: str) -> type[Schedule]:
    """The schedule class registered under ``name`` (``-`` may stand for ``_``)."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(
            f"unknown schedule {name!r}{_checks.did_you_mean(key, list(REGISTRY))}; "
            f"known schedules: {', '.join(REGISTRY)}"
        )
    return REGISTRY[key]


def create(name: str, **arguments: Any) -> Schedule:
    """Build the schedule registered under ``name``: ``create("cosine", lr=0.1, ...)``.

    Unknown or missing arguments are a ``ValueError`` naming the schedule.
    """
    cls = get(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key, value in arguments.items():
        if key not in fields:
            _checks.fail(
                cls.name, f"keyword {key!r}", f"one of {', '.join(fields)}", value
            )
    for key, f in fields.items():
        required = (
            f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if required and key not in arguments:
            _checks.fail(cls.name, key, "given", None)
    return cls(**arguments)


def from_dict(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from its :meth:`Schedule.to_dict` (nested ones included)."""

    def build(value: object) -> object:
        if isinstance(value, Mapping) and "name" in value:
            return from_dict(value)
        if isinstance(value, list):
            return [build(v) for v in value]
        return value

    if not isinstance(config, Mapping) or "name" not in config:
        _checks.fail("schedules", "config", "a mapping with a 'name'", config)
    args = {k: build(v) for k, v in config.items() if k != "name"}
    return create(str(config["name"]), **args)


# --- a schedule for a training run: the one builder ---------------------------------

RUN_SCHEDULES = (
    "constant",
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "polynomial",
    "cosine",
    "cosine_restarts",
    "one_cycle",
)
"""The schedules a run can decay its learning rate by (after an optional warm-up)."""

RUN_DEFAULTS: dict[str, str] = {
    "constant": "",
    "step": "step_size = 1/4 of the decay steps, gamma = 0.5",
    "multistep": "milestones = 1/2 and 3/4 of the decay steps, gamma = 0.1",
    "exponential": "gamma = 0.01^(1/decay steps) (down 100x), or rate k: gamma = e^-k",
    "inverse_time": "decay_rate = 1, decay_steps = 1/10 of the decay steps",
    "polynomial": "total_steps = the decay steps, power = 1, final_lr = 0",
    "cosine": "total_steps = the decay steps, final_lr = 0",
    "cosine_restarts": "period = 1/4 of the decay steps, period_mult = 1, final_lr = 0",
    "one_cycle": "total_steps = the decay steps, max_lr = lr, torch's other defaults",
}
"""What each run schedule takes for the arguments not given (shown in ``--help``)."""


def run_name(name: str) -> str:
    """``name`` as a run schedule's key; any other name, a schedule of the registry
    that a run does not take included, is a ValueError listing those it does."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    return _checks.choice("schedule", "name", key, RUN_SCHEDULES)


def for_run(
    name: str, lr: float, steps: int, *, warmup: int = 0, **arguments: Any
) -> Schedule:
    """Schedule ``name`` for a run of ``steps`` steps: a linear warm-up over the
    first ``warmup`` steps, then a decay from ``lr`` over the rest, with
    ``arguments`` as given and the others as :data:`RUN_DEFAULTS` states.

    The warm-up starts above zero, as torch's ``LinearLR`` does with its start
    factor: step t < W runs at ``s(0)·(t + 1)/(W + 1)``, which is
    ``LinearLR(start_factor=1/(W + 1), total_iters=W)``. (From 0, the first step,
    or with ``schedule_unit="epoch"`` the whole first epoch, would not train.)

    ``for_run("step", 0.1, 1000)`` is ``Step(0.1, step_size=250, gamma=0.5)``;
    ``for_run("exponential", 0.1, 1000, rate=0.01)`` is ``Exponential(0.1,
    gamma=e^-0.01)``, the notes' ``lr0 * e^(-k * t)``; ``for_run("cosine", 0.1,
    1000, warmup=100)`` is ``LinearWarmup(Cosine(0.1, total_steps=900), 100,
    start_lr=0.1/101)``.
    """
    owner = "schedule"
    key = run_name(name)
    steps = _checks.integer(owner, "steps", steps, low=1)
    warmup = _checks.integer(owner, "warmup", warmup, low=0)
    if warmup >= steps:
        _checks.fail(owner, "warmup", f"< the run's steps ({steps})", warmup)
    decay = steps - warmup
    given = dict(arguments)
    if key == "exponential" and "rate" in given:
        if "gamma" in given:
            _checks.fail(owner, "exponential", "given gamma or rate, not both", given)
        # beyond 745, e^-rate is 0 in float64 (it would be refused as gamma = 0)
        rate = _checks.number(owner, "rate", given.pop("rate"), low=0.0, high=745.0)
        given["gamma"] = math.exp(-rate)
    if "lr" in given or "max_lr" in given:
        _checks.fail(owner, key, "given its peak as the run's lr, not here", given)
    table: dict[str, dict[str, Any]] = {
        "constant": {},
        "step": {"step_size": max(1, decay // 4), "gamma": 0.5},
        "multistep": {
            "milestones": sorted({max(1, decay // 2), max(2, 3 * decay // 4)})
        },
        "exponential": {"gamma": 0.01 ** (1 / decay)},
        "inverse_time": {"decay_rate": 1.0, "decay_steps": max(1.0, decay / 10)},
        "polynomial": {"total_steps": decay},
        "cosine": {"total_steps": decay},
        "cosine_restarts": {"period": max(1, decay // 4)},
        "one_cycle": {"total_steps": decay},
    }
    peak = {"max_lr": lr} if key == "one_cycle" else {"lr": lr}
    schedule = create(key, **{**peak, **table[key], **given})
    if not warmup:
        return schedule
    return LinearWarmup(schedule, warmup, start_lr=float(schedule(0)) / (warmup + 1))


def argument_types(name: str) -> dict[str, Any]:
    """The arguments run schedule ``name`` takes from the user, with their types
    (``int``, ``float`` or ``list`` of int), for typed command-line parsing."""
    cls = get(run_name(name))
    hints = {"milestones": list}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in ("lr", "max_lr"):
            continue
        kind = str(f.type)
        out[f.name] = hints.get(f.name, int if kind == "int" else float)
    if cls.name == "exponential":
        out["rate"] = float
    return out
