r"""Batch size and sharpness at equal training progress (Keskar et al., 2017).

:func:`run` of a :class:`BatchSize` plan trains one model from the same initial
weights at each batch size *until the same training loss* (or the same number of
steps) and measures each solution: λmax of the training loss
(:func:`~gdlab.lab.sharpness`), Keskar's ε-sharpness, train and test accuracy and
their gap, and the losses along the line θ(α) = (1−α)·θ_small + α·θ_large through
the smallest and the largest batch's solutions. Comparing runs stopped after the
same number of *epochs* says nothing: a batch of 512 has then taken 32 times fewer
steps than a batch of 16 and is simply less trained, so it looks flatter.
"""

from __future__ import annotations

import csv
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, NamedTuple

import numpy as np

from gdlab import _checks, data, outputs
from gdlab.callbacks import StopAt
from gdlab.experiment import Run, RunSpec, build, load_data
from gdlab.lab.sharpness import DEFAULT_SAMPLES, sharpness
from gdlab.lab.studies.measures import epsilon_sharpness, interpolate
from gdlab.lab.studies.records import (
    REFERENCES,
    load_weights,
    saved_run,
    strict_json,
)
from gdlab.lab.threads import one_blas_thread
from gdlab.params import F64
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    number,
    optional,
    text,
)
from gdlab.study_results import (
    BatchSizeReport,
    BatchSizeRow,
    BatchSizeRun,
    BatchSizeSettings,
    Interpolation,
)
from gdlab.train import TrainConfig, evaluate, fit

Progress = Callable[[str], None] | None
Folder = str | Path

BATCH_SIZE_RUNS = "batch-size-runs"
"""The folder of one file per batch-size run (its sign: see ``outputs.KINDS``)."""


def parse_until(until: object, owner: str = "BatchSize") -> tuple[str, float]:
    """``"loss:0.01"`` -> ("loss", 0.01); ``"steps:500"`` -> ("steps", 500)."""
    kind, sep, text = str(until).partition(":")
    kind = kind.strip().lower()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    ok = (kind == "loss" and value > 0 and math.isfinite(value)) or (
        kind == "steps" and value >= 1 and value == int(value)
    )
    if not sep or not ok:
        _checks.fail(
            owner,
            "until",
            "'loss:X' (a training loss X > 0) or 'steps:N' (N >= 1)",
            until,
        )
    return kind, (int(value) if kind == "steps" else value)


def _until(owner: str, name: str, value: object) -> str:
    parse_until(value, owner)
    return str(value)


def _sizes(owner: str, name: str, value: object) -> tuple[int, ...]:
    """At least two different batch sizes, each >= 1, kept sorted and unique."""
    sizes = each(at_least(1))(owner, name, value)
    if len(set(sizes)) < 2:
        _checks.fail(owner, name, "at least two different sizes", value)
    return tuple(sorted(set(sizes)))


@dataclass(frozen=True)
class BatchSize(Record):
    """The plan of the batch-size study, checked when made.

    Fields:
        data, data_path, model, activation, optimizer, lr, dtype: the run, as in
            :class:`~gdlab.experiment.RunSpec` (a constant learning rate).
        batch_sizes: at least two; the interpolation joins the smallest and largest.
        until: ``"loss:X"`` — stop at the first evaluation (8 per epoch) whose
            training loss is <= X; or ``"steps:N"`` — N optimizer steps each.
        seeds: runs per batch size (initial weights and batch order).
        epsilon: the box of :func:`epsilon_sharpness`, > 0 (Keskar used 1e-3; see
            below).
        samples: the first training rows λmax and ε-sharpness are measured on
            (None: all).
        max_epochs: the budget of a ``loss:`` run; one that has not reached the
            target then is reported as such.

    Defaults, and why: plain SGD at lr 0.5 on digits (a 64-100-10 ReLU MLP),
    batches 16 to 1024, until training loss 0.01. The learning rate is large so
    that the batch size matters: SGD's noise scales as lr/batch, and at lr 0.1
    every batch size follows gradient flow to equally sharp minima. ε is 1e-2, not
    Keskar's 1e-3: the box's radius is about ε·√(number of weights), which at 1e-3
    is 1 for their million-weight networks but 0.09 for this 7,700-weight MLP. In
    so small a box the loss rises mostly along the gradient (the runs stop on a
    slope, not at a minimum), and ε-sharpness then ranks the solutions by their
    gradient, not their curvature. The defaults take about half a minute.
    """

    data: str = "digits"
    data_path: str | None = None
    model: str = "mlp"
    activation: str = "relu"
    optimizer: str = "sgd"
    lr: float = 0.5
    batch_sizes: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
    until: str = "loss:0.01"
    seeds: int = 3
    epsilon: float = 1e-2
    samples: int | None = DEFAULT_SAMPLES
    max_epochs: int = 3000
    dtype: str = "float32"

    constraints: ClassVar[dict[str, Constraint]] = {
        "data": text,
        "data_path": optional(text),
        "model": text,
        "activation": text,
        "optimizer": text,
        "lr": number(0.0, low_open=True),
        "batch_sizes": _sizes,
        "until": _until,
        "seeds": at_least(1),
        # ε = 0 makes every ε-sharpness 0: nothing to compare, and no ratio to print
        "epsilon": number(0.0, low_open=True),
        "samples": optional(at_least(1)),
        "max_epochs": at_least(1),
        "dtype": text,
    }


