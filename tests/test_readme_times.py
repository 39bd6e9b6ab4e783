"""README's times are measured by scripts (issue 28): ``benchmarks/readme_times.py``
runs exactly ``make bench``'s scripts and every other script README quotes, and
every time README quotes sits in a table row or sentence that names the script
that measured it."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"


def readme_times() -> ModuleType:
    benchmarks = str(ROOT / "benchmarks")
    if benchmarks not in sys.path:  # it imports its neighbour common.py
        sys.path.insert(0, benchmarks)
    spec = importlib.util.spec_from_file_location(
        "readme_times", ROOT / "benchmarks" / "readme_times.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["readme_times"] = module  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_readme_times_runs_what_make_bench_runs() -> None:
    """``make -n bench`` (make's own reading of the Makefile, nothing run) lists
    the same script invocations, in the same order, as readme_times runs."""
    dry = subprocess.run(
        ["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    made = [
        (m[1], tuple(m[2].split()))
        for m in re.finditer(r"python benchmarks/(bench_\w+\.py) ?(.*)", dry)
    ]
    assert len(made) >= 14
    assert readme_times().make_bench() == made


def test_every_benchmark_script_is_run_and_has_a_quick_form() -> None:
    times = readme_times()
    run = {s for s, _ in [*times.make_bench(), *times.README_SCRIPTS]}
    on_disk = {p.name for p in (ROOT / "benchmarks").glob("bench_*.py")}
    in_readme = set(re.findall(r"bench_\w+\.py", README.read_text()))
    assert on_disk == run
    assert in_readme <= run
    assert set(times.QUICK) == run


TIME = re.compile(
    r"(?<![\w.,])(\d[\d.,]*(?:\s*[–-]\s*\d[\d.,]*)?)\s?"
    r"(min(?:utes?)?|s|ms|µs|ns|seconds?|hours?)(?![\w²])"
    r"|(?<![\w.,])\d[\d.,]*\)?\s?×(?!\s?\d)"
)
"""A quoted time (``2 min 43 s``, ``0.028 s``, ``4.31 s``) or ratio (``1.48×``);
``8×8`` is a shape, not a ratio."""
SCRIPT = re.compile(r"\b(?:bench_\w+|readme_times)\.py\b")
NOT_MEASURED = re.compile(
    r"(?:≤|at most|over|above|more than|expand|about twice)\s*\S*$", re.IGNORECASE
)
"""What precedes a bound, a goal or a rule (``≤ 0.8×``, ``over 5 s``, ``at most
32×``, ``4× the fastest`` as AlgoPerf's rule writes it), not a measurement."""
RULES = ("4× the fastest", "2× apart")


def claims(text: str) -> list[str]:
    """The rows and sentences of README that quote a measured time and name no
    script: a table row names its script in a cell, as ``same`` below one that
    does, or in the sentence that introduces the table."""
    bad: list[str] = []
    for code in re.findall(r"```.*?```", text, flags=re.DOTALL):  # line by line
        bad += [line for line in code.splitlines() if measured(line)]
        bad = [line for line in bad if not SCRIPT.search(line)]
    blocks = re.split(r"\n\s*\n", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    introduced = False
    for block in blocks:
        lines = block.strip().splitlines()
        if lines and all(line.startswith("|") for line in lines):
            named = introduced
            for line in lines:
                named = named or bool(SCRIPT.search(line)) or "| same" in line
                if measured(line) and not (SCRIPT.search(line) or named):
                    bad.append(line)
            continue
        flat = " ".join(lines)
        sentences = re.split(r"(?<=\.)\s+(?=[A-Z(`\[])", flat)
        for sentence in sentences:
            if measured(sentence) and not SCRIPT.search(sentence):
                bad.append(sentence)
        introduced = bool(sentences and SCRIPT.search(sentences[-1]))
    return bad


def measured(text: str) -> bool:
    for found in TIME.finditer(text):
        before = text[: found.start()]
        after = text[found.start() : found.end() + 14]
        if NOT_MEASURED.search(before) or any(r in after for r in RULES):
            continue
        return True
    return False


def test_every_time_in_readme_names_the_script_that_measured_it() -> None:
    assert claims(README.read_text()) == []


def test_the_check_finds_an_unattributed_time() -> None:
    """The check above can fail: a time without its script is found; a bound, a
    shape and a time beside its script are not."""
    assert claims("A run took 2 min 43 s on digits.") == [
        "A run took 2 min 43 s on digits."
    ]
    assert claims("It is 1.48× faster.\n\nNo time here.") == ["It is 1.48× faster."]
    assert claims("| a | 0.028 s |\n| --- | --- |") == ["| a | 0.028 s |"]
    assert claims("A run took 3.1 s (`bench_demo.py`). An 8×8 image.") == []
    assert (
        claims("Lists tests over 5 s. Goal ≤ 0.8× torch. At most 32× its size.") == []
    )
    assert claims("Rows below, `bench_torch_cnn.py`:\n\n| a | 0.1 s |") == []
    assert claims("```sh\nmake demo  # 14 s\nmake x  # 3 s, bench_demo.py\n```") == [
        "make demo  # 14 s"
    ]
