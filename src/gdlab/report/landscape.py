"""Pictures of loss surfaces: contours with optimizer trajectories, 3-D surfaces,
animations, and heat maps of the final loss over a hyperparameter grid.

Like the other plots, figures use matplotlib's object API on the Agg canvas (no
``pyplot``); they only read results (a :class:`~gdlab.surfaces.Surface`, paths,
grids) and never run an optimizer, so this module does not import
:mod:`gdlab.surfaces` (whose ``plot`` methods import it).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray
from PIL import Image

from gdlab import _checks, outputs
from gdlab.params import F64
from gdlab.report.plots import finish, label_colors, legend, new_axes, new_panels

if TYPE_CHECKING:  # the results this module draws; it never computes them
    from gdlab.surfaces import LossGrid, Surface

Paths = Mapping[str, ArrayLike]


def _out(path: str | Path) -> Path:
    out = Path(path)
    if not out.parent.exists():
        out.parent.mkdir(parents=True)
    return out


def _surface(owner: str, f: Surface) -> Surface:
    if not hasattr(f, "bounds"):  # a name: looking it up is the caller's job
        _checks.fail(owner, "f", "a Surface, e.g. surfaces.get('rosenbrock')", f)
    return f


def _paths(owner: str, paths: Paths) -> dict[str, F64]:
    if not isinstance(paths, Mapping) or not paths:
        _checks.fail(owner, "paths", "a non-empty mapping label -> (T, 2) path", paths)
    out = {}
    for label, p in paths.items():
        a = np.asarray(p, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 1:
            _checks.fail(
                owner, f"paths[{label!r}]", "an array of shape (T, 2)", a.shape
            )
        out[str(label)] = a
    return out


def _view(f: Surface, paths: Mapping[str, F64]) -> tuple[F64, F64]:
    """The plotting window: the surface's bounds, grown to show starts and minima."""
    (x0, x1), (y0, y1) = f.bounds
    points = [p[0] for p in paths.values()] + [np.array(m) for m in f.minima]
    for px, py in points:
        if np.isfinite(px) and np.isfinite(py):
            x0, x1 = min(x0, px - 0.05 * (x1 - x0)), max(x1, px + 0.05 * (x1 - x0))
            y0, y1 = min(y0, py - 0.05 * (y1 - y0)), max(y1, py + 0.05 * (y1 - y0))
    return np.array([x0, x1]), np.array([y0, y1])


def _mesh(f: Surface, xs: F64, ys: F64, n: int = 300) -> tuple[F64, F64, F64]:
    gx, gy = np.meshgrid(
        np.linspace(float(xs[0]), float(xs[1]), n),
        np.linspace(float(ys[0]), float(ys[1]), n),
    )
    z = f.value(np.stack([gx, gy], axis=-1))
    return gx, gy, z


def _levels(f: Surface, z: F64, count: int = 30) -> F64:
    lo, hi = float(np.min(z)), float(np.max(z))
    if f.log_levels and hi > lo:
        base = min(lo, f.min_value) if np.isfinite(f.min_value) else lo
        span = hi - base
        return np.asarray(base + np.geomspace(span * 1e-4, span, count))
    return np.linspace(lo, hi, count)


def _contour(
    ax: Axes, f: Surface, xs: F64, ys: F64, n: int = 300, count: int = 30
) -> None:
    gx, gy, z = _mesh(f, xs, ys, n)
    levels = _levels(f, z, count)
    ax.contourf(gx, gy, z, levels=levels, cmap="Blues_r", alpha=0.35, extend="both")
    ax.contour(gx, gy, z, levels=levels, colors="0.45", linewidths=0.5)
    x_name, y_name = f.labels
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_xlim(*xs)
    ax.set_ylim(*ys)


def _landmarks(ax: Axes, f: Surface, starts: list[F64]) -> None:
    for k, m in enumerate(f.minima):
        ax.plot(
            m[0],
            m[1],
            marker="*",
            markersize=16,
            color="gold",
            markeredgecolor="black",
            linestyle="none",
            zorder=5,
            label="minimum" if k == 0 else None,
        )
    unique = {(float(s[0]), float(s[1])) for s in starts}
    for k, (sx, sy) in enumerate(sorted(unique)):
        ax.plot(
            sx,
            sy,
            marker="o",
            markersize=9,
            color="white",
            markeredgecolor="black",
            linestyle="none",
            zorder=5,
            label="start" if k == 0 else None,
        )


