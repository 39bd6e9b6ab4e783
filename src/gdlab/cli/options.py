"""What every command shares: the typed ``NAME=VALUE`` parser of hyperparameters
and schedule arguments, option sets, and the callbacks that turn bad input into a
usage error (one line, exit status 2).

The library reports bad arguments as ``ValueError``s; they become usage errors only
where a command hands it what the user typed (``with user_input():``), so a
``ValueError`` anywhere else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gdlab import _checks, optim, outputs, schedules
from gdlab.i18n import gettext as _

if TYPE_CHECKING:
    from gdlab.experiment import RunSpec

COMMANDLINE = click.core.ParameterSource.COMMANDLINE
"""Where an option was given: ``ctx.get_parameter_source(name) == COMMANDLINE``."""


_OPTION_OF: dict[tuple[str, str], tuple[str, ...]] = {
    ("load", "name"): ("data",),
    ("load", "path"): ("data_path",),
    ("model", "kind"): ("model",),
    ("surfaces", "the surface"): ("problem", "name"),
    ("surface runs", "lr"): ("lrs", "lr"),
    ("schedule", "name"): ("name", "schedule"),
    ("examples", "name"): ("name",),
    ("figure", "name"): ("name",),
}
"""Library fields (owner, field) that a command's option or argument of another
name sets, the first of them the command has."""
_OWNER_OPTION = {"load": "data", "model": "model", "tune": "tune"}
"""Owners that stand for one option, whatever their field."""
_OWNERS = frozenset(
    {
        "RunSpec",
        "TrainConfig",
        "Protocol",
        "BatchSize",
        "EdgeOfStability",
        *_OWNER_OPTION,
        *(owner for owner, _ in _OPTION_OF),
        *("compare", "sweep", "benchmark", "explain", "stability", "surface"),
        "loss_grid",
    }
)
"""The owners whose fields are a command's options, and the command names that
begin the CLI's own messages. An optimizer's class (``Adam``) is one too: its
fields are what ``--lr`` and ``--hyper`` typed."""
_OWNER = re.compile(r"(suite [^:\n]+|[A-Za-z_]\w*(?: runs)?): (.*)", re.DOTALL)
_FIELD = re.compile(r"(.+?)( must .*)", re.DOTALL)
_INDEX = re.compile(r"(\w+)(\[[^\]]*\])?")
_UNKNOWN = re.compile(r"unknown (optimizer|schedule) ")


def user_words(message: str, ctx: click.Context | None = None) -> str:
    """A library message in the words of the command line: the option that set
    the field, not the owner that checked it. ``"RunSpec: schedule must be ..."``
    is ``"--schedule must be ..."``, ``"Adam: betas[0] must be ..."`` is
    ``"--hyper betas[0] must be ..."``, ``"load: option 'n' of regression must be
    ..."`` is ``"--data: option 'n' of regression must be ..."``, ``"sweep: run
    lr=0.1 ...: X"`` is X in these words (the options name the runs). A field that
    ``--grid`` set is named as ``--grid FIELD``; an owner the command has no option
    for is dropped. ``ctx`` is the command's context (None: the current one)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is None:
        return message
    if message.startswith("sweep: run "):  # "sweep: run lr=0.1 seed=0: model: ..."
        for colon in re.finditer(r": (?=\S)", message):
            inner = message[colon.end() :]
            if _OWNER.match(inner) or _UNKNOWN.match(inner):
                return user_words(inner, ctx)
    if _UNKNOWN.match(message):  # "unknown optimizer 'adma' (did you mean ...)"
        kind = message.split()[1]
        option = _option(ctx, kind + "s", kind, "name")
        return f"{option}: {message}" if option else message
    match = _OWNER.match(message)
    if match is None:
        return message
    owner, rest = match[1], match[2]
    if owner.startswith("suite "):  # "suite my.toml: cannot read it ..."
        return f"--suite {owner[len('suite ') :]}: {rest}"
    if rest.startswith("-"):  # the CLI's own "surface: --3d does not apply ..."
        return rest
    fielded = _FIELD.match(rest)
    field = fielded[1] if fielded else ""
    after = fielded[2] if fielded else ""
    indexed = _INDEX.fullmatch(field)
    grid = re.fullmatch(r"grid\['(\w+)'\]", field)
    if grid:  # an axis of a sweep's grid: the option that made it
        field, indexed = grid[1], None
    base = indexed[1] if indexed else field
    index = (indexed[2] or "") if indexed else ""
    if owner in schedules.RUN_SCHEDULES:  # "step: step_size must be ...": a schedule's
        owner = "schedule"
    if owner not in _OWNERS:
        if owner not in {c.__name__ for c in optim.REGISTRY.values()}:
            typed = _option(ctx, base, typed=True) if fielded else None
            return f"{typed}{index}{after}" if typed else message  # MLP: init
        if base == "lr" and (option := _option(ctx, "lr", "lrs")):
            return f"{option}{index}{after}"
        option = _option(ctx, "hyper")
        return f"{option} {rest}" if option else rest
    names = _OPTION_OF.get((owner, base.lower()), (base.lower(),))
    typed = _option(ctx, *names, typed=True)
    if typed and fielded:
        return f"{typed}{index}{after}"
    if owner in _OWNER_OPTION and (option := _option(ctx, _OWNER_OPTION[owner])):
        return f"{option}{index}{after}" if indexed else f"{option}: {rest}"
    if _option(ctx, "grid", typed=True) and (fielded or " grid " in rest):
        return f"--grid {rest}" if fielded else f"--grid: {rest}"
    if fielded and (option := _option(ctx, *names)):
        return f"{option}{index}{after}"
    if owner == "schedule" and (option := _option(ctx, "schedule_arg", typed=True)):
        return f"{option} {rest}"  # "schedule: rate must be ..." as typed
    word = re.match(r"\w+", rest)  # "backend 'ray' needs Ray": --backend ray
    if word and (option := _option(ctx, word[0], typed=True)):
        return f"{option}{rest[word.end() :]}"
    return rest


