"""What the CLI says when things go wrong: usage errors (one line, exit 2), files
that cannot be written (one line, exit 1, the old file kept), bugs (a traceback),
options that would be ignored (refused), and folders of another command (refused)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab import outputs
from gdlab.cli import main
from gdlab.experiment import RunSpec
from gdlab.lab import runs
from gdlab.train import TrainConfig

SMALL = ["--model", "mlp:64-16-10", "--batch-size", "64"]


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def gdlab_limited(kib: int, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run gdlab in a real process under ``ulimit -f`` (a file-size limit)."""
    command = [sys.executable, "-c", "from gdlab.cli import main; main()", *args]
    return subprocess.run(
        ["bash", "-c", f'ulimit -f {kib}; exec "$@"', "bash", *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_size_limit_during_report_keeps_the_old_report(tmp_path: Path) -> None:
    spec = RunSpec(
        data="digits", model="mlp:64-16-10", train=TrainConfig(epochs=1, batch_size=64)
    )
    runs.compare_into(tmp_path / "cmp", spec, ["sgd", "adam"], progress=False)
    before = snapshot(tmp_path / "cmp")
    assert len(before["report.html"]) > 100 * 1024
    done = gdlab_limited(50, "report", "cmp", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("gdlab: error: cannot write cmp/")
    assert done.stderr.endswith(": File too large\n")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert snapshot(tmp_path / "cmp") == before  # no file cut short, no temp left


def test_a_size_limit_during_train_is_one_line(tmp_path: Path) -> None:
    done = gdlab_limited(
        8,
        "train",
        *SMALL,
        "--epochs",
        "1",
        "--out",
        "run",
        "--quiet",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("gdlab: error: cannot write run/checkpoints/")
    assert done.stderr.endswith(".npz: File too large\n")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    kept = list((tmp_path / "run" / "checkpoints").iterdir())
    assert [p.name for p in kept] == [".gdlab.lock"]  # no checkpoint cut short


def test_a_size_limit_on_the_sweep_store_is_one_line(tmp_path: Path) -> None:
    done = gdlab_limited(
        20,
        "compare",
        *SMALL,
        "--optimizers",
        "sgd",
        "--budget",
        "1",
        "--studies",
        "1",
        "--epochs",
        "1",
        "--out",
        "cmp",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr  # the disk's fault, not the input's
    assert done.stderr.startswith("gdlab: error: cannot ")
    assert "cmp/sweep.db: disk I/O error" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_size_limit_while_drawing_a_schedule_keeps_the_old_picture(
    tmp_path: Path,
) -> None:
    (tmp_path / "s.png").write_bytes(b"the old picture")
    done = gdlab_limited(4, "schedule", "cosine", "-o", "s.png", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "gdlab: error: cannot write s.png: File too large\n"
    assert snapshot(tmp_path) == {"s.png": b"the old picture"}


@pytest.mark.slow
def test_a_size_limit_while_animating_keeps_the_old_gif(tmp_path: Path) -> None:
    (tmp_path / "a.gif").write_bytes(b"the old animation")
    done = gdlab_limited(
        64, "surface", "quadratic", "--steps", "30", "--animate", "a.gif", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == "gdlab: error: cannot write a.gif: File too large\n"
    assert snapshot(tmp_path) == {"a.gif": b"the old animation"}


def test_a_value_error_that_is_a_bug_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(folder: Path, history: object) -> list[Path]:
        raise ValueError("a bug, not the user's mistake")

    monkeypatch.setattr(runs, "write_history", broken)
    result = CliRunner().invoke(
        main, ["train", *SMALL, "--iterations", "3", "--out", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)
    assert str(result.exception) == "a bug, not the user's mistake"


USAGE = [
    (
        ["train", "--hyper", "lr=5", "--out", "{tmp}/a"],
        "--hyper lr: give the learning rate with --lr",
    ),
    (
        ["train", "--hyper", "params=1", "--out", "{tmp}/a"],
        "--hyper: adam has no 'params'; it takes betas, eps, weight_decay, amsgrad, "
        "decoupled_weight_decay, maximize",
    ),
    (
        ["train", "--hyper", "betas=0.9", "--out", "{tmp}/a"],
        "--hyper betas must be a pair (beta1, beta2), got (0.9,)",
    ),
    (
        ["train", "--hyper", "amsgrad=yes", "--out", "{tmp}/a"],
        "--hyper amsgrad must be true or false, got 'yes'",
    ),
    (
        ["train", "--schedule", "step", "--schedule-arg", "gama=0.5", "--out", "x"],
        "--schedule-arg: schedule step has no 'gama' (did you mean 'gamma'?); it "
        "takes step_size, gamma",
    ),
    (
        ["train", "--schedule", "step", "--schedule-arg", "step_size=x", "--out", "x"],
        "--schedule-arg step_size must be an integer (as 1e3 only up to 2**53), "
        "got 'x'",
    ),
    (
        ["schedule", "cosine", "-o", "{tmp}/file/s.png"],
        "cannot write to the folder of --output {tmp}/file: it is a file, not a folder",
    ),
    (
        ["schedule", "--all", "-o", "{tmp}/file/sub/s.png"],
        "cannot write to the folder of --output {tmp}/file/sub: Not a directory; "
        "choose a folder you can write to",
    ),
    (
        ["surface", "quadratic", "-o", "{tmp}/file/s.png"],
        "cannot write to the folder of --output {tmp}/file: it is a file, not a folder",
    ),
    (
        ["surface", "quadratic", "--animate", "{tmp}/file/s.gif"],
        "cannot write to the folder of --animate {tmp}/file: it is a file, not a "
        "folder",
    ),
    (
        ["schedule", "cosine", "-o", ""],
        "--output must name a .png file (that format is written), got ''",
    ),
    (
        ["stability", "rosenbrock", "--at", "1e200,1e200"],
        "--at must be a point where the gradient is finite, got (1e+200, 1e+200)",
    ),
    (["compare", "--budget", "-1"], "--budget must be an integer >= 0, got -1"),
    (
        ["compare", "--optimizers", "sgd,adam", "--tune", "lr,rho"],
        "--tune: no optimizer compared has an axis 'rho'; sgd has lr, momentum, "
        "weight_decay; adam has lr, beta1, beta2, eps, weight_decay",
    ),
    (
        ["compare", "--val-fraction", "0.7", "--budget", "1", "--seeds", "1"],
        "--val-fraction must be in (0, 0.5], got 0.7",
    ),
    (
        ["compare", "--target", "2", "--budget", "1"],
        "--target must be in (0, 1], got 2.0",
    ),
    (
        ["train", "--epochs", "3", "--iterations", "10", "--out", "{tmp}/a"],
        "give --epochs or --iterations, not both",
    ),
    (
        ["train", "--resume", "{tmp}/r0", "--out", "{tmp}/f2"],
        "give --out or --resume, not both: a run resumes in its own folder",
    ),
    (
        ["surface", "rosenbrock", "--heatmap", "--animate", "{tmp}/hm.gif"],
        "--animate does not apply to --heatmap",
    ),
    (
        ["surface", "rosenbrock", "--heatmap", "--3d"],
        "--3d does not apply to --heatmap",
    ),
    (
        ["surface", "rosenbrock", "--heatmap", "--optimizers", "sgd,adam"],
        "--heatmap takes one optimizer, got 'sgd,adam'",
    ),
    (
        ["surface", "rosenbrock", "--lr-range", "1e-3,1e-2"],
        "--lr-range applies only to --heatmap",
    ),
    (
        ["schedule", "cosine", "--steps", "0"],
        "--steps: 0 is not in the range x>=1",
    ),
    (
        ["schedule", "one_cycle", "--schedule-arg", "total_steps=10", "--steps", "20"],
        "--steps must be at most the schedule's length, got 20 (one_cycle: step "
        "must be <= total_steps (10), got 19)",
    ),
    (
        ["schedule", "--all", "--lr", "0.5"],
        "--all draws each schedule with its example arguments; give "
        "--steps and -o only",
    ),
    (
        ["explain", "adam", "--param", "1", "--grad", "1", "--hyper", "lr=0.1"],
        "--hyper lr: give the learning rate with --lr",
    ),
    (
        ["explain", "momentum", "--param", "1", "--grad", "1", "--hyper", "beta=1"],
        "--hyper: momentum has no 'beta'; it takes momentum, dampening, "
        "weight_decay, nesterov, maximize",
    ),
    (["train", "--out", ""], "--out must name a folder, got ''"),
    (["compare", "--out", ""], "--out must name a folder, got ''"),
    (["sweep", "--out", ""], "--out must name a folder, got ''"),
    (["train", "--resume", ""], "--resume must name a folder, got ''"),
    (["report", ""], "FOLDER must name a folder, got ''"),
    (
        ["train", "--model", "mlp:", "--out", "{tmp}/a"],
        "--model must be integers joined by '-', like mlp:784-100-10, got 'mlp:'",
    ),
    (
        ["train", "--model", "softmax:", "--out", "{tmp}/a"],
        "--model must be given without a shorthand (its options are key=value), "
        "got 'softmax:'",
    ),
    (
        ["train", "--out", "{tmp}"],
        "--out {tmp} holds files gdlab did not write; gdlab train writes only into "
        "its own folders or an empty one: choose another",
    ),
    # names longer than the file system takes: was OSError "File name too long"
    *[
        (
            [*command, *([option] if option else []), "{tmp}/" + "a" * 300],
            f"{option or 'FOLDER'} must name a path whose parts have at most 255 "
            "bytes, got a part of 300",
        )
        for command, option in (
            (["compare"], "--out"),
            (["train"], "--out"),
            (["train"], "--resume"),
            (["sweep"], "--out"),
            (["study", "batch-size"], "--out"),
            (["study", "edge-of-stability"], "--out"),
            (["benchmark"], "--out"),
            (["report"], ""),
        )
    ],
    (
        ["compare", "--data", "mnist", "--data-path", "{tmp}/" + "a" * 300],
        "MNIST not found in {tmp}/" + "a" * 300 + " (File name too long): or pass "
        "path=/dir with the four IDX files (train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
        "each .gz or raw; --data-path DIR in the gdlab command), or set GDLAB_DATA "
        "to a folder holding mnist/ with them",
    ),
    (
        ["compare", "--split-seed", "99999999999999999999999", "--out", "{tmp}/a"],
        "--split-seed: 99999999999999999999999 is not in the range 0<=x<=4294967295",
    ),  # was scikit-learn's message about random_state
    (
        [
            "train",
            "--schedule",
            "exponential",
            "--schedule-arg",
            "rate=1e308",
            "--out",
            "{tmp}/a",
        ],
        "--schedule-arg rate must be in [0, 745], got 1e+308",
    ),  # was "exponential: gamma must be > 0, got 0.0"
    (
        ["sweep", "--grid", "l2=" + "[" * 5_000, "--out", "{tmp}/a"],
        "--grid values must be JSON or text, got arrays nested too deeply "
        "('[[[[[[[[[[[[[[[[[[[['...)",
    ),  # was a RecursionError
    (
        ["sweep", "--optimizers", "sgd,SGD", "--out", "{tmp}/a"],
        "--optimizers must be distinct values, got ['sgd', 'SGD']",
    ),  # was: the same runs trained twice
]


@pytest.mark.parametrize(
    ("args", "message"), USAGE, ids=[" ".join(a) for a, _ in USAGE]
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("precious")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = invoke(*argv)
    assert code == 2, out + err
    assert err == f"gdlab: error: {message.replace('{tmp}', str(tmp_path))}\n"
    assert "Traceback" not in out
    assert (tmp_path / "file").read_text() == "precious"
    assert not (tmp_path / "hm.gif").exists()


def test_one_commands_folder_is_not_anothers(tmp_path: Path) -> None:
    run, cmp = tmp_path / "run", tmp_path / "cmp"
    code, _, err = invoke(
        "train", *SMALL, "--iterations", "5", "--out", str(run), "--quiet"
    )
    assert code == 0, err
    trained = snapshot(run)
    code, _, err = invoke(
        "compare", *SMALL, "--optimizers", "sgd", "--epochs", "1", "--seeds", "1",
        "--studies", "1", "--workers", "1", "--out", str(run),
    )  # fmt: skip
    assert code == 2
    assert err == (
        f"gdlab: error: --out {run} holds the output of gdlab train; gdlab compare "
        "writes only into its own folders or an empty one: choose another\n"
    )
    assert snapshot(run) == trained  # loss.png untouched

    code, _, err = invoke(
        "compare", *SMALL, "--optimizers", "Adam", "--epochs", "1", "--seeds", "1",
        "--budget", "2", "--studies", "2", "--workers", "1", "--out", str(cmp),
        "--quiet",
    )  # fmt: skip
    assert code == 0, err  # names are case-insensitive, as everywhere
    results = json.loads((cmp / "results.json").read_text())
    assert list(results["optimizers"]) == ["adam"]
    compared = snapshot(cmp)
    code, _, err = invoke(
        "sweep", "--model", "mlp:64-16-10", "--epochs", "1", "--seeds", "1",
        "--optimizers", "sgd", "--workers", "1", "--out", str(cmp),
    )  # fmt: skip
    assert code == 2 and "holds the output of gdlab compare; gdlab sweep" in err
    assert snapshot(cmp) == compared  # report.html and results.csv untouched

    # report redraws a comparison, and only that.
    code, out, err = invoke("report", str(cmp))
    assert code == 0 and out == f"report: {cmp / 'report.html'}\n", err
    code, _, err = invoke("report", str(run))
    assert code == 2
    assert (
        err
        == f"gdlab: error: {run} holds the output of gdlab train, not a comparison\n"
    )
    assert outputs.owner(cmp) == "compare" and outputs.owner(run) == "train"


MALFORMED = [
    ("[1, 2]", "Comparison: values must be a mapping, got [1, 2]"),
    ('{"spec": {}}', "Comparison: format must be given"),
    (
        '{"format": "gdlab-compare", "version": 2}',
        "Comparison: version must be 3 (a results.json of another gdlab: run gdlab "
        "compare again to make one), got 2",
    ),
    (
        '{"format": "gdlab-compare", "version": 3, "spec": {"data": "digits", '
        '"model": "mlp", "batch_size": 100}, "protocol": {"budget": 1, "tune": '
        '["lr"], "select": "val_acc", "search_seed": 0, "seeds": 1, "studies": 1, '
        '"target": null, "metric": "test_acc"}, "studies": [], '
        '"optimizers": {"sgd": [1]}, "pairs": [], "established": ""}',
        "Comparison: optimizers['sgd'] must be an object of OptimizerResult "
        "fields, got [1]",
    ),
    ("{", "Expecting property name enclosed in double quotes"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_report_on_malformed_results_names_the_file_and_the_fault(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "results.json").write_text(text)
    code, _, err = invoke("report", str(tmp_path))
    assert code == 2
    path = tmp_path / "results.json"
    assert err.startswith(f"gdlab: error: cannot read comparison results {path}: ")
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["compare", "--budget", "100000000000"],
            "--budget must be an integer <= 1000, got 100000000000",
        ),
        (
            ["compare", "--budget", "0", "--seeds", "100000000000000"],
            "--seeds must be an integer <= 100, got 100000000000000",
        ),
        (
            ["benchmark", "--budget", "1001"],
            "--budget must be an integer <= 1000, got 1001",
        ),
    ],
)
def test_compare_and_benchmark_bound_budget_and_seeds(
    tmp_path: Path, args: list[str], message: str
) -> None:
    code, _, err = invoke(*args, "--out", str(tmp_path / "out"))
    assert code == 2 and err == f"gdlab: error: {message}\n"
    assert not (tmp_path / "out" / "sweep.db").exists()


def test_the_bounds_are_in_the_help() -> None:
    from gdlab.lab import compare

    _, out, _ = invoke("compare", "--help")
    out = " ".join(out.split())
    assert f"at most {compare.MAX_BUDGET}" in out
    assert f"(at most {compare.MAX_SEEDS})" in out


@pytest.mark.parametrize("command", ["compare", "sweep", "benchmark"])
def test_a_value_error_while_training_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    from gdlab.lab import compare, sweep

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("a bug, not the user's mistake")

    monkeypatch.setattr(compare.Ready, "run", broken)  # compare and benchmark
    monkeypatch.setattr(sweep.SweepReady, "run", broken)  # sweep: plan, then run
    assert compare.plan  # the input is checked first, and passes
    args = [command, "--out", str(tmp_path / "out")]
    if command == "benchmark":
        suite = tmp_path / "suite.toml"
        suite.write_text('[d]\ndata = "digits"\ntarget = 0.5\n')
        args += ["--suite", str(suite), "--optimizers", "sgd"]
    elif command == "compare":
        args += ["--optimizers", "sgd"]
    result = CliRunner().invoke(main, [*args, "--workers", "1"])
    assert result.exit_code == 1
    assert str(result.exception) == "a bug, not the user's mistake"


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_a_second_command_into_a_folder_being_written_is_one_line(
    tmp_path: Path, command: str
) -> None:
    import fcntl

    out = tmp_path / "out"
    outputs.claim(out, command)
    with open(out / "sweep.db.lock", "a+") as lock:  # the first command, running
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, _, err = invoke(
            command, "--model", "mlp:64-16-10", "--optimizers", "sgd", "--epochs",
            "1", "--seeds", "1", *(["--budget", "1"] if command == "compare" else []),
            "--workers", "1", "--quiet", "--out", str(out),
        )  # fmt: skip
    assert code == 2  # was a traceback ending in ValueError
    assert err == (
        f"gdlab: error: another sweep is writing {out / 'sweep.db'}; wait for it or "
        "use another store\n"
    )


def test_explain_with_a_step_that_overflows_exits_1_and_says_so() -> None:
    code, out, err = invoke(
        "explain", "adam", "--lr", "1e308", "--param", "1,2", "--grad", "0.5,1"
    )
    assert code == 1  # was 0, with a table of inf and NaN
    assert "θ[0]  1  0.5" in out
    assert err == (
        "gdlab: diverged at step 1: θ new = (-inf, -inf) is not finite, with lr "
        "1e+308 — try a smaller learning rate\n"
    )
