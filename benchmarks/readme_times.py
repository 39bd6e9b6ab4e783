"""Every time README quotes, measured by one command, printed in README's words.

Each README command runs here as README prints it, in a fresh folder, as a new
process (``python -m gdlab``: the gdlab this interpreter imports), and is measured
by its wall time, its CPU time (the command and its worker processes:
``RUSAGE_CHILDREN``) and the machine's load average before and after, as a range
over ``--repeats`` runs (the suite benchmark, about 25 minutes, runs once).
``make demo`` is also run once with empty per-machine caches (``NUMBA_CACHE_DIR``,
``GDLAB_KERNEL_CACHE`` and ``GDLAB_CACHE`` in a fresh folder), as a fresh clone
runs it: the kernels compile and the Sobol points are drawn in that run, and
every later one reads them from disk.
Then the scripts of ``make bench`` run, read from the Makefile's ``bench`` target
(so the two cannot part), and the scripts README quotes beyond it
(:data:`README_SCRIPTS`: the demo's, the suites' and the claims' calibration),
each printing its own figures (the rows of README's *Measured* tables)::

    .venv/bin/python benchmarks/readme_times.py              # everything: an hour
    .venv/bin/python benchmarks/readme_times.py --quick      # shortened, minutes
    .venv/bin/python benchmarks/readme_times.py --only demo,study-batch-size

``--quick`` runs every command shortened (fewer studies, workloads and repeats;
its lines say so) and ``make bench``'s scripts with short arguments: a check that
the script works, not figures to quote. README quotes the full run on a quiet
machine; every line carries the load it was measured at.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy  # noqa: F401  (loaded, so that machine() names its BLAS)
from common import machine

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Command:
    """A README command: its name, README's words for it, its arguments after
    ``gdlab`` (``{out}`` is a fresh folder), and the shortened ones of ``--quick``."""

    name: str
    says: str
    args: tuple[str, ...]
    quick: tuple[str, ...]
    cold: bool = False  # also once with an empty kernel cache
    once: bool = False  # one run, whatever --repeats says (it takes many minutes)


COMMANDS = (
    Command(
        "demo",
        "make demo (gdlab compare with its defaults: 12 optimizers on digits, "
        "5 studies x (4 trials + 2 reruns), 10 epochs)",
        ("compare", "--out", "{out}", "--quiet"),
        ("compare", "--out", "{out}", "--quiet", "--optimizers", "sgd,adam"),
        cold=True,
    ),
    Command(
        "benchmark-small",
        "gdlab benchmark --suite small --budget 4 --seeds 2 --studies 3 "
        "--workers 2 (its default optimizers)",
        (
            "benchmark", "--suite", "small", "--budget", "4", "--seeds", "2",
            "--studies", "3", "--workers", "2", "--out", "{out}", "--quiet",
        ),
        (
            "benchmark", "--suite", "small", "--budget", "2", "--seeds", "1",
            "--studies", "2", "--workers", "2", "--out", "{out}", "--quiet",
            "--only", "softmax-digits", "--optimizers", "sgd,adam",
        ),
        once=True,
    ),
    Command(
        "benchmark-calibrate",
        "gdlab benchmark --suite small --calibrate --only softmax-digits,"
        "mlp-digits,full-batch-digits --budget 16 --studies 3 --workers 2",
        (
            "benchmark", "--suite", "small", "--calibrate", "--only",
            "softmax-digits,mlp-digits,full-batch-digits", "--budget", "16",
            "--studies", "3", "--workers", "2", "--out", "{out}", "--quiet",
        ),
        (
            "benchmark", "--suite", "small", "--calibrate", "--only",
            "softmax-digits", "--budget", "2", "--studies", "2", "--workers", "2",
            "--out", "{out}", "--quiet",
        ),
    ),
    Command(
        "benchmark-calibrate-cnn",
        "gdlab benchmark --suite medium --calibrate --only cnn-digits --budget 16 "
        "--studies 3 --workers 2",
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only", "cnn-digits",
            "--budget", "16", "--studies", "3", "--workers", "2", "--out", "{out}",
            "--quiet",
        ),
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only", "cnn-digits",
            "--budget", "1", "--studies", "2", "--workers", "2", "--out", "{out}",
            "--quiet",
        ),
        once=True,
    ),
    Command(
        "benchmark-calibrate-medium",
        "gdlab benchmark --suite medium --calibrate --only quadratic-deep,"
        "autoencoder-digits --budget 16 --studies 3 --workers 2",
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only",
            "quadratic-deep,autoencoder-digits", "--budget", "16", "--studies",
            "3", "--workers", "2", "--out", "{out}", "--quiet",
        ),
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only",
            "quadratic-deep", "--budget", "2", "--studies", "2", "--workers", "2",
            "--out", "{out}", "--quiet",
        ),
        once=True,
    ),
    Command(
        "benchmark-calibrate-logreg",
        "gdlab benchmark --suite medium --calibrate --only logreg-fashion "
        "--budget 16 --studies 3 --workers 2",
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only",
            "logreg-fashion", "--budget", "16", "--studies", "3", "--workers", "2",
            "--out", "{out}", "--quiet",
        ),
        (
            "benchmark", "--suite", "medium", "--calibrate", "--only",
            "logreg-fashion", "--budget", "1", "--studies", "2", "--workers", "2",
            "--out", "{out}", "--quiet",
        ),
        once=True,
    ),
    Command(
        "study-batch-size",
        "gdlab study batch-size (digits, batch sizes 16-1024, 3 seeds, to "
        "training loss 0.01)",
        ("study", "batch-size", "--out", "{out}", "--quiet"),
        (
            "study", "batch-size", "--out", "{out}", "--quiet", "--batch-sizes",
            "16,1024", "--seeds", "1", "--until", "steps:200",
        ),
    ),
    Command(
        "study-edge-of-stability",
        "gdlab study edge-of-stability (lrs 0.5, 0.6, 0.7 on 1000 digits)",
        ("study", "edge-of-stability", "--out", "{out}", "--quiet"),
        (
            "study", "edge-of-stability", "--out", "{out}", "--quiet", "--lrs",
            "0.5", "--steps", "100",
        ),
    ),
    Command(
        "fashion-epoch",
        "gdlab train on Fashion-MNIST, MLP 784-100-10, SGD, 1 epoch of batch 100 "
        "(start-up, data loading and the evaluations included)",
        (
            "train", "--data", "fashion-mnist", "--model", "mlp:784-100-10",
            "--optimizer", "sgd", "--lr", "0.1", "--epochs", "1", "--out", "{out}",
        ),
        (
            "train", "--data", "fashion-mnist", "--model", "mlp:784-100-10",
            "--optimizer", "sgd", "--lr", "0.1", "--epochs", "1", "--out", "{out}",
        ),
    ),
)  # fmt: skip

MAKEFILE = HERE.parent / "Makefile"

QUICK = {  # --quick: arguments added after a script's own (argparse: the last wins)
    "bench_step.py": ("--size", "1000000", "--repeats", "2"),
    "bench_muon.py": ("--repeats", "2", "--steps", "5"),
    "bench_mlp.py": ("--batch-sizes", "100", "--epochs", "2", "--no-sklearn"),
    "bench_paths.py": ("--batch-sizes", "100", "--epochs", "2"),
    "bench_report.py": ("--repeats", "2"),
    "bench_surfaces.py": ("--runs", "200", "--steps", "100", "--repeats", "2"),
    "bench_sweep.py": ("--runs", "30", "--repeats", "1"),
    "bench_compare_overhead.py": ("--repeats", "1"),
    "bench_populations.py": ("--repeats", "1", "--steps", "4", "--no-fashion"),
    "bench_playground.py": ("--clients", "20", "--abandoned", "2"),
    "bench_torch_threads.py": ("--repeats", "1", "--epochs", "1"),
    "bench_torch_cnn.py": ("--epochs", "1", "--rows", "256"),
    "bench_demo.py": ("--repeats", "1"),
    "bench_suites.py": ("--only", "small", "--optimizers", "2"),
    "bench_calibration.py": ("--comparisons", "1"),
}
QUICK_DROPS = ("--ray", "--repeat-demo")
"""Arguments that --quick leaves out: Ray's start-up, five more demos."""

