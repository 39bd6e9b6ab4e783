"""A worked optimizer step and the worked steps of a run, rendered as tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gdlab.i18n import gettext as _
from gdlab.params import F64

Group = Mapping[str, Any]
State = Mapping[str, F64]


@dataclass(frozen=True)
class ExplainedStep:
    """One optimizer step, worked out.

    Attributes:
        t: the step number (1 for the first step).
        lr: the learning rate this step used (a schedule's value at step t−1).
        loss: the objective at θ before the step (with a surface), else None.
        scalars: per-step numbers shared by all elements (bias corrections, ...).
        columns: name -> one value per element, in display order, from ``"θ"``
            (before the step) and ``"g"`` to ``"θ new"`` (what the optimizer wrote).
        subtracted: the columns whose sum the step subtracts from θ:
            ``θ new = θ − Σ columns[subtracted]``.
    """

    t: int
    lr: float
    loss: float | None
    scalars: dict[str, float]
    columns: dict[str, F64]
    subtracted: tuple[str, ...]

    @property
    def new(self) -> F64:
        return self.columns["θ new"]


@dataclass(frozen=True)
class Explanation:
    """The worked steps of one optimizer; ``format()`` renders formula and tables."""

    name: str
    optimizer: str
    hyper: dict[str, Any]
    formula: tuple[str, ...]
    labels: tuple[str, ...]
    steps: tuple[ExplainedStep, ...]
    final_loss: float | None
    value_name: str = "loss"
    diverged: str | None = None
    """Why the steps stopped early: the first step whose numbers are not finite
    (float64 overflowed), shown as its last table; None if every step is finite."""

    @property
    def params(self) -> F64:
        """The parameters after the last step (the optimizer's own numbers)."""
        return self.steps[-1].new

    def rows(self) -> list[dict[str, Any]]:
        """The table as records: one per step ``t`` and element, every column."""
        return [
            {
                "t": s.t,
                "element": label,
                **{name: float(values[i]) for name, values in s.columns.items()},
            }
            for s in self.steps
            for i, label in enumerate(self.labels)
        ]

    def format(self, digits: int = 6) -> str:
        """The formula, then one table per step (``digits`` significant digits)."""

        def num(x: float) -> str:
            return f"{x:.{digits}g}"

        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.hyper.items())
        lines = [f"{self.optimizer}  {shown}", *(f"  {f}" for f in self.formula)]
        for s in self.steps:
            lines.append("")
            scheduled = callable(self.hyper.get("lr"))
            head = _("step {t}").format(t=s.t)
            head += f"  (lr {num(s.lr)})" if scheduled else ""
            if s.loss is not None:
                head += "  " + _("{value} before the step: {x}").format(
                    value=self.value_name, x=num(s.loss)
                )
            lines.append(head)
            if s.scalars:
                lines.append(
                    "  " + ", ".join(f"{k} = {num(v)}" for k, v in s.scalars.items())
                )
            names = ["", *s.columns]
            cells = [
                [label, *(num(float(v[i])) for v in s.columns.values())]
                for i, label in enumerate(self.labels)
            ]
            widths = [
                max(len(names[j]), *(len(row[j]) for row in cells))
                for j in range(len(names))
            ]
            lines.append(
                "  " + "  ".join(n.rjust(w) for n, w in zip(names, widths, strict=True))
            )
            lines.extend(
                "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))
                for row in cells
            )
        if self.diverged is not None:
            lines += ["", f"stopped: {self.diverged}"]
        elif self.final_loss is not None:
            lines.append("")
            point = ", ".join(
                f"{label} = {num(float(v))}"
                for label, v in zip(self.labels, self.params, strict=True)
            )
            lines.append(
                _("after {n} step(s): {point}; {value} {x}").format(
                    n=len(self.steps), point=point, value=self.value_name,
                    x=num(self.final_loss),
                )
            )  # fmt: skip
        return "\n".join(lines)


def _show(v: object) -> str:
    if callable(v):
        return repr(v)
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "(" + ", ".join(_show(x) for x in v) + ")"
    return str(v)


__all__ = ["ExplainedStep", "Explanation"]
