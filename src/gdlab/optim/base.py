"""The Optimizer base: parameter groups, the step count, the learning rate (a float
or a schedule), state keyed by parameter name, and the fused loop over buffers.

A subclass states its hyperparameters (``defaults``) and their ``constraints``,
names its state (``state_spec``, ``initial_state``) and gives its update rule: an
element-wise ``rule`` (a :class:`~gdlab.optim.kernel.Kernel`, whose arguments are
bound by name, see :meth:`Optimizer.update`) or its own ``update`` for one buffer.
Everything else lives here, once.

An optimizer that needs whole tensors (``elementwise = False``) sees each parameter
shaped, with its name (``state.names``), and may keep state that differs per
parameter (:meth:`Optimizer.param_state`, :meth:`Optimizer.state_shape`: Adafactor's
factored statistics, Muon's matrices without a second moment). Before the updates,
:meth:`Optimizer.prepare` may transform all gradients together (a global norm clip);
``step(grads, closure)`` hands a closure to rules that re-evaluate the loss (L-BFGS);
:meth:`Optimizer.eval_params` is the point to evaluate at (Schedule-Free's average).

Editing ``param_groups`` between steps works as in torch.optim: each ``step()``
checks a group again when its hyperparameters changed (a bad value is a ValueError
before anything moves) and creates the state that the group needs from then on —
SGD's momentum buffer switched on later starts at the gradient, as in torch; state
that torch would fail to find (Adam's ``max_exp_avg_sq`` when AMSGrad is switched
on, RMSprop's ``grad_avg`` or ``momentum_buffer``) starts at its initial value at
that step. State that is no longer needed is kept, so switching back resumes it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
import math
import operator
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gdlab import _checks
from gdlab.optim import kernel
from gdlab.optim.space import Axis, element
from gdlab.params import Array, Params

LrSchedule = Callable[[int], float]
"""A learning-rate schedule: a pure function of the step count (0 at the first step)."""

LearningRate = float | LrSchedule
"""What ``lr`` takes: a number, or a schedule evaluated at each step."""
Closure = Callable[[], "tuple[float, Mapping[str, Any]]"]
"""Re-evaluates the objective at the current parameters: ``(loss, grads)``."""
ParamsLike = Mapping[str, Array]
"""Parameters by name: a :class:`~gdlab.Params` or a plain dict of arrays."""
Group = dict[str, Any]

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
STATE_KINDS = ("real", "nonnegative", "scalar")


class State(dict[str, Array]):
    """One segment's state arrays by key; ``fresh`` holds the keys created since
    the segment's last update (SGD starts a new momentum buffer at the gradient);
    ``names`` the parameters the segment holds (one unless a Params is fused).

    ``bound`` caches the rule's arguments bound to this state (see
    :class:`_Binding`); setting or deleting a key drops it."""

    bound: _Binding | None = None  # a State unpickled from before it had one

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.fresh: set[str] = set()
        self.names = names
        self.bound: _Binding | None = None

    def __setitem__(self, key: str, value: Array) -> None:
        if self.get(key) is not value:
            self.bound = None
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.bound = None
        super().__delitem__(key)

    def __getstate__(self) -> dict[str, Any]:
        """A copy binds its arguments anew (to its own arrays)."""
        return {**self.__dict__, "bound": None}


class _Mark:
    """A stand-in for a value a rule's argument takes anew at each step."""

    def __init__(self, name: str) -> None:
        self.name = name


@dataclass
class _Binding:
    """The arguments :meth:`Optimizer.update` calls the rule with, bound once: a
    hyperparameter or a state array stays from step to step, so only ``g``,
    ``lr``, ``step`` and the values of :meth:`Optimizer.scalars` (at ``slots``)
    are put in each step. Made for one group's checked values (dropped when an
    edit is checked) and for the keys that ``scalars`` gave (``extra``).

    ``variants`` keeps the compiled variant of the rule that these arguments
    call (for the one segment's dtype), by the threads it runs on and the values
    of the flags that a step puts in (``flags`` picks them from the arguments)."""

    group: Group
    extra: frozenset[str]
    template: list[Any]
    slots: list[tuple[int, str]]
    """Where ``g``, ``lr`` and ``step`` go (unless ``scalars`` gives them)."""
    scalar_slots: list[tuple[int, str]] = field(default_factory=list)
    """Where the values of ``scalars`` go."""
    flags: Callable[[list[Any]], Any] | None = None
    variants: dict[Any, Any] = field(default_factory=dict)


_NO_SCALARS: Mapping[str, Any] = types.MappingProxyType({})


@dataclass
class _Segment:
    """A run of parameters that sits in one flat buffer and is updated in one pass;
    ``shape``: the parameter's own shape where it holds one parameter of a plain
    mapping (its gradient is taken as it is when it has that shape, see
    :meth:`Optimizer._plain_grads`)."""

    names: tuple[str, ...]
    param: Array
    source: Params | None = None  # the Params the buffer belongs to, if any
    state: State = field(default_factory=State)
    shape: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.state.names = self.names


