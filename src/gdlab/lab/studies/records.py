"""A study's files: one JSON record per finished run, reused by a rerun with the same
settings, and the references the reports cite.

A record is a file the user may have edited: :func:`read_run` checks every field
of the run it holds by the run record's constraints (a missing or extra key, a
number that is text) and
:func:`load_weights` reads a ``.npy`` without pickle, as float64 of the expected
length only; either refuses with one ValueError naming the file and the field.
Records are strict JSON: a NaN measure (a diverged run's) is written as null.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks, outputs
from gdlab.records import Record

R = TypeVar("R", bound=Record)

REFERENCES = {
    "keskar": "Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, On Large-Batch Training "
    "for Deep Learning: Generalization Gap and Sharp Minima, ICLR 2017. "
    "https://arxiv.org/abs/1609.04836",
    "cohen": "Cohen, Kaur, Li, Kolter, Talwalkar, Gradient Descent on Neural "
    "Networks Typically Occurs at the Edge of Stability, ICLR 2021. "
    "https://arxiv.org/abs/2103.00065",
}


def strict_json(value: Any) -> str:
    """Strict JSON: NaN and infinities become null."""
    return outputs.json_text(value, indent=1) + "\n"


def saved_run(path: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run recorded at ``path`` if it was made with exactly ``settings``."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("settings") != json.loads(
        strict_json(dict(settings))
    ):
        return None
    run = record.get("run")
    return run if isinstance(run, dict) else None


def measure(owner: str, name: str, value: object) -> float:
    """A finite number, or NaN (a diverged run's: JSON null when saved)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    if not (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    ):
        _checks.fail(owner, name, "a finite number, or null (not measured)", value)
    return float(value)


def any_text(owner: str, name: str, value: object) -> str:
    """A string, empty allowed."""
    if not isinstance(value, str):
        _checks.fail(owner, name, "a string", value)
    return value


def measures(owner: str, name: str, value: object) -> tuple[float, ...]:
    """A list of :func:`measure` values."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _checks.fail(owner, name, "a list of finite numbers or nulls", value)
    return tuple(measure(owner, f"{name}[{i}]", v) for i, v in enumerate(value))


def read_run(
    path: Path, kind: type[R], run: Mapping[str, Any], derived: Collection[str] = ()
) -> R:
    """The run ``kind`` (a :class:`~gdlab.records.Record`) that the record ``path``
    holds, every field checked by the record's own constraints; the ``derived``
    keys are dropped (they are computed again). A ValueError names the file and
    the field: ``study record PATH: run.steps must be ...``."""
    try:
        return kind.from_dict({k: v for k, v in run.items() if k not in derived})
    except ValueError as error:
        text = str(error).removeprefix(f"{kind.owner()}: ")
        where = "run: " if text.startswith(("field ", "values ")) else "run."
        raise ValueError(f"study record {path}: {where}{text}") from None


def load_weights(path: Path, size: int) -> NDArray[np.float64]:
    """The weights saved at ``path`` (``np.save``), read without pickle: a float64
    array of ``size`` numbers, or a ValueError naming the file."""
    owner = f"study record {path}"
    try:
        theta = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{owner}: must be a .npy array of {size} float64 weights ({error})"
        ) from None
    if not isinstance(theta, np.ndarray) or theta.dtype != np.float64:
        kind = getattr(theta, "dtype", type(theta).__name__)
        raise ValueError(
            f"{owner}: must be a .npy array of {size} float64 weights, got {kind}"
        )
    if theta.shape != (size,):
        raise ValueError(
            f"{owner}: must be a .npy array of {size} float64 weights, got shape "
            f"{theta.shape}"
        )
    return theta


__all__ = [
    "REFERENCES",
    "any_text",
    "load_weights",
    "measure",
    "measures",
    "read_run",
    "saved_run",
    "strict_json",
]
