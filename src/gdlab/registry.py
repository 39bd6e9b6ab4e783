"""Named things a user can add to: the registry that models, datasets and
workloads share, and the one text syntax that names one with its options.

A spec names a registered thing and, after a colon, its options::

    mlp                      the name alone: the builder's defaults
    mlp:784-100-10           a shorthand: the one option the builder names so
    quadratic-deep:noise=0.6 key=value options, comma-separated
    mlp:64-32-10,init=zeros  a shorthand first, then options

Values read as Python literals of the simple kinds: ``true``/``false``, an
integer, a float, else the text itself (``784-100-10`` stays text). A name is
case-insensitive, and ``_`` reads as ``-`` (``fashion_mnist`` is
``fashion-mnist``), as optimizer and schedule names are forgiving.

A name registered twice is refused; a name not found loads the plugins installed
under the registry's entry-point group (and ``$GDLAB_PLUGINS``) once, then is an
error that names the closest known one.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, Generic, TypeVar

from gdlab import _checks, plugins

T = TypeVar("T")

NAME = re.compile(r"[a-z][a-z0-9.+-]*")
"""A registered name: lower case, starting with a letter; no ``:`` or ``,``
(the spec syntax's own)."""


def key(name: object) -> str | None:
    """The registry key of ``name``: lower case, ``_`` as ``-``; None for a
    non-string."""
    return name.strip().lower().replace("_", "-") if isinstance(name, str) else None


class Registry(Generic[T]):
    """Name -> entry, in registration order, refusing a name twice.

    ``kind`` says what the entries are in messages (``"model"``); ``group`` is the
    entry-point group loaded the first time a name is missing.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._entries: dict[str, T] = {}

    def add(self, name: object, entry: T) -> str:
        """Register ``entry`` under ``name``; return its key."""
        owner = f"register({name!r})" if isinstance(name, str) else "register"
        found = key(name)
        if found is None or not NAME.fullmatch(found):
            _checks.fail(
                owner,
                f"the {self.kind}'s name",
                "lower-case letters, digits and - . + starting with a letter",
                name,
            )
        if found in self._entries:
            raise ValueError(
                f"{owner}: a {self.kind} named {found!r} is already registered; "
                "choose another name"
            )
        self._entries[found] = entry
        return found

    def remove(self, name: str) -> None:
        """Forget ``name`` (a test's clean-up)."""
        self._entries.pop(key(name) or "", None)

    def find(self, name: object) -> tuple[str, T] | None:
        """(key, entry) of ``name``, loading plugins once if it is missing."""
        found = key(name)
        if found is None:
            return None
        if found not in self._entries:
            plugins.load_group(self.group)
        return (found, self._entries[found]) if found in self._entries else None

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return key(name) in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def unknown(self, owner: str, field: str, name: object, more: str = "") -> str:
        """The words of an unknown name's error: the known ones (``more`` after
        them), the closest, and any plugin that did not load."""
        names = self.names()
        return (
            f"{owner}: {field} must be one of {', '.join(names)}{more}, got "
            f"{_checks.shown(name)}{_checks.did_you_mean(key(name), list(names))}"
            f"{plugins.failures()}"
        )


def parse(owner: str, text: object) -> tuple[str, str | None, dict[str, Any]]:
    """``"name:shorthand,key=value,..."`` -> (name, shorthand or None, options).

    ``owner`` names the field in errors (``"model"``)."""
    if not isinstance(text, str) or not text.strip():
        _checks.fail(owner, "name", "a non-empty string", text)
    name, colon, rest = text.partition(":")
    shorthand: str | None = None
    options: dict[str, Any] = {}
    if colon:
        items = rest.split(",")
        for i, item in enumerate(items):
            k, equals, value = item.partition("=")
            if not equals:
                if i:
                    _checks.fail(
                        owner,
                        "options",
                        "key=value pairs after the first (name:shorthand,key=value)",
                        text,
                    )
                shorthand = item.strip()
                continue
            k = k.strip()
            if not k.isidentifier():
                _checks.fail(owner, "an option's name", "an identifier", text)
            if k in options:
                _checks.fail(owner, f"option {k!r}", "given once", text)
            options[k] = typed(value.strip())
    return name.strip(), shorthand, options


def check_options(
    owner: str,
    what: str,
    function: Callable[..., Any],
    options: Mapping[str, Any],
    text: str,
    *,
    fixed: Collection[str] = (),
    fields: Collection[str] = (),
    positional: int = 0,
) -> None:
    """Refuse an option that ``function`` (``what``'s builder or loader) does not
    take, naming those it does; ``fixed`` are the keyword arguments gdlab itself
    passes (not options) and ``positional`` how many arguments it passes first
    by position (a builder's dataset); ``fields`` the options that came from a
    run's own fields."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin without a signature: let it say
        return
    params = list(signature.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    taken = [
        p.name
        for p in params[positional:]
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in fixed
    ]
    for name in options:
        if name in taken:
            continue
        if name in fields:
            _checks.fail(
                owner, f"{what}'s {name}", "its default (it takes none)", options[name]
            )
        _checks.fail(
            owner,
            f"option {name!r} of {what}",
            f"one of {', '.join(taken)}" if taken else "absent (it takes none)",
            text,
        )


def typed(text: str) -> Any:
    """An option's value: ``true``/``false``, an integer, a finite float, or the
    text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


__all__ = ["NAME", "Registry", "check_options", "key", "parse", "typed"]
