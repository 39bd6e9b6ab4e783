"""``gdlab train`` and ``gdlab report``: one run into a folder; a comparison's
page redrawn."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gdlab import outputs
from gdlab.cli.options import (
    COMMANDLINE,
    INT,
    check_folder,
    epochs_option,
    hyper_option,
    language_first,
    out_option,
    parse_hyper,
    quiet_option,
    run_options,
    run_spec,
    use_language,
    user_input,
    zero_lr_warning,
)

if TYPE_CHECKING:
    from gdlab.callbacks import Callback
    from gdlab.history import History

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
        "notes_loop": True,  # loss after the update; evaluations as the notes'
    },
}
"""Run options set together by ``train --preset``."""


@click.command()
@run_options
@click.option(
    "--optimizer",
    default="adam",
    show_default=True,
    help="a registry name, or the SGD presets momentum / nesterov",
)
@click.option(
    "--lr",
    default=None,
    type=float,
    callback=zero_lr_warning,
    help="learning rate [per optimizer]",
)
@hyper_option()
@epochs_option(5)
@click.option("--iterations", default=None, type=int, help="steps, instead of epochs")
@click.option("--clip-grad-norm", default=None, type=float)
@click.option(
    "--eval-every",
    default="epoch",
    show_default=True,
    callback=lambda ctx, param, v: v if v == "epoch" else INT(ctx, param, v),
    help="'epoch', or steps between evaluations",
)
@click.option(
    "--checkpoint-every",
    default=None,
    type=click.IntRange(min=1),
    help="steps between checkpoints (and every epoch)",
)
@click.option(
    "--tensorboard",
    default=None,
    metavar="DIR",
    callback=check_folder,
    help="also write TensorBoard event files into DIR (needs gdlab[tensorboard])",
)
@out_option("required without --resume", "history, plots, checkpoints")
@click.option(
    "--resume",
    default=None,
    callback=check_folder,
    help="continue the run in this folder",
)
@quiet_option
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
    "replacement, 10,000 iterations, no validation split, the loss after each "
    "update, accuracy when i % iter_per_epoch == 0, plots as the notes draw "
    "them); options given beside it win",
)
@click.option(
    "--lang",
    default=None,
    type=click.Choice(["en", "ko"]),
    is_eager=True,
    callback=language_first,
    help="language of the course-mnist summary and plots [from LC_ALL/LANG]",
)
def train(
    hyper: tuple[str, ...],
    out: str | None,
    resume: str | None,
    checkpoint_every: int | None,
    tensorboard: str | None,
    quiet: bool,
    preset: str | None,
    lang: str | None,
    **run: Any,
) -> None:
    """Train a model and write history.json/csv, loss and accuracy plots and
    checkpoints into --out; --resume continues a run exactly.

    \b
    gdlab train --preset course-mnist --out runs/course-mnist
    gdlab train --preset course-mnist --data mnist --data-path DIR --out runs/mnist
    """
    progress = not quiet
    if preset is not None:
        use_language(lang, figures=True)

    ctx = click.get_current_context()
    given_here = {k for k in ctx.params if ctx.get_parameter_source(k) == COMMANDLINE}
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
        history = _resume(
            resume, run, hyper, given_here, checkpoint_every, progress, tensorboard
        )
        folder = resume
    else:
        if out is None:
            raise click.UsageError(
                "--out is required: the folder for the history, plots and checkpoints"
            )
        history = _start(out, run, hyper, checkpoint_every, progress, tensorboard)
        folder = out
    _say_done(history, folder)
    if history.diverged:
        click.echo(f"gdlab: {history.message}", err=True)
        ctx.exit(1)


def _start(
    out: str,
    run: dict[str, Any],
    hyper: tuple[str, ...],
    checkpoint_every: int | None,
    progress: bool,
    tensorboard: str | None,
) -> History:
    """A new run into ``out``, its options checked before the folder is claimed."""
    from gdlab import experiment
    from gdlab.lab import runs

    spec = run_spec(run, hyper=parse_hyper(run["optimizer"], hyper))
    with contextlib.ExitStack() as held:
        with user_input():
            built = experiment.build(spec)
            watchers = _watchers(tensorboard)
            held.enter_context(runs.training_folder(out))  # locked while it runs
        return runs.train_into(
            out,
            built,
            checkpoint_every=checkpoint_every,
            progress=progress,
            callbacks=watchers,
        )


def _resume(
    folder: str,
    run: dict[str, Any],
    hyper: tuple[str, ...],
    given_here: set[str],
    checkpoint_every: int | None,
    progress: bool,
    tensorboard: str | None,
) -> History:
    """The run in ``folder`` continued, refused when an option given here changes
    how it was configured."""
    from gdlab.lab import runs

    with user_input():
        stored = runs.stored_spec(folder)
        outputs.claim(folder, "train", "--resume")
    for key in ("optimizer", "schedule"):  # what --hyper, --schedule-arg name
        if key not in given_here:
            run[key] = getattr(stored, key)
    named = given_here | {"hyper"} if hyper else given_here
    if run["schedule_arg"]:
        named = named | {"schedule_args"}
    given = run_spec(dict(run), hyper=parse_hyper(run["optimizer"], hyper))
    changed = runs.changes(stored, given, named)
    if changed:
        raise click.UsageError(
            f"cannot resume {folder} with a changed configuration: "
            + "; ".join(changed)
        )
    with contextlib.ExitStack() as held:
        with user_input():  # the checkpoint is a file the user handed over
            resumed = held.enter_context(
                runs.resuming(
                    folder,
                    checkpoint_every=checkpoint_every,
                    progress=progress,
                    callbacks=_watchers(tensorboard),
                )
            )
        history = resumed.run()
        runs.write_history(Path(folder), history)
        runs.write_model(folder, resumed.model.params, resumed.optimizer)
    return history


def _say_done(history: History, folder: str) -> None:
    """The final numbers (or the notes' summary) and the files written."""
    from gdlab.lab import course_mnist

    notes = history.config.get("notes_loop")
    last = history.epochs[-1] if history.epochs else None
    if last is not None and not notes:
        acc = "" if last["test_acc"] is None else f", test acc {last['test_acc']:.4f}"
        click.echo(
            f"final: train loss {last['train_loss']:.4f}{acc} "
            f"after {last['step']} steps"
        )
    if notes:
        click.echo("\n".join(course_mnist.summary(history)))
    plots = [p for p in ("loss.png", "accuracy.png") if (Path(folder) / p).is_file()]
    written = ["history.json", "history.csv", *plots, "model.npz"]
    click.echo(f"wrote {folder}/{', '.join(written)}")


def _watchers(tensorboard: str | None) -> list[Callback]:
    """The callbacks --tensorboard asks for (made once the run's input is checked,
    so that a refused run leaves no log folder)."""
    if tensorboard is None:
        return []
    from gdlab.callbacks import TensorBoard

    try:
        return [TensorBoard(tensorboard)]
    except ImportError as error:
        raise click.UsageError(f"--tensorboard: {error}") from None
    except ValueError as error:  # not a folder that can be written
        message = str(error).replace("TensorBoard: logdir", "--tensorboard")
        raise click.UsageError(message) from None


@click.command("report")
@click.argument("folder", callback=check_folder)
def report_command(folder: str) -> None:
    """Redraw report.html from the results.json of a comparison in FOLDER."""
    from gdlab.lab import runs

    with user_input():
        result = runs.load_comparison(folder)
    click.echo(f"report: {runs.report_from(folder, result)}")
