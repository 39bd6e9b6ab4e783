"""``gdlab compare`` and ``gdlab benchmark``: the fair comparison, on one
workload or on a suite."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gdlab import outputs
from gdlab.cli.options import (
    check_folder,
    command_line,
    default_out,
    parallel_options,
    parse_names,
    run_options,
    run_spec,
    store_in_use,
    user_input,
)


@click.command()
@run_options
@click.option(
    "--optimizers",
    default=None,
    help="comma-separated names [every registered optimizer and preset]",
)
@click.option("--epochs", default=20, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--budget",
    default=8,
    show_default=True,
    type=int,
    help="trials of quasi-random search per optimizer, at most 1000; 0: suggested "
    "settings only",
)
@click.option(
    "--tune",
    default="lr",
    show_default=True,
    help="search-space axes to tune, e.g. lr,momentum or all",
)
@click.option(
    "--select",
    default="val_acc",
    show_default=True,
    type=click.Choice(["val_acc", "val_loss"]),
    help="the validation metric that picks the trial",
)
@click.option(
    "--seeds",
    default=3,
    show_default=True,
    type=int,
    help="reruns of the selected settings, on the test set (at most 100)",
)
@click.option(
    "--target",
    default=None,
    type=float,
    help="validation value for time-to-target [digits 0.95, fashion-mnist 0.85]",
)
@click.option("--search-seed", default=0, show_default=True, type=int)
@parallel_options
@click.option(
    "--out",
    default=None,
    callback=check_folder,
    help="output folder [runs/compare-DATA, or runs/compare-DATA-HASH named after"
    " the options that differ from the defaults]",
)
@click.option("--quiet", is_flag=True, help="print only the table")
def compare(
    optimizers: str | None,
    budget: int,
    tune: str,
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
    """Compare optimizers fairly: each gets the same BUDGET of quasi-random trials
    over its own search space, the trial with the best validation metric is
    selected and rerun over SEEDS new seeds, and only those reruns touch the test
    set. Prints the table; writes report.html and results.json beside sweep.db
    (run the same command again to continue after a kill).

    \b
    gdlab compare --optimizers sgd,momentum,adam --budget 8 --seeds 3
    """
    from gdlab.lab import compare as comparing
    from gdlab.lab import runs

    names = None if optimizers is None else parse_names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget,
        seeds=seeds,
        tune=tuple(parse_names("--tune", tune)),
        select=select,
        search_seed=search_seed,
        target=target,
    )
    spec = run_spec(run)
    engine: dict[str, Any] = {
        "workers": workers,
        "backend": backend,
        "progress": not quiet,
    }
    with (
        user_input(),
        outputs.claiming(
            out or default_out(f"runs/compare-{spec.data}"), "compare"
        ) as folder,
    ):
        comparing.check(spec, names, protocol, store=folder / "sweep.db", **engine)
    if not quiet:
        shown = len(names) if names else len(comparing.all_optimizers())
        click.echo(
            f"comparing {shown} optimizers on {spec.data}: {budget} trials each, "
            f"then {seeds} reruns of the selected settings"
        )
    try:
        with store_in_use():
            result, page = runs.compare_into(
                folder,
                spec,
                names,
                protocol,
                command=command_line(click.get_current_context()),
                **engine,
            )
    except _sweep_error() as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
    click.echo(comparing.format_table(result))
    click.echo(f"report: {page}")


@click.command()
@click.option(
    "--suite",
    default="small",
    show_default=True,
    help="a built-in suite (small) or a TOML/JSON file of workloads",
)
@click.option(
    "--optimizers",
    default=None,
    help="comma-separated names [every registered optimizer and preset]",
)
@click.option("--budget", default=4, show_default=True, type=int, help="as for compare")
@click.option("--seeds", default=2, show_default=True, type=int, help="as for compare")
@click.option("--tune", default="lr", show_default=True, help="axes, as for compare")
@click.option("--search-seed", default=0, show_default=True, type=int)
@parallel_options
@click.option(
    "--out",
    default=None,
    callback=check_folder,
    help="output folder [runs/benchmark-SUITE, -HASH as for compare]",
)
@click.option("--quiet", is_flag=True, help="print only the table")
def benchmark(
    suite: str,
    optimizers: str | None,
    budget: int,
    seeds: int,
    tune: str,
    search_seed: int,
    workers: int | None,
    backend: str,
    out: str | None,
    quiet: bool,
) -> None:
    """Run the fair comparison on every workload of a suite and rank the
    optimizers by performance profiles of their steps to each validation target.

    \b
    gdlab benchmark --suite small --budget 4 --seeds 2 --workers 2
    """
    from gdlab.lab import benchmark as benchmarking
    from gdlab.lab import compare as comparing

    names = None if optimizers is None else parse_names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget, seeds=seeds, tune=tuple(parse_names("--tune", tune)),
        search_seed=search_seed,
    )  # fmt: skip
    label = suite if suite in benchmarking.SUITES else Path(suite).stem
    engine: dict[str, Any] = {
        "workers": workers,
        "backend": backend,
        "progress": not quiet,
    }
    folder = out or default_out(f"runs/benchmark-{label}")
    with user_input():
        benchmarking.check(suite, folder, names, protocol, **engine)
    try:
        with store_in_use():
            results = benchmarking.benchmark(suite, folder, names, protocol, **engine)
    except _sweep_error() as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
    click.echo(benchmarking.format_table(results))
    click.echo(f"report: {results['report']}")


def _sweep_error() -> type[Exception]:
    from gdlab.lab.sweep import SweepError

    return SweepError
