"""Your own data in gdlab: NumPy arrays, checked as a Dataset, saved as an ``.npz``
that every command reads, and two optimizers compared on it::

    python docs/examples/own_data.py [FOLDER]
    gdlab compare --data FOLDER/blobs.npz --optimizers sgd,adam   # the same file

The file holds ``X_train``, ``y_train``, ``X_test``, ``y_test`` (optionally
``X_val``/``y_val`` and ``classes``); integer labels make a classifier, float
targets a regression set (``gdlab.data.arrays``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gdlab import data
from gdlab.experiment import RunSpec
from gdlab.lab.compare import Protocol, compare


def blobs(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clouds in 5 dimensions, labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 5)) + 2.0 * np.eye(3, 5)[y]
    return X, y


def main(folder: Path) -> list[dict[str, Any]]:
    X, y = blobs()
    arrays = {
        "X_train": X[:480],
        "y_train": y[:480],
        "X_test": X[480:],
        "y_test": y[480:],
    }
    print(data.from_arrays(**arrays, name="blobs"))  # checked: NaN, lengths, labels...
    path = folder / "blobs.npz"
    np.savez(path, **arrays)  # what --data blobs.npz reads

    base = RunSpec(data=str(path), model="softmax").replace(epochs=5, batch_size=32)
    protocol = Protocol(budget=2, seeds=1, studies=2)
    result = compare(
        base, ["sgd", "adam"], protocol, out=folder / "compare", progress=False
    )
    rows = result.summary()
    for row in rows:
        print(f"{row['optimizer']:5} test accuracy {row['test_acc']:.3f}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp))
