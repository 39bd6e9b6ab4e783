"""What a step keeps from the last one (the rule's bound arguments, a gradient laid
out as the parameters, the serial kernels) gives exactly what doing it all again
gives, through edits of ``param_groups``, state dicts and copies."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numba
import numpy as np
import pytest

from gdlab import Params, optim
from gdlab.optim import kernel
from gdlab.optim.base import Group, State

from .cases import CASES
from .test_conformance import SHAPES, random_arrays
from .test_edits import edit_for

STEPS = 12


def other(value: Any) -> Any:
    """An equal value in new objects (a float made anew, a tuple of such)."""
    if isinstance(value, tuple):
        return tuple(other(v) for v in value)
    return float(repr(value)) if type(value) is float else value


NAMES = [name for name in CASES if name != "lbfgs"]  # L-BFGS steps its own way


def run(name: str, *, cached: bool) -> tuple[dict[str, np.ndarray], Any]:
    """A run with an edit to equal values (new objects), a real edit, a state dict
    loaded back and a copy taken. ``cached``: as a step runs; else each step binds
    its arguments anew and gets its gradients as a dict (checked one by one)."""
    params = Params(random_arrays(3, SHAPES, np.float64))
    kwargs = CASES[name].configs[0]
    opt = optim.create(name, params, **kwargs)
    saved = None
    for k in range(STEPS):
        group = opt.param_groups[0]
        if k == 3:
            saved = opt.state_dict()
        if k == 4:  # equal values, other objects: no check, but taken again
            group.update({key: other(v) for key, v in group.items() if key != "params"})
        if k == 6:
            group.update(edit_for(name, kwargs))
        if k == 9:
            assert saved is not None
            opt.load_state_dict(saved)
        if k == 10:
            twin = copy.deepcopy(opt)  # binds to its own arrays
            twin.step(twin.param_groups[0]["params"].zeros_like())
        noise = random_arrays(1000 + k, SHAPES, np.float64)
        grads = params.zeros_like()
        for n, a in noise.items():
            grads[n][...] = a + 0.5 * params[n]
        if cached:
            opt.step(grads)
        else:
            opt.step(dict(grads.items()))
            for segments in opt._segments:
                for seg in segments:
                    seg.state.bound = None
    return {n: params[n].copy() for n in params}, opt.state_dict()


@pytest.mark.parametrize("name", NAMES)
def test_cached_steps_equal_steps_done_anew(name: str) -> None:
    with np.errstate(all="ignore"):
        cached, cached_state = run(name, cached=True)
        fresh, fresh_state = run(name, cached=False)
    for n in cached:
        np.testing.assert_array_equal(cached[n], fresh[n])
    for n, arrays in fresh_state["state"].items():
        for key, a in arrays.items():
            np.testing.assert_array_equal(cached_state["state"][n][key], a)


def test_a_gradient_not_laid_out_as_the_params_is_checked() -> None:
    params = Params({"w": np.ones((2, 3)), "b": np.zeros(3)})
    opt = optim.SGD(params, lr=0.5)
    as_float32 = Params({"w": np.ones((2, 3)), "b": np.ones(3)}, dtype=np.float32)
    opt.step(as_float32)  # another layout (dtype): cast, as a dict would be
    np.testing.assert_array_equal(params["w"], np.full((2, 3), 0.5))
    np.testing.assert_array_equal(params["b"], np.full(3, -0.5))
    with pytest.raises(ValueError, match=r"^SGD: grads are missing \['b'\]"):
        opt.step(Params({"w": np.ones((2, 3))}))
    with pytest.raises(ValueError, match=r"^SGD: grads\['w'\] must be a real array "):
        opt.step(Params({"w": np.ones((3, 2)), "b": np.ones(3)}))
    opt.param_groups[0]["params"] = dict(params.items())
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\] must be the"):
        opt.step(params.zeros_like())
    np.testing.assert_array_equal(params["b"], np.full(3, -0.5))  # nothing moved


def test_an_untouched_group_is_neither_checked_nor_bound_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = Params({"w": np.ones(4, np.float32)})
    opt = optim.Adam(params, lr=0.1)
    opt.step(params.zeros_like())
    (seg,) = opt._segments[0]
    bound = seg.state.bound
    assert bound is not None

    def fail(*args: Any) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(opt, "_validated", fail)
    opt.step(params.zeros_like())
    assert seg.state.bound is bound
    opt.param_groups[0]["lr"] = float("0.1")  # equal: not checked, bound again
    opt.step(params.zeros_like())
    assert seg.state.bound is not bound


class SerialSeen(optim.SGD):
    """SGD (its default update) that records whether its kernels ran serial."""

    seen: ClassVar[list[bool]] = []

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        self.seen.append(getattr(kernel._mode, "serial", False))
        return super().scalars(group, step, lr, state)


def test_a_small_step_leaves_numbas_thread_count_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = Params({"w": np.ones(10, np.float32)})
    opt = SerialSeen(params, lr=0.1, momentum=0.9)
    opt.warm_up()

    def touched(*args: Any) -> None:
        raise AssertionError("Numba's thread count read or set")

    monkeypatch.setattr(numba, "get_num_threads", touched)
    monkeypatch.setattr(numba, "set_num_threads", touched)
    grads = params.zeros_like()
    grads["w"][...] = 1.0
    SerialSeen.seen.clear()
    opt.step(grads)
    opt.step(grads)
    assert SerialSeen.seen == [True, True]  # the serial variants
    np.testing.assert_allclose(params["w"], 1 - 0.1 - 0.1 * 1.9, rtol=1e-6)
    assert not getattr(kernel._mode, "serial", False)  # restored after the step