@dataclass(frozen=True)
class BatchSizeResult(Record):
    """The runs of a :class:`BatchSize` plan, their summary by batch size, the
    interpolation and the warnings."""

    plan: BatchSize
    n_train: int
    runs: tuple[BatchSizeRun, ...]
    interpolation: Interpolation | None
    warnings: tuple[str, ...]

    @property
    def settings(self) -> BatchSizeSettings:
        """The plan and the training rows, as ``results.json`` keeps them."""
        return BatchSizeSettings(**self.plan.to_dict(), n_train=self.n_train)

    def summary(self) -> tuple[BatchSizeRow, ...]:
        """Per batch size: runs, reached, and mean ± std of each measure over the
        seeds that did not diverge."""
        return tuple(
            BatchSizeRow.of(size, [r for r in self.runs if r.batch_size == size])
            for size in self.plan.batch_sizes
        )

    def findings(self) -> list[str]:
        """What the runs show, smallest against largest batch, in words."""
        rows = [r for r in self.summary() if r.trained]
        if len(rows) < 2:
            return ["fewer than two batch sizes trained without diverging"]
        small, large = rows[0], rows[-1]
        b, big = small.batch_size, large.batch_size
        lines, sharper = [], []
        for key, name in (("lambda_max", "λmax"), ("epsilon_sharpness", "ε-sharpness")):
            (lo, lo_std), (hi, hi_std) = small.mean_std(key), large.mean_std(key)
            ratio = f"{hi / lo:.2g}x" if lo != 0 else "no ratio to 0"
            lines.append(
                f"{name}: {lo:.3g} ± {lo_std:.2g} at batch {b}, "
                f"{hi:.3g} ± {hi_std:.2g} at batch {big} ({ratio})"
            )
            if hi > lo:
                sharper.append(name)
        if not math.isnan(small.test_acc):
            lines.append(
                f"test accuracy {small.test_acc:.3f} at batch {b}, "
                f"{large.test_acc:.3f} at batch {big}; generalization gap "
                f"{small.gap:.3f} and {large.gap:.3f}"
            )
        losses = [r.train_loss for r in self.runs if not r.diverged]
        where = f"final training losses {min(losses):.3g} to {max(losses):.3g}"
        if any("x apart" in w for w in self.warnings):
            where += ": more than 2x apart, not comparable"
        by = " and ".join(sharper) if sharper else "neither measure"
        verdict = f"The largest batch's solution is sharper by {by} ({where})"
        return [verdict, *lines]

    def results(self) -> BatchSizeReport:
        """``results.json``: the settings, the runs, and what is derived from them
        (summary, findings, references) for the report."""
        return BatchSizeReport(
            study="batch-size",
            settings=self.settings,
            runs=self.runs,
            summary=self.summary(),
            interpolation=self.interpolation,
            warnings=self.warnings,
            findings=tuple(self.findings()),
            references=(REFERENCES["keskar"],),
        )

    def format(self) -> str:
        """A table by batch size, then the warnings."""
        until = self.plan.until
        lines = [
            f"{'batch':>6} {'reached':>8} {'steps':>7} {'train loss':>11} "
            f"{'λmax':>15} {'ε-sharpness':>17} {'train acc':>9} {'test acc':>8} "
            f"{'gap':>6}"
        ]
        for r in self.summary():
            lines.append(
                f"{r.batch_size:>6} {r.reached:>4}/{r.runs:<3} "
                f"{r.steps:>7.0f} {r.train_loss:>11.4g} "
                f"{r.lambda_max:>7.3g} ± {r.lambda_max_std:<5.2g} "
                f"{r.epsilon_sharpness:>8.3g} ± {r.epsilon_sharpness_std:<6.2g} "
                f"{r.train_acc:>9.3f} {r.test_acc:>8.3f} {r.gap:>6.3f}"
            )
        lines.append(
            f"(until {until}; mean ± std over seeds; ε-sharpness in % at ε = "
            f"{self.plan.epsilon:g}; gap = train acc − test acc)"
        )
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join([*lines, *self.findings()])


