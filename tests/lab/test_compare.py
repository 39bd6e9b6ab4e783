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
from gdlab.train import TrainConfig

BASE = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=3, batch_size=64)
)
QUICK = compare.Protocol(budget=3, seeds=2, studies=2)


def run(tmp_path: Path, base: RunSpec = BASE, **kwargs: Any) -> compare.Comparison:
    protocol = kwargs.pop("protocol", QUICK)
    return compare.compare(
        base,
        kwargs.pop("optimizers", ["sgd", "adam"]),
        protocol,
        store=tmp_path / "sweep.db",
        workers=1,
        progress=False,
        **kwargs,
    )


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
        ).results
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
    best = max(rows, key=lambda r: (r["final_val_acc"], -r["final_val_loss"]))
    adam = found.results["optimizers"]["adam"]["studies"][1]
    assert adam["selected"]["hyper"]["lr"] == best["lr"]
    assert [t["val_acc"] for t in adam["trials"]] == [r["final_val_acc"] for r in rows]


def test_results_are_reproducible_and_resume_reruns_nothing(tmp_path: Path) -> None:
    first = run(tmp_path)
    store = sweep.Store(tmp_path / "sweep.db")
    count = store.count()
    store.close()
    assert count == 2 * QUICK.studies * (QUICK.budget + QUICK.seeds)
    again = run(tmp_path)
    assert without(first.results) == without(again.results)
    fresh = run(tmp_path / "fresh")
    assert without(first.results) == without(fresh.results)
    adam = first.results["optimizers"]["adam"]
    sgd = first.results["optimizers"]["sgd"]
    seeds = [st.rerun_seeds for st in compare.studies(QUICK, BASE.train.seed)]
    assert len(set(seeds)) == QUICK.studies  # every study its own seeds
    for k, study in enumerate(adam["studies"]):
        assert len(study["trials"]) == QUICK.budget
        # matched pairs: the same rerun seeds for every optimizer
        assert [r["seed"] for r in study["reruns"]] == list(seeds[k])
        assert [r["seed"] for r in sgd["studies"][k]["reruns"]] == list(seeds[k])
        assert study["best_of_k"][-1] == max(t["val_acc"] for t in study["trials"])
    assert first.results["protocol"]["target"] == compare.DEFAULT_TARGETS["digits"]
    curve = adam["tunability"]
    assert curve["high"][-1] == max(
        t["val_acc"] for st in adam["studies"] for t in st["trials"]
    )
    assert [p["a"] + p["b"] for p in first.results["pairs"]] == ["sgdadam"]
    # the table and the saved file
    text = compare.format_table(first)
    assert text.splitlines()[0] == first.results["established"]
    assert text.splitlines()[2].startswith("group  optimizer")
    first.save(tmp_path)
    assert compare.Comparison.load(tmp_path).results == json.loads(
        json.dumps(first.results)
    )


def test_budget_zero_reruns_the_suggested_settings(tmp_path: Path) -> None:
    found = run(tmp_path, protocol=compare.Protocol(budget=0, seeds=1, studies=2))
    for name in ("sgd", "adam"):
        entry = found.results["optimizers"][name]
        for study in entry["studies"]:
            assert study["trials"] == [] and study["best_of_k"] == []
            assert study["selected"]["hyper"] == {"lr": optim.suggested_lr(name)}
        assert entry["tunability"]["median"] == []
    assert any("one-shot baseline" in n for n in found.results["notes"])


