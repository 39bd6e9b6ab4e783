"""One epoch of Fashion-MNIST with an MLP 784-100-10: gdlab vs PyTorch vs sklearn.

The same network (ReLU, softmax cross-entropy, plain SGD with lr 0.1, float32) is
trained for a few epochs at each batch size by

* gdlab: ``models.MLP`` + ``optim.SGD`` (hand-written backprop, one fused update);
* PyTorch on the CPU: ``nn.Sequential(Linear, ReLU, Linear)`` + ``torch.optim.SGD``,
  with gdlab's initial weights and the same batches in the same order;
* scikit-learn: ``MLPClassifier(solver="sgd", momentum=0, alpha=0, ...)``, one
  ``partial_fit`` per epoch (its own initial weights and shuffling).

Epochs are interleaved (gdlab, torch, sklearn, gdlab, ...) so that a noisy machine
slows all three alike, all in one process with ``threads`` threads for BLAS and torch.
Prints the median seconds per epoch, the ratios (> 1: gdlab is faster) and the test
accuracy after the last epoch::

    .venv/bin/python benchmarks/bench_mlp.py                 # batch 100 and 1000
    .venv/bin/python benchmarks/bench_mlp.py --batch-sizes 100 --epochs 2

Needs Fashion-MNIST (``apt-get install dataset-fashion-mnist``, or ``--data DIR``).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import threadpoolctl
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from gdlab import data, models, optim

SIZES = [784, 100, 10]
LR = 0.1


class Runner:
    """One framework: ``epoch()`` trains one pass, ``accuracy()`` on the test set."""

    name = ""

    def epoch(self) -> None:
        raise NotImplementedError

    def accuracy(self) -> float:
        raise NotImplementedError


class Gdlab(Runner):
    name = "gdlab"

    def __init__(self, init: models.Model, ds: data.Dataset, batch: int, seed: int):
        self.model = init.copy()
        self.opt = optim.SGD(self.model.params, lr=LR)
        self.loader = data.batches(ds.X_train, ds.y_train, batch, seed=seed)
        self.ds = ds

    def epoch(self) -> None:
        model, opt = self.model, self.opt
        for xb, yb in self.loader:
            _, grads = model.loss_and_grad(xb, yb)
            opt.step(grads)

    def accuracy(self) -> float:
        return self.model.accuracy(self.ds.X_test, self.ds.y_test)


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
        self.loader = data.batches(ds.X_train, ds.y_train, batch, seed=seed)
        self.ds = ds

    def epoch(self) -> None:
        net, opt, loss_fn = self.net, self.opt, torch.nn.functional.cross_entropy
        for xb, yb in self.loader:
            opt.zero_grad()
            loss = loss_fn(net(torch.from_numpy(xb)), torch.from_numpy(yb))
            loss.backward()
            opt.step()

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


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(ds: data.Dataset, batch: int, epochs: int, seed: int, sklearn: bool) -> None:
    init = models.MLP(SIZES, "relu", seed=seed, dtype=np.float32)
    runners: list[Runner] = [Gdlab(init, ds, batch, seed), Torch(init, ds, batch, seed)]
    if sklearn:
        runners.append(Sklearn(ds, batch, seed))
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(epochs):
        for r in runners:
            times[r.name].append(timed(r.epoch))
    median = {name: statistics.median(ts) for name, ts in times.items()}
    steps = -(-ds.n_train // batch)
    print(f"\nbatch {batch}: {steps} steps/epoch, {epochs} epochs")
    print(f"{'':8} {'s/epoch':>8} {'first':>7} {'vs gdlab':>9} {'test acc':>9}")
    for r in runners:
        ratio = median[r.name] / median["gdlab"]
        print(
            f"{r.name:8} {median[r.name]:8.3f} {times[r.name][0]:7.3f} "
            f"{ratio:8.2f}x {r.accuracy():9.4f}"
        )
    gd, th = runners[0], runners[1]
    assert isinstance(gd, Gdlab) and isinstance(th, Torch)
    print(
        f"ratios: torch/gdlab {median['torch'] / median['gdlab']:.2f}"
        + (
            f", sklearn/gdlab {median['sklearn'] / median['gdlab']:.2f}"
            if sklearn
            else ""
        )
        + f"; max |W_gdlab - W_torch| after {epochs} epochs "
        f"{th.max_weight_difference(gd.model):.2e}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="folder with the IDX files")
    parser.add_argument("--no-sklearn", action="store_true")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    ds = data.load("fashion-mnist", path=args.data)
    info: list[dict[str, Any]] = threadpoolctl.threadpool_info()
    blas = sorted(
        {f"{i['internal_api']} {i['version']}" for i in info if i["user_api"] == "blas"}
    )
    print(
        f"{ds}\nnumpy {np.__version__} ({', '.join(blas)}), torch {torch.__version__}, "
        f"{args.threads} threads for BLAS and torch"
    )
    with threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas"):
        for batch in args.batch_sizes:
            bench(ds, batch, args.epochs, args.seed, not args.no_sklearn)
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel ran: every update was serial
        layer = "none (serial updates)"
    print(f"\nnumba threading layer of the optimizer update: {layer}")


if __name__ == "__main__":
    main()
