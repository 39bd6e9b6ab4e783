"""Where a small comparison's wall time goes, with 1 worker and with 2.

Runs, as a fresh ``gdlab`` process each time (a user's command, import included),
into a fresh output folder::

    gdlab compare --optimizers sgd,adam --budget 8 --seeds 3 --studies 1 \
        --epochs 20 --workers W

on digits (16 trials, 6 reruns: 22 runs of the 64-100-10 MLP), and splits its wall
time by the moments its progress lines reach the pipe:

* **before** the first trial: start-up, import, data, checks, workers starting;
* **fits**: from the trials' first line to their last, plus the same for the reruns;
* **gap** between the last trial and the first rerun;
* **after** the last rerun: the claims, the table and the report.

It then splits the CPU seconds of the same command by what they are spent on
(``--cpu-split``, the default: one more fresh process per worker count, which runs
the command through ``gdlab.cli.main`` with timers around its steps):

* **start-up**: importing ``gdlab.cli`` (Python, NumPy, Numba, click, gdlab);
* **data**: loading digits (``datacache.load``) and its validation split;
* **plan**: the rest of ``compare.plan`` and ``prepare`` (every run checked and
  built once, the store claimed);
* **training**: ``sweep.run_specs`` of the trials and the reruns (the workers'
  CPU, ``RUSAGE_CHILDREN``, added);
* **report**: drawing the PNGs and writing ``report.html``;
* **rest**: the claims, the table, results.json and whatever else.

Besides the wall time it prints the CPU seconds of the process and its workers
(``RUSAGE_CHILDREN``) and the machine's load, since the machine is shared. Before
the timed repeats one untimed run fills the kernel cache (compiling is a one-off
per machine, not part of a command's cost). Each figure is the median (range) over
``--repeats``, the worker counts taking turns::

    python benchmarks/bench_compare_overhead.py [--repeats 3] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, summary

COMMAND = [
    "compare",
    "--optimizers",
    "sgd,adam",
    "--budget",
    "8",
    "--seeds",
    "3",
    "--studies",
    "1",
    "--epochs",
    "20",
]
PARTS = ("wall", "before", "fits", "gap", "after", "cpu")


def once(workers: int, out: Path) -> dict[str, float]:
    """Run the command once; the seconds of each part of its wall time."""
    argv = [sys.executable, "-m", "gdlab", *COMMAND, "--workers", str(workers)]
    argv += ["--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert process.stdout is not None
    stamps: list[tuple[float, str]] = []
    for line in process.stdout:
        stamps.append((time.perf_counter() - start, line))
    if process.wait():
        raise SystemExit(f"{' '.join(argv)} failed with status {process.returncode}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # "N runs (...)" opens each phase; "  [i/N] ..." is one finished run
    opens = [t for t, line in stamps if " runs (" in line and "to run" in line]
    phases: list[list[float]] = []
    for t, line in stamps:
        if " runs (" in line and "to run" in line:
            phases.append([])
        elif line.startswith("  [") and phases:
            phases[-1].append(t)
    if len(opens) != 2 or not all(phases):
        raise SystemExit(f"unexpected output of {' '.join(argv)}")
    trials, reruns = phases
    return {
        "wall": wall,
        "before": opens[0],
        "fits": (trials[-1] - opens[0]) + (reruns[-1] - opens[1]),
        "gap": opens[1] - trials[-1],
        "after": wall - reruns[-1],
        "cpu": cpu,
    }


SPLIT = ("start-up", "data", "plan", "training", "report", "rest", "cpu")
DRIVER = r"""
import json, resource, sys, time
t0 = time.process_time()
import gdlab.cli
from gdlab.lab import compare
from gdlab.lab.sweep import datacache
from gdlab.report import compare as drawn
spent = {"start-up": time.process_time() - t0}
def timed(owner, name, part):
    inner = getattr(owner, name)
    def wrapper(*args, **kwargs):
        c0 = time.process_time()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            return inner(*args, **kwargs)
        finally:
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            extra = (kids.ru_utime - kids0.ru_utime) + (kids.ru_stime - kids0.ru_stime)
            spent[part] = spent.get(part, 0.0) + time.process_time() - c0 + extra
    setattr(owner, name, wrapper)
timed(datacache, "load", "data")
timed(compare, "plan", "plan")
timed(compare, "prepare", "plan")
timed(compare.sweep, "run_specs", "training")
timed(drawn, "comparison_report", "report")
try:
    gdlab.cli.main(sys.argv[1:], standalone_mode=False)
finally:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    spent["plan"] = spent.get("plan", 0.0) - spent.get("data", 0.0)
    spent["rest"] = cpu - sum(spent.values())
    spent["cpu"] = cpu
    print("SPLIT " + json.dumps(spent))
"""


def split(workers: int, out: Path) -> dict[str, float]:
    """CPU seconds of the command by step (see the module's docstring)."""
    argv = [sys.executable, "-c", DRIVER, *COMMAND, "--workers", str(workers)]
    argv += ["--out", str(out), "--quiet"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [x for x in done.stdout.splitlines() if x.startswith("SPLIT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{' '.join(argv[3:])} failed:\n{done.stderr[-2000:]}")
    found: dict[str, float] = json.loads(lines[-1][len("SPLIT ") :])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="comma-separated counts")
    parser.add_argument(
        "--no-cpu-split", action="store_true", help="skip the CPU split by step"
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    print(machine())
    print(f"command: gdlab {' '.join(COMMAND)} --workers W  (digits, 22 runs)")
    found: dict[int, dict[str, list[float]]] = {
        w: {p: [] for p in PARTS} for w in counts
    }
    with tempfile.TemporaryDirectory() as tmp:
        once(1, Path(tmp) / "warm")  # fills the kernel cache: not timed
        for r in range(args.repeats):
            for w in counts:
                for part, seconds in once(w, Path(tmp) / f"w{w}-{r}").items():
                    found[w][part].append(seconds)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"median (min–max) of {args.repeats} repeats, seconds; load now {load}")
    print(f"{'':>10}" + "".join(f"{'--workers ' + str(w):>24}" for w in counts))
    for part in PARTS:
        print(f"{part:>10}" + "".join(f"{summary(found[w][part]):>24}" for w in counts))
    one = sorted(found[counts[0]]["wall"])[len(found[counts[0]]["wall"]) // 2]
    for w in counts[1:]:
        other = sorted(found[w]["wall"])[len(found[w]["wall"]) // 2]
        print(f"--workers {w} / --workers {counts[0]}: {other / one:.2f}x wall time")
    if args.no_cpu_split:
        return
    steps: dict[int, dict[str, list[float]]] = {
        w: {p: [] for p in SPLIT} for w in counts
    }
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for w in counts:
                for part, seconds in split(w, Path(tmp) / f"s{w}-{r}").items():
                    steps[w][part].append(seconds)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"CPU seconds by step, median (min–max) of {args.repeats}; load now {load}")
    print(f"{'':>10}" + "".join(f"{'--workers ' + str(w):>24}" for w in counts))
    for part in SPLIT:
        print(f"{part:>10}" + "".join(f"{summary(steps[w][part]):>24}" for w in counts))


if __name__ == "__main__":
    main()
