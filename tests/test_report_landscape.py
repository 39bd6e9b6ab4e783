"""gdlab.report.landscape draws the Surface it is given: it never looks one up, so
it does not import gdlab.surfaces, and a name is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gdlab import surfaces
from gdlab.report import landscape


def test_a_name_is_refused_with_the_way_to_get_a_surface() -> None:
    paths = {"sgd": surfaces.trajectory("bowl", "sgd", steps=3)}
    for draw in (landscape.plot_trajectories, landscape.animate_trajectories):
        with pytest.raises(
            ValueError,
            match=r"^\w+: f must be a Surface, e\.g\. surfaces\.get\('rosenbrock'\), "
            r"got 'bowl'$",
        ):
            draw("bowl", paths, path="never.png")  # type: ignore[operator, arg-type]


def test_neither_module_loads_the_other_when_imported() -> None:
    probe = (
        "import sys, gdlab.report.landscape\nprint('gdlab.surfaces' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False"]
    probe = "import sys, gdlab.surfaces\nprint('gdlab.report' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False"]
