"""What a benchmark found, as declared records: ``benchmark.json``.

A benchmark (:mod:`gdlab.lab.benchmark`) runs the fair comparison on each workload
of a suite and scores the optimizers as AlgoPerf does (Dahl et al. 2023). It
returns a :class:`BenchmarkResult`: per workload a :class:`WorkloadResult` (the
steps and seconds to target of each optimizer), AlgoPerf's performance profiles
and scores (:class:`Profile`, in steps and in seconds), each score's
:class:`Interval` over studies, and gdlab's own view (:class:`OwnView`).

The records sit on the lowest floor, beside :mod:`gdlab.results`, so that the lab,
which makes them, and the report (:mod:`gdlab.report.benchmark`), which draws them,
both import them. ``benchmark.json`` keeps version 3's format:
:meth:`BenchmarkResult.to_dict` writes the same keys in the same order, and a file
read back (:meth:`BenchmarkResult.load`) is checked field by field; a file of
another format or version is refused first, in one line.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from gdlab import _checks
from gdlab.records import (
    Constraint,
    Record,
    each,
    instance,
    made,
    number,
    one_of,
    optional,
)
from gdlab.results import SELECT, Protocol

FORMAT = "gdlab-benchmark"
"""The ``format`` of ``benchmark.json``."""
VERSION = 3
"""Version 3: each workload's ``select`` and its ``test`` measure (``test_metric``:
``test_acc`` or ``test_loss``; version 2 had ``test_acc`` only)."""
OWN_VIEW = (
    "gdlab's own view, not AlgoPerf's: the Dolan & Moré profile of the same "
    "times on a log axis up to tau = 10, its area divided by log 10"
)
"""The words that label gdlab's own profile view wherever it is shown."""

_P = TypeVar("_P", bound="Profile")

share = number(0.0, 1.0)
"""A share of workloads, or a score: a number in [0, 1]."""


def _named(check: Constraint) -> Constraint:
    """A mapping of names (strings) to values that ``check`` accepts."""

    def checked(owner: str, name: str, value: object) -> dict[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            _checks.fail(owner, name, "an object of names", value)
        return {k: check(owner, f"{name}[{k!r}]", v) for k, v in value.items()}

    return checked


_time = optional(number(low=0.0))
"""A time to target (steps or seconds), or None: not reached."""


def _spec(owner: str, name: str, value: object) -> dict[str, Any]:
    """A RunSpec's flat plain form, as :attr:`gdlab.results.ComparisonResult.spec`."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        _checks.fail(owner, name, "a run spec's fields", value)
    for key in ("data", "model"):
        if not isinstance(value.get(key), str):
            _checks.fail(owner, f"{name}[{key!r}]", "a string", value.get(key))
    return dict(value)


@dataclass(frozen=True)
class Profile(Record):
    """AlgoPerf's performance profiles and scores of some times to target:
    ``rho[s][k]`` is rho_s(taus[k]), the share of workloads on which solver ``s``
    is within ``taus[k]`` times the fastest; ``scores[s]`` its normalized
    integral (:func:`gdlab.lab.benchmark.profile` computes them)."""

    taus: tuple[float, ...]
    rho: dict[str, tuple[float, ...]]
    scores: dict[str, float]

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = self.owner()
        taus = tuple(self.taus)
        if not taus or any(b <= a for a, b in itertools.pairwise(taus)):
            _checks.fail(owner, "taus", "an increasing non-empty grid", self.taus)
        object.__setattr__(self, "taus", taus)
        for name in ("rho", "scores"):
            if not isinstance(getattr(self, name), Mapping):
                _checks.fail(owner, name, "an object of names", getattr(self, name))
        if set(self.rho) != set(self.scores):
            _checks.fail(owner, "scores", "one per solver of rho", sorted(self.scores))
        rho = {}
        for name, values in self.rho.items():
            if (
                isinstance(values, str)
                or len(values) != len(taus)
                or any(not 0.0 <= v <= 1.0 for v in values)
            ):
                _checks.fail(
                    owner, f"rho[{name!r}]", "shares in [0, 1], one a tau", values
                )
            rho[name] = tuple(float(v) for v in values)
        object.__setattr__(self, "rho", rho)
        scores = {n: share(owner, f"scores[{n!r}]", v) for n, v in self.scores.items()}
        object.__setattr__(self, "scores", scores)

    @classmethod
    def from_dict(cls: type[_P], values: object) -> _P:
        """The profile of a :meth:`to_dict`: exactly its fields."""
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(values, Mapping) or sorted(values) != sorted(names):
            _checks.fail(
                cls.owner(), "value", f"an object of {', '.join(names)}", values
            )
        return super().from_dict(values)


@dataclass(frozen=True)
class OwnView(Profile):
    """gdlab's own view, labelled as such: the Dolan & Moré 2002 profile of the
    same times on a log tau axis up to 10, each score its area divided by
    log 10 (not AlgoPerf's)."""

    label: str = OWN_VIEW

    def to_dict(self) -> dict[str, Any]:
        """The label first, as ``benchmark.json`` has always written it."""
        plain = super().to_dict()
        return {"label": plain.pop("label"), **plain}


@dataclass(frozen=True)
class Interval(Record):
    """One optimizer's score on each study's times alone (``studies``), and their
    mean, 95% t half-width (None for one study), lowest and highest."""

    studies: tuple[float, ...]
    mean: float
    ci95: float | None
    low: float
    high: float

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "studies": each(share),
        "mean": share,
        "ci95": optional(number(low=0.0)),
        "low": share,
        "high": share,
    }


@dataclass(frozen=True)
class WorkloadResult(Record):
    """One workload of a benchmark: its run, target and measure, each optimizer's
    steps and seconds to target (median over studies; None: not reached), its
    steps in each study, its mean test measure, and its comparison's report."""

    spec: dict[str, Any]
    """The workload's RunSpec, in its flat plain form."""
    target: float
    select: str
    calibrated_by: str | None
    steps_to_target: dict[str, float | None]
    seconds_to_target: dict[str, float | None]
    study_steps: dict[str, tuple[float | None, ...]]
    test: dict[str, float | None]
    test_metric: str
    report: str

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "spec": _spec,
        "target": number(0.0, low_open=True),
        "select": one_of(*SELECT),
        "steps_to_target": _named(_time),
        "seconds_to_target": _named(_time),
        "study_steps": _named(each(_time)),
        "test": _named(optional(number())),
        "test_metric": one_of("test_acc", "test_loss"),
    }


