"""Self-contained HTML reports: a template of this package filled with the shared
stylesheet, so that one ``report.html`` opens offline with its figures embedded.

The reports themselves are drawn where their data lives: a comparison in
:mod:`gdlab.report.compare`, a benchmark in :mod:`gdlab.report.benchmark`, a sweep
in :mod:`gdlab.report.sensitivity`, a study in :mod:`gdlab.report.studies`.
"""

from __future__ import annotations

from importlib import resources
from string import Template


def render(template: str, *, title: str, subtitle: str, **fields: str) -> str:
    """Fill ``template`` (the body of a report, a file of this package) and put it
    in the shared page: head, ``report.css``, title, subtitle, and the script that
    lets a browser check every figure decoded."""
    package = resources.files("gdlab.report")
    body = Template(package.joinpath(template).read_text()).substitute(
        title=title, subtitle=subtitle, **fields
    )
    return Template(package.joinpath("page.html").read_text()).substitute(
        title=title,
        subtitle=subtitle,
        style=package.joinpath("report.css").read_text(),
        body=body,
    )
