"""The ``gdlab`` command line: thin click commands, one library call each.

Bad user input is a ``click.UsageError``: one line on stderr, exit status 2. The
library reports bad arguments as ``ValueError``s; they become usage errors only
where the command hands it what the user typed (``with _user_input():``), so a
``ValueError`` anywhere else is a bug and keeps its traceback (exit 1). A file
that cannot be written (full disk, size limit) is one line and exit status 1.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from gdlab import optim, outputs

if TYPE_CHECKING:
    from gdlab.experiment import RunSpec

_COMMANDLINE = click.core.ParameterSource.COMMANDLINE


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option: one line, not a usage page
            click.echo(f"gdlab: error: {error.format_message()}", err=True)
            ctx.exit(2)
        except outputs.WriteError as error:  # the message names the file
            click.echo(f"gdlab: error: {error}", err=True)
            ctx.exit(1)


@contextlib.contextmanager
def _user_input() -> Iterator[None]:
    """Around a library call that checks what the user typed: its ValueError is a
    usage error (one line, exit 2)."""
    try:
        yield
    except ValueError as error:
        raise click.UsageError(str(error)) from None


def _folder(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A click callback: a folder option may be absent, not empty."""
    if value == "":
        name = param.opts[0] if isinstance(param, click.Option) else "FOLDER"
        raise click.UsageError(f"{name} must name a folder, got ''")
    return value


