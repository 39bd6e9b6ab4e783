r"""The data behind the course notes' figures that gdlab draws: batch, mini-batch and
stochastic gradient descent on one noisy line fit (:func:`batch_modes`), EMA curves
of a noisy series (:func:`ema_curves`), the notes' learning-rate decays
(:func:`lr_decay`), optimizer paths on the notes' surfaces (:func:`paths`), the
residuals and the 1-D loss curve of note 001 (:func:`residuals`), SSE against
cross-entropy (:func:`sse_vs_cee`), Keskar's flat and sharp minima
(:func:`flat_sharp`), AdamP's projection at work (:func:`adamp_projection`) and a
short run of the notes' MNIST loop (:func:`notes_run`). The pictures are in
:mod:`gdlab.report.course`; ``gdlab figure NAME -o FILE`` draws each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks, data, losses, optim, schedules, surfaces
from gdlab.experiment import RunSpec, build
from gdlab.history import History
from gdlab.i18n import gettext as _
from gdlab.lab.examples import ema
from gdlab.params import F64
from gdlab.train import fit
from gdlab.train_config import TrainConfig


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
        if b >= x.size:
            label = _("batch GD ({n} per step)").format(n=x.size)
        elif b == 1:
            label = _("stochastic GD (1 per step)")
        else:
            label = _("mini-batch GD ({n})").format(n=b)
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
        _("step: ×0.5 every {n} epochs").format(n=step): schedules.for_run(
            "step", lr, e, step_size=step, gamma=0.5
        ),
        _("polynomial: lr₀·(1 − epoch/max)²"): schedules.for_run(
            "polynomial", lr, e, power=2.0
        ),
        _("cosine annealing"): schedules.for_run("cosine", lr, e),
        _("warm-up {n} epochs, then cosine").format(n=w): schedules.for_run(
            "cosine", lr, e, warmup=w
        ),
    }


@dataclass(frozen=True)
class Paths:
    """Optimizer paths on one surface: label -> the points, ``(steps + 1, 2)``."""

    surface: surfaces.Surface
    paths: dict[str, F64]
    title: str

    def final_values(self) -> dict[str, float]:
        """label -> the surface's value at the last point."""
        return {k: float(self.surface.value(p[-1])) for k, p in self.paths.items()}


def paths(
    surface: str,
    optimizers: Sequence[str],
    lrs: Sequence[float],
    start: tuple[float, float],
    steps: int,
    title: str,
    **hyper: float,
) -> Paths:
    """The trajectories of ``optimizers`` (paired with ``lrs``) from ``start``."""
    f = surfaces.get(surface)
    runs = surfaces.runs(f, list(optimizers), list(lrs), start=start, steps=steps,
                         **hyper)  # fmt: skip
    return Paths(f, runs.paths(), title)


def regression_paths() -> Paths:
    """Plain GD on the worked example's MSE from (−1, 5) at λ = 0.5, 0.1, 0.005."""
    return paths(
        "regression",
        ["sgd"],
        [0.5, 0.1, 0.005],
        (-1.0, 5.0),
        30,
        _("MSE(m, b): λ = 0.5 overshoots, 0.1 converges, 0.005 crawls"),
    )


def optimizer_paths() -> Paths:
    """SGD, Momentum, AdaGrad and Adam on x²/20 + y² from (−7, 2) (Saito, ch. 6)."""
    return paths(
        "quadratic", ["sgd", "momentum", "adagrad", "adam"], [0.95, 0.1, 1.5, 0.3],
        (-7.0, 2.0), 30, _("x²/20 + y², 30 steps (after Saito, ch. 6)"),
    )  # fmt: skip


def momentum_nag_paths() -> Paths:
    """Heavy-ball momentum and Nesterov's look-ahead (μ = 0.9, η = 0.1) on
    x²/20 + y² from (−7, 2): Nesterov's correction damps the overshoot."""
    return paths(
        "quadratic", ["momentum", "nesterov"], [0.1, 0.1], (-7.0, 2.0), 40,
        _("momentum vs Nesterov (NAG), μ = 0.9, η = 0.1, 40 steps"),
    )  # fmt: skip


