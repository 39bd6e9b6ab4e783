"""The arithmetic of a fair comparison: quasi-random trials, expected best of k,
intervals over seeds, time to a target and performance profiles.

Pure functions of their arguments; :mod:`gdlab.lab.compare` and
:mod:`gdlab.lab.benchmark` run the trainings. The formulas are those of the
optimizer-benchmarking literature:

* trials are the first N points of a scrambled Sobol sequence in [0, 1)^d mapped
  onto each optimizer's search space (Bergstra & Bengio 2012; AlgoPerf, Dahl et al.
  2023), the same N for every optimizer;
* the best of the first k trials of one study, k = 1..N: what the procedure
  run actually gives (a study's tunability curve);
* the expected best of k trials drawn *without* replacement from the N run,
  k = 1..N, with v(1) <= ... <= v(N) sorted — random search over these points,
  the unbiased estimator (Dodge et al. 2019's code samples with replacement):
  E[max of k] = sum_{i=k..N} v(i) * C(i-1, k-1) / C(N, k);
* a 95% interval over n seeds from Student's t with n - 1 degrees of freedom;
* time to target t(p, s) and the performance profile
  ``rho_s(tau) = |{p : t(p, s) <= tau * min_s' t(p, s')}| / |P|`` (Dolan & Moré
  2002).
"""

from __future__ import annotations

import math
import os
import statistics
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gdlab import _checks, optim, outputs
from gdlab.optim import space


