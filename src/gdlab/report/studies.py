"""The figures and ``report.html`` of the studies (:mod:`gdlab.lab.studies`).

Drawn from a study's ``results.json`` alone, read as its record
(:class:`~gdlab.study_results.BatchSizeReport`,
:class:`~gdlab.study_results.EdgeOfStabilityReport`): Keskar et al.'s Figure 3 (the
losses and accuracies along the line between the small- and the large-batch
solution; λmax and ε-sharpness against the batch size) and Cohen et al.'s Figure 1
(the training loss and λmax against the step, 2/η dashed).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import outputs
from gdlab.report.html import render
from gdlab.report.plots import finish, label_colors, new_axes, new_panels
from gdlab.study_results import (
    BatchSizeReport,
    BatchSizeRow,
    EdgeOfStabilityReport,
    Interpolation,
)

Figures = list[tuple[str, str, bool]]  # (file name, caption, full width)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def plot_interpolation(
    interpolation: Interpolation,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Keskar's Figure 3 (top): train (solid) and test (dashed) loss (left axis, log)
    and accuracy (right axis) at θ(α) = (1−α)·θ_small + α·θ_large."""
    line = interpolation
    alpha = line.alpha
    ax = new_axes(ax, (11.0, 4.6))
    ax.plot(alpha, _finite(line.train_loss), color="tab:blue", lw=1.8)
    ax.plot(alpha, _finite(line.test_loss), "--", color="tab:blue", lw=1.8)
    ax.set_yscale("log")
    ax.set_ylabel("loss (log scale)", color="tab:blue")
    ax.set_xlabel("α")
    if line.train_acc[0] is not None:
        acc = ax.twinx()
        acc.plot(alpha, _finite(line.train_acc), color="tab:red", lw=1.8)
        acc.plot(alpha, _finite(line.test_acc), "--", color="tab:red")
        acc.set_ylabel("accuracy", color="tab:red")
    small, large = line.small, line.large
    for x in (0, 1):
        ax.axvline(x, color="0.5", lw=0.8, ls=":")
    ax.plot([], [], color="0.3", label="train (solid)")
    ax.plot([], [], "--", color="0.3", label="test (dashed)")
    ax.legend(loc="lower left", fontsize="small")
    ax.grid(True, alpha=0.25)
    ax.set_title(
        f"θ(α) = (1−α)·θ(batch {small}) + α·θ(batch {large}), "
        f"seed {line.seed}: α = 0 is batch {small}, α = 1 batch {large}"
    )
    return finish(ax, path)


