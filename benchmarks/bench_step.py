"""One optimizer step on 10M float32 parameters: gdlab's fused kernel vs torch.optim.

Adam and SGD with momentum, on one Params buffer, on the same 10M split over 100
arrays (a Params, still one buffer, and a plain dict, one kernel call per array),
against torch.optim with foreach=True and with fused=True on the same layouts, in
the same process, interleaved round by round. Prints the median ms/step, the memory
traffic in GB/s (Adam reads p, g, m, v and writes p, m, v: 28 bytes/parameter;
SGD-momentum reads p, g, b and writes p, b: 20) and torch-fused / gdlab ratios
(> 1 means gdlab is faster).

    python benchmarks/bench_step.py [--size 10000000] [--rounds 30] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numba
import numpy as np
import torch

from gdlab import Params, optim

BYTES_PER_PARAM = {"adam": 28, "sgd-momentum": 20}
HYPER = {"adam": {"lr": 1e-3}, "sgd-momentum": {"lr": 1e-3, "momentum": 0.9}}


def split(n: int, parts: int) -> list[int]:
    sizes = [n // parts] * parts
    sizes[-1] += n - sum(sizes)
    return sizes


def gdlab_step(rule: str, sizes: list[int], layout: str) -> Callable[[], None]:
    rng = np.random.default_rng(0)
    arrays = {
        f"w{i}": rng.standard_normal(s, dtype=np.float32) for i, s in enumerate(sizes)
    }
    grads_arrays = {
        k: rng.standard_normal(a.size, dtype=np.float32) for k, a in arrays.items()
    }
    params = Params(arrays) if layout == "Params" else arrays
    grads = Params(grads_arrays) if layout == "Params" else grads_arrays
    name = "adam" if rule == "adam" else "sgd"
    opt = optim.create(name, params, **HYPER[rule])
    return lambda: opt.step(grads)


def torch_step(rule: str, sizes: list[int], mode: str) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(0)
    tensors = [torch.randn(s, generator=gen) for s in sizes]
    for t in tensors:
        t.grad = torch.randn(t.shape, generator=gen)
    flags = {"fused": True} if mode == "fused" else {"foreach": True}
    cls = torch.optim.Adam if rule == "adam" else torch.optim.SGD
    opt = cls(tensors, **HYPER[rule], **flags)
    return opt.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    print(
        f"{args.size:,} float32 parameters, {args.threads} threads, "
        f"torch {torch.__version__}, numba {numba.__version__}"
    )
    for rule in ("adam", "sgd-momentum"):
        contenders: dict[str, Callable[[], None]] = {}
        for parts in (1, 100):
            sizes = split(args.size, parts)
            label = "1 array" if parts == 1 else "100 arrays"
            contenders[f"gdlab Params, {label}"] = gdlab_step(rule, sizes, "Params")
            if parts > 1:
                contenders[f"gdlab dict, {label}"] = gdlab_step(rule, sizes, "dict")
            contenders[f"torch foreach, {label}"] = torch_step(rule, sizes, "foreach")
            contenders[f"torch fused, {label}"] = torch_step(rule, sizes, "fused")
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for step in contenders.values():  # warm-up: compile, allocate
            step()
            step()
        for _ in range(args.rounds):
            for label, step in contenders.items():
                start = time.perf_counter()
                step()
                times[label].append(time.perf_counter() - start)
        median = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n{rule}: median of {args.rounds} interleaved steps")
        print(f"  {'':<28}{'ms/step':>9}{'GB/s':>8}{'torch fused / this':>20}")
        for label, seconds in median.items():
            layout = label.split(", ")[1]
            fused = median[f"torch fused, {layout}"]
            gbps = BYTES_PER_PARAM[rule] * args.size / seconds / 1e9
            ratio = fused / seconds
            print(f"  {label:<28}{seconds * 1e3:>9.2f}{gbps:>8.1f}{ratio:>20.2f}")


if __name__ == "__main__":
    main()
