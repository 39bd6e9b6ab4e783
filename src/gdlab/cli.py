"""The ``gdlab`` command line: thin click commands, one library call each.

A ``ValueError`` (bad user input) becomes one line on stderr and exit status 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from gdlab import optim


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValueError as error:
            click.echo(f"gdlab: error: {error}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gdlab")
def main() -> None:
    """gdlab: a laboratory for gradient-descent optimization."""


@main.command()
@click.option("--steps", default=100, show_default=True, type=click.IntRange(min=1))
def demo(steps: int) -> None:
    """A few optimizers minimize the seeds' worked regression on (1,3), (2,5).

    The loss is MSE = ½[(m+b−3)² + (2m+b−5)²] from (m, b) = (−1, 5); its minimum is
    0 at (2, 1).
    """
    x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    runs = {
        "sgd": {"lr": 0.1},
        "sgd+momentum": {"lr": 0.05, "momentum": 0.9},
        "rmsprop": {"lr": 0.05},
        "adam": {"lr": 0.3},
    }
    click.echo(
        f"{'optimizer':<14}{'lr':>6}  loss at step 0, 10, 100, ...  final (m, b)"
    )
    for label, hyper in runs.items():
        name = label.split("+")[0]
        w = {"mb": np.array([-1.0, 5.0])}
        if name not in optim.names():
            continue
        opt = optim.create(name, w, **hyper)
        losses = []
        for step in range(steps + 1):
            m, b = w["mb"]
            residual = m * x + b - y
            losses.append(0.5 * float(residual @ residual))
            if step < steps:
                opt.step({"mb": np.array([residual @ x, residual.sum()])})
        shown = "  ".join(f"{losses[k]:.4f}" for k in (0, 10, steps) if k <= steps)
        m, b = w["mb"]
        click.echo(f"{label:<14}{hyper['lr']:>6}  {shown}  ({m:.4f}, {b:.4f})")
