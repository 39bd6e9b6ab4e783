r"""Check backprop against central differences, in float64.

For every checked parameter entry :math:`\theta_i`,

.. math::
    \tilde g_i = \frac{L(\theta + h e_i) - L(\theta - h e_i)}{2h}
    \quad (\text{error } O(h^2)),

and the result is the largest error relative to the gradient's scale,

.. math::
    \frac{\max_i |g_i - \tilde g_i|}{\max(\max_i |g_i|, \max_i |\tilde g_i|)},

one number for the whole gradient (so an entry whose true gradient is 0, such as a
dead ReLU unit's, is not a false alarm). Correct backprop gives about 1e-9 in
float64 with the default ``h = 1e-6``; a wrong formula gives 1e-2 or more. A ReLU
input within ``h`` of 0 (its kink) spoils the difference quotient: with zero biases
and a sample that switches every unit off, the next layer's inputs are exactly 0,
so check such models with random biases.

References:
    Saito, *Deep Learning from Scratch*, ch. 4.4 and 5.7.4 (gradient check).
    CS231n, *Gradient checks* (https://cs231n.github.io/neural-networks-3/).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks
from gdlab.models.mlp import Model
from gdlab.models.protocol import TrainableModel


def gradcheck(
    model: Model | TrainableModel,
    X: ArrayLike,
    y: ArrayLike,
    *,
    eps: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> float:
    """Max relative error of ``model.loss_and_grad`` vs central differences.

    A gdlab model that is not float64 is checked on a float64 copy; the model
    itself is left unchanged (entries are perturbed and restored exactly).

    Args:
        model: a :class:`~gdlab.models.mlp.Model` (MLP, linear models, the
            autoencoder), or any :class:`~gdlab.models.TrainableModel` whose
            parameters are float64 (a registered model, a user's).
        X, y: one batch.
        eps: the step ``h`` of the central difference, > 0.
        max_entries: check at most this many entries per parameter (a seeded
            random subset); ``None`` checks all.
        seed: for that subset.
    """
    m: Model | TrainableModel
    if isinstance(model, Model):
        m = model if model.dtype == np.float64 else model.astype(np.float64)
    elif isinstance(model, TrainableModel) and all(
        model.params[k].dtype == np.float64 for k in model.params
    ):
        m = model
    else:
        _checks.fail(
            "gradcheck",
            "model",
            "a gdlab model or a TrainableModel with float64 parameters",
            type(model).__name__,
        )
    h = _checks.number("gradcheck", "eps", eps, low=0.0, low_open=True)
    if max_entries is not None:
        _checks.integer("gradcheck", "max_entries", max_entries, low=1)
    X, y = np.asarray(X), np.asarray(y)
    _, grads = m.loss_and_grad(X, y)
    analytic = grads.copy()
    rng = np.random.default_rng(seed)
    worst = 0.0
    scale = 0.0
    for name in m.params:
        p = m.params[name].reshape(-1)
        a = analytic[name].reshape(-1)
        idx = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            idx = rng.choice(p.size, size=max_entries, replace=False)
        for i in idx:
            orig = p[i]
            p[i] = orig + h
            plus = m.loss(X, y)
            p[i] = orig - h
            minus = m.loss(X, y)
            p[i] = orig
            numeric = (plus - minus) / (2 * h)
            worst = max(worst, abs(float(a[i]) - numeric))
            scale = max(scale, abs(float(a[i])), abs(numeric))
    return worst / scale if scale > 0 else worst
