"""The fair comparison: validation decides, the test set is read once, budgets are
equal, and the same inputs give the same results."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from gdlab import data, optim
from gdlab.experiment import RunSpec
from gdlab.lab import compare, sweep, tuning
from gdlab.results import RunMetrics
from gdlab.train import TrainConfig

from ..conftest import raises_about

BASE = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=3, batch_size=64)
)
QUICK = compare.Protocol(budget=3, seeds=2, studies=2)
HEAD = r"^cannot read comparison results .*: "


def run(tmp_path: Path, base: RunSpec = BASE, **kwargs: Any) -> compare.Comparison:
    protocol = kwargs.pop("protocol", QUICK)
    return compare.compare(
        base,
        kwargs.pop("optimizers", ["sgd", "adam"]),
        protocol,
        out=tmp_path,
        workers=1,
        progress=False,
        report=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> compare.Comparison:
    """One quick comparison of sgd and adam, for the tests that only read it."""
    return run(tmp_path_factory.mktemp("found"))


def write_digits_as_idx(folder: Path, *, shuffle_test_labels: bool) -> None:
    """scikit-learn's digits as MNIST IDX files (8x8 scaled up to 28x28)."""
    ds = data.load("digits", val_fraction=None, dtype=np.float64)
    folder.mkdir()

    def images(X: np.ndarray) -> np.ndarray:
        up = np.kron(X.reshape(-1, 8, 8), np.ones((3, 3)))
        return np.pad(np.round(up * 255), ((0, 0), (2, 2), (2, 2))).astype(np.uint8)

    test_labels = ds.y_test.astype(np.uint8)
    if shuffle_test_labels:
        test_labels = np.random.default_rng(0).permutation(test_labels)
    data.write_idx(folder / "train-images-idx3-ubyte", images(ds.X_train))
    data.write_idx(folder / "train-labels-idx1-ubyte", ds.y_train.astype(np.uint8))
    data.write_idx(folder / "t10k-images-idx3-ubyte", images(ds.X_test))
    data.write_idx(folder / "t10k-labels-idx1-ubyte", test_labels)


