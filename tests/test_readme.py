"""README is executable: every command it shows, and every example in a command's
``--help``, runs here.

A command line is a line of a ``sh`` block (continuation lines joined, the comment
after `` # `` dropped) or an inline code span that starts with ``gdlab `` or
``make ``; a span holding ``...`` or ``…`` is a fragment of a command shown whole
elsewhere, and is not run. Each command is in exactly one of two tables, and a test
fails when README or a ``--help`` shows one that is in neither:

- :data:`SHORTENED` — run as printed, followed by the options that shorten it
  (click keeps an option's last value, so ``--epochs 1`` after ``--epochs 15``
  wins), in one scratch folder, in order (a ``--resume`` finds its run).
- :data:`ELSEWHERE` — the few that cannot run in a test as printed (this suite
  itself, a Ray cluster on other machines, a server that runs until stopped), each
  with the test that runs what it shows.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from gdlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FASHION = Path("/usr/share/datasets/fashion-mnist")

SMALL = "--budget 1 --seeds 1 --studies 1 --epochs 1 --workers 1"
SHORTENED: dict[str, str] = {
    # make demo runs this (checked against the Makefile below)
    "gdlab compare --out runs/compare-digits": "--optimizers sgd,adam " + SMALL,
    "gdlab compare": "--optimizers sgd,adam " + SMALL,
    "gdlab compare --data fashion-mnist --model mlp:784-256-10 --optimizers "
    "sgd,momentum,adam --epochs 10 --budget 16 --tune lr,momentum,beta1 --seeds 2 "
    "--studies 5 --workers 2": SMALL,
    "gdlab compare --optimizers sgd,momentum,adam --studies 5 --budget 4 --seeds 2": (
        SMALL
    ),
    "gdlab compare --plugin docs/examples/lion.py --optimizers mylion,adamw "
    "--budget 8 --seeds 3": SMALL,
    "gdlab compare --plugin docs/examples/own_workload.py --model my-softmax "
    "--optimizers adam,sgd --workers 2": SMALL,
    "gdlab explain mylion --plugin docs/examples/lion.py --param 0.8,1.2 "
    "--grad 0.1,-0.3": "",
    "gdlab benchmark --suite small --budget 4 --seeds 2 --studies 3 --workers 2": (
        "--optimizers sgd --budget 1 --seeds 1 --studies 1 --workers 1"
    ),
    "gdlab benchmark --suite small --budget 4 --seeds 2 --studies 3": (
        "--optimizers sgd --budget 1 --seeds 1 --studies 1 --workers 1"
    ),
    "gdlab report runs/compare-digits": "",
    "gdlab train --data fashion-mnist --model mlp:784-256-128-10 --activation relu "
    "--optimizer adam --lr 1e-3 --schedule cosine --warmup-epochs 1 --batch-size 128 "
    "--epochs 15 --seed 0 --out runs/fmnist-adam": "--epochs 2",
    "gdlab train --resume runs/fmnist-adam": "",
    "gdlab train --optimizer adam --tensorboard runs/tb --out runs/watched": "",
    "gdlab train --optimizer adam --hyper betas=0.9,0.99 --hyper amsgrad=true "
    "--schedule step --schedule-arg step_size=20 --schedule-arg gamma=0.5 "
    "--out runs/step": "",
    "gdlab train --preset course-mnist --out runs/course-mnist": "--iterations 600",
    "gdlab train --preset course-mnist --data mnist --data-path DIR --out runs/mnist": (
        "--iterations 600"  # DIR: a folder of IDX files (Fashion-MNIST's, here)
    ),
    "gdlab schedule cosine --lr 0.1 --steps 1000 --warmup 100 -o schedule.png": "",
    "gdlab schedule cosine --lr 0.1 --steps 1000 --warmup 100 -o s.png": "",
    "gdlab schedule step --schedule-arg step_size=300 --schedule-arg gamma=0.1": "",
    "gdlab schedule --all -o schedules.png": "",
    "gdlab surface quadratic --optimizers sgd,momentum,adagrad,adam --lrs "
    "0.95,0.1,1.5,0.3 --start -7,2 --steps 30 -o paths.png": "",
    "gdlab surface regression --optimizers sgd --lrs 0.5,0.1,0.005 --start -1,5": "",
    "gdlab surface quadratic --optimizers sgd,momentum,adagrad,adam --lrs "
    "0.95,0.1,1.5,0.3 --start -7,2 --steps 30 -o paths.png --3d": "",
    "gdlab surface rosenbrock --heatmap --optimizer sgd --lr-range 1e-4,1e-2 "
    "--momentum-range 0,0.99 -o heat.png": "--steps 100",
    "gdlab explain sgd --problem regression --start -1,5 --lr 0.1": "",
    "gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01 "
    "--hyper alpha=0.9 --steps 2": "",
    "gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01": "",
    "gdlab explain rmsprop --param 0.8,1.2,0.5 --grad 0.1,-0.3,0.2 --lr 0.01 "
    "--hyper alpha=0.9 --state v=0.01,0.09,0.04": "",
    "gdlab stability regression": "",
    "gdlab sweep --optimizers sgd,adam --lrs 1e-3,1e-2,1e-1 --batch-sizes 16,64,256 "
    "--seeds 2 --epochs 5 --sharpness --workers 2 --out runs/sweep": (
        "--lrs 1e-2 --batch-sizes 64 --seeds 1 --epochs 1 --workers 1"
    ),
    "gdlab sweep --optimizers sgd,adam --lrs 1e-3,1e-2,1e-1 --batch-sizes 32,256 "
    "--seeds 2 --epochs 5 --sharpness --workers 2 --out runs/sweep": (
        "--lrs 1e-2 --batch-sizes 64 --seeds 1 --epochs 1 --workers 1"
    ),
    "gdlab examples": "",
    "gdlab examples regression": "",
    "gdlab figure": "",
    **{
        f"gdlab figure {name} -o {file}": ""
        for name, file in [
            ("adamp", "a.png"),
            ("batch-modes", "b.png"),
            ("ema", "e.png"),
            ("flat-sharp", "f.png"),
            ("lr-decay", "l.png"),
            ("mnist-curves", "m.png"),
            ("momentum-nag", "n.png"),
            ("optimizers", "o.png"),
            ("regression-surface", "g.png"),
            ("regression-surface", "regression.png"),
            ("residuals", "r.png"),
            ("sse-vs-cee", "s.png"),
        ]
    },
    "gdlab figure ema -o ema.png --lang ko": "",
    "gdlab figure mnist-curves --run runs/course-mnist -o mnist.png": "",
    **{
        f"gdlab examples {name}": ""
        for name in (
            "adadelta",
            "adagrad",
            "adam-first-step",
            "ema",
            "momentum-forms",
            "nag",
            "rmsprop",
            "sse-vs-cee",
            "regression --lang ko",
        )
    },
    "gdlab explain momentum --problem regression --start -1,5 --lang ko": "",
    "gdlab explain radam --param 1,2 --grad 0.5,-1": "",
    "gdlab schedule cosine --warmup 100 -o s.png": "",
    "gdlab surface quadratic --optimizers sgd,momentum,adagrad,rmsprop,adam --lrs "
    "0.95,0.1,1.5,0.3,0.3 --start -7,2 --steps 30": "",
    "gdlab train --batch-size full --out runs/full-batch": "",
    "gdlab train --preset course-mnist --lang ko --out runs/course-mnist-ko": (
        "--iterations 600"
    ),
    "gdlab study batch-size": "--batch-sizes 16,1024 --seeds 1 --until steps:40",
    "gdlab study batch-size --batch-sizes 16,1024 --until loss:0.01 --seeds 3": (
        "--seeds 1 --until steps:40"
    ),
    "gdlab study edge-of-stability": "--samples 200 --steps 60 --every 20 --lrs 0.5",
    "gdlab study edge-of-stability --momentum 0.9 --lrs 0.95,1.33": (
        "--samples 200 --steps 60 --every 20"
    ),
}
"""README's and --help's commands that run here, and what shortens each."""

RAY = "tests/lab/test_ray_cluster.py runs compare, benchmark and sweep on Ray"
CALIBRATE = (
    "tunes two baselines on every workload with a large budget (an hour here); "
    "tests/lab/test_benchmark.py runs --calibrate on a one-workload suite"
)
ELSEWHERE: dict[str, str] = {
    "make test": "this suite (.ci/run runs it)",
    "make test-fast": "this suite without its slow tests",
    "make bench": "benchmarks/*.py: minutes of timing, not a test",
    "make docs": ".ci/run builds the site after make test; tests/test_docs.py "
    "checks what it is built from",
    "ray start --head --port=6379 --num-cpus=0": RAY,
    "ray start --address=10.0.0.1:6379": RAY,
    "RAY_ADDRESS=10.0.0.1:6379 gdlab sweep --backend ray --data fashion-mnist "
    "--optimizers sgd,adam --lrs 1e-3,1e-2,1e-1 --seeds 3 --out runs/fmnist": RAY,
    "gdlab compare --backend ray": RAY,
    "gdlab benchmark --backend ray": RAY,
    "gdlab playground --open": "tests/test_playground.py serves the page and "
    "drives it in Chromium; the server runs until stopped",
    "gdlab playground --port 0": "tests/test_playground.py (as above)",
    "gdlab schedule": "names the command; its examples are run above",
    "gdlab train --out": "names the option",
    "make system": "make test runs it first (the Debian packages)",
    "make locale": "make test runs it (tests/test_i18n.py checks the .mo is current)",
    "make pot": "regenerates the catalogue's template; tests/test_i18n.py fails on "
    "a message without a translation",
    "gdlab benchmark --suite small --calibrate --budget 16 --studies 3": CALIBRATE,
    "gdlab benchmark --suite small --calibrate --budget 16 --studies 3 "
    "--workers 2": CALIBRATE,
    "gdlab benchmark --suite small --calibrate --only softmax-digits,mlp-digits,"
    "full-batch-digits --budget 16 --studies 3 --workers 2": CALIBRATE,
    "gdlab benchmark --suite medium --calibrate --only quadratic-deep,"
    "autoencoder-digits --budget 16 --studies 3 --workers 2": CALIBRATE,
    "gdlab surface": "names the command; its examples are run above",
}
"""Commands that cannot run in a test as printed, and where their work is tested."""

RUN_AS = {"make demo": "gdlab compare --out runs/compare-digits"}
"""A make target that is one gdlab command (checked against the Makefile)."""


def _lines(block: str) -> Iterator[str]:
    """The command lines of a shell block: continuations joined, comments cut."""
    for line in re.sub(r"\\\n\s*", "", block).splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line:
            yield " ".join(line.split())


def readme_commands() -> list[str]:
    text = README.read_text()
    found = [
        line
        for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
        for line in _lines(block)
    ]
    spans = re.findall(r"`((?:gdlab|make)(?: [^`]*)?)`", text)
    found += [" ".join(s.split()) for s in spans]
    return [c for c in dict.fromkeys(found) if "..." not in c and "…" not in c]


def help_examples() -> list[str]:
    """The example lines of every command's --help (click's \\b blocks)."""

    def walk(command: click.Command) -> Iterator[click.Command]:
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield from walk(sub)
        else:
            yield command

    found = []
    for command in walk(main):
        text = re.sub(r"\\\n\s*", "", command.help or "")
        found += [
            line
            for line in _lines(text)
            if line.startswith("gdlab ") and "..." not in line
        ]
    return list(dict.fromkeys(found))


def test_every_command_shown_is_run_or_accounted_for() -> None:
    shown = set(readme_commands()) | set(help_examples())
    known = set(SHORTENED) | set(ELSEWHERE) | set(RUN_AS)
    assert not set(SHORTENED) & set(ELSEWHERE)
    assert sorted(shown - known) == [], "shown in README or --help, but not run"
    assert sorted(known - shown - set(RUN_AS.values())) == [], "no longer shown"


def test_make_demo_is_the_command_run_for_it() -> None:
    recipe = re.search(r"^demo:.*\n\t(.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None
    assert recipe[1].replace("$(BIN)/", "") == RUN_AS["make demo"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for all the commands, with README's relative paths: docs/
    (the plugin example) and DIR, a folder of IDX files."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "docs").symlink_to(ROOT / "docs")
    (folder / "DIR").mkdir()
    for idx in FASHION.glob("*-ubyte*"):
        (folder / "DIR" / idx.name).symlink_to(idx)
    return folder


NEEDS = {
    "gdlab train --resume runs/fmnist-adam": "runs/fmnist-adam",
    "gdlab report runs/compare-digits": "runs/compare-digits",
    "gdlab figure mnist-curves --run runs/course-mnist -o mnist.png": (
        "runs/course-mnist"
    ),
}
"""Commands that read the output of an earlier one (made first if missing)."""


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    gdlab = Path(sys.executable).with_name("gdlab")
    args = shlex.split(RUN_AS.get(command, command)) + shlex.split(SHORTENED[command])
    assert args[0] == "gdlab"
    return subprocess.run(
        [str(gdlab), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=600
    )


FAILING: dict[str, str] = {}
"""README commands known to fail today, each with why (strict: fixed, it fails)."""


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_dir(), reason="needs dataset-fashion-mnist")
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=FAILING[c], strict=True))
        if c in FAILING
        else c
        for c in SHORTENED
    ],
    ids=[c[:70] for c in SHORTENED],
)
def test_the_command_runs(command: str, scratch: Path) -> None:
    needed = NEEDS.get(command)
    if needed is not None and not (scratch / needed).is_dir():
        maker = next(c for c in SHORTENED if f"--out {needed}" in c)
        assert _run(maker, scratch).returncode == 0
    done = _run(command, scratch)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr}"
    assert "Traceback" not in done.stderr
