"""Labelled runs on a surface and how they ended: :func:`runs` pairs optimizers
with learning rates from one start and returns :class:`Trajectories`, a list that
prints as a table and shows itself in a notebook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks, _display, optim
from gdlab.surfaces.catalogue import F64, Surface, get
from gdlab.surfaces.runner import (
    as_point,
    check_steps,
    diverged,
    first_nonfinite,
    trajectories,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Trajectory:
    """One labelled trajectory on a surface and how it ended."""

    label: str
    optimizer: str
    lr: float  # the optimizer's default when none was given
    hyper: dict[str, Any]
    path: F64
    start_loss: float
    final_loss: float
    diverged: bool
    nonfinite_at: int | None

    @property
    def final(self) -> F64:
        """The last point (a view into ``path``)."""
        return np.asarray(self.path[-1], dtype=np.float64)


class Trajectories(list[Trajectory]):
    """The runs of :func:`runs` on one surface: a list of :class:`Trajectory` that shows
    itself in a notebook (a table, :meth:`plot`, :meth:`to_frame`)."""

    def __init__(self, surface: Surface, runs: Sequence[Trajectory] = ()) -> None:
        super().__init__(runs)
        self.surface = surface

    def _summary(self) -> list[dict[str, Any]]:
        return [
            {
                "label": r.label,
                "optimizer": r.optimizer,
                "lr": r.lr,
                "steps": len(r.path) - 1,
                f"final {self.surface.labels[0]}": float(r.final[0]),
                f"final {self.surface.labels[1]}": float(r.final[1]),
                f"start {self.surface.value_name}": r.start_loss,
                f"final {self.surface.value_name}": r.final_loss,
                "diverged": r.diverged,
                "nonfinite_at": r.nonfinite_at,
            }
            for r in self
        ]

    def to_frame(self, points: bool = False) -> Any:
        """One row per run, or with ``points`` one per run and step (``run``,
        ``step``, the coordinates, the value), as a pandas DataFrame (``pip
        install 'gdlab[notebook]'``)."""
        if not points:
            return _display.frame("Trajectories.to_frame", self._summary())
        x, y = self.surface.labels
        rows = []
        for r in self:
            with np.errstate(over="ignore", invalid="ignore"):
                values = self.surface.value(r.path)
            rows += [
                {
                    "run": r.label,
                    "step": t,
                    x: p[0],
                    y: p[1],
                    self.surface.value_name: v,
                }
                for t, (p, v) in enumerate(
                    zip(r.path.tolist(), values.tolist(), strict=True)
                )
            ]
        return _display.frame("Trajectories.to_frame", rows)

    def paths(self) -> dict[str, F64]:
        """label -> path, what the pictures draw; a diverged run's label says so."""
        return {r.label + (", diverged" if r.diverged else ""): r.path for r in self}

    def table(self) -> str:
        """The runs as text, as ``gdlab surface`` prints them: the surface and its
        minima, the start, then per run its lr, final point and value, and whether
        (and at which step it overflowed) it diverged."""
        f = self.surface
        x, y = f.labels
        minima = ", ".join(f"({a:.4g}, {b:.4g})" for a, b in f.minima)
        lines = [f"{f.name}: {f.formula}; minimum {f.min_value:g} at {minima}"]
        if self:  # the runs of :func:`runs` share their start and length
            first = self[0]
            lines.append(
                f"start ({first.path[0, 0]:g}, {first.path[0, 1]:g}), "
                f"{f.value_name} {first.start_loss:.6g}; {len(first.path) - 1} steps"
            )
        lines.append(
            f"{'optimizer':<12}{'lr':>9}  {'final (' + x + ', ' + y + ')':>30}"
            f"  {'final ' + f.value_name:>13}  diverged"
        )
        for r in self:
            lr = f"{r.lr:g}"
            final = f"({r.final[0]:.6g}, {r.final[1]:.6g})"
            note = "yes" if r.diverged else "no"
            if r.nonfinite_at is not None:
                note += f" (overflow at step {r.nonfinite_at})"
            lines.append(
                f"{r.optimizer:<12}{lr:>9}  {final:>30}  {r.final_loss:>13.6g}  {note}"
            )
        return "\n".join(lines)

    def plot(self, ax: Axes | None = None, *, three_d: bool = False) -> Figure:
        """The runs on the surface's contour plot, drawn into ``ax`` (a new Figure
        when None); ``three_d`` adds the 3-D surface."""
        from gdlab.report.landscape import plot_trajectories

        return plot_trajectories(self.surface, self.paths(), ax=ax, three_d=three_d)

    def _repr_html_(self) -> str:
        f = self.surface
        caption = f"{len(self)} runs on {f.name}: {f.formula} (minimum {f.min_value:g})"
        return _display.table(caption, self._summary())


