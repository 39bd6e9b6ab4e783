"""The fixed layout of the comparison's figures: margins measured from their text
hold every label inside the figure, the legend outside the Axes; log axes
labelled in plain text as matplotlib labels them in mathtext."""

from __future__ import annotations

import pytest
from matplotlib import ticker
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gdlab.report import layout


def _texts_inside(fig: Figure) -> list[str]:
    """What of ``fig`` is drawn (partly) outside it: "" when nothing, else the
    sides of the figure that its only Axes' text (tick labels, labels, title,
    legend: matplotlib's tight bounding box) crosses."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    (ax,) = fig.axes
    drawn = ax.get_tightbbox(canvas.get_renderer())
    assert drawn is not None
    box = fig.bbox
    sides = {
        "left": drawn.x0 < box.x0 - 0.5,
        "bottom": drawn.y0 < box.y0 - 0.5,
        "right": drawn.x1 > box.x1 + 0.5,
        "top": drawn.y1 > box.y1 + 0.5,
    }
    return [side for side, out in sides.items() if out]


@pytest.mark.parametrize("rotation", [0, 30])
def test_every_label_and_the_legend_fit_in_the_figure(rotation: int) -> None:
    fig = Figure(figsize=(7.0, 4.4))
    ax = fig.add_subplot()
    names = ["sgd", "adam:betas=(0.9,0.99)", "a much longer optimizer name"]
    for k, name in enumerate(names):
        ax.plot([1e-5, 1e2], [k, -1000.5 * k], label=name)
    layout.log_axis(ax, "x")
    if rotation:
        ax.set_xticks([1e-5, 1e-2, 1e2], names, rotation=rotation, ha="right")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("validation loss")
    ax.set_title("A title of two lines\nthe second one longer than the first one")
    layout.place(ax, legend=True)
    assert fig.get_layout_engine() is None
    assert _texts_inside(fig) == []
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == names
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legend_box = legend.get_window_extent(renderer)
    assert legend_box.x0 >= ax.get_window_extent(renderer).x1  # outside the Axes
    assert fig.get_size_inches()[0] > 7.0  # widened by the legend, Axes kept


def test_the_margins_are_tight_not_just_generous() -> None:
    """The Axes fill the figure but for the text around them: a short-labelled
    figure keeps at least 80% of its width and height for the Axes."""
    fig = Figure(figsize=(7.0, 4.4))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    layout.place(ax, legend=False)
    position = ax.get_position()
    assert position.width > 0.8 and position.height > 0.8
    assert _texts_inside(fig) == []


@pytest.mark.parametrize(
    ("value", "minor", "text"),
    [
        (1e-2, False, "10⁻²"),
        (1e3, False, "10³"),
        (1.0, False, "10⁰"),
        (0.2, True, "2×10⁻¹"),
    ],
)
def test_log_labels_are_matplotlibs_in_plain_text(
    value: float, minor: bool, text: str
) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0.11, 0.5], [1, 2])  # under a decade: minor ticks are labelled
    layout.log_axis(ax, "x")
    axis = ax.xaxis
    formatter = axis.get_minor_formatter() if minor else axis.get_major_formatter()
    assert isinstance(formatter, layout.SciLog)
    reference = ticker.LogFormatterSciNotation(labelOnlyBase=not minor)
    reference.set_axis(axis)
    formatter.set_locs(axis.get_minorticklocs() if minor else [value])
    reference.set_locs(axis.get_minorticklocs() if minor else [value])
    assert "mathdefault" in reference(value)  # what matplotlib draws in mathtext
    assert formatter(value) == text


@pytest.mark.parametrize("scale", [1.0, 1e-7])
def test_the_title_sits_where_matplotlib_places_it(scale: float) -> None:
    """Fixed just above the Axes where nothing can push it up, and left to
    matplotlib above a y offset text: the pixels of matplotlib's own placement."""

    def drawn(own_placement: bool) -> tuple[bytes, float]:
        fig = Figure(figsize=(4.0, 3.0))
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, scale])
        ax.set_title("a title as wide as the whole Axes, or wider than that")
        layout.place(ax, legend=False)
        if own_placement:
            ax.set_title(ax.get_title())  # matplotlib places it at each draw
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        return bytes(canvas.buffer_rgba()), ax.title.get_position()[1]

    (placed, y), (own, y_own) = drawn(False), drawn(True)
    assert placed == own and y == y_own
    assert (y == 1.0) if scale == 1.0 else (y > 1.0)  # moved above "1e-7"
