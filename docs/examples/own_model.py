"""Your own NumPy model, trained by ``gdlab.train.fit``: no base class, only the
members of :class:`gdlab.models.TrainableModel`::

    python docs/examples/own_model.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import Params, optim
from gdlab.data import Dataset
from gdlab.train import TrainConfig, fit


class CircleClassifier:
    """Logistic regression on (x, y, x², y²): is a point inside the unit circle?"""

    is_classifier = True
    loss_name = "logistic"

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.params = Params({"w": 0.1 * rng.standard_normal(4), "b": np.zeros(1)})
        self.grads = self.params.zeros_like()  # one layout: a fused optimizer step

    def __repr__(self) -> str:  # resume() compares it with the checkpoint's
        return "CircleClassifier()"

    def logits(self, X: NDArray[Any]) -> NDArray[np.float64]:
        features = np.hstack([X, X**2])
        return features @ self.params["w"] + self.params["b"]

    def loss(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        """Mean binary cross-entropy, log(1 + e^z) - y z."""
        z = self.logits(X)
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    def loss_and_grad(self, X: NDArray[Any], y: NDArray[Any]) -> tuple[float, Params]:
        z = self.logits(X)
        dz = (0.5 + 0.5 * np.tanh(0.5 * z) - y) / len(y)  # sigmoid(z) - y, no overflow
        self.grads["w"][...] = np.hstack([X, X**2]).T @ dz
        self.grads["b"][...] = dz.sum()
        return self.loss(X, y), self.grads

    def accuracy(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        return float(np.mean((self.logits(X) > 0) == (y == 1)))


def circle(n: int, seed: int = 0) -> Dataset:
    """``n`` points uniform in [-1.5, 1.5]², labelled 1 inside the unit circle."""
    X = np.random.default_rng(seed).uniform(-1.5, 1.5, (n, 2))
    y = (np.sum(X**2, axis=1) < 1.0).astype(np.int64)
    half = n // 2
    return Dataset(
        X_train=X[:half],
        y_train=y[:half],
        X_test=X[half:],
        y_test=y[half:],
        classes=("outside", "inside"),
        name="circle",
    )


def main() -> float:
    """Train with Adam for 20 epochs; return the test accuracy."""
    data, model = circle(2000), CircleClassifier()
    opt = optim.create("adam", model.params, lr=0.05)
    fit(model, opt, data, TrainConfig(epochs=20, batch_size=50), progress=False)
    return model.accuracy(data.X_test, data.y_test)


if __name__ == "__main__":
    print(f"test accuracy {main():.3f}")
