r"""Batch size and sharpness at equal training progress (Keskar et al., 2017).

:func:`batch_size_study` trains one model from the same initial weights at each
batch size *until the same training loss* (or the same number of steps) and
measures each solution: λmax of the training loss (:func:`~gdlab.lab.sharpness`),
Keskar's ε-sharpness, train and test accuracy and their gap, and the losses along
the line θ(α) = (1−α)·θ_small + α·θ_large through the smallest and the largest
batch's solutions. Comparing runs stopped after the same number of *epochs* says
nothing: a batch of 512 has then taken 32 times fewer steps than a batch of 16 and
is simply less trained, so it looks flatter.
"""

from __future__ import annotations

import csv
import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from gdlab import _checks, data, outputs
from gdlab.callbacks import StopAt
from gdlab.experiment import Run, RunSpec, build, load_data
from gdlab.lab.sharpness import DEFAULT_SAMPLES, sharpness
from gdlab.lab.studies.measures import epsilon_sharpness, interpolate
from gdlab.lab.studies.records import (
    REFERENCES,
    checked_run,
    load_weights,
    saved_run,
    strict_json,
)
from gdlab.lab.threads import one_blas_thread
from gdlab.params import F64
from gdlab.train import TrainConfig, evaluate, fit

Echo = Callable[[str], None] | None
Folder = str | Path

BATCH_SIZE_RUNS = "batch-size-runs"
"""The folder of one file per batch-size run (its sign: see ``outputs.KINDS``)."""


def parse_until(until: str) -> tuple[str, float]:
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
            "batch_size_study",
            "until",
            "'loss:X' (a training loss X > 0) or 'steps:N' (N >= 1)",
            until,
        )
    return kind, (int(value) if kind == "steps" else value)


@dataclass(frozen=True)
class BatchSizeRun:
    """One run of the batch-size study: how far it trained and what it measured."""

    batch_size: int
    seed: int
    steps: int
    epochs: float
    reached: bool
    diverged: bool
    message: str
    train_loss: float
    train_acc: float | None
    test_loss: float
    test_acc: float | None
    gap: float | None
    lambda_max: float
    epsilon_sharpness: float
    seconds: float