def _protocol(owner: str, name: str, value: object) -> Protocol:
    """A comparison protocol; its plain form (``target`` aside) becomes one."""
    if isinstance(value, Mapping):
        return made(Protocol, value, owner, name)
    if not isinstance(value, Protocol):
        _checks.fail(owner, name, "a comparison protocol", value)
    return value


@dataclass(frozen=True)
class BenchmarkResult(Record):
    """What a benchmark returns and writes to ``benchmark.json`` (its plain form,
    with ``format`` and ``version``): per workload its :class:`WorkloadResult`;
    the protocol every workload's comparison ran (each with its own target and
    measure); AlgoPerf's profiles and scores in steps (``profiles``, ``scores``)
    and in seconds (``seconds``); each score's :class:`Interval` over studies;
    gdlab's :class:`OwnView`; and the report's path."""

    workloads: dict[str, WorkloadResult]
    protocol: Protocol
    profiles: Profile
    scores: dict[str, float]
    intervals: dict[str, Interval]
    seconds: Profile
    own_view: OwnView
    report: str | None = None
    format: str = FORMAT
    version: int = VERSION

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "workloads": _named(instance(WorkloadResult)),
        "protocol": _protocol,
        "profiles": instance(Profile),
        "scores": _named(share),
        "intervals": _named(instance(Interval)),
        "seconds": instance(Profile),
        "own_view": instance(OwnView),
    }

    def __post_init__(self) -> None:
        if (self.format, self.version) != (FORMAT, VERSION):
            _checks.fail(
                "BenchmarkResult", "format", f"{FORMAT} version {VERSION}",
                f"{self.format} version {self.version}",
            )  # fmt: skip
        super().__post_init__()

    def to_dict(self) -> dict[str, Any]:
        """The plain form of ``benchmark.json``; the protocol without its target
        (each workload has its own)."""
        plain = super().to_dict()
        protocol = dataclasses.asdict(self.protocol)
        plain["protocol"] = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in protocol.items()
            if k != "target"
        }
        return plain

    @classmethod
    def from_dict(cls, values: object) -> BenchmarkResult:
        """The result of a :meth:`to_dict`; a file of another format or version
        is refused for that first."""
        if isinstance(values, Mapping):
            found = (values.get("format", FORMAT), values.get("version", VERSION))
            if found != (FORMAT, VERSION):
                _checks.fail(
                    "BenchmarkResult",
                    "format",
                    f"{FORMAT} version {VERSION} (a benchmark.json of another "
                    "gdlab: run gdlab benchmark again to make one)",
                    f"{found[0]} version {found[1]}",
                )
            if isinstance(values.get("protocol"), Mapping):  # no target, no metric
                protocol = _protocol(cls.owner(), "protocol", values["protocol"])
                values = {**values, "protocol": protocol}
        return super().from_dict(values)

    @classmethod
    def load(cls, out: str | os.PathLike[str]) -> BenchmarkResult:
        """The result in ``out/benchmark.json``."""
        path = Path(out) / "benchmark.json"
        try:
            values = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"benchmark: cannot read {path}: {error}") from None
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"benchmark: cannot read {path}: {error}") from None


__all__ = [
    "FORMAT",
    "OWN_VIEW",
    "VERSION",
    "BenchmarkResult",
    "Interval",
    "OwnView",
    "Profile",
    "WorkloadResult",
]
