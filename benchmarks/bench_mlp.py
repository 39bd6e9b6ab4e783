"""One epoch of Fashion-MNIST with an MLP 784-100-10: gdlab vs PyTorch vs sklearn.

The same network (ReLU, softmax cross-entropy, plain SGD with lr 0.1, float32) is
trained for a few epochs at each batch size, each framework on its own fastest
idiomatic path:

* gdlab: ``models.MLP`` + ``optim.SGD`` fed by ``data.batches``, the gradient
  written into ``out=model.grads`` (the training loop's path; hand-written
  backprop, one fused update);
* PyTorch on the CPU, ``torch.set_num_threads(cores)``: ``nn.Sequential(Linear,
  ReLU, Linear)`` + ``torch.optim.SGD``, indexing its own tensors with a
  permutation tensor, from gdlab's initial weights and in the same batch order
  (the permutation is drawn from the same seed). On one thread the weights of the
  two stay equal to float32 rounding (max |W_gdlab - W_torch| 1.1e-6 after 2
  epochs at batch 100, as between gdlab's own float32 and float64 runs). On two
  threads torch's products add in another order: its gradients differ from its
  one-thread gradients by rounding (3.6e-7 at most over the first 120 steps, from
  the same weights), but a ReLU whose input sits at 0 within that rounding then
  switches the other way (at step 83 in that run, moving a W1 gradient by 1e-4),
  and from there the two runs part like two seeds: 5e-4 after 100 steps, 4e-2
  after 2 epochs, torch on two threads against torch on one as against gdlab.
  Not a difference in the math; compare on ``--threads 1``;
* scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0, ...)``, one
  ``partial_fit`` per epoch (its own initial weights and shuffling).

Epochs are interleaved (gdlab, torch, sklearn, gdlab, ...) so that a noisy machine
slows all three alike. Prints seconds per epoch as the median (range) over the
epochs, the ratios to torch (goal: gdlab <= 0.8x torch's time at batch 100, <=
1.0x at batch 1000), the test accuracy after the last epoch, and where an epoch's
time goes in gdlab and in torch (one more epoch each, timed phase by phase, in wall
and in CPU milliseconds of this process: other jobs on the machine disturb the CPU
figures less).

Then the update alone (``--step-calls``, 0 to skip): one ``opt.step(m.grads)`` on
the model's 79,510 float32 parameters, against the same compiled SGD loop called
without the step's logic (the floor: what is left is the step's Python) and
``torch.optim.SGD.step()`` on the same four tensors, taking turns in blocks, in
microseconds per step (the median call of each block, wall; CPU per call of the
block), the median (range) over ``--step-repeats`` blocks::

    .venv/bin/python benchmarks/bench_mlp.py                 # batch 100 and 1000
    .venv/bin/python benchmarks/bench_mlp.py --batch-sizes 100 --epochs 3

Needs Fashion-MNIST (``apt-get install dataset-fashion-mnist``, or ``--data DIR``).
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numba
import numpy as np
import torch
from common import machine, no_compilation, summary, timed
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from gdlab import data, models, optim
from gdlab.optim import kernel
from gdlab.optim.base import State

SIZES = [784, 100, 10]
LR = 0.1
Phases = collections.defaultdict[str, "Spent"]


class Spent:
    """Seconds spent in one phase: wall clock and CPU time of this process."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def add(self, start: tuple[float, float]) -> None:
        """Add the time since ``start`` (a :func:`clock` reading)."""
        self.wall += time.perf_counter() - start[0]
        self.cpu += time.process_time() - start[1]


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def split(phases: dict[str, Phases], total: dict[str, tuple[float, float]]) -> None:
    """Put the time no phase took under "other" in each framework's phases."""
    for name, spent in phases.items():
        other = spent["other (Python, glue)"]
        other.wall = total[name][0] - sum(s.wall for s in spent.values())
        other.cpu = total[name][1] - sum(s.cpu for s in spent.values())


