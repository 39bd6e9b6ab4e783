"""What a comparison found, as declared records, and the one list of run metrics.

A fair comparison (:mod:`gdlab.lab.compare`) returns a :class:`ComparisonResult`:
per optimizer, every study's trials, the trial selected on validation data and the
reruns of it on the test set, a summary over studies, and every pair's claim
(:class:`Claim`). Each part is a :class:`~gdlab.records.Record` that checks its
fields when made, so the report (:mod:`gdlab.report.compare`) reads attributes,
never keys, and a ``results.json`` read back is checked field by field: a
hand-edited file is refused in one line naming the record and the field.

The records sit on the lowest floor so that both the lab, which makes them, and
the report, which draws them, can import them. ``results.json`` keeps version 3's
format: :meth:`ComparisonResult.to_dict` writes the same keys in the same order.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from gdlab import _checks, outputs
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    flag,
    instance,
    number,
    one_of,
    optional,
    record,
    text,
)


def _real(owner: str, name: str, value: object) -> float | None:
    """None or a float, NaN and infinities kept (a diverged run's numbers)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _checks.fail(owner, name, "a number or None", value)
    return float(value)


@dataclass(frozen=True)
class RunMetrics(Record):
    """The numbers measured for every run of a sweep (a sweep store's columns, in
    order; the rest of a row names the run): the last evaluation's, the best
    validation accuracy (an epoch chosen on validation data, never on the test
    set), how it ended; test numbers are None for runs with
    ``evaluate_test=False``, ``lambda_max`` unless measured."""

    final_train_loss: float | None
    final_train_acc: float | None
    final_val_loss: float | None
    final_val_acc: float | None
    best_val_acc: float | None
    final_test_loss: float | None
    final_test_acc: float | None
    diverged: bool
    steps: int
    seconds: float
    lambda_max: float | None = None

    constraints: ClassVar[dict[str, Constraint]] = {
        **{
            name: _real
            for name in (
                "final_train_loss",
                "final_train_acc",
                "final_val_loss",
                "final_val_acc",
                "best_val_acc",
                "final_test_loss",
                "final_test_acc",
                "lambda_max",
            )
        },
        "diverged": flag,
        "steps": at_least(0),
        "seconds": number(0.0),
    }

    def value(self, name: str) -> float | None:
        """The metric ``name`` (one of :data:`RUN_METRICS`) as a number; None where
        not measured (``diverged`` as 0 or 1)."""
        if name not in RUN_METRICS:
            _checks.fail("RunMetrics", "name", f"one of {list(RUN_METRICS)}", name)
        found = getattr(self, name)
        return None if found is None else float(found)


RUN_METRICS = tuple(f.name for f in dataclasses.fields(RunMetrics))
"""The names of :class:`RunMetrics`' fields, in order: the one list of them."""
GridValue = str | int | float | bool | None
"""A value a sweep's grid gives one field of a run (an lr, a batch size, a name)."""
SUMMARIZED = (
    "final_train_loss",
    "final_val_acc",
    "best_val_acc",
    "final_test_acc",
    "lambda_max",
)
"""The metrics a sweep's summary averages over seeds."""


@dataclass(frozen=True)
class SweepRun(Record):
    """One finished run of a sweep: the values that name it (its grid values, the
    learning rate used, its optimizer, batch size and seed) and its metrics."""

    values: dict[str, GridValue]
    metrics: RunMetrics

    constraints: ClassVar[dict[str, Constraint]] = {"metrics": record(RunMetrics)}

    def get(self, name: str) -> GridValue:
        """A value naming the run or one of its metrics, by name (None if absent)."""
        if name in RUN_METRICS:
            return getattr(self.metrics, name)  # type: ignore[no-any-return]
        return self.values.get(name)

    def flat(self) -> dict[str, GridValue]:
        """One flat row (the values, then the metrics), for CSV and pandas."""
        return {**self.values, **self.metrics.to_dict()}


@dataclass(frozen=True)
class Spread(Record):
    """A metric over the seeds of one setting: mean, sample std and the half-width
    of the 95% t-interval (None where too few runs give it)."""

    mean: float | None = None
    std: float | None = None
    ci95: float | None = None

    constraints: ClassVar[dict[str, Constraint]] = {
        "mean": _real,
        "std": _real,
        "ci95": _real,
    }


@dataclass(frozen=True)
class SweepSummary(Record):
    """One setting of a sweep (its grid values but the seed) over its seeds: how
    many runs, how many diverged, the mean time, and the :class:`Spread` of each
    metric of :data:`SUMMARIZED` over the runs that did not diverge."""

    values: dict[str, GridValue]
    runs: int
    diverged: int
    seconds: float
    spreads: dict[str, Spread]

    constraints: ClassVar[dict[str, Constraint]] = {
        "runs": at_least(1),
        "diverged": at_least(0),
        "seconds": number(0.0),
    }

    def spread(self, name: str) -> Spread:
        """The spread of the metric ``name`` (one of :data:`SUMMARIZED`)."""
        if name not in self.spreads:
            _checks.fail("SweepSummary", "name", f"one of {list(SUMMARIZED)}", name)
        return self.spreads[name]

    def flat(self) -> dict[str, GridValue]:
        """One flat row (the values, runs, diverged, then each metric's mean,
        ``_std`` and ``_ci95``, and seconds), for CSV and pandas."""
        row: dict[str, GridValue] = {
            **self.values,
            "runs": self.runs,
            "diverged": self.diverged,
        }
        for name, spread in self.spreads.items():
            row[name] = spread.mean
            row[f"{name}_std"] = spread.std
            row[f"{name}_ci95"] = spread.ci95
        row["seconds"] = self.seconds
        return row


MEASURES = ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")
"""The final measures of each run of a comparison."""
SELECT = ("val_acc", "val_loss")
"""The validation measures a trial can be selected by."""
FORMAT = "gdlab-compare"
"""The ``format`` of a comparison's ``results.json``."""
VERSION = 3
"""results.json's version: 3 holds studies and pairwise claims."""
MAX_BUDGET = 1000
"""The most trials per optimizer and study: each trains a whole run."""
MAX_SEEDS = 100
"""The most reruns of the selected settings per study."""
MAX_STUDIES = 100
"""The most studies (whole repetitions of the procedure)."""
LEVEL = 0.05
"""The family-wise error rate of the claims of one comparison."""
Verdict = Literal["a", "b", "none"]
"""A pair's verdict: ``"a"`` or ``"b"`` is better, or ``"none"`` (no claim)."""
VERDICTS = ("a", "b", "none")
"""The verdicts a :class:`~gdlab.results.Claim` may hold."""
_C = TypeVar("_C", bound="ComparisonResult")
PROTOCOL_KEYS = (
    "budget",
    "tune",
    "select",
    "search_seed",
    "seeds",
    "studies",
    "target",
)
"""A protocol's fields in the order results.json has always written them."""
EPOCH_KEYS = ("epoch", "step", "seconds", *MEASURES)
"""What a reader of a rerun's history needs in each of its evaluations."""


# --- constraints of the fields below ---------------------------------------------


def _string(owner: str, name: str, value: object) -> str:
    """A string, maybe empty (a message)."""
    if not isinstance(value, str):
        _checks.fail(owner, name, "a string", value)
    return value


def _records(kind: type[Record]) -> Constraint:
    """A mapping of names to instances of ``kind``."""

    def checked(owner: str, name: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            _checks.fail(owner, name, f"an object of {kind.__name__}s", value)
        for key, item in value.items():
            text(owner, f"{name} key", key)
            instance(kind)(owner, f"{name}[{key!r}]", item)
        return dict(value)

    return checked


def _hyper(owner: str, name: str, value: object) -> dict[str, Any]:
    """Hyperparameters by name, the learning rate among them."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        _checks.fail(owner, name, "an object of hyperparameters", value)
    if "lr" not in value:
        _checks.fail(owner, name, "an object with an lr", value)
    number(low=0.0)(owner, f"{name}['lr']", value["lr"])
    return dict(value)


def _history(owner: str, name: str, value: object) -> dict[str, Any]:
    """A :class:`gdlab.history.History`'s plain form whose evaluations hold
    :data:`EPOCH_KEYS`."""
    if not isinstance(value, Mapping) or not isinstance(value.get("steps"), Mapping):
        _checks.fail(owner, name, "a history with steps and epochs", value)
    epochs = value.get("epochs")
    if not isinstance(epochs, list):
        _checks.fail(owner, f"{name}['epochs']", "a list", epochs)
    for k, row in enumerate(epochs):
        where = f"{name}['epochs'][{k}]"
        if not isinstance(row, Mapping):
            _checks.fail(owner, where, "an object", row)
        for key in EPOCH_KEYS:
            if key not in row:
                _checks.fail(owner, where, f"an object with {key!r}", sorted(row))
            maybe(owner, f"{where}[{key!r}]", row[key])
    return dict(value)


maybe = optional(number())
"""A finite number, or None (not measured: a diverged run, an unread test set)."""
count = at_least(0)
"""An integer >= 0."""
curve = each(maybe)
"""A sequence of numbers or None."""


# --- the records -----------------------------------------------------------------


@dataclass(frozen=True)
class Protocol(Record):
    """How optimizers are compared (see :mod:`gdlab.lab.compare`).

    ``budget``: trials of quasi-random search per optimizer and study (0: the
    suggested settings only); ``tune``: search-space axes (``"all"``: every axis
    but weight_decay); ``select``: the validation metric that selects a trial;
    ``search_seed``: the master seed every study's seeds derive from; ``seeds``:
    reruns of the selected hyperparameters per study; ``studies``: independent
    repetitions of the whole procedure (the unit of replication); ``target``:
    the ``select`` value time-to-result waits for (None: the data's default, or
    none). Its plain form adds the test :attr:`metric` the claims compare.
    """

    budget: int = 4
    seeds: int = 2
    tune: tuple[str, ...] = ("lr",)
    select: str = "val_acc"
    search_seed: int = 0
    target: float | None = None
    studies: int = 5

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "budget": lambda o, n, v: _at_most(o, n, v, 0, MAX_BUDGET),
        "tune": lambda o, n, v: _axes(o, n, v),
        "select": one_of(*SELECT),
        "search_seed": at_least(0),
        "seeds": lambda o, n, v: _at_most(o, n, v, 1, MAX_SEEDS),
        "studies": lambda o, n, v: _at_most(o, n, v, 1, MAX_STUDIES),
        "target": optional(number(0.0, low_open=True)),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.target is not None and self.select == "val_acc":
            number(0.0, 1.0, low_open=True)("Protocol", "target", self.target)

    @property
    def metric(self) -> str:
        """The test metric the claims compare: ``test_acc`` or ``test_loss``."""
        return "test_acc" if self.select == "val_acc" else "test_loss"

    @property
    def higher_is_better(self) -> bool:
        return self.select == "val_acc"

    def to_dict(self) -> dict[str, Any]:
        """Its fields in results.json's order, and the :attr:`metric`."""
        plain = super().to_dict()
        return {k: plain[k] for k in PROTOCOL_KEYS} | {"metric": self.metric}

    @classmethod
    def from_dict(cls, values: object) -> Protocol:
        """The protocol of a :meth:`to_dict` (its ``metric`` must agree)."""
        if not isinstance(values, Mapping):
            _checks.fail("Protocol", "values", "a mapping", values)
        given = dict(values)
        metric = given.pop("metric", None)
        protocol = super().from_dict(given)
        if metric != protocol.metric:
            _checks.fail("Protocol", "metric", repr(protocol.metric), metric)
        return protocol


def _at_most(owner: str, name: str, value: object, low: int, high: int) -> int:
    n = _checks.integer(owner, name, value, low=low)
    if n > high:
        _checks.fail(owner, name, f"an integer <= {high}", value)
    return n


def _axes(owner: str, name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, tuple | list) or not value:
        _checks.fail(owner, name, "a non-empty list of axes", value)
    return tuple(text(owner, f"{name}[{k}]", v) for k, v in enumerate(value))


@dataclass(frozen=True)
class Study(Record):
    """The seeds of one study: its Sobol scramble, its trials' training seed and
    its reruns' seeds (the same for every optimizer: matched pairs)."""

    index: int
    search_seed: int
    tuning_seed: int
    rerun_seeds: tuple[int, ...]

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "index": count,
        "search_seed": count,
        "tuning_seed": count,
        "rerun_seeds": each(count),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.rerun_seeds:
            _checks.fail("Study", "rerun_seeds", "a non-empty list", [])


@dataclass(frozen=True)
class Claim(Record):
    """What a comparison established about optimizers ``a`` and ``b``.

    ``difference`` is the mean over studies of (a − b) in the compared metric,
    signed so that a positive value favours ``a`` when higher is better; ``ci95``
    its 95% t-interval over studies (None with fewer than 2 studies);
    ``p_adjusted`` the Holm-adjusted p-value; ``verdict`` the better one, or
    ``"none"`` (see :mod:`gdlab.lab.claims`).
    """

    a: str
    b: str
    difference: float | None
    ci95: tuple[float, float] | None
    p_adjusted: float
    verdict: Verdict

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "a": text,
        "b": text,
        "difference": maybe,
        "ci95": lambda o, n, v: None if v is None else _interval(o, n, v),
        "p_adjusted": number(0.0, 1.0),
        "verdict": one_of(*VERDICTS),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.a == self.b:
            _checks.fail("Claim", "b", f"a name other than a ({self.a!r})", self.b)
        if self.verdict != "none" and self.p_adjusted >= LEVEL:
            _checks.fail(
                "Claim", "verdict", f"'none' when p_adjusted >= {LEVEL}", self.verdict
            )

    @property
    def winner(self) -> str | None:
        return {"a": self.a, "b": self.b}.get(self.verdict)


def _interval(owner: str, name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, tuple | list) or len(value) != 2:
        _checks.fail(owner, name, "a pair [lo, hi] or null", value)
    lo = _checks.number(owner, f"{name}[0]", value[0])
    return lo, _checks.number(owner, f"{name}[1]", value[1], low=lo)


@dataclass(frozen=True)
class Target(Record):
    """When a run first reached the target: its ``step``, ``seconds`` and
    ``evaluation`` (the index among its evaluations)."""

    step: float
    seconds: float
    evaluation: float

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "step": number(low=0.0),
        "seconds": number(low=0.0),
        "evaluation": number(low=0.0),
    }


@dataclass(frozen=True)
class Final(Record):
    """A run's last evaluation (None: diverged, or a split not read)."""

    train_loss: float | None
    val_loss: float | None
    val_acc: float | None
    test_loss: float | None
    test_acc: float | None

    constraints: ClassVar[Mapping[str, Constraint]] = dict.fromkeys(MEASURES, maybe)

    def get(self, metric: str) -> float | None:
        """The value of ``metric``, one of :data:`MEASURES`."""
        _checks.choice("Final", "metric", metric, MEASURES)
        value: float | None = getattr(self, metric)
        return value


@dataclass(frozen=True)
class Trial(Record):
    """One trial of a study's search: its hyperparameters and final numbers (its
    test numbers stay None: trials never read the test set)."""

    hyper: dict[str, Any]
    train_loss: float | None
    val_loss: float | None
    val_acc: float | None
    test_loss: float | None
    test_acc: float | None
    diverged: bool
    message: str
    to_target: Target | None

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "hyper": _hyper,
        **dict.fromkeys(MEASURES, maybe),
        "diverged": flag,
        "message": _string,
        "to_target": optional(instance(Target)),
    }

    def score(self, select: str) -> float | None:
        """The validation measure ``select`` (None if not measured)."""
        _checks.choice("Trial", "select", select, SELECT)
        value: float | None = getattr(self, select)
        return value


