"""The optimizer API beyond one element-wise rule: per-parameter state, names,
routing, a global pre-step, closures, the evaluation point, public constraints and
tuple axes."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from gdlab import Params, optim, train
from gdlab.experiment import RunSpec, build
from gdlab.optim import constraints, space
from gdlab.optim.base import Group, Optimizer, State, clipped
from gdlab.train import TrainConfig

from ..conftest import raises_about


def test_adafactor_state_is_factored_per_parameter() -> None:
    params = {"W": np.ones((4, 3)), "T": np.ones((2, 4, 3)), "b": np.ones(3)}
    opt = optim.Adafactor(params)
    shapes = {n: {k: a.shape for k, a in s.items()} for n, s in opt.state.items()}
    assert shapes == {
        "W": {"row_var": (4, 1), "col_var": (1, 3)},
        "T": {"row_var": (2, 4, 1), "col_var": (2, 1, 3)},
        "b": {"variance": (3,)},
    }
    layout = opt.state_layout("W")
    assert layout["row_var"] == ((4, 1), np.dtype(np.float64))
    assert layout["variance"] == ((4, 3), np.dtype(np.float64))


def test_factored_state_round_trips_and_a_wrong_shape_is_refused() -> None:
    params = {"W": np.ones((4, 3)), "b": np.ones(3)}
    opt = optim.Adafactor(params)
    opt.step({"W": np.full((4, 3), 0.5), "b": np.full(3, 0.5)})
    saved = opt.state_dict()
    other = optim.Adafactor({"W": np.ones((4, 3)), "b": np.ones(3)})
    other.load_state_dict(saved)
    np.testing.assert_array_equal(
        other.state["W"]["row_var"], opt.state["W"]["row_var"]
    )
    bad = {
        **saved,
        "state": {
            **saved["state"],
            "W": {"row_var": np.ones((4, 3)), "col_var": np.ones((1, 3))},
        },
    }
    with raises_about("Adafactor", "state_dict['state']['W']['row_var']"):
        other.load_state_dict(bad)


def test_muon_routes_hidden_matrices_and_keeps_only_their_buffer() -> None:
    params = {
        "W1": np.ones((8, 6)),
        "b1": np.ones(6),
        "W2": np.ones((6, 3)),
        "b2": np.ones(3),
    }
    opt = optim.Muon(params)
    assert {n: sorted(s) for n, s in opt.state.items()} == {
        "W1": ["momentum_buffer"],
        "b1": ["exp_avg", "exp_avg_sq"],
        "W2": ["exp_avg", "exp_avg_sq"],  # the output layer: the last matrix
        "b2": ["exp_avg", "exp_avg_sq"],
    }
    every = optim.Muon(params, adamw_last=False, adamw_params=("W1",))
    assert sorted(every.state["W2"]) == ["momentum_buffer"]
    assert sorted(every.state["W1"]) == ["exp_avg", "exp_avg_sq"]
    stored = sum(a.size for s in opt.state.values() for a in s.values())
    assert stored == 48 + 2 * (6 + 18 + 3)  # not 3 floats for every parameter


def test_a_per_parameter_state_needs_whole_arrays() -> None:
    with pytest.raises(TypeError, match="needs elementwise = False"):

        class Fused(Optimizer):
            def state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
                return shape


class _Names(Optimizer):
    """Records the names each update sees; clips the global norm first."""

    defaults: ClassVar[dict[str, Any]] = {"lr": 1.0, "max_norm": 1.0}
    constraints: ClassVar[dict[str, Any]] = {"max_norm": constraints.positive}
    search_space: ClassVar[dict[str, space.Axis]] = {"lr": space.log_uniform(0.1, 1)}
    elementwise = False

    def __init__(self, params: Any, **hyper: Any) -> None:
        super().__init__(params, **hyper)
        self.seen: list[tuple[str, ...]] = []

    def prepare(self, grads: dict[str, Any]) -> dict[str, Any]:
        return clipped(grads, self.param_groups[0]["max_norm"])

    def update(
        self, group: Group, step: int, lr: float, p: Any, g: Any, state: State
    ) -> None:
        self.seen.append(state.names)
        p -= lr * g


def test_updates_see_names_and_the_global_clip_runs_first() -> None:
    params = {"a": np.zeros(2), "b": np.zeros((1, 1))}
    opt = _Names(params)
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    opt.step(grads)
    assert opt.seen == [("a",), ("b",)]
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(params["a"], [-3.0 * scale, 0.0], rtol=1e-15)
    np.testing.assert_allclose(params["b"], [[-4.0 * scale]], rtol=1e-15)
    np.testing.assert_array_equal(grads["a"], [3.0, 0.0])  # given arrays untouched


def test_step_takes_a_closure_and_returns_none_when_it_does_not_call_it() -> None:
    calls = []

    def closure() -> tuple[float, dict[str, Any]]:
        calls.append(1)
        return 0.0, {"w": np.zeros(1)}

    assert (
        optim.SGD({"w": np.zeros(1)}, lr=0.1).step({"w": np.ones(1)}, closure) is None
    )
    assert calls == []  # SGD needs no re-evaluation


def test_schedulefree_evaluates_at_x_and_restores_y_bit_for_bit() -> None:
    w = {"w": np.array([1.0, -2.0])}
    opt = optim.SGDScheduleFree(w, lr=0.1)
    assert opt.eval_params()["w"] is w["w"]  # before a step: the parameters
    for _ in range(3):
        opt.step({"w": w["w"].copy()})
    y = w["w"].copy()
    x = opt.state["w"]["x"].copy()
    assert not np.array_equal(x, y)
    with opt.evaluating():
        np.testing.assert_array_equal(w["w"], x)
    np.testing.assert_array_equal(w["w"], y)


@pytest.mark.slow
def test_fit_evaluates_schedulefree_at_x() -> None:
    spec = RunSpec(
        data="digits",
        model="mlp:64-16-10",
        optimizer="schedulefree_adamw",
        lr=0.01,
        train=TrainConfig(iterations=20, batch_size=64, eval_every=20),
    )
    run = build(spec)
    history = train.fit(
        run.model, run.optimizer, run.dataset, spec.train, progress=False
    )
    at_y = train.evaluate(run.model, run.dataset.X_train, run.dataset.y_train)[0]
    with run.optimizer.evaluating():
        at_x = train.evaluate(run.model, run.dataset.X_train, run.dataset.y_train)[0]
    assert at_x != at_y
    assert history.epochs[-1]["train_loss"] == at_x


def test_tuple_axes_name_any_element() -> None:
    assert space.element("beta3") == ("betas", 2)
    assert space.element("beta0") is None and space.element("betas") is None
    hyper: dict[str, Any] = {"betas": (0.9, 0.99, 0.999)}
    space.assign(hyper, "beta3", 0.5)
    assert hyper["betas"] == (0.9, 0.99, 0.5)
    assert space.current(hyper, "beta3") == 0.5
    assert space.hyperparameter("beta3") == "betas"


def test_constraints_are_public_and_speak_the_one_format() -> None:
    assert constraints.ema_tuple("Adan", "betas", [0.9, 0.9, 0.99]) == (0.9, 0.9, 0.99)
    with raises_about("Adan", "betas[2]", got="1.0"):
        constraints.ema_tuple("Adan", "betas", (0.9, 0.9, 1.0))
    with raises_about("X", "lr", got="0"):
        constraints.positive("X", "lr", 0)
    with raises_about("X", "n"):
        constraints.count("X", "n", 0)


def test_fused_params_and_factored_state_agree() -> None:
    rng = np.random.default_rng(0)
    init = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    fused, plain = Params(init), {n: a.copy() for n, a in init.items()}
    a, b = optim.Adafactor(fused), optim.Adafactor(plain)
    for _ in range(3):
        g = {n: rng.standard_normal(x.shape) for n, x in init.items()}
        a.step(g)
        b.step(g)
    for n in init:
        np.testing.assert_array_equal(fused[n], plain[n])


def test_warm_up_meets_the_variants_later_steps_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RAdam's rectified variant starts at step 6: warm_up steps that far, so no
    kernel compiles inside a run's clock (issue 28; bench_step caught it)."""
    seen: list[bool] = []
    scalars = optim.RAdam.scalars

    def recorded(self: Any, *args: Any) -> dict[str, Any]:
        values = scalars(self, *args)
        seen.append(values["adaptive"])
        return values

    monkeypatch.setattr(optim.RAdam, "scalars", recorded)
    opt = optim.RAdam({"w": np.ones(3)}, lr=0.1)
    opt.warm_up()
    assert False in seen and True in seen and opt.step_count == 0


