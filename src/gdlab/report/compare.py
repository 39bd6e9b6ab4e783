"""The report of a fair comparison: what was selected, how it did on the test set,
how much it depended on its tuning budget, and how it trained.

Every ``plot_*`` function follows matplotlib's convention: it draws into ``ax``
(a new Figure when None), returns the Figure, and writes a PNG only when ``path``
is given. They draw a :class:`~gdlab.results.ComparisonResult` (what a
comparison returns, or ``ComparisonResult.load(folder)`` reads back from its
``results.json``) and never train; :func:`comparison_report` writes the PNGs and one
self-contained ``report.html``.
"""

from __future__ import annotations

import base64
import html
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import outputs
from gdlab.report import layout
from gdlab.report.plots import PNG_DPI, finish, label_colors, png_bytes
from gdlab.results import ComparisonResult, Edge, Rerun, Stats

METRIC_NAMES = {
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "test_acc": "test accuracy",
    "test_loss": "test loss",
    "train_loss": "training loss",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (7.0, 4.4)) -> Axes:
    """``ax``, or the Axes of a new Figure of ``size`` inches that :func:`_finish`
    lays out (:func:`gdlab.report.layout.place`: no layout engine)."""
    if ax is None:
        made = Figure(figsize=size).add_subplot()
        made.set_label(_OURS)
        return made
    return ax


_OURS = "gdlab.report.compare"
"""The label of an Axes that this module made a Figure for (and lays out)."""


def _finish(ax: Axes, path: str | Path | None, *, legend: bool = False) -> Figure:
    """Lay out a Figure made by :func:`_axes` (with the legend outside, at a fixed
    place), or add the legend to a user's ``ax``; write the PNG ``path``."""
    if ax.get_label() == _OURS:
        layout.place(ax, legend=legend)
    elif legend:
        ax.legend(fontsize="small")
    return finish(ax, path)


