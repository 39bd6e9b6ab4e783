"""Datasets: loading IDX folders, the search path, helpful errors, small sets."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import numpy as np
import pytest

from gdlab import data
from gdlab.data import datasets

N_TRAIN, N_TEST = 12, 5


def fake_idx_folder(
    folder: Path,
    *,
    n_train: int = N_TRAIN,
    n_test: int = N_TEST,
    suffix: str = ".gz",
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Write the four MNIST files with random contents; return the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, a in arrays.items():
        data.write_idx(folder / (stem + suffix), a)
    return arrays


@pytest.fixture
def no_system_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Hide /usr/share/datasets and $GDLAB_DATA; return the stand-in system folder."""
    system = tmp_path / "system-datasets"
    monkeypatch.setattr(datasets, "SYSTEM_DATA", system)
    monkeypatch.delenv("GDLAB_DATA", raising=False)
    return system


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_mnist_from_a_folder(tmp_path: Path, suffix: str) -> None:
    arrays = fake_idx_folder(tmp_path, suffix=suffix)
    ds = data.load("mnist", path=tmp_path, val_fraction=None)
    assert ds.name == "mnist"
    assert ds.X_train.shape == (N_TRAIN, 784) and ds.X_test.shape == (N_TEST, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    images = arrays["train-images-idx3-ubyte"].reshape(N_TRAIN, 784)
    np.testing.assert_array_equal(ds.X_train, images.astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert ds.classes == tuple("0123456789")
    assert (ds.n_features, ds.n_classes, ds.n_train, ds.n_test) == (784, 10, 12, 5)
    assert ds.X_train.flags.c_contiguous and ds.X_train.flags.writeable


def test_dtype_option_and_mixed_names(tmp_path: Path) -> None:
    arrays = fake_idx_folder(tmp_path)
    # one file raw, one with the dotted name some mirrors use
    raw = tmp_path / "t10k-images-idx3-ubyte"
    data.write_idx(raw, arrays["t10k-images-idx3-ubyte"])
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    (tmp_path / "train-labels-idx1-ubyte.gz").rename(
        tmp_path / "train-labels.idx1-ubyte.gz"
    )
    ds = data.load("MNIST", path=str(tmp_path), dtype=np.float64, val_fraction=None)
    assert ds.X_train.dtype == ds.X_test.dtype == np.float64
    assert ds.X_test.min() >= 0 and ds.X_test.max() <= 1
    np.testing.assert_array_equal(
        ds.X_test * 255, arrays["t10k-images-idx3-ubyte"].reshape(N_TEST, -1)
    )


def test_fashion_mnist_from_gdlab_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_system_data: Path
) -> None:
    fake_idx_folder(tmp_path / "root" / "fashion-mnist", n_train=3, n_test=2)
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "root"))
    ds = data.load("fashion-mnist", val_fraction=None)
    assert ds.X_train.shape == (3, 784) and ds.name == "fashion-mnist"
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    # $GDLAB_DATA comes before the system folder
    fake_idx_folder(no_system_data / "fashion-mnist", n_train=4, n_test=2)
    assert data.load("fashion_mnist", val_fraction=None).n_train == 3
    monkeypatch.delenv("GDLAB_DATA")
    assert data.load("fashion-mnist", val_fraction=None).n_train == 4


HELP = (
    "install Debian's package with `sudo apt-get install dataset-fashion-mnist`, "
    "or pass path=/dir with the four IDX files"
)


def test_missing_fashion_mnist_says_how_to_get_it(
    tmp_path: Path, no_system_data: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError) as info:
        data.load("fashion-mnist", path=empty)
    message = str(info.value)
    assert message.startswith(f"Fashion-MNIST not found in {empty}: ")
    assert HELP in message and "or set GDLAB_DATA" in message
    with pytest.raises(ValueError, match=re.escape(HELP)) as info:
        data.load("fashion-mnist")
    assert f"{no_system_data / 'fashion-mnist'} (no such folder)" in str(info.value)


