"""The vectorized runner: K optimizer runs on a surface as one array computation.

Trajectories run the real :mod:`gdlab.optim` optimizers (and any schedule as
``lr``): there is no second copy of the update math here. All K runs live in one
buffer of shape ``(K, 2)`` and step with one fused kernel call per step. A
hyperparameter given per run (a list or an array with one value per run) makes
the runs a population (:mod:`gdlab.optim.population`): the rule's per-run variant
takes that hyperparameter as a ``(K,)`` array, still one call per step (a heat map
of 625 cells was 625 parameter groups, a kernel call each); an optimizer whose
rule cannot run so (its own ``update``, scalar state) splits the runs into one
parameter group per distinct combination instead, each a contiguous slice of the
same buffer. Either way every run gets exactly the numbers it would get alone.

A run that diverges is not an error: its coordinates overflow to ``inf``/``nan``
(silently; no warning) while the other runs go on, and :func:`diverged` reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, optim
from gdlab.optim import population
from gdlab.optim.population import Population
from gdlab.params import Params
from gdlab.surfaces.catalogue import F64, Surface, get

MAX_STEPS = 1_000_000
"""The most steps a run on a surface takes: every step is an optimizer call from
Python (tens of microseconds), so this is about half a minute."""

MAX_POINTS = 2**26
"""The most points :func:`trajectories` keeps, ``(steps + 1) × runs``: 16 bytes
each, 1 GiB."""


def check_steps(owner: str, steps: object, runs: int, *, kept: bool = True) -> int:
    """``steps`` for ``runs`` runs as an int in [1, :data:`MAX_STEPS`], their paths
    (when ``kept``) at most :data:`MAX_POINTS` points; else the one error format."""
    n = _checks.integer(owner, "steps", steps, low=1)
    if n > MAX_STEPS:
        _checks.fail(
            owner, "steps", f"<= {MAX_STEPS:,} (about half a minute per run)", n
        )
    if kept and (n + 1) * runs > MAX_POINTS:
        most = MAX_POINTS // runs - 1
        _checks.fail(
            owner,
            "steps",
            f"<= {most:,} for {runs} run(s): the paths would take "
            f"{16 * (n + 1) * runs / 2**30:.3g} GiB (the limit is 1 GiB)",
            n,
        )
    return n


def _starts(owner: str, starts: ArrayLike) -> F64:
    try:
        a = np.array(starts, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, "starts", "an array of shape (K, 2)", starts)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:
        _checks.fail(owner, "starts", "an array of shape (K, 2) with K >= 1", a.shape)
    if not np.all(np.isfinite(a)):
        _checks.fail(owner, "starts", "finite", a.tolist())
    return a


def as_point(owner: str, name: str, value: ArrayLike) -> F64:
    """``value`` as a finite point ``(x, y)``, or the one error format naming
    ``owner`` and ``name``."""
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, name, "a point (x, y)", value)
    if a.shape != (2,) or not np.all(np.isfinite(a)):
        _checks.fail(owner, name, "a finite point (x, y)", value)
    return a


def _plain(v: object) -> object:
    return v.item() if isinstance(v, np.generic) else v


def _split_per_run(
    owner: str, hyper: Mapping[str, Any], defaults: Mapping[str, Any], k: int
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Split hyperparameters into shared ones and those given per run.

    A value is per run when it is a list or a 1-D array (a 2-D array of rows for a
    tuple-valued hyperparameter such as ``betas``); it must then hold K values.
    """
    shared: dict[str, Any] = {}
    per_run: dict[str, list[Any]] = {}
    for name, value in hyper.items():
        is_tuple = isinstance(defaults.get(name), tuple)
        if not isinstance(value, list | np.ndarray) or (
            is_tuple and np.ndim(value) < 2
        ):
            shared[name] = tuple(value) if is_tuple and value is not None else value
            continue
        if is_tuple:
            values: list[Any] = [tuple(float(x) for x in row) for row in value]
        else:
            if isinstance(value, np.ndarray) and value.ndim != 1:
                _checks.fail(owner, name, f"a scalar or {k} values", value.shape)
            values = [_plain(v) for v in value]
        if len(values) != k:
            _checks.fail(
                owner, name, f"a scalar or one value per run ({k})", len(values)
            )
        per_run[name] = values
    return shared, per_run


