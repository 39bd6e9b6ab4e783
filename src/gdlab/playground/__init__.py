"""``gdlab playground``: a local web page to watch optimizers on 2-D surfaces.

Choose a surface, one or more optimizers with their hyperparameters and a schedule,
click a start point on the contour and watch the trajectories, computed on the
server by :func:`gdlab.surfaces.trajectory` with the real optimizers::

    from gdlab import playground
    playground.serve(port=8000)          # or: gdlab playground --open

The server is the standard library's ``ThreadingHTTPServer``; the page is one
HTML, one JavaScript and one CSS file with no outside dependency (it works
offline). See :mod:`gdlab.playground.server` for the JSON API.
"""

from __future__ import annotations

from gdlab.playground.server import (
    MAX_BODY,
    MAX_RUNS,
    MAX_STEPS,
    PlaygroundServer,
    RunRequest,
    TrajectoriesRequest,
    make_server,
    optimizers_payload,
    parse_request,
    run_trajectory,
    serve,
    surfaces_payload,
    trajectories_payload,
)

__all__ = [
    "MAX_BODY",
    "MAX_RUNS",
    "MAX_STEPS",
    "PlaygroundServer",
    "RunRequest",
    "TrajectoriesRequest",
    "make_server",
    "optimizers_payload",
    "parse_request",
    "run_trajectory",
    "serve",
    "surfaces_payload",
    "trajectories_payload",
]
