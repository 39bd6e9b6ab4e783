"""The speed users get: one Fashion-MNIST epoch along the paths users run, vs torch.

The 784-100-10 MLP (ReLU, softmax cross-entropy, float32, plain SGD with lr 0.1) is
trained one epoch at a time along each path, the paths interleaved (A, B, C, D, A,
B, ...) in this one process so that a busy machine slows them alike:

* ``readme``: README's loop, a fresh gradient per step::

      for xb, yb in data.batches(X, y, B, seed=0):
          loss, g = m.loss_and_grad(xb, yb)
          opt.step(g)

* ``readme out=``: the same with ``m.loss_and_grad(xb, yb, out=m.grads)``;
* ``fit``: ``fit(m, opt, ds, TrainConfig(epochs=1, batch_size=B,
  evaluate_test=False), progress=False)``; its end-of-epoch evaluation (train and
  validation sets) is timed on its own, and the training part is the rest;
* ``torch``: ``nn.Sequential(Linear, ReLU, Linear)`` + ``torch.optim.SGD``,
  indexing its own tensors with a permutation, ``torch.set_num_threads(cores)``
  (the reference of every ratio); ``torch 1 thread``: the same on one thread
  (on a busy machine, threads that wait for a core cost torch more than gdlab,
  which runs mini-batches on one BLAS thread).

Prints, per path, seconds per epoch (wall) and CPU seconds per epoch of this
process (``time.process_time``, all its threads: other jobs on the machine disturb
it less than the wall clock), each as the median (range) over the epochs, and the
ratios to torch's on all cores and on one thread (epoch by epoch, then the
median). Goals (issue 29): ``readme`` and ``fit``'s training part <= 0.8x torch at
batch 100, <= 1.0x at batch 1000; ``fit``'s evaluation <= 15% of its epoch::

    .venv/bin/python benchmarks/bench_paths.py                  # batch 100 and 1000
    .venv/bin/python benchmarks/bench_paths.py --batch-sizes 100 --epochs 3

Needs Fashion-MNIST (``apt-get install dataset-fashion-mnist``, or ``--data DIR``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from common import machine, summary

from gdlab import data, models, optim, train
from gdlab.train import TrainConfig, fit

SIZES = [784, 100, 10]
LR = 0.1


def readme_loop(ds: data.Dataset, batch: int, out: bool) -> Callable[[], None]:
    m = models.MLP(SIZES, seed=0, dtype=np.float32)
    opt = optim.SGD(m.params, lr=LR)

    def epoch() -> None:
        for xb, yb in data.batches(ds.X_train, ds.y_train, batch, seed=0):
            if out:
                _, g = m.loss_and_grad(xb, yb, out=m.grads)
            else:
                _, g = m.loss_and_grad(xb, yb)
            opt.step(g)

    return epoch


class FitPath:
    """``fit`` for one epoch a call; the seconds of its evaluation kept apart."""

    def __init__(self, ds: data.Dataset, batch: int) -> None:
        self.model = models.MLP(SIZES, seed=0, dtype=np.float32)
        self.opt = optim.SGD(self.model.params, lr=LR)
        self.ds, self.batch = ds, batch
        self.eval_wall: list[float] = []
        self.eval_cpu: list[float] = []

    def __call__(self) -> None:
        evaluate = train.evaluate
        wall = cpu = 0.0

        def timed_evaluate(*args: object) -> tuple[float, float | None]:
            nonlocal wall, cpu
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                return evaluate(*args)  # type: ignore[arg-type]
            finally:
                wall += time.perf_counter() - w0
                cpu += time.process_time() - c0

        train.evaluate = timed_evaluate  # type: ignore[assignment]
        try:
            config = TrainConfig(epochs=1, batch_size=self.batch, evaluate_test=False)
            fit(self.model, self.opt, self.ds, config, progress=False)
        finally:
            train.evaluate = evaluate
        self.eval_wall.append(wall)
        self.eval_cpu.append(cpu)


def torch_loop(ds: data.Dataset, batch: int, threads: int) -> Callable[[], None]:
    net = torch.nn.Sequential(
        torch.nn.Linear(SIZES[0], SIZES[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(SIZES[1], SIZES[2]),
    )
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    X, y = torch.from_numpy(ds.X_train), torch.from_numpy(ds.y_train)
    gen = torch.Generator().manual_seed(0)
    loss_fn = torch.nn.functional.cross_entropy

    def epoch() -> None:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch):
            index = order[start : start + batch]
            xb, yb = X[index], y[index]
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        torch.set_num_threads(before)

    return epoch


def ratios(a: list[float], b: list[float]) -> list[float]:
    """Epoch by epoch: each path ran beside the other in the same round."""
    return [x / y for x, y in zip(a, b, strict=True)]


def bench(ds: data.Dataset, batch: int, epochs: int, threads: int) -> None:
    fit_path = FitPath(ds, batch)
    paths: dict[str, Callable[[], object]] = {
        "readme": readme_loop(ds, batch, out=False),
        "readme out=": readme_loop(ds, batch, out=True),
        "fit": fit_path,
        "torch": torch_loop(ds, batch, threads),
        "torch 1 thread": torch_loop(ds, batch, 1),
    }
    for fn in paths.values():  # warm-up: compiled kernels, caches
        fn()
    fit_path.eval_wall.clear()
    fit_path.eval_cpu.clear()
    wall: dict[str, list[float]] = {k: [] for k in paths}
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    loads = [os.getloadavg()[0]]
    for _ in range(epochs):
        for name, fn in paths.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
        loads.append(os.getloadavg()[0])
    rows = {**wall}
    rows_cpu = {**cpu}
    fw, fc = fit_path.eval_wall, fit_path.eval_cpu
    rows["fit: training"] = [a - b for a, b in zip(wall["fit"], fw, strict=True)]
    rows_cpu["fit: training"] = [a - b for a, b in zip(cpu["fit"], fc, strict=True)]
    rows["fit: evaluation"], rows_cpu["fit: evaluation"] = fw, fc
    steps = -(-ds.n_train // batch)
    print(
        f"\nbatch {batch}: {steps} steps/epoch, {epochs} epochs per path "
        f"(interleaved), load average (1 min) {min(loads):.2f}–{max(loads):.2f}"
    )
    one = "torch 1 thread"
    print(
        f"{'':18}{'s/epoch':>22}{'/ torch':>18}{'/ torch 1 th.':>18}"
        f"{'CPU s/epoch':>22}{'/ torch':>18}{'/ torch 1 th.':>18}"
    )
    for name in rows:
        if name == "fit: evaluation":
            continue
        print(
            f"{name:18}{summary(rows[name], 3):>22}"
            f"{summary(ratios(rows[name], wall['torch'])):>18}"
            f"{summary(ratios(rows[name], wall[one])):>18}"
            f"{summary(rows_cpu[name], 3):>22}"
            f"{summary(ratios(rows_cpu[name], cpu['torch'])):>18}"
            f"{summary(ratios(rows_cpu[name], cpu[one])):>18}"
        )
    share = [e / f for e, f in zip(fw, wall["fit"], strict=True)]
    share_cpu = [e / f for e, f in zip(fc, cpu["fit"], strict=True)]
    n_val = 0 if ds.X_val is None else len(ds.X_val)
    print(
        f"fit's evaluation (train {ds.n_train:,} + validation {n_val:,}"
        f" rows): {summary(fw, 3)} s, {summary(share, 2, 100)} % of fit's epoch "
        f"(CPU {summary(share_cpu, 2, 100)} %); goal <= 15 %"
    )
    goal = 0.8 if batch <= 100 else 1.0
    print(f"goal: readme and fit's training <= {goal:.1f}x torch's time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data", default=None, help="folder with the IDX files")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    ds = data.load("fashion-mnist", path=args.data)
    print(
        f"bench_paths: {ds}\nnumpy {np.__version__}, torch {torch.__version__} "
        f"({args.threads} threads)\n{machine()}"
    )
    for batch in args.batch_sizes:
        bench(ds, batch, args.epochs, args.threads)


if __name__ == "__main__":
    main()
