"""Is the comparison's test calibrated, and has it power? A/A and A/A' checks.

PROTOCOL.md asks two things of the claims of :mod:`gdlab.lab.claims`:

* **A/A (calibration).** An optimizer compared with a copy of itself must be
  declared different in at most 5% of independent comparisons (different master
  seeds). The copy is registered under another name and its lr axis is read at
  u + ½ mod 1 (:class:`gdlab.optim.space.Axis` ``shift``): the same
  distribution of learning rates at other quasi-random points. An exact copy
  would see the same points and seeds, and differ by exactly zero.
* **Power.** A copy whose lr range is shifted ``decades`` too low (three, by
  default) must be declared worse in at least 90% of comparisons.

:func:`copies` registers such copies for the duration of a ``with`` block (in
this process only: run comparisons of copies with ``workers=1``, or register
them in each worker); :func:`verdicts` runs one comparison per master seed and
returns each comparison's claim about the pair. ``tests/lab/test_calibration.py``
runs both checks at CI size; ``benchmarks/bench_calibration.py`` measures the
rates over 20 comparisons each.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gdlab import _checks, optim
from gdlab.experiment import RunSpec
from gdlab.lab import claims, compare


def copy_of(
    name: str, *, shift: float = 0.0, decades: float = 0.0
) -> type[optim.Optimizer]:
    """A subclass of ``name``'s optimizer whose lr axis is read at u + ``shift``
    mod 1 and moved ``decades`` lower (both ends divided by 10**decades)."""
    base = optim.get(name)
    lr = base.search_space["lr"]
    _checks.number("copy_of", "decades", decades, low=0.0)
    factor = 10.0 ** -float(decades)
    axis = dataclasses.replace(
        lr, low=lr.low * factor, high=lr.high * factor, shift=shift
    )
    suggested = optim.suggested_lr(name) * factor
    return type(
        f"{base.__name__}Copy",
        (base,),
        {
            "search_space": {**base.search_space, "lr": axis},
            "suggested_lr": suggested,
            "__doc__": base.__doc__,
        },
    )


@contextmanager
def copies(**made: type[optim.Optimizer]) -> Iterator[None]:
    """Register ``name=class`` pairs for the block; remove them after."""
    try:
        for name, cls in made.items():
            optim.register(name, cls)
        yield
    finally:
        for name in made:
            optim.REGISTRY.pop(name, None)


def verdicts(
    base: RunSpec,
    pair: Sequence[str],
    masters: Sequence[int],
    protocol: compare.Protocol,
    folder: str | os.PathLike[str],
) -> list[claims.Claim]:
    """The claim about ``pair`` of one comparison per master seed in
    ``masters`` (each in its own store under ``folder``; ``workers=1``)."""
    out = []
    for master in masters:
        found = compare.compare(
            base,
            list(pair),
            dataclasses.replace(protocol, search_seed=master),
            out=Path(folder) / f"master-{master}",
            report=False,
            workers=1,
            progress=False,
        )
        (claim,) = found.pairs
        out.append(claim)
    return out
