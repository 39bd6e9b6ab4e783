"""A population's members equal the same runs trained alone with ``fit``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gdlab import data, optim, schedules
from gdlab.models import MLP, LinearRegression, SoftmaxRegression
from gdlab.models.population import PopulationModel
from gdlab.optim.population import Population
from gdlab.population import fit_population, unsupported
from gdlab.train import TrainConfig, fit, resume

RNG = np.random.default_rng(0)
X = RNG.standard_normal((160, 6))
Y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
DATA = data.from_arrays(X[:100], Y[:100], X[130:], Y[130:], X[100:130], Y[100:130])


def run_pair(
    optimizer: str,
    settings: list[dict[str, Any]],
    config: TrainConfig,
    *,
    model: str = "mlp",
) -> list[tuple[Any, Any, Any, Any]]:
    """(history alone, history in the population, params alone, params after)."""

    def make(i: int, s: dict[str, Any]) -> tuple[Any, Any]:
        seed = s.get("seed", i)
        if model == "mlp":
            m: Any = MLP([6, 8, 5, 3], seed=seed, l2=s.get("l2", 0.0))
        else:
            m = SoftmaxRegression(6, 3, seed=seed, init="he")
        hyper = {k: v for k, v in s.items() if k not in ("seed", "l2")}
        name, preset = optim.resolve(optimizer)
        return m, optim.create(name, m.params, **{**preset, **hyper})

    configs = [
        TrainConfig(**{**config.to_dict(), "seed": s.get("seed", i)})
        for i, s in enumerate(settings)
    ]
    alone = []
    for i, (s, c) in enumerate(zip(settings, configs, strict=True)):
        m, o = make(i, s)
        history = fit(m, o, DATA, c, progress=False)
        alone.append((history, next(iter(m.params.values())).copy()))
    pairs = [make(i, s) for i, s in enumerate(settings)]
    together = fit_population(
        [m for m, _ in pairs], [o for _, o in pairs], DATA, configs
    )
    return [
        (h, t, p, next(iter(m.params.values())))
        for (h, p), t, (m, _) in zip(alone, together, pairs, strict=True)
    ]


def same(a: Any, b: Any) -> None:
    """Histories equal to 1e-10 (seconds aside), messages and configs equal."""
    assert len(a.steps) == len(b.steps)
    for x, y in zip(a.steps, b.steps, strict=True):
        assert x["step"] == y["step"] and x["lr"] == pytest.approx(y["lr"], abs=1e-12)
        assert x["loss"] == pytest.approx(y["loss"], abs=1e-10)
    assert [e["step"] for e in a.epochs] == [e["step"] for e in b.epochs]
    for x, y in zip(a.epochs, b.epochs, strict=True):
        for key in x:
            if key == "seconds" or x[key] is None:
                assert key == "seconds" or y[key] is None
                continue
            assert x[key] == pytest.approx(y[key], abs=1e-10), key
    assert (a.diverged, a.message, a.config) == (b.diverged, b.message, b.config)


WARMUP = schedules.for_run("cosine", 0.05, 30, warmup=6)

CASES = {
    "sgd": [{"lr": 0.1}, {"lr": 0.03, "seed": 0}, {"lr": 0.2, "weight_decay": 1e-3}],
    "momentum": [{"lr": 0.05, "momentum": 0.5}, {"lr": WARMUP, "momentum": 0.95}],
    "nesterov": [{"lr": 0.05}, {"lr": 0.01, "momentum": 0.8}],
    "adam": [{"lr": 0.01, "betas": (0.8, 0.99)}, {"lr": WARMUP}, {"lr": 1e-3}],
    "adamw": [{"lr": 0.01}, {"lr": 0.003, "weight_decay": 0.3, "l2": 1e-3}],
    "radam": [{"lr": 0.01, "betas": (0.9, 0.9)}, {"lr": 0.01}],  # adaptive differs
    "rmsprop": [{"lr": 0.01, "momentum": 0.5}, {"lr": 0.003, "momentum": 0.9}],
}


@pytest.mark.parametrize("optimizer", sorted(CASES))
def test_members_equal_fit(optimizer: str) -> None:
    config = TrainConfig(epochs=3, batch_size=10)  # 30 steps, 3 evaluations
    for alone, member, p, q in run_pair(optimizer, CASES[optimizer], config):
        same(alone, member)
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-10)
        assert not alone.diverged


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(iterations=13, batch_size=32, eval_every=5, clip_grad_norm=0.5),
        TrainConfig(epochs=2, batch_size="full", eval_at_start=True),
        TrainConfig(epochs=2, batch_size=16, sampling="with-replacement"),
        TrainConfig(epochs=2, batch_size=16, train_eval_rows=40),  # fit's sample
    ],
    ids=["eval-every-clip", "full-batch", "with-replacement", "train-eval-sample"],
)
def test_configs_equal_fit(config: TrainConfig) -> None:
    settings = [{"lr": 0.05}, {"lr": 0.02, "seed": 0}, {"lr": 0.01, "seed": 5}]
    for alone, member, p, q in run_pair("adam", settings, config):
        same(alone, member)
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-10)


def test_softmax_regression_members_equal_fit() -> None:
    settings = [{"lr": 0.5}, {"lr": 0.1}]
    config = TrainConfig(epochs=2, batch_size=25)
    for alone, member, p, q in run_pair("sgd", settings, config, model="softmax"):
        same(alone, member)
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-10)


def test_a_diverged_member_stops_alone() -> None:
    settings = [{"lr": 0.05}, {"lr": 1e9}, {"lr": 0.01}]
    config = TrainConfig(epochs=2, batch_size=20)
    results = run_pair("adam", settings, config)
    for alone, member, p, q in results:
        same(alone, member)
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-10)
    diverged = [member for _, member, _, _ in results if member.diverged]
    assert len(diverged) == 1 and diverged[0].message.startswith("diverged at step")
    assert len(results[0][1].steps) == 10 == len(results[2][1].steps)
    assert len(diverged[0].steps) < 10


def test_members_hold_their_state_after() -> None:
    """After the population, each optimizer continues alone exactly as fit's."""
    config = TrainConfig(epochs=1, batch_size=25)
    m1, m2 = MLP([6, 4, 3], seed=1), MLP([6, 4, 3], seed=1)
    o1 = optim.SGD(m1.params, lr=0.1, momentum=0.9)
    o2 = optim.SGD(m2.params, lr=0.1, momentum=0.9)
    fit(m1, o1, DATA, config, progress=False)
    fit_population([m2], [o2], DATA, [config])
    assert o2.step_count == o1.step_count == 4
    for m, o in ((m1, o1), (m2, o2)):
        o.step(m.loss_and_grad(X[:5], Y[:5])[1])
    np.testing.assert_array_equal(m1.params["W1"], m2.params["W1"])


