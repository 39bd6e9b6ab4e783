"""What the studies found, as declared records: each study's ``results.json``.

The batch-size study (:mod:`gdlab.lab.studies.batch_size`, Keskar et al., 2017)
writes a :class:`BatchSizeReport`: its :class:`BatchSizeSettings`, every
:class:`BatchSizeRun`, a :class:`BatchSizeRow` per batch size (mean and
population std over the seeds that did not diverge), the
:class:`Interpolation` θ(α) = (1−α)·θ_small + α·θ_large, the warnings, findings
and references. The edge-of-stability study
(:mod:`gdlab.lab.studies.edge_of_stability`, Cohen et al., 2021) writes an
:class:`EdgeOfStabilityReport`: its :class:`EdgeSettings` and every
:class:`EdgeRun` (the loss per step, λmax every few steps, the threshold
2(1+β)/η).

The records sit on the lowest floor, beside :mod:`gdlab.results`, so that the lab,
which makes them, and the report (:mod:`gdlab.report.studies`), which draws them,
both import them. A ``results.json`` read back (:meth:`BatchSizeReport.load`,
:meth:`EdgeOfStabilityReport.load`) is checked field by field: a missing, unknown
or mistyped field is refused in one line naming the file, the record and the
field. The files keep their format: ``to_dict`` writes the keys the studies have
always written, in the same order; a measure that is NaN (a diverged run's) is
written as JSON null and read back as NaN.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from gdlab import _checks
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    flag,
    made,
    number,
    one_of,
    optional,
    record,
    text,
)

NEAR = 0.2
"""λmax within this fraction of 2/η counts as "at the edge of stability"."""
MEASURED = (
    "steps",
    "train_loss",
    "lambda_max",
    "epsilon_sharpness",
    "train_acc",
    "test_acc",
    "gap",
)
"""What a :class:`BatchSizeRow` averages over a batch size's seeds, in order."""

_R = TypeVar("_R", bound="_Report")
_E = TypeVar("_E", bound="EdgeOfStabilityReport")


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


def _real(owner: str, name: str, value: object) -> float | None:
    """None, or a number (NaN and infinities kept: a loss that overflowed, which
    JSON writes as null)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _checks.fail(owner, name, "a number or null", value)
    return float(value)


def _curve(owner: str, name: str, value: object) -> tuple[float | None, ...]:
    """A list of numbers or nulls (None: not measured, or not finite)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        _checks.fail(owner, name, "a list of numbers or nulls", value)
    return tuple(_real(owner, f"{name}[{i}]", v) for i, v in enumerate(value))


# --- the batch-size study ---------------------------------------------------------


@dataclass(frozen=True)
class BatchSizeSettings(Record):
    """The plan a batch-size study ran (the fields of
    :class:`gdlab.lab.studies.BatchSize`, checked there) and ``n_train``, the
    training rows it had."""

    data: str
    data_path: str | None
    model: str
    activation: str
    optimizer: str
    lr: float
    batch_sizes: tuple[int, ...]
    until: str
    seeds: int
    epsilon: float
    samples: int | None
    max_epochs: int
    dtype: str
    n_train: int

    constraints: ClassVar[dict[str, Constraint]] = {
        "data": text,
        "data_path": optional(text),
        "model": text,
        "activation": text,
        "optimizer": text,
        "lr": number(0.0, low_open=True),
        "batch_sizes": each(at_least(1)),
        "until": text,
        "seeds": at_least(1),
        "epsilon": number(0.0, low_open=True),
        "samples": optional(at_least(1)),
        "max_epochs": at_least(1),
        "dtype": text,
        "n_train": at_least(1),
    }


