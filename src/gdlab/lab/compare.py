"""Compare optimizers fairly: an equal tuning budget, choices on validation data,
the test set touched once, the whole procedure repeated, claims made by a test.

The protocol of the optimizer-benchmarking literature (Choi et al. 2019;
Sivaprasad et al. 2020; Schmidt et al. 2021; Dahl et al. 2023), at laptop scale,
repeated over ``studies`` independent *studies* (PROTOCOL.md):

1. **Trials.** In study i every optimizer gets the same ``budget`` of trials: the
   first N points of a scrambled Sobol sequence with the study's own search seed,
   mapped onto that optimizer's own search space (``tune`` picks the axes; see
   :mod:`gdlab.optim.space`), each trained with the study's tuning seed. Trials
   never evaluate the test set.
2. **Selection.** The trial with the best final ``select`` metric on the
   validation split (carved from the training set by ``split_seed``, the same for
   every optimizer and study) is selected; a diverged trial scores worst; a tie
   in validation accuracy is broken by validation loss, not by trial order.
3. **Reruns.** The selected hyperparameters are trained again with the study's
   ``seeds`` rerun seeds — the same seeds for every optimizer, so study by study
   the optimizers are compared on matched seeds; only these runs evaluate the
   test set.
4. **Claims.** Each optimizer's score in a study is the mean test score of its
   reruns; every pair gets a paired t-test over the studies, Holm-adjusted
   (:mod:`gdlab.lab.claims`). The ranking is what those claims establish.

A study's seeds come from ``numpy.random.SeedSequence((search_seed, seed, i))``
(``search_seed`` is the comparison's master seed, ``seed`` the base spec's), so
studies are independent and a comparison is reproducible from its inputs.
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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from gdlab import _checks, _display, optim, outputs
from gdlab.data import Dataset
from gdlab.experiment import RunSpec
from gdlab.history import EPOCH_FIELDS
from gdlab.lab import claims, sweep, tuning
from gdlab.optim import space

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMAT = "gdlab-compare"
"""The ``format`` of a comparison's ``results.json``."""
VERSION = 3
"""results.json's version: 3 holds studies and pairwise claims."""
SELECT = ("val_acc", "val_loss")
"""The validation measures a trial can be selected by."""
DEFAULT_TARGETS: dict[str, float] = {
    "digits": 0.95,
    "mnist": 0.97,
    "fashion-mnist": 0.85,
}
"""Validation accuracy targets for time-to-result, per dataset (AlgoPerf-style)."""
MAX_BUDGET = 1000
"""The most trials per optimizer and study: each trains a whole run."""
MAX_SEEDS = 100
"""The most reruns of the selected settings per study."""
MAX_STUDIES = 100
"""The most studies (whole repetitions of the procedure)."""
METRICS = ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc")
"""The final measures of each run."""
ENGINE_AXES = ("optimizer", "lr", "hyper", "seed", "evaluate_test")
"""The RunSpec fields a comparison varies over its base spec."""
SEED_LIMIT = 2**31
"""Study seeds are drawn below this bound."""


COURSE_OPTIMIZERS = (
    "sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam", "radam",
    "adamax", "adamp", "momentum", "nesterov",
)  # fmt: skip
"""What a comparison compares when not told: the course's optimizers and its
further reading (SGD, its momentum presets, Adagrad to AdamP); ``"all"`` is every
registered one (L-BFGS, Muon, Shampoo ... too, at twice the time)."""


def all_optimizers() -> list[str]:
    """Every registered optimizer and preset, in registry order."""
    return optim.names(presets=True)


def default_optimizers() -> list[str]:
    """:data:`COURSE_OPTIMIZERS`, in registry order."""
    return [n for n in all_optimizers() if n in COURSE_OPTIMIZERS]


