"""Many workloads, one verdict: the fair comparison on each workload of a suite,
scored as AlgoPerf scores it (Dahl et al. 2023; ``scoring/performance_profile.py``
of mlcommons/algorithmic-efficiency).

A suite is data, not code: a TOML (or JSON) table of workloads, each a table of
:class:`~gdlab.experiment.RunSpec` fields (``eval_every``: evaluate every k steps,
so that times are not quantized by epochs), the validation accuracy its
time-to-result waits for (``target``) and the command that calibrated that target
(``calibrated_by``). ``gdlab benchmark --suite small`` runs the built-in
``suites/small.toml``; ``--suite my.toml`` a user's own.

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
import re
import stat
import statistics
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from gdlab import _checks, outputs
from gdlab.experiment import RunSpec
from gdlab.lab import compare, tuning

SUITES = ("small",)
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
OWN_VIEW = (
    "gdlab's own view, not AlgoPerf's: the Dolan & Moré profile of the same "
    "times on a log axis up to tau = 10, its area divided by log 10"
)
"""The words that label gdlab's own profile view wherever it is shown."""
FORMAT = "gdlab-benchmark"
"""The ``format`` of ``benchmark.json``."""
VERSION = 2
"""Version 2: studies, AlgoPerf's profile and scores, intervals over studies."""


@dataclass(frozen=True)
class Workload:
    """One problem of a suite: a run to train and the target its time waits for."""

    name: str
    spec: RunSpec
    target: float
    calibrated_by: str | None = None
    """The command that calibrated ``target`` (AlgoPerf sets targets from
    well-tuned baselines run with a large budget)."""


SUITE_MAX_BYTES = 1 << 20
"""The largest suite file read (1 MiB; a suite of a hundred workloads is 20 KB):
a link to ``/dev/zero`` must not be read without bound."""
RESERVED_SUFFIXES = (".json", ".html", ".png", ".csv", ".db", ".lock", ".tmp")
"""A workload's folder sits beside the benchmark's own files (``benchmark.json``,
``report.html``, ``profiles.png``): its name may not end like one of them."""


