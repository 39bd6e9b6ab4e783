"""Data loaded once per process: a command that checks its runs, then trains them,
then reruns some, loads each dataset once (Fashion-MNIST: four files decompressed
and checked), as does each worker process.

An entry is keyed by what the data depends on (name, path, dtype, validation
fraction, split seed) and by the identity of the files it was read from (each
file's path, size, modification time and inode), so a file changed, replaced or
added since returns fresh arrays, never stale ones. Data whose files this module
cannot name (a dataset name gdlab does not ship) is not cached: it is loaded each
time, as before.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gdlab.data import Dataset
from gdlab.data.datasets import DATA_ENV, SYSTEM_DATA
from gdlab.experiment import RunSpec, load_data

WITHOUT_FILES = ("digits", "regression", "synthetic-regression", "quadratic-deep")
"""Datasets built in code or shipped with a package: no file of the user's."""
FROM_FOLDERS = ("fashion-mnist", "mnist")
"""Datasets read from a folder: ``data_path``, ``$GDLAB_DATA/<name>`` or
:data:`~gdlab.data.datasets.SYSTEM_DATA` ``/<name>``."""

_CACHE: dict[tuple[Any, ...], Dataset] = {}


def _files(path: Path) -> tuple[tuple[str, int, int, int], ...]:
    """(path, size, mtime in ns, inode) of ``path`` and, for a folder, of the
    files in it (one level: the IDX files); () where it does not exist."""
    found = []
    try:
        paths = [path, *sorted(path.iterdir())] if path.is_dir() else [path]
    except OSError:  # unreadable, or a name too long: load_data says which
        return ()
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        found.append((str(p), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(found)


def identity(spec: RunSpec) -> tuple[Any, ...] | None:
    """The key of ``spec``'s data in the cache, None where it cannot be cached."""
    name = str(spec.data).lower().replace("_", "-")
    where = (spec.data, spec.data_path, spec.dtype, spec.val_fraction, spec.split_seed)
    if name in WITHOUT_FILES and spec.data_path is None:
        return where
    if name not in FROM_FOLDERS:
        return None
    folders = (
        [Path(spec.data_path)]
        if spec.data_path is not None
        else [Path(os.environ.get(DATA_ENV, "")) / name, SYSTEM_DATA / name]
    )
    if spec.data_path is None and not os.environ.get(DATA_ENV):
        folders = folders[1:]
    return (*where, os.environ.get(DATA_ENV), *(_files(f) for f in folders))


def load(spec: RunSpec) -> Dataset:
    """``load_data(spec)``, from this process's cache when its files are as they
    were."""
    key = identity(spec)
    if key is None:
        return load_data(spec)
    if key not in _CACHE:
        _CACHE[key] = load_data(spec)
    return _CACHE[key]


def clear() -> None:
    """Forget every cached dataset."""
    _CACHE.clear()


__all__ = ["FROM_FOLDERS", "WITHOUT_FILES", "clear", "identity", "load"]
