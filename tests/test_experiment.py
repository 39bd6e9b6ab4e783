"""RunSpec embeds a TrainConfig and keeps its flat plain form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from gdlab.experiment import FIELDS, RunSpec
from gdlab.lab import sweep
from gdlab.train import TrainConfig

from .conftest import raises_about

SPEC = RunSpec(
    data="digits",
    model="mlp:64-16-10",
    train=TrainConfig(epochs=2, batch_size=64, seed=3, clip_grad_norm=1),
)

# What spec_key gave this run before RunSpec embedded a TrainConfig: stores keep it.
KEY = (
    '{"activation":"relu","batch_size":64,"clip_grad_norm":1.0,"data":"digits",'
    '"data_path":null,"dtype":"float32","epochs":2,"eval_at_start":false,'
    '"eval_every":"epoch","evaluate_test":true,"hyper":{},"init":null,'
    '"iterations":null,"l2":0.0,"lr":null,"model":"mlp:64-16-10",'
    '"optimizer":"adam","sampling":"without-replacement","schedule":"constant",'
    '"schedule_args":{},"schedule_unit":"step","seed":3,"split_seed":0,'
    '"val_fraction":0.1,"warmup_epochs":0.0}'
)


def test_the_flat_form_is_unchanged_and_round_trips() -> None:
    values = SPEC.to_dict()
    assert tuple(values) == FIELDS
    assert FIELDS[-2:] == ("notes_loop", "train_eval_rows")
    assert FIELDS[-11:-2] == (
        "batch_size",
        "sampling",
        "epochs",
        "iterations",
        "seed",
        "clip_grad_norm",
        "eval_every",
        "eval_at_start",
        "evaluate_test",
    )
    assert "train" not in values
    assert RunSpec.from_dict(values) == SPEC
    assert sweep.spec_key(SPEC) == KEY  # later fields: left out at their defaults
    assert '"notes_loop":true' in sweep.spec_key(SPEC.replace(notes_loop=True))
    key = sweep.spec_key(SPEC.replace(train_eval_rows=None))
    assert '"train_eval_rows":null' in key
    assert sweep.FIELDS == FIELDS


def test_replace_routes_train_config_fields_into_train() -> None:
    changed = SPEC.replace(seed=7, lr=0.1, batch_size="full")
    assert changed.train == TrainConfig(
        epochs=2, batch_size="full", seed=7, clip_grad_norm=1.0
    )
    assert changed.lr == 0.1 and SPEC.train.seed == 3
    both = SPEC.replace(train=TrainConfig(epochs=9), seed=1)
    assert both.train == TrainConfig(epochs=9, seed=1)
    with raises_about("TrainConfig", "seed"):
        SPEC.replace(seed=-1)


def test_from_dict_checks_the_train_config_and_unknown_fields() -> None:
    with raises_about("TrainConfig", "batch_size", got="0"):
        RunSpec.from_dict({"batch_size": 0})
    with raises_about("RunSpec", "field 'train'"):
        RunSpec.from_dict({"train": {"epochs": 1}})
    with raises_about("RunSpec", "train", got="{'epochs': 1}"):
        RunSpec(train={"epochs": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: RunSpec.from_dict(None),
            "RunSpec: values must be a mapping, got None",
        ),
        (
            lambda: RunSpec.from_dict([("lr", 1)]),
            "RunSpec: values must be a mapping, got [('lr', 1)]",
        ),
        (lambda: SPEC.replace(nonfield=1), "RunSpec: field 'nonfield' must be one of"),
        (
            lambda: RunSpec(hyper=None),
            "RunSpec: hyper must be a dict with string keys, got None",
        ),
        (
            lambda: RunSpec(hyper={1: 2}),
            "RunSpec: hyper must be a dict with string keys, got {1: 2}",
        ),
        (
            lambda: RunSpec(schedule="cosine", schedule_args={1: 2}),
            "RunSpec: schedule_args must be a dict with string keys, got {1: 2}",
        ),
    ],
    ids=["none", "list", "replace-unknown", "hyper-none", "hyper-key", "args-key"],
)
def test_a_spec_of_bad_shape_is_a_value_error_naming_the_field(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        make()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"data": ""}, "data"),
        ({"val_fraction": 0.7}, "val_fraction"),
        ({"split_seed": -1}, "split_seed"),
        ({"activation": "relu6"}, "activation"),
        ({"l2": -0.1}, "l2"),
        ({"dtype": "int32"}, "dtype"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"hyper": {"lr": 0.1}}, "hyper"),
        ({"schedule": "cosin"}, "schedule"),
        ({"schedule_args": {"rate": 0.1}}, "schedule_args"),  # constant takes none
        ({"schedule_unit": "batch"}, "schedule_unit"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
    ],
)
def test_a_spec_checks_every_field_when_made(
    changes: dict[str, object], field: str
) -> None:
    """Before, these waited for build (or for load_data, after the data loaded)."""
    with pytest.raises(ValueError, match=f"^RunSpec: {field} must be"):
        RunSpec(**changes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"^RunSpec: {field} must be"):
        SPEC.replace(**changes)
    with pytest.raises(ValueError, match=r"^unknown optimizer 'adamm'"):
        RunSpec(optimizer="adamm")


def test_a_spec_keeps_numbers_in_their_fields_type() -> None:
    spec = RunSpec(lr=1, l2=0, split_seed=2.0, warmup_epochs=1)
    assert (spec.lr, spec.l2, spec.split_seed, spec.warmup_epochs) == (1.0, 0.0, 2, 1.0)
    assert isinstance(spec.lr, float) and isinstance(spec.split_seed, int)
    assert RunSpec.from_dict(spec.to_dict()) == spec
