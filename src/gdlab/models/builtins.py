"""gdlab's own model kinds as registered builders: ``mlp``, ``softmax``,
``linear``, each sized from the data it is built for.

``mlp`` alone has one hidden layer of 100 (:data:`DEFAULT_HIDDEN`);
``mlp:784-256-10`` gives every size, the data's features first and its outputs
(classes, or 1 for regression) last. On regression data an ``mlp`` without
hidden layers is linear regression, and its loss is MSE.
"""

from __future__ import annotations

from typing import Any

from gdlab import _checks
from gdlab.data import Dataset
from gdlab.models.linear import LinearRegression, SoftmaxRegression
from gdlab.models.mlp import MLP, Model

DEFAULT_HIDDEN = (100,)
"""The hidden layer sizes of an MLP whose spec gives none."""


def _outputs(dataset: Dataset) -> int:
    return len(dataset.classes) if dataset.classes else 1


def _init(init: str | None) -> dict[str, Any]:
    return {} if init is None else {"init": init}


def mlp_sizes(sizes: object, dataset: Dataset) -> list[int]:
    """The layer sizes of ``mlp:SIZES`` for ``dataset`` (None: one hidden layer
    of 100)."""
    n_features, n_outputs = dataset.n_features, _outputs(dataset)
    if sizes is None:
        return [n_features, *DEFAULT_HIDDEN, n_outputs]
    given = f"mlp:{sizes}"
    try:
        found = [int(s) for s in str(sizes).split("-")]
    except ValueError:
        _checks.fail(
            "model", "sizes", "integers joined by '-', like mlp:784-100-10", given
        )
    if len(found) < 2 or min(found) < 1:
        _checks.fail("model", "sizes", "at least two positive sizes", given)
    if found[0] != n_features or found[-1] != n_outputs:
        _checks.fail(
            "model",
            "sizes",
            f"the data's {n_features} features first and its {n_outputs} outputs "
            f"last, like mlp:{n_features}-100-{n_outputs}",
            given,
        )
    return found


def mlp(
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    sizes: str | int | None = None,
    activation: str = "relu",
    l2: float = 0.0,
    init: str | None = None,
) -> Model:
    """An :class:`~gdlab.models.MLP` (softmax cross-entropy; MSE on regression
    data, where one without hidden layers is :class:`LinearRegression`)."""
    layers = mlp_sizes(sizes, dataset)
    if not dataset.classes and len(layers) == 2:
        return linear(dataset, seed=seed, dtype=dtype, init=init)
    return MLP(
        layers,
        activation=activation,
        seed=seed,
        l2=l2,
        dtype=dtype,
        **_init(init),
        **({} if dataset.classes else {"loss": "mse"}),
    )


def softmax(
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    l2: float = 0.0,
    init: str | None = None,
) -> Model:
    """:class:`SoftmaxRegression` over the data's features and classes."""
    if not dataset.classes:
        _checks.fail("model", "softmax", "used with classification data", dataset.name)
    return SoftmaxRegression(
        n_features=dataset.n_features,
        n_classes=len(dataset.classes),
        seed=seed,
        l2=l2,
        dtype=dtype,
        **_init(init),
    )


def linear(
    dataset: Dataset,
    *,
    seed: int,
    dtype: str,
    init: str | None = None,
) -> Model:
    """:class:`LinearRegression` (the course notes' neuron) over the data's
    features."""
    if dataset.classes:
        _checks.fail("model", "linear", "used with regression data", dataset.name)
    return LinearRegression(
        n_features=dataset.n_features, seed=seed, dtype=dtype, **_init(init)
    )


__all__ = ["DEFAULT_HIDDEN", "linear", "mlp", "mlp_sizes", "softmax"]
