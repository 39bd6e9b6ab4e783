"""The training loop: ``fit()`` a model with an optimizer on a dataset, get a History.

Read it top to bottom: each step draws the next mini-batch, computes the loss and its
gradient by backprop, stops the run if either is not finite, clips the gradient norm
if asked, and lets the optimizer update the parameters. Each epoch ends with the loss
and accuracy on the validation and test sets and on a fixed sample of the training
set (``TrainConfig.train_eval_rows``, 10,000 rows by default: an evaluation costs a
small share of an epoch), one printed line and a checkpoint.

How long a run is and how it draws its batches is a :class:`TrainConfig`. Checkpoints
(see :mod:`gdlab.checkpoint`) hold the parameters, the optimizer state (its step
count drives any schedule), the batch order's RNG state at the start of the epoch,
the position in the epoch, the history and the config, so ``resume`` continues a
killed run to bit-identical parameters.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gdlab import _checks, checkpoint, outputs, train_config
from gdlab.callbacks import Callback, Step
from gdlab.data import Dataset, batches
from gdlab.history import History
from gdlab.models import Model, TrainableModel
from gdlab.optim import Optimizer
from gdlab.schedules import ReduceOnPlateau
from gdlab.train_config import TrainConfig

ABSURD_LOSS = 1e20
"""A finite loss above this counts as diverged: no model trains back from it."""


@dataclass
class _Position:
    rng_state: dict[str, Any]  # of the batch order, at the start of the epoch
    step: int = 0
    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch


@dataclass(frozen=True)
class _Options:
    """What fit() takes besides the objects and the config (see its docstring)."""

    checkpoint_dir: str | os.PathLike[str] | None = None
    checkpoint_every: int | None = None
    progress: bool = True
    verbose: bool = True
    plateau: ReduceOnPlateau | None = None
    spec: Mapping[str, Any] | None = None
    callbacks: tuple[Callback, ...] = ()


class _Trainer:
    def __init__(
        self,
        model: TrainableModel,
        optimizer: Optimizer,
        dataset: Dataset,
        config: TrainConfig,
        options: _Options,
    ) -> None:
        self.model, self.optimizer, self.dataset = model, optimizer, dataset
        self.config, self.options = config, options
        self.per_epoch = config.steps_per_epoch(dataset.n_train)
        self.total = config.total_steps(dataset.n_train)
        self.n_epochs = math.ceil(self.total / self.per_epoch)
        self.rng = np.random.default_rng(config.seed)
        self.position = _Position(dict(self.rng.bit_generator.state))
        self.fingerprint = checkpoint.fingerprint(
            model, optimizer, dataset, digest=options.checkpoint_dir is not None
        )
        self.history = History(config={**self.fingerprint, **config.to_dict()})
        self._train_eval: tuple[np.ndarray, np.ndarray] | None = None
        self.elapsed = 0.0
        self.stopped_by: Callback | None = None

    # --- the loop ----------------------------------------------------------------

    def run(self) -> History:
        """Train to the end; while it writes checkpoints, their folder is locked
        (``.gdlab.lock``), so a second run into it is refused instead of the two
        interleaving their checkpoints."""
        folder = self.options.checkpoint_dir
        if folder is None:
            return self._train()
        busy = (
            f"fit: checkpoint_dir {folder} is being written by another run; wait "
            "for it to finish or give another folder"
        )
        with outputs.locked(Path(folder) / CHECKPOINT_LOCK, busy):
            return self._train()

    def _train(self) -> History:
        X, y = self.dataset.X_train, self.dataset.y_train
        pos = self.position
        bar = tqdm(
            total=self.total,
            initial=pos.step,
            disable=not self.options.progress,
            unit="step",
            leave=False,
            dynamic_ncols=True,
        )
        self.optimizer.warm_up()  # compile time is no part of a run's seconds
        if isinstance(self.model, Model):
            self.model.warm_up()  # the loss's kernel
        started = time.perf_counter()
        replace = self.config.sampling == "with-replacement"
        try:
            if self.config.eval_at_start and not self.history.epochs:
                self._evaluate(started, bar)  # the untrained model: step 0
            while pos.step < self.total and not self._ended():
                self.rng.bit_generator.state = pos.rng_state
                loader = iter(
                    batches(
                        X,
                        y,
                        self.config.batch_size,
                        seed=self.rng,
                        replace=replace,
                    )
                )
                for _ in range(pos.batch):
                    next(loader)
                every = self.config.eval_every
                notes = self.config.notes_loop
                for xb, yb in loader:
                    if not self._step(xb, yb, bar):
                        break
                    if notes:
                        if self.config.notes_evaluates(pos.step, self.dataset.n_train):
                            self._evaluate(started, bar)
                    elif every != "epoch" and pos.step % every == 0:
                        self._evaluate(started, bar)
                        if self._ended():
                            break
                    if pos.step == self.total or self.stopped_by is not None:
                        break
                    if (
                        self.options.checkpoint_every
                        and pos.step % self.options.checkpoint_every == 0
                    ):
                        self._save(started)
                if self.history.diverged:
                    break
                if pos.batch == self.per_epoch:  # a whole epoch: the next one starts
                    pos.epoch, pos.batch = pos.epoch + 1, 0
                    pos.rng_state = self.rng.bit_generator.state
                last = self.history.epochs[-1]["step"] if self.history.epochs else 0
                ends = pos.step == self.total or self.stopped_by is not None
                if (every == "epoch" or ends) and last != pos.step and not notes:
                    self._evaluate(started, bar)
                self._save(started)
        finally:
            bar.close()
            for callback in self.options.callbacks:
                callback.on_end()
        if self.stopped_by is not None and not self.history.diverged:
            self.history.message = f"stopped by {self.stopped_by!r} at step {pos.step}"
        return self.history

    def _ended(self) -> bool:
        return self.history.diverged or self.stopped_by is not None

    def _tell(self, hook: str, value: Any) -> None:
        """Call ``hook`` of every callback; the first that returns True stops."""
        for callback in self.options.callbacks:
            if getattr(callback, hook)(value, self.optimizer) and not self.stopped_by:
                self.stopped_by = callback

    def _step(self, xb: np.ndarray, yb: np.ndarray, bar: Any) -> bool:
        pos = self.position
        if isinstance(self.model, Model):  # into the model's buffer: no allocation
            loss, grads = self.model.loss_and_grad(xb, yb, out=self.model.grads)
        else:
            loss, grads = self.model.loss_and_grad(xb, yb)
        with np.errstate(over="ignore", invalid="ignore"):  # judged just below
            norm = math.sqrt(sum(float(np.dot(b, b)) for b in grads.buffers.values()))
        lr = self.optimizer.lr
        if not (math.isfinite(loss) and math.isfinite(norm)) or loss > ABSURD_LOSS:
            what = (
                f"loss = {loss}"
                if not math.isfinite(loss) or loss > ABSURD_LOSS
                else f"gradient norm = {norm}"
            )
            self.history.diverged = True
            self.history.message = (
                f"diverged at step {pos.step + 1}: {what} with lr {lr:g}"
                " — try a smaller learning rate"
            )
            return False
        clip = self.config.clip_grad_norm
        if clip is not None and norm > clip:
            for b in grads.buffers.values():
                b *= clip / (norm + 1e-6)
        model = self.model
        self.optimizer.step_with(grads, lambda: model.loss_and_grad(xb, yb))
        if self.config.notes_loop:  # the notes record the loss after the update
            loss = self.model.loss(xb, yb)
        pos.step += 1
        pos.batch += 1
        self.history.steps.append({"step": pos.step, "loss": loss, "lr": lr})
        if self.options.callbacks:
            epoch = pos.epoch + pos.batch / self.per_epoch
            self._tell("on_step", Step(pos.step, epoch, loss, lr))
        bar.update()
        if self.options.progress and pos.step % 25 == 0:
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        return True

    def _evaluate(self, started: float, bar: Any) -> None:
        with self.optimizer.evaluating():  # at the optimizer's evaluation point
            self._evaluate_here(started, bar)

    def _evaluate_here(self, started: float, bar: Any) -> None:
        pos, ds = self.position, self.dataset
        with np.errstate(over="ignore", invalid="ignore"):  # judged just below
            train_loss, train_acc = evaluate(self.model, *self._train_eval_rows())
        if not math.isfinite(train_loss) or train_loss > ABSURD_LOSS:
            self.history.diverged = True
            self.history.message = (
                f"diverged at step {pos.step}: the training loss is {train_loss} at "
                f"the evaluation, with lr {self.optimizer.lr:g} — try a smaller "
                "learning rate"
            )
            return
        val_loss, val_acc = (
            (None, None)
            if ds.X_val is None or ds.y_val is None
            else evaluate(self.model, ds.X_val, ds.y_val)
        )
        test_loss, test_acc = (
            evaluate(self.model, ds.X_test, ds.y_test)
            if self.config.evaluate_test
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
        self._tell("on_evaluation", row)
        if self.options.plateau is not None and val_loss is not None:
            self.options.plateau.step(val_loss)  # a choice: made on validation data
        if self.options.verbose:
            shown = {"train": train_acc, "val": val_acc, "test": test_acc}
            acc = "".join(
                f"  {k} acc {v:.3f}" for k, v in shown.items() if v is not None
            )
            label = f"{pos.epoch}" if pos.batch == 0 else f"{epoch:.2f}"
            bar.write(
                f"epoch {label}/{self.n_epochs}  loss {train_loss:.3f}{acc}"
                f"  lr {row['lr']:.1e}  {seconds:.1f}s"
            )

    def _train_eval_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The training rows the training metrics are taken on, gathered at the
        first evaluation (its time is the evaluation's), the same rows each time."""
        if self._train_eval is None:
            ds = self.dataset
            index = self.config.train_eval_index(ds.n_train)
            self._train_eval = (
                (ds.X_train, ds.y_train)
                if index is None
                else (ds.X_train[index], ds.y_train[index])
            )
        return self._train_eval

    # --- checkpoints -----------------------------------------------------------------

    def _save(self, started: float) -> None:
        if self.options.checkpoint_dir is None:
            return
        pos, spec, plateau = self.position, self.options.spec, self.options.plateau
        arrays, state = checkpoint.state_arrays(self.model, self.optimizer)
        meta = checkpoint.CheckpointMeta(
            version=checkpoint.VERSION,
            position=checkpoint.Position(
                pos.step,
                pos.epoch,
                pos.batch,
                checkpoint.RngState.from_dict(pos.rng_state),
            ),
            optimizer=checkpoint.OptimizerState.from_dict(state),
            plateau=None if plateau is None else plateau.state_dict(),
            history=self.history.recorded(),
            elapsed=self.elapsed + time.perf_counter() - started,
            config=self.config,
            fingerprint=self.fingerprint,
            spec=None
            if spec is None
            else {k: v for k, v in spec.items() if k not in train_config.FIELDS},
        )
        checkpoint.save(self.options.checkpoint_dir, pos.step, arrays, meta)

    def restore(
        self, arrays: Mapping[str, np.ndarray], checked: checkpoint.Meta
    ) -> None:
        checked.position(self.per_epoch, self.total)
        checked.same_run(self.fingerprint)
        checked.load(arrays, self.model, self.optimizer, self.options.plateau)
        meta = checked.checked  # the metadata as its records
        p = meta.position
        self.position = _Position(p.rng_state.to_dict(), p.step, p.epoch, p.batch)
        self.history = History.of(meta.history, self.history.config)
        self.elapsed = meta.elapsed


