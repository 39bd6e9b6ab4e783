"""The Lion plugin of docs/examples: registered on import, checked against
lion-pytorch like the built-ins against torch; a sign bug fails with the difference."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import lion_pytorch
import numpy as np
import pytest

from gdlab import optim
from gdlab.testing import OptimizerCheckError, check_optimizer

PLUGIN = Path(__file__).parents[1] / "docs" / "examples" / "lion.py"
CONFIGS = [
    {"lr": 1e-3, "betas": (0.8, 0.95), "weight_decay": 0.5},
    {"lr": 0.01, "weight_decay": 0.1},
]


@pytest.fixture
def lion() -> Iterator[ModuleType]:
    """The plugin imported from its file, unregistered afterwards. It must be in
    sys.modules while it runs: Numba's on-disk cache finds the kernel's module by
    name (without it, the second run fails with "No module named '<dynamic>'")."""
    registry = dict(optim.REGISTRY)
    spec = importlib.util.spec_from_file_location("lion_plugin", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]
        optim.REGISTRY.clear()
        optim.REGISTRY.update(registry)


def test_lion_registers_and_matches_lion_pytorch(lion: ModuleType) -> None:
    assert optim.get("mylion") is lion.Lion
    assert optim.suggested_lr("mylion") == 3e-4
    check_optimizer("mylion", reference=lion_pytorch.Lion, configs=CONFIGS)


def test_a_sign_bug_fails_with_a_report_naming_the_difference(
    lion: ModuleType,
) -> None:
    class SignBug(lion.Lion):  # type: ignore[name-defined, misc]
        """Takes the sign of the new momentum m_t instead of c_t."""

        def update(
            self, group: Any, step: int, lr: float, p: Any, g: Any, state: Any
        ) -> None:
            (beta1, beta2), m = group["betas"], state["exp_avg"]
            p *= 1.0 - lr * group["weight_decay"]
            m[...] = beta2 * m + (1.0 - beta2) * g
            p -= lr * np.sign(beta1 * m + (1.0 - beta1) * g)

    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(SignBug, reference=lion_pytorch.Lion, configs=CONFIGS)
    report = str(caught.value)
    assert report.startswith("check_optimizer(SignBug): ")
    assert {check for check, _ in caught.value.failures} >= {
        "reference[defaults]",
        "reference[lr=0.001,betas=(0.8, 0.95),weight_decay=0.5]",
    }
    assert (
        "reference[defaults]: with a dict of arrays, after 100 steps: scalar is "
        in report
    )
    assert "(off by " in report and "(rtol 1e-10, atol 1e-12)" in report
    assert "passed: hyperparameters, defaults, params_and_dict" in report