def without(results: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``results`` with timings and the given per-run fields removed."""
    out = copy.deepcopy(results)
    for o in out["optimizers"].values():
        for r in (r for st in o["studies"] for r in st["reruns"]):
            r.pop("seconds")
            for row in r["history"]["epochs"]:
                row.pop("seconds")
                for key in keys:
                    row.pop(key, None)
            for key in keys:
                r["final"].pop(key, None)
            r.pop("to_target") if "to_target" in keys else None
        o["summary"].pop("seconds")
        for key in keys:
            o["summary"].pop(key, None)
    return out


def test_test_labels_change_only_the_test_numbers(tmp_path: Path) -> None:
    for name, shuffled in (("real", False), ("shuffled", True)):
        write_digits_as_idx(tmp_path / name, shuffle_test_labels=shuffled)
    base = BASE.replace(data="mnist", model="mlp:784-16-10")
    results = {
        name: run(
            tmp_path / f"out-{name}", base.replace(data_path=str(tmp_path / name))
        ).to_dict()
        for name in ("real", "shuffled")
    }
    real, shuffled = results["real"], results["shuffled"]
    for name in ("sgd", "adam"):
        a, b = real["optimizers"][name], shuffled["optimizers"][name]
        for sa, sb in zip(a["studies"], b["studies"], strict=True):
            assert sa["trials"] == sb["trials"]  # trials never read the test set
            assert sa["selected"] == sb["selected"]
        assert a["summary"]["val_acc"] == b["summary"]["val_acc"]
        assert a["summary"]["test_acc"]["mean"] > 0.4  # real labels: learnt
        assert b["summary"]["test_acc"]["mean"] < 0.25  # shuffled ones: chance
    real["spec"].pop("data_path")
    shuffled["spec"].pop("data_path")
    for r in (real, shuffled):  # the claims compare test accuracy
        r.pop("pairs"), r.pop("established")
        for o in r["optimizers"].values():
            o["summary"].pop("per_study"), o["summary"].pop("group")
    assert without(real, "test_loss", "test_acc") == without(
        shuffled, "test_loss", "test_acc"
    )


def test_selection_equals_a_plain_sweep_over_the_same_points(tmp_path: Path) -> None:
    found = run(tmp_path / "compare", optimizers=["adam"])
    study = compare.studies(QUICK, BASE.train.seed)[1]
    points = tuning.sobol_points(QUICK.budget, 1, study.search_seed)
    lrs = [tuning.trial("adam", ["lr"], u)["lr"] for u in points]
    grid = {"lr": lrs}
    swept = sweep.run(
        sweep.Sweep(
            BASE.replace(optimizer="adam", evaluate_test=False, seed=study.tuning_seed),
            grid,
        ),
        out=tmp_path / "sweep",
        workers=1,
        progress=False,
        report=False,
    )
    rows = swept.rows()
    m = [r.metrics for r in rows]
    best = max(m, key=lambda r: (r.final_val_acc or 0.0, -(r.final_val_loss or 0.0)))
    adam = found.optimizers["adam"].studies[1]
    assert adam.selected.hyper["lr"] == rows[m.index(best)].values["lr"]
    assert [t.val_acc for t in adam.trials] == [r.final_val_acc for r in m]


def test_results_are_reproducible_and_resume_reruns_nothing(tmp_path: Path) -> None:
    first = run(tmp_path)
    store = sweep.Store(tmp_path / "sweep.db")
    count = store.count()
    store.close()
    assert count == 2 * QUICK.studies * (QUICK.budget + QUICK.seeds)
    again = run(tmp_path)
    assert without(first.to_dict()) == without(again.to_dict())
    fresh = run(tmp_path / "fresh")
    assert without(first.to_dict()) == without(fresh.to_dict())
    adam = first.optimizers["adam"]
    sgd = first.optimizers["sgd"]
    seeds = [st.rerun_seeds for st in compare.studies(QUICK, BASE.train.seed)]
    assert len(set(seeds)) == QUICK.studies  # every study its own seeds
    for k, study in enumerate(adam.studies):
        assert len(study.trials) == QUICK.budget
        # matched pairs: the same rerun seeds for every optimizer
        assert [r.seed for r in study.reruns] == list(seeds[k])
        assert [r.seed for r in sgd.studies[k].reruns] == list(seeds[k])
        assert study.best_of_k[-1] == max(t.val_acc for t in study.trials)
    assert first.protocol.target == compare.DEFAULT_TARGETS["digits"]
    assert adam.tunability.high[-1] == max(t.val_acc for t in adam.trials)
    assert [p.a + p.b for p in first.pairs] == ["sgdadam"]
    # the table and the saved file: the same record, read back field by field
    text = compare.format_table(first)
    assert text.splitlines()[0] == first.established
    assert text.splitlines()[2].startswith("group  optimizer")
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps(first.to_dict()))
    assert compare.Comparison.load(tmp_path) == first


def test_budget_zero_reruns_the_suggested_settings(tmp_path: Path) -> None:
    found = run(tmp_path, protocol=compare.Protocol(budget=0, seeds=1, studies=2))
    for name in ("sgd", "adam"):
        entry = found.optimizers[name]
        for study in entry.studies:
            assert study.trials == () and study.best_of_k == ()
            assert study.selected.hyper == {"lr": optim.suggested_lr(name)}
        assert entry.tunability.median == ()
    assert any("one-shot baseline" in n for n in found.notes)


def test_tuning_more_axes_uses_each_optimizers_space(tmp_path: Path) -> None:
    protocol = compare.Protocol(budget=2, seeds=1, tune=("all",), studies=1)
    found = run(tmp_path, optimizers=["momentum", "adam"], protocol=protocol)
    adam = found.optimizers["adam"]
    assert set(adam.axes) == {"lr", "beta1", "beta2", "eps"}
    assert all(len(t.hyper["betas"]) == 2 for t in adam.trials)
    momentum = found.optimizers["momentum"]
    assert set(momentum.axes) == {"lr", "momentum"}
    assert all(0.5 <= t.hyper["momentum"] < 1 for t in momentum.trials)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"protocol": compare.Protocol(tune=("lr", "betas0"))},
            r"tune: no optimizer compared has an axis 'betas0'; sgd has lr, ",
        ),
        ({"optimizers": ["sgd", "SGD"]}, r"optimizers must be distinct names"),
        ({"optimizers": ["adamm"]}, r"unknown optimizer 'adamm'"),
        (
            {"base": BASE.replace(data="regression", model="linear")},
            r"regression has no validation split",
        ),
        (
            {"base": BASE.replace(model="mlp:63-16-10")},
            r"model: sizes must be the data's 64 features first",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_trains(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(tmp_path, **kwargs)
    assert not (tmp_path / "sweep.db").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"budget": -1}, "budget must be an integer >= 0, got -1"),
        (
            {"budget": compare.MAX_BUDGET + 1},
            "budget must be an integer <= 1000, got 1001",
        ),
        ({"seeds": 0}, "seeds must be an integer >= 1, got 0"),
        (
            {"budget": 0, "seeds": 10**14},
            "seeds must be an integer <= 100, got 100000000000000",
        ),
        ({"studies": 0}, "studies must be an integer >= 1, got 0"),
        ({"select": "test_acc"}, "select must be one of val_acc, val_loss, got"),
        ({"target": 1.5}, r"target must be in \(0, 1\], got 1.5"),
        ({"select": "val_loss", "target": 0.0}, "target must be > 0, got 0.0"),
        ({"tune": ()}, "tune must be a non-empty list of axes, got"),
        ({"tune": "lr"}, "tune must be a non-empty list of axes, got 'lr'"),
        ({"search_seed": -1}, "search_seed must be an integer >= 0"),
    ],
)
def test_a_protocol_checks_itself_when_made(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^Protocol: {message}"):
        compare.Protocol(**changes)
    assert compare.Protocol(select="val_loss", target=2.5).target == 2.5


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["optimizers"]["sgd"]["studies"][0]["reruns"][0]["history"][
                "epochs"
            ][1].pop("val_acc"),
            r"Comparison: optimizers\['sgd'\]\.studies\[0\]\.reruns\[0\]\.history"
            r"\['epochs'\]\[1\] must be an object with 'val_acc'",
        ),
        (
            lambda r: r["optimizers"]["adam"]["studies"][1]["trials"][2].__setitem__(
                "val_acc", "x"
            ),
            r"Comparison: optimizers\['adam'\]\.studies\[1\]\.trials\[2\]\.val_acc "
            r"must be a real number, got 'x'",
        ),
        (
            lambda r: r["optimizers"]["adam"]["summary"]["test_acc"].__setitem__(
                "mean", "x"
            ),
            r"Comparison: optimizers\['adam'\]\.summary\.test_acc\.mean must be a real "
            r"number, got 'x'",
        ),
        (
            lambda r: r["optimizers"]["adam"]["summary"].__setitem__("extra", 1),
            r"Comparison: field 'extra' of optimizers\['adam'\]\.summary must be "
            r"one of train_loss, ",
        ),
        (
            lambda r: r.__setitem__("version", 2),
            r"Comparison: version must be 3 \(.*run gdlab compare again.*\), got 2",
        ),
        (
            lambda r: r["pairs"][0].__setitem__("verdict", "adam"),
            r"Comparison: pairs\[0\]\.verdict must be one of a, b, none, got 'adam'",
        ),
        (
            lambda r: r["studies"].pop(),
            r"Comparison: studies must be as many as the protocol's studies \(2\), "
            "got 1",
        ),
        (
            lambda r: r["optimizers"]["sgd"]["studies"].pop(),
            r"Comparison: optimizers\['sgd'\].studies must be as many as the "
            r"comparison's studies \(2\), got 1",
        ),
        (
            lambda r: r["pairs"][0].__setitem__("a", "lion"),
            r"Comparison: pairs must be names of its optimizers, got 'lion'",
        ),
        (
            lambda r: r["protocol"].__setitem__("select", "test_acc"),
            r"Comparison: protocol\.select must be one of val_acc, val_loss, got "
            r"'test_acc'",
        ),
        (
            lambda r: r["protocol"].__setitem__("metric", "test_loss"),
            r"Comparison: protocol\.metric must be 'test_acc', got 'test_loss'",
        ),
    ],
)
def test_a_hand_edited_results_file_is_refused_naming_the_field(
    tmp_path: Path, found: compare.Comparison, edit: Any, message: str
) -> None:
    results = json.loads(json.dumps(found.to_dict()))
    edit(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=HEAD + message):
        compare.Comparison.load(tmp_path)


def test_the_table_shows_every_selected_value_a_pair_included(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        BASE.replace(epochs=1),
        optimizers=["adam"],
        protocol=compare.Protocol(
            budget=1, seeds=1, studies=1, tune=("beta1", "beta2", "eps")
        ),
    )
    hyper = found.optimizers["adam"].studies[0].selected.hyper
    beta1, beta2 = hyper["betas"]
    row = next(
        line for line in compare.format_table(found).splitlines() if " adam " in line
    )
    # the betas were left out of the "selected" column (a list, skipped)
    assert f"betas=({beta1:.3g}, {beta2:.3g})" in row
    assert f"eps={hyper['eps']:.3g}" in row


def test_select_val_loss_with_diverged_trials_finishes(tmp_path: Path) -> None:
    """Issue 22: a diverged trial scores +inf validation loss; the comparison
    used to train everything, then fail in the tunability curve, every time."""
    base = BASE.replace(l2=10.0, train=TrainConfig(epochs=2, batch_size=64))
    protocol = compare.Protocol(budget=8, seeds=1, studies=2, select="val_loss")
    found = run(tmp_path, base, protocol=protocol)
    sgd = found.optimizers["sgd"]
    diverged = [t for t in sgd.trials if t.diverged]
    assert diverged  # sgd's top learning rates blow up under l2 = 10
    for st in sgd.studies:
        assert st.selected.trial is not None
        chosen = st.trials[st.selected.trial]
        assert not chosen.diverged
        assert chosen.val_loss == min(
            t.val_loss for t in st.trials if not t.diverged and t.val_loss is not None
        )
    assert found.protocol.metric == "test_loss"
    assert sgd.tunability.median[-1] is not None


def test_ties_in_validation_accuracy_are_broken_by_validation_loss() -> None:
    def trial(acc: float, loss: float) -> Any:
        metrics = RunMetrics(loss, None, loss, acc, acc, None, None, False, 1, 0.0)
        return SimpleNamespace(metrics=metrics)

    runs = [trial(0.9, 0.40), trial(0.95, 0.30), trial(0.95, 0.20), trial(0.8, 0.1)]
    best = max(range(4), key=lambda k: compare._rank_key(runs[k], "val_acc"))
    assert best == 2  # not 1, the first of the tie
    best = max(range(4), key=lambda k: compare._rank_key(runs[k], "val_loss"))
    assert best == 3


def test_tune_all_keeps_sgd_plain_and_axes_apply_where_they_exist(
    tmp_path: Path,
) -> None:
    assert compare.axes_for("sgd", ["all"]) == ["lr"]
    assert compare.axes_for("momentum", ["all"]) == ["lr", "momentum"]
    tune = ("lr", "momentum", "beta1")
    assert compare.axes_for("sgd", tune) == ["lr", "momentum"]
    assert compare.axes_for("adam", tune) == ["lr", "beta1"]
    assert compare.missing_axes(["sgd", "momentum", "adam"], tune) == {
        "momentum": ["adam"],
        "beta1": ["sgd", "momentum"],
    }
    protocol = compare.Protocol(budget=2, seeds=1, studies=1, tune=tune)
    found = run(tmp_path, optimizers=["momentum", "adam"], protocol=protocol)
    assert "--tune beta1: momentum has no beta1 axis; tuned without it" in found.notes


def test_the_report_counts_the_reruns_that_reached_the_target(
    found: compare.Comparison,
) -> None:
    from dataclasses import replace

    from gdlab.report.compare import _table
    from gdlab.results import Reached

    sgd = found.optimizers["sgd"]
    reached = Reached(runs=3, reached=1, median_step=None, median_seconds=None)
    edited = replace(
        found,
        optimizers={
            **found.optimizers,
            "sgd": replace(sgd, summary=replace(sgd.summary, to_target=reached)),
        },
    )
    _, rows = _table(edited)
    assert "not reached (1/3 reached)" in rows
    assert "0/3" not in rows
    text = compare.format_table(edited)
    assert "not reached (1/3)" in text


def test_a_failed_write_leaves_the_previous_outputs_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gdlab import outputs
    from gdlab.lab import runs

    folder = tmp_path / "out"
    base = BASE.replace(epochs=1)
    protocol = compare.Protocol(budget=1, seeds=1, studies=2)
    runs.compare_into(folder, base, ["sgd"], protocol, workers=1, progress=False)

    def files() -> dict[str, bytes]:
        return {
            p.name: p.read_bytes()
            for p in folder.iterdir()
            if p.is_file() and p.suffix in (".json", ".png", ".html")
        }

    before = files()
    assert {"results.json", "report.html", "test.png"} <= set(before)
    real = outputs.write_text

    def full_disk(path: Any, text: str) -> Path:
        if Path(path).name == "report.html":
            raise outputs.WriteError(f"cannot write {path}: File too large")
        return real(path, text)

    monkeypatch.setattr(outputs, "write_text", full_disk)
    other = compare.Protocol(budget=1, seeds=1, studies=2, select="val_loss")
    with pytest.raises(outputs.WriteError, match="File too large"):
        runs.compare_into(folder, base, ["sgd"], other, workers=1, progress=False)
    assert files() == before  # results.json and the PNGs were not replaced
    assert not (folder / outputs.STAGE).exists()


def test_a_plan_loads_the_data_once_and_run_checks_nothing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the command checked (data loaded, every run built) and the run
    checked again; now plan does it once, and run trains what it planned."""
    from gdlab.lab.sweep import datacache, runner

    calls: dict[str, int] = {"load": 0, "validate": 0}

    def counted(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(datacache, "load", counted("load", datacache.load))
    for module in (sweep, runner):
        monkeypatch.setattr(module, "validate", counted("validate", runner.validate))
    protocol = compare.Protocol(budget=1, seeds=1, studies=1)
    planned = compare.plan(BASE.replace(epochs=1), ["sgd"], protocol, workers=1)
    assert calls == {"load": 1, "validate": 1}
    assert [s.optimizer for s in planned.specs] == ["sgd"]
    # a declared record: its plain form round-trips (the layout is derived)
    assert compare.Plan.from_dict(json.loads(json.dumps(planned.to_dict()))) == planned
    with raises_about("Plan", "workers"):
        compare.Plan(BASE, ("sgd",), protocol, workers=0)
    with raises_about("Plan", "base"):
        compare.Plan(BASE.to_dict(), ("sgd",))  # type: ignore[arg-type]
    assert not tmp_path.joinpath("out").exists()  # planning writes nothing
    found = compare.run(planned, out=tmp_path / "out", progress=False, report=False)
    assert calls["validate"] == 1  # the runs were not built again
    assert found.names == ["sgd"]
    assert json.loads((tmp_path / "out" / "results.json").read_text()) == json.loads(
        json.dumps(found.to_dict())
    )


def test_a_folder_of_another_command_is_refused_before_anything_trains(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.txt").write_text("a user's file")
    planned = compare.plan(BASE, ["sgd"], compare.Protocol(budget=1, studies=1))
    with pytest.raises(ValueError, match="holds files gdlab did not write"):
        compare.prepare(planned, out=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_published_files_are_synced_into_their_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file renamed into a folder survives a power cut only once the folder is
    synced: publish renamed results.json and the report in, and never did."""
    from gdlab import outputs

    synced: list[tuple[Path, list[str]]] = []
    real = outputs.fsync_folder

    def recording(folder: Path) -> None:
        synced.append((folder, sorted(p.name for p in folder.iterdir())))
        real(folder)

    monkeypatch.setattr(outputs, "fsync_folder", recording)
    outputs.publish(tmp_path, lambda stage: (stage / "results.json").write_text("{}"))
    assert (tmp_path, [outputs.STAGE, "results.json"]) in synced