README_SCRIPTS = (  # README quotes them; not in make bench (they take minutes)
    ("bench_demo.py", ("--repeats", "3")),
    ("bench_suites.py", ()),
    ("bench_calibration.py", ()),
    ("bench_calibration.py", ("--comparisons", "0", "--repeat-demo")),
)


def make_bench(makefile: Path = MAKEFILE) -> list[tuple[str, tuple[str, ...]]]:
    """The script and arguments of each line of the Makefile's ``bench`` target
    (``$(BENCH) benchmarks/NAME.py ARGS``), in its order: what ``make bench`` runs
    is what this script runs."""
    lines = makefile.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("bench:"))
    runs = []
    for line in lines[first + 1 :]:
        if not line.startswith("\t"):
            break
        words = line.split()
        if words[0] == "$(BENCH)" and words[1].startswith("benchmarks/"):
            runs.append((words[1].removeprefix("benchmarks/"), tuple(words[2:])))
    return runs


@dataclass
class Figures:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)


def span(values: list[float], digits: int = 1) -> str:
    """``a–b`` (one value: ``a``), as README writes a range."""
    lo, hi = min(values), max(values)
    if f"{lo:.{digits}f}" == f"{hi:.{digits}f}":
        return f"{lo:.{digits}f}"
    return f"{lo:.{digits}f}–{hi:.{digits}f}"