@dataclass(frozen=True)
class BatchSizeStudy:
    """The runs, their summary by batch size, the interpolation and the warnings."""

    settings: dict[str, Any]
    runs: tuple[BatchSizeRun, ...]
    interpolation: dict[str, Any] | None
    warnings: tuple[str, ...]

    def summary(self) -> list[dict[str, Any]]:
        """Per batch size: runs, reached, and mean ± std of each measure over the
        seeds that did not diverge."""
        rows = []
        for size in self.settings["batch_sizes"]:
            mine = [r for r in self.runs if r.batch_size == size]
            ok = [r for r in mine if not r.diverged]
            row: dict[str, Any] = {
                "batch_size": size,
                "runs": len(mine),
                "reached": sum(r.reached for r in mine),
                "diverged": sum(r.diverged for r in mine),
            }
            for key in (
                "steps",
                "train_loss",
                "lambda_max",
                "epsilon_sharpness",
                "train_acc",
                "test_acc",
                "gap",
            ):
                values = [v for r in ok if (v := getattr(r, key)) is not None]
                row[key] = statistics.fmean(values) if values else math.nan
                row[f"{key}_std"] = (
                    statistics.pstdev(values) if len(values) > 1 else 0.0
                )
            rows.append(row)
        return rows

    def findings(self) -> list[str]:
        """What the runs show, smallest against largest batch, in words."""
        rows = [r for r in self.summary() if r["runs"] > r["diverged"]]
        if len(rows) < 2:
            return ["fewer than two batch sizes trained without diverging"]
        small, large = rows[0], rows[-1]
        b, big = small["batch_size"], large["batch_size"]
        lines, sharper = [], []
        for key, name in (("lambda_max", "λmax"), ("epsilon_sharpness", "ε-sharpness")):
            lo, hi = small[key], large[key]
            ratio = f"{hi / lo:.2g}x" if lo != 0 else "no ratio to 0"
            lines.append(
                f"{name}: {lo:.3g} ± {small[key + '_std']:.2g} at batch {b}, "
                f"{hi:.3g} ± {large[key + '_std']:.2g} at batch {big} ({ratio})"
            )
            if hi > lo:
                sharper.append(name)
        if not math.isnan(small["test_acc"]):
            lines.append(
                f"test accuracy {small['test_acc']:.3f} at batch {b}, "
                f"{large['test_acc']:.3f} at batch {big}; generalization gap "
                f"{small['gap']:.3f} and {large['gap']:.3f}"
            )
        losses = [r.train_loss for r in self.runs if not r.diverged]
        where = f"final training losses {min(losses):.3g} to {max(losses):.3g}"
        if any("x apart" in w for w in self.warnings):
            where += ": more than 2x apart, not comparable"
        by = " and ".join(sharper) if sharper else "neither measure"
        verdict = f"The largest batch's solution is sharper by {by} ({where})"
        return [verdict, *lines]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": "batch-size",
            "settings": self.settings,
            "runs": [asdict(r) for r in self.runs],
            "summary": self.summary(),
            "interpolation": self.interpolation,
            "warnings": list(self.warnings),
            "findings": self.findings(),
            "references": [REFERENCES["keskar"]],
        }

    def format(self) -> str:
        """A table by batch size, then the warnings."""
        until = self.settings["until"]
        lines = [
            f"{'batch':>6} {'reached':>8} {'steps':>7} {'train loss':>11} "
            f"{'λmax':>15} {'ε-sharpness':>17} {'train acc':>9} {'test acc':>8} "
            f"{'gap':>6}"
        ]
        for r in self.summary():
            lines.append(
                f"{r['batch_size']:>6} {r['reached']:>4}/{r['runs']:<3} "
                f"{r['steps']:>7.0f} {r['train_loss']:>11.4g} "
                f"{r['lambda_max']:>7.3g} ± {r['lambda_max_std']:<5.2g} "
                f"{r['epsilon_sharpness']:>8.3g} ± {r['epsilon_sharpness_std']:<6.2g} "
                f"{r['train_acc']:>9.3f} {r['test_acc']:>8.3f} {r['gap']:>6.3f}"
            )
        lines.append(
            f"(until {until}; mean ± std over seeds; ε-sharpness in % at ε = "
            f"{self.settings['epsilon']:g}; gap = train acc − test acc)"
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
    config = TrainConfig(
        batch_size=train.batch_size, seed=train.seed, evaluate_test=False, **length
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


_RUN_KINDS = {
    "batch_size": "count",
    "seed": "count",
    "steps": "count",
    "epochs": "number",
    "reached": "flag",
    "diverged": "flag",
    "message": "text",
    "train_loss": "measure",
    "train_acc": "optional",
    "test_loss": "measure",
    "test_acc": "optional",
    "gap": "optional",
    "lambda_max": "measure",
    "epsilon_sharpness": "measure",
    "seconds": "number",
}
"""What each field of a saved :class:`BatchSizeRun` holds (see records.KINDS)."""


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
    settings, base = setup.settings, setup.base
    model = build(
        base.replace(batch_size=settings["batch_sizes"][0]), setup.dataset
    ).own_model
    size = model.params.buffers[model.dtype].size
    found = {}
    for batch in settings["batch_sizes"]:
        for seed in range(settings["seeds"]):
            own = _own(settings, batch, seed)
            name = f"bs{batch}-seed{seed}"
            record = saved_run(folder / f"{name}.json", own)
            weights = folder / f"{name}.npy"
            if record is None or not weights.is_file():
                continue
            values = checked_run(folder / f"{name}.json", record, _RUN_KINDS)
            if (values["batch_size"], values["seed"]) != (batch, seed):
                raise ValueError(
                    f"study record {folder / f'{name}.json'}: run.batch_size and "
                    f"run.seed must be {batch} and {seed}, got "
                    f"{values['batch_size']} and {values['seed']}"
                )
            found[batch, seed] = (BatchSizeRun(**values), load_weights(weights, size))
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
    """A study checked, before anything trains."""

    settings: dict[str, Any]
    base: RunSpec
    dataset: data.Dataset
    until: tuple[str, float]
    budget: int


def check_batch_size_study(
    data: str = "digits",
    *,
    data_path: str | None = None,
    model: str = "mlp",
    activation: str = "relu",
    optimizer: str = "sgd",
    lr: float = 0.5,
    batch_sizes: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024),
    until: str = "loss:0.01",
    seeds: int = 3,
    epsilon: float = 1e-2,
    samples: int | None = DEFAULT_SAMPLES,
    max_epochs: int = 3000,
    dtype: str = "float32",
    out: Folder | None = None,
) -> None:
    """What :func:`batch_size_study` checks before anything trains (its arguments
    but ``command`` and ``echo``), as a step of its own: a command checks what its
    user typed with it, and the records of runs done in ``out``, then runs."""
    setup = _checked(
        data=data, data_path=data_path, model=model, activation=activation,
        optimizer=optimizer, lr=lr, batch_sizes=batch_sizes, until=until,
        seeds=seeds, epsilon=epsilon, samples=samples, max_epochs=max_epochs,
        dtype=dtype,
    )  # fmt: skip
    _saved_runs(out, setup)


def _checked(
    *,
    data: str,
    data_path: str | None,
    model: str,
    activation: str,
    optimizer: str,
    lr: float,
    batch_sizes: Sequence[int],
    until: str,
    seeds: int,
    epsilon: float,
    samples: int | None,
    max_epochs: int,
    dtype: str,
) -> _Setup:
    owner = "batch_size_study"
    kind_target = parse_until(until)
    sizes = [_checks.integer(owner, "batch_sizes", b, low=1) for b in batch_sizes]
    if len(set(sizes)) < 2:
        _checks.fail(owner, "batch_sizes", "at least two different sizes", batch_sizes)
    sizes = sorted(set(sizes))
    n_seeds = _checks.integer(owner, "seeds", seeds, low=1)
    # ε = 0 makes every ε-sharpness 0: nothing to compare, and no ratio to print
    eps = _checks.number(owner, "epsilon", epsilon, low=0.0, low_open=True)
    budget = _checks.integer(owner, "max_epochs", max_epochs, low=1)
    if samples is not None:
        samples = _checks.integer(owner, "samples", samples, low=1)
    rate = _checks.number(owner, "lr", lr, low=0.0, low_open=True)
    base = RunSpec(
        data=data,
        data_path=data_path,
        model=model,
        activation=activation,
        dtype=dtype,
        optimizer=optimizer,
        lr=rate,
        train=TrainConfig(epochs=1),
    )
    dataset = load_data(base)
    if not dataset.classes:
        _checks.fail(owner, "data", "a classification data set", data)
    build(base.replace(batch_size=sizes[0]), dataset)  # checks the names now
    settings: dict[str, Any] = {
        "data": data,
        "data_path": data_path,
        "model": model,
        "activation": activation,
        "optimizer": optimizer,
        "lr": rate,
        "dtype": dtype,
        "batch_sizes": sizes,
        "until": until,
        "seeds": n_seeds,
        "epsilon": eps,
        "samples": samples,
        "max_epochs": budget,
        "n_train": dataset.n_train,
    }
    return _Setup(settings, base, dataset, kind_target, budget)


def batch_size_study(
    data: str = "digits",
    *,
    data_path: str | None = None,
    model: str = "mlp",
    activation: str = "relu",
    optimizer: str = "sgd",
    lr: float = 0.5,
    batch_sizes: Sequence[int] = (16, 32, 64, 128, 256, 512, 1024),
    until: str = "loss:0.01",
    seeds: int = 3,
    epsilon: float = 1e-2,
    samples: int | None = DEFAULT_SAMPLES,
    max_epochs: int = 3000,
    dtype: str = "float32",
    out: Folder | None = None,
    command: str = "gdlab study batch-size",
    echo: Echo = None,
) -> BatchSizeStudy:
    """Train ``model`` at each batch size (seeds 0..``seeds``−1, the same initial
    weights for every batch size) until the same training loss or number of steps,
    and measure each solution.

    Args:
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
        out: a folder for the results (one file per run, ``results.json``,
            ``results.csv``, the figures, ``report.html``); a rerun with the same
            settings skips the runs already there.
        echo: called with one line per run.

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
    setup = _checked(
        data=data, data_path=data_path, model=model, activation=activation,
        optimizer=optimizer, lr=lr, batch_sizes=batch_sizes, until=until,
        seeds=seeds, epsilon=epsilon, samples=samples, max_epochs=max_epochs,
        dtype=dtype,
    )  # fmt: skip
    settings, base, dataset = setup.settings, setup.base, setup.dataset
    sizes, n_seeds, budget = settings["batch_sizes"], settings["seeds"], setup.budget
    kind_target, samples, eps = setup.until, settings["samples"], settings["epsilon"]
    folder = None if out is None else outputs.writable(out, "out") / BATCH_SIZE_RUNS
    if folder is not None:
        outputs.own_folder(folder)  # a link planted there is refused, not followed
    saved = _saved_runs(out, setup)
    runs: list[BatchSizeRun] = []
    thetas: dict[tuple[int, int], F64] = {}
    for size in sizes:
        for seed in range(n_seeds):
            own = _own(settings, size, seed)
            name = f"bs{size}-seed{seed}"
            weights = None if folder is None else folder / f"{name}.npy"
            if (size, seed) in saved:
                run, theta = saved[size, seed]
                done = " (already done)"
            else:
                spec = base.replace(batch_size=size, seed=seed)
                with one_blas_thread():
                    run, theta = _batch_size_run(
                        spec, dataset, kind_target, budget, samples, eps
                    )
                done = ""
                if folder is not None and weights is not None:
                    outputs.write_atomic(weights, functools.partial(np.save, arr=theta))
                    outputs.write_text(
                        folder / f"{name}.json",
                        strict_json({"settings": own, "run": asdict(run)}),
                    )
            runs.append(run)
            thetas[size, seed] = theta
            if echo is not None:
                echo(_run_line(run) + done)
    interpolation = None
    for seed in range(n_seeds):
        pair = [
            r for r in runs if r.seed == seed and r.batch_size in (sizes[0], sizes[-1])
        ]
        if all(not r.diverged for r in pair):
            template = build(base.replace(batch_size=sizes[0]), dataset).own_model
            with one_blas_thread():
                curves = interpolate(
                    template, thetas[sizes[0], seed], thetas[sizes[-1], seed], dataset
                )
            interpolation = {
                "seed": seed,
                "small": sizes[0],
                "large": sizes[-1],
                **curves,
            }
            break
    study = BatchSizeStudy(
        settings, tuple(runs), interpolation, tuple(_warnings(runs, until, budget))
    )
    if out is not None:
        from gdlab.report.studies import batch_size_report

        results = study.to_dict()
        outputs.write_text(Path(out) / "results.json", strict_json(results))
        _write_csv(Path(out) / "results.csv", runs)
        batch_size_report(results, out, command=command)
    return study


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
    names = list(asdict(runs[0])) if runs else []

    def draw(f: IO[str]) -> None:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        writer.writerows(asdict(r) for r in runs)

    outputs.write_csv(path, draw)


__all__ = [
    "BATCH_SIZE_RUNS",
    "BatchSizeRun",
    "BatchSizeStudy",
    "batch_size_study",
    "check_batch_size_study",
    "parse_until",
]
