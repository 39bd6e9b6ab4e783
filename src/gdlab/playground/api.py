"""The playground's JSON API as plain functions of plain data: no HTTP here.

What the server answers (:mod:`gdlab.playground.server`), usable without it:

:func:`surfaces_payload`
    every surface: name, formula, bounds, minima, default start and a
    ``GRID`` x ``GRID`` grid of values with contour levels (geometric above the
    minimum where the surface says so).
:func:`optimizers_payload`
    every optimizer and preset with its hyperparameters and their defaults from the
    registry, the schedules a run may use, and the request limits.
:func:`trajectories_payload`
    ``{"surface", "start": [x, y], "steps", "runs": [{"optimizer", "lr", "hyper",
    "schedule"}]}`` -> one path per run, computed by
    :func:`gdlab.surfaces.trajectory` with the real optimizers (built by
    :func:`gdlab.optim.create`; schedules by :func:`gdlab.schedules.for_run`), the
    values along it and whether it diverged.

A bad request is a ValueError naming its first problem in the project's message
format (``"playground: steps must be an integer in [1, 5000], got 9000"``). Work
per request is bounded: at most :data:`MAX_STEPS` steps for each of at most
:data:`MAX_RUNS` runs.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gdlab import _checks, optim, schedules, surfaces
from gdlab.params import F64

OWNER = "playground"
GRID = 120
"""Points per axis of the contour grid sent for each surface."""
LEVELS = 24
"""Contour levels per surface."""
MAX_STEPS = 5000
"""The most optimizer steps one request may ask for."""
MAX_RUNS = 24
"""The most runs one request may hold: every registered optimizer and preset
(21) at once, and a few more."""
DEFAULT_STEPS = 100
"""The step count the page starts with; schedule defaults are shown for it."""

SCHEDULES = schedules.RUN_SCHEDULES
"""Schedules a run may use (those whose arguments are numbers); each may be warmed."""


class Cancelled(Exception):
    """:func:`trajectories_payload` stopped because its ``cancelled()`` said so."""


# --- payloads --------------------------------------------------------------------


def _finite(x: float) -> float | None:
    """``x`` as a JSON number, or None (null) when it is not finite."""
    return float(x) if math.isfinite(x) else None


def _levels(surface: surfaces.Surface, z: F64, count: int = LEVELS) -> F64:
    """Contour levels: geometric above the minimum, or evenly spaced."""
    lo, hi = float(np.min(z)), float(np.max(z))
    if surface.log_levels and hi > lo:
        base = min(lo, surface.min_value) if math.isfinite(surface.min_value) else lo
        span = hi - base
        return np.asarray(base + np.geomspace(span * 1e-4, span, count))
    return np.linspace(lo, hi, count)


def _surface_info(surface: surfaces.Surface) -> dict[str, Any]:
    (x0, x1), (y0, y1) = surface.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    z = surface.value(np.stack([gx, gy], axis=-1))
    return {
        "name": surface.name,
        "formula": surface.formula,
        "description": surface.description,
        "labels": list(surface.labels),
        "value_name": surface.value_name,
        "bounds": [[x0, x1], [y0, y1]],
        "minima": [list(m) for m in surface.minima],
        "min_value": _finite(surface.min_value),
        "start": list(surface.start),
        "log_scale": surface.log_levels,
        "grid": {
            "nx": GRID,
            "ny": GRID,
            # row j is y = y0 + j·(y1 − y0)/(ny − 1); 5 significant digits suffice
            "values": [float(f"{v:.5g}") for v in z.ravel()],
        },
        "levels": [float(f"{v:.6g}") for v in _levels(surface, z)],
    }


@functools.cache
def surfaces_json() -> bytes:
    """:func:`surfaces_payload` as JSON, computed once."""
    payload = {"surfaces": [_surface_info(surfaces.get(n)) for n in surfaces.names()]}
    return json.dumps(payload, allow_nan=False).encode()


def surfaces_payload() -> dict[str, Any]:
    """What ``GET /api/surfaces`` answers: ``{"surfaces": [...]}``."""
    result: dict[str, Any] = json.loads(surfaces_json())
    return result


def _kind(default: object) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, tuple):
        return "pair"
    return "number"


def _optimizer_entry(
    name: str, base: str, preset: Mapping[str, Any], summary: str
) -> dict[str, Any]:
    defaults = {**optim.get(base).defaults, **preset}
    return {
        "name": name,
        "base": base,
        "preset": dict(preset),
        "summary": summary,
        "lr": defaults["lr"],
        "hyper": [
            {
                "name": k,
                "default": list(v) if isinstance(v, tuple) else v,
                "kind": _kind(v),
            }
            for k, v in defaults.items()
            if k != "lr"
        ],
    }


def _schedule_lr_field(name: str) -> str:
    return "max_lr" if name == "one_cycle" else "lr"


def _schedule_entry(name: str) -> dict[str, Any]:
    cls = schedules.get(name)
    example = schedules.for_run(name, 1.0, DEFAULT_STEPS)  # the run builder's defaults
    lr_field = _schedule_lr_field(name)
    args = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == lr_field:
            continue
        kind = {"int": "int", "float": "number"}.get(str(f.type), "list")
        default = getattr(example, f.name)
        args.append({"name": f.name, "kind": kind, "default": default})
    doc = (cls.__doc__ or name).strip().splitlines()[0]
    return {"name": name, "summary": doc, "lr_field": lr_field, "args": args}


@functools.cache
def optimizers_json() -> bytes:
    """:func:`optimizers_payload` as JSON, computed once."""
    entries = [
        _optimizer_entry(n, n, {}, (optim.get(n).__doc__ or n).strip().splitlines()[0])
        for n in optim.names()
        if not optim.get(n).needs_closure  # surfaces run batched: no line search
    ]
    for name, preset in optim.PRESETS.items():
        values = ", ".join(f"{k}={v}" for k, v in preset.hyper.items())
        entries.append(
            _optimizer_entry(
                name, preset.base, preset.hyper, f"{preset.base} preset: {values}"
            )
        )
    payload = {
        "optimizers": entries,
        "schedules": [_schedule_entry(n) for n in SCHEDULES],
        "limits": {"max_steps": MAX_STEPS, "max_runs": MAX_RUNS},
        "default_steps": DEFAULT_STEPS,
    }
    return json.dumps(payload, allow_nan=False).encode()


def optimizers_payload() -> dict[str, Any]:
    """What ``GET /api/optimizers`` answers."""
    result: dict[str, Any] = json.loads(optimizers_json())
    return result


# --- validating a trajectories request -----------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _start(value: object) -> tuple[float, float]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(_is_number(v) and math.isfinite(v) for v in value)
    )
    if not ok:
        _checks.fail(OWNER, "start", "a point [x, y] of two finite numbers", value)
    assert isinstance(value, list)
    return float(value[0]), float(value[1])


def _steps(value: object) -> int:
    requirement = f"an integer in [1, {MAX_STEPS}]"
    if not isinstance(value, int) or isinstance(value, bool):
        _checks.fail(OWNER, "steps", requirement, value)
    if not 1 <= value <= MAX_STEPS:
        _checks.fail(OWNER, "steps", requirement, value)
    return value


def _keys(where: str, value: object, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        _checks.fail(OWNER, where, "a JSON object", value)
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        _checks.fail(
            OWNER, where, f"an object with keys among {', '.join(allowed)}", unknown[0]
        )
    return value


def _hyper(where: str, base: str, value: object) -> dict[str, Any]:
    defaults = optim.get(base).defaults
    if isinstance(value, dict) and "lr" in value:
        _checks.fail(OWNER, f"{where}.lr", "given as the run's lr", value["lr"])
    given = _keys(where, value, tuple(k for k in defaults if k != "lr"))
    out: dict[str, Any] = {}
    for key, v in given.items():
        name, default = f"{where}.{key}", defaults[key]
        if isinstance(default, bool):
            if not isinstance(v, bool):
                _checks.fail(OWNER, name, "true or false", v)
            out[key] = v
        elif isinstance(default, tuple):
            ok = isinstance(v, list) and len(v) == len(default)
            if not ok or not all(_is_number(x) for x in v):
                _checks.fail(OWNER, name, f"a list of {len(default)} numbers", v)
            out[key] = tuple(
                _checks.number(OWNER, f"{name}[{j}]", x) for j, x in enumerate(v)
            )
        else:
            if not _is_number(v):
                _checks.fail(OWNER, name, "a number", v)
            out[key] = _checks.number(OWNER, name, v)
    return out


def _schedule(where: str, value: object, lr: float, steps: int) -> schedules.Schedule:
    spec = dict(_keys(where, value, ("name", "warmup_steps", *_schedule_args())))
    name = spec.pop("name", None)
    if name not in SCHEDULES:
        _checks.fail(OWNER, f"{where}.name", f"one of {', '.join(SCHEDULES)}", name)
    assert isinstance(name, str)
    warmup_value = spec.pop("warmup_steps", 0)
    if warmup_value is None:
        warmup_value = 0
    if not isinstance(warmup_value, int) or isinstance(warmup_value, bool):
        _checks.fail(OWNER, f"{where}.warmup_steps", "an integer >= 0", warmup_value)
    warmup = warmup_value
    if not 0 <= warmup < steps:
        _checks.fail(
            OWNER, f"{where}.warmup_steps", f"an integer in [0, {steps - 1}]", warmup
        )
    lr_field = _schedule_lr_field(name)
    fields = {f.name for f in dataclasses.fields(schedules.get(name))}  # type: ignore[arg-type]
    for key in spec:
        if key not in fields or key == lr_field:
            allowed = ", ".join(["name", "warmup_steps", *sorted(fields - {lr_field})])
            _checks.fail(
                OWNER, where, f"an object with keys among {allowed} for {name}", key
            )
    given = {k: v for k, v in spec.items() if v is not None}
    return schedules.for_run(name, lr, steps, warmup=warmup, **given)


@functools.cache
def _schedule_args() -> tuple[str, ...]:
    names = {
        f.name
        for n in SCHEDULES
        for f in dataclasses.fields(schedules.get(n))  # type: ignore[arg-type]
    }
    return tuple(sorted(names))


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """One checked run: what :func:`gdlab.surfaces.trajectory` is called with."""

    optimizer: str
    lr: float
    hyper: dict[str, Any]
    schedule: schedules.Schedule | None
    schedule_name: str | None = None
    warmup_steps: int = 0

    @property
    def lr_arg(self) -> float | schedules.Schedule:
        """The ``lr`` given to the optimizer: the number or the schedule."""
        return self.lr if self.schedule is None else self.schedule

    @property
    def label(self) -> str:
        """``"adam (lr=0.3)"``, with the schedule's name if any."""
        text = f"{self.optimizer} (lr={self.lr:g})"
        if self.schedule_name is not None:
            text += f", {self.schedule_name}"
        if self.warmup_steps:
            text += f" after {self.warmup_steps} warm-up steps"
        return text


