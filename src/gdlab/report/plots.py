"""PNG plots with matplotlib: schedules, loss and accuracy curves, summaries.

Every ``plot_*`` function of :mod:`gdlab.report` follows matplotlib's convention:
it draws into ``ax`` (a new Figure when None), returns the Figure, and writes a PNG
only when ``path`` is given, so a notebook shows it inline, a user can place it in
a subplot of their own and restyle it before saving. A figure of several panels
takes the place of the ``ax`` it is given (a SubFigure in the same grid cell).
Figures are made with the object API (``Figure``), never through ``pyplot``: no
global backend is switched under a user's notebook, and no figure is left open.
"""

from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from gdlab import _checks, outputs

Curve = Callable[[int], float] | Sequence[float]
"""A schedule (step -> lr) or the lr already recorded at each step."""


DRAWN_STEPS = 20_000
"""At most this many steps of a schedule are drawn: every step of a shorter run,
evenly spaced ones (the first and the last included) of a longer one, which a
figure a few thousand pixels wide cannot tell apart."""


def drawn_steps(steps: int) -> list[int]:
    """The steps of a run of ``steps`` steps that a schedule's line is drawn at."""
    if steps <= DRAWN_STEPS:
        return list(range(steps))
    last = DRAWN_STEPS - 1
    return [k * (steps - 1) // last for k in range(DRAWN_STEPS)]


def _values(
    owner: str, label: str, curve: Curve, steps: int
) -> tuple[list[int], list[float]]:
    """The steps drawn and the lr at each of them."""
    at = drawn_steps(steps)
    if callable(curve):
        return at, [float(curve(t)) for t in at]
    if isinstance(curve, str) or not isinstance(curve, Sequence):
        _checks.fail(
            owner, f"schedules[{label!r}]", "a schedule or a list of lrs", curve
        )
    if len(curve) < steps:
        _checks.fail(
            owner, f"schedules[{label!r}]", f"at least {steps} values", len(curve)
        )
    return at, [float(curve[t]) for t in at]


def _labelled(owner: str, curves: object) -> dict[str, Curve]:
    if isinstance(curves, Mapping):
        items = {str(k): v for k, v in curves.items()}
    elif callable(curves):
        items = {repr(curves): curves}
    elif isinstance(curves, Sequence) and not isinstance(curves, str):
        items = {
            repr(c) if callable(c) else f"lrs {k}": c for k, c in enumerate(curves)
        }
    else:
        _checks.fail(owner, "schedules", "a sequence or mapping of schedules", curves)
    if not items:
        _checks.fail(owner, "schedules", "at least one schedule", curves)
    return items


PNG_DPI = 120
"""The resolution of the PNGs gdlab writes (dots per inch)."""
PNG_LEVEL = 3
"""zlib's level for them (Pillow's default is 6): a comparison's five figures took
406 instead of 446 ms of CPU to draw and encode, for 9% more bytes (6 Dec 2026)."""


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` on the Agg canvas into the PNG ``path`` (folders created),
    atomically."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    return outputs.write_atomic(out, lambda f: _savefig_png(fig, f, PNG_DPI))


def png_bytes(fig: Figure, dpi: float) -> bytes:
    """``fig`` as the bytes of a PNG at ``dpi``, as :func:`save_figure` writes it."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    _savefig_png(fig, buffer, dpi)
    return buffer.getvalue()


def _savefig_png(fig: Figure, file: Any, dpi: float) -> None:
    fig.savefig(file, format="png", dpi=dpi, pil_kwargs={"compress_level": PNG_LEVEL})


def figure_html(fig: Figure, alt: str) -> str:
    """``fig`` as an inline ``<img>`` (a base64 PNG): the figure a result's
    ``_repr_html_`` shows."""
    data = base64.b64encode(png_bytes(fig, 80)).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new Figure of ``size`` inches laid out by
    matplotlib (constrained layout)."""
    if ax is None:
        return Figure(figsize=size, layout="constrained").add_subplot()
    return ax


def new_panels(
    owner: str, ax: Axes | None, size: tuple[float, float]
) -> Figure | SubFigure:
    """Where a figure of several panels draws: a new Figure of ``size`` inches, or
    a SubFigure in the grid cell of ``ax``, which it replaces."""
    if ax is None:
        return Figure(figsize=size, layout="constrained")
    spec = ax.get_subplotspec()
    parent = ax.get_figure()
    if spec is None or parent is None:
        _checks.fail(owner, "ax", "an Axes made by add_subplot or subplots", ax)
    ax.remove()
    return parent.add_subfigure(spec)


def root_figure(where: Axes | Figure | SubFigure) -> Figure:
    """The top-level Figure that ``where`` is drawn in."""
    fig = where if isinstance(where, Figure | SubFigure) else where.get_figure()
    while isinstance(fig, SubFigure):
        fig = fig.get_figure()
    assert isinstance(fig, Figure)
    return fig


def finish(where: Axes | Figure | SubFigure, path: str | Path | None) -> Figure:
    """The Figure drawn in, written as the PNG ``path`` when one is given."""
    fig = root_figure(where)
    if path is not None:
        save_figure(fig, path)
    return fig


def legend(
    ax: Axes,
    loc: Any = "outside right upper",
    labels: Sequence[str] | None = None,
    **kwargs: Any,
) -> None:
    """The figure's legend outside the axes (``loc`` as for ``Figure.legend``)
    when ``ax`` has a laid-out figure to itself; otherwise the axes' own legend,
    so a panel of a user's figure keeps its legend to itself. ``labels`` replace
    the artists' labels (wrapped text, say). Called again, it replaces the
    legend it drew."""
    handles, own = ax.get_legend_handles_labels()
    shown = list(own if labels is None else labels)
    fig = ax.get_figure()
    panels = (
        [] if fig is None else [a for a in fig.axes if a.get_label() != "<colorbar>"]
    )
    engine = None if fig is None else root_figure(fig).get_layout_engine()
    if (
        fig is not None
        and panels == [ax]
        and isinstance(engine, ConstrainedLayoutEngine)
    ):
        for drawn in list(fig.legends):  # drawn again: one legend, not two
            drawn.remove()
        fig.legend(handles, shown, loc=loc, fontsize="small", **kwargs)
    else:
        ax.legend(handles, shown, fontsize="small", **kwargs)


def _draw(
    ax: Axes, curve: tuple[list[int], list[float]], label: str | None = None
) -> None:
    steps, values = curve
    ax.plot(steps, values, label=label, linewidth=1.6)
    ax.set_xlim(0, max(1, steps[-1]))
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)


def plot_schedules(
    schedules: Sequence[Curve] | Mapping[str, Curve] | Curve,
    steps: int,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str = "Learning-rate schedules",
) -> Figure:
    """Draw schedules over steps ``0 .. steps-1`` on one labelled axes.

    ``schedules`` is a mapping label -> schedule, a sequence of schedules (each
    labelled by its ``repr``), or one schedule. A plain list of numbers stands for
    an lr recorded at each step.
    """
    owner = "plot_schedules"
    n = _checks.integer(owner, "steps", steps, low=1)
    curves = _labelled(owner, schedules)
    data = {label: _values(owner, label, c, n) for label, c in curves.items()}
    ax = new_axes(ax, (8.0, 4.8))
    for label, values in data.items():
        _draw(ax, values, label)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    labels = ax.get_legend_handles_labels()[1]
    wrapped = [textwrap.fill(label, 100, subsequent_indent="    ") for label in labels]
    legend(ax, "outside lower center", wrapped)
    return finish(ax, path)


def plot_schedule_grid(
    schedules: Mapping[str, Curve],
    steps: int,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    ncols: int = 4,
    title: str = "Learning-rate schedules",
) -> Figure:
    """Draw each schedule in its own small panel, titled by its label."""
    owner = "plot_schedule_grid"
    n = _checks.integer(owner, "steps", steps, low=1)
    cols = _checks.integer(owner, "ncols", ncols, low=1)
    if not isinstance(schedules, Mapping):
        _checks.fail(owner, "schedules", "a mapping label -> schedule", schedules)
    curves = _labelled(owner, schedules)
    data = {label: _values(owner, label, c, n) for label, c in curves.items()}
    cols = min(cols, len(data))
    rows = math.ceil(len(data) / cols)
    fig = new_panels(owner, ax, (3.2 * cols, 2.4 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True)
    for k, (label, values) in enumerate(data.items()):
        ax = axes[k // cols][k % cols]
        _draw(ax, values)
        ax.set_title(label, fontsize="medium")
        ax.tick_params(labelsize="small")
        if k % cols == 0:
            ax.set_ylabel("lr")
        if k // cols == rows - 1 or k + cols >= len(data):
            ax.set_xlabel("step")
            ax.tick_params(labelbottom=True)
    for k in range(len(data), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(f"{title} ({n} steps)")
    return finish(fig, path)


# --- training curves ------------------------------------------------------------------

Series = Mapping[str, Sequence[float]]


def ema(values: Sequence[float], beta: float) -> list[float]:
    r"""Bias-corrected exponential moving average:
    :math:`v_t = \beta v_{t-1} + (1-\beta)\,x_t`, shown as :math:`v_t / (1-\beta^t)`."""
    out, v = [], 0.0
    for t, x in enumerate(values, start=1):
        v = beta * v + (1.0 - beta) * x
        out.append(v / (1.0 - beta**t))
    return out


def label_colors(labels: Sequence[str]) -> dict[str, Any]:
    """One qualitative colour per label: tab10's ten hues, then (past ten labels)
    tab20's light shades of them, so that neighbours in a legend of twelve
    optimizers never share a hue (tab20 in its own order pairs each hue with its
    light shade: the first two labels were two blues)."""
    tab20 = matplotlib.colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return {label: tab20(order[k % 20]) for k, label in enumerate(labels)}


def plot_loss_curves(
    losses: Series,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str = "Training loss per iteration",
) -> Figure:
    """The loss of every step (faint) and its bias-corrected EMA (bold), per label,
    on a log scale; the EMA spans about 1/(1-β) steps, β chosen from the length."""
    owner = "plot_loss_curves"
    if not losses:
        _checks.fail(owner, "losses", "at least one curve", losses)
    ax = new_axes(ax, (11.0, 4.8))
    colors = label_colors(list(losses))
    longest = max(len(v) for v in losses.values())
    beta = min(0.98, max(0.0, 1.0 - 20.0 / max(longest, 1)))
    for label, values in losses.items():
        steps = range(1, len(values) + 1)
        ax.plot(steps, values, color=colors[label], alpha=0.15, linewidth=0.6)
        ax.plot(
            steps, ema(values, beta), color=colors[label], linewidth=1.8, label=label
        )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (log scale)")
    ax.set_title(f"{title} — EMA β = {beta:.2f}")
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def plot_accuracy(
    epochs: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str = "Accuracy per epoch",
    validation: Mapping[str, Sequence[float]] | None = None,
) -> Figure:
    """Train (solid) and test (dashed) accuracy per epoch; ``epochs`` maps a label
    to ``(epoch numbers, train accuracies, test accuracies)`` (an empty test list:
    the test set was not read); ``validation`` adds a label's validation accuracy
    at the same epochs (dotted)."""
    owner = "plot_accuracy"
    if not epochs:
        _checks.fail(owner, "epochs", "at least one curve", epochs)
    ax = new_axes(ax, (11.0, 4.8))
    colors = label_colors(list(epochs))
    validation = validation or {}
    for label, (x, train, test) in epochs.items():
        ax.plot(x, train, color=colors[label], linewidth=1.6, label=label)
        if len(test):
            ax.plot(x, test, color=colors[label], linewidth=1.6, linestyle="--")
        if label in validation:
            ax.plot(x, validation[label], color=colors[label], linestyle=":")
    ax.plot([], [], color="0.3", label="train (solid)")
    if validation:
        ax.plot([], [], color="0.3", linestyle=":", label="validation (dotted)")
    ax.plot([], [], color="0.3", linestyle="--", label="test (dashed)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    legend(ax)
    return finish(ax, path)


def plot_lrs(
    lrs: Series,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str = "Learning rate at each step",
) -> Figure:
    """The learning rate each run used at every step, on a log scale."""
    owner = "plot_lrs"
    if not lrs:
        _checks.fail(owner, "lrs", "at least one curve", lrs)
    ax = new_axes(ax, (8.0, 5.0))
    colors = label_colors(list(lrs))
    for label, values in lrs.items():
        ax.plot(
            range(1, len(values) + 1),
            values,
            color=colors[label],
            label=label,
            linewidth=1.6,
        )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate (log scale)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def plot_summary(
    values: Mapping[str, tuple[float, float]],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    xlabel: str = "best test accuracy",
    title: str = "Best test accuracy (mean ± std over seeds)",
) -> Figure:
    """Horizontal bars of ``label -> (mean, std)``, best on top, value printed."""
    owner = "plot_summary"
    if not values:
        _checks.fail(owner, "values", "at least one bar", values)
    ordered = sorted(values.items(), key=lambda kv: kv[1][0])
    ax = new_axes(ax, (8.0, 0.42 * len(ordered) + 1.4))
    colors = label_colors(list(values))
    labels = [k for k, _ in ordered]
    means = [v[0] for _, v in ordered]
    ax.barh(
        labels,
        means,
        xerr=[v[1] for _, v in ordered],
        color=[colors[k] for k in labels],
        capsize=3,
    )
    for y, m in enumerate(means):
        ax.text(m, y, f" {m:.3f}", va="center", fontsize="small")
    ax.set_xlim(max(0.0, min(means) - 0.05), max(1.0, max(means)))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    return finish(ax, path)


__all__ = [
    "Curve",
    "ema",
    "plot_accuracy",
    "plot_loss_curves",
    "plot_lrs",
    "plot_schedule_grid",
    "plot_schedules",
    "plot_summary",
]
