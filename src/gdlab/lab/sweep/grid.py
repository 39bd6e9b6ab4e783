"""A sweep's grid: runs as RunSpecs, their keys, and the checks before anything trains.

A run's key is the canonical JSON of its whole spec, numbers normalized, so the
same run is recognized whatever grid produced it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from gdlab import _checks
from gdlab.data import Dataset
from gdlab.experiment import FIELDS, RunSpec, build, load_data

_FLOAT_FIELDS = ("lr", "l2", "warmup_epochs", "clip_grad_norm")
_INT_FIELDS = ("seed", "epochs", "iterations")


def plain(value: Any) -> Any:
    """``value`` as JSON sees it (tuples become lists)."""
    return json.loads(json.dumps(value))


def normalized(spec: RunSpec) -> RunSpec:
    """Numbers in the type their field holds, so that ``lr=1`` and ``lr=1.0`` are
    one run; anything else is left for the checks of :func:`build`."""
    changes: dict[str, Any] = {}
    values = spec.to_dict()
    for name in (*_FLOAT_FIELDS, *_INT_FIELDS, "batch_size"):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if name in _FLOAT_FIELDS:
            changes[name] = float(value)
        elif float(value).is_integer():
            changes[name] = int(value)
    return spec.replace(**changes) if changes else spec


def spec_key(spec: RunSpec) -> str:
    """The run's key: the canonical JSON of its whole spec (sorted, compact)."""
    return json.dumps(
        normalized(spec).to_dict(),
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )


def source(spec: RunSpec) -> tuple[Any, ...]:
    """What a run's data depends on: runs that share it share one loaded Dataset."""
    return (spec.data, spec.data_path, spec.dtype, spec.val_fraction, spec.split_seed)


def describe(spec: RunSpec, names: Sequence[str] | None = None) -> str:
    """The run in error messages: ``name=value`` of ``names`` (default: optimizer,
    lr, batch size, seed)."""
    shown = names if names is not None else ("optimizer", "lr", "batch_size", "seed")
    values = spec.to_dict()
    return " ".join(f"{n}={values[n]}" for n in shown)


def _axes(grid: object) -> dict[str, list[Any]]:
    owner = "sweep"
    if not isinstance(grid, Mapping):
        _checks.fail(owner, "grid", "a mapping field -> list of values", grid)
    axes: dict[str, list[Any]] = {}
    for name, values in grid.items():
        if name not in FIELDS:
            raise ValueError(
                f"sweep: unknown grid field {name!r}; RunSpec's fields are "
                + ", ".join(FIELDS)
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            _checks.fail(owner, f"grid[{name!r}]", "a list of values", values)
        if not values:
            _checks.fail(owner, f"grid[{name!r}]", "a non-empty list", list(values))
        texts = [json.dumps(plain(v), sort_keys=True) for v in values]
        if len(set(texts)) != len(texts):
            _checks.fail(owner, f"grid[{name!r}]", "distinct values", list(values))
        if name == "lr":
            for v in values:
                _checks.number(owner, "lr", v, low=0.0, low_open=True)
        axes[name] = list(values)
    return axes


def expand(base: RunSpec, grid: Mapping[str, Sequence[Any]]) -> list[RunSpec]:
    """Every run of the grid: ``base`` with each combination of the grid's values
    (the first field varies slowest), numbers normalized. Checks the field names
    and that every list is non-empty and distinct, nothing else (see
    :func:`validate`)."""
    if not isinstance(base, RunSpec):
        _checks.fail("sweep", "base", "a RunSpec", base)
    axes = _axes(grid)
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
                datasets[where] = load_data(spec)
            build(probe, datasets[where])
        except ValueError as error:
            raise ValueError(f"sweep: run {describe(spec, names)}: {error}") from None
    return datasets
