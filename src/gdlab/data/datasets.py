"""Datasets: Fashion-MNIST, MNIST, scikit-learn's 8x8 digits, regression data.

Every loader returns a :class:`Dataset` with 2-D float features and 1-D targets::

    ds = load("fashion-mnist")   # Debian's dataset-fashion-mnist, $GDLAB_DATA or path=
    ds = load("mnist", path="dir/with/four/idx/files")
    ds = load("digits")          # scikit-learn's, shipped with gdlab: the default
    ds = load("regression")      # the worked example: points (1, 3) and (2, 5)
    ds = load("mine.npz")        # a user's arrays (gdlab.data.arrays), as from_arrays

(``load`` and the registry of names are in :mod:`gdlab.data.registry`.)

Every dataset but the worked example (two points) carries a validation split carved
from its training set (``val_fraction`` = 0.1 by default, stratified by class, seeded
by ``split_seed`` alone, so it is the same for every optimizer and run seed); the
official test sets are untouched. Choices are made on it, never on the test set.

Image pixels are scaled to [0, 1]; class labels are int64. Nothing is cached on disk.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from gdlab import _checks
from gdlab.data.batching import Seed, as_generator
from gdlab.data.digest import digest
from gdlab.data.idx import read_view
from gdlab.data.splits import split_indices

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

#: Where Debian's ``dataset-*`` packages put their files; $GDLAB_DATA mirrors it.
SYSTEM_DATA = Path("/usr/share/datasets")
#: The environment variable naming a folder with one subfolder per dataset.
DATA_ENV = "GDLAB_DATA"
#: The four standard IDX files of MNIST and Fashion-MNIST, without ``.gz``.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IMAGE_SHAPE = (28, 28)

DIGITS_TEST_FRACTION = 0.2
DIGITS_SEED = 0
VAL_FRACTION = 0.1
SPLIT_SEED = 0


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train, validation and test data: ``X`` is (samples, features), ``y`` is
    (samples,), or (samples, targets) for regression.

    ``classes`` names the labels ``0 .. n_classes - 1`` of a classification set and is
    empty for regression. ``X_val``/``y_val`` are None when the set has no
    validation split (see :meth:`split_validation`).
    """

    X_train: NDArray[Any]
    y_train: NDArray[Any]
    X_test: NDArray[Any]
    y_test: NDArray[Any]
    classes: tuple[str, ...]
    name: str
    X_val: NDArray[Any] | None = None
    y_val: NDArray[Any] | None = None

    def __post_init__(self) -> None:
        if (self.X_val is None) != (self.y_val is None):
            _checks.fail("Dataset", "X_val and y_val", "both given or both None", "one")
        parts = ("train", "test") if self.X_val is None else ("train", "val", "test")
        for part in parts:
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            X, y = np.asarray(X), np.asarray(y)
            object.__setattr__(self, f"X_{part}", X)
            object.__setattr__(self, f"y_{part}", y)
            if X.ndim != 2:
                _checks.fail("Dataset", f"X_{part}", "2-D", f"shape {X.shape}")
            # regression may have several targets per row: (n, k)
            if y.shape[:1] != (len(X),) or y.ndim > (1 if self.classes else 2):
                shapes = f"({len(X)},)" + ("" if self.classes else f" or ({len(X)}, k)")
                _checks.fail(
                    "Dataset", f"y_{part}", f"of shape {shapes}", f"shape {y.shape}"
                )
        for part in parts[1:]:
            X = getattr(self, f"X_{part}")
            if X.shape[1] != self.X_train.shape[1]:
                _checks.fail(
                    "Dataset",
                    f"X_{part}",
                    f"{self.X_train.shape[1]} features like X_train",
                    X.shape[1],
                )
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    def split_validation(
        self, fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED
    ) -> Dataset:
        """This dataset with ``fraction`` of its training set held out as validation.

        Stratified by class for classification (scikit-learn's
        ``train_test_split``'s rows, drawn by :mod:`gdlab.data.splits`); the split
        depends on the data and ``seed`` only.
        """
        owner = f"{self.name}: validation split"
        fraction = _checks.number(
            owner, "val_fraction", fraction, low=0.0, high=0.5, low_open=True
        )
        seed = check_split_seed(owner, seed)
        n_val = math.ceil(fraction * self.n_train)
        stratify = None
        if self.classes:
            counts = np.bincount(self.y_train)
            counts = counts[counts > 0]  # the classes the training set has
            if counts.min() < 2 or not len(counts) <= n_val <= self.n_train - len(
                counts
            ):
                _checks.fail(
                    owner,
                    "val_fraction",
                    f"such that the split ({n_val} of {self.n_train} samples) and "
                    f"the rest both hold every one of {len(counts)} classes, each "
                    f"of which needs 2 training samples (the rarest has "
                    f"{counts.min()})",
                    fraction,
                )
            stratify = self.y_train
        elif n_val >= self.n_train:
            _checks.fail(owner, "val_fraction", "leaving training samples", fraction)
        train, val = split_indices(self.n_train, n_val, seed, stratify)
        X_train, X_val = self.X_train[train], self.X_train[val]
        y_train, y_val = self.y_train[train], self.y_train[val]
        return dataclasses.replace(
            self, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val
        )

    @functools.cached_property
    def digest(self) -> str:
        """The :func:`~gdlab.data.digest.digest` of all six arrays (computed once
        per Dataset: about 0.6 s for Fashion-MNIST)."""
        return digest(
            self.X_train, self.y_train, self.X_val, self.y_val, self.X_test, self.y_test
        )

    @property
    def n_features(self) -> int:
        """Columns of ``X``."""
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes; 0 for regression."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return len(self.X_train)

    @property
    def n_test(self) -> int:
        return len(self.X_test)

    @property
    def n_val(self) -> int:
        """Validation samples; 0 when there is no validation split."""
        return 0 if self.X_val is None else len(self.X_val)

    def __repr__(self) -> str:
        kind = f"{self.n_classes} classes" if self.classes else "regression"
        return (
            f"Dataset({self.name!r}, train X {self.X_train.shape} "
            f"{self.X_train.dtype} y {self.y_train.shape} {self.y_train.dtype}, "
            f"validation {self.n_val}, "
            f"test X {self.X_test.shape} y {self.y_test.shape}, {kind})"
        )


