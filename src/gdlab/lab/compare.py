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

A comparison is planned, then run: :func:`plan` checks the input once (names,
axes, protocol, the base spec), loads the data once and builds every run once;
:func:`prepare` claims its output folder once and checks the store in it; its
``run()`` trains and returns a :class:`Comparison`, the typed result
(:mod:`gdlab.results`) it writes as ``results.json`` beside the report.
:func:`run` is ``prepare(...).run()``, :func:`compare` is ``run(plan(...))``.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from gdlab import _checks, _display, optim, outputs, records
from gdlab.data import Dataset
from gdlab.experiment import RunSpec
from gdlab.lab import claims, sweep, tuning
from gdlab.optim import space
from gdlab.results import (
    FORMAT,
    MAX_BUDGET,
    MAX_SEEDS,
    MAX_STUDIES,
    SELECT,
    VERSION,
    ComparisonResult,
    Edge,
    Final,
    OptimizerResult,
    Protocol,
    Reached,
    Rerun,
    Selected,
    Stats,
    Study,
    StudyResult,
    Summary,
    Target,
    Trial,
    Tunability,
    WinnersCurse,
)
from gdlab.results import MEASURES as METRICS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DEFAULT_TARGETS: dict[str, float] = {
    "digits": 0.95,
    "mnist": 0.97,
    "fashion-mnist": 0.85,
}
"""Validation accuracy targets for time-to-result, per dataset (AlgoPerf-style)."""
ENGINE_AXES = ("optimizer", "lr", "hyper", "seed", "evaluate_test")
"""The RunSpec fields a comparison varies over its base spec."""
SEED_LIMIT = 2**31
"""Study seeds are drawn below this bound."""
BACKENDS = ("local", "ray")
"""Where a comparison's runs train."""
Hyper = dict[str, Any]
"""A trial's hyperparameters by name (``lr`` among them), as the optimizer takes
them: keyword arguments, the one dict that stays a dict."""


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


def studies(protocol: Protocol, seed: int) -> list[Study]:
    """The studies of ``protocol`` for a base spec seeded ``seed``: study i's seeds
    from ``SeedSequence((search_seed, seed, i))``."""
    out = []
    for i in range(protocol.studies):
        state = np.random.SeedSequence((protocol.search_seed, seed, i))
        drawn = [
            int(x % SEED_LIMIT)
            for x in state.generate_state(2 + protocol.seeds, dtype=np.uint64)
        ]
        out.append(Study(i, drawn[0], drawn[1], tuple(drawn[2:])))
    return out


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
                f"tune: no optimizer compared has an axis {axis!r}"
                + _checks.did_you_mean(
                    axis, sorted({a for n in names for a in optim.search_space(n)})
                )
                + "; "
                + "; ".join(
                    f"{n} has {', '.join(optim.search_space(n))}" for n in names
                )
            )
        if lacking:
            out[axis] = lacking
    return out


def _trial_spec(base: RunSpec, name: str, hyper: Hyper, seed: int) -> RunSpec:
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
) -> dict[str, list[Hyper]]:
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


