"""Atomic writes and folder ownership (gdlab.outputs)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import IO

import pytest

from gdlab import outputs


def _fail_after_half(f: IO[bytes]) -> None:
    f.write(b"half of a new file")
    raise OSError(28, "No space left on device")


def test_a_failed_write_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    outputs.write_text(path, "the good report")
    with pytest.raises(outputs.WriteError) as error:
        outputs.write_atomic(path, _fail_after_half)
    assert str(error.value) == f"cannot write {path}: No space left on device"
    assert isinstance(error.value, OSError)
    assert path.read_text() == "the good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_bug_in_the_writer_is_not_a_write_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    outputs.write_text(path, "old")

    def buggy(f: IO[bytes]) -> None:
        f.write(b"new")
        raise KeyError("bug")

    with pytest.raises(KeyError):
        outputs.write_atomic(path, buggy)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_a_missing_folder_is_a_write_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "x.json"
    with pytest.raises(outputs.WriteError, match=f"cannot write {path}: No such file"):
        outputs.write_text(path, "{}")


def test_files_get_the_mode_open_would_give(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    path = outputs.write_bytes(tmp_path / "x.png", b"png")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_bytes() == b"png"


def test_csv_through_a_callback(tmp_path: Path) -> None:
    import csv

    path = outputs.write_csv(
        tmp_path / "r.csv", lambda f: csv.writer(f).writerows([["a", "b"], [1, 2]])
    )
    assert path.read_bytes() == b"a,b\r\n1,2\r\n"  # as csv writes rows


def test_a_folder_belongs_to_the_command_that_made_it(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert outputs.claim(folder, "compare") == folder  # created and marked
    assert json.loads((folder / outputs.MARKER).read_text()) == {"kind": "compare"}
    (folder / "results.json").write_text("{}")
    assert outputs.claim(folder, "compare") == folder  # its own: reused
    with pytest.raises(ValueError) as error:
        outputs.claim(folder, "sweep")
    assert str(error.value) == (
        f"--out {folder} holds the output of gdlab compare; gdlab sweep writes only "
        "into its own folders or an empty one: choose another"
    )
    (folder / "results.json").unlink()  # empty again (but for the marker): anyone's
    assert outputs.claim(folder, "sweep") == folder
    assert outputs.owner(folder) == "sweep"


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files gdlab did not write"):
        outputs.claim(tmp_path, "train", "--out")
    assert not (tmp_path / outputs.MARKER).exists()


def test_an_unmarked_folder_is_known_by_the_files_only_its_command_writes(
    tmp_path: Path,
) -> None:
    (tmp_path / "checkpoints").mkdir()  # a run from before the marker
    assert outputs.owner(tmp_path) == "train"
    with pytest.raises(ValueError, match="holds the output of gdlab train"):
        outputs.claim(tmp_path, "compare")
    assert outputs.claim(tmp_path, "train") == tmp_path


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("", "--out must name a folder, got ''"),
        ("{tmp}/file", "cannot write to --out {tmp}/file: it is a file, not a folder"),
        ("{tmp}/file/sub", "cannot write to --out {tmp}/file/sub: Not a directory"),
    ],
)
def test_bad_folders(tmp_path: Path, folder: str, message: str) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError) as error:
        outputs.claim(folder.replace("{tmp}", str(tmp_path)), "train")
    assert str(error.value).startswith(message.replace("{tmp}", str(tmp_path)))


def test_an_unreadable_marker(tmp_path: Path) -> None:
    (tmp_path / outputs.MARKER).write_text("[1]")
    with pytest.raises(ValueError, match=r"\.gdlab\.json is unreadable"):
        outputs.owner(tmp_path)
