"""``torch:NAME``: a ``torch.optim`` optimizer as a gdlab optimizer (extra
``gdlab[torch]``; loaded only when such a name is used).

``optim.create("torch:Adam", model.params, lr=1e-3)`` builds a gdlab
:class:`~gdlab.optim.Optimizer` whose ``step(grads)`` runs ``torch.optim.Adam``
over tensors that view gdlab's parameter arrays (``torch.from_numpy``, no copy),
with the gradients handed in as ``.grad`` views. It works wherever a gdlab name
does (``RunSpec.optimizer``, ``gdlab compare --optimizers adam,torch:Adam``), on
gdlab's own models and on torch ones, with the same schedules (a float-or-schedule
``lr``, written into torch's param group before each step) and checkpoints: the
state torch keeps per parameter (``exp_avg``, ``step``, ...) is mirrored into
``opt.state`` by name, saved, and loaded back into torch.

Its hyperparameters are torch's keywords and defaults (``differentiable`` and
``capturable``, which have no meaning here, aside); those it shares with the gdlab
optimizer of the same name are checked by that optimizer's constraints, the rest
by torch when it is built, and it tunes over that optimizer's search space, so
``adam`` and ``torch:Adam`` compete on equal terms. :func:`wrap` makes the same
of a user's own ``torch.optim.Optimizer`` subclass, to register under a name.

Not wrapped: ``LBFGS`` (its history is Python lists, which a checkpoint cannot
hold; gdlab's ``lbfgs`` equals it) and ``SparseAdam`` (sparse gradients only).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from gdlab import _checks
from gdlab.optim import kernel
from gdlab.optim.base import Closure, Optimizer
from gdlab.optim.space import hyperparameter, lr_around
from gdlab.params import Array

PREFIX = "torch:"
"""How a name asks for a ``torch.optim`` class: ``torch:Adam``."""
LEFT_OUT = ("differentiable", "capturable")
"""torch keywords that are no hyperparameters here (autograd through the step,
CUDA graphs)."""
REFUSED = {
    "lbfgs": "its history is Python lists, which a checkpoint cannot hold: use "
    "gdlab's lbfgs, which equals torch.optim.LBFGS",
    "sparseadam": "it takes sparse gradients only, and gdlab's are dense",
}


def available() -> dict[str, type[torch.optim.Optimizer]]:
    """torch.optim's optimizer classes by lower-case name (``"adam"``: Adam)."""
    return {
        name.lower(): cls
        for name, cls in vars(torch.optim).items()
        if isinstance(cls, type)
        and issubclass(cls, torch.optim.Optimizer)
        and cls is not torch.optim.Optimizer
    }


def find(key: str) -> type[torch.optim.Optimizer]:
    """The ``torch.optim`` class that ``key`` (``"adam"``, any case) names."""
    name = key.lower()
    if name in REFUSED:
        raise ValueError(
            f"{PREFIX}{key}: not available as a gdlab optimizer: {REFUSED[name]}"
        )
    found = available()
    if name not in found:
        known = sorted(n for n in found if n not in REFUSED)
        raise ValueError(
            f"unknown optimizer {PREFIX + key!r}"
            f"{_checks.did_you_mean(name, known)}; torch.optim {torch.__version__} "
            f"has {', '.join(found[n].__name__ for n in known)}"
        )
    return found[name]


def wrap(
    cls: type[torch.optim.Optimizer],
    *,
    name: str | None = None,
    like: type[Optimizer] | None = None,
) -> type[TorchOptimizer]:
    """A gdlab optimizer class that runs ``cls``, a ``torch.optim.Optimizer``
    subclass, over gdlab's arrays; ``name`` names it in messages and checkpoints
    (default ``torch:<cls name>``), ``like`` is the gdlab optimizer whose
    constraints, search space and suggested lr it shares (where it has the same
    hyperparameters)."""
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        _checks.fail("wrap", "cls", "a torch.optim.Optimizer subclass", cls)
    signature = inspect.signature(cls.__init__).parameters
    defaults = {
        k: p.default
        for k, p in signature.items()
        if k not in ("self", "params", *LEFT_OUT)
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.default is not inspect.Parameter.empty
    }
    if "lr" not in defaults:
        _checks.fail("wrap", "cls", "an optimizer whose lr has a default", cls)
    shared = {k: c for k, c in (like.constraints if like else {}).items()}
    shared = {k: shared.get(k) or _constraint(v) for k, v in defaults.items()}
    space = {} if like is None else like.search_space
    kept = {a: axis for a, axis in space.items() if hyperparameter(a) in defaults}
    if "lr" not in kept:
        kept = {"lr": lr_around(float(defaults["lr"])), **kept}
    body = {
        "torch_class": cls,
        "defaults": defaults,
        "constraints": {k: c for k, c in shared.items() if k != "lr"},
        "search_space": kept,
        "suggested_lr": None if like is None else like.suggested_lr,
        "__doc__": f"``{cls.__module__}.{cls.__name__}`` run over gdlab's arrays "
        f"(see :mod:`gdlab.optim.torch`).",
        "__module__": __name__,
    }
    label = name or f"{PREFIX}{cls.__name__}"
    made = type(label, (TorchOptimizer,), body)
    return made