@dataclass(frozen=True)
class Protocol:
    """How optimizers are compared: see the module docstring."""

    budget: int = 4
    """Trials of quasi-random search per optimizer and study; 0: suggested
    settings only."""
    seeds: int = 2
    """Reruns of the selected hyperparameters per study."""
    tune: tuple[str, ...] = ("lr",)
    """Search-space axes to tune; ``"all"`` is every axis but weight_decay."""
    select: str = "val_acc"
    """The validation metric that selects a trial: ``val_acc`` or ``val_loss``."""
    search_seed: int = 0
    """The master seed: every study's search, tuning and rerun seeds derive from
    it (and from the base spec's seed)."""
    target: float | None = None
    """The ``select`` value that time-to-result waits for (None: the data's
    default in :data:`DEFAULT_TARGETS`, or none)."""
    studies: int = 5
    """Independent repetitions of the whole procedure (the unit of replication)."""

    def checked(self) -> Protocol:
        owner = "compare"
        for name, value, low, high in (
            ("budget", self.budget, 0, MAX_BUDGET),
            ("seeds", self.seeds, 1, MAX_SEEDS),
            ("studies", self.studies, 1, MAX_STUDIES),
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

    @property
    def metric(self) -> str:
        """The test metric the claims compare: ``test_acc`` or ``test_loss``."""
        return "test_acc" if self.select == "val_acc" else "test_loss"


@dataclass(frozen=True)
class Study:
    """The seeds of one study: its Sobol scramble, its trials' training seed and
    its reruns' seeds (the same for every optimizer: matched pairs)."""

    index: int
    search_seed: int
    tuning_seed: int
    rerun_seeds: tuple[int, ...]

    def __post_init__(self) -> None:
        _checks.integer("Study", "index", self.index, low=0)
        for name in ("search_seed", "tuning_seed"):
            _checks.integer("Study", name, getattr(self, name), low=0)
        if not isinstance(self.rerun_seeds, tuple) or not self.rerun_seeds:
            _checks.fail("Study", "rerun_seeds", "a non-empty tuple", self.rerun_seeds)
        for seed in self.rerun_seeds:
            _checks.integer("Study", "rerun_seeds[]", seed, low=0)

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in fields(self)
        }

    @classmethod
    def from_dict(cls, values: object) -> Study:
        if not isinstance(values, dict) or sorted(values) != sorted(
            f.name for f in fields(cls)
        ):
            _checks.fail("Study", "value", "an object of its fields", values)
        seeds = values["rerun_seeds"]
        if not isinstance(seeds, list):
            _checks.fail("Study", "rerun_seeds", "a list", seeds)
        return cls(
            values["index"],
            values["search_seed"],
            values["tuning_seed"],
            tuple(seeds),
        )

    @classmethod
    def derive(cls, master: int, seed: int, index: int, reruns: int) -> Study:
        """Study ``index``'s seeds from ``SeedSequence((master, seed, index))``."""
        state = np.random.SeedSequence((master, seed, index)).generate_state(
            2 + reruns, dtype=np.uint64
        )
        drawn = [int(x % SEED_LIMIT) for x in state]
        return cls(index, drawn[0], drawn[1], tuple(drawn[2:]))


def studies(protocol: Protocol, seed: int) -> list[Study]:
    """The studies of ``protocol`` for a base spec seeded ``seed``."""
    return [
        Study.derive(protocol.search_seed, seed, i, protocol.seeds)
        for i in range(protocol.studies)
    ]


def axes_for(name: str, tune: Sequence[str]) -> list[str]:
    """The axes of ``name``'s search space that ``tune`` asks for.

    ``"all"`` is every axis of its space but weight_decay, momentum aside for a
    plain optimizer whose momentum is off by default (``sgd``: momentum belongs
    to the ``momentum`` and ``nesterov`` presets). An axis named in ``tune`` that
    ``name`` lacks is skipped here; :func:`missing_axes` says which."""
    known = optim.search_space(name)
    wanted = [a for a in tune if a != "all" and a in known]
    if "all" in tune:
        wanted = [a for a in known if a != "weight_decay" and _in_all(name, a)]
        wanted += [a for a in tune if a != "all" and a in known]
    if "lr" not in wanted:
        wanted.insert(0, "lr")
    return tuning.check_axes(name, wanted)


def _in_all(name: str, axis: str) -> bool:
    """Whether ``--tune all`` tunes ``axis`` of ``name``: not the momentum of an
    optimizer that has none by default (plain SGD stays plain)."""
    if axis != "momentum":
        return True
    base, preset = optim.resolve(name)
    return bool({**optim.get(base).defaults, **preset}.get("momentum"))


