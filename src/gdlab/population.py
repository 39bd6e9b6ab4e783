"""Train K runs of one workload as one stacked computation: a population.

Runs that differ only in their hyperparameters (learning rate and its schedule,
betas, momentum, weight decay, L2) and their seeds (initial weights, batch order)
do the same arithmetic on arrays of the same shapes. :func:`fit_population` trains
them together: their parameters stacked along a leading run axis
(:class:`~gdlab.models.population.PopulationModel`), each step one batched forward
and backward pass over every run's own mini-batch (a gather with a ``(K, batch)``
index, or one shared batch when the runs share a seed), one loss kernel call and
one optimizer kernel call with per-run hyperparameters
(:class:`~gdlab.optim.population.Population`). Python's cost per step is paid
once, not K times.

Each member's :class:`~gdlab.history.History` is the one :func:`gdlab.train.fit`
gives for the same run alone: the same steps, losses, learning rates and
evaluations, the same divergence report; bit for bit, since each run's products
are the very BLAS calls of its model alone and its update the rule's own
arithmetic (the tests hold float64 runs to 1e-10, and find them equal). A
diverged member stops alone, at the same step as alone; the others go on.
``seconds`` in a member's rows is its share of the population's wall time (the
elapsed time over K).

What runs as a population (:func:`unsupported` says why not): a gdlab MLP or
softmax regression with the softmax cross-entropy loss, an element-wise optimizer
of the base's update (see :func:`gdlab.optim.population.unsupported`), a
:class:`~gdlab.train.TrainConfig` without the notes' loop, no callbacks or
plateau; every member's config the same but for its seed. Checkpoints: each
member's, as ``fit`` writes them (``checkpoint_dirs``).
"""

from __future__ import annotations

import dataclasses
import gc
import math
import os
import time
from collections.abc import Sequence

import numpy as np

from gdlab import _checks, checkpoint, outputs
from gdlab.data import Dataset
from gdlab.history import History
from gdlab.models import population as model_population
from gdlab.models.mlp import EVAL_CHUNK, Model
from gdlab.models.population import PopulationModel
from gdlab.optim import Optimizer, kernel
from gdlab.optim import population as optim_population
from gdlab.optim.population import Population
from gdlab.train import ABSURD_LOSS, TrainConfig

__all__ = ["fit_population", "unsupported"]


def unsupported(model: object, optimizer: Optimizer, config: TrainConfig) -> str | None:
    """Why this run cannot train in a population, or None if it can."""
    why = model_population.unsupported(model)
    if why is None:
        why = optim_population.unsupported(optimizer)
    if why is None and config.notes_loop:
        why = "it runs the notes' loop"
    return why


def _shared(config: TrainConfig) -> TrainConfig:
    return dataclasses.replace(config, seed=0)


@dataclasses.dataclass
class _Member:
    """One run of the population: its history and the seed of its batch order."""

    history: History
    seed: int


