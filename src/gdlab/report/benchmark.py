"""The report of a benchmark: performance profiles and the time-to-target table,
with a link to each workload's comparison report."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import outputs
from gdlab.report.plots import finish, label_colors, new_axes


def plot_profiles(
    results: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """rho_s(tau) per optimizer on a log tau axis: higher and further left is
    faster on more workloads."""
    ax = new_axes(ax, (8.0, 4.8))
    taus = results["profiles"]["taus"]
    rho = results["profiles"]["rho"]
    colors = label_colors(list(rho))
    for name, values in rho.items():
        score = results["scores"][name]
        ax.step(
            taus,
            values,
            where="post",
            color=colors[name],
            linewidth=1.6,
            label=f"{name} ({score:.2f})",
        )
    ax.set_xscale("log")
    ax.set_xlim(taus[0], taus[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: within this factor of the fastest optimizer's steps to target")
    ax.set_ylabel("share of workloads")
    ax.set_title("Performance profiles (legend: normalized area)")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small", loc="lower right")
    return finish(ax, path)


def benchmark_report(results: Mapping[str, Any], folder: str | Path) -> Path:
    """Write ``profiles.png`` and ``report.html`` into ``folder``."""
    from gdlab.report.html import render

    out = Path(folder)
    plot_profiles(results, path=out / "profiles.png")
    image = base64.b64encode((out / "profiles.png").read_bytes()).decode()
    workloads = results["workloads"]
    names = sorted(results["scores"], key=lambda n: -results["scores"][n])
    head = "".join(
        f'<th><a href="{html.escape(w["report"])}">{html.escape(k)}</a> '
        f"(target {w['target']:g})</th>"
        for k, w in workloads.items()
    )
    rows = []
    for name in names:
        cells = [html.escape(name)]
        for w in workloads.values():
            t = w["steps_to_target"].get(name)
            acc = w["test_acc"].get(name)
            shown = "not reached" if t is None else f"{t:g} steps"
            cells.append(shown + ("" if acc is None else f" (test {acc:.3f})"))
        cells.append(f"{results['scores'][name]:.3f}")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    protocol = results["protocol"]
    page = render(
        "compare_template.html",
        title="Optimizer benchmark",
        subtitle=html.escape(
            f"{len(workloads)} workloads; each optimizer tuned with "
            f"{protocol['budget']} trials ({', '.join(protocol['tune'])}), "
            f"{protocol['seeds']} reruns"
        ),
        header=f"<th>optimizer</th>{head}<th>score</th>",
        rows="\n".join(rows),
        notes="",
        figures=(
            f'<figure><img alt="performance profiles" src="data:image/png;base64,'
            f'{image}"><figcaption>Performance profiles of the steps to each '
            "workload's validation target (Dolan &amp; Moré 2002; AlgoPerf, Dahl et "
            "al. 2023).</figcaption></figure>"
        ),
        protocol=html.escape(
            "Each workload ran the fair comparison (gdlab compare): the same "
            "quasi-random budget per optimizer, selection on validation data, "
            "reruns over new seeds on the test set. Steps to target: median over "
            "the reruns of the first evaluation whose validation accuracy reaches "
            "the workload's target. The score is the area under the profile on a "
            "log axis up to τ = 10, divided by log 10."
        ),
        command="gdlab benchmark",
    )
    return outputs.write_text(out / "report.html", page)