def test_runs_kernel_is_each_run_alone() -> None:
    """The per-run variant of a rule gives every run the rule's own numbers."""
    k, n = 3, 7
    p, g, buf = (RNG.standard_normal((k, n)) for _ in range(3))
    lrs, momenta = np.array([0.1, 0.5, 0.0]), np.array([0.9, 0.0, 0.3])
    want, want_buf = p.copy(), buf.copy()
    for r in range(k):
        optim.SGD.rule(
            want[r],
            g[r],
            want_buf[r],
            lrs[r],
            momenta[r],
            0.0,
            0.0,
            False,
            False,
            False,
        )
    zeros = np.zeros(k)
    args = (lrs, momenta, zeros, zeros, False, False, False)
    optim.SGD.rule.runs(p.reshape(-1), n, g.reshape(-1), buf.reshape(-1), *args)
    np.testing.assert_array_equal(p, want)
    np.testing.assert_array_equal(buf, want_buf)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_evaluate_is_each_models_own(dtype: str, activation: str) -> None:
    """A population's evaluation gives each run exactly its model's own numbers
    (NaN for a run whose logits overflow), chunk by chunk, for all its runs or
    some of them (in the order asked)."""
    models = [
        MLP([6, 8, 5, 3], activation, seed=s, l2=0.01 * s, dtype=dtype)
        for s in range(3)
    ]
    next(iter(models[1].params.buffers.values()))[:] = np.finfo(dtype).max / 4
    together = PopulationModel(models)
    for chunk in (1000, 7):
        with np.errstate(over="ignore", invalid="ignore"):  # the diverged run's
            alone = [m.evaluate(X, Y, chunk=chunk) for m in models]
            for runs in (None, [2, 0], [1]):
                losses, accs = together.evaluate(X, Y, chunk, runs=runs)
                chosen = [0, 1, 2] if runs is None else runs
                assert len(losses) == len(accs) == len(chosen)
                for j, r in enumerate(chosen):
                    loss, acc = alone[r]
                    assert acc is not None
                    if r == 1:
                        assert math.isnan(losses[j]) and math.isnan(loss)
                        assert math.isnan(accs[j]) and math.isnan(acc)
                    else:
                        assert (losses[j], accs[j]) == (loss, acc), (runs, r)


