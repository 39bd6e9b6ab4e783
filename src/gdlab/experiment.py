"""A training run described by names, and built into objects.

``RunSpec`` is what the CLI and the lab pass around: the data set, the model, the
optimizer and its schedule, and the run's :class:`~gdlab.train.TrainConfig` (batch
size, length, seed), all as plain values that fit in JSON. ``build(spec)`` turns it
into a model, an optimizer and a dataset; a checkpoint stores the spec so that
``train.resume(dir)`` can rebuild the run without the code that started it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from gdlab import _checks, data, models, optim, records, schedules, train_config
from gdlab.data import Dataset
from gdlab.models import Model, TrainableModel, registry
from gdlab.models.builtins import DEFAULT_HIDDEN as DEFAULT_HIDDEN
from gdlab.train_config import TrainConfig

ACTIVATIONS = tuple(models.mlp.ACTIVATIONS)
"""The hidden activations of an MLP."""
DTYPES = ("float32", "float64")
"""The float types a run computes in."""
MAX_VAL_FRACTION = 0.5
"""The largest share of the training set the validation split may take."""
UNITS = ("step", "epoch")
"""What a schedule's ``schedule_unit`` counts: optimizer steps or epochs."""
MODEL_FIELDS = ("activation", "l2", "init")
"""The RunSpec fields a model builder gets when they are not their defaults."""


_S = TypeVar("_S", bound="RunSpec")


def _keywords(owner: str, name: str, value: object) -> dict[str, Any]:
    """Keyword arguments, built later: a dict with string keys."""
    if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
        _checks.fail(owner, name, "a dict with string keys", value)
    return value


def _hyper(owner: str, name: str, value: object) -> dict[str, Any]:
    """The optimizer's keyword arguments, free of those the run sets itself."""
    hyper = _keywords(owner, name, value)
    for key in ("params", "lr"):  # create() would get them twice
        if key in hyper:
            _checks.fail(owner, name, f"free of {key!r}, which the run sets", hyper)
    return hyper


def _optimizer(owner: str, name: str, value: object) -> str:
    """A registered optimizer or preset (:func:`gdlab.optim.resolve` names a
    near miss)."""
    text = records.text(owner, name, value)
    optim.resolve(text)
    return text


def _train(owner: str, name: str, value: object) -> TrainConfig:
    if not isinstance(value, TrainConfig):
        _checks.fail(owner, name, "a TrainConfig", value)
    return value


@dataclass(frozen=True)
class RunSpec(records.Record):
    """One training run, by name: what the CLI, sweeps and comparisons pass around.

    ``lr=None`` takes the optimizer's suggested learning rate
    (:func:`gdlab.optim.suggested_lr`). ``val_fraction`` and ``split_seed`` carve
    the validation split (None: none); ``schedule_args`` override the run
    schedule's defaults (:data:`gdlab.schedules.RUN_DEFAULTS`); ``schedule_unit``
    ``"epoch"`` steps the schedule (and the warm-up, in whole epochs) once per epoch
    instead of once per optimizer step. ``init`` names the weight initialization
    (None: the model's default; ``"normal:0.01"`` as the course notes' MNIST
    experiment). ``train`` is the run's length, batches, seed and evaluations (a
    :class:`~gdlab.train.TrainConfig`, handed to :func:`gdlab.train.fit`).

    A spec checks every field when made (:attr:`constraints`), so a spec that
    exists is valid in all that can be checked without its data; what needs the
    data (a model's sizes against its features, a warm-up against the run's
    length) is checked by :func:`build`.

    Its plain form is flat: :meth:`to_dict`, :meth:`from_dict`, :meth:`replace`
    and sweep grids name the TrainConfig fields beside the others
    (``spec.replace(seed=1, lr=0.1)``); :data:`FIELDS` lists them all.
    """

    data: str = "digits"
    data_path: str | None = None
    val_fraction: float | None = 0.1
    split_seed: int = 0
    model: str = "mlp"
    activation: str = "relu"
    init: str | None = None
    l2: float = 0.0
    dtype: str = "float32"
    optimizer: str = "adam"
    lr: float | None = None
    hyper: dict[str, Any] = field(default_factory=dict)
    schedule: str = "constant"
    schedule_args: dict[str, Any] = field(default_factory=dict)
    schedule_unit: str = "step"
    warmup_epochs: float = 0.0
    train: TrainConfig = field(default_factory=TrainConfig)

    constraints: ClassVar[Mapping[str, records.Constraint]] = {
        "data": records.text,
        "data_path": records.optional(records.text),
        "val_fraction": records.optional(
            records.number(0.0, MAX_VAL_FRACTION, low_open=True)
        ),
        "split_seed": records.at_least(0),
        "model": records.text,
        "activation": records.one_of(*ACTIVATIONS),
        "init": records.optional(records.text),
        "l2": records.number(low=0.0),
        "dtype": records.one_of(*DTYPES),
        "optimizer": _optimizer,
        "lr": records.optional(records.number(low=0.0)),
        "hyper": _hyper,
        "schedule": records.one_of(*schedules.RUN_SCHEDULES),
        "schedule_args": _keywords,
        "schedule_unit": records.one_of(*UNITS),
        "warmup_epochs": records.number(low=0.0),
        "train": _train,
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule == "constant" and self.schedule_args:
            _checks.fail(
                "RunSpec", "schedule_args", "empty for constant", self.schedule_args
            )

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with ``changes``; TrainConfig fields go into ``train``."""
        _known(changes, (*FIELDS, "train"))
        moved = {k: changes.pop(k) for k in train_config.FIELDS if k in changes}
        if moved:
            changes["train"] = dataclasses.replace(
                changes.get("train", self.train), **moved
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The flat plain form: every field of :data:`FIELDS`."""
        values = dataclasses.asdict(self)
        values.update(values.pop("train"))
        return values

    @classmethod
    def from_dict(cls: type[_S], values: object) -> _S:
        """The spec of a flat dict like :meth:`to_dict`'s; missing fields take
        their defaults."""
        if not isinstance(values, Mapping):
            _checks.fail("RunSpec", "values", "a mapping", values)
        _known(values, FIELDS)
        train = {k: v for k, v in values.items() if k in train_config.FIELDS}
        own = {k: v for k, v in values.items() if k not in train}
        return cls(**own, train=TrainConfig(**train))

    @property
    def learning_rate(self) -> float:
        return optim.suggested_lr(self.optimizer) if self.lr is None else self.lr


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RunSpec)}

