"""The Korean edition of the course commands: gettext catalogues in step with the
sources (extracted by xgettext, compiled by msgfmt), every message asked for
translated, the locale picked from --lang or LC_ALL/LC_MESSAGES/LANG, and figures
drawn with a font that holds Hangul."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from gettext import GNUTranslations
from pathlib import Path

import matplotlib
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from gdlab import i18n
from gdlab.cli import main
from gdlab.lab import examples
from gdlab.report import fonts

SOURCE = Path(i18n.__file__).parent
PO = i18n.LOCALE_DIR / "ko" / "LC_MESSAGES" / "gdlab.po"
MO = PO.with_suffix(".mo")
HANGUL = re.compile("[가-힣]")


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    """Each test leaves the language and matplotlib's fonts as it found them."""
    with matplotlib.rc_context():
        yield
    i18n.use("en")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=env).invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def extracted(tmp: Path) -> set[str]:
    """The msgids xgettext finds in the sources that use the catalogue."""
    sources = sorted(
        str(p) for p in SOURCE.rglob("*.py") if "gettext as _" in p.read_text()
    )
    pot = tmp / "gdlab.pot"
    subprocess.run(
        ["xgettext", "-L", "Python", "--from-code=UTF-8", "--keyword=_",
         "--keyword=_n", "--no-wrap", "-o", str(pot), *sources],
        check=True, capture_output=True,
    )  # fmt: skip
    ids = re.findall(r'^msgid "(.*)"$', pot.read_text(), flags=re.M)
    return {i.replace('\\"', '"').replace("\\\\", "\\") for i in ids if i}


def test_the_compiled_catalogue_is_the_po_compiled(tmp_path: Path) -> None:
    fresh = tmp_path / "gdlab.mo"
    subprocess.run(
        ["msgfmt", "--check", "--check-format", "-o", str(fresh), str(PO)], check=True
    )
    assert fresh.read_bytes() == MO.read_bytes(), "run `make locale`"


def test_every_message_of_the_sources_has_a_korean_translation(tmp_path: Path) -> None:
    ids = extracted(tmp_path)
    assert len(ids) > 150
    with MO.open("rb") as handle:
        catalog = GNUTranslations(handle)
    untranslated = sorted(i for i in ids if catalog.gettext(i) == i)
    assert untranslated == [], "translate them in gdlab.po, then `make locale`"
    # The names of the examples are shown translated too.
    assert set(examples.SUMMARIES.values()) <= ids


def test_summaries_are_the_examples_docstrings() -> None:
    for name, fn in examples.EXAMPLES.items():
        first = " ".join((fn.__doc__ or "").split("\n\n")[0].split())
        assert examples.SUMMARIES[name] == first, name


COMMANDS = [
    ["examples"],
    *(["examples", name] for name in examples.names()),
    ["explain", "momentum", "--problem", "regression", "--start", "-1,5"],
    ["explain", "rmsprop", "--param", "0.8,1.2,0.5", "--grad", "0.1,-0.3,0.2",
     "--hyper", "alpha=0.9", "--state", "v=0.01,0.09,0.04", "--start-step", "1"],
    ["explain", "adamw", "--param", "1,2", "--grad", "0.5,-1", "--hyper",
     "weight_decay=0.1"],
    ["figure"],
    *(["figure", name, "-o", "FIGURE"] for name in (
        "regression-surface", "residuals", "sse-vs-cee", "flat-sharp", "adamp",
        "momentum-nag", "batch-modes", "ema", "lr-decay",
    )),
    ["figure", "mnist-curves", "--iterations", "4", "-o", "FIGURE"],
]  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_every_message_of_the_course_commands_speaks_korean(
    args: list[str], tmp_path: Path
) -> None:
    args = [str(tmp_path / "f.png") if a == "FIGURE" else a for a in args]
    with i18n.missing() as untranslated:
        code, out, err = run(*args, "--lang", "ko")
    assert code == 0, err
    assert untranslated == set()
    assert HANGUL.search(out), out


def test_examples_regression_in_korean() -> None:
    code, out, _ = run("examples", "regression", "--lang", "ko")
    assert code == 0
    assert "강의 노트와 다른 곳:" in out and "이유:" in out
    assert "학습률 λ = 0.1" in out
    assert "where the course notes differ" not in out
    # The numbers are the same in both languages.
    english = run("examples", "regression", "--lang", "en")[1]
    numbers = re.compile(r"-?\d+\.\d+")
    assert numbers.findall(out) == numbers.findall(english)


