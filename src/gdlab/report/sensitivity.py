"""A sweep's report: learning-rate sensitivity, sharpness vs batch size, every run.

Draws typed rows (a :class:`~gdlab.results.SweepRun` per run: its grid values, the
learning rate used and its :class:`~gdlab.results.RunMetrics`, as
:meth:`gdlab.lab.sweep.Store.rows` gives them; a
:class:`~gdlab.results.SweepSummary` per setting) and never trains. Writes
``results.csv`` (one line per run), ``summary.csv`` (mean ± std over seeds), the
PNGs and one self-contained ``report.html`` with the figures embedded as base64.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

from gdlab import _display, outputs
from gdlab.report.html import render
from gdlab.report.plots import finish, label_colors, legend, new_axes, new_panels
from gdlab.results import GridValue, SweepRun, SweepSummary

Row = SweepRun
STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")

CAPTIONS = {
    "lr_sensitivity.png": "Learning-rate sensitivity: final train loss (left, log "
    "scale) and final validation accuracy (right) against the learning rate, mean "
    "± std over seeds (band). × at the top: runs that diverged at that learning rate "
    "(left out of the mean).",
    "sharpness.png": "Sharpness against batch size: λmax of the training loss's "
    "Hessian at the final weights, mean ± std over seeds, log-log. Keskar et al. "
    "(2017): large batches end in sharper minima.",
    "sharpness_accuracy.png": "Final test accuracy against sharpness, one point per "
    "run, colored by batch size: do flatter minima generalize better?",
}


def _label(row: Row, fields: Sequence[str]) -> str:
    return ", ".join(
        _text(row.get(f)) if f == "optimizer" else _pair(row, f) for f in fields
    )


def _pair(row: Row, name: str) -> str:
    short = {"batch_size": "batch", "optimizer": "", "warmup_epochs": "warm-up"}
    return f"{short.get(name, name)} {_text(row.get(name))}".strip()


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    x = float(value)
    return x if math.isfinite(x) and x > 0 else None


def _lines(
    rows: Sequence[Row], x: str, others: Sequence[str]
) -> dict[str, dict[float, list[Row]]]:
    """label -> x value -> the runs there (one per seed)."""
    out: dict[str, dict[float, list[Row]]] = {}
    for row in rows:
        at = _numeric(row.get(x))
        if at is None:
            continue
        out.setdefault(_label(row, others), {}).setdefault(at, []).append(row)
    return out


def _styles(
    lines: Mapping[str, Any], rows: Sequence[Row], others: Sequence[str]
) -> dict[str, tuple[Any, str, str]]:
    """Color by optimizer, line style and marker by the other values."""
    optimizers = list(dict.fromkeys(str(r.get("optimizer")) for r in rows))
    colors = label_colors(optimizers)
    rest = list(dict.fromkeys(label.partition(", ")[2] for label in lines))
    out = {}
    for label in lines:
        optimizer, _, other = label.partition(", ")
        k = rest.index(other)
        out[label] = (
            colors.get(optimizer, "0.3"),
            STYLES[k % len(STYLES)],
            MARKERS[k % len(MARKERS)],
        )
    return out


def _plain_log(ax: Axes, *axes: str) -> None:
    """Log axes labelled 0.01, 0.1, 1, 16, 256 (not 10^-2); within about a decade
    the minor ticks at 2, 3 and 5 are labelled too, so the axis is never bare."""
    for name in axes:
        axis = ax.xaxis if name == "x" else ax.yaxis
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))

        def minor(v: float, _: object, axis: Any = axis) -> str:
            lo, hi = sorted(axis.get_view_interval())
            if v <= 0 or lo <= 0 or hi / lo > 30:
                return ""
            mantissa = round(v / 10 ** math.floor(math.log10(v)), 6)
            return f"{v:g}" if mantissa in (2, 3, 5) else ""

        axis.set_minor_formatter(FuncFormatter(minor))


def _real(value: float | None) -> float:
    """A measured number (NaN where there is none)."""
    return math.nan if value is None else value


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.pstdev(values)


def _draw_metric(
    ax: Axes,
    lines: Mapping[str, Mapping[float, list[Row]]],
    styles: Mapping[str, tuple[Any, str, str]],
    metric: str,
) -> int:
    """Mean ± std of ``metric`` over the runs that did not diverge; × at the top
    for each x with diverged runs. Returns how many runs diverged."""
    top = blended_transform_factory(ax.transData, ax.transAxes)
    diverged = 0
    for label, points in lines.items():
        color, style, marker = styles[label]
        xs = sorted(points)
        stats = [
            _mean_std(
                [
                    float(v)
                    for r in points[x]
                    if not r.metrics.diverged and (v := r.get(metric)) is not None
                ]
            )
            for x in xs
        ]
        means = [m for m, _ in stats]
        ax.plot(
            xs, means, color=color, linestyle=style, marker=marker, label=label, lw=1.6
        )
        ax.fill_between(
            xs,
            [m - s for m, s in stats],
            [m + s for m, s in stats],
            color=color,
            alpha=0.18,
            linewidth=0,
        )
        for x in xs:
            bad = sum(r.metrics.diverged for r in points[x])
            if bad:
                diverged += bad
                ax.plot(
                    [x],
                    [0.96],
                    marker="x",
                    color=color,
                    markersize=9,
                    markeredgewidth=2,
                    transform=top,
                    clip_on=False,
                )
    return diverged


def plot_lr_sensitivity(
    rows: Sequence[Row],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """Final train loss and validation accuracy against the learning rate (log x),
    one line per optimizer (and per value of any other grid field but the seed),
    mean ± std band over seeds, × where runs diverged; two panels for a classifier.
    None (nothing drawn) if fewer than two lrs."""
    others = ["optimizer", *_varying(rows, exclude=("lr", "seed", "optimizer"))]
    lines = _lines(rows, "lr", others)
    if len({x for points in lines.values() for x in points}) < 2:
        return None
    styles = _styles(lines, rows, others)
    classifier = any(r.metrics.final_val_acc is not None for r in rows)
    fig = new_panels("plot_lr_sensitivity", ax, (12.0 if classifier else 7.0, 4.8))
    panels = fig.subplots(1, 2 if classifier else 1, squeeze=False)[0]
    diverged = _draw_metric(panels[0], lines, styles, "final_train_loss")
    panels[0].set_yscale("log")
    panels[0].set_ylabel("final train loss (log scale)")
    panels[0].set_title("Final train loss")
    if classifier:
        _draw_metric(panels[1], lines, styles, "final_val_acc")
        panels[1].set_ylabel("final validation accuracy")
        panels[1].set_title("Final validation accuracy")
    _plain_log(panels[0], "y")
    for ax in panels:
        ax.set_xscale("log")
        _plain_log(ax, "x")
        ax.set_xlabel("learning rate (log scale)")
        ax.grid(True, which="both", alpha=0.25)
    if diverged:
        panels[0].plot([], [], "x", color="0.3", markeredgewidth=2, label="diverged")
    fig.suptitle("Learning-rate sensitivity (mean ± std over seeds)")
    handles, labels = panels[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize="small")
    return finish(fig, path)


def plot_sharpness(
    rows: Sequence[Row],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """λmax against batch size, log-log, one line per optimizer (and per value of
    any other grid field but the seed), mean ± std over seeds; None when no λmax
    was measured or there are fewer than two batch sizes."""
    measured = [r for r in rows if r.metrics.lambda_max is not None]
    others = [
        "optimizer",
        *_varying(measured, exclude=("batch_size", "seed", "optimizer")),
    ]
    lines = _lines(measured, "batch_size", others)
    if len({x for points in lines.values() for x in points}) < 2:
        return None
    styles = _styles(lines, measured, others)
    ax = new_axes(ax, (8.5, 5.0))
    for label, points in lines.items():
        color, style, marker = styles[label]
        xs = sorted(points)
        stats = [
            _mean_std([_real(r.metrics.lambda_max) for r in points[x]]) for x in xs
        ]
        ax.errorbar(
            xs,
            [m for m, _ in stats],
            yerr=[s for _, s in stats],
            color=color,
            linestyle=style,
            marker=marker,
            capsize=3,
            label=label,
            linewidth=1.6,
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_log(ax, "x", "y")
    ax.set_xlabel("batch size (log scale)")
    ax.set_ylabel("λmax of the training-loss Hessian (log scale)")
    ax.set_title("Sharpness at the final weights vs batch size")
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def plot_sharpness_accuracy(
    rows: Sequence[Row],
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure | None:
    """Final test accuracy against λmax (log x), a point per run, colored by batch
    size; None without at least two measured runs with an accuracy."""
    points = [
        r
        for r in rows
        if r.metrics.lambda_max is not None
        and r.metrics.final_test_acc is not None
        and not r.metrics.diverged
    ]
    if len(points) < 2:
        return None
    sizes = sorted({_text(r.get("batch_size")) for r in points}, key=_size_order)
    colors = label_colors(sizes)
    ax = new_axes(ax, (8.5, 5.0))
    optimizers = list(dict.fromkeys(str(r.get("optimizer")) for r in points))
    for size in sizes:
        for k, optimizer in enumerate(optimizers):
            chosen = [
                r
                for r in points
                if _text(r.get("batch_size")) == size
                and str(r.get("optimizer")) == optimizer
            ]
            if not chosen:
                continue
            ax.scatter(
                [_real(r.metrics.lambda_max) for r in chosen],
                [_real(r.metrics.final_test_acc) for r in chosen],
                color=colors[size],
                marker=MARKERS[k % len(MARKERS)],
                label=f"batch {size}, {optimizer}",
                s=36,
            )
    ax.set_xscale("log")
    _plain_log(ax, "x")
    ax.set_xlabel("λmax (log scale)")
    ax.set_ylabel("final test accuracy")
    ax.set_title("Generalization against sharpness")
    ax.grid(True, which="both", alpha=0.25)
    legend(ax)
    return finish(ax, path)


def _size_order(text: str) -> tuple[int, float]:
    try:
        return 0, float(text)
    except ValueError:
        return 1, 0.0


def _varying(rows: Sequence[Row], exclude: Sequence[str]) -> list[str]:
    """The fields naming the runs (not ``exclude``) whose value differs."""
    if not rows:
        return []
    names = [k for k in rows[0].values if k not in exclude]
    return [n for n in names if len({_text(r.get(n)) for r in rows}) > 1]


# --- files ---------------------------------------------------------------------------


def write_csv(rows: Sequence[Mapping[str, GridValue]], path: str | Path) -> Path:
    """Flat rows (a record's ``flat()``) as CSV (columns: the union of their keys,
    in order), atomically."""
    out = Path(path)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(fields)]
    for row in rows:
        lines.append(",".join(_csv_cell(row.get(f)) for f in fields))
    return outputs.write_text(out, "\n".join(lines) + "\n")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _number(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _display.fixed(value, digits)
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        for css, cells in rows
    )
    return f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>"


def sweep_report(
    rows: Sequence[SweepRun],
    summary: Sequence[SweepSummary],
    folder: str | Path,
    *,
    axes: Sequence[str],
    base: Mapping[str, Any],
    sharpness: bool,
    command: str,
) -> Path:
    """Write results.csv, summary.csv, the figures and ``report.html`` into
    ``folder``; return the report's path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    write_csv([r.flat() for r in rows], out / "results.csv")
    write_csv([s.flat() for s in summary], out / "summary.csv")
    sharp = sharpness and any(r.metrics.lambda_max is not None for r in rows)
    page = render(
        "sensitivity_template.html",
        title=html.escape(f"Sweep on {base.get('data', '?')}"),
        subtitle=html.escape(_subtitle(rows, axes, base)),
        summary=_summary_table(summary, sharp),
        runs=_runs_table(rows, axes, sharp),
        figures=_figures(rows, out, sharpness),
        command=html.escape(command),
    )
    return outputs.write_text(out / "report.html", page)


