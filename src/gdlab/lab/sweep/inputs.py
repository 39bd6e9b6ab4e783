"""What a run's numbers depend on besides its spec: the data's contents and the
code of a plugin optimizer or model.

A run's key names its data by name and path (``mnist``, ``$GDLAB_DATA``) and its
optimizer by registry name, not by contents. A store therefore records, beside its
runs, the :func:`~gdlab.data.digest` of each dataset it trained on and a digest of
the source files of each plugin optimizer and plugin model it used (a model's
under ``model:NAME``), and :func:`check_same_inputs`
refuses to reuse the store when one of them has changed since: its stored results
would be returned as the new data's or code's (another IDX folder in
``$GDLAB_DATA``, labels edited in place, a plugin's update rule fixed). gdlab's own
optimizers are identified by gdlab's version, which the store records too.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gdlab import _checks, optim
from gdlab.data import Dataset
from gdlab.experiment import RunSpec, parse_model
from gdlab.lab.sweep.grid import source
from gdlab.models import registry as models
from gdlab.records import Constraint, Record


def _digests(owner: str, name: str, value: object) -> dict[str, str]:
    """Names -> digests, both strings."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        _checks.fail(owner, name, "an object of names to digests (strings)", value)
    return dict(value)


@dataclass(frozen=True)
class Inputs(Record):
    """What a store's runs were trained on besides their specs: the digest of each
    dataset (by :func:`data_name`) and of each plugin optimizer's and model's
    code (a model's under ``model:NAME``); a store's meta ``inputs``."""

    data: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)

    constraints: ClassVar[dict[str, Constraint]] = {
        "data": _digests,
        "code": _digests,
    }

    def merged(self, found: Inputs) -> Inputs:
        """These inputs with those of ``found`` added (``found``'s digest where
        both name one)."""
        return Inputs({**self.data, **found.data}, {**self.code, **found.code})


def data_name(spec: RunSpec) -> str:
    """The run's data as the store records it: the JSON of its :func:`source`
    (name, path, dtype, validation fraction and split seed)."""
    return json.dumps(list(source(spec)))


def code_digest(optimizer: str) -> str | None:
    """A SHA-256 (16 hex digits) of the source files of the classes behind
    ``optimizer`` that are not gdlab's own (a plugin's class and its bases); None
    for gdlab's own optimizers. A class with no file (typed into a notebook) is
    identified by its source text, or, failing that, by its name alone."""
    return _foreign_digest(optim.get(optimizer).__mro__)


MODEL = "model:"
"""The prefix of a plugin model's entry among the code digests."""


def model_digest(model: str) -> str | None:
    """As :func:`code_digest`, for the builder of the registered model that the
    spec text ``model`` names (the file it was defined in); None for gdlab's own."""
    found = models.MODELS.find(parse_model(model)[0])
    assert found is not None  # the spec was built before
    build = found[1].build
    return _foreign_digest([build])


def _foreign_digest(objects: Sequence[Any]) -> str | None:
    h = hashlib.sha256()
    foreign = False
    for klass in objects:
        module = klass.__module__
        if module == "builtins" or module == "gdlab" or module.startswith("gdlab."):
            continue
        foreign = True
        h.update(f"{module}.{klass.__qualname__};".encode())
        file = getattr(sys.modules.get(module), "__file__", None)
        if file is not None and Path(file).is_file():
            h.update(Path(file).read_bytes())
            continue
        with contextlib.suppress(OSError, TypeError):  # no source: the name only
            h.update(inspect.getsource(klass).encode())
    return h.hexdigest()[:16] if foreign else None


def inputs(
    specs: Sequence[RunSpec], datasets: Mapping[tuple[Any, ...], Dataset]
) -> Inputs:
    """The :class:`Inputs` of the runs of ``specs`` (their data already loaded in
    ``datasets``, keyed by source)."""
    data = {data_name(s): datasets[source(s)].digest for s in specs}
    code = {}
    for name in dict.fromkeys(s.optimizer for s in specs):
        found = code_digest(name)
        if found is not None:
            code[name] = found
    for model in dict.fromkeys(parse_model(s.model)[0] for s in specs):
        found = model_digest(model)
        if found is not None:
            code[MODEL + model] = found
    return Inputs(data, code)


def check_same_inputs(path: Path, stored: Inputs, found: Inputs) -> None:
    """Refuse ``found`` when a dataset or plugin that ``stored`` (a store's meta
    ``inputs``) records has another digest now, naming each one."""
    changed = []
    for kind, what in (("data", "the data of"), ("code", "the code of optimizer")):
        old: dict[str, str] = getattr(stored, kind)
        new: dict[str, str] = getattr(found, kind)
        for name, digest in new.items():
            if name in old and old[name] != digest:
                shown = json.loads(name)[0] if kind == "data" else name
                said = what
                if kind == "code" and name.startswith(MODEL):
                    said, shown = "the code of model", name.removeprefix(MODEL)
                changed.append(
                    f"{said} {shown!r} changed since this store was written "
                    f"({kind} {name}: digest {old[name]} -> {digest})"
                )
    if changed:
        raise ValueError(
            f"sweep: {path}: "
            + "; ".join(changed)
            + "; its runs are not those of the present data and code: use another "
            "store (or delete this one)"
        )


__all__ = [
    "MODEL",
    "Inputs",
    "check_same_inputs",
    "code_digest",
    "data_name",
    "inputs",
    "model_digest",
]
