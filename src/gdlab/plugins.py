"""Plugins: a user's code that registers optimizers, models, datasets or workloads.

A plugin is a module name (``mypkg.optimizers``) or a ``.py`` file; importing it
runs its ``gdlab.optim.register(...)``, ``gdlab.models.register(...)``,
``gdlab.data.register(...)`` or ``gdlab.lab.workloads.register(...)`` calls. There
are three ways in, as for optimizers from the start:

* ``load(plugin)`` (``--plugin`` on the command line), which also adds it to
  ``$GDLAB_PLUGINS`` so that a sweep's worker processes load it too;
* ``$GDLAB_PLUGINS`` itself (:data:`ENV`);
* installed packages, through the entry-point groups of :data:`GROUPS`, loaded the
  first time a name of that kind is not found.

Every worker process, local or on Ray, calls :func:`load_all` with the list of
the process that started it before it builds anything.

A plugin that cannot be imported — a missing file, a module that is not
installed, a module that raises while it runs — is one ``ValueError`` naming it
and what went wrong (with the file and line of the error inside a plugin file).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

ENV = "GDLAB_PLUGINS"
"""Plugins loaded with :func:`load`, for worker processes to load too: a JSON list
of module names and absolute ``.py`` paths (a path may hold ``:``); a value not
starting with ``[``, as a person may set it, is split on ``os.pathsep``."""

GROUPS = ("gdlab.optimizers", "gdlab.models", "gdlab.datasets", "gdlab.workloads")
"""The entry-point groups installed packages register their plugins under."""

_loaded_groups: set[str] = set()
_listed_loaded = False
_failures: list[str] = []


def load(plugin: str) -> None:
    """Import ``plugin`` — a module name or a ``.py`` file — once per process, and
    add it to ``$GDLAB_PLUGINS`` so that the worker processes of a sweep load it
    too. A plugin that cannot be imported is a ``ValueError`` naming it."""
    path = Path(plugin)
    if plugin.endswith(".py"):
        try:
            found = path.is_file()
        except OSError as error:  # a name too long, a loop of links
            raise ValueError(f"plugin {plugin}: {error.strerror or error}") from None
        if not found:
            raise ValueError(f"plugin {plugin}: no such file")
        # one module per file: dirA/opt.py and dirB/opt.py are two plugins
        where = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:12]
        name = f"gdlab_plugin_{path.stem}_{where}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # before it runs: Numba's cache looks it up
            try:
                spec.loader.exec_module(module)
            except Exception as error:  # the user's file: one line naming it
                del sys.modules[name]
                raise ValueError(f"plugin {plugin}: {_raised(error)}") from error
            except BaseException:
                del sys.modules[name]
                raise
        plugin = str(path.resolve())
    else:
        try:
            importlib.import_module(plugin)
        except ModuleNotFoundError as error:
            hint = ""
            top = plugin.partition(".")[0]
            if error.name == top and _is_file(Path(f"{plugin}.py")):
                hint = f"; to load the file, give a path: ./{plugin}.py"
            raise ValueError(
                f"plugin {plugin}: cannot import it ({error}){hint}"
            ) from None
        except Exception as error:  # the module raised while it ran
            raise ValueError(f"plugin {plugin}: {_raised(error)}") from error
    loaded = listed()
    if plugin not in loaded:
        os.environ[ENV] = json.dumps([*loaded, plugin])


def _raised(error: Exception) -> str:
    """``importing it raised NameError: name 'x' is not defined (my.py, line 3)``:
    the error and the innermost frame that is not importlib's."""
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if "importlib" not in f.filename and f.filename != __file__
    ]
    at = (
        f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
        if frames
        else ""
    )
    if isinstance(error, SyntaxError) and error.lineno is not None:
        at = f" ({Path(error.filename or '?').name}, line {error.lineno})"
    return f"importing it raised {type(error).__name__}: {error}{at}"


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long
        return False


def listed() -> list[str]:
    """The plugins ``$GDLAB_PLUGINS`` names (see :data:`ENV`)."""
    text = os.environ.get(ENV, "")
    if not text.lstrip().startswith("["):
        return [p for p in text.split(os.pathsep) if p]
    try:
        names = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"${ENV} is not a JSON list: {error}") from None
    if not isinstance(names, list) or not all(isinstance(p, str) for p in names):
        raise ValueError(f"${ENV} must be a JSON list of strings, got {text}")
    return [p for p in names if p]


def load_listed() -> None:
    """Import the plugins ``$GDLAB_PLUGINS`` names, once; one that does not load
    is remembered (:func:`failures`), to be said beside an unknown name."""
    global _listed_loaded
    if _listed_loaded:
        return
    _listed_loaded = True
    try:
        names = listed()
    except ValueError as error:
        _failures.append(str(error))
        return
    for plugin in names:
        try:
            load(plugin)
        except ValueError as error:  # missing: the name asked for is unknown
            _failures.append(str(error))


def load_group(group: str) -> None:
    """Import the plugins installed under entry-point ``group``, once, then those
    of ``$GDLAB_PLUGINS``: what a registry does when a name is not found."""
    if group not in _loaded_groups:
        _loaded_groups.add(group)
        for point in entry_points(group=group):
            point.load()
    load_listed()


def load_all(plugins: Sequence[str] = ()) -> None:
    """What a worker does before it builds anything: import ``plugins`` (the list
    of the process that started it; a failure is an error here, as it was not
    there) and those of ``$GDLAB_PLUGINS``. Installed entry points load as
    anywhere, the first time a registry misses a name."""
    for plugin in plugins:
        load(plugin)
    load_listed()


def failures() -> str:
    """The plugins of ``$GDLAB_PLUGINS`` that did not load, as words to add to an
    unknown name's message ('' when none)."""
    return "".join(
        f" (${ENV} names a plugin that did not load: {f})" for f in _failures
    )


__all__ = ["ENV", "GROUPS", "failures", "listed", "load", "load_all", "load_group"]
