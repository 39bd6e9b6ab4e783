"""An epoch of a torch CNN: gdlab's fused Adam against torch.optim.Adam's foreach
and fused implementations, on the same model, batches and gradients.

Each contender trains its own copy of the model (same initial weights, same batch
order) through :class:`gdlab.models.torch.TorchModel`, whose backprop writes the
gradients into one gdlab buffer; then

* gdlab: ``optim.Adam(model.params)``, one compiled pass over the whole buffer;
* torch foreach / fused: ``torch.optim.Adam(module.parameters(), foreach=True)``
  (or ``fused=True``), stepping the module's parameters (views of the same kind
  of buffer) from their ``.grad`` as a torch loop does.

The contenders take turns batch by batch (gdlab, foreach, fused, gdlab, ...), so
a noisy machine slows all alike; each one's epoch is the sum of its batches
(backprop and step). Prints seconds per epoch and of the optimizer steps alone
in an epoch, as the median (range) over the epochs, the ratios gdlab / torch (the
goal: at most 1.0x), and the machine's cores and load::

    .venv/bin/python benchmarks/bench_torch_cnn.py            # digits CNN
    .venv/bin/python benchmarks/bench_torch_cnn.py --torch-threads 1
    .venv/bin/python benchmarks/bench_torch_cnn.py --model fmnist_2c2d --rows 2048
    .venv/bin/python benchmarks/bench_torch_cnn.py --torch-threads 1 --cpu

``--cpu`` times CPU seconds of the process (all its threads) instead of wall
seconds: on a shared machine they say more (other jobs' turns on the cores are
not counted), with one torch thread they are the work itself.

``fmnist_2c2d`` (3.3 million parameters) trains on the first ``--rows`` images of
Fashion-MNIST (``apt-get install dataset-fashion-mnist``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from common import machine, summary

from gdlab import data, optim
from gdlab.models.torch import TorchModel
from gdlab.models.torch_nets import BUILDERS

Step = Callable[[], None]


def contenders(
    dataset: data.Dataset, model_name: str
) -> dict[str, tuple[TorchModel, Step]]:
    """name -> (its model, its optimizer step after loss_and_grad)."""
    found: dict[str, tuple[TorchModel, Step]] = {}
    build = BUILDERS[model_name]
    model = build(dataset, seed=0, dtype="float32")
    adam = optim.Adam(model.params, lr=1e-3)
    grads = model.grads
    found["gdlab Adam (fused)"] = (model, lambda: adam.step(grads))
    for kind in ("foreach", "fused"):
        twin = build(dataset, seed=0, dtype="float32")
        theirs = torch.optim.Adam(twin.module.parameters(), lr=1e-3, **{kind: True})
        found[f"torch Adam ({kind})"] = (twin, theirs.step)
    return found


def epoch(
    runs: dict[str, tuple[TorchModel, Step]],
    dataset: data.Dataset,
    order: np.ndarray,
    batch: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, tuple[float, float]]:
    """Seconds of one epoch of each contender, and of its optimizer steps alone;
    the contenders take turns batch by batch, so the machine's load falls on
    all alike."""
    X, y = dataset.X_train, dataset.y_train
    spent = {label: [0.0, 0.0] for label in runs}
    for i in range(0, len(order), batch):
        rows = order[i : i + batch]
        xb, yb = X[rows], y[rows]
        for label, (model, step) in runs.items():
            start = clock()
            model.loss_and_grad(xb, yb)
            stepping = clock()
            step()
            end = clock()
            spent[label][0] += end - start
            spent[label][1] += end - stepping
    return {label: (whole, steps) for label, (whole, steps) in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(BUILDERS), default="cnn")
    parser.add_argument("--rows", type=int, default=None, help="training rows used")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch's threads (default: its own count; the models' forward and "
        "backward follow gdlab's work rule either way)",
    )
    parser.add_argument(
        "--cpu", action="store_true", help="CPU seconds (process_time), not wall"
    )
    args = parser.parse_args()
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    name = "digits" if args.model == "cnn" else "fashion-mnist"
    dataset = data.load(name)
    if args.rows is not None:
        dataset = data.Dataset(
            dataset.X_train[: args.rows],
            dataset.y_train[: args.rows],
            dataset.X_test,
            dataset.y_test,
            dataset.classes,
            dataset.name,
        )
    runs = contenders(dataset, args.model)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(dataset.y_train)) for _ in range(args.epochs + 1)]
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    for i, order in enumerate(orders):
        clock = time.process_time if args.cpu else time.perf_counter
        measured = epoch(runs, dataset, order, args.batch_size, clock)
        if i:  # the first epoch compiles and warms caches
            for label, seconds in measured.items():
                times[label].append(seconds)
    size = sum(a.size for a in runs["gdlab Adam (fused)"][0].params.values())
    print(
        f"{args.model} on {dataset.name} ({len(dataset.y_train)} rows, batch "
        f"{args.batch_size}, {size:,} parameters, float32); "
        f"{'CPU' if args.cpu else 'wall'} seconds per epoch "
        f"(steps alone), median (range) of {args.epochs}; torch {torch.__version__}"
        f" on {torch.get_num_threads()} threads"
    )
    for label, values in times.items():
        whole = summary([v[0] for v in values], 3)
        steps = summary([v[1] for v in values], 3)
        print(f"  {label:<20} {whole} s  (steps {steps} s)")
    ours = statistics.median(v[0] for v in times["gdlab Adam (fused)"])
    ours_steps = statistics.median(v[1] for v in times["gdlab Adam (fused)"])
    for label in list(times)[1:]:
        theirs = statistics.median(v[0] for v in times[label])
        theirs_steps = statistics.median(v[1] for v in times[label])
        print(
            f"  gdlab / {label}: {ours / theirs:.2f}x the epoch, "
            f"{ours_steps / theirs_steps:.2f}x the steps"
        )
    print(machine())


if __name__ == "__main__":
    main()
