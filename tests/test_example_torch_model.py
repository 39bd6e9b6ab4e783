"""docs/examples/torch_model.py: a torch model trained by fit with gdlab's Adam and
with torch.optim's, the same numbers from the same start, and compared by
``gdlab compare`` as a registered model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from gdlab.cli import main as gdlab
from gdlab.models import registry

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "torch_model.py"


@pytest.mark.slow
def test_the_torch_example_trains_and_compares_both_adams_alike(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location("torch_model_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)  # registers tiny_cnn
        found = module.main()
        assert found["adam"] > 0.85
        assert found["torch:Adam"] == pytest.approx(found["adam"], abs=0.02)
        gdlab(
            ["compare", "--model", "tiny_cnn", "--optimizers", "adam,torch:Adam",
             "--budget", "1", "--studies", "2", "--seeds", "1", "--epochs", "1",
             "--workers", "1", "--quiet", "--out", str(tmp_path)],
            standalone_mode=False,
        )  # fmt: skip
    finally:
        del sys.modules[spec.name]
        registry.MODELS.remove("tiny_cnn")
    results = json.loads((tmp_path / "results.json").read_text())
    ours, theirs = (results["optimizers"][k]["summary"] for k in ("adam", "torch:adam"))
    assert ours["per_study"] == theirs["per_study"]  # test accuracy per study
    assert theirs["val_loss"]["mean"] == pytest.approx(
        ours["val_loss"]["mean"], rel=1e-5
    )
