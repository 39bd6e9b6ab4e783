"""What a training run recorded: its steps, its evaluations and how it ended.

:func:`gdlab.train.fit` returns a :class:`History`; it writes itself as JSON or CSV,
becomes a pandas DataFrame, draws its loss curve and shows as a table in a notebook.

What a history file (or a checkpoint, or a sweep's store) holds is read back
through declared records, :class:`Recorded` of :class:`StepColumns` and
:class:`Evaluation` rows, so a file edited out of shape is refused naming the
field (``epochs[3].train_loss``), never half read.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

import numpy as np

from gdlab import _checks, outputs
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    flag,
    made,
    number,
    optional,
    record,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

STEP_FIELDS = ("step", "loss", "lr")
"""The columns of the per-step record."""
EPOCH_FIELDS = (
    "epoch",
    "step",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "lr",
    "seconds",
)
"""The columns of the per-epoch (or per-evaluation) record."""


def _column(kind: type[int] | type[float]) -> Constraint:
    """A list of finite numbers (integers for ``int``), checked at once: a
    history's columns hold a number per step, tens of thousands of them."""

    def checked(owner: str, name: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            _checks.fail(owner, name, "a list of numbers", value)
        ok = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ) and bool(np.isfinite(np.asarray(value, dtype=np.float64)).all())
        if ok and kind is int:
            ok = all(isinstance(v, int) for v in value)
        if not ok:  # the first bad one, by its index
            check = at_least(0) if kind is int else number()
            for i, v in enumerate(value):
                check(owner, f"{name}[{i}]", v)
        return tuple(value)

    return checked


