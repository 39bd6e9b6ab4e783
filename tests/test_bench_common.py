"""benchmarks/common.py's guard: a kernel compiled inside a timed region fails the
benchmark instead of entering its figures (issue 28: compile time never counts)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numba
import numpy as np
import pytest

from gdlab import optim


def common() -> ModuleType:
    path = Path(__file__).parents[1] / "benchmarks" / "common.py"
    spec = importlib.util.spec_from_file_location("bench_common", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_common", module)
    spec.loader.exec_module(module)
    return module


def test_a_compilation_inside_the_timed_region_fails_it() -> None:
    bench = common()

    @numba.njit(cache=False)
    def twice(x: float) -> float:
        return 2 * x

    failed = pytest.raises(bench.CompiledWhileTimed, match=r"^timed: 1 Numba compil")
    with failed, bench.no_compilation("timed"):
        twice(1.0)
    with bench.no_compilation("warm"):  # compiled already: nothing new
        twice(2.0)


def test_a_warmed_up_optimizer_steps_without_compiling() -> None:
    bench = common()
    p = {"w": np.zeros(3, dtype=np.float32)}
    opt = optim.Adam(p, lr=0.1)
    opt.warm_up()
    with bench.no_compilation("adam"):
        opt.step({"w": np.ones(3, dtype=np.float32)})
