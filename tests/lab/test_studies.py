"""The studies: the numbers they report, the files they write, resuming."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure

from gdlab import data, models, optim, outputs
from gdlab.lab import studies
from gdlab.lab.sharpness import training_loss
from gdlab.report import studies as pages
from gdlab.study_results import BatchSizeReport, EdgeOfStabilityReport

from ..conftest import raises_about

TINY: dict[str, Any] = {"samples": 100, "seeds": 1, "until": "steps:20"}
TINY_RUN: dict[str, Any] = {"samples": 50, "seeds": 1}


def batch_size(out: Path | None = None, **fields: Any) -> studies.BatchSizeResult:
    return studies.run(studies.BatchSize(**fields), out=out)


def dense_hessian(model: models.Model, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Every column of the Hessian by central differences of the analytic gradient,
    one unit vector at a time (no Lanczos, no library product)."""
    theta = model.params.buffers[model.dtype]
    start, h = theta.copy(), 1e-5
    columns = []
    for i in range(theta.size):
        grads = []
        for sign in (1.0, -1.0):
            theta[...] = start
            theta[i] += sign * h
            grads.append(model.loss_and_grad(X, Y)[1].buffers[model.dtype].copy())
        columns.append((grads[0] - grads[1]) / (2 * h))
    theta[...] = start
    H = np.column_stack(columns)
    return 0.5 * (H + H.T)


def test_lanczos_equals_a_dense_eigendecomposition() -> None:
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    model = models.MLP([3, 4, 2], activation="tanh", loss="mse", seed=1)
    expected = np.linalg.eigvalsh(dense_hessian(model, X, Y))[-1]
    lam, v = studies.top_eigenpair(training_loss(model, X, Y), model.params)
    assert lam == pytest.approx(expected, rel=1e-6)
    again, _ = studies.top_eigenpair(training_loss(model, X, Y), model.params, v)
    assert again == pytest.approx(expected, rel=1e-6)  # warm start: the same value


def test_edge_of_stability_measures_the_dense_lambda_max_and_writes_results(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    plan = studies.EdgeOfStability(
        samples=30, hidden=(4,), lrs=(0.5, 2.0), momentum=0.5, steps=6, every=4
    )
    result = studies.run(plan, out=tmp_path, progress=lines.append)
    ds = data.load("digits", dtype=np.float64, val_fraction=None)
    X = ds.X_train[:30] - ds.X_train[:30].mean(axis=0)
    Y = np.eye(10)[ds.y_train[:30]]
    model = models.MLP([64, 4, 10], activation="tanh", loss="mse", seed=0)
    start = np.linalg.eigvalsh(dense_hessian(model, X, Y))[-1]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["lr"] for r in saved["runs"]] == [0.5, 2.0]
    for run, mine in zip(saved["runs"], result.runs, strict=True):
        assert run["momentum"] == 0.5
        assert run["threshold"] == pytest.approx(2 * 1.5 / run["lr"])
        assert run["steps"] == [0, 4, 6]
        assert len(run["lambda_max"]) == 3 and len(run["loss"]) == 7
        assert run["lambda_max"][0] == pytest.approx(start, rel=1e-6)
        assert run["loss"] == pytest.approx(list(mine.loss))
    assert saved["findings"][0].startswith("0 of 2 runs rose to within 20%")
    plain = json.loads(json.dumps(result.to_dict()))
    assert studies.EdgeOfStabilityResult.from_dict(plain) == result
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "edge_of_stability.png").read_bytes()[:4] == b"\x89PNG"
    assert outputs.owner(tmp_path) == "study edge-of-stability"
    fig = Figure(layout="constrained")
    report = EdgeOfStabilityReport.load(tmp_path)  # the file, read as its record
    assert json.loads(outputs.json_text(report.to_dict())) == saved  # same format
    assert report.runs == result.runs
    assert pages.plot_edge_of_stability(report, ax=fig.subplots()) is fig
    assert len(fig.subfigs[0].axes) == 2
    assert not any("already done" in line for line in lines)
    lines.clear()
    again = studies.run(plan, out=tmp_path, progress=lines.append)
    assert len(lines) == 2 and all("already done" in line for line in lines)
    assert again == result


