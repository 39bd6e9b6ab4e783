"""Params: named views into one contiguous buffer per dtype.

A model keeps all its parameters in one flat buffer, so that an optimizer can update
every parameter in a single fused pass, while code that reads or writes one tensor
still sees it by name and shape::

    p = Params({"W": np.zeros((784, 10)), "b": np.zeros(10)})
    p["W"].shape          # (784, 10), a view into p.buffers[np.dtype("float64")]
    g = p.zeros_like()    # gradients in the same layout
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

Array = NDArray[np.floating]
"""A floating-point NumPy array: a parameter, a gradient or a state buffer."""
F64 = NDArray[np.float64]
"""A float64 array: the annotation of the lab's exact arithmetic."""


@dataclass(frozen=True)
class Slot:
    """Where one named parameter lives: its buffer's dtype, offset and shape."""

    dtype: np.dtype[np.floating]
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _view(buffers: Mapping[np.dtype[np.floating], Array], slot: Slot) -> Array:
    flat = buffers[slot.dtype][slot.offset : slot.offset + slot.size]
    return flat.reshape(slot.shape)


class _Views(dict[str, Array]):
    """The named views of a copy, each made when first asked for: a fresh gradient
    (``loss_and_grad`` without ``out=``) is usually handed to ``opt.step`` whole,
    which reads the buffers, never the views."""

    def __init__(
        self, buffers: Mapping[np.dtype[np.floating], Array], slots: Mapping[str, Slot]
    ) -> None:
        super().__init__()
        self._buffers, self._slots = buffers, slots

    def __missing__(self, name: str) -> Array:
        view = self[name] = _view(self._buffers, self._slots[name])
        return view


class Params(Mapping[str, Array]):
    """An ordered mapping name -> float array, stored in one buffer per dtype.

    The arrays given are copied in (in order) and grouped by dtype; ``p[name]`` is a
    writable view into the buffer, so in-place updates of either are seen by both.
    """

    def __init__(
        self, arrays: Mapping[str, ArrayLike], *, dtype: DTypeLike | None = None
    ) -> None:
        converted: dict[str, Array] = {}
        for name, value in arrays.items():
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"Params: names must be non-empty strings, got {name!r}"
                )
            try:
                a = np.asarray(value, dtype=dtype)
            except (TypeError, ValueError):  # ragged nesting, or not numbers at all
                a = np.asarray(None)
            if a.dtype.kind not in ("f" if dtype is not None else "fiu"):
                raise ValueError(  # complex, bool, object, text: no
                    f"Params: {name} must be a real array, got dtype {a.dtype}"
                )
            a = a if a.dtype.kind == "f" else a.astype(np.float64)
            converted[name] = a
        sizes: dict[np.dtype[np.floating], int] = {}
        slots: dict[str, Slot] = {}
        for name, a in converted.items():
            offset = sizes.get(a.dtype, 0)
            slots[name] = Slot(a.dtype, offset, a.shape)
            sizes[a.dtype] = offset + a.size
        self._slots = slots
        self.buffers: dict[np.dtype[np.floating], Array] = {
            dt: np.empty(n, dtype=dt) for dt, n in sizes.items()
        }
        self._views = {name: self._view(slot) for name, slot in slots.items()}
        for name, a in converted.items():
            self._views[name][...] = a

    def _view(self, slot: Slot) -> Array:
        return _view(self.buffers, slot)

    def __getstate__(self) -> dict[str, object]:
        """The layout and the buffers: a pickled or deep-copied Params makes its
        views again on its own buffers (views pickled apart would be copies)."""
        return {"slots": self._slots, "buffers": self.buffers}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._slots, self.buffers = state["slots"], state["buffers"]
        self._views = _Views(self.buffers, self._slots)

    @property
    def slots(self) -> Mapping[str, Slot]:
        """The layout: name -> (dtype, offset, shape)."""
        return self._slots

    def same_layout(self, other: object) -> bool:
        """True when ``other`` is a Params with identical names, dtypes and shapes."""
        return isinstance(other, Params) and other._slots == self._slots

    def _like(self, buffers: dict[np.dtype[np.floating], Array]) -> Params:
        new = object.__new__(Params)
        new._slots = self._slots
        new.buffers = buffers
        new._views = _Views(buffers, self._slots)
        return new

    def zeros_like(self) -> Params:
        """A Params of zeros with the same layout (for gradients)."""
        return self._like({dt: np.zeros_like(b) for dt, b in self.buffers.items()})

    def copy(self) -> Params:
        """A deep copy with the same layout."""
        return self._like({dt: b.copy() for dt, b in self.buffers.items()})

    def view(self) -> Params:
        """A second Params over the same buffers (as ``ndarray.view``): a write
        through either is seen by both."""
        return self._like(dict(self.buffers))

    def __getitem__(self, name: str) -> Array:
        try:
            return self._views[name]
        except KeyError:
            raise KeyError(
                f"Params has no parameter {name!r}; it has {list(self)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __repr__(self) -> str:
        items = ", ".join(f"{n}: {s.shape} {s.dtype}" for n, s in self._slots.items())
        return f"Params({items})"
