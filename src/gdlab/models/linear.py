r"""Linear models: the course notes' one-neuron regression and softmax regression.

Both are one :class:`~gdlab.models.layers.Dense` layer with a loss on top (a
:class:`~gdlab.models.mlp.Model` without hidden layers); parameters are named ``W``
(``(n_features, n_outputs)``) and ``b`` (``(n_outputs,)``), and start at zero unless
``init`` says otherwise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from gdlab import _checks
from gdlab.models.mlp import Model


class LinearRegression(Model):
    r"""Linear regression :math:`\hat y = xW + b`, the notes' neuron :math:`mx + b`.

    Args:
        n_features: inputs per sample (1 for the worked example; ``X`` may then be
            1-D).
        n_outputs: outputs per sample, default 1 (``predict`` is then ``(n,)``).
        loss: ``"mse"`` (default), :math:`\frac1N\sum(\hat y-y)^2`, the course notes'
            ``get_mse``; or ``"sse"``, :math:`\frac12\sum(\hat y-y)^2`.
        l2: ridge penalty λ >= 0, adding :math:`\tfrac\lambda2\lVert W\rVert^2`.
        dtype, seed, init: as for :class:`~gdlab.models.MLP`; ``init`` defaults to
            ``"zeros"`` (so ``seed`` only matters for ``"he"``/``"glorot"``).

    Gradients (MSE, :math:`r = \hat y - y`): :math:`\partial W = \frac2N x^\top r`,
    :math:`\partial b = \frac2N\sum r`.

    The worked example: points ``(1, 3), (2, 5)`` from :math:`m=-1, b=5`. With two
    points the mean is ½·sum, so the default MSE is the worked example's
    :math:`\tfrac12[(m+b-3)^2+(2m+b-5)^2] = 2.5` with
    :math:`\partial/\partial m = 5m+3b-13 = -3`, :math:`\partial/\partial b =
    3m+2b-8 = -1`, and one SGD step with λ = 0.1 gives ``m = -0.7, b = 5.1``
    (``loss="sse"`` gives the same numbers for these two points)::

        >>> from gdlab import optim
        >>> m = LinearRegression(n_features=1)
        >>> m.params["W"][...] = -1.0; m.params["b"][...] = 5.0
        >>> loss, g = m.loss_and_grad([1.0, 2.0], [3.0, 5.0])
        >>> loss, g["W"].item(), g["b"].item()
        (2.5, -3.0, -1.0)
        >>> optim.SGD(m.params, lr=0.1).step(g)   # W = -0.7, b = 5.1
    """

    def __init__(
        self,
        n_features: int = 1,
        n_outputs: int = 1,
        *,
        loss: str = "mse",
        l2: float = 0.0,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator = 0,
        init: str = "zeros",
    ) -> None:
        owner = "LinearRegression"
        d = _checks.integer(owner, "n_features", n_features, low=1)
        k = _checks.integer(owner, "n_outputs", n_outputs, low=1)
        _checks.choice(owner, "loss", loss, ("mse", "sse"))
        super().__init__(
            [d, k],
            activation="relu",
            loss=loss,
            l2=l2,
            dtype=dtype,
            seed=seed,
            init=init,
            names=[("W", "b")],
            config={
                "n_features": d,
                "n_outputs": k,
                "loss": loss,
                "l2": l2,
                "seed": seed,
                "init": init,
            },
        )


class SoftmaxRegression(Model):
    r"""Multinomial logistic regression: :math:`p = \mathrm{softmax}(xW + b)`.

    The cost is softmax cross-entropy (mean over the batch) plus
    :math:`\tfrac\lambda2\lVert W\rVert^2`; its gradient
    :math:`\partial W = x^\top(p - t)/n + \lambda W`, :math:`\partial b = \sum_i(p_i -
    t_i)/n`. ``y``: class ids in ``[0, n_classes)`` or one-hot rows.

    Args:
        n_features: inputs per sample, e.g. 784.
        n_classes: at least 2.
        l2, dtype, seed, init: as for :class:`LinearRegression` (``init="zeros"``:
            the cost starts at :math:`\log(\text{n\_classes})`).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        l2: float = 0.0,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator = 0,
        init: str = "zeros",
    ) -> None:
        owner = "SoftmaxRegression"
        d = _checks.integer(owner, "n_features", n_features, low=1)
        k = _checks.integer(owner, "n_classes", n_classes, low=2)
        super().__init__(
            [d, k],
            activation="relu",
            loss="softmax_cross_entropy",
            l2=l2,
            dtype=dtype,
            seed=seed,
            init=init,
            names=[("W", "b")],
            config={
                "n_features": d,
                "n_classes": k,
                "l2": l2,
                "seed": seed,
                "init": init,
            },
        )
