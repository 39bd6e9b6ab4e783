"""The Optimizer base: parameter groups, the step count, the learning rate (a float
or a schedule), state keyed by parameter name, and the fused loop over buffers.

A subclass states its hyperparameters (``defaults``) and their ``constraints``,
names its per-element state (``initial_state``) and applies its update rule to one
flat buffer (``update``). Everything else lives here, once.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks
from gdlab.params import Array, Params

Schedule = Callable[[int], float]
"""A learning-rate schedule: a pure function of the step count (0 at the first step)."""

LearningRate = float | Schedule
ParamsLike = Mapping[str, Array]
Group = dict[str, Any]


@dataclass
class _Segment:
    """A run of parameters that sits in one flat buffer and is updated in one pass."""

    names: tuple[str, ...]
    param: Array
    source: Params | None = None  # the Params the buffer belongs to, if any
    state: dict[str, Array] = field(default_factory=dict)


def _checked(owner: str, name: str, a: object, *, flat: bool) -> Array:
    """The array itself (flattened to a view if ``flat``), after checking it."""
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        _checks.fail(owner, f"params[{name!r}]", "a float array", type(a).__name__)
    if not a.flags.c_contiguous or not a.flags.writeable:
        _checks.fail(owner, f"params[{name!r}]", "C-contiguous and writeable", a.shape)
    return a.reshape(-1) if flat else a


def _describe(value: object) -> object:
    """A hyperparameter as it goes into a state dict: a schedule as its to_dict()."""
    if callable(value):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if to_dict is not None else None
    return value


class Optimizer:
    """Base class: ``opt.step(grads)`` updates the parameters in place.

    ``params`` is a mapping name -> float array (a :class:`~gdlab.Params` is updated
    in one fused pass per dtype buffer), or a list of group dicts
    ``{"params": mapping, **hyperparameters}`` whose values override the defaults.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    constraints: ClassVar[dict[str, Callable[[str, str, Any], Any]]] = {}
    """Hyperparameter -> check returning the value to keep (lr is checked apart)."""
    elementwise: ClassVar[bool] = True
    """False for rules that need whole tensors (norms): they see each array shaped."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        shown = [inspect.Parameter("params", kind)] + [
            inspect.Parameter(
                k, kind if k == "lr" else inspect.Parameter.KEYWORD_ONLY, default=v
            )
            for k, v in cls.defaults.items()
        ]
        cls.__signature__ = inspect.Signature(shown)  # type: ignore[attr-defined]

    def __init__(
        self,
        params: ParamsLike | Iterable[Mapping[str, Any]],
        lr: LearningRate | None = None,
        **hyper: Any,
    ) -> None:
        owner = type(self).__name__
        if lr is not None:
            hyper["lr"] = lr
        self._check_keys(hyper)
        base = {**self.defaults, **hyper}
        specs: list[Mapping[str, Any]]
        if isinstance(params, Mapping):
            specs = [{"params": params}]
        else:
            specs = list(params)
            if not specs or not all(
                isinstance(s, Mapping) and "params" in s for s in specs
            ):
                _checks.fail(
                    owner,
                    "params",
                    "a mapping or a list of group dicts with 'params'",
                    params,
                )
        self.param_groups: list[Group] = []
        self._segments: list[list[_Segment]] = []
        seen: set[str] = set()
        for spec in specs:
            group = {**base, **{k: v for k, v in spec.items() if k != "params"}}
            self._check_keys(group)
            self._check_lr(group["lr"])
            self.check(group)
            mapping = spec["params"]
            if not isinstance(mapping, Mapping) or not mapping:
                _checks.fail(
                    owner, "params", "a non-empty mapping name -> array", mapping
                )
            if seen & set(mapping):
                _checks.fail(
                    owner,
                    "params",
                    "unique names across groups",
                    sorted(seen & set(mapping)),
                )
            seen |= set(mapping)
            group["params"] = mapping
            self.param_groups.append(group)
            self._segments.append(self._make_segments(mapping))
        self.step_count = 0
        self.state: dict[str, dict[str, Array]] = {}
        for group, segments in zip(self.param_groups, self._segments, strict=True):
            for seg in segments:
                self._allocate_state(group, seg)

    # --- what a subclass provides -------------------------------------------------

    @classmethod
    def check(cls, group: Group) -> None:
        """Apply :attr:`constraints` to one group's hyperparameters (not lr)."""
        for name, constraint in cls.constraints.items():
            if name in group:
                group[name] = constraint(cls.__name__, name, group[name])

    def initial_state(self, group: Group) -> dict[str, float]:
        """The per-element state arrays this group needs, with their initial value."""
        return {}

    def update(
        self,
        group: Group,
        step: int,
        lr: float,
        p: Array,
        g: Array,
        state: dict[str, Array],
    ) -> None:
        """Apply the update rule to one flat buffer ``p`` with gradient ``g``."""
        raise NotImplementedError

    # --- the step -------------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The learning rate the next step uses (of the first group)."""
        return self._lr_at(self.param_groups[0], self.step_count)

    def step(self, grads: ParamsLike) -> None:
        """Update every parameter in place from ``grads`` (same names and shapes)."""
        self._check_grads(grads)
        lrs = [self._lr_at(group, self.step_count) for group in self.param_groups]
        for lr in lrs:
            if not (math.isfinite(lr) and lr >= 0):
                _checks.fail(
                    type(self).__name__,
                    f"the scheduled lr at step {self.step_count}",
                    ">= 0 and finite",
                    lr,
                )
        self.step_count += 1
        for group, lr, segments in zip(
            self.param_groups, lrs, self._segments, strict=True
        ):
            for seg in segments:
                self.update(
                    group,
                    self.step_count,
                    lr,
                    seg.param,
                    self._flat_grad(seg, grads),
                    seg.state,
                )

    # --- state ----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, the step count and per-name state arrays (copies).

        A schedule as lr is stored as its ``to_dict()`` (a plain function, which
        cannot be described, is left out); loading checks it is the same schedule.
        """
        return {
            "step": self.step_count,
            "param_groups": [
                {
                    **{k: _describe(v) for k, v in g.items() if k != "params"},
                    "params": list(g["params"]),
                }
                for g in self.param_groups
            ],
            "state": {
                name: {k: a.copy() for k, a in s.items()}
                for name, s in self.state.items()
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; parameter names and shapes must match."""
        owner = type(self).__name__
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            _checks.fail(
                owner,
                "state_dict",
                f"one with {len(self.param_groups)} param groups",
                groups,
            )
        for mine, theirs in zip(self.param_groups, groups, strict=True):
            theirs_names, my_names = (
                list(theirs.get("params", [])),
                list(mine["params"]),
            )
            if theirs_names != my_names:
                raise ValueError(
                    f"{owner}: state_dict is for parameters {theirs_names}, "
                    f"but this optimizer has {my_names}"
                )
        state = state_dict.get("state", {})
        for name, arrays in self.state.items():
            saved = state.get(name, {})
            if set(saved) != set(arrays):
                raise ValueError(
                    f"{owner}: state_dict holds state {sorted(saved)} for {name!r}, "
                    f"expected {sorted(arrays)}"
                )
            for key, a in arrays.items():
                if np.shape(saved[key]) != a.shape:
                    raise ValueError(
                        f"{owner}: state_dict {name!r}.{key} has shape "
                        f"{np.shape(saved[key])}, expected {a.shape}"
                    )
        for mine, theirs in zip(self.param_groups, groups, strict=True):
            saved_lr, my_lr = theirs.get("lr"), _describe(mine["lr"])
            if (
                isinstance(saved_lr, dict) or callable(mine["lr"])
            ) and saved_lr != my_lr:
                raise ValueError(
                    f"{owner}: state_dict was saved with lr {saved_lr!r}, "
                    f"but this optimizer has lr {my_lr!r}"
                )
        for mine, theirs in zip(self.param_groups, groups, strict=True):
            for k, v in theirs.items():
                if k != "params" and not callable(mine[k]) and v is not None:
                    mine[k] = tuple(v) if isinstance(v, list) else v
        for name, arrays in self.state.items():
            for key, a in arrays.items():
                a[...] = state[name][key]
        self.step_count = int(state_dict["step"])

    # --- helpers ----------------------------------------------------------------------

    def _check_keys(self, hyper: Mapping[str, Any]) -> None:
        unknown = sorted(set(hyper) - set(self.defaults) - {"params"})
        if unknown:
            _checks.fail(
                type(self).__name__,
                f"keyword {unknown[0]!r}",
                f"one of {', '.join(self.defaults)}",
                hyper[unknown[0]],
            )

    def _check_lr(self, lr: object) -> None:
        value = lr(0) if callable(lr) else lr
        _checks.number(
            type(self).__name__, "lr" if value is lr else "lr(0)", value, low=0.0
        )

    @staticmethod
    def _lr_at(group: Group, step: int) -> float:
        lr = group["lr"]
        return float(lr(step)) if callable(lr) else float(lr)

    def _make_segments(self, mapping: ParamsLike) -> list[_Segment]:
        if isinstance(mapping, Params) and self.elementwise:
            return [
                _Segment(
                    tuple(n for n, s in mapping.slots.items() if s.dtype == dt),
                    buffer,
                    mapping,
                )
                for dt, buffer in mapping.buffers.items()
            ]
        owner = type(self).__name__
        return [
            _Segment((name,), _checked(owner, name, a, flat=self.elementwise))
            for name, a in mapping.items()
        ]

    def _allocate_state(self, group: Group, seg: _Segment) -> None:
        flats = {
            key: np.full(seg.param.size, value, dtype=seg.param.dtype)
            for key, value in self.initial_state(group).items()
        }
        seg.state = {key: flat.reshape(seg.param.shape) for key, flat in flats.items()}
        offset = 0
        for name in seg.names:
            shape = np.shape(group["params"][name])
            size = int(np.prod(shape, dtype=np.int64))
            self.state[name] = {
                key: flat[offset : offset + size].reshape(shape)
                for key, flat in flats.items()
            }
            offset += size

    def _check_grads(self, grads: ParamsLike) -> None:
        owner = type(self).__name__
        if not isinstance(grads, Mapping):
            _checks.fail(
                owner, "grads", "a mapping name -> array", type(grads).__name__
            )
        expected = [n for g in self.param_groups for n in g["params"]]
        missing = [n for n in expected if n not in grads]
        extra = [n for n in grads if n not in self.state]
        if missing or extra:
            raise ValueError(
                f"{owner}: grads are missing {missing} and have unexpected {extra}"
            )
        for group in self.param_groups:
            for name, p in group["params"].items():
                g = grads[name]
                if (
                    not isinstance(g, np.ndarray)
                    or g.shape != p.shape
                    or g.dtype != p.dtype
                ):
                    shape, dtype = (
                        getattr(g, "shape", None),
                        getattr(g, "dtype", type(g).__name__),
                    )
                    raise ValueError(
                        f"{owner}: grads[{name!r}] must have shape {p.shape} and dtype "
                        f"{p.dtype}, got shape {shape} and dtype {dtype}"
                    )

    @staticmethod
    def _flat_grad(seg: _Segment, grads: ParamsLike) -> Array:
        if seg.source is not None and seg.source.same_layout(grads):
            assert isinstance(grads, Params)
            return grads.buffers[seg.param.dtype]
        if len(seg.names) == 1:
            return np.ascontiguousarray(grads[seg.names[0]]).reshape(seg.param.shape)
        return np.concatenate([np.ravel(grads[n]) for n in seg.names])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (step {self.step_count})"]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v!r}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {list(g['params'])} {hyper}")
        return "\n".join(lines)