SPLIT_SEED_MAX = 2**32 - 1
"""The largest ``split_seed``: scikit-learn's ``random_state`` takes no more."""


def check_split_seed(owner: str, seed: object) -> int:
    """``seed`` as a split seed, an integer in [0, SPLIT_SEED_MAX]."""
    n = _checks.integer(owner, "split_seed", seed, low=0)
    if n > SPLIT_SEED_MAX:
        _checks.fail(owner, "split_seed", f"an integer in [0, {SPLIT_SEED_MAX}]", seed)
    return n


# --- IDX image sets ---------------------------------------------------------------


def _find_idx_files(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """The four IDX files in ``folder`` (each .gz or raw) and the names missing."""
    found: dict[str, Path] = {}
    missing = []
    for stem in IDX_FILES:
        dotted = stem.replace("-idx", ".idx")  # as some mirrors name them
        for candidate in (stem + ".gz", stem, dotted + ".gz", dotted):
            if (folder / candidate).is_file():
                found[stem] = folder / candidate
                break
        else:
            missing.append(stem)
    return found, missing


def _not_found(title: str, name: str, searched: list[str]) -> ValueError:
    where = "; ".join(searched)
    install = (
        "install Debian's package with `sudo apt-get install dataset-fashion-mnist`, "
        if name == "fashion-mnist"
        else ""
    )
    return ValueError(
        f"{title} not found in {where}: {install}or pass path=/dir with the four IDX "
        f"files ({', '.join(IDX_FILES)}, each .gz or raw; --data-path DIR in the "
        f"gdlab command), or set {DATA_ENV} to a folder holding {name}/ with them"
    )


def _locate(title: str, name: str, path: str | os.PathLike[str] | None) -> Path:
    """The folder with the four IDX files: ``path``, else $GDLAB_DATA/name, else
    /usr/share/datasets/name; a ValueError saying how to get them otherwise."""
    if path is not None:
        folders = [Path(path)]
    else:
        env = os.environ.get(DATA_ENV)
        folders = [Path(env) / name] if env else []
        folders.append(SYSTEM_DATA / name)
    searched = []
    for folder in folders:
        try:
            folder.stat()
        except FileNotFoundError:
            pass  # said below
        except OSError as error:  # a name too long, a loop of links, no access
            searched.append(f"{folder} ({error.strerror or error})")
            continue
        found, missing = _find_idx_files(folder)
        if not missing:
            return folder
        if not folder.is_dir():
            searched.append(f"{folder} (no such folder)")
        elif found:
            searched.append(f"{folder} (missing {', '.join(missing)})")
        else:
            searched.append(str(folder))
    raise _not_found(title, name, searched)


def _check_pair(
    images: NDArray[Any], labels: NDArray[Any], image_file: Path, label_file: Path
) -> None:
    """Refuse images and labels that are not MNIST-shaped or do not match."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"IDX file {str(image_file)!r}: images must be uint8 of shape "
            f"(n, {IMAGE_SHAPE[0]}, {IMAGE_SHAPE[1]}), got {images.dtype.name} "
            f"{images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"IDX file {str(label_file)!r}: labels must be 1-D uint8, got "
            f"{labels.dtype.name} {labels.shape}"
        )
    if len(images) == 0:  # nothing to train on or to evaluate
        raise ValueError(
            f"IDX file {str(image_file)!r}: must hold at least one image, got 0"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"IDX file {str(label_file)!r}: {len(labels)} labels for {len(images)} "
            f"images in {str(image_file)!r}"
        )
    if len(labels) and labels.max() > 9:
        raise ValueError(
            f"IDX file {str(label_file)!r}: labels must be in 0..9, found "
            f"{int(labels.max())}"
        )


def _images_and_labels(
    images: NDArray[Any],
    labels: NDArray[Any],
    image_file: Path,
    label_file: Path,
    dtype: np.dtype[Any],
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Checked images flattened to (n, 784) in [0, 1], and int64 labels."""
    _check_pair(images, labels, image_file, label_file)
    X = images.reshape(len(images), -1).astype(dtype)
    X /= 255
    return X, labels.astype(np.int64)


def idx_set(
    title: str,
    name: str,
    classes: tuple[str, ...],
    path: str | os.PathLike[str] | None,
    dtype: np.dtype[Any],
) -> Dataset:
    folder = _locate(title, name, path)
    files, _ = _find_idx_files(folder)
    paths = [files[stem] for stem in IDX_FILES]
    # zlib releases the GIL: the four files decompress in parallel.
    with ThreadPoolExecutor(len(paths)) as pool:
        arrays = list(pool.map(read_view, paths))
    X_train, y_train = _images_and_labels(
        arrays[0], arrays[1], paths[0], paths[1], dtype
    )
    X_test, y_test = _images_and_labels(arrays[2], arrays[3], paths[2], paths[3], dtype)
    return Dataset(X_train, y_train, X_test, y_test, classes, name)


# --- small and synthetic sets -----------------------------------------------------


DIGITS_FILE = Path(__file__).with_name("digits.npz")
"""scikit-learn's ``load_digits()`` (the UCI optical recognition of handwritten
digits test set, 1,797 images of 8x8 pixels valued 0-16, CC BY 4.0), split as
``train_test_split(test_size=DIGITS_TEST_FRACTION, stratify=target,
random_state=DIGITS_SEED)`` splits it: pixels and labels as uint8, 47 kB. Read
from here, digits loads in milliseconds instead of importing scikit-learn; a
test holds it equal to scikit-learn's."""


def digits(dtype: np.dtype[Any]) -> Dataset:
    with np.load(DIGITS_FILE) as f:
        arrays = {name: f[name] for name in f.files}
    return Dataset(
        (arrays["train_pixels"] / 16).astype(dtype),
        arrays["train_labels"].astype(np.int64),
        (arrays["test_pixels"] / 16).astype(dtype),
        arrays["test_labels"].astype(np.int64),
        DIGIT_CLASSES,
        "digits",
    )


def worked_example(dtype: np.dtype[Any]) -> Dataset:
    def X() -> NDArray[Any]:
        return np.array([[1.0], [2.0]], dtype=dtype)

    def y() -> NDArray[Any]:
        return np.array([3.0, 5.0], dtype=dtype)

    return Dataset(X(), y(), X(), y(), (), "regression")


def synthetic_regression(
    n: int = 200,
    noise: float = 0.1,
    seed: Seed = 0,
    *,
    n_features: int = 1,
    weights: ArrayLike | None = None,
    bias: float = 1.0,
    n_test: int | None = None,
    dtype: DTypeLike = np.float64,
) -> Dataset:
    """Linear data ``y = X @ weights + bias + noise * N(0, 1)`` with ``X ~ N(0, 1)``.

    Args:
        n: training samples, >= 1.
        noise: standard deviation of the Gaussian noise on ``y``, >= 0.
        seed: an int or a ``numpy.random.Generator``.
        n_features: columns of ``X``.
        weights: the true weights, shape (n_features,); default all 2.0, so that
            with ``bias = 1`` the line is the worked example's ``y = 2x + 1``.
        bias: the true intercept.
        n_test: test samples, drawn like the training ones; default ``n // 4``.
        dtype: float dtype of ``X`` and ``y``.
    """
    owner = "synthetic_regression"
    n = _checks.integer(owner, "n", n, low=1)
    noise = _checks.number(owner, "noise", noise, low=0)
    n_features = _checks.integer(owner, "n_features", n_features, low=1)
    bias = _checks.number(owner, "bias", bias)
    n_test = (
        n // 4 if n_test is None else _checks.integer(owner, "n_test", n_test, low=0)
    )
    dt = float_dtype(owner, dtype)
    rng = as_generator(owner, seed)
    if weights is None:
        w = np.full(n_features, 2.0)
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (n_features,) or not np.all(np.isfinite(w)):
            _checks.fail(
                owner, "weights", f"{n_features} finite numbers", np.asarray(weights)
            )
    X = rng.standard_normal((n + n_test, n_features))
    y = X @ w + bias + noise * rng.standard_normal(n + n_test)
    X, y = X.astype(dt), y.astype(dt)
    return Dataset(X[:n], y[:n], X[n:], y[n:], (), "synthetic-regression")


def float_dtype(owner: str, dtype: object) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        _checks.fail(owner, "dtype", "a float dtype", dtype)
    if not np.issubdtype(dt, np.floating):
        _checks.fail(owner, "dtype", "a float dtype", dtype)
    return dt