FIELDS = (
    *(f.name for f in dataclasses.fields(RunSpec) if f.name != "train"),
    *train_config.FIELDS,
)
"""RunSpec's flat field names, in the order of :meth:`RunSpec.to_dict`."""


def _known(names: Iterable[object], known: Sequence[str]) -> None:
    """Refuse a name that is not a field (the first one)."""
    for name in names:
        if name not in known:
            _checks.fail("RunSpec", f"field {name!r}", f"one of {sorted(known)}", "")


@dataclass
class Run:
    """A spec built into objects, ready for :func:`gdlab.train.fit` (with
    ``spec.train``)."""

    spec: RunSpec
    model: TrainableModel
    optimizer: optim.Optimizer
    dataset: Dataset
    total_steps: int

    @property
    def own_model(self) -> Model:
        """:attr:`model` as one of gdlab's own layered models, which the
        curvature measures (sharpness, interpolation) need; refused otherwise."""
        if not isinstance(self.model, Model):
            _checks.fail(
                "RunSpec",
                "model",
                "one of gdlab's own (mlp, softmax, linear, autoencoder) to measure "
                "its curvature",
                self.spec.model,
            )
        return self.model


def parse_model(spec: str) -> tuple[str, dict[str, Any]]:
    """``"mlp:784-256-10"`` -> ("mlp", {"sizes": "784-256-10"}): the registered
    model a spec's ``model`` names and its builder's options
    (:func:`gdlab.registry.parse`)."""
    return registry.parse(spec)


def build_model(spec: RunSpec, dataset: Dataset) -> TrainableModel:
    """The model ``spec.model`` names (a registered name with its options, see
    :mod:`gdlab.models.registry`), built for ``dataset``, seeded, and checked;
    ``activation``, ``l2`` and ``init`` go to its builder when not their
    defaults."""
    fields = {
        name: getattr(spec, name)
        for name in MODEL_FIELDS
        if getattr(spec, name) != _DEFAULTS[name]
    }
    return registry.build(
        spec.model, dataset, seed=spec.train.seed, dtype=spec.dtype, fields=fields
    )


def build_schedule(
    spec: RunSpec, total_steps: int, per_epoch: int
) -> float | schedules.Schedule:
    """The lr: a float, or ``spec.schedule`` (with ``spec.schedule_args``) decaying
    from ``spec.lr`` over the steps after a linear warm-up of ``warmup_epochs``.

    With ``schedule_unit="epoch"`` the schedule counts epochs (the warm-up rounded
    up to whole epochs) and the lr changes only when an epoch starts, as with one
    torch ``scheduler.step()`` per epoch: ``exponential`` with ``rate=k`` is then
    the course notes' ``lr0·e^(−k·epoch)``."""
    lr, epochs, unit = spec.learning_rate, spec.warmup_epochs, spec.schedule_unit
    per_unit = per_epoch if unit == "epoch" else 1
    total = math.ceil(total_steps / per_unit)
    warmup = math.ceil(epochs if unit == "epoch" else epochs * per_epoch)
    name = spec.schedule
    if warmup >= total:
        _checks.fail(
            "RunSpec",
            "warmup_epochs",
            f"shorter than the run ({total} {unit}s)",
            spec.warmup_epochs,
        )
    if name == "constant" and not warmup:
        return lr
    schedule = schedules.for_run(name, lr, total, warmup=warmup, **spec.schedule_args)
    return schedules.PerEpoch(schedule, per_epoch) if unit == "epoch" else schedule


def load_data(spec: RunSpec) -> Dataset:
    """The dataset ``spec`` names, in the spec's dtype: a registered name with its
    options (:func:`gdlab.data.names`, ``name:key=value``), or a user's ``.npz``
    file by its path (read in every worker process from that path; a sweep store
    keys it by its digest)."""
    return data.load(
        spec.data,
        path=spec.data_path,
        dtype=spec.dtype,
        val_fraction=spec.val_fraction,
        split_seed=spec.split_seed,
    )


def build(spec: RunSpec, dataset: Dataset | None = None) -> Run:
    """Build the model and the optimizer (with its schedule) for ``spec``; loads the
    data unless the (already loaded) ``dataset`` is given."""
    dataset = load_data(spec) if dataset is None else dataset
    model = build_model(spec, dataset)
    per_epoch = spec.train.steps_per_epoch(dataset.n_train)
    total = spec.train.total_steps(dataset.n_train)
    name, preset = optim.resolve(spec.optimizer)
    lr = build_schedule(spec, total, per_epoch)
    optimizer = optim.create(name, model.params, lr, **{**preset, **spec.hyper})
    return Run(spec, model, optimizer, dataset, total)
