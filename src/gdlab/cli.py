"""The ``gdlab`` command line: thin click commands, one library call each.

A ``ValueError`` (bad user input) becomes one line on stderr and exit status 2;
any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

import click
import numpy as np

from gdlab import optim
from gdlab.experiment import RunSpec
from gdlab.lab import runs
from gdlab.lab.compare import ALL_OPTIMIZERS, format_table


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option: one line, not a usage page
            click.echo(f"gdlab: error: {error.format_message()}", err=True)
            ctx.exit(2)
        except ValueError as error:
            click.echo(f"gdlab: error: {error}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gdlab")
def main() -> None:
    """gdlab: a laboratory for gradient-descent optimization."""


def _number(kind: type[float] | type[int]) -> Any:
    """A click callback parsing an option as ``kind``; a bad value is a ValueError."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            command = ctx.command.name
            raise ValueError(
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
    callback=_INT,
    metavar="INTEGER",
    help="steps to draw and print (default: its length or 1000)",
)
@click.option("--all", "show_all", is_flag=True, help="every schedule type, a grid")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="PNG to write")
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
        raise ValueError("schedule: give a schedule NAME or --all (not both)")
    if show_all:
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
            click.echo(f"wrote {report.plot_schedule_grid(curves, horizon, output)}")
        return
    assert name is not None
    given = {k: v for k, v in arguments.items() if v is not None}
    if "milestones" in given:
        try:
            given["milestones"] = [int(m) for m in given["milestones"].split(",")]
        except ValueError:
            raise ValueError(
                "schedule: --milestones must be comma-separated integers, "
                f"got {arguments['milestones']!r}"
            ) from None
    args = {**schedules.example_arguments(name), **given}
    if warmup and "total_steps" in args:  # --total-steps counts the warm-up too
        if warmup >= args["total_steps"]:
            raise ValueError(
                f"schedule: --warmup must be < --total-steps ({args['total_steps']}),"
                f" got {warmup}"
            )
        args["total_steps"] -= warmup
    s: schedules.Schedule = schedules.create(name, **args)
    if warmup or start_lr:
        s = schedules.linear_warmup(s, warmup, start_lr)
    horizon = steps if steps is not None else (s.length or 1000)
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
        click.echo(f"wrote {report.plot_schedules({repr(s): s}, horizon, output)}")


# --- training and comparing ---------------------------------------------------------


def _batch_size(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    if value == "full":
        return value
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"--batch-size must be an integer or 'full', got {value!r}"
        ) from None


