"""What a training run tells the code around it while it runs: callbacks for
:func:`gdlab.train.fit` (and :func:`~gdlab.train.resume`).

A callback sees every step (its number, loss and learning rate) and every
evaluation (the row the history records), and may stop the run by returning True::

    fit(model, opt, data, config, callbacks=[StopAt("loss", below=0.01)])

The run then ends as if its length were reached: it is evaluated at that step, and
its history's ``message`` names the callback. Callbacks are told nothing the
history does not keep; they run in the order given, after the step's update.

:class:`TensorBoard` writes the run as TensorBoard event files (loss, learning
rate, the evaluations, and the norms of the parameters and of each optimizer state
buffer), so a run can be watched with ``tensorboard --logdir DIR``. Event files
are streams that TensorBoard reads while they grow: unlike gdlab's results, they
are appended to, not written at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gdlab import _checks, outputs

if TYPE_CHECKING:
    from gdlab.optim import Optimizer


@dataclass(frozen=True)
class Step:
    """One step as it finished: ``step`` counts updates from 1; ``epoch`` is
    fractional (2.5: half way through the third epoch); ``loss`` is the batch's
    loss before the update, at learning rate ``lr``."""

    step: int
    epoch: float
    loss: float
    lr: float


class Callback:
    """Override what you need; return True from a hook to stop the run there."""

    def on_step(self, step: Step, optimizer: Optimizer) -> bool | None:
        """After each update."""
        return None

    def on_evaluation(
        self, row: Mapping[str, float | None], optimizer: Optimizer
    ) -> bool | None:
        """After each evaluation, with the row the history records."""
        return None

    def on_end(self) -> None:
        """Once, when the run ends (finished, stopped or diverged)."""


class StopAt(Callback):
    """Stop when a quantity reaches a target: ``StopAt("loss", below=0.01)`` (the
    batch loss of a step), ``StopAt("val_acc", above=0.95)`` or any other field of
    an evaluation row (``train_loss``, ``val_loss``, ``test_acc``, ...)."""

    def __init__(
        self, quantity: str, *, below: float | None = None, above: float | None = None
    ) -> None:
        fields = ("loss", "train_loss", "train_acc", "val_loss", "val_acc")
        self.quantity = _checks.choice(
            "StopAt", "quantity", quantity, (*fields, "test_loss", "test_acc")
        )
        if (below is None) == (above is None):
            raise ValueError("StopAt: give one of below= and above=")
        self.below = None if below is None else _checks.number("StopAt", "below", below)
        self.above = None if above is None else _checks.number("StopAt", "above", above)

    def _reached(self, value: float | None) -> bool:
        if value is None:
            return False
        if self.below is not None:
            return value <= self.below
        return self.above is not None and value >= self.above

    def on_step(self, step: Step, optimizer: Optimizer) -> bool:
        return self.quantity == "loss" and self._reached(step.loss)

    def on_evaluation(
        self, row: Mapping[str, float | None], optimizer: Optimizer
    ) -> bool:
        return self.quantity != "loss" and self._reached(row.get(self.quantity))

    def __repr__(self) -> str:
        target = f"below={self.below:g}" if self.below is not None else ""
        target = target or f"above={self.above:g}"
        return f"StopAt({self.quantity!r}, {target})"


class TensorBoard(Callback):
    """Write the run as TensorBoard event files in ``logdir``: ``train/loss`` and
    ``train/lr`` every step; every evaluation's losses and accuracies
    (``eval/val_acc``, ...); and at each evaluation the L2 norm of the parameters
    (``norms/params``) and of each optimizer state buffer over all parameters
    (``norms/exp_avg``, ...). Needs ``tensorboardX``
    (``pip install 'gdlab[tensorboard]'``)."""

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoard: writing event files needs tensorboardX: "
                "pip install 'gdlab[tensorboard]'"
            ) from None
        self.logdir = os.fspath(outputs.writable(logdir, "TensorBoard: logdir"))
        self._writer: Any = SummaryWriter(self.logdir)

    def on_step(self, step: Step, optimizer: Optimizer) -> None:
        self._writer.add_scalar("train/loss", step.loss, step.step)
        self._writer.add_scalar("train/lr", step.lr, step.step)

    def on_evaluation(
        self, row: Mapping[str, float | None], optimizer: Optimizer
    ) -> None:
        step = int(row["step"] or 0)
        for key, value in row.items():
            if key not in ("epoch", "step", "lr", "seconds") and value is not None:
                self._writer.add_scalar(f"eval/{key}", value, step)
        for key, norm in state_norms(optimizer).items():
            self._writer.add_scalar(f"norms/{key}", norm, step)
        self._writer.flush()

    def on_end(self) -> None:
        self._writer.close()


def state_norms(optimizer: Optimizer) -> dict[str, float]:
    """The L2 norm over all parameters of the parameters (``"params"``) and of
    each array-valued optimizer state buffer (``"exp_avg"``, ...)."""
    totals: dict[str, float] = {"params": 0.0}
    for group in optimizer.param_groups:
        for array in group["params"].values():
            flat = np.asarray(array, dtype=np.float64).reshape(-1)
            totals["params"] += float(flat @ flat)
    for state in optimizer.state.values():
        for key, value in state.items():
            flat = np.asarray(value, dtype=np.float64).reshape(-1)
            totals[key] = totals.get(key, 0.0) + float(flat @ flat)
    return {k: math.sqrt(v) for k, v in totals.items()}


__all__ = ["Callback", "Step", "StopAt", "TensorBoard", "state_norms"]
