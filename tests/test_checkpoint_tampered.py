"""A checkpoint is a file the user hands over: what it says must agree with its
spec and with itself, or the resume is refused with one line naming the file and
the field (issue 27) — exit 2 from ``gdlab train --resume``, a ValueError from
:func:`gdlab.train.resume` — before anything trains."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from gdlab import checkpoint, train
from gdlab.cli import main
from gdlab.lab import runs

from .conftest import write_checkpoint

Arrays = dict[str, np.ndarray]
Meta = dict[str, Any]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of Adam at lr 0.001 (2 epochs, a checkpoint each)."""
    out = tmp_path_factory.mktemp("run") / "run"
    result = CliRunner().invoke(
        main,
        ["train", "--model", "mlp:64-16-10", "--batch-size", "64", "--epochs", "2",
         "--optimizer", "adam", "--lr", "0.001", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def state(a: Arrays, m: Meta, key: str, value: np.ndarray) -> None:
    a[key] = value


def edit(meta: Meta, where: str, value: Any) -> None:
    *path, last = where.split(".")
    for key in path:
        meta = meta[int(key)] if isinstance(meta, list) else meta[key]
    if isinstance(meta, list):
        meta[int(last)] = value
    else:
        meta[last] = value


def meta_edit(where: str, value: Any) -> Callable[[Arrays, Meta], None]:
    return lambda a, m: edit(m, where, value)


EXP_AVG = "optim/W1/exp_avg"
VARIANTS: dict[str, tuple[Callable[[Arrays, Meta], None], str]] = {
    "state of another shape": (
        lambda a, m: state(a, m, EXP_AVG, a[EXP_AVG].T.copy()),
        r"arrays\['optim/W1/exp_avg'\] must be of shape \(64, 16\) and dtype float32",
    ),
    "state as int64": (
        lambda a, m: state(a, m, EXP_AVG, a[EXP_AVG].astype(np.int64)),
        r"arrays\['optim/W1/exp_avg'\] must be of shape .* got shape \(64, 16\) "
        r"and dtype int64",
    ),
    "state as uint8 255": (
        lambda a, m: state(a, m, EXP_AVG, np.full(a[EXP_AVG].shape, 255, np.uint8)),
        r"arrays\['optim/W1/exp_avg'\] .*dtype uint8",
    ),
    "state as float64": (
        lambda a, m: state(a, m, EXP_AVG, a[EXP_AVG].astype(np.float64)),
        r"arrays\['optim/W1/exp_avg'\] .*dtype float64",
    ),
    "parameter as float64": (
        lambda a, m: state(a, m, "param/W1", a["param/W1"].astype(np.float64)),
        r"arrays\['param/W1'\] must be of shape \(64, 16\) and dtype float32",
    ),
    "an extra state array": (
        lambda a, m: state(a, m, "optim/W1/momentum_buffer", a[EXP_AVG]),
        r"arrays\['optim/W1/momentum_buffer'\] must be param/<parameter> or optim",
    ),
    "an extra parameter": (
        lambda a, m: state(a, m, "param/W9", a["param/W1"]),
        r"arrays\['param/W9'\] must be param/<parameter>",
    ),
    "an array of no kind": (
        lambda a, m: state(a, m, "pickle", np.zeros(3)),
        r"arrays\['pickle'\] must be param/<parameter>",
    ),
    "a missing state array": (
        lambda a, m: a.pop(EXP_AVG),
        r"arrays\['optim/W1/exp_avg'\] must be present, got missing",
    ),
    "a missing parameter": (
        lambda a, m: a.pop("param/b2"),
        r"arrays\['param/b2'\] must be present",
    ),
    "lr edited to 5.0": (
        meta_edit("optimizer.param_groups.0.lr", 5.0),
        r"optimizer\.param_groups\[0\]\.lr must be the run's 0\.001, got 5\.0",
    ),
    "lr NaN": (
        meta_edit("optimizer.param_groups.0.lr", math.nan),
        r"optimizer\.param_groups\[0\]\.lr must be the run's 0\.001, got nan",
    ),
    "betas edited": (
        meta_edit("optimizer.param_groups.0.betas", [0.5, 0.999]),
        r"optimizer\.param_groups\[0\]\.betas must be the run's \[0\.9, 0\.999\]",
    ),
    "a param group key added": (
        meta_edit("optimizer.param_groups.0.momentum", 0.9),
        r"optimizer\.param_groups\[0\] must be an object with keys",
    ),
    "step 'x'": (
        meta_edit("position.step", "x"),
        r"position\.step must be an integer >= 0, got 'x'",
    ),
    "step -5": (
        meta_edit("position.step", -5),
        r"position\.step must be an integer >= 0, got -5",
    ),
    "optimizer step -5": (
        meta_edit("optimizer.step", -5),
        r"optimizer\.step must be an integer >= position\.step \(42\), got -5",
    ),
    "a changed model": (
        meta_edit("spec.model", "mlp:64-32-10"),
        r"cannot resume: the model, optimizer or data differ from the "
        r"checkpoint's: fingerprint\.model: ",
    ),
    "a changed optimizer": (
        meta_edit("spec.optimizer", "adamw"),
        r"differ from the checkpoint's: fingerprint\.optimizer: 'Adam' -> 'AdamW'",
    ),
    "changed data": (
        meta_edit("spec.split_seed", 3),
        r"differ from the checkpoint's: fingerprint\.data\.digest: '[0-9a-f]{16}'",
    ),
    "a fingerprint of {}": (
        meta_edit("fingerprint", {}),
        r"differ from the checkpoint's: fingerprint\.data: None -> ",
    ),
    "history steps NaN": (
        lambda a, m: m["history"]["steps"].update(
            loss=[math.nan] * len(m["history"]["steps"]["loss"])
        ),
        r"history\.steps\.loss\[0\] must be a finite number, got nan",
    ),
    "history steps renumbered": (
        lambda a, m: m["history"]["steps"]["step"].reverse(),
        r"history\.steps\.step must be 1, 2, 3, \.\.\.",
    ),
    "an evaluation NaN": (
        meta_edit("history.epochs.0.train_loss", math.nan),
        r"history\.epochs\[0\]\.train_loss must be a finite number, got nan",
    ),
    "an evaluation at another epoch": (
        meta_edit("history.epochs.0.epoch", 7),
        r"history\.epochs\[0\] must be an evaluation at a step in \[0, 42\], at "
        r"epoch step / 21 \(1\.0\)",
    ),
    "the batch size edited": (
        meta_edit("config.batch_size", 32),
        r"position\.step must be epoch x 41 \+ batch = 82, got 42",
    ),
    "elapsed NaN": (
        meta_edit("elapsed", math.nan),
        r"elapsed must be",
    ),
    "an rng state of another generator": (
        meta_edit("position.rng_state.bit_generator", "MT19937"),
        r"position\.rng_state\.bit_generator must be one of PCG64, got 'MT19937'",
    ),
    "an rng word of 129 bits": (
        meta_edit("position.rng_state.state.inc", 2**128),
        r"position\.rng_state\.state\.inc must be an integer in \[0, 2\*\*128\)",
    ),
    "a position key added": (
        meta_edit("position.colour", "red"),
        r"position must be an object of step, epoch, batch, rng_state, got the key "
        r"'colour'",
    ),
    "the history's message missing": (
        lambda a, m: m["history"].pop("message"),
        r"history\.message must be given, got nothing",
    ),
}


def tampered(finished: Path, folder: Path, variant: str) -> Path:
    """A copy of the finished run with every checkpoint edited as ``variant``."""
    out = folder / "run"
    shutil.copytree(finished, out)
    change, _ = VARIANTS[variant]
    for path in checkpoint.paths(out / "checkpoints"):
        arrays, meta = checkpoint.read(path)
        change(arrays, meta)
        write_checkpoint(path, arrays, meta)
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_tampered_checkpoint_is_one_line_naming_the_file_and_field(
    finished: Path, tmp_path: Path, variant: str
) -> None:
    out = tampered(finished, tmp_path, variant)
    newest = checkpoint.paths(out / "checkpoints")[0]
    field = VARIANTS[variant][1]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, ["train", "--resume", str(out)])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert err.count("\n") == 1, err
    assert err.startswith(f"gdlab: error: checkpoint {newest}: "), err
    assert re.search(field, err), err
    with pytest.raises(ValueError, match=rf"^checkpoint {newest}: .*{field}"):
        train.resume(out / "checkpoints", rebuild=runs.rebuild, progress=False)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # refused before anything was written


def test_the_untampered_copy_resumes(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    history, _, _ = train.resume(
        out / "checkpoints", rebuild=runs.rebuild, progress=False
    )
    assert len(history.epochs) == 2


def test_written_json_is_strict_nan_as_null(finished: Path, tmp_path: Path) -> None:
    row = {"epoch": 1, "val_loss": math.nan, "test_loss": math.inf}
    train.History(epochs=[row]).to_json(tmp_path / "history.json")
    text = (tmp_path / "history.json").read_text()
    assert json.loads(text, parse_constant=_refuse)["epochs"] == [
        {"epoch": 1, "val_loss": None, "test_loss": None}
    ]
    arrays, meta = checkpoint.read(checkpoint.paths(finished / "checkpoints")[0])
    plateau = {"best": math.inf}  # ReduceOnPlateau's state before its first value
    record = checkpoint.CheckpointMeta.from_dict({**meta, "plateau": plateau})
    path = checkpoint.save(tmp_path, 1, arrays, record)
    with np.load(path, allow_pickle=False) as npz:
        text = npz[checkpoint.META].tobytes().decode()
    assert json.loads(text, parse_constant=_refuse)["plateau"] == {"best": None}


def _refuse(token: str) -> None:
    raise AssertionError(f"not strict JSON: {token}")
