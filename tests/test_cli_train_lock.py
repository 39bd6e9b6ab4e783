"""A training folder is locked while a run writes it (issue 27): a second
``gdlab train --out`` (or ``--resume``) into it is one line and exit 2, not two
runs that both exit 0 while one's files replace the other's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from gdlab import checkpoint
from gdlab.cli import main

GDLAB = [str(Path(sys.executable).parent / "gdlab")]


def test_a_second_train_into_a_folder_being_written_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "trc"
    first = subprocess.Popen(
        [*GDLAB, "train", "--optimizer", "sgd", "--model", "mlp:64-1000-1000-10",
         "--batch-size", "1", "--epochs", "3", "--checkpoint-every", "40",
         "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        started = time.monotonic()
        while not (out / ".gdlab.lock").exists():  # the first holds the folder
            assert first.poll() is None and time.monotonic() < started + 120
            time.sleep(0.05)
        time.sleep(0.2)  # from creating the lock file to holding it
        second = CliRunner().invoke(
            main,
            ["train", "--optimizer", "adam", "--model", "mlp:64-16-10", "--epochs",
             "1", "--out", str(out), "--quiet"],
        )  # fmt: skip
        assert second.exit_code == 2, second.output
        assert second.stderr == (
            f"gdlab: error: another gdlab train is writing {out}; wait for it to "
            "finish or choose another --out\n"
        )
        while not checkpoint.paths(out / "checkpoints"):
            assert first.poll() is None
            time.sleep(0.05)
        resumed = CliRunner().invoke(main, ["train", "--resume", str(out)])
        assert resumed.exit_code == 2, resumed.output
        assert resumed.stderr.startswith(
            f"gdlab: error: another gdlab train is writing {out}; "
        )
        assert resumed.stderr.count("\n") == 1
        assert first.poll() is None  # the first run was not disturbed
        assert not (out / "history.json").exists()
    finally:
        os.kill(first.pid, signal.SIGTERM)
        first.wait(timeout=30)
