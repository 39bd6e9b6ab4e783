"""Many workloads, one verdict: the fair comparison on each workload of a suite,
summarized by performance profiles of time to a validation target.

A suite is data, not code: a TOML (or JSON) table of workloads, each a table of
:class:`~gdlab.experiment.RunSpec` fields plus the validation accuracy its
time-to-result waits for (``target``). ``gdlab benchmark --suite small`` runs the
built-in ``suites/small.toml``; ``--suite my.toml`` a user's own.

For workload p and optimizer s, t(p, s) is the median over the reruns of the
steps until the validation accuracy first reaches the target (a rerun that never
does counts as infinitely slow); the performance profile of s is the share of
workloads on which t(p, s) is within a factor tau of the fastest optimizer's
(Dolan & Moré 2002), summarized, as AlgoPerf does, by its normalized area up to
tau_max on a log axis (Dahl et al. 2023).
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
TAU_MAX = 10.0
"""The largest factor τ the performance profiles reach, and so their score's range."""
TAUS = [float(t) for t in np.exp(np.linspace(0.0, math.log(TAU_MAX), 41))]
"""The factors tau at which the profiles are given: 1 to TAU_MAX, log-spaced."""
FORMAT = "gdlab-benchmark"
"""The ``format`` of ``benchmark.json``."""


@dataclass(frozen=True)
class Workload:
    """One problem of a suite: a run to train and the target its time waits for."""

    name: str
    spec: RunSpec
    target: float


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
        try:
            spec = RunSpec.from_dict(values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: workload {name!r}: {error}") from None
        workloads.append(Workload(str(name), spec, target))
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


def time_to_target(entry: Mapping[str, Any]) -> float:
    """t(p, s): the median over the reruns of the steps to the target (inf for a
    rerun that never reached it)."""
    steps = [
        r["to_target"]["step"] if r["to_target"] is not None else math.inf
        for r in entry["reruns"]
    ]
    return float(statistics.median(steps))


def profile_area(rho: Sequence[float], taus: Sequence[float] = TAUS) -> float:
    """The area under rho(tau) on a log-tau axis from 1 to tau_max, divided by
    log(tau_max): 1 for an optimizer fastest on every workload."""
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
    workload's comparison (:func:`~gdlab.lab.compare.check`); claims the folders."""
    protocol = protocol or compare.Protocol(budget=4, seeds=2)
    _checked(suite, folder, optimizers, protocol, workers, backend, progress)


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
    workloads = (
        list(suite)
        if isinstance(suite, Sequence) and not isinstance(suite, str)
        else load_suite(suite)
    )
    root = outputs.claim(folder, "benchmark")
    for workload in workloads:
        where = outputs.claim(root / workload.name, "compare")
        compare.check(
            workload.spec,
            optimizers,
            dataclasses.replace(protocol, target=workload.target),
            store=where / "sweep.db",
            workers=workers,
            backend=backend,
            progress=progress,
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

    protocol = protocol or compare.Protocol(budget=4, seeds=2)
    workloads, root = _checked(
        suite, folder, optimizers, protocol, workers, backend, progress
    )
    results: dict[str, Any] = {"format": FORMAT, "workloads": {}}
    times: dict[str, dict[str, float | None]] = {}
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
        entries = found.results["optimizers"]
        t = {name: time_to_target(entry) for name, entry in entries.items()}
        times[workload.name] = {
            n: v if math.isfinite(v) else None for n, v in t.items()
        }
        results["workloads"][workload.name] = {
            "spec": found.results["spec"],
            "target": workload.target,
            "steps_to_target": times[workload.name],
            "test_acc": {
                n: e["summary"]["test_acc"]["mean"] for n, e in entries.items()
            },
            "report": str(page.relative_to(root)),
        }
    rho = tuning.performance_profiles(times, TAUS)
    results["protocol"] = {
        k: v for k, v in dataclasses.asdict(protocol).items() if k != "target"
    }
    results["profiles"] = {"taus": TAUS, "rho": rho}
    results["scores"] = {name: profile_area(r) for name, r in rho.items()}
    outputs.write_json(root / "benchmark.json", results)  # strict: NaN, inf as null
    from gdlab.report.benchmark import benchmark_report

    results["report"] = str(benchmark_report(results, root))
    return results


def format_table(results: Mapping[str, Any]) -> str:
    """Steps to target per workload and optimizer, and each optimizer's score."""
    names = list(results["scores"])
    workloads = list(results["workloads"])
    header = ["optimizer", *workloads, "score"]
    lines = []
    for name in sorted(names, key=lambda n: -results["scores"][n]):
        cells = [name]
        for w in workloads:
            t = results["workloads"][w]["steps_to_target"].get(name)
            cells.append("—" if t is None else f"{t:g}")
        cells.append(f"{results['scores'][name]:.3f}")
        lines.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in lines
    ]
    return "\n".join(out)
