"""The checks an optimizer's ``constraints`` map its hyperparameters to, public.

Each takes ``(owner, name, value)``, returns the value to keep, and raises
``ValueError("Owner: name must be ..., got X")`` otherwise, so a plugin declares::

    constraints = {"betas": constraints.ema_pair, "eps": constraints.nonnegative}

:func:`number` and :func:`choice` take more arguments: bind them with a lambda or
:func:`functools.partial` (``partial(choice, options=("sgd", "adam"))``).
"""

from __future__ import annotations

from gdlab._checks import (
    choice,
    ema_pair,
    fail,
    flag,
    integer,
    nonnegative,
    number,
    unit_interval,
)


def positive(owner: str, name: str, value: object) -> float:
    """A finite number > 0."""
    return number(owner, name, value, low=0.0, low_open=True)


def coefficient(owner: str, name: str, value: object) -> float:
    """An EMA coefficient: a number in [0, 1)."""
    return number(owner, name, value, low=0.0, high=1.0, high_open=True)


def ema_tuple(owner: str, name: str, value: object) -> tuple[float, ...]:
    """A non-empty tuple of EMA coefficients, each in [0, 1) (Adan's three betas)."""
    if not isinstance(value, tuple | list) or not value:
        fail(owner, name, "a tuple of coefficients in [0, 1)", value)
    return tuple(coefficient(owner, f"{name}[{i}]", v) for i, v in enumerate(value))


def count(owner: str, name: str, value: object) -> int:
    """An integer >= 1."""
    return integer(owner, name, value, low=1)


__all__ = [
    "choice",
    "coefficient",
    "count",
    "ema_pair",
    "ema_tuple",
    "fail",
    "flag",
    "integer",
    "nonnegative",
    "number",
    "positive",
    "unit_interval",
]
