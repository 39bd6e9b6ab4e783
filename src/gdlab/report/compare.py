"""The report of a fair comparison: what was selected, how it did on the test set,
how much it depended on its tuning budget, and how it trained.

Every ``plot_*`` function follows matplotlib's convention: it draws into ``ax``
(a new Figure when None), returns the Figure, and writes a PNG only when ``path``
is given. :func:`comparison_report` reads ``results.json`` (plain data; it never
trains) and writes the PNGs and one self-contained ``report.html``.
"""

from __future__ import annotations

import base64
import html
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import outputs
from gdlab.report.plots import finish, label_colors, new_axes

METRIC_NAMES = {
    "val_acc": "validation accuracy",
    "val_loss": "validation loss",
    "test_acc": "test accuracy",
    "test_loss": "test loss",
    "train_loss": "training loss",
}


def _axes(ax: Axes | None, size: tuple[float, float] = (7.0, 4.4)) -> Axes:
    return new_axes(ax, size)


_finish = finish


def plot_test_metrics(
    results: Mapping[str, Any],
    metric: str = "test_acc",
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Each optimizer's reruns: ``metric`` per seed (dots) and the mean with its 95%
    interval (bar)."""
    ax = _axes(ax)
    names = list(results["optimizers"])
    colors = label_colors(names)
    for k, name in enumerate(names):
        reruns = results["optimizers"][name]["reruns"]
        values = [
            r["final"][metric] for r in reruns if r["final"].get(metric) is not None
        ]
        summary = results["optimizers"][name]["summary"].get(metric) or {}
        ax.scatter([k] * len(values), values, color=colors[name], alpha=0.5, s=14)
        if summary.get("mean") is not None:
            ax.errorbar(
                [k],
                [summary["mean"]],
                yerr=[[summary["ci95"] or 0.0], [summary["ci95"] or 0.0]],
                fmt="o",
                color=colors[name],
                capsize=5,
                markersize=7,
            )
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    ax.set_title(
        f"{METRIC_NAMES.get(metric, metric).capitalize()} of the reruns: mean ± 95% CI"
    )
    ax.grid(True, axis="y", alpha=0.3)
    return _finish(ax, path)


def plot_tunability(
    results: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Expected best validation score of k trials, k = 1..N, per optimizer: a curve
    that rises late means the optimizer needs its budget."""
    ax = _axes(ax)
    select = results["protocol"]["select"]
    names = list(results["optimizers"])
    colors = label_colors(names)
    for name in names:
        curve = results["optimizers"][name]["tunability"]
        ks = [k + 1 for k, v in enumerate(curve) if v is not None]
        ax.plot(
            ks,
            [v for v in curve if v is not None],
            marker="o",
            markersize=3,
            color=colors[name],
            label=name,
        )
    ax.set_xlabel("trials k")
    ax.set_ylabel(f"expected best {METRIC_NAMES.get(select, select)}")
    ax.set_title("Tunability: the expected best of k trials")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(ax, path)


def plot_sensitivity(
    results: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Every trial's validation score against its learning rate; diverged trials
    as crosses along the bottom."""
    ax = _axes(ax)
    select = results["protocol"]["select"]
    names = list(results["optimizers"])
    colors = label_colors(names)
    scores = [
        t[select]
        for name in names
        for t in results["optimizers"][name]["trials"]
        if t.get(select) is not None
    ]
    bottom = min(scores) if scores else 0.0
    for name in names:
        trials = results["optimizers"][name]["trials"]
        ok = [t for t in trials if not t["diverged"] and t.get(select) is not None]
        bad = [t for t in trials if t["diverged"]]
        order = sorted(ok, key=lambda t: t["hyper"]["lr"])
        ax.plot(
            [t["hyper"]["lr"] for t in order],
            [t[select] for t in order],
            marker="o",
            markersize=4,
            color=colors[name],
            label=name,
        )
        if bad:
            ax.scatter(
                [t["hyper"]["lr"] for t in bad],
                [bottom] * len(bad),
                marker="x",
                color=colors[name],
                s=40,
            )
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(METRIC_NAMES.get(select, select))
    ax.set_title("Learning-rate sensitivity over all trials (× = diverged)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small")
    return _finish(ax, path)


def _band(
    reruns: Sequence[Mapping[str, Any]], metric: str
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Epochs and the mean, min and max of ``metric`` over the reruns."""
    rows = [r["history"]["epochs"] for r in reruns if r["history"]["epochs"]]
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
    results: Mapping[str, Any],
    metric: str = "val_acc",
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """``metric`` per epoch of the reruns: the mean over seeds and its min-max band."""
    ax = _axes(ax)
    names = list(results["optimizers"])
    colors = label_colors(names)
    for name in names:
        x, mean, low, high = _band(results["optimizers"][name]["reruns"], metric)
        if x:
            ax.plot(x, mean, color=colors[name], label=name, linewidth=1.6)
            ax.fill_between(x, low, high, color=colors[name], alpha=0.15, linewidth=0)
    if "loss" in metric:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(METRIC_NAMES.get(metric, metric))
    name = METRIC_NAMES.get(metric, metric)
    ax.set_title(f"{name.capitalize()} of the reruns (band: min–max over seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return _finish(ax, path)


# --- the page ------------------------------------------------------------------------


def _interval(summary: Mapping[str, Any] | None, digits: int) -> str:
    if not summary or summary.get("mean") is None:
        return "—"
    text = f"{summary['mean']:.{digits}f}"
    if summary.get("ci95") is not None:
        text += f" ± {summary['ci95']:.{digits}f}"
    return f"{text} (n={summary['n']})"


def _hyper(hyper: Mapping[str, Any]) -> str:
    def show(v: Any) -> str:
        if isinstance(v, list | tuple):
            return "(" + ", ".join(show(x) for x in v) + ")"
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k}={show(v)}" for k, v in hyper.items())


def _table(results: Mapping[str, Any]) -> tuple[str, str]:
    protocol = results["protocol"]
    target = protocol.get("target")
    header = (
        "optimizer",
        "selected hyperparameters",
        f"{METRIC_NAMES[protocol['select']]} (trial)",
        "test accuracy",
        "test loss",
        "steps to target" if target is not None else "",
        "diverged",
        "time per run",
    )
    rows = []
    for name, o in results["optimizers"].items():
        s = o["summary"]
        trial = o["selected"]["trial"]
        score = None if trial is None else o["trials"][trial].get(protocol["select"])
        reached = s["to_target"]
        cells = [
            html.escape(name),
            html.escape(_hyper(o["selected"]["hyper"])),
            "—" if score is None else f"{score:.4f}",
            _interval(s.get("test_acc"), 3),
            _interval(s.get("test_loss"), 4),
            (
                f"{reached['median_step']:g} "
                f"({reached['reached']}/{reached['runs']} reached)"
                if reached["median_step"] is not None
                else f"not reached (0/{reached['runs']})"
            )
            if target is not None
            else "",
            f"{s['diverged']}/{len(o['reruns'])}",
            f"{s['seconds']:.2f} s" if s.get("seconds") is not None else "—",
        ]
        css = "diverged" if s["diverged"] else ""
        rows.append(
            f'<tr class="{css}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in header)
    return head, "\n".join(rows)


CAPTIONS = {
    "test.png": "Test accuracy of the reruns of each optimizer's selected "
    "hyperparameters: one dot per seed, mean ± 95% t-interval. The test set was "
    "evaluated only here.",
    "tunability.png": "Expected best validation score of k trials drawn from the N "
    "run (Dodge et al. 2019): how much each optimizer depends on its budget.",
    "sensitivity.png": "Validation score of every trial against its learning rate.",
    "curves.png": "Validation accuracy per epoch of the reruns (mean, min–max band).",
    "loss.png": "Training loss per epoch of the reruns (mean, min–max band).",
}


def draw(results: Mapping[str, Any], folder: Path) -> list[tuple[str, str]]:
    """Write the comparison's PNGs into ``folder``; return (file, caption) pairs."""
    figures = []
    classification = any(
        (o["summary"].get("test_acc") or {}).get("mean") is not None
        for o in results["optimizers"].values()
    )
    if classification:
        plot_test_metrics(results, "test_acc", path=folder / "test.png")
        figures.append("test.png")
    else:
        plot_test_metrics(results, "test_loss", path=folder / "test.png")
        figures.append("test.png")
    if results["protocol"]["budget"] > 0:
        plot_tunability(results, path=folder / "tunability.png")
        plot_sensitivity(results, path=folder / "sensitivity.png")
        figures += ["tunability.png", "sensitivity.png"]
    if classification:
        plot_curves(results, "val_acc", path=folder / "curves.png")
        figures.append("curves.png")
    plot_curves(results, "train_loss", path=folder / "loss.png")
    figures.append("loss.png")
    return [(f, CAPTIONS[f]) for f in figures]


PROTOCOL_TEXT = """Each optimizer got the same budget: {budget} trials of quasi-random
search (scrambled Sobol points, seed {search_seed}) over its own documented search
space ({tune}), trained with seed {tuning_seed}. The trial with the best final
{select} on a validation split ({val} of the training set, stratified, the same for
every optimizer) was selected, and its hyperparameters were trained again with seeds
{seeds}; only those reruns touched the test set. Intervals are 95% Student-t
intervals over the reruns; differences smaller than them are not a ranking.
References: Choi et al. 2019; Sivaprasad et al. 2020; Schmidt et al. 2021; Dahl et
al. 2023 (AlgoPerf)."""


def comparison_report(
    results: Mapping[str, Any], folder: str | Path, *, command: str = "gdlab compare"
) -> Path:
    """Draw the figures and write ``report.html`` into ``folder``; return its path."""
    from gdlab.report.html import render

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    figures = draw(results, out)
    spec, protocol = results["spec"], results["protocol"]
    head, rows = _table(results)
    blocks = []
    for name, caption in figures:
        data = base64.b64encode((out / name).read_bytes()).decode()
        text = html.escape(caption)
        blocks.append(
            f'<figure><img alt="{text}" src="data:image/png;base64,{data}">'
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
        f"budget {protocol['budget']} trials, {len(protocol['seeds'])} reruns"
    )
    text = PROTOCOL_TEXT.format(
        budget=protocol["budget"],
        search_seed=protocol["search_seed"],
        tune=", ".join(protocol["tune"]),
        tuning_seed=protocol["tuning_seed"],
        select=METRIC_NAMES[protocol["select"]],
        val=f"{spec.get('val_fraction', 0.1):g}",
        seeds=", ".join(map(str, protocol["seeds"])),
    )
    if protocol["budget"] == 0:
        text = (
            "Budget 0: each optimizer ran once at its suggested learning rate and "
            "defaults (a one-shot baseline, not a tuned comparison), then with seeds "
            f"{', '.join(map(str, protocol['seeds']))} on the test set."
        )
    notes = "".join(
        f'<p class="note">{html.escape(n)}</p>' for n in results.get("notes", [])
    )
    page = render(
        "compare_template.html",
        title=html.escape(f"Optimizer comparison on {spec['data']}"),
        subtitle=html.escape(subtitle),
        header=head,
        rows=rows,
        notes=notes,
        figures="\n".join(blocks),
        protocol=html.escape(" ".join(text.split())),
        command=html.escape(command),
    )
    return outputs.write_text(out / "report.html", page)