def missing_axes(names: Sequence[str], tune: Sequence[str]) -> dict[str, list[str]]:
    """For each axis named in ``tune`` (not ``all``), the optimizers that lack it;
    an axis no optimizer has is a ValueError."""
    out: dict[str, list[str]] = {}
    for axis in dict.fromkeys(a for a in tune if a != "all"):
        lacking = [n for n in names if axis not in optim.search_space(n)]
        if len(lacking) == len(names):
            raise ValueError(
                f"tune: no optimizer compared has an axis {axis!r}; "
                + "; ".join(
                    f"{n} has {', '.join(optim.search_space(n))}" for n in names
                )
            )
        if lacking:
            out[axis] = lacking
    return out


def _trial_spec(
    base: RunSpec, name: str, hyper: Mapping[str, Any], seed: int
) -> RunSpec:
    values = dict(hyper)
    lr = float(values.pop("lr"))
    kind, preset = optim.resolve(name)
    takes = optim.get(kind).defaults  # base.hyper: fixed where the optimizer has it
    fixed = {k: v for k, v in base.hyper.items() if k in takes}
    extra = {k: v for k, v in values.items() if preset.get(k) != v}
    return sweep.normalized(
        base.replace(optimizer=name, lr=lr, hyper={**fixed, **extra}, seed=seed)
    )