@dataclasses.dataclass(frozen=True)
class TrajectoriesRequest:
    """A checked ``POST /api/trajectories`` request."""

    surface: surfaces.Surface
    start: tuple[float, float]
    steps: int
    runs: tuple[RunRequest, ...]


def _run(i: int, value: object, steps: int) -> RunRequest:
    where = f"runs[{i}]"
    spec = _keys(where, value, ("optimizer", "lr", "hyper", "schedule"))
    name = spec.get("optimizer")
    if not isinstance(name, str):
        _checks.fail(OWNER, f"{where}.optimizer", "an optimizer name", name)
    base, _ = optim.resolve(name)
    lr_value = spec.get("lr")
    if lr_value is None:
        lr = float(optim.get(base).defaults["lr"])
    else:
        lr = _checks.number(OWNER, f"{where}.lr", lr_value, low=0.0)
    hyper = _hyper(f"{where}.hyper", base, spec.get("hyper", {}) or {})
    given = spec.get("schedule")
    if given is None:
        return RunRequest(name.lower(), lr, hyper, None)
    schedule = _schedule(f"{where}.schedule", given, lr, steps)
    warmup = (
        schedule.warmup_steps if isinstance(schedule, schedules.LinearWarmup) else 0
    )
    return RunRequest(name.lower(), lr, hyper, schedule, given["name"], warmup)


