"""``gdlab surface`` and ``gdlab stability``: optimizers on the 2-D surfaces."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from gdlab.cli.options import (
    COMMANDLINE,
    HYPER_HELP,
    deprecated_alias,
    output_file,
    parse_floats,
    parse_hyper,
    user_input,
)


@click.command("surface")
@click.argument("name")
@click.option(
    "--optimizers",
    "--optimizer",
    "optimizers",
    default="sgd,momentum,adam",
    show_default=True,
    help="comma-separated names; momentum and nesterov are SGD presets; "
    "--heatmap takes one that has momentum [sgd]",
)
@click.option(
    "--lrs",
    "--lr",
    "lrs",
    default=None,
    help="learning rates: one per optimizer, or several for one optimizer",
)
@click.option("--hyper", "hyper", multiple=True, metavar="NAME=VALUE", help=HYPER_HELP)
@click.option("--start", default=None, help="x,y (default: the surface's start)")
@click.option(
    "--steps",
    default=300,
    show_default=True,
    type=click.IntRange(min=1),
    help="steps per run, at most 10^6; the paths kept take 16 bytes per step and "
    "run, at most 1 GiB",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=output_file(".png"),
    help="PNG to write",
)
@click.option("--3d", "three_d", is_flag=True, help="draw the 3-D surface too")
@click.option(
    "--animate",
    type=click.Path(dir_okay=False),
    callback=output_file(".gif"),
    help="GIF to write",
)
@click.option(
    "--heatmap",
    is_flag=True,
    help="final loss over an (lr, momentum) grid, one vectorized run",
)
@click.option(
    "--lr-range",
    default="1e-4,1e-1",
    show_default=True,
    help="heat map: LOW,HIGH with 0 < LOW < HIGH",
)
@click.option(
    "--momentum-range",
    default="0,0.99",
    show_default=True,
    help="heat map: LOW,HIGH with LOW < HIGH",
)
@click.option(
    "--grid-size",
    "grid",
    default=25,
    show_default=True,
    type=click.IntRange(2, 200),
    help="heat map: N×N runs; N² × --steps at most 2,000,000",
)
@deprecated_alias("--grid", "--grid-size", type=click.IntRange(2, 200))  # as sweep's
def surface_command(
    name: str,
    optimizers: str,
    lrs: str | None,
    hyper: tuple[str, ...],
    start: str | None,
    steps: int,
    output: str | None,
    three_d: bool,
    animate: str | None,
    heatmap: bool,
    lr_range: str,
    momentum_range: str,
    grid: int,
) -> None:
    """Optimizer trajectories on the 2-D surface NAME, as a table and pictures.

    NAME is one of quadratic, bowl, rosenbrock, beale, himmelblau, rastrigin, saddle,
    regression. Examples:

    \b
    gdlab surface quadratic --optimizers sgd,momentum,adagrad,adam \\
        --lrs 0.95,0.1,1.5,0.3 --start -7,2 --steps 30 -o paths.png --3d
    gdlab surface regression --optimizers sgd --lrs 0.5,0.1,0.005 --start -1,5
    gdlab surface rosenbrock --heatmap --optimizer sgd --lr-range 1e-4,1e-2 \\
        --momentum-range 0,0.99 -o heat.png
    """
    from gdlab import surfaces

    ctx = click.get_current_context()
    given = {k for k in ctx.params if ctx.get_parameter_source(k) == COMMANDLINE}
    _refuse_other_mode(heatmap, given)
    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    if heatmap and "optimizers" not in given:
        names = ["sgd"]  # the grid varies its momentum
    if heatmap:
        _one_heat_map_optimizer(names, hyper)
    shared: dict[str, Any] = {}
    for optimizer in names:  # every optimizer must take each --hyper
        shared = parse_hyper(optimizer, hyper)
    with user_input():
        f = surfaces.get(name)
    point = f.start if start is None else tuple(parse_floats("--start", start, 2))
    if heatmap:
        _heat_map(
            f,
            names[0],
            shared,
            point,
            steps,
            lr_range,
            momentum_range,
            grid,
            output,
        )
        return
    rates = None if lrs is None else list(parse_floats("--lrs", lrs))
    with user_input():
        results = surfaces.runs(f, names, rates, start=point, steps=steps, **shared)
    click.echo(results.table())
    _draw_paths(f, results.paths(), output, three_d, animate)


def _refuse_other_mode(heatmap: bool, given: set[str]) -> None:
    """An option of the other mode would be silently ignored: refused."""
    if heatmap:
        other = {"lrs": "--lrs", "three_d": "--3d", "animate": "--animate"}
    else:
        other = {
            "lr_range": "--lr-range",
            "momentum_range": "--momentum-range",
            "grid": "--grid-size",
        }
    for key, option in other.items():
        if key in given:
            where = "does not apply to" if heatmap else "applies only to"
            raise click.UsageError(f"surface: {option} {where} --heatmap")


def _one_heat_map_optimizer(names: list[str], hyper: tuple[str, ...]) -> None:
    """The heat map varies one optimizer's lr and momentum."""
    if len(names) != 1:
        raise click.UsageError(
            f"surface: --heatmap takes one optimizer, got {','.join(names)!r}"
        )
    if any(p.partition("=")[0].strip() == "momentum" for p in hyper):
        raise click.UsageError(
            "surface: --hyper momentum: the heat map varies momentum over "
            "--momentum-range"
        )