def plot_batch_sharpness(
    results: BatchSizeReport,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Keskar's Figure 3 (bottom): λmax and ε-sharpness against the batch size, mean
    ± std over seeds (error bars) and each seed (dots); two panels."""
    runs = [r for r in results.runs if not r.diverged]
    summary = [r for r in results.summary if r.trained]
    sizes = [r.batch_size for r in summary]
    eps = results.settings.epsilon
    fig = new_panels("plot_batch_sharpness", ax, (11.0, 4.4))
    panels = fig.subplots(1, 2)
    measures = (
        ("lambda_max", "λmax of the training loss"),
        ("epsilon_sharpness", f"ε-sharpness (%), ε = {eps:g}"),
    )
    for panel, (key, label) in zip(panels, measures, strict=True):
        panel.plot(
            [r.batch_size for r in runs],
            _finite([getattr(r, key) for r in runs]),
            "o",
            color="tab:blue",
            alpha=0.35,
            ms=4,
        )
        panel.errorbar(
            sizes,
            _finite([r.mean_std(key)[0] for r in summary]),
            yerr=_finite([r.mean_std(key)[1] for r in summary]),
            color="tab:blue",
            marker="s",
            capsize=4,
            lw=1.6,
        )
        panel.set_xscale("log")
        panel.set_xticks(sizes, [str(b) for b in sizes])
        panel.minorticks_off()
        panel.set_xlabel("batch size (log scale)")
        panel.set_ylabel(label)
        panel.grid(True, alpha=0.25)
    fig.suptitle(f"Sharpness of each solution (until {results.settings.until})")
    return finish(fig, path)


def plot_edge_of_stability(
    results: EdgeOfStabilityReport,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Cohen's Figure 1: the training loss per step (left) and λmax (right) with
    2(1+β)/η dashed, one colour per run; two panels."""
    runs = results.runs
    labels = [
        f"η = {r.lr:g}" + (f", β = {r.momentum:g}" if r.momentum else "") for r in runs
    ]
    colors = label_colors(labels)
    fig = new_panels("plot_edge_of_stability", ax, (12.0, 4.6))
    left, right = fig.subplots(1, 2)
    for run, label in zip(runs, labels, strict=True):
        loss = _finite(run.loss)
        left.plot(range(len(loss)), loss, color=colors[label], lw=1.2, label=label)
        right.plot(run.steps, run.lambda_max, color=colors[label], lw=1.4)
        right.axhline(run.threshold, color=colors[label], ls="--", lw=1.0)
    left.set_yscale("log")
    left.set_ylabel("training loss (log scale)")
    left.set_title("Training loss (full batch)")
    right.set_ylabel("λmax of the training loss")
    right.set_title("Sharpness; dashed: 2(1 + β)/η")
    for panel in (left, right):
        panel.set_xlabel("step")
        panel.grid(True, which="both", alpha=0.25)
    left.legend(fontsize="small")
    return finish(fig, path)


def _figures_html(folder: Path, figures: Figures) -> str:
    blocks = []
    for name, caption, wide in figures:
        encoded = base64.b64encode((folder / name).read_bytes()).decode()
        text = html.escape(caption)
        blocks.append(
            f'<figure class="{"wide" if wide else ""}"><img alt="{text}" '
            f'src="data:image/png;base64,{encoded}"><figcaption>{text}</figcaption>'
            "</figure>"
        )
    return "\n".join(blocks)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>"


def _page(
    folder: Path,
    *,
    title: str,
    subtitle: str,
    explanation: str,
    table: str,
    findings: Sequence[str],
    notes: Sequence[str],
    figures: Figures,
    references: Sequence[str],
    command: str,
) -> Path:
    page = render(
        "study_template.html",
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        explanation=explanation,
        table=table,
        findings="".join(f"<li>{html.escape(f)}</li>" for f in findings),
        notes="".join(f'<p class="note">{html.escape(n)}</p>' for n in notes),
        figures=_figures_html(folder, figures),
        references="".join(f"<li>{html.escape(r)}</li>" for r in references),
        command=html.escape(command),
    )
    return outputs.write_text(folder / "report.html", page)


def _pm(row: BatchSizeRow, key: str, spec: str) -> str:
    value, std = row.mean_std(key)
    if math.isnan(value):
        return "—"
    return f"{value:{spec}} ± {std:{spec}}"


BATCH_SIZE_TEXT = """<p>Keskar et al. (2017) observed that large-batch training
converges to <em>sharp</em> minima — the training loss rises steeply around them —
and small-batch training to <em>flat</em> ones that generalize better. Sharpness
is only comparable between solutions that are equally far along: after the same
number of epochs a large batch has taken far fewer steps and simply sits higher on
the loss. Here every batch size trains from the same initial weights until the
same training loss (or the same number of steps), and each solution is measured by
λmax (the largest Hessian eigenvalue of the training loss) and by Keskar's
ε-sharpness: the largest relative increase of the training loss, in percent,
within the box |δᵢ| ≤ ε(|θᵢ| + 1), found by L-BFGS-B. The first figure is Keskar's
Figure 3: the losses and accuracies on the line through the smallest and the
largest batch's solutions; a sharp minimum is a narrow dip.</p>"""


def batch_size_report(
    results: BatchSizeReport, folder: str | Path, *, command: str
) -> Path:
    """Draw the batch-size study's figures and write ``report.html``."""
    out = Path(folder)
    settings = results.settings
    figures: Figures = []
    if results.interpolation is not None:
        plot_interpolation(results.interpolation, path=out / "interpolation.png")
        figures.append(
            (
                "interpolation.png",
                "Train (solid) and test (dashed) loss and accuracy along the line "
                "through the smallest (α = 0) and the largest (α = 1) batch's "
                "solutions.",
                True,
            )
        )
    if any(r.trained for r in results.summary):
        plot_batch_sharpness(results, path=out / "sharpness.png")
        figures.append(
            (
                "sharpness.png",
                "λmax and ε-sharpness of each solution against the batch size: mean ± "
                "std over seeds, each seed a dot.",
                True,
            )
        )
    rows = [
        [
            str(r.batch_size),
            f"{r.reached}/{r.runs}",
            f"{r.steps:.0f}",
            _pm(r, "train_loss", ".4g"),
            _pm(r, "lambda_max", ".3g"),
            _pm(r, "epsilon_sharpness", ".3g"),
            _pm(r, "train_acc", ".3f"),
            _pm(r, "test_acc", ".3f"),
            _pm(r, "gap", ".3f"),
        ]
        for r in results.summary
    ]
    header = [
        "batch size",
        "reached",
        "steps",
        "train loss",
        "λmax",
        f"ε-sharpness (%), ε = {settings.epsilon:g}",
        "train acc",
        "test acc",
        "gap (train − test acc)",
    ]
    return _page(
        out,
        title=f"Batch size and sharpness on {settings.data}",
        subtitle=(
            f"{settings.model} ({settings.activation}), {settings.optimizer} "
            f"at lr {settings.lr:g}, until {settings.until}, "
            f"{settings.seeds} seeds, batch sizes "
            f"{', '.join(map(str, settings.batch_sizes))}"
        ),
        explanation=BATCH_SIZE_TEXT,
        table=_table(header, rows),
        findings=results.findings,
        notes=[f"Warning: {w}" for w in results.warnings],
        figures=figures,
        references=results.references,
        command=command,
    )


EDGE_TEXT = """<p>On a quadratic, gradient descent with step η diverges once the
largest Hessian eigenvalue λmax exceeds 2/η (2(1 + β)/η with heavy-ball momentum
β). Cohen et al. (2021) found that full-batch gradient descent on neural networks
first <em>sharpens</em> — λmax grows during training — until it reaches 2/η, and
then hovers there, at the <em>edge of stability</em>, while the loss keeps falling,
no longer monotonically. Here each learning rate trains the same network from the
same weights on a fixed subset; λmax is computed by Lanczos on Hessian-vector
products every few steps, warm-started from the previous top eigenvector. The
figure is their Figure 1: the loss, and λmax with 2/η dashed in the same
colour.</p>"""


def edge_of_stability_report(
    results: EdgeOfStabilityReport, folder: str | Path, *, command: str
) -> Path:
    """Draw the edge-of-stability figure and write ``report.html``."""
    out = Path(folder)
    settings = results.settings
    plot_edge_of_stability(results, path=out / "edge_of_stability.png")
    figures: Figures = [
        (
            "edge_of_stability.png",
            "Training loss per step (left) and λmax of the training loss (right); the "
            "dashed line of each colour is that run's stability threshold 2(1 + β)/η.",
            True,
        )
    ]
    rows = [
        [
            f"{r.lr:g}",
            f"{r.momentum:g}",
            f"{r.threshold:.4g}",
            f"{_finite(r.loss)[-1]:.4g}",
            f"{r.lambda_max[-1]:.4g}",
            r.verdict(),
        ]
        for r in results.runs
    ]
    header = ["lr η", "momentum β", "2(1+β)/η", "final loss", "final λmax", "λmax"]
    hidden = "-".join(map(str, settings.hidden))
    return _page(
        out,
        title=f"The edge of stability on {settings.data}",
        subtitle=(
            f"full-batch GD on the first {settings.samples} training samples, "
            f"MLP {hidden} ({settings.activation}), {settings.loss} loss, "
            f"{settings.steps} steps, λmax every {settings.every} steps"
        ),
        explanation=EDGE_TEXT,
        table=_table(header, rows),
        findings=results.findings,
        notes=[],
        figures=figures,
        references=results.references,
        command=command,
    )


__all__ = [
    "batch_size_report",
    "edge_of_stability_report",
    "plot_batch_sharpness",
    "plot_edge_of_stability",
    "plot_interpolation",
]
