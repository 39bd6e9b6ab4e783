"""gdlab benchmark: a suite as data, the comparison on each workload, profiles."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest

from gdlab.lab import benchmark, compare

SUITE = """
[tiny-softmax]
data = "digits"
model = "softmax"
epochs = 3
batch_size = 64
target = 0.85

[tiny-mlp]
data = "digits"
model = "mlp:64-16-10"
epochs = 3
batch_size = 64
target = 0.5
"""


def test_a_suite_runs_every_workload_and_ranks_by_profiles(tmp_path: Path) -> None:
    (tmp_path / "suite.toml").write_text(SUITE)
    results = benchmark.benchmark(
        tmp_path / "suite.toml",
        tmp_path / "out",
        ["sgd", "adam"],
        compare.Protocol(budget=2, seeds=2),
        workers=1,
        progress=False,
    )
    assert list(results["workloads"]) == ["tiny-softmax", "tiny-mlp"]
    times = {w: v["steps_to_target"] for w, v in results["workloads"].items()}
    for workload, by_optimizer in times.items():
        found = compare.Comparison.load(tmp_path / "out" / workload)
        for name, steps in by_optimizer.items():
            expected = benchmark.time_to_target(found.results["optimizers"][name])
            assert steps == (expected if math.isfinite(expected) else None)
    rho = results["profiles"]["rho"]
    # rho at tau = 1: the share of workloads where the optimizer is the fastest
    for name in ("sgd", "adam"):
        fastest = sum(
            t[name] is not None
            and t[name] == min(v for v in t.values() if v is not None)
            for t in times.values()
        )
        assert rho[name][0] == fastest / 2
        assert rho[name] == sorted(rho[name])  # non-decreasing
        assert 0 <= results["scores"][name] <= 1
    saved = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert saved["scores"] == results["scores"]
    assert (tmp_path / "out" / "report.html").is_file()
    table = benchmark.format_table(results)
    assert table.splitlines()[0].split() == ["optimizer", *times, "score"]


def test_profile_area() -> None:
    taus = benchmark.TAUS
    assert benchmark.profile_area([1.0] * len(taus)) == pytest.approx(1.0)
    assert benchmark.profile_area([0.0] * len(taus)) == 0.0
    half = [0.0 if t < math.sqrt(10) else 1.0 for t in taus]
    assert benchmark.profile_area(half) == pytest.approx(0.5, abs=0.03)


def test_the_built_in_suite_has_five_workloads() -> None:
    suite = benchmark.load_suite("small")
    assert [w.name for w in suite] == [
        "softmax-digits",
        "mlp-digits",
        "mlp-fashion",
        "deep-mlp-fashion",
        "full-batch-digits",
    ]
    assert suite[4].spec.train.batch_size == "full" and suite[2].target == 0.84


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[a]\ndata = 'digits'\n", r"a.target must be a real number"),
        ("[a]\ntarget = 2\n", r"a.target must be in \(0, 1\]"),
        ("[a]\ntarget = 0.5\ncolour = 'red'\n", r"workload 'a': RunSpec: field"),
        ("[a\n", r"is not valid TOML/JSON"),
        ("['../x']\ntarget = 0.5\n", r"a workload name must be letters"),
        # a folder beside the benchmark's own files: was "Is a directory" after
        # every workload had trained
        *[
            (
                f"['{name}']\ntarget = 0.5\n",
                rf"must be a folder name not ending .*'{n}'",
            )
            for name in ("benchmark.json", "report.html", "profiles.png", "R.HTML")
            for n in [re.escape(name)]
        ],
        ("[A]\ntarget = 0.5\n[a]\ntarget = 0.5\n", r"name must be other than 'A'"),
    ],
)
def test_bad_suites_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ValueError, match=message):
        benchmark.load_suite(tmp_path / "s.toml")
    with pytest.raises(ValueError, match=r"cannot read it"):
        benchmark.load_suite(tmp_path / "missing.toml")


def test_a_json_suite_names_each_workload_once(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"a": {"target": 0.5}, "a": {"target": 0.9}}')
    with pytest.raises(ValueError, match=r"not valid TOML/JSON: the key 'a' is given"):
        benchmark.load_suite(path)  # was: the last kept, silently
    path.write_text('{"a": {"target": 0.5, "target": 0.9}}')
    with pytest.raises(ValueError, match=r"the key 'target' is given twice"):
        benchmark.load_suite(path)
    path.write_text('{"a": {"target": 0.5}}')
    assert [(w.name, w.target) for w in benchmark.load_suite(path)] == [("a", 0.5)]


def test_a_suite_is_read_from_a_regular_file_of_bounded_size(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"fifo.toml: cannot read it \(not a regular"):
        benchmark.load_suite(fifo)  # was: blocked forever
    zero = tmp_path / "zero.toml"
    zero.symlink_to("/dev/zero")
    with pytest.raises(ValueError, match=r"zero.toml: cannot read it \(not a regular"):
        benchmark.load_suite(zero)  # was: read without bound
    with pytest.raises(ValueError, match=r"cannot read it \(a folder\)"):
        benchmark.load_suite(tmp_path)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * benchmark.SUITE_MAX_BYTES + "\n[a]\ntarget = 0.5\n")
    with pytest.raises(ValueError, match=r"must be at most 1048576 bytes, got more"):
        benchmark.load_suite(big)
    for name, text in (
        ("deep.json", "[" * 100_000 + "]" * 100_000),
        ("deep.toml", "a = " + "[" * 100_000 + "]" * 100_000),
    ):
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=r"arrays nest too deeply"):
            benchmark.load_suite(tmp_path / name)  # was a RecursionError
    (tmp_path / "fine.toml").write_text("# " + "x" * 1000 + "\n[a]\ntarget = 0.5\n")
    assert [w.name for w in benchmark.load_suite(tmp_path / "fine.toml")] == ["a"]