@pytest.mark.parametrize(
    ("variable", "value", "korean"),
    [
        ("LANG", "ko_KR.UTF-8", True),
        ("LC_MESSAGES", "ko_KR", True),
        ("LC_ALL", "ko", True),
        ("LANG", "en_US.UTF-8", False),
        ("LANG", "C.UTF-8", False),
    ],
)
def test_the_locale_picks_the_language(variable: str, value: str, korean: bool) -> None:
    env = {"LANG": "", "LC_ALL": "", "LC_MESSAGES": "", variable: value}
    assert i18n.from_environment(env) == ("ko" if korean else "en")
    code, out, _ = run("examples", "regression", env=env)
    assert code == 0
    assert bool(HANGUL.search(out.split("\n", 1)[1])) == korean


def test_lc_all_outranks_lang() -> None:
    assert i18n.from_environment({"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR"}) == "en"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^i18n: language must be one of en, ko, "):
        i18n.use("fr")
    code, _, err = run("examples", "--lang", "fr")
    assert code == 2 and "'fr' is not one of 'en', 'ko'" in err


def test_a_font_with_hangul_is_found_and_used(caplog: pytest.LogCaptureFixture) -> None:
    family = fonts.hangul_font()
    assert family is not None, "install fonts-nanum (make system)"
    path = matplotlib.font_manager.findfont(family, fallback_to_default=False)
    assert fonts.holds(path, "경사하강법학습률미니배치에폭")
    assert fonts.use_hangul() == family
    # Drawing Korean text warns of no missing glyph (warnings are errors here).
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_title("지수 가중 이동 평균, 편향 보정 − ²√")
    ax.plot([1, 2, 3], [0.01, 0.1, 1.0])
    ax.set_yscale("log")  # mathtext tick labels: 10^-2
    fig.canvas.draw()
    assert "glyph" not in caplog.text  # matplotlib logs a mathtext dummy symbol


def test_a_korean_figure_is_drawn_without_tofu(tmp_path: Path) -> None:
    out = tmp_path / "ema.png"
    code, stdout, err = run("figure", "ema", "-o", str(out), "--lang", "ko")
    assert code == 0, err
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "저장함" in stdout


def test_the_course_mnist_summary_and_plots_speak_korean(tmp_path: Path) -> None:
    with i18n.missing() as untranslated:
        code, out, err = run(
            "train", "--preset", "course-mnist", "--data", "digits",
            "--model", "mlp:64-50-10", "--batch-size", "479", "--iterations", "4",
            "--out", str(tmp_path), "--quiet", "--lang", "ko",
        )  # fmt: skip
    assert code == 0, err
    assert untranslated == set()
    assert "강의 노트의 MNIST 실험, 데이터: digits 8×8" in out
    assert "이 실행이 노트의 루프와 다른 점:" in out
    assert (tmp_path / "loss.png").is_file() and (tmp_path / "accuracy.png").is_file()


def test_printing_in_korean_needs_no_font(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a Hangul font the text commands still speak Korean; a figure in
    Korean is refused in one line, saying which package to install."""
    monkeypatch.setattr(fonts, "hangul_font", lambda: None)
    code, out, _ = run("examples", "regression", "--lang", "ko")
    assert code == 0 and "강의 노트와 다른 곳:" in out
    code, out, _ = run("figure", "--lang", "ko")  # the list is text
    assert code == 0 and "지수 가중 이동 평균" in out
    code, _, err = run("figure", "ema", "-o", "x.png", "--lang", "ko")
    assert code == 2 and "fonts-nanum" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "adam", "--param", "1", "--grad", "1", "--lr", "0", "--lang", "ko"],
        ["explain", "adam", "--lang", "ko", "--param", "1", "--grad", "1", "--lr", "0"],
    ],
)
def test_the_zero_lr_warning_speaks_korean(args: list[str]) -> None:
    """--lang is read before --lr's warning, wherever it stands on the line."""
    try:
        with i18n.missing() as untranslated:
            result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "gdlab: warning: --lr 0이면 가중치가 바뀌지 않습니다" in result.stderr, (
            result.stderr
        )
        assert untranslated == set()
        english = CliRunner().invoke(main, ["en" if a == "ko" else a for a in args])
        assert "--lr 0 leaves the weights unchanged" in english.stderr
    finally:
        i18n.use("en")