@dataclass
class _Runs:
    """K runs of one optimizer in one buffer of shape (K, 2), stepped together."""

    surface: Surface
    optimizer: optim.Optimizer | Population
    x: F64  # (K, 2) view of the parameter buffer, rows in buffer order
    grads: Params | F64  # what the optimizer's step takes
    g: F64  # (K, 2) view of the gradient buffer
    order: NDArray[np.intp] | None  # buffer row r holds run order[r]; None: identity

    def step(self) -> None:
        self.surface.grad_into(self.x, self.g)
        self.optimizer.step(self.grads)  # type: ignore[arg-type]

    def points(self) -> F64:
        """The current points in run order (a new array)."""
        if self.order is None:
            return self.x.copy()
        out = np.empty_like(self.x)
        out[self.order] = self.x
        return out


def _population(
    name: str, x0: F64, shared: dict[str, Any], per_run: dict[str, list[Any]]
) -> Population | None:
    """The runs as one population stepped by the per-run variant of the rule
    (:mod:`gdlab.optim.population`: each run's hyperparameters a value of a
    ``(K,)`` array), or None when the optimizer's rule cannot run that way."""
    k = x0.shape[0]
    shared_lr = shared.get("lr")
    rest = {n: v for n, v in shared.items() if n != "lr"}
    members = []
    for run in range(k):
        own = {n: values[run] for n, values in per_run.items()}
        lr = own.pop("lr", shared_lr)
        params = Params({"xy": x0[run]}, dtype=np.float64)
        members.append(optim.create(name, params, lr=lr, **rest, **own))
        if run == 0 and population.unsupported(members[0]) is not None:
            return None
    return Population(members, x0.copy())


def _setup(
    owner: str,
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None,
    lr: Any,
    hyper: Mapping[str, Any],
) -> _Runs:
    surface = get(f)
    name, preset = optim.resolve(optimizer)
    cls = optim.get(name)
    if cls.needs_closure:
        raise ValueError(
            f"{owner}: {name} re-evaluates the loss within each step (a closure), "
            "which runs batched on a surface cannot give; train it with gdlab train"
        )
    x0 = _starts(owner, [surface.start] if starts is None else starts)
    k = x0.shape[0]
    given = {**preset, **hyper}
    if lr is not None:
        given["lr"] = lr
    shared, per_run = _split_per_run(owner, given, cls.defaults, k)
    if per_run:  # one kernel call with each run's values, when the rule allows
        together = _population(name, x0, shared, per_run)
        if together is not None:
            points: F64 = together.params  # type: ignore[assignment]
            zeros = np.zeros_like(points)
            return _Runs(surface, together, points, zeros, zeros, None)

    # One group per distinct combination of the per-run values, in first-seen order.
    members: dict[tuple[Any, ...], list[int]] = {}
    keys = list(per_run)
    for run in range(k):
        members.setdefault(tuple(per_run[n][run] for n in keys), []).append(run)
    order = np.array([run for runs in members.values() for run in runs], dtype=np.intp)
    identity = bool(np.all(order == np.arange(k)))
    x_sorted = x0[order]

    arrays: dict[str, F64] = {}
    group_names: list[list[str]] = []
    offset = 0
    for j, runs in enumerate(members.values()):
        rows = x_sorted[offset : offset + len(runs)]
        if cls.elementwise:  # one (n, 2) block per group: one fused pass each
            block = "xy" if len(members) == 1 else f"runs{j}"
            arrays[block] = rows
            group_names.append([block])
        else:  # rules with norms see each run as its own 2-vector
            group_names.append([f"run{order[offset + i]}" for i in range(len(runs))])
            arrays.update(zip(group_names[-1], rows, strict=True))
        offset += len(runs)
    params = Params(arrays, dtype=np.float64)
    shared_lr = shared.pop("lr", None)
    if not per_run:
        opt = optim.create(name, params, lr=shared_lr, **shared)
    else:
        specs = [
            {
                "params": {n: params[n] for n in group},
                **dict(zip(keys, key, strict=True)),
            }
            for group, key in zip(group_names, members, strict=True)
        ]
        opt = optim.create(name, specs, lr=shared_lr, **shared)
    grads = params.zeros_like()
    x: F64 = params.buffers[np.dtype(np.float64)].reshape(k, 2)  # type: ignore[assignment]
    g: F64 = grads.buffers[np.dtype(np.float64)].reshape(k, 2)  # type: ignore[assignment]
    return _Runs(surface, opt, x, grads, g, None if identity else order)