def _figures(rows: Sequence[Row], out: Path, sharpness: bool) -> str:
    """Draw the figures the rows support into ``out``; their HTML, embedded."""
    drawn: list[str] = []
    for name, draw in (
        ("lr_sensitivity.png", plot_lr_sensitivity),
        ("sharpness.png", plot_sharpness),
        ("sharpness_accuracy.png", plot_sharpness_accuracy),
    ):
        if name != "lr_sensitivity.png" and not sharpness:
            continue
        if draw(rows, path=out / name) is not None:
            drawn.append(name)
    blocks = []
    for name in drawn:
        data = base64.b64encode((out / name).read_bytes()).decode()
        text = html.escape(CAPTIONS[name])
        blocks.append(
            f'<figure class="{"wide" if name == "lr_sensitivity.png" else ""}">'
            f'<img alt="{text}" src="data:image/png;base64,{data}">'
            f"<figcaption>{text}</figcaption></figure>"
        )
    return "\n".join(blocks)


def _summary_table(summary: Sequence[SweepSummary], sharp: bool) -> str:
    """One line per setting: mean ± std over its seeds; the best (chosen on
    validation numbers) marked."""
    by = list(summary[0].values) if summary else []
    best = _best(summary)

    def pm(r: SweepSummary, name: str, digits: int) -> str:
        spread = r.spread(name)
        if spread.mean is None:
            return "—"
        std = _display.fixed(spread.std or 0.0, digits)
        return f"{_display.fixed(spread.mean, digits)} ± {std}"

    lines = [
        (
            "best" if r is best else ("diverged" if r.diverged else ""),
            [
                *(html.escape(_text(r.values.get(b))) for b in by),
                str(r.runs),
                pm(r, "final_train_loss", 4),
                pm(r, "final_val_acc", 3),
                pm(r, "best_val_acc", 3),
                pm(r, "final_test_acc", 3),
                *([pm(r, "lambda_max", 3)] if sharp else []),
                f"{r.diverged}/{r.runs}",
                f"{r.seconds:.2f} s",
            ],
        )
        for r in summary
    ]
    header = [
        *by,
        "runs",
        "final train loss",
        "final val acc",
        "best val acc",
        "final test acc",
        *(["λmax"] if sharp else []),
        "diverged",
        "time per run",
    ]
    return _table(header, lines)


