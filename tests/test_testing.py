"""check_optimizer: a correct optimizer passes; each kind of bug fails its check."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from gdlab import optim
from gdlab.optim.space import Axis, log_uniform
from gdlab.testing import CHECKS, OptimizerCheckError, check_optimizer

from .conftest import raises_about

MOMENTUM = [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.5}]


class Heavy(optim.Optimizer):
    """Heavy ball in plain NumPy: b ← μb ± g, θ ← θ − ηb (torch's SGD, no dampening)."""

    defaults: ClassVar[dict[str, Any]] = {
        "lr": 1e-3,
        "momentum": 0.0,
        "maximize": False,
    }
    constraints: ClassVar[dict[str, Any]] = {
        "momentum": optim.SGD.constraints["momentum"],
        "maximize": optim.SGD.constraints["maximize"],
    }
    state_spec: ClassVar[dict[str, str]] = {"momentum_buffer": "real"}
    suggested_lr: ClassVar[float] = 0.1
    search_space: ClassVar[dict[str, Axis]] = {"lr": log_uniform(1e-3, 1.0)}

    def initial_state(self, group: Any) -> dict[str, float]:
        return {"momentum_buffer": 0.0}

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        self.move(group, lr, p, g, s["momentum_buffer"])

    @staticmethod
    def move(group: Any, lr: float, p: Any, g: Any, b: Any) -> None:
        b *= group["momentum"]
        b += -g if group["maximize"] else g
        p -= lr * b


class Drifting(Heavy):
    """Moves without a gradient."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update(group, step, lr, p, g, s)
        p -= lr * 1e-3


class Unfrozen(Heavy):
    """Moves a little at lr = 0."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update(group, step, lr + 1e-6, p, g, s)


class StateOnTheSide(Heavy):
    """Keeps its momentum where state_dict cannot see it."""

    def initial_state(self, group: Any) -> dict[str, float]:
        return {}

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        buffers = self.__dict__.setdefault("buffers", {})
        self.move(group, lr, p, g, buffers.setdefault(p.ctypes.data, np.zeros_like(p)))


class NegatesInPlace(Heavy):
    """Negates the caller's gradient to maximize."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        if group["maximize"]:
            g *= -1.0
        self.move({**group, "maximize": False}, lr, p, g, s["momentum_buffer"])


class Normalized(Heavy):
    """Divides by the norm of the buffer it is given: a dict and a Params differ."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update(group, step, lr / (1.0 + np.linalg.norm(g)), p, g, s)


class Ascending(Heavy):
    """The sign bug: ascends."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update(group, step, -lr, p, g, s)


def loose(owner: str, name: str, value: Any) -> Any:
    if value < 0:  # a TypeError for text, and a message naming nothing
        raise ValueError("must be >= 0")
    return value


class Unchecked(Heavy):
    """A hyperparameter without a constraint, another with a loose one."""

    defaults: ClassVar[dict[str, Any]] = {**Heavy.defaults, "dampening": 0.0}
    constraints: ClassVar[dict[str, Any]] = {**Heavy.constraints, "momentum": loose}


class FasterDefault(Heavy):
    defaults: ClassVar[dict[str, Any]] = {**Heavy.defaults, "lr": 0.01}


def failed(error: OptimizerCheckError) -> set[str]:
    return {check.split("[")[0] for check, _ in error.failures}


def test_a_correct_optimizer_passes_with_and_without_a_reference() -> None:
    configs = [*MOMENTUM, {"lr": 0.1, "momentum": 0.9, "maximize": True}]
    check_optimizer(Heavy, reference=torch.optim.SGD, configs=configs)
    check_optimizer(Heavy, configs=configs, steps=10)


@pytest.mark.parametrize(
    ("cls", "expected", "message"),
    [
        (Drifting, {"zero_gradient"}, r"zero_gradient: 5 steps with zero gradients"),
        (Unfrozen, {"zero_lr_group"}, r"zero_lr_group: the lr = 0 group moved: W\["),
        (StateOnTheSide, {"state_dict"}, r"state_dict\[lr=0.1,momentum=0.9\]: resumed"),
        (NegatesInPlace, {"grads_untouched"}, r"step\(\) changed a dict of grads"),
        (Normalized, {"params_and_dict"}, r"a Params vs a dict: scalar is"),
        (
            Ascending,
            {"zero_size", "quadratic", "rosenbrock", "least_squares"},
            r"rosenbrock: diverged at every lr in 5000 steps \(lr tried: 0.1, 0.01, 1,",
        ),
        (
            Unchecked,
            {"hyperparameters"},
            r"dampening has no constraint\n.*the constraint of momentum raises "
            r"TypeError for '0.1'.*\n.*hyperparameters\[momentum=-1.0\]: the "
            r"constructor: the error does not name it: 'must be >= 0'",
        ),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_each_bug_fails_its_check_and_only_it(
    cls: type[optim.Optimizer], expected: set[str], message: str
) -> None:
    configs = [*MOMENTUM, {"lr": 0.1, "momentum": 0.9, "maximize": True}]
    with pytest.raises(OptimizerCheckError, match=message) as caught:
        check_optimizer(cls, configs=configs, steps=30)
    assert failed(caught.value) == expected
    report = str(caught.value)
    assert report.startswith(f"check_optimizer({cls.__name__}): ")
    assert "  passed: hyperparameters" in report or "hyperparameters" in expected


def test_differences_from_the_reference_are_reported_with_their_size() -> None:
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(FasterDefault, reference=torch.optim.SGD, configs=MOMENTUM)
    assert failed(caught.value) == {"defaults", "reference"}
    report = str(caught.value)
    assert "defaults: lr is 0.01 here, 0.001 there" in report
    assert "reference[defaults]: with a dict of arrays, after 100 steps: scalar is" in (
        report
    )
    assert "reference[lr=0.1" not in report  # the configs set lr: they agree


def test_a_crash_is_a_failed_check_chained_to_the_report() -> None:
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(Heavy, reference=torch.optim.Adam, configs=MOMENTUM)
    assert "reference[lr=0.1,momentum=0.9]: raised TypeError" in str(caught.value)
    assert isinstance(caught.value.__cause__, TypeError)


def test_skip_documents_an_exception() -> None:
    check_optimizer(Drifting, configs=MOMENTUM, steps=10, skip=["zero_gradient"])
    with pytest.raises(ValueError, match=r"skip must name checks among \['hyper"):
        check_optimizer(Heavy, skip=["zero_grad"])


def test_registered_names_and_presets_are_checked_too() -> None:
    check_optimizer("nesterov", reference=torch.optim.SGD, steps=20)
    with pytest.raises(ValueError, match=r"unknown optimizer 'nope'"):
        check_optimizer("nope")
    with pytest.raises(ValueError, match=r"a subclass of gdlab.optim.Optimizer, got"):
        check_optimizer(torch.optim.SGD)  # type: ignore[arg-type]
    with raises_about("check_optimizer", "steps", got="0"):
        check_optimizer(Heavy, steps=0)


@pytest.mark.parametrize(
    ("tolerance", "got"),
    [({"rtol": -1.0}, "-1.0"), ({"rtol": math.nan}, "nan"),
     ({"atol": -1e-12}, "-1e-12"), ({"atol": "0"}, "'0'")],
)  # fmt: skip
def test_a_tolerance_that_cannot_fail_or_pass_is_refused(
    tolerance: dict[str, Any], got: str
) -> None:
    (field,) = tolerance
    with raises_about("check_optimizer", field, got=got):  # were accepted
        check_optimizer(Heavy, steps=1, **tolerance)


def test_torch_is_imported_only_for_a_reference() -> None:
    code = (
        "import sys\n"
        "from gdlab.testing import check_optimizer\n"
        "check_optimizer('adam', convergence_lr=(0.05, 0.01))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- what the checks added for issue 25 catch -----------------------------------------


class Crashing(Heavy):
    """Raises in every step: the reference was never compared."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        raise RuntimeError("boom")


def test_a_reference_comparison_that_never_ran_is_not_passed() -> None:
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(Crashing, reference=torch.optim.SGD, steps=3)
    report = str(caught.value)
    assert "reference[defaults]: not compared: the optimizer's own runs raised" in (
        report
    )
    passed = report.split("passed: ")[1]
    assert "reference" not in passed and "params_and_dict" not in passed


class MaximizeIgnored(Heavy):
    """The maximize flag is ignored (a bug the default config cannot show)."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update({**group, "maximize": False}, step, lr, p, g, s)


def test_each_flag_gets_its_own_config() -> None:
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(MaximizeIgnored, reference=torch.optim.SGD, skip=["maximize"])
    assert {c for c, _ in caught.value.failures} == {"reference[maximize=True]"}


class DecayAtZIgnored(optim.AdamWScheduleFree):
    """Schedule-Free AdamW whose decay_at_z flag does nothing."""

    def scalars(self, group: Any, step: int, lr: float, state: Any) -> dict[str, Any]:
        return {**super().scalars(group, step, lr, state), "decay_at_z": False}


class EvaluatesAtZ(optim.AdamWScheduleFree):
    """Schedule-Free AdamW that evaluates at z instead of x."""

    def eval_params(self) -> dict[str, Any]:
        return {n: self.state[n]["z"] for n in self.state}


def _schedulefree_reference(params: Any, **hyper: Any) -> Any:
    import schedulefree

    opt = schedulefree.AdamWScheduleFreeReference(params, **hyper)
    opt.train()
    return opt


def test_a_flag_bug_and_an_evaluation_point_bug_are_caught() -> None:
    config = [{"lr": 0.01, "weight_decay": 0.1}]
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            DecayAtZIgnored,
            reference=_schedulefree_reference,
            configs=config,
            skip=["zero_lr_group", "zero_gradient"],
        )
    assert {c for c, _ in caught.value.failures} == {
        "reference[lr=0.01,weight_decay=0.1,decay_at_z=True]"
    }
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            EvaluatesAtZ,
            reference=_schedulefree_reference,
            configs=config,
            skip=["zero_lr_group", "zero_gradient", "least_squares"],
        )
    assert "at the evaluation point (eval_params() vs the reference after eval())" in (
        str(caught.value)
    )


class MuonWithoutOrthogonalization(optim.Muon):
    """Steps along the momentum itself, scaled up: diverges on matrices only."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        if "momentum_buffer" not in s:
            super().update(group, step, lr, p, g, s)
            return
        s["momentum_buffer"][...] = g
        p += lr * 50.0 * g


def test_the_matrix_problem_shows_a_matrix_rules_convergence() -> None:
    """The quadratic and Rosenbrock have one vector: Muon routes it to AdamW."""
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            MuonWithoutOrthogonalization,
            skip=[c for c in ("zero_gradient", "zero_lr_group", "maximize")],
            steps=5,
        )
    assert failed(caught.value) == {"least_squares"}