def parse_request(body: object) -> TrajectoriesRequest:
    """Check a decoded ``POST /api/trajectories`` body; a ValueError names the
    first problem in the one message format."""
    spec = _keys("the request", body, ("surface", "start", "steps", "runs"))
    surface = surfaces.get(spec.get("surface"))  # type: ignore[arg-type]
    start = surface.start if spec.get("start") is None else _start(spec["start"])
    steps = _steps(spec.get("steps", DEFAULT_STEPS))
    runs = spec.get("runs")
    if not isinstance(runs, list):
        _checks.fail(OWNER, "runs", f"a list of 1 to {MAX_RUNS} runs", runs)
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(
            f"{OWNER}: runs must be a list of 1 to {MAX_RUNS} runs, got {len(runs)}"
        )
    return TrajectoriesRequest(
        surface, start, steps, tuple(_run(i, r, steps) for i, r in enumerate(runs))
    )


# --- computing the paths -------------------------------------------------------------


def run_trajectory(request: TrajectoriesRequest, run: RunRequest) -> F64:
    """The path of one run: :func:`gdlab.surfaces.trajectory`, nothing else."""
    return surfaces.trajectory(
        request.surface,
        run.optimizer,
        request.start,
        lr=run.lr_arg,
        steps=request.steps,
        **run.hyper,
    )