def _runs_table(rows: Sequence[Row], axes: Sequence[str], sharp: bool) -> str:
    """One line per run: its grid values (lr last) and its numbers."""
    shown = [a for a in axes if a != "lr"] + ["lr"]
    lines = [
        (
            "diverged" if r.metrics.diverged else "",
            [
                *(html.escape(_text(r.get(a))) for a in shown),
                _number(r.metrics.final_train_loss, 4),
                _number(r.metrics.final_val_acc, 4),
                _number(r.metrics.best_val_acc, 4),
                _number(r.metrics.final_test_acc, 4),
                *([_number(r.metrics.lambda_max, 4)] if sharp else []),
                _number(r.metrics.diverged, 0),
                _number(r.metrics.steps, 0),
                f"{r.metrics.seconds:.2f} s",
            ],
        )
        for r in rows
    ]
    header = [
        *shown,
        "final train loss",
        "final val acc",
        "best val acc",
        "final test acc",
        *(["λmax"] if sharp else []),
        "diverged",
        "steps",
        "time",
    ]
    return _table(header, lines)


def _subtitle(rows: Sequence[Row], axes: Sequence[str], base: Mapping[str, Any]) -> str:
    """What varied, and the base spec's fields that did not (defaults aside)."""
    fixed = [
        f"{k} {_text(v)}"
        for k, v in base.items()
        if k not in axes and v not in (None, {}, 0.0) and k != "data_path"
    ]
    return f"{len(rows)} runs over {', '.join(axes) or 'nothing'}; fixed: " + ", ".join(
        fixed
    )


def _best(summary: Sequence[SweepSummary]) -> SweepSummary | None:
    """The best setting, chosen on validation numbers (never on the test set)."""

    def mean(r: SweepSummary, name: str) -> float | None:
        return r.spread(name).mean

    scored = [r for r in summary if mean(r, "final_val_acc") is not None]
    if scored:
        return max(scored, key=lambda r: mean(r, "final_val_acc") or 0.0)
    losses = [r for r in summary if mean(r, "final_train_loss") is not None]
    return (
        min(losses, key=lambda r: mean(r, "final_train_loss") or 0.0)
        if losses
        else None
    )


__all__ = [
    "plot_lr_sensitivity",
    "plot_sharpness",
    "plot_sharpness_accuracy",
    "sweep_report",
    "write_csv",
]