def minutes(seconds: float) -> str:
    """``2 min 43 s`` above a minute, else ``43.2 s``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {round(seconds % 60):d} s"


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (this process's children) of one command; its output
    is kept back unless it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"readme_times: {' '.join(args)} exited {done.returncode}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def measure(command: Command, quick: bool, repeats: int) -> None:
    args = command.quick if quick else command.args
    repeats = 1 if command.once else repeats
    shown = " ".join(a for a in args if a not in ("{out}", "--out", "--quiet"))
    note = "  [--quick: shortened]" if args != command.args else ""
    print(f"\n{command.says}\n  gdlab {shown}{note}")
    gdlab = [sys.executable, "-m", "gdlab"]
    if command.cold:
        temporary = tempfile.TemporaryDirectory
        with temporary() as cache, temporary() as out:
            env = {  # every per-machine cache empty: kernels, Sobol points
                **os.environ,
                "NUMBA_CACHE_DIR": cache,
                "GDLAB_KERNEL_CACHE": f"{cache}/kernels",
                "GDLAB_CACHE": cache,
            }
            load = os.getloadavg()[0]
            wall, cpu = run([*gdlab, *(a.format(out=out) for a in args)], env)
            print(
                f"  cold (empty kernel cache: every kernel compiles): {minutes(wall)} "
                f"wall, {cpu:.1f} s CPU at load {load:.1f}–{os.getloadavg()[0]:.1f}"
            )
    figures = Figures()
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            figures.load.append(os.getloadavg()[0])
            wall, cpu = run([*gdlab, *(a.format(out=out) for a in args)])
            figures.wall.append(wall)
            figures.cpu.append(cpu)
            figures.load.append(os.getloadavg()[0])
    median = statistics.median(figures.wall)
    print(
        f"  {span(figures.wall)} s wall ({minutes(median)}), {span(figures.cpu)} s "
        f"CPU (command and workers), {repeats} run(s) at load {span(figures.load)}"
    )


def bench(quick: bool, only: set[str] | None) -> None:
    """Run ``make bench``'s scripts, then the others README quotes."""
    for script, args in [*make_bench(), *README_SCRIPTS]:
        name = script.removesuffix(".py")
        if only is not None and name not in only:
            continue
        chosen = args
        if quick:
            chosen = (*(a for a in args if a not in QUICK_DROPS), *QUICK[script])
        print(f"\n--- {script} {' '.join(chosen)}", flush=True)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        }
        done = subprocess.run(
            [sys.executable, str(HERE / script), *chosen], cwd=HERE, env=env
        )
        print(
            f"--- {script}: {minutes(time.perf_counter() - start)} wall, load "
            f"{load:.1f} before, {os.getloadavg()[0]:.1f} after"
            + ("" if done.returncode == 0 else f", FAILED ({done.returncode})"),
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shortened: a check")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (1)")
    scripts = [s.removesuffix(".py") for s, _ in [*make_bench(), *README_SCRIPTS]]
    names = [c.name for c in COMMANDS] + list(dict.fromkeys(scripts))
    parser.add_argument("--only", default=None, help=",".join(names))
    args = parser.parse_args(argv)
    only = None if args.only is None else set(args.only.split(","))
    if only is not None and only - set(names):
        parser.error(f"--only: unknown {sorted(only - set(names))}; known: {names}")
    repeats = args.repeats or (1 if args.quick else 3)
    print(
        f"readme_times{' --quick' if args.quick else ''}: "
        f"{time.strftime('%d %b %Y %H:%M %Z')}\n{machine()}"
    )
    for command in COMMANDS:
        if only is None or command.name in only:
            measure(command, args.quick, repeats)
    bench(args.quick, only)


if __name__ == "__main__":
    main()
