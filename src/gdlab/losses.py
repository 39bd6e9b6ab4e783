r"""Losses: the value and its gradient with respect to the prediction, stable.

Each function returns ``(value, grad)``: the loss as a Python ``float`` and
:math:`\partial L/\partial \hat y` as a new array with the prediction's shape and
dtype (a float32 prediction stays float32). With :math:`N` the number of elements,
:math:`n` the number of rows (samples) and :math:`t` the target:

* ``mse``: :math:`L=\frac1N\sum(\hat y-t)^2`, gradient :math:`\frac2N(\hat y-t)`;
* ``sse``: :math:`L=\frac12\sum(\hat y-t)^2`, gradient :math:`\hat y-t`;
* ``softmax_cross_entropy``: :math:`L=-\frac1n\sum_{i,j}t_{ij}\log p_{ij}` with
  :math:`p=\mathrm{softmax}(z)` row-wise, gradient :math:`\frac1n(p-t)`;
* ``binary_cross_entropy``: :math:`L=\frac1N\sum\log(1+e^z)-tz`, gradient
  :math:`\frac1N(\sigma(z)-t)`.

``mse`` is the course notes' ``get_mse`` (and ``torch.nn.MSELoss``); ``sse`` is "Deep
Learning from Scratch"'s ``sum_squared_error`` (with the ½). The cross-entropies take
logits and never form ``log(softmax)`` or ``log(sigmoid)`` directly: softmax uses
:math:`\log\sum_j e^{z_j} = m + \log\sum_j e^{z_j-m}`, :math:`m=\max_j z_j`, and the
binary loss uses ``logaddexp(0, z)``, so logits of :math:`\pm 10^4` give exact finite
values with no overflow and no warnings.

References:
    Saito, *Deep Learning from Scratch*, O'Reilly Japan 2016, ch. 4.2 and 5.6.
    Goodfellow, Bengio, Courville, *Deep Learning*, MIT Press 2016, §6.2.2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks
from gdlab._checks import Raw
from gdlab.params import Array

IntArray = NDArray[np.integer[Any]]

__all__ = [
    "binary_cross_entropy",
    "mse",
    "softmax",
    "softmax_cross_entropy",
    "sse",
]


# --- argument checks ------------------------------------------------------------------


def count_nonfinite(a: NDArray[Any]) -> int:
    """The number of NaN/Inf entries of a float array (0 quickly when there are none).

    A finite sum proves every entry finite in one pass without a temporary; only
    when the sum is not finite (a NaN, an Inf, or an overflow of huge values) are the
    entries counted.
    """
    if a.dtype.kind != "f":
        return 0
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(a)):
            return 0
    return int(a.size - np.count_nonzero(np.isfinite(a)))


def require_finite(owner: str, name: str, a: NDArray[Any]) -> None:
    """Raise ``ValueError`` when ``a`` holds NaN or Inf."""
    bad = count_nonfinite(a)
    if bad:
        _checks.fail(
            owner,
            name,
            "finite (no NaN or Inf)",
            Raw(f"{bad} non-finite value{'s' if bad > 1 else ''}"),
        )


def as_array(owner: str, name: str, value: ArrayLike) -> NDArray[Any]:
    """``np.asarray(value)``, with a ragged or non-numeric input a ``ValueError``."""
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):
        _checks.fail(owner, name, "an array of numbers", Raw("a ragged sequence"))
    if a.dtype.kind not in "fiub":
        _checks.fail(owner, name, "an array of numbers", Raw(f"dtype {a.dtype}"))
    return a


def as_float_array(
    owner: str, name: str, value: ArrayLike, dtype: np.dtype[Any] | None = None
) -> Array:
    """``value`` as a finite float array: of ``dtype``, else float64 unless float."""
    a = as_array(owner, name, value)
    with np.errstate(over="ignore"):
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        elif a.dtype.kind != "f":
            a = a.astype(np.float64)
    require_finite(owner, name, a)
    return a


def check_labels(owner: str, name: str, labels: NDArray[Any], n: int, k: int) -> None:
    """Check class ids of shape ``(n,)`` in ``[0, k)`` or target rows ``(n, k)``.

    Target rows (one-hot, or class probabilities) must be finite, >= 0 and sum to 1.
    """
    kind = labels.dtype.kind
    if kind in "iu":
        if labels.shape != (n,):
            _checks.fail(owner, name, f"class ids of shape ({n},)", labels.shape)
        # one pass: seen as unsigned, a negative id is above any k
        if n and labels.view(labels.dtype.str.replace("i", "u")).max() >= k:
            low, high = labels.min(), labels.max()
            bad = int(low if low < 0 else high)
            _checks.fail(owner, name, f"class ids in [0, {k})", bad)
        return
    if kind not in "fb" or labels.ndim != 2:
        _checks.fail(
            owner,
            name,
            f"integer class ids ({n},) or one-hot rows ({n}, {k})",
            Raw(f"dtype {labels.dtype} and shape {labels.shape}"),
        )
    if labels.shape != (n, k):
        _checks.fail(owner, name, f"one-hot rows of shape ({n}, {k})", labels.shape)
    require_finite(owner, name, labels)
    if n and (labels.min() < 0 or np.abs(labels.sum(axis=1) - 1).max() > 1e-6):
        _checks.fail(
            owner,
            name,
            "one-hot or probability rows (>= 0, summing to 1)",
            Raw("other rows"),
        )


def _pred_target(
    owner: str, pred: ArrayLike, target: ArrayLike, target_name: str = "target"
) -> tuple[Array, Array]:
    name = "pred" if target_name == "target" else "logits"
    p = as_float_array(owner, name, pred)
    t = as_float_array(owner, target_name, target, p.dtype)
    if t.shape != p.shape:
        _checks.fail(owner, target_name, f"of shape {p.shape} like {name}", t.shape)
    return p, t


# --- the losses -----------------------------------------------------------------------


def mse(pred: ArrayLike, target: ArrayLike) -> tuple[float, Array]:
    r"""Mean squared error :math:`\frac1N\sum(\hat y-t)^2` and its gradient.

    The gradient is :math:`\frac2N(\hat y - t)`. For the worked example's two points
    ``(1, 3), (2, 5)`` the mean is ½·sum, which is MISSION's
    :math:`\tfrac12[(m+b-3)^2+(2m+b-5)^2]`.

    Example:
        >>> mse([1.0, 2.0], [3.0, 5.0])
        (6.5, array([-2., -3.]))
    """
    p, t = _pred_target("mse", pred, target)
    grad = np.subtract(p, t)
    return mse_inplace(grad), grad


def mse_inplace(diff: Array) -> float:
    """Turn ``diff = pred - target`` into the MSE gradient in place; return the MSE."""
    n = max(diff.size, 1)
    flat = diff.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(np.dot(flat, flat)) / n
        diff *= 2.0 / n
    return value


def sse(pred: ArrayLike, target: ArrayLike) -> tuple[float, Array]:
    r"""Sum of squared errors :math:`\frac12\sum(\hat y-t)^2` and its gradient.

    The gradient is :math:`\hat y - t`. The ½ is "Deep Learning from Scratch"'s
    (``0.5 * np.sum((y - t)**2)``), so the gradient carries no factor 2.

    Example:
        >>> sse([1.0, 2.0], [3.0, 5.0])
        (6.5, array([-2., -3.]))
    """
    p, t = _pred_target("sse", pred, target)
    grad = np.subtract(p, t)
    return sse_inplace(grad), grad


def sse_inplace(diff: Array) -> float:
    """``diff = pred - target`` already is the SSE gradient; return the SSE."""
    flat = diff.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * float(np.dot(flat, flat))


def softmax(logits: ArrayLike) -> Array:
    r"""Row-wise :math:`\mathrm{softmax}(z)_j = e^{z_j-m}/\sum_k e^{z_k-m}`, stable."""
    z = as_float_array("softmax", "logits", logits)
    out: Array = z - z.max(axis=-1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, Array]:
    r"""Softmax then cross-entropy, averaged over the batch, and dL/dlogits.

    .. math::
        L = \frac1n\sum_i\Big(\log\sum_j e^{z_{ij}} - \sum_j t_{ij} z_{ij}\Big),
        \qquad \frac{\partial L}{\partial z} = \frac{\mathrm{softmax}(z) - t}{n}

    ``logits``: ``(n, k)``. ``labels``: class ids ``(n,)`` in ``[0, k)``, or rows
    ``(n, k)`` that are one-hot (or class probabilities summing to 1). Equals
    ``torch.nn.functional.cross_entropy`` (mean reduction).

    Example:
        >>> value, grad = softmax_cross_entropy([[2.0, 0.0]], [0])
        >>> round(value, 4)
        0.1269
    """
    owner = "softmax_cross_entropy"
    z = as_float_array(owner, "logits", logits)
    if z.ndim != 2:
        _checks.fail(owner, "logits", "a 2-D array (batch, classes)", z.shape)
    t = as_array(owner, "labels", labels)
    check_labels(owner, "labels", t, z.shape[0], z.shape[1])
    grad = z.copy()
    value = softmax_cross_entropy_inplace(
        grad, t if t.dtype.kind in "iu" else t.astype(z.dtype, copy=False)
    )
    return value, grad


def softmax_cross_entropy_inplace(z: Array, labels: NDArray[Any]) -> float:
    """Overwrite logits ``z`` (n, k) with dL/dz; return L (inputs already checked).

    Class ids go through one compiled pass per row (max, exp, sum, log, scale);
    target rows through NumPy.
    """
    n = int(z.shape[0])
    if n == 0:
        return 0.0
    if labels.dtype.kind in "iu":
        ids = labels.astype(np.intp, copy=False)
        if z.flags.c_contiguous:
            return float(_softmax_xent_ids(z, ids, 1.0 / n))
        z2 = np.ascontiguousarray(z)
        value = float(_softmax_xent_ids(z2, ids, 1.0 / n))
        z[...] = z2
        return value
    rows = np.arange(n)
    top = z.argmax(axis=1)
    z -= z[rows, top][:, None]  # every row's max is now 0: exp(z) <= 1
    picked = float(np.vdot(labels, z))
    np.exp(z, out=z)
    z[rows, top] = 0.0
    rest = z.sum(axis=1, keepdims=True)  # sum of exp(z - max) over the others
    z[rows, top] = 1.0
    value = (float(np.log1p(rest).sum(dtype=np.float64)) - picked) / n
    rest += 1.0
    np.reciprocal(rest, out=rest)
    rest *= 1.0 / n
    z *= rest  # softmax / n
    z -= labels * (1.0 / n)
    return value


def _softmax_xent_ids_rule(z: Array, labels: NDArray[Any], scale: float) -> float:
    """Per row i: z_i <- scale * (softmax(z_i) - onehot(y_i)); return scale * sum L_i.

    L_i = log(1 + sum_{j != a} exp(z_ij - m_i)) - (z_iy - m_i) with m_i = z_ia the
    row's max: log1p keeps L_i accurate when it is tiny (a confident, right
    prediction). Sums are accumulated in float64.
    """
    n, k = z.shape
    total = 0.0
    for i in range(n):
        row = z[i]
        top = 0
        for j in range(1, k):
            if row[j] > row[top]:
                top = j
        m = row[top]
        picked = row[labels[i]] - m
        rest = 0.0
        for j in range(k):
            e = np.exp(row[j] - m)
            row[j] = e
            if j != top:
                rest += e
        total += np.log1p(rest) - picked
        inv = scale / (1.0 + rest)
        for j in range(k):
            row[j] *= inv
        row[labels[i]] -= scale
    return total * scale


_softmax_xent_ids = cast(
    Callable[[Array, NDArray[Any], float], float],
    numba.njit(_softmax_xent_ids_rule, cache=True, nogil=True, error_model="numpy"),
)


def _softmax_xent_ids_runs_rule(
    z: Array, labels: NDArray[Any], scale: float, out: NDArray[np.float64]
) -> None:
    """:func:`_softmax_xent_ids_rule` on each run ``k`` of ``z`` (K, n, k):
    ``out[k]`` its loss; ``labels`` (K, n), one row per run."""
    for r in range(z.shape[0]):
        out[r] = _softmax_xent_ids(z[r], labels[r], scale)


_softmax_xent_ids_runs = cast(
    Callable[[Array, NDArray[Any], float, NDArray[np.float64]], None],
    numba.njit(
        _softmax_xent_ids_runs_rule, cache=True, nogil=True, error_model="numpy"
    ),
)


def softmax_cross_entropy_runs_inplace(
    z: Array, labels: NDArray[Any]
) -> NDArray[np.float64]:
    """K runs' batches at once: overwrite logits ``z`` (K, n, k), C-contiguous,
    with each run's dL/dz and return the K losses (float64), each exactly
    :func:`softmax_cross_entropy_inplace` of its run. ``labels``: class ids, (K, n)
    or (n,) shared by every run (inputs already checked)."""
    runs, n = int(z.shape[0]), int(z.shape[1])
    out = np.zeros(runs, dtype=np.float64)
    if n == 0:
        return out
    ids = labels.astype(np.intp, copy=False)
    if ids.ndim == 1:
        ids = np.broadcast_to(ids, (runs, n))
    _softmax_xent_ids_runs(z, ids, 1.0 / n, out)
    return out


def binary_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> tuple[float, Array]:
    r"""Sigmoid then binary cross-entropy, averaged over all elements, from logits.

    .. math::
        L = \frac1N\sum\big(\log(1+e^{z}) - t z\big), \qquad
        \frac{\partial L}{\partial z} = \frac{\sigma(z) - t}{N}

    ``labels`` has the logits' shape, values in ``[0, 1]``. ``log(1+e^z)`` is
    computed as ``logaddexp(0, z)``. Equals
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (mean reduction).

    Example:
        >>> value, grad = binary_cross_entropy([0.0], [1.0])
        >>> round(value, 4), grad
        (0.6931, array([-0.5]))
    """
    owner = "binary_cross_entropy"
    z, t = _pred_target(owner, logits, labels, "labels")
    if t.size and (t.min() < 0 or t.max() > 1):
        _checks.fail(
            owner, "labels", "in [0, 1]", float(t.min() if t.min() < 0 else t.max())
        )
    grad = z.copy()
    return binary_cross_entropy_inplace(grad, t), grad


def binary_cross_entropy_inplace(z: Array, labels: Array) -> float:
    """Overwrite logits ``z`` with dL/dz; return L (inputs already checked)."""
    n = int(z.size)
    if n == 0:
        return 0.0
    value = float(np.logaddexp(0.0, z).sum(dtype=np.float64))
    value -= float(np.vdot(labels, z))
    from scipy.special import expit  # SciPy's import costs 0.2 s: only here

    expit(z, out=z)
    z -= labels
    z *= 1.0 / n
    return value / n
