"""``gdlab surface``, ``gdlab explain`` and ``gdlab stability`` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from gdlab.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.slow
def test_surface_quadratic_writes_contour_3d_and_animation(tmp_path: Path) -> None:
    png, gif = tmp_path / "paths.png", tmp_path / "paths.gif"
    result = run(
        "surface",
        "quadratic",
        "--optimizers",
        "sgd,momentum,adagrad,adam",
        "--lrs",
        "0.95,0.1,1.5,0.3",
        "--start",
        "-7,2",
        "--steps",
        "30",
        "-o",
        str(png),
        "--3d",
        "--animate",
        str(gif),
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("quadratic: f(x, y) = x²/20 + y²; minimum 0 at (0, 0)")
    assert [line.split()[:2] for line in lines[3:7]] == [
        ["sgd", "0.95"],
        ["momentum", "0.1"],
        ["adagrad", "1.5"],
        ["adam", "0.3"],
    ]
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 300
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 31


def test_surface_regression_table_shows_which_lr_diverges(tmp_path: Path) -> None:
    result = run(
        "surface",
        "regression",
        "--optimizers",
        "sgd",
        "--lrs",
        "0.5,0.1,0.005",
        "--start",
        "-1,5",
        "-o",
        str(tmp_path / "r.png"),
    )
    assert result.exit_code == 0, result.output
    assert "MSE 2.5" in result.output and "minimum 0 at (2, 1)" in result.output
    rows = [line.split() for line in result.output.splitlines()[3:6]]
    assert [(r[1], r[-1]) for r in rows] == [
        ("0.5", "yes"),
        ("0.1", "no"),
        ("0.005", "no"),
    ]
    # 0.1 converges (≈ (2, 1)); 0.005 crawls (MSE still above 1).
    assert float(rows[1][-2]) < 1e-3 and float(rows[2][-2]) > 1.0
    assert (tmp_path / "r.png").stat().st_size > 10_000


def test_surface_heatmap(tmp_path: Path) -> None:
    out = tmp_path / "heat.png"
    result = run(
        "surface",
        "rosenbrock",
        "--heatmap",
        "--optimizer",
        "sgd",
        "--lr-range",
        "1e-4,1e-2",
        "--momentum-range",
        "0,0.99",
        "--grid-size",
        "6",
        "--steps",
        "200",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "rosenbrock: sgd, 6x6 runs of 200 steps" in result.output
    assert out.exists()


def test_explain_rmsprop() -> None:
    result = run(
        "explain",
        "rmsprop",
        "--param",
        "0.8,1.2,0.5",
        "--grad",
        "0.1,-0.3,0.2",
        "--lr",
        "0.01",
        "--steps",
        "2",
        "--hyper",
        "alpha=0.9",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("RMSprop  lr=0.01, alpha=0.9")
    assert "v = α·v + (1−α)·g²" in out and "step 2" in out
    # θ[0]: 0.8 − 0.01·0.1/(√(0.1·0.01) + 1e-8) = 0.768377 (to 6 digits)
    assert "0.768377" in out


def test_explain_the_seeds_regression_step() -> None:
    result = run(
        "explain", "sgd", "--problem", "regression", "--start", "-1,5", "--lr", "0.1"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "MSE before the step: 2.5" in result.output
    assert lines[-4].split() == ["m", "-1", "-3", "-0.3", "-0.7"]
    assert lines[-3].split() == ["b", "5", "-1", "-0.1", "5.1"]


def test_explain_tuple_and_flag_hyperparameters() -> None:
    result = run(
        "explain",
        "adam",
        "--param",
        "1",
        "--grad",
        "1",
        "--lr=0.1",
        "--hyper",
        "betas=0.5,0.9",
        "--hyper",
        "amsgrad=true",
    )
    assert result.exit_code == 0, result.output
    assert "betas=(0.5, 0.9)" in result.output and "amsgrad=True" in result.output


def test_stability_regression() -> None:
    result = run("stability", "regression")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "λmax = 6.8541" in out and "2/λmax = 0.291796" in out
    verdicts = [line.split()[-1] for line in out.splitlines()[-2:]]
    assert verdicts == ["converged", "diverged"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("surface", "bumpy"), "NAME must be one of quadratic"),
        (("surface", "bowl", "--start", "1,x"), "--start must be 2 comma-separated"),
        (("surface", "bowl", "--optimizers", "sgdd"), "unknown optimizer 'sgdd'"),
        (("surface", "bowl", "--lrs", "-0.1"), "--lrs must be >= 0"),
        (
            ("explain", "sgd", "--param", "1", "--grad", "1", "--hyper", "alpha=0.9"),
            "--hyper: sgd has no 'alpha'; it takes momentum, dampening,",
        ),
        (
            ("explain", "sgd", "--param", "1", "--grad", "1", "--alpha", "0.9"),
            "No such option '--alpha'",
        ),
        (
            ("explain", "adam", "--param", "1", "--grad", "1", "--hyper", "amsgrad"),
            "--hyper must look like NAME=VALUE, got 'amsgrad'",
        ),
        (("explain", "sgd", "--param", "1"), "give --param and --grad"),
        (
            ("stability", "bowl", "--lrs", "a"),
            "--lrs must be comma-separated finite numbers",
        ),
    ],
)
def test_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("gdlab: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_surface_hyper_reaches_every_optimizer() -> None:
    """--hyper, as in train and sweep: each listed optimizer takes it; the table
    is the library's run with that hyperparameter."""
    from gdlab import surfaces

    args = ["surface", "rosenbrock", "--optimizers", "sgd,adam", "--lrs", "1e-3"]
    result = run(*args, "--steps", "50", "--hyper", "weight_decay=0.5")
    assert result.exit_code == 0, result.output
    expected = surfaces.runs(
        "rosenbrock", ["sgd", "adam"], [1e-3], steps=50, weight_decay=0.5
    )
    plain = surfaces.runs("rosenbrock", ["sgd", "adam"], [1e-3], steps=50)
    assert result.output.strip() == expected.table()
    assert expected.table() != plain.table()
    assert [t.hyper for t in expected] == [{"weight_decay": 0.5}] * 2
    refused = run(*args, "--hyper", "momentum=0.5")
    assert refused.exit_code == 2
    assert "--hyper: adam has no 'momentum'" in refused.output
    grid = run(
        "surface", "quadratic", "--heatmap", "--grid-size", "3", "--steps", "20",
        "--momentum-range", "0.1,0.9", "--hyper", "nesterov=true",
    )  # fmt: skip
    assert grid.exit_code == 0, grid.output
    assert "sgd (nesterov=True)" in grid.output


