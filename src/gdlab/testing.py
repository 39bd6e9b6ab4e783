"""Check any optimizer the way gdlab checks its own (scikit-learn's ``check_estimator``
for optimizers)::

    from gdlab.testing import check_optimizer
    check_optimizer(Lion, reference=lion_pytorch.Lion)

The project's conformance suite (``tests/optim/test_conformance.py``) is this function
run over every registered optimizer, so a check added here protects every user's
optimizer too. Every check runs, and one :class:`OptimizerCheckError` lists each that
failed with the size of the difference. torch is imported only for a ``reference``.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdlab import _checks, optim
from gdlab.optim import Optimizer
from gdlab.params import Array, Params

CHECKS = {
    "hyperparameters": "each bad value raises a ValueError naming it, before any "
    "change (constructor, group dict, edited param_groups); each has a constraint",
    "defaults": "the reference's defaults",
    "reference": "the reference's numbers in float64 over `steps` steps (and, for a "
    "reference with eval(), its evaluation point against eval_params())",
    "params_and_dict": "a Params and a dict of arrays give identical numbers",
    "dtypes": "float32 and float64 params and state keep their dtype (and, with a "
    "reference, agree with it to 1e-5)",
    "state_dict": "state_dict (through JSON, as in a checkpoint), load_state_dict, "
    "then bit-identical continuation",
    "zero_lr_group": "a group with lr = 0 is unchanged while another moves",
    "maximize": "maximize=True is descent on the negated gradient",
    "zero_gradient": "zero gradients leave the params unchanged (weight decay off)",
    "zero_size": "a parameter with no elements beside one that moves",
    "grads_untouched": "the gradients given to step() are not modified",
    "quadratic": "f < 1e-3 f0 after 1000 steps on an ill-conditioned quadratic",
    "rosenbrock": "f < 0.05 f0 after 5000 steps on Rosenbrock from (-1.5, 2)",
    "least_squares": "f < 0.05 f0 after 1000 steps on a matrix least-squares problem "
    "through two matrices (a hidden and an output layer, so a matrix rule's "
    "convergence shows)",
}
"""Every check :func:`check_optimizer` runs, by the name ``skip`` takes."""

SHAPES: dict[str, tuple[int, ...]] = {
    "scalar": (),
    "vector": (7,),
    "matrix": (5, 3),
    "tensor": (2, 3, 4),
}
LR_TRIES = (1.0, 0.1, 10.0, 0.01, 100.0, 1e-3)
"""Multiples of the suggested lr tried, in order, until one converges."""

Layout = dict[str, tuple[tuple[int, ...], type[np.floating[Any]]]]
Reference = Callable[..., Any]
GroupAdapter = Callable[[dict[str, Any]], Any]
"""Our parameter group -> a reference's ``params`` argument (its groups)."""
FLOAT64: Layout = {name: (shape, np.float64) for name, shape in SHAPES.items()}


class OptimizerCheckError(AssertionError):
    """What :func:`check_optimizer` found: ``failures`` holds (check, what differs)."""

    def __init__(
        self, subject: str, failures: list[tuple[str, str]], passed: list[str]
    ) -> None:
        self.failures = failures
        lines = [f"check_optimizer({subject}): {len(failures)} failure(s)"]
        lines += [f"  {check}: {message}" for check, message in failures]
        lines.append(f"  passed: {', '.join(passed) or 'none'}")
        super().__init__("\n".join(lines))