class RenamedSGD(torch.optim.SGD):
    """torch's SGD, its momentum keyword renamed."""

    def __init__(self, params: Any, lr: float = 1e-3, mu: float = 0.0, **rest: Any):
        super().__init__(params, lr=lr, momentum=mu, **rest)


def test_a_reference_with_other_names_takes_a_mapping_and_differences_print(
    capsys: pytest.CaptureFixture[str],
) -> None:
    measured = check_optimizer(
        Heavy,
        reference=RenamedSGD,
        configs=MOMENTUM,
        reference_names={"momentum": "mu"},
        skip=["defaults"],
    )
    out = capsys.readouterr().out
    assert "check_optimizer(Heavy) reference[lr=0.1,momentum=0.9]: max relative " in out
    assert measured["reference[lr=0.1,momentum=0.9]"] < 1e-12
    with pytest.raises(OptimizerCheckError):
        check_optimizer(
            Heavy, reference=RenamedSGD, configs=MOMENTUM, skip=["defaults"]
        )


class MatchRmsIgnored(optim.Muon):
    """Muon whose adjust_lr_fn="match_rms_adamw" falls back to the original scale."""

    def update(self, group: Any, step: int, lr: float, p: Any, g: Any, s: Any) -> None:
        super().update({**group, "adjust_lr_fn": None}, step, lr, p, g, s)


