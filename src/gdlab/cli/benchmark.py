"""``gdlab benchmark``: the fair comparison on every workload of a suite, scored
as AlgoPerf scores it. Plan, check, run: the suite and options become a
:class:`~gdlab.lab.benchmark.BenchmarkPlan`, checked with the user's input
before anything trains, then run into a typed result."""

from __future__ import annotations

from pathlib import Path

import click

from gdlab.cli.compare import running
from gdlab.cli.options import (
    FIXED_HYPER_HELP,
    OPTIMIZERS_HELP,
    command_line,
    default_out,
    hyper_option,
    out_option,
    parallel_options,
    parse_fixed,
    parse_names,
    quiet_option,
    search_seed_option,
    user_input,
)


@click.command()
@click.option(
    "--suite",
    default="small",
    show_default=True,
    help="a built-in suite (small, medium) or a TOML/JSON file of workloads",
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
    if calibrate:
        names = names or list(benchmarking.CALIBRATION_BASELINES)
    label = suite if suite in benchmarking.SUITES else Path(suite).stem
    folder = out or default_out(f"runs/benchmark-{label}")
    progress = not quiet
    with user_input():
        protocol = comparing.Protocol(
            budget=budget, seeds=seeds, tune=tuple(parse_names("--tune", tune)),
            search_seed=search_seed, studies=studies,
        )  # fmt: skip
        plan = benchmarking.plan(
            suite,
            names,
            protocol,
            only=None if only is None else parse_names("--only", only),
            hyper=parse_fixed(comparing.chosen_optimizers(names), hyper),
            workers=workers,
            backend=backend,
        )
        ready = benchmarking.prepare(plan, folder)
    if calibrate:
        with running():
            done = ready.calibrate(
                command=command_line(click.get_current_context()), progress=progress
            )
        for w in done:
            click.echo(f"{w.name}: target {w.target:g}")
        click.echo(f"suite: {Path(folder) / 'suite.toml'}")
        return
    with running():
        result = ready.run(progress=progress)
    click.echo(benchmarking.format_table(result))
    click.echo(f"report: {result.report}")


__all__ = ["benchmark"]
