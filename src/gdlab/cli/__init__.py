"""The ``gdlab`` command line: thin click commands, one library call each.

Bad user input is a ``click.UsageError``: one line on stderr, exit status 2 (see
:mod:`gdlab.cli.options`). A file that cannot be written (full disk, size limit)
is one line and exit status 1. Each command lives in the module of its name (or of
its close group) and imports the library where it runs, so ``gdlab --help`` loads
no plotting, SciPy or Numba.
"""

from __future__ import annotations

import atexit
import gc
import re
from typing import Any

import click

import gdlab
from gdlab import _checks, optim, outputs
from gdlab.cli import (
    benchmark,
    compare,
    course,
    playground,
    schedule,
    study,
    surface,
    sweep,
    train,
)
from gdlab.cli.options import user_input, user_words


class _Group(click.Group):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``gdlab ...`` itself (tests call :meth:`main` instead). At the process's
        exit, after the other exit handlers, every object is frozen out of the
        garbage collector, so the interpreter's last collections skip the
        hundreds of thousands of objects Numba and Matplotlib made: they took
        0.2 s of each command that trained (measured), a tenth of a small
        comparison. Every file of the command is written and closed before it
        returns; only the process's end is sooner."""
        atexit.register(gc.freeze)  # after every handler the command registers
        return super().__call__(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option: one line, not a usage page
            click.echo(f"gdlab: error: {_in_user_words(error)}", err=True)
            ctx.exit(2)
        except outputs.WriteError as error:  # the message names the file
            click.echo(f"gdlab: error: {error}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:  # Ctrl-C: say what is kept and how to go on
            click.echo(
                "\ngdlab: interrupted. Finished runs and checkpoints are kept: run "
                "the same command again to continue (gdlab train --resume FOLDER "
                "for a training run).",
                err=True,
            )
            ctx.exit(130)


def _in_user_words(error: click.UsageError) -> str:
    """A usage error's one line, beginning with what the user typed: click's
    "Invalid value for '--select': 'x' is not one of ..." as "--select: 'x' is not
    one of ... (did you mean 'val_acc'?)", a message of the CLI's own or the
    library's in the words of :func:`~gdlab.cli.options.user_words`."""
    if isinstance(error, click.BadParameter) and error.param is not None:
        param = error.param
        name = (
            max(param.opts, key=len)
            if isinstance(param, click.Option)
            else param.human_readable_name.upper()
        )
        hint = ""
        if isinstance(param.type, click.Choice):
            typed = error.ctx.params.get(param.name or "") if error.ctx else None
            raw = re.match(r"'(.*?)' is not", error.message)
            choices = [str(c) for c in param.type.choices]
            hint = _checks.did_you_mean(typed or (raw[1] if raw else None), choices)
        return f"{name}: {error.message.rstrip('.')}{hint}"
    return user_words(error.format_message(), error.ctx)


def _print_version(ctx: click.Context, param: click.Parameter, asked: bool) -> None:
    """``--version``: click's own option would read the version at import."""
    if asked:
        click.echo(f"gdlab, version {gdlab.__version__}")
        ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def main() -> None:
    """gdlab: a laboratory for gradient-descent optimization."""


for _command in (
    schedule.schedule,
    train.train,
    train.report_command,
    compare.compare,
    benchmark.benchmark,
    sweep.sweep_command,
    surface.surface_command,
    surface.stability_command,
    course.explain_command,
    course.examples_command,
    course.figure_command,
    study.study_group,
    playground.playground_command,
):
    main.add_command(_command)


def _load_plugins(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """``--plugin MODULE`` (repeatable): import modules that register optimizers,
    models, datasets or workloads (:mod:`gdlab.plugins`)."""
    for plugin in value or ():
        if not plugin.strip():
            raise click.UsageError(
                f"--plugin must name a module or .py file, got {plugin!r}"
            )
        with user_input():
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
            help="a module or .py file that registers optimizers, models, datasets"
            " or workloads (repeatable)",
        )
    )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_plugin_option(sub)


for _command in main.commands.values():  # after every command is added
    _with_plugin_option(_command)

__all__ = ["main"]
