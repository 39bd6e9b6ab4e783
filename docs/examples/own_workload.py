"""Your own model and dataset, registered by name, so that every command takes
them (and every worker process, local or on Ray, loads this file first)::

    gdlab compare --plugin docs/examples/own_workload.py --model my-softmax \\
        --optimizers adam,sgd --workers 2
    gdlab compare --plugin docs/examples/own_workload.py --data blobs:n=600 \\
        --model my-softmax:scale=0.1 --optimizers adam,sgd
    python docs/examples/own_workload.py

A model builder is ``build(dataset, *, seed, dtype, **options)``; a loader is
``load(*, dtype, **options)``; the options come from the text after the colon
(``blobs:n=600``). gdlab checks both before anything trains.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import Params, data, models


class MySoftmax:
    """Softmax regression by hand: the members fit() needs, nothing more."""

    is_classifier = True
    loss_name = "my_cross_entropy"

    def __init__(self, shape: tuple[int, int], seed: int, dtype: str, scale: float):
        w = scale * np.random.default_rng(seed).standard_normal(shape)
        self.params = Params({"W": w, "b": np.zeros(shape[1])}, dtype=dtype)
        self.grads = self.params.zeros_like()  # one layout: one fused update
        self.scale = scale

    def __repr__(self) -> str:  # a resumed run must be the same model
        return f"MySoftmax(shape={self.params['W'].shape}, scale={self.scale})"

    def _log_probs(self, X: NDArray[Any]) -> NDArray[Any]:
        z = X @ self.params["W"] + self.params["b"]
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def loss(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        return float(-self._log_probs(X)[np.arange(len(y)), y].mean())

    def loss_and_grad(self, X: NDArray[Any], y: NDArray[Any]) -> tuple[float, Params]:
        log_p = self._log_probs(X)
        d = np.exp(log_p)
        d[np.arange(len(y)), y] -= 1.0
        d /= len(y)
        self.grads["W"][...] = X.T @ d
        self.grads["b"][...] = d.sum(axis=0)
        return float(-log_p[np.arange(len(y)), y].mean()), self.grads

    def accuracy(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        return float(np.mean(np.argmax(self._log_probs(X), axis=1) == y))


def my_softmax(data: data.Dataset, *, seed: int, dtype: str, scale: float = 0.01):
    return MySoftmax((data.n_features, data.n_classes), seed, dtype, scale)


def blobs(*, dtype: Any, n: int = 300, seed: int = 0) -> data.Dataset:
    """Three Gaussian blobs in 2-D, ``n`` training and ``n`` test points."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 2 * n)
    X = rng.normal(0.0, 0.7, (2 * n, 2)) + np.array([[0, 2], [2, -1], [-2, -1]])[y]
    return data.from_arrays(X[:n], y[:n], X[n:], y[n:], name="blobs", dtype=dtype)


models.register("my-softmax", my_softmax)
data.register("blobs", blobs)


if __name__ == "__main__":
    from gdlab.experiment import RunSpec, build
    from gdlab.train import fit

    run = build(RunSpec(data="blobs:n=600", model="my-softmax", lr=0.1))
    fit(run.model, run.optimizer, run.dataset, run.spec.train, progress=False)
    ds = run.dataset
    print(f"test accuracy {run.model.accuracy(ds.X_test, ds.y_test):.3f}")
