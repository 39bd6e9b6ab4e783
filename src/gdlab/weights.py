"""The weights a user loads: a trained model's parameters at its optimizer's
evaluation point, in one ``.npz`` file (``model.npz`` in a training folder).

Most optimizers evaluate where they train. Schedule-Free (Defazio et al., 2024)
and ASGD do not: they train at a point y and evaluate at an average x
(:meth:`gdlab.optim.Optimizer.eval_params`), and ``fit`` measures the loss and
accuracy at x. The two files of a run keep the two points apart:

- a checkpoint (:mod:`gdlab.checkpoint`) holds the training point y and the
  optimizer's state, so that a resumed run continues bit for bit;
- the model file holds x, the point every reported number was measured at, so
  that a model loaded from it scores what the history says.

The file holds ``param/NAME`` arrays and ``meta.json`` (as bytes): the format
``version``, the ``point`` saved (``"evaluation"`` where the optimizer derives
one, else ``"parameters"``), the optimizer's class and its step count. It is
written atomically and read without pickle.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> from gdlab import optim
    >>> w = {"w": np.ones(2)}
    >>> opt = optim.create("schedulefree_sgd", w, lr=0.5)
    >>> _ = opt.step({"w": np.ones(2)}), opt.step({"w": np.ones(2)})
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.npz"
    >>> _ = save(path, w, opt)
    >>> bool(np.array_equal(load(path)["w"], opt.eval_params()["w"]))
    True
    >>> bool(np.array_equal(load(path)["w"], w["w"]))  # y, the training point
    False
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gdlab import _checks
from gdlab.optim import Optimizer
from gdlab.outputs import json_text, write_atomic

FILE = "model.npz"
"""The model file's name in a training folder."""
VERSION = 1
"""The layout of the model file's ``meta.json``."""
META = "meta.json"
"""The name of the description inside the model file."""


def evaluation_point(
    params: Mapping[str, np.ndarray], optimizer: Optimizer
) -> dict[str, np.ndarray]:
    """Copies of ``params`` at the optimizer's evaluation point, by name."""
    point = optimizer.eval_params()
    missing = sorted(set(params) - set(point))
    if missing:
        _checks.fail("weights", "optimizer", f"one that holds {missing}", "another")
    return {n: np.array(point[n], copy=True) for n in params}


def save(
    path: str | os.PathLike[str],
    params: Mapping[str, np.ndarray],
    optimizer: Optimizer,
) -> Path:
    """Write ``params`` at ``optimizer``'s evaluation point to ``path`` (atomically:
    a crash leaves the old file whole)."""
    target = Path(path)
    arrays = evaluation_point(params, optimizer)
    moved = any(a is not params[n] for n, a in optimizer.eval_params().items())
    meta = {
        "version": VERSION,
        "point": "evaluation" if moved else "parameters",
        "optimizer": type(optimizer).__name__,
        "step": optimizer.step_count,
    }
    payload = {f"param/{n}": a for n, a in arrays.items()}
    payload[META] = np.frombuffer(json_text(meta).encode(), dtype=np.uint8)
    write_atomic(target, lambda f: np.savez(f, **payload))  # type: ignore[arg-type]
    return target


def read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The weights by name and the ``meta.json`` of model file ``path``; a
    ValueError names the file when it is not one gdlab wrote."""
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as found:
            data = {k: found[k] for k in found.files}
        meta = json.loads(bytes(data.pop(META)).decode())
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        raise ValueError(f"model file {source}: unreadable ({error})") from None
    if not isinstance(meta, dict) or meta.get("version") != VERSION:
        version = meta.get("version") if isinstance(meta, dict) else meta
        raise ValueError(
            f"model file {source}: version must be {VERSION}, got {version!r}"
        )
    if not data or not all(k.startswith("param/") for k in data):
        raise ValueError(f"model file {source}: arrays must be named param/NAME")
    return {k.removeprefix("param/"): v for k, v in data.items()}, meta


def load(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The weights of model file ``path``, by name (``model.params[n][...] =
    weights[n]`` puts them into a model of the same shapes)."""
    return read(path)[0]


__all__ = ["FILE", "VERSION", "evaluation_point", "load", "read", "save"]
