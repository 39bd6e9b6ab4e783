"""docs/examples/torch_model.py: a torch model trained by fit with gdlab's Adam and
with torch.optim's, the same numbers from the same start."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "torch_model.py"


def test_the_torch_example_trains_with_both_adams_alike() -> None:
    spec = importlib.util.spec_from_file_location("torch_model_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        found = module.main()
    finally:
        del sys.modules[spec.name]
    assert found["adam"] > 0.85
    assert found["torch:Adam"] == pytest.approx(found["adam"], abs=0.02)
