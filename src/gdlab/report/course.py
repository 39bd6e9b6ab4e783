"""The course notes' figures that gdlab draws from :mod:`gdlab.lab.figures`:
batch / mini-batch / stochastic paths and their costs, EMA curves, learning-rate
decay.

Like every ``plot_*`` function of :mod:`gdlab.report`, each draws into ``ax`` (a
new Figure when None), returns the Figure and writes a PNG only when ``path`` is
given. ``gdlab figure NAME -o FILE`` draws each one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from gdlab import _checks
from gdlab.i18n import gettext as _
from gdlab.params import F64
from gdlab.report.landscape import plot_trajectories
from gdlab.report.plots import (
    Curve,
    finish,
    label_colors,
    legend,
    new_axes,
    new_panels,
)

if TYPE_CHECKING:  # the results this module draws; it never computes them
    from gdlab.lab.figures import (
        BatchModes,
        FlatSharp,
        LossComparison,
        Paths,
        Projection,
        Residuals,
    )


def _modes_title(modes: BatchModes) -> str:
    steps = max(len(p) for p in modes.paths.values()) - 1
    return _("{n} noisy points, {steps} iterations, lr {lr:g}").format(
        n=modes.x.size, steps=steps, lr=modes.lr
    )


def plot_batch_paths(
    modes: BatchModes, *, path: str | Path | None = None, ax: Axes | None = None
) -> Figure:
    """The (m, b) path of each batch size on the contour of the whole data set's
    MSE: batch GD goes straight, smaller batches wander around it."""
    return plot_trajectories(
        modes.surface, modes.paths, path=path, ax=ax, title=_modes_title(modes)
    )


def plot_batch_costs(
    modes: BatchModes, *, path: str | Path | None = None, ax: Axes | None = None
) -> Figure:
    """The whole data set's MSE after each iteration, per batch size (log scale):
    noisy for small batches, but trending down."""
    ax = new_axes(ax, (8.0, 4.8))
    colors = label_colors(list(modes.costs))
    for label, cost in modes.costs.items():
        ax.plot(np.arange(cost.size), cost, color=colors[label], label=label)
    ax.axhline(
        modes.surface.min_value,
        color="0.4",
        linestyle=":",
        label=_("least-squares minimum"),
    )
    ax.set_yscale("log")
    ax.set_xlabel(_("iteration"))
    ax.set_ylabel(_("MSE on all the data (log scale)"))
    ax.set_title(_("cost per iteration — {what}").format(what=_modes_title(modes)))
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def plot_batch_modes(
    modes: BatchModes, *, path: str | Path | None = None, ax: Axes | None = None
) -> Figure:
    """Both panels side by side: the paths on the contour, the cost curves."""
    fig = new_panels("plot_batch_modes", ax, (15.0, 6.0))
    left, right = fig.subplots(1, 2)
    plot_batch_paths(modes, ax=left)
    plot_batch_costs(modes, ax=right)
    fig.suptitle(_("batch vs mini-batch vs stochastic gradient descent"))
    return finish(fig, path)


def plot_ema_curves(
    series: ArrayLike,
    curves: Mapping[float, tuple[ArrayLike, ArrayLike]],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The series as dots and, per β, its average bias-corrected (solid) and raw
    (dashed, starting near 0): ``curves`` maps β to ``(raw, corrected)``."""
    owner = "plot_ema_curves"
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        _checks.fail(owner, "series", "a non-empty 1-D array", values.shape)
    if not curves:
        _checks.fail(owner, "curves", "at least one β", curves)
    ax = new_axes(ax, (10.0, 5.2))
    t = np.arange(1, values.size + 1)
    ax.plot(t, values, ".", color="0.55", label="θ_t")
    colors = label_colors([f"{b:g}" for b in curves])
    for beta, (raw, corrected) in curves.items():
        color = colors[f"{beta:g}"]
        window = 1.0 / (1.0 - beta)
        ax.plot(
            t,
            np.asarray(corrected, dtype=np.float64),
            color=color,
            linewidth=1.8,
            label=_("β = {beta:g} (≈{window:.3g} values), bias-corrected").format(
                beta=beta, window=window
            ),
        )
        ax.plot(
            t,
            np.asarray(raw, dtype=np.float64),
            color=color,
            linewidth=1.2,
            linestyle="--",
            label=_("β = {beta:g}, raw").format(beta=beta),
        )
    ax.set_xlabel("t")
    ax.set_ylabel(_("value"))
    ax.set_title(_("exponentially weighted averages v_t = β·v_(t−1) + (1−β)·θ_t"))
    ax.grid(True, alpha=0.3)
    legend(ax)
    return finish(ax, path)


