"""Results show themselves in a notebook: ``_repr_html_`` (a compact table),
``.plot(ax=None)`` and ``.to_frame()`` on History, Comparison, SweepResult and the
trajectories of gdlab.surfaces.runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from gdlab import surfaces, train
from gdlab.experiment import RunSpec, build
from gdlab.history import EPOCH_FIELDS
from gdlab.lab import compare, sweep
from gdlab.train import TrainConfig

SPEC = RunSpec(data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=1))


@pytest.fixture(scope="module")
def history() -> train.History:
    run = build(SPEC.replace(optimizer="sgd", lr=0.1))
    return train.fit(
        run.model,
        run.optimizer,
        run.dataset,
        TrainConfig(epochs=1, batch_size=16, eval_every=5),
        progress=False,
    )


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> compare.Comparison:
    return compare.compare(
        SPEC,
        ["sgd", "adam"],
        compare.Protocol(budget=2, seeds=2, studies=2),
        out=tmp_path_factory.mktemp("compare"),
        workers=1,
        progress=False,
        report=False,
    )


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> sweep.SweepResult:
    return sweep.run(
        sweep.Sweep(SPEC, {"optimizer": ["sgd"], "lr": [0.03, 0.3], "seed": [0, 1]}),
        out=tmp_path_factory.mktemp("sweep"),
        workers=1,
        progress=False,
        report=False,
    )


@pytest.fixture(scope="module")
def runs() -> surfaces.Trajectories:
    return surfaces.runs("quadratic", ["sgd", "adam"], [0.9, 0.3], steps=30)


def _in_ax(draw: Any) -> None:
    """``draw(ax)`` draws into the given axes (or the panels that took its place)
    and returns its Figure."""
    fig = Figure(layout="constrained")
    ax = fig.add_subplot()
    assert draw(ax) is fig
    drawn = [*fig.axes, *(a for sub in fig.subfigs for a in sub.axes)]
    assert any(a.lines or a.collections for a in drawn)


def test_history(history: train.History) -> None:
    frame = history.to_frame()
    assert list(frame.columns) == list(EPOCH_FIELDS)
    assert frame["step"].tolist() == [e["step"] for e in history.epochs]
    assert frame["val_acc"].tolist() == [e["val_acc"] for e in history.epochs]
    steps = history.to_frame(per="step")
    assert steps["loss"].tolist() == [s["loss"] for s in history.steps]
    html = history._repr_html_()
    n = len(history.epochs)
    assert n > 12  # so the table shows its first and last rows only
    caption = f"History of SGD on digits: {len(history.steps)} steps, {n} evaluations"
    assert caption in html
    assert f"… {n - 12} more" in html and html.count("<tr>") == 1 + 12 + 1
    assert "<th>val_acc</th>" in html and "<th>test_acc</th>" in html
    _in_ax(lambda ax: history.plot(ax=ax))
    assert isinstance(history.plot(), Figure)
    with pytest.raises(ValueError, match=r"History.to_frame: per must be 'epoch'"):
        history.to_frame(per="epochs")


def test_comparison(comparison: compare.Comparison) -> None:
    frame = comparison.to_frame()
    assert sorted(frame["optimizer"].tolist()) == ["adam", "sgd"]
    assert frame.to_dict("records") == comparison.summary()
    html = comparison._repr_html_()
    assert "Comparison on digits: 2 studies of 2 trials and 2 reruns" in html
    for row in comparison.summary():
        mean, ci = row["test_acc_study_mean"], row["test_acc_study_ci95"]
        assert f"<td>{mean:.4g} ± {ci:.4g}</td>" in html
    assert html.count('src="data:image/png;base64,') == 1
    _in_ax(lambda ax: comparison.plot(ax=ax))
    _in_ax(lambda ax: comparison.plot(ax, metric="test_loss"))
    with pytest.raises(ValueError, match=r"Comparison.plot: metric must be one of"):
        comparison.plot(metric="accuracy")


def test_sweep_result(swept: sweep.SweepResult) -> None:
    frame = swept.to_frame()
    assert frame.to_dict("records") == [r.flat() for r in swept.rows()]
    html = swept._repr_html_()
    assert "Sweep on digits: 4 runs over optimizer, lr, seed" in html
    assert html.count("<tr>") == 1 + 2  # the header, one row per lr (over seeds)
    _in_ax(lambda ax: swept.plot(ax=ax))
    with pytest.raises(ValueError, match=r"SweepResult.plot: kind 'sharpness' must"):
        swept.plot(kind="sharpness")


def test_trajectories(runs: surfaces.Trajectories) -> None:
    assert isinstance(runs, list) and [r.optimizer for r in runs] == ["sgd", "adam"]
    frame = runs.to_frame()
    assert frame["final f"].tolist() == [r.final_loss for r in runs]
    assert frame["diverged"].tolist() == [r.diverged for r in runs]
    points = runs.to_frame(points=True)
    assert len(points) == 2 * 31 and list(points.columns) == [
        "run",
        "step",
        "x",
        "y",
        "f",
    ]
    f = surfaces.get("quadratic")
    first = points[points["run"] == runs[0].label]
    assert np.array_equal(first[["x", "y"]].to_numpy(), runs[0].path)
    assert np.allclose(first["f"].to_numpy(), f.value(runs[0].path))
    html = runs._repr_html_()
    assert "2 runs on quadratic" in html and "sgd (lr=0.9)" in html
    _in_ax(lambda ax: runs.plot(ax=ax))


def test_to_frame_without_pandas_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
    history: train.History,
    comparison: compare.Comparison,
    swept: sweep.SweepResult,
    runs: surfaces.Trajectories,
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    for owner, result in [
        ("History", history),
        ("Comparison", comparison),
        ("SweepResult", swept),
        ("Trajectories", runs),
    ]:
        with pytest.raises(
            ImportError,
            match=rf"^{owner}.to_frame: a DataFrame needs pandas, which is not "
            r"installed: pip install 'gdlab\[notebook\]'$",
        ):
            result.to_frame()


def test_history_plot_shows_the_validation_loss(history: train.History) -> None:
    figure = history.plot()
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    shown = lines["validation loss (evaluated)"]
    evaluated = [e for e in history.epochs if e["val_loss"] is not None and e["step"]]
    assert list(shown.get_ydata()) == [e["val_loss"] for e in evaluated]
    assert list(shown.get_xdata()) == [e["step"] for e in evaluated]
    assert len(figure.legends) == 1


def test_history_repr_is_one_line_however_long_the_run(
    history: train.History,
) -> None:
    text = repr(history)
    assert "\n" not in text and len(text) < 300
    assert text.startswith(f"History({len(history.steps)} steps, ")
    last = history.epochs[-1]
    assert f"train_loss={last['train_loss']:.4g}" in text


def test_import_gdlab_loads_neither_matplotlib_nor_pandas(tmp_path: Path) -> None:
    code = (
        "import sys, gdlab, gdlab.train, gdlab.surfaces, gdlab.lab.compare, "
        "gdlab.lab.sweep\n"
        "assert not {'matplotlib', 'pandas'} & set(sys.modules), 'loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_progress_bars_render_as_widgets_in_a_notebook() -> None:
    from tqdm.auto import tqdm

    assert train.tqdm is tqdm


def test_the_widget_playground_redraws_on_every_change() -> None:
    from gdlab.playground.notebook import Playground

    play = Playground("quadratic", {"sgd": 0.9, "adam": 0.3}, steps=20)
    first = bytes(play.image.value)
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert [r.diverged for r in play.runs()] == [False, False]
    play.lrs["sgd"].value = 1.05  # past 2/λmax = 1 on this bowl
    assert [r.diverged for r in play.runs()] == [True, False]
    assert bytes(play.image.value)[:8] == first[:8] and play.image.value != first
    play.on["sgd"].value = False
    assert [r.optimizer for r in play.runs()] == ["adam"]
    play.on["adam"].value = False
    assert play.runs() == [] and bytes(play.image.value) == b""
    bundle = play._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_widget_playground_checks_its_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gdlab.playground.notebook import Playground

    with pytest.raises(ValueError, match=r"Playground: lrs\['sgd'\] must be > 0"):
        Playground(lrs={"sgd": 0.0})
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ValueError, match=r"pip install 'gdlab\[notebook\]'"):
        Playground()


def test_the_accuracy_plot_shows_validation_beside_train_and_test() -> None:
    from gdlab.report.plots import plot_accuracy

    epochs = [1.0, 2.0, 3.0]
    figure = plot_accuracy(
        {"run": (epochs, [0.5, 0.7, 0.8], [0.4, 0.6, 0.7])},
        validation={"run": [0.45, 0.65, 0.75]},
    )
    dotted = [
        line
        for line in figure.axes[0].get_lines()
        if line.get_linestyle() == ":" and len(line.get_xdata())
    ]
    assert [list(line.get_ydata()) for line in dotted] == [[0.45, 0.65, 0.75]]
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "validation (dotted)" in labels


def test_the_compare_report_leads_with_what_the_comparison_shows(
    comparison: compare.Comparison, tmp_path: Path
) -> None:
    """Issue 28: the page's first heading is its conclusion, as the batch-size
    study's "What this run shows" is, before the table and the figures."""
    from gdlab.report.compare import comparison_report

    page = comparison_report(comparison, tmp_path).read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings[0] == "What this comparison shows", headings
    lead = page.split("<h2>", 2)[1]
    assert comparison.established in lead and "Results" not in lead
