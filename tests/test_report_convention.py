"""Every public plotting function of gdlab.report follows matplotlib's convention:
it draws into the ``ax`` it is given (a new Figure when none), returns the Figure,
and writes a file only when ``path=`` is given."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gdlab import report, surfaces
from gdlab import schedules as S
from gdlab.experiment import RunSpec
from gdlab.lab import benchmark, compare, sweep
from gdlab.train import TrainConfig

from .conftest import raises_about

PNG = b"\x89PNG\r\n\x1a\n"
Args = tuple[tuple[Any, ...], dict[str, Any]]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Small real results: a comparison and a sweep on digits, surface runs, the
    profiles of two workloads."""
    root = tmp_path_factory.mktemp("results")
    spec = RunSpec(
        data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=3, batch_size=64)
    )
    found = compare.compare(
        spec,
        ["sgd", "adam"],
        compare.Protocol(budget=2, seeds=2, studies=2),
        out=root / "compare",
        workers=1,
        progress=False,
        report=False,
    )
    grid = {"optimizer": ["sgd"], "lr": [0.03, 0.3], "batch_size": [16, 64]}
    swept = sweep.run(
        sweep.Sweep(spec, grid, sharpness=True, sharpness_samples=100),
        out=root / "sweep",
        workers=1,
        progress=False,
        report=False,
    )
    times = {"a": {"sgd": 120.0, "adam": 60.0}, "b": {"sgd": 40.0, "adam": None}}
    return {
        "comparison": found,
        "rows": swept.rows(),
        "runs": {r.label: r.path for r in surfaces.runs("rosenbrock", ["sgd", "adam"])},
        "grid": surfaces.loss_grid(
            "rosenbrock", "sgd", np.geomspace(1e-4, 1e-3, 3), [0.0, 0.9], steps=20
        ),
        "profiles": benchmark.profile(times),
    }


CASES: dict[str, Callable[[dict[str, Any]], Args]] = {
    "plot_schedules": lambda d: (({"cosine": S.cosine(0.1, 20)}, 20), {}),
    "plot_schedule_grid": lambda d: (
        ({"step": S.step(0.1, 5), "cosine": S.cosine(0.1, 20)}, 20),
        {"ncols": 2},
    ),
    "plot_loss_curves": lambda d: (({"sgd": [2.0, 1.0, 0.7, 0.5]},), {}),
    "plot_accuracy": lambda d: (({"sgd": ([1, 2], [0.6, 0.8], [0.5, 0.7])},), {}),
    "plot_lrs": lambda d: (({"sgd": [0.1, 0.05, 0.025]},), {}),
    "plot_summary": lambda d: (({"sgd": (0.9, 0.01), "adam": (0.93, 0.02)},), {}),
    "plot_trajectories": lambda d: ((surfaces.get("rosenbrock"), d["runs"]), {}),
    "plot_loss_grid": lambda d: ((d["grid"],), {}),
    "plot_lr_sensitivity": lambda d: ((d["rows"],), {}),
    "plot_sharpness": lambda d: ((d["rows"],), {}),
    "plot_sharpness_accuracy": lambda d: ((d["rows"],), {}),
    "plot_test_metrics": lambda d: ((d["comparison"],), {}),
    "plot_tunability": lambda d: ((d["comparison"],), {}),
    "plot_sensitivity": lambda d: ((d["comparison"],), {}),
    "plot_curves": lambda d: ((d["comparison"], "val_acc"), {}),
    "plot_profiles": lambda d: ((d["profiles"],), {}),
}
PANELS = {"plot_schedule_grid", "plot_lr_sensitivity"}
"""Figures of several panels: they take the place of the ``ax`` they are given."""


def test_every_public_plot_function_has_a_case() -> None:
    public = {n for n in report.__all__ if n.startswith("plot_")}
    assert public == set(CASES)


@pytest.fixture
def nothing_written(tmp_path: Path) -> Iterator[Path]:
    """Run in an empty folder, and check that it stays empty."""
    before = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)
    assert list(tmp_path.iterdir()) == []


def _drawn(ax: Axes) -> bool:
    return bool(ax.lines or ax.collections or ax.patches or ax.images)


