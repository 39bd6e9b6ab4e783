r"""K models of one architecture as one stacked computation (a population's model).

The parameters of K runs of one :class:`~gdlab.models.Model` (an MLP or softmax
regression with a softmax cross-entropy loss) live in one ``(K, n)`` array, row k
run k's flat buffer in its own layout, so that one optimizer step updates them all
(:class:`gdlab.optim.population.Population`). Each layer is a product per run over
the run axis: with per-run inputs :math:`x^{(k)}` (each run its own mini-batch, a
gather with a ``(K, batch)`` index) or one input shared by every run (the same
batch order, or a whole data set)

.. math::
    a^{(k)}_l = h^{(k)}_{l-1} W^{(k)}_l + b^{(k)}_l, \quad
    \partial W^{(k)}_l = h^{(k)\top}_{l-1}\delta^{(k)}_l + \lambda^{(k)} W^{(k)}_l,

and the loss is each run's own mean over its batch. Run k gets its model's numbers
bit for bit: each run's products are the 2-D ``matmul`` calls its model makes
(bias gradients by the same gemv with ones), the loss the same compiled kernel, row
by row. (NumPy's stacked ``matmul`` over the run axis was 2.8x slower on digits'
shapes than one gemm per run; what a population saves is Python's cost per step.)

Example::

    runs = PopulationModel([MLP([64, 100, 10], seed=s) for s in range(8)])
    losses = runs.loss_and_grad(X[index], y[index])   # index: (8, batch)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gdlab import _blas, _checks, losses
from gdlab.models.mlp import Model
from gdlab.params import Array

F64 = NDArray[np.float64]


def unsupported(model: object) -> str | None:
    """Why ``model`` cannot train in a population, or None if it can."""
    if not isinstance(model, Model):
        return f"{type(model).__name__} is no gdlab Model"
    if model.loss_name != "softmax_cross_entropy":
        return f"its loss is {model.loss_name}, not softmax_cross_entropy"
    if len(model.params.buffers) != 1:
        return "its parameters are not in one buffer"
    return None


class PopulationModel:
    """K models of one architecture, their parameters stacked: ``params`` (K, n).

    Args:
        members: the runs' models (same class, sizes, activation and dtype; each
            its own weights and L2 coefficient). Their weights are copied in; they
            are written back by :meth:`write_back`.
    """

    def __init__(self, members: Sequence[Model]) -> None:
        owner = "PopulationModel"
        if not members:
            _checks.fail(owner, "members", "at least one model", members)
        first = members[0]
        for m in members:
            why = unsupported(m)
            if why is not None:
                _checks.fail(owner, "members", "models a population can train", why)
            same = (
                type(m) is type(first)
                and m.sizes == first.sizes
                and m.activation == first.activation
                and m.dtype == first.dtype
                and m.params.slots == first.params.slots
            )
            if not same:
                _checks.fail(owner, "members", f"models like {first!r}", repr(m))
        self.members = list(members)
        self.dtype = first.dtype
        self.sizes = first.sizes
        self.activation = first.activation
        self.params: Array = np.stack([self._flat(m) for m in members])
        self.grads: Array = np.zeros_like(self.params)
        self._slots = first.params.slots
        names = list(first.params)
        self._layers = [(names[i], names[i + 1]) for i in range(0, len(names), 2)]
        self.l2 = np.array([m.l2 for m in members], dtype=np.float64)
        self._buffers: dict[tuple[str, tuple[int, ...]], Array] = {}
        self._widest = max(a * b for a, b in itertools.pairwise(self.sizes))
        self._bind()

    @staticmethod
    def _flat(model: Model) -> Array:
        return next(iter(model.params.buffers.values()))

    @property
    def size(self) -> int:
        """K, the runs."""
        return int(self.params.shape[0])

    def _view(self, a: Array, name: str) -> Array:
        slot = self._slots[name]
        view = a[:, slot.offset : slot.offset + slot.size].reshape(
            (a.shape[0], *slot.shape)
        )
        assert view.base is not None  # a view, never a copy
        return view

    def _bind(self) -> None:
        p, g = self.params, self.grads
        self._W = [self._view(p, w) for w, _ in self._layers]
        self._b = [self._view(p, b) for _, b in self._layers]
        self._dW = [self._view(g, w) for w, _ in self._layers]
        self._db = [self._view(g, b) for _, b in self._layers]
        self._l2 = self.l2.astype(self.dtype)[:, None, None]
        self._any_l2 = bool(np.any(self.l2))

    def keep(self, rows: Sequence[int]) -> None:
        """Go on with runs ``rows`` only (the others stopped)."""
        index = np.asarray(rows, dtype=np.intp)
        self.members = [self.members[i] for i in index]
        self.params = np.ascontiguousarray(self.params[index])
        self.grads = np.zeros_like(self.params)
        self.l2 = self.l2[index]
        self._bind()

    def write_back(self, row: int) -> Model:
        """Run ``row``'s model holding its current weights from the population."""
        model = self.members[row]
        self._flat(model)[...] = self.params[row]
        return model

    # --- the computation ----------------------------------------------------------

    def _buffer(self, name: str, shape: tuple[int, ...]) -> Array:
        """An array reused between calls (its content what the last user left)."""
        key = (name, shape)
        a = self._buffers.get(key)
        if a is None:
            if len(self._buffers) > 32:
                self._buffers.clear()
            a = self._buffers[key] = np.empty(shape, dtype=self.dtype)
        return a

    def _forward(
        self, x: Array, keep: bool = True, runs: Sequence[int] | None = None
    ) -> tuple[Array, list[Array]]:
        """Logits ``(K, rows, classes)`` and the layers' inputs, for ``x`` (rows,
        d) shared by every run or ``(K, rows, d)``; of the ``runs`` only, when
        given (the other runs' rows are left as they were).

        Each run's product is its own 2-D ``matmul`` (one BLAS gemm): NumPy's
        stacked ``matmul`` over the run axis took 2.8x as long on these shapes.
        """
        inputs = []
        h = x
        last = len(self._W) - 1
        k, rows = self.size, x.shape[-2]
        shared = x.ndim == 2
        chosen = range(k) if runs is None else runs
        for i, (W, b) in enumerate(zip(self._W, self._b, strict=True)):
            inputs.append(h)
            name = f"a{i}" if keep else f"eval{i}"
            a = self._buffer(name, (k, rows, W.shape[2]))
            for r in chosen:
                np.matmul(h if shared else h[r], W[r], out=a[r])
            shared = False
            if runs is None:
                a += b[:, None, :]
                if i < last:
                    self._activate(a)
            else:
                for r in runs:
                    a[r] += b[r]
                    if i < last:
                        self._activate(a[r])
            h = a
        return h, inputs

    def _activate(self, a: Array) -> None:
        if self.activation == "relu":
            np.maximum(a, 0, out=a)
        elif self.activation == "tanh":
            np.tanh(a, out=a)
        else:
            from scipy.special import expit

            expit(a, out=a)

    def _derive(self, y: Array, d: Array) -> Array:
        """dL/d(pre-activation) from dL/d(output) ``d`` and the output ``y``, in
        ``d``'s place (as the model's layers do, in the same operations)."""
        if self.activation == "relu":
            np.multiply(d, y > 0, out=d)
            return d
        s = self._buffer("scratch", y.shape)
        if self.activation == "tanh":
            np.multiply(y, y, out=s)
            s *= d
            np.subtract(d, s, out=d)
            return d
        np.subtract(1, y, out=s)
        s *= y
        np.multiply(d, s, out=d)
        return d

    def loss_and_grad(self, x: Array, y: NDArray[Any]) -> F64:
        """Each run's cost on its batch (L2 term included), ``(K,)``; the
        gradients into :attr:`grads`. ``x``: ``(K, batch, d)``, or ``(batch, d)``
        for one batch shared by every run; ``y``: class ids ``(K, batch)`` or
        ``(batch,)``."""
        k = self.size
        x = x.astype(self.dtype, copy=False)  # as the model's input check casts it
        rows = x.shape[-2]
        with _blas.threads_for(rows * self._widest):
            z, inputs = self._forward(x)
            values = losses.softmax_cross_entropy_runs_inplace(z, y)
            d = z
            ones = self._buffer("ones", (rows,))
            ones.fill(1.0)
            for i in range(len(self._W) - 1, -1, -1):
                h = inputs[i]
                dW, db, W = self._dW[i], self._db[i], self._W[i]
                shared = h.ndim == 2
                dx = self._buffer(f"dx{i}", h.shape if not shared else (k, *h.shape))
                for r in range(k):
                    hr, dr = (h if shared else h[r]), d[r]
                    np.matmul(hr.T, dr, out=dW[r])
                    np.matmul(ones, dr, out=db[r])  # column sums, as Dense's gemv
                    if i:
                        np.matmul(dr, W[r].T, out=dx[r])
                if i:
                    d = self._derive(h, dx)
        if self._any_l2:
            values += self._l2_term(grad=True)
        return values

    def _l2_term(self, *, grad: bool) -> F64:
        total = np.zeros(self.size, dtype=np.float64)
        for W, dW in zip(self._W, self._dW, strict=True):
            for r in range(self.size):
                flat = W[r].reshape(-1)
                total[r] += float(np.dot(flat, flat))
            if grad:
                dW += W * self._l2
        out: F64 = 0.5 * self.l2 * total
        return out

    def penalty(self) -> F64:
        """Each run's L2 term λ/2·Σ‖W‖² at its current weights."""
        if not self._any_l2:
            return np.zeros(self.size)
        return self._l2_term(grad=False)

    def evaluate(
        self, X: Array, y: NDArray[Any], chunk: int, runs: Sequence[int] | None = None
    ) -> tuple[list[float], list[float]]:
        """Each run's cost (L2 term included) and accuracy on ``(X, y)``, in
        chunks of ``chunk`` rows, as :func:`gdlab.train.evaluate` gives for one
        model (NaN for both when a run's logits overflow); of the ``runs`` only,
        in their order, when given."""
        chosen = list(range(self.size)) if runs is None else list(runs)
        X = X.astype(self.dtype, copy=False)  # as the model's input check casts it
        n = len(chosen)
        totals = [0.0] * n
        correct = [0] * n
        bad = [False] * n
        for start in range(0, len(X), chunk):
            x = X[start : start + chunk]
            t = y[start : start + chunk]
            with (
                np.errstate(over="ignore", invalid="ignore"),
                _blas.threads_for(len(x) * self._widest),
            ):
                z, _ = self._forward(x, keep=False, runs=runs)
            if runs is not None:
                z = z[chosen]  # a copy: the kernel below overwrites it
            for j in range(n):
                bad[j] = bad[j] or bool(losses.count_nonfinite(z[j]))
            hits = np.count_nonzero(np.argmax(z, axis=2) == t, axis=1)
            # every run's loss by the kernel the model's evaluate calls (z is
            # this call's buffer: its gradient overwrites it)
            values = losses.softmax_cross_entropy_runs_inplace(z, t)
            for j in range(n):
                if not bad[j]:
                    totals[j] += float(values[j]) * len(t)
                    correct[j] += int(hits[j])
        penalty = self.penalty()
        loss = [
            math.nan if bad[j] else totals[j] / len(X) + float(penalty[r])
            for j, r in enumerate(chosen)
        ]
        acc = [math.nan if bad[j] else correct[j] / len(X) for j in range(n)]
        return loss, acc


__all__ = ["PopulationModel", "unsupported"]
