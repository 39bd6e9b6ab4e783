"""Compare optimizers fairly: an equal tuning budget, choices on validation data,
the test set touched once.

The protocol of the optimizer-benchmarking literature (Choi et al. 2019;
Sivaprasad et al. 2020; Schmidt et al. 2021; Dahl et al. 2023), at laptop scale:

1. **Trials.** Every optimizer gets the same ``budget`` of trials: the first N
   points of one scrambled Sobol sequence (``search_seed``), mapped onto that
   optimizer's own search space (``tune`` picks the axes; see
   :mod:`gdlab.optim.space`), each trained with the tuning seed. Trials never
   evaluate the test set.
2. **Selection.** The trial with the best final ``select`` metric on the
   validation split (carved from the training set by ``split_seed``, the same for
   every optimizer and seed) is selected; a diverged trial scores worst.
3. **Reruns.** The selected hyperparameters are trained again with ``seeds`` new
   seeds; only these runs evaluate the test set, and only their numbers are
   reported as "test", with 95% t-intervals.

``budget=0`` skips the search: each optimizer reruns its suggested learning rate
and defaults, a one-shot baseline. Trials and reruns are sweep runs
(:mod:`gdlab.lab.sweep`): one SQLite store, resumable after a kill, local
processes or Ray. The same inputs give the same ``results.json``, timings aside.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gdlab import _checks, _display, optim, outputs
from gdlab.data import Dataset
from gdlab.experiment import RunSpec, load_data
from gdlab.history import EPOCH_FIELDS
from gdlab.lab import sweep, tuning
from gdlab.optim import space

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMAT = "gdlab-compare"
"""The ``format`` of a comparison's ``results.json``."""
VERSION = 2
"""The layout version of ``results.json``."""
SELECT = ("val_acc", "val_loss")
"""The validation measures a trial can be selected by."""
DEFAULT_TARGETS: dict[str, float] = {
    "digits": 0.95,
    "mnist": 0.97,
    "fashion-mnist": 0.85,
}
"""Validation accuracy targets for time-to-result, per dataset (AlgoPerf-style)."""
MAX_BUDGET = 1000
"""The most trials per optimizer: each trains a whole run."""
MAX_SEEDS = 100
"""The most reruns of the selected settings."""
METRICS = ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")
"""The final measures of each run."""
ENGINE_AXES = ("optimizer", "lr", "hyper", "seed", "evaluate_test")
"""The RunSpec fields a comparison varies over its base spec."""


def all_optimizers() -> list[str]:
    """Every registered optimizer and preset, in registry order."""
    return optim.names(presets=True)


@dataclass(frozen=True)
class Protocol:
    """How optimizers are compared: see the module docstring."""

    budget: int = 8
    """Trials of quasi-random search per optimizer; 0: suggested settings only."""
    seeds: int = 3
    """Reruns of the selected hyperparameters (seeds tuning seed + 1 ...)."""
    tune: tuple[str, ...] = ("lr",)
    """Search-space axes to tune; ``"all"`` is every axis but weight_decay."""
    select: str = "val_acc"
    """The validation metric that selects a trial: ``val_acc`` or ``val_loss``."""
    search_seed: int = 0
    """The seed of the Sobol sequence (the same points for every optimizer)."""
    target: float | None = None
    """The ``select`` value that time-to-result waits for (None: the data's
    default in :data:`DEFAULT_TARGETS`, or none)."""

    def checked(self) -> Protocol:
        owner = "compare"
        for name, value, low, high in (
            ("budget", self.budget, 0, MAX_BUDGET),
            ("seeds", self.seeds, 1, MAX_SEEDS),
        ):
            if _checks.integer(owner, name, value, low=low) > high:
                _checks.fail(owner, name, f"an integer <= {high}", value)
        _checks.integer(owner, "search_seed", self.search_seed, low=0)
        _checks.choice(owner, "select", self.select, SELECT)
        if isinstance(self.tune, str) or not self.tune:
            _checks.fail(owner, "tune", "a non-empty list of axes", self.tune)
        if self.target is not None:
            if self.select == "val_acc":
                _checks.number(
                    owner, "target", self.target, low=0.0, high=1.0, low_open=True
                )
            else:
                _checks.number(owner, "target", self.target, low=0.0, low_open=True)
        return self


