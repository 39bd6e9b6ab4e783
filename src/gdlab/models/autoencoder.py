r"""A small MLP autoencoder: reconstruct the input through a narrow layer.

:math:`\hat x = f(x)` through the layers ``d -> hidden... -> d`` (an activation
between them, a linear output), with the reconstruction loss

.. math::
    L = \frac{1}{N d} \sum_{i=1}^N \lVert \hat x_i - x_i \rVert^2 ,

the mean squared error over every entry of the batch; the targets are the inputs,
so the labels ``y`` are ignored. Backprop is the MLP's (hand-written, checked by
:func:`~gdlab.models.gradcheck`). The one non-classification workload of the
benchmark suites, in the spirit of DeepOBS's (variational) autoencoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from gdlab import _checks
from gdlab.data import Dataset
from gdlab.losses import require_finite
from gdlab.models.mlp import Model
from gdlab.params import Array, Params


class AutoEncoder(Model):
    """An MLP ``n_features -> hidden... -> n_features`` trained to return its
    input; loss MSE (``loss_name`` ``"mse"``), no accuracy.

    Args:
        n_features: inputs (and outputs) per sample.
        hidden: the hidden layers' widths, the code layer among them, e.g.
            ``(32,)`` or ``(48, 16, 48)``.
        activation, l2, dtype, seed, init: as for :class:`~gdlab.models.MLP`.
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (32,),
        activation: str = "relu",
        *,
        l2: float = 0.0,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator = 0,
        init: str | None = None,
    ) -> None:
        owner = "AutoEncoder"
        d = _checks.integer(owner, "n_features", n_features, low=1)
        if isinstance(hidden, str) or not isinstance(hidden, Sequence) or not hidden:
            _checks.fail(owner, "hidden", "a non-empty list of widths", hidden)
        widths = [_checks.integer(owner, "hidden", h, low=1) for h in hidden]
        sizes = [d, *widths, d]
        super().__init__(
            sizes,
            activation=activation,
            loss="mse",
            l2=l2,
            dtype=dtype,
            seed=seed,
            init=init,
            names=[(f"W{i}", f"b{i}") for i in range(1, len(sizes))],
            config={
                "n_features": d,
                "hidden": widths,
                "activation": activation,
                "l2": l2,
                "seed": seed,
                "init": init,
            },
        )

    def _check_X(self, X: ArrayLike) -> Array:
        """``X`` checked as a model's input and, being its own target, read whole
        for NaN and Inf (named as ``X``, not as the targets)."""
        x = super()._check_X(X)
        require_finite(self._owner, "X", x)
        return x

    def loss_and_grad(
        self, X: ArrayLike, y: ArrayLike | None = None, *, out: Params | None = None
    ) -> tuple[float, Params]:
        """The reconstruction loss of ``X`` and its gradient (``y`` ignored)."""
        x = self._check_X(X)
        return super().loss_and_grad(x, x, out=out)

    def loss(self, X: ArrayLike, y: ArrayLike | None = None) -> float:
        """The reconstruction loss of ``X`` (``y`` ignored)."""
        x = self._check_X(X)
        return super().loss(x, x)


def build(
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    hidden: str | int = "32",
    activation: str = "relu",
    l2: float = 0.0,
    init: str | None = None,
) -> AutoEncoder:
    """The registered ``autoencoder`` (``autoencoder:48-16-48``: the hidden
    widths, joined by ``-``) for the data's features."""
    try:
        widths = [int(h) for h in str(hidden).split("-")]
    except ValueError:
        _checks.fail(
            "model", "hidden", "widths joined by '-', like autoencoder:32",
            f"autoencoder:{hidden}",
        )  # fmt: skip
    options: dict[str, Any] = {} if init is None else {"init": init}
    return AutoEncoder(
        dataset.n_features, widths, activation, l2=l2, dtype=dtype, seed=seed,
        **options,
    )  # fmt: skip


__all__ = ["AutoEncoder", "build"]
