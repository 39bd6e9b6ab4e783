"""The optimizer conformance table: one entry per registered optimizer.

A new optimizer joins every test in ``test_conformance.py`` by adding one Case here
(and a test fails while it is missing).

Each case names its reference implementation (torch.optim, or the authors' package),
the hyperparameter sets that cover every documented switch, the learning rates that
make it converge on the test problems, and bad hyperparameters with the field their
error names (``"betas[0]"``; ``"betas[0], got 1.0"`` also checks the value the
message ends with): the test asserts ``Owner: field must``, not the sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import adamp
import lion_pytorch
import pytorch_optimizer
import schedulefree
import torch

Kwargs = dict[str, Any]


@dataclass(frozen=True)
class Case:
    reference: type[torch.optim.Optimizer]
    configs: list[Kwargs]
    quadratic_lr: float
    rosenbrock_lr: float
    bad: list[tuple[Kwargs, str]] = field(default_factory=list)
    scale_invariant_grads: bool = False  # grads orthogonal to each row of the param
    skip: tuple[str, ...] = ()  # check_optimizer checks that do not apply
    signature: Any = None  # whose __init__ lists the hyperparameters (an adapter's)
    steps: int = 120  # steps compared with the reference


class AdamWScheduleFreeReference(schedulefree.AdamWScheduleFreeReference):  # type: ignore[misc]
    """The reference class, switched to train mode (it starts in eval mode)."""

    def __init__(self, params: Any, **hyper: Any) -> None:
        super().__init__(params, **hyper)
        self.train()


class SGDScheduleFreeReference(schedulefree.SGDScheduleFreeReference):  # type: ignore[misc]
    def __init__(self, params: Any, **hyper: Any) -> None:
        super().__init__(params, foreach=False, **hyper)


def _no_bfloat16(t: torch.Tensor) -> torch.Tensor:
    return t.clone()


class MuonReference:
    """torch's Muon on the transposed matrices that gdlab's Muon routes to it (the
    2-D tensors, but the last one while adamw_last), torch's AdamW on the rest;
    torch's Newton-Schulz runs in float64 (its bfloat16 cast replaced)."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        *,
        adamw_last: bool = True,
        adamw_params: tuple[str, ...] = (),
        adamw_lr_ratio: float = 0.1,
        adamw_betas: tuple[float, float] = (0.9, 0.999),
        adamw_eps: float = 1e-8,
        adamw_weight_decay: float = 0.0,
        **muon: Any,
    ) -> None:
        assert not adamw_params  # the reference has no names
        self.params = list(params)
        matrices = [t for t in self.params if t.ndim == 2]
        if adamw_last and matrices:
            matrices = matrices[:-1]
        self.pairs = [(t, t.detach().T.clone()) for t in matrices]
        rest = [t for t in self.params if all(t is not m for m in matrices)]
        self.muon = (
            torch.optim.Muon([pt for _, pt in self.pairs], **muon)
            if self.pairs
            else None
        )
        self.adamw = torch.optim.AdamW(
            rest,
            lr=muon.get("lr", 1e-3) * adamw_lr_ratio,
            betas=adamw_betas,
            eps=adamw_eps,
            weight_decay=adamw_weight_decay,
        )

    def step(self, closure: Any = None) -> None:
        if closure is not None:
            closure()
        for t, pt in self.pairs:
            pt.grad = t.grad.T.contiguous()
        original = torch.Tensor.bfloat16
        torch.Tensor.bfloat16 = _no_bfloat16  # type: ignore[method-assign]
        try:
            if self.muon is not None:
                self.muon.step()
        finally:
            torch.Tensor.bfloat16 = original  # type: ignore[method-assign]
        self.adamw.step()
        with torch.no_grad():
            for t, pt in self.pairs:
                t.copy_(pt.T)


def _muon_signature(
    params: Any,
    lr: float = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = (3.4445, -4.7750, 2.0315),
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
    adamw_last: bool = True,
    adamw_params: tuple[str, ...] = (),
    adamw_lr_ratio: float = 0.1,
    adamw_betas: tuple[float, float] = (0.9, 0.999),
    adamw_eps: float = 1e-8,
    adamw_weight_decay: float = 0.0,
) -> None:
    """torch.optim.Muon's hyperparameters and torch.optim.AdamW's, prefixed."""