def axes_for(name: str, tune: Sequence[str]) -> list[str]:
    """The axes of ``name``'s search space that ``tune`` asks for."""
    known = optim.search_space(name)
    wanted = [a for a in tune if a != "all"]
    if "all" in tune:
        wanted = [a for a in known if a != "weight_decay"] + wanted
    if "lr" not in wanted:
        wanted.insert(0, "lr")
    return tuning.check_axes(name, wanted)


def _trial_spec(
    base: RunSpec, name: str, hyper: Mapping[str, Any], seed: int
) -> RunSpec:
    values = dict(hyper)
    lr = float(values.pop("lr"))
    _, preset = optim.resolve(name)
    extra = {k: v for k, v in values.items() if preset.get(k) != v}
    return sweep.normalized(
        base.replace(optimizer=name, lr=lr, hyper={**base.hyper, **extra}, seed=seed)
    )


def trials(
    base: RunSpec, optimizers: Sequence[str], protocol: Protocol
) -> dict[str, list[dict[str, Any]]]:
    """Each optimizer's trial hyperparameters (``lr`` included), in trial order."""
    out = {}
    for name in optimizers:
        axes = axes_for(name, protocol.tune)
        if protocol.budget:
            points = tuning.sobol_points(
                protocol.budget, len(axes), protocol.search_seed
            )
            out[name] = [tuning.trial(name, axes, u) for u in points]
        else:
            out[name] = []
    return out


def _score(run: sweep.StoredRun, select: str) -> float:
    """The trial's final validation metric; the worst value there is if it diverged."""
    value = run.metrics.get(f"final_{select}")
    if run.metrics["diverged"] or value is None or not math.isfinite(value):
        return 0.0 if select == "val_acc" else math.inf
    return float(value)


def _final(run: sweep.StoredRun) -> dict[str, float | None]:
    return {
        m: None if run.metrics["diverged"] else run.metrics.get(f"final_{m}")
        for m in METRICS
    }


@dataclass
class Comparison:
    """What :func:`compare` found: plain data, written as ``results.json``."""

    results: dict[str, Any]

    @property
    def optimizers(self) -> list[str]:
        return list(self.results["optimizers"])

    def summary(self) -> list[dict[str, Any]]:
        """One row per optimizer: selected hyperparameters and the reruns' numbers."""
        rows = []
        for name, o in self.results["optimizers"].items():
            s = o["summary"]
            row: dict[str, Any] = {
                "optimizer": name,
                **{f"selected_{k}": v for k, v in o["selected"]["hyper"].items()},
            }
            for m in METRICS:
                stats = s.get(m) or {}
                row[m] = stats.get("mean")
                row[f"{m}_ci95"] = stats.get("ci95")
            row["diverged"] = s["diverged"]
            row["reruns"] = len(o["reruns"])
            row["steps_to_target"] = s["to_target"]["median_step"]
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return self.results

    def to_frame(self) -> Any:
        """:meth:`summary` as a pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        return _display.frame("Comparison.to_frame", self.summary())

    def plot(self, ax: Axes | None = None, metric: str = "test_acc") -> Figure:
        """Each optimizer's reruns on the test set: ``metric`` per seed and the mean
        with its 95% interval, drawn into ``ax`` (a new Figure when None)."""
        from gdlab.report.compare import plot_test_metrics

        if metric not in METRICS:
            _checks.fail("Comparison.plot", "metric", f"one of {METRICS}", metric)
        return plot_test_metrics(self.results, metric, ax=ax)

    def _repr_html_(self) -> str:
        from gdlab.report.plots import figure_html

        summary = self.summary()
        rows = [
            {
                **{k: v for k, v in r.items() if k.startswith(("optimizer", "sel"))},
                **{
                    f"{m} (± 95% CI)": _display.pm(r[m], r[f"{m}_ci95"])
                    for m in ("val_acc", "test_acc", "test_loss")
                },
                "diverged": r["diverged"],
            }
            for r in summary
        ]
        protocol = self.results["protocol"]
        caption = (
            f"Comparison on {self.results['spec'].get('data', '?')}: "
            f"{protocol['budget']} trials per optimizer, "
            f"{len(protocol['seeds'])} reruns on the test set"
        )
        accuracy = any(r["test_acc"] is not None for r in summary)
        fig = self.plot(metric="test_acc" if accuracy else "test_loss")
        figure = figure_html(fig, "test results of the reruns")
        return _display.table(caption, rows, extra=figure)

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``results.json`` (atomically)."""
        return outputs.write_text(
            Path(folder) / "results.json",
            json.dumps(self.results, indent=1, allow_nan=False),
        )

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Comparison:
        """Read the ``results.json`` in ``folder``; a ValueError names what is wrong."""
        path = Path(folder) / "results.json"
        try:
            values = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(
                f"cannot read comparison results {path}: {error}"
            ) from None
        try:
            _check(values, RESULTS, "the results")
        except ValueError as error:
            raise ValueError(
                f"cannot read comparison results {path}: {error}"
            ) from None
        return cls(values)