def _hyper(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--opt momentum=0.9 --opt nesterov=true`` -> {"momentum": 0.9, ...}."""
    hyper: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--opt must look like name=value, got {pair!r}")
        try:
            hyper[key] = json.loads(text)
        except json.JSONDecodeError:
            hyper[key] = text
        if isinstance(hyper[key], list):
            hyper[key] = tuple(hyper[key])
    return hyper


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
        click.option("--l2", default=0.0, show_default=True, type=float),
        click.option(
            "--schedule",
            default="constant",
            show_default=True,
            help="constant | step | exponential | inverse_time | "
            "polynomial | cosine | cosine_restarts | one_cycle",
        ),
        click.option("--warmup-epochs", default=0.0, show_default=True, type=float),
        click.option(
            "--batch-size",
            default="32",
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


@main.command()
@_run_options
@click.option(
    "--optimizers",
    default=",".join(ALL_OPTIMIZERS),
    show_default=True,
    help="comma-separated names; momentum and nesterov are SGD presets",
)
@click.option(
    "--lrs",
    default=None,
    help="learning rates: one per optimizer in order, or name=lr pairs",
)
@click.option("--epochs", default=20, show_default=True, type=int)
@click.option(
    "--seeds",
    default=3,
    show_default=True,
    type=int,
    help="runs per optimizer, seeds 0..N-1 (weights and batch order)",
)
@click.option("--out", default=None, help="output folder [runs/compare-DATA]")
@click.option("--quiet", is_flag=True, help="print only the table")
def compare(
    optimizers: str,
    lrs: str | None,
    seeds: int,
    out: str | None,
    quiet: bool,
    **run: Any,
) -> None:
    """Train one model with each optimizer from the same weights on the same batches;
    print a table and write report.html, PNGs and results.json/csv."""
    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    spec = RunSpec(**run)
    folder = out or f"runs/compare-{spec.data}"
    if not quiet:
        click.echo(f"comparing {len(names)} optimizers x {seeds} seeds on {spec.data}")
    result, page = runs.compare_into(
        folder,
        spec,
        names,
        seeds=seeds,
        lrs=_learning_rates(lrs, names),
        progress=not quiet,
        command=" ".join(["gdlab", *sys.argv[1:]]),
    )
    click.echo(format_table(result.summary()))
    click.echo(f"report: {page}")


def _learning_rates(text: str | None, names: list[str]) -> dict[str, float] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            return {k.strip(): float(v) for k, v in (p.split("=", 1) for p in parts)}
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(
            f"--lrs must be numbers or name=number pairs, got {text!r}"
        ) from None
    if len(values) != len(names):
        raise ValueError(
            f"--lrs must give {len(names)} learning rates (one per optimizer), "
            f"got {len(values)}"
        )
    return dict(zip(names, values, strict=True))


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
    "--opt",
    "hyper",
    multiple=True,
    metavar="NAME=VALUE",
    help="another optimizer hyperparameter, e.g. --opt momentum=0.9",
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
@click.option("--out", default=None, help="output folder (history, plots, checkpoints)")
@click.option("--resume", default=None, help="continue the run in this folder")
@click.option("--no-progress", is_flag=True, help="no progress bar")
def train(
    hyper: tuple[str, ...],
    out: str | None,
    resume: str | None,
    checkpoint_every: int | None,
    no_progress: bool,
    **run: Any,
) -> None:
    """Train a model and write history.json/csv, loss and accuracy plots and
    checkpoints into --out; --resume continues a run exactly."""
    ctx = click.get_current_context()
    if resume is not None:
        stored = runs.stored_spec(resume)
        given = {
            k: v
            for k, v in run.items()
            if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE
        }
        if hyper:
            given["hyper"] = _hyper(hyper)
        changed = [
            f"{k}: {getattr(stored, k)!r} -> {v!r}"
            for k, v in given.items()
            if getattr(stored, k) != v
        ]
        if changed:
            raise ValueError(
                f"cannot resume {resume} with a changed configuration: "
                + "; ".join(changed)
            )
        history = runs.resume_into(
            resume, checkpoint_every=checkpoint_every, progress=not no_progress
        )
        folder = resume
    else:
        if out is None:
            raise ValueError(
                "--out is required: the folder for the history, plots and checkpoints"
            )
        if run["iterations"] is not None:
            run["epochs"] = None
        spec = RunSpec(**run, hyper=_hyper(hyper))
        history = runs.train_into(
            out, spec, checkpoint_every=checkpoint_every, progress=not no_progress
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
@click.argument("folder")
def report_command(folder: str) -> None:
    """Redraw report.html from the results.json of a comparison in FOLDER."""
    click.echo(f"report: {runs.report_from(folder)}")


# --- surfaces, worked steps and stability ---------------------------------------------


def _floats(option: str, text: str, count: int | None = None) -> list[float]:
    """``"-7,2"`` -> [-7.0, 2.0]; a malformed list is a one-line ValueError."""
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        values = []
    if not values or (count is not None and len(values) != count):
        need = (
            f"{count} comma-separated numbers" if count else "comma-separated numbers"
        )
        raise ValueError(f"{option} must be {need}, got {text!r}")
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
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="PNG to write")
@click.option("--3d", "three_d", is_flag=True, help="draw the 3-D surface too")
@click.option("--animate", type=click.Path(dir_okay=False), help="GIF to write")
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

    f = surfaces.get(name)
    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    point = f.start if start is None else tuple(_floats("--start", start, 2))
    if heatmap:
        lo, hi = _floats("--lr-range", lr_range, 2)
        m_lo, m_hi = _floats("--momentum-range", momentum_range, 2)
        if not 0 < lo < hi:
            raise ValueError(f"--lr-range must be 0 < low < high, got {lr_range!r}")
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
            click.echo(f"wrote {pictures.plot_loss_grid(cells, output)}")
        return
    rates = None if lrs is None else list(_floats("--lrs", lrs))
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
        click.echo(
            f"wrote {pictures.plot_trajectories(f, labelled, output, three_d=three_d)}"
        )
    if animate:
        click.echo(f"wrote {pictures.animate_trajectories(f, labelled, animate)}")


def _optimizer_options(owner: str, name: str, args: list[str]) -> dict[str, Any]:
    """``--alpha 0.9 --betas 0.9,0.99 --nesterov`` -> hyperparameters of ``name``,
    typed by the optimizer's defaults."""

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
            raise ValueError(
                f"{owner}: unknown option {token!r} for {name}; it takes {known}"
            )
        default = defaults[key]
        if isinstance(default, bool):
            if sep:
                if text.lower() not in ("true", "false"):
                    raise ValueError(f"--{key} must be true or false, got {text!r}")
                hyper[key] = text.lower() == "true"
            else:
                hyper[key] = True
            k += 1
            continue
        if not sep:
            if k + 1 >= len(args):
                raise ValueError(f"{owner}: {token} needs a value")
            text = args[k + 1]
            k += 1
        k += 1
        values = _floats(f"--{key}", text)
        hyper[key] = tuple(values) if isinstance(default, tuple) else values[0]
        if not isinstance(default, tuple) and len(values) != 1:
            raise ValueError(f"--{key} must be one number, got {text!r}")
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
@click.pass_context
def explain_command(
    ctx: click.Context,
    name: str,
    param: str | None,
    grad: str | None,
    problem: str | None,
    start: str | None,
    steps: int,
) -> None:
    """Work out optimizer NAME's update step by step: every quantity of its rule, for
    every element, with the formula above. Hyperparameters are options named as in
    torch.optim (--lr, --alpha, --betas 0.9,0.999, --nesterov, ...).

    \b
    gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01
    gdlab explain sgd --problem regression --start -1,5 --lr 0.1
    """
    from gdlab import lab, surfaces

    hyper = _optimizer_options("explain", name, list(ctx.args))
    if problem is not None:
        if param is not None or grad is not None:
            raise ValueError("explain: give --problem (and --start) or --param/--grad")
        f = surfaces.get(problem)
        point = f.start if start is None else _floats("--start", start, 2)
        worked = lab.explain(name, point, f, steps, **hyper)
    else:
        if param is None or grad is None or start is not None:
            raise ValueError(
                "explain: give --param and --grad (or --problem and --start)"
            )
        worked = lab.explain(
            name, _floats("--param", param), _floats("--grad", grad), steps, **hyper
        )
    click.echo(worked.format())


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

    report = lab.stability(
        name,
        None if lrs is None else _floats("--lrs", lrs),
        start=None if start is None else _floats("--start", start, 2),
        at=None if at is None else _floats("--at", at, 2),
        steps=steps,
    )
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

    playground.serve(host, port, open_browser=open_browser, echo=click.echo)


# --- sweeps ---------------------------------------------------------------------------


def _list(option: str, text: str, parse: Any, what: str) -> list[Any]:
    """``"1e-3,1e-2"`` -> [0.001, 0.01]; empty items or bad values: a ValueError."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or not all(parts):
        raise ValueError(
            f"{option} must be a comma-separated list of {what}, got {text!r}"
        )
    try:
        return [parse(p) for p in parts]
    except ValueError:
        raise ValueError(
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
        if ctx.get_parameter_source(name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value, option = ctx.params[name], param.opts[0]
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
@click.option("--l2", default=0.0, show_default=True, type=float)
@click.option("--schedule", default="constant", show_default=True, help="as for train")
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
    default="32",
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
@click.option(
    "--workers",
    default=None,
    type=int,
    help="processes (or local Ray CPUs) [all cores]",
)
@click.option(
    "--backend", default="local", show_default=True, type=click.Choice(["local", "ray"])
)
@click.option(
    "--out", default=None, help="folder for sweep.db and the report [runs/sweep-DATA]"
)
@click.option("--quiet", is_flag=True, help="print only the table")
def sweep_command(
    optimizers: str,
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
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
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
            raise ValueError(f"--grid must look like FIELD=V1,V2, got {item!r}")
        if name in grid:
            raise ValueError(f"--grid {name} repeats a field the options already vary")
        grid[name] = _list(f"--grid {name}", values, _value, "values")
    base = RunSpec(**run)
    folder = runs.writable_folder(out or f"runs/sweep-{base.data}")
    try:
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