HUGE = str(10**400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("schedule", "cosine_restarts", "--schedule-arg", f"period_mult={HUGE}"),
            "--schedule-arg period_mult must be an integer in [1, 2**53]",
        ),
        (
            ("schedule", "cosine_restarts", "--schedule-arg", f"period={HUGE}"),
            "--schedule-arg period must be an integer in [1, 2**53]",
        ),
        (
            ("schedule", "step", "--schedule-arg", f"step_size={HUGE}"),
            "--schedule-arg step_size must be an integer in [1, 2**53]",
        ),
        (
            ("schedule", "step", "--schedule-arg", "step_size=1e30"),
            "--schedule-arg step_size must be an integer (as 1e3 only up to 2**53), "
            "got '1e30'",
        ),
        (
            ("schedule", "multistep", "--schedule-arg", "milestones=10,1e30"),
            "--schedule-arg milestones must be integers separated by commas",
        ),
        (
            ("explain", "adam", "--param", "1", "--grad", "1", "--start-step", HUGE),
            "--start-step must be <= 2**53",
        ),
        (
            ("surface", "quadratic", "--steps", "100000000000"),
            "--steps must be <= 1,000,000",
        ),
        (
            ("stability", "regression", "--steps", "100000000000"),
            "--steps must be <= 1,000,000",
        ),
        (
            ("explain", "adam", "--param", "1", "--grad", "1", "--steps", "100000000"),
            "--steps must be <= 1000 (one table per step)",
        ),
        (
            (
                "surface",
                "rosenbrock",
                "--heatmap",
                "--grid-size",
                "200",
                "--steps",
                "100",
            ),
            "--steps must be <= 50 for 40000 cells",
        ),
        (
            ("surface", "rosenbrock", "--heatmap", "--optimizers", "adam"),
            "--optimizers must be one that takes momentum",
        ),
        (
            ("surface", "rosenbrock", "--heatmap", "--hyper", "momentum=0.5"),
            "--hyper momentum: the heat map varies momentum",
        ),
        (
            ("surface", "rosenbrock", "--heatmap", "--lr-range", "0.01,inf"),
            "--lr-range must be 2 comma-separated finite numbers, got '0.01,inf'",
        ),
        (
            ("surface", "rosenbrock", "--heatmap", "--momentum-range", "0.9,0.1"),
            "--momentum-range must be low < high, got '0.9,0.1'",
        ),
        (
            ("surface", "quadratic", "--start", "1,,2"),
            "--start must be 2 comma-separated finite numbers, got '1,,2'",
        ),
        (
            ("surface", "quadratic", "--lrs", "0.1,,0.2"),
            "--lrs must be comma-separated finite numbers, got '0.1,,0.2'",
        ),
        (
            ("explain", "adam", "--param", "1,,2", "--grad", "1,,2"),
            "--param must be comma-separated finite numbers, got '1,,2'",
        ),
        (
            (
                "explain",
                "adam",
                "--param",
                "1,2",
                "--grad",
                "1,2",
                "--state",
                "exp_avg_sq=-1,1",
            ),
            "--state['exp_avg_sq'] must be >= 0 (Adam keeps exp_avg_sq "
            "nonnegative), got [-1.0, 1.0]",
        ),
        (
            ("explain", "sgd", "--problem", "regression", "--start", "nan,1"),
            "--start must be 2 comma-separated finite numbers, got 'nan,1'",
        ),
        (
            ("explain", "sgd", "--param", "1,2", "--grad", "1,2", "--start", "1,2"),
            "--start needs --problem (a surface)",
        ),
        (
            ("schedule", "plateau"),
            "NAME must be one of constant, step, multistep, exponential, "
            "inverse_time, polynomial, cosine, cosine_restarts, one_cycle, "
            "got 'plateau'",
        ),
        (("schedule", "join"), "NAME must be one of constant,"),
        (("schedule", "cosine", "--plugin", ""), "--plugin must name a module"),
    ],
)
def test_a_bad_value_is_one_line_naming_its_bound(
    args: tuple[str, ...], message: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"gdlab: error: {message}"), result.output
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "option", "suffix"),
    [
        (("surface", "quadratic", "-o"), "--output", ".png"),
        (("surface", "quadratic", "--animate"), "--animate", ".gif"),
        (("schedule", "cosine", "-o"), "--output", ".png"),
        (("figure", "ema", "-o"), "--output", ".png"),
    ],
)
def test_an_output_named_for_another_format_is_refused(
    tmp_path: Path, args: tuple[str, ...], option: str, suffix: str
) -> None:
    wrong = tmp_path / ("out.gif" if suffix == ".png" else "out.png")
    result = run(*args, str(wrong))
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"gdlab: error: {option} must name a {suffix} file (that format is "
        f"written), got {str(wrong)!r}\n"
    )
    assert not wrong.exists()


def test_a_schedule_arg_integer_in_float_form_is_exact() -> None:
    result = run("schedule", "step", "--schedule-arg", "step_size=3e2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "step(lr=0.1, step_size=300, gamma=0.5)"
