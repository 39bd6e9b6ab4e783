"""Batch, mini-batch and stochastic iteration with seeded shuffling.

The three modes of the source notes are one iterator with different batch sizes::

    batches(X, y, batch_size="full")   # batch GD: one update per epoch
    batches(X, y, batch_size=100)      # mini-batch GD: 60000 samples -> 600 per epoch
    batches(X, y, batch_size=1)        # stochastic GD: one sample per update

Shuffling draws a permutation per epoch (sampling without replacement) from a seeded
``numpy.random.Generator``, never from the global random state. ``replace=True``
draws every batch independently with replacement instead, as the course notes'
``np.random.choice(train_size, batch_size)`` does: an "epoch" is then
``len(loader)`` such batches, and a sample may appear twice or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gdlab import _checks

BatchSize = int | Literal["full"]
Seed = int | np.random.Generator


def as_generator(owner: str, seed: object) -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else a new one seeded with the int."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_checks.integer(owner, "seed", seed, low=0))


def _batch_size(owner: str, batch_size: object, n: int, drop_last: bool) -> int:
    """The effective batch size: ``"full"`` and anything above ``n`` mean ``n``."""
    if batch_size == "full":
        return n
    b = _checks.integer(owner, "batch_size", batch_size, low=1)
    if drop_last and b > n:
        _checks.fail(
            owner, "batch_size", f"<= the number of samples ({n}) with drop_last", b
        )
    return min(b, n)


def num_batches(n: int, batch_size: BatchSize, drop_last: bool = False) -> int:
    """The number of batches per epoch of ``n`` samples (updates per epoch)."""
    n = _checks.integer("num_batches", "n", n, low=1)
    drop_last = _checks.flag("num_batches", "drop_last", drop_last)
    b = _batch_size("num_batches", batch_size, n, drop_last)
    return n // b if drop_last else -(-n // b)


class Batches:
    """An iterable over ``(xb, yb)`` batches; each pass over it is one epoch.

    Made by :func:`batches`. ``len()`` is the number of batches per epoch. With
    ``shuffle`` every epoch draws a new permutation from :attr:`rng`, so passes differ
    but the whole sequence is fixed by the seed.
    """

    def __init__(
        self,
        X: NDArray[Any],
        y: NDArray[Any],
        batch_size: BatchSize = 100,
        *,
        shuffle: bool = True,
        seed: Seed = 0,
        drop_last: bool = False,
        replace: bool = False,
    ) -> None:
        owner = "batches"
        X, y = np.asarray(X), np.asarray(y)
        if X.ndim == 0 or y.ndim == 0:
            _checks.fail(owner, "X and y", "arrays with a sample axis", "a scalar")
        if len(X) != len(y):
            raise ValueError(
                f"{owner}: X and y must have the same length, got {len(X)} and {len(y)}"
            )
        if len(X) == 0:
            _checks.fail(owner, "X", "non-empty", f"shape {X.shape}")
        self.X, self.y = X, y
        self.shuffle = _checks.flag(owner, "shuffle", shuffle)
        self.drop_last = _checks.flag(owner, "drop_last", drop_last)
        self.replace = _checks.flag(owner, "replace", replace)
        if self.replace and not self.shuffle:
            _checks.fail(owner, "replace", "used with shuffle=True", replace)
        self.batch_size = _batch_size(owner, batch_size, len(X), self.drop_last)
        self.rng = as_generator(owner, seed)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[NDArray[Any], NDArray[Any]]]:
        n, b = len(self.X), self.batch_size
        stop = len(self) * b
        if self.replace:  # every batch drawn anew: b indices, uniform, repeats allowed
            index = self.rng.integers(0, n, size=(len(self), b))
            for rows in index:
                yield self.X.take(rows, axis=0), self.y.take(rows, axis=0)
        elif b == n:
            # One batch of everything: its order does not change a mean gradient,
            # so yield the arrays themselves instead of a shuffled copy.
            yield self.X, self.y
        elif self.shuffle:
            order = self.rng.permutation(n)
            for start in range(0, stop, b):  # take: the rows of X[index], sooner
                index = order[start : start + b]
                yield self.X.take(index, axis=0), self.y.take(index, axis=0)
        else:
            for start in range(0, stop, b):
                yield self.X[start : start + b], self.y[start : start + b]

    def __repr__(self) -> str:
        return (
            f"Batches(n={len(self.X)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"replace={self.replace}, "
            f"batches_per_epoch={len(self)})"
        )


def batches(
    X: NDArray[Any],
    y: NDArray[Any],
    batch_size: BatchSize = 100,
    *,
    shuffle: bool = True,
    seed: Seed = 0,
    drop_last: bool = False,
    replace: bool = False,
) -> Batches:
    """Iterate over ``(X[i], y[i])`` in batches; one pass is one epoch.

    Args:
        X, y: arrays with the samples along the first axis, of the same length.
        batch_size: samples per batch, >= 1; ``"full"`` (or any size >= ``len(X)``)
            is batch GD, 1 is stochastic GD. The last batch may be smaller.
        shuffle: draw a new permutation each epoch (without replacement); else keep
            the order and yield views.
        seed: an int, or a ``numpy.random.Generator`` to share with other code.
        drop_last: drop the last, smaller batch.
        replace: draw each batch independently, with replacement (``batch_size``
            uniform indices; the course notes' ``np.random.choice``), instead of
            walking a permutation; every batch then has ``batch_size`` samples.

    Example::

        loader = data.batches(X, y, 100, seed=0)   # len(loader) batches per epoch
        for epoch in range(10):
            for xb, yb in loader: ...              # a new permutation each epoch

    Keep the returned object for the next epoch (or pass one Generator as ``seed``):
    a new call with the same int seed repeats the same permutation.
    """
    return Batches(
        X,
        y,
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        replace=replace,
    )