def test_edge_of_stability_runs_that_g_rounds_alike_keep_their_own_files(
    tmp_path: Path,
) -> None:
    plan = studies.EdgeOfStability(
        samples=20, hidden=(3,), lrs=(0.5, 0.5000001), steps=3, every=3
    )
    first = studies.run(plan, out=tmp_path)
    runs = tmp_path / studies.EOS_RUNS
    assert sorted(p.name for p in runs.iterdir()) == [
        "lr0.5-momentum0.json",
        "lr0.5000001-momentum0.json",
    ]  # was one file, lr0.5-momentum0.json, the second run over the first
    lines: list[str] = []
    again = studies.run(plan, out=tmp_path, progress=lines.append)
    assert len(lines) == 2 and all(line.endswith("(already done)") for line in lines)
    assert again == first
    from gdlab.lab.studies.edge_of_stability import run_file

    assert run_file(1e-3, 0.9) == "lr0.001-momentum0.9.json"
    assert run_file(0.1 + 0.2, 0.0) == "lr0.30000000000000004-momentum0.json"
    # a folder written before: the run of 0.5000001 under its :g name is read
    # back (the record's settings say which lr it holds), not trained again
    (runs / "lr0.5-momentum0.json").unlink()
    (runs / "lr0.5000001-momentum0.json").rename(runs / "lr0.5-momentum0.json")
    lines.clear()
    legacy = studies.run(
        dataclasses.replace(plan, lrs=(0.5000001,)), out=tmp_path,
        progress=lines.append,
    )  # fmt: skip
    assert lines[0].endswith("(already done)")
    assert legacy.runs[0] == first.runs[1]


def test_edge_of_stability_through_fit_is_plain_full_batch_gradient_descent() -> None:
    plan = studies.EdgeOfStability(
        samples=20, hidden=(3,), lrs=(0.5, 400.0), momentum=0.5, steps=5, every=2
    )
    kept, blown = studies.run(plan).runs
    ds = data.load("digits", dtype=np.float64, val_fraction=None)
    X = ds.X_train[:20] - ds.X_train[:20].mean(axis=0)
    Y = np.eye(10)[ds.y_train[:20]]
    model = models.MLP([64, 3, 10], activation="tanh", loss="mse", seed=0)
    opt = optim.SGD(model.params, lr=0.5, momentum=0.5)
    losses = []
    for t in range(6):  # the loss at θ_0 .. θ_5, one update between each
        loss, grads = model.loss_and_grad(X, Y)
        losses.append(loss)
        if t < 5:
            opt.step(grads)
    assert list(kept.loss) == losses  # bit for bit
    assert kept.steps == (0, 2, 4, 5) and not kept.diverged
    assert blown.diverged and len(blown.loss) < 6
    assert blown.loss[-1] > 1e6 * blown.loss[0] or np.isnan(blown.loss[-1])


def test_edge_run_verdicts() -> None:
    def run(lams: list[float]) -> studies.EdgeRun:
        steps = list(range(0, 10 * len(lams), 10))
        return studies.EdgeRun(1.0, 0.0, 2.0, steps, lams, [1.0], False, 0.0)

    at_edge = run([1.0, 1.5, 1.7, 2.1, 1.9, 2.0])
    assert at_edge.reached_step == 20 and at_edge.near_fraction() == 1.0
    assert at_edge.median_ratio() == pytest.approx(0.975)
    left = run([1.0, 1.7, 1.0, 1.0])
    assert left.near_fraction() == pytest.approx(1 / 3)
    assert run([0.5, 0.6]).reached_step is None
    assert "never came within 20%" in run([0.5, 0.6]).verdict()