CASES: dict[str, Case] = {
    "sgd": Case(
        torch.optim.SGD,
        [
            {"lr": 0.1},
            {"lr": 0.1, "momentum": 0.9},
            {"lr": 0.05, "momentum": 0.9, "nesterov": True},
            {"lr": 0.1, "momentum": 0.5, "dampening": 0.5},
            {"lr": 0.1, "weight_decay": 0.1, "maximize": True},
            {
                "lr": 0.1,
                "momentum": 0.9,
                "nesterov": True,
                "weight_decay": 0.01,
                "maximize": True,
            },
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=1e-3,
        bad=[
            ({"momentum": -0.1}, "momentum, got -0.1"),
            ({"dampening": 1.5}, "dampening, got 1.5"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"nesterov": True}, "nesterov"),
            (
                {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
                "nesterov",
            ),
            ({"maximize": "yes"}, "maximize"),
        ],
    ),
    "adagrad": Case(
        torch.optim.Adagrad,
        [
            {"lr": 0.1},
            {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1},
            {
                "lr": 0.5,
                "initial_accumulator_value": 0.1,
                "eps": 1e-5,
                "maximize": True,
            },
        ],
        quadratic_lr=0.5,
        rosenbrock_lr=0.1,
        bad=[
            ({"lr_decay": -1.0}, "lr_decay"),
            ({"eps": -1e-3}, "eps"),
            (
                {"initial_accumulator_value": -1.0},
                "initial_accumulator_value",
            ),
            ({"weight_decay": float("inf")}, "weight_decay"),
        ],
    ),
    "adadelta": Case(
        torch.optim.Adadelta,
        [
            {},
            {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.1},
            {"rho": 0.99, "maximize": True},
        ],
        quadratic_lr=1.0,
        rosenbrock_lr=1.0,
        bad=[
            ({"rho": 1.5}, "rho, got 1.5"),
            ({"rho": -0.1}, "rho"),
            ({"eps": -1.0}, "eps"),
        ],
    ),
    "rmsprop": Case(
        torch.optim.RMSprop,
        [
            {"lr": 0.01},
            {"lr": 0.01, "centered": True},
            {"lr": 0.01, "momentum": 0.9},
            {
                "lr": 0.01,
                "centered": True,
                "momentum": 0.5,
                "weight_decay": 0.1,
                "alpha": 0.9,
            },
            {"lr": 0.01, "maximize": True, "eps": 1e-3},
        ],
        quadratic_lr=0.01,
        rosenbrock_lr=1e-3,
        bad=[
            ({"alpha": 1.5}, "alpha"),
            ({"momentum": -1.0}, "momentum"),
            ({"eps": -1.0}, "eps"),
            ({"centered": 1}, "centered"),
        ],
    ),
    "adam": Case(
        torch.optim.Adam,
        [
            {"lr": 0.01},
            {"lr": 0.01, "amsgrad": True},
            {"lr": 0.01, "weight_decay": 0.1},
            {
                "lr": 0.01,
                "weight_decay": 0.1,
                "decoupled_weight_decay": True,
                "amsgrad": True,
            },
            {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-3, "maximize": True},
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            (
                {"betas": (1.0, 0.999)},
                "betas[0], got 1.0",
            ),
            (
                {"betas": (0.9, -0.1)},
                "betas[1], got -0.1",
            ),
            ({"betas": 0.9}, "betas"),
            ({"eps": -1e-8}, "eps"),
            ({"weight_decay": -0.1}, "weight_decay"),
        ],
    ),
    "adamw": Case(
        torch.optim.AdamW,
        [
            {"lr": 0.01},
            {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True},
            {"lr": 0.01, "maximize": True},
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            ({"betas": (0.9, 1.0)}, "betas[1], got 1.0"),
            ({"weight_decay": -0.1}, "weight_decay"),
        ],
    ),
    "nadam": Case(
        torch.optim.NAdam,
        [
            {"lr": 0.01},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
            {"lr": 0.01, "momentum_decay": 0.1, "betas": (0.8, 0.99), "maximize": True},
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            ({"momentum_decay": -1.0}, "momentum_decay"),
            ({"betas": (-0.1, 0.9)}, "betas[0]"),
        ],
    ),
    "radam": Case(
        torch.optim.RAdam,
        [
            {"lr": 0.01},
            {"lr": 0.01, "weight_decay": 0.1},
            {
                "lr": 0.01,
                "weight_decay": 0.1,
                "decoupled_weight_decay": True,
                "maximize": True,
            },
            {"lr": 0.01, "betas": (0.9, 0.9), "eps": 1e-4},
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            ({"eps": -1.0}, "eps"),
            ({"betas": (0.9, 1.5)}, "betas[1]"),
        ],
    ),
    "adamax": Case(
        torch.optim.Adamax,
        [
            {"lr": 0.01},
            {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
            {"lr": 0.05, "betas": (0.5, 0.5), "eps": 1e-3},
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            ({"eps": -1.0}, "eps"),
            ({"betas": (1.0, 0.9)}, "betas[0]"),
        ],
    ),
    "adamp": Case(
        adamp.AdamP,
        [
            {"lr": 0.01},
            {"lr": 0.01, "weight_decay": 0.1},
            {
                "lr": 0.01,
                "nesterov": True,
                "weight_decay": 0.1,
                "wd_ratio": 0.5,
                "delta": 0.2,
            },
        ],
        quadratic_lr=0.05,
        rosenbrock_lr=0.01,
        bad=[
            ({"delta": -0.1}, "delta"),
            ({"wd_ratio": 2.0}, "wd_ratio"),
            ({"betas": (0.9, 1.0)}, "betas[1]"),
        ],
        scale_invariant_grads=True,
    ),
    "lion": Case(
        lion_pytorch.Lion,
        [
            {"lr": 1e-3, "betas": (0.8, 0.95), "weight_decay": 0.5},
            {"lr": 0.01, "weight_decay": 0.1},
        ],
        quadratic_lr=0.01,
        rosenbrock_lr=1e-3,
        bad=[
            ({"betas": (0.9, 1.0)}, "betas[1]"),
            ({"weight_decay": -1.0}, "weight_decay"),
        ],
    ),
    "rprop": Case(
        torch.optim.Rprop,
        [
            {"lr": 0.01},
            {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.5)},
            {"lr": 0.01, "maximize": True},
        ],
        quadratic_lr=0.01,
        rosenbrock_lr=1e-3,
        bad=[
            ({"etas": (1.5, 1.2)}, "etas[0]"),
            ({"etas": (0.5, 0.9)}, "etas[1]"),
            ({"step_sizes": (1.0, 0.5)}, "step_sizes[1]"),
        ],
        skip=("zero_lr_group",),  # every step size stays >= step_sizes[0]
    ),
    "asgd": Case(
        torch.optim.ASGD,
        [
            {"lr": 0.05},
            {"lr": 0.05, "t0": 10.0, "lambd": 0.01, "alpha": 0.5},
            {"lr": 0.05, "t0": 5.0, "weight_decay": 0.1, "maximize": True},
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=1e-3,
        bad=[
            ({"lambd": -1.0}, "lambd"),
            ({"t0": float("inf")}, "t0"),
        ],
        skip=("zero_gradient",),  # the λ term decays the weights without one
    ),
    "adafactor": Case(
        torch.optim.Adafactor,
        [
            {"lr": 0.01},
            {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-20, 1e-2), "d": 2.0},
            {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=0.1,
        bad=[
            ({"beta2_decay": 0.5}, "beta2_decay"),
            ({"d": 0.5}, "d"),
            ({"eps": (-1.0, 1e-3)}, "eps[0]"),
        ],
    ),
    "muon": Case(
        MuonReference,  # type: ignore[arg-type]
        [
            {"lr": 0.02, "adamw_last": False},
            {"lr": 0.02, "adamw_last": False, "nesterov": False, "momentum": 0.9},
            {
                "lr": 0.02,
                "adamw_last": False,
                "adjust_lr_fn": "match_rms_adamw",
                "weight_decay": 0.01,
            },
            {"lr": 0.02, "adamw_lr_ratio": 0.5, "adamw_weight_decay": 0.1},
        ],
        quadratic_lr=0.5,
        rosenbrock_lr=0.1,
        bad=[
            ({"ns_steps": -1}, "ns_steps"),
            ({"adamw_lr_ratio": -1.0}, "adamw_lr_ratio"),
            ({"adjust_lr_fn": "x"}, "adjust_lr_fn"),
            ({"adamw_betas": (1.0, 0.9)}, "adamw_betas[0]"),
        ],
        signature=_muon_signature,
    ),
    "lbfgs": Case(
        torch.optim.LBFGS,
        [
            {"lr": 0.5, "history_size": 5},
            {"line_search_fn": "strong_wolfe", "max_iter": 5},
            {"lr": 0.1, "max_iter": 3, "tolerance_change": 1e-6},
        ],
        quadratic_lr=1.0,
        rosenbrock_lr=1.0,
        bad=[
            ({"max_iter": 0}, "max_iter"),
            ({"history_size": 1.5}, "history_size"),
            ({"line_search_fn": "wolfe"}, "line_search_fn"),
        ],
        skip=("zero_lr_group",),  # one parameter group only, as torch
        # Each step solves its quadratic to the rounding floor, where the stopping
        # tests compare rounding noise: one flipped test (after ~10 steps here)
        # sends the runs apart (measured: 4e-16 at 5 steps, 3e-11 at 10, 1e-5 at
        # 120). tests/optim/test_lbfgs.py compares away from that floor.
        steps=5,
    ),
    "shampoo": Case(
        pytorch_optimizer.Shampoo,
        [
            {"lr": 0.01},
            {"lr": 0.01, "momentum": 0.5, "maximize": True},
            # roots reused for 3 steps: at ε = 1e-6 their condition lets rounding
            # grow to 4e-8 relative (measured); at 1e-3, 2e-13
            {"lr": 0.01, "preconditioning_compute_steps": 3, "matrix_eps": 1e-3},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "weight_decay": 0.1, "weight_decouple": True},
            {"lr": 0.01, "matrix_eps": 1e-3, "maximize": True},
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=0.1,
        bad=[
            ({"momentum": 1.0}, "momentum"),
            (
                {"preconditioning_compute_steps": 0},
                "preconditioning_compute_steps",
            ),
        ],
    ),
    "schedulefree_adamw": Case(
        AdamWScheduleFreeReference,
        [
            {"lr": 0.01},
            {"lr": 0.01, "warmup_steps": 10, "r": 1.0, "weight_lr_power": 1.0},
            {"lr": 0.01, "weight_decay": 0.1},
            {"lr": 0.01, "weight_decay": 0.1, "decay_at_z": True},
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=0.01,
        bad=[
            ({"warmup_steps": -1}, "warmup_steps"),
            ({"r": -1.0}, "r"),
        ],
        signature=schedulefree.AdamWScheduleFreeReference,
        # y = β1·x + (1−β1)·z is recomputed each step: it moves by rounding
        skip=("zero_lr_group", "zero_gradient"),
    ),
    "schedulefree_sgd": Case(
        SGDScheduleFreeReference,
        [
            {"lr": 0.1},
            {"lr": 0.1, "momentum": 0.5, "warmup_steps": 5, "r": 0.5},
            {"lr": 0.1, "weight_decay": 0.1, "weight_lr_power": 0.0},
        ],
        quadratic_lr=0.1,
        rosenbrock_lr=1e-3,
        bad=[
            ({"momentum": 1.0}, "momentum"),
        ],
        signature=schedulefree.SGDScheduleFreeReference,
        skip=("zero_lr_group", "zero_gradient"),  # as Schedule-Free AdamW
    ),
}

# Checks every optimizer shares: the field each error names.
COMMON_BAD: list[tuple[Kwargs, str]] = [
    ({"lr": -1.0}, "lr, got -1.0"),
    ({"lr": float("nan")}, "lr, got nan"),
    ({"lr": "0.1"}, "lr"),
    ({"bogus": 1}, "keyword 'bogus'"),
]
