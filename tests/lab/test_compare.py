"""Comparisons: same start and batches for every optimizer, the table, the files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gdlab import train
from gdlab.experiment import RunSpec, build
from gdlab.lab import runs
from gdlab.lab.compare import Comparison, compare, format_table

SPEC = RunSpec(data="digits", model="mlp:64-16-10", epochs=2, batch_size=64)


def test_every_optimizer_starts_from_the_same_weights_and_batches() -> None:
    result = compare(SPEC, ["sgd", "momentum", "adam"], seeds=2, progress=False)
    assert list(result.runs) == ["sgd", "momentum", "adam"]
    for seed in (0, 1):
        # The first step's loss depends only on the weights and the first batch.
        first = {name: result.runs[name][seed].steps[0]["loss"] for name in result.runs}
        assert len(set(first.values())) == 1
    # ... and each run equals a plain fit of the same spec.
    run = build(SPEC.replace(optimizer="momentum", lr=0.05, seed=1))
    alone = train.fit(
        run.model, run.optimizer, run.dataset, **run.fit_arguments(), progress=False
    )
    assert [s["loss"] for s in alone.steps] == [
        s["loss"] for s in result.runs["momentum"][1].steps
    ]


def test_summary_is_mean_and_std_over_seeds() -> None:
    result = compare(SPEC, ["sgd", "adam"], seeds=3, lrs={"adam": 0.01}, progress=False)
    rows = {r["optimizer"]: r for r in result.summary()}
    assert rows["adam"]["lr"] == 0.01 and rows["sgd"]["lr"] == 0.1
    finals = [h.epochs[-1]["test_acc"] for h in result.runs["adam"]]
    assert rows["adam"]["final_test_acc"] == pytest.approx(np.mean(finals))
    assert rows["adam"]["final_test_acc_std"] == pytest.approx(np.std(finals))
    best = [max(e["test_acc"] for e in h.epochs) for h in result.runs["sgd"]]
    assert rows["sgd"]["best_test_acc"] == pytest.approx(np.mean(best))
    assert rows["sgd"]["diverged"] == 0
    table = format_table(result.summary())
    assert table.splitlines()[0].split() == [
        "optimizer",
        "lr",
        "train",
        "loss",
        "best",
        "test",
        "acc",
        "final",
        "test",
        "acc",
        "time",
        "diverged",
    ]
    assert f"{rows['adam']['final_test_acc']:.3f} ± " in table


def test_a_diverging_optimizer_is_reported_not_fatal() -> None:
    # The worked example: plain GD diverges above lr = 2 / 6.854.
    spec = RunSpec(data="regression", model="linear", epochs=3000, batch_size="full")
    result = compare(
        spec, ["sgd", "momentum"], lrs={"sgd": 5.0, "momentum": 0.01}, progress=False
    )
    rows = {r["optimizer"]: r for r in result.summary()}
    assert rows["sgd"]["diverged"] == 1 and rows["momentum"]["diverged"] == 0
    assert result.runs["sgd"][0].message.startswith("diverged at step")
    assert math.isnan(rows["momentum"]["best_test_acc"])
    assert rows["momentum"]["final_train_loss"] < 1e-6


def test_results_round_trip_and_report(tmp_path: Path) -> None:
    result, page = runs.compare_into(
        tmp_path, SPEC, ["sgd", "nesterov"], seeds=2, progress=False
    )
    again = Comparison.load(tmp_path)
    assert again.to_dict() == json.loads(json.dumps(result.to_dict()))
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert csv_rows[0].startswith("optimizer,lr,final_train_loss")
    assert len(csv_rows) == 3
    text = page.read_text()
    assert text.count('src="data:image/png;base64,') == 4
    assert "<td>nesterov</td>" in text and "http" not in text.replace("http-equiv", "")
    for name in ("summary.png", "loss.png", "accuracy.png", "lr.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert runs.report_from(tmp_path) == page


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"optimizers": ["adamm"]},
            r"unknown optimizer 'adamm'; known optimizers: sgd",
        ),
        ({"optimizers": []}, r"compare: optimizers must be at least one name"),
        ({"optimizers": ["sgd", "sgd"]}, r"compare: optimizers must be distinct names"),
        ({"seeds": 0}, r"compare: seeds must be an integer >= 1, got 0"),
        ({"lrs": {"sgd": -0.1}}, r"compare: lr of sgd must be > 0, got -0\.1"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments = {"optimizers": ["sgd"], **kwargs}
    with pytest.raises(ValueError, match=message):
        compare(SPEC, progress=False, **arguments)  # type: ignore[arg-type]


def test_unreadable_results(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"cannot read comparison results .*results\.json"
    ):
        Comparison.load(tmp_path)