class Runner:
    """One framework: ``epoch()`` trains one pass, ``accuracy()`` on the test set."""

    name = ""

    def epoch(self) -> None:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Compile and load what an epoch runs, leaving the weights as they are."""

    def accuracy(self) -> float:
        raise NotImplementedError


class Gdlab(Runner):
    name = "gdlab"

    def __init__(self, init: models.Model, ds: data.Dataset, batch: int, seed: int):
        self.model = init.copy()
        self.opt = optim.SGD(self.model.params, lr=LR)
        self.loader = data.batches(ds.X_train, ds.y_train, batch, seed=seed)
        self.ds = ds

    def warm_up(self) -> None:
        self.opt.warm_up()  # the update's kernel: two steps of a copy
        X, y = self.ds.X_train[:100], self.ds.y_train[:100]
        self.model.loss_and_grad(X, y, out=self.model.grads)  # the loss's kernel

    def epoch(self) -> None:
        model, opt = self.model, self.opt
        for xb, yb in self.loader:
            _, grads = model.loss_and_grad(xb, yb, out=model.grads)
            opt.step(grads)

    def accuracy(self) -> float:
        return self.model.accuracy(self.ds.X_test, self.ds.y_test)

    def phases(self) -> Phases:
        """One epoch with each piece of ``loss_and_grad`` and ``step`` timed.

        Wraps methods of this model's layers on the instances (a profile looks
        inside; the wrappers are removed after the epoch).
        """
        spent: Phases = collections.defaultdict(Spent)
        model, opt = self.model, self.opt
        layers = model._layers
        wrap = [(layer, "forward", "forward") for layer in layers]
        wrap += [(layer, "backward", "backward") for layer in layers[1:]]
        wrap += [
            (layers[0], "backward_params", "backward"),
            (model._loss, "forward", "softmax + cross-entropy"),
            (model, "_check_X", "input checks"),
            (model, "_check_targets", "input checks"),
            (opt, "step", "update (opt.step)"),
        ]
        for obj, name, label in wrap:
            kind = type(obj).__name__.lower()
            suffix = f" ({kind})" if label in ("forward", "backward") else ""
            _timed_method(spent, obj, name, label + suffix)

        def epoch() -> None:
            for xb, yb in _timed_iter(spent, "batches (index)", iter(self.loader)):
                _, grads = model.loss_and_grad(xb, yb, out=model.grads)
                opt.step(grads)

        start = clock()
        epoch()
        total = (time.perf_counter() - start[0], time.process_time() - start[1])
        for obj, name, _ in wrap:
            delattr(obj, name)
        split({"gdlab": spent}, {"gdlab": total})
        return spent


class Torch(Runner):
    name = "torch"

    def __init__(self, init: models.Model, ds: data.Dataset, batch: int, seed: int):
        net = torch.nn.Sequential(
            torch.nn.Linear(SIZES[0], SIZES[1]),
            torch.nn.ReLU(),
            torch.nn.Linear(SIZES[1], SIZES[2]),
        )
        with torch.no_grad():
            for layer, i in ((net[0], 1), (net[2], 2)):
                layer.weight.copy_(torch.from_numpy(init.params[f"W{i}"].T.copy()))
                layer.bias.copy_(torch.from_numpy(init.params[f"b{i}"]))
        self.net = net
        self.opt = torch.optim.SGD(net.parameters(), lr=LR)
        self.X = torch.from_numpy(ds.X_train)
        self.y = torch.from_numpy(ds.y_train)
        # the permutations of data.batches(seed=seed): the same batches as gdlab's
        self.rng = np.random.default_rng(seed)
        self.batch = batch
        self.ds = ds
        self.threads = torch.get_num_threads()  # as main() set them

    def _threads(self) -> None:
        """Torch's threads, set again before each epoch: Numba's first parallel
        kernel (gdlab's update, OpenMP layer) sets OpenMP's thread count to
        every core, torch's included."""
        torch.set_num_threads(self.threads)

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, b = len(self.X), self.batch
        order = torch.from_numpy(self.rng.permutation(n)) if b < n else None
        for start in range(0, n, b):
            if order is None:
                yield self.X, self.y
            else:
                index = order[start : start + b]
                yield self.X[index], self.y[index]

    def warm_up(self) -> None:
        loss = torch.nn.functional.cross_entropy(self.net(self.X[:100]), self.y[:100])
        loss.backward()
        self.opt.zero_grad()

    def epoch(self) -> None:
        self._threads()
        net, opt, loss_fn = self.net, self.opt, torch.nn.functional.cross_entropy
        for xb, yb in self._batches():
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()

    def phases(self) -> Phases:
        self._threads()
        spent: Phases = collections.defaultdict(Spent)
        net, opt, loss_fn = self.net, self.opt, torch.nn.functional.cross_entropy

        def epoch() -> None:
            for xb, yb in _timed_iter(spent, "batches (index)", self._batches()):
                start = clock()
                opt.zero_grad()
                spent["update (zero_grad + step)"].add(start)
                start = clock()
                z = net(xb)
                spent["forward (net)"].add(start)
                start = clock()
                loss = loss_fn(z, yb)
                spent["softmax + cross-entropy"].add(start)
                start = clock()
                loss.backward()
                spent["backward (autograd)"].add(start)
                start = clock()
                opt.step()
                spent["update (zero_grad + step)"].add(start)

        start = clock()
        epoch()
        total = (time.perf_counter() - start[0], time.process_time() - start[1])
        split({"torch": spent}, {"torch": total})
        return spent

    def accuracy(self) -> float:
        with torch.no_grad():
            logits = self.net(torch.from_numpy(self.ds.X_test))
        return float((logits.argmax(1).numpy() == self.ds.y_test).mean())

    def max_weight_difference(self, model: models.Model) -> float:
        pairs = ((self.net[0], 1), (self.net[2], 2))
        return max(
            float(np.abs(layer.weight.detach().numpy().T - model.params[f"W{i}"]).max())
            for layer, i in pairs
        )


class Sklearn(Runner):
    name = "sklearn"

    def __init__(self, ds: data.Dataset, batch: int, seed: int) -> None:
        self.clf = MLPClassifier(
            hidden_layer_sizes=(SIZES[1],),
            activation="relu",
            solver="sgd",
            learning_rate="constant",
            learning_rate_init=LR,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            batch_size=batch,
            shuffle=True,
            random_state=seed,
        )
        self.ds = ds
        self.classes = np.arange(SIZES[-1])

    def epoch(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.partial_fit(self.ds.X_train, self.ds.y_train, classes=self.classes)

    def accuracy(self) -> float:
        return float(self.clf.score(self.ds.X_test, self.ds.y_test))


def _timed_method(spent: Phases, obj: object, name: str, label: str) -> None:
    method: Callable[..., Any] = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock()
        try:
            return method(*args, **kwargs)
        finally:
            spent[label].add(start)

    setattr(obj, name, wrapper)


def _timed_iter(spent: Phases, label: str, it: Iterator[Any]) -> Iterator[Any]:
    while True:
        start = clock()
        item = next(it, None)
        spent[label].add(start)
        if item is None:
            return
        yield item


def bench(ds: data.Dataset, batch: int, epochs: int, seed: int, sklearn: bool) -> None:
    init = models.MLP(SIZES, "relu", seed=seed, dtype=np.float32)
    gd, th = Gdlab(init, ds, batch, seed), Torch(init, ds, batch, seed)
    runners: list[Runner] = [gd, th]
    if sklearn:
        runners.append(Sklearn(ds, batch, seed))
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for r in runners:
        r.warm_up()
    with no_compilation(f"bench_mlp batch {batch}"):
        for _ in range(epochs):
            for r in runners:
                times[r.name].append(timed(r.epoch))
    accuracy = {r.name: r.accuracy() for r in runners}
    difference = th.max_weight_difference(gd.model)
    steps = -(-ds.n_train // batch)
    print(f"\nbatch {batch}: {steps} steps/epoch, {epochs} epochs (interleaved)")
    print(f"{'':8}{'s/epoch':>24}{'/ torch (per epoch)':>24}{'test acc':>10}")
    for r in runners:
        ratio = [a / b for a, b in zip(times[r.name], times["torch"], strict=True)]
        print(
            f"{r.name:8}{summary(times[r.name], 3):>24}{summary(ratio):>24}"
            f"{accuracy[r.name]:10.4f}"
        )
    goal = 0.8 if batch <= 100 else 1.0
    print(
        f"goal: gdlab <= {goal:.1f}x torch's time; max |W_gdlab - W_torch| after "
        f"{epochs} epochs {difference:.1e} (same batches; torch on "
        f"{th.threads} thread(s): see the module's docstring)"
    )
    phases = {}
    for r in (gd, th):
        time.sleep(0.5)  # no one pays for the threads the epoch before left spinning
        phases[r.name] = r.phases()
    labels = list(dict.fromkeys(k for s in phases.values() for k in s))
    print("where one more epoch goes (ms, wall and CPU of this process):")
    for label in labels:
        row = "".join(
            f"{s[label].wall * 1e3:11.1f}{s[label].cpu * 1e3:7.1f}"
            if label in s
            else f"{'':18}"
            for s in phases.values()
        )
        print(f"  {label:28}{row}")
    print(f"  {'':28}{'gdlab wall':>11}{'CPU':>7}{'torch wall':>11}{'CPU':>7}")


def step_alone(init: models.Model, repeats: int, calls: int) -> None:
    """The update alone: gdlab's ``opt.step``, its compiled loop without the
    step's logic, and torch's SGD step, in blocks of ``calls`` taking turns."""
    model = init.copy()
    opt = optim.SGD(model.params, lr=LR)
    grads = model.grads
    rng = np.random.default_rng(0)
    for name in grads:
        grads[name][...] = rng.standard_normal(grads[name].shape) * 1e-4
    (dtype,) = model.params.buffers
    p, g = model.params.buffers[dtype], grads.buffers[dtype]
    rule = optim.SGD.rule
    assert rule is not None
    args = opt.rule_arguments(opt.param_groups[0], 1, LR, p, g, State())

    def floor() -> None:
        with kernel.threads(p.size, only_kernels=True):
            rule(p, *args)

    tensors = []
    for name in init.params:
        tensor = torch.from_numpy(init.params[name].copy())
        tensor.grad = torch.from_numpy(grads[name].copy())
        tensors.append(tensor)
    theirs = torch.optim.SGD(tensors, lr=LR)
    contenders: dict[str, Callable[[], object]] = {
        "gdlab opt.step(m.grads)": lambda: opt.step(grads),
        "gdlab's SGD loop alone": floor,
        "torch SGD step()": theirs.step,
    }
    opt.warm_up()
    for fn in contenders.values():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    with no_compilation("bench_mlp step"):
        for repeat in range(repeats):
            turn = repeat % len(names)
            for name in names[turn:] + names[:turn]:
                fn = contenders[name]
                time.sleep(0.1)  # no turn pays for the threads of the one before
                start, calls_wall = time.process_time(), []
                for _ in range(calls):
                    calls_wall.append(timed(fn))
                cpu[name].append((time.process_time() - start) / calls)
                wall[name].append(statistics.median(calls_wall))
    size = sum(a.size for a in init.params.values())
    print(
        f"\nthe update alone: SGD on {size:,} float32 parameters, us per step, "
        f"{repeats} blocks of {calls} calls taking turns"
    )
    print(f"{'':26}{'wall':>22}{'CPU':>22}")
    for name in names:
        print(
            f"  {name:24}{summary(wall[name], 1, 1e6):>22}"
            f"{summary(cpu[name], 1, 1e6):>22}"
        )
    over = [a - b for a, b in zip(cpu[names[0]], cpu[names[1]], strict=True)]
    ratio = [a / b for a, b in zip(cpu[names[0]], cpu[names[2]], strict=True)]
    print(
        f"  the step's own Python (CPU, step - loop): {summary(over, 1, 1e6)} us; "
        f"gdlab / torch (CPU): {summary(ratio)}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="folder with the IDX files")
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument("--step-calls", type=int, default=2000)
    parser.add_argument("--step-repeats", type=int, default=7)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    ds = data.load("fashion-mnist", path=args.data)
    print(
        f"bench_mlp: {ds}\nnumpy {np.__version__}, torch {torch.__version__} "
        f"({args.threads} threads), numba {numba.__version__}\n{machine()}"
    )
    for batch in args.batch_sizes:
        bench(ds, batch, args.epochs, args.seed, not args.no_sklearn)
    if args.step_calls:
        init = models.MLP(SIZES, "relu", seed=args.seed, dtype=np.float32)
        step_alone(init, args.step_repeats, args.step_calls)


if __name__ == "__main__":
    main()
