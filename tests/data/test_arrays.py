"""A user's own data: from_arrays and .npz files, every refusal naming the array."""

from __future__ import annotations

import io
import pickle
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gdlab import data
from gdlab.data import arrays
from gdlab.data.idx import GZIP_FLOOR

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = np.arange(40) % 3  # int64 labels 0..2
XT = RNG.normal(size=(10, 3))
YT = np.arange(10) % 3


def parts(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"X_train": X, "y_train": Y, "X_test": XT, "y_test": YT}
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def refused(problem: str, **changes: Any) -> None:
    values = parts(**changes)
    keywords = {k: values.pop(k) for k in ("classes", "name", "dtype") if k in values}
    with pytest.raises(ValueError) as info:
        data.from_arrays(**values, **keywords)
    assert str(info.value) == "from_arrays: " + problem


# --- from_arrays -----------------------------------------------------------------


def test_integer_labels_make_a_classifier_with_the_arrays_values() -> None:
    ds = data.from_arrays(X, Y, XT, YT, name="mine")
    assert ds.classes == ("0", "1", "2") and ds.name == "mine"
    assert ds.X_train.dtype == np.float64 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.X_train, X)
    np.testing.assert_array_equal(ds.y_test, YT)
    assert ds.n_val == 0
    assert ds.X_train is not X  # a copy: the user's array may change later


def test_float_targets_make_a_regression_set() -> None:
    y = X @ np.array([1.0, -2.0, 0.5])
    ds = data.from_arrays(X, y, XT, XT @ np.array([1.0, -2.0, 0.5]))
    assert ds.classes == () and ds.n_classes == 0
    np.testing.assert_array_equal(ds.y_train, y)


def test_classes_empty_asks_for_regression_on_integer_targets() -> None:
    ds = data.from_arrays(X, Y, XT, YT, classes=())
    assert ds.classes == () and ds.y_train.dtype == np.float64
    np.testing.assert_array_equal(ds.y_train, Y.astype(float))


def test_named_classes_accept_whole_floats_and_keep_the_names() -> None:
    ds = data.from_arrays(X, Y.astype(float), XT, YT, classes=["a", "b", "c", "d"])
    assert ds.classes == ("a", "b", "c", "d")
    assert ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, Y)


def test_validation_arrays_and_dtype() -> None:
    ds = data.from_arrays(X, Y, XT, YT, X[:5], Y[:5], dtype="float32", name="with-val")
    assert ds.n_val == 5 and ds.X_val is not None
    assert ds.X_val.dtype == np.float32 and ds.X_test.dtype == np.float32
    uint8 = data.from_arrays((X > 0).astype(np.uint8), Y, (XT > 0).astype(np.uint8), YT)
    assert uint8.X_train.dtype == np.float64
    np.testing.assert_array_equal(uint8.X_train, (X > 0).astype(float))


