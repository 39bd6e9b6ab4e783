"""How long the comparison's report takes to draw: ``gdlab report`` on the demo.

Runs ``make demo``'s comparison once into a scratch folder (or takes ``--folder``,
one that ``gdlab compare`` wrote), then redraws its report (``report.html`` and its
five PNGs, what the compare's last step and ``gdlab report FOLDER`` do) in this
process ``--repeats`` times, after one untimed warm-up (imports, fonts, caches), and
prints the wall and CPU seconds as the median (range) with the load, then each
figure's seconds split into building its artists, matplotlib's layout (the
constrained layout engine), drawing on the Agg canvas and PNG encoding (CPU
seconds, median over the repeats)::

    .venv/bin/python benchmarks/bench_report.py [--folder runs/compare-digits]

Goal (issue 29): the demo's report drawn well under a second.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import machine, no_compilation, summary
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gdlab.lab import runs
from gdlab.report import compare, plots
from gdlab.results import ComparisonResult


def figures(results: ComparisonResult) -> dict[str, Callable[[], Figure]]:
    """The figures of :func:`gdlab.report.compare.draw`, each unsaved."""
    metric = "test_acc" if results.protocol.metric == "test_acc" else "test_loss"
    return {
        "test": lambda: compare.plot_test_metrics(results, metric),
        "tunability": lambda: compare.plot_tunability(results),
        "sensitivity": lambda: compare.plot_sensitivity(results),
        "curves": lambda: compare.plot_curves(results, "val_acc"),
        "loss": lambda: compare.plot_curves(results, "train_loss"),
    }


def split(make: Callable[[], Figure]) -> tuple[float, float, float, float]:
    """CPU seconds of one figure: build, layout, draw, PNG encoding (what
    :func:`gdlab.report.plots.png_bytes` adds to a draw at the report's dpi)."""
    c0 = time.process_time()
    fig = make()
    FigureCanvasAgg(fig)
    c1 = time.process_time()
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine("none")
    c2 = time.process_time()
    fig.savefig(io.BytesIO(), format="rgba", dpi=plots.PNG_DPI)  # the draw alone
    c3 = time.process_time()
    plots.png_bytes(fig, plots.PNG_DPI)  # draws again, then encodes
    c4 = time.process_time()
    return c1 - c0, c2 - c1, c3 - c2, (c4 - c3) - (c3 - c2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=None, help="a comparison's folder")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"bench_report: {machine()}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.folder
        if folder is None:
            folder = str(Path(scratch) / "demo")
            print("running make demo's comparison into a scratch folder ...")
            subprocess.run(
                [sys.executable, "-m", "gdlab", "compare", "--out", folder, "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        result = runs.load_comparison(folder)
        runs.report_from(folder, result)  # warm-up: imports, fonts
        wall, cpu, loads = [], [], [os.getloadavg()[0]]
        with no_compilation("bench_report"):
            for _ in range(args.repeats):
                w0, c0 = time.perf_counter(), time.process_time()
                runs.report_from(folder, result)
                wall.append(time.perf_counter() - w0)
                cpu.append(time.process_time() - c0)
                loads.append(os.getloadavg()[0])
        n = len(result.optimizers)
        print(
            f"report of {n} optimizers ({folder}): {summary(wall, 3)} s wall, "
            f"{summary(cpu, 3)} s CPU, {args.repeats} repeats at load "
            f"{min(loads):.1f}–{max(loads):.1f} (goal: well under 1 s)"
        )
        parts: dict[str, list[tuple[float, float, float, float]]] = {}
        for _ in range(args.repeats):
            for name, make in figures(result).items():
                parts.setdefault(name, []).append(split(make))
        print(f"{'CPU ms':12}{'build':>10}{'layout':>10}{'draw':>10}{'png':>10}")
        totals = [0.0] * 4
        for name, rows in parts.items():
            medians = [statistics.median(column) for column in zip(*rows, strict=True)]
            totals = [a + b for a, b in zip(totals, medians, strict=True)]
            print(f"{name:12}" + "".join(f"{m * 1e3:10.0f}" for m in medians))
        print(f"{'all':12}" + "".join(f"{m * 1e3:10.0f}" for m in totals))


if __name__ == "__main__":
    main()
