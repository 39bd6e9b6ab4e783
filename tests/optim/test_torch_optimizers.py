"""``torch:NAME``: torch.optim optimizers as gdlab optimizers, by name wherever a
gdlab name goes, equal to gdlab's own in float64, with their state in checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gdlab import data, optim, train  # noqa: E402
from gdlab.experiment import RunSpec, build  # noqa: E402
from gdlab.lab.compare import chosen_optimizers  # noqa: E402
from gdlab.lab.runs import rebuild  # noqa: E402
from gdlab.models.torch_nets import build_cnn  # noqa: E402
from gdlab.testing import check_optimizer  # noqa: E402

F64 = np.dtype(np.float64)


def test_gdlab_adam_equals_torch_adam_on_a_torch_cnn_over_100_steps(
    torch_float64: None,
) -> None:
    ds = data.load("digits")
    ours = build_cnn(ds, seed=2, dtype="float64", channels=4)
    theirs = build_cnn(ds, seed=2, dtype="float64", channels=4)
    hyper = {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 1e-3}
    adam = optim.create("adam", ours.params, **hyper)
    torch_adam = optim.create("torch:Adam", theirs.params, **hyper)
    assert type(torch_adam).__name__ == "torch:Adam"
    rng = np.random.default_rng(0)
    for _ in range(100):
        rows = rng.choice(len(ds.y_train), 32, replace=False)
        X, y = ds.X_train[rows], ds.y_train[rows]
        adam.step(ours.loss_and_grad(X, y)[1])
        torch_adam.step(theirs.loss_and_grad(X, y)[1])
    a, b = ours.params.buffers[F64], theirs.params.buffers[F64]
    assert not np.array_equal(
        a, build_cnn(ds, seed=2, dtype="float64", channels=4).params.buffers[F64]
    )
    np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-14)
    for name in ours.params:
        np.testing.assert_allclose(
            torch_adam.state[name]["exp_avg_sq"],
            adam.state[name]["exp_avg_sq"],
            rtol=1e-10,
            atol=1e-20,
        )


@pytest.mark.parametrize("name", ["torch:Adam", "torch:SGD", "torch:RMSprop"])
def test_torch_optimizers_pass_the_conformance_checks(
    name: str, torch_float64: None
) -> None:
    configs = {
        "torch:Adam": [{"weight_decay": 0.1, "amsgrad": True}],
        "torch:SGD": [{"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}],
        "torch:RMSprop": [{"momentum": 0.5, "centered": True}],
    }[name]
    reference = getattr(torch.optim, name.partition(":")[2])
    # Convergence is torch's own affair (the reference check shows we run it);
    # torch keeps its step count in its default dtype, not the parameters'.
    skip = ("quadratic", "rosenbrock", "least_squares", "dtypes")
    check_optimizer(
        name, reference=reference, configs=configs, steps=30, skip=skip, verbose=False
    )


def test_names_resolve_case_insensitively_and_stay_out_of_the_list() -> None:
    assert optim.resolve("torch:Adam") == ("torch:adam", {})
    assert optim.resolve("TORCH:adam") == ("torch:adam", {})
    assert optim.get("torch:AdamW") is optim.get("torch:adamw")
    assert optim.get("torch:AdamW").defaults["weight_decay"] == 0.01
    assert not any(n.startswith("torch:") for n in optim.names(presets=True))
    assert optim.suggested_lr("torch:Adam") == optim.suggested_lr("adam")
    assert optim.search_space("torch:Adam") == optim.search_space("adam")
    assert list(optim.search_space("torch:Adadelta")) == list(
        optim.search_space("adadelta")
    )
    assert chosen_optimizers(["adam", "torch:Adam", "sgd"]) == [
        "adam",
        "torch:adam",
        "sgd",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("torch:Adamm", r"unknown optimizer 'torch:adamm'.*did you mean 'adam'"),
        (
            "torch:LBFGS",
            r"torch:lbfgs: not available as a gdlab optimizer: its history",
        ),
        ("torch:SparseAdam", r"not available as a gdlab optimizer: it takes sparse"),
    ],
)
def test_unknown_and_unwrappable_names_are_one_clear_error(
    name: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        optim.resolve(name)


def test_bad_hyperparameters_are_refused_before_anything_changes() -> None:
    w = {"w": np.ones((3, 3))}
    with pytest.raises(
        ValueError, match=r"torch:Adam: betas\[0\] must be in \[0, 1\), got 1.0"
    ):
        optim.create("torch:Adam", w, betas=(1.0, 0.9))
    with pytest.raises(
        ValueError, match=r"torch:Rprop: etas\[0\] must be in \(0, 1\), got 1.5"
    ):
        optim.create("torch:Rprop", w, etas=(1.5, 1.2))
    with pytest.raises(
        ValueError, match=r"torch:Adam: keyword 'momentum' must be one of lr, betas"
    ):
        optim.create("torch:Adam", w, momentum=0.9)
    with pytest.raises(ValueError, match=r"torch:Muon: .*2D parameters"):
        optim.create("torch:Muon", {"b": np.ones(3)})
    assert np.array_equal(w["w"], np.ones((3, 3)))


def test_muon_runs_on_matrices() -> None:
    w = {"w": np.random.default_rng(0).standard_normal((4, 3))}
    before = w["w"].copy()
    opt = optim.create("torch:Muon", w, lr=0.02)
    opt.step({"w": np.ones((4, 3))})
    assert set(opt.state["w"]) == {"momentum_buffer"}
    assert not np.array_equal(w["w"], before)


class Crash(Exception):
    pass


def test_a_run_spec_trains_and_resumes_bit_identically(tmp_path: Path) -> None:
    spec = RunSpec(
        data="digits",
        model="mlp:64-16-10",
        optimizer="torch:Adam",
        lr=0.01,
        schedule="cosine",
        train=train.TrainConfig(epochs=2, batch_size=64),
    )
    whole = build(spec)
    expected = train.fit(
        whole.model, whole.optimizer, whole.dataset, spec.train, progress=False
    )
    run = build(spec)
    original, calls = run.model.loss_and_grad, [0]

    def crashing(X: np.ndarray, y: np.ndarray, **out: Any) -> Any:
        calls[0] += 1
        if calls[0] > 30:
            raise Crash
        return original(X, y, **out)

    run.model.loss_and_grad = crashing  # type: ignore[method-assign]
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            spec.train,
            progress=False,
            checkpoint_dir=tmp_path,
            checkpoint_every=7,
            spec=spec.to_dict(),
        )
    hist, model, opt = train.resume(tmp_path, progress=False, rebuild=rebuild)
    assert type(opt).__name__ == "torch:Adam"
    assert opt.step_count == len(expected.steps)
    got = model.params.buffers[np.dtype(np.float32)]
    assert np.array_equal(got, whole.model.params.buffers[np.dtype(np.float32)])
    assert [e["val_loss"] for e in hist.epochs] == [
        e["val_loss"] for e in expected.epochs
    ]


def test_state_dict_round_trip_continues_bit_identically() -> None:
    w = {"w": np.linspace(-1.0, 1.0, 4)}
    opt = optim.create("torch:Adam", w, lr=0.1)
    opt.step({"w": np.ones(4)})
    saved, point = opt.state_dict(), w["w"].copy()
    broken = {**saved, "state": {"w": {**saved["state"]["w"], "exp_avg": np.ones(3)}}}
    with pytest.raises(
        ValueError,
        match=r"torch:Adam: state_dict\['state'\]\['w'\]\['exp_avg'\] must be a real "
        r"array of shape \(4,\), got 'shape \(3,\)",
    ):
        opt.load_state_dict(broken)
    assert np.array_equal(opt.state["w"]["exp_avg"], saved["state"]["w"]["exp_avg"])
    twin_w = {"w": point.copy()}
    twin = optim.create("torch:Adam", twin_w, lr=0.1)
    twin.load_state_dict(saved)
    assert twin.step_count == 1
    g = np.array([0.5, -2.0, 3.0, 0.25])
    opt.step({"w": g})
    twin.step({"w": g})
    assert np.array_equal(twin_w["w"], w["w"])
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert np.array_equal(twin.state["w"][key], opt.state["w"][key])


def test_state_torch_begins_to_keep_after_an_edit_is_declared_and_saved() -> None:
    w = {"w": np.linspace(-1.0, 1.0, 4)}
    opt = optim.create("torch:SGD", w, lr=0.1)
    opt.step({"w": np.ones(4)})
    assert opt.state_layout("w") == {}  # torch keeps momentum_buffer = None
    opt.param_groups[0]["momentum"] = 0.9
    opt.step({"w": np.ones(4)})
    assert set(opt.state_layout("w")) == {"momentum_buffer"} <= set(opt.state_spec)
    twin = optim.create("torch:SGD", {"w": w["w"].copy()}, lr=0.1, momentum=0.9)
    twin.load_state_dict(opt.state_dict())
    assert np.array_equal(twin.state["w"]["momentum_buffer"], np.ones(4))
