"""``gdlab explain``, ``gdlab examples`` and ``gdlab figure``: the course notes'
worked steps and figures."""

from __future__ import annotations

import sys

import click

from gdlab.cli.options import (
    HYPER_HELP,
    output_file,
    parse_floats,
    parse_hyper,
    parse_pairs,
    user_input,
    zero_lr_warning,
)


@click.command("explain")
@click.argument("name")
@click.option(
    "--lr",
    default=None,
    type=float,
    callback=zero_lr_warning,
    help="learning rate [per optimizer]",
)
@click.option("--hyper", "hyper", multiple=True, metavar="NAME=VALUE", help=HYPER_HELP)
@click.option("--param", default=None, help="θ: comma-separated numbers")
@click.option("--grad", default=None, help="the gradient: comma-separated numbers")
@click.option("--problem", default=None, help="a surface: the gradient is its own")
@click.option("--start", default=None, help="x,y on the --problem surface")
@click.option(
    "--steps",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="steps to work out, at most 1000 (one table each)",
)
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
    help="steps the optimizer has taken before (bias corrections, schedules), "
    "at most 2**53",
)
def explain_command(
    name: str,
    lr: float | None,
    hyper: tuple[str, ...],
    param: str | None,
    grad: str | None,
    problem: str | None,
    start: str | None,
    steps: int,
    state: tuple[str, ...],
    start_step: int,
) -> None:
    """Work out optimizer NAME's update step by step: every quantity of its rule, for
    every element, with the formula above. Hyperparameters are named as in
    torch.optim and given as in train (--hyper alpha=0.9, --hyper betas=0.9,0.999,
    --hyper nesterov=true).

    \b
    gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01
    gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01 \\
        --hyper alpha=0.9 --state v=0.01,0.09,0.04    # the worked example's premise
    gdlab explain sgd --problem regression --start -1,5 --lr 0.1
    """
    from gdlab import lab, surfaces

    given = parse_hyper(name, hyper) | ({} if lr is None else {"lr": lr})
    given["state"] = {
        key: parse_floats(f"--state {key}", text)
        for key, text in parse_pairs("--state", state).items()
    }
    given["start_step"] = start_step
    if problem is not None:
        if param is not None or grad is not None:
            raise click.UsageError(
                "explain: give --problem (and --start) or --param/--grad"
            )
        with user_input():
            f = surfaces.get(problem)
        point = f.start if start is None else parse_floats("--start", start, 2)
        with user_input():
            worked = lab.explain.explain(name, point, f, steps, **given)
    else:
        if start is not None:
            raise click.UsageError("explain: --start needs --problem (a surface)")
        if param is None or grad is None:
            raise click.UsageError(
                "explain: give --param and --grad (or --problem and --start)"
            )
        theta, grads = parse_floats("--param", param), parse_floats("--grad", grad)
        with user_input():
            worked = lab.explain.explain(name, theta, grads, steps, **given)
    click.echo(worked.format())
    if worked.diverged is not None:  # as train does: the tables, then exit 1
        click.echo(f"gdlab: {worked.diverged}", err=True)
        sys.exit(1)


@click.command("examples")
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
    with user_input():
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


@click.command("figure")
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=output_file(".png"),
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
    from gdlab.lab import figures
    from gdlab.report import course

    if name == "batch-modes":
        modes = figures.batch_modes()
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
        series = figures.noisy_series()
        curves = figures.ema_curves(series)
        course.plot_ema_curves(series, curves, output)
        for beta, (raw, corrected) in curves.items():
            click.echo(
                f"β = {beta:g}: window ≈ {1 / (1 - beta):.3g} values; v_1 raw "
                f"{raw[0]:.4g}, bias-corrected {corrected[0]:.4g} (θ_1 = "
                f"{series[0]:.4g})"
            )
    else:
        epochs = 100
        decay = figures.lr_decay(epochs=epochs)
        course.plot_lr_decay(decay, epochs, output)
        shown = (0, 10, 25, 50, 99)
        click.echo(f"{'schedule':<36}" + "".join(f"{f'epoch {e}':>11}" for e in shown))
        for label, s in decay.items():
            click.echo(f"{label:<36}" + "".join(f"{s(e):>11.4g}" for e in shown))
    click.echo(f"wrote {output}")
