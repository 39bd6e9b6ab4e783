"""One optimizer step on 10M float32 parameters against this machine's memory bound.

Part 1, every element-wise optimizer on one buffer: gdlab's step, a plain compiled
loop that streams exactly the same bytes (reads p, g and each state array, writes p
and each state array: the fastest any update can be here), and torch.optim on the
same tensor (``fused=True`` where torch has it, else ``foreach=True``), interleaved
step by step in one process. Prints ms/step, GB/s, the % of the streaming bound
(goal >= 90%) and torch's time.

Part 2, 10M split over 100 arrays, Adam and SGD-momentum: gdlab given a plain dict
of the 100 arrays (updated in place, array by array) and given a ``Params`` (one
buffer), against torch ``fused=True`` on the same 100 tensors (goal: the dict within
1.1x of torch fused). Then the dict step's own Python: the CPU time of a step over
100 float32 arrays of 10 elements (serial kernels of next to no work), per array.

Each figure is the median over repeats of the median step of that repeat, with the
range over repeats::

    python benchmarks/bench_step.py [--size 10000000] [--repeats 5] [--steps 10]
        [--part 1|2]
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable
from typing import Any

import lion_pytorch
import numba
import numpy as np
import schedulefree
import torch
from common import interleaved, machine, no_compilation, summary
from numba import prange

from gdlab import Params, optim

Step = Callable[[], object]

# label -> (gdlab name, hyperparameters, the reference's class: torch's where it has
# one); lr small so 100 steps stay tame
CONFIGS: dict[str, tuple[str, dict[str, Any], type[torch.optim.Optimizer]]] = {
    "sgd": ("sgd", {}, torch.optim.SGD),
    "sgd momentum": ("sgd", {"momentum": 0.9}, torch.optim.SGD),
    "sgd nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}, torch.optim.SGD),
    "adagrad": ("adagrad", {}, torch.optim.Adagrad),
    "adadelta": ("adadelta", {}, torch.optim.Adadelta),
    "rmsprop": ("rmsprop", {}, torch.optim.RMSprop),
    "rmsprop centered+mom": (
        "rmsprop",
        {"centered": True, "momentum": 0.9},
        torch.optim.RMSprop,
    ),
    "adam": ("adam", {}, torch.optim.Adam),
    "adam amsgrad": ("adam", {"amsgrad": True}, torch.optim.Adam),
    "adamw": ("adamw", {}, torch.optim.AdamW),
    "nadam": ("nadam", {}, torch.optim.NAdam),
    "radam": ("radam", {}, torch.optim.RAdam),
    "adamax": ("adamax", {}, torch.optim.Adamax),
    "lion": ("lion", {}, lion_pytorch.Lion),
    "rprop": ("rprop", {}, torch.optim.Rprop),
    "asgd": ("asgd", {}, torch.optim.ASGD),
    "schedulefree sgd": ("schedulefree_sgd", {}, schedulefree.SGDScheduleFree),
    "schedulefree adamw": ("schedulefree_adamw", {}, schedulefree.AdamWScheduleFree),
}
LR = 1e-4


@numba.njit(parallel=True, cache=True)
def stream0(p: np.ndarray, g: np.ndarray) -> None:
    for i in prange(p.size):
        p[i] += g[i]


@numba.njit(parallel=True, cache=True)
def stream1(p: np.ndarray, g: np.ndarray, a: np.ndarray) -> None:
    for i in prange(p.size):
        x = g[i]
        p[i] += x
        a[i] += x


@numba.njit(parallel=True, cache=True)
def stream2(p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    for i in prange(p.size):
        x = g[i]
        p[i] += x
        a[i] += x
        b[i] += x


@numba.njit(parallel=True, cache=True)
def stream3(
    p: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> None:
    for i in prange(p.size):
        x = g[i]
        p[i] += x
        a[i] += x
        b[i] += x
        c[i] += x


STREAMS = (stream0, stream1, stream2, stream3)


def split(n: int, parts: int) -> list[int]:
    sizes = [n // parts] * parts
    sizes[-1] += n - sum(sizes)
    return sizes


def arrays(sizes: list[int], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"w{i}": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(sizes)
    }


def torch_step(
    cls: type[torch.optim.Optimizer], hyper: dict[str, Any], sizes: list[int]
) -> tuple[Step, str]:
    """The reference's step on tensors of ``sizes``, fused where torch has it, else
    foreach where it has that (lion-pytorch has neither: "plain")."""
    tensors = [torch.from_numpy(a) for a in arrays(sizes, 0).values()]
    for t, g in zip(tensors, arrays(sizes, 1).values(), strict=True):
        t.grad = torch.from_numpy(g)
    known = inspect.signature(cls).parameters
    mode = next((m for m in ("fused", "foreach") if m in known), "plain")
    opt = cls(tensors, lr=LR, **hyper, **({mode: True} if mode != "plain" else {}))
    if callable(getattr(opt, "train", None)):
        opt.train()  # Schedule-Free steps only in train mode
    return opt.step, mode


def part1(n: int, repeats: int, steps: int) -> None:
    print(
        f"\n1. one step on one buffer of {n:,} float32: median (range) over {repeats}"
        f" repeats of the median of {steps} interleaved steps"
    )
    print(
        f"{'':22}{'B/param':>8}{'gdlab ms':>22}{'GB/s':>7}{'% of bound':>22}"
        f"{'bound ms':>10}{'torch ms':>24}{'torch':>8}"
    )
    worst: tuple[float, str] = (100.0, "")
    for label, (name, hyper, cls) in CONFIGS.items():
        p, g = arrays([n], 0)["w0"], arrays([n], 1)["w0"]
        opt = optim.create(name, {"w": p}, lr=LR, **hyper)
        grads = {"w": g}
        opt.warm_up()  # every variant its steps meet (RAdam's from step 6)
        opt.step(grads)  # creates the state
        states = [a for a in opt.state["w"].values() if a.ndim]
        bound_args = [np.ones_like(p) * 0.5 for _ in range(len(states) + 2)]
        k = len(states)
        bytes_per = 4 * (3 + 2 * k)
        torch_fn, mode = torch_step(cls, hyper, [n])
        times = interleaved(
            {
                "gdlab": lambda opt=opt, grads=grads: opt.step(grads),
                "bound": lambda a=bound_args, s=STREAMS[k]: s(*a),
                "torch": torch_fn,
            },
            repeats,
            steps,
        )
        pairs = zip(times["bound"], times["gdlab"], strict=True)
        percent = [bound / mine * 100 for bound, mine in pairs]
        worst = min(worst, (sorted(percent)[len(percent) // 2], label))
        median_gbps = bytes_per * n / sorted(times["gdlab"])[repeats // 2] / 1e9
        print(
            f"{label:22}{bytes_per:8}{summary(times['gdlab'], 2, 1e3):>22}"
            f"{median_gbps:7.1f}{summary(percent, 1):>22}"
            f"{sorted(times['bound'])[repeats // 2] * 1e3:10.2f}"
            f"{summary(times['torch'], 2, 1e3):>24}{mode:>8}"
        )
        del opt, torch_fn, bound_args
    print(f"goal: each >= 90% of the bound; lowest: {worst[1]} {worst[0]:.1f}%")


def part2(n: int, repeats: int, steps: int) -> None:
    sizes = split(n, 100)
    print(f"\n2. the same {n:,} float32 split over 100 arrays (ms/step)")
    print(f"{'':14}{'gdlab dict':>20}{'gdlab Params':>20}{'torch fused':>20}")
    for label, name, hyper, cls in (
        ("adam", "adam", {}, torch.optim.Adam),
        ("sgd momentum", "sgd", {"momentum": 0.9}, torch.optim.SGD),
    ):
        plain, plain_g = arrays(sizes, 0), arrays(sizes, 1)
        packed, packed_g = Params(arrays(sizes, 0)), Params(arrays(sizes, 1))
        on_dict = optim.create(name, plain, lr=LR, **hyper)
        on_params = optim.create(name, packed, lr=LR, **hyper)
        torch_fn, _ = torch_step(cls, hyper, sizes)
        times = interleaved(
            {
                "dict": lambda o=on_dict, g=plain_g: o.step(g),
                "params": lambda o=on_params, g=packed_g: o.step(g),
                "torch": torch_fn,
            },
            repeats,
            steps,
        )
        ratio = [d / t for d, t in zip(times["dict"], times["torch"], strict=True)]
        print(
            f"{label:14}{summary(times['dict'], 2, 1e3):>20}"
            f"{summary(times['params'], 2, 1e3):>20}"
            f"{summary(times['torch'], 2, 1e3):>20}"
        )
        print(f"{'':14}gdlab dict / torch fused {summary(ratio)} (goal <= 1.10)")
    print(
        "the dict step's own Python, SGD-momentum on 100 float32 arrays of 10: "
        f"{summary(python_per_array(repeats), 2, 1e6)} µs CPU an array"
    )


def python_per_array(repeats: int, count: int = 100, steps: int = 300) -> list[float]:
    """CPU seconds per array of a dict step whose kernels have next to nothing to
    do (``count`` float32 arrays of 10), one figure per repeat."""
    sizes = [10] * count
    opt = optim.create("sgd", arrays(sizes, 0), lr=LR, momentum=0.9)
    grads = arrays(sizes, 1)
    opt.warm_up()
    opt.step(grads)
    out = []
    with no_compilation("dict step"):
        for _ in range(repeats):
            start = time.process_time()
            for _ in range(steps):
                opt.step(grads)
            out.append((time.process_time() - start) / steps / count)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    parser.add_argument(
        "--only", default="", help="comma-separated labels of part 1 (and no part 2)"
    )
    parser.add_argument(
        "--part", type=int, choices=(1, 2), help="run only part 1 or only part 2"
    )
    args = parser.parse_args()
    if args.only:
        wanted = [label.strip() for label in args.only.split(",")]
        unknown = [label for label in wanted if label not in CONFIGS]
        if unknown:
            parser.error(f"--only: no setting {unknown[0]!r}; one of {list(CONFIGS)}")
        for label in list(CONFIGS):
            if label not in wanted:
                del CONFIGS[label]
    torch.set_num_threads(args.threads)
    numba.set_num_threads(args.threads)
    print(
        f"bench_step: torch {torch.__version__}, numba {numba.__version__}, "
        f"{args.threads} threads for both\n{machine()}"
    )
    if args.part != 2:
        part1(args.size, args.repeats, args.steps)
    if not args.only and args.part != 1:
        part2(args.size, args.repeats, args.steps)
    print(machine())  # the load at the end


if __name__ == "__main__":
    main()
