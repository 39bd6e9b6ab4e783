"""``gdlab compare`` and ``gdlab benchmark``: the fair comparison, on one
workload or on a suite."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from gdlab import outputs
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
    from gdlab.lab import runs

    names = None if optimizers is None else parse_names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget,
        seeds=seeds,
        tune=tuple(parse_names("--tune", tune)),
        select=select,
        search_seed=search_seed,
        target=target,
        studies=studies,
    )
    with user_input():
        compared = comparing.chosen_optimizers(names)
    spec = run_spec(run, hyper=parse_fixed(compared, hyper))
    engine: dict[str, Any] = {
        "workers": workers,
        "backend": backend,
        "progress": not quiet,
    }
    with (
        user_input(),
        outputs.claiming(
            out or default_out(f"runs/compare-{data_label(spec.data)}"), "compare"
        ) as folder,
    ):
        comparing.check(spec, names, protocol, store=folder / "sweep.db", **engine)
    if not quiet:
        shown = len(comparing.chosen_optimizers(names))
        click.echo(
            f"comparing {shown} optimizers on {spec.data}: {studies} studies, each "
            f"of {budget} trials per optimizer, then {seeds} reruns of the "
            "selected settings"
        )
    with _running():
        result, page = runs.compare_into(
            folder,
            spec,
            names,
            protocol,
            command=command_line(click.get_current_context()),
            **engine,
        )
    click.echo(comparing.format_table(result))
    click.echo(f"report: {page}")


@click.command()
@click.option(
    "--suite",
    default="small",
    show_default=True,
    help="a built-in suite (small) or a TOML/JSON file of workloads",
)
@click.option("--optimizers", default=None, help=OPTIMIZERS_HELP)
@click.option("--budget", default=4, show_default=True, type=int, help="as for compare")
@click.option("--seeds", default=2, show_default=True, type=int, help="as for compare")
@click.option(
    "--studies",
    default=3,
    show_default=True,
    type=int,
    help="independent studies per workload (AlgoPerf runs 3)",
)
@click.option("--tune", default="lr", show_default=True, help="axes, as for compare")
@hyper_option(FIXED_HYPER_HELP)
@search_seed_option
@click.option(
    "--calibrate",
    is_flag=True,
    help="set each workload's target from well-tuned baselines (--optimizers, "
    "default momentum,adam; use a large --budget) and write OUT/suite.toml with "
    "the targets and this command as their provenance",
)
@click.option(
    "--only",
    default=None,
    help="comma-separated workloads of the suite to run or calibrate [all]",
)
@parallel_options
@out_option("runs/benchmark-SUITE, -HASH as for compare")
@quiet_option
def benchmark(
    suite: str,
    optimizers: str | None,
    budget: int,
    seeds: int,
    studies: int,
    tune: str,
    hyper: tuple[str, ...],
    search_seed: int,
    calibrate: bool,
    only: str | None,
    workers: int | None,
    backend: str,
    out: str | None,
    quiet: bool,
) -> None:
    """Run the fair comparison on every workload of a suite and score the
    optimizers as AlgoPerf does: the fastest trial per study to reach each
    validation target, the median over studies, the 4x cut, performance
    profiles on a linear tau axis over [1, 4] and their normalized integral.

    \b
    gdlab benchmark --suite small --budget 4 --seeds 2 --studies 3 --workers 2
    gdlab benchmark --suite small --calibrate --budget 16 --studies 3
    """
    from gdlab.lab import benchmark as benchmarking
    from gdlab.lab import compare as comparing

    names = None if optimizers is None else parse_names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget, seeds=seeds, tune=tuple(parse_names("--tune", tune)),
        search_seed=search_seed, studies=studies,
    )  # fmt: skip
    label = suite if suite in benchmarking.SUITES else Path(suite).stem
    engine: dict[str, Any] = {
        "workers": workers,
        "backend": backend,
        "progress": not quiet,
    }
    folder = out or default_out(f"runs/benchmark-{label}")
    if calibrate:
        names = names or list(benchmarking.CALIBRATION_BASELINES)
    with user_input():
        fixed = parse_fixed(comparing.chosen_optimizers(names), hyper)
        chosen = [
            dataclasses.replace(w, spec=w.spec.replace(hyper={**w.spec.hyper, **fixed}))
            for w in benchmarking.select(
                suite, None if only is None else parse_names("--only", only)
            )
        ]
        benchmarking.check(chosen, folder, names, protocol, **engine)
    if calibrate:
        with _running():
            done = benchmarking.calibrate(
                chosen,
                folder,
                names,
                protocol,
                command=command_line(click.get_current_context()),
                **engine,
            )
        for w in done:
            click.echo(f"{w.name}: target {w.target:g}")
        click.echo(f"suite: {Path(folder) / 'suite.toml'}")
        return
    with _running():
        results = benchmarking.benchmark(chosen, folder, names, protocol, **engine)
    click.echo(benchmarking.format_table(results))
    click.echo(f"report: {results['report']}")


@contextlib.contextmanager
def _running() -> Iterator[None]:
    """Around a run of the sweep engine: a store another command is writing is a
    usage error (:func:`store_in_use`), a run that failed is one line, exit 1."""
    from gdlab.lab.sweep import SweepError

    try:
        with store_in_use():
            yield
    except SweepError as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
