"""Sphinx configuration of gdlab's site: ``make docs`` builds it into docs/_build.

Why Sphinx (with furo, myst-nb, autodoc and napoleon) and not MkDocs: gdlab's
docstrings are reStructuredText — ``.. math::`` blocks, ``:math:``, ``:class:`` and
``:func:`` roles, Google-style sections — which autodoc and napoleon render as
written, with MathJax for the math; mkdocstrings reads Markdown docstrings and
would show the roles raw. myst-nb renders the tutorial notebooks with their stored
outputs, and myst-parser reads README.md and the Markdown pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path[:0] = [str(DOCS.parent / "src"), str(DOCS / "_ext")]  # this checkout's gdlab

import gdlab  # noqa: E402

project = "gdlab"
author = "the gdlab authors"
copyright = f"2026, {author}"
release = gdlab.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "gdlab_readme",
    "gdlab_api",
]

exclude_patterns = ["_build", "_ext", "examples", "**.ipynb_checkpoints"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}

# The API: every page lists its module's public names (``__all__``) in source order.
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
# A short type name in an inherited signature (Comparison's `pairs: tuple[Claim,
# ...]` on the compare page) can match classes of two modules (gdlab.results.Claim,
# the worked examples' Claim): Sphinx links the first and warns. Only that
# ambiguity warning (ref.python) is silenced.
suppress_warnings = ["ref.python"]
# numpy's ArrayLike would be spelt out as a union of eleven private types.
autodoc_type_aliases = {
    "ArrayLike": "numpy.typing.ArrayLike",
    "DTypeLike": "numpy.typing.DTypeLike",
}
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# Notebooks are shown with the outputs stored in them; the test suite runs them.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"gdlab {release}"
napoleon_custom_sections = [("Fields", "params_style")]