def _option(ctx: click.Context, *names: str, typed: bool = False) -> str | None:
    """How the current command's first parameter of ``names`` is typed:
    ``--lrs`` for an option (its longest name, or the name plus ``s``: ``lr`` is
    ``--lrs`` where a command takes several), ``NAME`` for an argument; None when
    it has none of them (or, with ``typed``, none given on the command line)."""
    params: dict[str, click.Parameter] = {}
    for p in ctx.command.params:
        if p.name and not isinstance(p, DeprecatedAlias) and p.name != "help":
            params[p.name] = p
            for opt in p.opts:  # --grid, whose value is called extra
                params.setdefault(opt.lstrip("-").replace("-", "_"), p)
    for name in names:
        for candidate in (name, f"{name}s", f"{name}es"):
            param = params.get(candidate)
            if param is None or param.name is None:
                continue
            if typed and ctx.get_parameter_source(param.name) != COMMANDLINE:
                continue
            if isinstance(param, click.Argument):
                return param.human_readable_name.upper()
            return max(param.opts, key=len)
    return None


@contextlib.contextmanager
def user_input() -> Iterator[None]:
    """Around a library call that checks what the user typed: its ValueError is a
    usage error (one line, exit 2) in the user's words (:func:`user_words`)."""
    try:
        yield
    except ValueError as error:
        raise click.UsageError(user_words(str(error))) from None


def warn_zero_lr(option: str, values: Iterable[float | None]) -> None:
    """A warning on stderr when a learning rate is 0: legal (a frozen run), but
    a run that trains nothing is almost always a typo."""
    if any(v == 0 for v in values):
        said = _(
            "{option} 0 leaves the weights unchanged: the run will train nothing"
        ).format(option=option)
        click.echo(f"gdlab: warning: {said}", err=True)


_NOT_PLAN = frozenset({"out", "workers", "backend", "quiet"})
"""Options that change where or how fast a plan runs, not what it computes."""


