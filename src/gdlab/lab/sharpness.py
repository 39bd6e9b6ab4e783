r"""Sharpness of a trained model: the largest eigenvalue of its training loss's Hessian.

Keskar et al. (2017) found that large-batch training converges to *sharp* minima
(large Hessian eigenvalues) and small-batch training to *flat* ones, which
generalize better. :func:`sharpness` measures :math:`\lambda_{\max}` of the cost (L2
term included) at the model's weights on a fixed subset of the training set (the
first ``samples`` rows), in a float64 copy of the model, with
:func:`gdlab.lab.hessian_top_eigenvalues` (Lanczos on Hessian-vector products).

**ReLU networks.** A Hessian-vector product there is a central difference of two
gradients at :math:`\theta \pm h v`. The loss of a ReLU network is smooth only
between the kinks of its units, and among a million (sample, unit) pairs a few
pre-activations lie within :math:`h` of zero: a difference across a kink adds a
jump of size :math:`O(1/h)` and Lanczos reports a "curvature" of 50 where the true
one is 3. For ReLU the gradients are therefore taken with the units' on/off
pattern frozen at :math:`\theta` — the same loss near :math:`\theta`, smooth, and
the Hessian autograd gives (ReLU'' = 0). Smooth activations use the model's own
``loss_and_grad``.

References:
    Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, *On Large-Batch Training for Deep
    Learning: Generalization Gap and Sharp Minima*, ICLR 2017.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, losses
from gdlab.lab.analysis import hessian_top_eigenvalues
from gdlab.models import Model

DEFAULT_SAMPLES = 1000
"""Training samples the sharpness is measured on (the first ones)."""

F64 = NDArray[np.float64]
LossAndGrad = Callable[[Any], tuple[float, Any]]

_LOSSES: dict[str, Callable[..., tuple[float, Any]]] = {
    "softmax_cross_entropy": losses.softmax_cross_entropy,
    "binary_cross_entropy": losses.binary_cross_entropy,
    "mse": losses.mse,
    "sse": losses.sse,
}


def training_loss(model: Model, X: ArrayLike, y: ArrayLike) -> LossAndGrad:
    """``loss_and_grad(params)`` of ``model``'s cost on ``(X, y)`` for
    :func:`~gdlab.lab.hessian_top_eigenvalues`: the model's own for smooth
    activations; for ReLU, the gradient with the units' on/off pattern frozen at the
    current weights (smooth across the kinks a finite difference may cross)."""
    if model.activation != "relu" or len(model.params) <= 2:
        return lambda _params: model.loss_and_grad(X, y)
    return _FrozenReLU(model, X, y)


class _FrozenReLU:
    """The cost and its gradient with every ReLU's mask fixed at construction."""

    def __init__(self, model: Model, X: ArrayLike, y: ArrayLike) -> None:
        self.model = model
        self.X = np.asarray(X, dtype=model.dtype)
        names = list(model.params)
        self.layers = list(zip(names[0::2], names[1::2], strict=True))
        self.loss = _LOSSES[model.loss_name]
        model.loss_and_grad(self.X, y)  # checks X and y
        target = np.asarray(y)
        if model.loss_name != "softmax_cross_entropy" and target.ndim == 1:
            target = target.reshape(-1, 1).astype(model.dtype)
        self.y = target
        self.masks: list[NDArray[np.bool_]] = []
        a = self.X
        for w, b in self.layers[:-1]:
            z = a @ model.params[w] + model.params[b]
            self.masks.append(z > 0)
            a = z * self.masks[-1]

    def __call__(self, _params: object) -> tuple[float, dict[str, F64]]:
        p, l2 = self.model.params, self.model.l2
        inputs = [self.X]
        for (w, b), mask in zip(self.layers[:-1], self.masks, strict=True):
            inputs.append((inputs[-1] @ p[w] + p[b]) * mask)
        w_last, b_last = self.layers[-1]
        value, d = self.loss(inputs[-1] @ p[w_last] + p[b_last], self.y)
        grads: dict[str, F64] = {}
        for i in range(len(self.layers) - 1, -1, -1):
            w, b = self.layers[i]
            grads[w] = inputs[i].T @ d + l2 * p[w]
            grads[b] = d.sum(axis=0)
            if i:
                d = (d @ p[w].T) * self.masks[i - 1]
        return value + self.model.penalty(), grads


def sharpness(
    model: Model,
    X: ArrayLike,
    y: ArrayLike,
    *,
    samples: int | None = DEFAULT_SAMPLES,
    seed: int = 0,
) -> float:
    r"""λmax of the Hessian of ``model``'s cost on the first ``samples`` rows of
    ``(X, y)`` (all rows if None), at its current weights.

    The model is copied to float64 (weights and data) so the finite differences
    behind each Hessian-vector product are accurate to about 1e-8; ``model`` itself
    is not changed. ``seed`` seeds the Lanczos start vector.

    Example:
        >>> spec = RunSpec(model="mlp:64-32-10", train=TrainConfig(batch_size=512))
        >>> run = build(spec)
        >>> history = fit(run.model, run.optimizer, run.dataset, run.spec.train)
        >>> sharpness(run.model, run.dataset.X_train, run.dataset.y_train)
        4.21...
    """
    owner = "sharpness"
    X = np.asarray(X)
    n = len(X) if samples is None else _checks.integer(owner, "samples", samples, low=1)
    model64 = model.astype(np.float64)
    X64 = X[:n].astype(np.float64)
    y_part = np.asarray(y)[:n]
    values = hessian_top_eigenvalues(
        training_loss(model64, X64, y_part), model64.params, 1, seed=seed
    )
    assert isinstance(values, np.ndarray)
    return float(values[0])


__all__ = ["DEFAULT_SAMPLES", "sharpness", "training_loss"]
