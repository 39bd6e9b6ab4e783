"""Property tests (hypothesis): the round trips that stores, checkpoints and the
command line rely on, over generated values instead of a few hand-picked ones.

- a sweep key (``spec_key``): equal specs have equal keys, a changed field changes
  the key, and the key survives the spec's plain form (``to_dict``/``from_dict``,
  through JSON as a store keeps it);
- ``RunSpec``'s plain form round-trips;
- any optimizer's ``state_dict``/``load_state_dict``: a copy loaded from the state
  after a few steps continues bit for bit as the original;
- the command line's ``NAME=VALUE`` parser (``--hyper``, ``--schedule-arg``) and
  ``--grid``'s value lists: typed values round-trip through their text, and any
  text is either accepted or one line of usage error, never a traceback.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gdlab import optim
from gdlab.cli import main
from gdlab.cli.options import assignments, parse_list
from gdlab.cli.sweep import _value
from gdlab.experiment import FIELDS, RunSpec
from gdlab.lab.sweep.grid import spec_key

FAST = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- RunSpec and its key -------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
positive = st.floats(min_value=1e-8, max_value=10.0, allow_nan=False)
seed = st.integers(min_value=0, max_value=2**32 - 1)
words = st.text("abcdefghij_", min_size=1, max_size=8)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "data": st.sampled_from(["digits", "regression", "fashion-mnist", "x.npz"]),
    "data_path": st.none() | st.sampled_from(["/data", "some/folder"]),
    "val_fraction": st.none() | st.floats(min_value=0.01, max_value=0.5),
    "split_seed": seed,
    "model": st.sampled_from(["mlp", "softmax", "linear", "mlp:64-8-10"]),
    "activation": st.sampled_from(["relu", "tanh", "sigmoid"]),
    "init": st.none() | st.sampled_from(["he", "glorot", "normal:0.01"]),
    "l2": st.floats(min_value=0.0, max_value=1.0),
    "dtype": st.sampled_from(["float32", "float64"]),
    "optimizer": st.sampled_from(["sgd", "adam", "rmsprop", "lion"]),
    "lr": st.none() | positive,
    "hyper": st.dictionaries(words, finite | st.booleans(), max_size=2),
    "schedule": st.sampled_from(["constant", "cosine", "step", "exponential"]),
    "schedule_args": st.dictionaries(words, finite, max_size=2),
    "schedule_unit": st.sampled_from(["step", "epoch"]),
    "warmup_epochs": st.floats(min_value=0.0, max_value=5.0),
    "batch_size": st.integers(min_value=1, max_value=4096) | st.just("full"),
    "sampling": st.sampled_from(["without-replacement", "with-replacement"]),
    "epochs": st.integers(min_value=1, max_value=1000),
    "seed": seed,
    "clip_grad_norm": st.none() | positive,
    "eval_every": st.just("epoch") | st.integers(min_value=1, max_value=10**6),
    "eval_at_start": st.booleans(),
    "evaluate_test": st.booleans(),
    "notes_loop": st.booleans(),
    "train_eval_rows": st.none() | st.integers(min_value=1, max_value=10**6),
}
"""A value of each RunSpec field, as a sweep's grid or the CLI would give it (the
spec is built, not trained, so these need not make a sensible run)."""


def test_every_field_has_a_strategy() -> None:
    assert set(FIELD_VALUES) | {"iterations"} == set(FIELDS)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec's flat plain form: a random subset of fields set (iterations aside:
    it replaces epochs)."""
    chosen = draw(st.sets(st.sampled_from(sorted(FIELD_VALUES))))
    return {name: draw(FIELD_VALUES[name]) for name in sorted(chosen)}


def valid(values: dict[str, Any]) -> RunSpec:
    """The spec of ``values``; a combination a RunSpec refuses when made (a
    schedule's argument it does not take) is not one these properties are about."""
    try:
        return RunSpec.from_dict(values)
    except ValueError:
        assume(False)
        raise


def through_json(values: dict[str, Any]) -> dict[str, Any]:
    """A plain form as a store or a results file gives it back."""
    loaded: dict[str, Any] = json.loads(json.dumps(values))
    return loaded