def load_suite(suite: str | os.PathLike[str]) -> list[Workload]:
    """The workloads of a built-in suite (``"small"``) or of a TOML/JSON file: a
    regular file of at most :data:`SUITE_MAX_BYTES`, each workload named once."""
    if isinstance(suite, str) and suite in SUITES:
        text = resources.files("gdlab.lab").joinpath(f"suites/{suite}.toml").read_text()
        where = f"suite {suite!r}"
        table = tomllib.loads(text)
    else:
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
    workloads = []
    seen: dict[str, str] = {}
    for name, fields in table.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
            _checks.fail(where, "a workload name", "letters, digits, _ . -", name)
        if name.lower().endswith(RESERVED_SUFFIXES):
            _checks.fail(
                where,
                "a workload name",
                f"a folder name not ending in {', '.join(RESERVED_SUFFIXES)} (the "
                "benchmark's own files sit beside it)",
                name,
            )
        if name.lower() in seen:  # one folder on a case-insensitive file system
            _checks.fail(
                where, "a workload name", f"other than {seen[name.lower()]!r}", name
            )
        seen[name.lower()] = name
        if not isinstance(fields, dict):
            _checks.fail(where, f"workload {name!r}", "a table of fields", fields)
        values = dict(fields)
        target = _checks.number(
            where, f"{name}.target", values.pop("target", None), low=0, high=1,
            low_open=True,
        )  # fmt: skip
        calibrated_by = values.pop("calibrated_by", None)
        if calibrated_by is not None and not isinstance(calibrated_by, str):
            _checks.fail(where, f"{name}.calibrated_by", "a command", calibrated_by)
        try:
            spec = RunSpec.from_dict(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: workload {name!r}: {error}") from None
        workloads.append(Workload(str(name), spec, target, calibrated_by))
    return workloads


def _read_suite(path: Path, where: str) -> str:
    """The text of suite file ``path``: a regular file (a FIFO would block, a
    device never end) of at most :data:`SUITE_MAX_BYTES`, in UTF-8."""
    cannot = f"; give a TOML or JSON file, or one of {', '.join(SUITES)}"
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


def study_time(study: Mapping[str, Any], unit: str = "step") -> float:
    """Step 1, t_i(p, s): among the study's trials (its reruns when it had no
    search), the one that reached the target at the earliest evaluation index
    (the first such trial on a tie); its time in ``unit`` (``step`` or
    ``seconds``); inf when none reached it."""
    runs = study["trials"] or study["reruns"]
    reached = [r["to_target"] for r in runs if r["to_target"] is not None]
    if not reached:
        return math.inf
    return float(min(reached, key=lambda t: t["evaluation"])[unit])


def workload_time(entry: Mapping[str, Any], unit: str = "step") -> float:
    """Step 2, t(p, s): the median over studies of :func:`study_time`."""
    return float(np.median([study_time(st, unit) for st in entry["studies"]]))


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


@dataclass(frozen=True)
class Profile:
    """AlgoPerf's performance profiles and scores of some times to target:
    ``rho[s][k]`` is rho_s(taus[k]); ``scores[s]`` its normalized integral."""

    taus: tuple[float, ...]
    rho: dict[str, tuple[float, ...]]
    scores: dict[str, float]

    def __post_init__(self) -> None:
        owner = "Profile"
        if not self.taus or any(
            b <= a for a, b in zip(self.taus, self.taus[1:], strict=False)
        ):
            _checks.fail(owner, "taus", "an increasing non-empty grid", self.taus)
        if set(self.rho) != set(self.scores):
            _checks.fail(owner, "scores", "one per solver of rho", sorted(self.scores))
        for name, values in self.rho.items():
            if len(values) != len(self.taus) or any(
                not 0.0 <= v <= 1.0 for v in values
            ):
                _checks.fail(
                    owner, f"rho[{name!r}]", "shares in [0, 1], one a tau", values
                )
            _checks.number(
                owner, f"scores[{name!r}]", self.scores[name], low=0.0, high=1.0
            )

    @classmethod
    def of(
        cls,
        times: Mapping[str, Mapping[str, float | None]],
        taus: Sequence[float] = ALGOPERF_TAUS,
    ) -> Profile:
        """Steps 3–6 on ``times[workload][solver]``."""
        rho = algoperf_profiles(times, taus)
        return cls(
            tuple(taus),
            {n: tuple(r) for n, r in rho.items()},
            {n: algoperf_score(r, taus) for n, r in rho.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Profile:
        names = [f.name for f in dataclasses.fields(cls)]
        if not isinstance(values, Mapping) or sorted(values) != sorted(names):
            _checks.fail("Profile", "value", f"an object of {', '.join(names)}", values)
        return cls(
            tuple(values["taus"]),
            {n: tuple(r) for n, r in values["rho"].items()},
            dict(values["scores"]),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


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


def check(
    suite: str | os.PathLike[str] | Sequence[Workload],
    folder: str | os.PathLike[str],
    optimizers: Sequence[str] | None = None,
    protocol: compare.Protocol | None = None,
    *,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> None:
    """What :func:`benchmark` checks before anything trains, as a step of its own
    (a command checks what its user typed with it, then runs): the suite, and every
    workload's comparison (:func:`~gdlab.lab.compare.plan`); claims the folders."""
    protocol = protocol or compare.Protocol(budget=4, seeds=2, studies=3)
    _checked(suite, folder, optimizers, protocol, workers, backend, progress)


def select(
    suite: str | os.PathLike[str] | Sequence[Workload], only: Sequence[str] | None
) -> list[Workload]:
    """The workloads of ``suite`` named in ``only`` (all when None), in suite order."""
    workloads = _workloads(suite)
    known = [w.name for w in workloads]
    for name in only or []:
        if name not in known:
            _checks.fail("benchmark", "--only", f"one of {', '.join(known)}", name)
    return [w for w in workloads if only is None or w.name in only]


def _workloads(
    suite: str | os.PathLike[str] | Sequence[Workload],
) -> list[Workload]:
    if isinstance(suite, Sequence) and not isinstance(suite, str):
        return list(suite)
    return load_suite(suite)


def _checked(
    suite: str | os.PathLike[str] | Sequence[Workload],
    folder: str | os.PathLike[str],
    optimizers: Sequence[str] | None,
    protocol: compare.Protocol,
    workers: int | None,
    backend: str,
    progress: bool,
) -> tuple[list[Workload], Path]:
    """:func:`check`, giving back the workloads and the claimed folder."""
    workloads = _workloads(suite)
    root = outputs.claim(folder, "benchmark")
    for workload in workloads:
        outputs.claim(root / workload.name, "compare")
        compare.plan(
            workload.spec,
            optimizers,
            dataclasses.replace(protocol, target=workload.target),
            workers=workers,
            backend=backend,
        )
    return workloads, root


def benchmark(
    suite: str | os.PathLike[str] | Sequence[Workload],
    folder: str | os.PathLike[str],
    optimizers: Sequence[str] | None = None,
    protocol: compare.Protocol | None = None,
    *,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> dict[str, Any]:
    """Run the comparison ``protocol`` on every workload of ``suite`` (each in
    ``folder/<workload>``, resumable); return the profiles as plain data."""
    from gdlab.lab.runs import compare_into

    protocol = protocol or compare.Protocol(budget=4, seeds=2, studies=3)
    workloads, root = _checked(
        suite, folder, optimizers, protocol, workers, backend, progress
    )
    results: dict[str, Any] = {"format": FORMAT, "version": VERSION, "workloads": {}}
    times: dict[str, dict[str, float | None]] = {}
    seconds: dict[str, dict[str, float | None]] = {}
    per_study: dict[str, dict[str, list[float]]] = {}
    for k, workload in enumerate(workloads, 1):
        if progress:
            print(f"[{k}/{len(workloads)}] {workload.name}", flush=True)
        chosen = dataclasses.replace(protocol, target=workload.target)
        found, page = compare_into(
            root / workload.name,
            workload.spec,
            optimizers,
            chosen,
            workers=workers,
            backend=backend,
            progress=progress,
            command=f"gdlab benchmark ... ({workload.name})",
        )
        entries = found.to_dict()["optimizers"]  # plain: study_time reads JSON
        times[workload.name] = {
            n: _finite(workload_time(e, "step")) for n, e in entries.items()
        }
        seconds[workload.name] = {
            n: _finite(workload_time(e, "seconds")) for n, e in entries.items()
        }
        per_study[workload.name] = {
            n: [study_time(st) for st in e["studies"]] for n, e in entries.items()
        }
        results["workloads"][workload.name] = {
            "spec": found.spec,
            "target": workload.target,
            "calibrated_by": workload.calibrated_by,
            "steps_to_target": times[workload.name],
            "seconds_to_target": seconds[workload.name],
            "study_steps": {
                n: [_finite(t) for t in ts]
                for n, ts in per_study[workload.name].items()
            },
            "test_acc": {
                n: e["summary"]["test_acc"]["mean"] for n, e in entries.items()
            },
            "report": str(page.relative_to(root)),
        }
    profile = Profile.of(times)
    results["protocol"] = {
        k: v for k, v in dataclasses.asdict(protocol).items() if k != "target"
    }
    results["profiles"] = profile.to_dict()
    results["scores"] = profile.scores
    results["intervals"] = _intervals(per_study, protocol.studies)
    results["seconds"] = Profile.of(seconds).to_dict()
    own = tuning.performance_profiles(times, TAUS)
    results["own_view"] = {
        "label": OWN_VIEW,
        "taus": TAUS,
        "rho": own,
        "scores": {n: profile_area(r) for n, r in own.items()},
    }
    outputs.write_json(root / "benchmark.json", results)  # strict: NaN, inf as null
    from gdlab.report.benchmark import benchmark_report

    results["report"] = str(benchmark_report(results, root))
    return results


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _intervals(
    per_study: Mapping[str, Mapping[str, Sequence[float]]], studies: int
) -> dict[str, dict[str, Any]]:
    """The score of each study alone (the six steps on its times), and their
    mean with a 95% t-interval over studies."""
    names = list(dict.fromkeys(n for w in per_study.values() for n in w))
    scores: dict[str, list[float]] = {n: [] for n in names}
    for i in range(studies):
        times = {
            w: {n: ts[i] for n, ts in by_name.items()}
            for w, by_name in per_study.items()
        }
        for n, score in Profile.of(times).scores.items():
            scores[n].append(score)
    out = {}
    for n, xs in scores.items():
        stats = tuning.interval95(xs)
        out[n] = {
            "studies": xs,
            "mean": stats["mean"],
            "ci95": stats["ci95"],
            "low": min(xs),
            "high": max(xs),
        }
    return out


CALIBRATION_BASELINES = ("momentum", "adam")
"""The well-tuned baselines whose results set a suite's targets."""


def calibrate(
    suite: str | os.PathLike[str] | Sequence[Workload],
    folder: str | os.PathLike[str],
    baselines: Sequence[str] | None = None,
    protocol: compare.Protocol | None = None,
    *,
    command: str,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> list[Workload]:
    """Set each workload's target as AlgoPerf does, from well-tuned baselines run
    with a large budget: each baseline is compared (``protocol``, by default 16
    trials, 3 studies, 2 reruns); its value is the median over studies of the
    mean over its reruns of the best validation accuracy reached; the target is
    the best baseline's value, rounded down to 0.001. Writes ``suite.toml`` into
    ``folder`` with the workloads, their targets and ``calibrated_by = command``
    (:func:`select` picks some workloads of a suite); returns them calibrated."""
    from gdlab.lab.runs import compare_into

    protocol = protocol or compare.Protocol(budget=16, seeds=2, studies=3)
    names = list(baselines or CALIBRATION_BASELINES)
    workloads, root = _checked(
        suite, folder, names, protocol, workers, backend, progress
    )
    out = []
    for workload in workloads:
        found, _ = compare_into(
            root / workload.name,
            workload.spec,
            names,
            dataclasses.replace(protocol, target=workload.target),
            workers=workers,
            backend=backend,
            progress=progress,
            command=command,
        )
        values = [
            _baseline_value(e["studies"])
            for e in found.to_dict()["optimizers"].values()
        ]
        target = math.floor(max(values) * 1000) / 1000
        out.append(dataclasses.replace(workload, target=target, calibrated_by=command))
    outputs.write_text(root / "suite.toml", suite_toml(out))
    return out


def _baseline_value(studies: Sequence[Mapping[str, Any]]) -> float:
    per_study = []
    for st in studies:
        best = [
            max(
                (e["val_acc"] for e in r["history"]["epochs"] if e["val_acc"]),
                default=0,
            )
            for r in st["reruns"]
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


def format_table(results: Mapping[str, Any]) -> str:
    """Steps (and seconds) to target per workload and optimizer, each optimizer's
    AlgoPerf score with its interval over studies, and gdlab's own view."""
    names = list(results["scores"])
    workloads = list(results["workloads"])
    header = ["optimizer", *workloads, "score (AlgoPerf)", "per study: mean ± CI"]
    header += ["by seconds", "own view*"]
    lines = []
    for name in sorted(names, key=lambda n: -results["scores"][n]):
        cells = [name]
        for w in workloads:
            t = results["workloads"][w]["steps_to_target"].get(name)
            sec = results["workloads"][w]["seconds_to_target"].get(name)
            cells.append("—" if t is None else f"{t:g} ({sec:.3g} s)")
        cells.append(f"{results['scores'][name]:.3f}")
        iv = results["intervals"][name]
        cells.append(
            f"{iv['mean']:.3f}" + ("" if iv["ci95"] is None else f" ± {iv['ci95']:.3f}")
        )
        cells.append(f"{results['seconds']['scores'][name]:.3f}")
        cells.append(f"{results['own_view']['scores'][name]:.3f}")
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
