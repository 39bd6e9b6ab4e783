"""``gdlab compare``: the fair comparison on one workload (``gdlab benchmark``,
on a suite, is in :mod:`gdlab.cli.benchmark`)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from gdlab.cli.options import (
    FIXED_HYPER_HELP,
    OPTIMIZERS_HELP,
    command_line,
    data_label,
    default_out,
    epochs_option,
    hyper_option,
    out_option,
    parallel_options,
    parse_fixed,
    parse_names,
    quiet_option,
    run_options,
    run_spec,
    search_seed_option,
    store_in_use,
    user_input,
)


@click.command()
@run_options
@click.option("--optimizers", default=None, help=OPTIMIZERS_HELP)
@epochs_option(10, type=click.IntRange(min=1))
@click.option(
    "--budget",
    default=4,
    show_default=True,
    type=int,
    help="trials of quasi-random search per optimizer and study, at most 1000; 0: "
    "suggested settings only",
)
@click.option(
    "--studies",
    default=5,
    show_default=True,
    type=int,
    help="independent repetitions of the whole procedure (search, selection, "
    "reruns), at most 100; claims need 2 or more",
)
@click.option(
    "--tune",
    default="lr",
    show_default=True,
    help="search-space axes to tune, e.g. lr,momentum or all; an axis is tuned "
    "where the optimizer has it",
)
@hyper_option(FIXED_HYPER_HELP)
@click.option(
    "--select",
    default="val_acc",
    show_default=True,
    type=click.Choice(["val_acc", "val_loss"]),
    help="the validation metric that picks the trial",
)
@click.option(
    "--seeds",
    default=2,
    show_default=True,
    type=int,
    help="reruns of the selected settings per study, on the test set (at most 100)",
)
@click.option(
    "--target",
    default=None,
    type=float,
    help="validation value for time-to-target [digits 0.95, fashion-mnist 0.85]",
)
@search_seed_option
@parallel_options
@out_option(
    "runs/compare-DATA, or runs/compare-DATA-HASH named after the options that "
    "differ from the defaults"
)
@quiet_option
def compare(
    optimizers: str | None,
    budget: int,
    studies: int,
    tune: str,
    hyper: tuple[str, ...],
    select: str,
    seeds: int,
    target: float | None,
    search_seed: int,
    workers: int | None,
    backend: str,
    out: str | None,
    quiet: bool,
    **run: Any,
) -> None:
    """Compare optimizers fairly, STUDIES times over: in each study every
    optimizer gets the same BUDGET of quasi-random trials over its own search
    space, the trial with the best validation metric is selected and rerun over
    SEEDS seeds (the same for every optimizer), and only those reruns touch the
    test set. A pair is ranked only when a paired t-test over the studies,
    Holm-adjusted over all pairs, says so. Prints what was established and the
    table; writes report.html and results.json beside sweep.db (run the same
    command again to continue after a kill).

    \b
    gdlab compare --optimizers sgd,momentum,adam --studies 5 --budget 4 --seeds 2
    """
    from gdlab.lab import compare as comparing

    names = None if optimizers is None else parse_names("--optimizers", optimizers)
    with user_input():
        protocol = comparing.Protocol(
            budget=budget,
            seeds=seeds,
            tune=tuple(parse_names("--tune", tune)),
            select=select,
            search_seed=search_seed,
            target=target,
            studies=studies,
        )
        compared = comparing.chosen_optimizers(names)
    spec = run_spec(run, hyper=parse_fixed(compared, hyper))
    folder = out or default_out(f"runs/compare-{data_label(spec.data)}")
    with user_input():  # the plan, every run built once, the store in the folder
        plan = comparing.plan(
            spec, compared, protocol, workers=workers, backend=backend
        )
        ready = comparing.prepare(plan, out=folder)
    if not quiet:
        click.echo(
            f"comparing {len(plan.names)} optimizers on {spec.data}: {studies} "
            f"studies, each of {budget} trials per optimizer, then {seeds} reruns "
            "of the selected settings"
        )
    with running():
        result = ready.run(
            progress=not quiet, command=command_line(click.get_current_context())
        )
    click.echo(comparing.format_table(result))
    click.echo(f"report: {Path(folder) / 'report.html'}")


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Around a run of the sweep engine: a store another command is writing is a
    usage error (:func:`store_in_use`), a run that failed is one line, exit 1."""
    from gdlab.lab.sweep import SweepError

    try:
        with store_in_use():
            yield
    except SweepError as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
