"""ReduceOnPlateau: the one stateful scheduler, stepped with a validation metric."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any, ClassVar, Protocol

from gdlab import _checks


class HasParamGroups(Protocol):
    """What :class:`ReduceOnPlateau` needs of an optimizer."""

    param_groups: list[dict[str, Any]]


class ReduceOnPlateau:
    r"""Reduce each group's lr by ``factor`` when a metric stops improving.

    Call ``step(metric)`` once per evaluation (usually per epoch). A metric is an
    improvement when it beats the best so far by the threshold: in ``"min"`` mode
    :math:`m < b(1 - \theta)` (``threshold_mode="rel"``) or :math:`m < b - \theta`
    (``"abs"``), mirrored in ``"max"`` mode. After more than ``patience``
    evaluations without improvement, every group's lr becomes
    :math:`\max(\eta f, \eta_{\min})` (a change smaller than ``eps`` is skipped)
    and the next ``cooldown`` evaluations are ignored.

    Args:
        optimizer: an optimizer whose groups have float ``lr`` values (not
            schedules: this scheduler changes ``param_groups[i]["lr"]``).
        mode: ``"min"`` or ``"max"``, default ``"min"``.
        factor (f): in (0, 1), default 0.1.
        patience: an integer >= 0, default 10.
        threshold (θ): >= 0, default 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``, default ``"rel"``.
        cooldown: an integer >= 0, default 0.
        min_lr (η_min): >= 0, or one value per group, default 0.
        eps: >= 0, default 1e-8.

    Equals ``torch.optim.lr_scheduler.ReduceLROnPlateau`` with the same arguments;
    ``state_dict()`` / ``load_state_dict()`` save and restore its counters (the
    lrs themselves live in the optimizer's state dict).

    Example:
        >>> import numpy as np
        >>> from gdlab import optim
        >>> opt = optim.SGD({"w": np.zeros(3)}, lr=0.1)
        >>> plateau = ReduceOnPlateau(opt, factor=0.5, patience=2)
        >>> for validation_loss in [1.0, 0.9, 0.9, 0.9, 0.9]:
        ...     plateau.step(validation_loss)
        >>> opt.param_groups[0]["lr"]
        0.05
    """

    name: ClassVar[str] = "ReduceOnPlateau"
    _config: ClassVar[tuple[str, ...]] = (
        "mode",
        "factor",
        "patience",
        "threshold",
        "threshold_mode",
        "cooldown",
        "min_lrs",
        "eps",
    )
    _counters: ClassVar[tuple[str, ...]] = (
        "best",
        "num_bad_epochs",
        "cooldown_counter",
        "last_epoch",
    )

    def __init__(
        self,
        optimizer: HasParamGroups,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        owner = self.name
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not groups:
            _checks.fail(
                owner, "optimizer", "an optimizer with param_groups", optimizer
            )
        for i, group in enumerate(groups):
            lr = group.get("lr")
            if callable(lr):
                _checks.fail(
                    owner,
                    f"optimizer.param_groups[{i}]['lr']",
                    "a number, not a schedule (a scheduled lr cannot be reduced)",
                    lr,
                )
            _checks.number(owner, f"optimizer.param_groups[{i}]['lr']", lr, low=0.0)
        self.mode = _checks.choice(owner, "mode", mode, ("min", "max"))
        self.factor = _checks.number(
            owner, "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.patience = _checks.integer(owner, "patience", patience, low=0)
        self.threshold = _checks.number(owner, "threshold", threshold, low=0.0)
        self.threshold_mode = _checks.choice(
            owner, "threshold_mode", threshold_mode, ("rel", "abs")
        )
        self.cooldown = _checks.integer(owner, "cooldown", cooldown, low=0)
        if isinstance(min_lr, Sequence) and not isinstance(min_lr, str):
            if len(min_lr) != len(groups):
                _checks.fail(
                    owner,
                    "min_lr",
                    f"a number or {len(groups)} numbers (one per group)",
                    min_lr,
                )
            self.min_lrs = [
                _checks.number(owner, f"min_lr[{i}]", m, low=0.0)
                for i, m in enumerate(min_lr)
            ]
        else:
            self.min_lrs = [_checks.number(owner, "min_lr", min_lr, low=0.0)] * len(
                groups
            )
        self.eps = _checks.number(owner, "eps", eps, low=0.0)
        self.optimizer = optimizer
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    @property
    def last_lr(self) -> list[float]:
        """The current lr of every param group."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def _is_better(self, current: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return current < (
                best * (1.0 - th) if self.threshold_mode == "rel" else best - th
            )
        return current > (
            best * (th + 1.0) if self.threshold_mode == "rel" else best + th
        )

    def step(self, metric: float) -> None:
        """Record one evaluation of the metric; reduce the lrs if it has plateaued.

        A NaN metric never counts as an improvement (as in torch).
        """
        try:
            current = float(metric)
        except (TypeError, ValueError):
            _checks.fail(self.name, "metric", "a real number", metric)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(
                self.optimizer.param_groups, self.min_lrs, strict=True
            ):
                old = float(group["lr"])
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def settings(self) -> dict[str, Any]:
        """The arguments (``min_lr`` as ``min_lrs``, one per group)."""
        return {k: getattr(self, k) for k in self._config} | {
            "min_lrs": list(self.min_lrs)
        }

    def state_dict(self) -> dict[str, Any]:
        """The arguments and counters (JSON-serializable; ``best`` may be ±inf)."""
        return self.settings() | {k: getattr(self, k) for k in self._counters}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`, counters and arguments, each checked as
        the constructor checks it; a ValueError changes nothing."""
        owner = self.name
        if not isinstance(state_dict, Mapping):
            _checks.fail(owner, "state_dict", "a mapping", state_dict)
        missing = [k for k in (*self._config, *self._counters) if k not in state_dict]
        if missing:
            need = f"a mapping with {', '.join(missing)}"
            _checks.fail(owner, "state_dict", need, sorted(state_dict))
        min_lrs = state_dict["min_lrs"]
        if not isinstance(min_lrs, list):
            _checks.fail(owner, "state_dict['min_lrs']", "a list", min_lrs)
        args = {k: state_dict[k] for k in self._config if k != "min_lrs"}
        checked = ReduceOnPlateau(self.optimizer, min_lr=min_lrs, **args)
        best = state_dict["best"]
        if isinstance(best, bool) or not isinstance(best, Real) or math.isnan(best):
            need = "a number (±inf before the first step)"
            _checks.fail(owner, "state_dict['best']", need, best)
        counters = {
            k: _checks.integer(owner, f"state_dict[{k!r}]", state_dict[k], low=0)
            for k in ("num_bad_epochs", "cooldown_counter", "last_epoch")
        }
        for key in self._config:
            setattr(self, key, getattr(checked, key))
        self.best = float(best)
        for key, value in counters.items():
            setattr(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._config)
        return f"{self.name}({args}; best={self.best!r}, bad={self.num_bad_epochs})"