CHECKS_PER_EPOCH = 8
"""Evaluations of the training loss per epoch while a run trains to a loss."""


class _Trained(NamedTuple):
    outcome: bool | None  # reached the target, did not, or diverged (None)
    steps: int
    message: str


def _train_to(run: Run, until: tuple[str, float], max_epochs: int) -> _Trained:
    """Train ``run`` with :func:`~gdlab.train.fit`: to a training loss
    (``("loss", L)``: evaluated 8 times per epoch, stopped by
    :class:`~gdlab.callbacks.StopAt` at the first evaluation at or below L, at
    most ``max_epochs``), or for a number of steps (``("steps", N)``)."""
    kind, target = until
    ds, train = run.dataset, run.spec.train
    if kind == "loss" and evaluate(run.model, ds.X_train, ds.y_train)[0] <= target:
        return _Trained(True, 0, "")
    per_epoch = train.steps_per_epoch(ds.n_train)
    length: dict[str, Any] = (
        {"epochs": max_epochs, "eval_every": math.ceil(per_epoch / CHECKS_PER_EPOCH)}
        if kind == "loss"
        else {"iterations": int(target)}
    )
    # the training loss the target is judged on is the whole training set's, not
    # fit's default sample of train_eval_rows (10,000 rows: Fashion-MNIST has 60,000)
    config = TrainConfig(
        batch_size=train.batch_size,
        seed=train.seed,
        evaluate_test=False,
        train_eval_rows=None,
        **length,
    )
    stop = [StopAt("train_loss", below=target)] if kind == "loss" else []
    # a run that overflows is reported as diverged, by fit, without warnings
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(
            run.model, run.optimizer, ds, config, progress=False, verbose=False,
            callbacks=stop,
        )  # fmt: skip
    steps = len(history.steps)
    if history.diverged:
        return _Trained(None, steps, history.message)
    reached = kind == "steps" or any(
        e["train_loss"] is not None and e["train_loss"] <= target
        for e in history.epochs
    )
    return _Trained(reached, steps, "")


def _batch_size_run(
    spec: RunSpec,
    dataset: data.Dataset,
    until: tuple[str, float],
    max_epochs: int,
    samples: int | None,
    epsilon: float,
) -> tuple[BatchSizeRun, F64]:
    started = time.perf_counter()
    built = build(spec, dataset)
    trained = _train_to(built, until, max_epochs)
    outcome, model = trained.outcome, built.own_model
    theta = model.params.buffers[model.dtype].astype(np.float64)
    ds = dataset
    diverged = outcome is None
    train_loss = test_loss = math.nan  # a diverged run is measured by none of them
    train_acc: float | None = None
    test_acc: float | None = None
    if not diverged:
        with np.errstate(over="ignore", invalid="ignore"):
            train_loss, train_acc = evaluate(model, ds.X_train, ds.y_train)
            test_loss, test_acc = evaluate(model, ds.X_test, ds.y_test)
        diverged = not math.isfinite(train_loss)
    if diverged:  # weights that overflow at the evaluation: no measure holds
        train_loss = test_loss = math.nan
        train_acc = test_acc = None
    lam = eps_sharp = math.nan
    if not diverged:
        n = len(ds.X_train) if samples is None else samples
        lam = sharpness(model, ds.X_train, ds.y_train, samples=samples)
        eps_sharp = epsilon_sharpness(model, ds.X_train[:n], ds.y_train[:n], epsilon)
    gap = None if train_acc is None or test_acc is None else train_acc - test_acc
    run = BatchSizeRun(
        batch_size=int(spec.train.batch_size),
        seed=spec.train.seed,
        steps=trained.steps,
        epochs=round(trained.steps / spec.train.steps_per_epoch(ds.n_train), 4),
        reached=outcome is True,
        diverged=diverged,
        message=trained.message,
        train_loss=train_loss,
        train_acc=train_acc,
        test_loss=test_loss,
        test_acc=test_acc,
        gap=gap,
        lambda_max=lam,
        epsilon_sharpness=eps_sharp,
        seconds=round(time.perf_counter() - started, 3),
    )
    return run, theta