def test_the_dataset_splits_trains_and_digests_like_builtin_ones() -> None:
    ds = data.from_arrays(X, Y, XT, YT).split_validation(0.25, seed=0)
    assert (ds.n_train, ds.n_val) == (30, 10)
    assert len(ds.digest) == 16
    other = data.from_arrays(X, np.roll(Y, 1), XT, YT).split_validation(0.25)
    assert other.digest != ds.digest


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"X_train": np.array([[1, "a"]] * 40, dtype=object)},
            "X_train must be numbers (bool, integer or float), got dtype object",
        ),
        (
            {"X_test": np.array([["x", "y", "z"]] * 10)},
            "X_test must be numbers (bool, integer or float), got dtype <U1",
        ),
        (
            {"X_train": [[1.0, 2.0], [3.0]]},
            "X_train must be an array of numbers, got a ragged or mixed sequence",
        ),
        ({"X_train": X[:, 0]}, "X_train must be 2-D, got shape (40,)"),
        (
            {"X_test": XT[:0], "y_test": YT[:0]},
            "X_test must be at least one sample, got 0 rows",
        ),
        (
            {"X_train": X[:, :0]},
            "X_train must be at least one feature, got 0 columns",
        ),
        (
            {"y_train": Y[:39]},
            "y_train must be 1-D with one value per row of X_train, shape (40,), "
            "got shape (39,)",
        ),
        (
            {"y_test": YT[:, None]},
            "y_test must be 1-D with one value per row of X_test, shape (10,), "
            "got shape (10, 1)",
        ),
        ({"X_test": XT[:, :2]}, "X_test must be 3 features like X_train, got 2"),
        (
            {"X_val": X[:4, :1], "y_val": Y[:4]},
            "X_val must be 3 features like X_train, got 1",
        ),
        (
            {"X_val": X[:4]},
            "X_val and y_val must be both given or both None, got X_val only",
        ),
        (
            {"X_train": np.where(np.arange(120).reshape(40, 3) == 7, np.nan, X)},
            "X_train must be finite, got nan at row 2, column 1",
        ),
        (
            {"X_test": np.where(np.arange(30).reshape(10, 3) == 29, -np.inf, XT)},
            "X_test must be finite, got -inf at row 9, column 2",
        ),
        (
            {
                "X_train": np.where(np.arange(120).reshape(40, 3) == 4, 1e300, X),
                "dtype": "float32",
            },
            "X_train must be within the range of float32, got 1e+300 at row 1, "
            "column 1",
        ),
        (
            {
                "y_train": np.where(np.arange(40) == 5, 0.5, Y),
                "classes": ["a", "b", "c"],
            },
            "y_train must be integer class labels, got 0.5 at row 5",
        ),
        (
            {
                "y_test": np.where(np.arange(10) == 3, np.nan, YT.astype(float)),
                "classes": ["a", "b", "c"],
            },
            "y_test must be finite, got nan at row 3",
        ),
        (
            {"y_train": np.where(np.arange(40) == 6, -1, Y)},
            "y_train must be class labels >= 0, got -1 at row 6",
        ),
        (
            {"y_test": np.where(np.arange(10) == 4, 7, YT), "classes": ["a", "b", "c"]},
            "y_test must be labels in 0..2 (one per name in classes), got 7 at row 4",
        ),
        (
            {"y_train": np.where(np.arange(40) == 1, 10**9, Y)},
            "y_train must be labels below 100000 (name the classes to say how "
            "many), got 1000000000 at row 1",
        ),
        (
            {"y_test": YT.astype(float)},
            "y_test must be integer like y_train (integer labels make a classifier, "
            "float targets a regression set; classes=() asks for regression), got "
            "dtype float64",
        ),
        (
            {
                "y_train": np.where(np.arange(40) == 8, np.inf, X[:, 0]),
                "y_test": XT[:, 0],
            },
            "y_train must be finite, got inf at row 8",
        ),
        (
            {"y_train": np.array(["a"] * 40)},
            "y_train must be numbers (bool, integer or float), got dtype <U1",
        ),
        (
            {"classes": "abc"},
            "classes must be None, () for regression, or a sequence of class "
            "names, got 'abc'",
        ),
        (
            {"classes": ["a", "a", "b"]},
            "classes must be distinct names, got ('a', 'a', 'b')",
        ),
        ({"name": ""}, "name must be a non-empty string, got ''"),
        ({"dtype": "int32"}, "dtype must be a float dtype, got 'int32'"),
    ],
)
def test_from_arrays_refuses_with_the_field_named(
    changes: dict[str, Any], problem: str
) -> None:
    refused(problem, **changes)


# --- .npz files ------------------------------------------------------------------


def save(path: Path, **arrays: Any) -> Path:
    with path.open("wb") as f:  # numpy.savez would append .npz to v.NPZ
        np.savez(f, **arrays)
    return path


def npz_problem(path: Path, problem: str, **load: Any) -> None:
    with pytest.raises(ValueError) as info:
        data.load(str(path), **load)
    assert str(info.value) == f"npz file {str(path)!r}: {problem}"


def test_load_reads_an_npz_and_carves_its_validation_split(tmp_path: Path) -> None:
    path = save(tmp_path / "cells.npz", **parts())
    ds = data.load(str(path))
    assert ds.name == "cells" and ds.classes == ("0", "1", "2")
    assert (ds.n_train, ds.n_val, ds.n_test) == (36, 4, 10)
    assert ds.X_train.dtype == np.float64
    whole = data.load(path, val_fraction=None, dtype="float32")
    assert whole.n_val == 0 and whole.X_train.dtype == np.float32
    np.testing.assert_array_equal(whole.X_train, X.astype(np.float32))
    same = data.from_arrays(X, Y, XT, YT, dtype="float32")
    assert whole.digest == same.digest