def test_what_cannot_run_as_a_population() -> None:
    config = TrainConfig()
    m = MLP([6, 4, 3])
    assert unsupported(m, optim.Adam(m.params), config) is None
    assert "scalar state" in str(unsupported(m, optim.NAdam(m.params), config))
    assert "element-wise" in str(unsupported(m, optim.AdamP(m.params), config))
    assert "own eval_params" in str(
        unsupported(m, optim.SGDScheduleFree(m.params), config)
    )
    r = LinearRegression(n_features=6)
    assert "mse" in str(unsupported(r, optim.SGD(r.params), config))
    notes = TrainConfig(notes_loop=True)
    assert "notes" in str(unsupported(m, optim.SGD(m.params), notes))
    with pytest.raises(ValueError, match="runs must be runs a population can train"):
        fit_population([m], [optim.NAdam(m.params)], DATA, [config])
    with pytest.raises(ValueError, match="the same but for the seed"):
        fit_population(
            [m, MLP([6, 4, 3])],
            [optim.SGD(m.params), optim.SGD(MLP([6, 4, 3]).params)],
            DATA,
            [config, TrainConfig(epochs=2)],
        )


def test_population_refuses_mixed_optimizers() -> None:
    a, b = MLP([6, 4, 3]), MLP([6, 4, 3])
    stacked = np.stack([a.params.buffers[np.dtype(np.float64)]] * 2)
    with pytest.raises(ValueError, match="Population: members must be all SGD"):
        Population([optim.SGD(a.params), optim.Adam(b.params)], stacked)


def test_each_member_writes_fits_checkpoints(tmp_path: Any) -> None:
    from gdlab import checkpoint

    config = TrainConfig(epochs=2, batch_size=30)  # 4 steps an epoch, the last short
    settings = [{"lr": 0.05, "momentum": 0.9}, {"lr": 0.1, "momentum": 0.5}]

    def make(s: dict[str, Any]) -> tuple[Any, Any]:
        m = MLP([6, 4, 3], seed=3)
        return m, optim.SGD(m.params, **s)

    dirs = [tmp_path / f"alone{i}" for i in range(2)]
    for s, d in zip(settings, dirs, strict=True):
        m, o = make(s)
        fit(m, o, DATA, config, progress=False, checkpoint_dir=d)
    pairs = [make(s) for s in settings]
    together = [tmp_path / f"member{i}" for i in range(2)]
    fit_population(
        [m for m, _ in pairs],
        [o for _, o in pairs],
        DATA,
        [config] * 2,
        checkpoint_dirs=together,
    )
    for a, b in zip(dirs, together, strict=True):
        assert [p.name for p in checkpoint.paths(a)] == [
            p.name for p in checkpoint.paths(b)
        ]
        arrays_a, meta_a, _ = checkpoint.load_latest(a)
        arrays_b, meta_b, _ = checkpoint.load_latest(b)
        for meta in (meta_a, meta_b):
            del meta["elapsed"]
            for row in meta["history"]["epochs"]:
                del row["seconds"]
        assert meta_a == meta_b
        assert sorted(arrays_a) == sorted(arrays_b)
        for name in arrays_a:
            np.testing.assert_array_equal(arrays_a[name], arrays_b[name])
    # a member's checkpoint of the first epoch continues alone to fit's end
    checkpoint.paths(together[0])[-1].unlink()
    m, o = make(settings[0])
    history, _, _ = resume(together[0], m, o, DATA, progress=False)
    arrays, _, _ = checkpoint.load_latest(dirs[0])
    assert len(history.steps) == 8
    np.testing.assert_array_equal(m.params["W1"], arrays["param/W1"])


def test_float64_data_trains_float32_members_as_fit_does() -> None:
    config = TrainConfig(epochs=1, batch_size=25)
    alone = MLP([6, 4, 3], seed=2, dtype=np.float32)
    history = fit(
        alone, optim.Adam(alone.params, lr=0.01), DATA, config, progress=False
    )
    m = MLP([6, 4, 3], seed=2, dtype=np.float32)
    (member,) = fit_population([m], [optim.Adam(m.params, lr=0.01)], DATA, [config])
    same(history, member)
    np.testing.assert_array_equal(m.params["W1"], alone.params["W1"])


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_smooth_activations_equal_fit(activation: str) -> None:
    config = TrainConfig(epochs=1, batch_size=20)
    histories, weights = [], []
    for _ in range(2):  # alone, then as a population of two
        models = [MLP([6, 5, 3], activation, seed=s) for s in (0, 1)]
        opts = [optim.SGD(m.params, lr=0.3, momentum=0.5) for m in models]
        if not histories:
            histories.append(
                [
                    fit(m, o, DATA, config, progress=False)
                    for m, o in zip(models, opts, strict=True)
                ]
            )
        else:
            histories.append(fit_population(models, opts, DATA, [config] * 2))
        weights.append([m.params["W2"].copy() for m in models])
    for a, b in zip(*histories, strict=True):
        same(a, b)
    for p, q in zip(*weights, strict=True):
        np.testing.assert_allclose(q, p, rtol=0, atol=1e-10)
