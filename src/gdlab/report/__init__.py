"""Reports drawn from results: PNG plots, surface pictures, the HTML report.

This layer reads histories and results; it never trains.
"""

from gdlab.report.plots import (
    Curve,
    ema,
    plot_accuracy,
    plot_loss_curves,
    plot_lrs,
    plot_schedule_grid,
    plot_schedules,
    plot_summary,
)
from gdlab.report.surfaces import (
    animate_trajectories,
    plot_loss_grid,
    plot_trajectories,
)

__all__ = [
    "Curve",
    "animate_trajectories",
    "ema",
    "plot_accuracy",
    "plot_loss_curves",
    "plot_loss_grid",
    "plot_lrs",
    "plot_schedule_grid",
    "plot_schedules",
    "plot_summary",
    "plot_trajectories",
]
