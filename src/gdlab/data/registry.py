"""Datasets by name: ``register(name, load)``, and the one entry point ``load``.

A loader returns a :class:`~gdlab.data.Dataset`; it takes ``dtype`` (a NumPy
float dtype) and, if it wants them, ``path`` (a folder or file the user names),
``val_fraction`` and ``split_seed`` (the validation split; a loader that does not
take them gets the split made for it) and its own options, from the spec text
``name:key=value,...`` (:mod:`gdlab.registry`)::

    from gdlab import data
    data.register("moons", lambda *, dtype, n=500: data.from_arrays(...))
    # gdlab compare --plugin moons.py --data moons:n=2000

gdlab's own (``digits``, ``fashion-mnist``, ``mnist``, ``regression``,
``synthetic-regression``, ``quadratic-deep``) are registered the same way;
installed packages register theirs under the ``gdlab.datasets`` entry-point group.
A user's loader's result is checked as strictly as :func:`~gdlab.data.from_arrays`
checks arrays (finite values; integer labels in range for a classifier) before
anything trains.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from gdlab import _checks, registry
from gdlab.data import datasets, quadratic
from gdlab.data.datasets import (
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    SPLIT_SEED,
    VAL_FRACTION,
    Dataset,
    check_split_seed,
    float_dtype,
)

Loader = Callable[..., Dataset]
"""``load(*, dtype, [path], [val_fraction], [split_seed], **options) -> Dataset``."""

GROUP = "gdlab.datasets"
"""The entry-point group installed packages register their datasets under."""
NPZ = ".npz"
"""A :func:`load` name ending so is the path of a user's npz file."""
SPLIT_ARGS = ("val_fraction", "split_seed")


@dataclass(frozen=True)
class Entry:
    """A registered loader: its default dtype, and whether gdlab carves the
    validation split (False: the data is too small to hold one out); ``checked``:
    gdlab's own loaders, whose results need no second check."""

    load: Loader
    dtype: np.dtype[Any]
    split: bool = True
    checked: bool = False


DATASETS: registry.Registry[Entry] = registry.Registry("dataset", GROUP)
"""Name -> its loader, in registration order."""


def register(
    name: str,
    load: Loader,
    *,
    dtype: DTypeLike = np.float32,
    split: bool = True,
    checked: bool = False,
) -> Loader:
    """Make ``load`` known by ``name`` to :func:`load`, ``RunSpec.data`` and
    ``--data``; ``dtype`` is the data's dtype when the run does not say;
    ``split=False`` keeps the training set whole. A name registered twice is
    refused. Returns ``load``."""
    owner = f"register({name!r})"
    if not callable(load):
        _checks.fail(owner, "load", "a callable", load)
    DATASETS.add(name, Entry(load, float_dtype(owner, dtype), split, checked))
    return load


def names() -> tuple[str, ...]:
    """The dataset names :func:`load` knows."""
    return DATASETS.names()


