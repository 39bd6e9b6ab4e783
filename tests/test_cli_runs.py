"""The CLI's train, compare and report commands, and how they treat bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gdlab import checkpoint

from .conftest import run_cli as run
from .conftest import write_checkpoint

SMALL = ["--model", "mlp:64-16-10", "--batch-size", "64"]


@pytest.mark.slow
def test_compare_prints_the_table_and_writes_the_report(tmp_path: Path) -> None:
    code, out, err = run(
        "compare", *SMALL, "--optimizers", "sgd,nesterov,adam", "--epochs", "2",
        "--budget", "2", "--seeds", "2", "--studies", "1", "--workers", "1",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.startswith("group"))
    assert lines[header - 2].startswith("established nothing: 1 study cannot")
    # no claim, one group: the rows are in name order, not ranked
    assert [ln.split()[:2] for ln in lines[header + 2 : header + 5]] == [
        ["a", "adam"],
        ["a", "nesterov"],
        ["a", "sgd"],
    ]
    assert f"report: {tmp_path / 'report.html'}" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["protocol"]["seeds"] == 2 and results["protocol"]["studies"] == 1
    nesterov = results["optimizers"]["nesterov"]["studies"]
    assert len(nesterov[0]["trials"]) == 2 and len(nesterov[0]["reruns"]) == 2
    # run again: every run is in sweep.db, nothing trains, the same numbers
    code, again, err = run(
        "compare", *SMALL, "--optimizers", "sgd,nesterov,adam", "--epochs", "2",
        "--budget", "2", "--seeds", "2", "--studies", "1", "--workers", "1",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "6 runs (6 already done" in again and "0 to run" in again
    assert again.splitlines()[-6:] == out.splitlines()[-6:]


def test_compare_with_a_budget_of_zero_and_a_schedule(tmp_path: Path) -> None:
    code, out, err = run(
        "compare", *SMALL, "--optimizers", "sgd,adam", "--budget", "0", "--epochs",
        "2", "--seeds", "1", "--studies", "2", "--schedule", "step",
        "--schedule-arg", "gamma=0.1",
        "--workers", "1", "--out", str(tmp_path), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["spec"]["schedule_args"] == {"gamma": 0.1}
    for study in results["optimizers"]["adam"]["studies"]:
        assert study["selected"]["hyper"] == {"lr": 0.001}
    assert "note: budget 0" in out


def test_train_writes_history_plots_and_checkpoints_then_resumes(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    code, stdout, err = run(
        "train",
        *SMALL,
        "--optimizer",
        "nesterov",
        "--lr",
        "0.05",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 0, err
    assert "final: train loss " in stdout and "test acc" in stdout
    for name in ("history.json", "history.csv", "loss.png", "accuracy.png"):
        assert (out / name).stat().st_size > 0
    assert len(list((out / "checkpoints").glob("checkpoint-*.npz"))) == 2
    history = json.loads((out / "history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    # A finished run resumes to the same result; a changed option is refused.
    code, stdout2, _ = run("train", "--resume", str(out), "--quiet")
    assert code == 0 and stdout2.splitlines()[0] == stdout.splitlines()[-2]
    code, _, err = run("train", "--resume", str(out), "--lr", "0.5")
    assert code == 2
    assert err.strip() == (
        f"gdlab: error: cannot resume {out} with a changed configuration: "
        "lr: 0.05 -> 0.5"
    )
    code, _, err = run("train", "--resume", str(out), "--epochs", "3")
    assert code == 2 and err.strip().endswith(
        "with a changed configuration: epochs: 2 -> 3"
    )
    # Starting again in the same folder would overwrite the run: refused.
    code, _, err = run("train", *SMALL, "--out", str(out), "--quiet")
    assert code == 2 and "already holds a run" in err
    assert json.loads((out / "history.json").read_text()) == history


def test_train_resume_refuses_a_checkpoint_of_another_layout(tmp_path: Path) -> None:
    code, _, err = run("train", *SMALL, "--epochs", "1", "--out", str(tmp_path))
    assert code == 0, err
    for path in checkpoint.paths(tmp_path / "checkpoints"):
        arrays, meta = checkpoint.read(path)
        meta["version"] = 1
        write_checkpoint(path, arrays, meta)
    code, _, err = run("train", "--resume", str(tmp_path))
    assert code == 2
    assert err.startswith("gdlab: error: checkpoint ") and err.count("\n") == 1
    assert err.strip().endswith(
        "version must be 3, got 1: it was written by another version of gdlab and "
        "cannot be resumed; start the run again"
    )


def test_train_iterations_and_extra_hyperparameters(tmp_path: Path) -> None:
    code, _, err = run(
        "train",
        *SMALL,
        "--optimizer",
        "sgd",
        "--hyper",
        "momentum=0.9",
        "--hyper",
        "nesterov=true",
        "--iterations",
        "30",
        "--schedule",
        "cosine",
        "--warmup-epochs",
        "0.2",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert code == 0, err
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["steps"]["step"]) == 30
    lrs = history["steps"]["lr"]
    # 0.2 of an epoch of 21 steps: a warm-up of 5 steps from lr/6 (LinearLR's
    # start factor 1/(W + 1)), then the cosine from 0.1
    assert lrs[:6] == pytest.approx([0.1 * k / 6 for k in range(1, 7)])
    assert max(lrs) == pytest.approx(0.1) and lrs[-1] < 0.01
    assert history["config"]["param_groups"][0]["nesterov"] is True


def test_a_diverging_run_exits_1_with_the_message_and_keeps_its_files(
    tmp_path: Path,
) -> None:
    code, _, err = run(
        "train",
        "--data",
        "regression",
        "--model",
        "linear",
        "--optimizer",
        "sgd",
        "--lr",
        "5",
        "--iterations",
        "3000",
        "--batch-size",
        "full",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert code == 1
    assert err.startswith("gdlab: diverged at step ") and "with lr 5" in err
    assert json.loads((tmp_path / "history.json").read_text())["diverged"] is True


REJECTED = [
    ["--data", "cifar"],
    ["--model", "convnet"],
    ["--l2", "nan"],
    ["--val-fraction", "0.7"],
    ["--init", "bogus"],
    ["--warmup-epochs", "-1"],
    ["--checkpoint-every", "0"],
    ["--checkpoint-every", "-1"],
]


@pytest.mark.parametrize("args", REJECTED, ids=" ".join)
def test_a_rejected_train_leaves_no_folder_behind(
    tmp_path: Path, args: list[str]
) -> None:
    code, out, err = run("train", *args, "--out", str(tmp_path / "a"))
    assert code == 2 and len(err.strip().splitlines()) == 1, out + err
    assert not (tmp_path / "a").exists()


def test_resume_checks_its_options_against_the_stored_run(tmp_path: Path) -> None:
    out = tmp_path / "t1"
    code, _, err = run(
        "train", *SMALL, "--optimizer", "sgd", "--hyper", "momentum=0.9",
        "--hyper", "nesterov=true", "--iterations", "3", "--schedule", "multistep",
        "--schedule-arg", "gamma=0.3", "--schedule-arg", "milestones=1,2",
        "--out", str(out), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    # --hyper and --schedule-arg name the stored optimizer's and schedule's
    # arguments, each compared with the stored value it would change.
    for given in (
        ["--schedule-arg", "gamma=0.3"],
        ["--hyper", "momentum=0.9"],
        ["--checkpoint-every", "2"],
    ):
        code, _, err = run("train", "--resume", str(out), *given, "--quiet")
        assert code == 0, err
    code, _, err = run("train", "--resume", str(out), "--schedule-arg", "gamma=0.5")
    assert code == 2 and err.strip().endswith(
        "with a changed configuration: schedule_args: {'gamma': 0.3, "
        "'milestones': [1, 2]} -> {'gamma': 0.5, 'milestones': [1, 2]}"
    ), err
    for every in ("0", "-1"):
        code, _, err = run("train", "--resume", str(out), "--checkpoint-every", every)
        assert code == 2 and err.strip() == (
            f"gdlab: error: --checkpoint-every: {every} is not in the range x>=1"
        )


def test_train_has_no_undocumented_opt_alias() -> None:
    code, _, err = run("train", "--opt", "momentum=0.9")
    assert code == 2 and "No such option '--opt'" in err


BAD = [
    (
        ["compare", "--optimizers", "sgd,adamm"],
        "unknown optimizer 'adamm' (did you mean 'adam'?); known optimizers: sgd",
    ),
    (["compare", "--data", "cifar"], "--data must be one of digits"),
    (
        ["train", "--model", "convnet", "--out", "{tmp}/a"],
        "--model must be one of mlp, softmax, linear",
    ),
    (
        ["train", "--model", "mlp:64-x-10", "--out", "{tmp}/a"],
        "--model must be integers joined by '-'",
    ),
    (
        ["train", "--model", "mlp:784-10", "--out", "{tmp}/a"],
        "--model must be the data's 64 features first and its 10 outputs last",
    ),
    (
        ["train", "--schedule", "cosinus", "--out", "{tmp}/a"],
        "--schedule must be one of constant",
    ),
    (["train", "--lr", "-0.1", "--out", "{tmp}/a"], "lr must be >= 0, got -0.1"),
    (["train", "--lr", "abc", "--out", "{tmp}/a"], "'abc' is not a valid float"),
    (
        ["train", "--batch-size", "0", "--out", "{tmp}/a"],
        "--batch-size must be an integer >= 1, got 0",
    ),
    (
        ["train", "--batch-size", "big", "--out", "{tmp}/a"],
        "--batch-size must be an integer or 'full'",
    ),
    (
        ["train", "--epochs", "0", "--out", "{tmp}/a"],
        "epochs must be an integer >= 1, got 0",
    ),
    (
        ["compare", "--epochs", "-1", "--out", "{tmp}/a"],
        "--epochs: -1 is not in the range x>=1",
    ),
    (
        ["compare", "--tune", "lr,beta9", "--optimizers", "adam"],
        "--tune: no optimizer compared has an axis 'beta9' (did you mean 'beta2'?); "
        "adam has lr, beta1,",
    ),
    (
        [
            "train",
            "--optimizer",
            "adam",
            "--hyper",
            "betas=1.0,0.9",
            "--out",
            "{tmp}/a",
        ],
        r"--hyper betas[0] must be in [0, 1), got 1.0",
    ),
    (
        ["train", "--hyper", "bogus=1", "--out", "{tmp}/a"],
        "--hyper: adam has no 'bogus'; it takes betas",
    ),
    (
        [
            "train",
            "--data",
            "fashion-mnist",
            "--data-path",
            "{tmp}",
            "--out",
            "{tmp}/a",
        ],
        "dataset-fashion-mnist",
    ),
    (["train", "--out", "{tmp}/file.txt/run"], "cannot write to --out"),
    (["train", "--resume", "{tmp}"], "no checkpoint in"),
    (["train"], "--out is required"),
    (["report", "{tmp}"], "cannot read comparison results"),
    (["train", "--no-such-option"], "No such option '--no-such-option'"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file.txt").write_text("precious")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if argv[0] == "compare" and "--out" not in argv:
        argv += ["--out", str(tmp_path / "cmp")]
    code, out, err = run(*argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("gdlab: error: ") and message in err
    assert "Traceback" not in out + err
    assert (tmp_path / "file.txt").read_text() == "precious"


def test_benchmark_prints_the_profile_table(tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(
        '[one]\ndata = "digits"\nmodel = "softmax"\nepochs = 2\ntarget = 0.8\n'
    )
    code, out, err = run(
        "benchmark", "--suite", str(suite), "--optimizers", "sgd,adam", "--budget",
        "1", "--seeds", "1", "--studies", "2", "--workers", "1",
        "--out", str(tmp_path / "b"), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["optimizer", "one", "score", "(AlgoPerf)"]
    assert {ln.split()[0] for ln in lines[2:4]} == {"sgd", "adam"}
    assert out.endswith(f"report: {tmp_path / 'b' / 'report.html'}\n")
    code, _, err = run("benchmark", "--suite", str(tmp_path / "nope.toml"))
    assert code == 2 and "cannot read it" in err