@dataclass(frozen=True)
class BatchSizeRun(Record):
    """One run of the batch-size study: how far it trained and what it measured
    (a measure is NaN where the run diverged)."""

    batch_size: int
    seed: int
    steps: int
    epochs: float
    reached: bool
    diverged: bool
    message: str
    train_loss: float
    train_acc: float | None
    test_loss: float
    test_acc: float | None
    gap: float | None
    lambda_max: float
    epsilon_sharpness: float
    seconds: float

    constraints: ClassVar[dict[str, Constraint]] = {
        "batch_size": at_least(0),
        "seed": at_least(0),
        "steps": at_least(0),
        "epochs": number(),
        "reached": flag,
        "diverged": flag,
        "message": any_text,
        "train_loss": measure,
        "train_acc": optional(number()),
        "test_loss": measure,
        "test_acc": optional(number()),
        "gap": optional(number()),
        "lambda_max": measure,
        "epsilon_sharpness": measure,
        "seconds": number(),
    }


@dataclass(frozen=True)
class BatchSizeRow(Record):
    """One batch size over its seeds: how many runs, how many reached the target
    and diverged, and the mean and population std of each of :data:`MEASURED`
    over the runs that did not diverge (mean NaN where none did; std 0 for one
    run)."""

    batch_size: int
    runs: int
    reached: int
    diverged: int
    steps: float
    steps_std: float
    train_loss: float
    train_loss_std: float
    lambda_max: float
    lambda_max_std: float
    epsilon_sharpness: float
    epsilon_sharpness_std: float
    train_acc: float
    train_acc_std: float
    test_acc: float
    test_acc_std: float
    gap: float
    gap_std: float

    constraints: ClassVar[dict[str, Constraint]] = {
        "batch_size": at_least(1),
        "runs": at_least(0),
        "reached": at_least(0),
        "diverged": at_least(0),
        **{name: measure for key in MEASURED for name in (key, f"{key}_std")},
    }

    @classmethod
    def of(cls, batch_size: int, runs: Sequence[BatchSizeRun]) -> BatchSizeRow:
        """The row of ``runs`` (those of one batch size)."""
        ok = [r for r in runs if not r.diverged]
        spread: dict[str, float] = {}
        for key in MEASURED:
            values = [v for r in ok if (v := getattr(r, key)) is not None]
            spread[key] = statistics.fmean(values) if values else math.nan
            spread[f"{key}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        return cls(
            batch_size=batch_size,
            runs=len(runs),
            reached=sum(r.reached for r in runs),
            diverged=sum(r.diverged for r in runs),
            **spread,
        )

    def mean_std(self, key: str) -> tuple[float, float]:
        """The mean and std of ``key``, one of :data:`MEASURED`."""
        _checks.choice("BatchSizeRow", "key", key, MEASURED)
        return getattr(self, key), getattr(self, f"{key}_std")

    @property
    def trained(self) -> bool:
        """Whether at least one of its runs did not diverge."""
        return self.runs > self.diverged


