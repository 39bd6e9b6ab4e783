r"""Two studies whose conclusions hold: batch size and sharpness at equal training
progress (:mod:`~gdlab.lab.studies.batch_size`, Keskar et al., 2017), and gradient
descent at the edge of stability (:mod:`~gdlab.lab.studies.edge_of_stability`,
Cohen et al., 2021).

A study is a plan, checked when made, then run; both train with
:func:`gdlab.train.fit`::

    plan = studies.BatchSize(batch_sizes=(32, 1024), until="loss:0.01")
    result = studies.run(plan, out="runs/study", progress=print)

:func:`prepare` is the step before training (data, names, the records of the runs
already done in ``out``, the folder claimed), so that a command checks its user's
input first. Both write their results into ``out`` as each run ends (``*-runs/``
holds one file per run, :mod:`~gdlab.lab.studies.records`; a rerun with the same
plan skips the runs already there), then ``results.json`` (a record of
:mod:`gdlab.study_results`, which ``report.html`` draws:
:mod:`gdlab.report.studies`). What they measure is in
:mod:`~gdlab.lab.studies.measures`.

References:
    Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, *On Large-Batch Training for Deep
    Learning: Generalization Gap and Sharp Minima*, ICLR 2017.
    https://arxiv.org/abs/1609.04836
    Cohen, Kaur, Li, Kolter, Talwalkar, *Gradient Descent on Neural Networks
    Typically Occurs at the Edge of Stability*, ICLR 2021.
    https://arxiv.org/abs/2103.00065
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import overload

from gdlab import _checks
from gdlab.lab.studies import batch_size, edge_of_stability
from gdlab.lab.studies.batch_size import (
    BATCH_SIZE_RUNS,
    BatchSize,
    BatchSizeReady,
    BatchSizeResult,
    BatchSizeRun,
    Interpolation,
    parse_until,
)
from gdlab.lab.studies.edge_of_stability import (
    EOS_RUNS,
    NEAR,
    STAY,
    EdgeOfStability,
    EdgeOfStabilityReady,
    EdgeOfStabilityResult,
    EdgeRun,
)
from gdlab.lab.studies.measures import (
    ALPHAS,
    epsilon_sharpness,
    interpolate,
    top_eigenpair,
)

Plan = BatchSize | EdgeOfStability
"""A study's plan."""


@overload
def prepare(plan: BatchSize, *, out: str | Path | None = None) -> BatchSizeReady: ...
@overload
def prepare(
    plan: EdgeOfStability, *, out: str | Path | None = None
) -> EdgeOfStabilityReady: ...
def prepare(
    plan: Plan, *, out: str | Path | None = None
) -> BatchSizeReady | EdgeOfStabilityReady:
    """The study of ``plan`` ready to run: everything checked that can be before
    anything trains (its data, its names, the records of the runs already done in
    ``out``), and ``out`` claimed; its ``run(progress=...)`` trains."""
    if isinstance(plan, BatchSize):
        return batch_size.prepare(plan, out=out)
    if isinstance(plan, EdgeOfStability):
        return edge_of_stability.prepare(plan, out=out)
    _checks.fail("studies", "plan", "a BatchSize or an EdgeOfStability", plan)


@overload
def run(
    plan: BatchSize,
    *,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchSizeResult: ...
@overload
def run(
    plan: EdgeOfStability,
    *,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> EdgeOfStabilityResult: ...
def run(
    plan: Plan,
    *,
    out: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> BatchSizeResult | EdgeOfStabilityResult:
    """Run the study of ``plan`` (see :func:`prepare`), writing into ``out`` if
    given; ``progress`` is called with one line per run."""
    return prepare(plan, out=out).run(progress=progress)


__all__ = [
    "ALPHAS",
    "BATCH_SIZE_RUNS",
    "EOS_RUNS",
    "NEAR",
    "STAY",
    "BatchSize",
    "BatchSizeResult",
    "BatchSizeRun",
    "EdgeOfStability",
    "EdgeOfStabilityResult",
    "EdgeRun",
    "Interpolation",
    "Plan",
    "epsilon_sharpness",
    "interpolate",
    "parse_until",
    "prepare",
    "run",
    "top_eigenpair",
]
