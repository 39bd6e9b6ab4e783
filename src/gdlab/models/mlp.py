r"""Multi-layer perceptrons with hand-written backprop, and the base they share.

A :class:`Model` is a stack of :class:`~gdlab.models.layers.Dense` layers with an
activation between them and a loss on top. Its parameters live in one
:class:`~gdlab.Params` (``m.params``), its gradients in a second one of the same
layout (``m.grads``), so an optimizer updates everything in one fused pass::

    m = MLP([784, 100, 10], activation="relu", dtype=np.float32)
    opt = optim.SGD(m.params, lr=0.1)
    loss, grads = m.loss_and_grad(X, y)
    opt.step(grads)

Forward :math:`h_0 = x`, :math:`a_l = h_{l-1}W_l + b_l`, :math:`h_l = f(a_l)`,
:math:`z = a_L`; backward :math:`\delta_L = \partial L/\partial z`,
:math:`\partial W_l = h_{l-1}^\top\delta_l + \lambda W_l`,
:math:`\partial b_l = \sum_i \delta_{l,i}`,
:math:`\delta_{l-1} = \delta_l W_l^\top \odot f'(a_{l-1})`. The cost includes the L2
term :math:`\tfrac\lambda2\sum_l\lVert W_l\rVert^2` (weights only, not biases).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from gdlab import _blas, _checks, losses
from gdlab._checks import Raw
from gdlab.losses import as_array, as_float_array, check_labels, require_finite
from gdlab.models import layers
from gdlab.params import Array, Params

ACTIVATIONS: dict[str, type[layers._Activation]] = {
    "relu": layers.ReLU,
    "tanh": layers.Tanh,
    "sigmoid": layers.Sigmoid,
}
LOSSES: dict[str, type[layers._Loss]] = {
    "softmax_cross_entropy": layers.SoftmaxCrossEntropy,
    "binary_cross_entropy": layers.BinaryCrossEntropy,
    "mse": layers.MeanSquaredError,
    "sse": layers.SumSquaredError,
}
INITS = ("he", "glorot", "zeros")
CLASSIFICATION = ("softmax_cross_entropy", "binary_cross_entropy")
EVAL_CHUNK = 10_000
"""Rows per forward pass of :meth:`Model.evaluate` (4 MB of float32 activations a
100-unit layer): large enough for BLAS to run at full speed, small enough to stay
in cache-friendly buffers reused from pass to pass."""


def init_weight(
    rng: np.random.Generator, fan_in: int, fan_out: int, init: str
) -> NDArray[np.float64]:
    r"""One weight matrix ``(fan_in, fan_out)``, drawn in float64.

    * ``"he"``: :math:`\mathcal N(0, 2/\text{fan\_in})` (He et al., 2015, for ReLU);
    * ``"glorot"``: :math:`\mathcal U(\pm\sqrt{6/(\text{fan\_in}+\text{fan\_out})})`
      (Glorot & Bengio, 2010, for tanh and sigmoid);
    * ``"zeros"``;
    * ``"normal:σ"``: :math:`\sigma\,\mathcal N(0, 1)`, e.g. ``"normal:0.01"``, the
      ``weight_init_std * np.random.randn`` of "Deep Learning from Scratch".
    """
    w: NDArray[np.float64]
    if init.startswith("normal:"):
        w = rng.standard_normal((fan_in, fan_out))
        w *= float(init.partition(":")[2])
    elif init == "he":
        w = rng.standard_normal((fan_in, fan_out))
        w *= np.sqrt(2.0 / fan_in)
    elif init == "glorot":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-limit, limit, (fan_in, fan_out))
    else:
        w = np.zeros((fan_in, fan_out))
    return w


def check_init(owner: str, init: object) -> str:
    """``init`` if it names a weight initialization: one of :data:`INITS` or
    ``"normal:σ"`` with σ > 0 (canonical form ``"normal:0.01"``)."""
    if isinstance(init, str) and init.startswith("normal:"):
        text = init.partition(":")[2]
        try:
            std = float(text)
        except ValueError:
            std = math.nan
        if not (math.isfinite(std) and std > 0):
            _checks.fail(owner, "init", "normal:σ with a number σ > 0", init)
        return f"normal:{std:g}"
    return _checks.choice(owner, "init", init, (*INITS, "normal:σ"))


MAX_PARAMETERS = 10**8
"""The most weights and biases a network may have: at 10⁸, each copy (weights,
gradients, every optimizer state) takes 400 MB in float32, on a CPU."""


class _Spares:
    r"""Buffers for fresh gradients, each written again once nothing else holds it.

    A fresh gradient (``loss_and_grad`` without ``out=``) is never overwritten by a
    later call. Copying the model's buffer into new memory cost 24 µs of a 400 µs
    step at batch 100, and products written into new memory were slower still. In
    a loop ``loss, g = m.loss_and_grad(xb, yb)`` the gradient before last is let go
    when ``g`` is bound to the next, so two buffers taking turns serve it, both warm
    in cache. Whether anything else holds a buffer is read from its reference
    count (CPython's): every Params, view or array made from it adds one, so a
    buffer still in use is never written.
    """

    KEEP = 2

    def __init__(self, like: Params) -> None:
        self._like = like
        self._kept: list[tuple[Params, list[int]]] = []

    def take(self) -> Params:
        """A Params of the model's layout that no one outside holds, its content
        whatever was written there last (kept ones first, else a new one)."""
        for grads, alone in self._kept:
            if _references(grads) == alone:
                return grads
        grads = self._like.zeros_like()
        for name in grads:  # every view made now, to count among its own references
            grads[name]
        self._kept = [*self._kept[1 - self.KEEP :], (grads, _references(grads))]
        return grads

    def __getstate__(self) -> dict[str, object]:
        """A copy keeps none: the counts are of this object's own references."""
        return {**self.__dict__, "_kept": []}


def _references(grads: Params) -> list[int]:
    return [sys.getrefcount(buffer) for buffer in grads.buffers.values()]


class Model:
    """Dense layers, an activation between them, a loss on top; backprop by hand.

    Use :class:`MLP`, :class:`~gdlab.models.LinearRegression` or
    :class:`~gdlab.models.SoftmaxRegression`; this base holds what they share.

    ``loss_and_grad`` returns a fresh gradient unless given ``out=m.grads`` (the
    training loop's path, overwritten by the next such call); fresh ones take turns
    in memory that nothing holds any more. Inputs are cast to the
    model's dtype (a float32 batch stays float32 for a float32 model).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str,
        loss: str,
        l2: float,
        dtype: DTypeLike,
        seed: int | np.random.Generator,
        init: str | None,
        names: Sequence[tuple[str, str]],
        config: dict[str, Any],
    ) -> None:
        owner = type(self).__name__
        self._owner = owner
        self._config = config
        self.activation = _checks.choice(
            owner, "activation", activation, tuple(ACTIVATIONS)
        )
        self.loss_name = _checks.choice(owner, "loss", loss, tuple(LOSSES))
        self.l2 = _checks.number(owner, "l2", l2, low=0.0)
        self.dtype: np.dtype[np.floating] = _float_dtype(owner, dtype)
        if init is None:
            init = "he" if activation == "relu" else "glorot"
        init = check_init(owner, init)
        if isinstance(seed, np.random.Generator):
            rng = seed
        else:
            rng = np.random.default_rng(_checks.integer(owner, "seed", seed, low=0))
        self.sizes = tuple(sizes)
        count = sum((a + 1) * b for a, b in itertools.pairwise(self.sizes))
        if count > MAX_PARAMETERS:
            _checks.fail(
                owner,
                "sizes",
                f"a network of at most {MAX_PARAMETERS:,} parameters (this one has "
                f"{count:,})",
                list(self.sizes),
            )
        self.is_classifier = self.loss_name in CLASSIFICATION
        if self.loss_name == "softmax_cross_entropy" and self.sizes[-1] < 2:
            _checks.fail(
                owner, "sizes[-1]", ">= 2 classes for softmax_cross_entropy", sizes[-1]
            )

        arrays: dict[str, Array] = {}
        for (w, b), fan_in, fan_out in zip(names, sizes[:-1], sizes[1:], strict=True):
            arrays[w] = init_weight(rng, fan_in, fan_out, init)
            arrays[b] = np.zeros(fan_out)
        self._params = Params(arrays, dtype=self.dtype)
        self._grads = self._params.zeros_like()
        self._weights = [w for w, _ in names]
        self._names = list(names)
        self._spares = _Spares(self._params)

        p, g = self._params, self._grads
        self._dense = [layers.Dense(p[w], p[b], g[w], g[b]) for w, b in names]
        self._layers: list[layers.Dense | layers._Activation] = []
        for i, dense in enumerate(self._dense):
            if i:
                self._layers.append(ACTIVATIONS[self.activation](inplace=True))
            self._layers.append(dense)
        self._loss = LOSSES[self.loss_name](inplace=True)
        self._scratch = {w: np.empty_like(p[w]) for w in self._weights} if l2 else {}
        self._widest = max(a * b for a, b in itertools.pairwise(self.sizes))

    # --- what a user reads ------------------------------------------------------------

    @property
    def params(self) -> Params:
        """The parameters in one buffer: ``W1, b1, ...`` (MLP) or ``W, b`` (linear)."""
        return self._params

    @property
    def grads(self) -> Params:
        """The gradient buffer ``loss_and_grad(X, y, out=m.grads)`` writes into (same
        layout as params); a fresh gradient is written elsewhere."""
        return self._grads

    @property
    def n_features(self) -> int:
        return self.sizes[0]

    @property
    def n_outputs(self) -> int:
        return self.sizes[-1]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{self._owner}({args}, dtype={self.dtype.name})"

    # --- training -------------------------------------------------------------

    def loss_and_grad(
        self, X: ArrayLike, y: ArrayLike, *, out: Params | None = None
    ) -> tuple[float, Params]:
        """The cost on the batch (L2 term included) and its gradient.

        The gradient has the layout of ``m.params`` (so ``opt.step(grads)`` is
        fused) and is a fresh Params, which no later call overwrites, as NumPy
        returns fresh arrays; ``out=m.grads`` — the training loop's path — returns
        the model's own buffer instead, which the next such call overwrites.
        """
        if out is not None and out is not self._grads:
            _checks.fail(self._owner, "out", "None or the model's grads", type(out))
        grads = self._spares.take() if out is None else out
        for dense, (w, b) in zip(self._dense, self._names, strict=True):
            dense.dW, dense.db = grads[w], grads[b]
        rows = X.shape[0] if isinstance(X, np.ndarray) and X.ndim else 0
        with _blas.threads_for(rows * self._widest):
            x = self._check_X(X)
            z = self._through(x)  # X's errors before y's, as the order of arguments
            value = self._loss.forward(z, self._check_targets(y, x.shape[0]))
            d = self._loss.backward()
            for layer in self._layers[:0:-1]:
                d = layer.backward(d)
            self._dense[0].backward_params(d)
            value += self._l2_term(grads)
        return value, grads.view() if out is None else out

    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """The cost on ``(X, y)``, L2 term included, without gradients."""
        x = self._check_X(X)
        z = self._forward(x)
        t = self._check_targets(y, x.shape[0])
        return self._loss.forward(z, t) + self._l2_term(None)

    def frozen_relu(
        self, X: ArrayLike, y: ArrayLike
    ) -> Callable[[], tuple[float, Params]]:
        r"""``loss_and_grad(X, y)`` with every ReLU's on/off pattern frozen now.

        The function returned gives the cost and a fresh gradient at the weights it
        is called at, by the model's own layers with each ReLU :math:`\max(a, 0)`
        replaced by :math:`a\odot[a_0 > 0]`, :math:`a_0` its input at today's
        weights: the same cost and gradient here, and smooth in the weights nearby,
        so that a finite difference of gradients crossing a kink does not jump
        (:mod:`gdlab.lab.sharpness`). A model without ReLU gives its own.
        """
        x = self._check_X(X)
        relus = [layer for layer in self._layers if isinstance(layer, layers.ReLU)]
        self._forward(x)
        t = self._check_targets(y, x.shape[0])
        masks = []
        for layer in relus:
            assert layer.out is not None  # set by the forward pass
            masks.append(layer.out > 0)

        def loss_and_grad() -> tuple[float, Params]:
            for layer, mask in zip(relus, masks, strict=True):
                layer.mask = mask
            try:
                return self.loss_and_grad(x, t)
            finally:
                for layer in relus:
                    layer.mask = None

        return loss_and_grad

    def penalty(self) -> float:
        """The L2 term λ/2·Σ‖W‖² of the cost at the current weights (biases aside)."""
        return self._l2_term(None)

    def _l2_term(self, grads: Params | None) -> float:
        """λ/2·Σ‖W‖², its gradient λW added into ``grads`` when given."""
        if not self.l2:
            return 0.0
        total = 0.0
        for name in self._weights:
            w = self._params[name]
            flat = w.reshape(-1)
            total += float(np.dot(flat, flat))
            if grads is not None:
                s = self._scratch[name]
                np.multiply(w, self.l2, out=s)
                g = grads[name]
                g += s
        return 0.5 * self.l2 * total

    # --- inference ------------------------------------------------------------

    def forward(self, X: ArrayLike) -> Array:
        """The raw outputs (logits for classifiers), a new ``(n, n_outputs)`` array."""
        return self._forward(self._check_X(X)).copy()

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Class ids ``(n,)`` for softmax; 0/1 for binary; outputs for regression.

        Outputs of one column (regression, or binary with one unit) are ``(n,)``.
        """
        z = self._forward(self._check_X(X))
        if self.loss_name == "softmax_cross_entropy":
            ids: NDArray[Any] = np.argmax(z, axis=1)
            return ids
        out = (z > 0).astype(np.int64) if self.is_classifier else z.copy()
        return out[:, 0] if self.n_outputs == 1 else out

    def predict_proba(self, X: ArrayLike) -> Array:
        """Class probabilities: softmax rows, or sigmoids for binary cross-entropy."""
        self._need_classifier("predict_proba")
        z = self._forward(self._check_X(X)).copy()
        if self.loss_name == "binary_cross_entropy":
            from scipy.special import expit

            expit(z, out=z)
            return z[:, 0] if self.n_outputs == 1 else z
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> float:
        """The fraction of correct predictions (of elements, for binary labels)."""
        self._need_classifier("accuracy")
        x = self._check_X(X)
        z = self._forward(x)
        t = self._check_targets(y, x.shape[0])
        if self.loss_name == "binary_cross_entropy":
            return float(np.mean((z > 0) == (t > 0.5)))
        truth = t if t.ndim == 1 else np.argmax(t, axis=1)
        return float(np.mean(np.argmax(z, axis=1) == truth))

    def evaluate(
        self, X: ArrayLike, y: ArrayLike, *, chunk: int = EVAL_CHUNK
    ) -> tuple[float, float | None]:
        """The cost (L2 term included) and accuracy (None for regression) on
        ``(X, y)``, the numbers :meth:`loss` and :meth:`accuracy` give.

        Softmax models take one forward pass per ``chunk`` rows for both, into
        the layers' reused buffers (no array the size of the data is made), and
        give NaN for both when the logits are not finite (weights that diverged).
        """
        if self.loss_name != "softmax_cross_entropy":
            accuracy = self.accuracy(X, y) if self.is_classifier else None
            return self.loss(X, y), accuracy
        chunk = _checks.integer(self._owner, "chunk", chunk, low=1)
        X = as_array(self._owner, "X", X)
        if X.ndim != 2 or X.shape[0] == 0:
            self._check_X(X)  # its error
        n = X.shape[0]
        t_all = self._check_targets(y, n)
        total, correct = 0.0, 0
        for start in range(0, n, chunk):
            x = self._check_X(X[start : start + chunk])
            t = t_all[start : start + chunk]
            with np.errstate(over="ignore", invalid="ignore"):
                z = self._forward(x)  # a layer's buffer, overwritten below
            if losses.count_nonfinite(z):
                return math.nan, math.nan
            truth = t if t.ndim == 1 else np.argmax(t, axis=1)
            correct += int(np.count_nonzero(np.argmax(z, axis=1) == truth))
            total += losses.softmax_cross_entropy_inplace(z, t) * len(t)
        return total / n + self.penalty(), correct / n

    def warm_up(self) -> None:
        """Compile (or load from Numba's disk cache) the loss's kernel for this
        model's dtype, on one row of zeros, so that a run's clock does not count it;
        parameters and gradients are untouched."""
        if self.loss_name == "softmax_cross_entropy":  # the one compiled loss
            z = np.zeros((1, self.n_outputs), dtype=self.dtype)
            losses.softmax_cross_entropy_inplace(z, np.zeros(1, dtype=np.intp))

    # --- copies ---------------------------------------------------------------

    def astype(self, dtype: DTypeLike) -> Model:
        """A copy of this model (same configuration and weights) in ``dtype``."""
        new = type(self)(**{**self._config, "dtype": dtype, "seed": 0, "init": "zeros"})
        new._config = dict(self._config)
        for name in self._params:
            new._params[name][...] = self._params[name]
        return new

    def copy(self) -> Model:
        """An independent copy with the same configuration, dtype and weights."""
        return self.astype(self.dtype)

    # --- internals ------------------------------------------------------------

    def _forward(self, x: Array) -> Array:
        """The layers' outputs, on one BLAS thread for a small batch (gdlab._blas)."""
        with _blas.threads_for(x.shape[0] * self._widest):
            return self._through(x)

    def _through(self, x: Array) -> Array:
        r"""The layers' outputs for ``x`` of the right shape and dtype, which the
        first layer's output proves finite: a NaN or Inf in a row of ``x`` makes
        each entry of that row of :math:`xW_1` infinite or NaN (:math:`0\cdot\infty`
        is NaN), so a finite sum of squares of :math:`xW_1 + b_1` (one BLAS dot,
        which warns of nothing) shows every entry of ``x`` finite without a pass of
        its own. Any other sum (a bad ``x``, weights that diverged, or an overflow)
        has the entries of ``x`` counted."""
        first, *rest = self._layers
        with np.errstate(over="ignore", invalid="ignore"):  # 0·Inf in the product
            z = first.forward(x)
        if not math.isfinite(np.vdot(z, z)):
            require_finite(self._owner, "X", x)
        for layer in rest:
            z = layer.forward(z)
        return z

    def _need_classifier(self, what: str) -> None:
        if not self.is_classifier:
            raise ValueError(
                f"{self._owner}: {what} needs a classification loss, "
                f"got loss={self.loss_name!r}"
            )

    def _check_X(self, X: ArrayLike) -> Array:
        """``X`` as a non-empty 2-D array of the model's dtype and features; its
        values are proved finite by the forward pass (:meth:`_through`)."""
        owner, d = self._owner, self.n_features
        x = as_array(owner, "X", X)
        if x.dtype != self.dtype:
            with np.errstate(over="ignore"):
                x = x.astype(self.dtype)
        if x.ndim == 1 and d == 1:
            x = x.reshape(-1, 1)
        if x.ndim != 2:
            _checks.fail(owner, "X", f"a 2-D array (samples, {d} features)", x.shape)
        if x.shape[1] != d:
            raise ValueError(f"{owner}: X must have {d} features, got {x.shape[1]}")
        if x.shape[0] == 0:
            _checks.fail(owner, "X", "non-empty", x.shape)
        return x

    def _check_targets(self, y: ArrayLike, n: int) -> NDArray[Any]:
        owner, k = self._owner, self.n_outputs
        t = as_array(owner, "y", y)
        if self.loss_name == "softmax_cross_entropy":
            check_labels(owner, "y", t, n, k)
            return t if t.dtype.kind in "iu" else t.astype(self.dtype, copy=False)
        t = as_float_array(owner, "y", t, self.dtype)
        if t.ndim == 1 and k == 1:
            t = t.reshape(-1, 1)
        if t.shape != (n, k):
            shapes = f"({n},) or ({n}, 1)" if k == 1 else f"({n}, {k})"
            _checks.fail(owner, "y", f"of shape {shapes}", np.shape(y))
        if self.loss_name == "binary_cross_entropy" and (t.min() < 0 or t.max() > 1):
            _checks.fail(
                owner,
                "y",
                "labels in [0, 1]",
                float(t.min() if t.min() < 0 else t.max()),
            )
        return t


def _float_dtype(owner: str, dtype: DTypeLike) -> np.dtype[np.floating]:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        _checks.fail(
            owner, "dtype", "float32 or float64", dtype if dt is None else Raw(dt.name)
        )
    return dt  # type: ignore[return-value]


def check_sizes(owner: str, sizes: object) -> list[int]:
    """Layer sizes: a sequence of at least two positive integers."""
    ok = (
        isinstance(sizes, Sequence)
        and not isinstance(sizes, str)
        and len(sizes) >= 2
        and all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 1
            for s in sizes
        )
    )
    if not ok:
        _checks.fail(owner, "sizes", "a list of at least 2 positive integers", sizes)
    assert isinstance(sizes, Sequence)
    return [int(s) for s in sizes]


