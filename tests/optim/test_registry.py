"""The registry: names, presets, register(), entry points and search spaces."""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from gdlab import optim
from gdlab.optim import space
from gdlab.optim.space import Axis, log_uniform

from ..conftest import raises_about


class Sign(optim.Optimizer):
    """signSGD: θ ← θ − η·sign(g)."""

    defaults: ClassVar[dict[str, Any]] = {"lr": 0.01}
    search_space: ClassVar[dict[str, Axis]] = {"lr": log_uniform(1e-4, 1e-1)}

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        p -= lr * np.sign(g)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    registry, presets = dict(optim.REGISTRY), dict(optim.PRESETS)
    yield
    optim.REGISTRY.clear()
    optim.REGISTRY.update(registry)
    optim.PRESETS.clear()
    optim.PRESETS.update(presets)


def test_presets_build_through_create() -> None:
    w = {"w": np.ones(2)}
    opt = optim.create("Nesterov", w, lr=0.05)
    assert isinstance(opt, optim.SGD)
    assert opt.param_groups[0]["momentum"] == 0.9
    assert opt.param_groups[0]["nesterov"] is True
    assert optim.create("momentum", w, momentum=0.5).param_groups[0]["momentum"] == 0.5
    assert optim.names(presets=True)[-2:] == ["momentum", "nesterov"]
    assert optim.suggested_lr("momentum") == 0.05
    assert optim.suggested_lr("sgd") == 0.1
    assert optim.suggested_lr("adam") == 1e-3


@pytest.mark.usefixtures("clean_registry")
def test_a_registered_optimizer_is_known_everywhere_names_are() -> None:
    optim.register("sign", Sign)
    w = {"w": np.array([1.0, -1.0])}
    opt = optim.create("SIGN", w, lr=0.5)
    opt.step({"w": np.array([3.0, -0.1])})
    np.testing.assert_array_equal(w["w"], [0.5, -0.5])
    assert "sign" in optim.names()
    assert optim.suggested_lr("sign") == 0.01  # defaults["lr"] when not suggested
    optim.register_preset("fast_sign", "sign", suggested_lr=0.1)
    assert optim.resolve("fast_sign") == ("sign", {})


