"""Models with hand-written backprop: linear regression, softmax regression, MLPs.

Every model keeps its parameters in one :class:`~gdlab.Params` (``m.params``) and
returns gradients in the same layout from ``m.loss_and_grad(X, y)``, so that
``optim.SGD(m.params, lr=0.1).step(grads)`` is one fused update. The layers
(:mod:`gdlab.models.layers`) are "Deep Learning from Scratch"-style, with
``forward``/``backward`` and a cache; :func:`gradcheck` compares backprop with
central differences. Any object with the members of :class:`TrainableModel` trains
with :func:`gdlab.train.fit` as well.
"""

from __future__ import annotations

from gdlab.models import layers
from gdlab.models.gradcheck import gradcheck
from gdlab.models.layers import (
    BinaryCrossEntropy,
    Dense,
    MeanSquaredError,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    SumSquaredError,
    Tanh,
)
from gdlab.models.linear import LinearRegression, SoftmaxRegression
from gdlab.models.mlp import MLP, Model
from gdlab.models.protocol import TrainableModel

__all__ = [
    "MLP",
    "BinaryCrossEntropy",
    "Dense",
    "LinearRegression",
    "MeanSquaredError",
    "Model",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "SoftmaxRegression",
    "SumSquaredError",
    "Tanh",
    "TrainableModel",
    "gradcheck",
    "layers",
]