def _output_file(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A click callback: a file to write, in a folder that can be written to
    (created if missing)."""
    if value is None:
        return None
    option = param.opts[-1]
    if value == "":
        raise click.UsageError(f"{option} must name a file, got ''")
    with _user_input():
        outputs.writable(Path(value).parent, f"the folder of {option}")
    return value


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gdlab")
def main() -> None:
    """gdlab: a laboratory for gradient-descent optimization."""


def _number(kind: type[float] | type[int]) -> Any:
    """A click callback parsing an option as ``kind``; a bad value a usage error."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            command = ctx.command.name
            raise click.UsageError(
                f"{command}: {param.opts[0]} must be {what}, got {value!r}"
            ) from None

    return parse


_FLOAT, _INT = _number(float), _number(int)


@main.command()
@click.argument("name", required=False)
@click.option(
    "--lr", callback=_FLOAT, metavar="FLOAT", help="initial (or peak) learning rate"
)
@click.option(
    "--total-steps",
    callback=_INT,
    metavar="INTEGER",
    help="length of a cosine/polynomial/one-cycle run, warm-up included",
)
@click.option(
    "--final-lr",
    callback=_FLOAT,
    metavar="FLOAT",
    help="lr at the end of cosine/polynomial decay",
)
@click.option(
    "--step-size", callback=_INT, metavar="INTEGER", help="steps between decays (step)"
)
@click.option(
    "--gamma",
    callback=_FLOAT,
    metavar="FLOAT",
    help="decay factor (step, multistep, exponential)",
)
@click.option(
    "--milestones", metavar="LIST", help="comma-separated decay steps (multistep)"
)
@click.option(
    "--decay-rate",
    callback=_FLOAT,
    metavar="FLOAT",
    help="k in lr/(1 + k·t/s) (inverse_time)",
)
@click.option(
    "--decay-steps",
    callback=_FLOAT,
    metavar="FLOAT",
    help="s in lr/(1 + k·t/s) (inverse_time)",
)
@click.option("--power", callback=_FLOAT, metavar="FLOAT", help="exponent (polynomial)")
@click.option(
    "--period",
    callback=_INT,
    metavar="INTEGER",
    help="steps to the first restart (cosine_restarts)",
)
@click.option(
    "--period-mult",
    callback=_INT,
    metavar="INTEGER",
    help="period growth factor (cosine_restarts)",
)
@click.option("--max-lr", callback=_FLOAT, metavar="FLOAT", help="peak lr (one_cycle)")
@click.option(
    "--pct-start",
    callback=_FLOAT,
    metavar="FLOAT",
    help="fraction of steps warming up (one_cycle)",
)
@click.option(
    "--div-factor",
    callback=_FLOAT,
    metavar="FLOAT",
    help="initial lr = max_lr / div_factor (one_cycle)",
)
@click.option(
    "--final-div-factor",
    callback=_FLOAT,
    metavar="FLOAT",
    help="final lr = initial lr / this (one_cycle)",
)
@click.option(
    "--warmup",
    callback=_INT,
    metavar="INTEGER",
    default="0",
    help="linear warm-up steps before the schedule",
)
@click.option(
    "--start-lr",
    callback=_FLOAT,
    metavar="FLOAT",
    default="0",
    help="lr at the start of the warm-up",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="steps to draw and print (default: its length or 1000)",
)
@click.option("--all", "show_all", is_flag=True, help="every schedule type, a grid")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=_output_file,
    help="PNG to write",
)
def schedule(
    name: str | None,
    warmup: int,
    start_lr: float,
    steps: int | None,
    show_all: bool,
    output: str | None,
    **arguments: Any,
) -> None:
    """Draw and tabulate a learning-rate schedule (or, with --all, every one).

    NAME is one of: constant, step, multistep, exponential, inverse_time,
    polynomial, cosine, cosine_restarts, linear_warmup, one_cycle, join, per_epoch.
    Arguments not given take sensible example values, e.g.
    gdlab schedule cosine --lr 0.1 --total-steps 1000 --warmup 100 -o s.png
    (there --total-steps counts the warm-up: 100 steps up, 900 down).
    """
    from gdlab import report, schedules

    if show_all == (name is not None):
        raise click.UsageError("schedule: give a schedule NAME or --all (not both)")
    if show_all:
        if any(v is not None for v in arguments.values()) or warmup or start_lr:
            raise click.UsageError(
                "schedule: --all draws each schedule with its example arguments; "
                "give --steps and -o only"
            )
        horizon = steps if steps is not None else 1000
        curves: dict[str, report.Curve] = {
            **schedules.examples(horizon),
            "reduce_on_plateau": schedules.plateau_example(horizon),
        }
        shown = sorted({0, horizon // 4, horizon // 2, 3 * horizon // 4, horizon - 1})
        click.echo(f"{'schedule':<18}" + "".join(f"{f'step {k}':>12}" for k in shown))
        for label, curve in curves.items():
            lrs = [curve(k) if callable(curve) else curve[k] for k in shown]
            click.echo(f"{label:<18}" + "".join(f"{v:>12.4g}" for v in lrs))
        if output:
            report.plot_schedule_grid(curves, horizon, path=output)
            click.echo(f"wrote {output}")
        return
    assert name is not None
    given = {k: v for k, v in arguments.items() if v is not None}
    if "milestones" in given:
        try:
            given["milestones"] = [int(m) for m in given["milestones"].split(",")]
        except ValueError:
            raise click.UsageError(
                "schedule: --milestones must be comma-separated integers, "
                f"got {arguments['milestones']!r}"
            ) from None
    with _user_input():
        args = {**schedules.example_arguments(name), **given}
        if warmup and "total_steps" in args:  # --total-steps counts the warm-up too
            if warmup >= args["total_steps"]:
                raise click.UsageError(
                    "schedule: --warmup must be < --total-steps "
                    f"({args['total_steps']}), got {warmup}"
                )
            args["total_steps"] -= warmup
        s: schedules.Schedule = schedules.create(name, **args)
        if warmup or start_lr:
            s = schedules.linear_warmup(s, warmup, start_lr)
    horizon = steps if steps is not None else (s.length or 1000)
    try:
        s(horizon - 1)  # one_cycle, for one, has no lr past its length
    except ValueError as error:
        raise click.UsageError(
            f"schedule: --steps {horizon} goes past the schedule: {error}"
        ) from None
    shown = sorted(
        {0, warmup, horizon // 10, horizon // 4, horizon // 2, 3 * horizon // 4}
        | {horizon - 1}
    )
    values = [(k, s(k)) for k in shown if k < horizon]
    click.echo(repr(s))
    click.echo(f"{'step':>8}  lr")
    for k, lr in values:
        click.echo(f"{k:>8}  {lr:.6g}")
    if output:
        report.plot_schedules({repr(s): s}, horizon, path=output)
        click.echo(f"wrote {output}")


# --- training and comparing ---------------------------------------------------------


def _batch_size(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    if value == "full":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.UsageError(
            f"--batch-size must be an integer or 'full', got {value!r}"
        ) from None


def _typed(option: str, key: str, text: str, kind: Any) -> Any:
    """``text`` as a value of ``kind`` (bool, int, float, tuple or list of numbers)."""
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if kind in (tuple, list):
            items = [float(x) for x in text.split(",")]
            if kind is list:  # milestones: step counts
                return [int(x) if x.is_integer() else x for x in items]
            return tuple(items)
        return (
            kind(float(text))
            if kind is int and float(text).is_integer()
            else (kind(text))
        )
    except ValueError:
        need = {
            bool: "true or false",
            int: "an integer",
            float: "a number",
            tuple: "numbers separated by commas",
            list: "integers separated by commas",
        }[kind]
        raise click.UsageError(f"{option} {key} must be {need}, got {text!r}") from None


def assignments(
    option: str, pairs: tuple[str, ...], types: dict[str, Any], owner: str
) -> dict[str, Any]:
    """``KEY=VALUE`` options parsed by the type each key takes: the one syntax of
    hyperparameters (``--hyper betas=0.9,0.99``) and schedule arguments
    (``--schedule-arg step_size=100``) in every command."""
    values: dict[str, Any] = {}
    for key, text in _pairs(option, pairs).items():
        if key not in types:
            known = ", ".join(types) or "none"
            raise click.UsageError(
                f"{option}: {owner} has no {key!r}; it takes {known}"
            )
        values[key] = _typed(option, key, text, types[key])
    return values


def _pairs(option: str, pairs: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options as name -> text, each name once."""
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or not text:
            raise click.UsageError(f"{option} must look like NAME=VALUE, got {pair!r}")
        if key in values:
            raise click.UsageError(f"{option} {key} is given twice")
        values[key] = text.strip()
    return values


def _hyper_types(name: str) -> dict[str, Any]:
    """An optimizer's hyperparameters and their types, from its defaults (not lr,
    which has --lr)."""
    with _user_input():
        defaults = optim.get(name).defaults
    return {k: type(v) for k, v in defaults.items() if k != "lr"}


def _hyper(name: str, pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--hyper momentum=0.9 --hyper nesterov=true`` for optimizer ``name``."""
    if any(p.partition("=")[0].strip() == "lr" for p in pairs):
        raise click.UsageError("--hyper lr: give the learning rate with --lr")
    return assignments("--hyper", pairs, _hyper_types(name), name)


def _schedule_args(name: str, pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--schedule-arg gamma=0.5`` for run schedule ``name``."""
    from gdlab import schedules

    with _user_input():
        types = schedules.argument_types(name)
    return assignments("--schedule-arg", pairs, types, f"schedule {name}")


def _schedule_help() -> str:
    from gdlab import schedules

    return "; ".join(
        f"{name} ({text})" if text else name
        for name, text in schedules.RUN_DEFAULTS.items()
    )


_SCHEDULE_HELP = _schedule_help()


def _spec(run: dict[str, Any], **more: Any) -> RunSpec:
    """The RunSpec of the run options (``--schedule-arg`` parsed for its schedule)."""
    from gdlab.experiment import RunSpec

    pairs = run.pop("schedule_arg", ())
    args = _schedule_args(run["schedule"], pairs) if pairs else {}
    with _user_input():
        return RunSpec.from_dict({**run, "schedule_args": args, **more})


_PRESETS: dict[str, dict[str, Any]] = {
    "course-mnist": {  # the notes' code: Saito's ch. 4 train_neuralnet.py
        "data": "fashion-mnist",  # shipped by Debian; --data mnist --data-path DIR
        "val_fraction": None,
        "model": "mlp:784-50-10",
        "activation": "sigmoid",
        "init": "normal:0.01",
        "optimizer": "sgd",
        "lr": 0.1,
        "batch_size": 100,
        "iterations": 10000,
        "sampling": "with-replacement",
        "eval_at_start": True,
    },
}
"""Run options set together by ``train --preset``."""


def _run_options(function: Any) -> Any:
    """The options that describe a run (shared by train and compare)."""
    options = [
        click.option(
            "--data",
            default="digits",
            show_default=True,
            help="digits | fashion-mnist | mnist | regression",
        ),
        click.option("--data-path", default=None, help="folder with the IDX files"),
        click.option(
            "--val-fraction",
            default=0.1,
            show_default=True,
            type=float,
            help="share of the training set held out for validation, in (0, 0.5]",
        ),
        click.option(
            "--split-seed",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            help="seed of the validation split (the same for every run)",
        ),
        click.option(
            "--model",
            default="mlp",
            show_default=True,
            help="mlp | mlp:784-256-128-10 | softmax | linear",
        ),
        click.option(
            "--activation",
            default="relu",
            show_default=True,
            help="relu | tanh | sigmoid",
        ),
        click.option(
            "--l2",
            default=0.0,
            show_default=True,
            type=float,
            help="λ of the L2 term λ/2·Σ‖W‖² added to the cost (weights, not "
            "biases; not divided by the batch size)",
        ),
        click.option(
            "--schedule",
            default="constant",
            show_default=True,
            help="how the lr decays after the warm-up: " + _SCHEDULE_HELP,
        ),
        click.option(
            "--schedule-arg",
            "schedule_arg",
            multiple=True,
            metavar="NAME=VALUE",
            help="a schedule argument, e.g. --schedule-arg gamma=0.5",
        ),
        click.option("--warmup-epochs", default=0.0, show_default=True, type=float),
        click.option(
            "--batch-size",
            default="100",
            show_default=True,
            callback=_batch_size,
            help="an integer, or 'full' (batch GD)",
        ),
        click.option("--seed", default=0, show_default=True, type=int),
        click.option(
            "--dtype", default="float32", show_default=True, help="float32 | float64"
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _names(option: str, text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise click.UsageError(f"{option} must name at least one, got {text!r}")
    return names


def _parallel_options(function: Any) -> Any:
    """--workers and --backend, for every command that runs a sweep."""
    function = click.option(
        "--backend",
        default="local",
        show_default=True,
        type=click.Choice(["local", "ray"]),
        help="local processes, or Ray (RAY_ADDRESS picks a cluster)",
    )(function)
    return click.option(
        "--workers",
        default=None,
        type=click.IntRange(min=1),
        help="processes (or local Ray CPUs) [all cores]",
    )(function)


@main.command()
@_run_options
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
    help="trials of quasi-random search per optimizer; 0: suggested settings only",
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
    help="reruns of the selected settings, on the test set",
)
@click.option(
    "--target",
    default=None,
    type=float,
    help="validation value for time-to-target [digits 0.95, fashion-mnist 0.85]",
)
@click.option("--search-seed", default=0, show_default=True, type=int)
@_parallel_options
@click.option(
    "--out", default=None, callback=_folder, help="output folder [runs/compare-DATA]"
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

    names = None if optimizers is None else _names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget,
        seeds=seeds,
        tune=tuple(_names("--tune", tune)),
        select=select,
        search_seed=search_seed,
        target=target,
    )
    spec = _spec(run)
    with _user_input():
        protocol.checked()
        folder = outputs.claim(out or f"runs/compare-{spec.data}", "compare")
    if not quiet:
        shown = len(names) if names else len(comparing.all_optimizers())
        click.echo(
            f"comparing {shown} optimizers on {spec.data}: {budget} trials each, "
            f"then {seeds} reruns of the selected settings"
        )
    try:
        with _user_input():  # ValueErrors here are the input's, before any training
            result, page = runs.compare_into(
                folder,
                spec,
                names,
                protocol,
                workers=workers,
                backend=backend,
                progress=not quiet,
                command=_command_line(click.get_current_context()),
            )
    except _sweep_error() as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
    click.echo(comparing.format_table(result))
    click.echo(f"report: {page}")


@main.command()
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
@click.option("--budget", default=4, show_default=True, type=int)
@click.option("--seeds", default=2, show_default=True, type=int)
@click.option("--tune", default="lr", show_default=True, help="axes, as for compare")
@click.option("--search-seed", default=0, show_default=True, type=int)
@_parallel_options
@click.option(
    "--out",
    default=None,
    callback=_folder,
    help="output folder [runs/benchmark-SUITE]",
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

    names = None if optimizers is None else _names("--optimizers", optimizers)
    protocol = comparing.Protocol(
        budget=budget, seeds=seeds, tune=tuple(_names("--tune", tune)),
        search_seed=search_seed,
    )  # fmt: skip
    label = suite if suite in benchmarking.SUITES else Path(suite).stem
    with _user_input():
        protocol.checked()
        workloads = benchmarking.load_suite(suite)
        folder = outputs.claim(out or f"runs/benchmark-{label}", "benchmark")
    try:
        with _user_input():  # ValueErrors here are the input's, before any training
            results = benchmarking.benchmark(
                workloads,
                folder,
                names,
                protocol,
                workers=workers,
                backend=backend,
                progress=not quiet,
            )
    except _sweep_error() as error:
        click.echo(f"gdlab: error: {error}", err=True)
        sys.exit(1)
    click.echo(benchmarking.format_table(results))
    click.echo(f"report: {results['report']}")


def _sweep_error() -> type[Exception]:
    from gdlab.lab.sweep import SweepError

    return SweepError


@main.command()
@_run_options
@click.option(
    "--optimizer",
    default="adam",
    show_default=True,
    help="a registry name, or the SGD presets momentum / nesterov",
)
@click.option("--lr", default=None, type=float, help="learning rate [per optimizer]")
@click.option(
    "--hyper",
    "--opt",
    "hyper",
    multiple=True,
    metavar="NAME=VALUE",
    help="an optimizer hyperparameter, e.g. --hyper momentum=0.9 "
    "--hyper betas=0.9,0.99",
)
@click.option("--epochs", default=5, show_default=True, type=int)
@click.option("--iterations", default=None, type=int, help="steps, instead of epochs")
@click.option("--clip-grad-norm", default=None, type=float)
@click.option(
    "--eval-every",
    default="epoch",
    show_default=True,
    callback=lambda ctx, param, v: v if v == "epoch" else _INT(ctx, param, v),
    help="'epoch', or steps between evaluations",
)
@click.option(
    "--checkpoint-every",
    default=None,
    type=int,
    help="steps between checkpoints (and every epoch)",
)
@click.option(
    "--out",
    default=None,
    callback=_folder,
    help="output folder (history, plots, checkpoints)",
)
@click.option(
    "--resume", default=None, callback=_folder, help="continue the run in this folder"
)
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option(
    "--init",
    default=None,
    help="weight initialization: he | glorot | zeros | normal:STD, e.g. "
    "normal:0.01 [he for relu, glorot for tanh/sigmoid]",
)
@click.option(
    "--sampling",
    default="without-replacement",
    show_default=True,
    type=click.Choice(["without-replacement", "with-replacement"]),
    help="batches from a permutation per epoch, or each drawn anew with "
    "replacement (the course notes' np.random.choice)",
)
@click.option(
    "--schedule-unit",
    default="step",
    show_default=True,
    type=click.Choice(["step", "epoch"]),
    help="the schedule (and warm-up) counts optimizer steps, or epochs "
    "(e.g. --schedule exponential --schedule-arg rate=0.05 --schedule-unit epoch "
    "is lr·e^(-0.05·epoch))",
)
@click.option(
    "--eval-at-start",
    is_flag=True,
    help="also evaluate the untrained model (a row at step 0)",
)
@click.option(
    "--preset",
    default=None,
    type=click.Choice(list(_PRESETS)),
    help="course-mnist: the course notes' MNIST experiment as written (784-50-10 "
    "sigmoid net, 0.01·N(0, 1) weights, SGD lr 0.1, batches of 100 drawn with "
    "replacement, 10,000 iterations, no validation split, accuracy from step 0); "
    "options given beside it win",
)
def train(
    hyper: tuple[str, ...],
    out: str | None,
    resume: str | None,
    checkpoint_every: int | None,
    no_progress: bool,
    preset: str | None,
    **run: Any,
) -> None:
    """Train a model and write history.json/csv, loss and accuracy plots and
    checkpoints into --out; --resume continues a run exactly.

    \b
    gdlab train --preset course-mnist --out runs/course-mnist
    gdlab train --preset course-mnist --data mnist --data-path DIR --out runs/mnist
    """
    from gdlab import experiment
    from gdlab.lab import runs

    ctx = click.get_current_context()
    given_here = {k for k in ctx.params if ctx.get_parameter_source(k) == _COMMANDLINE}
    if preset is not None:
        fixed = given_here | ({"iterations"} if "epochs" in given_here else set())
        settings = {k: v for k, v in _PRESETS[preset].items() if k not in fixed}
        run |= settings
        given_here |= set(settings)
    if run["iterations"] is not None:
        if "epochs" in given_here:
            raise click.UsageError("give --epochs or --iterations, not both")
        run["epochs"] = None
    if resume is not None:
        if out is not None:
            raise click.UsageError(
                "give --out or --resume, not both: a run resumes in its own folder"
            )
        with _user_input():
            stored = runs.stored_spec(resume).to_dict()
            outputs.claim(resume, "train", "--resume")
        if "schedule_arg" in given_here:
            given_here |= {"schedule_args"}
        with_args = _spec(dict(run), hyper=_hyper(run["optimizer"], hyper)).to_dict()
        given = {k: v for k, v in with_args.items() if k in given_here}
        if hyper:
            given["hyper"] = with_args["hyper"]
        changed = [
            f"{k}: {stored[k]!r} -> {v!r}" for k, v in given.items() if stored[k] != v
        ]
        if changed:
            raise click.UsageError(
                f"cannot resume {resume} with a changed configuration: "
                + "; ".join(changed)
            )
        history = runs.resume_into(
            resume, checkpoint_every=checkpoint_every, progress=not no_progress
        )
        folder = resume
    else:
        if out is None:
            raise click.UsageError(
                "--out is required: the folder for the history, plots and checkpoints"
            )
        spec = _spec(run, hyper=_hyper(run["optimizer"], hyper))
        with _user_input():
            runs.train_folder(out)
            built = experiment.build(spec)
        history = runs.train_into(
            out, built, checkpoint_every=checkpoint_every, progress=not no_progress
        )
        folder = out
    last = history.epochs[-1] if history.epochs else None
    if last is not None:
        acc = "" if last["test_acc"] is None else f", test acc {last['test_acc']:.4f}"
        click.echo(
            f"final: train loss {last['train_loss']:.4f}{acc} "
            f"after {last['step']} steps"
        )
    click.echo(f"wrote {folder}/history.json, history.csv, loss.png, accuracy.png")
    if history.diverged:
        click.echo(f"gdlab: {history.message}", err=True)
        ctx.exit(1)


@main.command("report")
@click.argument("folder", callback=_folder)
def report_command(folder: str) -> None:
    """Redraw report.html from the results.json of a comparison in FOLDER."""
    from gdlab.lab import runs

    with _user_input():
        result = runs.load_comparison(folder)
    click.echo(f"report: {runs.report_from(folder, result)}")


# --- surfaces, worked steps and stability ---------------------------------------------


def _floats(option: str, text: str, count: int | None = None) -> list[float]:
    """``"-7,2"`` -> [-7.0, 2.0]; a malformed list is a usage error."""
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        values = []
    if not values or (count is not None and len(values) != count):
        need = (
            f"{count} comma-separated numbers" if count else "comma-separated numbers"
        )
        raise click.UsageError(f"{option} must be {need}, got {text!r}")
    return values


@main.command("surface")
@click.argument("name")
@click.option(
    "--optimizers",
    "--optimizer",
    "optimizers",
    default="sgd,momentum,adam",
    show_default=True,
    help="comma-separated names; momentum and nesterov are SGD presets",
)
@click.option(
    "--lrs",
    "--lr",
    "lrs",
    default=None,
    help="learning rates: one per optimizer, or several for one optimizer",
)
@click.option("--start", default=None, help="x,y (default: the surface's start)")
@click.option("--steps", default=300, show_default=True, type=click.IntRange(min=1))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=_output_file,
    help="PNG to write",
)
@click.option("--3d", "three_d", is_flag=True, help="draw the 3-D surface too")
@click.option(
    "--animate",
    type=click.Path(dir_okay=False),
    callback=_output_file,
    help="GIF to write",
)
@click.option(
    "--heatmap",
    is_flag=True,
    help="final loss over an (lr, momentum) grid, one vectorized run",
)
@click.option("--lr-range", default="1e-4,1e-1", show_default=True, help="heat map")
@click.option("--momentum-range", default="0,0.99", show_default=True, help="heat map")
@click.option("--grid", default=25, show_default=True, type=click.IntRange(2, 200))
def surface_command(
    name: str,
    optimizers: str,
    lrs: str | None,
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
    from gdlab.report import surfaces as pictures

    ctx = click.get_current_context()
    given = {k for k in ctx.params if ctx.get_parameter_source(k) == _COMMANDLINE}
    if heatmap:  # options of the other mode would be silently ignored: refused
        other = {"lrs": "--lrs", "three_d": "--3d", "animate": "--animate"}
    else:
        other = {
            "lr_range": "--lr-range",
            "momentum_range": "--momentum-range",
            "grid": "--grid",
        }
    for key, option in other.items():
        if key in given:
            where = "does not apply to" if heatmap else "applies only to"
            raise click.UsageError(f"surface: {option} {where} --heatmap")
    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    if heatmap and "optimizers" not in given:
        names = ["sgd"]  # the grid varies its momentum
    if heatmap and len(names) != 1:
        raise click.UsageError(
            f"surface: --heatmap takes one optimizer, got {optimizers!r}"
        )
    with _user_input():
        f = surfaces.get(name)
    point = f.start if start is None else tuple(_floats("--start", start, 2))
    if heatmap:
        lo, hi = _floats("--lr-range", lr_range, 2)
        m_lo, m_hi = _floats("--momentum-range", momentum_range, 2)
        if not 0 < lo < hi:
            raise click.UsageError(
                f"--lr-range must be 0 < low < high, got {lr_range!r}"
            )
        with _user_input():
            cells = surfaces.loss_grid(
                f,
                names[0],
                np.geomspace(lo, hi, grid),
                np.linspace(m_lo, m_hi, grid),
                start=point,
                steps=steps,
            )
        best_lr, best_m, best_loss = cells.best()
        click.echo(
            f"{f.name}: {names[0]}, {grid}x{grid} runs of {steps} steps from "
            f"({point[0]:g}, {point[1]:g}); {int(cells.diverged.sum())} diverged; "
            f"best lr {best_lr:.4g}, momentum {best_m:.4g}: final loss {best_loss:.4g}"
        )
        if output:
            pictures.plot_loss_grid(cells, path=output)
            click.echo(f"wrote {output}")
        return
    rates = None if lrs is None else list(_floats("--lrs", lrs))
    with _user_input():
        results = surfaces.runs(f, names, rates, start=point, steps=steps)
    x, y = f.labels
    click.echo(
        f"{f.name}: {f.formula}; minimum {f.min_value:g} at "
        + ", ".join(f"({a:.4g}, {b:.4g})" for a, b in f.minima)
    )
    click.echo(
        f"start ({point[0]:g}, {point[1]:g}), {f.value_name} "
        f"{results[0].start_loss:.6g}; {steps} steps"
    )
    click.echo(
        f"{'optimizer':<12}{'lr':>9}  {'final (' + x + ', ' + y + ')':>30}"
        f"  {'final ' + f.value_name:>13}  diverged"
    )
    for r in results:
        final = f"({r.final[0]:.6g}, {r.final[1]:.6g})"
        note = "yes" if r.diverged else "no"
        if r.nonfinite_at is not None:
            note += f" (overflow at step {r.nonfinite_at})"
        click.echo(
            f"{r.optimizer:<12}{r.lr:>9g}  {final:>30}  {r.final_loss:>13.6g}  {note}"
        )
    labelled = {r.label + (", diverged" if r.diverged else ""): r.path for r in results}
    if output:
        pictures.plot_trajectories(f, labelled, path=output, three_d=three_d)
        click.echo(f"wrote {output}")
    if animate:
        click.echo(f"wrote {pictures.animate_trajectories(f, labelled, animate)}")


def _optimizer_options(owner: str, name: str, args: list[str]) -> dict[str, Any]:
    """``--alpha 0.9 --betas 0.9,0.99 --nesterov`` -> hyperparameters of ``name``,
    typed by the optimizer's defaults."""

    with _user_input():
        base, _ = optim.resolve(name)
    defaults = optim.get(base).defaults
    known = ", ".join("--" + k.replace("_", "-") for k in defaults)
    hyper: dict[str, Any] = {}
    k = 0
    while k < len(args):
        token = args[k]
        key, sep, text = token[2:].partition("=")
        key = key.replace("-", "_")
        if not token.startswith("--") or key not in defaults:
            raise click.UsageError(
                f"{owner}: unknown option {token!r} for {name}; it takes {known}"
            )
        default = defaults[key]
        if isinstance(default, bool):
            if sep:
                if text.lower() not in ("true", "false"):
                    raise click.UsageError(
                        f"--{key} must be true or false, got {text!r}"
                    )
                hyper[key] = text.lower() == "true"
            else:
                hyper[key] = True
            k += 1
            continue
        if not sep:
            if k + 1 >= len(args):
                raise click.UsageError(f"{owner}: {token} needs a value")
            text = args[k + 1]
            k += 1
        k += 1
        values = _floats(f"--{key}", text)
        hyper[key] = tuple(values) if isinstance(default, tuple) else values[0]
        if not isinstance(default, tuple) and len(values) != 1:
            raise click.UsageError(f"--{key} must be one number, got {text!r}")
    return hyper


@main.command(
    "explain",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.argument("name")
@click.option("--param", default=None, help="θ: comma-separated numbers")
@click.option("--grad", default=None, help="the gradient: comma-separated numbers")
@click.option("--problem", default=None, help="a surface: the gradient is its own")
@click.option("--start", default=None, help="x,y on the --problem surface")
@click.option("--steps", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--state",
    "state",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="the optimizer state before the first step, by state key or column "
    "(e.g. --state v=0.01,0.09,0.04 for rmsprop, exp_avg_sq=... for adam)",
)
@click.option(
    "--start-step",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="steps the optimizer has taken before (bias corrections, schedules)",
)
@click.pass_context
def explain_command(
    ctx: click.Context,
    name: str,
    param: str | None,
    grad: str | None,
    problem: str | None,
    start: str | None,
    steps: int,
    state: tuple[str, ...],
    start_step: int,
) -> None:
    """Work out optimizer NAME's update step by step: every quantity of its rule, for
    every element, with the formula above. Hyperparameters are options named as in
    torch.optim (--lr, --alpha, --betas 0.9,0.999, --nesterov, ...).

    \b
    gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01
    gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01 \\
        --alpha 0.9 --state v=0.01,0.09,0.04    # the worked example's premise
    gdlab explain sgd --problem regression --start -1,5 --lr 0.1
    """
    from gdlab import lab, surfaces

    hyper = _optimizer_options("explain", name, list(ctx.args))
    hyper["state"] = {
        key: _floats(f"--state {key}", text)
        for key, text in _pairs("--state", state).items()
    }
    hyper["start_step"] = start_step
    if problem is not None:
        if param is not None or grad is not None:
            raise click.UsageError(
                "explain: give --problem (and --start) or --param/--grad"
            )
        with _user_input():
            f = surfaces.get(problem)
        point = f.start if start is None else _floats("--start", start, 2)
        with _user_input():
            worked = lab.explain.explain(name, point, f, steps, **hyper)
    else:
        if param is None or grad is None or start is not None:
            raise click.UsageError(
                "explain: give --param and --grad (or --problem and --start)"
            )
        theta, grads = _floats("--param", param), _floats("--grad", grad)
        with _user_input():
            worked = lab.explain.explain(name, theta, grads, steps, **hyper)
    click.echo(worked.format())


@main.command("examples")
@click.argument("name", required=False)
def examples_command(name: str | None) -> None:
    """The course notes' worked examples, worked out: without NAME the list; with
    NAME every intermediate quantity and, where the notes' numbers differ, theirs
    beside the right ones with the reason.

    \b
    gdlab examples
    gdlab examples regression
    """
    from gdlab.lab import examples

    if name is None:
        width = max(map(len, examples.names()))
        for key, text in examples.summaries().items():
            click.echo(f"{key:<{width}}  {text}")
        click.echo(
            "\ngdlab examples NAME works one out; gdlab figure lists the figures"
        )
        return
    with _user_input():
        worked = examples.get(name)
    click.echo(worked.format())


_FIGURES: dict[str, tuple[str, str]] = {
    "regression-surface": (
        "the worked example's MSE surface, 3-D and contour, lr 0.5 / 0.1 / 0.005",
        "gdlab surface regression --optimizers sgd --lrs 0.5,0.1,0.005 "
        "--start -1,5 --steps 30 --3d -o regression.png",
    ),
    "optimizers": (
        "SGD, Momentum, AdaGrad and Adam on x²/20 + y² (Saito, Deep Learning from "
        "Scratch, ch. 6)",
        "gdlab surface quadratic --optimizers sgd,momentum,adagrad,adam "
        "--lrs 0.95,0.1,1.5,0.3 --start -7,2 --steps 30 -o optimizers.png",
    ),
    "batch-modes": (
        "batch vs mini-batch vs stochastic GD on a noisy line fit: paths on the "
        "contour and cost per iteration",
        "gdlab figure batch-modes -o batch-modes.png",
    ),
    "ema": (
        "exponentially weighted averages, β = 0.5, 0.9, 0.98, raw and bias-corrected",
        "gdlab figure ema -o ema.png",
    ),
    "lr-decay": (
        "learning-rate decay per epoch: exponential, inverse time, step, "
        "polynomial, cosine, warm-up",
        "gdlab figure lr-decay -o lr-decay.png",
    ),
    "mnist-curves": (
        "the MNIST experiment: loss per iteration, train/test accuracy per epoch",
        "gdlab train --preset course-mnist --out runs/course-mnist  "
        "(writes loss.png, accuracy.png)",
    ),
}
"""Every figure of the course notes: what it shows and the command drawing it."""

_DRAWN_HERE = ("batch-modes", "ema", "lr-decay")


@main.command("figure")
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=_output_file,
    help="PNG to write",
)
def figure_command(name: str | None, output: str | None) -> None:
    """Draw a figure of the course notes; without NAME, list every one of them
    with the command that draws it.

    \b
    gdlab figure batch-modes -o batch-modes.png
    gdlab figure ema -o ema.png
    gdlab figure lr-decay -o lr-decay.png
    """
    if name is None:
        for key, (what, command) in _FIGURES.items():
            click.echo(f"{key}: {what}\n    {command}")
        return
    if name not in _DRAWN_HERE:
        if name in _FIGURES:
            raise click.UsageError(f"figure: {name} is drawn by: {_FIGURES[name][1]}")
        raise click.UsageError(
            f"figure: NAME must be one of {', '.join(_DRAWN_HERE)}, got {name!r}"
        )
    if output is None:
        raise click.UsageError("figure: -o FILE is required: the PNG to write")
    from gdlab.lab import examples
    from gdlab.report import course

    if name == "batch-modes":
        modes = examples.batch_modes()
        course.plot_batch_modes(modes, output)
        for label, cost in modes.costs.items():
            m, b = modes.paths[label][-1]
            click.echo(
                f"{label}: MSE {cost[0]:.4g} -> {cost[-1]:.4g} after "
                f"{cost.size - 1} iterations, (m, b) = ({m:.4g}, {b:.4g})"
            )
        click.echo(
            f"least-squares minimum: MSE {modes.surface.min_value:.4g} at "
            f"(m, b) = ({modes.surface.minima[0][0]:.4g}, "
            f"{modes.surface.minima[0][1]:.4g})"
        )
    elif name == "ema":
        series = examples.noisy_series()
        curves = examples.ema_curves(series)
        course.plot_ema_curves(series, curves, output)
        for beta, (raw, corrected) in curves.items():
            click.echo(
                f"β = {beta:g}: window ≈ {1 / (1 - beta):.3g} values; v_1 raw "
                f"{raw[0]:.4g}, bias-corrected {corrected[0]:.4g} (θ_1 = "
                f"{series[0]:.4g})"
            )
    else:
        epochs = 100
        decay = examples.lr_decay(epochs=epochs)
        course.plot_lr_decay(decay, epochs, output)
        shown = (0, 10, 25, 50, 99)
        click.echo(f"{'schedule':<36}" + "".join(f"{f'epoch {e}':>11}" for e in shown))
        for label, s in decay.items():
            click.echo(f"{label:<36}" + "".join(f"{s(e):>11.4g}" for e in shown))
    click.echo(f"wrote {output}")


@main.command("stability")
@click.argument("name")
@click.option("--lrs", default=None, help="plain-GD learning rates to run")
@click.option("--start", default=None, help="x,y where the runs start")
@click.option("--at", default=None, help="x,y where the Hessian is taken")
@click.option("--steps", default=500, show_default=True, type=click.IntRange(min=1))
def stability_command(
    name: str, lrs: str | None, start: str | None, at: str | None, steps: int
) -> None:
    """The largest and smallest Hessian eigenvalues of surface NAME (from
    Hessian-vector products), the largest stable plain-GD learning rate 2/λmax, and
    GD runs just below and above it.

    gdlab stability regression
    """
    from gdlab import lab

    rates = None if lrs is None else _floats("--lrs", lrs)
    origin = None if start is None else _floats("--start", start, 2)
    where = None if at is None else _floats("--at", at, 2)
    with _user_input():
        report = lab.stability(name, rates, start=origin, at=where, steps=steps)
    click.echo(report.format())


@main.command("playground")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="port to listen on; 0 picks a free one",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--open", "open_browser", is_flag=True, help="open the page in a browser")
def playground_command(port: int, host: str, open_browser: bool) -> None:
    """A local web page: choose a surface, optimizers and their hyperparameters,
    click a start point on the contour and watch the trajectories (Ctrl-C stops).

    \b
    gdlab playground --open
    gdlab playground --port 0        # any free port; the URL is printed
    """
    from gdlab import playground

    with _user_input():  # only opening the socket raises: requests are handled apart
        playground.serve(host, port, open_browser=open_browser, echo=click.echo)


# --- sweeps ---------------------------------------------------------------------------


def _list(option: str, text: str, parse: Any, what: str) -> list[Any]:
    """``"1e-3,1e-2"`` -> [0.001, 0.01]; empty items or bad values: a usage error."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise click.UsageError(
            f"{option} must be a comma-separated list of {what}, got {text!r}"
        )
    try:
        return [parse(p) for p in parts]
    except ValueError:
        raise click.UsageError(
            f"{option} must be a comma-separated list of {what}, got {text!r}"
        ) from None


def _value(text: str) -> Any:
    """A grid value: JSON (numbers, true, null) or else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _command_line(ctx: click.Context) -> str:
    """The options given on the command line, as a command that repeats them."""
    parts = ["gdlab", ctx.info_name or ""]
    for param in ctx.command.params:
        name = param.name or ""
        if ctx.get_parameter_source(name) != _COMMANDLINE:
            continue
        value = ctx.params.get(name, ctx.meta.get(name))  # --plugin: in meta
        option = param.opts[0]
        if isinstance(param, click.Option) and param.is_flag:
            parts.append(option)
        elif isinstance(value, tuple):
            for item in value:
                parts += [option, str(item)]
        else:
            parts += [option, str(value)]
    return shlex.join(parts)


@main.command("sweep")
@click.option(
    "--data",
    default="digits",
    show_default=True,
    help="digits | fashion-mnist | mnist | regression",
)
@click.option("--data-path", default=None, help="folder with the IDX files")
@click.option(
    "--model",
    default="mlp",
    show_default=True,
    help="mlp | mlp:64-32-10 | softmax | linear",
)
@click.option(
    "--activation", default="relu", show_default=True, help="relu | tanh | sigmoid"
)
@click.option(
    "--l2",
    default=0.0,
    show_default=True,
    type=float,
    help="λ of the L2 term λ/2·Σ‖W‖² (weights, not biases; not divided by the batch)",
)
@click.option("--schedule", default="constant", show_default=True, help="as for train")
@click.option(
    "--schedule-arg",
    "schedule_arg",
    multiple=True,
    metavar="NAME=VALUE",
    help="a schedule argument, as for train",
)
@click.option(
    "--hyper",
    "hyper",
    multiple=True,
    metavar="NAME=VALUE",
    help="an optimizer hyperparameter every swept optimizer takes, as for train",
)
@click.option("--warmup-epochs", default=0.0, show_default=True, type=float)
@click.option("--dtype", default="float32", show_default=True, help="float32 | float64")
@click.option("--epochs", default=5, show_default=True, type=int)
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
@click.option(
    "--seeds", default=3, show_default=True, type=int, help="seeds 0..N-1 per setting"
)
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
@click.option("--sharpness-samples", default=1000, show_default=True, type=int)
@_parallel_options
@click.option(
    "--out",
    default=None,
    callback=_folder,
    help="folder for sweep.db and the report [runs/sweep-DATA]",
)
@click.option("--quiet", is_flag=True, help="print only the table")
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
        "optimizer": _list("--optimizers", optimizers, str, "names"),
    }
    if lrs is not None:
        grid["lr"] = _list("--lrs", lrs, float, "numbers")
    grid["batch_size"] = _list(
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
        grid[name] = _list(f"--grid {name}", values, _value, "values")
    given = [_hyper(name, hyper) for name in grid["optimizer"]]
    base = _spec(run, hyper=given[0] if given else {})
    with _user_input():
        folder = outputs.claim(out or f"runs/sweep-{base.data}", "sweep")
    try:
        # sweep.run raises ValueError only for its input, before anything trains, and
        # for its store; a run that fails is a SweepError.
        with _user_input():
            result = sweep.run(
                base,
                grid,
                folder / "sweep.db",
                workers=workers,
                backend=backend,
                sharpness=sharpness,
                sharpness_samples=sharpness_samples,
                progress=not quiet,
                command=_command_line(click.get_current_context()),
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


# --- studies (gdlab.lab.studies) ------------------------------------------------------


@main.group("study")
def study_group() -> None:
    """Studies: batch size and sharpness at equal training loss; the edge of
    stability of full-batch gradient descent."""


def _study_command_line() -> str:
    """The command that repeats this study (``_command_line`` names only the
    subcommand)."""
    return "gdlab study " + _command_line(click.get_current_context())[len("gdlab ") :]


@study_group.command("batch-size")
@click.option(
    "--data", default="digits", show_default=True, help="digits | fashion-mnist | mnist"
)
@click.option("--data-path", default=None, help="folder with the IDX files")
@click.option("--model", default="mlp", show_default=True, help="mlp | mlp:64-32-10")
@click.option("--activation", default="relu", show_default=True)
@click.option("--optimizer", default="sgd", show_default=True)
@click.option("--lr", default=0.5, show_default=True, type=float)
@click.option("--batch-sizes", default="16,32,64,128,256,512,1024", show_default=True)
@click.option(
    "--until",
    default="loss:0.01",
    show_default=True,
    help="loss:X (train each to training loss X) or steps:N",
)
@click.option(
    "--seeds", default=3, show_default=True, type=int, help="seeds 0..N-1 per size"
)
@click.option("--epsilon", default=1e-2, show_default=True, type=float)
@click.option(
    "--samples",
    default=1000,
    show_default=True,
    type=int,
    help="training rows λmax and ε-sharpness are measured on",
)
@click.option(
    "--max-epochs",
    default=3000,
    show_default=True,
    type=int,
    help="budget of a loss:X run",
)
@click.option("--dtype", default="float32", show_default=True)
@click.option(
    "--out", default=None, callback=_folder, help="[runs/study-batch-size-DATA]"
)
@click.option("--quiet", is_flag=True, help="print only the table")
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

    sizes = _list("--batch-sizes", batch_sizes, int, "integers")
    with _user_input():
        folder = outputs.claim(
            out or f"runs/study-batch-size-{options['data']}", "study batch-size"
        )
        result = studies.batch_size_study(
            batch_sizes=sizes,
            out=folder,
            command=_study_command_line(),
            echo=None if quiet else click.echo,
            **options,
        )
    click.echo(result.format())
    click.echo(f"report: {folder / 'report.html'}")


@study_group.command("edge-of-stability")
@click.option(
    "--data", default="digits", show_default=True, help="digits | fashion-mnist | mnist"
)
@click.option("--data-path", default=None, help="folder with the IDX files")
@click.option(
    "--samples", default=1000, show_default=True, type=int, help="training rows"
)
@click.option(
    "--hidden", default="100-100-100-100", show_default=True, help="hidden widths"
)
@click.option("--activation", default="tanh", show_default=True)
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
@click.option("--steps", default=1500, show_default=True, type=int)
@click.option(
    "--every", default=25, show_default=True, type=int, help="steps between λmax"
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option(
    "--out",
    default=None,
    callback=_folder,
    help="[runs/study-edge-of-stability-DATA]",
)
@click.option("--quiet", is_flag=True, help="print only the table")
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

    widths = _list("--hidden", hidden.replace("-", ","), int, "integers joined by -")
    rates = _list("--lrs", lrs, float, "numbers")
    with _user_input():
        folder = outputs.claim(
            out or f"runs/study-edge-of-stability-{options['data']}",
            "study edge-of-stability",
        )
        result = studies.edge_of_stability(
            hidden=widths,
            lrs=rates,
            out=folder,
            command=_study_command_line(),
            echo=None if quiet else click.echo,
            **options,
        )
    click.echo(result.format())
    click.echo(f"report: {folder / 'report.html'}")


def _load_plugins(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``--plugin MODULE`` (repeatable): import modules that register optimizers."""
    for plugin in value or ():
        with _user_input():
            optim.load_plugin(plugin)
    ctx.meta["plugin"] = tuple(value or ())


def _with_plugin_option(command: click.Command) -> None:
    """Give every command ``--plugin``, read before its other options."""
    command.params.append(
        click.Option(
            ["--plugin"],
            multiple=True,
            metavar="MODULE",
            expose_value=False,
            is_eager=True,
            callback=_load_plugins,
            help="a module or .py file that registers optimizers (repeatable)",
        )
    )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_plugin_option(sub)


for _command in main.commands.values():
    _with_plugin_option(_command)
