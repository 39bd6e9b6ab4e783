"""The PNGs gdlab writes hold the pixels matplotlib's ``savefig`` draws, at the
zlib level it sets (``plots.PNG_LEVEL``)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from gdlab.report import plots


def figure(facecolor: str) -> Figure:
    fig = Figure(figsize=(3.0, 2.0), facecolor=facecolor)
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [3, 1, 2], label="a")
    ax.set_yscale("log")
    ax.legend()
    return fig


def idat(png: bytes) -> bytes:
    """The compressed pixel stream of a PNG (its IDAT chunks)."""
    at, out = 8, b""
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        if png[at + 4 : at + 8] == b"IDAT":
            out += png[at + 8 : at + 8 + length]
        at += 12 + length
    return out


@pytest.mark.parametrize("facecolor", ["white", "none"])
def test_a_png_holds_savefigs_pixels_at_its_level(
    tmp_path: Path, facecolor: str
) -> None:
    fig = figure(facecolor)
    FigureCanvasAgg(fig)
    plain = io.BytesIO()
    fig.savefig(plain, format="png", dpi=plots.PNG_DPI)
    written = plots.save_figure(fig, tmp_path / "a.png").read_bytes()
    with Image.open(io.BytesIO(written)) as mine, Image.open(plain) as theirs:
        assert mine.size == (360, 240) and mine.mode == theirs.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    # the same filtered rows, deflated at another level than savefig's default
    assert zlib.decompress(idat(written)) == zlib.decompress(idat(plain.getvalue()))
    assert idat(written) != idat(plain.getvalue())
    assert written == plots.png_bytes(fig, plots.PNG_DPI)