def runs(
    f: Surface | str,
    optimizers: Sequence[str],
    lrs: Sequence[float | None] | None = None,
    *,
    start: ArrayLike | None = None,
    steps: int = 100,
    **hyper: Any,
) -> Trajectories:
    """Run each ``(optimizer, lr)`` pair from the same start, one vectorized call
    per optimizer; a :class:`Trajectories` (a list of :class:`Trajectory`).

    ``optimizers`` and ``lrs`` pair up; a single optimizer runs once per lr, a single
    lr is used for every optimizer; ``None`` (or no ``lrs``) means the optimizer's
    default lr. ``hyper`` (``momentum=0.5``) goes to every optimizer, over a
    preset's own values.
    """
    owner = "surface runs"
    surface = get(f)
    names_ = list(optimizers)
    lr_list: list[float | None] = [None] if lrs is None else list(lrs)
    if not names_:
        _checks.fail(owner, "optimizers", "at least one name", names_)
    if not lr_list:
        _checks.fail(owner, "lrs", "at least one learning rate", lr_list)
    if len(names_) == 1:
        names_ = names_ * len(lr_list)
    elif len(lr_list) == 1:
        lr_list = lr_list * len(names_)
    if len(names_) != len(lr_list):
        _checks.fail(
            owner,
            "lrs",
            f"one per optimizer ({len(names_)}), or a single one",
            len(lr_list),
        )
    for name in names_:
        optim.resolve(name)
    for lr in lr_list:
        if lr is not None:
            _checks.number(owner, "lr", lr, low=0.0)
    point = as_point(owner, "start", surface.start if start is None else start)
    n = check_steps(owner, steps, len(names_))
    paths: dict[int, F64] = {}
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(names_):
        by_name.setdefault(name.lower(), []).append(i)
    for name, idx in by_name.items():
        base, preset = optim.resolve(name)
        lr_given = [lr_list[i] for i in idx]
        default_lr = optim.get(base).defaults["lr"]
        lr_values = [default_lr if lr is None else lr for lr in lr_given]
        block = trajectories(
            surface,
            name,
            np.repeat(point[None], len(idx), axis=0),
            lr=lr_values,
            steps=n,
            **hyper,
        )
        for j, i in enumerate(idx):
            paths[i] = block[:, j].copy()
    out = Trajectories(surface)
    counts: dict[str, int] = {}
    for name in names_:
        counts[name] = counts.get(name, 0) + 1
    with np.errstate(over="ignore", invalid="ignore"):
        for i, name in enumerate(names_):
            path = paths[i]
            base, preset = optim.resolve(name)
            lr = lr_list[i]
            lr_value = float(optim.get(base).defaults["lr"] if lr is None else lr)
            label = f"{name} (lr={lr_value:g})" if counts[name] > 1 or lrs else name
            start_loss = float(surface.value(path[0]))
            final_loss = float(surface.value(path[-1]))
            bad = first_nonfinite(path[:, None])[0]
            out.append(
                Trajectory(
                    label=label,
                    optimizer=name,
                    lr=lr_value,
                    hyper={**preset, **hyper},
                    path=path,
                    start_loss=start_loss,
                    final_loss=final_loss,
                    diverged=bool(diverged(surface, path)),
                    nonfinite_at=None if bad < 0 else int(bad),
                )
            )
    return out


__all__ = ["Trajectories", "Trajectory", "runs"]
