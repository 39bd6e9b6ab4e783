"""Example schedules and the tables that show them: every schedule type with
example arguments (``gdlab schedule --all``), and the lr of one schedule at a few
steps of a run (``gdlab schedule NAME``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdlab import _checks
from gdlab.schedules.closed_form import (
    Constant,
    Cosine,
    Exponential,
    Schedule,
    ScheduleFn,
)
from gdlab.schedules.plateau import ReduceOnPlateau
from gdlab.schedules.registry import REGISTRY, create, get


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


@dataclass
class _Groups:
    param_groups: list[dict[str, Any]]


PLATEAU_STEPS = 1_000_000
"""The longest run :func:`plateau_example` (and so ``gdlab schedule --all``)
simulates, step by step."""


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
    if t > PLATEAU_STEPS:
        _checks.fail(
            "plateau_example",
            "total_steps",
            f"at most {PLATEAU_STEPS:,} (it simulates every step)",
            t,
        )

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


def gallery(total_steps: int = 1000) -> dict[str, Schedule | list[float]]:
    """:func:`examples` and reduce-on-plateau as :func:`plateau_example` records it:
    what ``gdlab schedule --all`` draws and tabulates."""
    return {
        **examples(total_steps),
        "reduce_on_plateau": plateau_example(total_steps),
    }


def gallery_table(
    curves: Mapping[str, ScheduleFn | Sequence[float]], steps: int
) -> str:
    """One row per curve: its lr at the first step, 1/4, 1/2 and 3/4 of the way
    through ``steps`` and at the last step."""
    n = _checks.integer("gallery_table", "steps", steps, low=1)
    shown = sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})
    width = max(12, len(f"step {n - 1}") + 2)
    lines = [f"{'schedule':<18}" + "".join(f"{f'step {k}':>{width}}" for k in shown)]
    for label, curve in curves.items():
        lrs = [curve(k) if callable(curve) else curve[k] for k in shown]
        lines.append(f"{label:<18}" + "".join(f"{v:>{width}.4g}" for v in lrs))
    return "\n".join(lines)


def shown_steps(steps: int, warmup: int = 0) -> list[int]:
    """The steps :func:`table` shows of a run of ``steps`` steps: the first, the end
    of the warm-up, 1/10, 1/4, 1/2 and 3/4 of the way, and the last."""
    n = _checks.integer("schedule", "steps", steps, low=1)
    w = _checks.integer("schedule", "warmup", warmup, low=0)
    marks = {0, w, n // 10, n // 4, n // 2, 3 * n // 4, n - 1}
    return sorted(k for k in marks if k < n)


def table(schedule: Schedule, steps: int, warmup: int = 0) -> str:
    """``schedule``'s repr, then its lr at the :func:`shown_steps` of a run of
    ``steps`` steps, one step per line.

    A run longer than the schedule allows (``one_cycle`` has no lr past its
    ``total_steps``) is a ``ValueError`` before anything is shown."""
    shown = shown_steps(steps, warmup)
    try:
        schedule(steps - 1)
    except ValueError as error:
        raise ValueError(
            f"schedule: steps must be at most the schedule's length, got {steps} "
            f"({error})"
        ) from None
    width = max(8, len(str(steps - 1)))
    rows = [f"{k:>{width}}  {schedule(k):.6g}" for k in shown]
    return "\n".join([repr(schedule), f"{'step':>{width}}  lr", *rows])