def _checked(owner: str, name: str, a: object, *, flat: bool) -> Array:
    """The array itself (flattened to a view if ``flat``), after checking it."""
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating):
        _checks.fail(owner, f"params[{name!r}]", "a float array", type(a).__name__)
    if a.dtype not in SUPPORTED_DTYPES:
        _checks.fail(owner, f"params[{name!r}]", "float32 or float64", str(a.dtype))
    if not a.flags.c_contiguous or not a.flags.writeable:
        _checks.fail(owner, f"params[{name!r}]", "C-contiguous and writeable", a.shape)
    return a.reshape(-1) if flat else a


def _check_disjoint(owner: str, arrays: Mapping[str, Array]) -> None:
    """Refuse two parameters that share memory: one would be updated twice."""
    spans = sorted(
        (a.ctypes.data, a.ctypes.data + a.nbytes, name)
        for name, a in arrays.items()
        if a.size > 0
    )
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        if start < end:
            _checks.fail(
                owner, "params", "arrays that share no memory", [first, second]
            )


def _describe(value: object) -> object:
    """A hyperparameter as it goes into a state dict: a schedule as its to_dict()."""
    if callable(value):
        to_dict = getattr(value, "to_dict", None)
        return to_dict() if to_dict is not None else None
    return value


def _as_array(value: object) -> np.ndarray[Any, Any]:
    """``value`` as an array; an object array when it is no array of numbers."""
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.asarray(value)
    except (TypeError, ValueError):  # ragged nesting, or not numbers at all
        return np.asarray(None)


def _arrays_of(
    params: object,
) -> tuple[tuple[str, ...], tuple[object, ...]] | None:
    """A plain mapping's names and arrays (``None`` for a :class:`Params`, which
    cannot be edited): a step refuses a mapping whose arrays were swapped, added or
    removed, which it would otherwise go on updating through their old views."""
    if isinstance(params, Params) or not isinstance(params, Mapping):
        return None
    return tuple(params), tuple(params.values())


def _same_arrays(
    params: object, then: tuple[tuple[str, ...], tuple[object, ...]]
) -> bool:
    """Whether ``params`` is a mapping holding ``then``'s arrays, by identity,
    under the same names in the same order (no copy: this runs every step)."""
    names, arrays = then
    return (
        isinstance(params, Mapping)
        and len(params) == len(names)
        and tuple(params) == names
        and all(map(operator.is_, params.values(), arrays))
    )


def _same(a: object, b: object) -> bool:
    """Equal as hyperparameter values (an array never compares equal)."""
    return a is b or (type(a) is type(b) and not isinstance(a, np.ndarray) and a == b)


