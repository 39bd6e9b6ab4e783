"""How results show themselves in a notebook: a compact HTML table for
``_repr_html_`` and a pandas DataFrame for ``to_frame``.

Plain Python only: pandas is imported when a frame is asked for (the optional
extra ``notebook``), so ``import gdlab`` never loads it.
"""

from __future__ import annotations

import html
import importlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]


def frame(owner: str, rows: Sequence[Row], columns: Sequence[str] | None = None) -> Any:
    """``rows`` as a pandas DataFrame (``columns`` in that order; default: the
    union of the rows' keys); an ImportError with the install hint when pandas is
    missing, as pandas' own optional dependencies do."""
    try:
        pandas = importlib.import_module("pandas")
    except ImportError:
        raise ImportError(
            f"{owner}: a DataFrame needs pandas, which is not installed: "
            "pip install 'gdlab[notebook]'"
        ) from None
    names = list(columns or dict.fromkeys(k for r in rows for k in r))
    return pandas.DataFrame([{k: r.get(k) for k in names} for r in rows], columns=names)


def cell(value: Any) -> str:
    """A number with 4 significant digits, None as —, a flag as yes/no, escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def table(
    caption: str,
    rows: Sequence[Row],
    columns: Sequence[str] | None = None,
    *,
    limit: int = 12,
    extra: str = "",
) -> str:
    """An HTML table of ``rows`` (values through :func:`cell`), the first and last
    rows only past ``limit``, with ``extra`` HTML (a figure) after it."""
    names = list(columns or dict.fromkeys(k for r in rows for k in r))
    shown: list[Row | None] = list(rows)
    if len(rows) > limit:
        half = limit // 2
        shown = [*rows[:half], None, *rows[-half:]]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = "".join(
        f'<tr><td colspan="{len(names)}">… {len(rows) - 2 * (limit // 2)} more</td>'
        "</tr>"
        if r is None
        else "<tr>" + "".join(f"<td>{cell(r.get(n))}</td>" for n in names) + "</tr>"
        for r in shown
    )
    return (
        f'<div class="gdlab"><table><caption style="text-align:left">'
        f"{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{extra}</div>"
    )


def fixed(value: float, digits: int) -> str:
    """``digits`` decimals, or 3 significant digits for huge values (1.23e+28)."""
    return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"


def mean_std(row: Mapping[str, Any], key: str, digits: int) -> str:
    """``row[key] ± row[key_std]`` at ``digits`` decimals; — without a value."""
    value, std = row.get(key), row.get(f"{key}_std")
    if value is None:
        return "—"
    return f"{fixed(value, digits)} ± {fixed(std or 0.0, digits)}"


def pm(mean: Any, spread: Any) -> str | None:
    """``mean ± spread``: the mean alone without a spread (one run), None
    without a mean."""
    if mean is None:
        return None
    return cell(mean) if spread is None else f"{cell(mean)} ± {cell(spread)}"