@dataclass(frozen=True)
class Selected(Record):
    """The trial a study selected (None with budget 0) and its hyperparameters."""

    trial: int | None
    hyper: dict[str, Any]

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "trial": optional(count),
        "hyper": _hyper,
    }


@dataclass(frozen=True)
class Rerun(Record):
    """A rerun of the selected setting on a study's rerun seed, on the test set."""

    seed: int
    diverged: bool
    message: str
    final: Final
    to_target: Target | None
    seconds: float
    history: dict[str, Any]
    """The run's :class:`gdlab.history.History`, in its plain form."""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "seed": count,
        "diverged": flag,
        "message": _string,
        "final": instance(Final),
        "to_target": optional(instance(Target)),
        "seconds": number(low=0.0),
        "history": _history,
    }

    @property
    def epochs(self) -> list[dict[str, Any]]:
        """The run's evaluations (one dict per evaluation, :data:`EPOCH_KEYS`
        among their keys)."""
        rows: list[dict[str, Any]] = self.history["epochs"]
        return rows


@dataclass(frozen=True)
class StudyResult(Record):
    """One optimizer in one study: its trials, the selected one, the best of the
    first k trials (k = 1..budget) and the reruns."""

    trials: tuple[Trial, ...]
    selected: Selected
    best_of_k: tuple[float | None, ...]
    reruns: tuple[Rerun, ...] = ()

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "trials": each(instance(Trial)),
        "selected": instance(Selected),
        "best_of_k": curve,
        "reruns": each(instance(Rerun)),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        best = self.selected.trial
        if best is not None and best >= len(self.trials):
            _checks.fail("StudyResult", "selected.trial", f"< {len(self.trials)}", best)

    def kept(self, metric: str) -> list[float]:
        """``metric`` of the reruns that did not diverge (and measured it)."""
        return [
            v
            for r in self.reruns
            if not r.diverged and (v := r.final.get(metric)) is not None
        ]


