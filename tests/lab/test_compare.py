"""The fair comparison: validation decides, the test set is read once, budgets are
equal, and the same inputs give the same results."""

from __future__ import annotations

import copy
import json
from pathlib import Path
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
QUICK = compare.Protocol(budget=3, seeds=2)


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
        for r in o["reruns"]:
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
        assert a["trials"] == b["trials"]  # trials never read the test set
        assert a["selected"] == b["selected"]
        assert a["summary"]["val_acc"] == b["summary"]["val_acc"]
        assert a["summary"]["test_acc"]["mean"] > 0.4  # real labels: learnt
        assert b["summary"]["test_acc"]["mean"] < 0.25  # shuffled ones: chance
    real["spec"].pop("data_path")
    shuffled["spec"].pop("data_path")
    assert without(real, "test_loss", "test_acc") == without(
        shuffled, "test_loss", "test_acc"
    )


def test_selection_equals_a_plain_sweep_over_the_same_points(tmp_path: Path) -> None:
    found = run(tmp_path / "compare", optimizers=["adam"])
    points = tuning.sobol_points(QUICK.budget, 1, QUICK.search_seed)
    lrs = [tuning.trial("adam", ["lr"], u)["lr"] for u in points]
    grid = {"lr": lrs}
    swept = sweep.run(
        BASE.replace(optimizer="adam", evaluate_test=False),
        grid,
        tmp_path / "sweep" / "sweep.db",
        workers=1,
        progress=False,
        report=False,
    )
    rows = swept.rows()
    best = max(rows, key=lambda r: r["final_val_acc"])
    assert found.results["optimizers"]["adam"]["selected"]["hyper"]["lr"] == best["lr"]
    trials = found.results["optimizers"]["adam"]["trials"]
    assert [t["val_acc"] for t in trials] == [r["final_val_acc"] for r in rows]


def test_results_are_reproducible_and_resume_reruns_nothing(tmp_path: Path) -> None:
    first = run(tmp_path)
    store = sweep.Store(tmp_path / "sweep.db")
    count = store.count()
    store.close()
    assert count == 2 * (QUICK.budget + QUICK.seeds)
    again = run(tmp_path)
    assert without(first.results) == without(again.results)
    fresh = run(tmp_path / "fresh")
    assert without(first.results) == without(fresh.results)
    adam = first.results["optimizers"]["adam"]
    assert len(adam["trials"]) == QUICK.budget
    assert [r["seed"] for r in adam["reruns"]] == [1, 2]
    assert first.results["protocol"]["target"] == compare.DEFAULT_TARGETS["digits"]
    curve = adam["tunability"]
    assert curve[-1] == max(t["val_acc"] for t in adam["trials"])
    # the table and the saved file
    text = compare.format_table(first)
    assert text.splitlines()[0].startswith("optimizer")
    first.save(tmp_path)
    assert compare.Comparison.load(tmp_path).results == json.loads(
        json.dumps(first.results)
    )


def test_budget_zero_reruns_the_suggested_settings(tmp_path: Path) -> None:
    found = run(tmp_path, protocol=compare.Protocol(budget=0, seeds=1))
    for name in ("sgd", "adam"):
        entry = found.results["optimizers"][name]
        assert entry["trials"] == [] and entry["tunability"] == []
        assert entry["selected"]["hyper"] == {"lr": optim.suggested_lr(name)}
    assert any("one-shot baseline" in n for n in found.results["notes"])


def test_tuning_more_axes_uses_each_optimizers_space(tmp_path: Path) -> None:
    protocol = compare.Protocol(budget=2, seeds=1, tune=("all",))
    found = run(tmp_path, optimizers=["momentum", "adam"], protocol=protocol)
    adam = found.results["optimizers"]["adam"]
    assert set(adam["axes"]) == {"lr", "beta1", "beta2", "eps"}
    assert all(len(t["hyper"]["betas"]) == 2 for t in adam["trials"])
    momentum = found.results["optimizers"]["momentum"]
    assert set(momentum["axes"]) == {"lr", "momentum"}
    assert all(0.5 <= t["hyper"]["momentum"] < 1 for t in momentum["trials"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": compare.Protocol(budget=-1)}, r"compare: budget must be an"),
        ({"protocol": compare.Protocol(seeds=0)}, r"compare: seeds must be an integer"),
        (
            {"protocol": compare.Protocol(tune=("lr", "momentum"))},
            r"tune: adam has no axis 'momentum' to tune",
        ),
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
            lambda r: r["optimizers"]["sgd"]["reruns"][0]["history"]["epochs"][1].pop(
                "val_acc"
            ),
            r"\['reruns'\]\[0\]\['history'\]\['epochs'\]\[1\] lacks 'val_acc'",
        ),
        (
            lambda r: r["optimizers"]["adam"]["trials"][2].__setitem__("val_acc", "x"),
            r"\['trials'\]\[2\]\['val_acc'\] must be int or float or null, got str",
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
        protocol=compare.Protocol(budget=1, seeds=1, tune=("beta1", "beta2", "eps")),
    )
    hyper = found.results["optimizers"]["adam"]["selected"]["hyper"]
    beta1, beta2 = hyper["betas"]
    row = compare.format_table(found).splitlines()[2]
    # the betas were left out of the "selected" column (a list, skipped)
    assert f"betas=({beta1:.3g}, {beta2:.3g}), eps={hyper['eps']:.3g}" in row
