"""The arithmetic of fair comparisons, against brute force and SciPy."""

from __future__ import annotations

import itertools
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from gdlab import optim
from gdlab.lab import tuning
from gdlab.optim import space

from ..conftest import raises_about


@pytest.mark.parametrize("higher", [True, False])
def test_expected_best_equals_the_mean_over_every_subset(higher: bool) -> None:
    scores = [0.3, 0.9, 0.1, 0.5, 0.5, 0.7]
    pick = max if higher else min
    expected = [
        statistics.fmean(pick(c) for c in itertools.combinations(scores, k))
        for k in range(1, len(scores) + 1)
    ]
    got = tuning.expected_best(scores, higher_is_better=higher)
    np.testing.assert_allclose(got, expected, rtol=1e-14)
    assert got[0] == pytest.approx(statistics.fmean(scores))
    assert got[-1] == pick(scores)
    assert all((b >= a) if higher else (b <= a) for a, b in itertools.pairwise(got))


def test_expected_best_refuses_missing_scores() -> None:
    with raises_about("expected_best", "scores", got="[0.5, nan]"):
        tuning.expected_best([0.5, math.nan])
    with raises_about("expected_best", "scores", got="[]"):
        tuning.expected_best([])


def test_interval_is_students_t() -> None:
    xs = [0.91, 0.93, 0.92, 0.95]
    got = tuning.interval95(xs)
    low, high = stats.t.interval(
        0.95, len(xs) - 1, loc=np.mean(xs), scale=stats.sem(xs)
    )
    assert got["mean"] == pytest.approx(np.mean(xs))
    assert got["ci95"] == pytest.approx((high - low) / 2)
    assert tuning.interval95([0.5]) == {"n": 1, "mean": 0.5, "std": None, "ci95": None}


def test_sobol_points_are_scipys_drawn_once_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scipy.stats import qmc

    monkeypatch.setenv("GDLAB_CACHE", str(tmp_path))
    scipys = qmc.Sobol(d=3, scramble=True, seed=11).random(8)
    drawn = tuning.sobol_points(8, 3, seed=11)
    (kept,) = (tmp_path / "sobol").iterdir()
    np.testing.assert_array_equal(drawn, scipys)
    np.testing.assert_array_equal(np.load(kept), scipys)
    np.save(kept, np.full((8, 3), 0.5))  # read back: the file is what is returned
    np.testing.assert_array_equal(tuning.sobol_points(8, 3, seed=11), 0.5)
    kept.write_bytes(b"not an npy file")  # damaged: drawn again and rewritten
    np.testing.assert_array_equal(tuning.sobol_points(8, 3, seed=11), scipys)
    np.testing.assert_array_equal(np.load(kept), scipys)
    np.save(kept, np.zeros((4, 3)))  # another shape: drawn again
    np.testing.assert_array_equal(tuning.sobol_points(8, 3, seed=11), scipys)
    np.save(kept, np.full((8, 3), 1.5))  # outside the unit cube: drawn again
    np.testing.assert_array_equal(tuning.sobol_points(8, 3, seed=11), scipys)
    kept.unlink()
    os.mkfifo(kept)  # not a regular file: never opened, drawn each time
    np.testing.assert_array_equal(tuning.sobol_points(8, 3, seed=11), scipys)


def test_sobol_points_are_drawn_where_the_cache_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("GDLAB_CACHE", str(blocked))
    first = tuning.sobol_points(4, 2, seed=5)
    np.testing.assert_array_equal(first, tuning.sobol_points(4, 2, seed=5))
    assert blocked.read_text() == "a file where the cache folder would go"


