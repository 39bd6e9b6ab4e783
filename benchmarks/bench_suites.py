"""How long the built-in benchmark suites take, two ways.

By default, from one run of each workload: the run (a trial at the suite's
settings, Adam at its default lr, evaluations included, on one BLAS and one torch
thread as every sweep run trains) timed in CPU seconds, times the runs a benchmark
trains there (optimizers x studies x (budget + seeds)), summed per suite and
divided by the cores. Training dominates a benchmark (the reports add seconds), so
the sum is its CPU time to within them; the wall time on an idle machine is about
CPU / cores. On a shared machine CPU seconds say more than wall seconds, so both
are printed with the load::

    python benchmarks/bench_suites.py [--optimizers 12] [--budget 4] [--seeds 2]
        [--studies 3] [--cores 2] [--only small]

With ``--whole``, the command README quotes itself, ``gdlab benchmark --suite
SUITE --budget 4 --seeds 2 --studies 3 --workers 2`` (the course's twelve
optimizers), run into a fresh folder and timed: wall seconds, and the CPU seconds
of the command and its workers::

    python benchmarks/bench_suites.py --whole --only small
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine

from gdlab.experiment import build
from gdlab.lab import benchmark
from gdlab.lab.threads import one_blas_thread
from gdlab.train import fit


def run_seconds(workload: benchmark.Workload) -> tuple[float, float]:
    """(CPU, wall) seconds of one run of ``workload`` with Adam, data loaded
    before (each process loads it once)."""
    with one_blas_thread():  # as every sweep run trains (torch's pool too)
        run = build(workload.spec.replace(optimizer="adam"))
        run.optimizer.warm_up()
        cpu, wall = time.process_time(), time.perf_counter()
        fit(run.model, run.optimizer, run.dataset, run.spec.train, progress=False)
        return time.process_time() - cpu, time.perf_counter() - wall


def estimate(args: argparse.Namespace) -> None:
    runs = args.optimizers * args.studies * (args.budget + args.seeds)
    print(
        f"a benchmark: {args.optimizers} optimizers x {args.studies} studies x "
        f"({args.budget} trials + {args.seeds} reruns) = {runs} runs a workload"
    )
    measured: dict[str, tuple[float, float]] = {}
    for suite in [args.only] if args.only else benchmark.SUITES:
        total = 0.0
        for workload in benchmark.load_suite(suite):
            if workload.name not in measured:
                load = os.getloadavg()[0]
                measured[workload.name] = run_seconds(workload)
                cpu, wall = measured[workload.name]
                print(
                    f"  {workload.name}: one run {cpu:.2f} s CPU ({wall:.2f} s wall, "
                    f"load {load:.1f})"
                )
            total += runs * measured[workload.name][0]
        print(
            f"suite {suite}: {total / 60:.1f} min CPU, about "
            f"{total / 60 / args.cores:.1f} min on {args.cores} idle cores"
        )


def whole(args: argparse.Namespace) -> None:
    """Run README's command on each suite and time it."""
    gdlab = str(Path(sys.executable).parent / "gdlab")
    for suite in [args.only] if args.only else benchmark.SUITES:
        command = [
            gdlab, "benchmark", "--suite", suite, "--budget", str(args.budget),
            "--seeds", str(args.seeds), "--studies", str(args.studies),
            "--workers", str(args.cores), "--quiet",
        ]  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.perf_counter()
            out = f"{folder}/out"  # its table and report path: not kept
            subprocess.run(
                [*command, "--out", out], check=True, stdout=subprocess.DEVNULL
            )
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(
            f"{' '.join(['gdlab', *command[1:]])}: {wall / 60:.1f} min wall, "
            f"{cpu / 60:.1f} min CPU (load {load:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--optimizers", type=int, default=12)
    parser.add_argument("--budget", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--studies", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", choices=benchmark.SUITES, default=None)
    parser.add_argument(
        "--whole", action="store_true", help="run and time README's command"
    )
    args = parser.parse_args()
    print(machine())
    whole(args) if args.whole else estimate(args)


if __name__ == "__main__":
    main()
