"""The report of a benchmark: AlgoPerf's performance profiles and scores with
their intervals over studies, the time-to-target table (steps and seconds), and
gdlab's own view, labelled as such, with a link to each workload's comparison."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import outputs
from gdlab.benchmark_results import BenchmarkResult, OwnView, Profile, WorkloadResult
from gdlab.report.plots import finish, label_colors, new_axes


def plot_profiles(
    profile: Profile,
    *,
    ax: Axes | None = None,
    path: str | Path | None = None,
) -> Figure:
    """rho_s(tau) per optimizer, its score in the legend: AlgoPerf's profile on a
    linear tau axis over [1, 4] (a benchmark's ``profiles``), or gdlab's own view
    on a log axis up to 10 (its ``own_view``, an
    :class:`~gdlab.benchmark_results.OwnView`)."""
    own = isinstance(profile, OwnView)
    ax = new_axes(ax, (8.0, 4.8))
    taus, rho = profile.taus, profile.rho
    colors = label_colors(list(rho))
    for name, values in rho.items():
        ax.step(
            taus,
            values,
            where="post",
            color=colors[name],
            linewidth=1.6,
            label=f"{name} ({profile.scores[name]:.2f})",
        )
    if own:
        ax.set_xscale("log")
    ax.set_xlim(taus[0], taus[-1])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("τ: within this factor of the fastest optimizer's steps to target")
    ax.set_ylabel("share of workloads")
    ax.set_title(
        "gdlab's own view: log τ up to 10 (not AlgoPerf's score)"
        if own
        else "AlgoPerf performance profiles, τ in [1, 4] (legend: score)"
    )
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small", loc="lower right")
    return finish(ax, path)


def _cell(workload: WorkloadResult, name: str) -> str:
    t = workload.steps_to_target.get(name)
    studies = workload.study_steps.get(name, ())
    reached = sum(s is not None for s in studies)
    value = workload.test.get(name)
    measure = "test" if workload.test_metric == "test_acc" else "test loss"
    shown = (
        f"not reached ({reached}/{len(studies)} studies reached)"
        if t is None
        else f"{t:g} steps, {workload.seconds_to_target[name]:.3g} s "
        f"({reached}/{len(studies)} studies reached)"
    )
    return shown + ("" if value is None else f"; {measure} {value:.3g}")


def benchmark_report(result: BenchmarkResult, folder: str | Path) -> Path:
    """Write ``profiles.png``, ``own_view.png`` and ``report.html`` into ``folder``."""
    from gdlab.report.html import render

    out = Path(folder)
    plot_profiles(result.profiles, path=out / "profiles.png")
    plot_profiles(result.own_view, path=out / "own_view.png")
    images = {
        name: base64.b64encode((out / name).read_bytes()).decode()
        for name in ("profiles.png", "own_view.png")
    }
    workloads = result.workloads
    names = sorted(result.scores, key=lambda n: -result.scores[n])
    head = "".join(
        f'<th><a href="{html.escape(w.report)}">{html.escape(k)}</a> '
        f"(target {w.target:g}; calibrated by "
        f"{html.escape(w.calibrated_by or 'no recorded command')})</th>"
        for k, w in workloads.items()
    )
    rows = []
    for name in names:
        cells = [html.escape(name)]
        cells += [html.escape(_cell(w, name)) for w in workloads.values()]
        iv = result.intervals[name]
        spread = f"{iv.mean:.3f}" + ("" if iv.ci95 is None else f" ± {iv.ci95:.3f}")
        cells.append(
            f"{result.scores[name]:.3f} (per study: {spread}, "
            f"{iv.low:.3f}–{iv.high:.3f})"
        )
        cells.append(f"{result.seconds.scores[name]:.3f}")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    protocol = result.protocol
    figures = (
        f'<figure><img alt="AlgoPerf performance profiles" src="data:image/png;base64,'
        f'{images["profiles.png"]}"><figcaption>AlgoPerf performance profiles of the '
        "steps to each workload's validation target (Dahl et al. 2023), τ on a linear "
        "grid over [1, 4].</figcaption></figure>"
        f'<figure><img alt="gdlab own view" src="data:image/png;base64,'
        f"{images['own_view.png']}\"><figcaption>gdlab's own view, not AlgoPerf's: "
        "the Dolan &amp; Moré 2002 profile of the same times on a log axis up to "
        "τ = 10.</figcaption></figure>"
    )
    page = render(
        "compare_template.html",
        title="Optimizer benchmark",
        subtitle=html.escape(
            f"{len(workloads)} workloads; each optimizer tuned in "
            f"{protocol.studies} studies of {protocol.budget} trials "
            f"({', '.join(protocol.tune)}), {protocol.seeds} reruns each"
        ),
        header=f"<th>optimizer</th>{head}<th>score (AlgoPerf)</th>"
        "<th>score by seconds</th>",
        rows="\n".join(rows),
        notes="",
        lead="",
        data_file="benchmark.json",
        figures=figures,
        protocol=html.escape(
            "Each workload ran the fair comparison (gdlab compare) in independent "
            "studies. The score is AlgoPerf's: in each study, the trial that reaches "
            "the workload's validation target at the earliest evaluation gives the "
            "study's time (evaluations every eval_every steps); the time is the "
            "median over studies; a time above 4x the fastest counts as not reached; "
            "ratios to the fastest are counted on 100 linearly spaced τ in [1, 4]; "
            "the score is the trapezoid integral divided by 3. The interval: the same "
            "steps on each study's times alone, a 95% t-interval over studies."
        ),
        command="gdlab benchmark",
    )
    return outputs.write_text(out / "report.html", page)
