r"""Learning-rate schedules: pure functions of the step, ``lr = schedule(step)``.

A schedule is a small frozen object that an optimizer takes as its ``lr``::

    s = schedules.linear_warmup(schedules.cosine(lr=0.1, total_steps=900), 100)
    opt = optim.SGD(params, lr=s, momentum=0.9)

The optimizer evaluates ``s(opt.step_count)`` before each update, so the first step
uses ``s(0)``, and a run resumed from a state dict (which stores the step count)
continues the same sequence. A schedule holds no hidden state: the same step always
gives the same lr. Each one has a ``name``, a ``repr`` that reads as the call that
builds it, ``to_dict()`` / :func:`from_dict` for JSON, and ``length``: the number
of steps it is designed for (after which it holds its final value), or ``None``.

Each docstring gives the formula and the ``torch.optim.lr_scheduler`` class it
equals, stepped once after every ``optimizer.step()`` (torch's ``last_epoch`` is
our ``step``). The one stateful exception is :class:`ReduceOnPlateau`, which reads a
validation metric and, like torch's ``ReduceLROnPlateau``, changes
``optimizer.param_groups[i]["lr"]``.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from gdlab import _checks

ScheduleFn = Callable[[int], float]
"""Anything an optimizer accepts as a schedule: a function step -> lr."""


def _step_arg(owner: str, step: object) -> int:
    if isinstance(step, bool):
        _checks.fail(owner, "step", "an integer >= 0", step)
    try:
        n = operator.index(step)  # type: ignore[arg-type]
    except TypeError:
        n = _checks.integer(owner, "step", step, low=0)
    if n < 0:
        _checks.fail(owner, "step", "an integer >= 0", step)
    return n


def _schedule_arg(owner: str, name: str, value: object) -> ScheduleFn:
    if not callable(value):
        _checks.fail(owner, name, "a schedule (a callable step -> lr)", value)
    return value


def _final_lr_arg(owner: str, lr: float, final_lr: object) -> float:
    x = _checks.number(owner, "final_lr", final_lr, low=0.0)
    if x > lr:
        _checks.fail(owner, "final_lr", f"<= lr ({lr:g})", final_lr)
    return x


def _increasing(owner: str, name: str, values: object, low: int) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        _checks.fail(owner, name, "a sequence of integers", values)
    out = tuple(
        _checks.integer(owner, f"{name}[{k}]", v, low=low) for k, v in enumerate(values)
    )
    if any(b <= a for a, b in itertools.pairwise(out)):
        _checks.fail(owner, name, "strictly increasing", list(values))
    return out


class Schedule:
    """Base class: a frozen, describable function ``step -> lr``.

    A subclass is a frozen dataclass with a ``name``, checks its arguments in
    ``__post_init__`` and computes the lr in ``at(step)`` for an integer step >= 0.
    """

    name: ClassVar[str] = "schedule"

    def __call__(self, step: int) -> float:
        """The learning rate at ``step`` (0 at the first optimizer step)."""
        return self.at(_step_arg(self.name, step))

    def at(self, step: int) -> float:
        """The learning rate at a checked ``step`` >= 0."""
        raise NotImplementedError

    @property
    def length(self) -> int | None:
        """Steps the schedule is made for (it holds its last value after), or None."""
        return None

    def _fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """``{"name": ..., **arguments}``, JSON-serializable; see :func:`from_dict`."""

        def plain(name: str, value: object) -> object:
            if isinstance(value, Schedule):
                return value.to_dict()
            if callable(value):
                _checks.fail(
                    self.name, name, "a gdlab schedule to be serialized", value
                )
            if isinstance(value, tuple):
                return [plain(f"{name}[{k}]", v) for k, v in enumerate(value)]
            return value

        return {
            "name": self.name,
            **{k: plain(k, v) for k, v in self._fields().items()},
        }

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={list(v) if isinstance(v, tuple) else v!r}"
            for k, v in self._fields().items()
        )
        return f"{self.name}({args})"


@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    r"""A constant learning rate: :math:`\eta_t = \eta`.

    Equals training with a plain float lr (or ``torch.optim.lr_scheduler.LambdaLR``
    with ``lambda t: 1``).

    Example:
        >>> constant(0.1)(500)
        0.1
    """

    name: ClassVar[str] = "constant"
    lr: float

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))

    def at(self, step: int) -> float:
        return self.lr


@dataclass(frozen=True, repr=False)
class Step(Schedule):
    r"""Step decay: multiply by ``gamma`` every ``step_size`` steps.

    .. math:: \eta_t = \eta\,\gamma^{\lfloor t / \text{step\_size} \rfloor}

    Args:
        lr (η): initial learning rate >= 0.
        step_size: steps between decays, an integer >= 1.
        gamma (γ): decay factor > 0, default 0.1.

    Equals ``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)``.

    Example:
        >>> s = step(0.1, step_size=30, gamma=0.5)
        >>> s(29), s(30), s(60)
        (0.1, 0.05, 0.025)
    """

    name: ClassVar[str] = "step"
    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "step_size", _checks.integer(self.name, "step_size", self.step_size, low=1)
        )
        self._set(
            "gamma",
            _checks.number(self.name, "gamma", self.gamma, low=0.0, low_open=True),
        )

    def at(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True, repr=False)
class MultiStep(Schedule):
    r"""Multi-step decay: multiply by ``gamma`` at each milestone.

    .. math:: \eta_t = \eta\,\gamma^{\#\{m \in \text{milestones} : m \le t\}}

    Args:
        lr (η): initial learning rate >= 0.
        milestones: strictly increasing steps (integers >= 0) at which lr decays.
        gamma (γ): decay factor > 0, default 0.1.

    Equals ``torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma)``
    (torch also accepts repeated milestones, meaning γ², here an error).

    Example:
        >>> s = multistep(0.1, milestones=[30, 80])
        >>> s(29), s(30), s(80)
        (0.1, 0.010000000000000002, 0.0010000000000000002)
    """

    name: ClassVar[str] = "multistep"
    lr: float
    milestones: Sequence[int]
    gamma: float = 0.1

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "milestones", _increasing(self.name, "milestones", self.milestones, 0)
        )
        self._set(
            "gamma",
            _checks.number(self.name, "gamma", self.gamma, low=0.0, low_open=True),
        )

    def at(self, step: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, step)


@dataclass(frozen=True, repr=False)
class Exponential(Schedule):
    r"""Exponential decay: multiply by ``gamma`` every step.

    .. math:: \eta_t = \eta\,\gamma^{t}

    Args:
        lr (η): initial learning rate >= 0.
        gamma (γ): factor per step > 0 (> 1 grows the lr, as in an lr range test).

    Equals ``torch.optim.lr_scheduler.ExponentialLR(opt, gamma)``.

    Example:
        >>> exponential(0.1, gamma=0.5)(3)
        0.0125
    """

    name: ClassVar[str] = "exponential"
    lr: float
    gamma: float

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "gamma",
            _checks.number(self.name, "gamma", self.gamma, low=0.0, low_open=True),
        )

    def at(self, step: int) -> float:
        return self.lr * self.gamma**step


@dataclass(frozen=True, repr=False)
class InverseTime(Schedule):
    r"""Inverse-time decay, the source notes' ``lr0 / (1 + k·epoch)``.

    .. math:: \eta_t = \frac{\eta}{1 + k\,t / s}

    Args:
        lr (η): initial learning rate >= 0.
        decay_rate (k): >= 0.
        decay_steps (s): > 0, default 1; the lr halves at ``t = s / k``.

    Equals ``torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + k * t / s))``
    (torch has no named class for it; Keras calls it ``InverseTimeDecay``).

    Example:
        >>> inverse_time(0.1, decay_rate=1.0, decay_steps=100)(100)
        0.05
    """

    name: ClassVar[str] = "inverse_time"
    lr: float
    decay_rate: float
    decay_steps: float = 1

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "decay_rate",
            _checks.number(self.name, "decay_rate", self.decay_rate, low=0.0),
        )
        self._set(
            "decay_steps",
            _checks.number(
                self.name, "decay_steps", self.decay_steps, low=0.0, low_open=True
            ),
        )

    def at(self, step: int) -> float:
        return self.lr / (1.0 + self.decay_rate * step / self.decay_steps)


@dataclass(frozen=True, repr=False)
class Polynomial(Schedule):
    r"""Polynomial decay to ``final_lr`` over ``total_steps``, then constant.

    .. math::
        \eta_t = (\eta - \eta_{\min})
            \left(1 - \frac{\min(t, T)}{T}\right)^{p} + \eta_{\min}

    Args:
        lr (η): initial learning rate >= 0.
        total_steps (T): an integer >= 1.
        power (p): >= 0, default 1 (linear decay).
        final_lr (η_min): in [0, lr], default 0.

    With ``final_lr=0`` equals ``torch.optim.lr_scheduler.PolynomialLR(opt,
    total_iters=T, power=p)`` (torch has no final lr).

    Example:
        >>> polynomial(0.1, total_steps=100, power=2.0)(50)
        0.025
    """

    name: ClassVar[str] = "polynomial"
    lr: float
    total_steps: int
    power: float = 1.0
    final_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "total_steps",
            _checks.integer(self.name, "total_steps", self.total_steps, low=1),
        )
        self._set("power", _checks.number(self.name, "power", self.power, low=0.0))
        self._set("final_lr", _final_lr_arg(self.name, self.lr, self.final_lr))

    @property
    def length(self) -> int:
        return self.total_steps

    def at(self, step: int) -> float:
        frac = 1.0 - min(step, self.total_steps) / self.total_steps
        return (self.lr - self.final_lr) * float(frac**self.power) + self.final_lr


@dataclass(frozen=True, repr=False)
class Cosine(Schedule):
    r"""Cosine annealing from ``lr`` to ``final_lr`` in ``total_steps``, then constant.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta - \eta_{\min})
            \left(1 + \cos\frac{\pi \min(t, T)}{T}\right)

    Args:
        lr (η): initial learning rate >= 0.
        total_steps (T): an integer >= 1.
        final_lr (η_min): in [0, lr], default 0.

    Equals the closed form of ``torch.optim.lr_scheduler.CosineAnnealingLR(opt,
    T_max=T, eta_min=η_min)`` for ``t <= T``.

    Warning:
        Past ``T`` this schedule holds ``final_lr`` (as optax and Keras do), while
        torch's formula is periodic and climbs back to ``lr`` by ``2T``. For
        restarts use :class:`CosineRestarts`. torch also computes the lr
        recursively from the previous one, which drifts from its own closed form by
        a few ulps per step.

    Reference: Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm
    Restarts*, ICLR 2017. https://arxiv.org/abs/1608.03983

    Example:
        >>> cosine(0.1, total_steps=100)(50)
        0.05
    """

    name: ClassVar[str] = "cosine"
    lr: float
    total_steps: int
    final_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set(
            "total_steps",
            _checks.integer(self.name, "total_steps", self.total_steps, low=1),
        )
        self._set("final_lr", _final_lr_arg(self.name, self.lr, self.final_lr))

    @property
    def length(self) -> int:
        return self.total_steps

    def at(self, step: int) -> float:
        t = min(step, self.total_steps)
        return (
            self.final_lr
            + (self.lr - self.final_lr)
            * (1 + math.cos(math.pi * t / self.total_steps))
            / 2
        )


@dataclass(frozen=True, repr=False)
class CosineRestarts(Schedule):
    r"""Cosine annealing with warm restarts (SGDR); period ``i`` is ``T_0·mult^i``.

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta - \eta_{\min})
            \left(1 + \cos\frac{\pi T_{cur}}{T_i}\right)

    where :math:`T_{cur}` counts the steps since the last restart and :math:`T_i`
    is the current period; the lr jumps back to ``lr`` at each restart.

    Args:
        lr (η): learning rate at each restart, >= 0.
        period (T_0): steps until the first restart, an integer >= 1.
        period_mult: integer >= 1, default 1; each period is this times the last.
        final_lr (η_min): in [0, lr], default 0.

    Equals ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0, T_mult,
    eta_min)``.

    Example:
        >>> s = cosine_restarts(0.1, period=10)
        >>> s(0), s(10), s(5)
        (0.1, 0.1, 0.05)
    """

    name: ClassVar[str] = "cosine_restarts"
    lr: float
    period: int
    period_mult: int = 1
    final_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("lr", _checks.number(self.name, "lr", self.lr, low=0.0))
        self._set("period", _checks.integer(self.name, "period", self.period, low=1))
        self._set(
            "period_mult",
            _checks.integer(self.name, "period_mult", self.period_mult, low=1),
        )
        self._set("final_lr", _final_lr_arg(self.name, self.lr, self.final_lr))

    def at(self, step: int) -> float:
        t_cur, t_i = step, self.period
        if self.period_mult == 1:
            t_cur %= t_i
        else:
            while t_cur >= t_i:  # O(log step): periods grow geometrically
                t_cur -= t_i
                t_i *= self.period_mult
        return (
            self.final_lr
            + (self.lr - self.final_lr) * (1 + math.cos(math.pi * t_cur / t_i)) / 2
        )


@dataclass(frozen=True, repr=False)
class LinearWarmup(Schedule):
    r"""Linear warm-up from ``start_lr`` to ``schedule(0)``, then ``schedule``.

    .. math::
        \eta_t = \begin{cases}
            \eta_{start} + (s(0) - \eta_{start})\,t / W & t < W \\
            s(t - W) & t \ge W
        \end{cases}

    The warmed schedule starts counting at 0 when the warm-up ends, so
    ``linear_warmup(cosine(0.1, 900), 100)`` lasts 1,000 steps.

    Args:
        schedule (s): any schedule (or callable step -> lr).
        warmup_steps (W): an integer >= 0, at most the length of ``schedule`` when
            that is known (a longer warm-up than decay is taken for a mistake).
        start_lr (η_start): >= 0, default 0.

    Equals ``torch.optim.lr_scheduler.SequentialLR(opt, [LinearLR(opt,
    start_factor=η_start/s(0), end_factor=1, total_iters=W), S], milestones=[W])``
    where ``S`` is torch's scheduler for ``s`` (torch needs ``start_factor > 0``).

    Example:
        >>> s = linear_warmup(cosine(0.1, total_steps=900), warmup_steps=100)
        >>> s(0), s(50), s(100)
        (0.0, 0.05, 0.1)
    """

    name: ClassVar[str] = "linear_warmup"
    schedule: ScheduleFn
    warmup_steps: int
    start_lr: float = 0.0

    def __post_init__(self) -> None:
        self._set("schedule", _schedule_arg(self.name, "schedule", self.schedule))
        w = _checks.integer(self.name, "warmup_steps", self.warmup_steps, low=0)
        inner = getattr(self.schedule, "length", None)
        if isinstance(inner, int) and w > inner:
            _checks.fail(
                self.name,
                "warmup_steps",
                f"<= the length of the schedule it warms ({inner} steps)",
                self.warmup_steps,
            )
        self._set("warmup_steps", w)
        self._set(
            "start_lr", _checks.number(self.name, "start_lr", self.start_lr, low=0.0)
        )

    @property
    def length(self) -> int | None:
        inner = getattr(self.schedule, "length", None)
        return None if inner is None else self.warmup_steps + int(inner)

    def at(self, step: int) -> float:
        if step >= self.warmup_steps:
            return float(self.schedule(step - self.warmup_steps))
        peak = float(self.schedule(0))
        return self.start_lr + (peak - self.start_lr) * step / self.warmup_steps


@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    r"""The 1cycle policy: cosine up from ``max_lr/div_factor`` to ``max_lr``, then
    cosine down to ``max_lr/(div_factor·final_div_factor)``.

    With :math:`\eta_0 = \eta_{max}/d`, :math:`\eta_{end} = \eta_0/d_f`,
    :math:`e_1 = pT - 1`, :math:`e_2 = T - 1` and
    :math:`a(x, y, u) = y + \tfrac12(x - y)(1 + \cos \pi u)`:

    .. math::
        \eta_t = \begin{cases}
            a(\eta_0, \eta_{max}, t / e_1) & t \le e_1 \\
            a(\eta_{max}, \eta_{end}, (t - e_1)/(e_2 - e_1)) & t > e_1
        \end{cases}

    Defined for ``0 <= t <= T`` (torch allows one scheduler step past the last
    optimizer step); a later step is an error, as in torch.

    Args:
        max_lr (η_max): peak learning rate >= 0.
        total_steps (T): an integer >= 1.
        pct_start (p): fraction of steps spent warming up, in [0, 1), default 0.3;
            ``p·T`` must not be 1 (a warm-up phase of zero length).
        div_factor (d): > 0, default 25.
        final_div_factor (d_f): > 0, default 1e4.

    Equals ``torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps,
    pct_start, anneal_strategy="cos", div_factor=d, final_div_factor=d_f,
    three_phase=False)`` for the lr; torch's ``cycle_momentum`` (on by default)
    also cycles the momentum, which this schedule leaves alone.

    Reference: Smith & Topin, *Super-Convergence*, 2017.
    https://arxiv.org/abs/1708.07120

    Example:
        >>> s = one_cycle(0.1, total_steps=100)
        >>> [f"{s(k):.3g}" for k in (0, 29, 99)]
        ['0.004', '0.1', '4e-07']
    """

    name: ClassVar[str] = "one_cycle"
    max_lr: float
    total_steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __post_init__(self) -> None:
        self._set("max_lr", _checks.number(self.name, "max_lr", self.max_lr, low=0.0))
        self._set(
            "total_steps",
            _checks.integer(self.name, "total_steps", self.total_steps, low=1),
        )
        p = _checks.number(
            self.name, "pct_start", self.pct_start, low=0.0, high=1.0, high_open=True
        )
        if float(p * self.total_steps) == 1.0:
            _checks.fail(
                self.name,
                "pct_start * total_steps",
                "!= 1 (a warm-up phase of zero length)",
                f"{p} * {self.total_steps}",
            )
        self._set("pct_start", p)
        self._set(
            "div_factor",
            _checks.number(
                self.name, "div_factor", self.div_factor, low=0.0, low_open=True
            ),
        )
        self._set(
            "final_div_factor",
            _checks.number(
                self.name,
                "final_div_factor",
                self.final_div_factor,
                low=0.0,
                low_open=True,
            ),
        )

    @property
    def length(self) -> int:
        return self.total_steps

    @staticmethod
    def _anneal(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def at(self, step: int) -> float:
        if step > self.total_steps:
            _checks.fail(
                self.name, "step", f"<= total_steps ({self.total_steps})", step
            )
        initial = self.max_lr / self.div_factor
        end_1 = float(self.pct_start * self.total_steps) - 1
        end_2 = self.total_steps - 1
        if step <= end_1:
            return self._anneal(initial, self.max_lr, step / end_1)
        final = initial / self.final_div_factor
        return self._anneal(self.max_lr, final, (step - end_1) / (end_2 - end_1))


@dataclass(frozen=True, repr=False)
class Join(Schedule):
    r"""Schedules one after another: ``schedules[k]`` runs from ``boundaries[k-1]``.

    .. math:: \eta_t = s_k(t - b_k), \quad b_k \le t < b_{k+1}, \quad b_0 = 0

    Each schedule starts counting at 0 at its boundary.

    Args:
        schedules: one or more schedules.
        boundaries: ``len(schedules) - 1`` strictly increasing integers >= 1.

    Equals ``torch.optim.lr_scheduler.SequentialLR(opt, schedulers,
    milestones=boundaries)`` (optax's ``join_schedules``).

    Example:
        >>> s = join([constant(0.1), exponential(0.1, 0.5)], boundaries=[10])
        >>> s(9), s(10), s(11)
        (0.1, 0.1, 0.05)
    """

    name: ClassVar[str] = "join"
    schedules: Sequence[ScheduleFn]
    boundaries: Sequence[int]

    def __post_init__(self) -> None:
        parts = self.schedules
        if (
            isinstance(parts, str | bytes)
            or not isinstance(parts, Sequence)
            or not parts
        ):
            _checks.fail(
                self.name, "schedules", "a non-empty sequence of schedules", parts
            )
        self._set(
            "schedules",
            tuple(
                _schedule_arg(self.name, f"schedules[{k}]", s)
                for k, s in enumerate(parts)
            ),
        )
        bounds = _increasing(self.name, "boundaries", self.boundaries, 1)
        if len(bounds) != len(parts) - 1:
            _checks.fail(
                self.name,
                "boundaries",
                f"{len(parts) - 1} integers (one fewer than schedules)",
                list(self.boundaries),
            )
        self._set("boundaries", bounds)

    @property
    def length(self) -> int | None:
        last = getattr(self.schedules[-1], "length", None)
        start = self.boundaries[-1] if self.boundaries else 0
        return None if last is None else start + int(last)

    def at(self, step: int) -> float:
        k = bisect.bisect_right(self.boundaries, step)
        start = self.boundaries[k - 1] if k else 0
        return float(self.schedules[k](step - start))


@dataclass(frozen=True, repr=False)
class PerEpoch(Schedule):
    r"""An epoch-wise schedule driven by optimizer steps.

    .. math:: \eta_t = s(\lfloor t / n \rfloor)

    Args:
        schedule (s): a schedule of the epoch number.
        steps_per_epoch (n): an integer >= 1.

    Equals calling torch's scheduler for ``s`` once per epoch (every ``n``
    optimizer steps), the usual torch training loop.

    Example:
        >>> s = per_epoch(step(0.1, step_size=2, gamma=0.5), steps_per_epoch=100)
        >>> s(199), s(200)
        (0.1, 0.05)
    """

    name: ClassVar[str] = "per_epoch"
    schedule: ScheduleFn
    steps_per_epoch: int

    def __post_init__(self) -> None:
        self._set("schedule", _schedule_arg(self.name, "schedule", self.schedule))
        self._set(
            "steps_per_epoch",
            _checks.integer(self.name, "steps_per_epoch", self.steps_per_epoch, low=1),
        )

    @property
    def length(self) -> int | None:
        inner = getattr(self.schedule, "length", None)
        return None if inner is None else int(inner) * self.steps_per_epoch

    def at(self, step: int) -> float:
        return float(self.schedule(step // self.steps_per_epoch))


# The public names are the classes under the names users call them by.
constant = Constant
step = Step
multistep = MultiStep
exponential = Exponential
inverse_time = InverseTime
polynomial = Polynomial
cosine = Cosine
cosine_restarts = CosineRestarts
linear_warmup = LinearWarmup
one_cycle = OneCycle
join = Join
per_epoch = PerEpoch

REGISTRY: dict[str, type[Schedule]] = {
    cls.name: cls
    for cls in (
        Constant,
        Step,
        MultiStep,
        Exponential,
        InverseTime,
        Polynomial,
        Cosine,
        CosineRestarts,
        LinearWarmup,
        OneCycle,
        Join,
        PerEpoch,
    )
}


def names() -> list[str]:
    """The registry names of all schedules, e.g. ``["constant", "step", ...]``."""
    return list(REGISTRY)


def get(name: str) -> type[Schedule]:
    """The schedule class registered under ``name`` (``-`` may stand for ``_``)."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in REGISTRY:
        raise ValueError(
            f"unknown schedule {name!r}; known schedules: {', '.join(REGISTRY)}"
        )
    return REGISTRY[key]