def evaluate(
    model: TrainableModel, X: np.ndarray, y: np.ndarray
) -> tuple[float, float | None]:
    """The model's cost (L2 term included) and accuracy (None for regression) on
    ``(X, y)``: gdlab's models by :meth:`~gdlab.models.Model.evaluate` (softmax
    models in chunks, NaN for both when their logits overflow), any other model by
    its ``loss`` and ``accuracy``."""
    if isinstance(model, Model):
        return model.evaluate(X, y)
    return model.loss(X, y), (model.accuracy(X, y) if model.is_classifier else None)


def fit(
    model: TrainableModel,
    optimizer: Optimizer,
    dataset: Dataset,
    config: TrainConfig = TrainConfig(),
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    progress: bool = True,
    verbose: bool | None = None,
    plateau: ReduceOnPlateau | None = None,
    spec: Mapping[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``model`` on ``dataset.X_train`` with ``optimizer`` for the run that
    ``config`` describes (its length, batches, seed, clipping, evaluations).

    Args:
        config: a :class:`TrainConfig` (default: 5 epochs of batches of 100).
        checkpoint_dir: write a checkpoint there at the end of every epoch (and
            every ``checkpoint_every`` steps); :func:`resume` continues from it.
        progress: show a tqdm progress bar with the running loss.
        verbose: print one line per epoch (default: as ``progress``).
        plateau: a :class:`~gdlab.schedules.ReduceOnPlateau` stepped with the
            validation loss after every evaluation (the dataset needs a validation
            split).
        spec: a description the objects were built from, as a flat JSON-able dict
            (the CLI stores its :class:`~gdlab.experiment.RunSpec`'s ``to_dict()``),
            kept in checkpoints so that a ``rebuild`` given to :func:`resume` can make
            them again. Its run-length settings must agree with ``config``, which
            the checkpoint holds in their place.
        callbacks: :class:`~gdlab.callbacks.Callback` objects told of every step and
            evaluation; one that returns True stops the run there (e.g.
            ``StopAt("loss", below=0.01)``; ``TensorBoard(logdir)`` logs the run).

    Example::

        fit(model, opt, data, TrainConfig(epochs=3, batch_size=64))

    The first non-finite loss or gradient stops the run before the update: the
    history keeps everything up to it, with ``diverged=True`` and a message naming
    the step, the loss and the learning rate.
    """
    if not isinstance(config, TrainConfig):
        _checks.fail("fit", "config", "a TrainConfig", config)
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
    _check_holds(model, optimizer)
    _plain_numbers(optimizer)
    if spec is not None:
        if not isinstance(spec, Mapping):
            _checks.fail("fit", "spec", "a dict such as RunSpec.to_dict()", spec)
        try:
            json.dumps(spec)
        except (TypeError, ValueError):
            _checks.fail("fit", "spec", "plain JSON values", spec)
        values = config.to_dict()
        clash = [
            f"{k}={v!r}" for k, v in spec.items() if k in values and values[k] != v
        ]
        if clash:
            _checks.fail("fit", "spec", "in agreement with config", ", ".join(clash))
    if checkpoint_dir is not None:
        outputs.writable(checkpoint_dir, "fit: checkpoint_dir")
        if checkpoint.paths(checkpoint_dir):
            raise ValueError(
                f"fit: checkpoint_dir {checkpoint_dir} holds another run's "
                "checkpoints: resume() continues that run; give an empty folder for "
                "a new one"
            )
    options = _Options(
        checkpoint_dir,
        checkpoint_every,
        progress,
        progress if verbose is None else verbose,
        plateau,
        spec,
        _callbacks("fit", callbacks),
    )
    return _Trainer(model, optimizer, dataset, config, options).run()


def _callbacks(owner: str, callbacks: object) -> tuple[Callback, ...]:
    if not isinstance(callbacks, Sequence) or not all(
        isinstance(c, Callback) for c in callbacks
    ):
        _checks.fail(owner, "callbacks", "a list of callbacks.Callback", callbacks)
    return tuple(callbacks)


CHECKPOINT_LOCK = ".gdlab.lock"
"""The lock file in a checkpoint folder, held while a run writes it."""


class Resumed:
    """A run restored from its newest checkpoint, every check passed (see
    :func:`restore`): :meth:`run` trains it to its end."""

    def __init__(self, trainer: _Trainer) -> None:
        self._trainer = trainer
        self.model, self.optimizer = trainer.model, trainer.optimizer

    def run(self) -> History:
        """Train to the end of the run, with checkpoints; the whole history."""
        return self._trainer.run()


def _check_holds(model: TrainableModel, optimizer: Optimizer) -> None:
    """The optimizer must update the model's own arrays: one built on another
    model's parameters of the same names would train that model, not this one."""
    held = {n: a for g in optimizer.param_groups for n, a in g["params"].items()}
    foreign = []
    for name in model.params:
        mine, theirs = np.asarray(model.params[name]), np.asarray(held[name])
        same_memory = (
            mine.__array_interface__["data"][0] == theirs.__array_interface__["data"][0]
        )
        if not (same_memory and mine.shape == theirs.shape):
            foreign.append(name)
    if foreign:
        raise ValueError(
            f"fit: the optimizer must hold the model's own parameter arrays, got "
            f"other arrays for {foreign}; build it on model.params"
        )


def _plain_numbers(optimizer: Optimizer) -> None:
    """NumPy scalars among the hyperparameters (``lr=np.float32(0.01)``) as the
    Python numbers of the same value, as a checkpoint's JSON holds them."""

    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, tuple | list):
            return type(value)(plain(v) for v in value)
        return value

    for group in optimizer.param_groups:
        for key, value in group.items():
            if key != "params":
                group[key] = plain(value)


def restore(
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
    callbacks: Sequence[Callback] = (),
) -> Resumed:
    """What :func:`resume` does before it trains: read, check and load the newest
    checkpoint (a ValueError naming the file and the field if it disagrees with
    itself or with the run), so that a command can check its user's files first."""
    if checkpoint_every is not None:
        checkpoint_every = _checks.integer(
            "resume", "checkpoint_every", checkpoint_every, low=1
        )
    checkpoint.remove_leftovers(checkpoint_dir)
    arrays, meta, path = checkpoint.load_latest(checkpoint_dir)
    checked = checkpoint.Meta(meta, path)
    config, spec = checked.check()
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
    options = _Options(
        checkpoint_dir,
        checkpoint_every,
        progress,
        progress if verbose is None else verbose,
        plateau,
        spec,
        _callbacks("resume", callbacks),
    )
    trainer = _Trainer(model, optimizer, dataset, config, options)
    trainer.restore(arrays, checked)
    return Resumed(trainer)


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
    callbacks: Sequence[Callback] = (),
) -> tuple[History, TrainableModel, Optimizer]:
    """Continue the run whose checkpoints are in ``checkpoint_dir`` to its end, with
    the config the checkpoint holds.

    Pass the same kind of model, optimizer and dataset as the original run, or a
    ``rebuild`` that makes them from the ``spec`` the run stored (given back whole,
    its run-length settings the config's; :func:`gdlab.lab.runs.resume_into`
    rebuilds a RunSpec). Objects that differ from the run's are refused, listing
    what differs; a checkpoint that disagrees with itself or with the run (an
    array of another dtype or shape, an lr edited, a history out of shape) is a
    ValueError naming the file and the field, before anything changes. Temporary
    files of a save that was killed are removed first.
    """
    resumed = restore(
        checkpoint_dir,
        model,
        optimizer,
        dataset,
        progress=progress,
        verbose=verbose,
        plateau=plateau,
        checkpoint_every=checkpoint_every,
        rebuild=rebuild,
        callbacks=callbacks,
    )
    return resumed.run(), resumed.model, resumed.optimizer


__all__ = ["History", "Resumed", "TrainConfig", "evaluate", "fit", "restore", "resume"]
