"""Datasets by name: registering a loader, its options, the split made for it,
and the checks its result passes before anything trains."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from gdlab import data
from gdlab.data import registry


@pytest.fixture
def clean() -> Iterator[list[str]]:
    added: list[str] = []
    yield added
    for name in added:
        registry.DATASETS.remove(name)


def arrays(n: int = 40, *, flaw: str = "") -> dict[str, Any]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2 * n, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    if flaw == "nan":
        X[5, 1] = np.nan
    if flaw == "fraction":
        y = y.astype(np.float64)
        y[7] = 0.5
    return {
        "X_train": X[:n],
        "y_train": y[:n] if flaw != "length" else y[: n - 1],
        "X_test": X[n:],
        "y_test": y[n:],
        "classes": ("no", "yes"),
        "name": "pts",
    }


def test_a_registered_loader_loads_by_name_with_options_and_a_split(
    clean: list[str],
) -> None:
    seen: list[Any] = []

    def points(*, dtype: Any, n: int = 40) -> data.Dataset:
        seen.append((dtype, n))
        return data.Dataset(**arrays(n))

    data.register("points", points)
    clean.append("points")
    ds = data.load("Points:n=60", dtype="float64", val_fraction=0.25, split_seed=3)
    assert seen == [(np.dtype(np.float64), 60)]
    assert (ds.n_train, ds.n_val, ds.n_test) == (45, 15, 60)
    again = data.load("points:n=60", dtype="float64", val_fraction=0.25, split_seed=3)
    np.testing.assert_array_equal(ds.X_val, again.X_val)  # the split: seeded
    assert data.load("points", val_fraction=None).n_val == 0
    assert "points" in data.names()
    with pytest.raises(ValueError, match=r"a dataset named 'points' is already reg"):
        data.register("points", points)
    with pytest.raises(ValueError, match=r"^load: option 'm' of points must be one "
                       r"of n, got 'points:m=3'"):  # fmt: skip
        data.load("points:m=3")
    with pytest.raises(ValueError, match=r"^load: path must be None for 'points' "
                       r"\(only fashion-mnist and mnist read files\)"):  # fmt: skip
        data.load("points", path="somewhere")


def test_a_loader_that_splits_itself_gets_the_split_arguments(
    clean: list[str],
) -> None:
    def own(*, dtype: Any, val_fraction: float | None, split_seed: int) -> Any:
        ds = data.Dataset(**arrays())
        return ds if val_fraction is None else ds.split_validation(0.5, split_seed)

    data.register("own-split", own)
    clean.append("own-split")
    assert data.load("own-split", val_fraction=0.1).n_val == 20  # its own rule


@pytest.mark.parametrize(
    ("flaw", "message"),
    [
        ("nan", r"^dataset 'bad': X_train must be finite, got nan at row 5, column 1"),
        (
            "fraction",
            r"^dataset 'bad': y_train must be integer class labels, got 0.5 "
            r"at row 7",
        ),
        (
            "length",
            r"^dataset 'bad': Dataset: y_train must be of shape \(40,\), got "
            r"'shape \(39,\)'",
        ),
        (
            "object",
            r"^dataset 'bad': its loader's result must be a gdlab.data.Dataset,"
            r" got dict",
        ),
    ],
)
def test_bad_data_is_refused_when_loaded(
    clean: list[str], flaw: str, message: str
) -> None:
    def bad(*, dtype: Any) -> Any:
        return (
            arrays(flaw=flaw) if flaw == "object" else data.Dataset(**arrays(flaw=flaw))
        )

    data.register("bad", bad)
    clean.append("bad")
    with pytest.raises(ValueError, match=message):
        data.load("bad")


def test_a_loader_may_give_regression_data_several_targets_a_row(
    clean: list[str],
) -> None:
    rng = np.random.default_rng(1)

    def two_targets(*, dtype: Any) -> data.Dataset:
        X = rng.standard_normal((30, 2))
        Y = np.stack([X.sum(axis=1), X[:, 0]], axis=1)
        return data.Dataset(X[:20], Y[:20], X[20:], Y[20:], (), "two")

    data.register("two-targets", two_targets)
    clean.append("two-targets")
    ds = data.load("two-targets", dtype="float64")
    assert (ds.y_train.shape, ds.y_val.shape) == ((18, 2), (2, 2))  # type: ignore[union-attr]