def test_a_cached_sobol_draw_does_not_import_scipy_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDLAB_CACHE", str(tmp_path))
    drawn = tuning.sobol_points(8, 2, seed=1)  # drawn here, read back there
    probe = (
        "import sys\nfrom gdlab.lab import tuning\n"
        "print(tuning.sobol_points(8, 2, seed=1).tolist())\n"
        "print('scipy.stats' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [str(drawn.tolist()), "False"]


def test_sobol_points_are_seeded_and_balanced() -> None:
    a, b = tuning.sobol_points(8, 2, seed=3), tuning.sobol_points(8, 2, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 2) and (a >= 0).all() and (a < 1).all()
    # one point in each eighth of every axis: the balance of a power of two
    for column in a.T:
        np.testing.assert_array_equal(np.sort((column * 8).astype(int)), range(8))
    assert not np.array_equal(a, tuning.sobol_points(8, 2, seed=4))
    assert tuning.sobol_points(5, 1, seed=0).shape == (5, 1)  # not a power of two


def test_a_trial_maps_the_unit_point_onto_the_search_space() -> None:
    space = optim.search_space("adam")
    hyper = tuning.trial("adam", ["lr", "beta1"], [0.5, 0.0])
    assert hyper["lr"] == pytest.approx(space["lr"].value(0.5))
    assert hyper["betas"] == (pytest.approx(0.99), 0.999)
    # a preset keeps what it fixes; its lr axis is the effective step
    # lr / (1 - momentum): at u = 0, sgd's lowest step 1e-3, so lr = 1e-4
    assert tuning.trial("nesterov", ["lr"], [0.0]) == {
        "lr": pytest.approx(1e-4),
        "momentum": 0.9,
        "nesterov": True,
    }
    tuned = tuning.trial("momentum", ["lr", "momentum"], [0.0, 0.0])
    assert tuned["momentum"] == pytest.approx(0.99)
    assert tuned["lr"] == pytest.approx(1e-3 * 0.01)  # momentum tuned: its own
    with pytest.raises(ValueError, match=r"tune: sgd has no axis 'beta1' to tune"):
        tuning.check_axes("sgd", ["lr", "beta1"])


def test_time_to_target() -> None:
    rows = [
        {"step": 10, "seconds": 1.0, "val_acc": 0.5},
        {"step": 20, "seconds": 2.0, "val_acc": None},
        {"step": 30, "seconds": 3.0, "val_acc": 0.91},
    ]
    assert tuning.time_to_target(rows, "val_acc", 0.9) == {
        "step": 30,
        "seconds": 3,
        "evaluation": 2,
    }
    assert tuning.time_to_target(rows, "val_acc", 0.95) is None
    losses = [{"step": 5, "seconds": 0.5, "val_loss": 0.2}]
    assert tuning.time_to_target(losses, "val_loss", 0.3, higher_is_better=False)


def test_performance_profiles() -> None:
    times = {
        "p1": {"a": 10.0, "b": 20.0, "c": None},
        "p2": {"a": 40.0, "b": 20.0, "c": 30.0},
        "p3": {"a": None, "b": None, "c": None},
    }
    rho = tuning.performance_profiles(times, [1.0, 1.5, 2.0, 4.0])
    assert rho["a"] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert rho["b"] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert rho["c"] == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3])


@pytest.mark.parametrize("name", optim.names())
def test_every_lr_range_spans_the_same_decades_around_the_suggested_lr(
    name: str,
) -> None:
    """The one rule of gdlab.optim.space: [suggested / 100, suggested * 100]."""
    lr = optim.search_space(name)["lr"]
    suggested = optim.suggested_lr(name)
    assert math.log10(lr.high / lr.low) == pytest.approx(space.LR_DECADES)
    assert math.sqrt(lr.low * lr.high) == pytest.approx(suggested)


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_momentum_presets_try_the_steps_plain_sgd_tries(name: str) -> None:
    points = tuning.sobol_points(8, 1, seed=3)
    for u in points:
        plain = tuning.trial("sgd", ["lr"], u)["lr"]
        preset = tuning.trial(name, ["lr"], u)
        effective = preset["lr"] / (1 - preset["momentum"])
        assert effective == pytest.approx(plain)
    assert tuning.describe_axis(name, "lr").startswith(
        "effective step lr/(1 - momentum) log-uniform in [0.001, 10]"
    )
    assert tuning.describe_axis("sgd", "lr") == "log-uniform in [0.001, 10]"


def test_a_trials_hyperparameters_come_in_the_order_of_its_axes() -> None:
    """results.json writes them in this order; from a set, the order followed
    the process's string hashing (two runs of one comparison differed)."""
    import subprocess
    import sys

    code = (
        "from gdlab.lab import tuning;"
        "print(list(tuning.trial('adam', ['lr', 'eps', 'beta1', 'beta2'],"
        " [0.5, 0.5, 0.5, 0.5])))"
    )
    orders = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (0, 1)
    }
    assert orders == {"['lr', 'eps', 'betas']\n"}
