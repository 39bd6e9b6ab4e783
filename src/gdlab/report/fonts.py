"""Fonts for figures in Korean: matplotlib's default DejaVu Sans has no Hangul, so
Korean text would be drawn as empty boxes (tofu).

:func:`hangul_font` finds an installed font that holds the Hangul syllables (Debian's
``fonts-nanum``, which ``make system`` installs, or ``fonts-noto-cjk``);
:func:`use_hangul` adds it to matplotlib's fonts after DejaVu Sans, for the glyphs
DejaVu Sans lacks (matplotlib falls back glyph by glyph).
"""

from __future__ import annotations

import matplotlib
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

PREFERRED = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "NanumBarunGothic")
"""Font families tried first, in order; any other font with Hangul after them."""

SAMPLE = "경사하강법학습률"
"""Characters a Hangul font must hold."""


def holds(path: str, text: str = SAMPLE) -> bool:
    """Whether the font file ``path`` has a glyph for every character of ``text``."""
    font = FT2Font(path)
    return all(font.get_char_index(ord(c)) != 0 for c in text)


def hangul_font() -> str | None:
    """The family name of an installed font holding Hangul, or None."""
    entries = sorted(
        font_manager.fontManager.ttflist,
        key=lambda f: (
            PREFERRED.index(f.name) if f.name in PREFERRED else len(PREFERRED),
            f.name,
        ),
    )
    for entry in entries:
        if entry.fname.lower().endswith((".ttf", ".otf", ".ttc")) and holds(
            entry.fname
        ):
            return str(entry.name)
    return None


def use_hangul() -> str:
    """Draw text with a Hangul font from now on; returns its family. A ValueError
    says how to install one when none is found."""
    family = hangul_font()
    if family is None:
        raise ValueError(
            "fonts: no installed font holds Hangul, so Korean figures would show "
            "empty boxes: install Debian's fonts-nanum (make system) and run again"
        )
    # Named families (not the generic "sans-serif") fall back glyph by glyph:
    # DejaVu Sans first for Latin, Greek and math (mathtext's log-axis ticks such
    # as 10⁻¹ use the first family only, and Hangul fonts lack U+2212 MINUS SIGN),
    # the Hangul font for what DejaVu Sans lacks.
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", family]
    return family


__all__ = ["PREFERRED", "SAMPLE", "hangul_font", "holds", "use_hangul"]
