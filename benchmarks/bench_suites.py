"""How long the built-in benchmark suites take: each workload's one run (a trial
at the suite's settings, Adam at its suggested lr, evaluations included) timed in
CPU seconds, times the runs a benchmark trains there (optimizers x studies x
(budget + seeds)), summed per suite and divided by the cores.

Training dominates a benchmark (the reports add seconds), so the sum is its CPU
time to within them; the wall time on an idle machine is about CPU / cores. On a
shared machine CPU seconds say more than wall seconds, so both are printed with
the load::

    python benchmarks/bench_suites.py [--optimizers 12] [--budget 4] [--seeds 2]
        [--studies 3] [--cores 2] [--only small]
"""

from __future__ import annotations

import argparse
import os
import time

from common import machine

from gdlab.experiment import build
from gdlab.lab import benchmark
from gdlab.lab.threads import one_blas_thread
from gdlab.train import fit


def run_seconds(workload: benchmark.Workload) -> tuple[float, float]:
    """(CPU, wall) seconds of one run of ``workload`` with Adam, data loaded
    before (each process loads it once)."""
    run = build(workload.spec.replace(optimizer="adam"))
    run.optimizer.warm_up()
    with one_blas_thread():  # as every sweep run trains
        cpu, wall = time.process_time(), time.perf_counter()
        fit(run.model, run.optimizer, run.dataset, run.spec.train, progress=False)
        return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--optimizers", type=int, default=12)
    parser.add_argument("--budget", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--studies", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", choices=benchmark.SUITES, default=None)
    args = parser.parse_args()
    print(machine())
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


if __name__ == "__main__":
    main()
