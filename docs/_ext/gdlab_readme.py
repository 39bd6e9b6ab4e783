"""README.md's sections as pages of the site, made from README.md at each build.

Each ``## `` section of README.md becomes ``docs/guide/NN-<slug>.md`` (headings one
level up, links into ``docs/`` made relative to the page), and the text above the
first section becomes ``docs/guide/00-introduction.md``. The pages are build
products (``docs/guide/`` is ignored by git): README.md stays the one copy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"\]\(docs/")


def sections(readme: str) -> list[tuple[str, list[str]]]:
    """(title, body lines) of the introduction and of each ``## `` section."""
    title, body, out, fenced = "Introduction", [], [], False
    for line in readme.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("# "):
            continue  # the README's own title: the site's index has it
        if not fenced and line.startswith("## "):
            out.append((title, body))
            title, body = line[3:].strip(), []
            continue
        if not fenced and line.startswith("###"):
            line = line[1:]  # one level up, under the page's title
        body.append(LINK.sub("](../", line))
    out.append((title, body))
    return out


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def write_pages(app: Any) -> None:
    docs = Path(app.srcdir)
    readme = (docs.parent / "README.md").read_text(encoding="utf-8")
    guide = docs / "guide"
    guide.mkdir(exist_ok=True)
    wanted = {}
    for number, (title, body) in enumerate(sections(readme)):
        text = "\n".join([f"# {title}", "", *body]).rstrip() + "\n"
        wanted[f"{number:02d}-{slug(title)}.md"] = text
    for stale in guide.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        page = guide / name
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")  # untouched pages stay cached


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
