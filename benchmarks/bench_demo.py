"""How long ``make demo`` takes: ``gdlab compare`` with its defaults (12 optimizers
on digits, 5 studies x (4 trials + 2 reruns), 10 epochs) into a fresh folder.

Prints the wall time, the CPU time of the command and its worker processes, and
the machine's load before and after (on a shared machine the wall time says more
about the neighbours than about gdlab; the CPU time does not)::

    python benchmarks/bench_demo.py [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(machine())
    gdlab = Path(sys.executable).with_name("gdlab")
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            load = os.getloadavg()[0]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                [str(gdlab), "compare", "--out", folder, "--quiet"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(
            f"make demo (gdlab compare): {wall:.1f} s wall, {cpu:.1f} s CPU "
            f"(CPU / 2 cores = {cpu / 2:.1f} s); load {load:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )


if __name__ == "__main__":
    main()
