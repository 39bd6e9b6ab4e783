"""A copy of an optimizer (``copy.deepcopy``, pickle) steps its own parameters and
state: a copy made every view its own array, and the copy then stepped arrays that
neither its ``param_groups`` nor its ``state_dict`` showed."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from gdlab import Params, optim

COPIES: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda o: pickle.loads(pickle.dumps(o)),
}
SETTINGS = [
    ("sgd", {"momentum": 0.9, "dampening": 0.5}),  # its first step is another rule
    ("adam", {"amsgrad": True}),
    ("adagrad", {}),
    ("asgd", {"t0": 0.0}),
    ("muon", {}),
]


def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}


@pytest.mark.parametrize("steps_before", [0, 1])
@pytest.mark.parametrize("copied", list(COPIES))
@pytest.mark.parametrize("packed", [False, True], ids=["dict", "Params"])
@pytest.mark.parametrize(("name", "hyper"), SETTINGS, ids=[n for n, _ in SETTINGS])
def test_a_copy_steps_what_it_shows(
    name: str, hyper: dict[str, Any], packed: bool, copied: str, steps_before: int
) -> None:
    made = Params(arrays()) if packed else arrays()
    grads = [{k: g * (t + 1) for k, g in arrays().items()} for t in range(3)]
    original = optim.create(name, made, lr=0.01, **hyper)
    for g in grads[:steps_before]:
        original.step(g)
    before = {k: np.array(v) for k, v in original.param_groups[0]["params"].items()}
    twin = COPIES[copied](original)
    for g in grads[steps_before:]:
        twin.step(g)
    for k, v in original.param_groups[0]["params"].items():
        np.testing.assert_array_equal(v, before[k])  # the copy's own arrays moved
        assert not np.array_equal(twin.param_groups[0]["params"][k], before[k])
    for g in grads[steps_before:]:
        original.step(g)
    for k, v in original.param_groups[0]["params"].items():
        np.testing.assert_array_equal(twin.param_groups[0]["params"][k], v)
    mine, theirs = twin.state_dict()["state"], original.state_dict()["state"]
    assert mine.keys() == theirs.keys()
    for n in mine:
        for key in mine[n]:
            np.testing.assert_array_equal(mine[n][key], theirs[n][key])