class Optimizer:
    """Base class: ``opt.step(grads)`` updates the parameters in place.

    ``params`` is a mapping name -> float32/float64 array (a :class:`~gdlab.Params`
    is updated in one fused pass per dtype buffer), or a list of group dicts
    ``{"params": mapping, **hyperparameters}`` whose values override the defaults.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    constraints: ClassVar[dict[str, Callable[[str, str, Any], Any]]] = {}
    """Hyperparameter -> check returning the value to keep (lr is checked apart)."""
    state_spec: ClassVar[dict[str, str]] = {}
    """Every state array the rule may keep -> its kind: ``"real"``, ``"nonnegative"``
    (checked when a state dict is loaded) or ``"scalar"`` (one float64 per segment,
    such as NAdam's running product of momentum coefficients)."""
    suggested_lr: ClassVar[float | None] = None
    """A learning rate that trains a small network in a few epochs (``defaults["lr"]``
    when None): the one-shot baseline of a comparison with no tuning budget."""
    search_space: ClassVar[dict[str, Axis]] = {}
    """Tunable axis -> its range (see :mod:`gdlab.optim.space`); ``lr`` always."""
    needs_closure: ClassVar[bool] = False
    """Whether each step re-evaluates the loss through ``step(grads, closure)``
    (L-BFGS's line search): such a rule cannot run where one step serves many
    independent runs at once (the surfaces' batched trajectories)."""
    elementwise: ClassVar[bool] = True
    """False for rules that need whole tensors (norms): they see each array shaped."""
    warm_up_steps: ClassVar[int] = 2
    """Steps :meth:`warm_up` takes: enough to meet every kernel variant a run meets
    (the first step's and the others'; more where a flag of :meth:`scalars` turns
    later, as RAdam's rectification)."""
    rule: ClassVar[kernel.Kernel | None] = None
    """The compiled element-wise rule that the default :meth:`update` calls."""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
    """Hyperparameter -> the values it may take, for one that picks among a few
    (Muon's ``adjust_lr_fn``): check_optimizer runs each one that is not the
    default."""

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
        per_param = any(
            getattr(cls, m) is not getattr(Optimizer, m)
            for m in ("param_state", "state_shape")
        )
        if cls.elementwise and per_param:
            raise TypeError(
                f"{cls.__name__}: state that differs per parameter needs "
                "elementwise = False (a fused buffer shares one layout)"
            )
        if cls.__doc__ and cls.search_space:
            axes = "".join(
                f"\n        {name}: {axis.describe()}"
                for name, axis in cls.search_space.items()
            )
            cls.__doc__ += f"\n    Search space (for tuning):{axes}\n"

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
        everything: dict[str, Array] = {}
        for spec in specs:
            group = self._validated(
                {**base, **{k: v for k, v in spec.items() if k != "params"}}
            )
            mapping = spec["params"]
            if not isinstance(mapping, Mapping) or not mapping:
                _checks.fail(
                    owner, "params", "a non-empty mapping name -> array", mapping
                )
            if set(everything) & set(mapping):
                _checks.fail(
                    owner,
                    "params",
                    "unique names across groups",
                    sorted(set(everything) & set(mapping)),
                )
            segments = self._make_segments(mapping)
            everything |= {n: mapping[n] for n in mapping}
            group["params"] = mapping
            self.param_groups.append(group)
            self._segments.append(segments)
        _check_disjoint(owner, everything)
        self.step_count = 0
        self._size = sum(s.param.size for segments in self._segments for s in segments)
        only = self._segments[0] if len(self._segments) == 1 else []
        self._fused: Params | None = (  # the Params whose buffers are updated whole
            only[0].source
            if only
            and only[0].source is not None
            and type(self).prepare is Optimizer.prepare
            else None
        )
        self.state: dict[str, dict[str, Array]] = {n: {} for n in everything}
        self._checked_groups = [self._hyper(g) for g in self.param_groups]
        self._arrays = [_arrays_of(g["params"]) for g in self.param_groups]
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
        """The state this group needs (keys of :attr:`state_spec`), with the value
        each starts at."""
        return {}

    def param_state(
        self, group: Group, name: str, shape: tuple[int, ...]
    ) -> dict[str, float]:
        """The state parameter ``name`` of ``shape`` needs (``initial_state`` by
        default); may differ per parameter when ``elementwise`` is False."""
        return self.initial_state(group)

    def state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of state ``key`` for a parameter of ``shape``: the parameter's
        own, or () for a ``"scalar"``; factored statistics declare theirs."""
        return () if self.state_spec.get(key) == "scalar" else shape

    def state_layout(
        self, name: str
    ) -> dict[str, tuple[tuple[int, ...], np.dtype[Any]]]:
        """Each state key parameter ``name`` may hold -> (shape, dtype): what a
        loaded state array must be (a ``"scalar"`` is float64)."""
        param = np.asarray(self._param(name))
        return {
            key: (
                self.state_shape(key, param.shape),
                np.dtype(np.float64) if kind == "scalar" else param.dtype,
            )
            for key, kind in self.state_spec.items()
        }

    def prepare(self, grads: dict[str, Array]) -> dict[str, Array]:
        """A global pre-step on all gradients together, before any update (a norm
        clip: see :func:`clipped`). Must return new arrays, never write to them."""
        return grads

    def eval_params(self) -> dict[str, Array]:
        """The point to evaluate (and save a model) at, by name: the parameters
        themselves, or a point the optimizer derives (Schedule-Free's average x)."""
        return {n: g["params"][n] for g in self.param_groups for n in g["params"]}

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Inside, the parameters hold :meth:`eval_params`; after, exactly what they
        held before (restored from a copy, so training resumes bit-identical)."""
        point = self.eval_params()
        params = {n: g["params"][n] for g in self.param_groups for n in g["params"]}
        moved = {n: a for n, a in point.items() if a is not params[n]}
        saved = {n: params[n].copy() for n in moved}
        try:
            for n, a in moved.items():
                params[n][...] = a
            yield
        finally:
            for n, a in saved.items():
                params[n][...] = a

    def scalars(
        self, group: Group, step: int, lr: float, state: State
    ) -> dict[str, Any]:
        """Values the :attr:`rule` takes that are computed each step (bias
        corrections, a flag from the state); they win over every other binding."""
        return {}

    def update(
        self,
        group: Group,
        step: int,
        lr: float,
        p: Array,
        g: Array,
        state: State,
    ) -> None:
        """Apply the update rule to one buffer ``p`` with gradient ``g``.

        By default this calls :attr:`rule` with each argument after ``p`` bound by
        its name: first :meth:`scalars`, then ``g``, ``lr`` and ``step``, a state
        key of :attr:`state_spec` (an empty array when this group keeps none), a
        hyperparameter, or one element of a pair (``beta1`` is ``betas[0]``).
        The state created for this step is then no longer ``fresh``.
        """
        self._apply(group, step, lr, [(p, g, state)])

    def _apply(
        self,
        group: Group,
        step: int,
        lr: float,
        work: Iterable[tuple[Array, Array, State]],
    ) -> None:
        """:meth:`update` of each ``(p, g, state)`` of one group in turn; what
        they share (the threads, whether there are :meth:`scalars`) found once,
        and the compiled variant kept with the bound arguments (the serial one
        for an array below :data:`~gdlab.optim.kernel.PARALLEL_MIN_ARRAY`). A
        step over a dict of many arrays spends its Python here (about 2 µs an
        array)."""
        rule = self.rule
        if rule is None:
            raise NotImplementedError(
                f"{type(self).__name__} must define rule or update()"
            )
        scalars = self.scalars if type(self).scalars is not Optimizer.scalars else None
        threads = not kernel.serial()
        small = kernel.PARALLEL_MIN_ARRAY
        now: dict[str, Any] = {"g": None, "lr": lr, "step": step}
        for p, g, state in work:
            extra = _NO_SCALARS if scalars is None else scalars(group, step, lr, state)
            bound = state.bound
            if bound is None or bound.group is not group or extra.keys() != bound.extra:
                bound = state.bound = self._binding(group, p, state, extra)
            args = bound.template.copy()
            now["g"] = g
            for i, name in bound.slots:
                args[i] = now[name]
            for i, name in bound.scalar_slots:
                args[i] = extra[name]
            parallel = threads and p.size >= small
            key = (parallel, None if bound.flags is None else bound.flags(args))
            compiled = bound.variants.get(key)
            if compiled is None:
                compiled = bound.variants[key] = rule.variant(p.dtype, args, parallel)
            compiled(p, *args)
            state.fresh.clear()

    def _binding(
        self, group: Group, p: Array, state: State, extra: Mapping[str, Any]
    ) -> _Binding:
        """The rule's arguments bound as :meth:`rule_arguments` binds them, with a
        mark where a value comes anew at each step."""
        marks = {k: _Mark(k) for k in ("g", "lr", "step", *extra)}
        args = self._bound(
            group,
            marks["step"],
            marks["lr"],
            p,
            marks["g"],
            state,
            {k: marks[k] for k in extra},
        )
        slots = [(i, a.name) for i, a in enumerate(args) if isinstance(a, _Mark)]
        assert self.rule is not None
        flags = [i for i in self.rule.flag_positions if isinstance(args[i], _Mark)]
        return _Binding(
            group,
            frozenset(extra),
            args,
            [(i, name) for i, name in slots if name not in extra],
            [(i, name) for i, name in slots if name in extra],
            operator.itemgetter(*flags) if flags else None,
        )

    def rule_arguments(
        self,
        group: Group,
        step: int,
        lr: float,
        p: Array,
        g: Array,
        state: State,
    ) -> list[Any]:
        """The arguments after ``p`` that :meth:`update` calls :attr:`rule` with,
        bound by name (see :meth:`update`); a population of runs
        (:mod:`gdlab.optim.population`) binds each run's the same way."""
        extra = self.scalars(group, step, lr, state)
        return self._bound(group, step, lr, p, g, state, extra)

    def _bound(
        self,
        group: Group,
        step: object,
        lr: object,
        p: Array,
        g: object,
        state: State,
        extra: Mapping[str, Any],
    ) -> list[Any]:
        rule = self.rule
        assert rule is not None
        fixed = {"g": g, "lr": lr, "step": step}
        args: list[Any] = []
        for name in rule.arguments:
            if name in extra:
                args.append(extra[name])
            elif name in fixed:
                args.append(fixed[name])
            elif name in self.state_spec:
                args.append(state.get(name, unused(p)))
            elif name in group:
                args.append(group[name])
            elif (found := element(name)) and found[0] in group:
                args.append(group[found[0]][found[1]])
            else:
                raise TypeError(
                    f"{type(self).__name__}: the rule's argument {name!r} is no "
                    "state key, hyperparameter or value of scalars()"
                )
        return args

    # --- the step -------------------------------------------------------------------

    @property
    def lr(self) -> float:
        """The learning rate the next step uses (of the first group)."""
        return self._lr_at(self.param_groups[0], self.step_count)

    def step(
        self, grads: Mapping[str, Any], closure: Closure | None = None
    ) -> float | None:
        """Update every parameter in place from ``grads`` (same names and shapes).

        A gradient may be any real array-like of its parameter's shape (a NumPy
        scalar for a 0-d parameter); it is cast to the parameter's dtype.
        ``closure``, torch's contract with gradients returned instead of stored in
        ``.grad``: ``closure()`` re-evaluates ``(loss, grads)`` at the current
        parameters. Rules that need more evaluations (L-BFGS) call it; the others
        ignore it. Returns the first loss a closure gave, else None.
        """
        fused = self._fused_grads(grads)
        plain = self._plain_grads(grads) if fused is None else None
        arrays: dict[str, Array] = {}
        if fused is None and plain is None:
            arrays = self._checked_grads(grads)
            if type(self).prepare is not Optimizer.prepare:
                arrays = self.prepare(arrays)
                grads = arrays
        lrs = self._begin_step()
        # kernels alone (the default update) need no thread count set when serial
        only_kernels = type(self).update is Optimizer.update
        given = plain if plain is not None else [None] * len(self._segments)
        with kernel.threads(self._size, only_kernels=only_kernels):
            for group, lr, segments, flat in zip(
                self.param_groups, lrs, self._segments, given, strict=True
            ):
                work: Iterable[tuple[Array, Array, State]]
                if fused is not None:  # laid out as the parameters: nothing to check
                    work = [
                        (s.param, fused.buffers[s.param.dtype], s.state)
                        for s in segments
                    ]
                elif flat is not None:
                    work = [
                        (s.param, g, s.state)
                        for s, g in zip(segments, flat, strict=True)
                    ]
                else:  # each made as its turn comes, after the arrays before it
                    work = (
                        (s.param, self._flat_grad(s, grads, arrays), s.state)
                        for s in segments
                    )
                if only_kernels:
                    self._apply(group, self.step_count, lr, work)
                    continue
                for p, g, state in work:
                    self.update(group, self.step_count, lr, p, g, state)
                    state.fresh.clear()
        return None

    def _plain_grads(self, grads: object) -> list[list[Array]] | None:
        """Each segment's gradient as it is, by group, where ``grads`` holds for
        every parameter of a plain mapping an array of its shape and dtype,
        C-contiguous (the gradient a model makes): every check of
        :meth:`_checked_grads` holds and nothing needs casting or copying.
        None otherwise (those checks then run, and say what is wrong), or when the
        optimizer prepares its gradients."""
        if (
            type(self).prepare is not Optimizer.prepare
            or not isinstance(grads, Mapping)
            or len(grads) != len(self.state)
        ):
            return None
        flat = self.elementwise
        out = []
        for segments in self._segments:
            group = []
            for seg in segments:
                if seg.shape is None:  # part of a Params
                    return None
                g = grads.get(seg.names[0])
                if (
                    type(g) is not np.ndarray
                    or g.dtype is not seg.param.dtype
                    or g.shape != seg.shape
                    or not g.flags.c_contiguous
                ):
                    return None
                group.append(g.reshape(-1) if flat and g.ndim != 1 else g)
            out.append(group)
        return out

    def _fused_grads(self, grads: object) -> Params | None:
        """``grads`` when it is a Params laid out as the one Params this optimizer
        updates (every name, shape and dtype the same, so every check of
        :meth:`_checked_grads` holds and each buffer is read whole), else None."""
        source = self._fused
        if (
            source is not None
            and source.same_layout(grads)
            and self.param_groups[0].get("params") is source  # else its error
        ):
            assert isinstance(grads, Params)
            return grads
        return None

    def _begin_step(self) -> list[float]:
        """Check edited groups, create the state they now need and count the step;
        the lr of each group for this step. Nothing changes when a check fails."""
        groups, changed = self._revalidated_groups()
        lrs = [self._lr_at(group, self.step_count) for group in groups]
        for lr in lrs:
            if not (math.isfinite(lr) and lr >= 0):
                _checks.fail(
                    type(self).__name__,
                    f"the scheduled lr at step {self.step_count}",
                    ">= 0 and finite",
                    lr,
                )
        for i in changed:
            group = self.param_groups[i]
            group.update(groups[i])
            self._checked_groups[i] = self._hyper(group)
            for seg in self._segments[i]:
                seg.state.bound = None  # bound to the values checked before
                self._allocate_state(group, seg)
        self.step_count += 1
        return lrs

    def warm_up(self) -> None:
        """Compile what the coming steps run (each kernel variant for these dtypes
        and flags, loaded from disk when cached) before a run starts its clock:
        :attr:`warm_up_steps` steps of a copy of this optimizer, on copies of the
        parameters, with zero gradients. This optimizer and its parameters are
        untouched."""
        twin = copy.deepcopy(self)
        groups = [g["params"] for g in twin.param_groups]
        zeros: Any = (  # in the form a step is given: one Params, or arrays by name
            groups[0].zeros_like()
            if len(groups) == 1 and isinstance(groups[0], Params)
            else {n: np.zeros_like(a) for p in groups for n, a in p.items()}
        )
        with np.errstate(all="ignore"):
            for _ in range(self.warm_up_steps):
                twin.step_with(zeros, lambda: (0.0, zeros))

    def step_with(self, grads: Mapping[str, Any], closure: Closure) -> Any:
        """``step(grads, closure)``; ``step(grads)`` for a subclass (a plugin
        written before closures) whose ``step`` takes no closure."""
        if _takes_closure(type(self)):
            return self.step(grads, closure)
        return self.step(grads)

    # --- state ----------------------------------------------------------------------

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy (``copy.deepcopy``, pickle) makes its own arrays of every view, so
        each segment's flat parameter and state would no longer be views of the
        arrays in ``param_groups`` and :attr:`state`: the copy stepped arrays
        nobody sees. They are made views of the copy's own arrays again."""
        self.__dict__.update(state)
        owner = type(self).__name__
        for group, segments in zip(self.param_groups, self._segments, strict=True):
            for seg in segments:
                if seg.source is not None:  # a Params keeps its buffer's views
                    seg.param = seg.source.buffers[seg.param.dtype]
                else:
                    (name,) = seg.names
                    a = group["params"][name]
                    seg.param = _checked(owner, name, a, flat=self.elementwise)
                for key, value in seg.state.items():
                    seg.state[key] = self._relinked(seg, key, value)

    def _relinked(self, seg: _Segment, key: str, value: Array) -> Array:
        """``seg``'s state ``key`` as a view of :attr:`state`'s arrays again (one
        flat buffer of them where ``seg`` holds several parameters)."""
        parts = [self.state[name][key] for name in seg.names]
        if self.state_spec.get(key) == "scalar":
            return parts[0]
        if len(parts) == 1:
            return parts[0].reshape(value.shape)
        flat = np.concatenate([part.reshape(-1) for part in parts])
        offset = 0
        for name, part in zip(seg.names, parts, strict=True):
            self.state[name][key] = flat[offset : offset + part.size].reshape(
                part.shape
            )
            offset += part.size
        return flat.reshape(value.shape)

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
        """Restore a :meth:`state_dict`; parameter names and shapes must match.

        Everything is checked before anything changes: a state dict that fails
        (another optimizer's, unknown or missing keys, values out of range) raises a
        ValueError naming the key and leaves this optimizer exactly as it was.
        """
        step, groups = self._loaded_step_and_groups(state_dict)
        state = self._loaded_state(state_dict.get("state"), step, groups)
        for i, (mine, theirs) in enumerate(zip(self.param_groups, groups, strict=True)):
            mine.update(theirs)
            self._checked_groups[i] = self._hyper(mine)
        for group, segments in zip(self.param_groups, self._segments, strict=True):
            for seg in segments:
                seg.state = State(seg.names)
                for name in seg.names:
                    self.state[name] = {}
                for key in state[seg.names[0]]:
                    self._allocate_key(seg, key, 0.0)
                    for name in seg.names:
                        self.state[name][key][...] = state[name][key]
                seg.state.fresh.clear()
                self._allocate_state(group, seg)  # what the group needs from now on
        self.step_count = step

    def _loaded_step_and_groups(
        self, state_dict: object
    ) -> tuple[int, list[dict[str, Any]]]:
        """A state dict's step and param_groups, checked: it is a mapping of
        ``step``, ``param_groups`` and ``state`` only."""
        owner = type(self).__name__
        if not isinstance(state_dict, Mapping):
            _checks.fail(owner, "state_dict", "a mapping", type(state_dict).__name__)
        unknown = sorted(set(state_dict) - {"step", "param_groups", "state"})
        if unknown:
            _checks.fail(owner, "state_dict", "without unknown keys", unknown)
        step = _checks.integer(
            owner, "state_dict['step']", state_dict.get("step"), low=0
        )
        return step, self._loaded_groups(state_dict.get("param_groups"))

    def _loaded_groups(self, groups: object) -> list[Group]:
        """The saved param groups, checked like constructor arguments."""
        owner = type(self).__name__
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            _checks.fail(
                owner,
                "state_dict['param_groups']",
                f"a list of {len(self.param_groups)} group dicts",
                groups,
            )
        loaded = []
        for mine, theirs in zip(self.param_groups, groups, strict=True):
            if not isinstance(theirs, Mapping):
                _checks.fail(owner, "state_dict['param_groups'][i]", "a dict", theirs)
            theirs_names = list(theirs.get("params", []))
            if theirs_names != list(mine["params"]):
                raise ValueError(
                    f"{owner}: state_dict is for parameters {theirs_names}, "
                    f"but this optimizer has {list(mine['params'])}"
                )
            hyper = {
                k: tuple(v) if isinstance(v, list) else v
                for k, v in theirs.items()
                if k != "params"
            }
            saved_lr, my_lr = hyper.get("lr"), _describe(mine["lr"])
            if isinstance(saved_lr, dict) or callable(mine["lr"]):
                if saved_lr != my_lr:
                    raise ValueError(
                        f"{owner}: state_dict was saved with lr {saved_lr!r}, "
                        f"but this optimizer has lr {my_lr!r}"
                    )
                hyper["lr"] = mine["lr"]
            elif "lr" in hyper and saved_lr is None:  # a plain function, not described
                hyper["lr"] = mine["lr"]
            loaded.append(self._validated(hyper, where="state_dict"))
        return loaded

    def _loaded_state(
        self, state: object, step: int, groups: list[Group]
    ) -> dict[str, dict[str, Array]]:
        """The saved state arrays by name, checked against :attr:`state_spec`."""
        owner = type(self).__name__
        where = "state_dict['state']"
        if not isinstance(state, Mapping):
            _checks.fail(owner, where, "a dict name -> dict of arrays", state)
        unknown = sorted(set(state) - set(self.state), key=str)
        if unknown:
            _checks.fail(owner, where, "keyed by this optimizer's parameters", unknown)
        # State every step creates, at the defaults and at the saved values: a
        # state dict past step 0 without it is broken.
        loaded: dict[str, dict[str, Array]] = {}
        for group, saved, segments in zip(
            self.param_groups, groups, self._segments, strict=True
        ):
            fresh = {**self.defaults, "params": group["params"]}
            then = {**saved, "params": group["params"]}
            for seg in segments:
                required = (
                    set(self._initial(fresh, seg)) & set(self._initial(then, seg))
                    if step > 0
                    else set()
                )
                for name in seg.names:
                    arrays = self._loaded_arrays(name, state.get(name, {}), group)
                    missing = sorted(required - set(arrays))
                    if missing:
                        _checks.fail(
                            owner, f"{where}[{name!r}]", f"to hold {missing[0]!r}", None
                        )
                    first = loaded.get(seg.names[0], arrays)
                    if set(arrays) != set(first):
                        _checks.fail(
                            owner,
                            f"{where}[{name!r}]",
                            f"the same keys as {seg.names[0]!r} ({sorted(first)})",
                            sorted(arrays),
                        )
                    loaded[name] = arrays
        return loaded

    def _loaded_arrays(
        self, name: str, saved: object, group: Group
    ) -> dict[str, Array]:
        owner = type(self).__name__
        where = f"state_dict['state'][{name!r}]"
        if not isinstance(saved, Mapping):
            _checks.fail(owner, where, "a dict of arrays", saved)
        unknown = sorted(set(saved) - set(self.state_spec), key=str)
        if unknown:
            _checks.fail(owner, where, f"keys among {list(self.state_spec)}", unknown)
        arrays: dict[str, Array] = {}
        for key, value in saved.items():
            kind = self.state_spec[key]
            shape, dtype = self.state_layout(name)[key]
            a = _as_array(value)
            if a.dtype.kind not in "fiu" or a.shape != shape:
                _checks.fail(
                    owner,
                    f"{where}[{key!r}]",
                    f"a real array of shape {shape}",
                    f"shape {a.shape} and dtype {a.dtype}",
                )
            if not np.isfinite(a).all() or (kind == "nonnegative" and (a < 0).any()):
                need = "finite and >= 0" if kind == "nonnegative" else "finite"
                _checks.fail(owner, f"{where}[{key!r}]", need, "other values")
            arrays[key] = a.astype(dtype, copy=True)
        return arrays

    # --- helpers ----------------------------------------------------------------------

    def _check_keys(self, hyper: Mapping[str, Any]) -> None:
        unknown = sorted(set(hyper) - set(self.defaults) - {"params"}, key=str)
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

    def _validated(self, hyper: Mapping[str, Any], where: str = "param group") -> Group:
        """A copy of one group's hyperparameters, checked and normalized."""
        group = dict(hyper)
        self._check_keys(group)
        missing = [k for k in self.defaults if k not in group]
        if missing:
            _checks.fail(
                type(self).__name__, where, f"a value for {missing[0]!r}", None
            )
        self._check_lr(group["lr"])
        self.check(group)
        return group

    @staticmethod
    def _hyper(group: Group) -> Group:
        """What a group held when last checked (``params`` by identity)."""
        return dict(group)

    def _revalidated_groups(self) -> tuple[list[Group], list[int]]:
        """The groups the next step uses, an edited one checked again (as a copy),
        and which groups to take again: those edited, and those holding new objects
        of equal values (not checked again, but bound to anew)."""
        owner = type(self).__name__
        if len(self.param_groups) != len(self._segments):
            _checks.fail(
                owner,
                "param_groups",
                f"the {len(self._segments)} groups it was built with",
                len(self.param_groups),
            )
        groups, changed = list(self.param_groups), []
        checks = zip(groups, self._checked_groups, self._arrays, strict=True)
        for i, (group, checked, arrays) in enumerate(checks):
            if arrays is not None and not _same_arrays(group.get("params"), arrays):
                _checks.fail(
                    owner,
                    f"param_groups[{i}]['params']",
                    "the arrays it was built with, under their names (an array "
                    "replaced, added or removed: build a new optimizer instead)",
                    ", ".join(group["params"]),
                )
            if (
                len(group) == len(checked)
                and all(map(operator.is_, group, checked))
                and all(map(operator.is_, group.values(), checked.values()))
            ):  # the same keys, in order, holding the same objects: untouched
                continue
            changed.append(i)
            if group.get("params") is not checked["params"]:
                _checks.fail(
                    owner,
                    f"param_groups[{i}]['params']",
                    "the mapping it was built with (build a new optimizer instead)",
                    type(group.get("params")).__name__,
                )
            unchanged = len(group) == len(checked) and all(
                k in group and _same(group[k], v) for k, v in checked.items()
            )
            if not unchanged:
                hyper = {k: v for k, v in group.items() if k != "params"}
                groups[i] = self._validated(hyper, f"param_groups[{i}]")
        return groups, changed

    @staticmethod
    def _lr_at(group: Group, step: int) -> float:
        lr = group["lr"]
        return float(lr(step)) if callable(lr) else float(lr)

    def _make_segments(self, mapping: ParamsLike) -> list[_Segment]:
        owner = type(self).__name__
        if isinstance(mapping, Params) and self.elementwise:
            for name, slot in mapping.slots.items():
                if slot.dtype not in SUPPORTED_DTYPES:
                    _checks.fail(
                        owner,
                        f"params[{name!r}]",
                        "float32 or float64",
                        str(slot.dtype),
                    )
            return [
                _Segment(
                    tuple(n for n, s in mapping.slots.items() if s.dtype == dt),
                    buffer,
                    mapping,
                )
                for dt, buffer in mapping.buffers.items()
            ]
        return [
            _Segment(
                (name,),
                _checked(owner, name, a, flat=self.elementwise),
                shape=a.shape,
            )
            for name, a in mapping.items()
        ]

    def _initial(self, group: Group, seg: _Segment) -> dict[str, float]:
        """The state ``seg`` needs in ``group``: per parameter for one parameter."""
        if len(seg.names) == 1:
            name = seg.names[0]
            return self.param_state(group, name, np.shape(self._param(name)))
        return self.initial_state(group)

    def _allocate_state(self, group: Group, seg: _Segment) -> None:
        """Create the state ``group`` needs that ``seg`` does not hold yet."""
        for key, value in self._initial(group, seg).items():
            if key not in self.state_spec:
                raise ValueError(
                    f"{type(self).__name__}.initial_state gives {key!r}, "
                    "which its state_spec does not declare"
                )
            if key not in seg.state:
                self._allocate_key(seg, key, value)

    def _allocate_key(self, seg: _Segment, key: str, value: float) -> None:
        views: dict[str, Array]
        if self.state_spec.get(key) == "scalar":
            scalar: Array = np.array(value, dtype=np.float64)
            seg.state[key] = scalar
            views = {name: scalar for name in seg.names}
        elif len(seg.names) == 1:
            name = seg.names[0]
            shape = self.state_shape(key, self._shape_of(name))
            array = np.full(shape, value, dtype=seg.param.dtype)
            seg.state[key] = array.reshape(-1) if self.elementwise else array
            views = {name: array}
        else:
            flat = np.full(seg.param.size, value, dtype=seg.param.dtype)
            seg.state[key] = flat.reshape(seg.param.shape)
            views, offset = {}, 0
            for name in seg.names:
                shape = self._shape_of(name)
                size = math.prod(shape)
                views[name] = flat[offset : offset + size].reshape(shape)
                offset += size
        seg.state.fresh.add(key)
        for name, view in views.items():
            self.state[name][key] = view

    def _shape_of(self, name: str) -> tuple[int, ...]:
        return tuple(np.shape(self._param(name)))

    def _param(self, name: str) -> Array:
        for group in self.param_groups:
            if name in group["params"]:
                return group["params"][name]  # type: ignore[no-any-return]
        raise KeyError(name)

    def _checked_grads(self, grads: Mapping[str, Any]) -> dict[str, Array]:
        """Each gradient as an array of its parameter's shape and dtype."""
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
        arrays = {}
        for group in self.param_groups:
            for name, p in group["params"].items():
                g = grads[name]
                a = _as_array(g)
                if a.shape != p.shape or a.dtype.kind not in "fiu":
                    raise ValueError(
                        f"{owner}: grads[{name!r}] must be a real array of shape "
                        f"{p.shape}, got "
                        + (
                            f"shape {a.shape} and dtype {a.dtype}"
                            if a.dtype != object
                            else type(g).__name__
                        )
                    )
                arrays[name] = a if a.dtype == p.dtype else a.astype(p.dtype)
        return arrays

    @staticmethod
    def _flat_grad(
        seg: _Segment, grads: Mapping[str, Any], arrays: Mapping[str, Array]
    ) -> Array:
        if seg.source is not None and seg.source.same_layout(grads):
            assert isinstance(grads, Params)
            return grads.buffers[seg.param.dtype]
        if len(seg.names) == 1:
            return np.ascontiguousarray(arrays[seg.names[0]]).reshape(seg.param.shape)
        return np.concatenate([np.ravel(arrays[n]) for n in seg.names])

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} (step {self.step_count})"]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v!r}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {list(g['params'])} {hyper}")
        return "\n".join(lines)


_TAKES_CLOSURE: dict[type[Optimizer], bool] = {}


def _takes_closure(cls: type[Optimizer]) -> bool:
    """Whether ``cls.step`` takes a closure (asked once per class: a signature
    costs about 10 µs, a fifth of a small model's step)."""
    takes = _TAKES_CLOSURE.get(cls)
    if takes is None:
        takes = "closure" in inspect.signature(cls.step).parameters
        _TAKES_CLOSURE[cls] = takes
    return takes


def clipped(grads: Mapping[str, Array], max_norm: float) -> dict[str, Array]:
    """The gradients scaled by min(1, max_norm / ‖g‖) with ‖g‖ the norm of all of
    them together (a global norm clip, as torch.nn.utils.clip_grad_norm_ with
    its 1e-6 in the denominator); new arrays."""
    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    scale = min(1.0, max_norm / (norm + 1e-6))
    return {n: g * g.dtype.type(scale) for n, g in grads.items()}


def unused(p: Array) -> Array:
    """An empty array of ``p``'s dtype, for a kernel argument that this step does
    not use (never a view of another array: a kernel must not write through it)."""
    return np.empty(0, dtype=p.dtype)