def create(name: str, **arguments: Any) -> Schedule:
    """Build the schedule registered under ``name``: ``create("cosine", lr=0.1, ...)``.

    Unknown or missing arguments are a ``ValueError`` naming the schedule.
    """
    cls = get(name)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key, value in arguments.items():
        if key not in fields:
            _checks.fail(
                cls.name, f"keyword {key!r}", f"one of {', '.join(fields)}", value
            )
    for key, f in fields.items():
        required = (
            f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if required and key not in arguments:
            _checks.fail(cls.name, key, "given", None)
    return cls(**arguments)


def from_dict(config: Mapping[str, Any]) -> Schedule:
    """Rebuild a schedule from its :meth:`Schedule.to_dict` (nested ones included)."""

    def build(value: object) -> object:
        if isinstance(value, Mapping) and "name" in value:
            return from_dict(value)
        if isinstance(value, list):
            return [build(v) for v in value]
        return value

    if not isinstance(config, Mapping) or "name" not in config:
        _checks.fail("schedules", "config", "a mapping with a 'name'", config)
    args = {k: build(v) for k, v in config.items() if k != "name"}
    return create(str(config["name"]), **args)


# --- a schedule for a training run: the one builder ---------------------------------

RUN_SCHEDULES = (
    "constant",
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "polynomial",
    "cosine",
    "cosine_restarts",
    "one_cycle",
)
"""The schedules a run can decay its learning rate by (after an optional warm-up)."""

RUN_DEFAULTS: dict[str, str] = {
    "constant": "",
    "step": "step_size = 1/4 of the decay steps, gamma = 0.5",
    "multistep": "milestones = 1/2 and 3/4 of the decay steps, gamma = 0.1",
    "exponential": "gamma = 0.01^(1/decay steps) (down 100x), or rate k: gamma = e^-k",
    "inverse_time": "decay_rate = 1, decay_steps = 1/10 of the decay steps",
    "polynomial": "total_steps = the decay steps, power = 1, final_lr = 0",
    "cosine": "total_steps = the decay steps, final_lr = 0",
    "cosine_restarts": "period = 1/4 of the decay steps, period_mult = 1, final_lr = 0",
    "one_cycle": "total_steps = the decay steps, max_lr = lr, torch's other defaults",
}
"""What each run schedule takes for the arguments not given (shown in ``--help``)."""


def for_run(name: str, lr: float, steps: int, **arguments: Any) -> Schedule:
    """Schedule ``name`` decaying from ``lr`` over ``steps`` steps: ``arguments``
    as given, the others as :data:`RUN_DEFAULTS` states.

    ``for_run("step", 0.1, 1000)`` is ``Step(0.1, step_size=250, gamma=0.5)``;
    ``for_run("exponential", 0.1, 1000, rate=0.01)`` is ``Exponential(0.1,
    gamma=e^-0.01)``, the notes' ``lr0 * e^(-k * t)``.
    """
    owner = "schedule"
    key = _checks.choice(owner, "name", get(name).name, RUN_SCHEDULES)
    steps = _checks.integer(owner, "steps", steps, low=1)
    given = dict(arguments)
    if key == "exponential" and "rate" in given:
        if "gamma" in given:
            _checks.fail(owner, "exponential", "given gamma or rate, not both", given)
        rate = _checks.number(owner, "rate", given.pop("rate"), low=0.0)
        given["gamma"] = math.exp(-rate)
    if "lr" in given or "max_lr" in given:
        _checks.fail(owner, key, "given its peak as the run's lr, not here", given)
    table: dict[str, dict[str, Any]] = {
        "constant": {},
        "step": {"step_size": max(1, steps // 4), "gamma": 0.5},
        "multistep": {
            "milestones": sorted({max(1, steps // 2), max(2, 3 * steps // 4)})
        },
        "exponential": {"gamma": 0.01 ** (1 / steps)},
        "inverse_time": {"decay_rate": 1.0, "decay_steps": max(1.0, steps / 10)},
        "polynomial": {"total_steps": steps},
        "cosine": {"total_steps": steps},
        "cosine_restarts": {"period": max(1, steps // 4)},
        "one_cycle": {"total_steps": steps},
    }
    defaults = table[key]
    peak = {"max_lr": lr} if key == "one_cycle" else {"lr": lr}
    return create(key, **{**peak, **defaults, **given})


def argument_types(name: str) -> dict[str, Any]:
    """The arguments a run schedule takes from the user, with their types
    (``int``, ``float`` or ``list`` of int), for typed command-line parsing."""
    cls = get(name)
    hints = {"milestones": list}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in ("lr", "max_lr"):
            continue
        kind = str(f.type)
        out[f.name] = hints.get(f.name, int if kind == "int" else float)
    if cls.name == "exponential":
        out["rate"] = float
    return out


# --- examples, for plots and the CLI -----------------------------------------------


def example_arguments(name: str, total_steps: int = 1000) -> dict[str, Any]:
    """Sensible arguments for schedule ``name`` over a run of ``total_steps`` steps."""
    t = _checks.integer("example_arguments", "total_steps", total_steps, low=1)
    key = get(name).name
    lr, gamma = 0.1, 0.01 ** (1 / t)  # gamma: down 100x over the run
    table: dict[str, dict[str, Any]] = {
        "constant": {"lr": lr},
        "step": {"lr": lr, "step_size": max(1, t // 4), "gamma": 0.5},
        "multistep": {"lr": lr, "milestones": [max(1, t // 2), max(2, 3 * t // 4)]},
        "exponential": {"lr": lr, "gamma": gamma},
        "inverse_time": {"lr": lr, "decay_rate": 1.0, "decay_steps": t / 10},
        "polynomial": {"lr": lr, "total_steps": t, "power": 2.0},
        "cosine": {"lr": lr, "total_steps": t},
        "cosine_restarts": {"lr": lr, "period": max(1, t // 15), "period_mult": 2},
        "linear_warmup": {"schedule": Cosine(lr, t - t // 10), "warmup_steps": t // 10},
        "one_cycle": {"max_lr": lr, "total_steps": t},
        "join": {
            "schedules": [Constant(lr), Exponential(lr / 2, gamma)],
            "boundaries": [max(1, t // 3)],
        },
        "per_epoch": {"schedule": Cosine(lr, 10), "steps_per_epoch": max(1, t // 10)},
    }
    return table[key]


def examples(total_steps: int = 1000) -> dict[str, Schedule]:
    """Every schedule type, built with :func:`example_arguments`."""
    return {
        name: create(name, **example_arguments(name, total_steps)) for name in REGISTRY
    }


# --- reduce on plateau: the one stateful scheduler --------------------------------


class HasParamGroups(Protocol):
    """What :class:`ReduceOnPlateau` needs of an optimizer."""

    param_groups: list[dict[str, Any]]


class ReduceOnPlateau:
    r"""Reduce each group's lr by ``factor`` when a metric stops improving.

    Call ``step(metric)`` once per evaluation (usually per epoch). A metric is an
    improvement when it beats the best so far by the threshold: in ``"min"`` mode
    :math:`m < b(1 - \theta)` (``threshold_mode="rel"``) or :math:`m < b - \theta`
    (``"abs"``), mirrored in ``"max"`` mode. After more than ``patience``
    evaluations without improvement, every group's lr becomes
    :math:`\max(\eta f, \eta_{\min})` (a change smaller than ``eps`` is skipped)
    and the next ``cooldown`` evaluations are ignored.

    Args:
        optimizer: an optimizer whose groups have float ``lr`` values (not
            schedules: this scheduler changes ``param_groups[i]["lr"]``).
        mode: ``"min"`` or ``"max"``, default ``"min"``.
        factor (f): in (0, 1), default 0.1.
        patience: an integer >= 0, default 10.
        threshold (θ): >= 0, default 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``, default ``"rel"``.
        cooldown: an integer >= 0, default 0.
        min_lr (η_min): >= 0, or one value per group, default 0.
        eps: >= 0, default 1e-8.

    Equals ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the same arguments;
    ``state_dict()`` / ``load_state_dict()`` save and restore its counters (the
    lrs themselves live in the optimizer's state dict).

    Example:
        >>> opt = optim.SGD({"w": np.zeros(3)}, lr=0.1)
        >>> plateau = ReduceOnPlateau(opt, factor=0.5, patience=2)
        >>> for validation_loss in [1.0, 0.9, 0.9, 0.9, 0.9]:
        ...     plateau.step(validation_loss)
        >>> opt.param_groups[0]["lr"]
        0.05
    """

    name: ClassVar[str] = "ReduceOnPlateau"
    _config: ClassVar[tuple[str, ...]] = (
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lrs",
        "eps",
    )
    _counters: ClassVar[tuple[str, ...]] = (
        "best",
        "num_bad_epochs",
        "cooldown_counter",
        "last_epoch",
    )

    def __init__(
        self,
        optimizer: HasParamGroups,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        owner = self.name
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not groups:
            _checks.fail(
                owner, "optimizer", "an optimizer with param_groups", optimizer
            )
        for i, group in enumerate(groups):
            lr = group.get("lr")
            if callable(lr):
                _checks.fail(
                    owner,
                    f"optimizer.param_groups[{i}]['lr']",
                    "a number, not a schedule (a scheduled lr cannot be reduced)",
                    lr,
                )
            _checks.number(owner, f"optimizer.param_groups[{i}]['lr']", lr, low=0.0)
        self.mode = _checks.choice(owner, "mode", mode, ("min", "max"))
        self.factor = _checks.number(
            owner, "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.patience = _checks.integer(owner, "patience", patience, low=0)
        self.threshold = _checks.number(owner, "threshold", threshold, low=0.0)
        self.threshold_mode = _checks.choice(
            owner, "threshold_mode", threshold_mode, ("rel", "abs")
        )
        self.cooldown = _checks.integer(owner, "cooldown", cooldown, low=0)
        if isinstance(min_lr, Sequence) and not isinstance(min_lr, str):
            if len(min_lr) != len(groups):
                _checks.fail(
                    owner,
                    "min_lr",
                    f"a number or {len(groups)} numbers (one per group)",
                    min_lr,
                )
            self.min_lrs = [
                _checks.number(owner, f"min_lr[{i}]", m, low=0.0)
                for i, m in enumerate(min_lr)
            ]
        else:
            self.min_lrs = [_checks.number(owner, "min_lr", min_lr, low=0.0)] * len(
                groups
            )
        self.eps = _checks.number(owner, "eps", eps, low=0.0)
        self.optimizer = optimizer
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    @property
    def last_lr(self) -> list[float]:
        """The current lr of every param group."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def _is_better(self, current: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return current < (
                best * (1.0 - th) if self.threshold_mode == "rel" else best - th
            )
        return current > (
            best * (th + 1.0) if self.threshold_mode == "rel" else best + th
        )

    def step(self, metric: float) -> None:
        """Record one evaluation of the metric; reduce the lrs if it has plateaued.

        A NaN metric never counts as an improvement (as in torch).
        """
        try:
            current = float(metric)
        except (TypeError, ValueError):
            _checks.fail(self.name, "metric", "a real number", metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(
                self.optimizer.param_groups, self.min_lrs, strict=True
            ):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        """The arguments and counters (JSON-serializable; ``best`` may be ±inf)."""
        return {k: getattr(self, k) for k in (*self._config, *self._counters)} | {
            "min_lrs": list(self.min_lrs)
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`, counters and arguments."""
        missing = [k for k in (*self._config, *self._counters) if k not in state_dict]
        if missing:
            _checks.fail(
                self.name,
                "state_dict",
                f"one with {', '.join(missing)}",
                sorted(state_dict),
            )
        if len(state_dict["min_lrs"]) != len(self.optimizer.param_groups):
            _checks.fail(
                self.name,
                "state_dict['min_lrs']",
                f"{len(self.optimizer.param_groups)} values (one per group)",
                state_dict["min_lrs"],
            )
        for key in (*self._config, *self._counters):
            value = state_dict[key]
            setattr(self, key, list(value) if key == "min_lrs" else value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._config)
        return f"{self.name}({args}; best={self.best!r}, bad={self.num_bad_epochs})"


@dataclass
class _Groups:
    param_groups: list[dict[str, Any]]


def plateau_example(
    total_steps: int = 1000, lr: float = 0.1, steps_per_epoch: int = 20, seed: int = 0
) -> list[float]:
    """The lr at each step of SGD on a noisy quadratic under :class:`ReduceOnPlateau`.

    ``w`` descends ``½w²`` with gradient noise N(0, 1); the loss settles on a
    noise floor proportional to the lr, stops improving, and the lr is halved —
    each time lowering the floor. Used to draw reduce-on-plateau next to the pure
    schedules.
    """
    t = _checks.integer("plateau_example", "total_steps", total_steps, low=1)

    opt = _Groups([{"lr": lr}])
    plateau = ReduceOnPlateau(opt, factor=0.5, patience=3, threshold=0.05)
    rng = np.random.default_rng(seed)
    w, lrs, losses = 3.0, [], []
    for k in range(t):
        eta = float(opt.param_groups[0]["lr"])
        lrs.append(eta)
        w -= eta * (w + float(rng.standard_normal()))
        losses.append(0.5 * w * w)
        if (k + 1) % steps_per_epoch == 0:
            plateau.step(float(np.mean(losses[-steps_per_epoch:])))
    return lrs


__all__ = [
    "REGISTRY",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Exponential",
    "InverseTime",
    "Join",
    "LinearWarmup",
    "MultiStep",
    "OneCycle",
    "PerEpoch",
    "Polynomial",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleFn",
    "Step",
    "constant",
    "cosine",
    "cosine_restarts",
    "create",
    "example_arguments",
    "examples",
    "exponential",
    "from_dict",
    "get",
    "inverse_time",
    "join",
    "linear_warmup",
    "multistep",
    "names",
    "one_cycle",
    "per_epoch",
    "plateau_example",
    "polynomial",
    "step",
]
