"""Surfaces against torch autograd and closed forms; trajectories against torch.optim
and against single runs, bit for bit."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from gdlab import optim, schedules, surfaces

Tensor = torch.Tensor


def _torch_functions() -> dict[str, Callable[[Tensor, Tensor], Tensor]]:
    pi2 = 2 * math.pi
    return {
        "quadratic": lambda x, y: x**2 / 20 + y**2,
        "bowl": lambda x, y: x**2 + y**2,
        "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        "beale": lambda x, y: (
            (1.5 - x + x * y) ** 2
            + (2.25 - x + x * y**2) ** 2
            + (2.625 - x + x * y**3) ** 2
        ),
        "himmelblau": lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
        "rastrigin": lambda x, y: (
            20 + x**2 - 10 * torch.cos(pi2 * x) + y**2 - 10 * torch.cos(pi2 * y)
        ),
        "saddle": lambda x, y: x**2 / 2 + y**4 / 4 - y**2 / 2,
        # The seeds' regression: MSE of m*x + b on (1, 3), (2, 5).
        "regression": lambda m, b: ((m * 1 + b - 3) ** 2 + (m * 2 + b - 5) ** 2) / 2,
    }


TORCH = _torch_functions()


pytestmark = pytest.mark.usefixtures("torch_float64")


def test_names_cover_the_issue() -> None:
    assert surfaces.names() == list(TORCH)


@pytest.mark.parametrize("name", list(TORCH))
def test_value_grad_hessian_match_torch_autograd(name: str) -> None:
    f = surfaces.get(name)
    (x0, x1), (y0, y1) = f.bounds
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(x0, x1, 20), rng.uniform(y0, y1, 20)])
    values, grads, hessians = f.value(points), f.grad(points), f.hessian(points)
    assert values.shape == (20,) and grads.shape == (20, 2)
    assert hessians.shape == (20, 2, 2)
    for k, p in enumerate(points):
        xy = torch.tensor(p, requires_grad=True)
        value = TORCH[name](xy[0], xy[1])
        (grad,) = torch.autograd.grad(value, xy)
        hess = torch.autograd.functional.hessian(lambda t: TORCH[name](t[0], t[1]), xy)
        assert values[k] == pytest.approx(value.item(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(grads[k], grad.numpy(), rtol=1e-11, atol=1e-10)
        np.testing.assert_allclose(hessians[k], hess.numpy(), rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("name", list(TORCH))
def test_minima_are_stationary_with_the_stated_value(name: str) -> None:
    f = surfaces.get(name)
    for m in f.minima:
        np.testing.assert_allclose(f.grad(m), 0.0, atol=1e-12)
        assert float(f.value(m)) == pytest.approx(f.min_value, abs=1e-12)
        assert np.all(np.linalg.eigvalsh(f.hessian(m)) > 0)
    (x0, x1), (y0, y1) = f.bounds
    assert x0 < f.start[0] < x1 and y0 < f.start[1] < y1


def test_regression_is_the_seeds_worked_example() -> None:
    f = surfaces.get("regression")
    assert float(f.value([-1.0, 5.0])) == 2.5
    np.testing.assert_array_equal(f.grad([-1.0, 5.0]), [-3.0, -1.0])
    np.testing.assert_array_equal(f.hessian([-1.0, 5.0]), [[5.0, 3.0], [3.0, 2.0]])
    assert np.linalg.eigvalsh(f.hessian([0.0, 0.0]))[-1] == pytest.approx(
        (7 + math.sqrt(45)) / 2, rel=1e-14
    )
    assert f.minima == ((2.0, 1.0),) and f.labels == ("m", "b")


def test_functions_are_vectorized_over_leading_axes() -> None:
    f = surfaces.get("beale")
    xy = np.random.default_rng(1).uniform(-2, 2, (3, 4, 2))
    assert f.value(xy).shape == (3, 4)
    assert f.grad(xy).shape == (3, 4, 2)
    assert f.hessian(xy).shape == (3, 4, 2, 2)
    np.testing.assert_array_equal(f.grad(xy)[2, 1], f.grad(xy[2, 1]))


# --- trajectories against torch.optim ---------------------------------------------

TORCH_RUNS: list[tuple[str, str, dict[str, Any], int]] = [
    ("sgd", "quadratic", {"lr": 0.95}, 30),
    ("sgd", "rosenbrock", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}, 200),
    ("adam", "rosenbrock", {"lr": 0.01}, 300),
    ("adam", "beale", {"lr": 0.05, "amsgrad": True}, 200),
    ("rmsprop", "himmelblau", {"lr": 0.01, "centered": True, "momentum": 0.5}, 200),
    ("adagrad", "quadratic", {"lr": 1.5}, 30),
    ("adadelta", "saddle", {"lr": 1.0}, 200),
    ("nadam", "regression", {"lr": 0.1}, 200),
    ("radam", "rastrigin", {"lr": 0.05}, 200),
    ("adamax", "bowl", {"lr": 0.1}, 100),
    ("adamw", "rosenbrock", {"lr": 0.01, "weight_decay": 0.1}, 200),
]


def torch_trajectory(
    name: str, surface: str, hyper: dict[str, Any], steps: int, start: Any
) -> np.ndarray:
    """``torch.optim`` on a 2-element tensor, gradients from autograd."""
    classes = {
        "sgd": torch.optim.SGD,
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "rmsprop": torch.optim.RMSprop,
        "adagrad": torch.optim.Adagrad,
        "adadelta": torch.optim.Adadelta,
        "nadam": torch.optim.NAdam,
        "radam": torch.optim.RAdam,
        "adamax": torch.optim.Adamax,
    }
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = classes[name]([xy], **hyper)
    path = [xy.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        TORCH[surface](xy[0], xy[1]).backward()
        opt.step()
        path.append(xy.detach().numpy().copy())
    return np.array(path)


@pytest.mark.parametrize(("name", "surface", "hyper", "steps"), TORCH_RUNS)
def test_trajectory_equals_torch_optim(
    name: str, surface: str, hyper: dict[str, Any], steps: int
) -> None:
    f = surfaces.get(surface)
    path = surfaces.trajectory(f, name, f.start, steps=steps, **hyper)
    expected = torch_trajectory(name, surface, hyper, steps, f.start)
    assert path.shape == (steps + 1, 2)
    np.testing.assert_allclose(path, expected, rtol=1e-10, atol=1e-12)


def test_a_schedule_as_lr_equals_torch_with_that_lr_each_step() -> None:
    f = surfaces.get("rosenbrock")
    schedule = schedules.create("cosine", lr=0.05, total_steps=150)
    path = surfaces.trajectory(f, "adam", (-1.5, 2.0), lr=schedule, steps=150)
    xy = torch.tensor([-1.5, 2.0], requires_grad=True)
    opt = torch.optim.Adam([xy], lr=0.05)
    for t in range(150):
        opt.param_groups[0]["lr"] = schedule(t)
        opt.zero_grad()
        TORCH["rosenbrock"](xy[0], xy[1]).backward()
        opt.step()
    np.testing.assert_allclose(path[-1], xy.detach().numpy(), rtol=1e-10)


# --- many runs at once equal single runs, bit for bit -----------------------------


def single_run(
    f: surfaces.Surface, name: str, start: np.ndarray, steps: int, **hyper: Any
) -> np.ndarray:
    """One run with a gdlab optimizer on its own 2-vector: the reference."""
    w = {"w": np.array(start, dtype=np.float64)}
    opt = optim.create(name, w, **hyper)
    path = [w["w"].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            opt.step({"w": f.grad(w["w"])})
            path.append(w["w"].copy())
    return np.array(path)


@pytest.mark.parametrize("name", ["adam", "nadam", "adamp"])
def test_vectorized_runs_equal_single_runs_with_shared_hyperparameters(
    name: str,
) -> None:
    f = surfaces.get("rosenbrock")
    starts = np.random.default_rng(2).uniform(-2, 2, (25, 2))
    paths = surfaces.trajectories(f, name, starts, lr=0.02, steps=60)
    assert paths.shape == (61, 25, 2)
    for k in range(25):
        expected = single_run(f, name, starts[k], 60, lr=0.02)
        np.testing.assert_array_equal(paths[:, k], expected)


def test_vectorized_runs_equal_single_runs_with_per_run_hyperparameters() -> None:
    f = surfaces.get("himmelblau")
    rng = np.random.default_rng(3)
    k = 40
    starts = rng.uniform(-4, 4, (k, 2))
    lrs = rng.choice([1e-3, 3e-3, 1e-2], k)
    momenta = rng.choice([0.0, 0.5, 0.9], k).tolist()
    nesterov = [bool(m > 0.6) for m in momenta]
    paths = surfaces.trajectories(
        f, "sgd", starts, lr=lrs, steps=80, momentum=momenta, nesterov=nesterov
    )
    for j in range(k):
        expected = single_run(
            f,
            "sgd",
            starts[j],
            80,
            lr=float(lrs[j]),
            momentum=momenta[j],
            nesterov=nesterov[j],
        )
        np.testing.assert_array_equal(paths[:, j], expected)


def test_per_run_betas_are_rows() -> None:
    f = surfaces.get("beale")
    betas = np.array([[0.9, 0.999], [0.5, 0.9], [0.9, 0.999]])
    starts = np.array([[1.0, 1.5], [1.0, 1.5], [-1.0, 1.0]])
    paths = surfaces.trajectories(f, "adam", starts, lr=0.05, steps=30, betas=betas)
    for j in range(3):
        expected = single_run(f, "adam", starts[j], 30, lr=0.05, betas=tuple(betas[j]))
        np.testing.assert_array_equal(paths[:, j], expected)


def test_trajectory_is_the_single_run() -> None:
    f = surfaces.get("rosenbrock")
    path = surfaces.trajectory(f, "adam", start=(-2.0, 2.0), steps=500, lr=0.01)
    np.testing.assert_array_equal(path, single_run(f, "adam", f.start, 500, lr=0.01))


def test_presets_are_sgd_with_momentum() -> None:
    f = surfaces.get("quadratic")
    np.testing.assert_array_equal(
        surfaces.trajectory(f, "nesterov", lr=0.1, steps=20),
        single_run(f, "sgd", f.start, 20, lr=0.1, momentum=0.9, nesterov=True),
    )
    np.testing.assert_array_equal(
        surfaces.trajectory(f, "momentum", lr=0.1, steps=20),
        single_run(f, "sgd", f.start, 20, lr=0.1, momentum=0.9),
    )


# --- divergence ---------------------------------------------------------------------


def test_divergent_runs_overflow_quietly_and_are_reported() -> None:
    f = surfaces.get("regression")
    starts = np.repeat([[-1.0, 5.0]], 3, axis=0)
    # pytest turns warnings into errors: an overflow warning would fail here.
    paths = surfaces.trajectories(f, "sgd", starts, lr=[0.5, 0.1, 0.005], steps=1500)
    assert not np.all(np.isfinite(paths[-1, 0]))
    assert np.all(np.isfinite(paths[:, 1:]))
    bad = surfaces.first_nonfinite(paths)
    assert bad[0] > 0 and list(bad[1:]) == [-1, -1]
    assert surfaces.diverged(f, paths).tolist() == [True, False, False]
    np.testing.assert_array_equal(
        paths[:, 1], single_run(f, "sgd", starts[1], 1500, lr=0.1)
    )


@pytest.mark.parametrize("lr", [0.5, 0.1, 0.005])
def test_regression_runs_follow_the_closed_form_of_gradient_descent(lr: float) -> None:
    """θ_n = θ* + (I − ηH)^n (θ_0 − θ*) for plain GD on a quadratic."""
    f = surfaces.get("regression")
    (run,) = surfaces.runs(f, ["sgd"], [lr], start=(-1.0, 5.0), steps=100)
    h = np.array([[5.0, 3.0], [3.0, 2.0]])
    minimum = np.array([2.0, 1.0])
    error = np.linalg.matrix_power(np.eye(2) - lr * h, 100) @ (
        np.array([-1.0, 5.0]) - minimum
    )
    np.testing.assert_allclose(run.final, minimum + error, rtol=1e-9, atol=1e-12)
    assert run.final_loss == pytest.approx(0.5 * error @ h @ error, rel=1e-9)
    assert run.start_loss == 2.5
    assert run.diverged == (lr == 0.5)


def test_runs_pair_optimizers_with_lrs() -> None:
    out = surfaces.runs(
        "quadratic",
        ["sgd", "momentum", "adagrad", "adam"],
        [0.95, 0.1, 1.5, 0.3],
        steps=30,
    )
    assert [r.label for r in out] == [
        "sgd (lr=0.95)",
        "momentum (lr=0.1)",
        "adagrad (lr=1.5)",
        "adam (lr=0.3)",
    ]
    assert all(r.path.shape == (31, 2) for r in out)
    assert out[1].hyper == {"momentum": 0.9}
    assert [r.lr for r in surfaces.runs("bowl", ["sgd", "adam"], steps=2)] == [
        1e-3,
        1e-3,
    ]


def test_loss_grid_equals_cell_by_cell_runs() -> None:
    f = surfaces.get("rosenbrock")
    lrs, momenta = np.geomspace(1e-4, 3e-3, 4), np.array([0.0, 0.5, 0.9])
    grid = surfaces.loss_grid(f, "sgd", lrs, momenta, steps=120)
    assert grid.final_loss.shape == (3, 4)
    for i, m in enumerate(momenta):
        for j, lr in enumerate(lrs):
            final = single_run(f, "sgd", f.start, 120, lr=lr, momentum=m)[-1]
            assert grid.final_loss[i, j] == pytest.approx(
                float(f.value(final)), rel=1e-15, nan_ok=True
            )
    lr, m, loss = grid.best()
    assert loss == np.nanmin(np.where(grid.diverged, np.inf, grid.final_loss))
    assert lr in lrs and m in momenta


def test_table_shows_each_run_and_how_it_ended() -> None:
    out = surfaces.runs(
        "regression", ["sgd"], [0.5, 0.1, 0.005], start=(-1.0, 5.0), steps=30
    )
    assert out.table().splitlines() == [
        "regression: MSE(m, b) = ½[(m + b − 3)² + (2m + b − 5)²]; minimum 0 at (2, 1)",
        "start (-1, 5), MSE 2.5; 30 steps",
        f"{'optimizer':<12}{'lr':>9}{'final (m, b)':>32}{'final MSE':>15}  diverged",
        "sgd               0.5    (-1.36267e+11, -8.42178e+10)     8.7943e+22  yes",
        "sgd               0.1             (0.315439, 3.72568)       0.748972  no",
        "sgd             0.005            (-0.695522, 5.06141)        1.81679  no",
    ]
    assert list(out.paths()) == [
        "sgd (lr=0.5), diverged",
        "sgd (lr=0.1)",
        "sgd (lr=0.005)",
    ]
    assert out.paths()["sgd (lr=0.1)"] is out[1].path
    blown = surfaces.runs("rosenbrock", ["sgd"], [0.1], steps=12).table()
    assert blown.splitlines()[-1].endswith("nan  yes (overflow at step 6)")
    empty = surfaces.Trajectories(surfaces.get("bowl")).table().splitlines()
    assert empty == [
        "bowl: f(x, y) = x² + y²; minimum 0 at (0, 0)",
        f"{'optimizer':<12}{'lr':>9}{'final (x, y)':>32}{'final f':>15}  diverged",
    ]


def test_loss_grid_summary_names_the_best_cell_unless_all_diverged() -> None:
    grid = surfaces.loss_grid(
        "bowl", "sgd", [0.1, 2.0], [0.2, 0.5], steps=10, nesterov=True
    )
    assert grid.label == "sgd (nesterov=True)"
    assert grid.summary() == (
        "bowl: sgd (nesterov=True), 2x2 runs of 10 steps from (-4, 3); 2 diverged; "
        "best lr 0.1, momentum 0.5: final loss 0.002808"
    )
    lost = surfaces.loss_grid("bowl", "sgd", [1.5, 2.0], [0.2], steps=10)
    assert bool(lost.diverged.all())
    assert lost.summary() == (
        "bowl: sgd, 2x1 runs of 10 steps from (-4, 3); 2 diverged"
    )
    with pytest.raises(
        ValueError, match=r"^LossGrid: every one of the 2 runs diverged$"
    ):
        lost.best()


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: surfaces.get("bumpy"),
            r"surfaces: the surface must be one of quadratic, bowl, rosenbrock.*"
            r"got 'bumpy'",
        ),
        (
            lambda: surfaces.trajectory("bowl", "adamx"),
            r"unknown optimizer 'adamx' \(did you mean 'adamax'\?\); "
            r"known optimizers: sgd, .*nesterov",
        ),
        (
            lambda: surfaces.trajectory("bowl", "sgd", start=(1.0, 2.0, 3.0)),
            r"trajectory: start must be a finite point \(x, y\), "
            r"got \(1\.0, 2\.0, 3\.0\)",
        ),
        (
            lambda: surfaces.trajectories("bowl", "sgd", starts=[1.0, 2.0]),
            r"trajectories: starts must be an array of shape \(K, 2\) with K >= 1, "
            r"got \(2,\)",
        ),
        (
            lambda: surfaces.trajectories("bowl", "sgd", [[1.0, np.nan]]),
            r"trajectories: starts must be finite",
        ),
        (
            lambda: surfaces.trajectory("bowl", "sgd", steps=0),
            r"trajectories: steps must be an integer >= 1, got 0",
        ),
        (
            lambda: surfaces.trajectory("bowl", "sgd", lr=-0.1),
            r"SGD: lr must be >= 0, got -0\.1",
        ),
        (
            lambda: surfaces.trajectories("bowl", "sgd", [[1.0, 2.0]] * 3, lr=[0.1]),
            r"trajectories: lr must be a scalar or one value per run \(3\), got 1",
        ),
        (
            lambda: surfaces.trajectory("bowl", "adam", lr=0.1, betas=(1.0, 0.9)),
            r"Adam: betas\[0\] must be in \[0, 1\), got 1\.0",
        ),
        (
            lambda: surfaces.get("bowl").value([1.0, 2.0, 3.0]),
            r"bowl: xy must be an array of shape \(\.\.\., 2\), got \(3,\)",
        ),
        (
            lambda: surfaces.runs("bowl", ["sgd", "adam"], [0.1, 0.2, 0.3]),
            r"surface runs: lrs must be one per optimizer \(2\), or a single one, "
            r"got 3",
        ),
    ],
)
def test_errors_name_the_problem(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_paths_that_would_take_over_a_gibibyte_are_refused_up_front() -> None:
    starts = np.zeros((100, 2))
    with pytest.raises(ValueError) as error:
        surfaces.trajectories("quadratic", "sgd", starts, lr=0.1, steps=700_000)
    assert str(error.value) == (
        "trajectories: steps must be <= 671,087 for 100 run(s): the paths would "
        "take 1.04 GiB (the limit is 1 GiB), got 700000"
    )
    assert surfaces.trajectories("quadratic", "sgd", starts, steps=3).shape == (
        4,
        100,
        2,
    )


def test_a_grid_of_too_many_runs_times_steps_is_refused() -> None:
    lrs, values = np.geomspace(1e-3, 1e-1, 100), np.linspace(0, 0.9, 100)
    with pytest.raises(ValueError, match=r"steps must be <= 200 for 10000 cells"):
        surfaces.loss_grid("rosenbrock", "sgd", lrs, values, steps=201)
    with pytest.raises(ValueError, match="optimizer must be one that takes momentum"):
        surfaces.loss_grid("rosenbrock", "adam", lrs[:2], values[:2], steps=2)
    with pytest.raises(ValueError, match=r"\*\*hyper momentum must be left out"):
        surfaces.loss_grid("rosenbrock", "sgd", lrs[:2], values[:2], momentum=0.5)


def test_every_run_in_the_table_shows_its_lr() -> None:
    table = surfaces.runs("quadratic", ["sgd", "adam"], steps=2).table()
    assert "default" not in table
    assert [line.split()[:2] for line in table.splitlines()[3:]] == [
        ["sgd", "0.001"],
        ["adam", "0.001"],
    ]


def test_a_rule_that_needs_a_closure_is_refused_on_surfaces() -> None:
    """L-BFGS's line search re-evaluates the loss within a step; batched runs of
    a surface share one step, so it is refused with a reason, not run wrong."""
    with pytest.raises(ValueError, match=r"lbfgs re-evaluates the loss within"):
        surfaces.trajectory(surfaces.get("quadratic"), "lbfgs", [1.0, 1.0], steps=5)
    assert not any(optim.get(n).needs_closure for n in optim.names() if n != "lbfgs")
