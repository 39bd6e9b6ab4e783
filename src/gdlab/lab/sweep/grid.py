"""A sweep's grid: runs as RunSpecs, their keys, and the checks before anything trains.

A run's key is the canonical JSON of its whole spec, numbers normalized, so the
same run is recognized whatever grid produced it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gdlab import _checks, optim, train_config
from gdlab.data import Dataset
from gdlab.experiment import FIELDS, RunSpec, build
from gdlab.lab.sweep import datacache

_FLOAT_FIELDS = ("lr", "l2", "warmup_epochs")
"""TrainConfig normalizes its own fields; these are RunSpec's."""


def plain(value: Any) -> Any:
    """``value`` as JSON sees it (tuples become lists)."""
    return json.loads(json.dumps(value))


def _python(value: Any) -> Any:
    """``value`` with NumPy scalars as Python numbers (in dicts, lists and tuples
    too), as TrainConfig takes them: ``np.int64(1)`` -> 1."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _python(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_python(v) for v in value)
    return value


def _like(value: Any, default: Any) -> Any:
    """``value`` in the type of ``default`` where only the number type differs
    (1 -> 1.0 for a float default, 2.0 -> 2 for an int one), as the CLI's typed
    ``--hyper`` parser gives it; a bool, or anything else, is left for the
    optimizer's checks."""
    if isinstance(value, bool) or isinstance(default, bool):
        return value
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    if (
        isinstance(default, tuple)
        and isinstance(value, list | tuple)
        and len(value) == len(default)
    ):
        return type(value)(_like(v, d) for v, d in zip(value, default, strict=True))
    return value


def _hyper(optimizer: str, hyper: dict[str, Any]) -> dict[str, Any]:
    """``hyper`` typed by the optimizer's defaults (an unknown optimizer or name is
    left for :func:`build` to refuse)."""
    try:
        defaults = optim.get(optimizer).defaults
    except (TypeError, ValueError):
        return hyper
    typed = {k: d for k, d in defaults.items() if k != "lr"}  # the run sets the lr
    return {k: _like(v, typed[k]) if k in typed else v for k, v in hyper.items()}


def normalized(spec: RunSpec) -> RunSpec:
    """Numbers in the type their field holds, so that ``lr=1`` and ``lr=1.0``, or
    ``hyper={"momentum": 1}`` and ``{"momentum": 1.0}``, are one run, NumPy
    scalars as Python numbers, and the optimizer's name in lower case (``SGD`` and
    ``sgd`` are one run); anything else is left for the checks of
    :func:`build`. (TrainConfig normalizes its own fields.)"""
    values = {
        name: _python(value)
        for name, value in spec.to_dict().items()
        if name not in train_config.FIELDS
    }
    for name in _FLOAT_FIELDS:
        if _real(values[name]):
            values[name] = float(values[name])
    if _real(values["split_seed"]) and float(values["split_seed"]).is_integer():
        values["split_seed"] = int(values["split_seed"])
    if isinstance(values["optimizer"], str):  # names are case-insensitive
        values["optimizer"] = values["optimizer"].lower().replace("-", "_")
    values["hyper"] = _hyper(values["optimizer"], values["hyper"])
    return spec.replace(**values)


def _real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def spec_key(spec: RunSpec) -> str:
    """The run's key: the canonical JSON of its whole spec (sorted, compact); a
    ValueError naming the fields that hold NaN or infinity, which JSON cannot."""
    values = normalized(spec).to_dict()
    for name, default in train_config.LATER.items():  # keys made before them stay
        if values[name] == default:
            del values[name]
    try:
        return json.dumps(
            values, sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except ValueError:
        bad = next(k for k, v in values.items() if not _finite_json(v))
        _checks.fail("RunSpec", bad, "finite (JSON has no NaN or inf)", values[bad])


def _finite_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(_finite_json, value.values()))
    if isinstance(value, list | tuple):
        return all(map(_finite_json, value))
    return True


def source(spec: RunSpec) -> tuple[Any, ...]:
    """What a run's data depends on: runs that share it share one loaded Dataset."""
    return (spec.data, spec.data_path, spec.dtype, spec.val_fraction, spec.split_seed)


def describe(spec: RunSpec, names: Sequence[str] | None = None) -> str:
    """The run in error messages: ``name=value`` of ``names`` (default: optimizer,
    lr, batch size, seed)."""
    shown = names if names is not None else ("optimizer", "lr", "batch_size", "seed")
    values = spec.to_dict()
    return " ".join(f"{n}={values[n]}" for n in shown)


def _axes(base: RunSpec, grid: object) -> dict[str, list[Any]]:
    owner = "sweep"
    if not isinstance(grid, Mapping):
        _checks.fail(owner, "grid", "a mapping field -> list of values", grid)
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if name not in FIELDS:
            raise ValueError(
                f"sweep: unknown grid field {name!r}"
                f"{_checks.did_you_mean(name, list(FIELDS))}; RunSpec's fields are "
                + ", ".join(FIELDS)
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            _checks.fail(owner, f"grid[{name!r}]", "a list of values", values)
        if not values:
            _checks.fail(owner, f"grid[{name!r}]", "a non-empty list", list(values))
        if name == "lr":  # a grid's lr is tried, not frozen: 0 is refused too
            for v in values:
                _checks.number(owner, "lr", v, low=0.0, low_open=True)
        kept = [normalized(base.replace(**{name: v})).to_dict()[name] for v in values]
        texts = [json.dumps(plain(v), sort_keys=True) for v in kept]
        if len(set(texts)) != len(texts):
            _checks.fail(owner, f"grid[{name!r}]", "distinct values", list(values))
        axes[name] = list(values)
    return axes


def expand(base: RunSpec, grid: Mapping[str, Sequence[Any]]) -> list[RunSpec]:
    """Every run of the grid: ``base`` with each combination of the grid's values
    (the first field varies slowest), numbers normalized. Checks the field names
    and that every list is non-empty and distinct once normalized, nothing else (see
    :func:`validate`)."""
    if not isinstance(base, RunSpec):
        _checks.fail("sweep", "base", "a RunSpec", base)
    axes = _axes(base, grid)
    names = list(axes)
    return [
        normalized(base.replace(**dict(zip(names, combo, strict=True))))
        for combo in itertools.product(*axes.values())
    ]


def validate(
    specs: Sequence[RunSpec],
    names: Sequence[str] | None = None,
    loaded: Mapping[tuple[Any, ...], Dataset] | None = None,
) -> dict[tuple[Any, ...], Dataset]:
    """Build every distinct run (seeds aside) once, as a training run would, so that
    a bad value is a ValueError before anything trains; return the datasets loaded
    (and those already ``loaded``), by :func:`source`."""
    datasets: dict[tuple[Any, ...], Dataset] = dict(loaded or {})
    seen: set[str] = set()
    for spec in specs:
        try:
            probe = spec.replace(seed=0)
            key = spec_key(probe)
            if key in seen:
                continue
            seen.add(key)
            where = source(spec)
            if where not in datasets:
                datasets[where] = datacache.load(spec)
            build(probe, datasets[where])
        except ValueError as error:
            run = describe(spec, names) or "(the base spec)"
            raise ValueError(f"sweep: run {run}: {error}") from None
    return datasets