def plot_test_metrics(
    results: ComparisonResult,
    metric: str = "test_acc",
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Each optimizer's reruns of every study: ``metric`` per rerun (dots), and
    the mean over studies with its 95% interval over studies (bar)."""
    ax = _axes(ax)
    names = results.names
    colors = label_colors(names)
    for k, name in enumerate(names):
        entry = results.optimizers[name]
        values = [v for r in entry.reruns if (v := r.final.get(metric)) is not None]
        stats = entry.summary.stats(metric)
        ax.scatter([k] * len(values), values, color=colors[name], alpha=0.4, s=12)
        if stats.mean is not None:
            ax.errorbar(
                [k],
                [stats.mean],
                yerr=[[stats.ci95 or 0.0], [stats.ci95 or 0.0]],
                fmt="o",
                color=colors[name],
                capsize=5,
                markersize=7,
            )
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.set_title(
        f"{METRIC_NAMES.get(metric, metric).capitalize()}: reruns, and the mean "
        "over studies ± 95% CI"
    )
    ax.grid(True, axis="y", alpha=0.3)
    return _finish(ax, path)


def plot_tunability(
    results: ComparisonResult,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The best validation score of a study's first k trials, k = 1..N: median
    over studies (solid) and range (band); dotted, the expected best of k drawn
    from the same points (random search over these points)."""
    ax = _axes(ax)
    select = results.protocol.select
    names = results.names
    colors = label_colors(names)
    for name in names:
        curve = results.optimizers[name].tunability
        ks = [k + 1 for k, v in enumerate(curve.median) if v is not None]
        ax.plot(
            ks,
            [v for v in curve.median if v is not None],
            marker="o",
            markersize=3,
            color=colors[name],
            label=name,
        )
        band = [
            (k + 1, lo, hi)
            for k, (lo, hi) in enumerate(zip(curve.low, curve.high, strict=True))
            if lo is not None and hi is not None
        ]
        if band:
            ax.fill_between(
                [b[0] for b in band],
                [b[1] for b in band],
                [b[2] for b in band],
                color=colors[name],
                alpha=0.12,
                linewidth=0,
            )
        rs = [(k + 1, v) for k, v in enumerate(curve.random_search) if v is not None]
        if rs:
            ax.plot(
                [p[0] for p in rs],
                [p[1] for p in rs],
                linestyle=":",
                color=colors[name],
                linewidth=1,
            )
    ax.set_xlabel("trials k")
    ax.set_ylabel(f"best {METRIC_NAMES.get(select, select)} of the first k")
    ax.set_title(
        "Tunability: best of the first k trials (median, range over studies;\n"
        "dotted: random search over these points)"
    )
    ax.grid(True, alpha=0.3)
    return _finish(ax, path, legend=True)


def plot_sensitivity(
    results: ComparisonResult,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Every trial of every study: validation score against learning rate;
    diverged trials as crosses along the bottom."""
    ax = _axes(ax)
    select = results.protocol.select
    names = results.names
    colors = label_colors(names)
    every = {name: results.optimizers[name].trials for name in names}
    scores = [
        v for ts in every.values() for t in ts if (v := t.score(select)) is not None
    ]
    bottom = min(scores) if scores else 0.0
    for name in names:
        ok = [t for t in every[name] if not t.diverged]
        bad = [t for t in every[name] if t.diverged]
        order = sorted(
            (t.hyper["lr"], v) for t in ok if (v := t.score(select)) is not None
        )
        ax.plot(
            [lr for lr, _ in order],
            [v for _, v in order],
            marker="o",
            markersize=3,
            linestyle="none",
            color=colors[name],
            label=name,
        )
        if bad:
            ax.scatter(
                [t.hyper["lr"] for t in bad],
                [bottom] * len(bad),
                marker="x",
                color=colors[name],
                s=40,
            )
    layout.log_axis(ax, "x")
    low, high = ax.get_xlim()
    if high > 100 * low:  # decades enough to read: no minor ticks to lay out
        ax.minorticks_off()
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(METRIC_NAMES.get(select, select))
    ax.set_title(
        "Learning-rate sensitivity over all trials of all studies (× = diverged)"
    )
    ax.grid(True, alpha=0.3)
    return _finish(ax, path, legend=True)


def _band(
    reruns: Sequence[Rerun], metric: str
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Epochs and the mean, min and max of ``metric`` over the reruns."""
    rows = [r.epochs for r in reruns if r.epochs]
    if not rows or rows[0][0].get(metric) is None:
        return [], [], [], []
    n = min(len(r) for r in rows)
    x = [rows[0][k]["epoch"] for k in range(n)]
    columns = [[float(r[k][metric]) for r in rows] for k in range(n)]
    return (
        x,
        [statistics.fmean(c) for c in columns],
        [min(c) for c in columns],
        [max(c) for c in columns],
    )


def plot_curves(
    results: ComparisonResult,
    metric: str = "val_acc",
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """``metric`` per epoch of the reruns of every study: the mean and the
    min-max band."""
    ax = _axes(ax)
    names = results.names
    colors = label_colors(names)
    for name in names:
        x, mean, low, high = _band(results.optimizers[name].reruns, metric)
        if x:
            ax.plot(x, mean, color=colors[name], label=name, linewidth=1.6)
            ax.fill_between(x, low, high, color=colors[name], alpha=0.15, linewidth=0)
    if "loss" in metric:
        layout.log_axis(ax, "y")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))  # whole epochs
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    name = METRIC_NAMES.get(metric, metric)
    ax.set_title(f"{name.capitalize()} of the reruns (band: min–max)")
    ax.grid(True, alpha=0.3)
    return _finish(ax, path, legend=True)


# --- the page ------------------------------------------------------------------------


def ranked(results: ComparisonResult) -> list[str]:
    """The optimizers in the order of the table: by group letters (claims only),
    then by name — no order is implied inside a group."""
    entries = results.optimizers
    return sorted(entries, key=lambda n: (entries[n].summary.group, n))


def edge_text(edge: Mapping[str, Edge], studies: int) -> str:
    """E.g. ``"lr high 4/5"`` for each axis whose selection sat at one end of
    the values tried in most studies."""
    parts = [
        f"{axis} {side} {count}/{studies}"
        for axis, sides in edge.items()
        for side, count in (("low", sides.low), ("high", sides.high))
        if 2 * count > studies
    ]
    return ", ".join(parts)


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _stats(stats: Stats, digits: int) -> str:
    if stats.median is None:
        return "—"
    text = (
        f"{stats.median:.{digits}f} [{_fmt(stats.q1, digits)}, "
        f"{_fmt(stats.q3, digits)}]"
    )
    if stats.mean is not None:
        text += f"; {stats.mean:.{digits}f}"
        if stats.ci95 is not None:
            text += f" ± {stats.ci95:.{digits}f}"
    return text


def _table(results: ComparisonResult) -> tuple[str, str]:
    protocol = results.protocol
    target = protocol.target
    select = METRIC_NAMES[protocol.select]
    header = (
        "group",
        "optimizer",
        "selected lr per study",
        f"winner's curse: {select} of the selected trial → of its reruns",
        "test accuracy: median [IQR]; study mean ± 95% CI",
        "test loss: median [IQR]; study mean ± 95% CI",
        "steps to target" if target is not None else "",
        "diverged",
        "selection at the range's edge",
        "time per run",
    )
    rows = []
    for name in ranked(results):
        o = results.optimizers[name]
        s = o.summary
        reached = s.to_target
        curse = s.winners_curse
        lrs = ", ".join(f"{lr:.3g}" for lr in o.selected_lrs)
        cells = [
            html.escape(s.group),
            html.escape(name),
            html.escape(lrs),
            f"{_fmt(curse.selected, 4)} → {_fmt(curse.reruns, 4)}",
            _stats(s.test_acc, 3),
            _stats(s.test_loss, 4),
            (
                f"{reached.median_step:g} ({reached.reached}/{reached.runs} reached)"
                if reached.median_step is not None
                else f"not reached ({reached.reached}/{reached.runs} reached)"
            )
            if target is not None
            else "",
            f"{s.diverged}/{s.runs}",
            html.escape(edge_text(s.edge, protocol.studies) or "—"),
            f"{s.seconds:.2f} s" if s.seconds is not None else "—",
        ]
        css = "diverged" if s.diverged else ""
        rows.append(
            f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in header)
    return head, "\n".join(rows)


def _claims(results: ComparisonResult) -> str:
    """The lead of the page: what was established, and every pair's claim."""
    metric = METRIC_NAMES[results.protocol.metric]
    rows = []
    for p in results.pairs:
        ci = p.ci95
        shown = p.winner or "no claim"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (
                    f"{p.a} − {p.b}",
                    _fmt(p.difference, 4),
                    "—" if ci is None else f"[{ci[0]:.4f}, {ci[1]:.4f}]",
                    f"{p.p_adjusted:.3g}",
                    shown if shown == "no claim" else f"{shown} better",
                )
            )
            + "</tr>"
        )
    table = (
        "<details><summary>Every pair: paired difference in "
        f"{html.escape(metric)} over studies</summary><table><thead><tr>"
        "<th>pair</th><th>mean difference</th><th>95% CI</th>"
        "<th>Holm-adjusted p</th><th>verdict</th></tr></thead><tbody>"
        + "\n".join(rows)
        + "</tbody></table></details>"
        if rows
        else ""
    )
    return (
        f'<h2>What this comparison shows</h2><p class="lead">'
        f"{html.escape(results.established)}.</p>"
        f'<p class="note">{html.escape(" ".join(EXPLAIN.split()))}</p>{table}'
    )