def _saved_runs(
    out: Folder | None, setup: _Setup
) -> dict[tuple[int, int], tuple[BatchSizeRun, F64]]:
    """The runs already done in ``out`` with these settings (a record and its
    weights each), read and checked before anything trains: a record edited out of
    shape is a ValueError naming the file and the field."""
    folder = None if out is None else Path(out) / BATCH_SIZE_RUNS
    if folder is not None and folder.is_symlink():
        outputs.own_folder(folder)  # the one-line refusal
    if folder is None or not folder.is_dir():
        return {}
    plan = setup.plan
    model = build(
        setup.base.replace(batch_size=plan.batch_sizes[0]), setup.dataset
    ).own_model
    size = model.params.buffers[model.dtype].size
    found = {}
    for batch in plan.batch_sizes:
        for seed in range(plan.seeds):
            name = f"bs{batch}-seed{seed}"
            path = folder / f"{name}.json"
            run = saved_run(path, _own(setup.settings, batch, seed), BatchSizeRun)
            weights = folder / f"{name}.npy"
            if run is None or not weights.is_file():
                continue
            if (run.batch_size, run.seed) != (batch, seed):
                raise ValueError(
                    f"study record {path}: run.batch_size and run.seed must be "
                    f"{batch} and {seed}, got {run.batch_size} and {run.seed}"
                )
            found[batch, seed] = (run, load_weights(weights, size))
    return found


def _own(settings: dict[str, Any], batch: int, seed: int) -> dict[str, Any]:
    """The settings of one run, as its record keeps them."""
    own = {**settings, "batch_size": batch, "seed": seed}
    del own["batch_sizes"], own["seeds"]
    return own


def _warnings(runs: Sequence[BatchSizeRun], until: str, max_epochs: int) -> list[str]:
    notes = [
        f"batch size {r.batch_size}, seed {r.seed} diverged: {r.message}"
        for r in runs
        if r.diverged
    ]
    notes += [
        f"batch size {r.batch_size}, seed {r.seed} did not reach {until} in "
        f"{max_epochs} epochs (it ended at training loss {r.train_loss:.4g})"
        for r in runs
        if not r.reached and not r.diverged
    ]
    losses = [r.train_loss for r in runs if not r.diverged]
    if losses and min(losses) > 0 and max(losses) / min(losses) > 2:
        notes.append(
            f"the runs end at training losses from {min(losses):.3g} to "
            f"{max(losses):.3g} ({max(losses) / min(losses):.1f}x apart): their "
            "sharpness is not compared at equal training progress"
        )
    return notes


class _Setup(NamedTuple):
    """A plan with its data loaded and its names built, before anything trains."""

    plan: BatchSize
    settings: dict[str, Any]
    base: RunSpec
    dataset: data.Dataset


def _setup(plan: BatchSize) -> _Setup:
    if not isinstance(plan, BatchSize):
        _checks.fail("batch-size study", "plan", "a BatchSize", plan)
    base = RunSpec(
        data=plan.data,
        data_path=plan.data_path,
        model=plan.model,
        activation=plan.activation,
        dtype=plan.dtype,
        optimizer=plan.optimizer,
        lr=plan.lr,
        train=TrainConfig(epochs=1),
    )
    dataset = load_data(base)
    if not dataset.classes:
        _checks.fail("BatchSize", "data", "a classification data set", plan.data)
    build(base.replace(batch_size=plan.batch_sizes[0]), dataset)  # checks the names
    settings = {**plan.to_dict(), "n_train": dataset.n_train}
    return _Setup(plan, settings, base, dataset)