def test_missing_files_are_named(tmp_path: Path, no_system_data: Path) -> None:
    fake_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match=r"missing t10k-labels-idx1-ubyte\)"):
        data.load("fashion-mnist", path=tmp_path)
    with pytest.raises(ValueError, match=r"^MNIST not found in .*: or pass path="):
        data.load("mnist", path=tmp_path / "nowhere")


def _replace(folder: Path, stem: str, array: np.ndarray) -> Path:
    path = folder / f"{stem}.gz"
    data.write_idx(path, array)
    return path


@pytest.mark.parametrize(
    ("stem", "array", "problem"),
    [
        (
            "train-labels-idx1-ubyte",
            np.zeros(N_TRAIN - 1, np.uint8),
            r"11 labels for 12 images in '.*train-images-idx3-ubyte.gz'",
        ),
        (
            "t10k-labels-idx1-ubyte",
            np.full(N_TEST, 10, np.uint8),
            r"labels must be in 0..9, found 10",
        ),
        (
            "t10k-labels-idx1-ubyte",
            np.zeros((N_TEST, 1), np.uint8),
            r"labels must be 1-D uint8, got uint8 \(5, 1\)",
        ),
        (
            "train-images-idx3-ubyte",
            np.zeros((N_TRAIN, 27, 28), np.uint8),
            r"images must be uint8 of shape \(n, 28, 28\), got uint8 \(12, 27, 28\)",
        ),
        (
            "train-images-idx3-ubyte",
            np.zeros((N_TRAIN, 28, 28), np.float32),
            r"images must be uint8 .* got float32",
        ),
        (
            "t10k-images-idx3-ubyte",
            np.zeros((N_TEST, 784), np.uint8),
            r"images must be uint8 .* got uint8 \(5, 784\)",
        ),
    ],
    ids=["count", "range", "labels-2d", "dims", "dtype", "flat"],
)
def test_mismatched_files_are_refused(
    tmp_path: Path, stem: str, array: np.ndarray, problem: str
) -> None:
    fake_idx_folder(tmp_path)
    bad = _replace(tmp_path, stem, array)
    with pytest.raises(ValueError, match=r"^IDX file '.*': " + problem) as info:
        data.load("mnist", path=tmp_path)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("kind", ["train", "t10k"])
def test_a_set_of_zero_images_is_refused(tmp_path: Path, kind: str) -> None:
    fake_idx_folder(tmp_path)
    bad = _replace(
        tmp_path, f"{kind}-images-idx3-ubyte", np.zeros((0, 28, 28), np.uint8)
    )
    _replace(tmp_path, f"{kind}-labels-idx1-ubyte", np.zeros(0, np.uint8))
    message = f"IDX file {str(bad)!r}: must hold at least one image, got 0"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        data.load("mnist", path=tmp_path)  # was numpy's "cannot reshape array"


def test_a_corrupted_file_in_the_folder_is_named(tmp_path: Path) -> None:
    fake_idx_folder(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=rf"^IDX file '{re.escape(str(path))}': "):
        data.load("mnist", path=tmp_path)


def test_digits_is_a_fixed_stratified_split() -> None:
    ds = data.load("digits")
    assert ds.X_train.shape == (1293, 64) and ds.X_test.shape == (360, 64)
    assert ds.X_val is not None and ds.X_val.shape == (144, 64)  # 10% of 1437
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    assert ds.n_classes == 10 and ds.n_features == 64
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # 20% of ~180 per class
    again = data.load("digits", dtype="float64")
    assert again.X_train.dtype == np.float64
    np.testing.assert_array_equal(again.X_train, ds.X_train)
    np.testing.assert_array_equal(again.y_test, ds.y_test)


def test_worked_regression_example() -> None:
    ds = data.load("regression")
    np.testing.assert_array_equal(ds.X_train, [[1.0], [2.0]])
    np.testing.assert_array_equal(ds.y_train, [3.0, 5.0])
    assert ds.X_train.dtype == ds.y_train.dtype == np.float64
    np.testing.assert_array_equal(ds.X_test, ds.X_train)
    assert ds.X_test is not ds.X_train  # editing one leaves the other alone
    assert (ds.n_classes, ds.n_features, ds.classes) == (0, 1, ())
    assert data.load("regression", dtype=np.float32).y_test.dtype == np.float32