def data_label(data: str) -> str:
    """``data`` as part of a folder name: an npz path by its file's stem
    (``my/cells.npz`` -> ``cells``; the hash of :func:`default_out` tells two
    files of one stem apart)."""
    if data.lower().endswith(".npz"):
        return Path(data).name[: -len(".npz")] or "npz"
    return data


def default_out(prefix: str) -> str:
    """The default output folder of the current command: ``prefix`` when every
    option that shapes its results has its default value, else ``prefix-`` and 8
    hex digits of a hash of those that differ (plugins included). So a comparison
    of other optimizers or settings never replaces another's results, and the same
    command run again finds its own folder and continues there."""
    ctx = click.get_current_context()
    defaults = {p.name: p.get_default(ctx) for p in ctx.command.params}
    plan = {
        name: value
        for name, value in sorted(ctx.params.items())
        if name not in _NOT_PLAN
        and ctx.get_parameter_source(name) == COMMANDLINE
        and value != defaults.get(name)
    }
    if ctx.meta.get("plugin"):
        plan["plugin"] = list(ctx.meta["plugin"])
    if not plan:
        return prefix
    key = json.dumps(plan, sort_keys=True, default=str)
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


@contextlib.contextmanager
def store_in_use() -> Iterator[None]:
    """Around a command's sweep: a store that another sweep is writing means the
    user started two commands into one folder; a usage error (the data is safe)."""
    from gdlab.lab.sweep import StoreBusy

    try:
        yield
    except StoreBusy as error:
        raise click.UsageError(str(error)) from None


def use_language(language: str | None, *, figures: bool = False) -> str:
    """Speak ``language`` (None: from LC_ALL / LC_MESSAGES / LANG) in the course
    commands' messages and, in Korean, draw ``figures`` with a Hangul font (a
    command that only prints needs none)."""
    from gdlab import i18n

    with user_input():
        chosen = i18n.use(language)
        if chosen == "ko" and figures:
            from gdlab.report import fonts

            fonts.use_hangul()
    return chosen


LANG_HELP = "language of the output: en or ko (Korean) [from LC_ALL/LC_MESSAGES/LANG]"


