"""Learning-rate schedules against torch.optim.lr_scheduler in float64.

Every comparison drives a real optimizer: the lr a gdlab optimizer *uses* at each
step (read back from the update itself) against the lr torch's optimizer holds when
its ``step()`` runs, with ``scheduler.step()`` after every ``optimizer.step()``.
"""

from __future__ import annotations

import copy
import doctest
import itertools
import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.optim import lr_scheduler as L

from gdlab import optim
from gdlab import schedules as S

from .conftest import raises_about

N = 1000  # optimizer steps compared per case
REL = 1e-12


pytestmark = pytest.mark.usefixtures("torch_float64")


# --- the lr each optimizer uses --------------------------------------------------


def torch_lrs(
    make: Callable[[torch.optim.Optimizer], Any], lr: float, n: int, per: int = 1
) -> np.ndarray:
    """The lr torch's SGD uses at each of ``n`` steps; the scheduler steps every
    ``per`` optimizer steps (never after the last one, which one_cycle forbids)."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    out = []
    for k in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if (k + 1) % per == 0 and k < n - 1:
            sched.step()
    return np.array(out)


def gdlab_lrs(schedule: S.ScheduleFn, n: int) -> np.ndarray:
    """The lr gdlab's SGD actually uses at each of ``n`` steps: from w = 0 and
    gradient −1, one plain SGD step leaves exactly w = lr."""
    w = {"w": np.zeros(1)}
    opt = optim.SGD(w, lr=schedule)
    out = []
    for _ in range(n):
        w["w"][...] = 0.0
        announced = opt.lr
        opt.step({"w": -np.ones(1)})
        assert w["w"][0] == announced  # opt.lr is the lr the next step uses
        out.append(w["w"][0])
    return np.array(out)


def assert_close(ours: np.ndarray, ref: np.ndarray, rel: float = REL) -> None:
    np.testing.assert_allclose(ours, ref, rtol=rel, atol=0.0)


# (id, our schedule, torch scheduler factory, base lr, steps, scheduler every `per`)
TORCH_CASES: list[tuple[str, S.Schedule, Callable[[Any], Any], float, int, int]] = [
    ("step", S.step(0.1, 30), lambda o: L.StepLR(o, 30), 0.1, N, 1),
    ("step-g.5", S.step(0.5, 7, 0.5), lambda o: L.StepLR(o, 7, 0.5), 0.5, N, 1),
    ("step-1", S.step(1.0, 1, 0.99), lambda o: L.StepLR(o, 1, 0.99), 1.0, N, 1),
    (
        "multistep",
        S.multistep(0.1, [30, 80]),
        lambda o: L.MultiStepLR(o, [30, 80]),
        0.1,
        N,
        1,
    ),
    (
        "multistep-0",
        S.multistep(0.3, [0, 5, 400, 999], 0.5),
        lambda o: L.MultiStepLR(o, [0, 5, 400, 999], 0.5),
        0.3,
        N,
        1,
    ),
    ("exp", S.exponential(0.1, 0.99), lambda o: L.ExponentialLR(o, 0.99), 0.1, N, 1),
    (
        "exp-grow",
        S.exponential(1e-4, 1.01),
        lambda o: L.ExponentialLR(o, 1.01),
        1e-4,
        N,
        1,
    ),
    (
        "inverse_time",
        S.inverse_time(0.1, 1.0),
        lambda o: L.LambdaLR(o, lambda t: 1 / (1 + 1.0 * t / 1)),
        0.1,
        N,
        1,
    ),
    (
        "inverse_time-s",
        S.inverse_time(0.5, 0.3, 25),
        lambda o: L.LambdaLR(o, lambda t: 1 / (1 + 0.3 * t / 25)),
        0.5,
        N,
        1,
    ),
    (
        "polynomial",
        S.polynomial(0.1, 1000),
        lambda o: L.PolynomialLR(o, 1000),
        0.1,
        N,
        1,
    ),
    (
        "polynomial-p2-short",
        S.polynomial(0.1, 300, power=2.0),
        lambda o: L.PolynomialLR(o, 300, 2.0),
        0.1,
        N,
        1,
    ),
    (
        "polynomial-p.9",
        S.polynomial(0.05, 999, power=0.9),
        lambda o: L.PolynomialLR(o, 999, 0.9),
        0.05,
        N,
        1,
    ),
    # torch computes cosine annealing recursively (each lr from the last); over
    # these 1,000 steps it stays within ~1e-14 of the closed form, so we compare
    # with torch's recursive values themselves at 1e-12.
    ("cosine", S.cosine(0.1, 1000), lambda o: L.CosineAnnealingLR(o, 1000), 0.1, N, 1),
    (
        "cosine-min",
        S.cosine(0.1, 999, 0.01),
        lambda o: L.CosineAnnealingLR(o, 999, 0.01),
        0.1,
        N,
        1,
    ),
    (
        "cosine-long",
        S.cosine(1.0, 5000, 1e-3),
        lambda o: L.CosineAnnealingLR(o, 5000, 1e-3),
        1.0,
        N,
        1,
    ),
    # Past T_max torch's cosine climbs again, ours holds final_lr: compare to T.
    (
        "cosine-short",
        S.cosine(0.1, 250, 1e-4),
        lambda o: L.CosineAnnealingLR(o, 250, 1e-4),
        0.1,
        251,
        1,
    ),
    (
        "restarts",
        S.cosine_restarts(0.1, 50),
        lambda o: L.CosineAnnealingWarmRestarts(o, 50),
        0.1,
        N,
        1,
    ),
    (
        "restarts-mult2",
        S.cosine_restarts(0.1, 7, 2, 1e-3),
        lambda o: L.CosineAnnealingWarmRestarts(o, 7, 2, 1e-3),
        0.1,
        N,
        1,
    ),
    (
        "restarts-mult3",
        S.cosine_restarts(0.5, 1, 3),
        lambda o: L.CosineAnnealingWarmRestarts(o, 1, 3),
        0.5,
        N,
        1,
    ),
    (
        "warmup-cosine",
        S.linear_warmup(S.cosine(0.1, 900), 100, start_lr=0.001),
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.01, 1.0, 100), L.CosineAnnealingLR(o, 900)], [100]
        ),
        0.1,
        N,
        1,
    ),
    (
        "warmup-step",
        S.linear_warmup(S.step(0.2, 50, 0.5), 37, start_lr=0.1),
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.5, 1.0, 37), L.StepLR(o, 50, 0.5)], [37]
        ),
        0.2,
        N,
        1,
    ),
    (
        "warmup-exp",
        S.linear_warmup(S.exponential(0.1, 0.995), 10, start_lr=0.025),
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.25, 1.0, 10), L.ExponentialLR(o, 0.995)], [10]
        ),
        0.1,
        N,
        1,
    ),
    (
        "warmup-poly",
        S.linear_warmup(S.polynomial(0.1, 500, 2.0), 500, start_lr=0.01),
        lambda o: L.SequentialLR(
            o, [L.LinearLR(o, 0.1, 1.0, 500), L.PolynomialLR(o, 500, 2.0)], [500]
        ),
        0.1,
        N,
        1,
    ),
    (
        "one_cycle",
        S.one_cycle(0.1, 1000),
        lambda o: L.OneCycleLR(o, 0.1, total_steps=1000, cycle_momentum=False),
        0.1,
        N,
        1,
    ),
    (
        # 999 total steps: the 1,000th lr (step == total_steps) is still defined
        "one_cycle-args",
        S.one_cycle(1.0, 999, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
        lambda o: L.OneCycleLR(
            o,
            1.0,
            total_steps=999,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
            cycle_momentum=False,
        ),
        0.1,
        N,
        1,
    ),
    (
        "one_cycle-no-warmup",
        S.one_cycle(0.1, 1000, pct_start=0.0),
        lambda o: L.OneCycleLR(
            o, 0.1, total_steps=1000, pct_start=0.0, cycle_momentum=False
        ),
        0.1,
        N,
        1,
    ),
    (
        "join",
        S.join([S.step(0.1, 50, 0.5), S.cosine(0.1, 700)], [300]),
        lambda o: L.SequentialLR(
            o, [L.StepLR(o, 50, 0.5), L.CosineAnnealingLR(o, 700)], [300]
        ),
        0.1,
        N,
        1,
    ),
    (
        "join-3",
        S.join(
            [S.exponential(0.1, 0.99), S.constant(0.1), S.multistep(0.1, [10, 20])],
            [100, 400],
        ),
        lambda o: L.SequentialLR(
            o,
            [
                L.ExponentialLR(o, 0.99),
                L.LambdaLR(o, lambda t: 1.0),
                L.MultiStepLR(o, [10, 20]),
            ],
            [100, 400],
        ),
        0.1,
        N,
        1,
    ),
    (
        "per_epoch-step",
        S.per_epoch(S.step(0.1, 3, 0.5), 40),
        lambda o: L.StepLR(o, 3, 0.5),
        0.1,
        N,
        40,
    ),
    (
        "per_epoch-cosine",
        S.per_epoch(S.cosine(0.1, 10), 100),
        lambda o: L.CosineAnnealingLR(o, 10),
        0.1,
        N,
        100,
    ),
    ("constant", S.constant(0.1), lambda o: L.LambdaLR(o, lambda t: 1.0), 0.1, N, 1),
]


@pytest.mark.parametrize(
    ("schedule", "make", "lr", "n", "per"),
    [case[1:] for case in TORCH_CASES],
    ids=[case[0] for case in TORCH_CASES],
)
def test_lr_sequence_matches_torch(
    schedule: S.Schedule,
    make: Callable[[Any], Any],
    lr: float,
    n: int,
    per: int,
) -> None:
    ref = torch_lrs(make, lr, n, per)
    assert len(set(ref.tolist())) > 1 or schedule.name == "constant"
    assert_close(gdlab_lrs(schedule, n), ref)
    # the schedule itself, evaluated directly, is the same function
    assert_close(np.array([schedule(k) for k in range(n)]), ref)


def test_cosine_holds_final_lr_where_torch_climbs_again() -> None:
    s = S.cosine(0.1, 100, 0.01)
    p = torch.zeros(1, requires_grad=True)
    sched = L.CosineAnnealingLR(torch.optim.SGD([p], lr=0.1), 100, 0.01)
    sched.last_epoch = 150
    (torch_150,) = sched._get_closed_form_lr()  # torch's own closed form
    assert torch_150 == pytest.approx(0.01 + 0.09 * (1 + math.cos(1.5 * math.pi)) / 2)
    assert s(150) == s(100) == 0.01 < torch_150


def test_linear_warmup_from_zero() -> None:
    # torch's LinearLR needs start_factor > 0; from 0 the closed form is t/W·s(0)
    s = S.linear_warmup(S.cosine(0.2, 100), 8)
    assert [s(k) for k in range(9)] == pytest.approx([0.2 * k / 8 for k in range(9)])
    assert s(8) == 0.2 and s(58) == pytest.approx(0.1)


# --- ReduceOnPlateau -------------------------------------------------------------


def plateau_metrics(n: int, seed: int) -> list[float]:
    """A noisy loss that improves slowly, stalls, and sometimes repeats itself."""
    rng = np.random.default_rng(seed)
    trend = np.exp(-np.arange(n) / 300.0)
    noisy = trend + 0.03 * rng.random(n)
    noisy[200:260] = noisy[199]  # an exact plateau
    return [float(x) for x in noisy]


PLATEAU_CASES: list[dict[str, Any]] = [
    {},
    {"factor": 0.5, "patience": 0},
    {"factor": 0.5, "patience": 3, "cooldown": 5, "min_lr": 1e-3},
    {"mode": "max", "patience": 4, "threshold": 1e-3},
    {"threshold_mode": "abs", "threshold": 1e-3, "patience": 2, "factor": 0.7},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.0, "patience": 5},
    {"factor": 0.9, "patience": 1, "eps": 1e-3, "min_lr": 1e-6},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES, ids=lambda k: repr(k) or "defaults")
def test_reduce_on_plateau_matches_torch(kwargs: dict[str, Any]) -> None:
    sign = -1.0 if kwargs.get("mode") == "max" else 1.0
    metrics = [sign * m for m in plateau_metrics(N, seed=len(kwargs))]
    p = torch.zeros(1, requires_grad=True)
    t_opt = torch.optim.SGD([p], lr=0.1)
    t_sched = L.ReduceLROnPlateau(t_opt, **kwargs)
    w = {"w": np.zeros(1)}
    opt = optim.SGD(w, lr=0.1)
    plateau = S.ReduceOnPlateau(opt, **kwargs)
    ours, ref = [], []
    for m in metrics:
        ref.append(t_opt.param_groups[0]["lr"])
        w["w"][...] = 0.0
        opt.step({"w": -np.ones(1)})
        ours.append(w["w"][0])
        t_opt.step()
        t_sched.step(m)
        plateau.step(m)
        assert plateau.num_bad_epochs == t_sched.num_bad_epochs
    assert len(set(ref)) > 2  # the case does reduce the lr, more than once
    assert_close(np.array(ours), np.array(ref))
    assert plateau.last_lr == t_sched.get_last_lr()


def test_reduce_on_plateau_per_group_min_lr() -> None:
    groups = [
        {"params": {"a": np.zeros(2)}, "lr": 0.1},
        {"params": {"b": np.zeros(2)}, "lr": 1.0},
    ]
    opt = optim.SGD(groups)
    plateau = S.ReduceOnPlateau(opt, patience=0, min_lr=[0.05, 0.0])
    for _ in range(3):  # the first sets the best; two bad ones follow
        plateau.step(1.0)
    assert plateau.last_lr == pytest.approx([0.05, 0.01])
    assert [g["lr"] for g in opt.param_groups] == plateau.last_lr


# --- a whole run, against torch ------------------------------------------------------


def quadratic(dim: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((dim, dim))
    return q @ q.T / dim + np.eye(dim), rng.standard_normal(dim)


# (id, our schedule, torch's scheduler on an optimizer with lr = the schedule's peak)
RUN_CASES: list[tuple[str, S.Schedule, Callable[[Any], Any]]] = [
    (
        "cosine+warmup",
        S.linear_warmup(S.cosine(0.05, 180, 1e-4), 20, start_lr=0.005),
        lambda o: L.SequentialLR(
            o,
            [L.LinearLR(o, 0.1, 1.0, 20), L.CosineAnnealingLR(o, 180, 1e-4)],
            [20],
        ),
    ),
    (
        "one_cycle",
        S.one_cycle(0.1, 200),
        lambda o: L.OneCycleLR(o, 0.1, total_steps=200, cycle_momentum=False),
    ),
    ("step", S.step(0.05, 40, 0.5), lambda o: L.StepLR(o, 40, 0.5)),
]


@pytest.mark.parametrize(
    ("schedule", "make"), [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES]
)
def test_sgd_run_with_schedule_matches_torch(
    schedule: S.Schedule, make: Callable[[Any], Any]
) -> None:
    a, b = quadratic()
    w0 = np.linspace(-1.0, 1.0, a.shape[0])
    w = {"w": w0.copy()}
    opt = optim.SGD(w, lr=schedule, momentum=0.9, nesterov=True)
    tw = torch.tensor(w0, requires_grad=True)
    peak = max(schedule(k) for k in range(200))  # (OneCycleLR sets its own lr)
    t_opt = torch.optim.SGD([tw], lr=peak, momentum=0.9, nesterov=True)
    t_sched = make(t_opt)
    ta, tb = torch.tensor(a), torch.tensor(b)
    for k in range(200):
        opt.step({"w": a @ w["w"] - b})
        tw.grad = ta @ tw.detach() - tb
        t_opt.step()
        if k < 199:
            t_sched.step()
    np.testing.assert_allclose(w["w"], tw.detach().numpy(), rtol=1e-10, atol=1e-14)
    assert not np.allclose(w["w"], w0)


# --- resume -----------------------------------------------------------------------


def run(
    opt: optim.Optimizer,
    w: dict[str, np.ndarray],
    steps: range,
    plateau: S.ReduceOnPlateau | None = None,
) -> list[float]:
    """Noisy gradient steps on a quadratic (the noise a function of the step)."""
    a, b = quadratic(seed=1)
    lrs = []
    for k in steps:
        lrs.append(opt.lr)
        noise = 0.1 * np.sin(k * 1.7 + np.arange(b.size))
        opt.step({"w": a @ w["w"] - b + noise})
        if plateau is not None and k % 5 == 4:
            residual = a @ w["w"] - b
            plateau.step(float(residual @ residual))
    return lrs


@pytest.mark.parametrize(
    "schedule",
    [
        S.linear_warmup(S.cosine(0.05, 150), 50),
        S.one_cycle(0.1, 200),
        S.join([S.constant(0.02), S.cosine_restarts(0.05, 13, 2)], [77]),
    ],
    ids=["warmup-cosine", "one_cycle", "join-restarts"],
)
def test_resume_continues_the_same_sequence(schedule: S.Schedule) -> None:
    w = {"w": np.zeros(6)}
    opt = optim.SGD(w, lr=schedule, momentum=0.9)
    whole = run(opt, w, range(200))

    w1 = {"w": np.zeros(6)}
    opt1 = optim.SGD(w1, lr=schedule, momentum=0.9)
    first = run(opt1, w1, range(83))
    # a checkpoint: the schedule as JSON, the optimizer's state dict, the params
    config = json.dumps(schedule.to_dict())
    state = copy.deepcopy(opt1.state_dict())
    w2 = {"w": w1["w"].copy()}
    opt2 = optim.SGD(w2, lr=S.from_dict(json.loads(config)), momentum=0.9)
    opt2.load_state_dict(state)
    rest = run(opt2, w2, range(83, 200))
    assert first + rest == whole
    np.testing.assert_array_equal(w2["w"], w["w"])


def test_resume_with_reduce_on_plateau() -> None:
    def fresh() -> tuple[dict[str, np.ndarray], optim.SGD, S.ReduceOnPlateau]:
        w = {"w": np.zeros(6)}
        opt = optim.SGD(w, lr=0.2, momentum=0.5)
        return w, opt, S.ReduceOnPlateau(opt, factor=0.5, patience=2, cooldown=1)

    w, opt, plateau = fresh()
    whole = run(opt, w, range(100), plateau) + run(opt, w, range(100, 300), plateau)
    assert len(set(whole)) > 2

    w1, opt1, plateau1 = fresh()
    first = run(opt1, w1, range(100), plateau1)
    saved = json.dumps(
        {"opt": opt1.state_dict()["step"], "plateau": plateau1.state_dict()}
    )
    opt_state = copy.deepcopy(opt1.state_dict())
    w2, opt2, plateau2 = fresh()
    w2["w"][...] = w1["w"]
    opt2.load_state_dict(opt_state)
    plateau2.load_state_dict(json.loads(saved)["plateau"])
    rest = run(opt2, w2, range(100, 300), plateau2)
    assert first + rest == whole
    np.testing.assert_array_equal(w2["w"], w["w"])
    assert plateau2.state_dict() == plateau.state_dict()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"factor": 5}, "factor"),
        ({"mode": "zz"}, "mode"),
        ({"min_lrs": 3}, "state_dict['min_lrs']"),
        ({"min_lrs": [0, 0]}, "min_lr"),
        ({"best": "x"}, "state_dict['best']"),
        ({"best": math.nan}, "state_dict['best']"),
        ({"last_epoch": -1}, "state_dict['last_epoch']"),
        ({"num_bad_epochs": 1.5}, "state_dict['num_bad_epochs']"),
    ],
)
def test_plateau_state_is_checked_as_its_arguments_are(
    change: dict[str, Any], field: str
) -> None:
    plateau = S.ReduceOnPlateau(_sgd(), factor=0.5, patience=2)
    plateau.step(1.0)
    before = plateau.state_dict()
    with raises_about("ReduceOnPlateau", field):
        plateau.load_state_dict({**before, **change})
    assert plateau.state_dict() == before
    assert repr(plateau).startswith("ReduceOnPlateau(mode='min', factor=0.5")


# --- bad arguments -----------------------------------------------------------------


def _sgd(lr: Any = 0.1) -> optim.SGD:
    return optim.SGD({"w": np.zeros(1)}, lr=lr)


RoP = S.ReduceOnPlateau


# (owner, call, argument, value as shown): the message must be
# "owner: argument must be <requirement>, got value", on one line.
# fmt: off
ERROR_CASES: list[tuple[str, Callable[[], object], str, str]] = [
    ("constant", lambda: S.constant(-0.1), "lr", "-0.1"),
    ("constant", lambda: S.constant(math.nan), "lr", "nan"),
    ("constant", lambda: S.constant("0.1"), "lr", "'0.1'"),
    ("step", lambda: S.step(-1, 10), "lr", "-1"),
    ("step", lambda: S.step(0.1, 0), "step_size", "0"),
    ("step", lambda: S.step(0.1, 2.5), "step_size", "2.5"),
    ("step", lambda: S.step(0.1, 10, 0.0), "gamma", "0.0"),
    ("multistep", lambda: S.multistep(0.1, [80, 30]), "milestones", "[80, 30]"),
    ("multistep", lambda: S.multistep(0.1, [30, 30]), "milestones", "[30, 30]"),
    ("multistep", lambda: S.multistep(0.1, [-1, 5]), "milestones[0]", "-1"),
    ("multistep", lambda: S.multistep(0.1, "30,80"), "milestones", "'30,80'"),
    ("multistep", lambda: S.multistep(0.1, [3], -0.1), "gamma", "-0.1"),
    ("exponential", lambda: S.exponential(0.1, 0), "gamma", "0"),
    ("exponential", lambda: S.exponential(0.1, -0.9), "gamma", "-0.9"),
    ("exponential", lambda: S.exponential(-0.1, 0.9), "lr", "-0.1"),
    ("inverse_time", lambda: S.inverse_time(0.1, -1.0), "decay_rate", "-1.0"),
    ("inverse_time", lambda: S.inverse_time(0.1, 1.0, 0), "decay_steps", "0"),
    ("polynomial", lambda: S.polynomial(0.1, 0), "total_steps", "0"),
    ("polynomial", lambda: S.polynomial(0.1, 10, -1.0), "power", "-1.0"),
    ("polynomial", lambda: S.polynomial(0.1, 10, 1.0, 0.2), "final_lr", "0.2"),
    ("cosine", lambda: S.cosine(0.1, 0), "total_steps", "0"),
    ("cosine", lambda: S.cosine(0.1, -5), "total_steps", "-5"),
    ("cosine", lambda: S.cosine(0.1, True), "total_steps", "True"),
    ("cosine", lambda: S.cosine(-0.1, 10), "lr", "-0.1"),
    ("cosine", lambda: S.cosine(0.1, 10, -0.01), "final_lr", "-0.01"),
    ("cosine", lambda: S.cosine(0.1, 10, 0.5), "final_lr", "0.5"),
    ("cosine", lambda: S.cosine(0.1, 10)(-1), "step", "-1"),
    ("cosine", lambda: S.cosine(0.1, 10)(1.5), "step", "1.5"),
    ("cosine_restarts", lambda: S.cosine_restarts(0.1, 0), "period", "0"),
    ("cosine_restarts", lambda: S.cosine_restarts(0.1, 9, 0), "period_mult", "0"),
    ("cosine_restarts", lambda: S.cosine_restarts(0.1, 9, 1.5), "period_mult", "1.5"),
    ("cosine_restarts", lambda: S.cosine_restarts(0.1, 9, 1, 1.0), "final_lr", "1.0"),
    ("linear_warmup", lambda: S.linear_warmup(S.cosine(0.1, 100), 101),
     "warmup_steps", "101"),
    ("linear_warmup", lambda: S.linear_warmup(S.constant(0.1), -1),
     "warmup_steps", "-1"),
    ("linear_warmup", lambda: S.linear_warmup(S.constant(0.1), 5, -0.1),
     "start_lr", "-0.1"),
    ("linear_warmup", lambda: S.linear_warmup(0.1, 5), "schedule", "0.1"),
    ("one_cycle", lambda: S.one_cycle(0.1, 0), "total_steps", "0"),
    ("one_cycle", lambda: S.one_cycle(-0.1, 10), "max_lr", "-0.1"),
    ("one_cycle", lambda: S.one_cycle(0.1, 10, 1.0), "pct_start", "1.0"),
    ("one_cycle", lambda: S.one_cycle(0.1, 10, -0.1), "pct_start", "-0.1"),
    ("one_cycle", lambda: S.one_cycle(0.1, 10, 0.1), "pct_start * total_steps",
     "'0.1 * 10'"),
    ("one_cycle", lambda: S.one_cycle(0.1, 10, div_factor=0.0), "div_factor", "0.0"),
    ("one_cycle", lambda: S.one_cycle(0.1, 10, final_div_factor=-1.0),
     "final_div_factor", "-1.0"),
    ("one_cycle", lambda: S.one_cycle(0.1, 100)(101), "step", "101"),
    ("join", lambda: S.join([S.constant(0.1)] * 2, []), "boundaries", "[]"),
    ("join", lambda: S.join([S.constant(0.1)], [10]), "boundaries", "[10]"),
    ("join", lambda: S.join([S.constant(0.1)] * 3, [20, 10]), "boundaries", "[20, 10]"),
    ("join", lambda: S.join([S.constant(0.1)] * 2, [0]), "boundaries[0]", "0"),
    ("join", lambda: S.join([], []), "schedules", "[]"),
    ("join", lambda: S.join([S.constant(0.1), 3], [10]), "schedules[1]", "3"),
    ("join", lambda: S.join([S.constant(0.1)], [])(-3), "step", "-3"),
    ("per_epoch", lambda: S.per_epoch(S.constant(0.1), 0), "steps_per_epoch", "0"),
    ("per_epoch", lambda: S.per_epoch(S.constant(0.1), 1)(-1), "step", "-1"),
    ("cosine", lambda: S.create("cosine", lr=0.1), "total_steps", "None"),
    ("cosine", lambda: S.create("cosine", lr=0.1, total_steps=9, gamma=0.5),
     "keyword 'gamma'", "0.5"),
    ("schedules", lambda: S.from_dict({"lr": 0.1}), "config", "{'lr': 0.1}"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), factor=1.0), "factor", "1.0"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), factor=0), "factor", "0"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), mode="avg"), "mode", "'avg'"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), threshold_mode="pct"),
     "threshold_mode", "'pct'"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), patience=-1), "patience", "-1"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), cooldown=-2), "cooldown", "-2"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), threshold=-1e-4),
     "threshold", "-0.0001"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), min_lr=-1.0), "min_lr", "-1.0"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), min_lr=[0.0, 0.0]),
     "min_lr", "[0.0, 0.0]"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(), eps=-1.0), "eps", "-1.0"),
    ("ReduceOnPlateau", lambda: RoP(_sgd(S.constant(0.1))),
     "optimizer.param_groups[0]['lr']", "constant(lr=0.1)"),
    ("ReduceOnPlateau", lambda: RoP(0.1), "optimizer", "0.1"),
    ("ReduceOnPlateau", lambda: RoP(_sgd()).step("low"), "metric",
     "'low'"),
]
# fmt: on


@pytest.mark.parametrize(
    ("owner", "make", "argument", "got"),
    ERROR_CASES,
    ids=[f"{c[0]}-{c[2]}" for c in ERROR_CASES],
)
def test_bad_arguments_raise_one_clear_error(
    owner: str, make: Callable[[], object], argument: str, got: str
) -> None:
    pattern = rf"{re.escape(owner)}: {re.escape(argument)} must be .+, got "
    with pytest.raises(ValueError, match=pattern + re.escape(got) + "$") as info:
        make()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: S.cosine(0.1, 10, 0.5), r"final_lr must be <= lr \(0\.1\), got 0\.5"),
        (lambda: S.multistep(0.1, [9, 3]), r"milestones must be strictly increasing"),
        (
            lambda: S.linear_warmup(S.cosine(0.1, 100), 101),
            r"warmup_steps must be <= the length of the schedule it warms \(100 ",
        ),
        (
            lambda: S.linear_warmup(
                S.join([S.constant(0.1), S.cosine(0.1, 10)], [5]), 16
            ),
            r"warmup_steps must be <= .* \(15 steps\), got 16",
        ),
        (lambda: S.one_cycle(0.1, 100)(101), r"step must be <= total_steps \(100\)"),
        (lambda: S.one_cycle(0.1, 10, 0.1), r"must be != 1 \(a warm-up phase of zero"),
        (lambda: S.join([S.constant(0.1)] * 2, []), r"boundaries must be 1 integers"),
        (lambda: S.cosine(0.1, 10)(-1), r"step must be an integer >= 0, got -1"),
        (
            lambda: S.create("cosin"),
            r"^unknown schedule 'cosin' \(did you mean 'cosine'\?\); "
            r"known schedules: con",
        ),
        (
            lambda: S.ReduceOnPlateau(_sgd(S.constant(0.1))),
            r"must be a number, not a schedule \(a scheduled lr cannot be reduced\)",
        ),
    ],
)
def test_error_messages_say_what_is_required(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_bad_metric_changes_no_state() -> None:
    plateau = S.ReduceOnPlateau(_sgd(), patience=0)
    plateau.step(1.0)
    before = plateau.state_dict()
    with pytest.raises(ValueError):
        plateau.step(None)  # type: ignore[arg-type]
    assert plateau.state_dict() == before


# --- description and serialization ------------------------------------------------


def test_repr_reads_as_the_call() -> None:
    s = S.linear_warmup(S.cosine(0.1, 900), 100)
    assert repr(s) == (
        "linear_warmup(schedule=cosine(lr=0.1, total_steps=900, final_lr=0.0), "
        "warmup_steps=100, start_lr=0.0)"
    )
    assert repr(S.multistep(0.1, (30, 80))) == (
        "multistep(lr=0.1, milestones=[30, 80], gamma=0.1)"
    )
    assert eval(repr(s), vars(S)) == s  # the repr is the call


@pytest.mark.parametrize("name", S.names())
def test_to_dict_round_trips_through_json(name: str) -> None:
    s = S.examples(500)[name]
    config = s.to_dict()
    assert config["name"] == name == s.name
    back = S.from_dict(json.loads(json.dumps(config)))
    assert back == s and hash(back) == hash(s)
    assert [back(k) for k in range(0, 500, 7)] == [s(k) for k in range(0, 500, 7)]


def test_a_plain_function_can_be_joined_but_not_serialized() -> None:
    s = S.join([S.constant(0.1), lambda t: 0.01], [10])
    assert s(9) == 0.1 and s(10) == 0.01
    with raises_about("join", "schedules[1]"):
        s.to_dict()


def test_lengths() -> None:
    assert S.cosine(0.1, 900).length == 900
    assert S.linear_warmup(S.cosine(0.1, 900), 100).length == 1000
    assert S.per_epoch(S.cosine(0.1, 10), 50).length == 500
    assert S.join([S.constant(0.1), S.one_cycle(0.1, 30)], [70]).length == 100
    assert S.step(0.1, 10).length is None
    assert S.linear_warmup(S.step(0.1, 10), 10_000).length is None  # no check then


def test_schedules_accept_numpy_integers_and_are_frozen() -> None:
    s = S.cosine(0.1, 100)
    assert s(np.int64(50)) == s(50)
    with pytest.raises(AttributeError):
        s.lr = 0.2  # type: ignore[misc]


def test_examples_cover_every_schedule_and_the_plateau_demo_reduces() -> None:
    assert list(S.examples(1000)) == S.names()
    lrs = S.plateau_example(1000)
    assert len(lrs) == 1000 and lrs[0] == 0.1
    assert all(b <= a for a, b in itertools.pairwise(lrs))
    assert lrs[-1] < 0.01


# --- properties ---------------------------------------------------------------------

lrs = st.floats(1e-6, 10.0)
steps = st.integers(0, 10_000)


@settings(max_examples=200, deadline=None)
@given(lr=lrs, frac=st.floats(0.0, 1.0), total=st.integers(1, 5000), step=steps)
@example(lr=0.99999, frac=0.037505184853045666, total=1, step=0)
def test_cosine_stays_within_final_lr_and_lr(
    lr: float, frac: float, total: int, step: int
) -> None:
    """Within [final_lr, lr] to rounding: torch's closed form, final + (lr − final)
    (1 + cos)/2, gives lr + 1 ulp at step 0 for some lr (0.99999 gives
    0.9999900000000002)."""
    s = S.cosine(lr, total, lr * frac)
    low, high = lr * frac, lr
    assert low - 2 * math.ulp(low) <= s(step) <= high + 2 * math.ulp(high)
    assert s(step + 1) <= s(step) + 2 * math.ulp(high)


@settings(max_examples=200, deadline=None)
@given(
    lr=lrs,
    total=st.integers(1, 2000),
    boundary=st.integers(1, 3000),
    step=steps,
    gamma=st.floats(0.5, 1.0),
)
def test_join_restarts_the_count_at_the_boundary(
    lr: float, total: int, boundary: int, step: int, gamma: float
) -> None:
    first, second = S.exponential(lr, gamma), S.cosine(lr, total)
    s = S.join([first, second], [boundary])
    expected = first(step) if step < boundary else second(step - boundary)
    assert s(step) == expected
    assert s(boundary) == second(0) == lr


@settings(max_examples=200, deadline=None)
@given(lr=lrs, warmup=st.integers(1, 500), start=st.floats(0.0, 1.0), step=steps)
def test_warmup_rises_linearly_into_the_schedule(
    lr: float, warmup: int, start: float, step: int
) -> None:
    inner = S.cosine(lr, 10_000)
    s = S.linear_warmup(inner, warmup, start * lr)
    if step >= warmup:
        assert s(step) == inner(step - warmup)
    else:
        assert start * lr <= s(step) <= lr
        assert s(step) == pytest.approx(start * lr + (lr - start * lr) * step / warmup)


@settings(max_examples=100, deadline=None)
@given(
    lr=lrs,
    period=st.integers(1, 200),
    mult=st.integers(1, 4),
    step=st.integers(0, 10**6),
)
def test_restarts_return_to_lr_at_each_period_start(
    lr: float, period: int, mult: int, step: int
) -> None:
    s = S.cosine_restarts(lr, period, mult)
    assert 0.0 <= s(step) <= lr
    start, length = 0, period
    while start + length <= step:
        start, length = start + length, length * mult
    assert s(start) == lr


def test_error_table_covers_every_schedule() -> None:
    owners = {case[0] for case in ERROR_CASES}
    assert set(S.names()) | {"ReduceOnPlateau"} <= owners


def test_docstring_examples() -> None:
    globs = {**vars(S), "optim": optim, "np": np}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    modules = [S, *(getattr(S, m) for m in ("closed_form", "registry", "plateau"))]
    tests = [t for m in modules for t in doctest.DocTestFinder().find(m, globs=globs)]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 20 and result.failed == 0


# --- the run builder and the tables of gdlab schedule ---------------------------------


def test_for_run_warms_up_then_decays_over_the_rest() -> None:
    s = S.for_run("cosine", 0.1, 1000, warmup=100)
    # the warm-up starts at lr/(W + 1), torch's LinearLR(start_factor=1/(W + 1))
    assert s == S.linear_warmup(S.cosine(0.1, 900), 100, start_lr=0.1 / 101)
    assert [s(k) for k in (0, 50, 100)] == pytest.approx([0.1 / 101, 5.1 / 101, 0.1])
    assert s(550) == pytest.approx(0.05)  # half-way through the 900 decay steps
    stepped = S.for_run("step", 0.1, 1000, warmup=200)  # step_size = 800 // 4
    assert [stepped(k) for k in (200, 399, 400, 600)] == [0.1, 0.1, 0.05, 0.025]
    assert S.for_run("constant", 0.1, 10, warmup=0) == S.constant(0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: S.for_run("cosine", 0.1, 10, warmup=10),
            r"schedule: warmup must be < the run's steps \(10\), got 10",
        ),
        (
            lambda: S.for_run("cosine", 0.1, 10, warmup=-1),
            r"schedule: warmup must be an integer >= 0, got -1",
        ),
        (
            lambda: S.argument_types("join"),
            r"schedule: name must be one of constant, step, .*, got 'join'",
        ),
        (
            lambda: S.table(S.one_cycle(0.1, 10), 20),
            r"schedule: steps must be at most the schedule's length, got 20 "
            r"\(one_cycle: step must be <= total_steps \(10\), got 19\)",
        ),
        (lambda: S.shown_steps(0), r"schedule: steps must be an integer >= 1, got 0"),
    ],
)
def test_run_builder_and_table_errors(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_shown_steps() -> None:
    assert S.shown_steps(1000, warmup=100) == [0, 100, 250, 500, 750, 999]
    assert S.shown_steps(1000) == [0, 100, 250, 500, 750, 999]
    assert S.shown_steps(40, warmup=3) == [0, 3, 4, 10, 20, 30, 39]
    assert S.shown_steps(5) == [0, 1, 2, 3, 4]
    assert S.shown_steps(1) == [0]


def test_table_of_a_warmed_cosine() -> None:
    s = S.for_run("cosine", 0.1, 1000, warmup=100)
    assert S.table(s, 1000, warmup=100).splitlines() == [
        "linear_warmup(schedule=cosine(lr=0.1, total_steps=900, final_lr=0.0), "
        "warmup_steps=100, start_lr=0.0009900990099009901)",
        "    step  lr",
        "       0  0.000990099",
        "     100  0.1",
        "     250  0.0933013",  # 0.05·(1 + cos(π·150/900))
        "     500  0.0586824",  # 0.05·(1 + cos(π·400/900))
        "     750  0.0178606",
        "     999  3.04617e-07",
    ]


def test_gallery_table_rows() -> None:
    curves = S.gallery(400)
    assert list(curves) == [*S.names(), "reduce_on_plateau"]
    lines = S.gallery_table(curves, 400).splitlines()
    assert lines[0] == f"{'schedule':<18}" + "".join(
        f"{f'step {k}':>12}" for k in (0, 100, 200, 300, 399)
    )
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in lines[1:]}
    assert rows["constant"] == [0.1] * 5
    assert rows["step"] == [0.1, 0.05, 0.025, 0.0125, 0.0125]  # ×0.5 every 100 steps
    assert rows["multistep"] == [0.1, 0.1, 0.01, 0.001, 0.001]  # at 200 and 300
    assert rows["exponential"] == pytest.approx(
        [0.1 * 0.01 ** (k / 400) for k in (0, 100, 200, 300, 399)], rel=1e-3
    )
    assert rows["reduce_on_plateau"][0] == 0.1


def test_tables_of_long_runs_keep_their_columns_apart() -> None:
    """Step numbers wider than the default columns widen them (no 'step 0step 25')."""
    curves = {"constant": S.for_run("constant", 0.1, 10**8)}
    header, row = S.gallery_table(curves, 10**8).splitlines()
    steps = ["0", "25000000", "50000000", "75000000", "99999999"]
    assert header.split() == ["schedule", *(w for k in steps for w in ("step", k))]
    assert len(header) == len(row) and row.split()[1:] == ["0.1"] * 5
    lines = S.table(S.for_run("cosine", 0.1, 10**9), 10**9).splitlines()
    assert lines[1] == "     step  lr"
    assert lines[-1] == "999999999  0"
    assert all(line[9:11] == "  " and line[:9].strip().isdigit() for line in lines[2:])


@pytest.mark.parametrize(
    ("name", "arguments", "field"),
    [
        ("step", {"step_size": 2**53 + 1}, "step_size"),
        ("cosine_restarts", {"period": 10**400}, "period"),
        ("cosine_restarts", {"period": 1, "period_mult": 10**400}, "period_mult"),
        ("multistep", {"milestones": [1, 10**400]}, "milestones[1]"),
        ("cosine", {"total_steps": 10**20}, "total_steps"),
    ],
)
def test_a_step_count_beyond_2_53_is_a_value_error(
    name: str, arguments: dict[str, Any], field: str
) -> None:
    with raises_about(name, field):
        S.create(name, lr=0.1, **arguments)


def test_restarts_with_a_huge_period_product_stay_finite() -> None:
    s = S.cosine_restarts(0.1, period=2, period_mult=2**53)
    assert s(2) == 0.1  # the second period is 2**54 steps long
    assert s(3) == pytest.approx(0.1)


def test_a_run_schedule_name_lists_only_run_schedules() -> None:
    for name in ("join", "linear_warmup", "per_epoch", "plateau"):
        with pytest.raises(ValueError) as error:
            S.argument_types(name)
        assert str(error.value) == (
            "schedule: name must be one of "
            + ", ".join(S.RUN_SCHEDULES)
            + f", got {name!r}"
        )
    assert S.argument_types("One-Cycle") == S.argument_types("one_cycle")
