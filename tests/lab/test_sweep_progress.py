"""A long sweep says how far it is and how long it has left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab import sweep
from gdlab.train import TrainConfig


def test_each_line_counts_and_estimates_the_time_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = RunSpec(data="digits", model="softmax", optimizer="sgd", lr=0.1)
    base = base.replace(train=TrainConfig(epochs=1, batch_size=64))
    sweep.run(sweep.Sweep(base, {"seed": [0, 1, 2]}), out=tmp_path, workers=1)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "/3]" in ln]
    assert [re.search(r"\[(\d)/3\]", ln)[1] for ln in lines] == ["1", "2", "3"]  # type: ignore[index]
    left = [re.search(r"about ([\d.]+) s left\)$", ln) for ln in lines]
    assert left[0] is not None and left[1] is not None and left[2] is None
    assert float(left[0][1]) >= float(left[1][1])  # two runs left, then one
    assert lines[2].endswith("so far)")
