"""2-D test functions with analytic gradients and Hessians, and optimizer
trajectories over them — one run, or thousands at once::

    f = surfaces.get("rosenbrock")
    f.value([1.0, 1.0]), f.grad([[0.0, 0.0], [1.0, 1.0]])
    path = surfaces.trajectory(f, "adam", start=(-2.0, 2.0), steps=500, lr=0.01)
    paths = surfaces.trajectories(f, "sgd", starts=S, lr=L, steps=1000, momentum=M)
    print(surfaces.runs(f, ["sgd", "adam"], [1e-3, 0.01]).table())

One idea per module: :mod:`~gdlab.surfaces.catalogue` (the functions),
:mod:`~gdlab.surfaces.runner` (K runs as one array computation, with the real
optimizers), :mod:`~gdlab.surfaces.results` (labelled runs and their table) and
:mod:`~gdlab.surfaces.grid` (final losses over an (lr, hyperparameter) grid).
Pictures of them are in :mod:`gdlab.report.landscape`, loaded only when drawn.
"""

from gdlab.surfaces.catalogue import Surface, get, line_fit, names
from gdlab.surfaces.grid import LossGrid, loss_grid
from gdlab.surfaces.results import Trajectories, Trajectory, runs
from gdlab.surfaces.runner import (
    MAX_POINTS,
    MAX_STEPS,
    as_point,
    check_steps,
    diverged,
    final_points,
    first_nonfinite,
    trajectories,
    trajectory,
)

__all__ = [
    "MAX_POINTS",
    "MAX_STEPS",
    "LossGrid",
    "Surface",
    "Trajectories",
    "Trajectory",
    "as_point",
    "check_steps",
    "diverged",
    "final_points",
    "first_nonfinite",
    "get",
    "line_fit",
    "loss_grid",
    "names",
    "runs",
    "trajectories",
    "trajectory",
]
