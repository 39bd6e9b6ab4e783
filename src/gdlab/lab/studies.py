r"""Two studies whose conclusions hold: batch size and sharpness at equal training
progress (Keskar et al., 2017), and gradient descent at the edge of stability
(Cohen et al., 2021).

:func:`batch_size_study` trains one model from the same initial weights at each
batch size *until the same training loss* (or the same number of steps) and
measures each solution: λmax of the training loss (:func:`~gdlab.lab.sharpness`),
Keskar's ε-sharpness (:func:`epsilon_sharpness`), train and test accuracy and
their gap, and the losses along the line θ(α) = (1−α)·θ_small + α·θ_large through
the smallest and the largest batch's solutions. Comparing runs stopped after the
same number of *epochs* says nothing: a batch of 512 has then taken 32 times fewer
steps than a batch of 16 and is simply less trained, so it looks flatter.

:func:`edge_of_stability` runs full-batch gradient descent (optionally heavy-ball
momentum) at a few learning rates, records the training loss at every step and
λmax every ``every`` steps (Lanczos on Hessian-vector products, warm-started from
the previous top eigenvector). The loss of a quadratic diverges once
λmax > 2/η (2(1+β)/η with momentum β); a network instead *sharpens* until λmax
reaches that threshold and then hovers there while its loss keeps falling, not
monotonically.

Both write their results into ``out`` as each run ends (``*-runs/`` holds one file
per run; a rerun with the same settings skips the runs already there), then
``results.json`` and ``report.html`` (:mod:`gdlab.report.studies`).

References:
    Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, *On Large-Batch Training for Deep
    Learning: Generalization Gap and Sharp Minima*, ICLR 2017.
    https://arxiv.org/abs/1609.04836
    Cohen, Kaur, Li, Kolter, Talwalkar, *Gradient Descent on Neural Networks
    Typically Occurs at the Edge of Stability*, ICLR 2021.
    https://arxiv.org/abs/2103.00065
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib
import itertools
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, data, models, optim, outputs
from gdlab.experiment import RunSpec, build, load_data
from gdlab.lab.analysis import hessian_vector_product
from gdlab.lab.sharpness import DEFAULT_SAMPLES, sharpness, training_loss
from gdlab.train import TrainConfig, evaluate, fit

F64 = NDArray[np.float64]
Echo = Callable[[str], None] | None
Folder = str | Path

BATCH_SIZE_RUNS = "batch-size-runs"
"""The folder of one file per batch-size run (its sign: see ``outputs.KINDS``)."""
EOS_RUNS = "edge-of-stability-runs"
"""The folder of one file per edge-of-stability run."""
ALPHAS = tuple(k / 10 for k in range(-10, 21))
"""α of the interpolation θ(α) = (1−α)·θ_small + α·θ_large: −1 to 2 by 0.1; 0 and
1 exactly (the two solutions themselves)."""
LANCZOS_TOL = 1e-6
LANCZOS_NCV = 8
"""Lanczos vectors per restart: warm-started, 8 converge in about 15 products
where ARPACK's default 20 always spends 21."""
NEAR = 0.2
"""λmax within this fraction of 2/η counts as "at the edge of stability"."""
STAY = 0.9
"""The share of later measurements that must be that near for a run to stay there."""
REFERENCES = {
    "keskar": "Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, On Large-Batch Training "
    "for Deep Learning: Generalization Gap and Sharp Minima, ICLR 2017. "
    "https://arxiv.org/abs/1609.04836",
    "cohen": "Cohen, Kaur, Li, Kolter, Talwalkar, Gradient Descent on Neural "
    "Networks Typically Occurs at the Edge of Stability, ICLR 2021. "
    "https://arxiv.org/abs/2103.00065",
}


# --- measures ----------------------------------------------------------------------


