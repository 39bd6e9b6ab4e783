r"""2-D test functions with analytic gradients and Hessians, and optimizer
trajectories over them — one run, or thousands at once.

A :class:`Surface` is vectorized over a leading batch axis: ``xy`` has shape
``(..., 2)``; ``value`` returns shape ``(...)``, ``grad`` ``(..., 2)`` and
``hessian`` ``(..., 2, 2)``::

    f = surfaces.get("rosenbrock")
    f.value([1.0, 1.0]), f.grad([[0.0, 0.0], [1.0, 1.0]])
    path = surfaces.trajectory(f, "adam", start=(-2.0, 2.0), steps=500, lr=0.01)
    paths = surfaces.trajectories(f, "sgd", starts=S, lr=L, steps=1000, momentum=M)

Trajectories run the real :mod:`gdlab.optim` optimizers (and any schedule as
``lr``): there is no second copy of the update math here. ``trajectories`` puts
all K runs in one :class:`~gdlab.Params` buffer of shape ``(K, 2)`` and steps them
with one fused kernel call per step; a hyperparameter given per run (a list or an
array with one value per run) splits the runs into one parameter group per
distinct combination, each a contiguous slice of the same buffer. Either way every
run gets exactly the numbers it would get alone.

A run that diverges is not an error: its coordinates overflow to ``inf``/``nan``
(silently; no warning) while the other runs go on, and :func:`diverged` reports it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gdlab import _checks, _display, optim
from gdlab.params import Params

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

F64 = NDArray[np.float64]
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
        _checks.fail("surfaces", "the surface", f"one of {', '.join(_SURFACES)}", name)
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


# Optimizer names: the registry plus the presets "momentum" (SGD with momentum 0.9)
# and "nesterov" (SGD with Nesterov momentum 0.9), shared with the training lab.
# --- trajectories -----------------------------------------------------------------


def _starts(owner: str, starts: ArrayLike) -> F64:
    try:
        a = np.array(starts, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, "starts", "an array of shape (K, 2)", starts)
    if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:
        _checks.fail(owner, "starts", "an array of shape (K, 2) with K >= 1", a.shape)
    if not np.all(np.isfinite(a)):
        _checks.fail(owner, "starts", "finite", a.tolist())
    return a


def as_point(owner: str, name: str, value: ArrayLike) -> F64:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        _checks.fail(owner, name, "a point (x, y)", value)
    if a.shape != (2,) or not np.all(np.isfinite(a)):
        _checks.fail(owner, name, "a finite point (x, y)", value)
    return a


def _plain(v: object) -> object:
    return v.item() if isinstance(v, np.generic) else v


def _split_per_run(
    owner: str, hyper: Mapping[str, Any], defaults: Mapping[str, Any], k: int
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Split hyperparameters into shared ones and those given per run.

    A value is per run when it is a list or a 1-D array (a 2-D array of rows for a
    tuple-valued hyperparameter such as ``betas``); it must then hold K values.
    """
    shared: dict[str, Any] = {}
    per_run: dict[str, list[Any]] = {}
    for name, value in hyper.items():
        is_tuple = isinstance(defaults.get(name), tuple)
        if not isinstance(value, list | np.ndarray) or (
            is_tuple and np.ndim(value) < 2
        ):
            shared[name] = tuple(value) if is_tuple and value is not None else value
            continue
        if is_tuple:
            values: list[Any] = [tuple(float(x) for x in row) for row in value]
        else:
            if isinstance(value, np.ndarray) and value.ndim != 1:
                _checks.fail(owner, name, f"a scalar or {k} values", value.shape)
            values = [_plain(v) for v in value]
        if len(values) != k:
            _checks.fail(
                owner, name, f"a scalar or one value per run ({k})", len(values)
            )
        per_run[name] = values
    return shared, per_run