def test_an_npz_with_its_own_validation_set_keeps_it(tmp_path: Path) -> None:
    path = save(tmp_path / "v.NPZ", **parts(X_val=X[:3], y_val=Y[:3]))
    ds = data.load(str(path))  # val_fraction 0.1 is not applied
    assert (ds.n_train, ds.n_val) == (40, 3)
    np.testing.assert_array_equal(ds.y_val, Y[:3])


def test_an_npz_of_float_targets_is_regression(tmp_path: Path) -> None:
    w = np.array([1.0, -2.0, 0.5])
    path = save(tmp_path / "r.npz", **parts(y_train=X @ w, y_test=XT @ w))
    ds = data.load(str(path), val_fraction=None)
    assert ds.classes == ()
    np.testing.assert_allclose(ds.y_train, X @ w)


def test_an_npz_names_its_classes(tmp_path: Path) -> None:
    path = save(tmp_path / "c.npz", **parts(classes=np.array(["cat", "dog", "owl"])))
    assert data.load(str(path)).classes == ("cat", "dog", "owl")
    raw = save(tmp_path / "b.npz", **parts(classes=np.array([b"cat", b"dog", b"owl"])))
    assert data.load(str(raw)).classes == ("cat", "dog", "owl")  # not "b'cat'"
    bad = save(tmp_path / "x.npz", **parts(classes=np.array([[1, 2]])))
    npz_problem(bad, "classes must be a 1-D array of strings, got int64 (1, 2)")
    empty = save(tmp_path / "e.npz", **parts(classes=np.array([], dtype=str)))
    assert data.load(str(empty)).classes == ()  # regression on integer targets


def test_a_compressed_npz_reads_like_a_plain_one(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "z.npz", **parts())
    ds = data.load(str(tmp_path / "z.npz"), val_fraction=None)
    np.testing.assert_array_equal(ds.X_train, X)


def test_an_npz_array_checked_like_from_arrays_names_the_file(tmp_path: Path) -> None:
    path = save(tmp_path / "n.npz", **parts(X_train=np.where(X > 2, np.nan, X)))
    row, col = np.argwhere(X > 2)[0]
    npz_problem(path, f"X_train must be finite, got nan at row {row}, column {col}")


def test_an_npz_of_pickled_objects_is_refused_without_unpickling(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "ran"

    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (Path.touch, (ran,))

    path = save(tmp_path / "p.npz", **parts(y_train=np.array([Boom()] * 40)))
    npz_problem(
        path,
        "y_train holds Python objects (dtype object), which gdlab does not unpickle "
        "(allow_pickle=False): save numbers",
    )
    assert not ran.exists()


def test_unknown_and_missing_keys_are_named(tmp_path: Path) -> None:
    known = (
        "(an npz holds X_train, y_train, X_test, y_test, optionally X_val, y_val, "
        "classes)"
    )
    path = save(tmp_path / "u.npz", **parts(x_train=X, weights=X))
    npz_problem(path, f"unknown keys 'x_train', 'weights' {known}")
    path = save(tmp_path / "m.npz", **parts(y_test=None, X_test=None))
    npz_problem(path, f"missing keys 'X_test', 'y_test' {known}")
    path = save(tmp_path / "h.npz", **parts(X_val=X[:2]))
    npz_problem(path, "X_val and y_val must be both given or both None, got X_val only")


def test_bad_files_are_one_line_each(tmp_path: Path) -> None:
    npz_problem(tmp_path / "none.npz", "no such file")
    (tmp_path / "dir.npz").mkdir()
    npz_problem(tmp_path / "dir.npz", "a folder, not a file")
    (tmp_path / "text.npz").write_text("X_train,y_train\n1,2\n")
    npz_problem(
        tmp_path / "text.npz",
        "not an npz file (no zip archive: save it with numpy.savez)",
    )
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as z:
        for key in ("X_train", "y_train", "X_test", "y_test"):
            z.writestr(key + ".npy", b"not npy")
    with pytest.raises(ValueError, match=r"member 'X_train.npy' is not \.npy data"):
        data.load(str(tmp_path / "raw.npz"))
    with zipfile.ZipFile(tmp_path / "pkl.npz", "w") as z:
        for key in ("X_train", "y_train", "X_test", "y_test"):
            z.writestr(key, pickle.dumps(X))
    npz_problem(tmp_path / "pkl.npz", "member 'X_train' is not an .npy array")


def test_an_array_larger_than_its_member_is_refused_before_allocation(
    tmp_path: Path,
) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(4))
    npy = buffer.getvalue().replace(b"(4,)", b"(9999999999,)")  # the header lies
    path = save(tmp_path / "lie.npz", **parts())
    with zipfile.ZipFile(path) as z:  # rebuilt with the lying member as X_train
        members = {n: z.read(n) for n in z.namelist()}
    members["X_train.npy"] = npy
    with zipfile.ZipFile(path, "w") as z:
        for name, body in members.items():
            z.writestr(name, body)
    with pytest.raises(ValueError) as info:
        data.load(str(path))
    assert re.fullmatch(
        rf"npz file {re.escape(repr(str(path)))}: X_train declares shape "
        r"\(9999999999,\) of float64 \(\d+ bytes with its header\) but its member "
        rf"holds {len(npy)} bytes",
        str(info.value),
    )


