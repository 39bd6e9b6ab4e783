"""Thread pools with a torch model: an 8-epoch fit of the digits CNN, torch on
every core against torch by gdlab's work rule (one thread for small work).

gdlab's optimizer kernels run in Numba's OpenMP pool and torch's ops in its own
(torch ships its own libgomp); each pool's threads spin for a while after their
work. With both pools on every core of a machine whose cores are busy, every step
waits for threads that are not running. ``TorchModel`` therefore runs a step or an
evaluation chunk under 10⁸ multiply-adds on one torch thread, the rule gdlab's
models follow for BLAS and its kernels for Numba (issue 24 measured 4.68 s
against 0.70 s for this fit on 2 cores).

Prints, for each setting, the fit's seconds as the median (range) over the
repeats, interleaved so that a noisy machine slows both alike, their ratio, and
the machine's cores and load::

    .venv/bin/python benchmarks/bench_torch_threads.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from common import machine, summary

from gdlab import data, optim, train
from gdlab.models.torch_nets import build_cnn


def fit_seconds(dataset: data.Dataset, threads: int | None, epochs: int) -> float:
    model = build_cnn(dataset, seed=0, dtype="float32")
    model.threads = threads
    opt = optim.create("adam", model.params, lr=3e-3)
    config = train.TrainConfig(epochs=epochs, batch_size=32)
    start = time.perf_counter()
    train.fit(model, opt, dataset, config, progress=False, verbose=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    dataset = data.load("digits")
    settings = {f"torch on all {cores} cores": cores, "by the work rule": None}
    fit_seconds(dataset, None, 1)  # imports, kernels compiled or loaded
    seconds: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(args.repeats):
        for name, threads in settings.items():
            seconds[name].append(fit_seconds(dataset, threads, args.epochs))
    print(
        f"{args.epochs}-epoch fit of the digits CNN (Adam, batch 32, float32); "
        f"torch {torch.__version__}"
    )
    for name, values in seconds.items():
        print(f"  {name:<24} {summary(values)} s")
    old, new = (statistics.median(v) for v in seconds.values())
    print(f"  ratio: {old / new:.1f}x faster by the rule")
    print(machine())


if __name__ == "__main__":
    main()