def load(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    dtype: DTypeLike | None = None,
    val_fraction: float | None = VAL_FRACTION,
    split_seed: int = SPLIT_SEED,
) -> Dataset:
    """Load a dataset by name (see :func:`names`), with its validation split.

    Args:
        name: a registered name with its options (``"fashion-mnist"``,
            ``"quadratic-deep:noise=0.3"``; gdlab's own: ``"digits"``,
            ``"fashion-mnist"``, ``"mnist"``, ``"regression"`` — the worked
            example: points (1, 3), (2, 5), train = test —,
            ``"synthetic-regression"``, ``"quadratic-deep"``), or the path of a
            user's ``.npz`` file (:mod:`gdlab.data.arrays`: keys ``X_train``,
            ``y_train``, ``X_test``, ``y_test``, optionally ``X_val``/``y_val``,
            which are then its validation split, and ``classes``).
        path: for a loader that reads files (``"fashion-mnist"``, ``"mnist"``):
            a folder with the four IDX files (``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
            ``t10k-labels-idx1-ubyte``, each .gz or raw). Without it they are
            looked up in ``$GDLAB_DATA/<name>/``, then in
            ``/usr/share/datasets/<name>/`` (Debian's ``dataset-fashion-mnist``).
        dtype: float dtype of ``X`` (and of ``y`` for regression); default the
            loader's (float32 for images and digits, float64 for regression).
        val_fraction: the share of the training set held out for validation, in
            (0, 0.5]; see :meth:`Dataset.split_validation`. The worked example
            (``"regression"``, two points) has no validation split; None keeps
            the whole training set (the official split only).
        split_seed: the seed of that split (not of any run).
    """
    if isinstance(name, str | os.PathLike) and os.fspath(name).lower().endswith(NPZ):
        return _load_npz(name, path, dtype, val_fraction, split_seed)
    text = name
    found = None
    options: dict[str, Any] = {}
    if isinstance(name, str) and name.strip():
        base, _, options = registry.parse("load", name)
        found = DATASETS.find(base)
    if found is None:
        raise ValueError(
            DATASETS.unknown("load", "name", text, f" or a path ending in {NPZ}")
        )
    key, entry = found
    if any(k in options for k in ("dtype", "path", *SPLIT_ARGS)):
        _checks.fail("load", "options", "free of dtype, path and the split", text)
    registry.check_options(
        "load", key, entry.load, options, text, fixed=("dtype", "path", *SPLIT_ARGS)
    )
    dt = entry.dtype if dtype is None else float_dtype("load", dtype)
    takes = _parameters(entry.load)
    if path is not None:
        if "path" not in takes:
            readers = [n for n in names() if "path" in _parameters(_loader(n))]
            _checks.fail(
                "load",
                "path",
                f"None for {key!r} (only {' and '.join(readers)} read files)",
                path,
            )
        options["path"] = path
    if val_fraction is not None:
        _checks.number(
            "load", "val_fraction", val_fraction, low=0, high=0.5, low_open=True
        )
    check_split_seed("load", split_seed)
    own_split = all(k in takes for k in SPLIT_ARGS)
    if own_split:
        options.update(val_fraction=val_fraction, split_seed=split_seed)
    if entry.checked:
        dataset = entry.load(dtype=dt, **options)
    else:  # a user's loader: what it raises names it, and its result is checked
        from gdlab.data.arrays import check_dataset

        try:
            dataset = entry.load(dtype=dt, **options)
        except ValueError as error:
            raise ValueError(f"dataset {key!r}: {error}") from error
        dataset = check_dataset(f"dataset {key!r}", dataset)
    if own_split or val_fraction is None or not entry.split:
        return dataset
    if dataset.X_val is not None:  # the loader brought its own
        return dataset
    return dataset.split_validation(val_fraction, split_seed)


def _loader(name: str) -> Loader:
    """The loader registered under ``name``."""
    found = DATASETS.find(name)
    assert found is not None
    return found[1].load


def _parameters(load: Loader) -> set[str]:
    """The arguments ``load`` names (a ``**options`` catch-all gets neither a
    path nor the split: gdlab splits for it)."""
    try:
        params = inspect.signature(load).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}


def _load_npz(
    file: str | os.PathLike[str],
    path: object,
    dtype: DTypeLike | None,
    val_fraction: float | None,
    split_seed: int,
) -> Dataset:
    """The user's npz (:func:`gdlab.data.arrays.read_npz`), split like the others
    unless it brings its own validation set."""
    from gdlab.data.arrays import read_npz

    if path is not None:
        _checks.fail(
            "load", "path", f"None for an {NPZ} file (its name is its path)", path
        )
    if val_fraction is not None:
        _checks.number(
            "load", "val_fraction", val_fraction, low=0, high=0.5, low_open=True
        )
    check_split_seed("load", split_seed)
    dt = None if dtype is None else float_dtype("load", dtype)
    dataset = read_npz(file, dtype=dt)
    if val_fraction is None or dataset.X_val is not None:
        return dataset
    return dataset.split_validation(val_fraction, split_seed)


def _fashion_mnist(
    *, dtype: np.dtype[Any], path: str | os.PathLike[str] | None = None
) -> Dataset:
    return datasets.idx_set(
        "Fashion-MNIST", "fashion-mnist", FASHION_MNIST_CLASSES, path, dtype
    )


def _mnist(
    *, dtype: np.dtype[Any], path: str | os.PathLike[str] | None = None
) -> Dataset:
    return datasets.idx_set("MNIST", "mnist", DIGIT_CLASSES, path, dtype)


def _digits(*, dtype: np.dtype[Any]) -> Dataset:
    return datasets.digits(dtype)


def _worked_example(*, dtype: np.dtype[Any]) -> Dataset:
    return datasets.worked_example(dtype)


def _synthetic_regression(*, dtype: np.dtype[Any]) -> Dataset:
    return datasets.synthetic_regression(dtype=dtype)


register("digits", _digits, checked=True)
register("fashion-mnist", _fashion_mnist, checked=True)
register("mnist", _mnist, checked=True)
register("regression", _worked_example, dtype=np.float64, split=False, checked=True)
register("synthetic-regression", _synthetic_regression, dtype=np.float64, checked=True)
register("quadratic-deep", quadratic.quadratic_deep, dtype=np.float64, checked=True)

__all__ = ["DATASETS", "GROUP", "NPZ", "Entry", "Loader", "load", "names", "register"]
