"""The error rates of gdlab's claims, measured: A/A calibration and power.

At the default protocol of ``gdlab compare`` (5 studies of 4 trials and 2 reruns;
paired t-test over studies, Holm-adjusted, level 0.05), on digits (MLP 64-16-10,
3 epochs, batch 64), 20 independent comparisons (master seeds 0..19) of

* ``adam`` against ``adam_aa``, a copy whose lr axis is read at u + ½ mod 1
  (the same distribution of learning rates at other points): the **A/A rate**,
  the share declared different (PROTOCOL.md: at most 5%), with its exact 95%
  Clopper-Pearson interval;
* ``adam`` against ``adam_low``, a copy whose lr range is three decades too low:
  the **power**, the share where adam is declared better (at least 90%);
* the same for ``sgd`` (its A/A copy ``sgd_aa``).

Comparisons run in ``--workers`` processes, each registering the copies.
``--repeat-demo`` also runs ``make demo``'s comparison (all 12 optimizers, the
default protocol and workload) with master seeds 0–4 and counts the claims made
and the pairs claimed both ways (contradictions; there must be none)::

    python benchmarks/bench_calibration.py [--comparisons 20] [--workers 2]
        [--repeat-demo]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from common import machine
from scipy.stats import beta

from gdlab import optim
from gdlab.experiment import RunSpec
from gdlab.lab import calibration, compare
from gdlab.train import TrainConfig

BASE = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=3, batch_size=64)
)
PAIRS = {
    "A/A adam": ("adam", "adam_aa"),
    "A/A sgd": ("sgd", "sgd_aa"),
    "power adam (lr 3 decades low)": ("adam", "adam_low"),
}


def _register() -> None:
    """Register the copies in a worker process, for its lifetime."""
    optim.register("adam_aa", calibration.copy_of("adam", shift=0.5))
    optim.register("sgd_aa", calibration.copy_of("sgd", shift=0.5))
    optim.register("adam_low", calibration.copy_of("adam", decades=3))


def _one(job: tuple[str, int, str]) -> tuple[str, str]:
    label, master, folder = job
    (claim,) = calibration.verdicts(
        BASE, PAIRS[label], [master], compare.Protocol(), Path(folder) / label
    )
    return label, claim.verdict


def clopper_pearson(k: int, n: int) -> tuple[float, float]:
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--comparisons", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat-demo", action="store_true")
    args = parser.parse_args()
    print(machine())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        jobs = [
            (label, master, folder)
            for label in PAIRS
            for master in range(args.comparisons)
        ]
        with ProcessPoolExecutor(args.workers, initializer=_register) as pool:
            found = list(pool.map(_one, jobs))
    n = args.comparisons
    if n == 0:
        if args.repeat_demo:
            repeat_demo(args.workers)
        return
    print(
        f"{n} comparisons per pair, default protocol {compare.Protocol()}, "
        f"{time.perf_counter() - start:.0f} s"
    )
    for label in PAIRS:
        verdicts = [v for lab, v in found if lab == label]
        if label.startswith("A/A"):
            k = sum(v != "none" for v in verdicts)
            lo, hi = clopper_pearson(k, n)
            print(
                f"{label}: declared different in {k}/{n} = {k / n:.0%} "
                f"(95% CI {lo:.0%}–{hi:.0%}; requirement <= 5%)"
            )
        else:
            k = sum(v == "a" for v in verdicts)
            wrong = sum(v == "b" for v in verdicts)
            lo, hi = clopper_pearson(k, n)
            print(
                f"{label}: declared worse in {k}/{n} = {k / n:.0%} "
                f"(95% CI {lo:.0%}–{hi:.0%}; requirement >= 90%); "
                f"declared better in {wrong}"
            )

    if args.repeat_demo:
        repeat_demo(args.workers)


def repeat_demo(workers: int) -> None:
    """make demo's comparison with master seeds 0-4: claims and contradictions."""
    base = RunSpec(data="digits", train=TrainConfig(epochs=10))
    said: dict[tuple[str, str], set[str]] = {}
    made = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for master in range(5):
            found = compare.compare(
                base,
                None,
                compare.Protocol(search_seed=master),
                out=Path(folder) / str(master),
                report=False,
                workers=workers,
                progress=False,
            )
            for claim in found.pairs:
                if claim.winner is not None:
                    made += 1
                    said.setdefault((claim.a, claim.b), set()).add(claim.winner)
            print(f"master seed {master}: {found.established}")
    both = [pair for pair, winners in said.items() if len(winners) > 1]
    print(
        f"make demo x 5 master seeds ({time.perf_counter() - start:.0f} s): "
        f"{made} claims over {len(said)} distinct pairs; {len(both)} contradictions"
    )


if __name__ == "__main__":
    main()