def trials(
    optimizers: Sequence[str], protocol: Protocol, search_seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Each optimizer's trial hyperparameters (``lr`` included), in trial order,
    for the Sobol sequence scrambled by ``search_seed``."""
    out = {}
    for name in optimizers:
        axes = axes_for(name, protocol.tune)
        if protocol.budget:
            points = tuning.sobol_points(protocol.budget, len(axes), search_seed)
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


def _rank_key(run: sweep.StoredRun, select: str) -> tuple[float, float]:
    """Larger is better: the score, then (ties) the other validation metric —
    validation loss breaks ties in accuracy, not the trial order."""
    score = _score(run, select)
    other = _score(run, "val_loss" if select == "val_acc" else "val_acc")
    if select == "val_acc":
        return score, -other
    return -score, other


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

    @property
    def pairs(self) -> list[claims.Claim]:
        """The claim made about every pair of optimizers."""
        return [claims.Claim.from_dict(p) for p in self.results["pairs"]]

    def summary(self) -> list[dict[str, Any]]:
        """One row per optimizer (in the order of the table): its group, selected
        hyperparameters (per study) and the reruns' numbers."""
        from gdlab.report.compare import ranked

        rows = []
        for name in ranked(self.results):
            o = self.results["optimizers"][name]
            s = o["summary"]
            row: dict[str, Any] = {
                "optimizer": name,
                "group": s["group"],
                "selected_lr": [st["selected"]["hyper"]["lr"] for st in o["studies"]],
            }
            for m in METRICS:
                stats = s[m]
                row[m] = stats["median"]
                row[f"{m}_iqr"] = (stats["q1"], stats["q3"])
                row[f"{m}_study_mean"] = stats["mean"]
                row[f"{m}_study_ci95"] = stats["ci95"]
            row["diverged"] = s["diverged"]
            row["reruns"] = s["runs"]
            row["steps_to_target"] = s["to_target"]["median_step"]
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return self.results

    def to_frame(self) -> Any:
        """:meth:`summary` as a pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        return _display.frame("Comparison.to_frame", self.summary())

    def plot(self, ax: Axes | None = None, metric: str = "test_acc") -> Figure:
        """Each optimizer's reruns on the test set: ``metric`` per rerun of every
        study, the median and the study-level 95% interval, drawn into ``ax``."""
        from gdlab.report.compare import plot_test_metrics

        if metric not in METRICS:
            _checks.fail("Comparison.plot", "metric", f"one of {METRICS}", metric)
        return plot_test_metrics(self.results, metric, ax=ax)

    def _repr_html_(self) -> str:
        from gdlab.report.plots import figure_html

        rows = [
            {
                "optimizer": r["optimizer"],
                "group": r["group"],
                **{
                    f"{m} (study mean ± 95% CI)": _display.pm(
                        r[f"{m}_study_mean"], r[f"{m}_study_ci95"]
                    )
                    for m in ("val_acc", "test_acc", "test_loss")
                },
                "diverged": r["diverged"],
            }
            for r in self.summary()
        ]
        protocol = self.results["protocol"]
        caption = (
            f"Comparison on {self.results['spec'].get('data', '?')}: "
            f"{protocol['studies']} studies of {protocol['budget']} trials and "
            f"{protocol['seeds']} reruns per optimizer — {self.results['established']}"
        )
        accuracy = protocol["select"] == "val_acc"
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
            for study in values["studies"]:
                Study.from_dict(study)
            if len(values["studies"]) != values["protocol"]["studies"]:
                raise ValueError(
                    f"the results hold {len(values['studies'])} studies, not the "
                    f"protocol's {values['protocol']['studies']}"
                )
            for pair in values["pairs"]:
                claim = claims.Claim.from_dict(pair)
                for name in (claim.a, claim.b):
                    if name not in values["optimizers"]:
                        raise ValueError(
                            f"the results' pairs name {name!r}, not an optimizer"
                        )
            for name, o in values["optimizers"].items():
                if len(o["studies"]) != len(values["studies"]):
                    raise ValueError(
                        f"the results['optimizers'][{name!r}] has "
                        f"{len(o['studies'])} studies, not {len(values['studies'])}"
                    )
        except ValueError as error:
            raise ValueError(
                f"cannot read comparison results {path}: {error}"
            ) from None
        return cls(values)


_NUMBER = (int, float, type(None))
_FINAL = {m: _NUMBER for m in METRICS}
_STATS = {
    "n": int,
    "median": _NUMBER,
    "q1": _NUMBER,
    "q3": _NUMBER,
    "mean": _NUMBER,
    "ci95": _NUMBER,
    "studies": int,
}
_TARGET = (dict, type(None))
_RERUN = {
    "seed": int,
    "diverged": bool,
    "final": _FINAL,
    "to_target": _TARGET,
    "seconds": _NUMBER,
    "history": {
        "steps": {"step": [_NUMBER], "loss": [_NUMBER]},
        "epochs": [{k: _NUMBER for k in EPOCH_FIELDS}],
    },
}
RESULTS: Any = {
    "format": FORMAT,
    "version": VERSION,
    "spec": {"data": str, "model": str, "batch_size": (int, str)},
    "protocol": {
        "budget": int,
        "tune": [str],
        "select": SELECT,
        "search_seed": int,
        "seeds": int,
        "studies": int,
        "target": _NUMBER,
        "metric": ("test_acc", "test_loss"),
    },
    "studies": [dict],
    "optimizers": (
        "each",
        {
            "axes": dict,
            "studies": [
                {
                    "trials": [
                        {
                            "hyper": {"lr": _NUMBER},
                            "diverged": bool,
                            "to_target": _TARGET,
                            **_FINAL,
                        }
                    ],
                    "selected": {"trial": (int, type(None)), "hyper": {"lr": _NUMBER}},
                    "best_of_k": [_NUMBER],
                    "reruns": [_RERUN],
                }
            ],
            "tunability": {
                "median": [_NUMBER],
                "low": [_NUMBER],
                "high": [_NUMBER],
                "random_search": [_NUMBER],
            },
            "summary": {
                **{m: _STATS for m in METRICS},
                "per_study": [_NUMBER],
                "diverged": int,
                "runs": int,
                "to_target": {
                    "runs": int,
                    "reached": int,
                    "median_step": _NUMBER,
                    "median_seconds": _NUMBER,
                },
                "seconds": _NUMBER,
                "winners_curse": {"selected": _NUMBER, "reruns": _NUMBER},
                "edge": ("each", {"low": int, "high": int}),
                "group": str,
            },
        },
    ),
    "pairs": [dict],
    "established": str,
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
    studies: list[Study]
    chosen: list[dict[str, list[dict[str, Any]]]]
    trial_specs: list[dict[str, list[RunSpec]]]
    datasets: dict[tuple[Any, ...], Dataset]
    lacking: dict[str, list[str]]


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
    names = chosen_optimizers(optimizers)
    lacking = missing_axes(names, protocol.tune)
    tuned = {space.hyperparameter(a) for n in names for a in axes_for(n, protocol.tune)}
    if set(base.hyper) & tuned:
        raise ValueError(
            f"compare: hyper fixes {sorted(set(base.hyper) & tuned)}, which tune "
            "tunes: fix it or tune it"
        )
    for name in names:
        axes_for(name, protocol.tune)
    plan_studies = studies(protocol, base.train.seed)
    chosen = [trials(names, protocol, st.search_seed) for st in plan_studies]
    trial_specs = [
        {
            n: [
                _trial_spec(base, n, h, st.tuning_seed).replace(evaluate_test=False)
                for h in hs
            ]
            for n, hs in study_chosen.items()
        }
        for st, study_chosen in zip(plan_studies, chosen, strict=True)
    ]
    everything = [s for per in trial_specs for specs in per.values() for s in specs]
    defaults = [
        _trial_spec(base, n, tuning.trial(n, [], []), plan_studies[0].rerun_seeds[0])
        for n in names
    ]
    dataset = sweep.datacache.load(base)  # its errors name the data, not a run
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
    return _Plan(protocol, names, plan_studies, chosen, trial_specs, datasets, lacking)


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
    and reruns of every study are stored in the SQLite file ``store`` (resumed if
    it holds some).

    Raises:
        ValueError: a bad name, axis, protocol or spec (before anything trains).
        sweep.SweepError: runs failed; finished runs are stored.
    """
    plan = _plan(base, optimizers, protocol, store, workers, backend, progress)
    everything = [
        s for per in plan.trial_specs for specs in per.values() for s in specs
    ]
    # the reruns are about as many runs as the trials, of the same size
    count = sweep.default_workers(everything, plan.datasets, workers)
    if backend != "local" or count == 1:
        return _compare(base, plan, store, workers, backend, progress, None)
    # one set of workers, warm from the first trial to the last rerun
    with sweep.Workers(count) as pool:
        pool.start()
        return _compare(base, plan, store, count, backend, progress, pool)


def _compare(
    base: RunSpec,
    plan: _Plan,
    store: str | os.PathLike[str],
    workers: int | None,
    backend: str,
    progress: bool,
    pool: sweep.Workers | None,
) -> Comparison:
    protocol, names = plan.protocol, plan.names
    select = protocol.select
    everything = [
        s for per in plan.trial_specs for specs in per.values() for s in specs
    ]
    target = protocol.target
    if target is None and select == "val_acc":
        target = DEFAULT_TARGETS.get(base.data)
    tuned = any(a != "lr" for n in names for a in axes_for(n, protocol.tune))
    engine: dict[str, Any] = {
        "axes": ENGINE_AXES,
        "shown": ["optimizer", "lr", *(["hyper"] if tuned else []), "seed"],
        "workers": workers,
        "backend": backend,
        "progress": progress,
        "datasets": plan.datasets,
        "pool": pool,
    }
    if progress and everything:
        print(
            f"trials: {protocol.studies} studies x {protocol.budget} per optimizer, "
            "test set unread",
            flush=True,
        )
    stored, _, errors = (
        sweep.run_specs(base, everything, store, **engine)
        if everything
        else ([], 0, [])
    )
    unique = len(set(map(sweep.spec_key, everything)))
    sweep.raise_for(errors, stored, unique, Path(store))
    by_key = {r.key: r for r in stored}
    entries: dict[str, dict[str, Any]] = {
        name: {
            "axes": {
                a: tuning.describe_axis(name, a) for a in axes_for(name, protocol.tune)
            },
            "studies": [],
        }
        for name in names
    }
    selected: list[dict[str, dict[str, Any]]] = []
    higher = select == "val_acc"
    for chosen, specs in zip(plan.chosen, plan.trial_specs, strict=True):
        picks: dict[str, dict[str, Any]] = {}
        for name in names:
            runs = [by_key[sweep.spec_key(s)] for s in specs[name]]
            if runs:
                best: int | None = max(
                    range(len(runs)), key=lambda k: _rank_key(runs[k], select)
                )
                hyper = chosen[name][best]  # type: ignore[index]
            else:
                best, hyper = None, tuning.trial(name, [], [])
            picks[name] = hyper
            scores = [_score(r, select) for r in runs]
            entries[name]["studies"].append(
                {
                    "trials": [
                        {
                            "hyper": sweep.plain(h),
                            **_final(r),
                            "diverged": r.metrics["diverged"],
                            "message": r.message,
                            "to_target": _to_target(r, select, target),
                        }
                        for h, r in zip(chosen[name], runs, strict=True)
                    ],
                    "selected": {"trial": best, "hyper": sweep.plain(hyper)},
                    "best_of_k": _finite(
                        tuning.best_of_first(scores, higher_is_better=higher)
                    ),
                }
            )
        selected.append(picks)
    rerun_specs = [
        {
            n: [
                _trial_spec(base, n, picks[n], seed).replace(evaluate_test=True)
                for seed in st.rerun_seeds
            ]
            for n in names
        }
        for st, picks in zip(plan.studies, selected, strict=True)
    ]
    if progress:
        print(
            f"reruns: {protocol.seeds} per study of the selected settings, on "
            "matched seeds",
            flush=True,
        )
    final_specs = [s for per in rerun_specs for v in per.values() for s in v]
    reruns, _, errors = sweep.run_specs(base, final_specs, store, **engine)
    unique = len(set(map(sweep.spec_key, final_specs)))
    sweep.raise_for(errors, reruns, unique, Path(store))
    by_key = {r.key: r for r in reruns}
    notes: list[str] = []
    for axis, lacking in plan.lacking.items():
        notes.append(
            f"--tune {axis}: {', '.join(lacking)} "
            f"{'has' if len(lacking) == 1 else 'have'} no {axis} axis; "
            "tuned without it"
        )
    for name in names:
        entry = entries[name]
        for k, per in enumerate(rerun_specs):
            runs = [by_key[sweep.spec_key(s)] for s in per[name]]
            entry["studies"][k]["reruns"] = [_rerun(r, select, target) for r in runs]
        entry["tunability"] = _tunability(entry["studies"], select)
        entry["summary"] = _summary(
            entry["studies"], protocol, axes_for(name, protocol.tune)
        )
        s = entry["summary"]
        if s["diverged"]:
            notes.append(
                f"{name}: {s['diverged']} of {s['runs']} reruns diverged; its test "
                "numbers are over the others only (a study whose reruns all "
                "diverged scores worst in the claims)"
            )
        if s[protocol.metric]["ci95"] == 0.0:
            notes.append(
                f"{name}: its interval over studies has zero width — a sign of too "
                "few samples (discrete accuracies), not of certainty"
            )
        for axis, edge in s["edge"].items():
            for side, count in edge.items():
                if protocol.budget >= 4 and 2 * count > protocol.studies:
                    notes.append(
                        f"{name}: the selected {axis} sits at the "
                        f"{'lowest' if side == 'low' else 'highest'} value tried in "
                        f"{count} of {protocol.studies} studies; the best setting "
                        "may lie outside its search space"
                    )
    per_study = {n: entries[n]["summary"]["per_study"] for n in names}
    pairs = claims.pairwise(per_study, higher_is_better=higher)
    order = sorted(names, key=lambda n: _order_key(entries[n]["summary"], higher))
    groups = claims.letters(order, pairs)
    for name in names:
        entries[name]["summary"]["group"] = groups[name]
    if protocol.budget == 0:
        notes.append(
            "budget 0: suggested settings, no search — a one-shot baseline that "
            "says as much about those settings as about the optimizers"
        )
    results: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "spec": sweep.plain(base.to_dict()),
        "protocol": {
            "budget": protocol.budget,
            "tune": list(protocol.tune),
            "select": select,
            "search_seed": protocol.search_seed,
            "seeds": protocol.seeds,
            "studies": protocol.studies,
            "target": target,
            "metric": protocol.metric,
        },
        "studies": [st.to_dict() for st in plan.studies],
        "optimizers": entries,
        "pairs": [p.to_dict() for p in pairs],
        "established": claims.established(pairs, names, protocol.studies),
        "notes": notes,
    }
    return Comparison(results)