def test_epsilon_sharpness_is_zero_at_zero_and_grows_with_epsilon() -> None:
    ds = data.load("digits")
    model = models.MLP([64, 16, 10], seed=0)
    X, y = ds.X_train[:200], ds.y_train[:200]
    before = model.params.buffers[model.dtype].copy()
    values = [studies.epsilon_sharpness(model, X, y, e) for e in (0, 1e-4, 1e-3, 1e-2)]
    assert values[0] == 0.0
    assert 0 < values[1] < values[2] < values[3]
    assert np.array_equal(model.params.buffers[model.dtype], before)


def test_interpolation_at_0_and_1_is_the_two_solutions(tmp_path: Path) -> None:
    result = batch_size(tmp_path, batch_sizes=(256, 32), **TINY)
    assert 0.0 in studies.ALPHAS and 1.0 in studies.ALPHAS
    line = result.interpolation
    assert line is not None and (line.small, line.large) == (32, 256)
    small, large = sorted(result.runs, key=lambda r: r.batch_size)
    for alpha, run in ((0.0, small), (1.0, large)):
        k = line.alpha.index(alpha)
        assert line.train_loss[k] == pytest.approx(run.train_loss, rel=1e-9)
        assert line.test_loss[k] == pytest.approx(run.test_loss, rel=1e-9)
        assert line.test_acc[k] == run.test_acc
    assert small.steps == large.steps == 20 and small.reached and large.reached
    assert small.train_acc is not None and small.test_acc is not None
    assert small.gap == pytest.approx(small.train_acc - small.test_acc)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["interpolation"]["train_loss"] == list(line.train_loss)
    plain = json.loads(json.dumps(result.to_dict()))
    assert studies.BatchSizeResult.from_dict(plain) == result  # typed, both ways
    assert {r["batch_size"] for r in saved["summary"]} == {32, 256}
    for name in ("report.html", "interpolation.png", "sharpness.png", "results.csv"):
        assert (tmp_path / name).is_file()
    assert outputs.owner(tmp_path) == "study batch-size"  # not compare's results.json
    files = sorted(tmp_path.iterdir())
    fig = Figure(layout="constrained")
    left, right = fig.subplots(1, 2)  # the report's convention: draw into ``ax``
    report = BatchSizeReport.load(tmp_path / "results.json")  # read as its record
    assert json.loads(outputs.json_text(report.to_dict())) == saved  # same format
    assert report.runs == result.runs and report.interpolation == line
    assert report.interpolation is not None
    assert pages.plot_interpolation(report.interpolation, ax=left) is fig
    assert pages.plot_batch_sharpness(report, ax=right) is fig
    saved["summary"][1]["lambda_max_std"] = "0.1"  # a hand-edited file: which field
    (tmp_path / "edited.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"edited\.json: BatchSizeReport: "
                       r"summary\[1\]\.lambda_max_std must be"):  # fmt: skip
        BatchSizeReport.load(tmp_path / "edited.json")
    (tmp_path / "edited.json").unlink()
    assert right not in fig.axes and len(fig.subfigs) == 1  # two panels in its place
    assert sorted(tmp_path.iterdir()) == files  # no path: nothing written