@dataclass(frozen=True)
class Tunability(Record):
    """The best of the first k trials over studies: median, lowest, highest, and
    the median of the expected best of k drawn without replacement."""

    median: tuple[float | None, ...]
    low: tuple[float | None, ...]
    high: tuple[float | None, ...]
    random_search: tuple[float | None, ...]

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "median": curve,
        "low": curve,
        "high": curve,
        "random_search": curve,
    }


@dataclass(frozen=True)
class Stats(Record):
    """One measure over a comparison's reruns: median and quartiles over studies
    x reruns (``n`` values); mean and 95% t half-width over the per-study means
    (``studies`` of them)."""

    n: int
    studies: int
    median: float | None
    q1: float | None
    q3: float | None
    mean: float | None
    ci95: float | None

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "n": count,
        "studies": count,
        "median": maybe,
        "q1": maybe,
        "q3": maybe,
        "mean": maybe,
        "ci95": optional(number(low=0.0)),
    }


@dataclass(frozen=True)
class Reached(Record):
    """How many reruns reached the target, and the median step and seconds it
    took (None: the median run did not reach it)."""

    runs: int
    reached: int
    median_step: float | None
    median_seconds: float | None

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "runs": count,
        "reached": count,
        "median_step": maybe,
        "median_seconds": maybe,
    }


