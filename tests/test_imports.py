"""gdlab loads only what it uses: no plotting, SciPy, scikit-learn, Ray or torch
for `import gdlab`, the optimizers, `gdlab --help` or any command's `--help`."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "scipy", "sklearn", "ray", "torch", "pandas", "numba")


@pytest.mark.parametrize(
    "code",
    [
        "import gdlab",
        "from gdlab import optim, Params",
        "import gdlab.cli",
        "from gdlab.cli import main; main(['--help'], standalone_mode=False)",
        "from gdlab.cli import main\n"
        "for name, command in main.commands.items():\n"
        "    for sub in [*getattr(command, 'commands', {}), None]:\n"
        "        args = [name] + ([sub] if sub else []) + ['--help']\n"
        "        main(args, standalone_mode=False)",
    ],
)
def test_light_imports(code: str) -> None:
    probe = (
        f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


@pytest.mark.slow
def test_the_first_step_compiles_and_loads_numba() -> None:
    probe = (
        "import sys, numpy as np\nfrom gdlab import optim\n"
        "w = {'w': np.ones(3)}\noptim.Adam(w, lr=0.1).step({'w': np.ones(3)})\n"
        "print('numba' in sys.modules, w['w'].tolist())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert done.stdout.split()[0] == "True"
    first = 1 - 0.1 / (1 + 1e-8)  # Adam's first step: lr * sign(g), eps aside
    assert done.stdout.split(" ", 1)[1].strip() == str([first] * 3)
