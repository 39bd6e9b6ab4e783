"""The PNGs gdlab writes hold the pixels matplotlib's ``savefig`` draws."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from gdlab.report import plots


def figure(facecolor: str = "white") -> Figure:
    fig = Figure(figsize=(3.0, 2.0), facecolor=facecolor)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2], label="a")
    ax.set_yscale("log")
    ax.set_title("title")
    ax.legend()
    return fig


def savefig_pixels(fig: Figure, dpi: float, **kwargs: object) -> np.ndarray:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png", dpi=dpi, **kwargs)  # type: ignore[arg-type]
    return np.asarray(Image.open(buffer).convert("RGBA"))


def test_an_opaque_figure_is_written_rgb_with_savefigs_pixels(tmp_path: Path) -> None:
    fig = figure()
    want = savefig_pixels(fig, plots.PNG_DPI)
    path = plots.save_figure(fig, tmp_path / "a.png")
    with Image.open(path) as image:
        assert image.mode == "RGB"
        assert image.size == (360, 240)
        assert image.info["dpi"] == pytest.approx((plots.PNG_DPI, plots.PNG_DPI), 1e-3)
        np.testing.assert_array_equal(np.asarray(image.convert("RGBA")), want)
    assert fig.dpi == matplotlib.rcParams["figure.dpi"]  # left as it was


def test_a_transparent_figure_keeps_its_alpha() -> None:
    fig = figure(facecolor="none")
    image = Image.open(io.BytesIO(plots.png_bytes(fig, 50)))
    assert image.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(image), savefig_pixels(fig, 50))


def test_a_tight_bounding_box_is_saved_by_savefig() -> None:
    fig = figure()
    with matplotlib.rc_context({"savefig.bbox": "tight"}):
        image = Image.open(io.BytesIO(plots.png_bytes(fig, 50)))
        want = savefig_pixels(fig, 50)
    assert image.size != (150, 100)
    np.testing.assert_array_equal(np.asarray(image.convert("RGBA")), want)