def sobol_points(n: int, dimensions: int, seed: int) -> np.ndarray[Any, Any]:
    """The first ``n`` points of a scrambled Sobol sequence in [0, 1)^dimensions
    (SciPy's ``qmc.Sobol``).

    A power of two keeps the sequence's balance; other ``n`` are allowed (SciPy's
    warning about it is silenced: the points are still well spread).

    Each set of points is drawn once per machine and kept in
    :func:`sobol_cache_folder`, keyed by ``n``, ``dimensions``, ``seed`` and the
    SciPy and NumPy versions: importing ``scipy.stats`` takes 0.6 s, more than a
    small comparison's training. A file that is missing, not a regular file, or
    not ``n`` points in [0, 1)^dimensions is drawn again.
    """
    import scipy  # its version only: Numba has imported it

    n = _checks.integer("sobol_points", "n", n, low=1)
    dimensions = _checks.integer("sobol_points", "dimensions", dimensions, low=1)
    seed = _checks.integer("sobol_points", "seed", seed, low=0)
    name = f"{dimensions}d-{n}-{seed}-scipy{scipy.__version__}-numpy{np.__version__}"
    path = sobol_cache_folder() / f"{name}.npy"
    try:
        if path.is_file():  # never a FIFO or a device
            points: np.ndarray[Any, Any] = np.load(path, allow_pickle=False)
            if _unit_points(points, n, dimensions):
                return points
    except (OSError, ValueError):  # damaged: drawn again
        pass
    points = _sobol_drawn(n, dimensions, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        outputs.write_atomic(path, lambda f: np.save(f, points))
    except OSError:  # a read-only cache: drawn each time
        pass
    return points


def sobol_cache_folder() -> Path:
    """Where :func:`sobol_points` keeps its points: ``$GDLAB_CACHE/sobol`` or
    ``~/.cache/gdlab/sobol``."""
    return (
        Path(os.environ.get("GDLAB_CACHE") or Path.home() / ".cache" / "gdlab")
        / "sobol"
    )


def _unit_points(points: np.ndarray[Any, Any], n: int, dimensions: int) -> bool:
    return (
        points.shape == (n, dimensions)
        and points.dtype == np.float64
        and bool(((points >= 0) & (points < 1)).all())
    )


def _sobol_drawn(n: int, dimensions: int, seed: int) -> np.ndarray[Any, Any]:
    from scipy.stats import qmc

    sampler = qmc.Sobol(d=dimensions, scramble=True, seed=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return np.asarray(sampler.random(n), dtype=np.float64)


def check_axes(name: str, axes: Sequence[str]) -> list[str]:
    """The axes of ``name``'s search space to tune, in the order given; an axis the
    optimizer does not have is a ValueError naming those it has."""
    known = optim.search_space(name)
    axes = list(dict.fromkeys(axes))
    for axis in axes:
        if axis not in known:
            raise ValueError(
                f"tune: {name} has no axis {axis!r} to tune; its search space has "
                + ", ".join(known)
            )
    return axes


def trial(name: str, axes: Sequence[str], u: Sequence[float]) -> dict[str, Any]:
    """The hyperparameters (``lr`` included) that the unit point ``u`` gives ``name``
    on ``axes``; the other hyperparameters keep the preset's or class's defaults.

    For heavy-ball SGD with momentum β > 0 (the ``momentum`` and ``nesterov``
    presets, or a tuned momentum) the lr axis is the *effective step*
    lr / (1 − β): the lr returned is the drawn step times (1 − β), so that every
    member of the SGD family tries the same steps (:mod:`gdlab.optim.space`)."""
    base, preset = optim.resolve(name)
    hyper = {**optim.get(base).defaults, **preset}
    hyper["lr"] = optim.suggested_lr(name)
    search = optim.search_space(name)
    for axis, x in zip(axes, u, strict=True):
        space.assign(hyper, axis, search[axis].value(float(x)))
    if "lr" in axes and heavy_ball(name, hyper):
        hyper["lr"] *= 1.0 - float(hyper["momentum"])
    changed = {k: v for k, v in hyper.items() if k == "lr" or k in preset}
    tuned = dict.fromkeys(space.hyperparameter(a) for a in axes)  # in axes order
    return changed | {k: hyper[k] for k in tuned}


def heavy_ball(name: str, hyper: Mapping[str, Any]) -> bool:
    """Whether ``name`` with ``hyper`` is SGD with momentum (its lr axis is then
    the effective step lr / (1 − momentum))."""
    base, _ = optim.resolve(name)
    return base == "sgd" and float(hyper.get("momentum") or 0.0) > 0.0


def describe_axis(name: str, axis: str) -> str:
    """How ``name``'s ``axis`` is drawn, e.g. ``"log-uniform in [0.001, 10]"``."""
    text = optim.search_space(name)[axis].describe()
    base, preset = optim.resolve(name)
    defaults = {**optim.get(base).defaults, **preset}
    if axis == "lr" and heavy_ball(name, defaults):
        text = f"effective step lr/(1 - momentum) {text}"
    return text


def expected_best(
    scores: Sequence[float], *, higher_is_better: bool = True
) -> list[float]:
    """E[best of k trials drawn without replacement from ``scores``], k = 1..N:
    *random search over these points* (the unbiased estimator; Dodge et al.
    2019's code samples with replacement instead).

    A diverged trial scores the worst value there is: -inf when higher is
    better, +inf otherwise (an accuracy may use 0); NaN and an infinity on the
    good side are refused. At k = N the result is the best score; a k whose
    draws can all be diverged trials gets that worst value.
    """
    values = sorted(float(s) for s in scores)
    bad = math.inf if higher_is_better else -math.inf
    if not values or any(math.isnan(v) or v == bad for v in values):
        _checks.fail("expected_best", "scores", "numbers, worst as inf", list(scores))
    if not higher_is_better:
        values = [-v for v in reversed(values)]
    n = len(values)
    out = []
    for k in range(1, n + 1):
        total = math.comb(n, k)
        terms = [
            values[i - 1] * math.comb(i - 1, k - 1)
            for i in range(k, n + 1)
            if math.comb(i - 1, k - 1)
        ]
        e = sum(terms) / total
        out.append(e if higher_is_better else -e)
    return out


def best_of_first(
    scores: Sequence[float], *, higher_is_better: bool = True
) -> list[float]:
    """The best of the first k scores, k = 1..N: what a search that stops after
    k of its quasi-random trials selects (one study's tunability curve)."""
    out: list[float] = []
    for value in scores:
        v = float(value)
        if math.isnan(v):
            _checks.fail("best_of_first", "scores", "numbers, not NaN", list(scores))
        if out:
            v = max(out[-1], v) if higher_is_better else min(out[-1], v)
        out.append(v)
    return out


def interval95(values: Sequence[float]) -> dict[str, float | int | None]:
    """Mean, sample std and the half-width of the 95% t-interval of ``values``
    (None for the spread of a single value). The t quantile is SciPy's
    ``stdtrit`` (what ``scipy.stats.t.ppf`` computes, without importing
    ``scipy.stats``)."""
    from scipy.special import stdtrit

    xs = [float(v) for v in values]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = statistics.fmean(xs)
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = statistics.stdev(xs)
    half = float(stdtrit(n - 1, 0.975)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": half}


def time_to_target(
    evaluations: Sequence[Mapping[str, Any]],
    metric: str,
    target: float,
    *,
    higher_is_better: bool = True,
) -> dict[str, float] | None:
    """The first evaluation whose ``metric`` reaches ``target``: its ``step``,
    ``seconds`` and ``evaluation`` (its index among the evaluations); None when
    none does."""
    for k, row in enumerate(evaluations):
        value = row.get(metric)
        if value is None:
            continue
        reached = value >= target if higher_is_better else value <= target
        if reached:
            return {
                "step": float(row["step"]),
                "seconds": float(row["seconds"]),
                "evaluation": float(k),
            }
    return None


def performance_profiles(
    times: Mapping[str, Mapping[str, float | None]], taus: Sequence[float]
) -> dict[str, list[float]]:
    """rho_s(tau) for each solver s: the share of problems on which s reaches the
    target within ``tau`` times the fastest solver's time.

    ``times[problem][solver]`` is a time to target, None (or inf) when not reached.
    A problem no solver solves counts against every solver.
    """
    problems = list(times)
    solvers = list(dict.fromkeys(s for p in problems for s in times[p]))
    ratios: dict[str, list[float]] = {s: [] for s in solvers}
    for p in problems:
        reached = {
            s: float(t)
            for s, t in times[p].items()
            if t is not None and math.isfinite(t)
        }
        best = min(reached.values(), default=math.inf)
        for s in solvers:
            t_ps = reached.get(s, math.inf)
            if best == 0:  # reached before the first step: only ties are as fast
                ratios[s].append(1.0 if t_ps == 0 else math.inf)
            else:  # inf when s, or every solver, never reached it
                ratios[s].append(t_ps / best if math.isfinite(best) else math.inf)
    return {
        s: [sum(r <= tau for r in ratios[s]) / len(problems) for tau in taus]
        for s in solvers
    }
