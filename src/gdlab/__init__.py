"""gdlab: a laboratory for gradient-descent optimization."""

from gdlab import data, lab, losses, models, optim, report, schedules, surfaces
from gdlab.params import Params

__version__ = "0.1.0"

__all__ = [
    "Params",
    "__version__",
    "data",
    "lab",
    "losses",
    "models",
    "optim",
    "report",
    "schedules",
    "surfaces",
]
