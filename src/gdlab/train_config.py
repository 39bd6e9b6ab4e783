"""How long a training run is and how it draws and evaluates: :class:`TrainConfig`.

:func:`gdlab.train.fit` takes one; :class:`gdlab.experiment.RunSpec` embeds one; a
checkpoint stores one (once), so that a resumed run continues the same run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks, records
from gdlab.data.batching import BatchSize, num_batches

_T = TypeVar("_T", bound="TrainConfig")
SAMPLING = ("without-replacement", "with-replacement")
"""How batches are drawn: see :class:`TrainConfig`'s ``sampling``."""
TRAIN_EVAL_ROWS = 10_000
"""The default number of training rows the training metrics are taken on (see
:class:`TrainConfig`'s ``train_eval_rows``)."""
_TRAIN_EVAL_STREAM = 0x7E57
"""Mixed into ``seed`` for the train-eval sample: a stream of its own, so the
sample never shares draws with the batch order."""


def _word_or(word: str, check: records.Constraint) -> records.Constraint:
    """``word`` itself, or what ``check`` accepts."""
    return lambda owner, name, value: (
        value if value == word else check(owner, name, value)
    )


@dataclass(frozen=True)
class TrainConfig(records.Record):
    """The run-length settings of a training run, checked when made.

    Fields:
        batch_size: samples per step, an integer >= 1, or ``"full"`` for batch
            gradient descent (default 100).
        sampling: ``"without-replacement"`` (a permutation per epoch, the default)
            or ``"with-replacement"`` (each batch drawn anew, as the course notes'
            ``np.random.choice``; an epoch is then as many batches).
        epochs: passes over the training set (default 5); None when
            ``iterations`` is given (a given value is checked, then dropped, so
            that one run has one config).
        iterations: optimizer steps instead of epochs, as in "10,000 iterations of
            batch 100" (default None).
        seed: seeds the batch order, an integer >= 0 (default 0).
        clip_grad_norm: rescale the gradient to this L2 norm (> 0) when it is
            larger (default None: no clipping).
        eval_every: ``"epoch"`` (the default), or a number of steps between
            evaluations of the loss and accuracy on the train (see
            ``train_eval_rows``), validation and test sets (and at the end).
        eval_at_start: also evaluate before the first step (the untrained model,
            a row at step 0; default False).
        evaluate_test: False keeps the test set unread (a tuning trial: every
            choice is made on the validation split; default True).
        notes_loop: run the course notes' loop (Saito's ``train_neuralnet.py``,
            default False): each step records the loss on its batch *after* the
            update, and the model is evaluated after step ``i + 1`` when
            ``i % iter_per_epoch == 0`` for ``iter_per_epoch = max(n_train /
            batch_size, 1)`` (a float, as written: 17 evaluations in 10,000 steps
            of 600 per epoch), instead of every ``eval_every`` and at the end.
        train_eval_rows: the training-set metrics (``train_loss``,
            ``train_acc``) are taken on this many training rows, a sample drawn
            once per run from ``seed`` (DeepOBS's "train_eval" set, the size of
            the test set), an integer >= 1; None, or a number of rows the training
            set does not exceed, takes them all (default 10,000: digits' 1,617
            rows are all evaluated, Fashion-MNIST's 54,000 sampled). Validation
            and test metrics always take every row; ``notes_loop`` evaluates every
            training row, as the notes do. It changes no training step.

    Example:
        >>> TrainConfig(epochs=3, batch_size=64).total_steps(n_train=1617)
        78
    """

    batch_size: BatchSize = 100
    sampling: str = "without-replacement"
    epochs: int | None = 5
    iterations: int | None = None
    seed: int = 0
    clip_grad_norm: float | None = None
    eval_every: int | Literal["epoch"] = "epoch"
    eval_at_start: bool = False
    evaluate_test: bool = True
    notes_loop: bool = False
    train_eval_rows: int | None = TRAIN_EVAL_ROWS

    constraints: ClassVar[Mapping[str, records.Constraint]] = {
        "iterations": records.optional(records.at_least(1)),
        "epochs": records.optional(records.at_least(1)),
        "batch_size": _word_or("full", records.at_least(1)),
        "sampling": records.one_of(*SAMPLING),
        "seed": records.at_least(0),
        "clip_grad_norm": records.optional(records.number(0.0, low_open=True)),
        "eval_every": _word_or("epoch", records.at_least(1)),
        "eval_at_start": records.flag,
        "evaluate_test": records.flag,
        "notes_loop": records.flag,
        "train_eval_rows": records.optional(records.at_least(1)),
    }
    """Each field's check, applied when a config is made (3.0 -> 3: one run, one
    JSON form)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations is None and self.epochs is None:
            _checks.fail("TrainConfig", "epochs", "an integer >= 1", None)
        if self.iterations is not None:  # the run's length: one setting, one run
            object.__setattr__(self, "epochs", None)

    def steps_per_epoch(self, n_train: int) -> int:
        """Batches in one pass over ``n_train`` samples."""
        return num_batches(n_train, self.batch_size)

    def notes_evaluates(self, step: int, n_train: int) -> bool:
        """Whether the notes' loop evaluates after optimizer step ``step`` (>= 1):
        their ``i % iter_per_epoch == 0`` with ``i = step - 1``."""
        size = n_train if self.batch_size == "full" else self.batch_size
        return (step - 1) % max(n_train / size, 1) == 0

    def train_eval_index(self, n_train: int) -> NDArray[np.intp] | None:
        """The training rows the training metrics are taken on, sorted (None: all
        ``n_train``): ``train_eval_rows`` of them drawn without replacement from
        a generator seeded by ``(seed, a stream number)``, so a resumed run
        evaluates the same rows and the batch order is untouched."""
        rows = self.train_eval_rows
        if self.notes_loop or rows is None or rows >= n_train:
            return None
        rng = np.random.default_rng((self.seed, _TRAIN_EVAL_STREAM))
        return np.sort(rng.choice(n_train, size=rows, replace=False))

    def total_steps(self, n_train: int) -> int:
        """The run's optimizer steps on ``n_train`` samples."""
        if self.iterations is not None:
            return self.iterations
        assert self.epochs is not None  # __post_init__ checked it
        return self.epochs * self.steps_per_epoch(n_train)

    @classmethod
    def from_dict(cls: type[_T], values: object) -> _T:
        """The config of a :meth:`to_dict`; missing fields take their defaults, an
        unknown one is a ValueError."""
        if not isinstance(values, Mapping):
            _checks.fail("TrainConfig", "values", "a mapping", values)
        for name in values:
            if name not in FIELDS:
                _checks.fail(
                    "TrainConfig", "each field", f"one of {', '.join(FIELDS)}", name
                )
        return cls(**values)


FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig))
"""The names of :class:`TrainConfig`'s fields, in order."""
LATER = {"notes_loop": False, "train_eval_rows": TRAIN_EVAL_ROWS}
"""Fields added after stores keyed runs and checkpoints stored configs, with their
defaults: a sweep key leaves them out at their default, so a run keeps its key, and
a checkpoint without them reads them as their default (``train_eval_rows`` changes
no training step, only which rows ``train_loss`` is taken on)."""

__all__ = ["FIELDS", "LATER", "SAMPLING", "TRAIN_EVAL_ROWS", "TrainConfig"]