@dataclass(frozen=True)
class WinnersCurse(Record):
    """The selected trial's validation score and its reruns' mean validation
    score, each the median over studies: the gap is the winner's curse."""

    selected: float | None
    reruns: float | None

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "selected": maybe,
        "reruns": maybe,
    }


@dataclass(frozen=True)
class Edge(Record):
    """In how many studies the selection sat at the lowest or the highest value
    tried on one axis."""

    low: int
    high: int

    constraints: ClassVar[Mapping[str, Constraint]] = {"low": count, "high": count}


@dataclass(frozen=True)
class Summary(Record):
    """One optimizer over all studies: each measure's :class:`~gdlab.results.Stats`, its
    per-study score (the mean of the reruns' test metric; None: all diverged),
    divergences, time to target, seconds per rerun, the winner's curse, the
    selections at a range's edge and the claims' group letters."""

    train_loss: Stats
    val_loss: Stats
    val_acc: Stats
    test_loss: Stats
    test_acc: Stats
    per_study: tuple[float | None, ...]
    diverged: int
    runs: int
    to_target: Reached
    seconds: float | None
    winners_curse: WinnersCurse
    edge: dict[str, Edge]
    group: str = ""

    constraints: ClassVar[Mapping[str, Constraint]] = {
        **dict.fromkeys(MEASURES, instance(Stats)),
        "per_study": curve,
        "diverged": count,
        "runs": count,
        "to_target": instance(Reached),
        "seconds": maybe,
        "winners_curse": instance(WinnersCurse),
        "edge": _records(Edge),
        "group": _string,
    }

    def stats(self, metric: str) -> Stats:
        """The :class:`~gdlab.results.Stats` of ``metric``, one of :data:`MEASURES`."""
        _checks.choice("Summary", "metric", metric, MEASURES)
        value: Stats = getattr(self, metric)
        return value