def test_each_declared_choice_gets_its_own_config() -> None:
    from .optim.cases import MuonReference

    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            MatchRmsIgnored,
            reference=MuonReference,
            configs=[{"lr": 0.02, "adamw_last": False}],
            steps=20,
        )
    assert {c for c, _ in caught.value.failures} == {
        "reference[lr=0.02,adamw_last=False,adjust_lr_fn=match_rms_adamw]"
    }


SF_CONFIG = [{"lr": 0.01, "weight_decay": 0.1, "warmup_steps": 3}]
SF_SKIP = [
    c for c in CHECKS if c not in ("reference", "defaults", "params_and_dict")
]  # only what the reference takes part in


def test_a_reference_with_another_group_layout_through_an_adapter() -> None:
    """schedulefree's reference keeps train_mode in each parameter group and
    starts in eval mode: mapped to a group in train mode (our hyperparameters in
    the group, none by keyword), it is the reference as it stands, no subclass."""
    import schedulefree

    raw = schedulefree.AdamWScheduleFreeReference
    measured = check_optimizer(
        "schedulefree_adamw",
        reference=raw,
        reference_groups=lambda group: [{**group, "train_mode": True}],
        configs=SF_CONFIG,
        steps=30,
        skip=SF_SKIP,
        verbose=False,
    )
    assert measured and max(measured.values()) < 1e-10
    # as it stands (eval mode) its step refuses: the comparison fails, not passes
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            "schedulefree_adamw", reference=raw, configs=SF_CONFIG, steps=30,
            skip=SF_SKIP, verbose=False,
        )  # fmt: skip
    failures = dict(caught.value.failures)
    assert "not in train mode" in failures["reference[defaults]"]
    # an adapter that loses a hyperparameter on the way is caught
    with pytest.raises(OptimizerCheckError) as caught:
        check_optimizer(
            "schedulefree_adamw",
            reference=raw,
            reference_groups=lambda group: [
                {**group, "train_mode": True, "weight_decay": 0.0}
            ],
            configs=SF_CONFIG,
            steps=30,
            skip=SF_SKIP,
            verbose=False,
        )
    assert "reference[lr=0.01,weight_decay=0.1,warmup_steps=3]" in {
        c for c, _ in caught.value.failures
    }
