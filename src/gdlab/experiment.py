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
from typing import Any

from gdlab import _checks, data, models, optim, schedules, train_config
from gdlab.data import Dataset
from gdlab.train_config import TrainConfig

MODEL_KINDS = ("mlp", "softmax", "linear")
"""The kinds of model a spec's ``model`` names (``mlp:64-100-10``)."""
UNITS = ("step", "epoch")
"""What a schedule's ``schedule_unit`` counts: optimizer steps or epochs."""
DEFAULT_HIDDEN = (100,)
"""The hidden layer sizes of an MLP whose spec gives none."""


@dataclass(frozen=True)
class RunSpec:
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

    def __post_init__(self) -> None:
        if not isinstance(self.train, TrainConfig):
            _checks.fail("RunSpec", "train", "a TrainConfig", self.train)
        for name in ("hyper", "schedule_args"):  # keyword arguments, built later
            value = getattr(self, name)
            if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
                _checks.fail("RunSpec", name, "a dict with string keys", value)

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
    def from_dict(cls, values: Mapping[str, Any]) -> RunSpec:
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
    model: models.Model
    optimizer: optim.Optimizer
    dataset: Dataset
    total_steps: int


def parse_model(spec: str, n_features: int, n_outputs: int) -> tuple[str, list[int]]:
    """``"mlp:784-256-10"`` -> ("mlp", sizes); ``"mlp"`` alone has one hidden layer of
    100; ``"softmax"`` and ``"linear"`` take their sizes from the data."""
    kind, colon, sizes_text = str(spec).partition(":")
    kind = kind.strip().lower()
    if kind not in MODEL_KINDS:
        _checks.fail("model", "kind", f"one of {', '.join(MODEL_KINDS)}", spec)
    if kind != "mlp" or not colon:
        if colon:
            _checks.fail("model", kind, "given without sizes", spec)
        hidden = list(DEFAULT_HIDDEN) if kind == "mlp" else []
        return kind, [n_features, *hidden, n_outputs]
    try:
        sizes = [int(s) for s in sizes_text.split("-")]
    except ValueError:
        _checks.fail(
            "model", "sizes", "integers joined by '-', like mlp:784-100-10", spec
        )
    if len(sizes) < 2 or min(sizes) < 1:
        _checks.fail("model", "sizes", "at least two positive sizes", spec)
    if sizes[0] != n_features or sizes[-1] != n_outputs:
        _checks.fail(
            "model",
            "sizes",
            f"the data's {n_features} features first and its {n_outputs} outputs "
            f"last, like mlp:{n_features}-100-{n_outputs}",
            spec,
        )
    return kind, sizes


def build_model(spec: RunSpec, dataset: Dataset) -> models.Model:
    """The model ``spec.model`` names, sized for ``dataset`` and seeded."""
    regression = not dataset.classes
    n_outputs = 1 if regression else len(dataset.classes)
    kind, sizes = parse_model(spec.model, dataset.n_features, n_outputs)
    init: dict[str, Any] = {} if spec.init is None else {"init": spec.init}
    if kind == "linear" or (regression and kind == "mlp" and len(sizes) == 2):
        if not regression:
            _checks.fail("model", "linear", "used with regression data", dataset.name)
        return models.LinearRegression(
            n_features=dataset.n_features,
            seed=spec.train.seed,
            dtype=spec.dtype,
            **init,
        )
    if kind == "softmax":
        if regression:
            _checks.fail(
                "model", "softmax", "used with classification data", dataset.name
            )
        return models.SoftmaxRegression(
            n_features=sizes[0],
            n_classes=sizes[-1],
            seed=spec.train.seed,
            l2=spec.l2,
            dtype=spec.dtype,
            **init,
        )
    return models.MLP(
        sizes,
        activation=spec.activation,
        seed=spec.train.seed,
        l2=spec.l2,
        dtype=spec.dtype,
        **init,
        **({"loss": "mse"} if regression else {}),
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
    lr = _checks.number("RunSpec", "lr", spec.learning_rate, low=0.0)
    epochs = _checks.number("RunSpec", "warmup_epochs", spec.warmup_epochs, low=0.0)
    unit = _checks.choice("RunSpec", "schedule_unit", spec.schedule_unit, UNITS)
    per_unit = per_epoch if unit == "epoch" else 1
    total = math.ceil(total_steps / per_unit)
    warmup = math.ceil(epochs if unit == "epoch" else epochs * per_epoch)
    name = _checks.choice("RunSpec", "schedule", spec.schedule, schedules.RUN_SCHEDULES)
    if warmup >= total:
        _checks.fail(
            "RunSpec",
            "warmup_epochs",
            f"shorter than the run ({total} {unit}s)",
            spec.warmup_epochs,
        )
    if name == "constant" and spec.schedule_args:
        _checks.fail(
            "RunSpec", "schedule_args", "empty for constant", spec.schedule_args
        )
    if name == "constant" and not warmup:
        return lr
    schedule = schedules.for_run(name, lr, total, warmup=warmup, **spec.schedule_args)
    return schedules.PerEpoch(schedule, per_epoch) if unit == "epoch" else schedule


def load_data(spec: RunSpec) -> Dataset:
    """The dataset ``spec`` names, in the spec's dtype: a name of
    :func:`gdlab.data.names`, or a user's ``.npz`` file by its path (read in every
    worker process from that path; a sweep store keys it by its digest)."""
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
    for key in ("params", "lr"):  # the run sets them: create() would get them twice
        if key in spec.hyper:
            _checks.fail(
                "RunSpec", "hyper", f"free of {key!r}, which the run sets", spec.hyper
            )
    optimizer = optim.create(name, model.params, lr, **{**preset, **spec.hyper})
    return Run(spec, model, optimizer, dataset, total)
