"""The speed users get: one Fashion-MNIST epoch along the paths users run, vs torch.

The 784-100-10 MLP (ReLU, softmax cross-entropy, float32, plain SGD with lr 0.1) is
trained one epoch at a time along each path, the paths interleaved (A, B, C, D, A,
B, ...) in this one process so that a busy machine slows them alike, each epoch
after a pause of ``PAUSE`` seconds so that none pays for the threads the one
before it left spinning:

* ``readme``: README's loop, a fresh gradient per step::

      for xb, yb in data.batches(X, y, B, seed=0):
          loss, g = m.loss_and_grad(xb, yb)
          opt.step(g)

* ``tuned``: the benchmarked path of ``bench_mlp.py``: one ``data.batches`` kept
  from epoch to epoch, ``m.loss_and_grad(xb, yb, out=m.grads)``;
* ``fit``: ``fit(m, opt, ds, TrainConfig(epochs=1, batch_size=B),
  progress=False)``, every other setting its default (the training metrics on
  10,000 sampled training rows, validation and test on all theirs); its
  end-of-epoch evaluation is timed on its own (``fit: evaluation``, also as a share
  of fit's epoch), and the training part is the rest (``fit: training``);
* ``torch``: ``nn.Sequential(Linear, ReLU, Linear)`` + ``torch.optim.SGD``,
  indexing its own tensors with a permutation, on torch's default threads (one per
  core) and on one thread (``torch 1 thread``). Every ratio is to each.

Prints, per path, seconds per epoch (wall) and CPU seconds per epoch of this
process (``time.process_time``, all its threads: other jobs on the machine disturb
it less than the wall clock), each as the median (range) over the epochs, and the
ratios to torch (epoch by epoch, then the median and range), with the load
average over the run. Goals (issue 29): ``readme`` and ``fit``'s training part
<= 0.8x torch at batch 100, <= 1.0x at batch 1000; ``fit``'s evaluation <= 15% of
its epoch. Kernels are compiled before the first timed epoch: a compilation inside
a timed epoch stops the benchmark (``common.no_compilation``)::

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
from common import machine, no_compilation, summary

from gdlab import data, models, optim, train
from gdlab.train import TrainConfig, fit

SIZES = [784, 100, 10]
LR = 0.1


def readme_loop(ds: data.Dataset, batch: int) -> Callable[[], None]:
    m = models.MLP(SIZES, seed=0, dtype=np.float32)
    opt = optim.SGD(m.params, lr=LR)

    def epoch() -> None:
        for xb, yb in data.batches(ds.X_train, ds.y_train, batch, seed=0):
            _, g = m.loss_and_grad(xb, yb)
            opt.step(g)

    return epoch


def tuned_loop(ds: data.Dataset, batch: int) -> Callable[[], None]:
    m = models.MLP(SIZES, seed=0, dtype=np.float32)
    opt = optim.SGD(m.params, lr=LR)
    loader = data.batches(ds.X_train, ds.y_train, batch, seed=0)

    def epoch() -> None:
        for xb, yb in loader:
            _, g = m.loss_and_grad(xb, yb, out=m.grads)
            opt.step(g)

    return epoch


class FitPath:
    """``fit`` for one epoch a call, with its defaults; the seconds of its
    evaluation (``_Trainer._evaluate``: the optimizer's evaluation point, the
    train-eval, validation and test sets) kept apart."""

    def __init__(self, ds: data.Dataset, batch: int) -> None:
        self.model = models.MLP(SIZES, seed=0, dtype=np.float32)
        self.opt = optim.SGD(self.model.params, lr=LR)
        self.ds, self.batch = ds, batch
        self.eval_wall: list[float] = []
        self.eval_cpu: list[float] = []

    def __call__(self) -> None:
        original = train._Trainer._evaluate
        wall = cpu = 0.0

        def timed_evaluate(trainer: train._Trainer, *args: object) -> None:
            nonlocal wall, cpu
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                original(trainer, *args)  # type: ignore[arg-type]
            finally:
                wall += time.perf_counter() - w0
                cpu += time.process_time() - c0

        train._Trainer._evaluate = timed_evaluate  # type: ignore[method-assign]
        try:
            config = TrainConfig(epochs=1, batch_size=self.batch)
            fit(self.model, self.opt, self.ds, config, progress=False)
        finally:
            train._Trainer._evaluate = original  # type: ignore[method-assign]
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


TORCH, ONE = "torch", "torch 1 thread"


PAUSE = 0.2
"""Seconds of sleep before each path's epoch: OpenBLAS's and OpenMP's worker
threads busy-wait for a while after their last call, and a path that followed
another's two-thread products paid for that spinning (see ``common.interleaved``)."""