def _in_view(p: F64, xs: F64, ys: F64, grow: float = 0.0) -> NDArray[np.bool_]:
    dx, dy = grow * (xs[1] - xs[0]), grow * (ys[1] - ys[0])
    with np.errstate(invalid="ignore"):
        return np.asarray(
            np.all(np.isfinite(p), axis=1)
            & (p[:, 0] >= xs[0] - dx)
            & (p[:, 0] <= xs[1] + dx)
            & (p[:, 1] >= ys[0] - dy)
            & (p[:, 1] <= ys[1] + dy)
        )


def _leaving(p: F64, xs: F64, ys: F64) -> F64:
    """The path up to and including its first point far outside the window (a
    diverging run is drawn until it leaves)."""
    out = ~_in_view(p, xs, ys, grow=1.0)
    if not out.any():
        return p
    first = int(np.argmax(out))
    shown = p[: first + 1]
    return shown[np.all(np.isfinite(shown), axis=1)]


def _draw_paths(ax: Axes, paths: Mapping[str, F64], xs: F64, ys: F64) -> None:
    many = max(len(p) for p in paths.values()) > 60
    for color, (label, p) in zip(
        label_colors(list(paths)).values(), paths.items(), strict=True
    ):
        shown = _leaving(p, xs, ys)
        ax.plot(
            shown[:, 0],
            shown[:, 1],
            "-" if many else "-o",
            color=color,
            markersize=3,
            linewidth=1.6,
            label=label,
            zorder=4,
        )
        if len(shown):
            ax.plot(*shown[-1], marker="X", color=color, markersize=8, zorder=6)


def _title(f: Surface, title: str | None, paths: Mapping[str, F64]) -> str:
    if title is not None:
        return title
    steps = max(len(p) for p in paths.values()) - 1
    return f"{f.name}: {f.formula} — {steps} steps"


def plot_trajectories(
    f: Surface,
    paths: Paths,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    three_d: bool = False,
) -> Figure:
    """Contour plot of ``f`` with one labelled trajectory per entry of ``paths``
    (label -> ``(T, 2)`` points), the start (○) and the minima (★) marked and each
    run's last point as ×; ``three_d`` adds the 3-D surface with the paths on it
    (two panels). Non-finite points (a diverged run) are left out.
    """
    owner = "plot_trajectories"
    surface = _surface(owner, f)
    data = _paths(owner, paths)
    xs, ys = _view(surface, data)
    starts = [p[0] for p in data.values()]
    if three_d:
        fig = new_panels(owner, ax, (15.0, 6.4))
        ax3 = fig.add_subplot(1, 2, 1, projection="3d", computed_zorder=False)
        _surface3d(ax3, surface, xs, ys, data)
        ax = fig.add_subplot(1, 2, 2)
    else:
        ax = new_axes(ax, (9.0, 6.4))
    _contour(ax, surface, xs, ys)
    _draw_paths(ax, data, xs, ys)
    _landmarks(ax, surface, starts)
    if three_d:
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize="small")
        fig.suptitle(_title(surface, title, data))
    else:
        legend(ax)
        ax.set_title(_title(surface, title, data))
    return finish(ax, path)


def _surface3d(ax: Any, f: Surface, xs: F64, ys: F64, paths: Mapping[str, F64]) -> None:
    gx, gy, z = _mesh(f, xs, ys, n=120)
    levels = _levels(f, z, 64)
    shade = np.interp(z, levels, np.linspace(0.0, 1.0, levels.size))
    ax.plot_surface(
        gx,
        gy,
        z,
        facecolors=matplotlib.colormaps["viridis"](shade),
        rstride=2,
        cstride=2,
        linewidth=0,
        antialiased=True,
        alpha=0.6,
        shade=False,
        zorder=1,
    )
    zmin, zmax = float(np.min(z)), float(np.max(z))
    for color, (label, p) in zip(
        label_colors(list(paths)).values(), paths.items(), strict=True
    ):
        inside = _in_view(p, xs, ys)
        q = np.where(inside[:, None], p, np.nan)
        zq = np.where(inside, f.value(np.where(inside[:, None], p, 0.0)), np.nan)
        ax.plot(
            q[:, 0],
            q[:, 1],
            zq,
            "-o",
            color=color,
            markersize=2,
            label=label,
            zorder=10,
        )
    for m in f.minima:
        ax.scatter(
            [m[0]],
            [m[1]],
            [f.min_value],
            marker="*",
            s=160,
            color="gold",
            edgecolors="black",
            zorder=11,
        )
    ax.set_xlim(*xs)
    ax.set_ylim(*ys)
    ax.set_zlim(zmin, zmax)
    x_name, y_name = f.labels
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.set_zlabel("f")
    ax.view_init(elev=35, azim=-60)


