r"""Gradient descent at the edge of stability (Cohen et al., 2021).

:func:`run` of an :class:`EdgeOfStability` plan trains with
:func:`~gdlab.train.fit`: full-batch gradient descent (optionally heavy-ball
momentum) at a few learning rates, the training loss at every step, and λmax every
``every`` steps, measured by a callback (Lanczos on Hessian-vector products,
warm-started from the previous top eigenvector). The loss of a quadratic diverges
once λmax > 2/η (2(1+β)/η with momentum β); a network instead *sharpens* until
λmax reaches that threshold and then hovers there while its loss keeps falling,
not monotonically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks, data, models, optim, outputs
from gdlab.callbacks import Callback, Step
from gdlab.experiment import RunSpec, load_data
from gdlab.lab.sharpness import training_loss
from gdlab.lab.studies.measures import top_eigenpair
from gdlab.lab.studies.records import REFERENCES, saved_run, strict_json
from gdlab.lab.threads import one_blas_thread
from gdlab.models.mlp import ACTIVATIONS
from gdlab.params import F64
from gdlab.records import (
    Constraint,
    Record,
    at_least,
    each,
    number,
    one_of,
    optional,
    text,
)
from gdlab.study_results import (
    DERIVED,
    NEAR,
    EdgeOfStabilityReport,
    EdgeRun,
    EdgeSettings,
)
from gdlab.train import TrainConfig, fit

Progress = Callable[[str], None] | None
Folder = str | Path

EOS_RUNS = "edge-of-stability-runs"
"""The folder of one file per edge-of-stability run."""
STAY = 0.9
"""The share of later measurements that must be that near for a run to stay there."""


def _rates(owner: str, name: str, value: object) -> tuple[float, ...]:
    rates = each(number(0.0, low_open=True))(owner, name, value)
    if not rates:
        _checks.fail(owner, name, "at least one learning rate", value)
    return tuple(rates)


@dataclass(frozen=True)
class EdgeOfStability(Record):
    """The plan of the edge-of-stability study, checked when made.

    Fields:
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

    Defaults, and why: 1000 digits, a tanh MLP of four hidden layers of 100, MSE,
    as Cohen et al. do (tanh and MSE: a smooth loss and the clearest progressive
    sharpening). Depth matters: with one or two hidden layers λmax grows from about
    1.5 to barely 2 in 3000 steps, with four from 2 to about 5. The learning rates
    put 2/η at 4, 3.3 and 2.9 — above λmax at the start (2.1), below where it would
    otherwise go — so each run sharpens, reaches 2/η within a few hundred steps,
    and stays there. Fashion-MNIST starts sharp (λmax ≈ 10) and flattens first.
    About half a minute per learning rate on two idle cores.
    """

    data: str = "digits"
    data_path: str | None = None
    samples: int = 1000
    hidden: tuple[int, ...] = (100, 100, 100, 100)
    activation: str = "tanh"
    loss: str = "mse"
    lrs: tuple[float, ...] = (0.5, 0.6, 0.7)
    momentum: float = 0.0
    steps: int = 1500
    every: int = 25
    seed: int = 0

    constraints: ClassVar[dict[str, Constraint]] = {
        "data": text,
        "data_path": optional(text),
        "samples": at_least(2),
        "hidden": each(at_least(1)),
        "activation": one_of(*ACTIVATIONS),
        "loss": one_of("mse", "cross-entropy"),
        "lrs": _rates,
        "momentum": number(0.0, 1.0, high_open=True),
        "steps": at_least(1),
        "every": at_least(1),
        "seed": at_least(0),
    }


@dataclass(frozen=True)
class EdgeOfStabilityResult(Record):
    """The runs of an :class:`EdgeOfStability` plan; ``samples`` is how many
    training rows they used."""

    plan: EdgeOfStability
    samples: int
    runs: tuple[EdgeRun, ...]

    @property
    def settings(self) -> EdgeSettings:
        """The plan, with the rows used, as ``results.json`` keeps it."""
        return EdgeSettings.from_dict({**self.plan.to_dict(), "samples": self.samples})

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

    def results(self) -> EdgeOfStabilityReport:
        """``results.json``: the settings, the runs, the findings."""
        return EdgeOfStabilityReport(
            study="edge-of-stability",
            settings=self.settings,
            runs=self.runs,
            findings=tuple(self.findings()),
            references=(REFERENCES["cohen"],),
        )

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


DIVERGED = 1e6
"""A run whose loss grows to this multiple of its initial loss has diverged."""


class _Sharpness(Callback):
    """Records what :class:`EdgeRun` holds while :func:`~gdlab.train.fit` trains:
    the loss at every θ_t (a step's loss is at the weights before its update) and
    λmax every ``every`` steps and at the last; stops the run whose loss is not
    finite or has grown :data:`DIVERGED`-fold."""

    def __init__(
        self, model: models.Model, X: F64, Y: NDArray[Any], steps: int, every: int
    ) -> None:
        self.model, self.X, self.Y = model, X, Y
        self.last, self.every = steps, every
        self.losses: list[float] = []
        self.at: list[int] = []
        self.lams: list[float] = []
        self.vector: F64 | None = None
        self.diverged = False

    def measure(self, t: int) -> bool:
        """The loss at θ_t (kept at t = 0 and at the last step), then λmax
        there; True if the loss shows the run diverged."""
        loss_and_grad = training_loss(self.model, self.X, self.Y)
        with np.errstate(over="ignore", invalid="ignore"):
            value = float(loss_and_grad(None)[0])
        if t in (0, self.last) or self._blew_up(value):
            self.losses.append(value)
        if self.diverged:
            return True
        lam, self.vector = top_eigenpair(loss_and_grad, self.model.params, self.vector)
        self.at.append(t)
        self.lams.append(lam)
        return False

    def _blew_up(self, value: float) -> bool:
        first = self.losses[0] if self.losses else value
        self.diverged = not math.isfinite(value) or value > DIVERGED * first
        return self.diverged

    def on_step(self, step: Step, optimizer: optim.Optimizer) -> bool:
        if step.step > 1:  # the loss at θ_0 is measured before the first step
            self.losses.append(step.loss)
            if self._blew_up(step.loss):
                return True
        if step.step % self.every == 0 or step.step == self.last:
            return self.measure(step.step)
        return False


def _edge_run(
    model: models.Model,
    dataset: data.Dataset,
    lr: float,
    momentum: float,
    steps: int,
    every: int,
) -> EdgeRun:
    """Full-batch GD on ``dataset``'s training rows by :func:`~gdlab.train.fit`,
    measured by :class:`_Sharpness`."""
    started = time.perf_counter()
    opt = optim.create("sgd", model.params, lr, momentum=momentum)
    X, Y = dataset.X_train, dataset.y_train
    measured = _Sharpness(model, X, Y, steps, every)
    if not measured.measure(0):
        config = TrainConfig(
            batch_size="full", iterations=steps, eval_every=steps,
            evaluate_test=False,
        )  # fmt: skip
        with np.errstate(over="ignore", invalid="ignore"):
            history = fit(
                model, opt, dataset, config, progress=False, verbose=False,
                callbacks=[measured],
            )  # fmt: skip
        if history.diverged and not measured.diverged:  # fit stopped it first:
            measured.losses.append(math.nan)  # a loss or gradient not finite
            measured.diverged = True
    return EdgeRun(
        lr=lr,
        momentum=momentum,
        threshold=2.0 * (1.0 + momentum) / lr,
        steps=tuple(measured.at),
        lambda_max=tuple(measured.lams),
        loss=tuple(measured.losses),
        diverged=measured.diverged,
        seconds=round(time.perf_counter() - started, 3),
    )


KIND = "study edge-of-stability"
"""The output folder's kind (``outputs.KINDS``)."""


class EdgeOfStabilityReady:
    """An :class:`EdgeOfStability` plan ready to run (see :func:`prepare`): its
    data loaded, its model built, the runs already done in ``out`` read and
    checked, ``out`` claimed."""

    def __init__(self, plan: EdgeOfStability, out: Folder | None = None) -> None:
        if not isinstance(plan, EdgeOfStability):
            _checks.fail("edge-of-stability study", "plan", "an EdgeOfStability", plan)
        self.plan = plan
        self.dataset = _data(plan)
        self.fresh()  # the model of this plan can be built
        self.settings = {**plan.to_dict(), "samples": self.dataset.n_train}
        self.saved = _saved_runs(out, self.settings)
        self.out = None if out is None else outputs.claim(out, KIND)
        self.folder = None
        if self.out is not None:  # a link planted there is refused, not followed
            self.folder = outputs.own_folder(self.out / EOS_RUNS)

    def fresh(self) -> models.Model:
        """The initial model (the same weights for every learning rate)."""
        plan = self.plan
        y = self.dataset.y_train  # one-hot targets for MSE, else labels
        outputs = y.shape[1] if y.ndim == 2 else len(self.dataset.classes)
        sizes = [self.dataset.n_features, *plan.hidden, outputs]
        return models.MLP(
            sizes,
            activation=plan.activation,
            loss="mse" if plan.loss == "mse" else "softmax_cross_entropy",
            seed=plan.seed,
        )

    def run(
        self,
        *,
        progress: Progress = None,
        command: str = "gdlab study edge-of-stability",
    ) -> EdgeOfStabilityResult:
        """Train every learning rate not done yet; write the results, the figure
        and ``report.html`` into ``out``. ``progress`` is called with one line
        per run."""
        plan, beta = self.plan, self.plan.momentum
        runs = []
        for lr in plan.lrs:
            if lr in self.saved:
                run, done = self.saved[lr], " (already done)"
            else:
                with one_blas_thread():
                    run = _edge_run(
                        self.fresh(), self.dataset, lr, beta, plan.steps, plan.every
                    )
                done = ""
                if self.folder is not None:
                    own = {**self.settings, "lr": lr}
                    del own["lrs"]
                    outputs.write_text(
                        self.folder / run_file(lr, beta),
                        strict_json(
                            {"settings": own, "run": run.to_dict(derived=True)}
                        ),
                    )
            runs.append(run)
            if progress is not None:
                progress(
                    f"lr {lr:g}, momentum {beta:g} (threshold {run.threshold:.4g}): "
                    f"final loss {run.loss[-1]:.4g}, {run.verdict()}, "
                    f"{run.seconds:.1f} s{done}"
                )
        result = EdgeOfStabilityResult(plan, self.dataset.n_train, tuple(runs))
        if self.out is not None:
            from gdlab.report.studies import edge_of_stability_report

            results = result.results()
            outputs.write_text(
                self.out / "results.json", strict_json(results.to_dict())
            )
            edge_of_stability_report(results, self.out, command=command)
        return result


def _data(plan: EdgeOfStability) -> data.Dataset:
    """The plan's first ``samples`` training rows, centered, as the training set
    (and, unread, the test set): one-hot float targets for MSE, labels for
    cross-entropy."""
    spec = RunSpec(
        data=plan.data, data_path=plan.data_path, dtype="float64", val_fraction=None
    )
    dataset = load_data(spec)
    if not dataset.classes:
        _checks.fail("EdgeOfStability", "data", "a classification data set", plan.data)
    X = np.asarray(dataset.X_train[: plan.samples], dtype=np.float64)
    X = X - X.mean(axis=0)
    labels = np.asarray(dataset.y_train[: plan.samples])
    mse = plan.loss == "mse"
    Y = np.eye(len(dataset.classes))[labels] if mse else labels
    return data.Dataset(
        X_train=X, y_train=Y, X_test=X, y_test=Y,
        classes=() if mse else dataset.classes,
        name=f"{dataset.name}[:{len(X)}], centered",
    )  # fmt: skip


def prepare(
    plan: EdgeOfStability, *, out: Folder | None = None
) -> EdgeOfStabilityReady:
    """Everything :func:`run` checks before anything trains, as a step of its
    own (a command hands it what its user typed): the data, the model, the
    records of the runs already done in ``out``; then ``out`` is claimed."""
    return EdgeOfStabilityReady(plan, out)


def run(
    plan: EdgeOfStability,
    *,
    out: Folder | None = None,
    progress: Progress = None,
    command: str = "gdlab study edge-of-stability",
) -> EdgeOfStabilityResult:
    """Full-batch gradient descent (heavy-ball momentum if ``momentum`` > 0) at
    each learning rate of ``plan`` from the same initial weights; the loss every
    step, λmax every ``every`` steps.

    ``out``: a folder for one file per run, ``results.json``, the figure and
    ``report.html``; a rerun with the same plan skips finished runs.
    ``progress``: called with one line per run.
    """
    return prepare(plan, out=out).run(progress=progress, command=command)


def _saved_runs(out: Folder | None, settings: dict[str, Any]) -> dict[float, EdgeRun]:
    """The runs already done in ``out`` with these settings, by lr, read and
    checked before anything trains: a record edited out of shape is a ValueError
    naming the file and the field."""
    folder = None if out is None else Path(out) / EOS_RUNS
    if folder is not None and folder.is_symlink():
        outputs.own_folder(folder)  # the one-line refusal
    if folder is None or not folder.is_dir():
        return {}
    beta, found = settings["momentum"], {}
    for lr in settings["lrs"]:
        own = {**settings, "lr": lr}
        del own["lrs"]
        path = folder / run_file(lr, beta)
        run = saved_run(path, own, EdgeRun, DERIVED)
        if run is None:  # a folder from before run_file
            path = path.with_name(f"lr{lr:g}-momentum{beta:g}.json")
            run = saved_run(path, own, EdgeRun, DERIVED)
        if run is None:
            continue
        if (run.lr, run.momentum) != (lr, beta):
            raise ValueError(
                f"study record {path}: run.lr and run.momentum must be {lr} and "
                f"{beta}, got {run.lr} and {run.momentum}"
            )
        found[lr] = run
    return found


def run_file(lr: float, momentum: float) -> str:
    """The file of one run: ``lr0.5-momentum0.json``, each number as ``:g`` shows
    it where that is exact, else its ``repr`` (``lr0.5000001``: two learning rates
    that ``:g`` rounds alike wrote one file, the second over the first)."""

    def exact(x: float) -> str:
        short = f"{x:g}"
        return short if float(short) == x else repr(float(x))

    return f"lr{exact(lr)}-momentum{exact(momentum)}.json"


__all__ = [
    "DIVERGED",
    "EOS_RUNS",
    "NEAR",
    "STAY",
    "EdgeOfStability",
    "EdgeOfStabilityReady",
    "EdgeOfStabilityResult",
    "EdgeRun",
    "prepare",
    "run",
    "run_file",
]
