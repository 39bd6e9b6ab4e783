"""Hyperparameter sweeps: a grid of training runs, results in SQLite, resumable.

::

    from gdlab.experiment import RunSpec
    from gdlab.lab import sweep
    from gdlab.train import TrainConfig

    base = RunSpec(data="digits", model="mlp:64-32-10", train=TrainConfig(epochs=5))
    grid = {"optimizer": ["sgd", "adam"], "lr": [1e-3, 1e-2, 1e-1],
            "batch_size": [32, 256], "seed": [0, 1, 2]}
    plan = sweep.Sweep(base, grid)      # checked once, here
    result = sweep.run(plan, out="runs/sweep", workers=2)
    result.rows()        # a SweepRun per run: .values (its grid values), .metrics

The grid is the cartesian product of the listed values of :class:`RunSpec` fields,
applied to ``base``; each run's key is the canonical JSON of its whole spec, so the
same run is recognized whatever grid produced it (:mod:`.grid`).

Runs execute in worker processes (``backend="local"``; ``workers=1`` trains in this
process) or as Ray tasks (``backend="ray"``) (:mod:`.backends`), each with one BLAS
thread, so that a run's numbers do not depend on where it ran (:mod:`.worker`).
Results come back to this process, which alone writes the SQLite file, each
finished run in its own transaction, with the host, process and Ray node that ran
it (:mod:`.store`). A crash, Ctrl-C or SIGKILL of this process or of a worker loses
no finished run, and running the same sweep again skips every finished key and
trains only the rest: "resume exactly" — the numbers are those of an uninterrupted
sweep, since every run depends on its spec alone (:mod:`.runner`).

:func:`prepare` is the step before training (every run built once, the store in
``out``, named ``sweep.db``, checked, ``out`` claimed), so that a command checks
its user's input first.

The store records the sweep's base spec and options; a later sweep into the same
store must share them (fields that are grid axes excepted), or it is refused with
what differs. New grid values are welcome: only the new runs train.

With ``sharpness=True`` each run ends with :func:`gdlab.lab.sharpness.sharpness`:
λmax of the Hessian of the training loss at the final weights on the first
``sharpness_samples`` training samples (Keskar et al., 2017).

Worker processes are *spawned* (fresh interpreters), so a script that calls
:func:`run` with ``workers > 1`` must guard its top level with
``if __name__ == "__main__":``. ``docs/design/scale.md`` says what limits a sweep
of 10,000 runs on a Ray cluster.
"""

from gdlab.experiment import FIELDS
from gdlab.lab.sweep.backends import BACKENDS, RAY_RETRIES, SweepError
from gdlab.lab.sweep.grid import (
    expand,
    normalized,
    plain,
    source,
    spec_key,
    validate,
)
from gdlab.lab.sweep.pool import PARALLEL_WORK, Workers, default_workers
from gdlab.lab.sweep.runner import (
    STORE,
    Sweep,
    SweepReady,
    check_specs,
    prepare,
    raise_for,
    run,
    run_specs,
)
from gdlab.lab.sweep.store import (
    FORMAT,
    METRICS,
    VERSION,
    FinishedRun,
    RunOptions,
    Store,
    StoreBusy,
    StoredRun,
)
from gdlab.lab.sweep.summary import (
    SweepResult,
    format_table,
    summarize,
    write_report,
)
from gdlab.lab.sweep.worker import execute

__all__ = [
    "BACKENDS",
    "FIELDS",
    "FORMAT",
    "METRICS",
    "PARALLEL_WORK",
    "RAY_RETRIES",
    "STORE",
    "VERSION",
    "FinishedRun",
    "RunOptions",
    "Store",
    "StoreBusy",
    "StoredRun",
    "Sweep",
    "SweepError",
    "SweepReady",
    "SweepResult",
    "Workers",
    "check_specs",
    "default_workers",
    "execute",
    "expand",
    "format_table",
    "normalized",
    "plain",
    "prepare",
    "raise_for",
    "run",
    "run_specs",
    "source",
    "spec_key",
    "summarize",
    "validate",
    "write_report",
]