def fit_population(
    models: Sequence[Model],
    optimizers: Sequence[Optimizer],
    dataset: Dataset,
    configs: Sequence[TrainConfig],
    *,
    checkpoint_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> list[History]:
    """Train run k (``models[k]`` with ``optimizers[k]`` for ``configs[k]``) for
    every k as one population; each run's History, as :func:`gdlab.train.fit`
    gives it (without progress bar or printing).

    ``checkpoint_dirs``: one empty folder per run, where its checkpoints go at the
    end of every epoch, the ones ``fit(..., checkpoint_dir=)`` writes for the run
    (:func:`gdlab.train.resume` continues a run from its own, alone).

    The models end holding their final weights and the optimizers their state,
    as after ``fit``. A diverged run's model holds its weights from before the
    step that diverged (as ``fit`` leaves them).

    Raises:
        ValueError: runs that cannot train together (:func:`unsupported`, or
            configs that differ in more than their seed).
    """
    owner = "fit_population"
    k = len(models)
    if k == 0 or len(optimizers) != k or len(configs) != k:
        _checks.fail(
            owner,
            "models, optimizers, configs",
            "as many (>= 1) of each",
            (len(models), len(optimizers), len(configs)),
        )
    for model, optimizer, config in zip(models, optimizers, configs, strict=True):
        if not isinstance(config, TrainConfig):
            _checks.fail(owner, "configs", "TrainConfigs", config)
        why = unsupported(model, optimizer, config)
        if why is not None:
            _checks.fail(owner, "runs", "runs a population can train", why)
        if set(optimizer.state) != set(model.params):
            _checks.fail(
                owner,
                "optimizers",
                f"each on its model's parameters {list(model.params)}",
                list(optimizer.state),
            )
    if len({_shared(c) for c in configs}) != 1:
        _checks.fail(owner, "configs", "the same but for the seed", configs)
    folders: list[str | os.PathLike[str]] | None = None
    if checkpoint_dirs is not None:
        folders = list(checkpoint_dirs)
        if len(folders) != k:
            _checks.fail(owner, "checkpoint_dirs", f"{k} folders", len(folders))
        for folder in folders:
            outputs.writable(folder, f"{owner}: checkpoint_dirs")
            if checkpoint.paths(folder):
                _checks.fail(
                    owner,
                    "checkpoint_dirs",
                    "empty folders (a new run's)",
                    f"{folder}, which holds checkpoints",
                )
    trainer = _Trainer(list(models), list(optimizers), dataset, configs, folders)
    trainer.optimizer.warm_up()  # compile time is no part of a run's seconds
    collecting = gc.isenabled()
    gc.disable()  # the histories' many small dicts made each full collection slow
    try:
        return trainer.run()
    finally:
        if collecting:
            gc.enable()


class _Trainer:
    """:class:`gdlab.train`'s loop, over the live members of a population."""

    def __init__(
        self,
        models: list[Model],
        optimizers: list[Optimizer],
        dataset: Dataset,
        configs: Sequence[TrainConfig],
        folders: list[str | os.PathLike[str]] | None,
    ) -> None:
        self.dataset = dataset
        self.folders = folders
        self.config = config = configs[0]
        self._train_rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.per_epoch = config.steps_per_epoch(dataset.n_train)
        self.total = config.total_steps(dataset.n_train)
        digest = folders is not None  # as fit's fingerprint with checkpoints
        self.fingerprints = [
            checkpoint.fingerprint(m, o, dataset, digest=digest)
            for m, o in zip(models, optimizers, strict=True)
        ]
        self.members = [
            _Member(History(config={**f, **c.to_dict()}), c.seed)
            for f, c in zip(self.fingerprints, configs, strict=True)
        ]
        self.configs = list(configs)
        # members of one seed draw the same batches: one generator each seed
        self.rngs = {c.seed: np.random.default_rng(c.seed) for c in configs}
        self.size = len(models)
        self.model = PopulationModel(models)
        self.optimizer = Population(optimizers, self.model.params)
        self.live = list(range(self.size))  # member index of each row
        self.step = 0
        self.epoch = 0
        self.batch = 0
        self.started = 0.0
        self.orders: np.ndarray | None = None  # this epoch's, a row per live member

    # --- the loop ----------------------------------------------------------------

    def run(self) -> list[History]:
        X = self.dataset.X_train.astype(self.model.dtype, copy=False)
        y = self.dataset.y_train
        n = len(X)
        b = n if self.config.batch_size == "full" else min(self.config.batch_size, n)
        replace = self.config.sampling == "with-replacement"
        self.started = time.perf_counter()
        if self.config.eval_at_start:
            self._evaluate()
        self._mark_epoch()
        # the kernels' threads, chosen once for the whole run (each step's own
        # choice then costs nothing): serial below PARALLEL_MIN_SIZE elements
        with kernel.threads(self.model.params.size):
            self._loop(X, y, b, replace)
        self._finish()
        return [m.history for m in self.members]

    def _loop(self, X: np.ndarray, y: np.ndarray, b: int, replace: bool) -> None:
        n, every = len(X), self.config.eval_every
        while self.step < self.total and self.live:
            self.orders = self._orders(n, b, replace)
            stop = self.per_epoch * b
            for start in range(0, stop, b):
                orders = self.orders
                index = None if orders is None else orders[:, start : start + b]
                self._step(X, y, index)
                if not self.live:
                    break
                if every != "epoch" and self.step % every == 0:
                    self._evaluate()
                    if not self.live:
                        break
                if self.step == self.total:
                    break
            if not self.live:
                break
            if self.batch == self.per_epoch:
                self.epoch, self.batch = self.epoch + 1, 0
                self._mark_epoch()
            last = self._last_evaluated()
            ends = self.step == self.total
            if (every == "epoch" or ends) and last != self.step:
                self._evaluate()
            self._save()

    def _mark_epoch(self) -> None:
        """Keep each batch order's generator state at the start of the epoch (a
        checkpoint's, from which a resumed run draws the epoch again)."""
        self.epoch_states = {s: r.bit_generator.state for s, r in self.rngs.items()}

    def _last_evaluated(self) -> int:
        epochs = self.members[self.live[0]].history.epochs
        return int(epochs[-1]["step"] or 0) if epochs else 0

    def _orders(self, n: int, b: int, replace: bool) -> np.ndarray | None:
        """This epoch's batch order of each live member, ``(K, per_epoch·b)``, as
        :func:`gdlab.data.batches` draws it from the member's generator (one row
        when every live member has one seed); None for one batch of the whole set
        (taken as it is)."""
        if not replace and b == n:
            return None
        drawn: dict[int, np.ndarray] = {}
        for seed, rng in self.rngs.items():
            if replace:
                drawn[seed] = rng.integers(0, n, size=(self.per_epoch, b)).reshape(-1)
            else:
                drawn[seed] = rng.permutation(n)
        seeds = [self.members[r].seed for r in self.live]
        if len(set(seeds)) == 1:
            return drawn[seeds[0]][None]
        return np.stack([drawn[s] for s in seeds])

    def _step(self, X: np.ndarray, y: np.ndarray, index: np.ndarray | None) -> None:
        model, opt = self.model, self.optimizer
        if index is None:
            xb, yb = X, y
        elif len(index) == 1:
            xb, yb = X.take(index[0], axis=0), y.take(index[0], axis=0)
        else:  # take: the rows of X[index], sooner
            xb, yb = X.take(index, axis=0), y.take(index, axis=0)
        values = model.loss_and_grad(xb, yb)
        g = model.grads
        with np.errstate(over="ignore", invalid="ignore"):
            norms = [math.sqrt(float(np.dot(row, row))) for row in g]
        lrs = opt.lrs()
        bad = []
        for row, (loss, norm, lr) in enumerate(zip(values, norms, lrs, strict=True)):
            loss = float(loss)
            if not (math.isfinite(loss) and math.isfinite(norm)) or loss > ABSURD_LOSS:
                what = (
                    f"loss = {loss}"
                    if not math.isfinite(loss) or loss > ABSURD_LOSS
                    else f"gradient norm = {norm}"
                )
                self._diverged(
                    row,
                    f"diverged at step {self.step + 1}: {what} with lr {lr:g}"
                    " — try a smaller learning rate",
                )
                bad.append(row)
        if bad:
            keep = [r for r in range(len(values)) if r not in bad]
            kept = g[keep]
            self._drop(bad)
            if not self.live:
                return
            g = model.grads
            g[...] = kept
            values = values[keep]
            norms = [norms[r] for r in keep]
            lrs = [lrs[r] for r in keep]
        clip = self.config.clip_grad_norm
        if clip is not None:
            for row, norm in enumerate(norms):
                if norm > clip:
                    g[row] *= clip / (norm + 1e-6)
        opt.step(g, lrs)
        self.step += 1
        self.batch += 1
        for row, (loss, lr) in enumerate(zip(values, lrs, strict=True)):
            self.members[self.live[row]].history.steps.append(
                {"step": self.step, "loss": float(loss), "lr": lr}
            )

    def _diverged(self, row: int, message: str) -> None:
        history = self.members[self.live[row]].history
        history.diverged = True
        history.message = message

    def _drop(self, rows: Sequence[int]) -> None:
        """Stop the members at ``rows``: their models and optimizers keep what
        they hold now; the rest go on."""
        for row in rows:
            self.model.write_back(row)
            self.optimizer.sync(row)
        keep = [r for r in range(len(self.live)) if r not in rows]
        if self.orders is not None and len(self.orders) > 1:
            self.orders = self.orders[keep]
        self.model.keep(keep)
        self.optimizer.keep(keep, self.model.params)
        self.live = [self.live[r] for r in keep]

    def _train_eval(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """The training rows a run of batch-order ``seed`` takes its training
        metrics on, as :func:`gdlab.train.fit` draws them (gathered once)."""
        cached = self._train_rows.get(seed)
        if cached is None:
            ds = self.dataset
            config = dataclasses.replace(self.config, seed=seed)
            index = config.train_eval_index(ds.n_train)
            cached = (
                (ds.X_train, ds.y_train)
                if index is None
                else (ds.X_train[index], ds.y_train[index])
            )
            self._train_rows[seed] = cached
        return cached

    def _evaluate(self) -> None:
        ds, model = self.dataset, self.model
        train_loss: list[float] = [math.nan] * len(self.live)
        train_acc: list[float] = [math.nan] * len(self.live)
        # each run on its own rows, as fit's; the runs of one seed, or all of them
        # where the training set is within train_eval_rows, evaluated together
        together: dict[int, tuple[tuple[np.ndarray, np.ndarray], list[int]]] = {}
        for row, member in enumerate(self.live):
            data = self._train_eval(self.members[member].seed)
            together.setdefault(id(data[0]), (data, []))[1].append(row)
        for data, rows in together.values():
            with np.errstate(over="ignore", invalid="ignore"):  # judged just below
                losses, accs = model.evaluate(*data, EVAL_CHUNK, runs=rows)
            for row, loss, acc in zip(rows, losses, accs, strict=True):
                train_loss[row], train_acc[row] = loss, acc
        lrs = self.optimizer.lrs()
        bad = []
        for row, loss in enumerate(train_loss):
            if not math.isfinite(loss) or loss > ABSURD_LOSS:
                self._diverged(
                    row,
                    f"diverged at step {self.step}: the training loss is {loss} at "
                    f"the evaluation, with lr {lrs[row]:g} — try a smaller "
                    "learning rate",
                )
                bad.append(row)
        keep = [r for r in range(len(self.live)) if r not in bad]
        val = (
            None
            if ds.X_val is None or ds.y_val is None
            else model.evaluate(ds.X_val, ds.y_val, EVAL_CHUNK)
        )
        test = (
            model.evaluate(ds.X_test, ds.y_test, EVAL_CHUNK)
            if self.config.evaluate_test
            else None
        )
        seconds = (time.perf_counter() - self.started) / self.size
        epoch = self.epoch + self.batch / self.per_epoch
        for row in keep:
            self.members[self.live[row]].history.epochs.append(
                {
                    "epoch": round(epoch, 4),
                    "step": self.step,
                    "train_loss": train_loss[row],
                    "train_acc": train_acc[row],
                    "val_loss": None if val is None else val[0][row],
                    "val_acc": None if val is None else val[1][row],
                    "test_loss": None if test is None else test[0][row],
                    "test_acc": None if test is None else test[1][row],
                    "lr": lrs[row],
                    "seconds": round(seconds, 3),
                }
            )
        if bad:
            self._drop(bad)

    def _save(self) -> None:
        """Each live member's checkpoint, as fit's ``_save`` writes it."""
        if self.folders is None:
            return
        elapsed = (time.perf_counter() - self.started) / self.size
        for row, index in enumerate(self.live):
            member = self.members[index]
            model = self.model.write_back(row)
            optimizer = self.optimizer.sync(row)
            arrays, state = checkpoint.state_arrays(model, optimizer)
            meta = checkpoint.CheckpointMeta(
                version=checkpoint.VERSION,
                position=checkpoint.Position(
                    self.step,
                    self.epoch,
                    self.batch,
                    checkpoint.RngState.from_dict(self.epoch_states[member.seed]),
                ),
                optimizer=checkpoint.OptimizerState.from_dict(state),
                plateau=None,
                history=member.history.recorded(),
                elapsed=elapsed,
                config=self.configs[index],
                fingerprint=self.fingerprints[index],
            )
            checkpoint.save(self.folders[index], self.step, arrays, meta)

    def _finish(self) -> None:
        """Every live member's model and optimizer hold the population's state."""
        for row in range(len(self.live)):
            self.model.write_back(row)
            self.optimizer.sync(row)