def test_warm_up_meets_asgds_averaging_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    """ASGD averages only after step t₀ (10⁶ by default): warm_up compiles that
    variant too, so it never compiles in the middle of a long run."""
    seen: list[bool] = []
    scalars = optim.ASGD.scalars

    def recorded(self: Any, *args: Any) -> dict[str, Any]:
        values = scalars(self, *args)
        seen.append(values["averaging"])
        return values

    monkeypatch.setattr(optim.ASGD, "scalars", recorded)
    opt = optim.ASGD({"w": np.ones(3)}, lr=0.1)
    opt.warm_up()
    assert False in seen and True in seen
    assert opt.step_count == 0 and opt.param_groups[0]["t0"] == 1e6


def test_warm_up_compiles_without_touching_the_optimizer() -> None:
    params = Params({"W": np.ones((3, 2), np.float32), "b": np.ones(2)})
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    before = opt.state_dict()
    opt.warm_up()
    keys = {(np.dtype(np.float32), False, True, False, False)}  # serial: small
    assert keys <= set(optim.Adam.rule.variants)  # type: ignore[union-attr]
    assert opt.step_count == 0 and np.all(params["W"] == 1) and np.all(params["b"] == 1)
    for n, state in before["state"].items():
        for k, a in state.items():
            np.testing.assert_array_equal(opt.state[n][k], a)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "lr"), [("schedulefree_adamw", 0.01), ("asgd", 0.1), ("lbfgs", 0.5)]
)
def test_resume_is_bit_identical_with_an_evaluation_point_or_a_closure(
    tmp_path: Any, name: str, lr: float
) -> None:
    from gdlab.lab.runs import rebuild

    from ..test_train import SPEC, Crash, crash_after, params_equal, uninterrupted

    spec = SPEC.replace(
        optimizer=name, lr=lr, hyper={"t0": 5.0} if name == "asgd" else {}
    )
    expected_hist, expected = uninterrupted(spec)
    run = build(spec)
    crash_after(run.model, 70 if name == "lbfgs" else 40)  # L-BFGS: up to 25 a step
    with pytest.raises(Crash):
        train.fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=tmp_path,
            checkpoint_every=1,
            progress=False,
            spec=spec.to_dict(),
        )
    hist, model, _ = train.resume(tmp_path, progress=False, rebuild=rebuild)
    params_equal(model, expected)
    assert [e["val_loss"] for e in hist.epochs] == [
        e["val_loss"] for e in expected_hist.epochs
    ]


