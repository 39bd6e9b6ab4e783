"""Many workloads, one verdict: the fair comparison on each workload of a suite,
scored as AlgoPerf scores it (Dahl et al. 2023; ``scoring/performance_profile.py``
of mlcommons/algorithmic-efficiency).

A suite is data, not code: a TOML (or JSON) table of workloads
(:class:`~gdlab.lab.workloads.Workload`), each a table of
:class:`~gdlab.experiment.RunSpec` fields (``eval_every``: evaluate every k steps,
so that times are not quantized by epochs), the validation measure that judges it
(``select``: ``val_acc`` by default, or ``val_loss`` for a model without accuracy),
the value its time-to-result waits for (``target``) and the command that
calibrated that target (``calibrated_by``); ``workload = "NAME"`` starts from a
registered workload. ``gdlab benchmark --suite small`` runs the built-in
``suites/small.toml`` (``medium``: ``suites/medium.toml``); ``--suite my.toml`` a
user's own.

Plan, then run: :func:`plan` reads and checks everything once (a
:class:`BenchmarkPlan`), :func:`check` claims the output folder and checks every
workload's comparison before anything trains, and :func:`run` trains and scores
it into a :class:`~gdlab.benchmark_results.BenchmarkResult` (the records of
:mod:`gdlab.benchmark_results`), written to ``OUT/benchmark.json``.

The score, AlgoPerf's six steps:

1. t_i(p, s): in study i of workload p, among optimizer s's trials, the earliest
   evaluation (by index) at which the validation accuracy reaches the target; its
   time (steps; seconds as a second view); inf if no trial of the study reaches it.
2. t(p, s) = median over studies of t_i(p, s).
3. t(p, s) > 4 · min_s' t(p, s') becomes inf.
4. r(p, s) = t(p, s) / min_s' t(p, s').
5. ``rho_s(tau) = |{p : r(p, s) <= tau}| / |P|`` on 100 linearly spaced tau in
   [1, 4].
6. score = trapezoid integral of rho_s over that grid / (4 − 1).

Every score gets an interval over studies: the same six steps run on each study's
times alone give one score per study, and their 95% t-interval is reported.
gdlab's own view — the Dolan & Moré 2002 profile of the same t(p, s) on a log
axis up to tau = 10 — is labelled as gdlab's own wherever it is shown.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks, outputs
from gdlab.benchmark_results import (
    OWN_VIEW,
    BenchmarkResult,
    Interval,
    OwnView,
    Profile,
    WorkloadResult,
)
from gdlab.experiment import RunSpec
from gdlab.lab import compare, tuning, workloads
from gdlab.lab.workloads import Workload
from gdlab.records import Constraint, Record, one_of, optional
from gdlab.results import Rerun, StudyResult, Trial

SUITES = workloads.BUILT_IN_SUITES
"""The built-in suites (``src/gdlab/lab/suites/NAME.toml``)."""
CUT = 4.0
"""AlgoPerf's cut: a time above CUT x the fastest counts as never reached."""
ALGOPERF_TAUS = [float(t) for t in np.linspace(1.0, CUT, 100)]
"""AlgoPerf's grid: 100 linearly spaced tau in [1, 4] (``max_tau=4.0``,
``num_points=100``, ``scale='linear'`` in its ``score_submissions.py``)."""
TAU_MAX = 10.0
"""The largest factor τ the performance profiles reach, and so their score's range."""
TAUS = [float(t) for t in np.exp(np.linspace(0.0, math.log(TAU_MAX), 41))]
"""gdlab's own view: tau from 1 to TAU_MAX, log-spaced (not AlgoPerf's)."""

SUITE_MAX_BYTES = 1 << 20
"""The largest suite file read (1 MiB; a suite of a hundred workloads is 20 KB):
a link to ``/dev/zero`` must not be read without bound."""


