r"""DeepOBS's ``quadratic_deep``: a 100-dimensional noisy quadratic whose Hessian
has a deep-learning-like eigenspectrum.

The loss of one sample :math:`x` is

.. math::
    \ell(\theta; x) = \tfrac12 (\theta - x)^\top Q (\theta - x),
    \qquad Q = R^\top \operatorname{diag}(\lambda) R,

with 90 % of the eigenvalues :math:`\lambda` uniform in (0, 1) and 10 % uniform in
(30, 60) — the bulk-and-outliers spectrum Chaudhari et al. (2017) report for
deep nets — and :math:`R` a rotation drawn uniformly (Haar measure) from SO(d).
The samples are :math:`x \sim \mathcal N(0, 0.6^2 I)` (the ``quadratic-deep``
dataset), so the minimizer of the expected loss is :math:`\theta = 0`, and
:math:`\theta` starts at 1 in every coordinate. On a batch the loss is the mean,
its gradient :math:`Q(\theta - \bar x)`.

The eigenvalues and the rotation are fixed properties of the problem, drawn from
a fixed seed (not the run's): every run optimizes the same quadratic. The
definition and distributions are DeepOBS's; the draws are NumPy's
``default_rng`` (DeepOBS uses ``RandomState(42)``), so the matrix is not the
same one, only one of the same kind.

References:
    Schneider, Balles, Hennig, *DeepOBS: A Deep Learning Optimizer Benchmark
    Suite*, ICLR 2019 (``quadratic_deep``).
    Chaudhari et al., *Entropy-SGD*, ICLR 2017 (the eigenspectrum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks
from gdlab.data import Dataset
from gdlab.params import Params

DIM = 100
"""DeepOBS's dimension."""
PROBLEM_SEED = 42
"""The seed of the eigenvalues and the rotation: the problem, not a run."""


def haar_rotation(dim: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """A rotation matrix drawn uniformly from SO(dim): the QR decomposition of a
    Gaussian matrix with R's diagonal made positive (Mezzadri 2007), then one
    column's sign flipped if the determinant is -1."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    rotation: NDArray[np.float64] = q
    return rotation


def deep_spectrum(dim: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """DeepOBS's eigenvalues: 90 % uniform in (0, 1), 10 % uniform in (30, 60)."""
    outliers = dim // 10
    return np.concatenate(
        [rng.uniform(0.0, 1.0, dim - outliers), rng.uniform(30.0, 60.0, outliers)]
    )


def hessian(dim: int = DIM, seed: int = PROBLEM_SEED) -> NDArray[np.float64]:
    """:math:`Q = R^\\top \\operatorname{diag}(\\lambda) R`, symmetric positive
    definite, in float64."""
    rng = np.random.default_rng(seed)
    eigenvalues = deep_spectrum(dim, rng)
    rotation = haar_rotation(dim, rng)
    q = rotation.T @ (eigenvalues[:, None] * rotation)
    return (q + q.T) / 2


class NoisyQuadratic:
    """The loss :math:`\\tfrac12(\\theta - x)^\\top Q(\\theta - x)` averaged over a
    batch of samples ``X`` (``y`` is ignored); one parameter, ``theta``.

    Args:
        Q: the symmetric (d, d) Hessian.
        dtype: float32 or float64.
        start: the initial value of every coordinate of ``theta`` (DeepOBS: 1).
    """

    is_classifier = False
    loss_name = "quadratic"

    def __init__(
        self, Q: ArrayLike, *, dtype: Any = np.float64, start: float = 1.0
    ) -> None:
        owner = "NoisyQuadratic"
        q = np.asarray(Q, dtype=np.float64)
        if q.ndim != 2 or q.shape[0] != q.shape[1] or not np.allclose(q, q.T):
            _checks.fail(owner, "Q", "a symmetric square matrix", q.shape)
        self.start = _checks.number(owner, "start", start)
        self.dtype = np.dtype(dtype)
        self.Q = q.astype(self.dtype)
        self._params = Params({"theta": np.full(len(q), self.start)}, dtype=self.dtype)
        self._grads = self._params.zeros_like()

    @property
    def params(self) -> Params:
        return self._params

    @property
    def dim(self) -> int:
        return len(self.Q)

    def __repr__(self) -> str:
        return (
            f"NoisyQuadratic(dim={self.dim}, start={self.start:g}, "
            f"dtype={self.dtype.name})"
        )

    def _residuals(self, X: ArrayLike) -> NDArray[Any]:
        x = np.asarray(X, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.dim:
            _checks.fail("NoisyQuadratic", "X", f"of shape (n, {self.dim})", x.shape)
        residuals: NDArray[Any] = self._params["theta"] - x
        return residuals

    def loss(self, X: ArrayLike, y: ArrayLike | None = None) -> float:
        """The mean of the samples' losses."""
        d = self._residuals(X)
        return float(0.5 * np.mean(np.einsum("ij,ij->i", d @ self.Q, d)))

    def loss_and_grad(
        self, X: ArrayLike, y: ArrayLike | None = None
    ) -> tuple[float, Params]:
        """The loss and its gradient :math:`Q(\\theta - \\bar x)` (into the
        model's gradient buffer)."""
        d = self._residuals(X)
        qd = d @ self.Q
        value = float(0.5 * np.mean(np.einsum("ij,ij->i", qd, d)))
        np.mean(qd, axis=0, out=self._grads["theta"])
        return value, self._grads

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> float:
        raise ValueError("NoisyQuadratic: accuracy must be asked of a classifier")


def build(
    dataset: Dataset, *, seed: int, dtype: str, start: float = 1.0
) -> NoisyQuadratic:
    """The registered ``quadratic-deep`` model, sized by the data's features
    (``seed`` is not used: the problem is fixed, and so is the start)."""
    if dataset.classes:
        _checks.fail(
            "model", "quadratic-deep", "used with regression data", dataset.name
        )
    return NoisyQuadratic(hessian(dataset.n_features), dtype=dtype, start=start)


__all__ = ["DIM", "NoisyQuadratic", "build", "deep_spectrum", "haar_rotation",
           "hessian"]  # fmt: skip
