"""Checkpoints: one ``.npz`` file per save, written atomically, opened without pickle.

A checkpoint holds named arrays (``param/W1``, ``optim/W1/exp_avg``, ...) and one
JSON document (``meta.json``, stored as bytes) with everything else: the step, the
position in the epoch, the RNG state, the history and the run's configuration.
Opening one never runs code (``np.load(..., allow_pickle=False)`` and ``json``).

Writes go to a temporary file in the same folder, are flushed and fsynced, then
renamed over the final name, so a crash or SIGKILL leaves either the old checkpoint
or the new one, never half of one. The newest ``keep`` files are kept; a newest file
that cannot be read falls back to the one before, with a warning.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gdlab.outputs import write_atomic

PREFIX = "checkpoint-"
META = "meta.json"


def save(
    folder: str | os.PathLike[str],
    step: int,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``checkpoint-<step>.npz`` into ``folder`` and drop all but ``keep``."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{PREFIX}{step:09d}.npz"
    text = json.dumps(meta, allow_nan=True).encode()
    payload = {**arrays, META: np.frombuffer(text, dtype=np.uint8)}
    write_atomic(path, lambda f: np.savez(f, **payload))  # type: ignore[arg-type]
    for old in sorted(root.glob(f"{PREFIX}*.npz"))[:-keep]:
        old.unlink(missing_ok=True)
    return path


def remove_leftovers(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files (``.checkpoint-*.tmp``) of saves that were killed
    before their rename; return them."""
    found = sorted(Path(folder).glob(f".{PREFIX}*.tmp"))
    for path in found:
        path.unlink(missing_ok=True)
    return found


def paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The checkpoints in ``folder``, newest first."""
    return sorted(Path(folder).glob(f"{PREFIX}*.npz"), reverse=True)


def read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the metadata of one checkpoint file (ValueError if broken)."""
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(META).tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"checkpoint {path} is unreadable: {error}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"checkpoint {path} is unreadable: its metadata is not a dict")
    return arrays, meta


def load_latest(
    folder: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], dict[str, Any], Path]:
    """The newest readable checkpoint in ``folder``; warns for each broken newer one."""
    found = paths(folder)
    if not found:
        raise ValueError(
            f"no checkpoint in {folder}: start a run with checkpoints there first"
        )
    problems = []
    for path in found:
        try:
            arrays, meta = read(path)
        except ValueError as error:
            problems.append(str(error))
            warnings.warn(f"{error}; falling back to an older checkpoint", stacklevel=2)
            continue
        return arrays, meta, path
    raise ValueError(f"no readable checkpoint in {folder}: " + "; ".join(problems))
