"""Reports: PNG plots (and later HTML) drawn from results; this layer never trains."""

from gdlab.report.plots import Curve, plot_schedule_grid, plot_schedules

__all__ = ["Curve", "plot_schedule_grid", "plot_schedules"]
