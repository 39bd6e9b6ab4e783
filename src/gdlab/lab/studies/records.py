"""A study's files: one JSON record per finished run, reused by a rerun with the same
settings, and the references the reports cite (the runs' records themselves are
declared in :mod:`gdlab.study_results`).

A record is a file the user may have edited: :func:`saved_run` checks every field
of the run it holds by the run record's constraints (a missing or extra key, a
number that is text) and
:func:`load_weights` reads a ``.npy`` without pickle, as float64 of the expected
length only; either refuses with one ValueError naming the file and the field.
Records are strict JSON: a NaN measure (a diverged run's) is written as null.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from gdlab import outputs
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


def saved_run(
    path: Path,
    settings: Mapping[str, Any],
    kind: type[R],
    derived: Collection[str] = (),
) -> R | None:
    """The run ``kind`` (a :class:`~gdlab.records.Record`) recorded at ``path``
    if the record was made with exactly ``settings`` (None if not, or if it is
    not JSON), every field checked by the record's own constraints; the
    ``derived`` keys are dropped (they are computed again). A ValueError names
    the file and the field: ``study record PATH: run.steps must be ...``."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("settings") != json.loads(
        strict_json(dict(settings))
    ):
        return None
    run = record.get("run")
    if not isinstance(run, dict):
        return None
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
    "load_weights",
    "saved_run",
    "strict_json",
]
