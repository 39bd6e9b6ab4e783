"""The compiled kernels: one variant per dtype and flag combination, arithmetic in
the parameters' dtype, and threads chosen by the size of the whole step."""

from __future__ import annotations

import dis
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest

from gdlab import optim
from gdlab.optim import adam, kernel
from gdlab.optim.base import Group, State


def test_flags_are_compiled_out_one_variant_per_combination() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal(50)
    g = {"w": rng.standard_normal(50)}
    before = set(adam.Adam.rule.variants)
    for amsgrad in (False, True, False):
        opt = optim.Adam({"w": w.copy()}, amsgrad=amsgrad, maximize=True)
        opt.step(g)
    new = set(adam.Adam.rule.variants) - before
    assert adam.Adam.rule.flags == ["decoupled", "amsgrad", "maximize"]
    expected = {  # a small step: the serial variants (parallel=False, last)
        (np.dtype(np.float64), False, amsgrad, True, False) for amsgrad in (False, True)
    }
    assert new <= expected and expected <= set(adam.Adam.rule.variants)
    for key in expected:
        code = adam.Adam.rule.variants[key].py_func
        read = {i.argval for i in dis.get_instructions(code) if "LOAD" in i.opname}
        assert {"g", "exp_avg", "lr"} <= read and not read & set(adam.Adam.rule.flags)


def test_float32_parameters_are_updated_in_float32_arithmetic() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal(4096).astype(np.float32)
    g = rng.standard_normal(4096).astype(np.float32)
    lr, decay = np.float32(0.1), np.float32(0.3)
    in_float32 = w - lr * (g + decay * w)  # NumPy float32 arithmetic, as torch's
    in_float64 = (w - 0.1 * (g + 0.3 * w.astype(np.float64))).astype(np.float32)
    assert not np.array_equal(in_float32, in_float64)  # the two roundings differ
    opt = optim.SGD({"w": w}, lr=0.1, weight_decay=0.3)
    opt.step({"w": g})
    np.testing.assert_array_equal(w, in_float32)


def test_the_serial_variant_computes_what_the_parallel_one_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal(5000).astype(np.float32)
    grads = [{"w": rng.standard_normal(5000).astype(np.float32)} for _ in range(3)]
    small, large = {"w": w.copy()}, {"w": w.copy()}
    serial = optim.Adam(small, lr=0.1, amsgrad=True, weight_decay=0.1)
    parallel = optim.Adam(large, lr=0.1, amsgrad=True, weight_decay=0.1)
    for g in grads:
        serial.step(g)
    monkeypatch.setattr(kernel, "PARALLEL_MIN_SIZE", 1)  # every step parallel
    monkeypatch.setattr(kernel, "PARALLEL_MIN_ARRAY", 1)  # every array
    for g in grads:
        parallel.step(g)
    np.testing.assert_array_equal(small["w"], large["w"])
    variants = adam.Adam.rule.variants
    for mode in (False, True):
        assert (np.dtype(np.float32), False, True, False, mode) in variants


class ThreadsSeen(optim.SGD):
    """SGD that records how many threads its kernels may use in each update."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[int] = []

    def update(
        self, group: Group, step: int, lr: float, p: Any, g: Any, state: State
    ) -> None:
        self.seen.append(numba.get_num_threads())
        super().update(group, step, lr, p, g, state)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core")
@pytest.mark.parametrize("parts", [1, 4])
def test_threads_follow_the_size_of_the_whole_step(parts: int) -> None:
    threads = numba.get_num_threads()
    for total, expected in ((kernel.PARALLEL_MIN_SIZE, threads), (4000, 1)):
        arrays = {f"w{i}": np.zeros(total // parts) for i in range(parts)}
        opt = ThreadsSeen(arrays, lr=0.1)
        opt.step({k: np.ones_like(a) for k, a in arrays.items()})
        # a dict of many arrays under the threshold each runs on all cores
        assert opt.seen == [expected] * parts
        assert all((a == -0.1).all() for a in arrays.values())
    assert numba.get_num_threads() == threads  # restored after the step


PLUGIN_RUN = """
import importlib.util, sys
import numpy as np
from gdlab import optim
spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])
module = importlib.util.module_from_spec(spec)
sys.modules[sys.argv[1]] = module
spec.loader.exec_module(module)
opt = optim.create("mylion", {"w": np.ones(3)}, lr=0.1)
opt.step({"w": np.ones(3)})
(variant,) = module.Lion.rule.variants.values()
print(sum(variant.stats.cache_hits.values()), sum(variant.stats.cache_misses.values()))
"""


def test_a_plugin_kernel_compiles_once_per_machine_under_any_module_name(
    tmp_path: Path,
) -> None:
    plugin = Path(__file__).parents[2] / "docs" / "examples" / "lion.py"
    env = {**os.environ, "GDLAB_KERNEL_CACHE": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", PLUGIN_RUN, name, str(plugin)],
            capture_output=True, text=True, env=env, timeout=300, check=True,
        ).stdout.split()
        for name in ("first_name", "another_name")
    ]  # fmt: skip
    assert outputs == [["0", "1"], ["1", "0"]]  # compiled, then loaded from disk
    assert len(list(tmp_path.glob("gdlab_kernel_*.py"))) == 1