def load_suite(suite: str | os.PathLike[str]) -> list[Workload]:
    """The workloads of a built-in suite (``"small"``) or of a TOML/JSON file: a
    regular file of at most :data:`SUITE_MAX_BYTES`, each workload named once."""
    if isinstance(suite, str) and suite in SUITES:
        return workloads.built_in_suite(suite)  # gdlab's own, names distinct
    path = Path(suite)
    where = f"suite {path}"
    text = _read_suite(path, where)
    try:
        table = (
            json.loads(text, object_pairs_hook=_unique_keys)
            if path.suffix == ".json"
            else tomllib.loads(text)
        )
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{where} is not valid TOML/JSON: {error}") from None
    except RecursionError:  # both parsers recurse into nested arrays
        raise ValueError(
            f"{where} is not valid TOML/JSON: its arrays nest too deeply"
        ) from None
    if not isinstance(table, dict) or not table:
        _checks.fail(where, "its content", "a table of workloads", table)
    found = []
    seen: dict[str, str] = {}
    for name, fields in table.items():
        if name.lower() in seen:  # one folder on a case-insensitive file system
            _checks.fail(
                where, "a workload name", f"other than {seen[name.lower()]!r}", name
            )
        seen[name.lower()] = name
        found.append(Workload.from_table(str(name), fields, where))
    return found


