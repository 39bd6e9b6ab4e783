"""Declared records: frozen dataclasses that check their own fields when made.

A record declares each field's check in ``constraints``, the same
``(owner, name, value) -> value`` callables as
:attr:`gdlab.optim.Optimizer.constraints` (and scikit-learn's
``_parameter_constraints``). ``__post_init__`` applies them and keeps what each
returns (``3.0`` becomes ``3``), so a record that exists is a valid one, and every
later reader can trust it without checking again.

Its plain form, ready for JSON, comes from its fields: :meth:`Record.to_dict` and
:meth:`Record.from_dict` handle nested records and tuples of records, and
``from_dict`` refuses an unknown or missing field by name.

Example:
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Budget(Record):
    ...     trials: int = 4
    ...     constraints = {"trials": at_least(1)}
    >>> Budget(trials=3.0)
    Budget(trials=3)
    >>> Budget.from_dict({"trials": 0})
    Traceback (most recent call last):
    ...
    ValueError: Budget: trials must be an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from gdlab import _checks

Constraint = Callable[[str, str, Any], Any]
"""``(owner, name, value) -> value to keep``; raises ``ValueError`` otherwise."""

R = TypeVar("R", bound="Record")


class Record:
    """Base of the declared records; subclasses are ``@dataclass(frozen=True)``.

    A subclass that needs a check across fields overrides ``__post_init__`` and
    calls ``super().__post_init__()`` first.
    """

    constraints: ClassVar[Mapping[str, Constraint]] = {}
    """Field -> its check, applied in declaration order when the record is made."""

    @classmethod
    def owner(cls) -> str:
        """The name its error messages begin with: the class's."""
        return cls.__name__

    def __post_init__(self) -> None:
        owner = self.owner()
        for name in _tuple_fields(type(self)):  # a list given for a tuple
            value = getattr(self, name, None)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        for name, check in self.constraints.items():
            object.__setattr__(self, name, check(owner, name, getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """The plain form: each field's value, nested records as dicts, tuples as
        lists."""
        return {
            f.name: _plain(getattr(self, f.name))
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
        }

    @classmethod
    def from_dict(cls: type[R], values: object) -> R:
        """The record of a plain form like :meth:`to_dict`'s; a missing field with
        a default takes it. An error inside a nested record names the field by its
        path from this one: ``"Comparison: optimizers['sgd'].summary.test_acc.mean
        must be a real number, got 'x'"``, not ``"Stats: mean must be ..."``."""
        owner = cls.owner()
        if not isinstance(values, Mapping):
            _checks.fail(owner, "values", "a mapping", values)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name in values:
            if name not in fields:
                hint = _checks.did_you_mean(name, list(fields))
                _checks.fail(
                    owner, f"field {name!r}", f"one of {', '.join(fields)}{hint}", ""
                )
        for name, f in fields.items():
            required = (
                f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
            )
            if required and name not in values:
                _checks.fail(owner, name, "given", _checks.Raw("nothing"))
        hints = _hints(cls)
        return cls(**{k: _typed(hints[k], v, owner, k) for k, v in values.items()})


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of ``cls``'s fields (once per class)."""
    if cls not in _HINTS:
        names = {f.name for f in dataclasses.fields(cls)}
        _HINTS[cls] = {
            k: v for k, v in typing.get_type_hints(cls).items() if k in names
        }
    return _HINTS[cls]


_TUPLES: dict[type, tuple[str, ...]] = {}


def _tuple_fields(cls: type) -> tuple[str, ...]:
    """The fields of ``cls`` declared as tuples (once per class)."""
    if cls not in _TUPLES:
        hints = _hints(cls).items()
        _TUPLES[cls] = tuple(k for k, v in hints if typing.get_origin(v) is tuple)
    return _TUPLES[cls]


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _typed(hint: Any, value: Any, owner: str, where: str) -> Any:
    """``value`` read as the field ``where`` of ``owner``, of type ``hint``: a
    dict for a record becomes one, a list for a tuple of records becomes that
    tuple, a dict of dicts for a ``dict[str, SomeRecord]`` a dict of records."""
    if isinstance(hint, type) and issubclass(hint, Record):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            _checks.fail(owner, where, f"an object of {hint.__name__} fields", value)
        try:
            return hint.from_dict(value)
        except ValueError as error:
            reworded = _reworded(error, hint.owner(), owner, where)
            if reworded is error:
                raise
            raise reworded from None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # its constraint checks the rest
        for option in typing.get_args(hint):
            if _is_record(option) and isinstance(value, Mapping):
                return _typed(option, value, owner, where)
        return value
    args = typing.get_args(hint)
    if origin is dict and isinstance(value, Mapping) and _is_record(args[1]):
        return {  # names -> records
            k: _typed(args[1], v, owner, f"{where}[{k!r}]") for k, v in value.items()
        }
    if origin is tuple and isinstance(value, Sequence) and not isinstance(value, str):
        if len(args) == 2 and args[1] is Ellipsis and _is_record(args[0]):
            return tuple(
                _typed(args[0], v, owner, f"{where}[{i}]") for i, v in enumerate(value)
            )
        return tuple(value)
    return value


def _reworded(error: ValueError, inner: str, owner: str, where: str) -> ValueError:
    """``error`` of the record ``inner`` in ``owner``'s words, its field named by
    its path from ``where``: ``"Stats: mean must be ..."`` as ``"Summary:
    test_acc.mean must be ..."``, ``"Stats: field 'x' must be ..."`` as ``"Summary:
    field 'x' of test_acc must be ..."``; an error in other words as it is."""
    message = str(error)
    if not message.startswith(f"{inner}: "):
        return error
    rest = message[len(inner) + 2 :]
    if not where:
        return ValueError(f"{owner}: {rest}")
    unknown = re.fullmatch(r"field ('[^']*')(?: of (.+?))?( must be .*)", rest, re.S)
    if unknown:  # a key that is no field of the record
        name, inside, requirement = unknown.groups()
        path = f"{where}.{inside}" if inside else where
        return ValueError(f"{owner}: field {name} of {path}{requirement}")
    if rest.startswith("values must be"):  # the record itself is not an object
        return ValueError(f"{owner}: {where}{rest[len('values') :]}")
    return ValueError(f"{owner}: {where}.{rest}")


def _is_record(hint: Any) -> bool:
    """Whether ``hint`` is a record type, or a union holding one."""
    options = typing.get_args(hint) if typing.get_origin(hint) else (hint,)
    return any(isinstance(o, type) and issubclass(o, Record) for o in options)


# Constraint builders for Record.constraints: each returns a Constraint.


def at_least(low: int) -> Constraint:
    """An integer >= ``low``."""
    return lambda owner, name, value: _checks.integer(owner, name, value, low=low)


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Constraint:
    """A finite real number in the given range."""
    return lambda owner, name, value: _checks.number(
        owner, name, value, low=low, high=high, low_open=low_open, high_open=high_open
    )


def one_of(*options: str) -> Constraint:
    """One of ``options`` (a near miss names the closest)."""
    return lambda owner, name, value: _checks.choice(owner, name, value, options)


def optional(check: Constraint) -> Constraint:
    """None, or what ``check`` accepts."""
    return lambda owner, name, value: (
        None if value is None else check(owner, name, value)
    )


def each(check: Constraint) -> Constraint:
    """A sequence (not a string) whose every item ``check`` accepts; kept as a
    tuple."""

    def checked(owner: str, name: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            _checks.fail(owner, name, "a sequence", value)
        return tuple(check(owner, f"{name}[{i}]", v) for i, v in enumerate(value))

    return checked


def record(kind: type[R]) -> Constraint:
    """A ``kind`` record, or a mapping of its fields made one (see :func:`made`):
    an error inside it names the field by its path (``position.rng_state.inc``)."""
    return lambda owner, name, value: made(kind, value, owner, name)


def instance(kind: type[Record]) -> Constraint:
    """A ``kind`` record itself: a mapping of its fields is no longer one here
    (:meth:`Record.from_dict` has made it one before the fields are checked)."""

    def checked(owner: str, name: str, value: object) -> Any:
        if not isinstance(value, kind):
            _checks.fail(owner, name, f"an object of {kind.__name__} fields", value)
        return value

    return checked


def made(kind: type[R], value: object, owner: str, where: str = "") -> R:
    """``kind`` made from ``value`` (a mapping of its fields, or one already made),
    each error in ``owner``'s words with the path of its field from ``where``:
    ``"checkpoint x: history.epochs[0].train_loss must be ..."``. Nested fields
    whose constraint is :func:`record` (or ``each(record(...))``) are named
    likewise."""
    if isinstance(value, kind):
        return value
    at = f"{where}." if where else ""
    if not isinstance(value, Mapping):
        _checks.fail(owner, where or "values", "an object", value)
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    extra = [name for name in value if name not in fields]
    if extra:
        raise ValueError(
            f"{owner}: {where or 'values'} must be an object of "
            f"{', '.join(fields)}, got the key {extra[0]!r}"
        )
    for name, f in fields.items():
        required = (
            f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if required and name not in value:
            _checks.fail(owner, f"{at}{name}", "given", _checks.Raw("nothing"))
    try:
        return kind(**value)
    except ValueError as error:
        reworded = _reworded(error, kind.owner(), owner, where)
        if reworded is error:
            raise
        raise reworded from None


def text(owner: str, name: str, value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        _checks.fail(owner, name, "a non-empty string", value)
    return value


flag = _checks.flag
"""True or False."""


__all__ = [
    "Constraint",
    "Record",
    "at_least",
    "each",
    "flag",
    "instance",
    "made",
    "number",
    "one_of",
    "optional",
    "record",
    "text",
]