def check_optimizer(
    optimizer: str | type[Optimizer],
    *,
    reference: Reference | None = None,
    steps: int = 100,
    configs: Sequence[Mapping[str, Any]] = (),
    convergence_lr: float | tuple[float, float] | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    skip: Collection[str] = (),
    reference_names: Mapping[str, str] | None = None,
    reference_groups: GroupAdapter | None = None,
    verbose: bool = True,
) -> dict[str, float]:
    """Run the conformance checks (:data:`CHECKS`) on an optimizer class or name.

    Args:
        optimizer: an :class:`~gdlab.optim.Optimizer` subclass, or a registered
            optimizer or preset name.
        reference: a torch optimizer class, or any callable with torch.optim's
            interface (``reference(tensors, **hyper).step()`` after setting
            ``.grad``): the numbers must match it in float64 on several shapes (0-d
            included) over ``steps`` steps, at the defaults and at each of
            ``configs``, within ``rtol``/``atol``.
        configs: hyperparameter sets (beside the defaults) for the reference,
            Params/dict, dtype and state_dict checks. One config per boolean
            hyperparameter, flipped from its default, is added to them (unless a
            given config already sets it), on top of the last given config; and one
            per value of a declared choice (``Optimizer.choices``).
        convergence_lr: the lr for the quadratic and Rosenbrock (one, or a pair);
            by default the suggested lr times each of :data:`LR_TRIES` is tried.
        skip: checks that do not apply, a documented exception (``"zero_gradient"``
            for a rule that moves without a gradient).
        reference_names: our hyperparameter -> the reference's keyword, for a
            reference that names them otherwise (``{"betas": "betas_pair"}``).
        reference_groups: for a reference whose parameter groups are laid out
            otherwise: our one group, ``{"params": [tensors], **hyperparameters}``
            (keywords as ``reference_names`` renames them), -> the reference's
            ``params`` argument, its list of groups; the reference is then built
            from the groups alone, no keyword. E.g. ``lambda g: [{**g,
            "train_mode": True}]`` for schedulefree's reference, which starts in
            eval mode, or one that splits ``g["params"]`` into the groups of a Muon
            that wants ``use_muon`` in each.
        verbose: print each comparison's measured maximum difference, passing or
            not.

    Returns:
        The largest relative difference measured by each comparison (check and
        config) against the reference.

    Raises:
        OptimizerCheckError: an AssertionError listing every failed check, with the
            size of each difference (and chained to the first unexpected error).
    """
    tolerances = (
        _checks.number("check_optimizer", "rtol", rtol, low=0.0),
        _checks.number("check_optimizer", "atol", atol, low=0.0),
    )  # a negative or NaN tolerance passes or fails every comparison
    subject = _subject(optimizer)
    given = [{}, *(dict(c) for c in configs if c)]
    checker = _Checker(
        subject,
        reference,
        _checked_steps(steps),
        given + _flag_configs(subject, given),
        convergence_lr,
        tolerances,
    )
    checker.last_given = given[-1]  # the dtypes and grads checks run it
    checker.names = dict(reference_names or {})
    checker.groups = reference_groups
    checker.verbose = verbose
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        raise ValueError(
            f"check_optimizer: skip must name checks among {list(CHECKS)}, "
            f"got {unknown}"
        )
    if reference is not None and not callable(reference):
        raise ValueError(
            f"check_optimizer: reference must be a torch optimizer class or a "
            f"callable like one, got {reference!r}"
        )
    checker.run(set(skip))
    return checker.measured