class BatchSizeReady:
    """A :class:`BatchSize` plan ready to run (see :func:`prepare`): its data
    loaded, its names built, the runs already done in ``out`` read and checked,
    ``out`` claimed."""

    def __init__(self, plan: BatchSize, out: Folder | None = None) -> None:
        self.setup = _setup(plan)
        self.saved = _saved_runs(out, self.setup)
        self.out = None if out is None else outputs.claim(out, KIND)
        self.folder = None
        if self.out is not None:  # a link planted there is refused, not followed
            self.folder = outputs.own_folder(self.out / BATCH_SIZE_RUNS)

    def run(
        self, *, progress: Progress = None, command: str = "gdlab study batch-size"
    ) -> BatchSizeResult:
        """Train and measure every run not done yet; write the results, the
        figures and ``report.html`` into ``out``. ``progress`` is called with one
        line per run."""
        plan, dataset = self.setup.plan, self.setup.dataset
        sizes = plan.batch_sizes
        runs: list[BatchSizeRun] = []
        thetas: dict[tuple[int, int], F64] = {}
        for size in sizes:
            for seed in range(plan.seeds):
                if (size, seed) in self.saved:
                    run, theta = self.saved[size, seed]
                    done = " (already done)"
                else:
                    run, theta = self._train(size, seed)
                    done = ""
                runs.append(run)
                thetas[size, seed] = theta
                if progress is not None:
                    progress(_run_line(run) + done)
        interpolation = None
        for seed in range(plan.seeds):
            ends = (sizes[0], sizes[-1])
            pair = [r for r in runs if r.seed == seed and r.batch_size in ends]
            if all(not r.diverged for r in pair):
                spec = self.setup.base.replace(batch_size=sizes[0])
                template = build(spec, dataset).own_model
                with one_blas_thread():
                    curves = interpolate(
                        template, thetas[sizes[0], seed], thetas[sizes[-1], seed],
                        dataset,
                    )  # fmt: skip
                interpolation = Interpolation.from_dict(
                    {"seed": seed, "small": sizes[0], "large": sizes[-1], **curves}
                )
                break
        warnings = _warnings(runs, plan.until, plan.max_epochs)
        result = BatchSizeResult(
            plan, dataset.n_train, tuple(runs), interpolation, tuple(warnings)
        )
        if self.out is not None:
            from gdlab.report.studies import batch_size_report

            results = result.results()
            outputs.write_text(
                self.out / "results.json", strict_json(results.to_dict())
            )
            _write_csv(self.out / "results.csv", runs)
            batch_size_report(results, self.out, command=command)
        return result

    def _train(self, size: int, seed: int) -> tuple[BatchSizeRun, F64]:
        """One run, trained and measured, its record and weights saved."""
        plan = self.setup.plan
        spec = self.setup.base.replace(batch_size=size, seed=seed)
        until = parse_until(plan.until)
        with one_blas_thread():
            run, theta = _batch_size_run(
                spec, self.setup.dataset, until, plan.max_epochs, plan.samples,
                plan.epsilon,
            )  # fmt: skip
        if self.folder is not None:
            name = f"bs{size}-seed{seed}"
            save = functools.partial(np.save, arr=theta)
            outputs.write_atomic(self.folder / f"{name}.npy", save)
            own = _own(self.setup.settings, size, seed)
            outputs.write_text(
                self.folder / f"{name}.json",
                strict_json({"settings": own, "run": run.to_dict()}),
            )
        return run, theta


KIND = "study batch-size"
"""The output folder's kind (``outputs.KINDS``)."""


def prepare(plan: BatchSize, *, out: Folder | None = None) -> BatchSizeReady:
    """Everything :func:`run` checks before anything trains, as a step of its
    own (a command hands it what its user typed): the data, the model and
    optimizer names, the records of the runs already done in ``out``; then
    ``out`` is claimed for this study."""
    return BatchSizeReady(plan, out)


def run(
    plan: BatchSize,
    *,
    out: Folder | None = None,
    progress: Progress = None,
    command: str = "gdlab study batch-size",
) -> BatchSizeResult:
    """Train the plan's model at each batch size (seeds 0..``seeds``−1, the same
    initial weights for every batch size) until the same training loss or number
    of steps, and measure each solution.

    ``out``: a folder for the results (one file per run, ``results.json``,
    ``results.csv``, the figures, ``report.html``); a rerun with the same plan
    skips the runs already there. ``progress``: called with one line per run.
    """
    return prepare(plan, out=out).run(progress=progress, command=command)


def _run_line(run: BatchSizeRun) -> str:
    if run.diverged:
        return f"batch {run.batch_size} seed {run.seed}: diverged ({run.message})"
    status = "" if run.reached else " (target not reached)"
    return (
        f"batch {run.batch_size} seed {run.seed}: {run.steps} steps "
        f"({run.epochs:g} epochs), train loss {run.train_loss:.4g}{status}, "
        f"λmax {run.lambda_max:.4g}, ε-sharpness {run.epsilon_sharpness:.4g}, "
        f"test acc {run.test_acc if run.test_acc is not None else math.nan:.3f}, "
        f"{run.seconds:.1f} s"
    )


def _write_csv(path: Path, runs: Sequence[BatchSizeRun]) -> None:
    names = list(runs[0].to_dict()) if runs else []

    def draw(f: IO[str]) -> None:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(r.to_dict() for r in runs)

    outputs.write_csv(path, draw)


__all__ = [
    "BATCH_SIZE_RUNS",
    "BatchSize",
    "BatchSizeReady",
    "BatchSizeResult",
    "BatchSizeRun",
    "Interpolation",
    "parse_until",
    "prepare",
    "run",
]