@dataclass(frozen=True)
class StepColumns(Record):
    """The per-step record as stored: one column per field of
    :data:`STEP_FIELDS`, as long as each other, ``step`` counting 1, 2, 3, ..."""

    step: tuple[int, ...]
    loss: tuple[float, ...]
    lr: tuple[float, ...]

    constraints: ClassVar[dict[str, Constraint]] = {
        "step": _column(int),
        "loss": _column(float),
        "lr": _column(float),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        n = len(self.step)
        for name in ("loss", "lr"):
            if len(getattr(self, name)) != n:
                _checks.fail(
                    self.owner(), name, f"{n} values, one per step",
                    len(getattr(self, name)),
                )  # fmt: skip
        if self.step != tuple(range(1, n + 1)):
            _checks.fail(
                self.owner(),
                "step",
                "1, 2, 3, ... (one row per step)",
                list(self.step),
            )


_MEASURE = optional(number())


@dataclass(frozen=True)
class Evaluation(Record):
    """One evaluation (a row of :data:`EPOCH_FIELDS`): finite numbers, or None
    for what was not measured (or overflowed)."""

    epoch: float | None
    step: int
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    test_loss: float | None
    test_acc: float | None
    lr: float | None
    seconds: float | None

    constraints: ClassVar[dict[str, Constraint]] = {
        name: at_least(0) if name == "step" else _MEASURE for name in EPOCH_FIELDS
    }


def _text(owner: str, name: str, value: object) -> str:
    if not isinstance(value, str):
        _checks.fail(owner, name, "a string", value)
    return value


@dataclass(frozen=True)
class Recorded(Record):
    """A history as files keep it (``history.json``, a checkpoint, a sweep's
    store), its ``config`` apart: see :meth:`History.from_dict`."""

    steps: StepColumns
    epochs: tuple[Evaluation, ...]
    diverged: bool
    message: str

    constraints: ClassVar[dict[str, Constraint]] = {
        "steps": record(StepColumns),
        "epochs": each(record(Evaluation)),
        "diverged": flag,
        "message": _text,
    }


@dataclass
class History:
    """What a run recorded: per step ``{step, loss, lr}``; per evaluation ``{epoch,
    step, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, lr,
    seconds}`` (accuracies are None for regression, validation numbers without a
    validation split, test numbers when the run keeps the test set unread).
    ``train_loss`` and ``train_acc`` are taken on the run's train-eval rows: a
    fixed sample of ``config["train_eval_rows"]`` training rows (10,000 by
    default) when the training set is larger, else every row (see
    :class:`~gdlab.train.TrainConfig`); validation and test numbers on every row.
    ``diverged`` and ``message`` say how it stopped. ``config`` says what ran, for
    reports and ``history.json``: the model, the optimizer and its param_groups,
    the data and the run's :class:`~gdlab.train.TrainConfig` (a checkpoint keeps
    these apart, each once, and leaves ``config`` out of its history)."""

    steps: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, float | None]] = field(default_factory=list)
    diverged: bool = False
    message: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": {k: [s[k] for s in self.steps] for k in STEP_FIELDS},
            "epochs": self.epochs,
            "diverged": self.diverged,
            "message": self.message,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], owner: str = "History") -> History:
        """The history of a :meth:`to_dict`, read through :class:`Recorded`: a
        field out of shape is a ValueError naming it
        (``"History: epochs[2].val_loss must be ..."``, in ``owner``'s words)."""
        if not isinstance(values, Mapping):
            _checks.fail(owner, "values", "an object", values)
        config = values.get("config", {})
        if not isinstance(config, dict):
            _checks.fail(owner, "config", "an object", config)
        rest = {k: v for k, v in values.items() if k != "config"}
        return cls.of(made(Recorded, rest, owner), config)

    def recorded(self) -> Recorded:
        """The history as files keep it, its ``config`` apart (a checkpoint
        stores the config once, beside it)."""
        values = self.to_dict()
        del values["config"]
        return Recorded.from_dict(values)

    @classmethod
    def of(cls, recorded: Recorded, config: Mapping[str, Any]) -> History:
        """The history a :class:`Recorded` holds, with ``config``."""
        columns = recorded.steps
        steps = [
            {"step": s, "loss": loss, "lr": lr}
            for s, loss, lr in zip(columns.step, columns.loss, columns.lr, strict=True)
        ]
        return cls(
            steps,
            [e.to_dict() for e in recorded.epochs],
            recorded.diverged,
            recorded.message,
            dict(config),
        )

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the history as strict JSON (atomically): a NaN or infinite number
        (an evaluation of diverged weights) is written as ``null``."""
        outputs.write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`to_json` (plain JSON: runs no code)."""
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"history {path} is unreadable: {error}") from None
        return cls.from_dict(values, owner=f"history {path}")

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the per-epoch rows as CSV (atomically)."""

        def draw(f: IO[str]) -> None:
            writer = csv.DictWriter(f, fieldnames=EPOCH_FIELDS)
            writer.writeheader()
            writer.writerows(self.epochs)

        outputs.write_csv(path, draw)

    def to_frame(self, per: str = "epoch") -> Any:
        """The evaluations (``per="epoch"``) or the steps (``per="step"``) as a
        pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        from gdlab import _display

        if per not in ("epoch", "step"):
            _checks.fail("History.to_frame", "per", "'epoch' or 'step'", per)
        if per == "step":
            return _display.frame("History.to_frame", self.steps, STEP_FIELDS)
        return _display.frame("History.to_frame", self.epochs, EPOCH_FIELDS)

    def plot(self, ax: Axes | None = None) -> Figure:
        """The training loss of every step and its moving average, with the
        evaluated training and validation losses at their steps, drawn into ``ax``
        (a new Figure when None); returns the Figure."""
        from gdlab.report.plots import legend, plot_loss_curves

        if not self.steps:
            _checks.fail("History.plot", "the history", "at least one step", 0)
        label = str(self.config.get("optimizer", "train (mini-batch)"))
        figure = plot_loss_curves({label: [s["loss"] for s in self.steps]}, ax=ax)
        drawn = ax if ax is not None else figure.axes[0]
        for key, style in (("train_loss", "s-"), ("val_loss", "o--")):
            points = [
                (e["step"], e[key])
                for e in self.epochs
                if e.get(key) is not None and e["step"]
            ]
            if points:
                steps, values = zip(*points, strict=True)
                name = key.replace("_", " ").replace("val", "validation")
                drawn.plot(
                    steps,
                    values,
                    style,
                    color="0.2",
                    markersize=4,
                    linewidth=1.0,
                    label=f"{name} (evaluated)",
                )
        legend(drawn)
        return figure

    def __repr__(self) -> str:
        """One line: the counts, how it ended and the last evaluation (a history
        holds every step; ``to_frame`` shows them)."""
        state = "diverged" if self.diverged else "finished"
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(
            f"{k}={v:.4g}"
            for k, v in last.items()
            if k not in ("epoch", "step", "lr", "seconds") and isinstance(v, float)
        )
        tail = f", last evaluation at step {last['step']}: {shown}" if shown else ""
        return (
            f"History({len(self.steps)} steps, {len(self.epochs)} evaluations, "
            f"{state}{tail})"
        )

    def _repr_html_(self) -> str:
        from gdlab import _display

        shown = [
            k for k in EPOCH_FIELDS if any(e.get(k) is not None for e in self.epochs)
        ]
        what = str(self.config.get("optimizer") or "a run")
        if "data" in self.config:
            what += f" on {self.config['data'].get('name', '?')}"
        state = "diverged" if self.diverged else "finished"
        caption = (
            f"History of {what}: {len(self.steps)} steps, "
            f"{len(self.epochs)} evaluations, {state}"
        )
        if self.message:
            caption += f" ({self.message})"
        return _display.table(caption, self.epochs, shown)


__all__ = [
    "EPOCH_FIELDS",
    "STEP_FIELDS",
    "Evaluation",
    "History",
    "Recorded",
    "StepColumns",
]