@dataclass
class _Runs:
    """K runs of one optimizer in one Params buffer, stepped together."""

    surface: Surface
    optimizer: optim.Optimizer
    x: F64  # (K, 2) view of the parameter buffer, rows in buffer order
    grads: Params
    g: F64  # (K, 2) view of the gradient buffer
    order: NDArray[np.intp] | None  # buffer row r holds run order[r]; None: identity

    def step(self) -> None:
        self.surface.grad_into(self.x, self.g)
        self.optimizer.step(self.grads)

    def points(self) -> F64:
        """The current points in run order (a new array)."""
        if self.order is None:
            return self.x.copy()
        out = np.empty_like(self.x)
        out[self.order] = self.x
        return out


def _setup(
    owner: str,
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None,
    lr: Any,
    hyper: Mapping[str, Any],
) -> _Runs:
    surface = get(f)
    name, preset = optim.resolve(optimizer)
    cls = optim.get(name)
    x0 = _starts(owner, [surface.start] if starts is None else starts)
    k = x0.shape[0]
    given = {**preset, **hyper}
    if lr is not None:
        given["lr"] = lr
    shared, per_run = _split_per_run(owner, given, cls.defaults, k)

    # One group per distinct combination of the per-run values, in first-seen order.
    members: dict[tuple[Any, ...], list[int]] = {}
    keys = list(per_run)
    for run in range(k):
        members.setdefault(tuple(per_run[n][run] for n in keys), []).append(run)
    order = np.array([run for runs in members.values() for run in runs], dtype=np.intp)
    identity = bool(np.all(order == np.arange(k)))
    x_sorted = x0[order]

    arrays: dict[str, F64] = {}
    group_names: list[list[str]] = []
    offset = 0
    for j, runs in enumerate(members.values()):
        rows = x_sorted[offset : offset + len(runs)]
        if cls.elementwise:  # one (n, 2) block per group: one fused pass each
            block = "xy" if len(members) == 1 else f"runs{j}"
            arrays[block] = rows
            group_names.append([block])
        else:  # rules with norms see each run as its own 2-vector
            group_names.append([f"run{order[offset + i]}" for i in range(len(runs))])
            arrays.update(zip(group_names[-1], rows, strict=True))
        offset += len(runs)
    params = Params(arrays, dtype=np.float64)
    shared_lr = shared.pop("lr", None)
    if not per_run:
        opt = optim.create(name, params, lr=shared_lr, **shared)
    else:
        specs = [
            {
                "params": {n: params[n] for n in group},
                **dict(zip(keys, key, strict=True)),
            }
            for group, key in zip(group_names, members, strict=True)
        ]
        opt = optim.create(name, specs, lr=shared_lr, **shared)
    grads = params.zeros_like()
    x: F64 = params.buffers[np.dtype(np.float64)].reshape(k, 2)  # type: ignore[assignment]
    g: F64 = grads.buffers[np.dtype(np.float64)].reshape(k, 2)  # type: ignore[assignment]
    return _Runs(surface, opt, x, grads, g, None if identity else order)


