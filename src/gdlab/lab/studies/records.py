"""A study's files: one JSON record per finished run, reused by a rerun with the same
settings, and the references the reports cite."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=1, allow_nan=False) + "\n"


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


__all__ = ["REFERENCES", "nan_if_none", "saved_run", "strict_json"]