@pytest.mark.parametrize("tall", [True, False])
@pytest.mark.parametrize(("steps", "smallest"), [(5, 1e-6), (20, 1e-2), (99, 1e-2)])
def test_newton_schulz_keeps_float32_accuracy(
    steps: int, smallest: float, tall: bool
) -> None:
    """A gradient's singular values span 1 to ``smallest``: float32 stays within
    1e-5 of the float64 iteration (the Gram-space form it replaced was off by 2e-3
    at 5 steps on the first and NaN at 20 steps), and within the quintic's band."""
    from gdlab.optim.muon import NS_COEFFICIENTS, newton_schulz

    rng = np.random.default_rng(steps)
    u, _ = np.linalg.qr(rng.standard_normal((64, 64)))
    v, _ = np.linalg.qr(rng.standard_normal((150, 64)))
    g = ((v * np.geomspace(1, smallest, 64)) @ u.T).astype(np.float32)  # (150, 64)
    a, b, c = NS_COEFFICIENTS
    x = g.T.astype(np.float64) / np.linalg.norm(g.astype(np.float64))
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    got = newton_schulz(g if tall else g.T, NS_COEFFICIENTS, steps, 1e-7)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_allclose(got, x.T if tall else x, rtol=0, atol=1e-5)
    assert np.linalg.svd(got.astype(np.float64), compute_uv=False).max() < 1.3
