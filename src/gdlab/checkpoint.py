"""Checkpoints: one ``.npz`` file per save, written atomically, opened without pickle.

A checkpoint holds named arrays (``param/W1``, ``optim/W1/exp_avg``, a model's
``buffer/<name>``, ...) and one
JSON document (``meta.json``, stored as bytes) with everything else: the step, the
position in the epoch, the RNG state, the history, the run's
:class:`~gdlab.train_config.TrainConfig` (``config``, stored once), the
:func:`fingerprint` of its model, optimizer and data, and the ``spec`` it was built
from (without the settings ``config`` holds). Opening one never runs code
(``np.load(..., allow_pickle=False)`` and ``json``); :class:`Meta` checks the JSON
before a resume reads it, as input a user may have edited.

Writes go to a temporary file in the same folder, are flushed and fsynced, then
renamed over the final name, so a crash or SIGKILL leaves either the old checkpoint
or the new one, never half of one. The newest ``keep`` files are kept; a newest file
that cannot be read falls back to the one before, with a warning.
"""

from __future__ import annotations

import json
import math
import os
import reprlib
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks, train_config
from gdlab.data import Dataset
from gdlab.history import Recorded
from gdlab.models import TrainableModel
from gdlab.optim import Optimizer
from gdlab.outputs import json_text, write_atomic
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    made,
    number,
    one_of,
    optional,
    record,
)
from gdlab.schedules import ReduceOnPlateau
from gdlab.train_config import TrainConfig

PREFIX = "checkpoint-"
"""The start of a checkpoint's file name (``checkpoint-000000100.npz``)."""
META = "meta.json"
"""The name of the run's description inside each checkpoint file."""
VERSION = 3
"""The layout of ``meta.json``. Version 2 stores the run-length settings once, as
``config``; version 1 stored them three times and cannot be resumed. Version 3
fingerprints the data by :func:`gdlab.data.digest` of all its arrays (version 2:
a CRC-32 of the training and validation arrays) and writes strict JSON."""


def save(
    folder: str | os.PathLike[str],
    step: int,
    arrays: Mapping[str, np.ndarray],
    meta: CheckpointMeta,
    keep: int = 2,
) -> Path:
    """Write ``checkpoint-<step>.npz`` into ``folder`` and drop all but ``keep``:
    the arrays, and ``meta`` as its plain form (read back by :class:`Meta`
    through the same record)."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{PREFIX}{step:09d}.npz"
    text = json_text(meta.to_dict()).encode()
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


# --- what a training checkpoint holds ----------------------------------------------


def _described(value: object) -> object:
    """A hyperparameter as the fingerprint records it: a schedule by its repr, a
    plain function by its qualified name (its repr holds an address that changes
    from one process to the next)."""
    if not callable(value):
        return value
    text = repr(value)
    if " at 0x" in text:
        kind = type(value)
        name = getattr(value, "__qualname__", kind.__qualname__)
        return f"{getattr(value, '__module__', kind.__module__)}.{name}"
    return text


def fingerprint(
    model: TrainableModel,
    optimizer: Optimizer,
    dataset: Dataset,
    *,
    digest: bool = False,
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues, besides its
    config: the model, the optimizer and its param_groups, the data (plain JSON);
    with ``digest``, the data's :attr:`~gdlab.data.Dataset.digest` too (so another
    split of the same size, or other data of the same shapes, is told apart)."""
    groups = [
        {k: _described(v) for k, v in g.items() if k != "params"}
        for g in optimizer.param_groups
    ]
    ds = dataset
    data: dict[str, Any] = {
        "name": ds.name,
        "train": list(ds.X_train.shape),
        "val": None if ds.X_val is None else list(ds.X_val.shape),
        "test": list(ds.X_test.shape),
    }
    if digest:
        data["digest"] = ds.digest
    found = {
        "model": repr(model),
        "optimizer": type(optimizer).__name__,
        "param_groups": groups,
        "data": data,
    }
    plain: dict[str, Any] = json.loads(json_text(found))
    return plain