@FAST
@given(specs())
def test_run_spec_round_trips_through_its_plain_form(values: dict[str, Any]) -> None:
    spec = valid(values)
    plain = spec.to_dict()
    assert list(plain) == list(FIELDS)
    assert RunSpec.from_dict(plain) == spec
    assert RunSpec.from_dict(through_json(plain)).to_dict() == through_json(plain)
    assert {k: plain[k] for k in values} == values  # what was given is what is held


@FAST
@given(specs())
def test_a_spec_key_survives_the_plain_form_and_json(values: dict[str, Any]) -> None:
    spec = valid(values)
    key = spec_key(spec)
    assert spec_key(RunSpec.from_dict(values)) == key  # equal specs, equal keys
    assert spec_key(RunSpec.from_dict(spec.to_dict())) == key
    assert spec_key(RunSpec.from_dict(through_json(spec.to_dict()))) == key
    assert json.dumps(json.loads(key), sort_keys=True, separators=(",", ":")) == key


@FAST
@given(specs(), st.data())
def test_a_changed_field_changes_the_key(
    values: dict[str, Any], data: st.DataObject
) -> None:
    spec = valid(values)
    field = data.draw(st.sampled_from(sorted(FIELD_VALUES)), label="field")
    old = spec.to_dict()[field]
    new = data.draw(
        FIELD_VALUES[field].filter(lambda v: through_json(v) != through_json(old)),
        label="new value",
    )
    changed = valid({**spec.to_dict(), field: new})
    assert spec_key(changed) != spec_key(spec)


@FAST
@given(
    st.sampled_from(["sgd", "adam"]),
    st.integers(min_value=1, max_value=10**6),
    st.sampled_from([np.int64, np.float64, int, float]),
)
def test_numbers_of_another_type_are_one_run(
    optimizer: str, lr_steps: int, kind: type
) -> None:
    """lr=1 and lr=1.0 (or NumPy's) are one run: one key."""
    lr = lr_steps / 1000 if kind in (float, np.float64) else lr_steps
    a = RunSpec(optimizer=optimizer, lr=kind(lr))
    b = RunSpec(optimizer=optimizer.upper(), lr=float(lr))
    assert spec_key(a) == spec_key(b)


# --- optimizer state ----------------------------------------------------------------

ROUND_TRIP_KWARGS: dict[str, dict[str, Any]] = {
    "sgd": {"momentum": 0.9, "nesterov": True},
    "rmsprop": {"momentum": 0.5, "centered": True},
    "adam": {"amsgrad": True},
    "lbfgs": {"history_size": 3, "max_iter": 2},
    "shampoo": {"momentum": 0.5},
}
"""Flags that give an optimizer more state than its defaults do."""

shapes = st.lists(
    st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=2).map(tuple),
    min_size=1,
    max_size=3,
)