@dataclass(frozen=True)
class Residuals:
    """Note 001's pictures: the line ŷ = m·x + b through its data with the
    residuals, and the 1-D loss curve MSE(m) at the start's b with GD steps."""

    x: F64
    y: F64
    m: float
    b: float
    residuals: F64
    grid: F64
    curve: F64
    steps: F64
    lr: float


def residuals(lr: float = 0.1, steps: int = 5) -> Residuals:
    """The notes' data (1, 3), (2, 5) and line m = −1, b = 5; MSE(m, 5) over m
    with ``steps`` GD steps in m alone (∂MSE/∂m = 5m + 3b − 13)."""
    f = surfaces.get("regression")
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    m, b = -1.0, 5.0
    grid = np.linspace(-2.5, 1.5, 201)
    curve = np.array([float(f.value(np.array([v, b]))) for v in grid])
    ms = [m]
    for _step in range(_checks.integer("residuals", "steps", steps, low=1)):
        ms.append(ms[-1] - lr * float(f.grad(np.array([ms[-1], b]))[0]))
    return Residuals(x, y, m, b, m * x + b - y, grid, curve, np.array(ms), lr)


@dataclass(frozen=True)
class LossComparison:
    """SSE (½·Σ(y − t)², Saito's) and cross-entropy (−log y_t) of one softmax
    output against its one-hot label, and both as functions of y_t."""

    outputs: dict[str, F64]
    label: int
    sse: dict[str, float]
    cee: dict[str, float]
    p: F64
    sse_curve: F64
    cee_curve: F64


SAITO_OUTPUT = (0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0)
"""Saito's example output (Deep Learning from Scratch, §4.2): 0.6 on the label 2."""


def sse_vs_cee() -> LossComparison:
    """Saito's two outputs (0.6 on the right class 2; 0.6 on the wrong class 7)
    under both losses, and each loss as the right class's probability p grows
    (the rest spread evenly over the nine others)."""
    right = np.array(SAITO_OUTPUT)
    wrong = right.copy()
    wrong[[2, 7]] = wrong[[7, 2]]
    t = np.zeros(10)
    t[2] = 1.0
    outputs = {_("right (0.6 on class 2)"): right, _("wrong (0.6 on class 7)"): wrong}
    sse = {k: losses.sse(v, t)[0] for k, v in outputs.items()}
    cee = {k: float(-np.log(v[2])) for k, v in outputs.items()}
    p = np.linspace(0.01, 1.0, 100)
    sse_curve = 0.5 * ((1 - p) ** 2 + 9 * ((1 - p) / 9) ** 2)
    return LossComparison(outputs, 2, sse, cee, p, sse_curve, -np.log(p))


@dataclass(frozen=True)
class FlatSharp:
    """Keskar et al.'s sketch: one training loss with a flat and a sharp minimum,
    and the test loss, the same curve shifted by ``shift``."""

    x: F64
    train: F64
    test: F64
    minima: dict[str, float]
    shift: float

    def gaps(self) -> dict[str, float]:
        """flat/sharp -> test − train loss at the training minimum."""
        out = {}
        for label, at in self.minima.items():
            k = int(np.argmin(np.abs(self.x - at)))
            out[label] = float(self.test[k] - self.train[k])
        return out


def well_loss(x: ArrayLike, shift: float = 0.0) -> F64:
    """1 − exp(−(x+2)²/(2·1.2²)) − exp(−(x−2)²/(2·0.25²)) at ``x − shift``: a flat
    minimum at −2, a sharp one at 2, both of depth 1."""
    z = np.asarray(x, dtype=np.float64) - shift
    return (
        1.0
        - np.exp(-((z + 2) ** 2) / (2 * 1.2**2))
        - np.exp(-((z - 2) ** 2) / (2 * 0.25**2))
    )