def plot_lr_decay(
    curves: Mapping[str, Curve],
    epochs: int,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Learning rate against the epoch, one labelled curve per schedule (a
    function of the epoch, or the lr of each epoch)."""
    owner = "plot_lr_decay"
    n = _checks.integer(owner, "epochs", epochs, low=1)
    if not curves:
        _checks.fail(owner, "curves", "at least one schedule", curves)
    ax = new_axes(ax, (9.0, 5.0))
    x = np.arange(n)
    for label, curve in curves.items():
        if callable(curve):
            y = [float(curve(int(e))) for e in x]
        else:
            if len(curve) < n:
                _checks.fail(owner, f"curves[{label!r}]", f"{n} values", len(curve))
            y = [float(v) for v in curve[:n]]
        ax.plot(x, y, linewidth=1.8, label=label)
    ax.set_xlim(0, max(1, n - 1))
    ax.set_ylim(bottom=0)
    ax.set_xlabel(_("epoch"))
    ax.set_ylabel(_("learning rate"))
    ax.set_title(_("learning-rate decay, per epoch"))
    ax.grid(True, alpha=0.3)
    legend(ax)
    return finish(ax, path)


def _notes_loss(ax: Axes, values: F64, end: int) -> None:
    ax.plot(np.arange(end), values[:end], label=_("loss"))
    ax.set_xlabel(_("iteration"))
    ax.set_ylabel(_("loss"))
    ax.set_ylim(0.0, 3.0)
    ax.grid(True, alpha=0.3)


def _notes_accuracy(ax: Axes, train: F64, test: F64) -> None:
    x = np.arange(train.size)
    ax.plot(x, train, label=_("train acc"))
    ax.plot(x, test, label=_("test acc"), linestyle="--")
    ax.set_xlabel(_("epochs"))
    ax.set_ylabel(_("accuracy"))
    ax.set_ylim(0.0, 1.0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")


def _loss_values(owner: str, losses: ArrayLike) -> F64:
    values = np.asarray(losses, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        _checks.fail(owner, "losses", "a non-empty 1-D array", values.shape)
    return values


def _accuracies(owner: str, train: ArrayLike, test: ArrayLike) -> tuple[F64, F64]:
    a = np.asarray(train, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        _checks.fail(owner, "train, test", "two 1-D arrays of one length",
                     (a.shape, b.shape))  # fmt: skip
    return a, b


def plot_notes_loss(
    losses: ArrayLike,
    title: str,
    *,
    path: str | Path | None = None,
    zoom: int = 1000,
) -> Figure:
    """The loss of every iteration as the course notes draw it (Saito's
    ``train_neuralnet.py``): linear, on 0–3, above a panel zoomed on the first
    ``zoom`` iterations."""
    values = _loss_values("plot_notes_loss", losses)
    fig = Figure(figsize=(8.0, 7.0), layout="constrained")
    whole, first = fig.subplots(2, 1)
    shown = min(int(zoom), values.size)
    _notes_loss(whole, values, values.size)
    _notes_loss(first, values, shown)
    whole.set_title(title)
    first.set_title(_("the first {n} iterations").format(n=shown))
    return finish(fig, path)


def plot_notes_accuracy(
    train: ArrayLike,
    test: ArrayLike,
    title: str,
    *,
    path: str | Path | None = None,
) -> Figure:
    """Train (solid) and test (dashed) accuracy at each of the notes' evaluations,
    on 0–1, legend lower right: their figure 4-12, in its own figure (the notes'
    code draws it into the zoom panel of the loss figure)."""
    a, b = _accuracies("plot_notes_accuracy", train, test)
    ax = new_axes(None, (8.0, 4.8))
    _notes_accuracy(ax, a, b)
    ax.set_title(title)
    return finish(ax, path)


def plot_notes_run(
    losses: ArrayLike,
    train: ArrayLike,
    test: ArrayLike,
    title: str,
    *,
    path: str | Path | None = None,
    zoom: int = 1000,
) -> Figure:
    """The notes' three pictures in one figure: the loss (0–3), its first
    ``zoom`` iterations, the accuracy (0–1, train solid, test dashed)."""
    values = _loss_values("plot_notes_run", losses)
    a, b = _accuracies("plot_notes_run", train, test)
    fig = Figure(figsize=(8.0, 10.0), layout="constrained")
    whole, first, acc = fig.subplots(3, 1)
    shown = min(int(zoom), values.size)
    _notes_loss(whole, values, values.size)
    _notes_loss(first, values, shown)
    _notes_accuracy(acc, a, b)
    whole.set_title(_("loss per iteration"))
    first.set_title(_("the first {n} iterations").format(n=shown))
    acc.set_title(_("train and test accuracy"))
    fig.suptitle(title)
    return finish(fig, path)


def plot_paths(
    paths: Paths, *, path: str | Path | None = None, three_d: bool = False
) -> Figure:
    """Optimizer paths on their surface's contour (and its 3-D surface)."""
    return plot_trajectories(
        paths.surface, paths.paths, path=path, title=paths.title, three_d=three_d
    )


def plot_residuals(r: Residuals, *, path: str | Path | None = None) -> Figure:
    """Note 001's two pictures: the data, the line ŷ = m·x + b and the residuals
    ŷ − y; the loss curve MSE(m) at fixed b with gradient-descent steps on it."""
    fig = Figure(figsize=(13.0, 5.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    xs = np.linspace(0.0, 3.0, 50)
    left.plot(r.x, r.y, "o", color="C0", label=_("data (x, y)"))
    line = _("ŷ = m·x + b, m = {m:g}, b = {b:g}").format(m=r.m, b=r.b)
    left.plot(xs, r.m * xs + r.b, color="C1", label=line)
    for x, y, e in zip(r.x, r.y, r.residuals, strict=True):
        left.plot([x, x], [y, y + e], color="C3", linewidth=2)
        left.annotate(f"r = {e:+g}", (x, y + e / 2), xytext=(6, 0),
                      textcoords="offset points", color="C3")  # fmt: skip
    left.plot([], [], color="C3", linewidth=2, label=_("residual r = ŷ − y"))
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.set_title(_("the data, the line and its residuals"))
    left.grid(True, alpha=0.3)
    left.legend(loc="lower right")
    curve = _("MSE(m) at b = {b:g}").format(b=r.b)
    right.plot(r.grid, r.curve, color="C0", label=curve)
    values = np.interp(r.steps, r.grid, r.curve)
    right.plot(r.steps, values, "o-", color="C3",
               label=_("gradient steps, λ = {lr:g}").format(lr=r.lr))  # fmt: skip
    right.set_xlabel("m")
    right.set_ylabel("MSE")
    right.set_title(_("the loss curve: one weight, the loss, the steps"))
    right.grid(True, alpha=0.3)
    right.legend(loc="upper right")
    return finish(fig, path)


def plot_sse_vs_cee(c: LossComparison, *, path: str | Path | None = None) -> Figure:
    """SSE and cross-entropy as the right class's probability p grows, with
    Saito's two outputs marked (0.6 on the right class; 0.6 on a wrong one)."""
    ax = new_axes(None, (9.0, 5.2))
    ax.plot(c.p, c.sse_curve, color="C0", label=_("SSE ½·Σ(y − t)²"))
    ax.plot(c.p, c.cee_curve, color="C1", label=_("cross-entropy −log y_t"))
    for k, (label, out) in enumerate(c.outputs.items()):
        p = float(out[c.label])
        ax.plot([p], [c.sse[label]], "o", color="C0", markersize=8 - 3 * k)
        ax.plot([p], [c.cee[label]], "s", color="C1", markersize=8 - 3 * k)
        ax.annotate(
            f"{label}: SSE {c.sse[label]:.4g}, CEE {c.cee[label]:.4g}",
            (p, c.cee[label]), xytext=(8, 4), textcoords="offset points",
        )  # fmt: skip
    ax.set_xlabel(_("y_t: the probability of the right class"))
    ax.set_ylabel(_("loss"))
    ax.set_ylim(0.0, 4.0)
    ax.set_title(_("SSE against cross-entropy: the right class's probability"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return finish(ax, path)


def plot_flat_sharp(f: FlatSharp, *, path: str | Path | None = None) -> Figure:
    """Keskar et al.'s sketch: the training loss (solid), the test loss shifted
    from it (dashed), and how much each minimum loses on the test curve."""
    ax = new_axes(None, (10.0, 5.0))
    ax.plot(f.x, f.train, color="C0", label=_("training function"))
    ax.plot(f.x, f.test, color="C3", linestyle="--", label=_("testing function"))
    for label, gap in f.gaps().items():
        at = f.minima[label]
        k = int(np.argmin(np.abs(f.x - at)))
        ax.annotate(
            "", (at, f.test[k]), (at, f.train[k]),
            arrowprops={"arrowstyle": "<->", "color": "0.3"},
        )  # fmt: skip
        name = _("flat minimum") if label == "flat" else _("sharp minimum")
        text = name + "\n" + _("test − train = {gap:.3g}").format(gap=gap)
        ax.annotate(text, (at, f.train[k]),
                    xytext=(10, -28), textcoords="offset points")  # fmt: skip
    ax.set_xlabel(_("parameter"))
    ax.set_ylabel(_("loss"))
    ax.set_ylim(-0.15, 1.15)
    ax.set_title(_("flat and sharp minima (Keskar et al., ICLR 2017)"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    return finish(ax, path)


def plot_adamp(p: Projection, *, path: str | Path | None = None) -> Figure:
    """‖w‖ and the loss per step for Adam and AdamP on a scale-invariant loss."""
    fig = Figure(figsize=(13.0, 5.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, norms in p.norms.items():
        steps = np.arange(norms.size)
        left.plot(steps, norms, label=name)
        right.plot(steps, p.losses[name], label=name)
    left.set_xlabel(_("step"))
    left.set_ylabel("‖w‖")
    left.set_title(_("the weight norm: Adam's grows, its effective step η/‖w‖ "
                     "shrinks"))  # fmt: skip
    right.set_yscale("log")
    right.set_xlabel(_("step"))
    right.set_ylabel("1 − cos(w, u)")
    right.set_title(_("the scale-invariant loss"))
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(
        _("AdamP projects: max |cos(w, g)| = {c:.1e} < δ/√dim = {t:.3g}, η = {lr:g}")
        .format(c=p.max_cosine, t=p.threshold, lr=p.lr)
    )  # fmt: skip
    return finish(fig, path)


__all__ = [
    "plot_adamp",
    "plot_batch_costs",
    "plot_batch_modes",
    "plot_batch_paths",
    "plot_ema_curves",
    "plot_flat_sharp",
    "plot_lr_decay",
    "plot_notes_accuracy",
    "plot_notes_loss",
    "plot_notes_run",
    "plot_paths",
    "plot_residuals",
    "plot_sse_vs_cee",
]
