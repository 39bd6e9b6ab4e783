"""Reports drawn from results: PNG plots, loss landscapes, the HTML reports.

This layer reads histories and results; it never trains. Every ``plot_*`` function
draws into ``ax`` (a new Figure when None), returns the Figure, and writes a PNG
only when ``path`` is given.
"""

from gdlab.report.benchmark import plot_profiles
from gdlab.report.compare import (
    plot_curves,
    plot_sensitivity,
    plot_test_metrics,
    plot_tunability,
)
from gdlab.report.landscape import (
    animate_trajectories,
    plot_loss_grid,
    plot_trajectories,
)
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
from gdlab.report.sensitivity import (
    plot_lr_sensitivity,
    plot_sharpness,
    plot_sharpness_accuracy,
)

__all__ = [
    "Curve",
    "animate_trajectories",
    "ema",
    "plot_accuracy",
    "plot_curves",
    "plot_loss_curves",
    "plot_loss_grid",
    "plot_lr_sensitivity",
    "plot_lrs",
    "plot_profiles",
    "plot_schedule_grid",
    "plot_schedules",
    "plot_sensitivity",
    "plot_sharpness",
    "plot_sharpness_accuracy",
    "plot_summary",
    "plot_test_metrics",
    "plot_trajectories",
    "plot_tunability",
]
