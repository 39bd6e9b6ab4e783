r"""K runs of one optimizer as one computation: per-run hyperparameters and state.

A population holds the parameters of K runs stacked along a leading axis, ``(K,
n)``, each row one run's flat buffer, and each state array (Adam's ``exp_avg``, ...)
the same way. One step calls the optimizer's own element-wise rule once over all
of them (:meth:`gdlab.optim.kernel.Kernel.runs`), each ``float`` argument a ``(K,)``
array of the runs' own values: their learning rates at this step (each run's own
schedule), their hyperparameters (``lr``, ``betas``, ``momentum``, ...), their
bias corrections. So there is no second copy of the update math, and run ``k``
gets exactly the numbers its own optimizer would give it alone:

.. math::
    \theta^{(k)}_t = \mathrm{rule}\big(\theta^{(k)}_{t-1}, g^{(k)}_t;\;
        \eta^{(k)}(t), h^{(k)}\big), \qquad k = 1..K

Runs whose ``bool`` arguments differ at a step (RAdam's ``adaptive`` for runs of
different β2) are called in contiguous ranges of equal flags.

Which optimizers: element-wise rules that use the base's :meth:`update` (no
``update``, ``prepare`` or ``eval_params`` of their own) and keep no per-segment
``"scalar"`` state (NAdam's running product): SGD, Adam, AdamW, RMSprop, Adagrad,
Adadelta, Adamax, RAdam, Rprop, Lion, ... :func:`unsupported` says why not.

Example::

    members = [optim.Adam(m.params, lr=lr) for m, lr in zip(models, lrs)]
    runs = Population(members, params)   # params: (K, n), row k = models[k]'s buffer
    runs.step(grads)                     # grads: (K, n)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from gdlab import _checks
from gdlab.optim.base import Optimizer, State, unused
from gdlab.params import Array, Params


def unsupported(optimizer: Optimizer) -> str | None:
    """Why ``optimizer`` cannot run in a population, or None if it can."""
    cls = type(optimizer)
    name = cls.__name__
    if cls.rule is None or not cls.elementwise:
        return f"{name} has no element-wise rule"
    for method in ("update", "prepare", "eval_params", "step"):
        if getattr(cls, method) is not getattr(Optimizer, method):
            return f"{name} has its own {method}()"
    if "scalar" in cls.state_spec.values():
        return f"{name} keeps per-segment scalar state"
    if len(optimizer.param_groups) != 1:
        return f"{name} has {len(optimizer.param_groups)} param groups"
    params = optimizer.param_groups[0]["params"]
    if not isinstance(params, Params) or len(params.buffers) != 1:
        return f"{name} does not hold one Params buffer"
    return None


class Population:
    """K optimizers of one class, each on its own run, stepped as one.

    Args:
        members: the runs' optimizers (one param group on one :class:`~gdlab.Params`
            each, all of one class, dtype and size, none stepped yet); they are
            not stepped, only read: their hyperparameters, schedules and initial
            state.
        params: ``(K, n)`` C-contiguous, row k the parameters of ``members[k]``,
            updated in place by :meth:`step`.
    """

    def __init__(self, members: Sequence[Optimizer], params: Array) -> None:
        owner = "Population"
        if not members:
            _checks.fail(owner, "members", "at least one optimizer", members)
        first = members[0]
        for member in members:
            why = unsupported(member)
            if why is not None:
                _checks.fail(owner, "members", "optimizers that can run as one", why)
            if type(member) is not type(first):
                _checks.fail(
                    owner, "members", f"all {type(first).__name__}", type(member)
                )
            if member.step_count != 0:
                _checks.fail(owner, "members", "optimizers not stepped yet", member)
        k = len(members)
        buffers = [
            next(iter(m.param_groups[0]["params"].buffers.values())) for m in members
        ]
        n = buffers[0].size
        if any(b.size != n or b.dtype != buffers[0].dtype for b in buffers):
            _checks.fail(owner, "members", "of one size and dtype", n)
        if params.shape != (k, n) or params.dtype != buffers[0].dtype:
            _checks.fail(
                owner,
                "params",
                f"an array ({k}, {n}) of {buffers[0].dtype}",
                params.shape,
            )
        if not params.flags.c_contiguous:
            _checks.fail(owner, "params", "C-contiguous", params.shape)
        names = tuple(first.param_groups[0]["params"])
        # the state any run keeps; a run that keeps no such array (SGD without
        # momentum) is given one that its rule never reads, as update() gives it
        # an empty one
        self._held = [list(m.state[names[0]]) for m in members]
        keys = list(dict.fromkeys(key for held in self._held for key in held))
        self.members = list(members)
        self.rule = type(first).rule
        self.params = params
        self.n = n
        self.step_count = 0
        self.names = names
        self.state = State(names)
        for key in keys:
            self.state[key] = np.stack(
                [
                    np.concatenate([np.ravel(m.state[name][key]) for name in names])
                    if key in held
                    else np.zeros(n, dtype=params.dtype)
                    for m, held in zip(members, self._held, strict=True)
                ]
            )
        self.state.fresh = set(keys)
        assert self.rule is not None
        self.arguments = self.rule.arguments
        floats = set(self.rule.floats)
        self._floats = [i for i, a in enumerate(self.arguments) if a in floats]
        self._flags = [i for i, a in enumerate(self.arguments) if a in self.rule.flags]
        self._scalars = type(first).scalars is not Optimizer.scalars
        # Values bound from each run's hyperparameters do not change between
        # steps: bound once (a (K,) array for a float), like update() binds them.
        g = np.zeros(0, dtype=params.dtype)
        p = params.reshape(-1)
        bound = [
            m.rule_arguments(m.param_groups[0], 1, 0.0, p, g, self._flat())
            for m in self.members
        ]
        self._computed = {"lr", "step", "g", *type(first).state_spec}
        if self._scalars:
            self._computed |= set(
                first.scalars(first.param_groups[0], 1, 0.0, self._flat())
            )
        self._static: dict[int, Any] = {}
        for i, name in enumerate(self.arguments):
            if name not in self._computed:
                self._static[i] = self._stacked(i, [a[i] for a in bound])

    def _flat(self) -> State:
        """The state as flat arrays ``(K·n,)``, as one segment's State."""
        flat = State(self.names)
        flat.update({key: a.reshape(-1) for key, a in self.state.items()})
        flat.fresh = self.state.fresh
        return flat

    def _stacked(self, i: int, values: list[Any]) -> Any:
        """Argument ``i`` of every run: a ``(K,)`` array of the dtype for a float,
        the list for a flag, else the one value they share."""
        if i in self._floats:
            return np.array(values, dtype=self.params.dtype)
        if i in self._flags:
            return [bool(v) for v in values]
        if any(v != values[0] for v in values):
            name = self.arguments[i]
            _checks.fail("Population", f"the rule's {name}", "one value", values)
        return values[0]

    @property
    def size(self) -> int:
        """K, the runs stepped together."""
        return len(self.members)

    def lrs(self) -> list[float]:
        """Each run's learning rate for the next step (its schedule's value)."""
        step = self.step_count
        return [
            float(lr(step)) if callable(lr) else float(lr)
            for lr in (m.param_groups[0]["lr"] for m in self.members)
        ]

    def step(self, grads: Array, lrs: Sequence[float] | None = None) -> None:
        """Update every run from ``grads`` (``(K, n)``, row k run k's gradient);
        ``lrs``: what :meth:`lrs` gives now, when the caller has it already."""
        if grads.shape != self.params.shape or grads.dtype != self.params.dtype:
            _checks.fail(
                "Population",
                "grads",
                f"an array {self.params.shape} of {self.params.dtype}",
                grads.shape,
            )
        step = self.step_count + 1
        lrs = self.lrs() if lrs is None else list(lrs)
        p, g = self.params.reshape(-1), np.ascontiguousarray(grads).reshape(-1)
        flat = self._flat()
        extra = (
            [
                m.scalars(m.param_groups[0], step, lr, flat)
                for m, lr in zip(self.members, lrs, strict=True)
            ]
            if self._scalars
            else []
        )
        args: list[Any] = []
        for i, name in enumerate(self.arguments):
            if i in self._static:
                args.append(self._static[i])
            elif extra and name in extra[0]:
                args.append(self._stacked(i, [e[name] for e in extra]))
            elif name == "lr":
                args.append(self._stacked(i, lrs))
            elif name == "step":
                args.append(step)
            elif name == "g":
                args.append(g)
            else:  # a state key (an empty array when the rule keeps none)
                args.append(flat.get(name, unused(p)))
        k = self.size
        flags: list[tuple[bool, ...]] = (
            list(zip(*[args[i] for i in self._flags], strict=True))
            if self._flags
            else [()] * k
        )
        from gdlab.optim import kernel

        with kernel.threads(p.size):
            start = 0
            for stop in range(1, k + 1):
                if stop < k and flags[stop] == flags[start]:
                    continue
                self._call(args, flags[start], start, stop)
                start = stop
        self.state.fresh = set()
        self.step_count = step

    def _call(
        self, args: list[Any], flags: tuple[bool, ...], start: int, stop: int
    ) -> None:
        """The rule over runs ``[start, stop)``: a slice of every array."""
        n = self.n
        whole = start == 0 and stop == self.size
        call: list[Any] = []
        values = iter(flags)
        for i, a in enumerate(args):
            if i in self._flags:
                call.append(next(values))
            elif isinstance(a, np.ndarray) and not whole:
                if i in self._floats:
                    call.append(a[start:stop])
                elif a.size == 0:  # a state key this rule does not keep
                    call.append(a)
                else:
                    call.append(a[start * n : stop * n])
            else:
                call.append(a)
        assert self.rule is not None
        p = self.params.reshape(-1)
        self.rule.runs(p if whole else p[start * n : stop * n], n, *call)

    def warm_up(self) -> None:
        """Compile what the coming steps run (the per-run variants for these
        flags, loaded from disk when cached) before a run starts its clock: two
        steps of a copy of this population with zero gradients; this one is
        untouched."""
        twin = copy.deepcopy(self)
        zeros = np.zeros_like(twin.params)
        with np.errstate(all="ignore"):
            for _ in range(2):
                twin.step(zeros)

    def keep(self, rows: Sequence[int], params: Array) -> None:
        """Go on with runs ``rows`` only (the others stopped), whose parameters are
        now ``params`` (``(len(rows), n)``, C-contiguous)."""
        index = np.asarray(rows, dtype=np.intp)
        self.members = [self.members[i] for i in index]
        self._held = [self._held[i] for i in index]
        for i, value in self._static.items():
            if i in self._floats:
                self._static[i] = value[index]
            elif i in self._flags:
                self._static[i] = [value[r] for r in index]
        for key in list(self.state):
            self.state[key] = np.ascontiguousarray(self.state[key][index])
        self.params = params

    def sync(self, row: int) -> Optimizer:
        """Run ``row``'s optimizer, loaded with this population's state and step
        count (through its ``load_state_dict``: a checkpoint of the run, or its
        continuation alone, goes on exactly)."""
        member = self.members[row]
        params = member.param_groups[0]["params"]
        state: dict[str, dict[str, Array]] = {}
        offset = 0
        for name in self.names:
            shape = np.shape(params[name])
            size = int(np.prod(shape))
            state[name] = {
                key: a[row, offset : offset + size].reshape(shape)
                for key, a in self.state.items()
                if key in self._held[row]
            }
            offset += size
        saved = member.state_dict()
        member.load_state_dict(
            {
                "step": self.step_count,
                "param_groups": saved["param_groups"],
                "state": state,
            }
        )
        return member


__all__ = ["Population", "unsupported"]