class MLP(Model):
    r"""A multi-layer perceptron ``sizes[0] -> ... -> sizes[-1]``, backprop by hand.

    Args:
        sizes: layer widths, input first, e.g. ``[784, 100, 10]``.
        activation: ``"relu"`` (default), ``"tanh"`` or ``"sigmoid"``, between layers.
        loss: ``"softmax_cross_entropy"`` (default; ``y`` class ids or one-hot),
            ``"binary_cross_entropy"`` (sigmoid outputs, ``y`` in [0, 1]), ``"mse"``
            or ``"sse"`` (regression).
        l2: λ >= 0 of the penalty :math:`\tfrac\lambda2\sum_l\lVert W_l\rVert^2` added
            to the cost (weights, not biases); its gradient :math:`\lambda W_l`.
        dtype: float32 or float64 (default), kept end to end.
        seed: int or ``numpy.random.Generator`` for the initial weights (no global
            RNG); the same seed gives the same weights in either dtype.
        init: ``"he"`` (default for relu), ``"glorot"`` (default for tanh/sigmoid),
            ``"zeros"`` or ``"normal:σ"`` (σ·N(0, 1), as "Deep Learning from
            Scratch"'s ``TwoLayerNet`` with σ = 0.01); biases start at 0.

    Parameters are named ``W1, b1, W2, b2, ...``; ``Wl`` is ``(sizes[l-1], sizes[l])``
    and a batch ``X`` is ``(n, sizes[0])`` (rows are samples, as in torch's
    ``x @ W.T`` with ``W.T`` stored).

    References:
        He et al., *Delving deep into rectifiers*, ICCV 2015.
        Glorot, Bengio, *Understanding the difficulty of training deep feedforward
        neural networks*, AISTATS 2010.
        Saito, *Deep Learning from Scratch*, ch. 5 (``TwoLayerNet``).

    Example:
        >>> from gdlab import optim
        >>> m = MLP([784, 50, 10], seed=0)
        >>> X, y = np.zeros((2, 784)), np.array([3, 7])
        >>> loss, grads = m.loss_and_grad(X, y)
        >>> optim.SGD(m.params, lr=0.1).step(grads)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        *,
        loss: str = "softmax_cross_entropy",
        l2: float = 0.0,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator = 0,
        init: str | None = None,
    ) -> None:
        checked = check_sizes("MLP", sizes)
        super().__init__(
            checked,
            activation=activation,
            loss=loss,
            l2=l2,
            dtype=dtype,
            seed=seed,
            init=init,
            names=[(f"W{i}", f"b{i}") for i in range(1, len(checked))],
            config={
                "sizes": checked,
                "activation": activation,
                "loss": loss,
                "l2": l2,
                "seed": seed,
                "init": init,
            },
        )
