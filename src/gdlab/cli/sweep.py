"""``gdlab sweep``: every combination of a grid, in parallel, into one store."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gdlab.cli.options import (
    activation_option,
    command_line,
    data_label,
    data_options,
    default_out,
    dtype_option,
    epochs_option,
    hyper_option,
    l2_option,
    model_option,
    out_option,
    parallel_options,
    parse_hyper,
    parse_list,
    quiet_option,
    run_spec,
    schedule_options,
    seeds_option,
    sharpness_samples_option,
    split_options,
    store_in_use,
    user_input,
    warn_zero_lr,
)


def _value(text: str) -> Any:
    """A grid value: JSON (numbers, true, null) or else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
    except RecursionError:  # arrays nested 1000s deep: no grid value
        raise click.UsageError(
            f"--grid values must be JSON or text, got arrays nested too deeply "
            f"({text[:20]!r}...)"
        ) from None


@click.command("sweep")
@data_options()
@split_options
@model_option()
@activation_option()
@l2_option
@schedule_options
@hyper_option("an optimizer hyperparameter every swept optimizer takes, as for train")
@dtype_option
@epochs_option(5)
@click.option(
    "--optimizers",
    default="sgd,adam",
    show_default=True,
    help="comma-separated names; momentum and nesterov are SGD presets",
)
@click.option(
    "--lrs",
    default=None,
    help="comma-separated learning rates [each optimizer's default]",
)
@click.option(
    "--batch-sizes",
    default="100",
    show_default=True,
    help="comma-separated; 'full' for batch GD",
)
@seeds_option(3, "seeds 0..N-1 per setting")
@click.option(
    "--grid",
    "extra",
    multiple=True,
    metavar="FIELD=V1,V2",
    help="vary another RunSpec field too, e.g. --grid l2=0,1e-4",
)
@click.option(
    "--sharpness",
    is_flag=True,
    help="measure λmax of the training loss at the end of each run",
)
@sharpness_samples_option()
@parallel_options
@out_option("runs/sweep-DATA, -HASH as for compare", "sweep.db and the report")
@quiet_option
def sweep_command(
    optimizers: str,
    hyper: tuple[str, ...],
    lrs: str | None,
    batch_sizes: str,
    seeds: int,
    extra: tuple[str, ...],
    sharpness: bool,
    sharpness_samples: int,
    workers: int | None,
    backend: str,
    out: str | None,
    quiet: bool,
    **run: Any,
) -> None:
    """Train every combination of optimizers, learning rates, batch sizes and seeds
    (in parallel processes, or on Ray); results go to SQLite as each run ends, so
    running the same command again continues where it stopped. Prints a summary and
    writes results.csv, the lr-sensitivity (and sharpness) plots and report.html.

    \b
    gdlab sweep --optimizers sgd,adam --lrs 1e-3,1e-2,1e-1 --batch-sizes 32,256 \\
        --seeds 2 --epochs 5 --sharpness --workers 2 --out runs/sweep
    """
    from gdlab.lab import sweep

    if seeds < 1:
        raise click.UsageError(f"--seeds must be >= 1, got {seeds}")
    grid: dict[str, list[Any]] = {
        "optimizer": parse_list("--optimizers", optimizers, str, "names"),
    }
    if lrs is not None:
        grid["lr"] = parse_list("--lrs", lrs, float, "numbers")
        warn_zero_lr("--lrs", grid["lr"])
    grid["batch_size"] = parse_list(
        "--batch-sizes", batch_sizes, lambda t: t if t == "full" else int(t), "integers"
    )
    grid["seed"] = list(range(seeds))
    for item in extra:
        name, sep, values = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise click.UsageError(f"--grid must look like FIELD=V1,V2, got {item!r}")
        if name in grid:
            raise click.UsageError(
                f"--grid {name} repeats a field the options already vary"
            )
        grid[name] = parse_list(f"--grid {name}", values, _value, "values")
    given = [parse_hyper(name, hyper) for name in grid["optimizer"]]
    base = run_spec(run, hyper=given[0] if given else {})
    where = out or default_out(f"runs/sweep-{data_label(base.data)}")
    with user_input():  # the plan, every run built once, the store in the folder
        plan = sweep.Sweep(
            base, grid, sharpness=sharpness, sharpness_samples=sharpness_samples
        )
        ready = sweep.prepare(plan, out=where, workers=workers, backend=backend)
    try:
        with store_in_use():
            result = ready.run(
                progress=not quiet,
                command=command_line(click.get_current_context()),
            )
    except sweep.SweepError as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
    total = len(result.runs)
    click.echo(
        f"{total} runs: {result.already_done} were already done, {result.ran} ran now"
    )
    by = [a for a in result.axes if a != "seed"]
    click.echo(sweep.format_table(result.summary(), by))
    click.echo(f"report: {result.report}")