_NUMBER = (int, float, type(None))
_STATS = (dict, type(None))
_FINAL = {m: _NUMBER for m in METRICS}
RESULTS: Any = {
    "format": FORMAT,
    "version": VERSION,
    "spec": {"data": str, "model": str, "batch_size": (int, str)},
    "protocol": {
        "budget": int,
        "tune": [str],
        "select": SELECT,
        "search_seed": int,
        "tuning_seed": int,
        "seeds": [int],
        "target": _NUMBER,
    },
    "optimizers": (
        "each",
        {
            "axes": dict,
            "trials": [{"hyper": {"lr": _NUMBER}, "diverged": bool, **_FINAL}],
            "selected": {"trial": (int, type(None)), "hyper": {"lr": _NUMBER}},
            "tunability": [_NUMBER],
            "reruns": [
                {
                    "seed": int,
                    "diverged": bool,
                    "final": _FINAL,
                    "to_target": (dict, type(None)),
                    "seconds": _NUMBER,
                    "history": {
                        "steps": {"step": [_NUMBER], "loss": [_NUMBER]},
                        "epochs": [{k: _NUMBER for k in EPOCH_FIELDS}],
                    },
                }
            ],
            "summary": {
                **{m: _STATS for m in METRICS},
                "diverged": int,
                "to_target": {"runs": int, "reached": int, "median_step": _NUMBER},
                "seconds": _NUMBER,
            },
        },
    ),
    "notes": [str],
}
"""The shape of ``results.json``, as far as the report reads it."""


