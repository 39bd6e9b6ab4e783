"""Optimizers with torch.optim's names, defaults and numbers, fused over one buffer.

``create(name, params, **hyper)`` builds one by its registry name or a preset's
(``create("nesterov", p, lr=0.05)``), or a ``torch.optim`` one as ``torch:Adam``
(:mod:`gdlab.optim.torch`); ``names()`` lists gdlab's. ``register(name, cls)``
adds a user's optimizer so that every command that takes a name knows it;
installed packages may register theirs through the ``gdlab.optimizers`` entry-point
group, loaded the first time a name is not found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from gdlab import _checks, plugins
from gdlab.optim.adadelta import Adadelta
from gdlab.optim.adafactor import Adafactor
from gdlab.optim.adagrad import Adagrad
from gdlab.optim.adam import Adam, AdamW
from gdlab.optim.adamax import Adamax
from gdlab.optim.adamp import AdamP
from gdlab.optim.asgd import ASGD
from gdlab.optim.base import (
    STATE_KINDS,
    LearningRate,
    LrSchedule,
    Optimizer,
    ParamsLike,
)
from gdlab.optim.lbfgs import LBFGS
from gdlab.optim.lion import Lion
from gdlab.optim.muon import Muon
from gdlab.optim.nadam import NAdam
from gdlab.optim.radam import RAdam
from gdlab.optim.rmsprop import RMSprop
from gdlab.optim.rprop import Rprop
from gdlab.optim.schedulefree import AdamWScheduleFree, SGDScheduleFree
from gdlab.optim.sgd import SGD
from gdlab.optim.shampoo import Shampoo
from gdlab.optim.space import PAIRS, Axis, hyperparameter

ENTRY_POINT_GROUP = "gdlab.optimizers"
"""The entry-point group an installed package registers its optimizers under."""
PLUGINS_ENV = plugins.ENV
"""Plugins loaded with :func:`load_plugin`, for worker processes to load too
(:data:`gdlab.plugins.ENV`)."""


@dataclass(frozen=True)
class Preset:
    """A name for an optimizer with some hyperparameters fixed (``"nesterov"``)."""

    base: str
    hyper: dict[str, Any] = field(default_factory=dict)
    suggested_lr: float | None = None

    @property
    def cls(self) -> type[Optimizer]:
        return REGISTRY[self.base]


REGISTRY: dict[str, type[Optimizer]] = {}
"""Registry name -> optimizer class, in the order they were registered."""
_TORCH: dict[str, type[Optimizer]] = {}
"""``torch:name`` -> the class wrapping that ``torch.optim`` optimizer
(:mod:`gdlab.optim.torch`), made when first named; not among :func:`names`."""
PRESETS: dict[str, Preset] = {}
"""Preset name -> the optimizer it names and the hyperparameters it fixes."""
_entry_points_loaded = False


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(
            f"register: name must be a lower-case identifier, got {name!r}"
        )
    if name in REGISTRY or name in PRESETS:
        raise ValueError(f"register: {name!r} is already registered")
    return name


def _check_class(name: str, cls: object) -> type[Optimizer]:
    """Refuse a class whose declarations the rest of gdlab could not use."""
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)) or cls is Optimizer:
        raise ValueError(
            f"register: {name!r} must be a subclass of gdlab.optim.Optimizer, "
            f"got {cls!r}"
        )
    owner = f"register({name!r})"
    if not isinstance(cls.defaults, dict) or "lr" not in cls.defaults:
        raise ValueError(f"{owner}: {cls.__name__}.defaults must be a dict with 'lr'")
    try:
        group = dict(cls.defaults)
        cls.check(group)
        default = group["lr"]  # check() leaves the lr to the constructor
        if not (
            isinstance(default, int | float)
            and not isinstance(default, bool)
            and math.isfinite(default)
            and default > 0
        ):
            raise ValueError(f"defaults['lr'] must be a number > 0, got {default!r}")
        value = default if cls.suggested_lr is None else cls.suggested_lr
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"suggested_lr must be a number > 0, got {value!r}")
        kinds = set(cls.state_spec.values()) - set(STATE_KINDS)
        if kinds:
            raise ValueError(f"state_spec kinds must be {STATE_KINDS}, got {kinds}")
    except ValueError as error:
        raise ValueError(f"{owner}: {cls.__name__}'s {error}") from None
    if "lr" not in cls.search_space or not all(
        isinstance(a, Axis) for a in cls.search_space.values()
    ):
        raise ValueError(
            f"{owner}: {cls.__name__}.search_space must map 'lr' (and any other "
            "hyperparameter to tune) to an Axis of gdlab.optim.space"
        )
    odd = sorted(a for a in cls.search_space if hyperparameter(a) not in cls.defaults)
    if odd:
        raise ValueError(
            f"{owner}: {cls.__name__}.search_space has axes for no hyperparameter: "
            f"{odd}"
        )
    return cls


def register(name: str, cls: type[Optimizer]) -> type[Optimizer]:
    """Make ``cls`` known by ``name`` to every API and command that takes one.

    The class must subclass :class:`Optimizer` and declare ``defaults`` (with
    ``lr``), valid ``constraints`` and a ``search_space`` with an ``lr`` axis.
    Returns ``cls``, so it also works as a decorator argument.
    """
    REGISTRY[_check_name(name)] = _check_class(name, cls)
    return cls


def register_preset(
    name: str, base: str, *, suggested_lr: float | None = None, **hyper: Any
) -> None:
    """Name ``base`` with ``hyper`` fixed: ``register_preset("nesterov", "sgd",
    momentum=0.9, nesterov=True)``; the hyperparameters are checked now."""
    _check_name(name)
    cls = get(base)
    group = {**cls.defaults, **hyper}
    unknown = sorted(set(hyper) - set(cls.defaults))
    if unknown:
        raise ValueError(
            f"register_preset: {base} has no hyperparameter {unknown[0]!r}"
        )
    cls.check(group)
    PRESETS[name] = Preset(base.lower(), {k: group[k] for k in hyper}, suggested_lr)


load_plugin = plugins.load
"""Import a plugin (a module name or a ``.py`` file) once per process and add it to
``$GDLAB_PLUGINS``: :func:`gdlab.plugins.load`."""
plugins_in_env = plugins.listed
"""The plugins ``$GDLAB_PLUGINS`` names: :func:`gdlab.plugins.listed`."""


def _load_entry_points() -> None:
    """Import the plugins installed under :data:`ENTRY_POINT_GROUP` and those named
    in ``$GDLAB_PLUGINS``, once."""
    global _entry_points_loaded
    if not _entry_points_loaded:
        _entry_points_loaded = True
        for point in entry_points(group=ENTRY_POINT_GROUP):
            point.load()
        plugins.load_listed()


def _torch(key: str) -> str:
    """``torch:name``'s key, its class made (once) by :mod:`gdlab.optim.torch`;
    a ValueError when torch is missing or has no such optimizer."""
    if key not in _TORCH:
        try:
            from gdlab.optim import torch as wrapped
        except ModuleNotFoundError as error:
            if error.name != "torch":
                raise
            raise ValueError(
                f"optimizer {key!r} runs torch.optim, and PyTorch is not installed: "
                "pip install 'gdlab[torch]'"
            ) from None
        cls = wrapped.find(key.partition(":")[2])
        name = f"torch:{cls.__name__}"
        _TORCH[key] = wrapped.wrap(cls, name=name, like=REGISTRY.get(key[6:]))
    return key


def _class(key: str) -> type[Optimizer]:
    return _TORCH[key] if key.startswith("torch:") else REGISTRY[key]


def _lookup(name: object) -> str | None:
    """The registry key of ``name``: case-insensitive, ``-`` standing for ``_``
    (``schedulefree-adamw`` is ``schedulefree_adamw``, as schedules read);
    ``torch:Adam`` is ``torch:adam``."""
    key = name.lower().replace("-", "_") if isinstance(name, str) else None
    if key is not None and key.startswith("torch:"):
        return _torch(key)
    if key is not None and key not in REGISTRY and key not in PRESETS:
        _load_entry_points()
    return key if key in REGISTRY or key in PRESETS else None


def _unknown(name: object) -> ValueError:
    known = [*REGISTRY, *PRESETS]
    failed = plugins.failures()
    return ValueError(
        f"unknown optimizer {name!r}{_checks.did_you_mean(name, known)}; "
        f"known optimizers: {', '.join(known)}{failed}"
    )


def resolve(name: str) -> tuple[str, dict[str, Any]]:
    """The registry name and preset hyperparameters of an optimizer or preset name."""
    key = _lookup(name)
    if key is None:
        raise _unknown(name)
    if key in PRESETS:
        return PRESETS[key].base, dict(PRESETS[key].hyper)
    return key, {}


def names(*, presets: bool = False) -> list[str]:
    """The registry names, e.g. ``["sgd", "adam", ...]`` (and the presets')."""
    return [*REGISTRY, *PRESETS] if presets else list(REGISTRY)


def get(name: str) -> type[Optimizer]:
    """The optimizer class that ``name`` (a registry or preset name) builds."""
    return _class(resolve(name)[0])


def suggested_lr(name: str) -> float:
    """The learning rate to try first for ``name`` (a preset may set its own)."""
    key = _lookup(name)
    if key in PRESETS and PRESETS[key].suggested_lr is not None:
        return float(PRESETS[key].suggested_lr)  # type: ignore[arg-type]
    cls = get(name)
    return float(cls.defaults["lr"] if cls.suggested_lr is None else cls.suggested_lr)


def search_space(name: str) -> dict[str, Axis]:
    """The tunable axes of ``name``: its class's search space."""
    return dict(get(name).search_space)


def create(
    name: str, params: Any, lr: LearningRate | None = None, **hyper: Any
) -> Optimizer:
    """Build the optimizer that ``name`` names, a preset's values under ``hyper``:
    ``create("adam", p, lr=1e-3)``, ``create("nesterov", p, lr=0.05)``."""
    base, preset = resolve(name)
    return _class(base)(params, lr, **{**preset, **hyper})


for _cls in (
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
    Lion,
    Rprop,
    ASGD,
    Adafactor,
    Muon,
    LBFGS,
    Shampoo,
):
    register(_cls.__name__.lower(), _cls)
register("schedulefree_adamw", AdamWScheduleFree)
register("schedulefree_sgd", SGDScheduleFree)
register_preset("momentum", "sgd", momentum=0.9, suggested_lr=0.05)
register_preset("nesterov", "sgd", momentum=0.9, nesterov=True, suggested_lr=0.05)

__all__ = [
    "ASGD",
    "ENTRY_POINT_GROUP",
    "LBFGS",
    "PAIRS",
    "PRESETS",
    "REGISTRY",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamP",
    "AdamW",
    "AdamWScheduleFree",
    "Adamax",
    "Axis",
    "LearningRate",
    "Lion",
    "LrSchedule",
    "Muon",
    "NAdam",
    "Optimizer",
    "ParamsLike",
    "Preset",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SGDScheduleFree",
    "Shampoo",
    "create",
    "get",
    "load_plugin",
    "names",
    "plugins_in_env",
    "register",
    "register_preset",
    "resolve",
    "search_space",
    "suggested_lr",
]
