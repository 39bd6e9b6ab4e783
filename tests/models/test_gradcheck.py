"""gradcheck itself: it catches a wrong backward pass and leaves the model alone."""

from __future__ import annotations

import numpy as np
import pytest

from gdlab import models
from gdlab.models import layers

from ..conftest import raises_about
from .helpers import randomize


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((6, 4)), rng.integers(0, 3, 6)


def test_catches_a_wrong_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    m = models.MLP([4, 5, 3], "tanh", seed=0)
    X, y = batch()
    assert models.gradcheck(m, X, y) < 1e-6

    def wrong(
        self: layers.Tanh, y: np.ndarray, dout: np.ndarray, dx: np.ndarray
    ) -> None:
        np.multiply(dout, 1 - y, out=dx)  # 1 − y instead of 1 − y²

    monkeypatch.setattr(layers.Tanh, "_derive", wrong)
    assert models.gradcheck(m, X, y) > 1e-3


def test_model_left_unchanged_and_float32_checked_in_float64() -> None:
    m = models.MLP([4, 5, 3], seed=0, dtype=np.float32)
    randomize(m, seed=1)
    before = m.params.copy()
    X, y = batch()
    assert models.gradcheck(m, X, y) < 1e-6
    m64 = m.astype(np.float64)
    assert models.gradcheck(m64, X, y) < 1e-6
    for name in m.params:
        np.testing.assert_array_equal(m.params[name], before[name])
        np.testing.assert_array_equal(m64.params[name], before[name])


def test_subset_of_entries() -> None:
    m = models.MLP([30, 20, 3], seed=0)
    randomize(m, seed=2)
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((5, 30)), rng.integers(0, 3, 5)
    assert models.gradcheck(m, X, y, max_entries=10, seed=1) < 1e-6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"eps": 0.0}, r"gradcheck: eps must be > 0, got 0.0"),
        ({"max_entries": 0}, r"gradcheck: max_entries must be an integer >= 1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, float], match: str) -> None:
    X, y = batch()
    with pytest.raises(ValueError, match=match):
        models.gradcheck(models.MLP([4, 3]), X, y, **kwargs)  # type: ignore[arg-type]


def test_rejects_a_non_model() -> None:
    X, y = batch()
    with raises_about("gradcheck", "model"):
        models.gradcheck(object(), X, y)  # type: ignore[arg-type]
