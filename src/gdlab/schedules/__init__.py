r"""Learning-rate schedules: pure functions of the step, ``lr = schedule(step)``.

A schedule is a small frozen object that an optimizer takes as its ``lr``::

    s = schedules.LinearWarmup(schedules.Cosine(lr=0.1, total_steps=900), 100)
    opt = optim.SGD(params, lr=s, momentum=0.9)

The optimizer evaluates ``s(opt.step_count)`` before each update, so the first step
uses ``s(0)``, and a run resumed from a state dict (which stores the step count)
continues the same sequence. A schedule holds no hidden state: the same step always
gives the same lr. Each one has a ``name``, a ``repr`` that reads as the call that
builds it, ``to_dict()`` / :func:`from_dict` for JSON, and ``length``: the number
of steps it is designed for (after which it holds its final value), or ``None``.

Each docstring gives the formula and the ``torch.optim.lr_scheduler`` class it
equals, stepped once after every ``optimizer.step()`` (torch's ``last_epoch`` is
our ``step``). The one stateful exception is :class:`ReduceOnPlateau`, which reads a
validation metric and, like torch's ``ReduceLROnPlateau``, changes
``optimizer.param_groups[i]["lr"]``.

``__all__`` is what users need, one way each: the schedule classes, the plateau
rule, and the registry by name (:func:`get`, :func:`create`, :func:`names`,
:func:`from_dict`, :func:`for_run`, :data:`RUN_SCHEDULES`). The lower-case aliases
(``schedules.cosine`` is ``schedules.Cosine``) and the helpers of ``gdlab schedule``
(``gdlab.schedules.examples``: ``gallery``, ``table``, ...) stay importable for
older code, outside ``__all__``.
"""

# The names outside __all__ stay importable for older code (see above).
# ruff: noqa: F401

from gdlab.schedules.closed_form import (
    Constant,
    Cosine,
    CosineRestarts,
    Exponential,
    InverseTime,
    Join,
    LinearWarmup,
    MultiStep,
    OneCycle,
    PerEpoch,
    Polynomial,
    Schedule,
    ScheduleFn,
    Step,
    constant,
    cosine,
    cosine_restarts,
    exponential,
    inverse_time,
    join,
    linear_warmup,
    multistep,
    one_cycle,
    per_epoch,
    polynomial,
    step,
)
from gdlab.schedules.examples import (
    PLATEAU_STEPS,
    example_arguments,
    examples,
    gallery,
    gallery_table,
    plateau_example,
    shown_steps,
    table,
)
from gdlab.schedules.plateau import HasParamGroups, ReduceOnPlateau
from gdlab.schedules.registry import (
    REGISTRY,
    RUN_DEFAULTS,
    RUN_SCHEDULES,
    argument_types,
    create,
    for_run,
    from_dict,
    get,
    names,
)

__all__ = [
    "RUN_SCHEDULES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Exponential",
    "InverseTime",
    "Join",
    "LinearWarmup",
    "MultiStep",
    "OneCycle",
    "PerEpoch",
    "Polynomial",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleFn",
    "Step",
    "create",
    "for_run",
    "from_dict",
    "get",
    "names",
]
