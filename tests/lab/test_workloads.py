"""Workloads by name: the built-in suites' workloads registered like a user's, a
suite table that starts from one, loss-judged workloads, and the benchmark plan
that checks them once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab import benchmark, compare, workloads
from gdlab.lab.workloads import Workload


@pytest.fixture
def clean() -> Iterator[list[str]]:
    added: list[str] = []
    yield added
    for name in added:
        workloads.WORKLOADS.remove(name)


def test_the_built_in_workloads_are_registered_and_the_medium_suite_names_them() -> (
    None
):
    small = [w.name for w in benchmark.load_suite("small")]
    assert set(small) <= set(workloads.names())
    medium = benchmark.load_suite("medium")
    assert [w.name for w in medium] == [*small, "logreg-fashion", "fmnist-2c2d"]
    by_name = {w.name: w for w in medium}
    assert by_name["mlp-fashion"] == workloads.get("mlp-fashion")  # the same one
    quadratic = by_name["quadratic-deep"]
    assert (quadratic.select, quadratic.spec.model) == ("val_loss", "quadratic-deep")
    assert by_name["autoencoder-digits"].select == "val_loss"
    assert by_name["logreg-fashion"].spec.model == "softmax"
    cnn = by_name["fmnist-2c2d"].spec  # DeepOBS's CNN on all of Fashion-MNIST
    assert (cnn.data, cnn.model, cnn.train.epochs, cnn.train.batch_size) == (
        "fashion-mnist",
        "fmnist_2c2d",
        1,
        128,
    )


def test_a_user_workload_is_named_in_a_suite_and_changed_there(
    tmp_path: Path, clean: list[str]
) -> None:
    mine = Workload("my-task", RunSpec(model="mlp:64-8-10"), 0.9, calibrated_by="me")
    workloads.register(mine)
    clean.append("my-task")
    assert Workload.from_dict(mine.to_dict()) == mine
    with pytest.raises(ValueError, match=r"a workload named 'my-task' is already"):
        workloads.register(mine)
    (tmp_path / "s.toml").write_text(
        "[short]\nworkload = 'my-task'\nepochs = 2\n[plain]\nworkload = 'my-task'\n"
    )
    short, plain = benchmark.load_suite(tmp_path / "s.toml")
    assert plain.spec == mine.spec and (plain.target, plain.calibrated_by) == (
        0.9,
        "me",
    )
    assert short.spec == mine.spec.replace(epochs=2) and short.name == "short"
    (tmp_path / "bad.toml").write_text("[x]\nworkload = 'nope'\n")
    with pytest.raises(ValueError, match=r"^workload: name must be one of .*'nope'"):
        benchmark.load_suite(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 2.0}, r"^Workload: target must be in \(0, 1\] for val_acc"),
        ({"target": 0.0}, r"^Workload: target must be > 0, got 0.0"),
        ({"select": "acc"}, r"^Workload: select must be one of val_acc, val_loss"),
        ({"name": "x.json"}, r"^Workload: name must be a folder name not ending"),
    ],
)
def test_a_workload_checks_itself(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"name": "w", "spec": RunSpec(), "target": 0.5}
    with pytest.raises(ValueError, match=message):
        Workload(**{**values, **kwargs})  # type: ignore[arg-type]


def test_a_plan_is_checked_once() -> None:
    one = workloads.get("softmax-digits")
    with pytest.raises(ValueError, match=r"name must be other than 'softmax-digits'"):
        benchmark.BenchmarkPlan((one, one))
    with pytest.raises(ValueError, match=r"^BenchmarkPlan: backend must be one of"):
        benchmark.BenchmarkPlan((one,), backend="slurm")
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'"):
        benchmark.BenchmarkPlan((one,), ("adamm",))
    with pytest.raises(ValueError, match=r"^Protocol: budget must be an integer >= 0"):
        benchmark.BenchmarkPlan((one,), protocol=compare.Protocol(budget=-1))
    plan = benchmark.plan(
        "small", ["sgd"], only=["mlp-digits"], hyper={"momentum": 0.5}
    )
    assert [w.spec.hyper for w in plan.workloads] == [{"momentum": 0.5}]
    assert benchmark.BenchmarkPlan.from_dict(plan.to_dict()) == plan


def test_a_loss_judged_workload_is_benchmarked_on_its_loss(tmp_path: Path) -> None:
    spec = RunSpec(data="quadratic-deep:n=100,dim=10", model="quadratic-deep").replace(
        epochs=2, batch_size=20, eval_every=2
    )
    easy = Workload("easy", spec, target=1e6, select="val_loss")  # below at once
    plan = benchmark.BenchmarkPlan(
        (easy,), ("sgd",), compare.Protocol(budget=1, seeds=1, studies=1), 1
    )
    result = benchmark.run(plan, out=tmp_path, progress=False)
    found = result.workloads["easy"]
    assert (found.select, found.test_metric) == ("val_loss", "test_loss")
    # reached at the first evaluation: lower is better (as accuracy, never)
    assert found.steps_to_target == {"sgd": 2} and result.scores == {"sgd": 1.0}
    compared = compare.Comparison.load(tmp_path / "easy")
    assert compared.protocol.select == "val_loss"
    assert found.test["sgd"] == pytest.approx(
        compared.optimizers["sgd"].summary.test_loss.mean
    )
