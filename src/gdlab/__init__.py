"""gdlab: a laboratory for gradient-descent optimization.

``import gdlab`` loads NumPy (and Numba, which compiles the update rules) and
nothing heavier: matplotlib and SciPy load where they are used, the
subpackages when first touched (``gdlab.report``, ``gdlab.lab``, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

from gdlab import optim
from gdlab.params import Params


def _version() -> str:
    """``__version__``, by :func:`__getattr__`: ``importlib.metadata`` takes 40 ms
    to import, so only a caller who asks pays for it."""
    from importlib import metadata

    try:
        return metadata.version("gdlab")
    except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
        return "0+unknown"


__version__: str
"""gdlab's version, read from the installed package's metadata when first asked
for: pyproject.toml holds the one copy, and ``gdlab --version`` prints this."""

SUBPACKAGES = (
    "callbacks",
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
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    if name in SUBPACKAGES:
        return importlib.import_module(f"gdlab.{name}")
    raise AttributeError(f"module 'gdlab' has no attribute {name!r}")


__all__ = ["Params", "__version__", "optim", *SUBPACKAGES]