def test_synthetic_regression_is_seeded_and_linear() -> None:
    a = data.synthetic_regression(
        500, noise=0.0, seed=3, n_features=3, weights=[1, -2, 0.5], bias=4
    )
    b = data.synthetic_regression(
        500,
        noise=0.0,
        seed=np.random.default_rng(3),
        n_features=3,
        weights=[1, -2, 0.5],
        bias=4,
    )
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.shape == (500, 3) and a.X_test.shape == (125, 3)
    np.testing.assert_allclose(a.y_test, a.X_test @ [1, -2, 0.5] + 4, atol=1e-12)
    noisy = data.synthetic_regression(2000, noise=0.5, seed=0)
    A = np.column_stack([noisy.X_train, np.ones(noisy.n_train)])
    coef = np.linalg.lstsq(A, noisy.y_train, rcond=None)[0]
    np.testing.assert_allclose(coef, [2.0, 1.0], atol=0.05)  # the line y = 2x + 1
    residual = noisy.y_train - A @ coef
    assert 0.45 < residual.std() < 0.55
    assert data.synthetic_regression(10, n_test=0).X_test.shape == (0, 1)
    assert data.load("synthetic-regression").n_train == 180
    assert data.load("synthetic-regression").n_val == 20


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"n": 0}, r"n must be an integer >= 1, got 0"),
        ({"noise": -1.0}, r"noise must be >= 0, got -1.0"),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"seed": 1.5}, r"seed must be an integer >= 0"),
        ({"n_features": 2, "weights": [1.0]}, r"weights must be 2 finite numbers"),
        ({"weights": [np.nan]}, r"weights must be 1 finite numbers"),
        ({"dtype": np.int32}, r"dtype must be a float dtype"),
        ({"n_test": -1}, r"n_test must be an integer >= 0"),
    ],
)
def test_synthetic_regression_checks_arguments(kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=r"^synthetic_regression: " + problem):
        data.synthetic_regression(**kwargs)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        data.load("cifar10")
    assert str(info.value) == (
        "load: name must be one of digits, fashion-mnist, mnist, regression, "
        "synthetic-regression, quadratic-deep or a path ending in .npz, got 'cifar10'"
    )
    assert data.names() == (
        "digits",
        "fashion-mnist",
        "mnist",
        "regression",
        "synthetic-regression",
        "quadratic-deep",
    )
    with pytest.raises(ValueError, match=r"^load: name must be one of"):
        data.load(3)  # type: ignore[arg-type]


def test_load_checks_dtype_and_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^load: dtype must be a float dtype, got"):
        data.load("digits", dtype=np.int64)
    with pytest.raises(ValueError, match=r"^load: dtype must be a float dtype, got"):
        data.load("digits", dtype="no-such-dtype")
    with pytest.raises(ValueError, match=r"^load: path must be None for 'digits'"):
        data.load("digits", path=tmp_path)


def test_dataset_checks_shapes_and_is_frozen() -> None:
    X, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match=r"^Dataset: X_train must be 2-D"):
        data.Dataset(np.zeros(4), y, X, y, (), "d")
    with pytest.raises(ValueError, match=r"^Dataset: y_test must be of shape \(4,\)"):
        data.Dataset(X, y, X, np.zeros(3), (), "d")
    with pytest.raises(ValueError, match=r"^Dataset: X_test must be 2 features"):
        data.Dataset(X, y, np.zeros((4, 3)), y, (), "d")
    ds = data.Dataset(X, y, X, y, ["a", "b"], "d")
    assert ds.classes == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "e"  # type: ignore[misc]
    assert repr(ds) == (
        "Dataset('d', train X (4, 2) float64 y (4,) float64, validation 0, "
        "test X (4, 2) y (4,), 2 classes)"
    )
    with pytest.raises(ValueError, match=r"^Dataset: X_val and y_val must be both"):
        data.Dataset(X, y, X, y, (), "d", X_val=X)
    with pytest.raises(ValueError, match=r"^Dataset: y_val must be of shape \(4,\)"):
        data.Dataset(X, y, X, y, (), "d", X_val=X, y_val=np.zeros(2))