def language_first(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback for an eager ``--lang``: speak it before the other options'
    callbacks run, so that their warnings (``--lr 0``) are in the chosen language
    (None: the environment's)."""
    from gdlab import i18n

    with user_input():
        i18n.use(value)
    return value


# --- click callbacks -----------------------------------------------------------------


def zero_lr_warning(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback for a ``--lr`` option: :func:`warn_zero_lr`."""
    warn_zero_lr(param.opts[0] if isinstance(param, click.Option) else "lr", [value])
    return value


def check_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A click callback: a folder option may be absent, not empty, and its name fits
    the file system (the OS's "File name too long" would come as a traceback)."""
    name = param.opts[0] if isinstance(param, click.Option) else "FOLDER"
    if value == "":
        raise click.UsageError(f"{name} must name a folder, got ''")
    if value is not None:
        check_name_length(name, value)
    return value


def check_name_length(option: str, value: str) -> None:
    """A usage error if a part of path ``value`` is longer than the file system's
    NAME_MAX (255 bytes on Linux and macOS) or the whole longer than PATH_MAX."""
    try:
        part_max = os.pathconf(".", "PC_NAME_MAX")
        path_max = os.pathconf(".", "PC_PATH_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows)
        part_max, path_max = 255, 4096
    longest = max(len(os.fsencode(p)) for p in Path(value).parts or [""])
    if longest > part_max:
        raise click.UsageError(
            f"{option} must name a path whose parts have at most {part_max} bytes, "
            f"got a part of {longest}"
        )
    if len(os.fsencode(value)) >= path_max:
        raise click.UsageError(
            f"{option} must name a path of fewer than {path_max} bytes, "
            f"got {len(os.fsencode(value))}"
        )


def output_file(suffix: str) -> Any:
    """A click callback for a file to write: it ends in ``suffix`` (the format
    written; another would be a file misnamed) and its folder can be written to
    (created if missing)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        if value is None:
            return None
        option = param.opts[-1]
        if Path(value).suffix.lower() != suffix:
            raise click.UsageError(
                f"{option} must name a {suffix} file (that format is written), "
                f"got {value!r}"
            )
        with user_input():
            outputs.writable(Path(value).parent, f"the folder of {option}")
        return value

    return check


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


FLOAT, INT = _number(float), _number(int)


def parse_batch_size(
    ctx: click.Context, param: click.Parameter, value: str
) -> int | str:
    """A click callback: an integer, or ``full``."""
    if value == "full":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.UsageError(
            f"--batch-size must be an integer or 'full', got {value!r}"
        ) from None


# --- lists and NAME=VALUE pairs ------------------------------------------------------


def parse_floats(option: str, text: str, count: int | None = None) -> list[float]:
    """``"-7,2"`` -> [-7.0, 2.0]; an empty item, a non-finite or malformed number,
    or the wrong count is a usage error."""
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        values = []
    if (
        not values
        or not all(math.isfinite(v) for v in values)
        or (count is not None and len(values) != count)
    ):
        many = f"{count} " if count else ""
        raise click.UsageError(
            f"{option} must be {many}comma-separated finite numbers, got {text!r}"
        )
    return values


def parse_list(
    option: str, text: str, parse: Callable[[str], Any], what: str
) -> list[Any]:
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


def parse_names(option: str, text: str) -> list[str]:
    """``"sgd, adam"`` -> ["sgd", "adam"]; at least one."""
    found = [n.strip() for n in text.split(",") if n.strip()]
    if not found:
        raise click.UsageError(f"{option} must name at least one, got {text!r}")
    return found


def parse_pairs(option: str, given: tuple[str, ...]) -> dict[str, str]:
    """``NAME=VALUE`` options as name -> text, each name once."""
    values: dict[str, str] = {}
    for pair in given:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or not text:
            raise click.UsageError(f"{option} must look like NAME=VALUE, got {pair!r}")
        if key in values:
            raise click.UsageError(f"{option} {key} is given twice")
        values[key] = text.strip()
    return values


def _integer(text: str) -> int:
    """``"300"`` or ``"3e2"`` -> 300, exactly: a float form only up to 2**53 (beyond,
    float64 no longer holds the integer the text names)."""
    try:
        return int(text)
    except ValueError:
        x = float(text)
        if not x.is_integer() or abs(x) > 2**53:
            raise ValueError(text) from None
        return int(x)


def _optional(text: str) -> Any:
    """A hyperparameter that is None by default (L-BFGS's line_search_fn and
    max_eval): ``none`` -> None, else an integer, a number or the text itself."""
    if text.lower() in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _typed(option: str, key: str, text: str, kind: Any) -> Any:
    """``text`` as a value of ``kind`` (bool, int, float, tuple or list of integers)."""
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError
            return text.lower() == "true"
        if kind is tuple:
            return tuple(float(x) for x in text.split(","))
        if kind is list:  # milestones: step counts
            return [_integer(x) for x in text.split(",")]
        if kind is type(None):  # None by default: none, a number or a word
            return _optional(text)
        return _integer(text) if kind is int else kind(text)
    except ValueError:
        need = {
            bool: "true or false",
            int: "an integer (as 1e3 only up to 2**53)",
            float: "a number",
            tuple: "numbers separated by commas",
            list: "integers separated by commas",
        }[kind]
        raise click.UsageError(f"{option} {key} must be {need}, got {text!r}") from None


def assignments(
    option: str, given: tuple[str, ...], types: dict[str, Any], owner: str
) -> dict[str, Any]:
    """``KEY=VALUE`` options parsed by the type each key takes: the one syntax of
    hyperparameters (``--hyper betas=0.9,0.99``) and schedule arguments
    (``--schedule-arg step_size=100``) in every command."""
    values: dict[str, Any] = {}
    for key, text in parse_pairs(option, given).items():
        if key not in types:
            known = ", ".join(types) or "none"
            raise click.UsageError(
                f"{option}: {owner} has no {key!r}"
                f"{_checks.did_you_mean(key, list(types))}; it takes {known}"
            )
        values[key] = _typed(option, key, text, types[key])
    return values


def parse_hyper(name: str, given: tuple[str, ...]) -> dict[str, Any]:
    """``--hyper momentum=0.9 --hyper nesterov=true`` for optimizer ``name`` (a
    preset included), typed by its defaults; the lr has its own option."""
    if any(p.partition("=")[0].strip() == "lr" for p in given):
        raise click.UsageError("--hyper lr: give the learning rate with --lr")
    with user_input():
        defaults = optim.get(name).defaults
    types = {k: type(v) for k, v in defaults.items() if k != "lr"}
    return assignments("--hyper", given, types, name)


def parse_fixed(names: Sequence[str], given: tuple[str, ...]) -> dict[str, Any]:
    """``--hyper NAME=VALUE`` of a comparison: a setting fixed for every compared
    optimizer that has NAME (typed by the first that has it; the others keep
    their own), refused when none has it."""
    if any(p.partition("=")[0].strip() == "lr" for p in given):
        raise click.UsageError("--hyper lr: the lr is what a comparison tunes")
    types: dict[str, Any] = {}
    with user_input():
        for name in names:
            for key, value in optim.get(name).defaults.items():
                if key != "lr":
                    types.setdefault(key, type(value))
    for key in parse_pairs("--hyper", given):
        if key not in types:
            raise click.UsageError(
                f"--hyper: none of {', '.join(names)} has {key!r}"
                f"{_checks.did_you_mean(key, list(types))}; they take "
                f"{', '.join(types) or 'nothing'}"
            )
    return assignments("--hyper", given, types, "the compared optimizers")


HYPER_HELP = (
    "an optimizer hyperparameter, e.g. --hyper momentum=0.9 --hyper betas=0.9,0.99 "
    "--hyper nesterov=true (repeatable)"
)


def parse_schedule_args(name: str, given: tuple[str, ...]) -> dict[str, Any]:
    """``--schedule-arg gamma=0.5`` for run schedule ``name``, typed by its
    fields."""
    from gdlab.schedules import registry

    with user_input():
        types = registry.argument_types(name)
    return assignments("--schedule-arg", given, types, f"schedule {name}")


def _schedule_help() -> str:
    from gdlab.schedules import registry

    return "; ".join(
        f"{name} ({text})" if text else name
        for name, text in registry.RUN_DEFAULTS.items()
    )


SCHEDULE_HELP = _schedule_help()
"""Every run schedule with the defaults of the arguments not given."""


# --- option sets ---------------------------------------------------------------------


def run_spec(run: dict[str, Any], **more: Any) -> RunSpec:
    """The RunSpec of the run options (``--schedule-arg`` parsed for its schedule)."""
    from gdlab.experiment import RunSpec

    given = run.pop("schedule_arg", ())
    args = parse_schedule_args(run["schedule"], given) if given else {}
    with user_input():
        return RunSpec.from_dict({**run, "schedule_args": args, **more})


Decorator = Callable[[Any], Any]
"""A click option (or a stack of them), applied to a command function."""


def options(*decorators: Decorator) -> Decorator:
    """Several options as one decorator, listed in ``--help`` in this order."""

    def apply(function: Any) -> Any:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


class DeprecatedAlias(click.Option):
    """A hidden old name of option ``instead``: what it is given sets ``instead``'s
    value (unless ``instead`` is given too: the new name wins) and it warns once,
    on stderr, that the name will go."""

    def __init__(self, decls: Sequence[str], *, instead: str, **attrs: Any) -> None:
        name = decls[0].lstrip("-").replace("-", "_")
        super().__init__(
            [*decls, f"deprecated_{name}"], hidden=True, expose_value=False, **attrs
        )
        self.instead = instead

    def handle_parse_result(
        self, ctx: click.Context, opts: Any, args: list[str]
    ) -> tuple[Any, list[str]]:
        value, args = super().handle_parse_result(ctx, opts, args)
        if ctx.get_parameter_source(self.name or "") != COMMANDLINE:
            return value, args
        click.echo(
            f"gdlab: warning: {self.opts[0]} is deprecated and will be removed; "
            f"use {self.instead}",
            err=True,
        )
        target = next(
            p.name
            for p in ctx.command.params
            if self.instead in p.opts and p.name is not None
        )
        if ctx.get_parameter_source(target) != COMMANDLINE:  # the new name wins
            ctx.params[target] = value
            ctx.set_parameter_source(target, COMMANDLINE)
        return value, args


def deprecated_alias(name: str, instead: str, **attrs: Any) -> Decorator:
    """``name`` as a hidden, deprecated alias of option ``instead``
    (:class:`DeprecatedAlias`); ``attrs`` as ``instead``'s type (``is_flag=True``,
    ``type=int``)."""
    return click.option(name, cls=DeprecatedAlias, instead=instead, **attrs)


# One definition per option that several commands share, so each has one name,
# one meaning and one help text everywhere. Old names stay as hidden aliases.

quiet_option = options(
    click.option(
        "--quiet",
        is_flag=True,
        help="no progress bar or progress messages: print only the results",
    ),
    deprecated_alias("--no-progress", "--quiet", is_flag=True),  # train's, before
)
"""``--quiet``: the CLI's word for the library's ``progress=False``."""


def out_option(default: str, holds: str = "") -> Decorator:
    """``--out FOLDER``: where a command writes (every command that writes a
    folder names it so); ``default`` says what it is when not given, ``holds``
    what goes there."""
    return click.option(
        "--out",
        default=None,
        callback=check_folder,
        help=f"output folder [{default}]" + (f": {holds}" if holds else ""),
    )


def data_options(kinds: str = "digits | fashion-mnist | mnist | regression | "
                 "quadratic-deep | FILE.npz (your own arrays: X_train, y_train, "
                 "X_test, y_test) | a registered dataset (--plugin), options as "
                 "name:key=value") -> Decorator:  # fmt: skip
    """``--data`` and ``--data-path``."""
    return options(
        click.option("--data", default="digits", show_default=True, help=kinds),
        click.option("--data-path", default=None, help="folder with the IDX files"),
    )


VAL_FRACTION = click.option(
    "--val-fraction",
    default=0.1,
    show_default=True,
    type=float,
    help="share of the training set held out for validation, in (0, 0.5]",
)
"""The validation split's size (train, compare, sweep)."""
SPLIT_SEED = click.option(
    "--split-seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0, max=2**32 - 1),  # scikit-learn's bound
    help="seed of the validation split (the same for every run)",
)
"""The validation split's seed (train, compare, sweep)."""

split_options = options(VAL_FRACTION, SPLIT_SEED)
"""``--val-fraction`` and ``--split-seed``: the validation split."""

MODEL_HELP = (
    "mlp (one hidden layer of 100) | mlp:IN-HIDDEN...-OUT, sized for the data "
    "(mlp:64-32-10 on digits, mlp:784-256-128-10 on fashion-mnist) | softmax | linear"
    " | autoencoder:HIDDEN | quadratic-deep | a registered model (--plugin), options"
    " as name:key=value"
)


def model_option(kinds: str = MODEL_HELP) -> Decorator:
    """``--model``."""
    return click.option("--model", default="mlp", show_default=True, help=kinds)


def activation_option(default: str = "relu") -> Decorator:
    """``--activation``."""
    return click.option(
        "--activation", default=default, show_default=True, help="relu | tanh | sigmoid"
    )


l2_option = click.option(
    "--l2",
    default=0.0,
    show_default=True,
    type=float,
    help="λ of the L2 term λ/2·Σ‖W‖² added to the cost (weights, not "
    "biases; not divided by the batch size)",
)

dtype_option = click.option(
    "--dtype", default="float32", show_default=True, help="float32 | float64"
)

schedule_options = options(
    click.option(
        "--schedule",
        default="constant",
        show_default=True,
        help="how the lr decays after the warm-up: " + SCHEDULE_HELP,
    ),
    click.option(
        "--schedule-arg",
        "schedule_arg",
        multiple=True,
        metavar="NAME=VALUE",
        help="a schedule argument, e.g. --schedule-arg gamma=0.5 (repeatable)",
    ),
    click.option(
        "--warmup-epochs",
        default=0.0,
        show_default=True,
        type=float,
        help="epochs of linear warm-up before the schedule",
    ),
)
"""``--schedule``, ``--schedule-arg`` and ``--warmup-epochs``."""

seed_option = click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="seed of the run: initial weights and batch order",
)


def seeds_option(default: int, text: str) -> Decorator:
    """``--seeds N``: how many seeds (``text`` says which)."""
    return click.option(
        "--seeds", default=default, show_default=True, type=int, help=text
    )


def epochs_option(default: int, type: Any = int) -> Decorator:
    """``--epochs``: passes over the training set of each run."""
    return click.option(
        "--epochs",
        default=default,
        show_default=True,
        type=type,
        help="passes over the training set of each run",
    )


def hyper_option(text: str = HYPER_HELP) -> Decorator:
    """``--hyper NAME=VALUE`` (repeatable)."""
    return click.option(
        "--hyper", "hyper", multiple=True, metavar="NAME=VALUE", help=text
    )


FIXED_HYPER_HELP = (
    "a hyperparameter fixed for every compared optimizer that has it, e.g. "
    "--hyper weight_decay=1e-4 (repeatable; not a tuned one)"
)

OPTIMIZERS_HELP = (
    "comma-separated names, or all (every registered one) [the twelve of the"
    " course: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw,"
    " nadam, radam, adamax, adamp]"
)

search_seed_option = click.option(
    "--search-seed",
    default=0,
    show_default=True,
    type=int,
    help="the master seed: every study's search, tuning and rerun seeds derive from it",
)


def sharpness_samples_option(dest: str = "sharpness_samples") -> Decorator:
    """``--sharpness-samples``: the training rows λmax (and ε-sharpness) are
    measured on; ``dest`` names the function's argument."""
    return click.option(
        "--sharpness-samples",
        dest,
        default=1000,
        show_default=True,
        type=int,
        help="training rows λmax (and ε-sharpness) are measured on",
    )


run_options = options(
    data_options(),
    split_options,
    model_option(),
    activation_option(),
    l2_option,
    schedule_options,
    click.option(
        "--batch-size",
        default="100",
        show_default=True,
        callback=parse_batch_size,
        help="an integer, or 'full' (batch GD)",
    ),
    seed_option,
    dtype_option,
)
"""The options that describe a run (shared by train and compare)."""

parallel_options = options(
    click.option(
        "--workers",
        default=None,
        type=click.IntRange(min=1),
        help="the most processes (or local Ray CPUs) [one per core; runs too small "
        "to pay for starting processes train in this one]",
    ),
    click.option(
        "--backend",
        default="local",
        show_default=True,
        type=click.Choice(["local", "ray"]),
        help="local processes, or Ray (RAY_ADDRESS picks a cluster)",
    ),
)
"""--workers and --backend, for every command that runs a sweep."""


def command_line(ctx: click.Context) -> str:
    """The options given on the command line, as a command that repeats them
    (``gdlab study NAME ...`` for a subcommand of a group)."""
    parts = [
        "gdlab",
        *([ctx.parent.info_name or ""] if ctx.parent and ctx.parent.parent else []),
        ctx.info_name or "",
    ]
    for param in ctx.command.params:
        name = param.name or ""
        if isinstance(param, DeprecatedAlias):  # its value is under its new name
            continue
        if ctx.get_parameter_source(name) != COMMANDLINE:
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
