"""Data loaded once per process, never stale: a changed file is read again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gdlab import data
from gdlab.experiment import RunSpec
from gdlab.lab.sweep import datacache

DIGITS = RunSpec(data="digits", model="mlp:64-16-10")


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    datacache.clear()


def counted(monkeypatch: pytest.MonkeyPatch) -> list[RunSpec]:
    loads: list[RunSpec] = []
    real = datacache.load_data

    def load_data(spec: RunSpec) -> data.Dataset:
        loads.append(spec)
        return real(spec)

    monkeypatch.setattr(datacache, "load_data", load_data)
    return loads


def idx(folder: Path, labels: int, n: int = 60) -> Path:
    """MNIST-shaped IDX files, half labels 0, half ``labels``."""
    folder.mkdir(parents=True, exist_ok=True)
    x = np.zeros((n, 28, 28), np.uint8)
    y = np.full(n, labels, np.uint8)
    y[::2] = 0
    for part in ("train", "t10k"):
        data.write_idx(folder / f"{part}-images-idx3-ubyte", x)
        data.write_idx(folder / f"{part}-labels-idx1-ubyte", y)
    return folder


def test_a_dataset_loads_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    loads = counted(monkeypatch)
    first = datacache.load(DIGITS)
    again = datacache.load(DIGITS.replace(optimizer="adam", lr=0.5, seed=3))
    assert again is first and len(loads) == 1
    other = datacache.load(DIGITS.replace(split_seed=1))  # another split
    assert other is not first and len(loads) == 2
    assert other.digest != first.digest


def test_a_file_changed_in_place_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = counted(monkeypatch)
    folder = idx(tmp_path / "mnist", labels=1)
    spec = RunSpec(data="mnist", data_path=str(folder), model="mlp:784-10")
    before = datacache.load(spec)
    assert datacache.load(spec) is before and len(loads) == 1
    idx(folder, labels=2)  # the same sizes, other labels
    after = datacache.load(spec)
    assert len(loads) == 2 and after.digest != before.digest
    assert set(np.unique(after.y_test)) == {0, 2}


def test_another_folder_through_gdlab_data_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx(tmp_path / "a" / "mnist", labels=1)
    idx(tmp_path / "b" / "mnist", labels=3)
    spec = RunSpec(data="mnist", model="mlp:784-10")
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "a"))
    first = datacache.load(spec)
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "b"))
    second = datacache.load(spec)
    assert set(np.unique(first.y_test)) == {0, 1}
    assert set(np.unique(second.y_test)) == {0, 3}
    assert os.environ["GDLAB_DATA"].endswith("b")


def test_data_it_cannot_identify_is_not_cached() -> None:
    assert datacache.identity(DIGITS) is not None
    assert datacache.identity(DIGITS.replace(data="no-such-data")) is None