def bench(ds: data.Dataset, batch: int, epochs: int, threads: int) -> None:
    fit_path = FitPath(ds, batch)
    paths: dict[str, Callable[[], object]] = {
        "readme": readme_loop(ds, batch),
        "tuned": tuned_loop(ds, batch),
        "fit": fit_path,
        TORCH: torch_loop(ds, batch, threads),
        ONE: torch_loop(ds, batch, 1),
    }
    for fn in paths.values():  # warm-up: compiled kernels, caches
        fn()
    fit_path.eval_wall.clear()
    fit_path.eval_cpu.clear()
    wall: dict[str, list[float]] = {k: [] for k in paths}
    cpu: dict[str, list[float]] = {k: [] for k in paths}
    loads = [os.getloadavg()[0]]
    with no_compilation(f"bench_paths batch {batch}"):
        for _ in range(epochs):
            for name, fn in paths.items():
                time.sleep(PAUSE)  # the last path's idle threads stop spinning
                w0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
            loads.append(os.getloadavg()[0])
    fw, fc = fit_path.eval_wall, fit_path.eval_cpu
    wall["fit: training"] = [a - b for a, b in zip(wall["fit"], fw, strict=True)]
    cpu["fit: training"] = [a - b for a, b in zip(cpu["fit"], fc, strict=True)]
    wall["fit: evaluation"], cpu["fit: evaluation"] = fw, fc
    steps = -(-ds.n_train // batch)
    print(
        f"\nbatch {batch}: {steps} steps/epoch, {epochs} epochs per path "
        f"(interleaved), load average (1 min) {min(loads):.2f}–{max(loads):.2f}"
    )
    head = f"{'s/epoch':>22}{'/ torch':>18}{'/ torch 1 th.':>18}"
    print(f"{'':18}{head}{head.replace('s/epoch', 'CPU s/epoch')}")
    for name in ("readme", "tuned", "fit", "fit: training", "fit: evaluation"):
        cells = ""
        for times in (wall, cpu):
            cells += (
                f"{summary(times[name], 3):>22}"
                f"{summary(ratios(times[name], times[TORCH])):>18}"
                f"{summary(ratios(times[name], times[ONE])):>18}"
            )
        print(f"{name:18}{cells}")
    for name in (TORCH, ONE):
        w, c = summary(wall[name], 3), summary(cpu[name], 3)
        print(f"{name:18}{w:>22}{'':36}{c:>22}")
    share = [e / f for e, f in zip(fw, wall["fit"], strict=True)]
    share_cpu = [e / f for e, f in zip(fc, cpu["fit"], strict=True)]
    config = TrainConfig()
    index = config.train_eval_index(ds.n_train)
    rows = ds.n_train if index is None else len(index)
    print(
        f"fit's evaluation (train-eval {rows:,} + validation {ds.n_val:,} + test "
        f"{ds.n_test:,} rows): {summary(share, 1, 100)} % of fit's epoch "
        f"(CPU {summary(share_cpu, 1, 100)} %); goal <= 15 %"
    )
    goal = 0.8 if batch <= 100 else 1.0
    print(f"goal: readme and fit's training <= {goal:.1f}x torch's time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=9)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data", default=None, help="folder with the IDX files")
    args = parser.parse_args(argv)

    ds = data.load("fashion-mnist", path=args.data)
    print(
        f"bench_paths: {ds}\nnumpy {np.__version__}, torch {torch.__version__} "
        f"(default {args.threads} threads)\n{machine()}"
    )
    for batch in args.batch_sizes:
        bench(ds, batch, args.epochs, args.threads)


if __name__ == "__main__":
    main()