def _order_key(summary: Mapping[str, Any], higher: bool) -> tuple[float, ...]:
    """Best first by the study-level mean (only to name the groups' letters)."""
    values = [v for v in summary["per_study"] if v is not None]
    if not values:
        return (math.inf,)
    mean = statistics.fmean(values)
    return (-mean if higher else mean,)


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def chosen_optimizers(optimizers: Sequence[str] | None) -> list[str]:
    """The optimizers a comparison of ``optimizers`` compares: the names given
    (checked, each once), :func:`default_optimizers` for None, every one for
    ``["all"]``."""
    if optimizers is None:
        return default_optimizers()
    if list(optimizers) == ["all"]:
        return all_optimizers()
    if isinstance(optimizers, str) or not optimizers:
        _checks.fail("compare", "optimizers", "at least one name", optimizers)
    for name in optimizers:
        optim.resolve(name)
    names = [name.lower().replace("-", "_") for name in optimizers]
    if len(set(names)) != len(names):
        _checks.fail("compare", "optimizers", "distinct names", list(optimizers))
    return names


def _tunability(
    per_study: Sequence[Mapping[str, Any]], select: str
) -> dict[str, list[float | None]]:
    """The best of the first k trials: median, lowest and highest over studies
    (what the procedure does), and the median over studies of the expected best
    of k drawn without replacement (random search over these points)."""
    higher = select == "val_acc"
    worst = -math.inf if higher else math.inf
    curves = [
        [worst if v is None else float(v) for v in st["best_of_k"]] for st in per_study
    ]
    if not curves or not curves[0]:
        return {"median": [], "low": [], "high": [], "random_search": []}
    columns = list(zip(*curves, strict=True))
    expected = [
        tuning.expected_best(
            [_score_of(t, select) for t in st["trials"]], higher_is_better=higher
        )
        for st in per_study
    ]
    return {
        "median": _finite([float(np.median(c)) for c in columns]),
        "low": _finite([min(c) for c in columns]),
        "high": _finite([max(c) for c in columns]),
        "random_search": _finite(
            [float(np.median(c)) for c in zip(*expected, strict=True)]
        ),
    }


