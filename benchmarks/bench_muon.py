"""Muon's step on one 784×256 float32 matrix: gdlab (NumPy/BLAS Newton–Schulz in
float32) against ``torch.optim.Muon`` on the transposed (256, 784) tensor (its
Newton–Schulz in bfloat16), same thread count, interleaved step by step. Goal:
gdlab within 1.2× of torch::

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
    tw = torch.tensor(w.T.copy(), requires_grad=True)
    tw.grad = torch.tensor(g.T.copy())
    theirs = torch.optim.Muon([tw], lr=1e-3)
    grads = {"W": g}
    with threadpool_limits(threads):
        times = interleaved(
            {"gdlab": lambda: ours.step(grads), "torch": theirs.step},
            repeats=args.repeats,
            calls=args.steps,
        )
    ratio = [a / b for a, b in zip(times["gdlab"], times["torch"], strict=True)]
    print(f"one Muon step on 784×256 float32, ms: median (range) over {args.repeats}")
    print(f"  gdlab {summary(times['gdlab'], scale=1e3)}")
    print(f"  torch {summary(times['torch'], scale=1e3)}")
    print(
        f"  gdlab / torch {summary(ratio)} (goal <= 1.2); "
        f"median {statistics.median(ratio):.2f}"
    )


if __name__ == "__main__":
    main()