@dataclass(frozen=True)
class Interpolation(Record):
    """Train and test loss and accuracy at θ(α) = (1−α)·θ_small + α·θ_large, by α,
    for the runs of ``seed`` at the ``small`` and ``large`` batch sizes (None:
    not finite there, or accuracy of a data set without classes)."""

    seed: int
    small: int
    large: int
    alpha: tuple[float, ...]
    train_loss: tuple[float | None, ...]
    train_acc: tuple[float | None, ...]
    test_loss: tuple[float | None, ...]
    test_acc: tuple[float | None, ...]

    constraints: ClassVar[dict[str, Constraint]] = {
        "seed": at_least(0),
        "small": at_least(1),
        "large": at_least(1),
        "alpha": each(number()),
        "train_loss": _curve,
        "train_acc": _curve,
        "test_loss": _curve,
        "test_acc": _curve,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("train_loss", "train_acc", "test_loss", "test_acc"):
            if len(getattr(self, name)) != len(self.alpha):
                _checks.fail(
                    self.owner(),
                    name,
                    f"one value per alpha ({len(self.alpha)} values)",
                    len(getattr(self, name)),
                )


@dataclass(frozen=True)
class _Report(Record):
    """What both studies' ``results.json`` share: reading and checking it."""

    @classmethod
    def from_dict(cls: type[_R], values: object) -> _R:
        """The report of a :meth:`to_dict`; another study's file is refused for
        its ``study`` first."""
        if isinstance(values, Mapping) and "study" in values:
            cls.constraints["study"](cls.owner(), "study", values["study"])
        return made(cls, values, cls.owner())  # an error names its field's path

    @classmethod
    def load(cls: type[_R], path: str | os.PathLike[str]) -> _R:
        """Read a ``results.json`` (a folder means the one in it); a ValueError
        names the file, the record and the field that is wrong."""
        file = Path(path)
        if file.is_dir():
            file = file / "results.json"
        try:
            return cls.from_dict(json.loads(file.read_text()))
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read study results {file}: {error}") from None


@dataclass(frozen=True)
class BatchSizeReport(_Report):
    """The batch-size study's ``results.json``: settings, runs, one row per batch
    size, the interpolation (None: no seed where both ends trained), and the
    warnings, findings and references the report prints."""

    study: str
    settings: BatchSizeSettings
    runs: tuple[BatchSizeRun, ...]
    summary: tuple[BatchSizeRow, ...]
    interpolation: Interpolation | None
    warnings: tuple[str, ...]
    findings: tuple[str, ...]
    references: tuple[str, ...]

    constraints: ClassVar[dict[str, Constraint]] = {
        "study": one_of("batch-size"),
        "settings": record(BatchSizeSettings),
        "runs": each(record(BatchSizeRun)),
        "summary": each(record(BatchSizeRow)),
        "interpolation": optional(record(Interpolation)),
        "warnings": each(any_text),
        "findings": each(any_text),
        "references": each(text),
    }


# --- the edge-of-stability study --------------------------------------------------


@dataclass(frozen=True)
class EdgeSettings(Record):
    """The plan an edge-of-stability study ran (the fields of
    :class:`gdlab.lab.studies.EdgeOfStability`, checked there), ``samples`` the
    training rows it used."""

    data: str
    data_path: str | None
    samples: int
    hidden: tuple[int, ...]
    activation: str
    loss: str
    lrs: tuple[float, ...]
    momentum: float
    steps: int
    every: int
    seed: int

    constraints: ClassVar[dict[str, Constraint]] = {
        "data": text,
        "data_path": optional(text),
        "samples": at_least(1),
        "hidden": each(at_least(1)),
        "activation": text,
        "loss": one_of("mse", "cross-entropy"),
        "lrs": each(number(0.0, low_open=True)),
        "momentum": number(0.0, 1.0, high_open=True),
        "steps": at_least(1),
        "every": at_least(1),
        "seed": at_least(0),
    }


DERIVED = ("reached_step", "near_fraction", "median_ratio", "verdict")
"""What a saved :class:`EdgeRun` holds besides its fields (written for the reader
of the file; computed again from the fields when read)."""


@dataclass(frozen=True)
class EdgeRun(Record):
    """Full-batch GD at one learning rate: the loss at every step (``loss[t]`` at
    θ_t, t = 0..steps; NaN where it was not finite) and λmax at the steps in
    ``steps``."""

    lr: float
    momentum: float
    threshold: float
    steps: tuple[int, ...]
    lambda_max: tuple[float, ...]
    loss: tuple[float, ...]
    diverged: bool
    seconds: float

    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": number(),
        "momentum": number(),
        "threshold": number(),
        "steps": each(at_least(0)),
        "lambda_max": measures,
        "loss": measures,
        "diverged": flag,
        "seconds": number(),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.lambda_max) != len(self.steps):
            _checks.fail(
                self.owner(),
                "lambda_max",
                f"one value per step of steps ({len(self.steps)} values)",
                len(self.lambda_max),
            )

    @property
    def reached_step(self) -> int | None:
        """The first step where λmax >= (1 − NEAR)·threshold, or None."""
        for t, lam in zip(self.steps, self.lambda_max, strict=True):
            if lam >= (1 - NEAR) * self.threshold:
                return t
        return None

    def near_fraction(self) -> float | None:
        """The share of λmax measurements from :attr:`reached_step` on within
        ±NEAR of the threshold (None if never reached)."""
        ratios = self._after()
        if not ratios:
            return None
        return sum(abs(r - 1) <= NEAR for r in ratios) / len(ratios)

    def median_ratio(self) -> float | None:
        """The median of λmax / threshold from :attr:`reached_step` on."""
        ratios = self._after()
        return statistics.median(ratios) if ratios else None

    def _after(self) -> list[float]:
        start = self.reached_step
        if start is None:
            return []
        return [
            lam / self.threshold
            for t, lam in zip(self.steps, self.lambda_max, strict=True)
            if t >= start
        ]

    def verdict(self) -> str:
        """One line: where λmax went relative to 2/η."""
        if self.diverged:
            return f"diverged at step {len(self.loss) - 1}"
        start, near = self.reached_step, self.near_fraction()
        if start is None or near is None:
            top = max(self.lambda_max, default=math.nan)
            return (
                f"λmax never came within {NEAR:.0%} of the threshold (at most "
                f"{top / self.threshold:.0%} of it)"
            )
        median = self.median_ratio() or math.nan
        return (
            f"λmax reached {1 - NEAR:.0%} of the threshold at step {start}; "
            f"afterwards {near:.0%} of measurements within ±{NEAR:.0%} "
            f"(median λmax/threshold {median:.2f})"
        )

    def to_dict(self, *, derived: bool = False) -> dict[str, Any]:
        """The plain form; with ``derived``, then :data:`DERIVED` (as a run's file
        and ``results.json`` keep it)."""
        plain = super().to_dict()
        if derived:
            plain |= {
                "reached_step": self.reached_step,
                "near_fraction": self.near_fraction(),
                "median_ratio": self.median_ratio(),
                "verdict": self.verdict(),
            }
        return plain

    @classmethod
    def read(cls, values: object) -> EdgeRun:
        """The run of a plain form written with ``derived`` (or without): the
        :data:`DERIVED` keys are dropped, every other key must be a field."""
        if isinstance(values, Mapping):
            values = {k: v for k, v in values.items() if k not in DERIVED}
        return cls.from_dict(values)


