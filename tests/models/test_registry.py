"""Models by name: the spec syntax, registering, the checks before training, and
the workloads' own models (DeepOBS's noisy quadratic, the autoencoder)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from gdlab import Params, data, models
from gdlab.experiment import RunSpec, build, build_model, parse_model
from gdlab.models import quadratic, registry
from gdlab.train import TrainConfig


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load("digits", dtype="float64")


@pytest.fixture
def clean() -> Iterator[list[str]]:
    """Names registered by a test, forgotten after it."""
    added: list[str] = []
    yield added
    for name in added:
        registry.MODELS.remove(name)


class Tiny:
    """A linear classifier with a configurable flaw."""

    is_classifier = True
    loss_name = "tiny"

    def __init__(self, n: int, k: int, width: int = 1, flaw: str = "") -> None:
        shape = (0, k) if flaw == "empty" else (n, k)
        self.params = Params({"W": np.full(shape, 0.01 * width)})
        self.flaw = flaw

    def loss(self, X: Any, y: Any) -> Any:
        per_sample = np.sum(X @ self.params["W"], axis=1) ** 2
        return per_sample if self.flaw == "vector" else float(per_sample.mean())

    def loss_and_grad(self, X: Any, y: Any) -> tuple[float, Params]:
        raise NotImplementedError

    def accuracy(self, X: Any, y: Any) -> float:
        return 0.0


def tiny(ds: data.Dataset, *, seed: int, dtype: str, width: int = 1) -> Tiny:
    return Tiny(ds.n_features, ds.n_classes, width)


def test_the_builtin_specs_build_as_before(digits: data.Dataset) -> None:
    assert models.names()[:3] == ("mlp", "softmax", "linear")
    spec = RunSpec(model="mlp:64-32-10", dtype="float64", activation="tanh", l2=0.1)
    model = build_model(spec, digits)
    assert isinstance(model, models.MLP)
    assert (model.sizes, model.activation, model.l2) == ((64, 32, 10), "tanh", 0.1)
    assert build_model(RunSpec(model="mlp"), digits).sizes == (64, 100, 10)  # type: ignore[attr-defined]
    zeros = build_model(RunSpec(model="mlp:64-8-10,init=zeros"), digits)
    assert not zeros.params["W1"].any()
    assert parse_model("MLP:64-8-10,init=zeros") == (
        "mlp",
        {"sizes": "64-8-10", "init": "zeros"},
    )
    assert isinstance(
        build_model(RunSpec(model="softmax"), digits), models.SoftmaxRegression
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mlp:64-10-3", r"^model: sizes must be the data's 64 features first"),
        ("softmax:64", r"^model: softmax must be given without a shorthand"),
        ("mlp:64-8-10,foo=1", r"^model: option 'foo' of mlp must be one of sizes, "),
        ("mlp:64-8-10,init=zeros,init=he", r"^model: option 'init' must be given once"),
        ("mlp:64-8-10,3", r"^model: options must be key=value pairs after the first"),
        (
            "mlpp",
            r"^model: kind must be one of mlp, .*got 'mlpp' \(did you mean 'mlp'\?\)",
        ),
        ("linear", r"^model: linear must be used with regression data, got 'digits'"),
    ],
)
def test_a_bad_spec_is_one_error(digits: data.Dataset, spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_model(RunSpec(model=spec), digits)


def test_a_run_field_the_model_does_not_take_is_refused(digits: data.Dataset) -> None:
    with pytest.raises(ValueError, match=r"^model: softmax's activation must be its "):
        build_model(RunSpec(model="softmax", activation="tanh"), digits)
    with pytest.raises(ValueError, match=r"^model: init must be given once"):
        build_model(RunSpec(model="mlp:64-8-10,init=he", init="zeros"), digits)


def test_a_registered_model_trains_by_name_with_its_options(
    digits: data.Dataset, clean: list[str]
) -> None:
    models.register("my-tiny", tiny)
    clean.append("my-tiny")
    model = build_model(RunSpec(model="My_Tiny:width=3"), digits)
    assert isinstance(model, Tiny) and model.params["W"][0, 0] == pytest.approx(0.03)
    with pytest.raises(ValueError, match=r"^model: option 'depth' of my-tiny must be "
                       r"one of width, got 'my-tiny:depth=2'"):  # fmt: skip
        build_model(RunSpec(model="my-tiny:depth=2"), digits)
    with pytest.raises(ValueError, match=r"a model named 'my-tiny' is already regist"):
        models.register("my-tiny", tiny)
    with pytest.raises(ValueError, match=r"a model named 'mlp' is already registered"):
        models.register("MLP", tiny)
    with pytest.raises(ValueError, match=r"name must be lower-case letters"):
        models.register("a:b", tiny)


@pytest.mark.parametrize(
    ("flaw", "message"),
    [
        ("empty", r"^model: bad must be a model with parameters, got 'none'"),
        (
            "vector",
            r"^model: bad's loss must be one real number \(a scalar\), got "
            r"'an array of shape \(2,\)'",
        ),
    ],
)
def test_a_model_fit_cannot_train_is_refused_before_training(
    digits: data.Dataset, clean: list[str], flaw: str, message: str
) -> None:
    models.register(
        "bad", lambda ds, *, seed, dtype: Tiny(ds.n_features, ds.n_classes, flaw=flaw)
    )
    clean.append("bad")
    with pytest.raises(ValueError, match=message):
        build(RunSpec(model="bad"), digits)


def test_a_builder_must_return_a_trainable_model(
    digits: data.Dataset, clean: list[str]
) -> None:
    models.register("nothing", lambda ds, *, seed, dtype: object())
    clean.append("nothing")
    message = r"^model: nothing's builder must be a function returning a Trainable"
    with pytest.raises(ValueError, match=message + r"Model .*missing params, is_class"):
        build_model(RunSpec(model="nothing"), digits)


def test_quadratic_deep_has_deepobs_spectrum_and_exact_gradients() -> None:
    q = quadratic.hessian()
    eigenvalues = np.sort(np.linalg.eigvalsh(q))
    assert q.shape == (100, 100) and np.array_equal(q, q.T)
    assert eigenvalues[0] > 0 and eigenvalues[89] < 1  # 90 in (0, 1)
    assert eigenvalues[90] > 30 and eigenvalues[99] < 60  # 10 in (30, 60)
    r = quadratic.haar_rotation(5, np.random.default_rng(1))
    np.testing.assert_allclose(r @ r.T, np.eye(5), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    ds = data.load("quadratic-deep", val_fraction=None)
    assert (ds.n_train, ds.n_test, ds.n_features, ds.classes) == (1000, 1000, 100, ())
    assert ds.X_train.std() == pytest.approx(0.6, rel=0.01)
    model = build_model(RunSpec(data="quadratic-deep", model="quadratic-deep"), ds)
    assert isinstance(model, models.NoisyQuadratic) and model.dtype == np.float32
    model64 = models.NoisyQuadratic(q)
    X = ds.X_train[:16]
    loss, g = model64.loss_and_grad(X, None)
    d = 1.0 - X  # theta starts at 1
    assert loss == pytest.approx(0.5 * np.mean([v @ q @ v for v in d]), rel=1e-12)
    np.testing.assert_allclose(g["theta"], q @ (1.0 - X.mean(axis=0)), rtol=1e-12)
    assert models.gradcheck(model64, X, None, max_entries=20) < 1e-8


def test_the_autoencoder_reconstructs_its_input_with_exact_gradients(
    digits: data.Dataset,
) -> None:
    model = build_model(RunSpec(model="autoencoder:16-4-16", dtype="float64"), digits)
    assert isinstance(model, models.AutoEncoder) and model.sizes == (64, 16, 4, 16, 64)
    assert not model.is_classifier
    rng = np.random.default_rng(0)
    for name in model.params:  # random biases: no ReLU input on its kink
        model.params[name][...] = rng.standard_normal(model.params[name].shape) * 0.5
    X = digits.X_train[:8]
    z = model.forward(X)
    assert model.loss(X, None) == pytest.approx(np.mean((z - X) ** 2), rel=1e-12)
    assert models.gradcheck(model, X, np.zeros(8), max_entries=30) < 1e-7
    run = build(RunSpec(model="autoencoder:8", lr=0.01, train=TrainConfig(epochs=3)))
    from gdlab.train import fit

    before = run.model.loss(run.dataset.X_val, run.dataset.y_val)
    history = fit(run.model, run.optimizer, run.dataset, run.spec.train, progress=False)
    after = history.epochs[-1]["val_loss"]
    assert after < 0.7 * before  # it learns to reconstruct
    assert history.epochs[-1].get("val_acc") is None  # no accuracy: not a classifier


def test_the_autoencoder_names_a_non_finite_input_x() -> None:
    """Its input is its target: a NaN in X is reported as X (not as the targets it
    never saw as y), by every method, before anything is written."""
    model = models.AutoEncoder(6, [3], seed=0)
    X = np.ones((4, 6))
    X[1, 2] = np.nan
    grads = model.grads.copy()
    for call in (
        lambda: model.loss_and_grad(X),
        lambda: model.loss(X),
        lambda: model.evaluate(X, X),
        lambda: model.forward(X),
    ):
        with pytest.raises(ValueError, match=r"^AutoEncoder: X must be finite"):
            call()
    for name in model.grads:
        np.testing.assert_array_equal(model.grads[name], grads[name])
