"""``gdlab explain``, ``gdlab examples`` and ``gdlab figure``: the course notes'
worked steps and figures."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gdlab import _checks
from gdlab.cli.options import (
    HYPER_HELP,
    LANG_HELP,
    language_first,
    output_file,
    parse_floats,
    parse_hyper,
    parse_pairs,
    use_language,
    user_input,
    zero_lr_warning,
)
from gdlab.history import History
from gdlab.i18n import gettext as _


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
@click.option(
    "--lang",
    default=None,
    type=click.Choice(["en", "ko"]),
    is_eager=True,
    callback=language_first,
    help=LANG_HELP,
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
    lang: str | None,
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

    use_language(lang)
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
@click.option("--lang", default=None, type=click.Choice(["en", "ko"]), help=LANG_HELP)
def examples_command(name: str | None, lang: str | None) -> None:
    """The course notes' worked examples, worked out: without NAME the list; with
    NAME every intermediate quantity and, where the notes' numbers differ, theirs
    beside the right ones with the reason.

    \b
    gdlab examples
    gdlab examples regression
    gdlab examples regression --lang ko
    """
    from gdlab.lab import examples

    use_language(lang)
    if name is None:
        width = max(map(len, examples.names()))
        for key, text in examples.summaries().items():
            click.echo(f"{key:<{width}}  {text}")
        click.echo(
            "\n"
            + _("gdlab examples NAME works one out; gdlab figure lists the figures")
        )
        return
    with user_input():
        worked = examples.get(name)
    click.echo(worked.format())


def _figures() -> dict[str, str]:
    """Every figure of the course notes (and those a learner of them wants), with
    what it shows; ``gdlab figure NAME -o FILE`` draws each."""
    return {
        "regression-surface": _(
            "the worked example's MSE surface, 3-D and contour, with plain GD at "
            "λ = 0.5 / 0.1 / 0.005 from (−1, 5) (note 001)"
        ),
        "residuals": _(
            "note 001's residuals of ŷ = m·x + b on (1, 3), (2, 5), and the 1-D "
            "loss curve MSE(m) with gradient steps"
        ),
        "sse-vs-cee": _(
            "SSE against cross-entropy on Saito's output (0.6 on the right class, "
            "then on a wrong one), and as the right class's probability grows"
        ),
        "batch-modes": _(
            "batch vs mini-batch vs stochastic GD on a noisy line fit: paths on "
            "the contour and cost per iteration"
        ),
        "mnist-curves": _(
            "the notes' MNIST loop: loss per iteration (0–3, first 1,000 zoomed), "
            "train/test accuracy (0–1); --run FOLDER draws a course-mnist run"
        ),
        "flat-sharp": _(
            "Keskar et al.'s flat and sharp minima: the training curve and the "
            "shifted test curve (note 003, batch size matters)"
        ),
        "optimizers": _(
            "SGD, Momentum, AdaGrad and Adam on x²/20 + y² (Saito, Deep Learning "
            "from Scratch, ch. 6)"
        ),
        "momentum-nag": _(
            "heavy-ball momentum against Nesterov's look-ahead gradient on "
            "x²/20 + y² (note 003)"
        ),
        "ema": _(
            "exponentially weighted averages, β = 0.5, 0.9, 0.98, raw and "
            "bias-corrected (note 004)"
        ),
        "adamp": _(
            "AdamP's projection at work: Adam and AdamP on a scale-invariant loss, "
            "the weight norm and the loss (note 003's further reading)"
        ),
        "lr-decay": _(
            "learning-rate decay per epoch: exponential, inverse time, step, "
            "polynomial, cosine, warm-up (note 004)"
        ),
    }


@click.command("figure")
@click.argument("name", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    callback=output_file(".png"),
    help="PNG to write",
)
@click.option(
    "--run",
    "run_folder",
    default=None,
    type=click.Path(file_okay=False),
    help="mnist-curves: the folder of a gdlab train --preset course-mnist run",
)
@click.option(
    "--iterations",
    default=None,
    type=click.IntRange(min=1),
    help="mnist-curves without --run: iterations of the notes' loop on the "
    "bundled digits [1500]",
)
@click.option("--lang", default=None, type=click.Choice(["en", "ko"]), help=LANG_HELP)
def figure_command(
    name: str | None,
    output: str | None,
    run_folder: str | None,
    iterations: int | None,
    lang: str | None,
) -> None:
    """Draw a figure of the course notes; without NAME, list every one of them
    with the command that draws it.

    \b
    gdlab figure regression-surface -o regression.png
    gdlab figure mnist-curves --run runs/course-mnist -o mnist.png
    gdlab figure ema -o ema.png --lang ko
    """
    use_language(lang)
    listed = _figures()
    if name is None:
        for key, what in listed.items():
            click.echo(f"{key}: {what}\n    gdlab figure {key} -o {key}.png")
        return
    if name not in listed:
        raise click.UsageError(
            f"figure: NAME must be one of {', '.join(listed)}, got {name!r}"
            f"{_checks.did_you_mean(name, list(listed))}"
        )
    if (run_folder is not None or iterations is not None) and name != "mnist-curves":
        raise click.UsageError("figure: --run and --iterations apply to mnist-curves")
    if run_folder is not None and iterations is not None:
        raise click.UsageError("figure: give --run or --iterations, not both")
    if output is None:
        raise click.UsageError("figure: -o FILE is required: the PNG to write")
    use_language(lang, figures=True)  # in Korean, a font with Hangul
    for line in _draw(name, output, run_folder, iterations):
        click.echo(line)
    click.echo(_("wrote {path}").format(path=output))


def _draw(
    name: str, output: str, run_folder: str | None, iterations: int | None
) -> list[str]:
    """Draw figure ``name`` into ``output``; the lines to print about it."""
    from gdlab.lab import figures
    from gdlab.report import course

    lines: list[str] = []
    if name in ("regression-surface", "optimizers", "momentum-nag"):
        made = {
            "regression-surface": figures.regression_paths,
            "optimizers": figures.optimizer_paths,
            "momentum-nag": figures.momentum_nag_paths,
        }[name]()
        course.plot_paths(made, path=output, three_d=name == "regression-surface")
        for label, value in made.final_values().items():
            lines.append(
                _("{label}: f = {value:.4g} after {steps} steps").format(
                    label=label, value=value, steps=len(made.paths[label]) - 1
                )
            )
    elif name == "residuals":
        r = figures.residuals()
        course.plot_residuals(r, path=output)
        lines.append(
            _("residuals ŷ − y at m = {m:g}, b = {b:g}: {r}").format(
                m=r.m, b=r.b, r=", ".join(f"{v:+g}" for v in r.residuals)
            )
        )
        lines.append(
            _("m after each GD step on MSE(m) at b = {b:g}, λ = {lr:g}: {ms}").format(
                b=r.b, lr=r.lr, ms=", ".join(f"{v:.4g}" for v in r.steps)
            )
        )
    elif name == "sse-vs-cee":
        c = figures.sse_vs_cee()
        course.plot_sse_vs_cee(c, path=output)
        for label in c.outputs:
            lines.append(
                _("{label}: SSE {sse:.4g}, cross-entropy {cee:.4g}").format(
                    label=label, sse=c.sse[label], cee=c.cee[label]
                )
            )
    elif name == "flat-sharp":
        f = figures.flat_sharp()
        course.plot_flat_sharp(f, path=output)
        for label, gap in f.gaps().items():
            lines.append(
                (
                    _("flat minimum at {x:g}: test − train = {gap:.3g}")
                    if label == "flat"
                    else _("sharp minimum at {x:g}: test − train = {gap:.3g}")
                ).format(x=f.minima[label], gap=gap)
            )
    elif name == "adamp":
        p = figures.adamp_projection()
        course.plot_adamp(p, path=output)
        for opt, norms in p.norms.items():
            lines.append(
                _("{opt}: ‖w‖ {a:.4g} -> {b:.4g}, loss {c:.3g} -> {d:.3g}").format(
                    opt=opt, a=norms[0], b=norms[-1], c=p.losses[opt][0],
                    d=p.losses[opt][-1],
                )
            )  # fmt: skip
    elif name == "mnist-curves":
        lines += _mnist_curves(output, run_folder, iterations)
    elif name == "batch-modes":
        modes = figures.batch_modes()
        course.plot_batch_modes(modes, path=output)
        for label, cost in modes.costs.items():
            m, b = modes.paths[label][-1]
            lines.append(
                _(
                    "{label}: MSE {a:.4g} -> {b:.4g} after {n} iterations, "
                    "(m, b) = ({m:.4g}, {c:.4g})"
                ).format(label=label, a=cost[0], b=cost[-1], n=cost.size - 1, m=m, c=b)
            )
        lines.append(
            _("least-squares minimum: MSE {v:.4g} at (m, b) = ({m:.4g}, {b:.4g})")
            .format(v=modes.surface.min_value, m=modes.surface.minima[0][0],
                    b=modes.surface.minima[0][1])
        )  # fmt: skip
    elif name == "ema":
        series = figures.noisy_series()
        curves = figures.ema_curves(series)
        course.plot_ema_curves(series, curves, path=output)
        for beta, (raw, corrected) in curves.items():
            lines.append(
                _(
                    "β = {beta:g}: window ≈ {w:.3g} values; v_1 raw {raw:.4g}, "
                    "bias-corrected {c:.4g} (θ_1 = {t:.4g})"
                ).format(beta=beta, w=1 / (1 - beta), raw=raw[0], c=corrected[0],
                         t=series[0])
            )  # fmt: skip
    else:
        epochs = 100
        decay = figures.lr_decay(epochs=epochs)
        course.plot_lr_decay(decay, epochs, path=output)
        shown = (0, 10, 25, 50, 99)
        epoch, schedule = _("epoch {n}"), _("schedule")
        head = "".join(f"{epoch.format(n=e):>11}" for e in shown)
        lines.append(f"{schedule:<36}" + head)
        for label, s in decay.items():
            lines.append(f"{label:<36}" + "".join(f"{s(e):>11.4g}" for e in shown))
    return lines


def _mnist_curves(
    output: str, run_folder: str | None, iterations: int | None
) -> list[str]:
    from gdlab.lab import course_mnist, figures
    from gdlab.report import course

    if run_folder is not None:
        with user_input():
            history = History.from_json(Path(run_folder) / "history.json")
        if not history.config.get("notes_loop"):
            raise click.UsageError(
                f"figure: {run_folder} holds no course-mnist run (gdlab train "
                "--preset course-mnist --out FOLDER makes one)"
            )
        lines = [
            _("drawn from the run in {folder}").format(folder=run_folder),
        ]
    else:
        n = 1500 if iterations is None else iterations
        history = figures.notes_run(iterations=n)
        lines = [
            _(
                "the notes' loop on the bundled 8×8 digits, {n} iterations in batches "
                "of 479 (a third of the 1,437 images, so that i % iter_per_epoch == 0 "
                "every 3 iterations); gdlab train --preset course-mnist runs it on "
                "Fashion-MNIST, then --run FOLDER draws that run"
            ).format(n=n)
        ]
    rows = history.epochs
    course.plot_notes_run(
        [s["loss"] for s in history.steps],
        [float(r["train_acc"] or 0.0) for r in rows],
        [float(r["test_acc"] or 0.0) for r in rows],
        _("the course notes' MNIST loop — {data}").format(
            data=course_mnist.data_title(history.config)
        ),
        path=output,
    )
    if rows:
        lines.append(
            _("{n} evaluations; the last: train acc, test acc | {a:.4f}, {b:.4f}")
            .format(n=len(rows), a=rows[-1]["train_acc"], b=rows[-1]["test_acc"])
        )  # fmt: skip
    return lines
