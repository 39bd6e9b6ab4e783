"""K runs of one MLP at once: gdlab's populations against the other ways to do it.

Every contender trains K runs of the same MLP with Adam, each run with its own
learning rate and its own batch order (a ``(K, batch)`` index gathered from the
training set), float32, batch 100, and is timed over the same steps:

* **population**: gdlab's stacked computation (``PopulationModel.loss_and_grad``
  and one ``Population.step``: the optimizer's own kernel with per-run values);
* **sequential**: gdlab's model and optimizer, one run after the other (what a
  sweep did before populations; measured on ``min(K, 8)`` runs and scaled to K);
* **torch.func**: ``stack_module_state`` + ``functional_call`` + ``vmap(grad)``,
  and Adam on the stacked tensors with a ``(K, 1, ...)`` learning rate
  (``torch.set_num_threads(1)``);
* **jax vmap**: ``jit(vmap(step))`` over a per-run learning rate (JAX on the CPU,
  one thread requested through XLA's flags).

Figures are run-steps per CPU second of this process (K × steps / CPU seconds,
``time.process_time``: every contender runs on one thread, and on a shared
machine CPU time measures the work where wall time measures the neighbours),
the median (min–max) of ``--repeats`` interleaved repeats, with the ratios
population / sequential and population / JAX. gdlab runs on one BLAS and one
Numba thread, as a sweep's runs do. Digits' 64-100-10 at K = 1, 8, 32, 128;
Fashion-MNIST's 784-100-10 at K = 1, 4, 8 (``--no-fashion`` skips it where the
data is missing)::

    python benchmarks/bench_populations.py [--repeats 3] [--steps 16]

Then it times whole runs (training and per-epoch evaluations) on digits at K = 32,
``fit_population`` against K calls of ``fit``, and the heat map of ``gdlab surface
--heatmap`` (625 cells of SGD on Rosenbrock), CPU ms per step of all the cells;
``--heat-map-only`` times only that, and runs on gdlab from before populations
(``PYTHONPATH=<old checkout>/src``), for the before/after.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
)

import itertools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from common import machine, summary

from gdlab import data, optim
from gdlab.lab.threads import one_blas_thread
from gdlab.models import MLP

BATCH = 100


def lrs(k: int) -> np.ndarray:
    return np.geomspace(1e-4, 1e-2, k) if k > 1 else np.array([1e-3])


def orders(n: int, k: int, steps: int) -> np.ndarray:
    """``(steps, K, batch)`` indices: each run its own batch order."""
    rng = np.random.default_rng(0)
    epochs = -(-steps * BATCH // n)

    def one() -> np.ndarray:
        order = np.concatenate([rng.permutation(n) for _ in range(epochs)])
        return order[: steps * BATCH].reshape(steps, BATCH)

    return np.stack([one() for _ in range(k)], axis=1)


def gdlab_population(X: Any, y: Any, sizes: list[int], k: int, steps: int) -> Any:
    from gdlab.models.population import PopulationModel
    from gdlab.optim.kernel import threads
    from gdlab.optim.population import Population

    index = orders(len(X), k, steps)
    models = [MLP(sizes, seed=r, dtype=np.float32) for r in range(k)]
    members = [
        optim.Adam(m.params, lr=float(lr)) for m, lr in zip(models, lrs(k), strict=True)
    ]

    def run() -> None:
        model = PopulationModel(models)
        opt = Population(members, model.params)
        with threads(model.params.size):  # once per loop, as fit_population
            for t in range(steps):
                rows = index[t]
                model.loss_and_grad(X[rows], y[rows])
                opt.step(model.grads)

    return run


def gdlab_sequential(X: Any, y: Any, sizes: list[int], k: int, steps: int) -> Any:
    index = orders(len(X), k, steps)

    def run() -> None:
        for r, lr in enumerate(lrs(k)):
            m = MLP(sizes, seed=r, dtype=np.float32)
            opt = optim.Adam(m.params, lr=float(lr))
            for t in range(steps):
                rows = index[t, r]
                _, grads = m.loss_and_grad(X[rows], y[rows], out=m.grads)
                opt.step(grads)

    return run


def torch_vmap(X: Any, y: Any, sizes: list[int], k: int, steps: int) -> Any:
    import torch
    from torch.func import functional_call, grad, stack_module_state, vmap

    torch.set_num_threads(1)
    index = torch.from_numpy(orders(len(X), k, steps))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def net() -> torch.nn.Module:
        layers: list[torch.nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    nets = [net() for _ in range(k)]
    base = net().to("meta")
    lr = torch.tensor(lrs(k), dtype=torch.float32)

    def loss(params: Any, buffers: Any, xb: Any, yb: Any) -> Any:
        out = functional_call(base, (params, buffers), (xb,))
        return torch.nn.functional.cross_entropy(out, yb)

    grads_of = vmap(grad(loss), in_dims=(0, 0, 0, 0))

    def run() -> None:
        params, buffers = stack_module_state(nets)  # type: ignore[arg-type]
        params = {n: p.detach() for n, p in params.items()}
        m = {n: torch.zeros_like(p) for n, p in params.items()}
        v = {n: torch.zeros_like(p) for n, p in params.items()}
        with torch.no_grad():
            for t in range(steps):
                rows = index[t]
                g = grads_of(params, buffers, Xt[rows], yt[rows])
                c1, c2 = 1 - 0.9 ** (t + 1), (1 - 0.999 ** (t + 1)) ** 0.5
                for n, p in params.items():
                    m[n].mul_(0.9).add_(g[n], alpha=0.1)
                    v[n].mul_(0.999).addcmul_(g[n], g[n], value=0.001)
                    step = lr.view(-1, *[1] * (p.dim() - 1)) / c1
                    p.sub_(step * m[n] / (v[n].sqrt() / c2 + 1e-8))

    return run


def jax_vmap(X: Any, y: Any, sizes: list[int], k: int, steps: int) -> Any:
    import jax
    import jax.numpy as jnp

    index = jnp.asarray(orders(len(X), k, steps))
    Xj, yj = jnp.asarray(X), jnp.asarray(y.astype(np.int32))
    rng = np.random.default_rng(0)
    params = [
        (
            jnp.asarray(
                rng.standard_normal((k, a, b)).astype(np.float32) * np.sqrt(2 / a)
            ),
            jnp.zeros((k, b), jnp.float32),
        )
        for a, b in itertools.pairwise(sizes)
    ]
    lr = jnp.asarray(lrs(k), jnp.float32)

    def loss(ps: Any, xb: Any, yb: Any) -> Any:
        h = xb
        for i, (W, b) in enumerate(ps):
            h = h @ W + b
            if i < len(ps) - 1:
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def one(ps: Any, m: Any, v: Any, lr: Any, t: Any, rows: Any) -> Any:
        g = jax.grad(loss)(ps, Xj[rows], yj[rows])
        m = jax.tree.map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree.map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        c1, c2 = 1 - 0.9**t, jnp.sqrt(1 - 0.999**t)
        ps = jax.tree.map(
            lambda p, a, b: p - lr / c1 * a / (jnp.sqrt(b) / c2 + 1e-8), ps, m, v
        )
        return ps, m, v

    step = jax.jit(jax.vmap(one, in_axes=(0, 0, 0, 0, None, 0)))
    zeros = jax.tree.map(jnp.zeros_like, params)

    def run() -> None:
        ps, m, v = params, zeros, zeros
        for t in range(steps):
            ps, m, v = step(ps, m, v, lr, jnp.float32(t + 1), index[t])
        jax.block_until_ready(ps)

    run()  # compiles: not timed
    return run


CONTENDERS: dict[str, Callable[..., Any]] = {
    "population": gdlab_population,
    "sequential": gdlab_sequential,
    "torch.func": torch_vmap,
    "jax vmap": jax_vmap,
}


def measure(
    X: Any, y: Any, sizes: list[int], k: int, steps: int, repeats: int
) -> dict[str, list[float]]:
    """Run-steps per second of each contender, one figure per repeat."""
    runs = {}
    scale = {}
    for name, make in CONTENDERS.items():
        kk = min(k, 8) if name == "sequential" else k
        runs[name] = make(X, y, sizes, kk, steps)
        scale[name] = kk * steps
        runs[name]()  # warm: kernels, caches
    found: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            run()
            found[name].append(scale[name] / (time.process_time() - start))
    return found


def table(
    title: str, X: Any, y: Any, sizes: list[int], ks: list[int], args: Any
) -> None:
    print(f"\n{title}: run-steps per second, median (min–max) of {args.repeats}")
    print(f"{'K':>5}" + "".join(f"{n:>24}" for n in CONTENDERS) + "  pop/seq  pop/jax")
    for k in ks:
        found = measure(X, y, sizes, k, args.steps, args.repeats)
        med = {n: statistics.median(v) for n, v in found.items()}
        row = "".join(f"{summary(found[n], 0):>24}" for n in CONTENDERS)
        print(
            f"{k:>5}{row}  {med['population'] / med['sequential']:>6.2f}x"
            f"  {med['population'] / med['jax vmap']:>6.2f}x",
            flush=True,
        )


def whole_runs(k: int) -> None:
    """fit_population against K fits of the same runs (digits, 20 epochs... 4)."""
    from gdlab.experiment import RunSpec, build, load_data
    from gdlab.population import fit_population
    from gdlab.train import TrainConfig, fit

    base = RunSpec(data="digits", model="mlp:64-100-10", train=TrainConfig(epochs=4))
    ds = load_data(base)
    specs = [base.replace(lr=float(lr), seed=r % 3) for r, lr in enumerate(lrs(k))]
    started = time.process_time()
    for s in specs:
        run = build(s, ds)
        fit(run.model, run.optimizer, ds, s.train, progress=False)
    alone = time.process_time() - started
    runs = [build(s, ds) for s in specs]
    started = time.process_time()
    fit_population(
        [r.model for r in runs],
        [r.optimizer for r in runs],
        ds,
        [s.train for s in specs],
    )
    together = time.process_time() - started
    print(
        f"\nwhole runs (digits, 4 epochs, evaluations included, 3 seeds), K = {k}: "
        f"fit {alone:.2f} CPU s, fit_population {together:.2f} CPU s: "
        f"{alone / together:.2f}x"
    )


def heat_map() -> None:
    """``gdlab surface --heatmap``'s computation: 25 x 25 cells (lr x momentum) of
    SGD on Rosenbrock, 400 steps; CPU milliseconds per step of all the cells."""
    from gdlab.surfaces.grid import loss_grid

    args = ("rosenbrock", "sgd", np.geomspace(1e-4, 1e-2, 25), np.linspace(0, 0.99, 25))
    loss_grid(*args, steps=5)  # kernels: not timed
    found = []
    for _ in range(3):
        started = time.process_time()
        loss_grid(*args, steps=400)
        found.append((time.process_time() - started) / 400)
    print(f"\nheat map, 625 cells of SGD: {summary(found, 2, 1e3)} CPU ms per step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--no-fashion", action="store_true")
    parser.add_argument(
        "--heat-map-only",
        action="store_true",
        help="only the heat map (runs on gdlab before populations too)",
    )
    args = parser.parse_args()
    print(machine())
    with one_blas_thread():
        import numba

        numba.set_num_threads(1)
        if args.heat_map_only:
            heat_map()
            return
        digits = data.load("digits", dtype="float32")
        table(
            "digits 64-100-10",
            digits.X_train,
            digits.y_train,
            [64, 100, 10],
            [1, 8, 32, 128],
            args,
        )
        if not args.no_fashion:
            fashion = data.load("fashion-mnist", dtype="float32")
            table(
                "Fashion-MNIST 784-100-10",
                fashion.X_train,
                fashion.y_train,
                [784, 100, 10],
                [1, 4, 8],
                args,
            )
        whole_runs(32)
        heat_map()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load after: {load}")


if __name__ == "__main__":
    main()