# --- plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan(records.Record):
    """A comparison, declared: ``optimizers`` (None: :func:`default_optimizers`;
    ``["all"]``: every one) compared on ``base`` under ``protocol``, trained by
    ``workers`` processes (None: by the work's size) on ``backend``.

    It checks itself when made (names, axes, the protocol against the base's fixed
    hyperparameters); its layout (every study's seeds, trials and trial runs, and
    the data) is derived once, when first used. :func:`plan` makes one and
    builds every run once, so that all the input is checked before anything
    trains; :func:`run` runs it."""

    base: RunSpec
    optimizers: tuple[str, ...] | None = None
    protocol: Protocol = field(default_factory=Protocol)
    workers: int | None = None
    backend: str = "local"

    constraints: ClassVar[Mapping[str, records.Constraint]] = {
        "base": records.instance(RunSpec),
        "optimizers": lambda o, n, v: tuple(chosen_optimizers(v)),
        "protocol": records.instance(Protocol),
        "workers": records.optional(records.at_least(1)),
        "backend": records.one_of(*BACKENDS),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _ = self.lacking  # an axis no optimizer has is refused now
        tuned = {space.hyperparameter(a) for n in self.names for a in self.axes(n)}
        if set(self.base.hyper) & tuned:
            raise ValueError(
                f"compare: hyper fixes {sorted(set(self.base.hyper) & tuned)}, "
                "which tune tunes: fix it or tune it"
            )

    @property
    def names(self) -> tuple[str, ...]:
        """The optimizers compared."""
        assert self.optimizers is not None  # the constraint chose them
        return self.optimizers

    def axes(self, name: str) -> list[str]:
        """The axes tuned for optimizer ``name``."""
        return axes_for(name, self.protocol.tune)

    @cached_property
    def lacking(self) -> dict[str, list[str]]:
        """Per axis of ``tune``: the optimizers that lack it."""
        return missing_axes(self.names, self.protocol.tune)

    @cached_property
    def studies(self) -> tuple[Study, ...]:
        """Every study's seeds."""
        return tuple(studies(self.protocol, self.base.train.seed))

    @cached_property
    def chosen(self) -> tuple[dict[str, list[Hyper]], ...]:
        """Per study: each optimizer's trial hyperparameters."""
        return tuple(
            trials(self.names, self.protocol, st.search_seed) for st in self.studies
        )

    @cached_property
    def trial_specs(self) -> tuple[dict[str, list[RunSpec]], ...]:
        """Per study: each optimizer's trial runs (the test set unread)."""
        return tuple(
            {
                n: [
                    _trial_spec(self.base, n, h, st.tuning_seed).replace(
                        evaluate_test=False
                    )
                    for h in hs
                ]
                for n, hs in per.items()
            }
            for st, per in zip(self.studies, self.chosen, strict=True)
        )

    @property
    def specs(self) -> list[RunSpec]:
        """Every trial run, study by study, optimizer by optimizer."""
        return [s for per in self.trial_specs for v in per.values() for s in v]

    @cached_property
    def datasets(self) -> dict[tuple[Any, ...], Dataset]:
        """The data, loaded once, by :func:`gdlab.lab.sweep.source`, after every
        trial run and each optimizer's suggested settings were built once."""
        dataset = sweep.datacache.load(self.base)  # its errors name the data
        first = self.studies[0].rerun_seeds[0]
        defaults = [
            _trial_spec(self.base, n, tuning.trial(n, [], []), first)
            for n in self.names
        ]
        datasets = sweep.validate(
            [*self.specs, *defaults], loaded={sweep.source(self.base): dataset}
        )
        if self.protocol.budget and dataset.X_val is None:
            raise ValueError(
                f"compare: {self.base.data} has no validation split to select "
                "trials on; use budget 0 or another dataset"
            )
        if self.protocol.select == "val_acc" and not dataset.classes:
            raise ValueError(
                f"compare: select val_acc needs classification data; "
                f"{self.base.data} is regression: select val_loss"
            )
        return datasets

    @property
    def target(self) -> float | None:
        """The target time-to-result waits for: the protocol's, else the data's
        default (for accuracy)."""
        if self.protocol.target is None and self.protocol.select == "val_acc":
            return DEFAULT_TARGETS.get(self.base.data)
        return self.protocol.target


def plan(
    base: RunSpec,
    optimizers: Sequence[str] | None = None,
    protocol: Protocol | None = None,
    *,
    workers: int | None = None,
    backend: str = "local",
) -> Plan:
    """The :class:`Plan` of a comparison, with its data loaded and every run
    built once: all the input is checked, nothing trains and no file is written.

    Raises:
        ValueError: a bad name, axis, protocol, spec or data for the protocol.
    """
    planned = Plan(
        base,
        None if optimizers is None else tuple(optimizers),
        Protocol() if protocol is None else protocol,
        workers,
        backend,
    )
    _ = planned.datasets
    return planned


# --- run -------------------------------------------------------------------------


def prepare(planned: Plan, *, out: str | os.PathLike[str]) -> Ready:
    """What :func:`run` checks of its folder before anything trains, as a step of
    its own (a command hands it what its user typed): ``out`` is claimed for the
    comparison (a refused one is left as it was) and the store in it must hold no
    other comparison and no damaged run. A ValueError says what is wrong."""
    with outputs.claiming(out, "compare") as root:
        sweep.check_specs(
            planned.base,
            planned.specs,
            root / "sweep.db",
            axes=ENGINE_AXES,
            workers=planned.workers,
            backend=planned.backend,
            datasets=planned.datasets,
        )
    return Ready(planned, root)


@dataclass(frozen=True)
class Ready:
    """A planned comparison and its claimed, checked folder (from :func:`prepare`)."""

    plan: Plan
    out: Path

    def run(
        self,
        *,
        progress: bool = True,
        report: bool = True,
        command: str = "gdlab compare",
    ) -> Comparison:
        """Train the comparison: its trials and reruns are stored in
        ``out/sweep.db`` (resumed if it holds some), and ``results.json`` (with
        ``report.html`` and its PNGs, unless ``report=False``) is written there,
        all of them or none.

        Raises:
            sweep.SweepError: runs failed; finished runs are stored.
        """
        _checks.flag("compare", "progress", progress)
        _checks.flag("compare", "report", report)
        planned = self.plan
        # the reruns are about as many runs as the trials, of the same size
        count = sweep.default_workers(planned.specs, planned.datasets, planned.workers)
        with _workers(planned, count) as pool:
            engine = _Engine(planned, self.out / "sweep.db", progress, pool, count)
            found = _run(planned, engine)
        _publish(found, self.out, report, command)
        return found


def run(
    planned: Plan,
    *,
    out: str | os.PathLike[str],
    progress: bool = True,
    report: bool = True,
    command: str = "gdlab compare",
) -> Comparison:
    """``prepare(planned, out=out).run(...)``: run the comparison ``planned`` in
    folder ``out``.

    Raises:
        ValueError: ``out`` is another command's folder, or its store another
            comparison's (before anything trains).
        sweep.SweepError: runs failed; finished runs are stored.
    """
    ready = prepare(planned, out=out)
    return ready.run(progress=progress, report=report, command=command)


@contextlib.contextmanager
def _workers(planned: Plan, count: int) -> Iterator[sweep.Workers | None]:
    """One set of local workers, warm from the first trial to the last rerun."""
    if planned.backend != "local" or count == 1:
        yield None
        return
    with sweep.Workers(count) as pool:
        pool.start()
        yield pool


@dataclass
class _Engine:
    """How a comparison's runs train: the sweep engine's settings."""

    planned: Plan
    store: Path
    progress: bool
    pool: sweep.Workers | None
    count: int

    def train(self, specs: Sequence[RunSpec]) -> dict[str, sweep.StoredRun]:
        """Train ``specs`` (those not stored yet); their stored runs by key."""
        if not specs:
            return {}
        planned = self.planned
        tuned = any(a != "lr" for n in planned.names for a in planned.axes(n))
        stored, _, errors = sweep.run_specs(
            planned.base,
            specs,
            self.store,
            axes=ENGINE_AXES,
            shown=["optimizer", "lr", *(["hyper"] if tuned else []), "seed"],
            workers=self.count if self.pool is not None else planned.workers,
            backend=planned.backend,
            progress=self.progress,
            datasets=planned.datasets,
            pool=self.pool,
        )
        unique = len(set(map(sweep.spec_key, specs)))
        sweep.raise_for(errors, stored, unique, self.store)
        return {r.key: r for r in stored}


def _run(planned: Plan, engine: _Engine) -> Comparison:
    """Trials, selection, reruns, summaries, claims: the comparison's steps."""
    protocol = planned.protocol
    if engine.progress and planned.specs:
        print(
            f"trials: {protocol.studies} studies x {protocol.budget} per optimizer, "
            "test set unread",
            flush=True,
        )
    tried = engine.train(planned.specs)
    searched = [_search(planned, k, tried) for k in range(len(planned.studies))]
    if engine.progress:
        print(
            f"reruns: {protocol.seeds} per study of the selected settings, on "
            "matched seeds",
            flush=True,
        )
    rerun_specs = [
        {
            n: [
                _trial_spec(planned.base, n, per[n].selected.hyper, seed).replace(
                    evaluate_test=True
                )
                for seed in st.rerun_seeds
            ]
            for n in planned.names
        }
        for st, per in zip(planned.studies, searched, strict=True)
    ]
    reran = engine.train([s for per in rerun_specs for v in per.values() for s in v])
    entries = {
        name: _optimizer(
            planned,
            name,
            [
                replace(
                    per[name],
                    reruns=tuple(
                        _rerun(reran[sweep.spec_key(s)], planned) for s in specs[name]
                    ),
                )
                for per, specs in zip(searched, rerun_specs, strict=True)
            ],
        )
        for name in planned.names
    }
    return _claimed(planned, entries)


def _search(
    planned: Plan, k: int, tried: Mapping[str, sweep.StoredRun]
) -> dict[str, StudyResult]:
    """Study ``k``'s trials of each optimizer and the one selected on validation
    data (no reruns yet)."""
    select = planned.protocol.select
    out = {}
    for name in planned.names:
        hypers = planned.chosen[k][name]
        runs = [tried[sweep.spec_key(s)] for s in planned.trial_specs[k][name]]
        if runs:
            best: int | None = max(
                range(len(runs)), key=lambda i: _rank_key(runs[i], select)
            )
            hyper = hypers[best]  # type: ignore[index]
        else:
            best, hyper = None, tuning.trial(name, [], [])
        scores = [_score(r, select) for r in runs]
        out[name] = StudyResult(
            trials=tuple(
                _trial(h, r, planned) for h, r in zip(hypers, runs, strict=True)
            ),
            selected=Selected(best, sweep.plain(hyper)),
            best_of_k=tuple(
                _finite(
                    tuning.best_of_first(
                        scores, higher_is_better=planned.protocol.higher_is_better
                    )
                )
            ),
        )
    return out


def _score(run: sweep.StoredRun, select: str) -> float:
    """The trial's final validation metric; the worst value there is if it diverged."""
    value = run.metrics.value(f"final_{select}")
    if run.metrics.diverged or value is None or not math.isfinite(value):
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


def _final(run: sweep.StoredRun) -> Final:
    return Final(
        *(
            None if run.metrics.diverged else run.metrics.value(f"final_{m}")
            for m in METRICS
        )
    )


def _to_target(run: sweep.StoredRun, planned: Plan) -> Target | None:
    target = planned.target
    if target is None:
        return None
    reached = tuning.time_to_target(
        run.history.epochs,
        planned.protocol.select,
        target,
        higher_is_better=planned.protocol.higher_is_better,
    )
    return None if reached is None else Target.from_dict(reached)


def _trial(hyper: Hyper, run: sweep.StoredRun, planned: Plan) -> Trial:
    final = _final(run)
    return Trial(
        hyper=sweep.plain(hyper),
        train_loss=final.train_loss,
        val_loss=final.val_loss,
        val_acc=final.val_acc,
        test_loss=final.test_loss,
        test_acc=final.test_acc,
        diverged=run.metrics.diverged,
        message=run.message,
        to_target=_to_target(run, planned),
    )


def _rerun(run: sweep.StoredRun, planned: Plan) -> Rerun:
    return Rerun(
        seed=run.spec.train.seed,
        diverged=run.metrics.diverged,
        message=run.message,
        final=_final(run),
        to_target=_to_target(run, planned),
        seconds=run.metrics.seconds,
        history=run.history.to_dict(),
    )


def _finite(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _optimizer(
    planned: Plan, name: str, per_study: Sequence[StudyResult]
) -> OptimizerResult:
    """One optimizer's studies, with its tunability curve and summary."""
    axes = planned.axes(name)
    return OptimizerResult(
        axes={a: tuning.describe_axis(name, a) for a in axes},
        studies=tuple(per_study),
        tunability=_tunability(per_study, planned.protocol.select),
        summary=_summary(per_study, planned.protocol, axes),
    )


def _tunability(per_study: Sequence[StudyResult], select: str) -> Tunability:
    """The best of the first k trials: median, lowest and highest over studies
    (what the procedure does), and the median over studies of the expected best
    of k drawn without replacement (random search over these points)."""
    higher = select == "val_acc"
    worst = -math.inf if higher else math.inf
    curves = [
        [worst if v is None else float(v) for v in st.best_of_k] for st in per_study
    ]
    if not curves or not curves[0]:
        return Tunability((), (), (), ())
    columns = list(zip(*curves, strict=True))
    expected = [
        tuning.expected_best(
            [_trial_score(t, select) for t in st.trials], higher_is_better=higher
        )
        for st in per_study
    ]
    return Tunability(
        median=tuple(_finite([float(np.median(c)) for c in columns])),
        low=tuple(_finite([min(c) for c in columns])),
        high=tuple(_finite([max(c) for c in columns])),
        random_search=tuple(
            _finite([float(np.median(c)) for c in zip(*expected, strict=True)])
        ),
    )


def _trial_score(trial: Trial, select: str) -> float:
    value = trial.score(select)
    if trial.diverged or value is None or not math.isfinite(value):
        return 0.0 if select == "val_acc" else math.inf
    return float(value)


def _edges(per_study: Sequence[StudyResult], axes: Sequence[str]) -> dict[str, Edge]:
    """Per axis, in how many studies the selected trial had the lowest or the
    highest value tried (the optimum may lie outside the search space)."""
    counts = {a: {"low": 0, "high": 0} for a in axes}
    for st in per_study:
        best = st.selected.trial
        if best is None or len(st.trials) < 4:  # with fewer, always an end
            continue
        for axis in axes:
            values = [float(space.current(dict(t.hyper), axis)) for t in st.trials]
            if values[best] == min(values):
                counts[axis]["low"] += 1
            elif values[best] == max(values):
                counts[axis]["high"] += 1
    return {a: Edge(**c) for a, c in counts.items()}


def _stats(per_study: Sequence[StudyResult], metric: str) -> Stats:
    """Median and quartiles over studies x reruns; mean and 95% t half-width over
    the per-study means (the study is the unit of replication)."""
    values = [v for st in per_study for v in st.kept(metric)]
    means = [statistics.fmean(xs) for st in per_study if (xs := st.kept(metric))]
    quartiles: list[float | None] = [None, None, None]
    if values:
        quartiles = [float(x) for x in np.percentile(values, [25, 50, 75])]
    study = tuning.interval95(means)
    return Stats(
        n=len(values),
        studies=len(means),
        median=quartiles[1],
        q1=quartiles[0],
        q3=quartiles[2],
        mean=study["mean"],
        ci95=study["ci95"],
    )


def _summary(
    per_study: Sequence[StudyResult], protocol: Protocol, axes: Sequence[str]
) -> Summary:
    reruns = [r for st in per_study for r in st.reruns]
    reached = [r.to_target for r in reruns]
    steps = statistics.median([t.step if t else math.inf for t in reached])
    seconds = statistics.median([t.seconds if t else math.inf for t in reached])
    return Summary(
        train_loss=_stats(per_study, "train_loss"),
        val_loss=_stats(per_study, "val_loss"),
        val_acc=_stats(per_study, "val_acc"),
        test_loss=_stats(per_study, "test_loss"),
        test_acc=_stats(per_study, "test_acc"),
        per_study=tuple(
            statistics.fmean(xs) if (xs := st.kept(protocol.metric)) else None
            for st in per_study
        ),
        diverged=sum(r.diverged for r in reruns),
        runs=len(reruns),
        to_target=Reached(
            runs=len(reruns),
            reached=sum(t is not None for t in reached),
            median_step=steps if math.isfinite(steps) else None,
            median_seconds=seconds if math.isfinite(seconds) else None,
        ),
        seconds=statistics.fmean(r.seconds for r in reruns),
        winners_curse=_winners_curse(per_study, protocol.select),
        edge=_edges(per_study, axes),
    )


def _winners_curse(per_study: Sequence[StudyResult], select: str) -> WinnersCurse:
    """The selected trial's validation score and its reruns' mean validation
    score, each the median over studies: the gap is the winner's curse."""
    chosen, again = [], []
    for st in per_study:
        best = st.selected.trial
        if best is None:
            continue
        score = st.trials[best].score(select)
        xs = st.kept(select)
        if score is not None and xs:
            chosen.append(float(score))
            again.append(statistics.fmean(xs))
    return WinnersCurse(
        selected=statistics.median(chosen) if chosen else None,
        reruns=statistics.median(again) if again else None,
    )


def _claimed(planned: Plan, entries: dict[str, OptimizerResult]) -> Comparison:
    """The pairwise claims, the groups they imply and the notes: the result."""
    protocol, names = planned.protocol, list(planned.names)
    higher = protocol.higher_is_better
    per_study = {n: entries[n].summary.per_study for n in names}
    pairs = claims.pairwise(per_study, higher_is_better=higher)
    order = sorted(names, key=lambda n: _order_key(entries[n].summary, higher))
    groups = claims.letters(order, pairs)
    for name in names:
        entry = entries[name]
        entries[name] = replace(
            entry, summary=replace(entry.summary, group=groups[name])
        )
    return Comparison(
        format=FORMAT,
        version=VERSION,
        spec=sweep.plain(planned.base.to_dict()),
        protocol=replace(protocol, target=planned.target),
        studies=planned.studies,
        optimizers=entries,
        pairs=tuple(pairs),
        established=claims.established(pairs, names, protocol.studies),
        notes=tuple(_notes(planned, entries)),
    )


def _notes(planned: Plan, entries: Mapping[str, OptimizerResult]) -> list[str]:
    """What a reader must know besides the table: axes an optimizer lacks,
    divergences, intervals of zero width, selections at a range's edge."""
    protocol = planned.protocol
    notes = [
        f"--tune {axis}: {', '.join(lacking)} "
        f"{'has' if len(lacking) == 1 else 'have'} no {axis} axis; tuned without it"
        for axis, lacking in planned.lacking.items()
    ]
    for name, entry in entries.items():
        s = entry.summary
        if s.diverged:
            notes.append(
                f"{name}: {s.diverged} of {s.runs} reruns diverged; its test "
                "numbers are over the others only (a study whose reruns all "
                "diverged scores worst in the claims)"
            )
        if s.stats(protocol.metric).ci95 == 0.0:
            notes.append(
                f"{name}: its interval over studies has zero width — a sign of too "
                "few samples (discrete accuracies), not of certainty"
            )
        for axis, edge in s.edge.items():
            for side, count in (("low", edge.low), ("high", edge.high)):
                if protocol.budget >= 4 and 2 * count > protocol.studies:
                    notes.append(
                        f"{name}: the selected {axis} sits at the "
                        f"{'lowest' if side == 'low' else 'highest'} value tried in "
                        f"{count} of {protocol.studies} studies; the best setting "
                        "may lie outside its search space"
                    )
    if protocol.budget == 0:
        notes.append(
            "budget 0: suggested settings, no search — a one-shot baseline that "
            "says as much about those settings as about the optimizers"
        )
    return notes


def _order_key(summary: Summary, higher: bool) -> tuple[float, ...]:
    """Best first by the study-level mean (only to name the groups' letters)."""
    values = [v for v in summary.per_study if v is not None]
    if not values:
        return (math.inf,)
    mean = statistics.fmean(values)
    return (-mean if higher else mean,)


def _publish(found: Comparison, root: Path, report: bool, command: str) -> None:
    """results.json, and the report drawn from it, written as one set."""
    from gdlab.report.compare import comparison_report

    def write(stage: Path) -> None:
        found.save(stage)
        if report:
            comparison_report(found, stage, command=command)

    outputs.publish(root, write)


def compare(
    base: RunSpec,
    optimizers: Sequence[str] | None = None,
    protocol: Protocol | None = None,
    *,
    out: str | os.PathLike[str],
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    report: bool = True,
    command: str = "gdlab compare",
) -> Comparison:
    """``run(plan(base, optimizers, protocol, ...), out=out, ...)``: compare
    ``optimizers`` (default: the course's) on ``base`` under ``protocol`` in folder
    ``out`` (resumed if it holds some of the same comparison).

    Raises:
        ValueError: a bad name, axis, protocol or spec (before anything trains).
        sweep.SweepError: runs failed; finished runs are stored.
    """
    planned = plan(base, optimizers, protocol, workers=workers, backend=backend)
    return run(planned, out=out, progress=progress, report=report, command=command)


# --- the result ------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison(ComparisonResult):
    """What :func:`run` found (a :class:`~gdlab.results.ComparisonResult`),
    with its table, frame and plot for a notebook."""

    def summary(self) -> list[dict[str, Any]]:
        """One row per optimizer (in the order of the table): its group, selected
        hyperparameters (per study) and the reruns' numbers."""
        from gdlab.report.compare import ranked

        rows = []
        for name in ranked(self):
            o = self.optimizers[name]
            s = o.summary
            row: dict[str, Any] = {
                "optimizer": name,
                "group": s.group,
                "selected_lr": o.selected_lrs,
            }
            for m in METRICS:
                stats = s.stats(m)
                row[m] = stats.median
                row[f"{m}_iqr"] = (stats.q1, stats.q3)
                row[f"{m}_study_mean"] = stats.mean
                row[f"{m}_study_ci95"] = stats.ci95
            row["diverged"] = s.diverged
            row["reruns"] = s.runs
            row["steps_to_target"] = s.to_target.median_step
            rows.append(row)
        return rows

    def to_frame(self) -> Any:
        """:meth:`summary` as a pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        return _display.frame("Comparison.to_frame", self.summary())

    def plot(self, ax: Axes | None = None, metric: str = "test_acc") -> Figure:
        """Each optimizer's reruns on the test set: ``metric`` per rerun of every
        study, the median and the study-level 95% interval, drawn into ``ax``."""
        from gdlab.report.compare import plot_test_metrics

        if metric not in METRICS:
            _checks.fail("Comparison.plot", "metric", f"one of {METRICS}", metric)
        return plot_test_metrics(self, metric, ax=ax)

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
        protocol = self.protocol
        caption = (
            f"Comparison on {self.spec.get('data', '?')}: "
            f"{protocol.studies} studies of {protocol.budget} trials and "
            f"{protocol.seeds} reruns per optimizer — {self.established}"
        )
        fig = self.plot(metric=protocol.metric)
        figure = figure_html(fig, "test results of the reruns")
        return _display.table(caption, rows, extra=figure)


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


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_table(comparison: ComparisonResult) -> str:
    """The comparison as an aligned text table, led by what it established: the
    claims' groups, the selected lr over studies, the test numbers (median [IQR]
    over studies x reruns) and where the selection sat at a range's edge."""
    from gdlab.report.compare import edge_text, ranked

    protocol = comparison.protocol
    metric = protocol.metric
    digits = 3 if metric == "test_acc" else 4
    label = "test acc" if metric == "test_acc" else "test loss"
    header = ["group", "optimizer", "selected lr (median, range); others (median)"]
    header += [f"{label} median [IQR]", f"{label} study mean ± 95% CI"]
    header += ["steps to target"] if protocol.target is not None else []
    header += ["diverged", "at edge"]
    lines = []
    for name in ranked(comparison):
        o = comparison.optimizers[name]
        s = o.summary
        lrs = o.selected_lrs
        stats = s.stats(metric)
        hypers = [st.selected.hyper for st in o.studies]
        others = ", ".join(
            f"{k}={_shown(_typical([h[k] for h in hypers]))}"
            for k in (hypers[0] if hypers else {})
            if k != "lr"
        )
        line = [
            s.group,
            name,
            f"{statistics.median(lrs):.3g} ({min(lrs):.3g}–{max(lrs):.3g})"
            + (f"; {others}" if others else ""),
            f"{_fmt(stats.median, digits)} [{_fmt(stats.q1, digits)}, "
            f"{_fmt(stats.q3, digits)}]",
            _fmt(stats.mean, digits)
            + ("" if stats.ci95 is None else f" ± {stats.ci95:.{digits}f}"),
        ]
        if protocol.target is not None:
            t = s.to_target
            line.append(
                f"{t.median_step:g} ({t.reached}/{t.runs})"
                if t.median_step is not None
                else f"not reached ({t.reached}/{t.runs})"
            )
        line.append(f"{s.diverged}/{s.runs}")
        line.append(edge_text(s.edge, protocol.studies) or "—")
        lines.append(line)
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(header)]
    out = [comparison.established, ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
        for line in lines
    ]
    out.append(
        "group: optimizers sharing a letter have no claim between them (paired "
        f"t-test over {protocol.studies} studies, Holm-adjusted at 0.05)"
    )
    return "\n".join(out + [f"note: {n}" for n in comparison.notes])


__all__ = [
    "FORMAT",
    "MAX_BUDGET",
    "MAX_SEEDS",
    "MAX_STUDIES",
    "SELECT",
    "VERSION",
    "Comparison",
    "Plan",
    "Protocol",
    "Ready",
    "Study",
    "compare",
    "format_table",
    "plan",
    "prepare",
    "run",
]
