"""Data: the IDX format, datasets and batch iteration.

::

    from gdlab import data
    ds = data.load("fashion-mnist")   # Dataset: X_train (60000, 784) float32, ...
    ds = data.load("mine.npz")        # a user's arrays; data.from_arrays(X, y, ...)
    data.register("mine", lambda *, dtype: data.from_arrays(...))  # by name
    for xb, yb in data.batches(ds.X_train, ds.y_train, batch_size=100, seed=0):
        ...
"""

from gdlab.data.arrays import from_arrays, read_npz
from gdlab.data.batching import Batches, batches, num_batches
from gdlab.data.datasets import Dataset, synthetic_regression
from gdlab.data.digest import digest
from gdlab.data.idx import read_idx, write_idx
from gdlab.data.registry import load, names, register

__all__ = [
    "Batches",
    "Dataset",
    "batches",
    "digest",
    "from_arrays",
    "load",
    "names",
    "num_batches",
    "read_idx",
    "read_npz",
    "register",
    "synthetic_regression",
    "write_idx",
]