def quadratic(params: dict[str, np.ndarray], scale: dict[str, np.ndarray]) -> Any:
    """The closure of ½Σ scale·p²: ``(loss, grads)`` at the current params."""

    def closure() -> tuple[float, dict[str, np.ndarray]]:
        loss = sum(float(0.5 * np.sum(scale[n] * p * p)) for n, p in params.items())
        return loss, {n: scale[n] * p for n, p in params.items()}

    return closure


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(optim.names()),
    shapes,
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_loaded_state_continues_bit_for_bit(
    name: str, shapes: list[tuple[int, ...]], steps: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    params = {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}
    scale = {n: rng.uniform(0.5, 2.0, size=p.shape) for n, p in params.items()}
    kwargs = ROUND_TRIP_KWARGS.get(name, {})
    first = optim.create(name, params, lr=1e-2, **kwargs)
    closure = quadratic(params, scale)
    for _ in range(steps):
        first.step(closure()[1], closure)
    saved = first.state_dict()
    kept = copy.deepcopy(saved)

    copies = {n: p.copy() for n, p in params.items()}
    second = optim.create(name, copies, lr=1e-2, **kwargs)
    second.load_state_dict(saved)
    assert_same_state(second.state_dict(), kept)
    first.step(closure()[1], closure)
    other = quadratic(copies, scale)
    second.step(other()[1], other)
    for n in params:
        np.testing.assert_array_equal(copies[n], params[n])
    assert_same_state(second.state_dict(), first.state_dict())
    assert_same_state(saved, kept)  # loading did not edit the dict it was given


def assert_same_state(a: Any, b: Any) -> None:
    """Equal nested state dicts, arrays compared exactly (NaN-free)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for key in a:
            assert_same_state(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_state(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b or (a != a and b != b), (a, b)


# --- NAME=VALUE and --grid ------------------------------------------------------------

TYPES: dict[str, type] = {
    "f": float,
    "i": int,
    "b": bool,
    "t": tuple,
    "l": list,
}

typed_values: dict[type, st.SearchStrategy[Any]] = {
    float: finite,
    int: st.integers(min_value=-(2**63), max_value=2**63),
    bool: st.booleans(),
    tuple: st.lists(finite, min_size=1, max_size=3).map(tuple),
    list: st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=4),
}


def text_of(value: Any) -> str:
    """A value as a user types it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return ",".join(map(repr, value))
    return repr(value)


@FAST
@given(st.data())
def test_typed_values_round_trip_through_their_text(data: st.DataObject) -> None:
    keys = data.draw(st.sets(st.sampled_from(sorted(TYPES)), min_size=1))
    values = {k: data.draw(typed_values[TYPES[k]], label=k) for k in sorted(keys)}
    given_pairs = tuple(f"{k}={text_of(v)}" for k, v in values.items())
    parsed = assignments("--hyper", given_pairs, TYPES, "an optimizer")
    assert parsed == values
    assert {k: type(v) for k, v in parsed.items()} == {k: TYPES[k] for k in keys}


def one_line_usage_error(call: Any) -> Any:
    """``call()``'s value, or None when it raised a one-line click.UsageError (any
    other exception fails the test with its traceback)."""
    try:
        return call()
    except click.UsageError as error:
        message = error.format_message()
        assert message and "\n" not in message
        return None


@FAST
@given(st.lists(st.text(max_size=12), min_size=1, max_size=3))
def test_any_pair_text_is_a_value_or_one_line(pairs: list[str]) -> None:
    parsed = one_line_usage_error(
        lambda: assignments("--hyper", tuple(pairs), TYPES, "an optimizer")
    )
    if parsed is not None:
        assert set(parsed) <= set(TYPES)
        for key, value in parsed.items():
            assert isinstance(value, TYPES[key])


grid_scalars = (
    st.integers(min_value=-(10**12), max_value=10**12)
    | finite
    | st.booleans()
    | st.none()
    | st.text("abcxyz_-", min_size=1, max_size=6).filter(
        lambda t: t not in ("true", "false", "null")
    )
)


@FAST
@given(st.lists(grid_scalars, min_size=1, max_size=4))
def test_grid_values_round_trip_through_their_text(values: list[Any]) -> None:
    text = ",".join(v if isinstance(v, str) else json.dumps(v) for v in values)
    parsed = parse_list("--grid x", text, _value, "values")
    assert parsed == values
    assert [type(v) for v in parsed] == [type(v) for v in values]


@FAST
@given(st.text(max_size=30))
def test_any_grid_text_is_values_or_one_line(text: str) -> None:
    parsed = one_line_usage_error(lambda: parse_list("--grid x", text, _value, "v"))
    if parsed is not None:
        assert len(parsed) == text.count(",") + 1


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.sampled_from(["betas", "eps", "amsgrad", "lr", "nope", ""]).flatmap(
            lambda k: st.text(max_size=10).map(lambda v: f"{k}={v}")
        )
        | st.text(max_size=12),
        min_size=1,
        max_size=2,
    )
)
def test_the_command_line_takes_any_hyper_text_without_a_traceback(
    pairs: list[str],
) -> None:
    """``gdlab explain adam --hyper ...``: a worked step, or exit status 2 with one
    line on stderr."""
    args = ["explain", "adam", "--param", "1", "--grad", "0.5"]
    for pair in pairs:
        args += ["--hyper", pair]
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gdlab: error: "), lines


@settings(max_examples=25, deadline=None)
@given(st.text(max_size=16))
def test_the_command_line_takes_any_schedule_arg_without_a_traceback(
    pair: str,
) -> None:
    result = CliRunner().invoke(
        main, ["schedule", "step", "--steps", "20", "--schedule-arg", pair]
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gdlab: error: "), lines


@pytest.mark.parametrize("text", ["1e3", "3e2", "300"])
def test_integers_written_as_floats_are_exact(text: str) -> None:
    parsed = assignments("--hyper", (f"i={text}",), TYPES, "x")["i"]
    assert parsed == int(float(text)) and isinstance(parsed, int)
