"""A self-contained HTML report of a comparison: figures embedded, opens offline.

:func:`comparison_report` reads the results a comparison wrote (``results.json``,
plain data) and never trains: it draws the PNGs next to the report and embeds the
same images as base64 so the one ``report.html`` file can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import math
import statistics
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from gdlab import outputs
from gdlab.report import plots

Figures = list[tuple[str, str, bool]]  # (file name, caption, full width)

CAPTIONS = {
    "summary.png": "Best test accuracy per optimizer, mean ± std over seeds.",
    "loss.png": "Mini-batch loss per iteration (faint) and its bias-corrected moving "
    "average (bold), mean over seeds.",
    "accuracy.png": "Train (solid) and test (dashed) accuracy after each epoch, mean "
    "over seeds: a widening gap is overfitting.",
    "lr.png": "The learning rate each optimizer used at every step.",
}


def _mean_curve(histories: Sequence[Mapping[str, Any]]) -> list[float]:
    """The per-step loss averaged over seeds, up to the shortest run."""
    runs = [h["steps"]["loss"] for h in histories if h["steps"]["loss"]]
    if not runs:
        return []
    n = min(len(r) for r in runs)
    return [statistics.fmean(r[k] for r in runs) for k in range(n)]


def _accuracy(
    histories: Sequence[Mapping[str, Any]],
) -> tuple[list[float], list[float], list[float]] | None:
    first = histories[0]["epochs"]
    if not first or first[0]["test_acc"] is None:
        return None
    n = min(len(h["epochs"]) for h in histories)
    x = [first[k]["epoch"] for k in range(n)]
    train = [
        statistics.fmean(h["epochs"][k]["train_acc"] for h in histories)
        for k in range(n)
    ]
    test = [
        statistics.fmean(h["epochs"][k]["test_acc"] for h in histories)
        for k in range(n)
    ]
    return x, train, test


def draw_comparison(results: Mapping[str, Any], folder: Path) -> Figures:
    """Write the comparison's PNGs into ``folder``; return (name, caption, wide)."""
    runs: Mapping[str, Sequence[Mapping[str, Any]]] = results["runs"]
    figures: Figures = []
    summary = {
        r["optimizer"]: (r["best_test_acc"], r["best_test_acc_std"])
        for r in results["summary"]
        if r["best_test_acc"] is not None and not math.isnan(r["best_test_acc"])
    }
    if summary:
        plots.plot_summary(summary, path=folder / "summary.png")
        figures.append(("summary.png", CAPTIONS["summary.png"], False))
    curves = {name: _mean_curve(h) for name, h in runs.items()}
    plots.plot_loss_curves(
        {k: v for k, v in curves.items() if v}, path=folder / "loss.png"
    )
    figures.append(("loss.png", CAPTIONS["loss.png"], True))
    accuracy = {name: a for name, h in runs.items() if (a := _accuracy(h)) is not None}
    if accuracy:
        plots.plot_accuracy(accuracy, path=folder / "accuracy.png")
        figures.append(("accuracy.png", CAPTIONS["accuracy.png"], True))
    lrs = {name: h[0]["steps"]["lr"] for name, h in runs.items() if h[0]["steps"]["lr"]}
    if lrs:
        plots.plot_lrs(lrs, path=folder / "lr.png")
        figures.insert(1, ("lr.png", CAPTIONS["lr.png"], False))
    return figures


def _cell(row: Mapping[str, Any], key: str, digits: int) -> str:
    value = row[key]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}f} ± {row[f'{key}_std']:.{digits}f}"


def render(template: str, **fields: str) -> str:
    """Fill ``template`` (a file of this package) and the shared ``report.css``."""
    package = resources.files("gdlab.report")
    style = package.joinpath("report.css").read_text()
    return Template(package.joinpath(template).read_text()).substitute(
        style=style, **fields
    )


def comparison_report(
    results: Mapping[str, Any], folder: str | Path, *, command: str = "gdlab compare"
) -> Path:
    """Draw the figures and write ``report.html`` into ``folder``; return its path."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    figures = draw_comparison(results, out)
    spec, summary = results["spec"], results["summary"]
    seeds = len(results["seeds"])
    scored = [
        r
        for r in summary
        if r["final_test_acc"] is not None and not math.isnan(r["final_test_acc"])
    ]
    best = (
        max(scored, key=lambda r: r["final_test_acc"])["optimizer"] if scored else None
    )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "optimizer",
            "learning rate",
            "final train loss",
            "best test acc",
            "final test acc",
            "time per run",
            "diverged",
        )
    )
    rows = []
    for r in summary:
        css = (
            "diverged" if r["diverged"] else ("best" if r["optimizer"] == best else "")
        )
        cells = [
            html.escape(r["optimizer"]),
            f"{r['lr']:g}",
            _cell(r, "final_train_loss", 4),
            _cell(r, "best_test_acc", 3),
            _cell(r, "final_test_acc", 3),
            f"{r['seconds']:.2f} s",
            f"{r['diverged']}/{seeds}",
        ]
        rows.append(
            f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    diverged = [
        h["message"] for hs in results["runs"].values() for h in hs if h["diverged"]
    ]
    notes = "".join(f'<p class="note">{html.escape(m)}</p>' for m in diverged[:12])
    blocks = []
    for name, caption, wide in figures:
        data = base64.b64encode((out / name).read_bytes()).decode()
        text = html.escape(caption)
        blocks.append(
            f'<figure class="{"wide" if wide else ""}"><img alt="{text}" '
            f'src="data:image/png;base64,{data}"><figcaption>{text}</figcaption>'
            "</figure>"
        )
    length = (
        f"{spec['iterations']} iterations"
        if spec.get("iterations")
        else f"{spec['epochs']} epochs"
    )
    subtitle = html.escape(
        f"{spec['model']} ({spec['activation']}) on {spec['data']}, "
        f"batch size {spec['batch_size']}, {length}, "
        f"{seeds} seed{'s' if seeds != 1 else ''}, {spec['dtype']}, "
        f"schedule {spec['schedule']}"
    )
    page = render(
        "template.html",
        title=html.escape(f"Optimizer comparison on {spec['data']}"),
        subtitle=subtitle,
        header=header,
        rows="\n".join(rows),
        notes=notes,
        figures="\n".join(blocks),
        command=html.escape(command),
    )
    return outputs.write_text(out / "report.html", page)