def epsilon_sharpness(
    model: models.Model,
    X: ArrayLike,
    y: ArrayLike,
    epsilon: float = 1e-3,
    *,
    maxiter: int = 10,
) -> float:
    r"""Keskar's ε-sharpness of ``model``'s cost on ``(X, y)``, in percent:

    .. math::
        \phi(\varepsilon) = 100\cdot\frac{\max_{|\delta_i|\le\varepsilon(|\theta_i|+1)}
        f(\theta+\delta) - f(\theta)}{1 + f(\theta)}

    The box maximization is L-BFGS-B (``maxiter`` iterations, as Keskar's 10) from
    the corner the gradient points to, in a float64 copy (``model`` is unchanged).
    The loss is not concave there, so this is a lower bound of the maximum; it is 0
    at ε = 0 and grows with ε.
    """
    from scipy.optimize import minimize

    owner = "epsilon_sharpness"
    eps = _checks.number(owner, "epsilon", epsilon, low=0.0)
    iterations = _checks.integer(owner, "maxiter", maxiter, low=1)
    copy = model.astype(np.float64)
    X64 = np.asarray(X, dtype=np.float64)
    buffer = copy.params.buffers[np.dtype(np.float64)]
    theta: F64 = buffer.astype(np.float64)

    def negative(point: F64) -> tuple[float, F64]:
        buffer[...] = point
        value, grads = copy.loss_and_grad(X64, y)
        return -value, -grads.buffers[np.dtype(np.float64)].astype(np.float64)

    minus_f0, minus_g0 = negative(theta)
    radius = eps * (np.abs(theta) + 1.0)
    start = theta - radius * np.sign(minus_g0)  # the corner the gradient points to
    found = minimize(
        negative,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=np.column_stack([theta - radius, theta + radius]),
        options={"maxiter": iterations},
    )
    highest = max(-negative(start)[0], -float(found.fun))
    return 100.0 * (highest + minus_f0) / (1.0 - minus_f0)


def top_eigenpair(
    loss_and_grad: Callable[[Any], tuple[Any, Any]],
    params: Any,
    v0: ArrayLike | None = None,
    *,
    tol: float = LANCZOS_TOL,
) -> tuple[float, F64]:
    """λmax of the Hessian at ``params`` and its unit eigenvector, by Lanczos
    (``eigsh`` on a ``LinearOperator`` of
    :func:`~gdlab.lab.hessian_vector_product`), started from ``v0`` (a warm start:
    the previous eigenvector) or from a fixed vector."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = sum(np.asarray(a).size for a in params.values())
    op = LinearOperator(
        (n, n),
        matvec=lambda v: hessian_vector_product(loss_and_grad, params, v),
        dtype=np.float64,
    )
    start = (
        np.random.default_rng(0).uniform(0.5, 1.5, n)
        if v0 is None
        else np.asarray(v0, dtype=np.float64)
    )
    values, vectors = eigsh(
        op, k=1, which="LA", v0=start, tol=tol, ncv=min(LANCZOS_NCV, n)
    )
    return float(values[0]), np.asarray(vectors[:, 0], dtype=np.float64)


def interpolate(
    model: models.Model,
    theta_a: ArrayLike,
    theta_b: ArrayLike,
    dataset: data.Dataset,
    alphas: Sequence[float] = ALPHAS,
) -> dict[str, list[float | None]]:
    """Train and test loss and accuracy at θ(α) = (1−α)·θ_a + α·θ_b for each α
    (``model`` is a template: a copy takes the weights), as lists by α."""
    copy = model.copy()
    buffer = copy.params.buffers[copy.dtype]
    a = np.asarray(theta_a, dtype=np.float64)
    b = np.asarray(theta_b, dtype=np.float64)
    curves: dict[str, list[float | None]] = {
        "alpha": [float(x) for x in alphas],
        **{k: [] for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
    }
    for alpha in alphas:
        buffer[...] = (1.0 - alpha) * a + alpha * b
        for part in ("train", "test"):
            with np.errstate(over="ignore", invalid="ignore"):
                loss, acc = evaluate(
                    copy, getattr(dataset, f"X_{part}"), getattr(dataset, f"y_{part}")
                )
            curves[f"{part}_loss"].append(loss)
            curves[f"{part}_acc"].append(acc)
    return curves


# --- files -----------------------------------------------------------------------


def _one_blas_thread() -> Any:
    """One BLAS thread, as every run of a sweep: these products are too small to
    share between threads, and the numbers then do not depend on the thread count
    (so a resumed study matches an uninterrupted one bit for bit)."""
    return importlib.import_module("threadpoolctl").threadpool_limits(limits=1)


def _json(value: Any) -> str:
    """Strict JSON: NaN and infinities become null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=1, allow_nan=False) + "\n"


def _saved(path: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run recorded at ``path`` if it was made with exactly ``settings``."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("settings") != json.loads(
        _json(dict(settings))
    ):
        return None
    run = record.get("run")
    return run if isinstance(run, dict) else None