def flat_sharp(shift: float = 0.4) -> FlatSharp:
    """The training loss :func:`well_loss` and the test loss shifted by ``shift``:
    at the flat minimum the test loss barely rises, at the sharp one a lot
    (Keskar et al., *On Large-Batch Training for Deep Learning*, ICLR 2017, fig. 1)."""
    d = _checks.number("flat_sharp", "shift", shift)
    x = np.linspace(-5.0, 4.0, 1801)
    return FlatSharp(x, well_loss(x), well_loss(x, d), {"flat": -2.0, "sharp": 2.0}, d)


@dataclass(frozen=True)
class Projection:
    """Adam and AdamP on a scale-invariant loss: per optimizer, ‖w‖ and the loss
    at each step, and the largest ``|cos(w, g)|`` against AdamP's threshold."""

    norms: dict[str, F64]
    losses: dict[str, F64]
    max_cosine: float
    threshold: float
    lr: float


def adamp_projection(steps: int = 100, lr: float = 0.1, dim: int = 8) -> Projection:
    """``L(w) = 1 − ⟨w/‖w‖, u⟩`` (w of shape (1, dim)) depends on w's direction
    only, as a weight before a normalization layer does: its gradient is
    orthogonal to w, so AdamP's test ``|cos(w, g)| < δ/√dim`` holds at every step and
    it removes the radial part of Adam's update. Adam's ‖w‖ grows and its
    effective step η/‖w‖ shrinks; AdamP's barely grows (Heo et al., ICLR 2021)."""
    n = _checks.integer("adamp_projection", "steps", steps, low=1)
    d = _checks.integer("adamp_projection", "dim", dim, low=2)
    rng = np.random.default_rng(0)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    w0 = rng.standard_normal((1, d))
    w0 /= np.linalg.norm(w0)
    norms: dict[str, F64] = {}
    values: dict[str, F64] = {}
    cosine = 0.0
    for name in ("Adam", "AdamP"):
        w = w0.copy()
        opt = optim.create(name.lower(), {"w": w}, lr)
        ns, ls = [], []
        for _step in range(n + 1):
            r = float(np.linalg.norm(w))
            unit = w / r
            along = float(unit[0] @ u)
            ns.append(r)
            ls.append(1.0 - along)
            g = -(u - along * unit) / r
            cos = abs(float(np.sum(g * unit))) / float(np.linalg.norm(g))
            cosine = max(cosine, cos)
            opt.step({"w": g})
        norms[name], values[name] = np.array(ns), np.array(ls)
    return Projection(norms, values, cosine, 0.1 / np.sqrt(d), lr)


def notes_run(
    data_name: str = "digits", iterations: int = 600, batch_size: int = 479
) -> History:
    """The notes' MNIST loop (``TrainConfig(notes_loop=True)``, the course-mnist
    preset's model and optimizer) on ``data_name``; by default on the bundled 8×8
    digits in batches of 479 = 1437/3, so that ``i % iter_per_epoch == 0`` holds
    every 3 iterations."""
    features = 64 if data_name == "digits" else 784
    spec = RunSpec(
        data=data_name, val_fraction=None, model=f"mlp:{features}-50-10",
        activation="sigmoid", init="normal:0.01", optimizer="sgd", lr=0.1,
        train=TrainConfig(iterations=iterations, batch_size=batch_size,
                          sampling="with-replacement", notes_loop=True),
    )  # fmt: skip
    run = build(spec)
    return fit(run.model, run.optimizer, run.dataset, spec.train, progress=False,
               verbose=False)  # fmt: skip


__all__ = [
    "SAITO_OUTPUT",
    "BatchModes",
    "FlatSharp",
    "LossComparison",
    "Paths",
    "Projection",
    "Residuals",
    "adamp_projection",
    "batch_modes",
    "ema_curves",
    "flat_sharp",
    "lr_decay",
    "momentum_nag_paths",
    "noisy_line",
    "noisy_series",
    "notes_run",
    "optimizer_paths",
    "paths",
    "regression_paths",
    "residuals",
    "sse_vs_cee",
    "well_loss",
]
