"""A study's files: one JSON record per finished run, reused by a rerun with the same
settings, and the references the reports cite.

A record is a file the user may have edited: :func:`checked_run` checks every field
of the run it holds (a missing or extra key, a number that is text) and
:func:`load_weights` reads a ``.npy`` without pickle, as float64 of the expected
length only; either refuses with one ValueError naming the file and the field.
Records are strict JSON: a NaN measure (a diverged run's) is written as null.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import outputs

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


def nan_if_none(value: Any) -> float:
    """A JSON null read back as NaN."""
    return math.nan if value is None else float(value)


KINDS = {
    "count": "an integer >= 0",
    "number": "a finite number",
    "measure": "a finite number, or null (not measured)",
    "optional": "a finite number or null",
    "flag": "true or false",
    "text": "a string",
    "counts": "a list of integers >= 0",
    "measures": "a list of finite numbers or nulls (not measured)",
}
"""What a field of a run record may hold, by the kind :func:`checked_run` names."""


def _fits(kind: str, value: object) -> bool:
    number = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "number":
        return number
    if kind in ("measure", "optional"):
        return value is None or number
    if kind == "flag":
        return isinstance(value, bool)
    if kind in ("counts", "measures"):
        one = "count" if kind == "counts" else "measure"
        return isinstance(value, list) and all(_fits(one, v) for v in value)
    return isinstance(value, str)


def checked_run(
    path: Path,
    run: Mapping[str, Any],
    kinds: Mapping[str, str],
    derived: Collection[str] = (),
) -> dict[str, Any]:
    """The ``run`` of the record ``path``, each field of ``kinds`` present and of
    its kind (see :data:`KINDS`), no other field but the ``derived`` ones (dropped:
    they are computed again); a ``"measure"`` null read back as NaN. A ValueError
    names the file and the field."""
    owner = f"study record {path}"
    extra = sorted(set(run) - set(kinds) - set(derived), key=str)
    if extra:
        raise ValueError(
            f"{owner}: run must hold only {', '.join(kinds)}, got the key {extra[0]!r}"
        )
    values = {}
    for key, kind in kinds.items():
        if key not in run:
            raise ValueError(f"{owner}: run.{key} must be {KINDS[kind]}, got nothing")
        value = run[key]
        if not _fits(kind, value):
            raise ValueError(f"{owner}: run.{key} must be {KINDS[kind]}, got {value!r}")
        if kind == "measure":
            value = nan_if_none(value)
        elif kind == "measures":
            value = [nan_if_none(v) for v in value]
        values[key] = value
    return values


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
    "KINDS",
    "REFERENCES",
    "checked_run",
    "load_weights",
    "nan_if_none",
    "saved_run",
    "strict_json",
]