def _heat_map(
    f: Any,
    optimizer: str,
    shared: dict[str, Any],
    point: tuple[float, ...],
    steps: int,
    lr_range: str,
    momentum_range: str,
    grid: int,
    output: str | None = None,
) -> None:
    """The final loss over an (lr, momentum) grid of one optimizer: a table, and
    a picture into ``output``."""
    from gdlab import surfaces
    from gdlab.report import landscape

    lo, hi = parse_floats("--lr-range", lr_range, 2)
    m_lo, m_hi = parse_floats("--momentum-range", momentum_range, 2)
    if not 0 < lo < hi:
        raise click.UsageError(f"--lr-range must be 0 < low < high, got {lr_range!r}")
    if not m_lo < m_hi:
        raise click.UsageError(
            f"--momentum-range must be low < high, got {momentum_range!r}"
        )
    with user_input():
        cells = surfaces.loss_grid(
            f,
            optimizer,
            np.geomspace(lo, hi, grid),
            np.linspace(m_lo, m_hi, grid),
            start=point,
            steps=steps,
            **shared,
        )
    click.echo(cells.summary())
    if output:
        landscape.plot_loss_grid(cells, path=output)
        click.echo(f"wrote {output}")


def _draw_paths(
    f: Any, paths: Any, output: str | None, three_d: bool, animate: str | None
) -> None:
    """The trajectories drawn into ``output`` (PNG) and ``animate`` (GIF)."""
    from gdlab.report import landscape

    if output:
        landscape.plot_trajectories(f, paths, path=output, three_d=three_d)
        click.echo(f"wrote {output}")
    if animate:
        click.echo(f"wrote {landscape.animate_trajectories(f, paths, animate)}")


@click.command("stability")
@click.argument("name")
@click.option("--lrs", default=None, help="plain-GD learning rates to run")
@click.option("--start", default=None, help="x,y where the runs start")
@click.option("--at", default=None, help="x,y where the Hessian is taken")
@click.option(
    "--steps",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="GD steps per run, at most 10^6; the paths kept take 16 bytes per step "
    "and run, at most 1 GiB",
)
def stability_command(
    name: str, lrs: str | None, start: str | None, at: str | None, steps: int
) -> None:
    """The largest and smallest Hessian eigenvalues of surface NAME (from
    Hessian-vector products), the largest stable plain-GD learning rate 2/λmax, and
    GD runs just below and above it.

    gdlab stability regression
    """
    from gdlab import lab

    rates = None if lrs is None else parse_floats("--lrs", lrs)
    origin = None if start is None else parse_floats("--start", start, 2)
    where = None if at is None else parse_floats("--at", at, 2)
    with user_input():
        report = lab.stability(name, rates, start=origin, at=where, steps=steps)
    click.echo(report.format())
