"""The shared option sets: one name, one meaning and one help text per option in
every command; old names as hidden aliases that still work and warn once."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gdlab.cli import main
from gdlab.cli.options import (
    DeprecatedAlias,
    command_line,
    default_out,
    deprecated_alias,
    quiet_option,
    sharpness_samples_option,
)


def commands(group: click.Group = main, prefix: str = "") -> dict[str, click.Command]:
    """Every leaf command by its full name (``study batch-size``)."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found |= commands(command, full + " ")
        else:
            found[full] = command
    return found


def shown(command: click.Command) -> dict[str, click.Option]:
    """A command's visible options by their long name."""
    return {
        max(p.opts, key=len): p
        for p in command.params
        if isinstance(p, click.Option) and not p.hidden
    }


SHARED = (
    "--data-path", "--val-fraction", "--split-seed", "--activation", "--l2",
    "--dtype", "--schedule", "--schedule-arg", "--warmup-epochs", "--seed",
    "--quiet", "--workers", "--backend", "--search-seed", "--sharpness-samples",
    "--out", "--epochs", "--grid", "--plugin",
)  # fmt: skip
"""Options defined once in gdlab.cli.options: the same help (and the same kind of
value) in every command that has them (the words before `` [`` or ``;``: ``--out``
says its default, schedule's ``--schedule-arg`` the schedules' defaults)."""


def test_a_shared_option_has_one_definition_in_every_command() -> None:
    seen: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)
    for name, command in commands().items():
        for option, param in shown(command).items():
            if option in SHARED:
                words = (param.help or "").split(" [")[0].split(";")[0]
                seen[option][name] = (words, param.is_flag, param.multiple)
    assert set(seen) == set(SHARED)
    for option, where in seen.items():
        assert len(set(where.values())) == 1, (option, where)
    # the options of a sharpness measurement and of progress are in every command
    # that has such a thing, under one name
    assert set(seen["--sharpness-samples"]) == {"sweep", "study batch-size"}
    assert set(seen["--quiet"]) == {
        "train", "compare", "benchmark", "sweep", "study batch-size",
        "study edge-of-stability",
    }  # fmt: skip
    assert set(seen["--grid"]) == {"sweep"}  # surface's heat map: --grid-size


@pytest.mark.parametrize(
    ("command", "old", "new"),
    [
        ("train", "--no-progress", "--quiet"),
        ("study batch-size", "--samples", "--sharpness-samples"),
        ("surface", "--grid", "--grid-size"),
    ],
)
def test_old_names_are_hidden_aliases(command: str, old: str, new: str) -> None:
    params = commands()[command].params
    alias = next(p for p in params if old in p.opts)
    assert isinstance(alias, DeprecatedAlias) and alias.hidden
    assert alias.instead == new and new in shown(commands()[command])
    page = CliRunner().invoke(main, [*command.split(), "--help"]).stdout
    assert new in page and f"{old} " not in page


@click.command()
@quiet_option
@sharpness_samples_option()
def toy(quiet: bool, sharpness_samples: int) -> None:
    ctx = click.get_current_context()
    click.echo(f"{quiet} {sharpness_samples} {command_line(ctx)} {default_out('x')}")


@pytest.mark.parametrize(
    ("args", "printed", "warned"),
    [
        ([], "False 1000 gdlab toy x", 0),
        (["--quiet"], "True 1000 gdlab toy --quiet x", 0),
        (["--no-progress"], "True 1000 gdlab toy --quiet x", 1),
        (["--no-progress", "--no-progress"], "True 1000 gdlab toy --quiet x", 1),
        (["--no-progress", "--quiet"], "True 1000 gdlab toy --quiet x", 1),
    ],
)
def test_an_alias_sets_the_new_option_and_warns_once(
    args: list[str], printed: str, warned: int
) -> None:
    result = CliRunner().invoke(toy, args, prog_name="toy")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == printed
    assert result.stderr.count("--no-progress is deprecated") == warned
    if warned:
        assert result.stderr == (
            "gdlab: warning: --no-progress is deprecated and will be removed; "
            "use --quiet\n"
        )


def test_a_value_given_by_its_old_name_is_the_new_ones() -> None:
    """--samples 50 is --sharpness-samples 50: the same value, the same default
    folder (a study started with the old name continues under the new)."""

    @click.command()
    @sharpness_samples_option("samples")
    @deprecated_alias("--samples", "--sharpness-samples", type=int)
    def study(samples: int) -> None:
        click.echo(f"{samples} {default_out('s')}")

    old = CliRunner().invoke(study, ["--samples", "50"])
    new = CliRunner().invoke(study, ["--sharpness-samples", "50"])
    assert old.exit_code == new.exit_code == 0
    assert old.stdout == new.stdout and old.stdout.startswith("50 s-")
    bad = CliRunner().invoke(study, ["--samples", "many"])
    assert bad.exit_code == 2 and "'many' is not a valid integer" in bad.stderr
    both = CliRunner().invoke(study, ["--sharpness-samples", "7", "--samples", "5"])
    assert both.stdout.startswith("7 ")  # the new name wins
