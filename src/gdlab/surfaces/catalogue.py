r"""The catalogue: 2-D test functions with analytic gradients and Hessians.

A :class:`Surface` is vectorized over a leading batch axis: ``xy`` has shape
``(..., 2)``; ``value`` returns shape ``(...)``, ``grad`` ``(..., 2)`` and
``hessian`` ``(..., 2, 2)``. :func:`get` finds one by name; :func:`line_fit` makes
the MSE surface of a line fitted to your own data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from gdlab import _checks
from gdlab.params import F64

Pair = tuple[float, float]
_Value = Callable[[F64, F64], F64]
_Grad = Callable[[F64, F64], tuple[F64, F64]]
_Hessian = Callable[[F64, F64], tuple[F64, F64, F64]]


@dataclass(frozen=True)
class Surface:
    """A 2-D test function ``f(x, y)`` with its gradient, Hessian and landmarks.

    Attributes:
        name: registry name, e.g. ``"rosenbrock"``.
        formula: the definition in plain text.
        minima: the global minima (empty for none).
        min_value: the value at the minima (``-inf`` if unbounded below).
        start: a default start point, chosen to show optimizers apart.
        bounds: ``((xmin, xmax), (ymin, ymax))``, the region worth plotting.
        labels: names of the two coordinates (``("m", "b")`` for the regression).
        log_levels: contour levels are best spaced geometrically above the minimum.
        description: what the surface shows, in a few words.
        value_name: what the value is called (``"MSE"`` for the regression).
    """

    name: str
    formula: str
    _value: _Value = field(repr=False)
    _grad: _Grad = field(repr=False)
    _hessian: _Hessian = field(repr=False)
    minima: tuple[Pair, ...]
    min_value: float
    start: Pair
    bounds: tuple[Pair, Pair]
    labels: tuple[str, str] = ("x", "y")
    log_levels: bool = True
    description: str = ""
    value_name: str = "f"

    def _xy(self, xy: ArrayLike) -> F64:
        a = np.asarray(xy, dtype=np.float64)
        if a.ndim == 0 or a.shape[-1] != 2:
            _checks.fail(self.name, "xy", "an array of shape (..., 2)", np.shape(xy))
        return a

    def value(self, xy: ArrayLike) -> F64:
        """``f`` at each point: shape ``(...)`` for ``xy`` of shape ``(..., 2)``."""
        a = self._xy(xy)
        return np.asarray(self._value(a[..., 0], a[..., 1]), dtype=np.float64)

    __call__ = value

    def grad(self, xy: ArrayLike) -> F64:
        """The gradient ``(∂f/∂x, ∂f/∂y)`` at each point: shape ``(..., 2)``."""
        a = self._xy(xy)
        out = np.empty(a.shape, dtype=np.float64)
        self.grad_into(a, out)
        return out

    def grad_into(self, xy: F64, out: F64) -> None:
        """Write the gradient at ``xy`` (float64, shape ``(..., 2)``) into ``out``."""
        gx, gy = self._grad(xy[..., 0], xy[..., 1])
        out[..., 0] = gx
        out[..., 1] = gy

    def hessian(self, xy: ArrayLike) -> F64:
        """The Hessian at each point: shape ``(..., 2, 2)``."""
        a = self._xy(xy)
        fxx, fxy, fyy = self._hessian(a[..., 0], a[..., 1])
        out = np.empty((*a.shape[:-1], 2, 2), dtype=np.float64)
        out[..., 0, 0] = fxx
        out[..., 0, 1] = fxy
        out[..., 1, 0] = fxy
        out[..., 1, 1] = fyy
        return out

    def loss_and_grad(self, xy: ArrayLike) -> tuple[float, F64]:
        """``(f(xy), ∇f(xy))`` at one point, the protocol of the analysis tools."""
        return float(self.value(xy)), self.grad(xy)


# --- the functions ----------------------------------------------------------------


def _f64(a: object) -> F64:
    return np.asarray(a, dtype=np.float64)


def _quadratic(x: F64, y: F64) -> F64:
    return _f64(x * x / 20.0 + y * y)


def _quadratic_grad(x: F64, y: F64) -> tuple[F64, F64]:
    return _f64(x / 10.0), _f64(2.0 * y)


def _quadratic_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    z = np.zeros_like(x)
    return z + 0.1, z, z + 2.0


def _bowl(x: F64, y: F64) -> F64:
    return _f64(x * x + y * y)


def _bowl_grad(x: F64, y: F64) -> tuple[F64, F64]:
    return _f64(2.0 * x), _f64(2.0 * y)


def _bowl_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    z = np.zeros_like(x)
    return z + 2.0, z, z + 2.0


def _rosenbrock(x: F64, y: F64) -> F64:
    return _f64((1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2)


def _rosenbrock_grad(x: F64, y: F64) -> tuple[F64, F64]:
    r = y - x * x
    return _f64(-2.0 * (1.0 - x) - 400.0 * x * r), _f64(200.0 * r)


def _rosenbrock_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    return (
        _f64(2.0 - 400.0 * y + 1200.0 * x * x),
        _f64(-400.0 * x),
        _f64(np.zeros_like(x) + 200.0),
    )


def _beale_terms(x: F64, y: F64) -> tuple[F64, F64, F64]:
    return (
        _f64(1.5 - x + x * y),
        _f64(2.25 - x + x * y * y),
        _f64(2.625 - x + x * y * y * y),
    )


def _beale(x: F64, y: F64) -> F64:
    a, b, c = _beale_terms(x, y)
    return _f64(a * a + b * b + c * c)


def _beale_grad(x: F64, y: F64) -> tuple[F64, F64]:
    a, b, c = _beale_terms(x, y)
    y2 = y * y
    gx = 2.0 * (a * (y - 1.0) + b * (y2 - 1.0) + c * (y2 * y - 1.0))
    gy = 2.0 * x * (a + 2.0 * y * b + 3.0 * y2 * c)
    return _f64(gx), _f64(gy)


def _beale_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    a, b, c = _beale_terms(x, y)
    y2 = y * y
    ax, bx, cx = y - 1.0, y2 - 1.0, y2 * y - 1.0
    ay, by, cy = x, 2.0 * x * y, 3.0 * x * y2
    fxx = 2.0 * (ax * ax + bx * bx + cx * cx)
    fxy = 2.0 * (ay * ax + a + by * bx + 2.0 * y * b + cy * cx + 3.0 * y2 * c)
    fyy = 2.0 * (ay * ay + by * by + 2.0 * x * b + cy * cy + 6.0 * x * y * c)
    return _f64(fxx), _f64(fxy), _f64(fyy)


def _himmelblau(x: F64, y: F64) -> F64:
    return _f64((x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2)


def _himmelblau_grad(x: F64, y: F64) -> tuple[F64, F64]:
    u, w = x * x + y - 11.0, x + y * y - 7.0
    return _f64(4.0 * x * u + 2.0 * w), _f64(2.0 * u + 4.0 * y * w)


def _himmelblau_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    u, w = x * x + y - 11.0, x + y * y - 7.0
    return (
        _f64(4.0 * u + 8.0 * x * x + 2.0),
        _f64(4.0 * (x + y)),
        _f64(2.0 + 4.0 * w + 8.0 * y * y),
    )


_TWO_PI = 2.0 * math.pi


def _rastrigin(x: F64, y: F64) -> F64:
    return _f64(
        20.0 + x * x - 10.0 * np.cos(_TWO_PI * x) + y * y - 10.0 * np.cos(_TWO_PI * y)
    )


def _rastrigin_grad(x: F64, y: F64) -> tuple[F64, F64]:
    k = 10.0 * _TWO_PI
    return _f64(2.0 * x + k * np.sin(_TWO_PI * x)), _f64(
        2.0 * y + k * np.sin(_TWO_PI * y)
    )


def _rastrigin_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    k = 10.0 * _TWO_PI * _TWO_PI
    return (
        _f64(2.0 + k * np.cos(_TWO_PI * x)),
        _f64(np.zeros_like(x)),
        _f64(2.0 + k * np.cos(_TWO_PI * y)),
    )


def _saddle(x: F64, y: F64) -> F64:
    y2 = y * y
    return _f64(0.5 * x * x + 0.25 * y2 * y2 - 0.5 * y2)


def _saddle_grad(x: F64, y: F64) -> tuple[F64, F64]:
    return _f64(x + 0.0), _f64(y * y * y - y)


def _saddle_hessian(x: F64, y: F64) -> tuple[F64, F64, F64]:
    return _f64(np.ones_like(x)), _f64(np.zeros_like(x)), _f64(3.0 * y * y - 1.0)


def _regression(m: F64, b: F64) -> F64:
    r1, r2 = m + b - 3.0, 2.0 * m + b - 5.0
    return _f64(0.5 * (r1 * r1 + r2 * r2))


def _regression_grad(m: F64, b: F64) -> tuple[F64, F64]:
    return _f64(5.0 * m + 3.0 * b - 13.0), _f64(3.0 * m + 2.0 * b - 8.0)


def _regression_hessian(m: F64, b: F64) -> tuple[F64, F64, F64]:
    z = np.zeros_like(m)
    return z + 5.0, z + 3.0, z + 2.0


_SURFACES: dict[str, Surface] = {
    s.name: s
    for s in (
        Surface(
            "quadratic",
            "f(x, y) = x²/20 + y²",
            _quadratic,
            _quadratic_grad,
            _quadratic_hessian,
            minima=((0.0, 0.0),),
            min_value=0.0,
            start=(-7.0, 2.0),
            bounds=((-10.0, 10.0), (-5.0, 5.0)),
            description="the ill-conditioned bowl of Saito's Deep Learning from "
            "Scratch, ch. 6 (Hessian diag(0.1, 2))",
        ),
        Surface(
            "bowl",
            "f(x, y) = x² + y²",
            _bowl,
            _bowl_grad,
            _bowl_hessian,
            minima=((0.0, 0.0),),
            min_value=0.0,
            start=(-4.0, 3.0),
            bounds=((-5.0, 5.0), (-5.0, 5.0)),
            description="a well-conditioned bowl (Hessian 2I)",
        ),
        Surface(
            "rosenbrock",
            "f(x, y) = (1 − x)² + 100 (y − x²)²",
            _rosenbrock,
            _rosenbrock_grad,
            _rosenbrock_hessian,
            minima=((1.0, 1.0),),
            min_value=0.0,
            start=(-2.0, 2.0),
            bounds=((-2.5, 2.5), (-1.5, 4.0)),
            description="a curved, narrow valley",
        ),
        Surface(
            "beale",
            "f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
            _beale,
            _beale_grad,
            _beale_hessian,
            minima=((3.0, 0.5),),
            min_value=0.0,
            start=(1.0, 1.5),
            bounds=((-4.5, 4.5), (-4.5, 4.5)),
            description="flat plateaus and steep walls",
        ),
        Surface(
            "himmelblau",
            "f(x, y) = (x² + y − 11)² + (x + y² − 7)²",
            _himmelblau,
            _himmelblau_grad,
            _himmelblau_hessian,
            minima=(
                (3.0, 2.0),
                (-2.805118086952745, 3.131312518250573),
                (-3.779310253377747, -3.2831859912861696),
                (3.5844283403304917, -1.8481265269644034),
            ),
            min_value=0.0,
            start=(0.0, 0.0),
            bounds=((-5.0, 5.0), (-5.0, 5.0)),
            description="four global minima",
        ),
        Surface(
            "rastrigin",
            "f(x, y) = 20 + x² − 10 cos 2πx + y² − 10 cos 2πy",
            _rastrigin,
            _rastrigin_grad,
            _rastrigin_hessian,
            minima=((0.0, 0.0),),
            min_value=0.0,
            start=(-2.3, 3.6),
            bounds=((-5.12, 5.12), (-5.12, 5.12)),
            log_levels=False,
            description="a grid of local minima around the global one",
        ),
        Surface(
            "saddle",
            "f(x, y) = x²/2 + y⁴/4 − y²/2",
            _saddle,
            _saddle_grad,
            _saddle_hessian,
            minima=((0.0, -1.0), (0.0, 1.0)),
            min_value=-0.25,
            start=(-2.0, 0.05),
            bounds=((-2.5, 2.5), (-2.0, 2.0)),
            description="a saddle point at the origin (Hessian diag(1, −1)) "
            "between two minima",
        ),
        Surface(
            "regression",
            "MSE(m, b) = ½[(m + b − 3)² + (2m + b − 5)²]",
            _regression,
            _regression_grad,
            _regression_hessian,
            minima=((2.0, 1.0),),
            min_value=0.0,
            start=(-1.0, 5.0),
            bounds=((-3.0, 5.0), (-3.0, 7.0)),
            labels=("m", "b"),
            value_name="MSE",
            description="the course notes' worked example: ŷ = m·x + b on (1, 3), "
            "(2, 5) (Hessian [[5, 3], [3, 2]])",
        ),
    )
}


def names() -> list[str]:
    """The registered surface names, e.g. ``["quadratic", "bowl", ...]``."""
    return list(_SURFACES)


def get(name: str | Surface) -> Surface:
    """The surface registered under ``name`` (a Surface is returned as is)."""
    if isinstance(name, Surface):
        return name
    if not isinstance(name, str) or name.lower() not in _SURFACES:
        raise ValueError(
            f"surfaces: the surface must be one of {', '.join(_SURFACES)}, got "
            f"{_checks.shown(name)}{_checks.did_you_mean(name, list(_SURFACES))}"
        )
    return _SURFACES[name.lower()]


def line_fit(
    x: ArrayLike, y: ArrayLike, *, name: str = "line-fit", start: Pair = (-1.0, 5.0)
) -> Surface:
    r"""The MSE of the line ``ŷ = m·x + b`` on data ``(x, y)``, over ``(m, b)``.

    .. math:: \mathrm{MSE}(m, b) = \tfrac1n\textstyle\sum_i (m x_i + b - y_i)^2

    (the 1/n mean of the course notes' ``get_mse``), written with the data's
    moments, so a value or a gradient costs the same for 2 points or 10⁶. For the
    worked example's points ``(1, 3), (2, 5)`` it is the ``"regression"`` surface;
    for a mini-batch it is that batch's cost, whose gradient is the batch gradient.
    The minimum is the least-squares line (the shortest such (m, b) when the data
    do not fix it, e.g. one point).
    """
    owner = "line_fit"
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape or xs.size == 0:
        _checks.fail(owner, "x and y", "1-D arrays of the same non-zero length", "")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        _checks.fail(owner, "x and y", "finite", "other values")
    sx, sy, sxx, sxy, syy = (
        float(np.mean(v)) for v in (xs, ys, xs * xs, xs * ys, ys * ys)
    )

    def value(m: F64, b: F64) -> F64:
        return _f64(
            m * m * sxx + 2 * m * b * sx + b * b - 2 * m * sxy - 2 * b * sy + syy
        )

    def grad(m: F64, b: F64) -> tuple[F64, F64]:
        return _f64(2 * (m * sxx + b * sx - sxy)), _f64(2 * (m * sx + b - sy))

    def hessian(m: F64, b: F64) -> tuple[F64, F64, F64]:
        z = np.zeros_like(m)
        return z + 2 * sxx, z + 2 * sx, z + 2.0

    best = np.linalg.lstsq(np.array([[sxx, sx], [sx, 1.0]]), [sxy, sy], rcond=None)[0]
    minimum = (float(best[0]), float(best[1]))
    bounds = tuple(
        (min(lo, c - 3.0, s0 - 1.0), max(hi, c + 3.0, s0 + 1.0))
        for (lo, hi), c, s0 in zip(
            ((-3.0, 5.0), (-3.0, 7.0)), minimum, start, strict=True
        )
    )
    return Surface(
        name,
        f"MSE(m, b) = (1/n)·Σ(m·xᵢ + b − yᵢ)² over n = {xs.size} points",
        value,
        grad,
        hessian,
        minima=(minimum,),
        min_value=float(value(best[:1], best[1:])[0]),
        start=start,
        bounds=(bounds[0], bounds[1]),
        labels=("m", "b"),
        value_name="MSE",
        description=f"a line fitted to {xs.size} points",
    )


__all__ = ["F64", "Pair", "Surface", "get", "line_fit", "names"]
