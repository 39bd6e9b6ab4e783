"""Argument checks with one message format: ``"Owner: name must be ..., got value"``.

Every public entry point validates its arguments here, before any state changes,
so that a user's mistake produces one clear ``ValueError`` naming the owner, the
argument and the bad value.
"""

from __future__ import annotations

import difflib
import math
import reprlib
from numbers import Integral, Real
from typing import NoReturn

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 200
_SHOWN.maxlong = 40


class Raw(str):
    """A value for an error message shown as is (``got dtype <U1``, not quoted)."""

    def __repr__(self) -> str:
        return str(self)


def shown(value: object) -> str:
    """``repr(value)``, shortened: a bad value may be a 5,000-digit integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        digits = math.floor(math.log10(abs(value))) + 1 if value else 1
        if digits > 40:
            return f"an integer of {digits} digits"
    return _SHOWN.repr(value)


def fail(owner: str, name: str, requirement: str, value: object) -> NoReturn:
    """Raise the one error format: ``ValueError("Adam: lr must be >= 0, got -1.0")``."""
    raise ValueError(f"{owner}: {name} must be {requirement}, got {shown(value)}")


def _interval(
    low: float | None, high: float | None, low_open: bool, high_open: bool
) -> str:
    if low is not None and high is not None:
        return (
            f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        )
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return "a finite number"


def number(
    owner: str,
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is finite and in range."""
    requirement = _interval(low, high, low_open, high_open)
    bounded = low is not None or high is not None
    if isinstance(value, bool) or not isinstance(value, Real):
        fail(
            owner,
            name,
            f"a real number {requirement}" if bounded else "a real number",
            value,
        )
    try:
        x = float(value)
    except OverflowError:  # an int beyond float's range
        x = math.inf
    if not math.isfinite(x):
        fail(
            owner, name, f"finite and {requirement}" if bounded else requirement, value
        )
    below = low is not None and (x <= low if low_open else x < low)
    above = high is not None and (x >= high if high_open else x > high)
    if below or above:
        fail(owner, name, requirement, value)
    return x


def integer(owner: str, name: str, value: object, *, low: int | None = None) -> int:
    """Return ``value`` as an int after checking it is an integer >= ``low``."""
    requirement = "an integer" if low is None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, Real):
        fail(owner, name, requirement, value)
    if isinstance(value, Integral):  # exact: a huge int does not go through float
        n = int(value)
    elif float(value).is_integer():
        n = int(float(value))
    else:
        fail(owner, name, requirement, value)
    if low is not None and n < low:
        fail(owner, name, requirement, value)
    return n


def nonnegative(owner: str, name: str, value: object) -> float:
    """A finite number >= 0."""
    return number(owner, name, value, low=0.0)


def unit_interval(owner: str, name: str, value: object) -> float:
    """A number in [0, 1]."""
    return number(owner, name, value, low=0.0, high=1.0)


def ema_pair(owner: str, name: str, value: object) -> tuple[float, float]:
    """A pair of EMA coefficients (beta1, beta2), each in [0, 1)."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        fail(owner, name, "a pair (beta1, beta2)", value)
    return (
        number(owner, f"{name}[0]", value[0], low=0.0, high=1.0, high_open=True),
        number(owner, f"{name}[1]", value[1], low=0.0, high=1.0, high_open=True),
    )


def flag(owner: str, name: str, value: object) -> bool:
    """Return ``value`` after checking it is a bool."""
    if not isinstance(value, bool):
        fail(owner, name, "True or False", value)
    return value


def did_you_mean(value: object, options: tuple[str, ...] | list[str]) -> str:
    """``" (did you mean 'adam'?)"`` for the closest of ``options`` to a
    misspelled name, ``""`` when none is close: the first option one typo away
    (a letter left out, added, changed, or two swapped: ``adma`` is ``adam``, not
    ``adamax``; of several, ``difflib``'s closest), else ``difflib``'s closest
    with ratio >= 0.75."""
    if not isinstance(value, str) or not value:
        return ""
    typed = value.lower()
    near = [o for o in options if o.lower() != typed and _one_typo(typed, o.lower())]
    close = difflib.get_close_matches(
        typed, near or list(options), 1, 0 if near else 0.75
    )
    return f" (did you mean {close[0]!r}?)" if close else ""


def _one_typo(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with one letter left out, added, changed, or two
    neighbours swapped (an optimal-string-alignment distance of 1)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    start = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None
    )
    if start is None:  # one is the other plus a letter at the end
        return True
    if len(a) == len(b):
        swapped = a[start + 1 : start + 2] + a[start] + a[start + 2 :]
        return a[start + 1 :] == b[start + 1 :] or swapped == b[start:]
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[start + 1 :] == shorter[start:]


def choice(owner: str, name: str, value: object, options: tuple[str, ...]) -> str:
    """Return ``value`` after checking it is one of ``options``; a near miss
    names the closest option."""
    if value not in options:
        raise ValueError(
            f"{owner}: {name} must be one of {', '.join(options)}, got "
            f"{shown(value)}{did_you_mean(value, options)}"
        )
    return str(value)