def test_a_compressed_bomb_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **parts(X_train=np.zeros((GZIP_FLOOR // 8 * 2, 3))))
    size = path.stat().st_size
    with pytest.raises(ValueError) as info:
        data.load(str(path))
    message = str(info.value)
    assert message.startswith(f"npz file {str(path)!r}: declares ")
    assert f"bytes of arrays in {size} bytes" in message
    assert "save it with numpy.savez, uncompressed" in message
    n = GZIP_FLOOR // 8 * 2
    np.savez(path, **parts(X_train=np.zeros((n, 3)), y_train=np.zeros(n, int)))
    assert data.load(str(path), val_fraction=None).n_train == n  # uncompressed: read


def test_load_refuses_a_data_path_with_an_npz(tmp_path: Path) -> None:
    path = save(tmp_path / "a.npz", **parts())
    with pytest.raises(ValueError) as info:
        data.load(str(path), path=tmp_path)
    assert str(info.value) == (
        f"load: path must be None for an .npz file (its name is its path), got "
        f"{tmp_path!r}"
    )


def test_module_keys() -> None:
    assert arrays.KEYS == (
        "X_train",
        "y_train",
        "X_test",
        "y_test",
        "X_val",
        "y_val",
        "classes",
    )


def test_a_bad_npy_header_or_version_is_named(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(4))
    npy = buffer.getvalue()
    cases = {
        "version": (
            npy[:6] + b"\x03\x00" + npy[8:],
            "member 'X_train.npy' is .npy version (3, 0), not 1.0 or 2.0",
        ),
        "header": (
            npy.replace(b"'descr'", b"'dexcr'"),
            "member 'X_train.npy' has a bad .npy header (",
        ),
    }
    for name, (body, problem) in cases.items():
        path = save(tmp_path / f"{name}.npz", **parts())
        with zipfile.ZipFile(path) as z:
            members = {n: z.read(n) for n in z.namelist()}
        members["X_train.npy"] = body
        with zipfile.ZipFile(path, "w") as z:
            for member, data_ in members.items():
                z.writestr(member, data_)
        with pytest.raises(ValueError) as info:
            data.load(str(path))
        assert str(info.value).startswith(f"npz file {str(path)!r}: {problem}")


@settings(max_examples=25, deadline=None)
@given(
    base=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4)),
        elements=st.floats(0, 200, width=32),
    ),
    dtype=st.sampled_from([np.float32, np.float64, np.int16, np.uint8, np.bool_]),
    labels=st.integers(1, 5),
)
def test_an_npz_round_trips_every_numeric_array(
    base: np.ndarray, dtype: type, labels: int
) -> None:
    X = base.astype(dtype)
    y = np.arange(len(X)) % labels
    with tempfile.TemporaryDirectory() as tmp:
        path = save(Path(tmp) / "r.npz", X_train=X, y_train=y, X_test=X, y_test=y)
        ds = data.load(str(path), val_fraction=None)
    expected = X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    assert ds.X_train.dtype == expected.dtype
    np.testing.assert_array_equal(ds.X_train, expected)
    np.testing.assert_array_equal(ds.y_test, y)
    assert ds.classes == tuple(str(c) for c in range(y.max() + 1))
    assert ds.digest == data.from_arrays(X, y, X, y).digest
