"""BLAS threads by the size of the work (gdlab._blas): one thread for a small product,
the process's threads for a large one, a user's limit never raised."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

from gdlab import _blas, data, models, optim

pytestmark = pytest.mark.skipif(
    not any(i["user_api"] == "blas" for i in threadpoolctl.threadpool_info()),
    reason="no BLAS library loaded",
)


def blas_threads() -> list[int]:
    return [
        i["num_threads"]
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
    ]


def test_small_work_runs_on_one_thread_and_restores() -> None:
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert blas_threads() and set(blas_threads()) == {2}
        with _blas.threads_for(_blas.ONE_THREAD_BELOW - 1):
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}
        with _blas.threads_for(_blas.ONE_THREAD_BELOW):
            assert set(blas_threads()) == {2}


def test_restored_after_an_error() -> None:
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with pytest.raises(RuntimeError), _blas.threads_for(10):
            raise RuntimeError("inside")
        assert set(blas_threads()) == {2}


def test_a_users_limit_is_never_raised() -> None:
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        with _blas.threads_for(10):
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}


class Spy:
    """Records the BLAS threads each time the model's first layer runs forward."""

    def __init__(self, model: models.Model) -> None:
        self.seen: list[set[int]] = []
        layer = model._layers[0]
        forward = layer.forward

        def spying(x: np.ndarray) -> np.ndarray:
            self.seen.append(set(blas_threads()))
            return forward(x)

        layer.forward = spying  # type: ignore[method-assign]


def test_a_mini_batch_trains_on_one_thread_and_a_large_evaluation_on_all() -> None:
    m = models.MLP([784, 100, 10], seed=0, dtype=np.float32)
    spy = Spy(m)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 784)).astype(np.float32)
    y = rng.integers(0, 10, 2000)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        m.loss_and_grad(X[:100], y[:100])  # 7.8M multiply-adds
        m.forward(X)  # 2000 rows: 157M
        m.accuracy(X[:120], y[:120])  # 9.4M
        m.accuracy(X[:1000], y[:1000])  # 78M: on both
        assert set(blas_threads()) == {2}
    assert spy.seen == [{1}, {2}, {1}, {2}]


def test_one_thread_gives_the_same_numbers_as_before() -> None:
    """The loop's numbers do not depend on the threads the process had (OpenBLAS's
    products change in their last bits with the thread count)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 784)).astype(np.float32)
    y = rng.integers(0, 10, 1000)
    runs = []
    for threads in (1, 2):
        m = models.MLP([784, 100, 10], seed=0, dtype=np.float32)
        opt = optim.SGD(m.params, lr=0.1)
        with threadpoolctl.threadpool_limits(threads, user_api="blas"):
            for xb, yb in data.batches(X, y, 100, seed=0):  # 7.8M multiply-adds
                _, g = m.loss_and_grad(xb, yb)
                opt.step(g)
        runs.append(m.params.buffers[np.dtype(np.float32)].copy())
    np.testing.assert_array_equal(runs[0], runs[1])
