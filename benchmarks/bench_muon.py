"""Muon's step on one 784×256 float32 matrix: gdlab (NumPy/BLAS Newton–Schulz in
float32) against ``torch.optim.Muon`` on the transposed (256, 784) tensor, same
thread count, in blocks taking turns (``common.interleaved``). torch runs its
Newton–Schulz in bfloat16, which on a CPU with AMX (this one) is several times
faster than any float32 product; so torch is timed twice: as shipped, and with its
bfloat16 cast replaced, so that its whole step is float32 like gdlab's. Goal
(issue 25, "float32, same thread count"): gdlab within 1.2× of torch's float32
step::

    python benchmarks/bench_muon.py [--repeats 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from common import interleaved, machine, summary
from threadpoolctl import threadpool_limits

from gdlab import optim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"bench_muon: torch {torch.__version__}, {threads} threads for both")
    print(machine())
    rng = np.random.default_rng(0)
    w = rng.standard_normal((784, 256)).astype(np.float32) * 0.05
    g = rng.standard_normal((784, 256)).astype(np.float32)
    ours = optim.Muon({"W": w}, lr=1e-3, adamw_last=False)
    grads = {"W": g}
    shipped = _torch_muon(w, g)
    float32 = _torch_muon(w, g)

    def float32_step() -> None:
        original = torch.Tensor.bfloat16
        torch.Tensor.bfloat16 = torch.Tensor.float  # type: ignore[method-assign]
        try:
            float32.step()
        finally:
            torch.Tensor.bfloat16 = original  # type: ignore[method-assign]

    with threadpool_limits(threads):
        times = interleaved(
            {
                "gdlab": lambda: ours.step(grads),
                "torch float32": float32_step,
                "torch bfloat16": shipped.step,
            },
            repeats=args.repeats,
            calls=args.steps,
        )
    print(f"one Muon step on 784×256 float32, ms: median (range) over {args.repeats}")
    for name, ts in times.items():
        print(f"  {name:15} {summary(ts, scale=1e3)}")
    for name, goal in (("torch float32", " (goal <= 1.2)"), ("torch bfloat16", "")):
        ratio = [a / b for a, b in zip(times["gdlab"], times[name], strict=True)]
        print(
            f"  gdlab / {name:15} {summary(ratio)}{goal}; "
            f"median {statistics.median(ratio):.2f}"
        )


def _torch_muon(w: np.ndarray, g: np.ndarray) -> torch.optim.Muon:
    """torch's Muon over torch's (out, in) layout of gdlab's (in, out) ``w``."""
    tw = torch.tensor(w.T.copy(), requires_grad=True)
    tw.grad = torch.tensor(g.T.copy())
    return torch.optim.Muon([tw], lr=1e-3)


if __name__ == "__main__":
    main()
