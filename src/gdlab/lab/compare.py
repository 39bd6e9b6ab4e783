"""Compare optimizers on one problem: same model, same initial weights, same batches.

For every seed, each optimizer trains the model built from that seed (so all start
from the same weights) with the batch order drawn from that seed (so all see the
same batches); only the update rule and its learning rate differ. The result is a
plain, JSON-ready record that :mod:`gdlab.report` draws.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdlab import _checks, checkpoint, optim
from gdlab.experiment import DEFAULT_LR, RunSpec, build, load_data
from gdlab.train import History, fit

ALL_OPTIMIZERS = tuple(DEFAULT_LR)
"""Every optimizer and preset, in the order the report shows them."""

SUMMARY_FIELDS = (
    "optimizer",
    "lr",
    "final_train_loss",
    "final_train_loss_std",
    "best_test_acc",
    "best_test_acc_std",
    "final_test_acc",
    "final_test_acc_std",
    "seconds",
    "diverged",
)


@dataclass
class Comparison:
    """Histories per optimizer and seed, and the summary table."""

    spec: RunSpec
    lrs: dict[str, float]
    seeds: list[int]
    runs: dict[str, list[History]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)

    def summary(self) -> list[dict[str, Any]]:
        """One row per optimizer: mean and std over seeds of the final train loss,
        the best and final test accuracy; mean seconds; runs that diverged."""
        rows = []
        for name, histories in self.runs.items():
            finals = [h.epochs[-1] for h in histories if h.epochs]
            row: dict[str, Any] = {"optimizer": name, "lr": self.lrs[name]}
            best = [
                [a for e in h.epochs if (a := e["test_acc"]) is not None]
                for h in histories
            ]
            for key, values in (
                ("final_train_loss", [e["train_loss"] for e in finals]),
                ("best_test_acc", [max(a) for a in best if a]),
                ("final_test_acc", [e["test_acc"] for e in finals]),
            ):
                clean = [float(v) for v in values if v is not None]
                row[key] = statistics.fmean(clean) if clean else math.nan
                row[f"{key}_std"] = statistics.pstdev(clean) if len(clean) > 1 else 0.0
            row["seconds"] = statistics.fmean(self.seconds[name])
            row["diverged"] = sum(h.diverged for h in histories)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "lrs": self.lrs,
            "seeds": self.seeds,
            "runs": {k: [h.to_dict() for h in v] for k, v in self.runs.items()},
            "seconds": self.seconds,
            "summary": self.summary(),
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Comparison:
        return cls(
            RunSpec.from_dict(dict(values["spec"])),
            dict(values["lrs"]),
            list(values["seeds"]),
            {k: [History.from_dict(h) for h in v] for k, v in values["runs"].items()},
            {k: list(v) for k, v in values["seconds"].items()},
        )

    def save(self, folder: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``results.json`` (everything) and ``results.csv`` (the summary)."""
        root = Path(folder)
        text = json.dumps(self.to_dict(), indent=1).encode()
        json_path, csv_path = root / "results.json", root / "results.csv"
        checkpoint.write_atomic(json_path, lambda f: f.write(text))
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
            writer.writeheader()
            writer.writerows(self.summary())
        return json_path, csv_path

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Comparison:
        path = Path(folder) / "results.json"
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"cannot read comparison results {path}: {error}"
            ) from None


def compare(
    spec: RunSpec,
    optimizers: Sequence[str] = ALL_OPTIMIZERS,
    *,
    seeds: int | Sequence[int] = 1,
    lrs: Mapping[str, float] | None = None,
    progress: bool = True,
) -> Comparison:
    """Train ``spec`` with each optimizer (registry names or the presets
    "momentum" and "nesterov") for each seed; return the histories.

    ``lrs`` overrides the learning rates, which default to
    :data:`gdlab.experiment.DEFAULT_LR` (or ``spec.lr`` when that is set).
    """
    if not optimizers:
        _checks.fail("compare", "optimizers", "at least one name", list(optimizers))
    for name in optimizers:
        optim.resolve(name)
    if len(set(optimizers)) != len(optimizers):
        _checks.fail("compare", "optimizers", "distinct names", list(optimizers))
    if isinstance(seeds, int):
        seed_list = list(range(_checks.integer("compare", "seeds", seeds, low=1)))
    else:
        seed_list = [_checks.integer("compare", "seed", s, low=0) for s in seeds]
    chosen = {
        name: float(
            (lrs or {}).get(name, spec.lr if spec.lr is not None else DEFAULT_LR[name])
        )
        for name in optimizers
    }
    for name, lr in chosen.items():
        _checks.number("compare", f"lr of {name}", lr, low=0.0, low_open=True)
    dataset = load_data(spec)
    result = Comparison(spec, chosen, seed_list)
    for name in optimizers:
        result.runs[name], result.seconds[name] = [], []
        for seed in seed_list:
            run = build(
                spec.replace(optimizer=name, lr=chosen[name], seed=seed), dataset
            )
            started = time.perf_counter()
            history = fit(
                run.model, run.optimizer, dataset, **run.fit_arguments(), progress=False
            )
            result.seconds[name].append(time.perf_counter() - started)
            result.runs[name].append(history)
        if progress:
            print(
                _progress_line(
                    name, chosen[name], result.runs[name], result.seconds[name]
                ),
                flush=True,
            )
    return result


def _progress_line(
    name: str, lr: float, histories: list[History], seconds: list[float]
) -> str:
    accs = [
        h.epochs[-1]["test_acc"]
        for h in histories
        if h.epochs and h.epochs[-1]["test_acc"] is not None
    ]
    acc = f"test acc {statistics.fmean(accs):.3f}" if accs else "no accuracy"
    diverged = sum(h.diverged for h in histories)
    note = f", {diverged} diverged" if diverged else ""
    return f"  {name:<10} lr {lr:<8g} {acc}  {sum(seconds):.1f}s{note}"


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The summary as an aligned text table (mean ± std over seeds)."""

    def pm(row: Mapping[str, Any], key: str, digits: int) -> str:
        value, std = row[key], row[f"{key}_std"]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        return f"{value:.{digits}f} ± {std:.{digits}f}"

    header = (
        "optimizer",
        "lr",
        "train loss",
        "best test acc",
        "final test acc",
        "time",
        "diverged",
    )
    lines = [
        [
            r["optimizer"],
            f"{r['lr']:g}",
            pm(r, "final_train_loss", 4),
            pm(r, "best_test_acc", 3),
            pm(r, "final_test_acc", 3),
            f"{r['seconds']:.2f}s",
            str(r["diverged"]),
        ]
        for r in rows
    ]
    widths = [
        max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    return "\n".join(out)