@pytest.mark.parametrize("name", sorted(CASES))
def test_draws_into_the_given_ax_and_writes_nothing(
    name: str, data: dict[str, Any], nothing_written: Path
) -> None:
    args, kwargs = CASES[name](data)
    fig = Figure(figsize=(14.0, 5.0), layout="constrained")
    mine, ax = fig.subplots(1, 2)
    mine.plot([0, 1], [1, 0], label="mine")
    out = getattr(report, name)(*args, ax=ax, **kwargs)
    assert out is fig
    assert fig.axes[0] is mine and len(mine.lines) == 1 and mine.get_legend() is None
    assert not fig.legends  # the legend stays with its panel
    if name in PANELS:  # a SubFigure of drawn panels in the ax's grid cell
        assert ax not in fig.axes and len(fig.subfigs) == 1
        assert any(_drawn(a) for a in fig.subfigs[0].axes)
    else:
        assert ax in fig.axes and _drawn(ax)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_new_figure_written_only_with_a_path(
    name: str, data: dict[str, Any], nothing_written: Path, tmp_path_factory: Any
) -> None:
    args, kwargs = CASES[name](data)
    fig = getattr(report, name)(*args, **kwargs)
    assert isinstance(fig, Figure) and any(_drawn(a) for a in fig.get_axes())
    out = tmp_path_factory.mktemp("png") / "sub" / "figure.png"
    again = getattr(report, name)(*args, path=out, **kwargs)
    assert isinstance(again, Figure) and again is not fig
    assert out.read_bytes()[:8] == PNG and out.stat().st_size > 5_000
    assert list(out.parent.iterdir()) == [out]  # no temporary file left


def test_a_three_d_trajectory_takes_the_place_of_its_ax(
    data: dict[str, Any], nothing_written: Path
) -> None:
    fig = Figure(figsize=(16.0, 10.0), layout="constrained")
    axes = fig.subplots(2, 2)
    out = report.plot_trajectories(
        surfaces.get("rosenbrock"), data["runs"], ax=axes[1, 1], three_d=True
    )
    assert out is fig and axes[1, 1] not in fig.axes
    (panels,) = fig.subfigs
    assert [a.name for a in panels.axes] == ["3d", "rectilinear"]
    (legend,) = panels.legends  # one entry per run, the minimum and the start
    assert len(legend.get_texts()) == len(data["runs"]) + 2
    assert panels.axes[1].get_subplotspec() is not None


def test_an_ax_outside_a_grid_is_refused() -> None:
    fig = Figure()
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    with raises_about("plot_schedule_grid", "ax"):
        report.plot_schedule_grid({"c": S.constant(0.1)}, 10, ax=ax)


def test_twelve_optimizers_get_ten_hues_before_a_shade_repeats() -> None:
    import colorsys

    from gdlab.report.plots import label_colors

    colors = list(label_colors([f"opt{k}" for k in range(12)]).values())
    hues = [round(colorsys.rgb_to_hsv(*c[:3])[0], 2) for c in colors[:10]]
    assert len(set(colors)) == 12
    assert len(set(hues)) >= 9  # tab10's grey has no hue of its own
    for k in range(11):  # neighbours in a legend differ in hue or in lightness
        assert colors[k] != colors[k + 1]
    assert label_colors(["a"])["a"] == colors[0]  # the same colour at any count


def test_every_plot_function_takes_path_by_keyword_only() -> None:
    """One API shape: ``plot_x(data, ..., path=None, ax=None)``; a positional
    path in some and a keyword in others went unnoticed while tests passed it
    by name (issue 21)."""
    import importlib
    import inspect
    import pkgutil

    import gdlab.report

    found = {}
    for info in pkgutil.iter_modules(gdlab.report.__path__):
        module = importlib.import_module(f"gdlab.report.{info.name}")
        for name, function in vars(module).items():
            here = getattr(function, "__module__", None) == module.__name__
            own = inspect.isfunction(function) and here
            if name.startswith("plot_") and own:
                found[f"{info.name}.{name}"] = inspect.signature(function)
    assert len(found) >= 30
    for name, signature in found.items():
        path = signature.parameters.get("path")
        assert path is not None, f"{name} has no path"
        assert path.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert path.default is None, name


def test_curves_tick_whole_epochs(data: dict[str, Any]) -> None:
    """The x axis of the curves is labelled at whole epochs (it ticked at 2.5 on a
    20-epoch comparison, and every quarter epoch on this one of 3)."""
    ax = report.plot_curves(data["comparison"], "val_acc").axes[0]
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks and all(t == round(t) for t in ticks)
