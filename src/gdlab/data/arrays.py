"""A user's own data: NumPy arrays, or an ``.npz`` file of them, as a :class:`Dataset`.

::

    ds = from_arrays(X_train, y_train, X_test, y_test)            # Python
    np.savez("mine.npz", X_train=..., y_train=..., X_test=..., y_test=...)
    ds = load("mine.npz")                    # or: gdlab compare --data mine.npz

Checked as strictly as IDX files, each problem one ``ValueError`` naming the array:
``X`` 2-D numbers (bool, integer or float; no objects, no strings), at least one
sample in every part and the same features everywhere; ``y`` 1-D, one per row of
``X``; every value finite (the first NaN or Inf is named by row and column).

Classification or regression: ``classes=None`` decides by the labels' dtype.
Integer labels (all of ``y_train``, ``y_val``, ``y_test``) make a classifier
with classes ``"0" .. str(max label)``; float targets make a regression set.
``classes=()`` asks for regression whatever the dtype; named ``classes`` ask for
a classifier whose labels must be integers (float arrays holding whole numbers
pass) in ``0 .. len(classes) - 1``.

An ``.npz`` holds the keys ``X_train``, ``y_train``, ``X_test``, ``y_test``,
optionally ``X_val`` and ``y_val`` (kept as the validation split) and ``classes``
(a string array; an empty one means regression). Any other key is refused, as is
an array of Python objects: the file is read with ``allow_pickle=False``, so it
cannot run code. Like a gzip IDX file, a compressed npz (``np.savez_compressed``)
may expand at most :data:`~gdlab.data.idx.GZIP_RATIO_LIMIT` times its size (with
a floor of :data:`~gdlab.data.idx.GZIP_FLOOR` bytes), and every array's declared
shape is checked against the bytes its member holds before anything is allocated.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from gdlab.data.datasets import Dataset
from gdlab.data.idx import GZIP_FLOOR, GZIP_RATIO_LIMIT

PARTS = ("train", "val", "test")
"""The parts of a dataset, each an ``X_<part>`` and a ``y_<part>``."""
REQUIRED_KEYS = ("X_train", "y_train", "X_test", "y_test")
"""The keys every npz file holds."""
OPTIONAL_KEYS = ("X_val", "y_val", "classes")
"""The keys an npz file may hold besides: a validation set and the class names."""
KEYS = REQUIRED_KEYS + OPTIONAL_KEYS
"""The keys an npz file may hold."""
MAX_CLASSES = 100_000
"""The largest number of classes inferred from integer labels (a label of 10^9 is a
mistake, not a billion-way softmax)."""
_NUMBERS = "biuf"  # numpy kinds of bool, signed and unsigned integers, floats


def _fail(owner: str, field: str, requirement: str, got: str) -> ValueError:
    """The one format, with ``got`` as text (a dtype, a row), not a repr."""
    return ValueError(f"{owner}: {field} must be {requirement}, got {got}")


def _float(owner: str, dtype: object) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise _fail(owner, "dtype", "a float dtype", repr(dtype)) from None
    if dt.kind != "f":
        raise _fail(owner, "dtype", "a float dtype", repr(dtype))
    return dt


def _as_array(owner: str, field: str, value: object) -> NDArray[Any]:
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):  # a ragged list of lists
        raise _fail(
            owner, field, "an array of numbers", "a ragged or mixed sequence"
        ) from None
    if a.dtype.kind not in _NUMBERS:
        raise _fail(
            owner,
            field,
            "numbers (bool, integer or float)",
            f"dtype {a.dtype}",
        )
    return a


def _first_bad(owner: str, field: str, bad: NDArray[np.bool_], a: NDArray[Any]) -> None:
    """Refuse ``a`` where ``bad`` holds, naming the first bad row (and column)."""
    if not bad.any():
        return
    where = np.argwhere(bad)[0]
    row = int(where[0])
    at = f"row {row}" if a.ndim == 1 else f"row {row}, column {int(where[1])}"
    raise _fail(owner, field, "finite", f"{a[tuple(where)].item()!r} at {at}")


def _finite(
    owner: str, field: str, a: NDArray[Any], dtype: np.dtype[Any]
) -> NDArray[Any]:
    """``a`` in ``dtype``, refused if a value is NaN, Inf or overflows ``dtype``."""
    if a.dtype.kind == "f":
        _first_bad(owner, field, ~np.isfinite(a), a)
    with np.errstate(over="ignore", invalid="ignore"):
        converted = a.astype(dtype)
    overflow = ~np.isfinite(converted)
    if overflow.any():
        where = np.argwhere(overflow)[0]
        at = f"row {int(where[0])}" + (
            "" if a.ndim == 1 else f", column {int(where[1])}"
        )
        raise _fail(
            owner,
            field,
            f"within the range of {dtype}",
            f"{a[tuple(where)].item()!r} at {at}",
        )
    return converted


def _integer_labels(owner: str, field: str, y: NDArray[Any]) -> NDArray[np.int64]:
    """``y`` as int64 class labels >= 0: integers, or floats holding whole numbers."""
    if y.dtype.kind == "f":
        _first_bad(owner, field, ~np.isfinite(y), y)
        fractional = y != np.round(y)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise _fail(
                owner, field, "integer class labels", f"{y[row].item()!r} at row {row}"
            )
        if (np.abs(y) > 2**62).any():
            row = int(np.flatnonzero(np.abs(y) > 2**62)[0])
            raise _fail(
                owner, field, "class labels >= 0", f"{y[row].item()!r} at row {row}"
            )
    elif y.dtype.kind == "u" and y.dtype.itemsize == 8 and (y > 2**62).any():
        row = int(np.flatnonzero(y > 2**62)[0])
        raise _fail(
            owner, field, "class labels >= 0", f"{y[row].item()!r} at row {row}"
        )
    labels = y.astype(np.int64)
    negative = labels < 0
    if negative.any():
        row = int(np.flatnonzero(negative)[0])
        raise _fail(
            owner, field, "class labels >= 0", f"{y[row].item()!r} at row {row}"
        )
    return labels


def _classes(owner: str, classes: object) -> tuple[str, ...] | None:
    if classes is None:
        return None
    if isinstance(classes, str | bytes) or not isinstance(
        classes, Sequence | np.ndarray
    ):
        raise _fail(
            owner,
            "classes",
            "None, () for regression, or a sequence of class names",
            repr(classes)[:80],
        )
    names = tuple(str(c) for c in classes)
    if len(set(names)) != len(names):
        raise _fail(owner, "classes", "distinct names", repr(names)[:200])
    return names


def _build(
    owner: str,
    arrays: Mapping[str, object],
    name: object,
    classes: object,
    dtype: DTypeLike | None,
    *,
    targets_2d: bool = False,
) -> Dataset:
    """The checked Dataset of ``arrays`` (keys ``X_<part>``, ``y_<part>``);
    ``targets_2d``: a regression set may hold ``(n, k)`` targets."""
    if not isinstance(name, str) or not name.strip():
        raise _fail(owner, "name", "a non-empty string", repr(name))
    if (arrays.get("X_val") is None) != (arrays.get("y_val") is None):
        given = "X_val" if arrays.get("X_val") is not None else "y_val"
        raise _fail(
            owner, "X_val and y_val", "both given or both None", f"{given} only"
        )
    wanted = _classes(owner, classes)
    parts = [p for p in PARTS if arrays.get(f"X_{p}") is not None]
    X: dict[str, NDArray[Any]] = {}
    y: dict[str, NDArray[Any]] = {}
    for part in parts:
        X[part] = _as_array(owner, f"X_{part}", arrays[f"X_{part}"])
        y[part] = _as_array(owner, f"y_{part}", arrays[f"y_{part}"])
        if X[part].ndim != 2:
            raise _fail(owner, f"X_{part}", "2-D", f"shape {X[part].shape}")
        if len(X[part]) == 0:
            raise _fail(owner, f"X_{part}", "at least one sample", "0 rows")
        if X[part].shape[1] == 0:
            raise _fail(owner, f"X_{part}", "at least one feature", "0 columns")
        several = targets_2d and y[part].ndim == 2 and len(y[part]) == len(X[part])
        if y[part].shape != (len(X[part]),) and not several:
            raise _fail(
                owner,
                f"y_{part}",
                f"1-D with one value per row of X_{part}, shape ({len(X[part])},)",
                f"shape {y[part].shape}",
            )
        if X[part].shape[1] != X["train"].shape[1]:
            raise _fail(
                owner,
                f"X_{part}",
                f"{X['train'].shape[1]} features like X_train",
                f"{X[part].shape[1]}",
            )
    if dtype is None:
        own = X["train"].dtype
        dt = own if own in (np.float32, np.float64) else np.dtype(np.float64)
    else:
        dt = _float(owner, dtype)
    integer = {p: y[p].dtype.kind in "biu" for p in parts}
    if wanted is None and len(set(integer.values())) > 1:
        kind = "integer" if integer["train"] else "float"
        odd = next(p for p in parts if integer[p] != integer["train"])
        raise _fail(
            owner,
            f"y_{odd}",
            f"{kind} like y_train (integer labels make a classifier, float targets "
            "a regression set; classes=() asks for regression)",
            f"dtype {y[odd].dtype}",
        )
    classify = bool(wanted) if wanted is not None else integer["train"]
    out: dict[str, NDArray[Any]] = {}
    for part in parts:
        out[f"X_{part}"] = _finite(owner, f"X_{part}", X[part], dt)
        if classify:
            out[f"y_{part}"] = _integer_labels(owner, f"y_{part}", y[part])
        else:
            out[f"y_{part}"] = _finite(owner, f"y_{part}", y[part], dt)
    if classify:
        top = max(int(out[f"y_{p}"].max()) for p in parts)
        limit = len(wanted) if wanted else MAX_CLASSES
        if top >= limit:
            part = next(p for p in parts if int(out[f"y_{p}"].max()) == top)
            row = int(np.argmax(out[f"y_{part}"]))
            what = (
                f"labels in 0..{limit - 1} (one per name in classes)"
                if wanted
                else f"labels below {MAX_CLASSES} (name the classes to say how many)"
            )
            raise _fail(owner, f"y_{part}", what, f"{top} at row {row}")
        names = wanted if wanted else tuple(str(c) for c in range(top + 1))
    else:
        names = ()
    return Dataset(
        out["X_train"],
        out["y_train"],
        out["X_test"],
        out["y_test"],
        names,
        name,
        out.get("X_val"),
        out.get("y_val"),
    )


def from_arrays(
    X_train: ArrayLike,
    y_train: ArrayLike,
    X_test: ArrayLike,
    y_test: ArrayLike,
    X_val: ArrayLike | None = None,
    y_val: ArrayLike | None = None,
    *,
    name: str = "arrays",
    classes: Sequence[str] | None = None,
    dtype: DTypeLike | None = None,
) -> Dataset:
    """A checked :class:`Dataset` of a user's arrays (see the module's docstring).

    Args:
        X_train, y_train, X_test, y_test: features (samples, features) and labels or
            targets (samples,) of the training and test sets.
        X_val, y_val: a validation set, both or neither (without them,
            :meth:`Dataset.split_validation` can carve one from the training set).
        name: what reports call the data.
        classes: None: integer labels make a classifier, float targets regression;
            ``()``: regression; names: a classifier with these classes.
        dtype: float dtype of ``X`` (and of regression targets); default ``X_train``'s
            own if float32 or float64, else float64.

    The arrays are copied; any problem raises one ``ValueError`` naming the array.
    """
    arrays = {
        "X_train": X_train,
        "y_train": y_train,
        "X_test": X_test,
        "y_test": y_test,
        "X_val": X_val,
        "y_val": y_val,
    }
    return _build("from_arrays", arrays, name, classes, dtype)


def check_dataset(owner: str, dataset: object) -> Dataset:
    """``dataset`` checked as strictly as :func:`from_arrays` checks arrays (a
    registered loader's result): a :class:`Dataset` whose values are finite and,
    for a classifier, whose labels are integers in ``0 .. n_classes - 1`` (a
    regression set may hold ``(n, k)`` targets, as a Dataset may)."""
    if not isinstance(dataset, Dataset):
        raise _fail(owner, "its loader's result", "a gdlab.data.Dataset",
                    type(dataset).__name__)  # fmt: skip
    arrays = {
        f"{xy}_{part}": getattr(dataset, f"{xy}_{part}")
        for part in PARTS
        for xy in ("X", "y")
    }
    X = dataset.X_train
    dtype = X.dtype if X.dtype.kind == "f" else None
    return _build(
        owner, arrays, dataset.name, dataset.classes, dtype,
        targets_2d=not dataset.classes,
    )  # fmt: skip


# --- .npz files --------------------------------------------------------------------


def _problem(path: str | os.PathLike[str], problem: str) -> ValueError:
    return ValueError(f"npz file {os.fspath(path)!r}: {problem}")


def _header(
    f: IO[bytes], path: str | os.PathLike[str], member: str
) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an ``.npy`` member declares."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
    except ValueError as error:
        raise _problem(path, f"member {member!r} is not .npy data ({error})") from None
    if version not in ((1, 0), (2, 0)):
        raise _problem(
            path, f"member {member!r} is .npy version {version}, not 1.0 or 2.0"
        )
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    try:
        shape, _, dtype = read(f)
    except ValueError as error:
        raise _problem(
            path, f"member {member!r} has a bad .npy header ({error})"
        ) from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def read_npz(
    path: str | os.PathLike[str],
    *,
    dtype: DTypeLike | None = None,
    name: str | None = None,
) -> Dataset:
    """The checked :class:`Dataset` of an ``.npz`` file (see the module's docstring).

    ``dtype`` as in :func:`from_arrays`; ``name`` defaults to the file's stem.
    Every problem raises one ``ValueError`` naming the file and what is wrong.
    """
    shown = os.fspath(path)
    try:
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            try:
                archive = zipfile.ZipFile(raw)
            except zipfile.BadZipFile:
                raise _problem(
                    path, "not an npz file (no zip archive: save it with numpy.savez)"
                ) from None
            with archive:
                arrays = _read_members(archive, path, size)
    except FileNotFoundError:
        raise _problem(path, "no such file") from None
    except IsADirectoryError:
        raise _problem(path, "a folder, not a file") from None
    except zipfile.BadZipFile as error:
        raise _problem(path, f"corrupted zip data ({error})") from None
    except OSError as error:
        raise _problem(path, f"cannot be read ({error.strerror or error})") from None
    classes: tuple[str, ...] | None = None
    if "classes" in arrays:
        c = arrays.pop("classes")
        if c.dtype.kind not in "US" or c.ndim != 1:
            raise _problem(
                path,
                f"classes must be a 1-D array of strings, got {c.dtype} {c.shape}",
            )
        classes = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in c)
    stem = Path(shown).name[: -len(".npz")] if shown.lower().endswith(".npz") else None
    return _build(
        f"npz file {shown!r}", arrays, name or stem or Path(shown).name, classes, dtype
    )


def _read_members(
    archive: zipfile.ZipFile, path: str | os.PathLike[str], size: int
) -> dict[str, NDArray[Any]]:
    """The arrays of an open npz, every key and size checked before reading."""
    infos = {info.filename: info for info in archive.infolist()}
    keys = {m[: -len(".npy")] if m.endswith(".npy") else m: m for m in infos}
    unknown = [k for k in keys if k not in KEYS]
    if unknown:
        raise _problem(
            path,
            f"unknown keys {', '.join(map(repr, unknown))} (an npz holds "
            f"{', '.join(REQUIRED_KEYS)}, optionally {', '.join(OPTIONAL_KEYS)})",
        )
    missing = [k for k in REQUIRED_KEYS if k not in keys]
    if missing:
        raise _problem(
            path,
            f"missing keys {', '.join(map(repr, missing))} (an npz holds "
            f"{', '.join(REQUIRED_KEYS)}, optionally {', '.join(OPTIONAL_KEYS)})",
        )
    for member in keys.values():
        if not member.endswith(".npy"):
            raise _problem(path, f"member {member!r} is not an .npy array")
    total = sum(info.file_size for info in infos.values())
    limit = max(GZIP_FLOOR, GZIP_RATIO_LIMIT * size)
    if total > limit:
        raise _problem(
            path,
            f"declares {total} bytes of arrays in {size} bytes: gdlab reads at most "
            f"max({GZIP_FLOOR}, {GZIP_RATIO_LIMIT}x the file's size) (compressed "
            "data that expands more than that is refused, as an IDX gzip is: save "
            "it with numpy.savez, uncompressed)",
        )
    arrays = {}
    for key, member in keys.items():
        info = infos[member]
        with archive.open(info) as f:
            shape, dtype = _header(f, path, member)
            if dtype.hasobject:
                raise _problem(
                    path,
                    f"{key} holds Python objects (dtype {dtype}), which gdlab does "
                    "not unpickle (allow_pickle=False): save numbers",
                )
            needs = f.tell() + math.prod(shape) * dtype.itemsize
            if needs != info.file_size:
                raise _problem(
                    path,
                    f"{key} declares shape {shape} of {dtype} ({needs} bytes with "
                    f"its header) but its member holds {info.file_size} bytes",
                )
        with archive.open(info) as f:
            arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays


__all__ = ["KEYS", "MAX_CLASSES", "check_dataset", "from_arrays", "read_npz"]
