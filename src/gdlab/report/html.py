"""Self-contained HTML reports: a template of this package filled with the shared
stylesheet, so that one ``report.html`` opens offline with its figures embedded.

The reports themselves are drawn where their data lives: a comparison in
:mod:`gdlab.report.compare`, a benchmark in :mod:`gdlab.report.benchmark`, a sweep
in :mod:`gdlab.report.sweep`, a study in :mod:`gdlab.report.studies`.
"""

from __future__ import annotations

from importlib import resources
from string import Template


def render(template: str, **fields: str) -> str:
    """Fill ``template`` (a file of this package) and the shared ``report.css``."""
    package = resources.files("gdlab.report")
    style = package.joinpath("report.css").read_text()
    return Template(package.joinpath(template).read_text()).substitute(
        style=style, **fields
    )
