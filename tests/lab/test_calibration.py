"""The claims keep their promises on digits, at the default protocol (5 studies of
4 trials and 2 reruns): an A/A copy is rarely called different, a copy searching
three decades too low is nearly always called worse, and repeated comparisons
never contradict each other. ``benchmarks/bench_calibration.py`` measures the
rates over 20 comparisons each; these are the CI-sized checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab import calibration, compare
from gdlab.train import TrainConfig

BASE = RunSpec(
    data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=3, batch_size=64)
)
DEFAULT = compare.Protocol()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with calibration.copies(
        adam_aa=calibration.copy_of("adam", shift=0.5),
        adam_low=calibration.copy_of("adam", decades=3),
    ):
        yield tmp_path_factory.mktemp("calibration")


def test_the_defaults_are_the_ones_checked_here() -> None:
    assert (DEFAULT.studies, DEFAULT.budget, DEFAULT.seeds) == (5, 4, 2)


def test_a_copy_reading_other_points_is_an_a_a_copy(folder: Path) -> None:
    adam, copy = compare.trials(["adam", "adam_aa"], DEFAULT, 7).values()
    assert [t["lr"] for t in adam] != [t["lr"] for t in copy]  # other points,
    lo, hi = 1e-5, 1e-1  # of the same range
    assert all(lo <= t["lr"] <= hi for t in [*adam, *copy])


def test_a_a_comparisons_are_rarely_called_different(folder: Path) -> None:
    found = calibration.verdicts(BASE, ("adam", "adam_aa"), range(8), DEFAULT, folder)
    different = sum(c.verdict != "none" for c in found)
    assert different <= 1, found  # 5% of 8 is 0.4; P(>= 2) = 0.057 when calibrated
    assert len({c.difference for c in found}) == 8  # they did differ, by noise


def test_a_range_three_decades_too_low_is_called_worse(folder: Path) -> None:
    found = calibration.verdicts(BASE, ("adam", "adam_low"), range(10), DEFAULT, folder)
    worse = sum(c.winner == "adam" for c in found)
    assert worse >= 9, found  # at least 90%
    assert all(c.winner != "adam_low" for c in found)


def test_repeated_comparisons_never_contradict_each_other(folder: Path) -> None:
    names = ["sgd", "momentum", "adam", "adam_low"]
    said: dict[tuple[str, str], set[str]] = {}
    for master in range(5):
        found = compare.compare(
            BASE,
            names,
            compare.Protocol(search_seed=master),
            out=folder / f"all-{master}",
            workers=1,
            progress=False,
            report=False,
        )
        for claim in found.pairs:
            if claim.winner is not None:
                said.setdefault((claim.a, claim.b), set()).add(claim.winner)
    assert said, "no claim at all: the check would be empty"
    assert all(len(winners) == 1 for winners in said.values()), said