EXPLAIN = """How to read this: the whole tuning procedure (search, selection on
validation data, reruns on the test set) was repeated in independent studies. In
each study every optimizer was scored by the mean test result of its reruns, on
rerun seeds shared by all optimizers. For each pair, the study-by-study
differences were tested with a paired t-test (df = studies − 1) and the p-values
Holm-adjusted over all pairs; "A better than B" is claimed only when the adjusted
p is below 0.05. Optimizers sharing a group letter have no claim between them:
their order in the table means nothing. The study-level interval treats the
study as the unit of replication; the median [IQR] pools studies and reruns and
only describes the spread."""


CAPTIONS = {
    "test.png": "Test results of the reruns of every study (one dot per rerun), "
    "and the mean over studies ± its 95% t-interval over studies. The test set "
    "was evaluated only here.",
    "tunability.png": "Best validation score of each study's first k trials "
    "(the procedure run: median and range over studies); dotted: expected best of "
    "k drawn without replacement from the same points — random search over these "
    "points (not the procedure run; Dodge et al. 2019 sample with replacement).",
    "sensitivity.png": "Validation score of every trial of every study against its "
    "learning rate.",
    "curves.png": "Validation accuracy per epoch of the reruns (mean, min–max band).",
    "loss.png": "Training loss per epoch of the reruns (mean, min–max band).",
}


