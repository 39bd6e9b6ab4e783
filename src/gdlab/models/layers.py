r"""Layers with ``forward``/``backward`` and a cache ("Deep Learning from Scratch").

A layer's ``forward`` keeps what its ``backward`` needs (the input of :class:`Dense`,
the output of an activation); ``backward(dout)`` takes
:math:`\partial L/\partial\,\mathrm{out}` and returns
:math:`\partial L/\partial\,\mathrm{in}`, writing parameter gradients into arrays the
layer was given (views into a model's gradient :class:`~gdlab.Params`). Gradients
are analytic, by the chain rule:

* :class:`Dense` :math:`y = xW + b`: :math:`\partial W = x^\top\partial y`,
  :math:`\partial b = \sum_\text{rows}\partial y`,
  :math:`\partial x = \partial y\,W^\top`;
* :class:`ReLU` :math:`y = \max(x, 0)`: :math:`\partial x = \partial y\odot[y>0]`
  (or a mask frozen in advance);
* :class:`Tanh` :math:`y=\tanh x`: :math:`\partial x = \partial y\odot(1-y^2)`;
* :class:`Sigmoid` :math:`y=\sigma(x)`: :math:`\partial x=\partial y\odot y(1-y)`;
* loss layers (:class:`SoftmaxCrossEntropy`, ...): ``forward(z, t)`` returns the loss
  and ``backward()`` returns :math:`\partial L/\partial z` (see :mod:`gdlab.losses`).

Speed: outputs and input gradients live in buffers that a layer allocates once per
batch shape and reuses (the last few shapes are kept), the products are BLAS
``matmul`` calls writing with ``out=``, and the elementwise steps run in place. So an
array a layer returns is **overwritten by its next call**; copy it to keep it. With
``inplace=True`` an activation (or loss layer) also overwrites the array it is given,
as a model does with the buffers of the layer before it. Dtypes are kept: float32 in,
float32 out.

References:
    Saito, *Deep Learning from Scratch*, O'Reilly Japan 2016, ch. 5
    (https://github.com/oreilly-japan/deep-learning-from-scratch).
    Rumelhart, Hinton, Williams, *Learning representations by back-propagating
    errors*, Nature 323, 1986.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import losses
from gdlab.params import Array

__all__ = [
    "BinaryCrossEntropy",
    "Dense",
    "MeanSquaredError",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "SumSquaredError",
    "Tanh",
]


class Buffers:
    """Arrays reused between calls, keyed by name and shape; the last ``keep`` made
    are kept."""

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self._arrays: dict[tuple[str, tuple[int, ...], np.dtype[Any]], Array] = {}

    def get(
        self,
        name: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        fill: float | None = None,
    ) -> Array:
        """An array of this shape and dtype, the same one as last time.

        Its content is what the last user left, or ``fill`` when it is new.
        """
        key = (name, shape, dtype)
        a = self._arrays.get(key)
        if a is None:
            a = self._arrays[key] = np.empty(shape, dtype=dtype)
            if fill is not None:
                a.fill(fill)
            if len(self._arrays) > self.keep:  # the oldest made goes
                del self._arrays[next(iter(self._arrays))]
        return a


def _not_run(layer: object) -> RuntimeError:
    return RuntimeError(f"{type(layer).__name__}: backward called before forward")


class Dense:
    r"""Affine (fully connected) layer :math:`y = xW + b`.

    ``W`` is ``(fan_in, fan_out)``, ``b`` is ``(fan_out,)``; ``dW`` and ``db`` receive
    the gradients (new zero arrays when not given). Backward:

    .. math::
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial y},\quad
        \frac{\partial L}{\partial b} = \sum_i \frac{\partial L}{\partial y_i},\quad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} W^\top
    """

    def __init__(
        self, W: Array, b: Array, dW: Array | None = None, db: Array | None = None
    ) -> None:
        self.W, self.b = W, b
        self.dW = np.zeros_like(W) if dW is None else dW
        self.db = np.zeros_like(b) if db is None else db
        self.x: Array | None = None
        self._buffers = Buffers()

    def forward(self, x: Array) -> Array:
        out = self._buffers.get("out", (x.shape[0], self.W.shape[1]), self.W.dtype)
        np.matmul(x, self.W, out=out)
        out += self.b
        self.x = x
        return out

    def backward_params(self, dout: Array) -> None:
        """Write dL/dW and dL/db only (the first layer needs no dL/dx)."""
        if self.x is None:
            raise _not_run(self)
        np.matmul(self.x.T, dout, out=self.dW)
        ones = self._buffers.get("ones", (dout.shape[0],), dout.dtype, fill=1.0)
        np.matmul(ones, dout, out=self.db)  # column sums, by BLAS gemv

    def backward(self, dout: Array) -> Array:
        self.backward_params(dout)
        assert self.x is not None
        dx = self._buffers.get("dx", self.x.shape, self.W.dtype)
        np.matmul(dout, self.W.T, out=dx)
        return dx


class _Activation:
    """An elementwise activation that caches its output ``y``."""

    def __init__(self, *, inplace: bool = False) -> None:
        self.inplace = inplace
        self.out: Array | None = None
        self._buffers = Buffers()

    def _target(self, name: str, a: Array) -> Array:
        return a if self.inplace else self._buffers.get(name, a.shape, a.dtype)

    def forward(self, x: Array) -> Array:
        out = self._target("out", x)
        self._apply(x, out)
        self.out = out
        return out

    def backward(self, dout: Array) -> Array:
        if self.out is None:
            raise _not_run(self)
        dx = self._target("dx", dout)
        self._derive(self.out, dout, dx)
        return dx

    def _apply(self, x: Array, out: Array) -> None:
        raise NotImplementedError

    def _derive(self, y: Array, dout: Array, dx: Array) -> None:
        raise NotImplementedError


class ReLU(_Activation):
    r""":math:`y = \max(x, 0)`; :math:`\partial x = \partial y \odot [y > 0]`.

    The derivative at 0 is taken as 0 (as in torch). With ``mask`` set (a boolean
    array of the input's shape), the on/off pattern is that mask instead of
    :math:`[x > 0]`: :math:`y = x \odot m`, :math:`\partial x = \partial y \odot m`,
    a linear map (see :meth:`gdlab.models.Model.frozen_relu`).
    """

    def __init__(self, *, inplace: bool = False) -> None:
        super().__init__(inplace=inplace)
        self.mask: NDArray[np.bool_] | None = None

    def _apply(self, x: Array, out: Array) -> None:
        if self.mask is None:
            np.maximum(x, 0, out=out)
        else:
            np.multiply(x, self.mask, out=out)

    def _derive(self, y: Array, dout: Array, dx: Array) -> None:
        np.multiply(dout, y > 0 if self.mask is None else self.mask, out=dx)


class Tanh(_Activation):
    r""":math:`y = \tanh x`; :math:`\partial x = \partial y \odot (1 - y^2)`."""

    def _apply(self, x: Array, out: Array) -> None:
        np.tanh(x, out=out)

    def _derive(self, y: Array, dout: Array, dx: Array) -> None:
        s = self._buffers.get("scratch", y.shape, y.dtype)
        np.multiply(y, y, out=s)  # y²
        s *= dout  # dy·y²
        np.subtract(dout, s, out=dx)  # dy·(1 − y²)


class Sigmoid(_Activation):
    r""":math:`y = \sigma(x) = 1/(1+e^{-x})`; :math:`\partial x=\partial y\odot y(1-y)`.

    :math:`\sigma` is ``scipy.special.expit``: no overflow for any finite ``x``.
    """

    def _apply(self, x: Array, out: Array) -> None:
        from scipy.special import expit  # SciPy's import costs 0.2 s: only here

        expit(x, out=out)

    def _derive(self, y: Array, dout: Array, dx: Array) -> None:
        s = self._buffers.get("scratch", y.shape, y.dtype)
        np.subtract(1, y, out=s)  # 1 − y
        s *= y  # y(1 − y)
        np.multiply(dout, s, out=dx)


class _Loss:
    """A loss on top of the last layer: ``forward(z, t)`` -> L, ``backward()`` -> dL/dz.

    ``t`` is assumed checked (see :mod:`gdlab.losses` for the checked functions).
    """

    def __init__(self, *, inplace: bool = False) -> None:
        self.inplace = inplace
        self.grad: Array | None = None
        self._buffers = Buffers()

    def forward(self, z: Array, t: NDArray[Any]) -> float:
        if self.inplace:
            grad = z
        else:
            grad = self._buffers.get("grad", z.shape, z.dtype)
            grad[...] = z
        value = self._kernel(grad, t)
        self.grad = grad
        return value

    def backward(self, dout: float = 1.0) -> Array:
        if self.grad is None:
            raise _not_run(self)
        if dout != 1.0:
            self.grad *= dout
        return self.grad

    @staticmethod
    def _kernel(z: Array, t: NDArray[Any]) -> float:
        raise NotImplementedError


class SoftmaxCrossEntropy(_Loss):
    r"""Softmax with cross-entropy ("SoftmaxWithLoss"), mean over the batch.

    :math:`\partial L/\partial z = (\mathrm{softmax}(z) - t)/n`; ``t``: class ids
    ``(n,)`` or one-hot rows ``(n, k)``. See :func:`gdlab.losses.softmax_cross_entropy`.
    """

    @staticmethod
    def _kernel(z: Array, t: NDArray[Any]) -> float:
        return losses.softmax_cross_entropy_inplace(z, t)


class BinaryCrossEntropy(_Loss):
    r"""Sigmoid with binary cross-entropy, mean over all elements.

    :math:`\partial L/\partial z = (\sigma(z) - t)/N`. See
    :func:`gdlab.losses.binary_cross_entropy`.
    """

    @staticmethod
    def _kernel(z: Array, t: NDArray[Any]) -> float:
        return losses.binary_cross_entropy_inplace(z, t)


class MeanSquaredError(_Loss):
    r""":math:`L=\frac1N\sum(z-t)^2`, :math:`\partial L/\partial z=\frac2N(z-t)`."""

    @staticmethod
    def _kernel(z: Array, t: NDArray[Any]) -> float:
        z -= t
        return losses.mse_inplace(z)


class SumSquaredError(_Loss):
    r""":math:`L=\frac12\sum(z-t)^2`, :math:`\partial L/\partial z=z-t`."""

    @staticmethod
    def _kernel(z: Array, t: NDArray[Any]) -> float:
        z -= t
        return losses.sse_inplace(z)
