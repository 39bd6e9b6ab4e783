"""Seeded train/test splits, index for index those of scikit-learn's
``train_test_split(..., test_size=n_test, random_state=seed, stratify=...)``,
without importing scikit-learn (about a second of a command's start-up).

Shuffled (``stratify=None``, ``ShuffleSplit``): one permutation of the rows from
``RandomState(seed)``; the first ``n_test`` are the test rows, the rest the
training rows. Stratified (``StratifiedShuffleSplit``): the rows of each class
(in order, a stable sort by class) get ``n_i`` training and ``t_i`` test places,
each the count's share rounded down, the rest of the draws going to the classes
of the largest remainders (ties drawn at random, sklearn's ``_approximate_mode``);
then each class's rows are permuted and cut, and both sides permuted again. The
same generator draws everything in that order, so the same seed gives sklearn's
rows; a test holds them equal to scikit-learn's on many labelings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["split_indices"]

Indices = NDArray[np.intp]


def _shares(counts: NDArray[Any], draws: int, rng: np.random.RandomState) -> Any:
    """``draws`` places shared in proportion to ``counts``: each share rounded
    down, the places left to the largest remainders (ties broken by ``rng``)."""
    exact = counts / counts.sum() * draws
    shares = np.floor(exact)
    left = int(draws - shares.sum())
    remainder = exact - shares
    for value in np.unique(remainder)[::-1]:  # largest remainder first
        if left <= 0:
            break
        (tied,) = np.where(remainder == value)
        take = min(len(tied), left)
        shares[rng.choice(tied, size=take, replace=False)] += 1
        left -= take
    return shares.astype(int)


def split_indices(
    n: int, n_test: int, seed: int, labels: NDArray[Any] | None = None
) -> tuple[Indices, Indices]:
    """(training rows, test rows) of ``n`` rows with ``n_test`` test rows, drawn
    from ``seed``, stratified by ``labels`` when given: sklearn's
    ``train_test_split`` rows (the caller checks that each class has 2 rows or
    more and that both sides can hold every class)."""
    rng = np.random.RandomState(seed)
    n_train = n - n_test
    if labels is None:
        order = rng.permutation(n)
        return order[n_test:], order[:n_test]
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    train_places = _shares(counts, n_train, rng)
    test_places = _shares(counts - train_places, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for rows, a, b in zip(by_class, train_places, test_places, strict=True):
        mixed = rows.take(rng.permutation(len(rows)), mode="clip")
        train.extend(mixed[:a])
        test.extend(mixed[a : a + b])
    return rng.permutation(train), rng.permutation(test)