@dataclass(frozen=True)
class EdgeOfStabilityReport(_Report):
    """The edge-of-stability study's ``results.json``: settings, runs (each with
    :data:`DERIVED`), and the findings and references the report prints."""

    study: str
    settings: EdgeSettings
    runs: tuple[EdgeRun, ...]
    findings: tuple[str, ...]
    references: tuple[str, ...]

    constraints: ClassVar[dict[str, Constraint]] = {
        "study": one_of("edge-of-stability"),
        "settings": record(EdgeSettings),
        "runs": each(record(EdgeRun)),
        "findings": each(any_text),
        "references": each(text),
    }

    def to_dict(self) -> dict[str, Any]:
        """The plain form, each run with its :data:`DERIVED` values."""
        plain = super().to_dict()
        plain["runs"] = [r.to_dict(derived=True) for r in self.runs]
        return plain

    @classmethod
    def from_dict(cls: type[_E], values: object) -> _E:
        """The report of a :meth:`to_dict`: each run read by :meth:`EdgeRun.read`
        (an error inside names the run: ``runs[1]: ...``)."""
        if isinstance(values, Mapping) and "study" in values:
            cls.constraints["study"](cls.owner(), "study", values["study"])
        if isinstance(values, Mapping) and isinstance(values.get("runs"), list):
            runs = []
            for i, run in enumerate(values["runs"]):
                try:
                    runs.append(EdgeRun.read(run))
                except ValueError as error:
                    said = str(error).removeprefix("EdgeRun: ")
                    at = ": " if said.startswith("field ") else "."
                    raise ValueError(f"{cls.owner()}: runs[{i}]{at}{said}") from None
            values = {**values, "runs": tuple(runs)}
        return made(cls, values, cls.owner())


__all__ = [
    "DERIVED",
    "MEASURED",
    "NEAR",
    "BatchSizeReport",
    "BatchSizeRow",
    "BatchSizeRun",
    "BatchSizeSettings",
    "EdgeOfStabilityReport",
    "EdgeRun",
    "EdgeSettings",
    "Interpolation",
    "any_text",
    "measure",
    "measures",
]
