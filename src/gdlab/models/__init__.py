"""Models with hand-written backprop: linear regression, softmax regression, MLPs.

Every model keeps its parameters in one :class:`~gdlab.Params` (``m.params``) and
returns gradients in the same layout from ``m.loss_and_grad(X, y)``, so that
``optim.SGD(m.params, lr=0.1).step(grads)`` is one fused update. The layers
(:mod:`gdlab.models.layers`) are "Deep Learning from Scratch"-style, with
``forward``/``backward`` and a cache; :func:`gradcheck` compares backprop with
central differences. Any object with the members of :class:`TrainableModel` trains
with :func:`gdlab.train.fit` as well.

Models by name (:mod:`gdlab.models.registry`): ``register(name, build)`` makes a
builder ``build(dataset, *, seed, dtype, **options)`` known to ``RunSpec.model``
and ``--model`` (``name:key=value,...``); gdlab's own — ``mlp``, ``softmax``,
``linear``, ``quadratic-deep`` (DeepOBS's noisy quadratic) and ``autoencoder`` —
are registered the same way, and with ``gdlab[torch]`` the PyTorch CNNs ``cnn`` and
``fmnist_2c2d`` (:mod:`gdlab.models.torch_nets`).
"""

from __future__ import annotations

from gdlab.models import autoencoder, builtins, layers, quadratic, torch_nets
from gdlab.models.autoencoder import AutoEncoder
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
from gdlab.models.quadratic import NoisyQuadratic
from gdlab.models.registry import names, register

register("mlp", builtins.mlp, shorthand="sizes")
register("softmax", builtins.softmax)
register("linear", builtins.linear)
register("quadratic-deep", quadratic.build)
register("autoencoder", autoencoder.build, shorthand="hidden")
torch_nets.register_builtin(register)  # cnn, fmnist_2c2d: torch loads when built

__all__ = [
    "MLP",
    "AutoEncoder",
    "BinaryCrossEntropy",
    "Dense",
    "LinearRegression",
    "MeanSquaredError",
    "Model",
    "NoisyQuadratic",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "SoftmaxRegression",
    "SumSquaredError",
    "Tanh",
    "TrainableModel",
    "gradcheck",
    "layers",
    "names",
    "register",
]