Constraint = Callable[[str, str, Any], Any]


def _optional_flag(owner: str, name: str, value: object) -> bool | None:
    """None (torch picks) or a bool: ``foreach``, ``fused``."""
    return None if value is None else _checks.flag(owner, name, value)


def _like(default: object) -> Constraint:
    """A check of one value of the kind ``default`` is: a number (>= 0 if the
    default is), an integer for a count (an int default other than 0), a flag."""
    if isinstance(default, bool):
        return _checks.flag
    if isinstance(default, int) and default != 0:
        low = 0 if default >= 0 else None
        return lambda owner, name, v: _checks.integer(owner, name, v, low=low)
    if isinstance(default, int | float):
        low_f = 0.0 if default >= 0 else None
        return lambda owner, name, v: _checks.number(owner, name, v, low=low_f)
    return lambda owner, name, v: v  # torch checks it when the optimizer is built


def _constraint(default: object) -> Constraint:
    """The constraint of a hyperparameter no gdlab optimizer of the same name
    declares, by its default: a tuple is checked element by element (None where
    the default holds None), ``None`` defaults are torch's switches."""
    if default is None:
        return _optional_flag
    if isinstance(default, tuple):
        parts = [None if d is None else _like(d) for d in default]

        def each(owner: str, name: str, value: object) -> tuple[Any, ...]:
            if not isinstance(value, tuple | list) or len(value) != len(parts):
                _checks.fail(owner, name, f"a tuple of {len(parts)} values", value)
            return tuple(
                v
                if check is None and v is None
                else (check or _like(0.0))(owner, f"{name}[{i}]", v)
                for i, (check, v) in enumerate(zip(parts, value, strict=True))
            )

        return each
    return _like(default)