@dataclass(frozen=True)
class OptimizerResult(Record):
    """One optimizer of a comparison: its search axes (described), every study,
    the tunability curve and the summary."""

    axes: dict[str, str]
    studies: tuple[StudyResult, ...]
    tunability: Tunability
    summary: Summary

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "axes": lambda o, n, v: _names(o, n, v),
        "studies": each(instance(StudyResult)),
        "tunability": instance(Tunability),
        "summary": instance(Summary),
    }

    @property
    def reruns(self) -> list[Rerun]:
        """Every rerun of every study."""
        return [r for st in self.studies for r in st.reruns]

    @property
    def trials(self) -> list[Trial]:
        """Every trial of every study."""
        return [t for st in self.studies for t in st.trials]

    @property
    def selected_lrs(self) -> list[float]:
        """The learning rate each study selected."""
        return [float(st.selected.hyper["lr"]) for st in self.studies]


def _names(owner: str, name: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        _checks.fail(owner, name, "an object of axis descriptions", value)
    return dict(value)


def _spec(owner: str, name: str, value: object) -> dict[str, Any]:
    """A RunSpec's flat plain form (:meth:`gdlab.experiment.RunSpec.to_dict`),
    checked as a RunSpec by the lab that reads it."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        _checks.fail(owner, name, "a run spec's fields", value)
    for key, kind in (("data", str), ("model", str), ("batch_size", int | str)):
        if not isinstance(value.get(key), kind):
            _checks.fail(owner, f"{name}[{key!r}]", f"a {kind}", value.get(key))
    return dict(value)


@dataclass(frozen=True)
class ComparisonResult(Record):
    """What a comparison found, as written in ``results.json``: its base spec,
    protocol (with the target it used), studies' seeds, every optimizer's
    :class:`~gdlab.results.OptimizerResult`, every pair's
    :class:`~gdlab.results.Claim`, the line of what was established and the
    notes."""

    format: str
    version: int
    spec: dict[str, Any]
    protocol: Protocol
    studies: tuple[Study, ...]
    optimizers: dict[str, OptimizerResult]
    pairs: tuple[Claim, ...]
    established: str
    notes: tuple[str, ...] = ()

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "format": one_of(FORMAT),
        "version": lambda o, n, v: _version(o, n, v),
        "spec": _spec,
        "protocol": instance(Protocol),
        "studies": each(instance(Study)),
        "optimizers": _records(OptimizerResult),
        "pairs": each(instance(Claim)),
        "established": _string,
        "notes": each(_string),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if len(self.studies) != self.protocol.studies:
            _checks.fail(
                owner,
                "studies",
                f"as many as the protocol's studies ({self.protocol.studies})",
                len(self.studies),
            )
        for name, o in self.optimizers.items():
            if len(o.studies) != len(self.studies):
                _checks.fail(
                    owner,
                    f"optimizers[{name!r}].studies",
                    f"as many as the comparison's studies ({len(self.studies)})",
                    len(o.studies),
                )
        for pair in self.pairs:
            for name in (pair.a, pair.b):
                if name not in self.optimizers:
                    _checks.fail(owner, "pairs", "names of its optimizers", name)

    @classmethod
    def from_dict(cls: type[_C], values: object) -> _C:
        """The result of a :meth:`to_dict`; a file of another format or version
        is refused for that first."""
        if isinstance(values, Mapping):
            for name in ("format", "version"):
                if name in values:
                    cls.constraints[name](cls.__name__, name, values[name])
        return super().from_dict(values)

    @property
    def names(self) -> list[str]:
        """The optimizers compared, in the order given."""
        return list(self.optimizers)

    @property
    def higher_is_better(self) -> bool:
        return self.protocol.higher_is_better

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``results.json`` (atomically)."""
        return outputs.write_text(
            Path(folder) / "results.json",
            json.dumps(self.to_dict(), indent=1, allow_nan=False),
        )

    @classmethod
    def load(cls: type[_C], folder: str | os.PathLike[str]) -> _C:
        """Read the ``results.json`` in ``folder``; a ValueError names the file,
        the record and the field that is wrong."""
        path = Path(folder) / "results.json"
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except OSError as error:  # the words once, not errno's repeat of the path
            raise ValueError(
                f"{path}: cannot read comparison results "
                f"({error.strerror or error}); gdlab compare --out FOLDER writes them"
            ) from None
        except ValueError as error:
            raise ValueError(
                f"cannot read comparison results {path}: {error}"
            ) from None


def _version(owner: str, name: str, value: object) -> int:
    if value != VERSION or isinstance(value, bool):
        _checks.fail(
            owner,
            name,
            f"{VERSION} (a results.json of another gdlab: run gdlab compare again "
            "to make one)",
            value,
        )
    return VERSION


__all__ = [
    "MEASURES",
    "RUN_METRICS",
    "SUMMARIZED",
    "Claim",
    "ComparisonResult",
    "GridValue",
    "OptimizerResult",
    "Protocol",
    "Rerun",
    "RunMetrics",
    "Spread",
    "Study",
    "StudyResult",
    "Summary",
    "SweepRun",
    "SweepSummary",
    "Trial",
]
