"""``gdlab schedule``: a learning-rate schedule drawn and tabulated."""

from __future__ import annotations

import click

from gdlab.cli.options import (
    COMMANDLINE,
    SCHEDULE_HELP,
    output_file,
    parse_schedule_args,
    user_input,
)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--lr",
    default=0.1,
    show_default=True,
    type=float,
    help="the peak learning rate (max_lr of one_cycle), as train's --lr",
)
@click.option(
    "--steps",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="steps of the run, warm-up included (with --all at most 1,000,000)",
)
@click.option(
    "--warmup",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="steps of linear warm-up from lr/(W+1) (torch LinearLR's start factor), "
    "before the decay",
)
@click.option(
    "--schedule-arg",
    "schedule_arg",
    multiple=True,
    metavar="NAME=VALUE",
    help="a schedule argument, e.g. --schedule-arg gamma=0.5 (repeatable); not "
    "given, over the decay steps: " + SCHEDULE_HELP,
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="every schedule type with example arguments, as a grid",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=output_file(".png"),
    help="PNG to write",
)
def schedule(
    name: str | None,
    lr: float,
    steps: int,
    warmup: int,
    schedule_arg: tuple[str, ...],
    show_all: bool,
    output: str | None,
) -> None:
    """Draw and tabulate the learning-rate schedule NAME as a training run uses it
    (train --schedule NAME --schedule-arg ...), or with --all every schedule type.

    \b
    gdlab schedule cosine --lr 0.1 --steps 1000 --warmup 100 -o s.png
    gdlab schedule step --schedule-arg step_size=300 --schedule-arg gamma=0.1
    gdlab schedule --all -o schedules.png
    """
    from gdlab import report, schedules
    from gdlab.schedules.examples import PLATEAU_STEPS, gallery, gallery_table, table

    if show_all == (name is not None):
        raise click.UsageError("schedule: give a schedule NAME or --all (not both)")
    if show_all:
        ctx = click.get_current_context()
        if any(
            ctx.get_parameter_source(k) == COMMANDLINE
            for k in ("lr", "warmup", "schedule_arg")
        ):
            raise click.UsageError(
                "schedule: --all draws each schedule with its example arguments; "
                "give --steps and -o only"
            )
        if steps > PLATEAU_STEPS:
            raise click.UsageError(
                f"schedule: with --all, --steps must be at most "
                f"{PLATEAU_STEPS:,} (reduce-on-plateau is simulated step "
                f"by step), got {steps}"
            )
        curves = gallery(steps)
        click.echo(gallery_table(curves, steps))
        if output:
            report.plot_schedule_grid(curves, steps, path=output)
            click.echo(f"wrote {output}")
        return
    assert name is not None
    args = parse_schedule_args(name, schedule_arg)
    with user_input():
        s = schedules.for_run(name, lr, steps, warmup=warmup, **args)
        click.echo(table(s, steps, warmup))
    if output:
        report.plot_schedules({repr(s): s}, steps, path=output)
        click.echo(f"wrote {output}")
