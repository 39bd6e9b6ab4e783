"""``gdlab study``: batch size and sharpness; the edge of stability."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gdlab.cli.options import (
    activation_option,
    command_line,
    data_options,
    default_out,
    deprecated_alias,
    dtype_option,
    model_option,
    out_option,
    parse_list,
    quiet_option,
    seed_option,
    seeds_option,
    sharpness_samples_option,
    user_input,
    warn_zero_lr,
    zero_lr_warning,
)

STUDY_DATA = "digits | fashion-mnist | mnist"


@click.group("study")
def study_group() -> None:
    """Studies: batch size and sharpness at equal training loss; the edge of
    stability of full-batch gradient descent."""


@study_group.command("batch-size")
@data_options(STUDY_DATA)
@model_option("mlp (one hidden layer of 100) | mlp:IN-HIDDEN...-OUT")
@activation_option()
@click.option("--optimizer", default="sgd", show_default=True)
@click.option(
    "--lr", default=0.5, show_default=True, type=float, callback=zero_lr_warning
)
@click.option("--batch-sizes", default="16,32,64,128,256,512,1024", show_default=True)
@click.option(
    "--until",
    default="loss:0.01",
    show_default=True,
    help="loss:X (train each to training loss X) or steps:N",
)
@seeds_option(3, "seeds 0..N-1 per size")
@click.option("--epsilon", default=1e-2, show_default=True, type=float)
@sharpness_samples_option("samples")
@deprecated_alias("--samples", "--sharpness-samples", type=int)
@click.option(
    "--max-epochs",
    default=3000,
    show_default=True,
    type=int,
    help="budget of a loss:X run",
)
@dtype_option
@out_option("runs/study-batch-size-DATA")
@quiet_option
def study_batch_size(
    batch_sizes: str, out: str | None, quiet: bool, **options: Any
) -> None:
    """Train one model at each batch size from the same weights until the same
    training loss; compare λmax, ε-sharpness, accuracy and the loss along the line
    between the smallest and the largest batch's solutions (Keskar et al., 2017).
    Rerunning the same command skips the runs already done.

    \b
    gdlab study batch-size --batch-sizes 16,1024 --until loss:0.01 --seeds 3
    """
    from gdlab.lab import studies

    sizes = parse_list("--batch-sizes", batch_sizes, int, "integers")
    where = out or default_out(f"runs/study-batch-size-{options['data']}")
    with user_input():  # the plan, and the records of the runs done there
        plan = studies.BatchSize(batch_sizes=tuple(sizes), **options)
        ready = studies.prepare(plan, out=where)
    result = ready.run(
        progress=None if quiet else click.echo,
        command=command_line(click.get_current_context()),
    )
    click.echo(result.format())
    click.echo(f"report: {Path(where) / 'report.html'}")


@study_group.command("edge-of-stability")
@data_options(STUDY_DATA)
@click.option(
    "--samples",
    default=1000,
    show_default=True,
    type=int,
    help="training rows: the first N of the training set, trained on full-batch",
)
@click.option(
    "--hidden", default="100-100-100-100", show_default=True, help="hidden widths"
)
@activation_option("tanh")
@click.option(
    "--loss",
    default="mse",
    show_default=True,
    type=click.Choice(["mse", "cross-entropy"]),
)
@click.option(
    "--lrs", default="0.5,0.6,0.7", show_default=True, help="learning rates η"
)
@click.option(
    "--momentum", default=0.0, show_default=True, type=float, help="heavy-ball β"
)
@click.option(
    "--steps", default=1500, show_default=True, type=int, help="GD steps per run"
)
@click.option(
    "--every", default=25, show_default=True, type=int, help="steps between λmax"
)
@seed_option
@out_option("runs/study-edge-of-stability-DATA")
@quiet_option
def study_edge_of_stability(
    hidden: str, lrs: str, out: str | None, quiet: bool, **options: Any
) -> None:
    """Full-batch gradient descent at each learning rate: the loss every step and
    λmax every few steps, against the stability threshold 2(1+β)/η (Cohen et al.,
    2021). Rerunning the same command skips the runs already done.

    \b
    gdlab study edge-of-stability --momentum 0.9 --lrs 0.95,1.33
    """
    from gdlab.lab import studies

    widths = parse_list(
        "--hidden", hidden.replace("-", ","), int, "integers joined by -"
    )
    rates = parse_list("--lrs", lrs, float, "numbers")
    warn_zero_lr("--lrs", rates)
    where = out or default_out(f"runs/study-edge-of-stability-{options['data']}")
    with user_input():  # the plan, and the records of the runs done there
        plan = studies.EdgeOfStability(
            hidden=tuple(widths), lrs=tuple(rates), **options
        )
        ready = studies.prepare(plan, out=where)
    result = ready.run(
        progress=None if quiet else click.echo,
        command=command_line(click.get_current_context()),
    )
    click.echo(result.format())
    click.echo(f"report: {Path(where) / 'report.html'}")