def _read_suite(path: Path, where: str) -> str:
    """The text of suite file ``path``: a regular file (a FIFO would block, a
    device never end) of at most :data:`SUITE_MAX_BYTES`, in UTF-8."""
    cannot = f"; give a TOML or JSON file, or one of {', '.join(SUITES)}"
    cannot += _checks.did_you_mean(str(path), list(SUITES))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise ValueError(
            f"{where}: cannot read it ({error.strerror or error}){cannot}"
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise ValueError(f"{where}: cannot read it ({kind}){cannot}")
        chunks, size = [], 0
        while size <= SUITE_MAX_BYTES and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise ValueError(
            f"{where}: cannot read it ({error.strerror or error}){cannot}"
        ) from None
    finally:
        os.close(fd)
    if size > SUITE_MAX_BYTES:
        raise ValueError(
            f"{where}: a suite file must be at most {SUITE_MAX_BYTES} bytes, got more"
        )
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{where} is not valid TOML/JSON: {error}") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are distinct (``json`` keeps the last silently)."""
    table: dict[str, Any] = {}
    for key, value in pairs:
        if key in table:
            raise ValueError(f"the key {key!r} is given twice")
        table[key] = value
    return table


UNITS = ("step", "seconds")
"""The units of a time to target: steps, or seconds (a second view)."""


def study_time(study: StudyResult, unit: str = "step") -> float:
    """Step 1, t_i(p, s): among the study's trials (its reruns when it had no
    search), the one that reached the target at the earliest evaluation index
    (the first such trial on a tie); its time in ``unit`` (``step`` or
    ``seconds``); inf when none reached it."""
    _checks.choice("benchmark", "unit", unit, UNITS)
    runs: Sequence[Trial | Rerun] = study.trials or study.reruns
    reached = [r.to_target for r in runs if r.to_target is not None]
    if not reached:
        return math.inf
    return float(getattr(min(reached, key=lambda t: t.evaluation), unit))


def workload_time(studies: Sequence[StudyResult], unit: str = "step") -> float:
    """Step 2, t(p, s): the median over ``studies`` (one optimizer's on one
    workload) of :func:`study_time`."""
    return float(np.median([study_time(st, unit) for st in studies]))


def algoperf_profiles(
    times: Mapping[str, Mapping[str, float | None]],
    taus: Sequence[float] = ALGOPERF_TAUS,
) -> dict[str, list[float]]:
    """Steps 3–5: ``times[p][s]`` (None or inf: never reached) cut at CUT x the
    fastest, divided by the fastest, counted at each tau."""
    problems = list(times)
    solvers = list(dict.fromkeys(s for p in problems for s in times[p]))
    ratios: dict[str, list[float]] = {s: [] for s in solvers}
    for p in problems:
        t = {s: _time(times[p].get(s)) for s in solvers}
        best = min(t.values())
        with np.errstate(divide="ignore", invalid="ignore"):
            for s in solvers:
                cut = math.inf if t[s] > CUT * best else t[s]
                ratios[s].append(float(np.float64(cut) / np.float64(best)))
    return {
        s: [sum(r <= tau for r in ratios[s]) / len(problems) for tau in taus]
        for s in solvers
    }


def profile(
    times: Mapping[str, Mapping[str, float | None]],
    taus: Sequence[float] = ALGOPERF_TAUS,
) -> Profile:
    """Steps 3–6 on ``times[workload][solver]``: the profiles and their scores."""
    rho = algoperf_profiles(times, taus)
    return Profile(
        tuple(taus),
        {n: tuple(r) for n, r in rho.items()},
        {n: algoperf_score(r, taus) for n, r in rho.items()},
    )


def _time(value: float | None) -> float:
    return math.inf if value is None else float(value)


def algoperf_score(
    rho: Sequence[float], taus: Sequence[float] = ALGOPERF_TAUS
) -> float:
    """Step 6: the trapezoid integral of rho over the tau grid, divided by its
    length (4 − 1 on AlgoPerf's grid): 1 for the fastest on every workload."""
    x = np.asarray(taus, dtype=float)
    y = np.asarray(rho, dtype=float)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def profile_area(rho: Sequence[float], taus: Sequence[float] = TAUS) -> float:
    """gdlab's own view: the area under rho(tau) on a log-tau axis from 1 to
    tau_max, divided by log(tau_max)."""
    x = np.log(np.asarray(taus))
    y = np.asarray(rho, dtype=float)
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def _workload_tuple(owner: str, name: str, value: object) -> tuple[Workload, ...]:
    """A non-empty tuple of workloads, each named once (one folder each, also on
    a case-insensitive file system)."""
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        _checks.fail(owner, name, "a non-empty list of workloads", value)
    seen: dict[str, str] = {}
    found = []
    for w in value:
        w = Workload.from_dict(w) if isinstance(w, Mapping) else w
        if not isinstance(w, Workload):
            _checks.fail(owner, name, "workloads", w)
        if w.name.lower() in seen:
            first = seen[w.name.lower()]
            _checks.fail(owner, "a workload name", f"other than {first!r}", w.name)
        seen[w.name.lower()] = w.name
        found.append(w)
    return tuple(found)


def _optimizer_names(owner: str, name: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        _checks.fail(owner, name, "None or a non-empty list of names", value)
    return tuple(compare.chosen_optimizers(list(value)))


def _protocol(owner: str, name: str, value: object) -> compare.Protocol:
    if isinstance(value, Mapping):
        value = compare.Protocol(**value)
    if not isinstance(value, compare.Protocol):
        _checks.fail(owner, name, "a compare.Protocol", value)
    return value


@dataclass(frozen=True)
class BenchmarkPlan(Record):
    """A benchmark, declared and checked once: the workloads, the optimizers
    (None: the course's twelve), the comparison protocol each workload runs
    (its ``target`` and ``select`` come from the workload), and where it runs."""

    workloads: tuple[Workload, ...]
    optimizers: tuple[str, ...] | None = None
    protocol: compare.Protocol = dataclasses.field(
        default_factory=lambda: compare.Protocol(budget=4, seeds=2, studies=3)
    )
    workers: int | None = None
    backend: str = "local"

    constraints: ClassVar[Mapping[str, Constraint]] = {
        "workloads": _workload_tuple,
        "optimizers": _optimizer_names,
        "protocol": _protocol,
        "workers": optional(lambda o, n, v: _checks.integer(o, n, v, low=1)),
        "backend": one_of("local", "ray"),
    }

    def protocol_for(self, workload: Workload) -> compare.Protocol:
        """The protocol of ``workload``'s comparison: its target and measure."""
        return dataclasses.replace(
            self.protocol, target=workload.target, select=workload.select
        )

    @property
    def names(self) -> list[str] | None:
        return None if self.optimizers is None else list(self.optimizers)


def plan(
    suite: str | os.PathLike[str] | Sequence[Workload],
    optimizers: Sequence[str] | None = None,
    protocol: compare.Protocol | None = None,
    *,
    only: Sequence[str] | None = None,
    hyper: Mapping[str, Any] | None = None,
    workers: int | None = None,
    backend: str = "local",
) -> BenchmarkPlan:
    """The plan of a benchmark: the workloads of ``suite`` (a built-in name, a
    file, or workloads) named in ``only`` (all when None), each with ``hyper``
    fixed, under ``protocol`` (default 4 trials, 2 reruns, 3 studies)."""
    chosen = select(suite, only)
    if hyper:
        chosen = [
            dataclasses.replace(w, spec=w.spec.replace(hyper={**w.spec.hyper, **hyper}))
            for w in chosen
        ]
    return BenchmarkPlan(
        tuple(chosen),
        None if optimizers is None else tuple(optimizers),
        protocol or compare.Protocol(budget=4, seeds=2, studies=3),
        workers,
        backend,
    )


def prepare(plan: BenchmarkPlan, out: str | os.PathLike[str]) -> BenchmarkReady:
    """What a benchmark checks before anything trains, as a step of its own (a
    command checks what its user typed with it, then runs): every workload's
    comparison planned once (:func:`~gdlab.lab.compare.plan`: names, data,
    models), ``out`` and each workload's folder in it claimed, and their stores
    checked (:func:`~gdlab.lab.compare.prepare`)."""
    root = outputs.claim(out, "benchmark")
    ready = {}
    for workload in plan.workloads:
        try:  # a suite's workloads share one error path: say whose it is
            planned = compare.plan(
                workload.spec,
                plan.names,
                plan.protocol_for(workload),
                workers=plan.workers,
                backend=plan.backend,
            )
            ready[workload.name] = compare.prepare(planned, out=root / workload.name)
        except ValueError as error:
            raise ValueError(f"workload {workload.name!r}: {error}") from None
    return BenchmarkReady(plan, root, ready)


def select(
    suite: str | os.PathLike[str] | Sequence[Workload], only: Sequence[str] | None
) -> list[Workload]:
    """The workloads of ``suite`` named in ``only`` (all when None), in suite order."""
    found = _workloads(suite)
    known = [w.name for w in found]
    for name in only or []:
        if name not in known:
            _checks.choice("benchmark", "--only", name, tuple(known))
    return [w for w in found if only is None or w.name in only]


def _workloads(
    suite: str | os.PathLike[str] | Sequence[Workload],
) -> list[Workload]:
    if isinstance(suite, Sequence) and not isinstance(suite, str):
        return list(suite)
    return load_suite(suite)


def run(
    plan: BenchmarkPlan, out: str | os.PathLike[str], *, progress: bool = True
) -> BenchmarkResult:
    """``prepare(plan, out).run(...)``: run the comparison on every workload of
    ``plan`` (each in ``out/<workload>``, resumable), score it as AlgoPerf does,
    write ``out/benchmark.json`` and the report; return the result."""
    return prepare(plan, out).run(progress=progress)


@dataclass(frozen=True)
class BenchmarkReady:
    """A planned benchmark and its claimed, checked folders (from
    :func:`prepare`): ``run()`` scores it, ``calibrate()`` sets its targets."""

    plan: BenchmarkPlan
    out: Path
    comparisons: dict[str, compare.Ready]

    def run(self, *, progress: bool = True) -> BenchmarkResult:
        """See :func:`run`."""
        return _run(self, progress)

    def calibrate(self, *, command: str, progress: bool = True) -> list[Workload]:
        """See :func:`calibrate`."""
        return _calibrate(self, command, progress)


def _run(ready: BenchmarkReady, progress: bool) -> BenchmarkResult:
    plan, root = ready.plan, ready.out
    results: dict[str, WorkloadResult] = {}
    times: dict[str, dict[str, float | None]] = {}
    seconds: dict[str, dict[str, float | None]] = {}
    per_study: dict[str, dict[str, list[float]]] = {}
    for k, workload in enumerate(plan.workloads, 1):
        if progress:
            print(f"[{k}/{len(plan.workloads)}] {workload.name}", flush=True)
        chosen = plan.protocol_for(workload)
        comparison = ready.comparisons[workload.name]
        found = comparison.run(
            progress=progress, command=f"gdlab benchmark ... ({workload.name})"
        )
        page = comparison.out / "report.html"
        entries = found.optimizers
        name = workload.name
        times[name] = {
            n: _finite(workload_time(e.studies, "step")) for n, e in entries.items()
        }
        seconds[name] = {
            n: _finite(workload_time(e.studies, "seconds")) for n, e in entries.items()
        }
        per_study[name] = {
            n: [study_time(st) for st in e.studies] for n, e in entries.items()
        }
        results[name] = WorkloadResult(
            spec=found.spec,
            target=workload.target,
            select=workload.select,
            calibrated_by=workload.calibrated_by,
            steps_to_target=times[name],
            seconds_to_target=seconds[name],
            study_steps={
                n: tuple(_finite(t) for t in ts) for n, ts in per_study[name].items()
            },
            test={n: e.summary.stats(chosen.metric).mean for n, e in entries.items()},
            test_metric=chosen.metric,
            report=str(page.relative_to(root)),
        )
    own = tuning.performance_profiles(times, TAUS)
    algoperf = profile(times)
    result = BenchmarkResult(
        workloads=results,
        protocol=dataclasses.replace(plan.protocol, target=None),  # the workloads'
        profiles=algoperf,
        scores=dict(algoperf.scores),
        intervals=_intervals(per_study, plan.protocol.studies),
        seconds=profile(seconds),
        own_view=OwnView(
            tuple(TAUS),
            {n: tuple(r) for n, r in own.items()},
            {n: profile_area(r) for n, r in own.items()},
        ),
        report=str(root / "report.html"),
    )
    from gdlab.report.benchmark import benchmark_report

    outputs.write_json(root / "benchmark.json", result.to_dict())  # NaN, inf: null
    page = benchmark_report(result, root)
    return dataclasses.replace(result, report=str(page))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _intervals(
    per_study: Mapping[str, Mapping[str, Sequence[float]]], studies: int
) -> dict[str, Interval]:
    """The score of each study alone (the six steps on its times), and their
    mean with a 95% t-interval over studies."""
    names = list(dict.fromkeys(n for w in per_study.values() for n in w))
    scores: dict[str, list[float]] = {n: [] for n in names}
    for i in range(studies):
        times = {
            w: {n: ts[i] for n, ts in by_name.items()}
            for w, by_name in per_study.items()
        }
        for n, score in profile(times).scores.items():
            scores[n].append(score)
    out = {}
    for n, xs in scores.items():
        stats = tuning.interval95(xs)
        out[n] = Interval(
            studies=tuple(xs),
            mean=statistics.fmean(xs),
            ci95=stats["ci95"],
            low=min(xs),
            high=max(xs),
        )
    return out


CALIBRATION_BASELINES = ("momentum", "adam")
"""The well-tuned baselines whose results set a suite's targets."""


def calibrate(
    plan: BenchmarkPlan,
    out: str | os.PathLike[str],
    *,
    command: str,
    progress: bool = True,
) -> list[Workload]:
    """Set each workload's target as AlgoPerf does, from well-tuned baselines run
    with a large budget (the plan's optimizers, default
    :data:`CALIBRATION_BASELINES`; its protocol, say 16 trials, 3 studies, 2
    reruns): a baseline's value is the median over studies of the mean over its
    reruns of the best validation measure reached (the highest accuracy, or the
    lowest loss for ``select = "val_loss"``); the target is the best baseline's
    value, rounded toward the easier side (down to 0.001 for accuracy, up to 3
    significant digits for a loss). Writes ``suite.toml`` into ``out`` with the
    workloads, their targets and ``calibrated_by = command``; returns them."""
    if plan.optimizers is None:
        plan = dataclasses.replace(plan, optimizers=CALIBRATION_BASELINES)
    return prepare(plan, out).calibrate(command=command, progress=progress)


def _calibrate(ready: BenchmarkReady, command: str, progress: bool) -> list[Workload]:
    root = ready.out
    done = []
    for workload in ready.plan.workloads:
        found = ready.comparisons[workload.name].run(progress=progress, command=command)
        values = [
            _baseline_value(e.studies, workload.select)
            for e in found.optimizers.values()
        ]
        if workload.select == "val_acc":
            target = math.floor(max(values) * 1000) / 1000
        else:
            best = min(values)
            digits = 2 - math.floor(math.log10(best))
            target = math.ceil(best * 10**digits) / 10**digits
        done.append(dataclasses.replace(workload, target=target, calibrated_by=command))
    outputs.write_text(root / "suite.toml", suite_toml(done))
    return done


def _baseline_value(studies: Sequence[StudyResult], select: str) -> float:
    pick = max if select == "val_acc" else min
    per_study = []
    for st in studies:
        best = [
            pick(
                (e[select] for e in r.epochs if e.get(select) is not None),
                default=0 if select == "val_acc" else math.inf,
            )
            for r in st.reruns
        ]
        per_study.append(statistics.fmean(best))
    return float(statistics.median(per_study))


def suite_toml(workloads: Sequence[Workload]) -> str:
    """A suite file for ``workloads``: their fields that differ from RunSpec's
    defaults, the target and its provenance."""
    default = RunSpec().to_dict()
    lines = ["# written by gdlab benchmark --calibrate"]
    for w in workloads:
        lines += ["", f"[{w.name}]"]
        for key, value in w.spec.to_dict().items():
            if (value != default.get(key) or key == "data") and value is not None:
                lines.append(f"{key} = {_toml(value)}")
        if w.select != "val_acc":
            lines.append(f"select = {_toml(w.select)}")
        lines.append(f"target = {w.target!r}")
        if w.calibrated_by is not None:
            lines.append(f"calibrated_by = {_toml(w.calibrated_by)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"suite_toml: cannot write {value!r}")


def format_table(result: BenchmarkResult) -> str:
    """Steps (and seconds) to target per workload and optimizer, each optimizer's
    AlgoPerf score with its interval over studies, and gdlab's own view."""
    names = list(result.scores)
    workloads = list(result.workloads)
    header = ["optimizer", *workloads, "score (AlgoPerf)", "per study: mean ± CI"]
    header += ["by seconds", "own view*"]
    lines = []
    for name in sorted(names, key=lambda n: -result.scores[n]):
        cells = [name]
        for w in result.workloads.values():
            t = w.steps_to_target.get(name)
            sec = w.seconds_to_target.get(name)
            cells.append("—" if t is None else f"{t:g} ({sec:.3g} s)")
        cells.append(f"{result.scores[name]:.3f}")
        iv = result.intervals[name]
        cells.append(
            f"{iv.mean:.3f}" + ("" if iv.ci95 is None else f" ± {iv.ci95:.3f}")
        )
        cells.append(f"{result.seconds.scores[name]:.3f}")
        cells.append(f"{result.own_view.scores[name]:.3f}")
        lines.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines
    ]
    out.append(
        "score: AlgoPerf's (fastest trial per study, median over studies, 4x cut, "
        "linear tau on [1, 4]); times: steps (seconds); * " + OWN_VIEW
    )
    return "\n".join(out)
