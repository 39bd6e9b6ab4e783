"""gdlab: a laboratory for gradient-descent optimization.

``import gdlab`` loads NumPy (and Numba, which compiles the update rules) and
nothing heavier: matplotlib, SciPy and scikit-learn load where they are used, the
subpackages when first touched (``gdlab.report``, ``gdlab.lab``, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

from gdlab import optim
from gdlab.params import Params

__version__ = "0.1.0"

SUBPACKAGES = (
    "checkpoint",
    "data",
    "experiment",
    "history",
    "lab",
    "losses",
    "models",
    "outputs",
    "playground",
    "report",
    "schedules",
    "surfaces",
    "testing",
    "train",
    "train_config",
)


def __getattr__(name: str) -> Any:
    if name in SUBPACKAGES:
        return importlib.import_module(f"gdlab.{name}")
    raise AttributeError(f"module 'gdlab' has no attribute {name!r}")


__all__ = ["Params", "__version__", "optim", *SUBPACKAGES]
