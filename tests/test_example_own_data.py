"""docs/examples/own_data.py: a user's arrays as an npz, two optimizers compared."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from gdlab import data

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "own_data.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("own_data", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_compares_two_optimizers_on_its_npz(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = example().main(tmp_path)
    assert sorted(r["optimizer"] for r in rows) == ["adam", "sgd"]
    for row in rows:  # three clouds 2 apart: a linear model separates most points
        assert 0.7 < row["test_acc"] <= 1.0
    out = capsys.readouterr().out
    assert out.startswith("Dataset('blobs', train X (480, 5) float64 y (480,) int64")
    loaded = data.load(str(tmp_path / "blobs.npz"), val_fraction=None)
    X, y = example().blobs()
    np.testing.assert_array_equal(loaded.X_test, X[480:])
    np.testing.assert_array_equal(loaded.y_train, y[:480])
    assert loaded.classes == ("0", "1", "2")
