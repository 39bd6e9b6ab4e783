r"""Gradient descent at the edge of stability (Cohen et al., 2021).

:func:`edge_of_stability` runs full-batch gradient descent (optionally heavy-ball
momentum) at a few learning rates, records the training loss at every step and
λmax every ``every`` steps (Lanczos on Hessian-vector products, warm-started from
the previous top eigenvector). The loss of a quadratic diverges once
λmax > 2/η (2(1+β)/η with momentum β); a network instead *sharpens* until λmax
reaches that threshold and then hovers there while its loss keeps falling, not
monotonically.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks, models, optim, outputs
from gdlab.experiment import RunSpec, load_data
from gdlab.lab.sharpness import training_loss
from gdlab.lab.studies.measures import top_eigenpair
from gdlab.lab.studies.records import (
    REFERENCES,
    checked_run,
    saved_run,
    strict_json,
)
from gdlab.lab.threads import one_blas_thread
from gdlab.params import F64

Echo = Callable[[str], None] | None
Folder = str | Path

EOS_RUNS = "edge-of-stability-runs"
"""The folder of one file per edge-of-stability run."""
NEAR = 0.2
"""λmax within this fraction of 2/η counts as "at the edge of stability"."""
STAY = 0.9
"""The share of later measurements that must be that near for a run to stay there."""


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


def check_edge_of_stability(
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
) -> None:
    """What :func:`edge_of_stability` checks before anything trains (its arguments
    but ``command`` and ``echo``), as a step of its own: a command checks what its
    user typed with it, and the records of the runs done in ``out``, then runs."""
    settings, *_ = _checked(
        data=data, data_path=data_path, samples=samples, hidden=hidden,
        activation=activation, loss=loss, lrs=lrs, momentum=momentum, steps=steps,
        every=every, seed=seed,
    )  # fmt: skip
    _saved_runs(out, settings)


def _checked(
    *,
    data: str,
    data_path: str | None,
    samples: int,
    hidden: Sequence[int],
    activation: str,
    loss: str,
    lrs: Sequence[float],
    momentum: float,
    steps: int,
    every: int,
    seed: int,
) -> tuple[dict[str, Any], F64, NDArray[Any], Callable[[], models.Model]]:
    """:func:`check_edge_of_stability`, giving back the settings, the data (inputs,
    targets) and a maker of the initial model."""
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
    return settings, X, Y, fresh


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
    settings, X, Y, fresh = _checked(
        data=data, data_path=data_path, samples=samples, hidden=hidden,
        activation=activation, loss=loss, lrs=lrs, momentum=momentum, steps=steps,
        every=every, seed=seed,
    )  # fmt: skip
    rates, beta = settings["lrs"], settings["momentum"]
    n_steps, k = settings["steps"], settings["every"]
    folder = None if out is None else outputs.writable(out, "out") / EOS_RUNS
    if folder is not None:
        outputs.own_folder(folder)  # a link planted there is refused, not followed
    saved = _saved_runs(out, settings)
    runs = []
    for lr in rates:
        own = {**settings, "lr": lr}
        del own["lrs"]
        path = None if folder is None else folder / run_file(lr, beta)
        if lr in saved:
            run, done = saved[lr], " (already done)"
        else:
            with one_blas_thread():
                run, done = _edge_run(fresh(), X, Y, lr, beta, n_steps, k), ""
            if path is not None:
                outputs.write_text(
                    path, strict_json({"settings": own, "run": run.to_dict()})
                )
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
        outputs.write_text(Path(out) / "results.json", strict_json(results))
        edge_of_stability_report(results, out, command=command)
    return study


_RUN_KINDS = {
    "lr": "number",
    "momentum": "number",
    "threshold": "number",
    "steps": "counts",
    "lambda_max": "measures",
    "loss": "measures",
    "diverged": "flag",
    "seconds": "number",
}
"""What each field of a saved :class:`EdgeRun` holds (see records.KINDS); the
record's reached_step, near_fraction, median_ratio and verdict are computed again."""
_DERIVED = ("reached_step", "near_fraction", "median_ratio", "verdict")


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
        record = saved_run(path, own)
        if record is None:  # a folder from before run_file
            path = path.with_name(f"lr{lr:g}-momentum{beta:g}.json")
            record = saved_run(path, own)
        if record is None:
            continue
        values = checked_run(path, record, _RUN_KINDS, _DERIVED)
        steps, lams = values["steps"], values["lambda_max"]
        if (values["lr"], values["momentum"]) != (lr, beta) or len(steps) != len(lams):
            raise ValueError(
                f"study record {path}: run must be the run of lr {lr} and momentum "
                f"{beta} with one lambda_max per step, got lr {values['lr']}, "
                f"momentum {values['momentum']}, {len(steps)} steps and "
                f"{len(lams)} lambda_max"
            )
        found[lr] = EdgeRun(**values)
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
    "EOS_RUNS",
    "NEAR",
    "STAY",
    "EdgeOfStability",
    "EdgeRun",
    "check_edge_of_stability",
    "edge_of_stability",
    "run_file",
]
