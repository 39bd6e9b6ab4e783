"""A copy of a Params (a fresh gradient) makes its named views when first asked for;
they must behave as the original's: views into the copy's own buffer. A pickled or
deep-copied Params, too, has views of its own buffer (they were detached copies)."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from gdlab import Params


def make() -> Params:
    return Params(
        {"W": np.arange(6.0).reshape(2, 3), "b": np.array([7.0, 8.0])},
        dtype=np.float32,
    )


@pytest.mark.parametrize("how", ["copy", "zeros_like"])
def test_views_of_a_copy_are_views_of_its_own_buffer(how: str) -> None:
    p = make()
    c = getattr(p, how)()
    buffer = c.buffers[np.dtype(np.float32)]
    assert c["W"].shape == (2, 3) and c["b"].shape == (2,)
    assert np.shares_memory(c["W"], buffer) and not np.shares_memory(c["W"], p["W"])
    buffer[:] = np.arange(8.0)  # written through the buffer, read by name
    np.testing.assert_array_equal(c["W"], [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(c["b"], [6, 7])
    c["b"][1] = -1.0  # written by name, read through the buffer
    assert buffer[7] == -1.0
    assert c["W"] is c["W"]  # made once
    np.testing.assert_array_equal(p["b"], [7, 8])  # the original untouched


def test_a_copy_keeps_names_order_and_refuses_unknown_names() -> None:
    c = make().copy()
    assert list(c) == ["W", "b"] and len(c) == 2
    assert dict(c.items()).keys() == {"W", "b"}
    with pytest.raises(
        KeyError, match=r"Params has no parameter 'w'; it has \['W', 'b'\]"
    ):
        c["w"]


@pytest.mark.parametrize(
    "clone", [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))]
)
def test_a_copy_of_a_copy_keeps_its_views_on_its_buffer(clone: object) -> None:
    c = make().copy()
    d = clone(c)  # type: ignore[operator]
    d["b"][0] = 5.0
    assert d.buffers[np.dtype(np.float32)][6] == 5.0
    assert c["b"][0] == 7.0


CLONES = [copy.deepcopy, lambda c: pickle.loads(pickle.dumps(c))]


@pytest.mark.parametrize("clone", CLONES)
@pytest.mark.parametrize("touched", [False, True])
def test_a_clone_has_views_of_its_own_buffer(clone: object, touched: bool) -> None:
    p = make()
    if touched:
        p.copy()["W"]  # a copy whose views were made
        p = p.copy()
        p["b"]
    d = clone(p)  # type: ignore[operator]
    d["b"][0] = 5.0
    assert d.buffers[np.dtype(np.float32)][6] == 5.0
    np.testing.assert_array_equal(d["W"], [[0, 1, 2], [3, 4, 5]])
    assert p["b"][0] == 7.0


def test_a_view_is_a_second_params_over_the_same_buffers() -> None:
    p = make()
    v = p.view()
    assert v is not p and v.buffers is not p.buffers and list(v) == list(p)
    v["b"][0] = -3.0  # written through the view, seen by the original
    assert p["b"][0] == -3.0
    p.buffers[np.dtype(np.float32)][0] = 9.0
    assert v["W"][0, 0] == 9.0
    assert v.same_layout(p)
