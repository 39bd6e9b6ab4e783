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
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks
from gdlab.i18n import gettext as _
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
    from gdlab.lab.figures import BatchModes

F64 = NDArray[np.float64]


def _modes_title(modes: BatchModes) -> str:
    steps = max(len(p) for p in modes.paths.values()) - 1
    return f"{modes.x.size} noisy points, {steps} iterations, lr {modes.lr:g}"


def plot_batch_paths(
    modes: BatchModes, path: str | Path | None = None, *, ax: Axes | None = None
) -> Figure:
    """The (m, b) path of each batch size on the contour of the whole data set's
    MSE: batch GD goes straight, smaller batches wander around it."""
    return plot_trajectories(
        modes.surface, modes.paths, path, ax=ax, title=_modes_title(modes)
    )


def plot_batch_costs(
    modes: BatchModes, path: str | Path | None = None, *, ax: Axes | None = None
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
        label="least-squares minimum",
    )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE on all the data (log scale)")
    ax.set_title(f"cost per iteration — {_modes_title(modes)}")
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def plot_batch_modes(
    modes: BatchModes, path: str | Path | None = None, *, ax: Axes | None = None
) -> Figure:
    """Both panels side by side: the paths on the contour, the cost curves."""
    fig = new_panels("plot_batch_modes", ax, (15.0, 6.0))
    left, right = fig.subplots(1, 2)
    plot_batch_paths(modes, ax=left)
    plot_batch_costs(modes, ax=right)
    fig.suptitle("batch vs mini-batch vs stochastic gradient descent")
    return finish(fig, path)


def plot_ema_curves(
    series: ArrayLike,
    curves: Mapping[float, tuple[ArrayLike, ArrayLike]],
    path: str | Path | None = None,
    *,
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
            label=f"β = {beta:g} (≈{window:.3g} values), bias-corrected",
        )
        ax.plot(
            t,
            np.asarray(raw, dtype=np.float64),
            color=color,
            linewidth=1.2,
            linestyle="--",
            label=f"β = {beta:g}, raw",
        )
    ax.set_xlabel("t")
    ax.set_ylabel("value")
    ax.set_title("exponentially weighted averages v_t = β·v_(t−1) + (1−β)·θ_t")
    ax.grid(True, alpha=0.3)
    legend(ax)
    return finish(ax, path)


def plot_lr_decay(
    curves: Mapping[str, Curve],
    epochs: int,
    path: str | Path | None = None,
    *,
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
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning-rate decay, per epoch")
    ax.grid(True, alpha=0.3)
    legend(ax)
    return finish(ax, path)


def plot_notes_loss(
    losses: ArrayLike,
    title: str,
    path: str | Path | None = None,
    *,
    zoom: int = 1000,
) -> Figure:
    """The loss of every iteration as the course notes draw it (Saito's
    ``train_neuralnet.py``): linear, on 0–3, above a panel zoomed on the first
    ``zoom`` iterations."""
    values = np.asarray(losses, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        _checks.fail("plot_notes_loss", "losses", "a non-empty 1-D array", values.shape)
    fig = Figure(figsize=(8.0, 7.0), layout="constrained")
    whole, first = fig.subplots(2, 1)
    x = np.arange(values.size)
    shown = min(int(zoom), values.size)
    for ax, end in ((whole, values.size), (first, shown)):
        ax.plot(x[:end], values[:end], label=_("loss"))
        ax.set_xlabel(_("iteration"))
        ax.set_ylabel(_("loss"))
        ax.set_ylim(0.0, 3.0)
        ax.grid(True, alpha=0.3)
    whole.set_title(title)
    first.set_title(_("the first {n} iterations").format(n=shown))
    return finish(fig, path)


def plot_notes_accuracy(
    train: ArrayLike,
    test: ArrayLike,
    title: str,
    path: str | Path | None = None,
) -> Figure:
    """Train (solid) and test (dashed) accuracy at each of the notes' evaluations,
    on 0–1, legend lower right: their figure 4-12, in its own figure (the notes'
    code draws it into the zoom panel of the loss figure)."""
    a = np.asarray(train, dtype=np.float64)
    b = np.asarray(test, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        _checks.fail(
            "plot_notes_accuracy", "train, test", "two 1-D arrays of one length",
            (a.shape, b.shape),
        )  # fmt: skip
    ax = new_axes(None, (8.0, 4.8))
    x = np.arange(a.size)
    ax.plot(x, a, label=_("train acc"))
    ax.plot(x, b, label=_("test acc"), linestyle="--")
    ax.set_xlabel(_("epochs"))
    ax.set_ylabel(_("accuracy"))
    ax.set_ylim(0.0, 1.0)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    return finish(ax, path)


__all__ = [
    "plot_batch_costs",
    "plot_batch_modes",
    "plot_batch_paths",
    "plot_ema_curves",
    "plot_lr_decay",
    "plot_notes_accuracy",
    "plot_notes_loss",
]
