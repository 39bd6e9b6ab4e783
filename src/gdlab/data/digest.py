"""The digest of a dataset's contents: the same data, or not.

One function serves everything that must tell data apart by content rather than by
name or path: a checkpoint's fingerprint (a resume on other data is refused) and a
sweep store (results of other data are never returned as this data's). It is a
SHA-256 over each array's dtype, shape and bytes, so a permuted label column, another
IDX folder of the same shapes, or the same bytes read as another shape all differ.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

LENGTH = 16
"""Hex digits kept (64 bits: an accidental collision is out of reach)."""


def digest(*arrays: NDArray[np.generic] | None) -> str:
    """SHA-256 of the arrays' dtypes, shapes and bytes (a None counts as absent,
    and is told apart from an empty array), as ``LENGTH`` hex digits."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none;")
            continue
        c = np.ascontiguousarray(a)
        h.update(f"{c.dtype.str}{c.shape};".encode())
        h.update(c.data.cast("B"))
    return h.hexdigest()[:LENGTH]


__all__ = ["LENGTH", "digest"]
