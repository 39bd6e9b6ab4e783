"""The training loop: ``fit()`` a model with an optimizer on a dataset, get a History.

Read it top to bottom: each step draws the next mini-batch, computes the loss and its
gradient by backprop, stops the run if either is not finite, clips the gradient norm
if asked, and lets the optimizer update the parameters. Each epoch ends with the loss
and accuracy on the whole train and test sets, one printed line and a checkpoint.

Checkpoints (see :mod:`gdlab.checkpoint`) hold the parameters, the optimizer state
(its step count drives any schedule), the batch order's RNG state at the start of the
epoch, the position in the epoch and the history, so ``resume`` continues a killed
run to bit-identical parameters.
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import reprlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from gdlab import _checks, checkpoint, losses, outputs
from gdlab.data import Dataset, batches, num_batches
from gdlab.models import Model, TrainableModel
from gdlab.optim import Optimizer
from gdlab.schedules import ReduceOnPlateau

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EVAL_CHUNK = 10_000
SAMPLING = ("without-replacement", "with-replacement")
STEP_FIELDS = ("step", "loss", "lr")
EPOCH_FIELDS = (
    "epoch",
    "step",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "test_loss",
    "test_acc",
    "lr",
    "seconds",
)


@dataclass
class History:
    """What a run recorded: per step ``{step, loss, lr}``; per evaluation ``{epoch,
    step, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, lr,
    seconds}`` (accuracies are None for regression, validation numbers without a
    validation split, test numbers when the run keeps the test set unread).
    ``diverged`` and ``message`` say how it stopped."""

    steps: list[dict[str, float]] = field(default_factory=list)
    epochs: list[dict[str, float | None]] = field(default_factory=list)
    diverged: bool = False
    message: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": {k: [s[k] for s in self.steps] for k in STEP_FIELDS},
            "epochs": self.epochs,
            "diverged": self.diverged,
            "message": self.message,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> History:
        columns = values["steps"]
        steps = [
            dict(zip(STEP_FIELDS, row, strict=True))
            for row in zip(*(columns[k] for k in STEP_FIELDS), strict=True)
        ]
        return cls(
            steps,
            list(values["epochs"]),
            bool(values["diverged"]),
            str(values["message"]),
            dict(values["config"]),
        )

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the history as JSON (atomically)."""
        outputs.write_text(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> History:
        """Read a history written by :meth:`to_json` (plain JSON: runs no code)."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"history {path} is unreadable: {error}") from None

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the per-epoch rows as CSV (atomically)."""

        def draw(f: IO[str]) -> None:
            writer = csv.DictWriter(f, fieldnames=EPOCH_FIELDS)
            writer.writeheader()
            writer.writerows(self.epochs)

        outputs.write_csv(path, draw)

    def to_frame(self, per: str = "epoch") -> Any:
        """The evaluations (``per="epoch"``) or the steps (``per="step"``) as a
        pandas DataFrame (``pip install 'gdlab[notebook]'``)."""
        from gdlab import _display

        if per not in ("epoch", "step"):
            _checks.fail("History.to_frame", "per", "'epoch' or 'step'", per)
        if per == "step":
            return _display.frame("History.to_frame", self.steps, STEP_FIELDS)
        return _display.frame("History.to_frame", self.epochs, EPOCH_FIELDS)

    def plot(self, ax: Axes | None = None) -> Figure:
        """The training loss of every step and its moving average, drawn into
        ``ax`` (a new Figure when None); returns the Figure."""
        from gdlab.report.plots import plot_loss_curves

        if not self.steps:
            _checks.fail("History.plot", "the history", "at least one step", 0)
        label = str(self.config.get("optimizer", "train (mini-batch)"))
        return plot_loss_curves({label: [s["loss"] for s in self.steps]}, ax=ax)

    def _repr_html_(self) -> str:
        from gdlab import _display

        shown = [
            k for k in EPOCH_FIELDS if any(e.get(k) is not None for e in self.epochs)
        ]
        what = str(self.config.get("optimizer") or "a run")
        if "data" in self.config:
            what += f" on {self.config['data'].get('name', '?')}"
        state = "diverged" if self.diverged else "finished"
        caption = (
            f"History of {what}: {len(self.steps)} steps, "
            f"{len(self.epochs)} evaluations, {state}"
        )
        if self.message:
            caption += f" ({self.message})"
        return _display.table(caption, self.epochs, shown)


@dataclass
class _Position:
    rng_state: dict[str, Any]  # of the batch order, at the start of the epoch
    step: int = 0
    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch


def fingerprint(
    model: TrainableModel,
    optimizer: Optimizer,
    dataset: Dataset,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues."""
    groups = [
        {k: repr(v) if callable(v) else v for k, v in g.items() if k != "params"}
        for g in optimizer.param_groups
    ]
    plain: dict[str, Any] = json.loads(
        json.dumps(
            {
                "model": repr(model),
                "optimizer": type(optimizer).__name__,
                "param_groups": groups,
                "data": {
                    "name": dataset.name,
                    "train": list(dataset.X_train.shape),
                    "test": list(dataset.X_test.shape),
                },
                **settings,
            }
        )
    )
    return plain


def _uint(value: object, bits: int | None = None) -> bool:
    """Whether ``value`` is an int >= 0 (and < 2**bits when given)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return False
    return bits is None or value < 2**bits


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Meta:
    """Checks of a checkpoint's metadata: a file a user may have edited by hand, so
    input like any other; each error names the file and the key."""

    def __init__(self, meta: Mapping[str, Any], path: Path) -> None:
        self.meta, self.owner = meta, f"checkpoint {path}"

    def need(self, ok: bool, key: str, requirement: str, value: object) -> None:
        if not ok:
            shown = reprlib.repr(value)  # a history can be long
            raise ValueError(f"{self.owner}: {key} must be {requirement}, got {shown}")

    def get(self, key: str, kind: type, requirement: str) -> Any:
        value = self.meta.get(key)
        self.need(isinstance(value, kind), key, requirement, value)
        return value

    def check(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Check every key a resume reads; return the settings and the spec."""
        self.need(
            self.meta.get("version") == 1, "version", "1", self.meta.get("version")
        )
        p = self.get("position", dict, "an object")
        for key in ("step", "epoch", "batch"):
            self.need(
                _uint(p.get(key)), f"position.{key}", "an integer >= 0", p.get(key)
            )
        rng = p.get("rng_state")
        self.need(
            isinstance(rng, dict)
            and set(rng) == {"bit_generator", "state", "has_uint32", "uinteger"}
            and rng["bit_generator"] == "PCG64"
            and isinstance(rng["state"], dict)
            and set(rng["state"]) == {"state", "inc"}
            and all(_uint(v, 128) for v in rng["state"].values())
            and _uint(rng["has_uint32"], 1)
            and _uint(rng["uinteger"], 32),
            "position.rng_state",
            "a PCG64 state as numpy's bit_generator.state gives it",
            rng,
        )
        h = self.get("history", dict, "an object")
        steps = h.get("steps")
        self.need(
            isinstance(steps, dict)
            and set(steps) == set(STEP_FIELDS)
            and all(
                isinstance(c, list) and all(map(_is_number, c)) for c in steps.values()
            )
            and len({len(c) for c in steps.values()}) == 1,
            "history.steps",
            f"columns {', '.join(STEP_FIELDS)} of as many numbers",
            steps,
        )
        epochs = h.get("epochs")
        self.need(
            isinstance(epochs, list) and all(isinstance(e, dict) for e in epochs),
            "history.epochs",
            "a list of objects",
            epochs,
        )
        for key, kind, what in (
            ("diverged", bool, "true or false"),
            ("message", str, "a string"),
            ("config", dict, "an object"),
        ):
            self.need(isinstance(h.get(key), kind), f"history.{key}", what, h.get(key))
        _checks.number(self.owner, "elapsed", self.meta.get("elapsed"), low=0.0)
        self.get("optimizer", dict, "an object")
        plateau = self.meta.get("plateau")
        self.need(
            plateau is None or isinstance(plateau, dict),
            "plateau",
            "null or an object",
            plateau,
        )
        given = self.get("settings", dict, "an object")
        names = inspect.signature(check_settings).parameters
        required = {k for k, v in names.items() if v.default is inspect.Parameter.empty}
        self.need(
            required <= set(given) <= set(names),
            "settings",
            f"an object with keys {', '.join(names)}",
            given,
        )
        spec = self.meta.get("spec")
        self.need(
            spec is None or isinstance(spec, dict), "spec", "null or an object", spec
        )
        try:  # their own checks name the key
            return check_settings(**given), spec
        except (TypeError, ValueError) as error:
            raise ValueError(f"{self.owner}: {error}") from None

    def position(self, per_epoch: int, total: int) -> None:
        """Check that the position fits this run (its batches per epoch, its steps)."""
        p = self.meta["position"]
        self.need(p["step"] <= total, "position.step", f"at most {total}", p["step"])
        self.need(
            p["batch"] <= per_epoch,
            "position.batch",
            f"at most {per_epoch} (batches per epoch)",
            p["batch"],
        )
        at = p["epoch"] * per_epoch + p["batch"]
        self.need(
            p["step"] == at,
            "position.step",
            f"epoch x {per_epoch} + batch = {at}",
            p["step"],
        )
        steps = len(self.meta["history"]["steps"]["step"])
        self.need(
            steps == at, "history.steps", f"{at} rows (one per step)", f"{steps} rows"
        )


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d
            for k in sorted(set(old) | set(new), key=str)
            for d in _differences(
                old.get(k), new.get(k), f"{where}.{k}" if where else str(k)
            )
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in _differences(a, b, f"{where}[{i}]")
        ]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


class _Trainer:
    def __init__(
        self,
        model: TrainableModel,
        optimizer: Optimizer,
        dataset: Dataset,
        settings: dict[str, Any],
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int | None,
        progress: bool,
        verbose: bool,
        plateau: ReduceOnPlateau | None,
        spec: Mapping[str, Any] | None,
    ) -> None:
        self.model, self.optimizer, self.dataset = model, optimizer, dataset
        self.settings = settings
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress
        self.verbose = verbose
        self.plateau = plateau
        self.spec = spec
        n = dataset.n_train
        self.per_epoch = num_batches(n, settings["batch_size"])
        iterations = settings["iterations"]
        self.total = (
            iterations
            if iterations is not None
            else settings["epochs"] * self.per_epoch
        )
        self.n_epochs = math.ceil(self.total / self.per_epoch)
        self.rng = np.random.default_rng(settings["seed"])
        self.position = _Position(dict(self.rng.bit_generator.state))
        self.history = History(config=fingerprint(model, optimizer, dataset, settings))
        self.elapsed = 0.0

    # --- the loop ----------------------------------------------------------------

    def run(self) -> History:
        X, y = self.dataset.X_train, self.dataset.y_train
        pos = self.position
        bar = tqdm(
            total=self.total,
            initial=pos.step,
            disable=not self.progress,
            unit="step",
            leave=False,
            dynamic_ncols=True,
        )
        started = time.perf_counter()
        replace = self.settings["sampling"] == "with-replacement"
        try:
            if self.settings["eval_at_start"] and not self.history.epochs:
                self._evaluate(started, bar)  # the untrained model: step 0
            while pos.step < self.total and not self.history.diverged:
                self.rng.bit_generator.state = pos.rng_state
                loader = iter(
                    batches(
                        X,
                        y,
                        self.settings["batch_size"],
                        seed=self.rng,
                        replace=replace,
                    )
                )
                for _ in range(pos.batch):
                    next(loader)
                every = self.settings["eval_every"]
                for xb, yb in loader:
                    if not self._step(xb, yb, bar):
                        break
                    if every != "epoch" and pos.step % every == 0:
                        self._evaluate(started, bar)
                    if pos.step == self.total:
                        break
                    if self.checkpoint_every and pos.step % self.checkpoint_every == 0:
                        self._save(started)
                if self.history.diverged:
                    break
                if pos.batch == self.per_epoch:  # a whole epoch: the next one starts
                    pos.epoch, pos.batch = pos.epoch + 1, 0
                    pos.rng_state = self.rng.bit_generator.state
                last = self.history.epochs[-1]["step"] if self.history.epochs else 0
                if (every == "epoch" or pos.step == self.total) and last != pos.step:
                    self._evaluate(started, bar)
                self._save(started)
        finally:
            bar.close()
        return self.history

    def _step(self, xb: np.ndarray, yb: np.ndarray, bar: Any) -> bool:
        pos = self.position
        if isinstance(self.model, Model):  # into the model's buffer: no allocation
            loss, grads = self.model.loss_and_grad(xb, yb, out=self.model.grads)
        else:
            loss, grads = self.model.loss_and_grad(xb, yb)
        with np.errstate(over="ignore", invalid="ignore"):  # judged just below
            norm = math.sqrt(sum(float(np.dot(b, b)) for b in grads.buffers.values()))
        lr = self.optimizer.lr
        if not (math.isfinite(loss) and math.isfinite(norm)):
            what = (
                f"loss = {loss}"
                if not math.isfinite(loss)
                else f"gradient norm = {norm}"
            )
            self.history.diverged = True
            self.history.message = (
                f"diverged at step {pos.step + 1}: {what} with lr {lr:g}"
                " — try a smaller learning rate"
            )
            return False
        clip = self.settings["clip_grad_norm"]
        if clip is not None and norm > clip:
            for b in grads.buffers.values():
                b *= clip / (norm + 1e-6)
        self.optimizer.step(grads)
        pos.step += 1
        pos.batch += 1
        self.history.steps.append({"step": pos.step, "loss": loss, "lr": lr})
        bar.update()
        if self.progress and pos.step % 25 == 0:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        return True

    def _evaluate(self, started: float, bar: Any) -> None:
        pos, ds = self.position, self.dataset
        train_loss, train_acc = evaluate(self.model, ds.X_train, ds.y_train)
        val_loss, val_acc = (
            (None, None)
            if ds.X_val is None or ds.y_val is None
            else evaluate(self.model, ds.X_val, ds.y_val)
        )
        test_loss, test_acc = (
            evaluate(self.model, ds.X_test, ds.y_test)
            if self.settings["evaluate_test"]
            else (None, None)
        )
        seconds = self.elapsed + time.perf_counter() - started
        epoch = pos.epoch + pos.batch / self.per_epoch
        row = {
            "epoch": round(epoch, 4),
            "step": pos.step,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": self.optimizer.lr,
            "seconds": round(seconds, 3),
        }
        self.history.epochs.append(row)
        if self.plateau is not None and val_loss is not None:
            self.plateau.step(val_loss)  # a choice: made on validation data
        if self.verbose:
            shown = {"train": train_acc, "val": val_acc, "test": test_acc}
            acc = "".join(
                f"  {k} acc {v:.3f}" for k, v in shown.items() if v is not None
            )
            label = f"{pos.epoch}" if pos.batch == 0 else f"{epoch:.2f}"
            bar.write(
                f"epoch {label}/{self.n_epochs}  loss {train_loss:.3f}{acc}"
                f"  lr {row['lr']:.1e}  {seconds:.1f}s"
            )

    # --- checkpoints -----------------------------------------------------------------

    def _save(self, started: float) -> None:
        if self.checkpoint_dir is None:
            return
        pos = self.position
        state = self.optimizer.state_dict()
        arrays = {f"param/{k}": np.asarray(v) for k, v in self.model.params.items()}
        for name, s in state.pop("state").items():
            arrays.update({f"optim/{name}/{k}": a for k, a in s.items()})
        meta = {
            "version": 1,
            "position": {
                "step": pos.step,
                "epoch": pos.epoch,
                "batch": pos.batch,
                "rng_state": pos.rng_state,
            },
            "optimizer": state,
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
            "history": self.history.to_dict(),
            "elapsed": self.elapsed + time.perf_counter() - started,
            "settings": self.settings,
            "spec": None if self.spec is None else dict(self.spec),
        }
        checkpoint.save(self.checkpoint_dir, pos.step, arrays, meta)

    def restore(self, arrays: Mapping[str, np.ndarray], checked: _Meta) -> None:
        meta, owner = checked.meta, checked.owner
        checked.position(self.per_epoch, self.total)
        saved, mine = meta["history"]["config"], self.history.config
        changed = _differences(saved, mine)
        if changed:
            raise ValueError(
                "cannot resume: the configuration differs from the checkpoint's: "
                + "; ".join(changed)
            )
        params = self.model.params
        names = {k.split("/", 1)[1] for k in arrays if k.startswith("param/")}
        if names != set(params):
            raise ValueError(
                f"cannot resume: the checkpoint has parameters {sorted(names)}, "
                f"the model {sorted(params)}"
            )
        for name, p in params.items():
            a = arrays[f"param/{name}"]
            if (a.shape, a.dtype) != (p.shape, p.dtype):
                raise ValueError(
                    f"{owner}: param/{name} must have shape {p.shape} and dtype "
                    f"{p.dtype}, got shape {a.shape} and dtype {a.dtype}"
                )
        state = dict(meta["optimizer"])
        state["state"] = {name: {} for name in params}
        for key, a in arrays.items():
            if key.startswith("optim/"):
                parts = key.split("/", 2)
                ok = len(parts) == 3 and parts[1] in params
                checked.need(ok, "arrays", "named optim/<parameter>/<state>", key)
                state["state"][parts[1]][parts[2]] = a
        try:
            self.optimizer.load_state_dict(state)
            if self.plateau is not None and meta.get("plateau") is not None:
                self.plateau.load_state_dict(meta["plateau"])
        except ValueError as error:
            raise ValueError(f"{owner}: {error}") from None
        for name in params:
            params[name][...] = arrays[f"param/{name}"]
        p = meta["position"]
        self.position = _Position(
            dict(p["rng_state"]), p["step"], p["epoch"], p["batch"]
        )
        self.history = History.from_dict(meta["history"])
        self.elapsed = float(meta["elapsed"])


def evaluate(
    model: TrainableModel, X: np.ndarray, y: np.ndarray
) -> tuple[float, float | None]:
    """The model's cost (L2 term included) and accuracy (None for regression) on
    ``(X, y)``; softmax models take one forward pass per :data:`EVAL_CHUNK` rows."""
    if not (isinstance(model, Model) and model.loss_name == "softmax_cross_entropy"):
        return model.loss(X, y), (model.accuracy(X, y) if model.is_classifier else None)
    total_loss, correct = 0.0, 0
    for start in range(0, len(X), EVAL_CHUNK):
        z = model.forward(X[start : start + EVAL_CHUNK])
        t = y[start : start + EVAL_CHUNK]
        total_loss += losses.softmax_cross_entropy(z, t)[0] * len(t)
        correct += int(np.sum(np.argmax(z, axis=1) == t))
    return total_loss / len(X) + model.penalty(), correct / len(X)


def check_settings(
    epochs: int | None,
    batch_size: int | str,
    seed: int,
    iterations: int | None,
    clip_grad_norm: float | None,
    eval_every: int | str,
    evaluate_test: bool = True,
    sampling: str = "without-replacement",
    eval_at_start: bool = False,
) -> dict[str, Any]:
    if iterations is not None:
        iterations = _checks.integer("fit", "iterations", iterations, low=1)
    else:
        epochs = _checks.integer("fit", "epochs", epochs, low=1)
    if batch_size != "full":
        batch_size = _checks.integer("fit", "batch_size", batch_size, low=1)
    if clip_grad_norm is not None:
        clip_grad_norm = _checks.number(
            "fit", "clip_grad_norm", clip_grad_norm, low=0.0, low_open=True
        )
    if eval_every != "epoch":
        eval_every = _checks.integer("fit", "eval_every", eval_every, low=1)
    return {
        "epochs": None if iterations is not None else epochs,
        "iterations": iterations,
        "batch_size": batch_size,
        "seed": _checks.integer("fit", "seed", seed, low=0),
        "clip_grad_norm": clip_grad_norm,
        "eval_every": eval_every,
        "evaluate_test": _checks.flag("fit", "evaluate_test", evaluate_test),
        "sampling": _checks.choice("fit", "sampling", sampling, SAMPLING),
        "eval_at_start": _checks.flag("fit", "eval_at_start", eval_at_start),
    }


def fit(
    model: TrainableModel,
    optimizer: Optimizer,
    dataset: Dataset,
    epochs: int | None = 5,
    batch_size: int | str = 100,
    seed: int = 0,
    iterations: int | None = None,
    clip_grad_norm: float | None = None,
    eval_every: int | str = "epoch",
    evaluate_test: bool = True,
    sampling: str = "without-replacement",
    eval_at_start: bool = False,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    progress: bool = True,
    verbose: bool | None = None,
    plateau: ReduceOnPlateau | None = None,
    spec: Mapping[str, Any] | None = None,
) -> History:
    """Train ``model`` on ``dataset.X_train`` with ``optimizer``; evaluate every epoch.

    Args:
        epochs: passes over the training set; or give ``iterations`` (optimizer
            steps) instead, as in "10,000 iterations of batch 100".
        batch_size: samples per step; ``"full"`` for batch gradient descent.
        seed: seeds the batch order.
        sampling: ``"without-replacement"`` (a permutation per epoch) or
            ``"with-replacement"`` (each batch drawn anew, as the course notes'
            ``np.random.choice``; an epoch is then as many batches).
        eval_at_start: also evaluate before the first step (the untrained model,
            a row at step 0).
        clip_grad_norm: rescale the gradient to this L2 norm when it is larger.
        eval_every: ``"epoch"``, or a number of steps between evaluations of the
            loss and accuracy on the whole train, validation and test sets (and at
            the end).
        evaluate_test: False keeps the test set unread (a tuning trial: every
            choice is made on the validation split).
        checkpoint_dir: write a checkpoint there at the end of every epoch (and
            every ``checkpoint_every`` steps); :func:`resume` continues from it.
        progress: show a tqdm progress bar with the running loss.
        verbose: print one line per epoch (default: as ``progress``).
        plateau: a :class:`~gdlab.schedules.ReduceOnPlateau` stepped with the
            validation loss after every evaluation (the dataset needs a validation
            split).
        spec: a description the objects were built from (the CLI stores its
            :class:`~gdlab.experiment.RunSpec` as a dict), kept in checkpoints so
            that a ``rebuild`` given to :func:`resume` can make them again.

    The first non-finite loss or gradient stops the run before the update: the
    history keeps everything up to it, with ``diverged=True`` and a message naming
    the step, the loss and the learning rate.
    """
    settings = check_settings(
        epochs,
        batch_size,
        seed,
        iterations,
        clip_grad_norm,
        eval_every,
        evaluate_test,
        sampling,
        eval_at_start,
    )
    if plateau is not None and dataset.X_val is None:
        raise ValueError(
            f"fit: ReduceOnPlateau steps on the validation loss, and {dataset.name} "
            "has no validation split"
        )
    if checkpoint_every is not None:
        checkpoint_every = _checks.integer(
            "fit", "checkpoint_every", checkpoint_every, low=1
        )
    if set(optimizer.state) != set(model.params):
        raise ValueError(
            f"fit: the optimizer must update the model's parameters "
            f"{list(model.params)}, not {list(optimizer.state)}"
        )
    trainer = _Trainer(
        model,
        optimizer,
        dataset,
        settings,
        checkpoint_dir,
        checkpoint_every,
        progress,
        progress if verbose is None else verbose,
        plateau,
        spec,
    )
    return trainer.run()


def resume(
    checkpoint_dir: str | os.PathLike[str],
    model: TrainableModel | None = None,
    optimizer: Optimizer | None = None,
    dataset: Dataset | None = None,
    *,
    progress: bool = True,
    verbose: bool | None = None,
    plateau: ReduceOnPlateau | None = None,
    checkpoint_every: int | None = None,
    rebuild: Callable[[dict[str, Any]], tuple[TrainableModel, Optimizer, Dataset]]
    | None = None,
) -> tuple[History, TrainableModel, Optimizer]:
    """Continue the run whose checkpoints are in ``checkpoint_dir`` to its end.

    Pass the same kind of model, optimizer and dataset as the original run, or a
    ``rebuild`` that makes them from the ``spec`` the run stored
    (:func:`gdlab.lab.runs.resume_into` rebuilds a RunSpec). A changed
    configuration is refused, listing what differs; metadata edited out of shape is
    a ValueError naming the file and the key.
    Temporary files of a save that was killed are removed first.
    """
    checkpoint.remove_leftovers(checkpoint_dir)
    arrays, meta, path = checkpoint.load_latest(checkpoint_dir)
    checked = _Meta(meta, path)
    settings, spec = checked.check()
    if model is None or optimizer is None or dataset is None:
        if spec is None or rebuild is None:
            raise ValueError(
                f"cannot resume {checkpoint_dir}: pass model, optimizer and dataset"
                + ("" if spec is None else ", or a rebuild() of the stored spec,")
                + " to resume()"
            )
        try:
            model, optimizer, dataset = rebuild(spec)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{checked.owner}: spec: {error}") from None
    trainer = _Trainer(
        model,
        optimizer,
        dataset,
        settings,
        checkpoint_dir,
        checkpoint_every,
        progress,
        progress if verbose is None else verbose,
        plateau,
        spec,
    )
    trainer.restore(arrays, checked)
    return trainer.run(), model, optimizer


__all__ = ["History", "evaluate", "fingerprint", "fit", "resume"]
