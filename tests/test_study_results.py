"""The studies' results as records (gdlab.study_results): a row's numbers, the
plain form the files have always held, and a hand-edited results.json refused by
the field that is wrong. No training: records made by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from gdlab import outputs
from gdlab.study_results import (
    DERIVED,
    BatchSizeReport,
    BatchSizeRow,
    BatchSizeRun,
    EdgeOfStabilityReport,
    EdgeRun,
)

from .conftest import raises_about


def bs_run(seed: int, lam: float, *, diverged: bool = False) -> BatchSizeRun:
    return BatchSizeRun(
        batch_size=32, seed=seed, steps=20 + seed, epochs=1.0, reached=not diverged,
        diverged=diverged, message="", train_loss=math.nan if diverged else 0.5,
        train_acc=None if diverged else 0.9, test_loss=math.nan if diverged else 0.6,
        test_acc=None if diverged else 0.8, gap=None if diverged else 0.1,
        lambda_max=math.nan if diverged else lam, epsilon_sharpness=1.0, seconds=0.1,
    )  # fmt: skip


def test_a_row_averages_the_runs_that_did_not_diverge() -> None:
    row = BatchSizeRow.of(
        32, [bs_run(0, 2.0), bs_run(1, 4.0), bs_run(2, 0, diverged=True)]
    )
    assert (row.runs, row.reached, row.diverged, row.trained) == (3, 2, 1, True)
    assert row.mean_std("lambda_max") == (3.0, 1.0)  # population std of 2 and 4
    assert row.mean_std("steps") == (20.5, 0.5)
    one = BatchSizeRow.of(32, [bs_run(0, 2.0)])
    assert one.lambda_max_std == 0.0  # one run: no spread
    none = BatchSizeRow.of(32, [bs_run(0, 0, diverged=True)])
    assert not none.trained and math.isnan(none.lambda_max)
    with raises_about("BatchSizeRow", "key"):
        row.mean_std("lambda")


def edge_report() -> EdgeOfStabilityReport:
    settings = {
        "data": "digits", "data_path": None, "samples": 30, "hidden": [4],
        "activation": "tanh", "loss": "mse", "lrs": [0.5], "momentum": 0.0,
        "steps": 4, "every": 2, "seed": 0,
    }  # fmt: skip
    run = EdgeRun(0.5, 0.0, 4.0, (0, 2, 4), (2.0, 3.5, 4.1), (1.0,) * 5, False, 0.1)
    return EdgeOfStabilityReport.from_dict(
        {
            "study": "edge-of-stability", "settings": settings,
            "runs": [run.to_dict(derived=True)], "findings": ["f"],
            "references": ["r"],
        }
    )  # fmt: skip


def test_an_edge_report_writes_the_derived_values_and_reads_them_again(
    tmp_path: Path,
) -> None:
    report = edge_report()
    (run,) = report.runs
    assert (run.reached_step, run.near_fraction()) == (2, 1.0)
    assert run.median_ratio() == pytest.approx((3.5 / 4 + 4.1 / 4) / 2)
    plain = report.to_dict()
    assert list(plain["runs"][0])[-4:] == list(DERIVED)  # after the fields, as before
    assert plain["runs"][0]["reached_step"] == 2
    outputs.write_text(tmp_path / "results.json", json.dumps(plain))
    assert EdgeOfStabilityReport.load(tmp_path) == report


def edited(tmp_path: Path, plain: dict[str, Any]) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(plain))
    return path


def test_an_edited_results_json_is_refused_by_the_field(tmp_path: Path) -> None:
    plain = edge_report().to_dict()
    plain["runs"][0]["lambda_max"][1] = "3.5"
    with pytest.raises(ValueError, match=r"results\.json: EdgeOfStabilityReport: "
                       r"runs\[0\]\.lambda_max\[1\] must be"):  # fmt: skip
        EdgeOfStabilityReport.load(edited(tmp_path, plain))
    plain = edge_report().to_dict()
    plain["runs"][0]["sharpness"] = 1.0
    with pytest.raises(ValueError, match=r"runs\[0\]: field 'sharpness' must be"):
        EdgeOfStabilityReport.load(edited(tmp_path, plain))
    plain = edge_report().to_dict()
    del plain["settings"]["every"]
    with pytest.raises(
        ValueError,
        match=r"results\.json: EdgeOfStabilityReport: settings\.every must be given",
    ):
        EdgeOfStabilityReport.load(edited(tmp_path, plain))
    plain = {**edge_report().to_dict(), "study": "batch-size"}
    with pytest.raises(ValueError, match=r"EdgeOfStabilityReport: study must be"):
        EdgeOfStabilityReport.load(edited(tmp_path, plain))
    with pytest.raises(ValueError, match=r"BatchSizeReport: study must be"):
        BatchSizeReport.load(edited(tmp_path, edge_report().to_dict()))
    with pytest.raises(ValueError, match=r"cannot read study results .*nothing"):
        BatchSizeReport.load(tmp_path / "nothing")


def test_the_settings_records_hold_the_plans_fields() -> None:
    import dataclasses

    from gdlab.lab import studies
    from gdlab.study_results import BatchSizeSettings, EdgeSettings

    def names(kind: type) -> list[str]:
        return [f.name for f in dataclasses.fields(kind)]

    assert names(BatchSizeSettings) == [*names(studies.BatchSize), "n_train"]
    assert names(EdgeSettings) == names(studies.EdgeOfStability)