@pytest.mark.slow
@pytest.mark.usefixtures("clean_registry")
def test_a_registered_optimizer_reaches_every_command(tmp_path: Path) -> None:
    """README: adding an optimizer touches its file, its register line and its case;
    compare, sweep, the playground and the CLI read the registry."""
    from click.testing import CliRunner

    from gdlab.cli import main
    from gdlab.experiment import RunSpec, build
    from gdlab.lab import compare
    from gdlab.playground import api
    from gdlab.train import TrainConfig

    optim.register("sign", Sign)
    assert "sign" in compare.all_optimizers()
    spec = RunSpec(model="softmax", optimizer="sign", train=TrainConfig(epochs=1))
    assert isinstance(build(spec).optimizer, Sign)
    assert build(spec).optimizer.param_groups[0]["lr"] == 0.01  # its suggested lr
    api.optimizers_json.cache_clear()
    try:
        listed = [o["name"] for o in api.optimizers_payload()["optimizers"]]
    finally:
        api.optimizers_json.cache_clear()
    assert "sign" in listed
    out = tmp_path / "run"
    args = "train --optimizer sign --model softmax --epochs 1 --quiet --out"
    result = CliRunner().invoke(main, [*args.split(), str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "history.json").is_file()


class NoSpace(Sign):
    search_space: ClassVar[dict[str, Axis]] = {}


class BadDefault(Sign):
    defaults: ClassVar[dict[str, Any]] = {"lr": 0.01, "momentum": -1.0}
    constraints: ClassVar[dict[str, Any]] = {
        "momentum": optim.SGD.constraints["momentum"]
    }


class NegativeLr(Sign):
    defaults: ClassVar[dict[str, Any]] = {"lr": -1.0}
    suggested_lr = 0.1  # the default lr itself is what is refused


class NoLr(Sign):
    defaults: ClassVar[dict[str, Any]] = {"rate": 0.01}


class StrayAxis(Sign):
    search_space: ClassVar[dict[str, Axis]] = {
        "lr": log_uniform(1e-3, 1.0),
        "beta1": log_uniform(1e-3, 0.5),
    }


@pytest.mark.usefixtures("clean_registry")
@pytest.mark.parametrize(
    ("name", "cls", "message"),
    [
        ("adam", Sign, r"^register: 'adam' is already registered$"),
        ("momentum", Sign, r"^register: 'momentum' is already registered$"),
        ("Sign", Sign, r"^register: name must be a lower-case identifier"),
        (
            "sign",
            int,
            r"must be a subclass of gdlab.optim.Optimizer, got <class",
        ),
        ("sign", optim.Optimizer, r"must be a subclass of gdlab.optim.Optimizer"),
        ("sign", NoSpace, r"NoSpace.search_space must map 'lr'"),
        ("sign", BadDefault, r"BadDefault's BadDefault: momentum must be >= 0"),
        ("sign", NoLr, r"NoLr.defaults must be a dict with 'lr'"),
        (
            "sign",
            NegativeLr,
            r"^register\('sign'\): NegativeLr's defaults\['lr'\] must be a number "
            r"> 0, got -1.0$",
        ),  # was accepted
        (
            "sign",
            StrayAxis,
            r"has axes for no hyperparameter: \['beta1'\]",
        ),
    ],
)
def test_register_refuses_what_it_cannot_use(name: str, cls: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        optim.register(name, cls)
    assert "sign" not in optim.REGISTRY


@pytest.mark.usefixtures("clean_registry")
def test_register_preset_checks_its_hyperparameters() -> None:
    with raises_about("SGD", "momentum", got="-1"):
        optim.register_preset("odd", "sgd", momentum=-1)
    with pytest.raises(ValueError, match=r"sgd has no hyperparameter 'beta'"):
        optim.register_preset("odd", "sgd", beta=0.9)
    with pytest.raises(ValueError, match=r"unknown optimizer 'nope'"):
        optim.register_preset("odd", "nope")
    assert "odd" not in optim.PRESETS


@pytest.mark.usefixtures("clean_registry")
def test_entry_points_load_when_a_name_is_not_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_sign.py").write_text(
        textwrap.dedent(
            """
            from tests.optim.test_registry import Sign
            from gdlab import optim
            optim.register("plugged", Sign)
            """
        )
    )
    info = tmp_path / "my_sign-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: my-sign\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text("[gdlab.optimizers]\nsign = my_sign\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(optim, "_entry_points_loaded", False)
    assert "plugged" not in optim.REGISTRY
    assert optim.get("plugged") is Sign
    assert "my_sign" in sys.modules
    with pytest.raises(ValueError, match=r"unknown optimizer 'absent'"):
        optim.get("absent")


# --- search spaces -----------------------------------------------------------------


@pytest.mark.parametrize("name", optim.names(presets=True))
def test_every_optimizer_has_a_search_space_around_its_suggested_lr(name: str) -> None:
    axes = optim.search_space(name)
    lr = axes["lr"]
    assert lr.scale == "log" and lr.low < optim.suggested_lr(name) < lr.high
    cls = optim.get(name)
    for axis_name, axis in axes.items():
        assert space.hyperparameter(axis_name) in cls.defaults
        for u in (0.0, 0.5, 0.999):  # every value a tuner can draw is valid
            hyper = dict(cls.defaults)
            space.assign(hyper, axis_name, axis.value(u))
            cls.check(hyper)
    assert "Search space (for tuning):" in (cls.__doc__ or "")


def test_axes_map_the_unit_interval_as_documented() -> None:
    assert log_uniform(1e-4, 1.0).value(0.5) == pytest.approx(1e-2)
    assert space.one_minus_log_uniform(1e-3, 0.1).value(0.5) == pytest.approx(0.99)
    assert space.uniform(2.0, 4.0).value(0.25) == 2.5
    assert log_uniform(1e-4, 1.0).value(0.0) == pytest.approx(1e-4)
    hyper: dict[str, Any] = {"betas": (0.9, 0.999)}
    space.assign(hyper, "beta2", 0.99)
    assert hyper["betas"] == (0.9, 0.99) and space.current(hyper, "beta1") == 0.9
    assert math.isclose(space.current({"lr": 0.1}, "lr"), 0.1)
    with raises_about("Axis", "high"):
        log_uniform(1.0, 0.5)
    with raises_about("Axis", "high"):
        space.one_minus_log_uniform(0.1, 1.0)
    with raises_about("Axis", "low"):
        log_uniform(0.0, 1.0)
