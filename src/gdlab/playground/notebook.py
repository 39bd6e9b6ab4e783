"""The playground's core in a notebook: pick a surface, the optimizers and their
learning rates with ipywidgets, and the trajectories redraw (``pip install
'gdlab[notebook]'``)::

    from gdlab.playground.notebook import Playground
    Playground("quadratic", {"sgd": 0.95, "momentum": 0.1, "adam": 0.3})

Each redraw runs :func:`gdlab.surfaces.runs` (the real optimizers) and draws
:meth:`~gdlab.surfaces.Trajectories.plot` into a PNG shown by an ``Image`` widget.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Mapping
from typing import Any

from gdlab import _checks, optim, surfaces

OWNER = "Playground"


def _widgets() -> Any:
    try:
        return importlib.import_module("ipywidgets")
    except ImportError:
        raise ValueError(
            f"{OWNER}: the widgets need ipywidgets, which is not installed: "
            "pip install 'gdlab[notebook]'"
        ) from None


class Playground:
    """Sliders for each optimizer's learning rate (log scale) and a checkbox to
    race it or not, the surface and the number of steps; the figure redraws on
    every change. ``lrs`` maps an optimizer (or preset) name to its first lr."""

    def __init__(
        self,
        surface: str = "quadratic",
        lrs: Mapping[str, float] | None = None,
        *,
        steps: int = 50,
    ) -> None:
        w = _widgets()
        chosen = dict(lrs or {"sgd": 0.9, "momentum": 0.1, "adam": 0.3})
        for name, lr in chosen.items():
            optim.resolve(name)
            _checks.number(OWNER, f"lrs[{name!r}]", lr, low=0.0, low_open=True)
        self.surface = w.Dropdown(
            options=surfaces.names(), value=surfaces.get(surface).name
        )
        self.steps = w.IntSlider(
            value=_checks.integer(OWNER, "steps", steps, low=1), min=1, max=500
        )
        self.on = {name: w.Checkbox(value=True, description=name) for name in chosen}
        self.lrs = {
            name: w.FloatLogSlider(value=lr, base=10, min=-4, max=1, step=0.05)
            for name, lr in chosen.items()
        }
        self.image = w.Image(format="png")
        for control in [
            self.surface,
            self.steps,
            *self.on.values(),
            *self.lrs.values(),
        ]:
            control.observe(lambda _: self.redraw(), names="value")
        rows = [w.HBox([self.on[n], self.lrs[n]]) for n in chosen]
        self.widget = w.VBox([w.HBox([self.surface, self.steps]), *rows, self.image])
        self.redraw()

    def runs(self) -> surfaces.Trajectories:
        """The trajectories the controls ask for (none while every box is off)."""
        names = [n for n, box in self.on.items() if box.value]
        if not names:
            return surfaces.Trajectories(surfaces.get(self.surface.value))
        lrs = [float(self.lrs[n].value) for n in names]
        return surfaces.runs(self.surface.value, names, lrs, steps=self.steps.value)

    def redraw(self) -> None:
        """Run the optimizers again and show the new figure."""
        runs = self.runs()
        if not runs:
            self.image.value = b""
            return
        buffer = io.BytesIO()
        runs.plot().savefig(buffer, format="png", dpi=72)
        self.image.value = buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