def trajectories(
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """K runs of ``optimizer`` on ``f`` as one array computation: ``(steps+1, K, 2)``.

    Args:
        f: a :class:`Surface` or its name.
        optimizer: a registry name (``"adam"``) or a preset (``"momentum"``,
            ``"nesterov"``; see :data:`gdlab.optim.PRESETS`).
        starts: ``(K, 2)`` start points (default: the surface's start, K = 1).
        lr: a number, a schedule (step -> lr) or one value per run (list or 1-D
            array); None for the optimizer's default.
        steps: optimizer steps, in [1, 10^6]; with K runs at most 2^26 / K - 1
            (the paths kept take 16 bytes per point, at most 1 GiB).
        **hyper: the optimizer's hyperparameters, each shared (a scalar, or a tuple
            for ``betas``) or per run (a list/1-D array of K values; K rows for
            ``betas``).

    Row 0 is the start; row t the points after t steps. Runs that diverge fill with
    ``inf``/``nan`` without a warning (see :func:`diverged`).

    Example:
        >>> S = np.random.default_rng(0).uniform(-2, 2, (1000, 2))
        >>> paths = trajectories("rosenbrock", "adam", S, lr=0.01, steps=1000)
    """
    owner = "trajectories"
    runs = _setup(owner, f, optimizer, starts, lr, hyper)
    k = runs.x.shape[0]
    n = check_steps(owner, steps, k)
    out = np.empty((n + 1, k, 2), dtype=np.float64)
    order = runs.order
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(n + 1):
            if t:
                runs.step()
            if order is None:
                out[t] = runs.x
            else:
                out[t, order] = runs.x
    return out


def trajectory(
    f: Surface | str,
    optimizer: str,
    start: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """One run of ``optimizer`` on ``f`` from ``start``: the points, ``(steps+1, 2)``.

    The arguments are those of :func:`trajectories` for one run.

    Example:
        >>> path = trajectory("rosenbrock", "adam", (-2.0, 2.0), steps=500, lr=0.01)
    """
    point = as_point("trajectory", "start", get(f).start if start is None else start)
    return trajectories(f, optimizer, point[None], lr=lr, steps=steps, **hyper)[:, 0]


def final_points(
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """Like :func:`trajectories`, keeping only the last points: ``(K, 2)``."""
    owner = "final_points"
    n = check_steps(owner, steps, 1, kept=False)
    runs = _setup(owner, f, optimizer, starts, lr, hyper)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(n):
            runs.step()
    return runs.points()


def diverged(f: Surface | str, paths: ArrayLike) -> NDArray[np.bool_]:
    """Which runs diverged: their last point is not finite or its value exceeds the
    value at the start. ``paths`` is ``(T, 2)`` (one run, a 0-d result) or
    ``(T, K, 2)``."""
    surface = get(f)
    a = np.asarray(paths, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[-1] != 2 or a.shape[0] < 1:
        _checks.fail(
            "diverged", "paths", "an array of shape (T, 2) or (T, K, 2)", a.shape
        )
    with np.errstate(over="ignore", invalid="ignore"):
        first, last = surface.value(a[0]), surface.value(a[-1])
        bad = ~np.isfinite(last) | (last > first)
    return np.asarray(bad | ~np.all(np.isfinite(a[-1]), axis=-1))


def first_nonfinite(paths: ArrayLike) -> NDArray[np.intp]:
    """The first step at which each run's point is not finite, or -1 if never."""
    a = np.asarray(paths, dtype=np.float64)
    bad = ~np.all(np.isfinite(a), axis=-1)
    return np.where(bad.any(axis=0), bad.argmax(axis=0), -1).astype(np.intp)


__all__ = [
    "MAX_POINTS",
    "MAX_STEPS",
    "as_point",
    "check_steps",
    "diverged",
    "final_points",
    "first_nonfinite",
    "trajectories",
    "trajectory",
]
