"""What :func:`gdlab.train.fit` needs of a model: no base class, these members.

gdlab's own models (:class:`~gdlab.models.MLP`, the linear models) follow it; a
user's NumPy model that does too trains, checkpoints and resumes with ``fit`` (see
``docs/examples/own_model.py``)::

    class Mine:
        is_classifier, loss_name = True, "logistic"
        def __init__(self):
            self.params = Params({"w": np.zeros(4), "b": np.zeros(1)})
        def loss_and_grad(self, X, y): ...   # (float, Params like self.params)
        def loss(self, X, y): ...
        def accuracy(self, X, y): ...
        def __repr__(self): return "Mine()"  # compared when a run resumes
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from numpy.typing import NDArray

from gdlab.params import Params


@runtime_checkable
class TrainableModel(Protocol):
    """A model :func:`gdlab.train.fit` can train.

    ``fit`` draws mini-batches ``(X, y)`` of the dataset (``X`` is (samples,
    features), ``y`` is (samples,)), calls :meth:`loss_and_grad`, clips the
    gradient's norm if asked (scaling ``grads.buffers`` in place) and hands the
    gradient to the optimizer built on :attr:`params`. It evaluates with
    :meth:`loss` and, for a classifier, :meth:`accuracy`. Checkpoints save and
    restore :attr:`params` by name, and ``resume`` refuses a model whose ``repr``
    differs from the checkpoint's: make ``__repr__`` describe the configuration.

    Optional: ``buffers``, a mapping name -> array of state that is not trained
    but changes as the model runs (BatchNorm's running statistics, a random
    stream, as :class:`gdlab.models.torch.TorchModel` has): checkpoints save it and
    a resume writes it back in place.
    """

    @property
    def params(self) -> Params:
        """All parameters, by name, updated in place by the optimizer."""

    @property
    def is_classifier(self) -> bool:
        """Whether :meth:`accuracy` applies (False: fit records no accuracy)."""

    @property
    def loss_name(self) -> str:
        """A label of the loss. ``"softmax_cross_entropy"`` makes fit evaluate in
        chunks through ``forward(X)`` (the logits) and ``l2`` (the penalty on the
        parameters named ``W...``), which a model must then have too; any other
        name evaluates with :meth:`loss` and :meth:`accuracy`."""

    def loss_and_grad(self, X: NDArray[Any], y: NDArray[Any]) -> tuple[float, Params]:
        """The loss on the batch and its gradient, a Params in the layout of
        :attr:`params` (so the optimizer updates each buffer in one pass). The
        gradient may be a buffer the next call overwrites."""

    def loss(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        """The loss on ``(X, y)`` without gradients (the one fit records)."""

    def accuracy(self, X: NDArray[Any], y: NDArray[Any]) -> float:
        """The fraction of correct predictions on ``(X, y)`` (classifiers)."""
