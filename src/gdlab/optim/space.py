"""Search spaces: how a tuner maps a point of the unit cube to hyperparameters.

Each optimizer declares its ``search_space``, one :class:`Axis` per tunable
hyperparameter, beside its ``defaults``. A quasi-random tuner draws u in [0, 1)^d
(scrambled Sobol) and each axis maps its coordinate to a value:

* ``log_uniform(lo, hi)``: x = exp(log lo + u·(log hi − log lo)), for lr, ε and
  weight decay, whose useful values span decades;
* ``one_minus_log_uniform(lo, hi)``: 1 − x for x log-uniform in [lo, hi], for
  momentum, β1, β2, ρ, α, whose useful values crowd towards 1 (0.9, 0.99, 0.999);
* ``uniform(lo, hi)``: x = lo + u·(hi − lo).

An axis is named after what it sets: a hyperparameter (``lr``, ``momentum``) or one
element of a pair (``beta1`` and ``beta2`` are ``betas[0]`` and ``betas[1]``). The
ranges follow Choi et al. 2019 and Schmidt et al. 2021, narrowed to what trains a
small network in a few epochs; they are documented with each optimizer.

**The lr rule.** Every optimizer's lr axis is :func:`lr_around` its suggested lr:
log-uniform over ``LR_DECADES`` = 4 decades centred (in log) on it,
``[suggested / 100, suggested · 100]``, so that no optimizer is favoured by a
wider or better-placed range. A heavy-ball preset (``momentum``, ``nesterov``)
searches the *effective step* lr / (1 − momentum) over its base's range
(:func:`gdlab.lab.tuning.trial` divides back): with momentum 0.9 the raw lr
range is ten times lower than plain SGD's, and the same steps are tried.

References:
    Choi et al., *On Empirical Comparisons of Optimizers for Deep Learning*, 2019.
    https://arxiv.org/abs/1910.05446
    Schmidt, Schneider & Hennig, *Descending through a Crowded Valley*, ICML 2021.
    https://arxiv.org/abs/2007.01547
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from gdlab import _checks

Scale = Literal["log", "one_minus_log", "linear"]

PAIRS = {"beta1": ("betas", 0), "beta2": ("betas", 1)}
"""Axis names that set one element of a tuple hyperparameter (``betaK`` sets
``betas[K-1]`` for any K: Adan's ``beta3``)."""


def element(axis_name: str) -> tuple[str, int] | None:
    """The (tuple hyperparameter, index) an axis sets, or None for a whole one:
    ``element("beta3") == ("betas", 2)``."""
    if axis_name in PAIRS:
        return PAIRS[axis_name]
    digits = axis_name.removeprefix("beta")
    if digits != axis_name and digits.isdigit() and not digits.startswith("0"):
        return ("betas", int(digits) - 1)
    return None


@dataclass(frozen=True)
class Axis:
    """One tunable hyperparameter: its range and the scale it is drawn on.

    ``shift`` reads the axis at (u + shift) mod 1: the same distribution of
    values at other points of a quasi-random sequence (an A/A copy of a space).
    """

    low: float
    high: float
    scale: Scale = "log"
    shift: float = 0.0

    def __post_init__(self) -> None:
        _checks.number("Axis", "low", self.low)
        _checks.number("Axis", "high", self.high, low=self.low, low_open=True)
        if self.scale != "linear":
            _checks.number("Axis", "low", self.low, low=0.0, low_open=True)
        if self.scale == "one_minus_log" and self.high >= 1:
            _checks.fail("Axis", "high", "< 1 on the 1 - x scale", self.high)
        _checks.number("Axis", "shift", self.shift, low=0.0, high=1.0, high_open=True)

    def value(self, u: float) -> float:
        """The hyperparameter at unit coordinate ``u`` in [0, 1)."""
        u = (u + self.shift) % 1.0 if self.shift else u
        if self.scale == "linear":
            return self.low + u * (self.high - self.low)
        x = math.exp(
            math.log(self.low) + u * (math.log(self.high) - math.log(self.low))
        )
        return 1.0 - x if self.scale == "one_minus_log" else x

    def describe(self) -> str:
        """E.g. ``"log-uniform in [1e-05, 0.1]"``."""
        kind = {"log": "log-uniform", "one_minus_log": "1 - x, x log-uniform"}
        text = f"{kind.get(self.scale, 'uniform')} in [{self.low:g}, {self.high:g}]"
        return text + (f", read at u + {self.shift:g} mod 1" if self.shift else "")


LR_DECADES = 4.0
"""The breadth in decades of every optimizer's lr range (see the lr rule)."""


def lr_around(suggested: float, decades: float = LR_DECADES) -> Axis:
    """The lr axis of the rule: log-uniform over ``decades`` centred in log on
    ``suggested``: ``[suggested · 10^(−decades/2), suggested · 10^(decades/2)]``."""
    _checks.number("lr_around", "suggested", suggested, low=0.0, low_open=True)
    half = 10.0 ** (float(decades) / 2)
    return log_uniform(suggested / half, suggested * half)


def log_uniform(low: float, high: float) -> Axis:
    return Axis(low, high, "log")


def one_minus_log_uniform(low: float, high: float) -> Axis:
    return Axis(low, high, "one_minus_log")


def uniform(low: float, high: float) -> Axis:
    return Axis(low, high, "linear")


def adam_like(
    suggested_lr: float = 1e-3,
    weight_decay: tuple[float, float] = (1e-6, 1e-2),
) -> dict[str, Axis]:
    """The space of Adam and its relatives: lr by the rule (:func:`lr_around`
    ``suggested_lr``), 1−β1 in [0.01, 0.5] (β1 from 0.5 to 0.99), 1−β2 in
    [1e-4, 0.1] (β2 from 0.9 to 0.9999), ε and weight decay, each log-uniform."""
    return {
        "lr": lr_around(suggested_lr),
        "beta1": one_minus_log_uniform(1e-2, 0.5),
        "beta2": one_minus_log_uniform(1e-4, 1e-1),
        "eps": log_uniform(1e-10, 1e-2),
        "weight_decay": log_uniform(*weight_decay),
    }


def hyperparameter(axis_name: str) -> str:
    """The hyperparameter an axis sets: ``"beta1"`` -> ``"betas"``."""
    found = element(axis_name)
    return axis_name if found is None else found[0]


def assign(hyper: dict[str, Any], axis_name: str, value: float) -> None:
    """Set the axis ``axis_name`` to ``value`` in ``hyper`` (a pair element-wise)."""
    found = element(axis_name)
    if found is not None:
        key, index = found
        pair = list(hyper[key])
        pair[index] = value
        hyper[key] = tuple(pair)
    else:
        hyper[axis_name] = value


def current(hyper: dict[str, Any], axis_name: str) -> Any:
    """The value an axis has in ``hyper``: ``current(h, "beta1") == h["betas"][0]``."""
    found = element(axis_name)
    if found is not None:
        key, index = found
        return hyper[key][index]
    return hyper[axis_name]