def trajectories(
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """K runs of ``optimizer`` on ``f`` as one array computation: ``(steps+1, K, 2)``.

    Args:
        f: a :class:`Surface` or its name.
        optimizer: a registry name (``"adam"``) or a preset (``"momentum"``,
            ``"nesterov"``; see :data:`gdlab.optim.PRESETS`).
        starts: ``(K, 2)`` start points (default: the surface's start, K = 1).
        lr: a number, a schedule (step -> lr) or one value per run (list or 1-D
            array); None for the optimizer's default.
        steps: optimizer steps >= 1.
        **hyper: the optimizer's hyperparameters, each shared (a scalar, or a tuple
            for ``betas``) or per run (a list/1-D array of K values; K rows for
            ``betas``).

    Row 0 is the start; row t the points after t steps. Runs that diverge fill with
    ``inf``/``nan`` without a warning (see :func:`diverged`).

    Example:
        >>> S = np.random.default_rng(0).uniform(-2, 2, (1000, 2))
        >>> paths = trajectories("rosenbrock", "adam", S, lr=0.01, steps=1000)
    """
    owner = "trajectories"
    n = _checks.integer(owner, "steps", steps, low=1)
    runs = _setup(owner, f, optimizer, starts, lr, hyper)
    k = runs.x.shape[0]
    out = np.empty((n + 1, k, 2), dtype=np.float64)
    order = runs.order
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(n + 1):
            if t:
                runs.step()
            if order is None:
                out[t] = runs.x
            else:
                out[t, order] = runs.x
    return out


def trajectory(
    f: Surface | str,
    optimizer: str,
    start: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """One run of ``optimizer`` on ``f`` from ``start``: the points, ``(steps+1, 2)``.

    The arguments are those of :func:`trajectories` for one run.

    Example:
        >>> path = trajectory("rosenbrock", "adam", (-2.0, 2.0), steps=500, lr=0.01)
    """
    point = as_point("trajectory", "start", get(f).start if start is None else start)
    return trajectories(f, optimizer, point[None], lr=lr, steps=steps, **hyper)[:, 0]


def final_points(
    f: Surface | str,
    optimizer: str,
    starts: ArrayLike | None = None,
    *,
    lr: Any = None,
    steps: int = 100,
    **hyper: Any,
) -> F64:
    """Like :func:`trajectories`, keeping only the last points: ``(K, 2)``."""
    owner = "final_points"
    n = _checks.integer(owner, "steps", steps, low=1)
    runs = _setup(owner, f, optimizer, starts, lr, hyper)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(n):
            runs.step()
    return runs.points()


def diverged(f: Surface | str, paths: ArrayLike) -> NDArray[np.bool_]:
    """Which runs diverged: their last point is not finite or its value exceeds the
    value at the start. ``paths`` is ``(T, 2)`` (one run, a 0-d result) or
    ``(T, K, 2)``."""
    surface = get(f)
    a = np.asarray(paths, dtype=np.float64)
    if a.ndim not in (2, 3) or a.shape[-1] != 2 or a.shape[0] < 1:
        _checks.fail(
            "diverged", "paths", "an array of shape (T, 2) or (T, K, 2)", a.shape
        )
    with np.errstate(over="ignore", invalid="ignore"):
        first, last = surface.value(a[0]), surface.value(a[-1])
        bad = ~np.isfinite(last) | (last > first)
    return np.asarray(bad | ~np.all(np.isfinite(a[-1]), axis=-1))


def first_nonfinite(paths: ArrayLike) -> NDArray[np.intp]:
    """The first step at which each run's point is not finite, or -1 if never."""
    a = np.asarray(paths, dtype=np.float64)
    bad = ~np.all(np.isfinite(a), axis=-1)
    return np.where(bad.any(axis=0), bad.argmax(axis=0), -1).astype(np.intp)


# --- experiments the CLI draws --------------------------------------------------


@dataclass(frozen=True)
class Trajectory:
    """One labelled trajectory on a surface and how it ended."""

    label: str
    optimizer: str
    lr: float | None
    hyper: dict[str, Any]
    path: F64
    start_loss: float
    final_loss: float
    diverged: bool
    nonfinite_at: int | None

    @property
    def final(self) -> F64:
        """The last point (a view into ``path``)."""
        return np.asarray(self.path[-1], dtype=np.float64)


class Trajectories(list[Trajectory]):
    """The runs of :func:`runs` on one surface: a list of :class:`Trajectory` that shows
    itself in a notebook (a table, :meth:`plot`, :meth:`to_frame`)."""

    def __init__(self, surface: Surface, runs: Sequence[Trajectory] = ()) -> None:
        super().__init__(runs)
        self.surface = surface

    def _summary(self) -> list[dict[str, Any]]:
        return [
            {
                "label": r.label,
                "optimizer": r.optimizer,
                "lr": r.lr,
                "steps": len(r.path) - 1,
                f"final {self.surface.labels[0]}": float(r.final[0]),
                f"final {self.surface.labels[1]}": float(r.final[1]),
                f"start {self.surface.value_name}": r.start_loss,
                f"final {self.surface.value_name}": r.final_loss,
                "diverged": r.diverged,
                "nonfinite_at": r.nonfinite_at,
            }
            for r in self
        ]

    def to_frame(self, points: bool = False) -> Any:
        """One row per run, or with ``points`` one per run and step (``run``,
        ``step``, the coordinates, the value), as a pandas DataFrame (``pip
        install 'gdlab[notebook]'``)."""
        if not points:
            return _display.frame("Trajectories.to_frame", self._summary())
        x, y = self.surface.labels
        rows = []
        for r in self:
            with np.errstate(over="ignore", invalid="ignore"):
                values = self.surface.value(r.path)
            rows += [
                {
                    "run": r.label,
                    "step": t,
                    x: p[0],
                    y: p[1],
                    self.surface.value_name: v,
                }
                for t, (p, v) in enumerate(
                    zip(r.path.tolist(), values.tolist(), strict=True)
                )
            ]
        return _display.frame("Trajectories.to_frame", rows)

    def plot(self, ax: Axes | None = None, *, three_d: bool = False) -> Figure:
        """The runs on the surface's contour plot, drawn into ``ax`` (a new Figure
        when None); ``three_d`` adds the 3-D surface."""
        from gdlab.report.surfaces import plot_trajectories

        paths = {r.label + (", diverged" if r.diverged else ""): r.path for r in self}
        return plot_trajectories(self.surface, paths, ax=ax, three_d=three_d)

    def _repr_html_(self) -> str:
        f = self.surface
        caption = f"{len(self)} runs on {f.name}: {f.formula} (minimum {f.min_value:g})"
        return _display.table(caption, self._summary())


def runs(
    f: Surface | str,
    optimizers: Sequence[str],
    lrs: Sequence[float | None] | None = None,
    *,
    start: ArrayLike | None = None,
    steps: int = 100,
) -> Trajectories:
    """Run each ``(optimizer, lr)`` pair from the same start, one vectorized call
    per optimizer; a :class:`Trajectories` (a list of :class:`Trajectory`).

    ``optimizers`` and ``lrs`` pair up; a single optimizer runs once per lr, a single
    lr is used for every optimizer; ``None`` (or no ``lrs``) means the optimizer's
    default lr.
    """
    owner = "surface runs"
    surface = get(f)
    names_ = list(optimizers)
    lr_list: list[float | None] = [None] if lrs is None else list(lrs)
    if not names_:
        _checks.fail(owner, "optimizers", "at least one name", names_)
    if not lr_list:
        _checks.fail(owner, "lrs", "at least one learning rate", lr_list)
    if len(names_) == 1:
        names_ = names_ * len(lr_list)
    elif len(lr_list) == 1:
        lr_list = lr_list * len(names_)
    if len(names_) != len(lr_list):
        _checks.fail(
            owner,
            "lrs",
            f"one per optimizer ({len(names_)}), or a single one",
            len(lr_list),
        )
    for name in names_:
        optim.resolve(name)
    for lr in lr_list:
        if lr is not None:
            _checks.number(owner, "lr", lr, low=0.0)
    point = as_point(owner, "start", surface.start if start is None else start)
    n = _checks.integer(owner, "steps", steps, low=1)
    paths: dict[int, F64] = {}
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(names_):
        by_name.setdefault(name.lower(), []).append(i)
    for name, idx in by_name.items():
        base, preset = optim.resolve(name)
        lr_given = [lr_list[i] for i in idx]
        default_lr = optim.get(base).defaults["lr"]
        lr_values = [default_lr if lr is None else lr for lr in lr_given]
        block = trajectories(
            surface,
            name,
            np.repeat(point[None], len(idx), axis=0),
            lr=lr_values,
            steps=n,
        )
        for j, i in enumerate(idx):
            paths[i] = block[:, j].copy()
    out = Trajectories(surface)
    counts: dict[str, int] = {}
    for name in names_:
        counts[name] = counts.get(name, 0) + 1
    with np.errstate(over="ignore", invalid="ignore"):
        for i, name in enumerate(names_):
            path = paths[i]
            base, preset = optim.resolve(name)
            lr = lr_list[i]
            lr_value = float(optim.get(base).defaults["lr"] if lr is None else lr)
            label = f"{name} (lr={lr_value:g})" if counts[name] > 1 or lrs else name
            start_loss = float(surface.value(path[0]))
            final_loss = float(surface.value(path[-1]))
            bad = first_nonfinite(path[:, None])[0]
            out.append(
                Trajectory(
                    label=label,
                    optimizer=name,
                    lr=lr_value,
                    hyper=preset,
                    path=path,
                    start_loss=start_loss,
                    final_loss=final_loss,
                    diverged=bool(diverged(surface, path)),
                    nonfinite_at=None if bad < 0 else int(bad),
                )
            )
    return out


@dataclass(frozen=True)
class LossGrid:
    """Final losses of a grid of runs over (lr, another hyperparameter)."""

    surface: str
    optimizer: str
    lrs: F64
    name: str
    values: F64
    final_loss: F64  # (len(values), len(lrs))
    start: F64
    start_loss: float
    min_value: float
    steps: int
    hyper: dict[str, Any]

    @property
    def diverged(self) -> NDArray[np.bool_]:
        """Cells whose final loss is not finite or above the starting loss."""
        with np.errstate(invalid="ignore"):
            return np.asarray(
                ~np.isfinite(self.final_loss) | (self.final_loss > self.start_loss)
            )

    def best(self) -> tuple[float, float, float]:
        """``(lr, value, final loss)`` of the cell with the lowest final loss."""
        loss = np.where(self.diverged, np.inf, self.final_loss)
        i, j = np.unravel_index(int(np.argmin(loss)), loss.shape)
        return float(self.lrs[j]), float(self.values[i]), float(self.final_loss[i, j])


def loss_grid(
    f: Surface | str,
    optimizer: str,
    lrs: ArrayLike,
    values: ArrayLike,
    *,
    name: str = "momentum",
    start: ArrayLike | None = None,
    steps: int = 200,
    **hyper: Any,
) -> LossGrid:
    """The final loss for every (lr, ``name``) pair, from one vectorized call.

    ``lrs`` and ``values`` are 1-D; the result's ``final_loss`` has shape
    ``(len(values), len(lrs))``.

    Example:
        >>> g = loss_grid("rosenbrock", "sgd", np.geomspace(1e-4, 1e-2, 20),
        ...               np.linspace(0, 0.99, 20), steps=500)
    """
    owner = "loss_grid"
    surface = get(f)
    lr_axis = np.array(lrs, dtype=np.float64).reshape(-1)
    value_axis = np.array(values, dtype=np.float64).reshape(-1)
    if lr_axis.size == 0 or value_axis.size == 0:
        _checks.fail(owner, "lrs and values", "non-empty", (lr_axis, value_axis))
    if name == "lr" or name in hyper:
        _checks.fail(owner, "name", "a hyperparameter other than lr and **hyper", name)
    point = as_point(owner, "start", surface.start if start is None else start)
    lr_grid, value_grid = np.meshgrid(lr_axis, value_axis)
    k = lr_grid.size
    finals = final_points(
        surface,
        optimizer,
        np.repeat(point[None], k, axis=0),
        lr=lr_grid.reshape(-1),
        steps=steps,
        **{name: value_grid.reshape(-1)},
        **hyper,
    )
    with np.errstate(over="ignore", invalid="ignore"):
        final_loss = surface.value(finals).reshape(lr_grid.shape)
    return LossGrid(
        surface=surface.name,
        optimizer=optimizer,
        lrs=lr_axis,
        name=name,
        values=value_axis,
        final_loss=final_loss,
        start=point,
        start_loss=float(surface.value(point)),
        min_value=surface.min_value,
        steps=int(steps),
        hyper=dict(hyper),
    )


__all__ = [
    "LossGrid",
    "Surface",
    "Trajectories",
    "Trajectory",
    "diverged",
    "final_points",
    "first_nonfinite",
    "get",
    "loss_grid",
    "names",
    "runs",
    "trajectories",
    "trajectory",
]
