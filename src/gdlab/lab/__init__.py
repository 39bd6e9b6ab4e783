"""Experiments, one module each (imported when first used):

* :mod:`~gdlab.lab.compare` — optimizers compared fairly: equal tuning budgets,
  selection on validation data, the test set touched once by the reruns, the
  whole procedure repeated over studies;
* :mod:`~gdlab.lab.claims` — pairwise claims: a paired t-test over studies,
  Holm-adjusted, and the groups they leave; :mod:`~gdlab.lab.calibration` — A/A
  and power checks of those claims;
* :mod:`~gdlab.lab.benchmark` — suites of workloads scored as AlgoPerf scores;
  :mod:`~gdlab.lab.workloads` — workloads by name (data, model, measure, target);
* :mod:`~gdlab.lab.sweep` — grids of runs in parallel processes or on Ray, results
  in SQLite, resumable: the engine comparisons run on;
* :mod:`~gdlab.lab.tuning` — quasi-random trials, expected best of k, intervals,
  time to target, performance profiles;
* :mod:`~gdlab.lab.explain` — every quantity of an optimizer's update;
* :mod:`~gdlab.lab.examples` — the course notes' worked examples, their slips
  beside the right numbers; :mod:`~gdlab.lab.figures` — the data of the notes'
  figures;
* :mod:`~gdlab.lab.analysis` — Hessian eigenvalues from Hessian-vector products,
  :func:`stability` (λmax, the plain-GD limit 2/λmax and runs on either side);
* :mod:`~gdlab.lab.sharpness` — λmax of a trained model's training loss;
* :mod:`~gdlab.lab.runs` — runs that leave files behind (train, compare folders).

``gdlab.lab.stability(...)`` and the other functions of :mod:`analysis` are also
reachable here; a module's namesake function is reached through its module
(``gdlab.lab.explain.explain``).
"""

from __future__ import annotations

import importlib
from typing import Any

MODULES = (
    "analysis",
    "benchmark",
    "calibration",
    "claims",
    "compare",
    "examples",
    "explain",
    "figures",
    "runs",
    "sharpness",
    "studies",
    "sweep",
    "tuning",
    "workloads",
)
_NAMES = {
    "Stability": "analysis",
    "StabilityRun": "analysis",
    "hessian_top_eigenvalues": "analysis",
    "hessian_vector_product": "analysis",
    "stability": "analysis",
    "top_eigenvalue": "analysis",
}


def __getattr__(name: str) -> Any:
    if name in MODULES:
        return importlib.import_module(f"gdlab.lab.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"gdlab.lab.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'gdlab.lab' has no attribute {name!r}")


__all__ = [*MODULES, *_NAMES]