def test_regression_targets_may_be_several_per_row_labels_may_not() -> None:
    X, Y = np.zeros((4, 2)), np.zeros((4, 3))
    assert data.Dataset(X, Y, X, Y, (), "d").y_train.shape == (4, 3)
    with pytest.raises(ValueError, match=r"^Dataset: y_train must be of shape \(4,\)"):
        data.Dataset(X, Y, X, Y, ["a", "b", "c"], "d")  # one label per row
    with pytest.raises(ValueError, match=r"^Dataset: y_train must be of shape"):
        data.Dataset(X, np.zeros((4, 3, 1)), X, Y, (), "d")


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(
    not (FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is absent: `sudo apt-get install dataset-fashion-mnist`",
)
def test_real_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GDLAB_DATA", raising=False)
    start = time.perf_counter()
    ds = data.load("fashion-mnist", val_fraction=None)
    seconds = time.perf_counter() - start
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert ds.X_train.min() == 0 and ds.X_train.max() == 1
    np.testing.assert_array_equal(np.bincount(ds.y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(ds.y_test), np.full(10, 1000))
    assert ds.y_train[0] == 9 and ds.y_test[0] == 9  # both start with an ankle boot
    assert abs(float(ds.X_train.mean(dtype=np.float64)) - 0.2860) < 1e-3
    assert seconds < 10, f"loading Fashion-MNIST took {seconds:.1f} s"
    labels = data.read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, ds.y_test)


# --- the validation split ---------------------------------------------------------


def test_validation_is_stratified_seeded_and_independent_of_the_test_set() -> None:
    ds = data.load("digits")
    whole = data.load("digits", val_fraction=None)
    assert ds.X_val is not None and ds.y_val is not None
    # train + validation is the official training set, nothing lost or repeated
    rows = np.concatenate([ds.X_train, ds.X_val])
    order = np.lexsort(rows.T)
    np.testing.assert_array_equal(
        rows[order], whole.X_train[np.lexsort(whole.X_train.T)]
    )
    # stratified: each class keeps its share of the training set within one sample
    expected = np.bincount(whole.y_train) * 144 / 1437
    assert np.abs(np.bincount(ds.y_val) - expected).max() <= 1
    np.testing.assert_array_equal(ds.y_val, data.load("digits").y_val)  # seeded
    other = data.load("digits", split_seed=1)
    assert not np.array_equal(other.y_val, ds.y_val)
    np.testing.assert_array_equal(other.X_test, ds.X_test)  # the test set untouched
    assert data.load("digits", val_fraction=0.5).n_val == 719
    assert data.load("regression").X_val is None  # two points: no split


@pytest.mark.parametrize("fraction", [0.0, -0.1, 0.6, float("nan"), "0.1"])
def test_bad_val_fraction_is_refused(fraction: object) -> None:
    with pytest.raises(ValueError, match=r"^load: val_fraction must be"):
        data.load("digits", val_fraction=fraction)  # type: ignore[arg-type]


def test_a_split_seed_beyond_scikit_learns_bound_is_named() -> None:
    big = 2**32
    message = f"load: split_seed must be an integer in [0, {big - 1}], got {big}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        data.load("digits", split_seed=big)  # was random_state's message
    whole = data.load("digits", val_fraction=None)
    with pytest.raises(ValueError, match=r"validation split: split_seed must be an"):
        whole.split_validation(0.1, big)
    assert data.load("digits", split_seed=big - 1).n_val == 144


def test_a_split_that_cannot_hold_every_class_is_refused(tmp_path: Path) -> None:
    fake_idx_folder(tmp_path)  # 12 training samples over 6 classes
    with pytest.raises(
        ValueError,
        match=r"^mnist: validation split: val_fraction must be such that the split "
        r"\(2 of 12 samples\) and the rest both hold every one of 6 classes",
    ):
        data.load("mnist", path=tmp_path)


def test_a_quadratic_deep_too_large_to_hold_is_refused_before_any_allocation() -> None:
    with pytest.raises(ValueError, match=r"^quadratic-deep: n \* dim must be at most"):
        data.load("quadratic-deep:n=99999999999,dim=100000")