class TorchOptimizer(Optimizer):
    """The base of :func:`wrap`'s classes: ``step(grads)`` sets each tensor's
    ``.grad`` to a view of its gradient, writes the step's lr and the group's
    hyperparameters into torch's param groups, and calls ``torch_class.step()``.

    Its state is torch's, mirrored by name into :attr:`state` (arrays that share
    torch's memory); :attr:`state_spec` lists the keys torch keeps for these
    hyperparameters, found by one step of a copy on zero gradients when built.
    """

    torch_class: ClassVar[type[torch.optim.Optimizer]]
    elementwise: ClassVar[bool] = False

    def __init__(
        self,
        params: Mapping[str, Array] | Iterable[Mapping[str, Any]],
        lr: Any = None,
        **hyper: Any,
    ) -> None:
        super().__init__(params, lr, **hyper)
        owner = type(self).__name__
        self._tensors = {
            n: torch.from_numpy(a)
            for g in self.param_groups
            for n, a in g["params"].items()
        }
        self._grad_views: dict[str, tuple[Array, torch.Tensor]] = {}
        try:
            self.torch = self._build(self._torch_groups(self._tensors))
            probe = self._probe()
        except (ValueError, TypeError, RuntimeError) as error:
            raise ValueError(f"{owner}: {error}") from None
        self._layout = probe
        kinds = {key: "real" for layout in probe.values() for key in layout}
        self.state_spec = kinds  # type: ignore[misc]  # these hyperparameters'

    def _build(self, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        make: Callable[..., torch.optim.Optimizer] = self.torch_class
        return make(groups)

    def _torch_groups(
        self, tensors: Mapping[str, torch.Tensor], lrs: list[float] | None = None
    ) -> list[dict[str, Any]]:
        groups = []
        for i, group in enumerate(self.param_groups):
            hyper = {k: group[k] for k in self.defaults}
            hyper["lr"] = self._lr_at(group, self.step_count) if lrs is None else lrs[i]
            groups.append({"params": [tensors[n] for n in group["params"]], **hyper})
        return groups

    def _probe(self) -> dict[str, dict[str, tuple[tuple[int, ...], np.dtype[Any]]]]:
        """The state torch keeps per parameter, (shape, dtype) by key: one step
        of a twin on copies of the parameters with zero gradients."""
        copies = {n: t.detach().clone() for n, t in self._tensors.items()}
        twin = self._build(self._torch_groups(copies))
        for t in copies.values():
            t.grad = torch.zeros_like(t)
        with self._threads():
            twin.step()
        layout = {}
        for name, t in copies.items():
            kept = {}
            for key, value in twin.state.get(t, {}).items():
                if value is None:
                    continue
                if not isinstance(value, torch.Tensor):
                    raise ValueError(
                        f"it keeps state {key!r} as {type(value).__name__}, not as "
                        "a tensor, which a checkpoint cannot hold"
                    )
                kept[key] = (tuple(value.shape), np.dtype(str(value.dtype)[6:]))
            layout[name] = kept
        return layout

    def state_layout(
        self, name: str
    ) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
        return dict(self._layout[name])

    def warm_up(self) -> None:
        """Nothing to compile: torch's kernels are built already."""

    @contextlib.contextmanager
    def _threads(self) -> Iterator[None]:
        """torch's ops on one thread below :data:`kernel.PARALLEL_MIN_SIZE`
        elements, as gdlab's own kernels run."""
        size = sum(t.numel() for t in self._tensors.values())
        before = torch.get_num_threads()
        if before == 1 or size >= kernel.PARALLEL_MIN_SIZE:
            yield
            return
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def step(
        self, grads: Mapping[str, Any], closure: Closure | None = None
    ) -> float | None:
        """One step of the torch optimizer with these gradients (a closure is not
        used: no wrapped optimizer re-evaluates)."""
        arrays = self._checked_grads(grads)
        lrs = self._begin_step()
        for theirs, hyper in zip(
            self.torch.param_groups, self._torch_groups(self._tensors, lrs), strict=True
        ):
            theirs.update({k: v for k, v in hyper.items() if k != "params"})
        for name, tensor in self._tensors.items():
            tensor.grad = self._grad_view(name, arrays[name])
        try:
            with self._threads():
                self.torch.step()
        finally:
            for tensor in self._tensors.values():
                tensor.grad = None  # no hold on the caller's arrays
        self._mirror()
        return None

    def _grad_view(self, name: str, g: Array) -> torch.Tensor:
        """``g`` as a tensor sharing its memory (made once per array)."""
        seen = self._grad_views.get(name)
        if seen is not None and seen[0] is g:
            return seen[1]
        source = g if g.flags.writeable and g.flags.c_contiguous else g.copy()
        view = torch.from_numpy(source)
        self._grad_views[name] = (g, view)
        return view

    def _mirror(self) -> None:
        """:attr:`state` as views of torch's state tensors; a key torch began to
        keep after an edit of ``param_groups`` (SGD's ``momentum_buffer`` once
        ``momentum`` is set) joins the declared layout."""
        for name, tensor in self._tensors.items():
            kept = {
                key: value.numpy()
                for key, value in self.torch.state.get(tensor, {}).items()
                if isinstance(value, torch.Tensor)
            }
            for key, a in kept.items():
                if key not in self._layout[name]:
                    self._layout[name][key] = (a.shape, a.dtype)
                    self.state_spec[key] = "real"
            self.state[name] = kept

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` into torch's state, everything checked
        first (names, keys, shapes, finite values) so a bad one changes nothing."""
        owner = type(self).__name__
        step, groups = self._loaded_step_and_groups(state_dict)
        saved = state_dict.get("state")
        if not isinstance(saved, Mapping) or set(saved) - set(self._tensors):
            _checks.fail(
                owner,
                "state_dict['state']",
                f"a dict of parameters among {list(self._tensors)}",
                saved if not isinstance(saved, Mapping) else sorted(saved),
            )
        loaded: dict[str, dict[str, torch.Tensor]] = {}
        for name, arrays in saved.items():
            where = f"state_dict['state'][{name!r}]"
            layout = self._layout[name]
            if not isinstance(arrays, Mapping) or set(arrays) - set(layout):
                _checks.fail(owner, where, f"a dict of {sorted(layout)}", arrays)
            if arrays and set(arrays) != set(layout):
                _checks.fail(owner, where, f"to hold {sorted(layout)}", sorted(arrays))
            loaded[name] = {}
            for key, value in arrays.items():
                shape, dtype = layout[key]
                a = np.asarray(value)
                if a.shape != shape or a.dtype.kind not in "fiu":
                    _checks.fail(
                        owner,
                        f"{where}[{key!r}]",
                        f"a real array of shape {shape}",
                        f"shape {a.shape} and dtype {a.dtype}",
                    )
                if not np.isfinite(a).all():
                    _checks.fail(owner, f"{where}[{key!r}]", "finite", "other values")
                loaded[name][key] = torch.from_numpy(np.array(a, dtype=dtype))
        for mine, theirs in zip(self.param_groups, groups, strict=True):
            mine.update(theirs)
        self._checked_groups = [self._hyper(g) for g in self.param_groups]
        for name, tensor in self._tensors.items():
            self.torch.state.pop(tensor, None)
            if loaded.get(name):
                self.torch.state[tensor] = loaded[name]
        self.step_count = step
        self._mirror()


__all__ = ["PREFIX", "TorchOptimizer", "available", "find", "wrap"]
