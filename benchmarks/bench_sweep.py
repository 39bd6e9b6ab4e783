"""What a sweep costs beyond its training: starting workers, dispatch and the store.

Runs ``gdlab.lab.sweep.run`` (its public API, into a fresh SQLite store each time)

* on tiny runs (digits, MLP 64-16-10, 3 optimizer steps each), locally with 1 worker
  (in this process) and with 2 worker processes, and on a local Ray instance with
  ``--ray``. Sweeps of 20 and of 200 runs separate what a sweep pays once (starting
  workers: spawned interpreters importing gdlab; Ray) from what each run adds: the
  **overhead per run** is the extra wall time of one more run beyond its training
  shared by the workers, ``(dW - dT / workers) / dN`` between the two sweeps (dT:
  the runs' own ``fit`` seconds). Goal: <= 50 ms per run locally.
* on 8 real runs (digits, MLP 64-64-10, 300 epochs, about 1 s each): the speed-up
  of 2 workers over 1.

Each figure is the median (range) over ``--repeats`` repeats::

    python benchmarks/bench_sweep.py [--repeats 3] [--ray]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from common import machine, no_compilation, summary

from gdlab.experiment import RunSpec
from gdlab.lab import sweep
from gdlab.train import TrainConfig

TINY = RunSpec(
    data="digits",
    model="mlp:64-16-10",
    optimizer="sgd",
    lr=0.1,
    train=TrainConfig(batch_size=32, epochs=None, iterations=3),
)
REAL = RunSpec(
    data="digits",
    model="mlp:64-64-10",
    optimizer="sgd",
    lr=0.1,
    train=TrainConfig(batch_size=32, epochs=300),
)


def one_sweep(
    base: RunSpec, runs: int, workers: int, backend: str
) -> tuple[float, float]:
    """Wall seconds of one sweep of ``runs`` seeds, and its runs' training seconds."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = sweep.run(
            sweep.Sweep(base, {"seed": list(range(runs))}),
            out=folder,
            workers=workers,
            backend=backend,
            progress=False,
            report=False,
        )
        wall = time.perf_counter() - start
        rows = result.rows()
    assert len(rows) == runs
    return wall, sum(r.metrics.seconds for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ray", action="store_true", help="also on a local Ray")
    args = parser.parse_args()
    print(f"bench_sweep: {machine()}")
    few, many = 20, args.runs
    print(
        f"\n1. tiny runs ({TINY.train.iterations} steps of {TINY.model} on "
        f"{TINY.data}): "
        f"sweeps of {few} and {many} runs, median (range) over {args.repeats} repeats"
    )
    print(
        f"{'':18}{f'wall s, {many} runs':>20}{'training ms/run':>20}"
        f"{'start-up s':>20}{'overhead ms/run':>20}"
    )
    # the processes themselves are measured: tiny runs would train in this process
    # by the rule of gdlab.lab.sweep.pool (workers is a most); with 2, this
    # process trains beside one spawned worker
    sweep.pool.PARALLEL_WORK = 0
    setups = [("local, 1 worker", "local", 1), ("local, 2 workers", "local", 2)]
    if args.ray:
        setups.append(("ray, 2 workers", "ray", 2))
    one_sweep(TINY, 2, 1, "local")  # loads the data in this process, as sweeps do
    one_sweep(REAL.replace(epochs=1), 2, 1, "local")  # and compiles its kernels
    local: list[float] = []
    with no_compilation("bench_sweep (this process)"):
        for label, backend, workers in setups:
            walls, trains, startups, overheads = [], [], [], []
            for _ in range(args.repeats):
                wall_few, trained_few = one_sweep(TINY, few, workers, backend)
                wall, trained = one_sweep(TINY, many, workers, backend)
                per_run = (wall - wall_few) / (many - few)
                overhead = per_run - (trained - trained_few) / (many - few) / workers
                walls.append(wall)
                trains.append(trained / many)
                startups.append(wall_few - few * per_run)
                overheads.append(overhead)
            if backend == "local":
                local.append(statistics.median(overheads))
            print(
                f"{label:18}{summary(walls, 2):>20}{summary(trains, 2, 1e3):>20}"
                f"{summary(startups, 2):>20}{summary(overheads, 1, 1e3):>20}"
            )
        print(f"goal: <= 50 ms per run locally; at most {max(local) * 1e3:.1f} ms")

        runs = 8
        print(
            f"\n2. {runs} real runs ({REAL.train.epochs} epochs of {REAL.model} on "
            f"{REAL.data}), local"
        )
        one, two = [], []
        for _ in range(args.repeats):
            one.append(one_sweep(REAL, runs, 1, "local")[0])
            two.append(one_sweep(REAL, runs, 2, "local")[0])
        speedup = [a / b for a, b in zip(one, two, strict=True)]
        print(
            f"wall s: 1 worker {summary(one)}, 2 workers {summary(two)}; "
            f"speed-up {summary(speedup)}"
        )


if __name__ == "__main__":
    main()