def _score_of(trial: Mapping[str, Any], select: str) -> float:
    value = trial.get(select)
    if trial["diverged"] or value is None or not math.isfinite(value):
        return 0.0 if select == "val_acc" else math.inf
    return float(value)


def _edges(
    per_study: Sequence[Mapping[str, Any]], axes: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Per axis, in how many studies the selected trial had the lowest or the
    highest value tried (the optimum may lie outside the search space)."""
    out = {a: {"low": 0, "high": 0} for a in axes}
    for st in per_study:
        best = st["selected"]["trial"]
        if best is None or len(st["trials"]) < 4:  # with fewer, always an end
            continue
        for axis in axes:
            values = [
                float(space.current(dict(t["hyper"]), axis)) for t in st["trials"]
            ]
            mine = values[best]
            if mine == min(values):
                out[axis]["low"] += 1
            elif mine == max(values):
                out[axis]["high"] += 1
    return out


def _to_target(
    run: sweep.StoredRun, select: str, target: float | None
) -> dict[str, float] | None:
    if target is None:
        return None
    return tuning.time_to_target(
        run.history.epochs, select, target, higher_is_better=select == "val_acc"
    )


def _rerun(run: sweep.StoredRun, select: str, target: float | None) -> dict[str, Any]:
    return {
        "seed": run.spec.train.seed,
        "diverged": run.metrics["diverged"],
        "message": run.message,
        "final": _final(run),
        "to_target": _to_target(run, select, target),
        "seconds": run.metrics["seconds"],
        "history": run.history.to_dict(),
    }


def _stats(values: Sequence[float], study_means: Sequence[float]) -> dict[str, Any]:
    """Median and quartiles over studies x reruns; mean and 95% t half-width over
    the per-study means (the study is the unit of replication)."""
    out: dict[str, Any] = {"n": len(values), "studies": len(study_means)}
    if values:
        q1, median, q3 = (float(x) for x in np.percentile(values, [25, 50, 75]))
        out |= {"median": median, "q1": q1, "q3": q3}
    else:
        out |= {"median": None, "q1": None, "q3": None}
    study = tuning.interval95(study_means)
    out |= {"mean": study["mean"], "ci95": study["ci95"]}
    return out


def _summary(
    per_study: Sequence[Mapping[str, Any]], protocol: Protocol, axes: Sequence[str]
) -> dict[str, Any]:
    reruns = [r for st in per_study for r in st["reruns"]]
    kept = [r for r in reruns if not r["diverged"]]
    out: dict[str, Any] = {}
    for m in METRICS:
        means = []
        for st in per_study:
            xs = [
                r["final"][m]
                for r in st["reruns"]
                if not r["diverged"] and r["final"][m] is not None
            ]
            if xs:
                means.append(statistics.fmean(xs))
        out[m] = _stats(
            [r["final"][m] for r in kept if r["final"][m] is not None], means
        )
    out["per_study"] = []
    for st in per_study:
        xs = [
            r["final"][protocol.metric]
            for r in st["reruns"]
            if not r["diverged"] and r["final"][protocol.metric] is not None
        ]
        out["per_study"].append(statistics.fmean(xs) if xs else None)
    out["diverged"] = len(reruns) - len(kept)
    out["runs"] = len(reruns)
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
    out["winners_curse"] = _winners_curse(per_study, protocol.select)
    out["edge"] = _edges(per_study, axes)
    out["group"] = ""
    return out


def _shown(value: Any) -> str:
    """A selected value in the table: ``0.00123``, ``(0.9, 0.999)`` for a pair."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):  # betas: a pair (a list, read from JSON)
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    return str(value)


def _typical(values: Sequence[Any]) -> Any:
    """The median of numbers over studies, element by element for pairs (betas);
    the most common value of anything else (a flag)."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return statistics.median(values)
    if all(isinstance(v, list | tuple) for v in values):
        return [_typical(list(column)) for column in zip(*values, strict=True)]
    return statistics.mode(values)


def _winners_curse(
    per_study: Sequence[Mapping[str, Any]], select: str
) -> dict[str, float | None]:
    """The selected trial's validation score and its reruns' mean validation
    score, each the median over studies: the gap is the winner's curse."""
    chosen, again = [], []
    for st in per_study:
        best = st["selected"]["trial"]
        if best is None:
            continue
        score = st["trials"][best].get(select)
        xs = [
            r["final"][select]
            for r in st["reruns"]
            if not r["diverged"] and r["final"][select] is not None
        ]
        if score is not None and xs:
            chosen.append(float(score))
            again.append(statistics.fmean(xs))
    return {
        "selected": statistics.median(chosen) if chosen else None,
        "reruns": statistics.median(again) if again else None,
    }


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_table(comparison: Comparison) -> str:
    """The comparison as an aligned text table, led by what it established: the
    claims' groups, the selected lr over studies, the test numbers (median [IQR]
    over studies x reruns) and where the selection sat at a range's edge."""
    from gdlab.report.compare import edge_text, ranked

    results = comparison.results
    protocol = results["protocol"]
    metric = protocol["metric"]
    digits = 3 if metric == "test_acc" else 4
    target = protocol["target"]
    label = "test acc" if metric == "test_acc" else "test loss"
    header = ["group", "optimizer", "selected lr (median, range); others (median)"]
    header += [f"{label} median [IQR]", f"{label} study mean ± 95% CI"]
    header += ["steps to target"] if target is not None else []
    header += ["diverged", "at edge"]
    lines = []
    for name in ranked(results):
        o = results["optimizers"][name]
        s = o["summary"]
        lrs = [st["selected"]["hyper"]["lr"] for st in o["studies"]]
        stats = s[metric]
        hypers = [st["selected"]["hyper"] for st in o["studies"]]
        others = ", ".join(
            f"{k}={_shown(_typical([h[k] for h in hypers]))}"
            for k in (hypers[0] if hypers else {})
            if k != "lr"
        )
        line = [
            s["group"],
            name,
            f"{statistics.median(lrs):.3g} ({min(lrs):.3g}–{max(lrs):.3g})"
            + (f"; {others}" if others else ""),
            f"{_fmt(stats['median'], digits)} [{_fmt(stats['q1'], digits)}, "
            f"{_fmt(stats['q3'], digits)}]",
            _fmt(stats["mean"], digits)
            + ("" if stats["ci95"] is None else f" ± {stats['ci95']:.{digits}f}"),
        ]
        if target is not None:
            t = s["to_target"]
            line.append(
                f"{t['median_step']:g} ({t['reached']}/{t['runs']})"
                if t["median_step"] is not None
                else f"not reached ({t['reached']}/{t['runs']})"
            )
        line.append(f"{s['diverged']}/{s['runs']}")
        line.append(edge_text(s["edge"], protocol["studies"]) or "—")
        lines.append(line)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = [results["established"], ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    out.append(
        "group: optimizers sharing a letter have no claim between them (paired "
        f"t-test over {protocol['studies']} studies, Holm-adjusted at 0.05)"
    )
    return "\n".join(out + [f"note: {n}" for n in results["notes"]])
