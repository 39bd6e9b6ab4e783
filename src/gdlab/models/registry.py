"""Models by name: ``register(name, build)``, and ``build(text, dataset, ...)``.

A builder makes a model for a dataset::

    def build(dataset, *, seed, dtype, **options) -> TrainableModel

``options`` come from the spec text ``name:key=value,...`` (see
:mod:`gdlab.registry`); a builder may name one option its *shorthand*, so that
``mlp:784-100-10`` is ``mlp:sizes=784-100-10``. gdlab's own models (``mlp``,
``softmax``, ``linear`` and the workloads' ``quadratic-deep`` and
``autoencoder``) are registered here the same way a user's are; installed
packages register theirs under the ``gdlab.models`` entry-point group::

    from gdlab import models
    models.register("my-net", lambda dataset, *, seed, dtype, width=32: MyNet(...))
    # gdlab compare --plugin my_net.py --model my-net:width=64

Every model built is checked before anything trains: it has the members of
:class:`~gdlab.models.TrainableModel`, at least one parameter, and its ``loss``
on two training samples is one real number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from gdlab import _checks, registry
from gdlab.data import Dataset
from gdlab.models.protocol import TrainableModel
from gdlab.params import Params

Builder = Callable[..., TrainableModel]
"""``build(dataset, *, seed, dtype, **options) -> TrainableModel``."""

GROUP = "gdlab.models"
"""The entry-point group installed packages register their models under."""
OWNER = "model"
"""The owner of every error about a model spec (the CLI's ``--model``)."""


@dataclass(frozen=True)
class Entry:
    """A registered builder and the option its shorthand fills (None: none)."""

    build: Builder
    shorthand: str | None = None


MODELS: registry.Registry[Entry] = registry.Registry("model", GROUP)
"""Name -> its builder, in registration order."""


def register(name: str, build: Builder, *, shorthand: str | None = None) -> Builder:
    """Make ``build`` known by ``name`` to every API and command that takes a
    model (``RunSpec.model``, ``--model``); returns ``build``. ``shorthand``
    names the option that text after the colon without ``=`` fills. A name
    registered twice is refused."""
    if not callable(build):
        _checks.fail(f"register({name!r})", "build", "a callable", build)
    if shorthand is not None and not str(shorthand).isidentifier():
        _checks.fail(f"register({name!r})", "shorthand", "an identifier", shorthand)
    MODELS.add(name, Entry(build, shorthand))
    return build


def names() -> tuple[str, ...]:
    """The registered model names."""
    return MODELS.names()


def parse(text: str) -> tuple[str, dict[str, Any]]:
    """``"mlp:784-100-10,init=zeros"`` -> ("mlp", {"sizes": "784-100-10", "init":
    "zeros"}): the registered name and the builder's options."""
    name, shorthand, options = registry.parse(OWNER, text)
    found = MODELS.find(name)
    if found is None:
        raise ValueError(MODELS.unknown(OWNER, "kind", text))
    key, entry = found
    if shorthand is not None:
        if entry.shorthand is None:
            _checks.fail(
                OWNER,
                key,
                "given without a shorthand (its options are key=value)",
                text,
            )
        if entry.shorthand in options:
            _checks.fail(OWNER, f"option {entry.shorthand!r}", "given once", text)
        options = {entry.shorthand: shorthand, **options}
    return key, options


def build(
    text: str,
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    fields: Mapping[str, Any] | None = None,
) -> TrainableModel:
    """The model ``text`` names, built for ``dataset`` and checked.

    ``fields`` are settings a run gives besides the text (a RunSpec's
    ``activation``, ``l2``, ``init`` when not their defaults): passed to a builder
    that takes them, refused by one that does not."""
    key, options = parse(text)
    entry = MODELS.find(key)
    assert entry is not None
    builder = entry[1].build
    for name, value in (fields or {}).items():
        if name in options:
            _checks.fail(
                OWNER, name, "given once (in the spec or as its own field)", text
            )
        options[name] = value
    registry.check_options(
        OWNER, key, builder, options, text,
        fixed=("seed", "dtype"), fields=set(fields or ()), positional=1,
    )  # fmt: skip
    model = builder(dataset, seed=seed, dtype=dtype, **options)
    check_model(key, model, dataset)
    return model


def check_model(name: str, model: object, dataset: Dataset) -> None:
    """Refuse a model that ``fit`` could not train, before anything trains: one
    without the members of TrainableModel, without parameters, or whose loss on
    two training samples is not one real number."""
    if not isinstance(model, TrainableModel):
        missing = [
            m
            for m in ("params", "is_classifier", "loss_name", "loss_and_grad", "loss")
            if not hasattr(model, m)
        ]
        _checks.fail(
            OWNER,
            f"{name}'s builder",
            "a function returning a TrainableModel (params, is_classifier, loss_name, "
            f"loss_and_grad, loss, accuracy); missing {', '.join(missing) or '?'}",
            type(model).__name__,
        )
    params = model.params
    if not isinstance(params, Params):
        _checks.fail(OWNER, f"{name}'s params", "a gdlab.Params", type(params).__name__)
    size = sum(int(np.size(params[k])) for k in params)
    if size == 0:
        _checks.fail(OWNER, name, "a model with parameters", "none")
    if model.is_classifier and not dataset.classes:
        _checks.fail(
            OWNER, name, "used with classification data (it is a classifier)",
            dataset.name,
        )  # fmt: skip
    value = model.loss(dataset.X_train[:2], dataset.y_train[:2])
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        shape = getattr(value, "shape", None)
        got = (
            f"an array of shape {shape}" if shape is not None else type(value).__name__
        )
        _checks.fail(OWNER, f"{name}'s loss", "one real number (a scalar)", got)


__all__ = ["GROUP", "MODELS", "Builder", "Entry", "build", "check_model", "names",
           "parse", "register"]  # fmt: skip