def test_tuning_more_axes_uses_each_optimizers_space(tmp_path: Path) -> None:
    protocol = compare.Protocol(budget=2, seeds=1, tune=("all",), studies=1)
    found = run(tmp_path, optimizers=["momentum", "adam"], protocol=protocol)
    adam = found.results["optimizers"]["adam"]
    assert set(adam["axes"]) == {"lr", "beta1", "beta2", "eps"}
    trials = adam["studies"][0]["trials"]
    assert all(len(t["hyper"]["betas"]) == 2 for t in trials)
    momentum = found.results["optimizers"]["momentum"]
    assert set(momentum["axes"]) == {"lr", "momentum"}
    trials = momentum["studies"][0]["trials"]
    assert all(0.5 <= t["hyper"]["momentum"] < 1 for t in trials)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": compare.Protocol(budget=-1)}, r"compare: budget must be an"),
        ({"protocol": compare.Protocol(seeds=0)}, r"compare: seeds must be an integer"),
        (
            {"protocol": compare.Protocol(tune=("lr", "betas0"))},
            r"tune: no optimizer compared has an axis 'betas0'; sgd has lr, ",
        ),
        ({"protocol": compare.Protocol(studies=0)}, r"compare: studies must be an"),
        ({"protocol": compare.Protocol(select="test_acc")}, r"select must be one of"),
        ({"protocol": compare.Protocol(target=1.5)}, r"target must be in \(0, 1\]"),
        ({"optimizers": ["sgd", "SGD"]}, r"optimizers must be distinct names"),
        ({"optimizers": ["adamm"]}, r"unknown optimizer 'adamm'"),
        (
            {"base": BASE.replace(data="regression", model="linear")},
            r"regression has no validation split",
        ),
        ({"base": BASE.replace(val_fraction=0.7)}, r"val_fraction must be in"),
    ],
)
def test_bad_input_is_refused_before_anything_trains(
    tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(tmp_path, **kwargs)
    assert not (tmp_path / "sweep.db").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: r["optimizers"]["sgd"]["studies"][0]["reruns"][0]["history"][
                "epochs"
            ][1].pop("val_acc"),
            r"\['reruns'\]\[0\]\['history'\]\['epochs'\]\[1\] lacks 'val_acc'",
        ),
        (
            lambda r: r["optimizers"]["adam"]["studies"][1]["trials"][2].__setitem__(
                "val_acc", "x"
            ),
            r"\['trials'\]\[2\]\['val_acc'\] must be int or float or null, got str",
        ),
        (
            lambda r: r["optimizers"]["adam"]["summary"]["test_acc"].__setitem__(
                "mean", "x"
            ),
            r"\['test_acc'\]\['mean'\] must be int or float or null, got str",
        ),
        (
            lambda r: r.__setitem__("version", 2),
            r"the results\['version'\] must be 3, got 2; run gdlab compare again",
        ),
        (
            lambda r: r["pairs"][0].__setitem__("verdict", "adam"),
            r"Claim: verdict must be one of a, b, none, got 'adam'",
        ),
        (
            lambda r: r["studies"].pop(),
            r"the results hold 1 studies, not the protocol's 2",
        ),
        (
            lambda r: r["optimizers"]["sgd"]["studies"].pop(),
            r"\['sgd'\] has 1 studies, not 2",
        ),
        (
            lambda r: r["pairs"][0].__setitem__("a", "lion"),
            r"the results' pairs name 'lion', not an optimizer",
        ),
        (
            lambda r: r["protocol"].__setitem__("select", "test_acc"),
            r"\['select'\] must be one of val_acc, val_loss, got 'test_acc'",
        ),
    ],
)
def test_a_hand_edited_results_file_is_refused_naming_the_key(
    tmp_path: Path, edit: Any, message: str
) -> None:
    results = json.loads(json.dumps(run(tmp_path).results))
    edit(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(
        ValueError, match=r"cannot read comparison results .*" + message
    ):
        compare.Comparison.load(tmp_path)


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        (
            compare.Protocol(budget=compare.MAX_BUDGET + 1),
            "compare: budget must be an integer <= 1000, got 1001",
        ),
        (
            compare.Protocol(budget=0, seeds=10**14),
            "compare: seeds must be an integer <= 100, got 100000000000000",
        ),
    ],
)
def test_budget_and_seeds_have_upper_bounds(
    tmp_path: Path, protocol: compare.Protocol, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        compare.check(BASE, ["sgd"], protocol, store=tmp_path / "sweep.db")
    assert not (tmp_path / "sweep.db").exists()


def test_the_table_shows_every_selected_value_a_pair_included(tmp_path: Path) -> None:
    found = run(
        tmp_path,
        BASE.replace(epochs=1),
        optimizers=["adam"],
        protocol=compare.Protocol(
            budget=1, seeds=1, studies=1, tune=("beta1", "beta2", "eps")
        ),
    )
    hyper = found.results["optimizers"]["adam"]["studies"][0]["selected"]["hyper"]
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
    sgd = found.results["optimizers"]["sgd"]
    diverged = [t for st in sgd["studies"] for t in st["trials"] if t["diverged"]]
    assert diverged  # sgd's top learning rates blow up under l2 = 10
    for st in sgd["studies"]:
        chosen = st["trials"][st["selected"]["trial"]]
        assert not chosen["diverged"]
        assert chosen["val_loss"] == min(
            t["val_loss"] for t in st["trials"] if not t["diverged"]
        )
    assert found.results["protocol"]["metric"] == "test_loss"
    assert sgd["tunability"]["median"][-1] is not None


def test_ties_in_validation_accuracy_are_broken_by_validation_loss() -> None:
    def trial(acc: float, loss: float) -> Any:
        return SimpleNamespace(
            metrics={"diverged": False, "final_val_acc": acc, "final_val_loss": loss}
        )

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
    assert (
        "--tune beta1: momentum has no beta1 axis; tuned without it"
        in (found.results["notes"])
    )


def test_the_report_counts_the_reruns_that_reached_the_target(
    tmp_path: Path,
) -> None:
    from gdlab.report.compare import _table

    results = json.loads(json.dumps(run(tmp_path).results))
    summary = results["optimizers"]["sgd"]["summary"]
    summary["to_target"] = {
        "runs": 3,
        "reached": 1,
        "median_step": None,
        "median_seconds": None,
    }
    _, rows = _table(results)
    assert "not reached (1/3 reached)" in rows
    assert "0/3" not in rows
    text = compare.format_table(compare.Comparison(results))
    assert "not reached (1/3)" in text


def test_a_failed_write_leaves_the_previous_outputs_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gdlab import outputs
    from gdlab.lab import runs

    folder = tmp_path / "out"
    protocol = compare.Protocol(budget=2, seeds=1, studies=2)
    runs.compare_into(folder, BASE, ["sgd"], protocol, workers=1, progress=False)

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
    other = compare.Protocol(budget=2, seeds=1, studies=2, select="val_loss")
    with pytest.raises(outputs.WriteError, match="File too large"):
        runs.compare_into(folder, BASE, ["sgd"], other, workers=1, progress=False)
    assert files() == before  # results.json and the PNGs were not replaced
    assert not (folder / runs.STAGE).exists()
