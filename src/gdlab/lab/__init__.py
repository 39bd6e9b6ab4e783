"""Experiments: comparisons of optimizers, worked steps, curvature and stability.

* :func:`compare` — optimizers side by side from the same weights and batches;

* :func:`explain` — every quantity of an optimizer's update, element by element;
* :func:`hessian_top_eigenvalues` — the largest Hessian eigenvalues from
  Hessian-vector products (surfaces and models alike);
* :func:`stability` — λmax, the plain-GD limit 2/λmax, and runs on either side.
* :mod:`~gdlab.lab.sweep` — grids of runs in parallel processes or on Ray, results
  in SQLite, resumable (``sweep.run``, ``sweep.Store``);
* :func:`sharpness` — λmax of a trained model's training loss (Keskar et al.).
"""

from gdlab.lab import sweep
from gdlab.lab.analysis import (
    Stability,
    StabilityRun,
    hessian_top_eigenvalues,
    hessian_vector_product,
    stability,
    top_eigenvalue,
)
from gdlab.lab.compare import Comparison, compare
from gdlab.lab.explain import ExplainedStep, Explanation, explain
from gdlab.lab.sharpness import sharpness

__all__ = [
    "Comparison",
    "ExplainedStep",
    "Explanation",
    "Stability",
    "StabilityRun",
    "compare",
    "explain",
    "hessian_top_eigenvalues",
    "hessian_vector_product",
    "sharpness",
    "stability",
    "sweep",
    "top_eigenvalue",
]
