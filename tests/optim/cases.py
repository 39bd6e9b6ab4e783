"""The optimizer conformance table: one entry per registered optimizer.

A new optimizer joins every test in ``test_conformance.py`` by adding one Case here
(and a test fails while it is missing).

Each case names its reference implementation (torch.optim, or the authors' package),
the hyperparameter sets that cover every documented switch, the learning rates that
make it converge on the test problems, and bad hyperparameters with the regex of
their error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import adamp
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
            ({"momentum": -0.1}, r"SGD: momentum must be >= 0, got -0\.1"),
            ({"dampening": 1.5}, r"SGD: dampening must be in \[0, 1\], got 1\.5"),
            ({"weight_decay": -1.0}, r"SGD: weight_decay must be >= 0"),
            ({"nesterov": True}, r"SGD: nesterov must be used with momentum > 0"),
            (
                {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
                r"SGD: nesterov must be used with momentum > 0 and dampening = 0",
            ),
            ({"maximize": "yes"}, r"SGD: maximize must be True or False"),
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
            ({"lr_decay": -1.0}, r"Adagrad: lr_decay must be >= 0"),
            ({"eps": -1e-3}, r"Adagrad: eps must be >= 0"),
            (
                {"initial_accumulator_value": -1.0},
                r"Adagrad: initial_accumulator_value must be >= 0",
            ),
            ({"weight_decay": float("inf")}, r"Adagrad: weight_decay must be finite"),
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
            ({"rho": 1.5}, r"Adadelta: rho must be in \[0, 1\], got 1\.5"),
            ({"rho": -0.1}, r"Adadelta: rho must be in \[0, 1\]"),
            ({"eps": -1.0}, r"Adadelta: eps must be >= 0"),
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
            ({"alpha": 1.5}, r"RMSprop: alpha must be in \[0, 1\]"),
            ({"momentum": -1.0}, r"RMSprop: momentum must be >= 0"),
            ({"eps": -1.0}, r"RMSprop: eps must be >= 0"),
            ({"centered": 1}, r"RMSprop: centered must be True or False"),
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
                r"Adam: betas\[0\] must be in \[0, 1\), got 1\.0",
            ),
            (
                {"betas": (0.9, -0.1)},
                r"Adam: betas\[1\] must be in \[0, 1\), got -0\.1",
            ),
            ({"betas": 0.9}, r"Adam: betas must be a pair"),
            ({"eps": -1e-8}, r"Adam: eps must be >= 0"),
            ({"weight_decay": -0.1}, r"Adam: weight_decay must be >= 0"),
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
            ({"betas": (0.9, 1.0)}, r"AdamW: betas\[1\] must be in \[0, 1\), got 1\.0"),
            ({"weight_decay": -0.1}, r"AdamW: weight_decay must be >= 0"),
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
            ({"momentum_decay": -1.0}, r"NAdam: momentum_decay must be >= 0"),
            ({"betas": (-0.1, 0.9)}, r"NAdam: betas\[0\] must be in \[0, 1\)"),
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
            ({"eps": -1.0}, r"RAdam: eps must be >= 0"),
            ({"betas": (0.9, 1.5)}, r"RAdam: betas\[1\] must be in \[0, 1\)"),
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
            ({"eps": -1.0}, r"Adamax: eps must be >= 0"),
            ({"betas": (1.0, 0.9)}, r"Adamax: betas\[0\] must be in \[0, 1\)"),
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
            ({"delta": -0.1}, r"AdamP: delta must be >= 0"),
            ({"wd_ratio": 2.0}, r"AdamP: wd_ratio must be in \[0, 1\]"),
            ({"betas": (0.9, 1.0)}, r"AdamP: betas\[1\] must be in \[0, 1\)"),
        ],
        scale_invariant_grads=True,
    ),
}

# Checks every optimizer shares (owner-independent part of the message).
COMMON_BAD: list[tuple[Kwargs, str]] = [
    ({"lr": -1.0}, r": lr must be >= 0, got -1\.0"),
    ({"lr": float("nan")}, r": lr must be finite and >= 0, got nan"),
    ({"lr": "0.1"}, r": lr must be a real number >= 0"),
    ({"bogus": 1}, r": keyword 'bogus' must be one of"),
]
