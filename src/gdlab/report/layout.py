"""A fixed layout for a figure of one Axes, with its margins measured from its text.

matplotlib's constrained layout finds the margins by laying out every tick label
twice (a ``get_tightbbox`` pass per iteration) before the figure is drawn: for a
report's figure that cost as much as drawing it. :func:`place` gets the same
margins from the widths of the few strings that sit in them (tick labels, axis
labels, title lines, legend labels), measured with FreeType's metrics
(``TextToPath``, in points, without a renderer), and places the Axes with
``subplots_adjust``; the legend goes outside the Axes on the right, at a fixed
place (``loc="best"`` tries every position against every line drawn).

:class:`SciLog` labels a log axis as matplotlib's ``LogFormatterSciNotation`` does
(10⁻², 2×10⁻¹, the same ticks labelled) in plain Unicode instead of mathtext,
whose parser took a tenth of a second for the first log axis of a process.
"""

from __future__ import annotations

import math
import re

from matplotlib import rcParams, ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

__all__ = ["SciLog", "log_axis", "place"]

_SUPERSCRIPT = str.maketrans("-−0123456789", "⁻⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_MATH = re.compile(r"\$\\mathdefault\{(?:(.+?)\\times\s*)?(\d+)\^\{(.+?)\}\}\$")
_MEASURE = TextToPath()
_EDGE = 6.0
"""Points of blank space kept at each side of the figure."""


class SciLog(ticker.LogFormatterSciNotation):
    """``LogFormatterSciNotation``'s labels as plain text: ``10⁻²``, ``2×10⁻¹``."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = str(super().__call__(x, pos))
        match = _MATH.fullmatch(text)
        if match is None:
            return text.replace("$\\mathdefault{", "").replace("}$", "")
        mantissa, base, exponent = match.groups()
        lead = f"{mantissa}×" if mantissa else ""
        return f"{lead}{base}{exponent.translate(_SUPERSCRIPT)}"


def log_axis(ax: Axes, which: str) -> None:
    """Put ``ax``'s ``which`` axis (``"x"`` or ``"y"``) on a log scale labelled by
    :class:`SciLog` (minor ticks labelled only where matplotlib labels them)."""
    if which == "x":
        ax.set_xscale("log")
    else:
        ax.set_yscale("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_formatter(SciLog())
    axis.set_minor_formatter(SciLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _size(text: str, size: float, rotation: float = 0.0) -> tuple[float, float]:
    """Width and height in points of ``text`` in the default font at ``size``
    points, turned by ``rotation`` degrees."""
    if not text:
        return 0.0, 0.0
    width = height = 0.0
    for line in text.split("\n"):
        w, _, _ = _MEASURE.get_text_width_height_descent(
            line, FontProperties(size=size), ismath=False
        )
        width = max(width, w)
        height += 1.2 * size  # matplotlib's line spacing
    turn = math.radians(rotation)
    return (
        abs(width * math.cos(turn)) + abs(height * math.sin(turn)),
        abs(width * math.sin(turn)) + abs(height * math.cos(turn)),
    )


def _points(size: float | str) -> float:
    """A font size (points, or a name such as ``"small"``) in points."""
    return float(FontProperties(size=size).get_size_in_points())


def _tick_labels(ax: Axes, which: str) -> tuple[list[str], float]:
    """The labels of ``which`` axis's ticks inside its view, and their rotation."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.get_majorticklabels()  # the ticks and labels the figure will draw
    axis.get_minorticklabels()
    low, high = sorted(axis.get_view_interval())
    texts: list[str] = []
    rotation = 0.0
    for ticks in (axis.get_major_ticks(), axis.get_minor_ticks()):
        for tick in ticks:
            loc = tick.get_loc()
            if loc is None or not low - 1e-12 * abs(low) <= loc <= high * (1 + 1e-12):
                continue
            label = tick.label1
            if label.get_visible() and label.get_text():
                texts.append(label.get_text())
                rotation = label.get_rotation()
    return texts, rotation


def _title_at_top(ax: Axes) -> None:
    """Fix the title where matplotlib would place it, just above the Axes, when
    nothing can push it up (no tick labels or axis label on top, no offset text
    on the y axis): matplotlib then skips looking for those at every draw (the
    y axis's tick labels measured again)."""
    x = ax.xaxis
    bottom = "bottom" == x.get_ticks_position() == x.get_label_position()
    if bottom and not ax.yaxis.get_major_formatter().get_offset():
        ax.set_title(ax.get_title(), y=1.0)


def place(ax: Axes, *, legend: bool) -> Figure:
    """Lay out the Figure of ``ax`` (its only Axes) with margins that hold its tick
    labels, axis labels and title, and, when ``legend``, the legend of ``ax``'s
    labelled artists outside the Axes at the upper right; the Figure is widened by
    the legend's width, so the Axes keep their size."""
    fig = ax.get_figure()
    assert isinstance(fig, Figure)
    tick = _points(rcParams["xtick.labelsize"])
    pad = rcParams["xtick.major.size"] + rcParams["xtick.major.pad"]
    label = _points(rcParams["axes.labelsize"])
    label_pad = rcParams["axes.labelpad"]
    y_texts, _ = _tick_labels(ax, "y")
    x_texts, x_turn = _tick_labels(ax, "x")
    y_width = max((_size(t, tick)[0] for t in y_texts), default=0.0)
    x_height = max((_size(t, tick, x_turn)[1] for t in x_texts), default=0.0)
    x_overhang = max((_size(t, tick, x_turn)[0] for t in x_texts[-1:]), default=0.0)
    left = _EDGE + y_width + pad
    if ax.get_ylabel():
        left += _size(ax.get_ylabel(), label)[1] + label_pad
    if x_turn:  # rotated names hang to the left of their tick
        first = max((_size(t, tick, x_turn)[0] for t in x_texts[:1]), default=0.0)
        left = max(left, _EDGE + first)
    bottom = _EDGE + x_height + pad
    if ax.get_xlabel():
        bottom += _size(ax.get_xlabel(), label)[1] + label_pad
    top = _EDGE + rcParams["axes.titlepad"]
    if ax.get_title():
        top += _size(ax.get_title(), _points(rcParams["axes.titlesize"]))[1]
        _title_at_top(ax)
    right = _EDGE + (0.0 if x_turn else x_overhang / 2)
    width, height = fig.get_size_inches() * 72.0
    handles, labels = ax.get_legend_handles_labels()
    if legend and labels:
        small = FontProperties(size="small").get_size_in_points()
        text = max((_size(t, small)[0] for t in labels), default=0.0)
        # handle, its gap, the borders and the padding, in font sizes (rcParams)
        ems = (
            rcParams["legend.handlelength"]
            + rcParams["legend.handletextpad"]
            + 2 * rcParams["legend.borderpad"]
            + 2 * rcParams["legend.borderaxespad"]
        )
        extra = text + ems * small
        fig.set_size_inches((width + extra) / 72.0, height / 72.0)
        width += extra
        right = max(right, _EDGE + extra)
        ax.legend(
            handles,
            labels,
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    fig.set_layout_engine(None)
    fig.subplots_adjust(
        left=left / width,
        right=1.0 - right / width,
        bottom=bottom / height,
        top=1.0 - top / height,
    )
    return fig