def _run_result(request: TrajectoriesRequest, run: RunRequest) -> dict[str, Any]:
    surface = request.surface
    path = run_trajectory(request, run)
    bad = int(surfaces.first_nonfinite(path[:, None])[0])
    kept = path if bad < 0 else path[:bad]
    with np.errstate(over="ignore", invalid="ignore"):
        values = surface.value(kept)
        final = surface.value(path[-1])
    lrs = None
    if run.schedule is not None:
        lrs = [float(run.schedule(t)) for t in range(request.steps)]
    return {
        "label": run.label,
        "optimizer": run.optimizer,
        "lr": run.lr,
        "hyper": {
            k: list(v) if isinstance(v, tuple) else v for k, v in run.hyper.items()
        },
        "schedule": None if run.schedule is None else run.schedule.to_dict(),
        "lrs": lrs,
        "path": kept.tolist(),
        "values": [_finite(v) for v in values.tolist()],
        "start_value": _finite(float(values[0])),
        "final_value": _finite(float(final)),
        "final_point": path[-1].tolist() if bad < 0 else None,
        "diverged": bool(surfaces.diverged(surface, path)),
        "nonfinite_at": None if bad < 0 else bad,
    }


def _never() -> bool:
    return False


def trajectories_payload(
    body: object, cancelled: Callable[[], bool] = _never
) -> dict[str, Any]:
    """What ``POST /api/trajectories`` answers for a decoded body (a ValueError for
    a bad one). ``cancelled()`` is asked before each run; once true, the work stops
    with :class:`Cancelled`."""
    request = parse_request(body)
    results = []
    for i, run in enumerate(request.runs):
        if cancelled():
            raise Cancelled(f"{OWNER}: cancelled before run {i}")
        results.append(_run_result(request, run))
    return {
        "surface": request.surface.name,
        "start": list(request.start),
        "steps": request.steps,
        "runs": results,
    }


__all__ = [
    "DEFAULT_STEPS",
    "GRID",
    "MAX_RUNS",
    "MAX_STEPS",
    "SCHEDULES",
    "Cancelled",
    "RunRequest",
    "TrajectoriesRequest",
    "optimizers_json",
    "optimizers_payload",
    "parse_request",
    "run_trajectory",
    "surfaces_json",
    "surfaces_payload",
    "trajectories_payload",
]