def animate_trajectories(
    f: Surface,
    paths: Paths,
    path: str | Path,
    *,
    fps: int = 8,
    max_frames: int = 60,
    title: str | None = None,
) -> Path:
    """An animated GIF of the runs advancing over the contour plot (Pillow).

    At most ``max_frames`` frames, evenly spaced over the steps; the last frame
    shows the whole runs. Returns the path written.
    """
    owner = "animate_trajectories"
    surface = _surface(owner, f)
    data = _paths(owner, paths)
    rate = _checks.integer(owner, "fps", fps, low=1)
    frames_max = _checks.integer(owner, "max_frames", max_frames, low=2)
    xs, ys = _view(surface, data)
    steps = max(len(p) for p in data.values())
    frames = np.unique(
        np.linspace(1, steps, min(steps, frames_max)).round().astype(int)
    )
    fig = Figure(figsize=(7.5, 5.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _contour(ax, surface, xs, ys, n=120, count=20)  # redrawn for every frame
    _landmarks(ax, surface, [p[0] for p in data.values()])
    lines = []
    heads = []
    for color, label in zip(label_colors(list(data)).values(), data, strict=True):
        (line,) = ax.plot([], [], "-", color=color, linewidth=1.8, label=label)
        (head,) = ax.plot([], [], "o", color=color, markersize=7)
        lines.append(line)
        heads.append(head)
    ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    caption = ax.set_title(f"step {steps - 1}")  # room for the caption in the layout
    fig.suptitle(_title(surface, title, data))

    # A diverging run is drawn until it leaves the window.
    shown_paths = [_leaving(p, xs, ys) for p in data.values()]

    def draw(n: int) -> None:
        for line, head, p in zip(lines, heads, shown_paths, strict=True):
            shown = p[:n]
            line.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
        caption.set_text(f"step {n - 1}")

    fig.canvas.draw()  # lay the figure out once, then keep that layout for every frame
    fig.set_layout_engine("none")
    dpi = 80
    width, height = (int(inches * dpi) for inches in fig.get_size_inches())
    images = []
    for n in frames:  # as matplotlib's PillowWriter does, but saved atomically
        draw(int(n))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="rgba", dpi=dpi)
        frame = Image.frombuffer(
            "RGBA", (width, height), buffer.getvalue(), "raw", "RGBA", 0, 1
        )
        images.append(frame.convert("RGB"))
    return outputs.write_atomic(
        _out(path),
        lambda f: images[0].save(
            f,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=int(1000 / rate),
            loop=0,
        ),
    )


def _edges(centers: F64, log: bool) -> F64:
    c = np.log10(centers) if log else centers
    if c.size == 1:
        edges = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        mid = 0.5 * (c[1:] + c[:-1])
        edges = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.asarray(10.0**edges if log else edges)


def plot_loss_grid(
    grid: LossGrid,
    *,
    path: str | Path | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Heat map of the final loss above the minimum over (lr, hyperparameter), lr on
    a log axis; diverged cells are grey with a ×, the best cell has a ★."""
    lrs, values = grid.lrs, grid.values
    log_x = bool(np.all(lrs > 0))
    gap = grid.final_loss - grid.min_value
    bad = grid.diverged
    floor = 1e-16 * max(1.0, abs(grid.start_loss - grid.min_value))
    shown = np.ma.masked_array(np.maximum(np.where(bad, 1.0, gap), floor), mask=bad)
    ax = new_axes(ax, (8.5, 6.2))
    ax.set_facecolor("0.75")
    mesh = ax.pcolormesh(
        _edges(lrs, log_x),
        _edges(values, False),
        shown,
        norm=LogNorm(
            vmin=float(shown.min()), vmax=float(max(shown.max(), shown.min() * 10))
        ),
        cmap="viridis",
        shading="flat",
    )
    if log_x:
        ax.set_xscale("log")
    fig = ax.get_figure()
    assert fig is not None
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label("final loss − minimum")
    rows, cols = np.nonzero(bad)
    if rows.size:
        ax.plot(
            lrs[cols],
            values[rows],
            "x",
            color="0.35",
            markersize=5,
            linestyle="none",
            label="diverged",
        )
    if not np.all(bad):
        best_lr, best_value, _ = grid.best()
        ax.plot(
            best_lr,
            best_value,
            "*",
            color="red",
            markersize=15,
            markeredgecolor="white",
            linestyle="none",
            label="best",
        )
    ax.set_xlabel("learning rate")
    ax.set_ylabel(grid.name)
    legend(ax, "outside lower center", ncols=2)
    start = f"({grid.start[0]:g}, {grid.start[1]:g})"
    ax.set_title(
        title
        or f"{grid.surface}: {grid.label}, final loss after {grid.steps} steps "
        f"from {start}"
    )
    return finish(ax, path)


__all__ = ["animate_trajectories", "plot_loss_grid", "plot_trajectories"]
