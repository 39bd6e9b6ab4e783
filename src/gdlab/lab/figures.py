r"""The data behind the course notes' figures that gdlab draws: batch, mini-batch and
stochastic gradient descent on one noisy line fit (:func:`batch_modes`), EMA curves
of a noisy series (:func:`ema_curves`) and the notes' learning-rate decays
(:func:`lr_decay`). The pictures are in :mod:`gdlab.report.course`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, data, optim, schedules, surfaces
from gdlab.lab.examples import ema

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class BatchModes:
    """Batch, mini-batch and stochastic GD on one noisy line fit.

    Attributes:
        surface: the MSE over (m, b) of the whole data set.
        x, y: the data.
        paths: label -> the (m, b) after each iteration, ``(iterations + 1, 2)``.
        costs: label -> the whole data set's MSE at each of those points.
        batch_sizes: label -> samples per iteration.
        lr: the learning rate of every run.
    """

    surface: surfaces.Surface
    x: F64
    y: F64
    paths: dict[str, F64]
    costs: dict[str, F64]
    batch_sizes: dict[str, int] = field(default_factory=dict)
    lr: float = 0.1


def noisy_line(
    n: int = 100, *, slope: float = 2.0, intercept: float = 1.0, noise: float = 0.5,
    seed: int = 0,
) -> tuple[F64, F64]:  # fmt: skip
    """``n`` points ``y = slope·x + intercept + N(0, noise²)``, x uniform in [0, 2]:
    the worked example's line (through (1, 3) and (2, 5)) with noise."""
    count = _checks.integer("noisy_line", "n", n, low=1)
    rng = np.random.default_rng(_checks.integer("noisy_line", "seed", seed, low=0))
    x = rng.uniform(0.0, 2.0, count)
    return x, slope * x + intercept + noise * rng.standard_normal(count)


def batch_modes(
    n: int = 100,
    batch_sizes: Sequence[int] = (100, 10, 1),
    *,
    iterations: int = 100,
    lr: float = 0.1,
    start: tuple[float, float] = (-1.0, 5.0),
    seed: int = 0,
) -> BatchModes:
    """SGD from ``start`` on :func:`noisy_line` data with each batch size, for the
    same number of ``iterations``: each step's gradient is that of the sampled
    batch's MSE (a permutation per epoch), so the noise of small batches is real.
    """
    owner = "batch_modes"
    steps = _checks.integer(owner, "iterations", iterations, low=1)
    x, y = noisy_line(n, seed=seed)
    whole = surfaces.line_fit(x, y, start=start)
    paths: dict[str, F64] = {}
    sizes: dict[str, int] = {}
    for size in batch_sizes:
        b = _checks.integer(owner, "batch_sizes[i]", size, low=1)
        label = (
            f"batch GD ({x.size} per step)"
            if b >= x.size
            else ("stochastic GD (1 per step)" if b == 1 else f"mini-batch GD ({b})")
        )
        theta = np.array(start, dtype=np.float64)
        opt = optim.SGD({"θ": theta}, lr=lr)
        loader = data.batches(x, y, b, seed=seed)
        path = [theta.copy()]
        while len(path) <= steps:
            for xb, yb in loader:
                opt.step({"θ": surfaces.line_fit(xb, yb).grad(theta)})
                path.append(theta.copy())
                if len(path) > steps:
                    break
        paths[label], sizes[label] = np.array(path), b
    costs = {label: whole.value(p) for label, p in paths.items()}
    return BatchModes(whole, x, y, paths, costs, sizes, lr)


def noisy_series(n: int = 100, *, seed: int = 0) -> F64:
    """A year-like noisy series (a slow wave around 20 plus N(0, 2²) noise)."""
    count = _checks.integer("noisy_series", "n", n, low=1)
    rng = np.random.default_rng(_checks.integer("noisy_series", "seed", seed, low=0))
    t = np.arange(count)
    return 20.0 + 5.0 * np.sin(2 * np.pi * t / count) + 2.0 * rng.standard_normal(count)


def ema_curves(
    series: ArrayLike, betas: Sequence[float] = (0.5, 0.9, 0.98)
) -> dict[float, tuple[F64, F64]]:
    """β -> (raw, bias-corrected) averages of ``series`` (see :func:`ema`)."""
    return {float(b): ema(series, b) for b in betas}


def lr_decay(
    lr: float = 0.1, rate: float = 0.05, epochs: int = 100, warmup: int = 10
) -> dict[str, schedules.Schedule]:
    """The notes' decay schedules as functions of the epoch, built by the run
    builder :func:`gdlab.schedules.for_run` (what ``--schedule-unit epoch`` uses).
    """
    e = _checks.integer("lr_decay", "epochs", epochs, low=2)
    w = _checks.integer("lr_decay", "warmup", warmup, low=1)
    step = max(1, e // 5)
    return {
        f"lr₀·e^(−k·epoch), k = {rate:g}": schedules.for_run(
            "exponential", lr, e, rate=rate
        ),
        f"lr₀/(1 + k·epoch), k = {rate:g}": schedules.for_run(
            "inverse_time", lr, e, decay_rate=rate, decay_steps=1.0
        ),
        f"step: ×0.5 every {step} epochs": schedules.for_run(
            "step", lr, e, step_size=step, gamma=0.5
        ),
        "polynomial: lr₀·(1 − epoch/max)²": schedules.for_run(
            "polynomial", lr, e, power=2.0
        ),
        "cosine annealing": schedules.for_run("cosine", lr, e),
        f"warm-up {w} epochs, then cosine": schedules.for_run(
            "cosine", lr, e, warmup=w
        ),
    }


__all__ = [
    "BatchModes",
    "batch_modes",
    "ema_curves",
    "lr_decay",
    "noisy_line",
    "noisy_series",
]
