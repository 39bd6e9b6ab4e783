r"""Two studies whose conclusions hold: batch size and sharpness at equal training
progress (:mod:`~gdlab.lab.studies.batch_size`, Keskar et al., 2017), and gradient
descent at the edge of stability (:mod:`~gdlab.lab.studies.edge_of_stability`,
Cohen et al., 2021).

Both write their results into ``out`` as each run ends (``*-runs/`` holds one file
per run, :mod:`~gdlab.lab.studies.records`; a rerun with the same settings skips the
runs already there), then ``results.json`` and ``report.html``
(:mod:`gdlab.report.studies`). What they measure is in
:mod:`~gdlab.lab.studies.measures`.

References:
    Keskar, Mudigere, Nocedal, Smelyanskiy, Tang, *On Large-Batch Training for Deep
    Learning: Generalization Gap and Sharp Minima*, ICLR 2017.
    https://arxiv.org/abs/1609.04836
    Cohen, Kaur, Li, Kolter, Talwalkar, *Gradient Descent on Neural Networks
    Typically Occurs at the Edge of Stability*, ICLR 2021.
    https://arxiv.org/abs/2103.00065
"""

from gdlab.lab.studies.batch_size import (
    BATCH_SIZE_RUNS,
    BatchSizeRun,
    BatchSizeStudy,
    batch_size_study,
    check_batch_size_study,
    parse_until,
)
from gdlab.lab.studies.edge_of_stability import (
    EOS_RUNS,
    NEAR,
    STAY,
    EdgeOfStability,
    EdgeRun,
    check_edge_of_stability,
    edge_of_stability,
)
from gdlab.lab.studies.measures import (
    ALPHAS,
    epsilon_sharpness,
    interpolate,
    top_eigenpair,
)

__all__ = [
    "ALPHAS",
    "BATCH_SIZE_RUNS",
    "EOS_RUNS",
    "NEAR",
    "STAY",
    "BatchSizeRun",
    "BatchSizeStudy",
    "EdgeOfStability",
    "EdgeRun",
    "batch_size_study",
    "check_batch_size_study",
    "check_edge_of_stability",
    "edge_of_stability",
    "epsilon_sharpness",
    "interpolate",
    "parse_until",
    "top_eigenpair",
]