def test_a_rerun_skips_finished_runs_and_a_changed_setting_reruns(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    plan = studies.BatchSize(batch_sizes=(32, 256), **TINY)
    first = studies.run(plan, out=tmp_path)
    again = studies.run(plan, out=tmp_path, progress=lines.append)
    assert len(lines) == 2 and all(line.endswith("(already done)") for line in lines)
    assert again == first
    lines.clear()
    more = dataclasses.replace(plan, seeds=2)
    studies.run(more, out=tmp_path, progress=lines.append)
    done = [line.endswith("(already done)") for line in lines]
    assert done == [True, False, True, False]  # seed 1 is new, seed 0 the same runs
    lines.clear()
    other = dataclasses.replace(plan, epsilon=1e-3)
    studies.run(other, out=tmp_path, progress=lines.append)
    assert not any(line.endswith("(already done)") for line in lines)


def test_the_loss_target_is_judged_on_every_training_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "steps to training loss L" is the loss over the whole training set: fit's
    # default sample (train_eval_rows, 10,000 rows) would judge Fashion-MNIST's
    # 60,000 rows by a sixth of them
    from gdlab.lab.studies import batch_size as module

    class Seen(Exception):
        pass

    def spy(*args: Any, **kwargs: Any) -> Any:
        raise Seen(args[3])  # the config; no need to train

    monkeypatch.setattr(module, "fit", spy)
    with pytest.raises(Seen) as seen:
        batch_size(batch_sizes=(32, 64), until="loss:0.3", **TINY_RUN)
    config = seen.value.args[0]
    assert config.train_eval_index(60_000) is None


def test_a_run_short_of_the_target_is_reported_and_warned_about() -> None:
    result = batch_size(
        batch_sizes=(16, 1024), until="loss:0.3", max_epochs=2, samples=50, seeds=1
    )
    small, large = result.runs
    assert small.reached and small.train_loss <= 0.3
    assert not large.reached and large.steps == 4 and large.train_loss > 0.6
    assert any("1024, seed 0 did not reach loss:0.3" in w for w in result.warnings)
    assert any("x apart" in w for w in result.warnings)
    assert [r.reached for r in result.summary()] == [1, 0]
    assert "warning: " in result.format()
    assert "more than 2x apart, not comparable" in result.findings()[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"until": "loss:-1"}, r"until must be 'loss:X'.*got 'loss:-1'"),
        ({"until": "steps:2.5"}, r"until must be .*got 'steps:2.5'"),
        ({"until": "epochs:3"}, r"until must be .*got 'epochs:3'"),
        ({"batch_sizes": (16, 16)}, r"batch_sizes must be at least two different"),
        ({"epsilon": -1.0}, r"epsilon must be"),
        ({"epsilon": 0.0}, r"epsilon must be > 0, got 0.0"),  # every value 0: 0/0
        ({"data": "regression"}, r"data must be a classification data set"),
        ({"optimizer": "nope"}, r"unknown optimizer 'nope'"),
    ],
)
def test_bad_batch_size_settings_are_refused_before_training(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        studies.prepare(studies.BatchSize(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lrs": ()}, r"lrs must be at least one learning rate"),
        ({"lrs": (0.0,)}, r"lrs\[0\] must be > 0"),
        ({"momentum": 1.0}, r"momentum must be"),
        ({"loss": "hinge"}, r"loss must be one of"),
        ({"activation": "gelu"}, r"activation must be one of"),
        ({"every": 0}, r"every must be"),
    ],
)
def test_bad_edge_of_stability_settings_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        studies.EdgeOfStability(**kwargs)


def test_a_diverged_batch_size_run_is_a_result_with_nan_measures() -> None:
    study = batch_size(
        lr=1e10, batch_sizes=[64, 128], until="steps:5", seeds=1, samples=200
    )
    for run in study.runs:
        assert run.diverged and run.message.startswith("diverged at step ")
        assert np.isnan([run.train_loss, run.test_loss, run.lambda_max]).all()
        assert run.train_acc is None and run.test_acc is None
    assert study.findings() == ["fewer than two batch sizes trained without diverging"]


def test_a_plan_is_checked_when_made_and_round_trips() -> None:
    plan = studies.BatchSize(batch_sizes=[256, 32, 256], seeds=2.0)
    assert plan.batch_sizes == (32, 256) and plan.seeds == 2  # sorted, unique
    assert studies.BatchSize.from_dict(plan.to_dict()) == plan
    edge = studies.EdgeOfStability(lrs=[0.5], hidden=[4, 3])
    assert studies.EdgeOfStability.from_dict(edge.to_dict()) == edge
    with raises_about("BatchSize", "batch_sizes"):
        studies.BatchSize(batch_sizes=[32])
    with raises_about("EdgeOfStability", "steps"):
        studies.EdgeOfStability(steps=0)
    with raises_about("studies", "plan"):
        studies.prepare({"batch_sizes": [32, 64]})  # type: ignore[call-overload]
