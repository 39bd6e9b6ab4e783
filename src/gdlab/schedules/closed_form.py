"""The schedules as closed forms: pure functions of the step, each equal to a
``torch.optim.lr_scheduler`` class (see :mod:`gdlab.schedules`)."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from gdlab import _checks, records
from gdlab.records import Constraint, Record

ScheduleFn = Callable[[int], float]
"""Anything an optimizer accepts as a schedule: a function step -> lr."""


MAX_STEPS = 2**53
"""The largest step count a schedule argument may be: float64, in which the lr is
computed, holds every integer up to 2**53 exactly (and no bigger one converts)."""


def _count(owner: str, name: str, value: object, low: int) -> int:
    """A step count (or a factor of one): an integer in [low, 2**53]."""
    n = _checks.integer(owner, name, value, low=low)
    if n > MAX_STEPS:
        _checks.fail(
            owner,
            name,
            f"an integer in [{low}, 2**53] (float64 counts steps exactly up to 2**53)",
            value,
        )
    return n


def _steps(low: int) -> Constraint:
    """A step count (or a factor of one) >= ``low``."""
    return lambda owner, name, value: _count(owner, name, value, low)


def _increasing_steps(low: int) -> Constraint:
    """A strictly increasing sequence of step counts >= ``low``."""
    return lambda owner, name, value: _increasing(owner, name, value, low)


_RATE = records.number(low=0.0)
"""A learning rate (or a rate of decay): finite and >= 0."""
_FACTOR = records.number(low=0.0, low_open=True)
"""A factor: finite and > 0."""


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


def _schedules(owner: str, name: str, parts: object) -> tuple[ScheduleFn, ...]:
    if isinstance(parts, str | bytes) or not isinstance(parts, Sequence) or not parts:
        _checks.fail(owner, name, "a non-empty sequence of schedules", parts)
    return tuple(_schedule_arg(owner, f"{name}[{k}]", s) for k, s in enumerate(parts))


def _final_lr_at_most_lr(schedule: Any) -> None:
    if schedule.final_lr > schedule.lr:
        _checks.fail(
            schedule.name, "final_lr", f"<= lr ({schedule.lr:g})", schedule.final_lr
        )


def _increasing(owner: str, name: str, values: object, low: int) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        _checks.fail(owner, name, "a sequence of integers", values)
    out = tuple(_count(owner, f"{name}[{k}]", v, low) for k, v in enumerate(values))
    if any(b <= a for a, b in itertools.pairwise(out)):
        _checks.fail(owner, name, "strictly increasing", list(values))
    return out


class Schedule(Record):
    """Base class: a frozen, describable function ``step -> lr``.

    A subclass is a frozen dataclass with a ``name``, declares its arguments'
    checks in ``constraints`` (a :class:`gdlab.records.Record`) and computes the lr
    in ``at(step)`` for an integer step >= 0.
    """

    name: ClassVar[str] = "schedule"

    @classmethod
    def owner(cls) -> str:
        return cls.name

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
    constraints: ClassVar[dict[str, Constraint]] = {"lr": _RATE}

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "step_size": _steps(1),
        "gamma": _FACTOR,
    }

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "milestones": _increasing_steps(0),
        "gamma": _FACTOR,
    }

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
    constraints: ClassVar[dict[str, Constraint]] = {"lr": _RATE, "gamma": _FACTOR}

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "decay_rate": _RATE,
        "decay_steps": _FACTOR,
    }

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "total_steps": _steps(1),
        "power": _RATE,
        "final_lr": _RATE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _final_lr_at_most_lr(self)

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "total_steps": _steps(1),
        "final_lr": _RATE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _final_lr_at_most_lr(self)

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "lr": _RATE,
        "period": _steps(1),
        "period_mult": _steps(1),
        "final_lr": _RATE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        _final_lr_at_most_lr(self)

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
            + (self.lr - self.final_lr) * (1 + math.cos(math.pi * (t_cur / t_i))) / 2
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
    constraints: ClassVar[dict[str, Constraint]] = {
        "schedule": _schedule_arg,
        "warmup_steps": _steps(0),
        "start_lr": _RATE,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        inner = getattr(self.schedule, "length", None)
        if isinstance(inner, int) and self.warmup_steps > inner:
            _checks.fail(
                self.name,
                "warmup_steps",
                f"<= the length of the schedule it warms ({inner} steps)",
                self.warmup_steps,
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
    constraints: ClassVar[dict[str, Constraint]] = {
        "max_lr": _RATE,
        "total_steps": _steps(1),
        "pct_start": records.number(low=0.0, high=1.0, high_open=True),
        "div_factor": _FACTOR,
        "final_div_factor": _FACTOR,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if float(self.pct_start * self.total_steps) == 1.0:
            _checks.fail(
                self.name,
                "pct_start * total_steps",
                "!= 1 (a warm-up phase of zero length)",
                f"{self.pct_start} * {self.total_steps}",
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
    constraints: ClassVar[dict[str, Constraint]] = {
        "schedules": _schedules,
        "boundaries": _increasing_steps(1),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.boundaries) != len(self.schedules) - 1:
            _checks.fail(
                self.name,
                "boundaries",
                f"{len(self.schedules) - 1} integers (one fewer than schedules)",
                list(self.boundaries),
            )

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
    constraints: ClassVar[dict[str, Constraint]] = {
        "schedule": _schedule_arg,
        "steps_per_epoch": _steps(1),
    }

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
