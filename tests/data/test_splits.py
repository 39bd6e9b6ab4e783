"""gdlab's seeded splits and packaged digits: index for index scikit-learn's.

scikit-learn is imported in the tests that use it: importing it takes a second of
every pytest-xdist worker's collection, and only the worker running them needs it."""

from __future__ import annotations

import numpy as np
import pytest

from gdlab.data import datasets
from gdlab.data.splits import split_indices


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_packaged_digits_are_scikit_learns_split(dtype: type) -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = (bunch.data / 16).astype(dtype)
    y = bunch.target.astype(np.int64)
    want = train_test_split(
        X,
        y,
        test_size=datasets.DIGITS_TEST_FRACTION,
        stratify=y,
        random_state=datasets.DIGITS_SEED,
    )
    got = datasets.digits(np.dtype(dtype))
    for a, b in zip(
        (got.X_train, got.X_test, got.y_train, got.y_test), want, strict=True
    ):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)


def _labelings() -> list[tuple[np.ndarray, int, int]]:
    """(labels, test rows, seed): balanced, skewed, tied remainders, 2 classes,
    12 classes; test sizes from the fewest allowed to most of the rows."""
    rng = np.random.default_rng(7)
    cases = []
    for seed, (n, k) in enumerate([(30, 3), (101, 10), (57, 2), (200, 12), (23, 4)]):
        labels = np.concatenate([np.arange(k).repeat(2), rng.integers(0, k, n - 2 * k)])
        labels = rng.permutation(labels)
        if seed == 2:
            labels = np.where(labels == 0, 5, 9)  # labels that are not 0..k-1
        for n_test in (k, n // 3, n - k):
            cases.append((labels, n_test, seed))
    return cases


@pytest.mark.parametrize("stratified", [True, False])
def test_splits_are_train_test_splits(stratified: bool) -> None:
    from sklearn.model_selection import train_test_split

    for labels, n_test, seed in _labelings():
        rows = np.arange(len(labels))
        train, test = train_test_split(
            rows,
            test_size=n_test,
            random_state=seed,
            stratify=labels if stratified else None,
        )
        got = split_indices(len(labels), n_test, seed, labels if stratified else None)
        assert np.array_equal(got[0], train), (len(labels), n_test, seed)
        assert np.array_equal(got[1], test), (len(labels), n_test, seed)


def test_the_validation_split_is_scikit_learns() -> None:
    from sklearn.model_selection import train_test_split

    data = datasets.digits(np.dtype(np.float64))
    split = data.split_validation(0.1, 3)
    X_train, X_val, y_train, y_val = train_test_split(
        data.X_train,
        data.y_train,
        test_size=int(np.ceil(0.1 * data.n_train)),
        stratify=data.y_train,
        random_state=3,
    )
    assert np.array_equal(split.X_train, X_train)
    assert np.array_equal(split.X_val, X_val)
    assert np.array_equal(split.y_train, y_train)
    assert np.array_equal(split.y_val, y_val)