def _check(value: Any, shape: Any, where: str) -> None:
    """Check ``value`` against ``shape``: a type or tuple of types; a constant, or a
    tuple of allowed strings; ``{key: shape}`` (keys required); ``[shape]`` (a
    list of them); ``("each", shape)`` (an object of them)."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ValueError(
                f"{where} must be a JSON object, got {type(value).__name__}"
            )
        for key, inner in shape.items():
            if key not in value:
                raise ValueError(f"{where} lacks {key!r}")
            _check(value[key], inner, f"{where}[{key!r}]")
    elif isinstance(shape, list):
        if not isinstance(value, list):
            raise ValueError(f"{where} must be a list, got {type(value).__name__}")
        for k, item in enumerate(value):
            _check(item, shape[0], f"{where}[{k}]")
    elif isinstance(shape, tuple) and shape and shape[0] == "each":
        _check(value, dict, where)
        for key, item in value.items():
            _check(item, shape[1], f"{where}[{key!r}]")
    elif isinstance(shape, type | tuple) and all(
        isinstance(t, type) for t in (shape if isinstance(shape, tuple) else (shape,))
    ):
        if not isinstance(value, shape) or (
            isinstance(value, bool)
            and bool not in (shape if isinstance(shape, tuple) else (shape,))
        ):
            names = shape if isinstance(shape, tuple) else (shape,)
            need = " or ".join("null" if t is type(None) else t.__name__ for t in names)
            raise ValueError(f"{where} must be {need}, got {type(value).__name__}")
    elif isinstance(shape, tuple):  # allowed strings
        if value not in shape:
            raise ValueError(
                f"{where} must be one of {', '.join(shape)}, got {value!r}"
            )
    elif value != shape:
        raise ValueError(
            f"{where} must be {shape!r}, got {value!r}"
            + ("; run gdlab compare again to make one" if where.endswith("]") else "")
        )


class _Plan(NamedTuple):
    """A comparison checked and laid out, before anything trains."""

    protocol: Protocol
    names: list[str]
    chosen: dict[str, list[dict[str, Any]]]
    trial_specs: dict[str, list[RunSpec]]
    rerun_seeds: list[int]
    datasets: dict[tuple[Any, ...], Dataset]


def check(
    base: RunSpec,
    optimizers: Sequence[str] | None = None,
    protocol: Protocol | None = None,
    *,
    store: str | os.PathLike[str],
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> None:
    """What :func:`compare` checks before anything trains, as a step of its own (a
    command checks what its user typed with it, then runs): the names, axes and
    protocol, every run built once, the data, and a store of the same comparison."""
    _plan(base, optimizers, protocol, store, workers, backend, progress)


def _plan(
    base: RunSpec,
    optimizers: Sequence[str] | None,
    protocol: Protocol | None,
    store: str | os.PathLike[str],
    workers: int | None,
    backend: str,
    progress: bool,
) -> _Plan:
    protocol = (protocol or Protocol()).checked()
    names = _names(optimizers)
    for name in names:
        axes_for(name, protocol.tune)
    tuning_seed = base.train.seed
    rerun_seeds = [tuning_seed + 1 + k for k in range(protocol.seeds)]
    chosen = trials(base, names, protocol)
    trial_specs = {
        n: [
            _trial_spec(base, n, h, tuning_seed).replace(evaluate_test=False)
            for h in hs
        ]
        for n, hs in chosen.items()
    }
    everything = [s for specs in trial_specs.values() for s in specs]
    defaults = [
        _trial_spec(base, n, tuning.trial(n, [], []), rerun_seeds[0]) for n in names
    ]
    dataset = load_data(base)  # its errors name the data, not a run
    datasets = sweep.validate(
        [*everything, *defaults], loaded={sweep.source(base): dataset}
    )
    if protocol.budget and dataset.X_val is None:
        raise ValueError(
            f"compare: {base.data} has no validation split to select trials on; "
            "use budget 0 or another dataset"
        )
    if protocol.select == "val_acc" and not dataset.classes:
        raise ValueError(
            f"compare: select val_acc needs classification data; {base.data} is "
            "regression: select val_loss"
        )
    sweep.check_specs(
        base,
        everything,
        store,
        axes=ENGINE_AXES,
        workers=workers,
        backend=backend,
        progress=progress,
        datasets=datasets,
    )
    return _Plan(protocol, names, chosen, trial_specs, rerun_seeds, datasets)


def compare(
    base: RunSpec,
    optimizers: Sequence[str] | None = None,
    protocol: Protocol | None = None,
    *,
    store: str | os.PathLike[str],
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
) -> Comparison:
    """Compare ``optimizers`` (default: all) on ``base`` under ``protocol``; trials
    and reruns are stored in the SQLite file ``store`` (resumed if it holds some).

    Raises:
        ValueError: a bad name, axis, protocol or spec (before anything trains).
        sweep.SweepError: runs failed; finished runs are stored.
    """
    protocol, names, chosen, trial_specs, rerun_seeds, datasets = _plan(
        base, optimizers, protocol, store, workers, backend, progress
    )
    tuning_seed = base.train.seed
    everything = [s for specs in trial_specs.values() for s in specs]
    target = protocol.target
    if target is None and protocol.select == "val_acc":
        target = DEFAULT_TARGETS.get(base.data)
    tuned = any(a != "lr" for n in names for a in axes_for(n, protocol.tune))
    engine: dict[str, Any] = {
        "axes": ENGINE_AXES,
        "shown": ["optimizer", "lr", *(["hyper"] if tuned else []), "seed"],
        "workers": workers,
        "backend": backend,
        "progress": progress,
        "datasets": datasets,
    }
    if progress and everything:
        print(f"trials: {protocol.budget} per optimizer, test set unread", flush=True)
    stored, _, errors = (
        sweep.run_specs(base, everything, store, **engine)
        if everything
        else ([], 0, [])
    )
    sweep.raise_for(errors, stored, len(everything), Path(store))
    by_key = {r.key: r for r in stored}
    results: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "spec": sweep.plain(base.to_dict()),
        "protocol": {
            "budget": protocol.budget,
            "tune": list(protocol.tune),
            "select": protocol.select,
            "search_seed": protocol.search_seed,
            "tuning_seed": tuning_seed,
            "seeds": rerun_seeds,
            "target": target,
        },
        "optimizers": {},
        "notes": [],
    }
    selected: dict[str, dict[str, Any]] = {}
    for name in names:
        runs = [by_key[sweep.spec_key(s)] for s in trial_specs[name]]
        scores = [_score(r, protocol.select) for r in runs]
        higher = protocol.select == "val_acc"
        if runs:
            best = (
                max(range(len(runs)), key=lambda k: scores[k])
                if higher
                else min(range(len(runs)), key=lambda k: scores[k])
            )
            hyper = chosen[name][best]
        else:
            best, hyper = None, tuning.trial(name, [], [])
        selected[name] = hyper
        results["optimizers"][name] = {
            "axes": {
                a: optim.search_space(name)[a].describe()
                for a in axes_for(name, protocol.tune)
            },
            "trials": [
                {
                    "hyper": sweep.plain(h),
                    **_final(r),
                    "diverged": r.metrics["diverged"],
                    "message": r.message,
                }
                for h, r in zip(chosen[name], runs, strict=True)
            ],
            "selected": {"trial": best, "hyper": sweep.plain(hyper)},
            "tunability": _tunability(scores, higher),
        }
        results["notes"] += _edge_notes(
            name, chosen[name], best, axes_for(name, protocol.tune)
        )
    rerun_specs = {
        n: [
            _trial_spec(base, n, selected[n], seed).replace(evaluate_test=True)
            for seed in rerun_seeds
        ]
        for n in names
    }
    if progress:
        print(f"reruns: seeds {rerun_seeds} of the selected settings", flush=True)
    final_specs = [s for v in rerun_specs.values() for s in v]
    reruns, _, errors = sweep.run_specs(base, final_specs, store, **engine)
    sweep.raise_for(errors, reruns, len(final_specs), Path(store))
    by_key = {r.key: r for r in reruns}
    for name in names:
        runs = [by_key[sweep.spec_key(s)] for s in rerun_specs[name]]
        entry = results["optimizers"][name]
        entry["reruns"] = [_rerun(r, protocol.select, target) for r in runs]
        entry["summary"] = _summary(entry["reruns"])
        diverged = entry["summary"]["diverged"]
        if diverged:
            results["notes"].append(
                f"{name}: {diverged} of {len(runs)} reruns diverged; its test numbers "
                "are over the others only"
            )
    if protocol.budget == 0:
        results["notes"].append(
            "budget 0: suggested settings, no search — a one-shot baseline that "
            "says as much about those settings as about the optimizers"
        )
    return Comparison(results)


def _names(optimizers: Sequence[str] | None) -> list[str]:
    if optimizers is None:
        return all_optimizers()
    if isinstance(optimizers, str) or not optimizers:
        _checks.fail("compare", "optimizers", "at least one name", optimizers)
    for name in optimizers:
        optim.resolve(name)
    names = [name.lower() for name in optimizers]
    if len(set(names)) != len(names):
        _checks.fail("compare", "optimizers", "distinct names", list(optimizers))
    return names


def _tunability(scores: Sequence[float], higher: bool) -> list[float | None]:
    if not scores:
        return []
    curve = tuning.expected_best(scores, higher_is_better=higher)
    return [v if math.isfinite(v) else None for v in curve]


def _edge_notes(
    name: str,
    chosen: Sequence[Mapping[str, Any]],
    best: int | None,
    axes: Sequence[str],
) -> list[str]:
    """Say when the selected trial has the smallest or largest value of an axis
    that was tried: the optimum may lie outside the search space."""
    if best is None or len(chosen) < 4:
        return []
    notes = []
    for axis in axes:
        values = [float(space.current(dict(h), axis)) for h in chosen]
        mine = values[best]
        if mine in (min(values), max(values)):
            edge = "smallest" if mine == min(values) else "largest"
            notes.append(
                f"{name}: the selected trial has the {edge} {axis} tried "
                f"({mine:.3g}); the best setting may lie outside its search space"
            )
    return notes


def _rerun(run: sweep.StoredRun, select: str, target: float | None) -> dict[str, Any]:
    history = run.history
    reached = None
    if target is not None:
        reached = tuning.time_to_target(
            history.epochs, select, target, higher_is_better=select == "val_acc"
        )
    return {
        "seed": run.spec.train.seed,
        "diverged": run.metrics["diverged"],
        "message": run.message,
        "final": _final(run),
        "to_target": reached,
        "seconds": run.metrics["seconds"],
        "history": history.to_dict(),
    }


def _summary(reruns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    kept = [r for r in reruns if not r["diverged"]]
    out: dict[str, Any] = {
        m: tuning.interval95([r["final"][m] for r in kept if r["final"][m] is not None])
        for m in METRICS
    }
    out["diverged"] = len(reruns) - len(kept)
    steps = [r["to_target"]["step"] if r["to_target"] else math.inf for r in reruns]
    seconds = [
        r["to_target"]["seconds"] if r["to_target"] else math.inf for r in reruns
    ]
    median_step, median_seconds = statistics.median(steps), statistics.median(seconds)
    out["to_target"] = {
        "runs": len(reruns),
        "reached": sum(r["to_target"] is not None for r in reruns),
        "median_step": median_step if math.isfinite(median_step) else None,
        "median_seconds": median_seconds if math.isfinite(median_seconds) else None,
    }
    out["seconds"] = statistics.fmean(r["seconds"] for r in reruns)
    return out


def _shown(value: Any) -> str:
    """A selected value in the table: ``0.00123``, ``(0.9, 0.999)`` for a pair."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):  # betas: a pair (a list, read from JSON)
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return str(value)


