"""Every CLI error speaks the user's words (issue 28): one line on stderr, exit 2,
beginning with the option, argument or file the user typed, never with the
internal owner that checked it (``RunSpec:``, ``load:``, ``model:``, ``sweep:
run ...``, ``Adam:``), and a misspelled registered name gets the closest one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab.cli import main
from gdlab.cli.options import _OWNERS

OWNER = re.compile(
    r"^gdlab: error: (?:"
    + "|".join(re.escape(o) for o in sorted(_OWNERS, key=len, reverse=True))
    + r"|[A-Z]\w+|register\(.*?\)|suite \S+):"
)
"""A message that begins with an owner's name and a colon (an option begins with
--, an argument is NAME in capitals and has no colon after its name)."""

SMALL = ["--epochs", "1", "--batch-sizes", "64"]

# (arguments, the beginning of the one line after "gdlab: error: ")
BAD = [
    (
        ["compare", "--model", "cnn:width=4", "--budget", "1", "--seeds", "1"],
        "--model: option 'width' of cnn must be one of channels, batchnorm",
    ),
    (
        ["compare", "--data", "regression:n=5"],
        "--data: option 'n' of regression must be absent",
    ),
    (
        ["compare", "--model", "mlpp", "--budget", "1", "--seeds", "1"],
        "--model must be one of mlp, ",
    ),
    (["compare", "--optimizers", "sgd,adma"], "--optimizers: unknown optimizer 'adma'"),
    (
        ["compare", "--tune", "lr,betta1", "--optimizers", "adam"],
        "--tune: no optimizer compared has an axis 'betta1' (did you mean 'beta1'?)",
    ),
    (
        [
            "compare",
            "--optimizers",
            "adam",
            "--hyper",
            "weight_decay=-1",
            "--budget",
            "1",
            "--seeds",
            "1",
        ],
        "--hyper weight_decay must be >= 0, got -1.0",
    ),
    (
        ["compare", "--select", "val_accc"],
        "--select: 'val_accc' is not one of 'val_acc', 'val_loss' (did you mean",
    ),
    (["compare", "--epochs", "0"], "--epochs: 0 is not in the range x>=1"),
    (
        [
            "sweep",
            "--optimizers",
            "sgd",
            "--lrs",
            "0.1",
            "--model",
            "cnn:width=4",
            *SMALL,
        ],
        "--model: option 'width' of cnn",
    ),
    (["sweep", "--optimizers", "sgd", "--lrs", "-1"], "--lrs must be > 0, got -1.0"),
    (
        ["sweep", "--optimizers", "sgd", "--lrs", "0.1", "--batch-sizes", "0"],
        "--batch-sizes must be an integer >= 1, got 0",
    ),
    (["sweep", "--grid", "hyper=null"], "--grid hyper must be a dict"),
    (
        ["sweep", "--grid", "lrr=0.1"],
        "--grid: unknown grid field 'lrr' (did you mean 'lr'?)",
    ),
    (["sweep", "--optimizers", "sgd,SGD"], "--optimizers must be distinct values"),
    (["sweep", "--data", "fashon-mnist", *SMALL], "--data must be one of digits"),
    (
        ["train", "--hyper", "betas=2,0.9"],
        "--hyper betas[0] must be in [0, 1), got 2.0",
    ),
    (["train", "--data", "regression:n=5"], "--data: option 'n' of regression"),
    (["train", "--data", "missing.npz"], "npz file 'missing.npz': no such file"),
    (
        ["train", "--preset", "course-mnst"],
        "--preset: 'course-mnst' is not 'course-mnist' (did you mean 'course-mnist'?)",
    ),
    (["benchmark", "--suite", "smal"], "--suite smal: cannot read it"),
    (
        ["benchmark", "--suite", "small", "--only", "mlp-digts"],
        "--only must be one of softmax-digits",
    ),
    (
        ["study", "batch-size", "--batch-sizes", "0,16"],
        "--batch-sizes[0] must be an integer >= 1, got 0",
    ),
    (["study", "batch-size", "--until", "los:0.1"], "--until must be 'loss:X'"),
    (["study", "edge-of-stability", "--lrs", "-1"], "--lrs[0] must be > 0, got -1.0"),
    (["explain", "adam", "--param", "1,2", "--grad", "1"], "--grad must be 2 numbers"),
    (
        ["explain", "adam", "--param", "1", "--grad", "1", "--lr", "-1"],
        "--lr must be >= 0, got -1.0",
    ),
    (
        ["explain", "adam", "--param", "1", "--grad", "1", "--state", "m=1,2"],
        "--state['m'] must be 1 number, got [1.0, 2.0]",
    ),
    (
        ["explain", "sgd", "--problem", "regresion", "--start", "-1,5"],
        "--problem must be one of quadratic",
    ),
    (
        ["surface", "quadratic", "--optimizers", "sgd", "--lrs", "-1"],
        "--lrs must be >= 0, got -1.0",
    ),
    (
        ["surface", "rosenbrock", "--heatmap", "--3d"],
        "--3d does not apply to --heatmap",
    ),
    (["stability", "rosenbrock", "--at", "1e200,1e200"], "--at must be a point"),
    (
        ["schedule", "one_cycle", "--schedule-arg", "total_steps=10", "--steps", "20"],
        "--steps must be at most the schedule's length, got 20",
    ),
    (["figure", "ema", "--run", "x", "-o", "e.png"], "--run and --iterations apply"),
    (["train", "--init", "zeross"], "--init must be one of he, glorot, zeros"),
    (
        ["compare", "--schedule", "step", "--schedule-arg", "step_size=-1"],
        "--schedule-arg step_size must be an integer >= 1, got -1",
    ),
    (["report", "missing"], "missing/results.json: cannot read comparison results"),
]


NO_OUT = {"explain", "stability", "schedule", "figure", "surface", "report"}
"""Commands without an output folder."""


@pytest.mark.parametrize(("args", "begins"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_an_error_begins_with_what_the_user_typed(
    args: list[str], begins: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = [] if args[0] in NO_OUT else ["--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, [*args, *out])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"gdlab: error: {begins}"), lines[0]
    assert not OWNER.match(lines[0]), lines[0]
    assert "sweep: run" not in lines[0]
    assert not (tmp_path / "o").exists()  # a refused command leaves no folder


def test_the_owner_pattern_catches_owners() -> None:
    """The check above can fail: each internal beginning is caught."""
    for line in (
        "RunSpec: hyper must be a dict",
        "load: option 'n' of regression must be absent",
        "model: kind must be one of mlp",
        "Protocol: budget must be >= 0",
        "sweep: run optimizer=sgd: model: ...",
        "Adam: betas[0] must be in [0, 1)",
        "suite smal: cannot read it",
        "surfaces: the surface must be one of",
    ):
        assert OWNER.match(f"gdlab: error: {line}"), line
    for line in ("--model must be", "NAME must be one of", "--grid: unknown"):
        assert not OWNER.match(f"gdlab: error: {line}"), line


SUITE = """[mine]
workload = "mlp-digts"
target = 0.9
calibrated_by = "hand-set"
"""

# every kind of registered name a user types, misspelled by one letter
MISSPELLED = [
    (["train", "--optimizer", "adma"], "adam"),
    (["compare", "--optimizers", "sgd,rmsporp"], "rmsprop"),
    (["train", "--model", "mlpp"], "mlp"),
    (["train", "--data", "digts"], "digits"),
    (["train", "--schedule", "cosin"], "cosine"),
    (["schedule", "cosin"], "cosine"),
    (["benchmark", "--suite", "smal"], "small"),
    (["benchmark", "--suite", "mine.toml"], "mlp-digits"),
    (["benchmark", "--suite", "small", "--only", "mlp-digts"], "mlp-digits"),
    (["study", "batch-sze"], "batch-size"),
    (["compare", "--optimizers", "adam", "--tune", "lr,bta2"], "beta2"),
    (["compare", "--optimizers", "adam", "--hyper", "weight_decy=0"], "weight_decay"),
    (["train", "--hyper", "amsgrd=true"], "amsgrad"),
    (["train", "--schedule", "step", "--schedule-arg", "gama=0.5"], "gamma"),
    (["train", "--activation", "rellu"], "relu"),
    (["surface", "quadratc"], "quadratic"),
    (["examples", "regresion"], "regression"),
    (["figure", "regression-surfac", "-o", "r.png"], "regression-surface"),
    (["compare", "--select", "val_los"], "val_loss"),
    (["sweep", "--grid", "batch_sise=8"], "batch_size"),
]


@pytest.mark.parametrize(
    ("args", "meant"), MISSPELLED, ids=[" ".join(a) for a, _ in MISSPELLED]
)
def test_a_misspelled_name_gets_the_closest(
    args: list[str], meant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.toml").write_text(SUITE)
    out = ["--out", str(tmp_path / "o")] if args[0] == "train" else []
    result = CliRunner().invoke(main, [*args, *out])
    assert result.exit_code == 2, (result.output, result.exception)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert re.search(rf"[Dd]id you mean '{re.escape(meant)}'\?", result.stderr), (
        result.stderr
    )
