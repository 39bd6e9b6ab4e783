"""Optimizers with torch.optim's names, defaults and numbers, fused over one buffer.

``create(name, params, **hyper)`` builds one by its registry name; ``names()`` lists
them. A registry name is the class name in lower case.
"""

from __future__ import annotations

from typing import Any

from gdlab.optim.adadelta import Adadelta
from gdlab.optim.adagrad import Adagrad
from gdlab.optim.adam import Adam, AdamW
from gdlab.optim.adamax import Adamax
from gdlab.optim.adamp import AdamP
from gdlab.optim.base import LearningRate, Optimizer, ParamsLike, Schedule
from gdlab.optim.nadam import NAdam
from gdlab.optim.radam import RAdam
from gdlab.optim.rmsprop import RMSprop
from gdlab.optim.sgd import SGD

_CLASSES: tuple[type[Optimizer], ...] = (
    SGD,
    Adagrad,
    Adadelta,
    RMSprop,
    Adam,
    AdamW,
    NAdam,
    RAdam,
    Adamax,
    AdamP,
)

REGISTRY: dict[str, type[Optimizer]] = {cls.__name__.lower(): cls for cls in _CLASSES}


PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
}
"""Names a user may give beside the registry's: SGD with (Nesterov) momentum 0.9."""


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """The registry name and preset hyperparameters of an optimizer or preset name."""
    key = name.lower() if isinstance(name, str) else name
    if key in PRESETS:
        return PRESETS[key]
    if key in REGISTRY:
        return key, {}
    known = ", ".join([*REGISTRY, *PRESETS])
    raise ValueError(f"unknown optimizer {name!r}; known optimizers: {known}")


def names() -> list[str]:
    """The registry names of all optimizers, e.g. ``["sgd", "adam", ...]``."""
    return list(REGISTRY)


def get(name: str) -> type[Optimizer]:
    """The optimizer class registered under ``name`` (case-insensitive)."""
    try:
        return REGISTRY[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown optimizer {name!r}; known optimizers: {', '.join(REGISTRY)}"
        ) from None


def create(
    name: str, params: Any, lr: LearningRate | None = None, **hyper: Any
) -> Optimizer:
    """Build the optimizer registered under ``name``: ``create("adam", p, lr=1e-3)``."""
    return get(name)(params, lr, **hyper)


__all__ = [
    "PRESETS",
    "REGISTRY",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamP",
    "AdamW",
    "Adamax",
    "LearningRate",
    "NAdam",
    "Optimizer",
    "ParamsLike",
    "RAdam",
    "RMSprop",
    "Schedule",
    "create",
    "get",
    "names",
    "resolve",
]
