"""Schedule plots (gdlab.report) and the ``gdlab schedule`` command."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from gdlab import report
from gdlab import schedules as S
from gdlab.cli import main
from gdlab.experiment import RunSpec, build_schedule

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path: Path) -> bool:
    return (
        path.is_file() and path.stat().st_size > 5_000 and path.read_bytes()[:8] == PNG
    )


def test_plot_schedules_from_a_mapping(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "schedules.png"
    fig = report.plot_schedules(
        {
            "cosine + warm-up": S.linear_warmup(S.cosine(0.1, 900), 100),
            "one-cycle": S.one_cycle(0.1, 1000),
            "plateau (recorded)": S.plateau_example(1000),
        },
        1000,
        path=out,
    )
    assert is_png(out)
    assert [len(ax.lines) for ax in fig.axes] == [3]


def test_plot_schedules_from_a_sequence_or_one_schedule(tmp_path: Path) -> None:
    report.plot_schedules(
        [S.step(0.1, 10), S.cosine(0.1, 50)], 60, path=tmp_path / "a.png"
    )
    assert is_png(tmp_path / "a.png")  # the path may still be given by position
    report.plot_schedules(S.exponential(0.1, 0.9), 30, path=tmp_path / "b.png")
    assert is_png(tmp_path / "b.png")


@pytest.mark.slow
def test_plot_schedule_grid(tmp_path: Path) -> None:
    panels: dict[str, report.Curve] = {**S.examples(200)}
    panels["reduce_on_plateau"] = S.plateau_example(200)
    report.plot_schedule_grid(panels, 200, path=tmp_path / "grid.png")
    assert is_png(tmp_path / "grid.png")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda p: report.plot_schedules([S.constant(0.1)], 0, path=p),
            r"plot_schedules: steps must be an integer >= 1, got 0",
        ),
        (
            lambda p: report.plot_schedules([], 10, path=p),
            r"plot_schedules: schedules must be at least one schedule",
        ),
        (
            lambda p: report.plot_schedules({"x": [0.1, 0.2]}, 10, path=p),
            r"plot_schedules: schedules\['x'\] must be at least 10 values, got 2",
        ),
        (
            lambda p: report.plot_schedules(S.one_cycle(0.1, 10), 50, path=p),
            r"one_cycle: step must be <= total_steps \(10\), got 11",
        ),
        (
            lambda p: report.plot_schedule_grid([S.constant(0.1)], 10, path=p),
            r"plot_schedule_grid: schedules must be a mapping",
        ),
    ],
)
def test_plot_errors(tmp_path: Path, call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(tmp_path / "x.png")  # type: ignore[operator]
    assert not (tmp_path / "x.png").exists()


# --- the CLI ---------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["schedule", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_draws_and_prints_a_warmed_cosine(tmp_path: Path) -> None:
    out = tmp_path / "schedule.png"
    code, stdout, stderr = invoke(
        "cosine", "--lr", "0.1", "--steps", "1000", "--warmup", "100", "-o", str(out)
    )
    assert code == 0, stderr
    assert is_png(out)
    lines = stdout.splitlines()
    assert lines[0].startswith("linear_warmup(schedule=cosine(lr=0.1, total_steps=900")
    values = {int(k): float(v) for k, v in (ln.split() for ln in lines[2:-1])}
    assert list(values) == [0, 100, 250, 500, 750, 999]
    s = S.linear_warmup(S.cosine(0.1, 900), 100, start_lr=0.1 / 101)
    assert values == pytest.approx({k: s(k) for k in values}, rel=1e-5)
    assert values[100] == 0.1
    assert lines[-1] == f"wrote {out}"


@pytest.mark.parametrize(
    ("args", "built"),
    [
        (
            ["step", "--schedule-arg", "step_size=30", "--schedule-arg", "gamma=0.5",
             "--steps", "100"],
            S.step(0.1, 30, gamma=0.5),
        ),
        (
            ["multistep", "--schedule-arg", "milestones=30,80", "--steps", "100"],
            S.multistep(0.1, [30, 80], gamma=0.1),
        ),
        (["one-cycle", "--lr", "0.3", "--steps", "200"], S.one_cycle(0.3, 200)),
        (
            ["cosine_restarts", "--schedule-arg", "period=10",
             "--schedule-arg", "period_mult=2"],
            S.cosine_restarts(0.1, 10, period_mult=2),
        ),
        (
            ["inverse_time", "--schedule-arg", "decay_rate=0.5"],
            S.inverse_time(0.1, decay_rate=0.5, decay_steps=100.0),
        ),
        (
            ["exponential", "--schedule-arg", "rate=0.01", "--steps", "50"],
            S.exponential(0.1, gamma=math.exp(-0.01)),
        ),
        (["step", "--steps", "400"], S.step(0.1, 100, gamma=0.5)),
    ],
)  # fmt: skip
def test_cli_schedule_arguments_build_what_a_run_uses(
    args: list[str], built: S.Schedule
) -> None:
    code, stdout, stderr = invoke(*args)
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == repr(built)
    assert lines[1].split() == ["step", "lr"]
    rows = [line.split() for line in lines[2:]]
    assert {int(k): float(v) for k, v in rows} == pytest.approx(
        {int(k): built(int(k)) for k, _ in rows}, rel=1e-5
    )


def test_cli_schedule_is_the_schedule_train_builds() -> None:
    """``gdlab schedule`` and ``train --schedule`` share one builder: the same
    arguments give the same schedule."""
    spec = RunSpec(
        lr=0.05, schedule="step", schedule_args={"gamma": 0.2}, warmup_epochs=2
    )
    trained = build_schedule(spec, total_steps=500, per_epoch=25)
    code, stdout, stderr = invoke(
        "step", "--lr", "0.05", "--steps", "500", "--warmup", "50",
        "--schedule-arg", "gamma=0.2",
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout.splitlines()[0] == repr(trained)


@pytest.mark.slow
def test_cli_all_draws_a_grid(tmp_path: Path) -> None:
    out = tmp_path / "schedules.png"
    code, stdout, stderr = invoke("--all", "--steps", "400", "-o", str(out))
    assert code == 0, stderr
    assert is_png(out)
    names = [line.split()[0] for line in stdout.splitlines()[1:-1]]
    assert names == [*S.names(), "reduce_on_plateau"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cosin"], "NAME must be one of constant, step, multistep,"),
        (["join"], "NAME must be one of constant, step, multistep,"),
        (["cosine", "--lr", "abc"], "--lr: 'abc' is not a valid float"),
        (["cosine", "--lr", "-1"], "--lr must be >= 0, got -1.0"),
        (
            ["cosine", "--schedule-arg", "total_steps=1.5"],
            "--schedule-arg total_steps must be an integer (as 1e3 only up to "
            "2**53), got '1.5'",
        ),
        (
            ["cosine", "--schedule-arg", "total_steps=0"],
            "--schedule-arg total_steps must be an integer >= 1",
        ),
        (
            ["cosine", "--schedule-arg", "gamma=0.5"],
            "--schedule-arg: schedule cosine has no 'gamma'; it takes total_steps, "
            "final_lr",
        ),
        (["cosine", "--gamma", "0.5"], "No such option '--gamma'"),
        (
            ["cosine", "--warmup", "1000"],
            "--warmup must be < the run's steps (1000), got 1000",
        ),
        (
            ["multistep", "--schedule-arg", "milestones=80,30"],
            "milestones must be strictly increasing",
        ),
        (
            ["multistep", "--schedule-arg", "milestones=3,x"],
            "--schedule-arg milestones must be integers separated by commas",
        ),
        (
            ["one_cycle", "--schedule-arg", "total_steps=9", "--steps", "20"],
            "--steps must be at most the schedule's length, got 20 (one_cycle: "
            "step must",
        ),
        ([], "give a schedule NAME or --all"),
        (["cosine", "--all"], "give a schedule NAME or --all"),
        (
            ["--all", "--steps", "1000001"],
            "with --all, --steps must be at most 1,000,000 (reduce-on",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "x.png"
    code, stdout, stderr = invoke(*args, "-o", str(out))
    assert code == 2
    assert stderr.startswith("gdlab: error: ") and stderr.count("\n") == 1
    assert message in stderr
    assert stdout == "" and not out.exists()


def test_a_long_schedule_is_drawn_at_spaced_steps(tmp_path: Path) -> None:
    """A run of 10**9 steps is drawn at 20,000 of them, the first and last
    included; a short one at every step."""
    assert report.plots.drawn_steps(5) == [0, 1, 2, 3, 4]
    s = S.for_run("step", 0.1, 10**9)
    fig = report.plot_schedules({"step": s}, 10**9, path=tmp_path / "long.png")
    x, y = fig.axes[0].lines[0].get_data()
    assert len(x) == report.plots.DRAWN_STEPS and (x[0], x[-1]) == (0, 10**9 - 1)
    assert list(y) == [s(int(t)) for t in x]
    assert is_png(tmp_path / "long.png")
