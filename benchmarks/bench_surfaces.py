"""Many optimizer runs on a 2-D surface at once: gdlab vs a loop of torch.optim runs.

gdlab runs 10,000 Adam runs x 1,000 steps on Rosenbrock in one
``surfaces.trajectories`` call (all runs in one (K, 2) buffer, one fused Adam
kernel call per step, the whole (steps+1, K, 2) trajectory recorded). The
competitor is what a torch user writes: a Python loop over runs, each a 2-element
float64 tensor with ``torch.optim.Adam`` and the loss's ``backward()``; a
few dozen such runs are timed per repeat and the cost extrapolated per run-step. The
numbers of both are compared on the runs torch did (they agree to rounding).

Prints seconds, the time per run-step and the ratio torch / gdlab (goal >= 100).

    python benchmarks/bench_surfaces.py [--runs 10000] [--steps 1000]
        [--torch-runs 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch
from common import machine, no_compilation, summary

from gdlab import surfaces


def rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2


def torch_runs(
    starts: np.ndarray, steps: int, lr: float, *, autograd: bool
) -> tuple[float, np.ndarray]:
    """Seconds for one Adam run per start, in a Python loop; and the final points."""
    f = surfaces.get("rosenbrock")
    finals = np.empty_like(starts)
    t0 = time.perf_counter()
    for k, start in enumerate(starts):
        xy = torch.tensor(start, dtype=torch.float64, requires_grad=autograd)
        opt = torch.optim.Adam([xy], lr=lr)
        for _ in range(steps):
            if autograd:
                opt.zero_grad()
                rosenbrock(xy).backward()
            else:  # the analytic gradient: torch's optimizer cost alone
                xy.grad = torch.from_numpy(f.grad(xy.numpy()))
            opt.step()
        finals[k] = xy.detach().numpy()
    return time.perf_counter() - t0, finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--torch-runs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    torch.set_num_threads(1)  # 2-element tensors: threads only cost
    rng = np.random.default_rng(0)
    (x0, x1), (y0, y1) = surfaces.get("rosenbrock").bounds
    starts = np.column_stack(
        [rng.uniform(x0, x1, args.runs), rng.uniform(y0, y1, args.runs)]
    )
    k, n = args.runs, args.steps
    print(
        f"bench_surfaces: {k:,} Adam runs x {n:,} steps on Rosenbrock (float64, lr "
        f"{args.lr}); torch {torch.__version__}, numba {numba.__version__}, "
        f"{numba.config.NUMBA_NUM_THREADS} CPU threads available\n{machine()}"
    )

    # compiled before the clock starts (a compilation in a timed call fails it)
    surfaces.trajectories("rosenbrock", "adam", starts[:2], lr=args.lr, steps=2)
    surfaces.final_points("rosenbrock", "adam", starts[:2], lr=args.lr, steps=2)
    torch_runs(starts[:1], 10, args.lr, autograd=True)
    torch_runs(starts[:1], 10, args.lr, autograd=False)
    with no_compilation("bench_surfaces"):
        times = []
        paths = np.empty(0)
        for _ in range(args.repeats):
            del paths  # free the previous (steps+1, K, 2) result before the next call
            t0 = time.perf_counter()
            paths = surfaces.trajectories(
                "rosenbrock", "adam", starts, lr=args.lr, steps=n
            )
            times.append(time.perf_counter() - t0)
        gdlab_per = [t / (k * n) for t in times]
        print(
            f"gdlab surfaces.trajectories, one call -> {paths.shape} "
            f"({paths.nbytes / 1e6:.0f} MB): {summary(times, 3)} s = "
            f"{summary(gdlab_per, 1, 1e9)} ns/run-step"
        )
        finals_only = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            surfaces.final_points("rosenbrock", "adam", starts, lr=args.lr, steps=n)
            finals_only.append(time.perf_counter() - t0)
        print(
            "gdlab surfaces.final_points (no trajectory kept): "
            f"{summary(finals_only, 3)} s = "
            f"{summary([t / (k * n) for t in finals_only], 1, 1e9)} ns/run-step"
        )

        m = min(args.torch_runs, k)
        for autograd in (True, False):
            label = "autograd" if autograd else "analytic grad"
            per, agree = [], 0.0
            for _ in range(args.repeats):
                seconds, finals = torch_runs(starts[:m], n, args.lr, autograd=autograd)
                per.append(seconds / (m * n))
                difference = np.abs(finals - paths[-1, :m])
                agree = float(np.max(difference / np.maximum(np.abs(finals), 1e-12)))
            ratio = [t / g for t, g in zip(per, gdlab_per, strict=True)]
            print(
                f"torch.optim.Adam loop ({label}), {m} runs x {n} steps: "
                f"{summary(per, 1, 1e6)} µs/run-step; max rel. difference from gdlab "
                f"{agree:.1e}; torch / gdlab {summary(ratio, 0)}x (goal >= 100x)"
            )


if __name__ == "__main__":
    main()
