"""A sweep's results: the runs of its grid, their summary over seeds, the text
table and the report drawn from the store alone."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gdlab import _checks, _display
from gdlab.experiment import RunSpec
from gdlab.lab.sweep.store import Folder, Store, StoredRun, as_row
from gdlab.results import SUMMARIZED, GridValue, Spread, SweepRun, SweepSummary

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass
class SweepResult:
    """The grid's runs as stored: ``rows()`` for numbers, ``runs`` for histories."""

    store: Path
    base: RunSpec
    axes: list[str]
    specs: list[RunSpec]
    runs: list[StoredRun]
    already_done: int
    ran: int
    sharpness: bool
    report: Path | None = None

    def rows(self) -> list[SweepRun]:
        """One :class:`~gdlab.results.SweepRun` per finished run of the grid, in
        grid order: the grid's values (``lr``: the learning rate used), then the
        metrics (``lambda_max`` None unless the sweep measured it)."""
        return [as_row(r, self.axes) for r in self.runs]

    def summary(self) -> list[SweepSummary]:
        """Mean and std over seeds per combination of the other grid values."""
        return summarize(self.rows(), [a for a in self.axes if a != "seed"])

    def to_frame(self) -> Any:
        """:meth:`rows` as a pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        return _display.frame("SweepResult.to_frame", [r.flat() for r in self.rows()])

    def plot(self, ax: Axes | None = None, kind: str = "lr_sensitivity") -> Figure:
        """One figure of the sweep's report drawn into ``ax`` (a new Figure when
        None): ``"lr_sensitivity"``, ``"sharpness"`` (λmax against batch size) or
        ``"sharpness_accuracy"``."""
        from gdlab.report import sensitivity

        draw = {
            "lr_sensitivity": sensitivity.plot_lr_sensitivity,
            "sharpness": sensitivity.plot_sharpness,
            "sharpness_accuracy": sensitivity.plot_sharpness_accuracy,
        }
        if kind not in draw:
            _checks.fail("SweepResult.plot", "kind", f"one of {list(draw)}", kind)
        fig = draw[kind](self.rows(), ax=ax)
        if fig is None:
            needs = "runs at two learning rates or more"
            if kind != "lr_sensitivity":
                needs = "a sweep with sharpness=True over two batch sizes or more"
            _checks.fail("SweepResult.plot", f"kind {kind!r}", needs, self.axes)
        return fig

    def _repr_html_(self) -> str:
        by = [a for a in self.axes if a != "seed"]
        metrics = [m for m in SUMMARIZED if m != "lambda_max" or self.sharpness]
        rows = [
            {
                **{b: r.values[b] for b in by},
                "runs": r.runs,
                **{
                    f"{m} (± std)": _display.pm(r.spread(m).mean, r.spread(m).std)
                    for m in metrics
                },
                "diverged": r.diverged,
            }
            for r in self.summary()
        ]
        caption = (
            f"Sweep on {self.base.data}: {len(self.runs)} runs over "
            f"{', '.join(self.axes) or 'nothing'} (mean ± std over seeds)"
        )
        return _display.table(caption, rows)


def summarize(rows: Sequence[SweepRun], by: Sequence[str]) -> list[SweepSummary]:
    """Group ``rows`` by the fields ``by``; per group: ``runs``, ``diverged``, mean
    ``seconds``, and the mean, sample std and 95% t-interval of each metric of
    :data:`~gdlab.results.SUMMARIZED` over the runs that did not diverge (a
    diverged run has no final numbers: it is counted, never averaged in)."""
    from gdlab.lab.tuning import interval95

    groups: dict[str, list[SweepRun]] = {}
    for row in rows:
        groups.setdefault(json.dumps([row.get(b) for b in by]), []).append(row)
    out = []
    for members in groups.values():
        kept = [m.metrics for m in members if not m.metrics.diverged]
        spreads = {}
        for name in SUMMARIZED:
            values = [v for m in kept if (v := m.value(name)) is not None]
            stats = interval95(values)
            spreads[name] = Spread(stats["mean"], stats["std"], stats["ci95"])
        out.append(
            SweepSummary(
                values={b: members[0].get(b) for b in by},
                runs=len(members),
                diverged=sum(m.metrics.diverged for m in members),
                seconds=statistics.fmean(m.metrics.seconds for m in members),
                spreads=spreads,
            )
        )
    return out


def write_report(store: Store | Folder, *, command: str | None = None) -> Path:
    """Write results.csv, summary.csv, the PNGs and report.html next to the store,
    from the store alone; return the report's path."""
    from gdlab.report import sensitivity

    db = store if isinstance(store, Store) else Store(store)
    try:
        meta = db.meta()
        axes = list(meta.get("axes", []))
        rows = db.rows(axes)
        by = [a for a in axes if a != "seed"] or ["optimizer"]
        return sensitivity.sweep_report(
            rows,
            summarize(rows, by),
            db.path.parent,
            axes=axes,
            base=meta.get("base", {}),
            sharpness=bool(meta.get("options", {}).get("sharpness")),
            command=command or f"gdlab sweep ... --out {db.path.parent}",
        )
    finally:
        if db is not store:
            db.close()


def format_table(summary: Sequence[SweepSummary], by: Sequence[str]) -> str:
    """The summary as an aligned text table (mean ± std over seeds)."""

    def pm(r: SweepSummary, name: str, digits: int) -> str:
        spread = r.spread(name)
        if spread.mean is None:
            return "—"
        std = spread.std or 0.0
        return f"{_display.fixed(spread.mean, digits)} ± {_display.fixed(std, digits)}"

    sharp = any(r.spread("lambda_max").mean is not None for r in summary)
    header = [
        *by,
        "runs",
        "train loss",
        "val acc",
        "best val acc",
        "test acc",
        *(["λmax"] if sharp else []),
        "diverged",
        "time",
    ]
    lines = [
        [
            *(_cell(r.values[b]) for b in by),
            str(r.runs),
            pm(r, "final_train_loss", 4),
            pm(r, "final_val_acc", 3),
            pm(r, "best_val_acc", 3),
            pm(r, "final_test_acc", 3),
            *([pm(r, "lambda_max", 2)] if sharp else []),
            str(r.diverged),
            f"{r.seconds:.2f}s",
        ]
        for r in summary
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
        for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    return "\n".join(out)


def _cell(value: GridValue) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
