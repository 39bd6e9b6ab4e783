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
from numpy.typing import ArrayLike

from gdlab import _checks
from gdlab.lab.analysis import hessian_top_eigenvalues
from gdlab.models import Model

DEFAULT_SAMPLES = 1000
"""Training samples the sharpness is measured on (the first ones)."""

LossAndGrad = Callable[[Any], tuple[float, Any]]


def training_loss(model: Model, X: ArrayLike, y: ArrayLike) -> LossAndGrad:
    """``loss_and_grad(params)`` of ``model``'s cost on ``(X, y)`` for
    :func:`~gdlab.lab.hessian_top_eigenvalues`: :meth:`~gdlab.models.Model.frozen_relu`,
    the model's own gradient with every ReLU's on/off pattern frozen at the current
    weights (smooth across the kinks a finite difference may cross; for smooth
    activations, the model's own gradient)."""
    frozen = model.frozen_relu(X, y)
    return lambda _params: frozen()


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

    Example (it trains a model first)::

        spec = RunSpec(model="mlp:64-32-10", train=TrainConfig(batch_size=512))
        run = build(spec)
        history = fit(run.model, run.optimizer, run.dataset, run.spec.train)
        sharpness(run.model, run.dataset.X_train, run.dataset.y_train)  # λmax
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
