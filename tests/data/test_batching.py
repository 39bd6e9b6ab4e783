"""Batch, mini-batch and stochastic iteration: partitions, seeding, validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gdlab import data


def xy(n: int, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    X = np.arange(n * d, dtype=np.float64).reshape(n, d)
    return X, np.arange(n)


def test_the_notes_example_10000_samples_in_batches_of_100() -> None:
    assert data.num_batches(10000, 100) == 100
    assert data.num_batches(10000, "full") == 1
    assert data.num_batches(10000, 1) == 10000
    assert data.num_batches(10, 3) == 4 and data.num_batches(10, 3, drop_last=True) == 3


@pytest.mark.parametrize("shuffle", [True, False])
def test_one_epoch_is_a_partition(shuffle: bool) -> None:
    X, y = xy(10)
    loader = data.batches(X, y, batch_size=3, shuffle=shuffle, seed=0)
    pairs = list(loader)
    assert [len(yb) for _, yb in pairs] == [3, 3, 3, 1] and len(loader) == 4
    seen = np.concatenate([yb for _, yb in pairs])
    np.testing.assert_array_equal(np.sort(seen), np.arange(10))  # each sample once
    for xb, yb in pairs:
        np.testing.assert_array_equal(xb, X[yb])  # rows stay paired with labels
    assert (seen != np.arange(10)).any() == shuffle


def test_drop_last_drops_the_short_batch() -> None:
    X, y = xy(10)
    sizes = [len(yb) for _, yb in data.batches(X, y, 3, drop_last=True)]
    assert sizes == [3, 3, 3]


def test_each_epoch_draws_a_new_permutation_fixed_by_the_seed() -> None:
    X, y = xy(50)
    a = data.batches(X, y, 10, seed=7)
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    b = data.batches(X, y, 10, seed=7)
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    c = data.batches(X, y, 10, seed=8)
    assert not np.array_equal(np.concatenate([yb for _, yb in c]), epochs_a[0])


def test_a_shared_generator_is_used_and_the_global_rng_untouched() -> None:
    X, y = xy(20)
    state = np.random.get_state()  # noqa: NPY002 (checking it is untouched)
    rng = np.random.default_rng(1)
    first = np.concatenate([yb for _, yb in data.batches(X, y, 5, seed=rng)])
    second = np.concatenate([yb for _, yb in data.batches(X, y, 5, seed=rng)])
    assert not np.array_equal(first, second)  # the generator advanced
    np.testing.assert_array_equal(first, np.random.default_rng(1).permutation(20))
    after = np.random.get_state()  # noqa: NPY002 (checking it is untouched)
    assert state[0] == after[0] and np.array_equal(state[1], after[1])


@pytest.mark.parametrize("batch_size", ["full", 20, 1000])
def test_batch_gd_yields_the_arrays_themselves(batch_size: int | str) -> None:
    X, y = xy(20)
    loader = data.batches(X, y, batch_size)
    assert len(loader) == 1 and loader.batch_size == 20
    ((xb, yb),) = list(loader)
    assert xb is X and yb is y


def test_stochastic_yields_single_samples() -> None:
    X, y = xy(6)
    pairs = list(data.batches(X, y, 1, seed=0))
    assert len(pairs) == 6
    assert all(xb.shape == (1, 2) and yb.shape == (1,) for xb, yb in pairs)


def test_unshuffled_batches_are_views_and_images_keep_their_shape() -> None:
    X = np.zeros((10, 28, 28), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    pairs = list(data.batches(X, y, 4, shuffle=False))
    assert [xb.shape for xb, _ in pairs] == [(4, 28, 28), (4, 28, 28), (2, 28, 28)]
    assert all(np.shares_memory(xb, X) for xb, _ in pairs)
    assert all(xb.dtype == np.float32 for xb, _ in data.batches(X, y, 4))


@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 70),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_sizes_match_num_batches(
    n: int, batch_size: int, drop_last: bool, seed: int
) -> None:
    X, y = xy(n, 1)
    if drop_last and batch_size > n:
        with pytest.raises(ValueError, match=r"batch_size must be <= the number"):
            data.batches(X, y, batch_size, drop_last=drop_last)
        return
    loader = data.batches(X, y, batch_size, seed=seed, drop_last=drop_last)
    sizes = [len(yb) for _, yb in loader]
    assert len(sizes) == len(loader) == data.num_batches(n, batch_size, drop_last)
    b = min(batch_size, n)
    assert all(s == b for s in sizes[:-1]) and 0 < sizes[-1] <= b
    assert sum(sizes) == (n // b * b if drop_last else n)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"batch_size": 0}, r"batch_size must be an integer >= 1, got 0"),
        ({"batch_size": -5}, r"batch_size must be an integer >= 1, got -5"),
        ({"batch_size": 2.5}, r"batch_size must be an integer >= 1, got 2.5"),
        ({"batch_size": True}, r"batch_size must be an integer >= 1, got True"),
        ({"batch_size": "half"}, r"batch_size must be an integer >= 1, got 'half'"),
        ({"batch_size": 11, "drop_last": True}, r"batch_size must be <= the number of"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"seed": "x"}, r"seed must be an integer >= 0, got 'x'"),
        ({"shuffle": 1}, r"shuffle must be True or False, got 1"),
        ({"drop_last": None}, r"drop_last must be True or False, got None"),
    ],
)
def test_bad_arguments(kwargs: dict, problem: str) -> None:
    X, y = xy(10)
    with pytest.raises(ValueError, match=r"^batches: " + problem):
        data.batches(X, y, **kwargs)


def test_bad_arrays() -> None:
    X, y = xy(10)
    with pytest.raises(
        ValueError, match=r"^batches: X and y must have the same length"
    ):
        data.batches(X, y[:9])
    with pytest.raises(ValueError, match=r"^batches: X must be non-empty"):
        data.batches(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"^batches: X and y must be arrays with"):
        data.batches(np.float64(1.0), y)
    with pytest.raises(ValueError, match=r"^num_batches: n must be an integer >= 1"):
        data.num_batches(0, 10)
    with pytest.raises(ValueError, match=r"^num_batches: batch_size must be"):
        data.num_batches(10, 0)


def test_repr() -> None:
    X, y = xy(10)
    assert repr(data.batches(X, y, 3)) == (
        "Batches(n=10, batch_size=3, shuffle=True, drop_last=False, "
        "replace=False, batches_per_epoch=4)"
    )


def test_sampling_with_replacement_draws_every_batch_anew() -> None:
    X, y = xy(10)
    loader = data.batches(X, y, 4, seed=0, replace=True)
    assert len(loader) == 3
    epoch = list(loader)
    assert [len(yb) for _, yb in epoch] == [4, 4, 4]  # every batch full
    drawn = np.concatenate([yb for _, yb in epoch])
    np.testing.assert_array_equal(epoch[0][0], X[epoch[0][1]])
    # The same draws as the course notes' np.random.choice: uniform, repeats allowed.
    expected = np.random.default_rng(0).integers(0, 10, size=(3, 4)).ravel()
    np.testing.assert_array_equal(drawn, expected)
    many = np.concatenate([yb for _ in range(200) for _, yb in loader])
    assert len(np.unique(many)) == 10 and np.bincount(many).min() > 150
    firsts = [next(iter(loader))[1] for _ in range(20)]
    assert any(len(set(b.tolist())) < 4 for b in firsts)  # a sample twice in a batch
    with pytest.raises(ValueError, match=r"batches: replace must be used with shuffle"):
        data.batches(X, y, 4, shuffle=False, replace=True)