def format_table(comparison: Comparison) -> str:
    """The comparison as an aligned text table: the selected hyperparameters and
    the reruns' test numbers (mean ± 95% interval)."""

    def interval(stats: Mapping[str, Any] | None, digits: int) -> str:
        if not stats or stats.get("mean") is None:
            return "—"
        text = f"{stats['mean']:.{digits}f}"
        ci = stats["ci95"]
        return text + ("" if ci is None else f" ± {ci:.{digits}f}")

    results = comparison.results
    target = results["protocol"]["target"]
    header = ["optimizer", "selected", "test acc", "test loss", "val acc"]
    header += ["steps to target"] if target is not None else []
    header += ["diverged"]
    lines = []
    for name, o in results["optimizers"].items():
        s = o["summary"]
        hyper = o["selected"]["hyper"]
        shown = ", ".join(f"{k}={_shown(v)}" for k, v in hyper.items())
        line = [
            name,
            shown,
            interval(s["test_acc"], 3),
            interval(s["test_loss"], 4),
            interval(s["val_acc"], 3),
        ]
        if target is not None:
            t = s["to_target"]
            line.append(
                f"{t['median_step']:g} ({t['reached']}/{t['runs']})"
                if t["median_step"] is not None
                else f"not reached ({t['reached']}/{t['runs']})"
            )
        line.append(f"{s['diverged']}/{len(o['reruns'])}")
        lines.append(line)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    return "\n".join(out + [f"note: {n}" for n in results["notes"]])