def _flag_configs(
    subject: _Subject, given: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One config per boolean hyperparameter that no given config sets: the last
    given config with the flag flipped (so that what the flag changes is switched
    on: a decay, a momentum), else the flag alone; a flag the class refuses both
    ways (Nesterov without momentum) is left to the given configs. The same for
    each value of a declared choice (``Optimizer.choices``) but the default."""
    extra = []
    cls = subject.cls
    for name, default in cls.defaults.items():
        if name in subject.fixed:
            continue
        if isinstance(default, bool):
            values: tuple[Any, ...] = (not default,)
        else:
            values = tuple(v for v in cls.choices.get(name, ()) if v != default)
        for value in values:
            if any(config.get(name, default) == value for config in given):
                continue
            for base in (given[-1], {}):  # on the last config: its decay, momentum
                config = {**base, name: value}
                try:
                    cls.check({**cls.defaults, **subject.fixed, **config})
                except ValueError:
                    continue
                extra.append(config)
                break
    return extra


def _checked_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(
            f"check_optimizer: steps must be an integer >= 1, got {steps!r}"
        )
    return steps


@dataclass(frozen=True)
class _Subject:
    """The optimizer checked: its class, a preset's fixed values, a working lr."""

    label: str
    cls: type[Optimizer]
    fixed: dict[str, Any]
    lr: float

    def build(
        self, params: Any, hyper: Mapping[str, Any] | None = None, **more: Any
    ) -> Optimizer:
        return self.cls(params, **{**self.fixed, **(hyper or {}), **more})


def _subject(optimizer: object) -> _Subject:
    if isinstance(optimizer, str):
        base, fixed = optim.resolve(optimizer)
        cls = optim.get(base)  # a torch:NAME is in no registry
        return _Subject(optimizer, cls, fixed, optim.suggested_lr(optimizer))
    if not (
        isinstance(optimizer, type)
        and issubclass(optimizer, Optimizer)
        and optimizer is not Optimizer
    ):
        raise ValueError(
            "check_optimizer: optimizer must be a registered name or a subclass of "
            f"gdlab.optim.Optimizer, got {optimizer!r}"
        )
    lr = optimizer.suggested_lr or optimizer.defaults.get("lr")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ValueError(
            f"check_optimizer: {optimizer.__name__} must declare suggested_lr or "
            f"defaults['lr'] > 0, got {lr!r}"
        )
    return _Subject(optimizer.__name__, optimizer, {}, float(lr))


# --- runs --------------------------------------------------------------------------


def _arrays(rng: np.random.Generator, layout: Layout) -> dict[str, Array]:
    return {
        n: np.asarray(rng.standard_normal(shape), dtype=dt)
        for n, (shape, dt) in layout.items()
    }


def _trajectory(
    layout: Layout, steps: int, seed: int
) -> tuple[dict[str, Array], list[dict[str, Array]]]:
    """Initial values and the noise of each step."""
    rng = np.random.default_rng(seed)
    return _arrays(rng, layout), [_arrays(rng, layout) for _ in range(steps)]


def _grads(noise: Mapping[str, Array], params: Mapping[str, Any]) -> dict[str, Array]:
    """Noise plus a pull towards 0 (which keeps the parameters bounded)."""
    return {n: np.asarray(z + 0.5 * params[n], dtype=z.dtype) for n, z in noise.items()}


def _noise_loss(noise: Mapping[str, Array], params: Mapping[str, Any]) -> float:
    """The objective whose gradient :func:`_grads` is: Σ z·θ + θ²/4."""
    return float(
        sum(
            np.sum(np.asarray(z, np.float64) * np.asarray(params[n], np.float64))
            + 0.25 * np.sum(np.square(np.asarray(params[n], np.float64)))
            for n, z in noise.items()
        )
    )


def _constant(grads: Any) -> Callable[[], tuple[float, Any]]:
    """A closure that gives the same gradients wherever it is called (loss 0)."""
    return lambda: (0.0, grads)


def _descend(
    subject: _Subject,
    hyper: Mapping[str, Any],
    init: Mapping[str, Array],
    noise: Sequence[Mapping[str, Array]],
    *,
    fused: bool,
) -> tuple[dict[str, Array], Optimizer]:
    params: Mapping[str, Array] = (
        Params(init) if fused else {n: a.copy() for n, a in init.items()}
    )
    opt = subject.build(params, hyper)
    for z in noise:

        def closure(z: Mapping[str, Array] = z) -> tuple[float, Any]:
            g = _grads(z, params)
            return _noise_loss(z, params), Params(g) if fused else g

        opt.step(closure()[1], closure)
    return {n: np.array(params[n]) for n in init}, opt


def _reference_descend(
    reference: Reference,
    hyper: Mapping[str, Any],
    init: Mapping[str, Array],
    noise: Sequence[Mapping[str, Array]],
    names: Mapping[str, str] | None = None,
    evaluated: dict[str, Array] | None = None,
    groups: GroupAdapter | None = None,
) -> dict[str, Array]:
    """The reference's parameters after the steps; ``evaluated`` receives its
    parameters after ``eval()`` when it has one (Schedule-Free's x); ``groups``
    lays out its parameter groups (see :func:`check_optimizer`)."""
    import torch

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state in it
    try:
        tensors = {n: torch.tensor(a) for n, a in init.items()}
        theirs = {(names or {}).get(k, k): v for k, v in hyper.items()}
        if groups is None:
            opt = reference(list(tensors.values()), **theirs)
        else:
            opt = reference(groups({"params": list(tensors.values()), **theirs}))
        takes_closure = bool(inspect.signature(opt.step).parameters)
        for z in noise:

            def closure(z: Mapping[str, Array] = z) -> Any:
                now = {n: t.detach().numpy() for n, t in tensors.items()}
                g = _grads(z, now)
                for n, t in tensors.items():
                    t.grad = torch.from_numpy(g[n])
                return torch.tensor(_noise_loss(z, now))

            closure()
            opt.step(closure) if takes_closure else opt.step()
        after = {n: t.detach().numpy().copy() for n, t in tensors.items()}
        if evaluated is not None and callable(getattr(opt, "eval", None)):
            opt.eval()
            evaluated.update({n: t.detach().numpy().copy() for n, t in tensors.items()})
        return after
    finally:
        torch.set_default_dtype(default)


def _difference(
    got: Mapping[str, Array],
    expected: Mapping[str, Array],
    tolerance: tuple[float, float] = (0.0, 0.0),
) -> str | None:
    """None when equal within (rtol, atol); else each parameter that differs, where
    and by how much."""
    rtol, atol = tolerance
    found = []
    for n, b in expected.items():
        a = got[n]
        if a.shape != b.shape or a.dtype != b.dtype:
            found.append(f"{n} is {a.dtype} {a.shape}, expected {b.dtype} {b.shape}")
        elif not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            with np.errstate(all="ignore"):
                gap = np.array(np.abs(a.astype(np.float64) - b))
            gap[np.isnan(gap)] = np.inf  # NaN on one side only
            i = np.unravel_index(int(np.argmax(gap)), gap.shape)
            where = f"[{', '.join(map(str, i))}]" if i else ""
            off = np.count_nonzero(~np.isclose(a, b, rtol, atol, equal_nan=True))
            found.append(
                f"{n}{where} is {a[i]:.10g}, expected {b[i]:.10g} "
                f"(off by {gap[i]:.2g}; {off} of {gap.size} elements differ)"
            )
    if not found:
        return None
    bound = f" (rtol {rtol:g}, atol {atol:g})" if rtol or atol else ""
    return "; ".join(found) + bound


def hyper_key(hyper: Mapping[str, Any]) -> str:
    return repr(sorted(hyper.items()))


def _label(hyper: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in hyper.items()) or "defaults"


# --- test problems -----------------------------------------------------------------


def _quadratic(w: Array) -> tuple[float, Array]:
    scales = np.array([1.0, 4.0, 10.0])
    return 0.5 * float(np.sum(scales * w * w)), scales * w


def _rosenbrock(w: Array) -> tuple[float, Array]:
    x, y = w
    value = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    grad = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return float(value), grad


Problem = Callable[[Array], tuple[float, Array]]
PROBLEMS: dict[str, tuple[Problem, list[float], int, float]] = {
    "quadratic": (_quadratic, [1.0, -2.0, 0.5], 1000, 1e-3),
    "rosenbrock": (_rosenbrock, [-1.5, 2.0], 5000, 0.05),
}
"""Check -> (f and its gradient, start, steps, the fraction of f0 to reach)."""


# --- the checks --------------------------------------------------------------------

BAD_VALUES: tuple[Any, ...] = (
    -1.0,
    1.5,
    2.0,
    math.nan,
    math.inf,
    "0.1",
    None,
    True,
    1,
    (0.5,),
    (2.0, 0.5),
    (0.5, 2.0),
    (-0.5, 0.5),
)
"""Candidates for a bad hyperparameter: those its constraint refuses are tried."""
BAD_LR: tuple[Any, ...] = (-1.0, math.nan, math.inf, "0.1")


class _Checker:
    def __init__(
        self,
        subject: _Subject,
        reference: Reference | None,
        steps: int,
        configs: list[dict[str, Any]],
        convergence_lr: float | tuple[float, float] | None,
        tolerance: tuple[float, float],
    ) -> None:
        self.subject, self.reference, self.steps = subject, reference, steps
        self.configs = configs
        if convergence_lr is None or isinstance(convergence_lr, tuple):
            self.lrs = convergence_lr
        else:
            self.lrs = (convergence_lr, convergence_lr)
        self.tolerance = tolerance
        self.failures: list[tuple[str, str]] = []
        self.errors: list[Exception] = []
        self.ran: list[str] = []
        self.skip: set[str] = set()
        self.names: dict[str, str] = {}
        self.groups: GroupAdapter | None = None
        self.last_given: dict[str, Any] = configs[-1] if configs else {}
        self.verbose = True
        self.measured: dict[str, float] = {}

    def run(self, skip: set[str]) -> None:
        self.skip, cls = skip, self.subject.cls
        absent = {
            "defaults": self.reference is None,
            "reference": self.reference is None,
            "maximize": "maximize" not in cls.defaults
            or "maximize" in self.subject.fixed,
        }
        for name in CHECKS:
            if name in skip or absent.get(name, False):
                continue
            self.ran.append(name)
            if name == "params_and_dict" and "reference" in self.ran:
                continue  # compared during the reference runs
            check = getattr(self, f"check_{name}", None)
            with self.guard(name):
                if check is not None:
                    check()
                else:
                    self.converges(name)
        if self.failures:
            failed = {check.split("[")[0] for check, _ in self.failures}
            passed = [name for name in self.ran if name not in failed]
            error = OptimizerCheckError(self.subject.label, self.failures, passed)
            raise error from (self.errors[0] if self.errors else None)

    def fail(self, check: str, message: str) -> None:
        self.failures.append((check, message))

    def measure(
        self, check: str, got: Mapping[str, Array], expected: Mapping[str, Array]
    ) -> None:
        """Record (and print) the largest relative difference of a comparison."""
        worst = 0.0
        for n, b in expected.items():
            a = np.asarray(got[n], dtype=np.float64)
            if a.shape != np.shape(b) or a.size == 0:
                continue
            with np.errstate(all="ignore"):
                gap = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
            worst = max(worst, float(np.nan_to_num(gap, nan=np.inf).max()))
        self.measured[check] = max(worst, self.measured.get(check, 0.0))
        if self.verbose:
            print(
                f"check_optimizer({self.subject.label}) {check}: "
                f"max relative difference {worst:.3g}"
            )

    @contextmanager
    def guard(self, check: str) -> Iterator[None]:
        """An exception inside a check is that check's failure, reported with the
        others (the first is chained to the report for its traceback)."""
        try:
            yield
        except Exception as error:
            self.fail(check, f"raised {type(error).__name__}: {error}")
            self.errors.append(error)

    # --- hyperparameters ----------------------------------------------------------

    def check_hyperparameters(self) -> None:
        cls = self.subject.cls
        for name in cls.defaults:
            if name != "lr" and name not in cls.constraints:
                self.fail("hyperparameters", f"{name} has no constraint")
        tries = {"bogus": [1], "lr": list(BAD_LR)} | {
            name: self.refused_by(name, constraint)
            for name, constraint in cls.constraints.items()
        }
        for name, values in tries.items():
            for value in values:
                with self.guard(f"hyperparameters[{name}={value!r}]"):
                    self.refused(name, value)

    def refused_by(self, name: str, constraint: Callable[..., Any]) -> list[Any]:
        """The values of :data:`BAD_VALUES` that ``constraint`` refuses."""
        bad, odd = [], []
        for value in BAD_VALUES:
            try:
                constraint(self.subject.cls.__name__, name, value)
            except ValueError:
                bad.append(value)
            except Exception as error:
                odd.append(f"{type(error).__name__} for {value!r}")
        if odd:
            self.fail(
                "hyperparameters",
                f"the constraint of {name} raises {', '.join(odd)}, not ValueError",
            )
        if not bad and not odd:
            self.fail(
                "hyperparameters",
                f"the constraint of {name} refuses none of {list(BAD_VALUES)}",
            )
        return bad

    def refused(self, name: str, value: object) -> None:
        """Each way in refuses ``name=value`` with a ValueError naming it, and a
        step after an edit of param_groups refuses it before anything moves."""
        check, owner = f"hyperparameters[{name}={value!r}]", self.subject.cls.__name__
        w = np.linspace(-1.0, 1.0, 3)
        edited = self.subject.build({"w": w.copy()}, lr=self.subject.lr)
        edited.step({"w": w}, _constant({"w": w}))
        params = edited.param_groups[0]["params"]
        before = edited.state_dict()["state"]["w"] | {"params": params["w"].copy()}
        edited.param_groups[0][name] = value
        ways: dict[str, Callable[[], object]] = {
            "the constructor": lambda: self.subject.build(
                {"w": w.copy()}, {name: value}
            ),
            "a group dict": lambda: self.subject.build(
                [{"params": {"w": w.copy()}, name: value}]
            ),
            "step() after editing param_groups": lambda: edited.step(
                {"w": w}, _constant({"w": w})
            ),
        }
        for way, attempt in ways.items():
            try:
                attempt()
            except ValueError as error:
                message = str(error)
                if not (message.startswith(f"{owner}: ") and name in message):
                    self.fail(check, f"{way}: the error does not name it: {message!r}")
            else:
                self.fail(check, f"{way} raised no ValueError")
        moved = _difference(edited.state["w"] | {"params": params["w"]}, before)
        if moved or edited.step_count != 1:
            self.fail(check, f"the refused step changed something: {moved}")

    # --- numbers ------------------------------------------------------------------

    def check_defaults(self) -> None:
        assert self.reference is not None
        try:
            theirs = inspect.signature(self.reference).parameters
        except (TypeError, ValueError):  # no signature to read
            return
        for name, mine in self.subject.cls.defaults.items():
            param = theirs.get(name)
            if name in self.subject.fixed or param is None:
                continue
            if param.default is not inspect.Parameter.empty and param.default != mine:
                self.fail(
                    "defaults", f"{name} is {mine!r} here, {param.default!r} there"
                )

    def check_reference(self) -> None:
        self.check_params_and_dict()

    def check_params_and_dict(self) -> None:
        """Run each config with a dict of arrays and with a Params; compare the two
        (bit for bit) and each with the reference, on one trajectory."""
        init, noise = _trajectory(FLOAT64, self.steps, seed=0)
        points: dict[str, dict[str, Array]] = {}
        paths = "params_and_dict" not in self.skip
        with_reference = self.reference is not None and "reference" not in self.skip
        for hyper in self.configs:
            label = f"[{_label(hyper)}]"
            runs: dict[str, dict[str, Array]] = {}
            with self.guard(f"{'params_and_dict' if paths else 'reference'}{label}"):
                for way in ("a dict of arrays", "a Params"):
                    fused = way == "a Params"
                    runs[way], opt = _descend(
                        self.subject, hyper, init, noise, fused=fused
                    )
                    points[hyper_key(hyper)] = {
                        n: np.array(a) for n, a in opt.eval_params().items()
                    }
                gap = paths and _difference(runs["a Params"], runs["a dict of arrays"])
                if gap:
                    self.fail(f"params_and_dict{label}", f"a Params vs a dict: {gap}")
            if with_reference and len(runs) < 2:
                self.fail(
                    f"reference{label}",
                    "not compared: the optimizer's own runs raised",
                )
            elif with_reference:
                assert self.reference is not None
                with self.guard(f"reference{label}"):
                    theirs = {**self.subject.fixed, **hyper}
                    at_eval: dict[str, Array] = {}
                    expected = _reference_descend(
                        self.reference,
                        theirs,
                        init,
                        noise,
                        self.names,
                        at_eval,
                        groups=self.groups,
                    )
                    for way, got in runs.items():
                        self.measure(f"reference{label}", got, expected)
                        gap = _difference(got, expected, self.tolerance)
                        if gap:
                            self.fail(
                                f"reference{label}",
                                f"with {way}, after {self.steps} steps: {gap}",
                            )
                            break
                    if at_eval:
                        mine = points[hyper_key(hyper)]
                        self.measure(f"reference{label} at eval", mine, at_eval)
                        gap = _difference(mine, at_eval, self.tolerance)
                        if gap:
                            self.fail(
                                f"reference{label}",
                                "at the evaluation point (eval_params() vs the "
                                f"reference after eval()): {gap}",
                            )

    def check_dtypes(self) -> None:
        hyper = self.last_given
        layout: Layout = {
            "w32": ((5, 3), np.float32),
            "w64": ((7,), np.float64),
            "s32": ((), np.float32),
        }
        init, noise = _trajectory(layout, 30, seed=3)
        expected = None
        if self.reference is not None:
            expected = _reference_descend(
                self.reference,
                {**self.subject.fixed, **hyper},
                init,
                noise,
                self.names,
                groups=self.groups,
            )
        for fused in (False, True):
            got, opt = _descend(self.subject, hyper, init, noise, fused=fused)
            way = "a Params" if fused else "a dict"
            arrays = [(n, a, init[n].dtype) for n, a in got.items()] + [
                (f"state[{n!r}][{key!r}]", a, init[n].dtype)
                for n, state in opt.state.items()
                for key, a in state.items()
                if opt.state_spec.get(key) != "scalar"
            ]
            for what, a, want in arrays:
                if a.dtype != want:
                    self.fail("dtypes", f"with {way}, {what} is {a.dtype}, not {want}")
                elif not np.isfinite(a).all():
                    self.fail("dtypes", f"with {way}, {what} is not finite: {a}")
            gap = expected is not None and _difference(got, expected, (1e-5, 1e-5))
            if gap:
                self.fail(
                    f"dtypes[{_label(hyper)}]", f"with {way}, vs the reference: {gap}"
                )
                return

    def check_state_dict(self) -> None:
        init, noise = _trajectory(FLOAT64, 40, seed=6)
        for hyper in self.configs:
            check = f"state_dict[{_label(hyper)}]"
            with self.guard(check):
                p = Params(init)
                opt = self.subject.build(p, hyper)
                for z in noise[:20]:
                    opt.step(_grads(z, p), _constant(_grads(z, p)))
                saved_params, saved = p.copy(), opt.state_dict()
                try:  # what a checkpoint writes as JSON
                    text = json.dumps({k: saved[k] for k in ("step", "param_groups")})
                except TypeError as error:
                    self.fail(check, f"param_groups cannot be written as JSON: {error}")
                    continue
                for z in noise[20:]:
                    opt.step(_grads(z, p), _constant(_grads(z, p)))
                resumed = self.subject.build(saved_params, hyper)
                resumed.load_state_dict({**json.loads(text), "state": saved["state"]})
                for z in noise[20:]:
                    g = _grads(z, saved_params)
                    resumed.step(g, _constant(g))
                gap = _difference(saved_params, dict(p))
                if gap or resumed.step_count != opt.step_count:
                    self.fail(
                        check,
                        f"resumed from step 20, at step {resumed.step_count}: "
                        f"{gap or 'step counts differ'}",
                    )

    # --- edge cases ---------------------------------------------------------------

    def check_zero_lr_group(self) -> None:
        layout: Layout = {"W": ((3, 4), np.float64), "b": ((4,), np.float64)}
        init, noise = _trajectory(layout, 5, seed=8)
        frozen, moving = {"W": init["W"].copy()}, {"b": init["b"].copy()}
        opt = self.subject.build(
            [{"params": frozen, "lr": 0.0}, {"params": moving}], lr=self.subject.lr
        )
        for z in noise:
            g = _grads(z, {**frozen, **moving})
            opt.step(g, _constant(g))
        gap = _difference(frozen, {"W": init["W"]})
        if gap:
            self.fail("zero_lr_group", f"the lr = 0 group moved: {gap}")
        if np.array_equal(moving["b"], init["b"]):
            self.fail(
                "zero_lr_group",
                f"the group with lr {self.subject.lr:g} did not move either",
            )

    def check_maximize(self) -> None:
        init, noise = _trajectory(FLOAT64, 20, seed=13)
        up, down = Params(init), Params(init)
        ascend = self.subject.build(up, maximize=True, lr=self.subject.lr)
        descend = self.subject.build(down, lr=self.subject.lr)
        for z in noise:
            g = _grads(z, up)
            negated = {n: -a for n, a in g.items()}
            ascend.step(g, _constant(g))
            descend.step(negated, _constant(negated))
        gap = _difference(dict(up), dict(down))
        if gap:
            self.fail("maximize", f"ascent on g vs descent on -g: {gap}")

    def check_zero_gradient(self) -> None:
        cls = self.subject.cls
        hyper = {"weight_decay": 0.0} if "weight_decay" in cls.defaults else {}
        init, _ = _trajectory(FLOAT64, 0, seed=7)
        p = Params(init)
        opt = self.subject.build(p, hyper, lr=self.subject.lr)
        for _ in range(5):
            opt.step(p.zeros_like(), _constant(p.zeros_like()))
        gap = _difference(dict(p), init)
        if gap:
            self.fail("zero_gradient", f"5 steps with zero gradients moved: {gap}")

    def check_zero_size(self) -> None:
        for fused in (False, True):
            arrays = {"empty": np.zeros((0, 3)), "w": np.ones(2)}
            p: Mapping[str, Array] = Params(arrays) if fused else arrays
            opt = self.subject.build(p, lr=self.subject.lr)
            g = {"empty": np.zeros((0, 3)), "w": np.ones(2)}
            opt.step(g, _constant(g))
            if p["empty"].shape != (0, 3) or not np.all(p["w"] < 1.0):
                self.fail(
                    "zero_size",
                    f"with {'a Params' if fused else 'a dict'}, w = {p['w']} after "
                    "a step on gradient 1 (expected < 1)",
                )

    def check_grads_untouched(self) -> None:
        init, noise = _trajectory(FLOAT64, 3, seed=11)
        for fused in (False, True):
            params: Mapping[str, Array] = (
                Params(init) if fused else {n: a.copy() for n, a in init.items()}
            )
            opt = self.subject.build(params, self.last_given)
            for z in noise:
                grads: Mapping[str, Array] = Params(z) if fused else dict(z)
                before = {n: np.array(a) for n, a in grads.items()}
                opt.step(grads, _constant(grads))
                gap = _difference(grads, before)
                if gap:
                    way = "a Params" if fused else "a dict"
                    self.fail(
                        "grads_untouched", f"step() changed {way} of grads: {gap}"
                    )
                    return

    # --- convergence --------------------------------------------------------------

    def check_least_squares(self) -> None:
        rng = np.random.default_rng(21)
        x = rng.standard_normal((64, 6))
        target = x @ rng.standard_normal((6, 3))
        start = {
            "W1": rng.standard_normal((6, 8)) / 3,
            "W2": rng.standard_normal((8, 3)) / 3,
        }

        def loss(w: Mapping[str, Array]) -> tuple[float, dict[str, Array]]:
            hidden = x @ w["W1"]
            r = hidden @ w["W2"] - target
            n = len(x)
            return 0.5 * float(np.sum(r * r)) / n, {
                "W1": x.T @ (r @ w["W2"].T) / n,
                "W2": hidden.T @ r / n,
            }

        f0, _ = loss(start)
        lrs = [self.subject.lr * k for k in LR_TRIES]
        best = math.inf
        for lr in lrs:
            w = {n: a.copy() for n, a in start.items()}
            opt = self.subject.build(w, lr=lr)
            ratio = math.inf
            with np.errstate(over="ignore", invalid="ignore"):
                for _ in range(1000):
                    value, grads = loss(w)
                    if not value <= 1e6 * f0:
                        break
                    opt.step(grads, functools.partial(loss, w))
                else:
                    with opt.evaluating():
                        ratio = loss(w)[0] / f0
            if ratio < 0.05:
                return
            best = min(best, ratio)
        tried = ", ".join(f"{lr:g}" for lr in lrs)
        self.fail(
            "least_squares",
            f"reached f = {best:.3g} f0 at best in 1000 steps (lr tried: {tried}); "
            "needs f < 0.05 f0",
        )

    def converges(self, problem: str) -> None:
        f, start, steps, target = PROBLEMS[problem]
        if self.lrs is not None:
            lrs = [self.lrs[list(PROBLEMS).index(problem)]]
        else:
            lrs = [self.subject.lr * k for k in LR_TRIES]
        best, best_lr = math.inf, lrs[0]
        for lr in lrs:
            ratio = self.descend_problem(f, np.array(start), steps, lr)
            if ratio < target:
                return
            if ratio < best:
                best, best_lr = ratio, lr
        tried = ", ".join(f"{lr:g}" for lr in lrs)
        reached = (
            "diverged at every lr"
            if math.isinf(best)
            else f"reached f = {best:.3g} f0 at best (lr {best_lr:g})"
        )
        self.fail(
            problem,
            f"{reached} in {steps} steps (lr tried: {tried}); needs f < {target:g} f0",
        )

    def descend_problem(self, f: Problem, w: Array, steps: int, lr: float) -> float:
        """f / f0 after ``steps`` steps at ``lr`` (inf once it diverges)."""
        f0, _ = f(w)
        params = {"w": w}
        opt = self.subject.build(params, lr=lr)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                value, grad = f(w)
                if not value <= 1e6 * f0:  # diverged, or not a number
                    return math.inf
                opt.step({"w": grad}, lambda: (f(w)[0], {"w": f(w)[1]}))
            value, _ = f(w)
        return value / f0 if math.isfinite(value) else math.inf


__all__ = ["CHECKS", "OptimizerCheckError", "check_optimizer"]
