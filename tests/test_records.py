"""Declared records check themselves when made and round-trip their plain form."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gdlab import records
from gdlab.records import Record

from .conftest import raises_about


@dataclass(frozen=True)
class Axis(Record):
    name: str
    low: float = 0.0
    constraints: ClassVar[dict[str, records.Constraint]] = {
        "name": records.text,
        "low": records.number(low=0.0),
    }


@dataclass(frozen=True)
class Plan(Record):
    trials: int = 4
    select: str = "val_loss"
    seeds: tuple[int, ...] = (0,)
    axes: tuple[Axis, ...] = ()
    first: Axis | None = None
    extra: dict[str, float] = field(default_factory=dict)
    constraints: ClassVar[dict[str, records.Constraint]] = {
        "trials": records.at_least(1),
        "select": records.one_of("val_loss", "val_accuracy"),
        "seeds": records.each(records.at_least(0)),
        "first": records.optional(lambda o, n, v: v),
    }


def test_fields_are_checked_and_normalized_when_made() -> None:
    plan = Plan(trials=3.0, seeds=[1, 2])
    assert plan.trials == 3 and type(plan.trials) is int
    assert plan.seeds == (1, 2)
    with raises_about("Plan", "trials"):
        Plan(trials=0)
    with raises_about("Plan", "seeds[1]"):
        Plan(seeds=(0, -1))
    with pytest.raises(ValueError, match="did you mean 'val_loss'"):
        Plan(select="val_los")


@dataclass(frozen=True)
class Book(Record):
    plans: dict[str, Plan] = field(default_factory=dict)


def test_an_error_inside_a_nested_record_names_the_path_of_its_field() -> None:
    with raises_about("Plan", "axes[1].low", got="-1"):
        Plan.from_dict({"axes": [{"name": "lr"}, {"name": "wd", "low": -1}]})
    with raises_about("Plan", "first.name"):  # a required field not given
        Plan.from_dict({"first": {"low": 1.0}})
    with raises_about("Book", "plans['b'].axes[0].name", got="''"):
        Book.from_dict({"plans": {"a": {}, "b": {"axes": [{"name": ""}]}}})
    with pytest.raises(ValueError, match=r"^Book: field 'lo' of plans\['a'\]\.first "):
        Book.from_dict({"plans": {"a": {"first": {"name": "x", "lo": 1}}}})
    with pytest.raises(ValueError, match=r"^Book: plans\['a'\]\.axes\[0\] must be "):
        Book.from_dict({"plans": {"a": {"axes": [[1]]}}})


def test_a_list_given_for_a_tuple_field_is_kept_as_a_tuple() -> None:
    plan = Plan(axes=[Axis("lr")])
    assert plan.axes == (Axis("lr"),)
    assert hash(plan.axes)


def test_from_dict_refuses_unknown_and_missing_fields_by_name() -> None:
    with pytest.raises(ValueError, match=r"^Plan: field 'trails' must be .*'trials'"):
        Plan.from_dict({"trails": 3})
    with raises_about("Axis", "name"):
        Axis.from_dict({"low": 1.0})
    with raises_about("Plan", "values"):
        Plan.from_dict([("trials", 3)])


names = st.text(min_size=1, max_size=8)
axes = st.builds(Axis, name=names, low=st.floats(0, 1e6))


@given(
    trials=st.integers(1, 10**6),
    seeds=st.lists(st.integers(0, 2**31), max_size=4),
    axes=st.lists(axes, max_size=3),
    first=st.none() | axes,
)
def test_plain_form_round_trips_through_json(trials, seeds, axes, first) -> None:
    plan = Plan(trials=trials, seeds=seeds, axes=axes, first=first)
    plain = json.loads(json.dumps(plan.to_dict()))
    assert Plan.from_dict(plain) == plan


@dataclass(frozen=True)
class Outer(Record):
    axis: Axis
    axes: tuple[Axis, ...] = ()
    constraints: ClassVar[dict[str, records.Constraint]] = {
        "axis": records.record(Axis),
        "axes": records.each(records.record(Axis)),
    }


def test_made_names_a_nested_field_by_its_path_in_the_owners_words() -> None:
    made = records.made(Outer, {"axis": {"name": "lr"}, "axes": [{"name": "b"}]}, "x")
    assert made == Outer(Axis("lr"), (Axis("b"),))
    with raises_about("file f", "axes[1].low"):
        records.made(
            Outer, {"axis": {"name": "a"}, "axes": [{"name": "b"}, {"name": "c",
            "low": -1.0}]}, "file f",
        )  # fmt: skip
    with raises_about("file f", "axis.name"):
        records.made(Outer, {"axis": {"low": 1.0}}, "file f")
    with raises_about("file f", "axis"):
        records.made(Outer, {"axis": {"name": "a", "hue": 1}}, "file f")
    with raises_about("file f", "axis", got="3"):
        records.made(Outer, {"axis": 3}, "file f")
