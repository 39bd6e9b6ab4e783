"""Final losses over a grid of (lr, another hyperparameter), from one vectorized
call: the data of a heat map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, optim
from gdlab.surfaces.catalogue import F64, Surface, get
from gdlab.surfaces.runner import as_point, check_steps, final_points

MAX_RUN_STEPS = 2_000_000
"""The most runs × steps of one grid: the cells step together, each with its own
hyperparameters in one kernel call per step (about 2 µs per cell and step at 625
cells), so this is seconds; a rule that cannot take per-run values (its own
update) steps one optimizer group per cell from Python, a minute or less."""


@dataclass(frozen=True)
class LossGrid:
    """Final losses of a grid of runs over (lr, another hyperparameter)."""

    surface: str
    optimizer: str
    lrs: F64
    name: str
    values: F64
    final_loss: F64  # (len(values), len(lrs))
    start: F64
    start_loss: float
    min_value: float
    steps: int
    hyper: dict[str, Any]

    @property
    def diverged(self) -> NDArray[np.bool_]:
        """Cells whose final loss is not finite or above the starting loss."""
        with np.errstate(invalid="ignore"):
            return np.asarray(
                ~np.isfinite(self.final_loss) | (self.final_loss > self.start_loss)
            )

    def best(self) -> tuple[float, float, float]:
        """``(lr, value, final loss)`` of the cell with the lowest final loss among
        those that did not diverge; a ValueError when every cell diverged."""
        if self.diverged.all():
            raise ValueError(
                f"LossGrid: every one of the {self.diverged.size} runs diverged"
            )
        loss = np.where(self.diverged, np.inf, self.final_loss)
        i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
        return float(self.lrs[j]), float(self.values[i]), float(self.final_loss[i, j])

    @property
    def label(self) -> str:
        """The optimizer with the hyperparameters every cell shares, e.g.
        ``"sgd (nesterov=True)"``."""
        extra = ", ".join(f"{k}={v}" for k, v in self.hyper.items())
        return self.optimizer + (f" ({extra})" if extra else "")

    def summary(self) -> str:
        """One line, as ``gdlab surface --heatmap`` prints it: the grid, how many
        runs diverged and the best cell (none when all diverged)."""
        bad = int(self.diverged.sum())
        line = (
            f"{self.surface}: {self.label}, {self.lrs.size}x{self.values.size} runs "
            f"of {self.steps} steps from ({self.start[0]:g}, {self.start[1]:g}); "
            f"{bad} diverged"
        )
        if bad == self.diverged.size:
            return line
        lr, value, loss = self.best()
        best = f"best lr {lr:.4g}, {self.name} {value:.4g}: final loss {loss:.4g}"
        return f"{line}; {best}"


def loss_grid(
    f: Surface | str,
    optimizer: str,
    lrs: ArrayLike,
    values: ArrayLike,
    *,
    name: str = "momentum",
    start: ArrayLike | None = None,
    steps: int = 200,
    **hyper: Any,
) -> LossGrid:
    """The final loss for every (lr, ``name``) pair, from one vectorized call.

    ``lrs`` and ``values`` are 1-D; the result's ``final_loss`` has shape
    ``(len(values), len(lrs))``. ``optimizer`` must take ``name``; cells × ``steps``
    is at most :data:`MAX_RUN_STEPS` (each cell is its own run).

    Example:
        >>> g = loss_grid("rosenbrock", "sgd", np.geomspace(1e-4, 1e-2, 20),
        ...               np.linspace(0, 0.99, 20), steps=500)
    """
    owner = "loss_grid"
    surface = get(f)
    lr_axis = np.array(lrs, dtype=np.float64).reshape(-1)
    value_axis = np.array(values, dtype=np.float64).reshape(-1)
    if lr_axis.size == 0 or value_axis.size == 0:
        _checks.fail(owner, "lrs and values", "non-empty", (lr_axis, value_axis))
    if name == "lr":
        _checks.fail(owner, "name", "a hyperparameter other than lr", name)
    if name in hyper:
        _checks.fail(
            owner, f"**hyper {name}", f"left out: {name} is the grid's axis", hyper
        )
    if name not in optim.get(optim.resolve(optimizer)[0]).defaults:
        _checks.fail(
            owner, "optimizer", f"one that takes {name} (the grid varies it)", optimizer
        )
    cells = lr_axis.size * value_axis.size
    n = check_steps(owner, steps, cells, kept=False)
    if cells * n > MAX_RUN_STEPS:
        _checks.fail(
            owner,
            "steps",
            f"<= {MAX_RUN_STEPS // cells:,} for {cells} cells (runs × steps at most "
            f"{MAX_RUN_STEPS:,}: each cell is its own run)",
            n,
        )
    point = as_point(owner, "start", surface.start if start is None else start)
    lr_grid, value_grid = np.meshgrid(lr_axis, value_axis)
    k = lr_grid.size
    finals = final_points(
        surface,
        optimizer,
        np.repeat(point[None], k, axis=0),
        lr=lr_grid.reshape(-1),
        steps=n,
        **{name: value_grid.reshape(-1)},
        **hyper,
    )
    with np.errstate(over="ignore", invalid="ignore"):
        final_loss = surface.value(finals).reshape(lr_grid.shape)
    return LossGrid(
        surface=surface.name,
        optimizer=optimizer,
        lrs=lr_axis,
        name=name,
        values=value_axis,
        final_loss=final_loss,
        start=point,
        start_loss=float(surface.value(point)),
        min_value=surface.min_value,
        steps=n,
        hyper=dict(hyper),
    )


__all__ = ["MAX_RUN_STEPS", "LossGrid", "loss_grid"]
