"""``gdlab playground``: a local web page to watch optimizers on 2-D surfaces.

Choose a surface, one or more optimizers with their hyperparameters and a schedule,
click a start point on the contour and watch the trajectories, computed on the
server by :func:`gdlab.surfaces.trajectory` with the real optimizers::

    from gdlab import playground
    playground.serve(port=8000)          # or: gdlab playground --open

The server is the standard library's ``ThreadingHTTPServer``; the page is one
HTML, one JavaScript and one CSS file with no outside dependency (it works
offline). :mod:`gdlab.playground.api` computes the JSON answers (no HTTP);
:mod:`gdlab.playground.server` serves them and the page. ``__all__`` is what a
user calls; the JSON answers and the limits stay importable here for older code.
"""

# ruff: noqa: F401

from __future__ import annotations

from gdlab.playground.api import (
    MAX_RUNS,
    MAX_STEPS,
    Cancelled,
    RunRequest,
    TrajectoriesRequest,
    optimizers_payload,
    parse_request,
    run_trajectory,
    surfaces_payload,
    trajectories_payload,
)
from gdlab.playground.server import MAX_BODY, PlaygroundServer, make_server, serve

__all__ = ["PlaygroundServer", "make_server", "serve"]