def state_arrays(
    model: TrainableModel, optimizer: Optimizer
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The parameters and the optimizer's per-parameter state as named arrays, and
    the rest of the optimizer's state (plain values, for ``meta.json``)."""
    state = optimizer.state_dict()
    arrays = {f"param/{k}": np.asarray(v) for k, v in model.params.items()}
    arrays.update({f"buffer/{k}": np.array(v) for k, v in buffers(model).items()})
    for name, s in state.pop("state").items():
        arrays.update({f"optim/{name}/{k}": a for k, a in s.items()})
    return arrays, state


def buffers(model: TrainableModel) -> Mapping[str, np.ndarray]:
    """The model's ``buffers``, if it has them: arrays that are no parameters but
    part of its state (BatchNorm's running statistics, a random stream), saved as
    ``buffer/<name>`` and written back in place on resume."""
    found = getattr(model, "buffers", None)
    return found if isinstance(found, Mapping) else {}


def differences(old: Any, new: Any, where: str = "") -> list[str]:
    """``"key.path: old -> new"`` for every leaf where two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d
            for k in sorted(set(old) | set(new), key=str)
            for d in differences(
                old.get(k), new.get(k), f"{where}.{k}" if where else str(k)
            )
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in differences(a, b, f"{where}[{i}]")
        ]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def _is_number(value: object) -> bool:
    """Whether ``value`` is a finite number (JSON's, not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _below(bits: int) -> Constraint:
    """An integer in [0, 2**bits)."""

    def checked(owner: str, name: str, value: object) -> int:
        n = _checks.integer(owner, name, value, low=0)
        if n >= 2**bits:
            _checks.fail(owner, name, f"an integer in [0, 2**{bits})", value)
        return n

    return checked


def _integer(owner: str, name: str, value: object) -> int:
    return _checks.integer(owner, name, value)


def _object(owner: str, name: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        _checks.fail(owner, name, "an object", value)
    return value


@dataclass(frozen=True)
class PCG64State(Record):
    """The two 128-bit words of a PCG64 generator."""

    state: int
    inc: int

    constraints: ClassVar[dict[str, Constraint]] = {
        "state": _below(128),
        "inc": _below(128),
    }


@dataclass(frozen=True)
class RngState(Record):
    """The batch order's generator, as numpy's ``bit_generator.state`` gives it."""

    bit_generator: str
    state: PCG64State
    has_uint32: int
    uinteger: int

    constraints: ClassVar[dict[str, Constraint]] = {
        "bit_generator": one_of("PCG64"),
        "state": record(PCG64State),
        "has_uint32": _below(1),
        "uinteger": _below(32),
    }


@dataclass(frozen=True)
class Position(Record):
    """Where the run is: its steps, its completed epochs, the batches done in the
    current one, and the batch order's generator at the start of that epoch."""

    step: int
    epoch: int
    batch: int
    rng_state: RngState

    constraints: ClassVar[dict[str, Constraint]] = {
        "step": at_least(0),
        "epoch": at_least(0),
        "batch": at_least(0),
        "rng_state": record(RngState),
    }


@dataclass(frozen=True)
class OptimizerState(Record):
    """The optimizer's :meth:`~gdlab.optim.Optimizer.state_dict` but its arrays
    (the checkpoint's ``optim/...`` arrays)."""

    step: int
    param_groups: tuple[dict[str, Any], ...]

    constraints: ClassVar[dict[str, Constraint]] = {
        "step": _integer,
        "param_groups": each(_object),
    }


def _config(owner: str, name: str, value: object) -> TrainConfig:
    """A TrainConfig, or its plain form with every field but the later ones."""
    if isinstance(value, TrainConfig):
        return value
    fields, later = train_config.FIELDS, set(train_config.LATER)
    if not isinstance(value, dict) or not (
        set(fields) - later <= set(value) <= set(fields)
    ):
        _checks.fail(
            owner,
            name,
            f"an object with keys {', '.join(fields)} ({', '.join(later)} optional)",
            value,
        )
    try:  # its own checks name the field
        return TrainConfig.from_dict(value)
    except ValueError as error:
        text = str(error).removeprefix("TrainConfig: ")
        raise ValueError(f"{owner}: {name}.{text}") from None


def _spec(owner: str, name: str, value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        _checks.fail(owner, name, "null or an object", value)
    spec = value
    if set(spec) & set(train_config.FIELDS):
        _checks.fail(
            owner, name, "free of the run-length settings, which config holds", spec
        )
    return spec


@dataclass(frozen=True)
class CheckpointMeta(Record):
    """A checkpoint's ``meta.json`` (:data:`VERSION`), each part a record that
    checks itself: read by :class:`Meta` as input a user may have edited."""

    version: int
    position: Position
    optimizer: OptimizerState
    plateau: dict[str, Any] | None
    history: Recorded
    elapsed: float
    config: TrainConfig
    fingerprint: dict[str, Any]
    spec: dict[str, Any] | None = None

    constraints: ClassVar[dict[str, Constraint]] = {
        "version": _integer,
        "position": record(Position),
        "history": record(Recorded),
        "elapsed": number(0.0),
        "optimizer": record(OptimizerState),
        "fingerprint": _object,
        "plateau": optional(_object),
        "config": _config,
        "spec": _spec,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        at = self.position.step
        if self.optimizer.step < at:
            _checks.fail(
                self.owner(),
                "optimizer.step",
                f"an integer >= position.step ({at})",
                self.optimizer.step,
            )


class Meta:
    """A checkpoint's metadata, read as input a user may have edited (each error
    names the file and the field): :meth:`check` makes it a
    :class:`CheckpointMeta`, whose records check every field; the rest checks it
    against the run that resumes it."""

    def __init__(self, meta: Mapping[str, Any], path: Path) -> None:
        self.meta, self.owner = meta, f"checkpoint {path}"
        self.record: CheckpointMeta | None = None

    def need(
        self, ok: bool, key: str, requirement: str, value: object, said: bool = False
    ) -> None:
        """Refuse ``key`` unless ``ok``; ``value`` shown as its repr (shortened: a
        history can be long), or as it is if ``said`` (a description)."""
        if not ok:
            shown = str(value) if said else reprlib.repr(value)
            raise ValueError(f"{self.owner}: {key} must be {requirement}, got {shown}")

    def check(self) -> tuple[TrainConfig, dict[str, Any] | None]:
        """Check every key a resume reads; return the config and the spec made
        whole again (its run-length settings are the config's), None if none."""
        version = self.meta.get("version")
        if version != VERSION:
            raise ValueError(
                f"{self.owner}: version must be {VERSION}, got {version!r}: it was "
                "written by another version of gdlab and cannot be resumed; start "
                "the run again"
            )
        self.record = made(CheckpointMeta, self.meta, self.owner)
        config, spec = self.record.config, self.record.spec
        return config, None if spec is None else {**spec, **config.to_dict()}

    @property
    def checked(self) -> CheckpointMeta:
        """The metadata as its record (:meth:`check` first, if not done)."""
        if self.record is None:
            self.check()
        assert self.record is not None  # made by check()
        return self.record

    def position(self, per_epoch: int, total: int) -> None:
        """Check that the position fits this run (its batches per epoch, its steps)."""
        meta = self.checked
        p = meta.position
        self.need(p.step <= total, "position.step", f"at most {total}", p.step)
        self.need(
            p.batch <= per_epoch,
            "position.batch",
            f"at most {per_epoch} (batches per epoch)",
            p.batch,
        )
        at = p.epoch * per_epoch + p.batch
        self.need(
            p.step == at, "position.step", f"epoch x {per_epoch} + batch = {at}", p.step
        )
        steps = len(meta.history.steps.step)
        self.need(
            steps == at, "history.steps", f"{at} rows (one per step)", f"{steps} rows"
        )
        last = 0
        for i, row in enumerate(meta.history.epochs):
            done, batch = divmod(row.step, per_epoch)
            when = round(done + batch / per_epoch, 4)  # as the run computes it
            self.need(
                last <= row.step <= at and row.epoch == when,
                f"history.epochs[{i}]",
                f"an evaluation at a step in [{last}, {at}], at epoch "
                f"step / {per_epoch} ({when})",
                row.to_dict(),
            )
            last = row.step

    def same_run(self, found: Mapping[str, Any]) -> None:
        """Refuse a resume whose model, optimizer or data (their :func:`fingerprint`
        ``found``) differ from the checkpoint's, listing every difference."""
        changed = differences(self.checked.fingerprint, found)
        if changed:
            raise ValueError(
                f"{self.owner}: cannot resume: the model, optimizer or data differ "
                "from the checkpoint's: fingerprint." + "; fingerprint.".join(changed)
            )

    def load(
        self,
        arrays: Mapping[str, np.ndarray],
        model: TrainableModel,
        optimizer: Optimizer,
        plateau: ReduceOnPlateau | None,
    ) -> None:
        """Load the checkpoint's parameters and states into these objects."""
        params = model.params
        self._check_arrays(arrays, params, optimizer, buffers(model))
        saved = self.checked.optimizer
        state: dict[str, Any] = {
            "step": saved.step,
            "param_groups": list(saved.param_groups),
            "state": {name: {} for name in params},
        }
        for key, a in arrays.items():
            if key.startswith("optim/"):
                _, name, slot = key.split("/", 2)
                state["state"][name][slot] = a
        stored = self.checked.plateau
        if isinstance(stored, dict) and stored.get("best", 0.0) is None:
            # strict JSON wrote the infinity a plateau starts from as null
            best = math.inf if stored.get("mode") == "min" else -math.inf
            stored = {**stored, "best": best}
        if (stored is None) != (plateau is None):
            had = "stepped a ReduceOnPlateau" if plateau is None else "had none"
            raise ValueError(
                f"cannot resume: the run {had}; resume with the plateau it had "
                f"({'plateau=' if plateau is None else 'no plateau'}), or its lrs "
                "would not be the uninterrupted run's"
            )
        if plateau is not None and stored is not None:
            settings = plateau.settings()
            changed = differences({k: stored.get(k) for k in settings}, settings)
            if changed:
                raise ValueError(
                    "cannot resume: the plateau differs from the checkpoint's: "
                    + "; ".join(changed)
                )
        self._check_groups(optimizer, plateau)
        try:
            optimizer.load_state_dict(state)
            if plateau is not None and stored is not None:
                plateau.load_state_dict(stored)
        except ValueError as error:
            raise ValueError(f"{self.owner}: {error}") from None
        for name in params:
            params[name][...] = arrays[f"param/{name}"]
        for name, buffer in buffers(model).items():
            buffer[...] = arrays[f"buffer/{name}"]

    def _check_arrays(
        self,
        arrays: Mapping[str, np.ndarray],
        params: Mapping[str, np.ndarray],
        optimizer: Optimizer,
        kept: Mapping[str, np.ndarray],
    ) -> None:
        """Every array is one the model or the optimizer declares, with exactly its
        dtype and shape; the parameters, the model's buffers and the state the
        optimizer holds from its creation are all there."""
        declared = optimizer.state_spec
        for key, a in arrays.items():
            kind, _, rest = key.partition("/")
            name, _, slot = rest.partition("/") if kind == "optim" else (rest, "", "")
            self.need(
                (kind == "param" and name in params and not slot)
                or (kind == "buffer" and name in kept)
                or (kind == "optim" and name in params and slot in declared),
                f"arrays[{key!r}]",
                (
                    f"param/<parameter>, buffer/<buffer> or optim/<parameter>/<state>"
                    f" of parameters {sorted(params)}, buffers {sorted(kept)} and "
                    f"states {sorted(declared)}"
                    if kept
                    else f"param/<parameter> or optim/<parameter>/<state> of "
                    f"parameters {sorted(params)} and states {sorted(declared)}"
                ),
                "an array of none" if kept else "an array of neither",
                said=True,
            )
            p = kept[name] if kind == "buffer" else params[name]
            shape, dtype = (  # the optimizer's layout: factored, history, scalar
                optimizer.state_layout(name)[slot]
                if kind == "optim"
                else (p.shape, p.dtype)
            )
            self.need(
                a.shape == shape and a.dtype == dtype,
                f"arrays[{key!r}]",
                f"of shape {shape} and dtype {dtype}",
                f"shape {a.shape} and dtype {a.dtype}",
                said=True,
            )
        for name in kept:
            key = f"buffer/{name}"
            self.need(
                key in arrays, f"arrays[{key!r}]", "present", "missing", said=True
            )
        for name in params:
            needed = [f"param/{name}"] + [
                f"optim/{name}/{slot}" for slot in optimizer.state.get(name, {})
            ]
            for key in needed:
                self.need(
                    key in arrays, f"arrays[{key!r}]", "present", "missing", said=True
                )

    def _check_groups(
        self, optimizer: Optimizer, plateau: ReduceOnPlateau | None
    ) -> None:
        """The checkpoint's param_groups are the run's: every hyperparameter is the
        optimizer's (built from the run's spec) but a float lr, which may only be
        one a plateau reached by its reductions."""
        saved = self.checked.optimizer.param_groups
        mine = optimizer.state_dict()["param_groups"]
        self.need(
            len(saved) == len(mine),
            "optimizer.param_groups",
            f"a list of {len(mine)} groups",
            saved,
        )
        for i, (theirs, own) in enumerate(zip(saved, mine, strict=True)):
            where = f"optimizer.param_groups[{i}]"
            self.need(
                set(theirs) == set(own),
                where,
                f"an object with keys {', '.join(sorted(own))}",
                sorted(theirs),
            )
            for key, value in own.items():
                plain = json.loads(json_text(value))
                got = theirs[key]
                ok = got == plain
                if key == "lr" and not callable(optimizer.param_groups[i]["lr"]):
                    ok = _is_number(got) and got in _reachable(value, plateau, i)
                self.need(ok, f"{where}.{key}", f"the run's {plain!r}", got)


def _reachable(lr: float, plateau: ReduceOnPlateau | None, group: int) -> list[float]:
    """The lrs a run starting at ``lr`` can hold: ``lr`` alone, or with a plateau
    every value its reductions reach (``max(lr·factor, min_lr)``, while they change
    it by more than its eps)."""
    found = [float(lr)]
    if plateau is None:
        return found
    floor = plateau.min_lrs[group]
    while len(found) < 10_000:
        old = found[-1]
        new = max(old * plateau.factor, floor)
        if not old - new > plateau.eps:
            break
        found.append(new)
    return found