# --- batch size and sharpness --------------------------------------------------------


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
            lines.append(
                f"{name}: {lo:.3g} ± {small[key + '_std']:.2g} at batch {b}, "
                f"{hi:.3g} ± {large[key + '_std']:.2g} at batch {big} ({hi / lo:.2g}x)"
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


def _epoch_seed(seed: int, epoch: int) -> int:
    """The batch-order seed of one epoch of a run."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class _Trainer:
    """Trains one run epoch by epoch with :func:`~gdlab.train.fit`; to a training
    loss, it evaluates 8 times per epoch and stops at the first evaluation that
    reaches it (the epoch is redone from a copy up to there: fit does not stop)."""

    CHECKS_PER_EPOCH = 8

    def __init__(self, spec: RunSpec, dataset: data.Dataset) -> None:
        run = build(spec, dataset)
        self.model, self.optimizer, self.dataset = run.model, run.optimizer, dataset
        self.batch_size = int(spec.train.batch_size)
        self.seed = spec.train.seed
        self.per_epoch = spec.train.steps_per_epoch(dataset.n_train)
        self.steps = 0
        self.message = ""

    def _fit(
        self, epoch: int, steps: int, every: int | Literal["epoch"] = "epoch"
    ) -> Any:
        return fit(
            self.model,
            self.optimizer,
            self.dataset,
            TrainConfig(
                iterations=steps,
                batch_size=self.batch_size,
                seed=_epoch_seed(self.seed, epoch),
                eval_every=every,
            ),
            progress=False,
            verbose=False,
        )

    def run(self, kind: str, target: float, max_epochs: int) -> bool | None:
        """Train to ``target``; True if reached, False if not, None if diverged."""
        X, y = self.dataset.X_train, self.dataset.y_train
        if kind == "loss" and evaluate(self.model, X, y)[0] <= target:
            return True
        every: int | Literal["epoch"] = "epoch"
        if kind == "loss":
            every = math.ceil(self.per_epoch / self.CHECKS_PER_EPOCH)
        for epoch in range(max_epochs) if kind == "loss" else itertools.count():
            todo = self.per_epoch
            if kind == "steps":
                todo = min(todo, int(target) - self.steps)
                if todo == 0:
                    return True
            params, state = self.model.params.copy(), self.optimizer.state_dict()
            history = self._fit(epoch, todo, every)
            if history.diverged:
                self.steps += len(history.steps)
                self.message = history.message
                return None
            reached = (e["step"] for e in history.epochs if e["train_loss"] <= target)
            first = next(reached, None) if kind == "loss" else None
            if first is not None:
                if first < todo:
                    for dtype, buffer in params.buffers.items():
                        self.model.params.buffers[dtype][...] = buffer
                    self.optimizer.load_state_dict(state)
                    self._fit(epoch, int(first))
                self.steps += int(first)
                return True
            self.steps += todo
        return False


def _batch_size_run(
    spec: RunSpec,
    dataset: data.Dataset,
    until: tuple[str, float],
    max_epochs: int,
    samples: int | None,
    epsilon: float,
) -> tuple[BatchSizeRun, F64]:
    started = time.perf_counter()
    trainer = _Trainer(spec, dataset)
    outcome = trainer.run(*until, max_epochs)
    model = trainer.model
    theta = model.params.buffers[model.dtype].astype(np.float64)
    ds = dataset
    with np.errstate(over="ignore", invalid="ignore"):
        train_loss, train_acc = evaluate(model, ds.X_train, ds.y_train)
        test_loss, test_acc = evaluate(model, ds.X_test, ds.y_test)
    diverged = outcome is None or not math.isfinite(train_loss)
    lam = eps_sharp = math.nan
    if not diverged:
        n = len(ds.X_train) if samples is None else samples
        lam = sharpness(model, ds.X_train, ds.y_train, samples=samples)
        eps_sharp = epsilon_sharpness(model, ds.X_train[:n], ds.y_train[:n], epsilon)
    gap = None if train_acc is None or test_acc is None else train_acc - test_acc
    run = BatchSizeRun(
        batch_size=trainer.batch_size,
        seed=spec.train.seed,
        steps=trainer.steps,
        epochs=round(trainer.steps / trainer.per_epoch, 4),
        reached=outcome is True,
        diverged=diverged,
        message=trainer.message,
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


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def _load_run(record: dict[str, Any]) -> BatchSizeRun:
    values = dict(record)
    for key in ("train_loss", "test_loss", "lambda_max", "epsilon_sharpness"):
        values[key] = _nan(values[key])
    return BatchSizeRun(**values)


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
        epsilon: the box of :func:`epsilon_sharpness` (Keskar used 1e-3; see below).
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
    owner = "batch_size_study"
    kind_target = parse_until(until)
    sizes = [_checks.integer(owner, "batch_sizes", b, low=1) for b in batch_sizes]
    if len(set(sizes)) < 2:
        _checks.fail(owner, "batch_sizes", "at least two different sizes", batch_sizes)
    sizes = sorted(set(sizes))
    n_seeds = _checks.integer(owner, "seeds", seeds, low=1)
    eps = _checks.number(owner, "epsilon", epsilon, low=0.0)
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
    folder = None if out is None else outputs.writable(out, "out") / BATCH_SIZE_RUNS
    if folder is not None:
        folder.mkdir(exist_ok=True)
    runs: list[BatchSizeRun] = []
    thetas: dict[tuple[int, int], F64] = {}
    for size in sizes:
        for seed in range(n_seeds):
            own = {**settings, "batch_size": size, "seed": seed}
            del own["batch_sizes"], own["seeds"]
            name = f"bs{size}-seed{seed}"
            record = None if folder is None else _saved(folder / f"{name}.json", own)
            weights = None if folder is None else folder / f"{name}.npy"
            if record is not None and weights is not None and weights.is_file():
                run, theta = _load_run(record), np.load(weights)
                done = " (already done)"
            else:
                spec = base.replace(batch_size=size, seed=seed)
                with _one_blas_thread():
                    run, theta = _batch_size_run(
                        spec, dataset, kind_target, budget, samples, eps
                    )
                done = ""
                if folder is not None and weights is not None:
                    outputs.write_atomic(weights, functools.partial(np.save, arr=theta))
                    outputs.write_text(
                        folder / f"{name}.json",
                        _json({"settings": own, "run": asdict(run)}),
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
            template = build(base.replace(batch_size=sizes[0]), dataset).model
            with _one_blas_thread():
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
        outputs.write_text(Path(out) / "results.json", _json(results))
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


# --- the edge of stability ---------------------------------------------------------


@dataclass(frozen=True)
class EdgeRun:
    """Full-batch GD at one learning rate: the loss at every step (``loss[t]`` at
    θ_t, t = 0..steps) and λmax at the steps in ``steps``."""

    lr: float
    momentum: float
    threshold: float
    steps: list[int]
    lambda_max: list[float]
    loss: list[float]
    diverged: bool
    seconds: float

    @property
    def reached_step(self) -> int | None:
        """The first step where λmax >= (1 − NEAR)·threshold, or None."""
        for t, lam in zip(self.steps, self.lambda_max, strict=True):
            if lam >= (1 - NEAR) * self.threshold:
                return t
        return None

    def near_fraction(self) -> float | None:
        """The share of λmax measurements from :attr:`reached_step` on within
        ±NEAR of the threshold (None if never reached)."""
        ratios = self._after()
        if not ratios:
            return None
        return sum(abs(r - 1) <= NEAR for r in ratios) / len(ratios)

    def median_ratio(self) -> float | None:
        """The median of λmax / threshold from :attr:`reached_step` on."""
        ratios = self._after()
        return statistics.median(ratios) if ratios else None

    def _after(self) -> list[float]:
        start = self.reached_step
        if start is None:
            return []
        return [
            lam / self.threshold
            for t, lam in zip(self.steps, self.lambda_max, strict=True)
            if t >= start
        ]

    def verdict(self) -> str:
        """One line: where λmax went relative to 2/η."""
        if self.diverged:
            return f"diverged at step {len(self.loss) - 1}"
        start, near = self.reached_step, self.near_fraction()
        if start is None or near is None:
            top = max(self.lambda_max, default=math.nan)
            return (
                f"λmax never came within {NEAR:.0%} of the threshold (at most "
                f"{top / self.threshold:.0%} of it)"
            )
        median = self.median_ratio() or math.nan
        return (
            f"λmax reached {1 - NEAR:.0%} of the threshold at step {start}; "
            f"afterwards {near:.0%} of measurements within ±{NEAR:.0%} "
            f"(median λmax/threshold {median:.2f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "reached_step": self.reached_step,
            "near_fraction": self.near_fraction(),
            "median_ratio": self.median_ratio(),
            "verdict": self.verdict(),
        }


@dataclass(frozen=True)
class EdgeOfStability:
    """The runs of :func:`edge_of_stability` and the settings that made them."""

    settings: dict[str, Any]
    runs: tuple[EdgeRun, ...]

    def findings(self) -> list[str]:
        """Whether every run sharpened to its threshold and stayed there."""
        runs = self.runs
        edge = [r for r in runs if (r.near_fraction() or 0) >= STAY]
        below = all(r.lambda_max[0] < (1 - NEAR) * r.threshold for r in runs)
        start = ", ".join(f"{r.lambda_max[0]:.3g}" for r in runs)
        lines = [
            f"λmax at the start: {start} — "
            + ("below every threshold" if below else "not below every threshold")
        ]
        if len(edge) == len(runs):
            lines.insert(
                0,
                f"Every run's λmax rose to within {NEAR:.0%} of its threshold "
                f"2(1+β)/η and stayed within {NEAR:.0%} of it for at least "
                f"{STAY:.0%} of the later measurements: gradient descent at "
                "the edge of stability",
            )
        else:
            names = ", ".join(f"lr {r.lr:g}" for r in runs if r not in edge)
            lines.insert(
                0,
                f"{len(edge)} of {len(runs)} runs rose to within {NEAR:.0%} of their "
                f"threshold and stayed there; not: {names}",
            )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": "edge-of-stability",
            "settings": self.settings,
            "runs": [r.to_dict() for r in self.runs],
            "findings": self.findings(),
            "references": [REFERENCES["cohen"]],
        }

    def format(self) -> str:
        lines = [
            f"{'lr':>8} {'momentum':>8} {'threshold':>9} {'final loss':>10} "
            f"{'final λmax':>10}  verdict"
        ]
        for r in self.runs:
            lines.append(
                f"{r.lr:>8g} {r.momentum:>8g} {r.threshold:>9.4g} "
                f"{r.loss[-1]:>10.4g} {r.lambda_max[-1]:>10.4g}  {r.verdict()}"
            )
        lines.append("(threshold = 2(1 + momentum)/lr, the stability limit of GD)")
        return "\n".join([*lines, *self.findings()])


def _edge_run(
    model: models.Model,
    X: F64,
    Y: NDArray[Any],
    lr: float,
    momentum: float,
    steps: int,
    every: int,
) -> EdgeRun:
    started = time.perf_counter()
    opt = optim.create("sgd", model.params, lr, momentum=momentum)
    losses: list[float] = []
    at: list[int] = []
    lams: list[float] = []
    vector: F64 | None = None
    diverged = False
    for t in range(steps + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            value, grads = model.loss_and_grad(X, Y)
        losses.append(value)
        if not math.isfinite(value) or value > 1e6 * losses[0]:
            diverged = True
            break
        if t % every == 0 or t == steps:
            grads = grads.copy()  # the products below overwrite the model's
            lam, vector = top_eigenpair(
                training_loss(model, X, Y), model.params, vector
            )
            at.append(t)
            lams.append(lam)
        if t < steps:
            opt.step(grads)
    return EdgeRun(
        lr=lr,
        momentum=momentum,
        threshold=2.0 * (1.0 + momentum) / lr,
        steps=at,
        lambda_max=lams,
        loss=losses,
        diverged=diverged,
        seconds=round(time.perf_counter() - started, 3),
    )


def edge_of_stability(
    data: str = "digits",
    *,
    data_path: str | None = None,
    samples: int = 1000,
    hidden: Sequence[int] = (100, 100, 100, 100),
    activation: str = "tanh",
    loss: str = "mse",
    lrs: Sequence[float] = (0.5, 0.6, 0.7),
    momentum: float = 0.0,
    steps: int = 1500,
    every: int = 25,
    seed: int = 0,
    out: Folder | None = None,
    command: str = "gdlab study edge-of-stability",
    echo: Echo = None,
) -> EdgeOfStability:
    """Full-batch gradient descent (heavy-ball momentum if ``momentum`` > 0) at each
    learning rate from the same initial weights; the loss every step, λmax every
    ``every`` steps.

    Args:
        data, data_path: a classification data set; the first ``samples`` training
            rows are used, centered (their mean subtracted).
        hidden, activation: the MLP's hidden widths and activation.
        loss: ``"mse"`` (on one-hot targets, :func:`gdlab.losses.mse`: the mean
            over samples *and* outputs) or ``"cross-entropy"``.
        lrs: learning rates η; each run's threshold is 2(1 + momentum)/η.
        momentum: β of heavy-ball momentum (``optim.SGD(momentum=β)``).
        steps, every: GD steps per run; λmax every ``every`` steps (and at the end),
            Lanczos warm-started from the previous top eigenvector.
        seed: the initial weights.
        out: a folder for one file per run, ``results.json``, the figure and
            ``report.html``; a rerun with the same settings skips finished runs.
        echo: called with one line per run.

    Defaults, and why: 1000 digits, a tanh MLP of four hidden layers of 100, MSE,
    as Cohen et al. do (tanh and MSE: a smooth loss and the clearest progressive
    sharpening). Depth matters: with one or two hidden layers λmax grows from about
    1.5 to barely 2 in 3000 steps, with four from 2 to about 5. The learning rates
    put 2/η at 4, 3.3 and 2.9 — above λmax at the start (2.1), below where it would
    otherwise go — so each run sharpens, reaches 2/η within a few hundred steps,
    and stays there. Fashion-MNIST starts sharp (λmax ≈ 10) and flattens first.
    About half a minute per learning rate on two idle cores.
    """
    owner = "edge_of_stability"
    widths = [_checks.integer(owner, "hidden", h, low=1) for h in hidden]
    rates = [_checks.number(owner, "lrs", r, low=0.0, low_open=True) for r in lrs]
    if not rates:
        _checks.fail(owner, "lrs", "at least one learning rate", lrs)
    beta = _checks.number(
        owner, "momentum", momentum, low=0.0, high=1.0, high_open=True
    )
    n_steps = _checks.integer(owner, "steps", steps, low=1)
    k = _checks.integer(owner, "every", every, low=1)
    n = _checks.integer(owner, "samples", samples, low=2)
    loss_name = _checks.choice(owner, "loss", loss, ("mse", "cross-entropy"))
    dataset = load_data(
        RunSpec(data=data, data_path=data_path, dtype="float64", val_fraction=None)
    )
    if not dataset.classes:
        _checks.fail(owner, "data", "a classification data set", data)
    X = np.asarray(dataset.X_train[:n], dtype=np.float64)
    X = X - X.mean(axis=0)
    labels = np.asarray(dataset.y_train[:n])
    Y: NDArray[Any] = (
        np.eye(len(dataset.classes))[labels] if loss_name == "mse" else labels
    )
    sizes = [X.shape[1], *widths, len(dataset.classes)]

    def fresh() -> models.Model:
        return models.MLP(
            sizes,
            activation=activation,
            loss="mse" if loss_name == "mse" else "softmax_cross_entropy",
            seed=_checks.integer(owner, "seed", seed, low=0),
        )

    fresh()  # checks the activation now
    settings: dict[str, Any] = {
        "data": data,
        "data_path": data_path,
        "samples": len(X),
        "hidden": widths,
        "activation": activation,
        "loss": loss_name,
        "lrs": rates,
        "momentum": beta,
        "steps": n_steps,
        "every": k,
        "seed": seed,
    }
    folder = None if out is None else outputs.writable(out, "out") / EOS_RUNS
    if folder is not None:
        folder.mkdir(exist_ok=True)
    runs = []
    for lr in rates:
        own = {**settings, "lr": lr}
        del own["lrs"]
        path = None if folder is None else folder / f"lr{lr:g}-momentum{beta:g}.json"
        record = None if path is None else _saved(path, own)
        if record is not None:
            values = {f.name: record[f.name] for f in dataclasses.fields(EdgeRun)}
            values["loss"] = [_nan(v) for v in values["loss"]]
            run, done = EdgeRun(**values), " (already done)"
        else:
            with _one_blas_thread():
                run, done = _edge_run(fresh(), X, Y, lr, beta, n_steps, k), ""
            if path is not None:
                outputs.write_text(path, _json({"settings": own, "run": run.to_dict()}))
        runs.append(run)
        if echo is not None:
            echo(
                f"lr {lr:g}, momentum {beta:g} (threshold {run.threshold:.4g}): "
                f"final loss {run.loss[-1]:.4g}, {run.verdict()}, "
                f"{run.seconds:.1f} s{done}"
            )
    study = EdgeOfStability(settings, tuple(runs))
    if out is not None:
        from gdlab.report.studies import edge_of_stability_report

        results = study.to_dict()
        outputs.write_text(Path(out) / "results.json", _json(results))
        edge_of_stability_report(results, out, command=command)
    return study


__all__ = [
    "ALPHAS",
    "BatchSizeRun",
    "BatchSizeStudy",
    "EdgeOfStability",
    "EdgeRun",
    "batch_size_study",
    "edge_of_stability",
    "epsilon_sharpness",
    "interpolate",
    "parse_until",
    "top_eigenpair",
]
