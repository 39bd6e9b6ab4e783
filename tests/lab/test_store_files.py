"""gdlab never changes a file it does not own (issue 27): a symbolic link planted
where the store, its lock or another output goes is refused, not followed, and a
foreign SQLite file is recognized as foreign before anything is written to it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from gdlab import outputs
from gdlab.experiment import RunSpec
from gdlab.lab import sweep
from gdlab.train import TrainConfig

SPEC = RunSpec(
    data="digits", model="mlp:64-8-10", train=TrainConfig(epochs=1, batch_size=64)
)
QUIET = {"progress": False, "report": False, "workers": 1}


def prepared(tmp_path: Path, kind: str = "compare") -> Path:
    """A folder an attacker prepared: marked as ``kind``'s."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".gdlab.json").write_text(json.dumps({"kind": kind}))
    (tmp_path / "victim").mkdir()
    return out


def swept(out: Path, seeds: list[int]) -> sweep.SweepResult:
    return sweep.run(sweep.Sweep(SPEC, {"seed": seeds}), out=out, **QUIET)


def test_a_lock_symlinked_outside_is_not_created(tmp_path: Path) -> None:
    out = prepared(tmp_path, "sweep")
    victim = tmp_path / "victim" / "created_by_lock"
    (out / "sweep.db.lock").symlink_to(Path("..") / "victim" / "created_by_lock")
    with pytest.raises(ValueError, match=r"sweep\.db\.lock: it is a symbolic link"):
        swept(out, [0])
    assert not victim.exists()
    victim.write_bytes(b"precious")
    with pytest.raises(ValueError, match=r"sweep\.db\.lock: it is a symbolic link"):
        swept(out, [0])
    assert victim.read_bytes() == b"precious"
    assert not (out / "sweep.db").exists()


def foreign_db(path: Path) -> bytes:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE accounts (name TEXT, balance REAL)")
        db.execute("INSERT INTO accounts VALUES ('alice', 10.5)")
    db.close()
    return path.read_bytes()


def journal_mode(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("linked", [True, False])
def test_a_foreign_sqlite_file_is_left_byte_identical(
    tmp_path: Path, linked: bool
) -> None:
    out = prepared(tmp_path, "sweep")
    victim = tmp_path / "victim" / "sweep.db"
    before = foreign_db(victim)
    store = out / "sweep.db"
    if linked:
        store.symlink_to(victim)
        message = r"sweep\.db: it is a symbolic link"
    else:
        store = victim
        message = "is not a gdlab sweep store"
    with pytest.raises(ValueError, match=message):
        swept(store.parent, [0])
    with pytest.raises(ValueError, match=message):
        sweep.Store(store)
    assert victim.read_bytes() == before
    assert not Path(f"{victim}-wal").exists()
    assert journal_mode(victim) == "delete"


def test_sqlite_side_files_symlinked_are_refused(tmp_path: Path) -> None:
    out = prepared(tmp_path, "sweep")
    swept(out, [0])
    victim = tmp_path / "victim" / "wal"
    (out / "sweep.db-wal").unlink(missing_ok=True)
    (out / "sweep.db-wal").symlink_to(victim)
    with pytest.raises(ValueError, match=r"sweep\.db-wal: it is a symbolic link"):
        swept(out, [0, 1])
    assert not victim.exists()


def test_an_output_file_symlinked_outside_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "report.html").symlink_to(victim)
    link = r"report\.html: it is a symbolic link"
    with pytest.raises(outputs.WriteError, match=link):
        outputs.write_text(tmp_path / "report.html", "new")
    assert victim.read_text() == "precious"
    assert (tmp_path / "report.html").is_symlink()


def test_json_is_strict_nan_and_infinity_are_null(tmp_path: Path) -> None:
    text = outputs.json_text({"a": [float("nan"), 1.5, float("-inf")], "b": (2,)})
    assert json.loads(text) == {"a": [None, 1.5, None], "b": [2]}
    outputs.write_json(tmp_path / "x.json", {"loss": float("inf")})
    assert (tmp_path / "x.json").read_text() == '{\n "loss": null\n}\n'


def test_compare_into_a_prepared_folder_is_one_line_and_touches_nothing(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from gdlab.cli import main

    out = prepared(tmp_path)
    (out / "sweep.db.lock").symlink_to(Path("..") / "victim" / "created_by_lock")
    result = CliRunner().invoke(
        main,
        ["compare", "--optimizers", "sgd", "--budget", "1", "--seeds", "1",
         "--epochs", "1", "--workers", "1", "--quiet", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"gdlab: error: cannot write {out / 'sweep.db.lock'}: it is a "
        "symbolic link, and gdlab writes only files of its own; remove it or "
        "choose another folder\n"
    )
    assert list((tmp_path / "victim").iterdir()) == []


def test_a_checkpoints_folder_symlinked_outside_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from gdlab.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / ".gdlab.json").write_text(json.dumps({"kind": "train"}))
    (tmp_path / "victim").mkdir()
    (out / "checkpoints").symlink_to(tmp_path / "victim")
    result = CliRunner().invoke(
        main, ["train", "--model", "mlp:64-8-10", "--epochs", "1", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"gdlab: error: --out {out}: {out / 'checkpoints'} is a symbolic link, and "
        "gdlab writes only files of its own; remove it or choose another folder\n"
    )
    assert list((tmp_path / "victim").iterdir()) == []