def _figures(results: ComparisonResult) -> Iterator[tuple[str, Figure]]:
    """The report's figures, each with the name of its PNG, one at a time."""
    classification = results.protocol.metric == "test_acc"
    yield (
        "test.png",
        plot_test_metrics(results, "test_acc" if classification else "test_loss"),
    )
    if results.protocol.budget > 0:
        yield "tunability.png", plot_tunability(results)
        yield "sensitivity.png", plot_sensitivity(results)
    if classification:
        yield "curves.png", plot_curves(results, "val_acc")
    yield "loss.png", plot_curves(results, "train_loss")


PROTOCOL_TEXT = """The procedure was repeated in {studies} independent studies
(master seed {search_seed}). In each study every optimizer got the same budget:
{budget} trials of quasi-random search (the study's own scrambled Sobol points)
over its own documented search space ({tune}), trained with the study's tuning
seed. The trial with the best final {select} on a validation split ({val} of the
training set, stratified, the same for every optimizer; ties broken by validation
loss) was selected, and its hyperparameters were trained again with {seeds} rerun
seeds, the same for every optimizer; only those reruns touched the test set.
Claims: paired t-test over studies on the per-study mean {metric}, Holm-adjusted
over all pairs, level 0.05. References: Choi et al. 2019; Sivaprasad et al. 2020;
Schmidt et al. 2021; Dahl et al. 2023 (AlgoPerf: studies, quasi-random search);
Holm 1979."""


@dataclass(frozen=True)
class Report:
    """A comparison's report drawn: each PNG's bytes by its file name, and the
    page, ``report.html``, that shows them inline."""

    figures: dict[str, bytes]
    page: str

    def write(self, folder: str | Path) -> Path:
        """Write the PNGs and ``report.html`` into ``folder``; the page's path."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in self.figures.items():
            outputs.write_bytes(out / name, data)
        return outputs.write_text(out / "report.html", self.page)


def comparison_report(
    results: ComparisonResult, folder: str | Path, *, command: str = "gdlab compare"
) -> Path:
    """Draw the figures and write them and ``report.html`` into ``folder``; return
    the page's path."""
    return draw(results, command=command).write(folder)


def draw(results: ComparisonResult, *, command: str = "gdlab compare") -> Report:
    """The report of ``results``, drawn; ``command`` is the line it names as
    the one that made it."""
    from gdlab.report.html import render

    figures = {name: png_bytes(fig, PNG_DPI) for name, fig in _figures(results)}
    spec, protocol = results.spec, results.protocol
    head, rows = _table(results)
    blocks = []
    for name, data in figures.items():
        encoded = base64.b64encode(data).decode()
        text = html.escape(CAPTIONS[name])
        blocks.append(
            f'<figure><img alt="{text}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{text}</figcaption></figure>"
        )
    length = (
        f"{spec['iterations']} iterations"
        if spec.get("iterations")
        else f"{spec['epochs']} epochs"
    )
    subtitle = (
        f"{spec['model']} ({spec['activation']}) on {spec['data']}, batch size "
        f"{spec['batch_size']}, {length}, schedule {spec['schedule']}, "
        f"{protocol.studies} studies × ({protocol.budget} trials + "
        f"{protocol.seeds} reruns)"
    )
    text = PROTOCOL_TEXT.format(
        studies=protocol.studies,
        budget=protocol.budget,
        search_seed=protocol.search_seed,
        tune=", ".join(protocol.tune),
        select=METRIC_NAMES[protocol.select],
        val=f"{spec.get('val_fraction', 0.1):g}",
        seeds=protocol.seeds,
        metric=METRIC_NAMES[protocol.metric],
    )
    if protocol.budget == 0:
        text = (
            "Budget 0: each optimizer ran at its suggested learning rate and "
            "defaults (a one-shot baseline, not a tuned comparison), with "
            f"{protocol.seeds} rerun seeds per study on the test set, in "
            f"{protocol.studies} studies."
        )
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in results.notes)
    page = render(
        "compare_template.html",
        title=html.escape(f"Optimizer comparison on {spec['data']}"),
        subtitle=html.escape(subtitle),
        lead=_claims(results),
        header=head,
        rows=rows,
        notes=notes,
        figures="\n".join(blocks),
        protocol=html.escape(" ".join(text.split())),
        command=html.escape(command),
        data_file="results.json",
    )
    return Report(figures, page)
