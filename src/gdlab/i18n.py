"""The language of the course commands: English, or Korean (the notes' language).

Messages are looked up in gettext catalogues: ``src/gdlab/locale/ko/LC_MESSAGES/
gdlab.po`` is the Korean source, compiled by ``msgfmt`` (``make locale``) into the
``gdlab.mo`` beside it that Python's :mod:`gettext` reads. A message is written
``_("step by step: {command}").format(command=...)`` (``_`` is :func:`gettext`):
the whole sentence, with named fields, so that a translation may put them where
Korean needs them.

:func:`use` picks the language: ``"ko"`` or ``"en"``, or from the environment
(``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``, as POSIX orders them: ``ko_KR.UTF-8``
is Korean). :func:`missing` records the messages asked for that have no
translation (the tests use it to fail on an untranslated message).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from gettext import GNUTranslations, NullTranslations
from pathlib import Path

from gdlab import _checks

DOMAIN = "gdlab"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
"""The folder of the message catalogs (``LANG/LC_MESSAGES/gdlab.mo``)."""
LANGUAGES = ("en", "ko")
"""The languages gdlab speaks."""

_state: dict[str, object] = {"language": "en", "catalog": NullTranslations()}
_missing: list[set[str]] = []


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """``"ko"`` when the first of LC_ALL, LC_MESSAGES, LANG that is set names a
    Korean locale (``ko``, ``ko_KR.UTF-8``), else ``"en"``."""
    env = os.environ if environ is None else environ
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key, "")
        if value:
            return "ko" if value.split(".")[0].split("_")[0].lower() == "ko" else "en"
    return "en"


def use(language: str | None = None) -> str:
    """Speak ``language`` (``"en"`` or ``"ko"``; None: :func:`from_environment`)
    from now on; returns it. Korean needs the compiled catalogue (``make locale``)."""
    lang = from_environment() if language is None else language
    lang = _checks.choice("i18n", "language", lang, LANGUAGES)
    if lang == "en":
        catalog: NullTranslations = NullTranslations()
    else:
        mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if not mo.is_file():
            raise ValueError(
                f"i18n: the {lang} catalogue {mo} is missing: run `make locale` "
                "(msgfmt, from Debian's gettext package) to compile it"
            )
        with mo.open("rb") as handle:
            catalog = GNUTranslations(handle)
    _state["language"], _state["catalog"] = lang, catalog
    return lang


def language() -> str:
    """The language in use: ``"en"`` or ``"ko"``."""
    return str(_state["language"])


def gettext(message: str) -> str:
    """``message`` in the language in use (itself in English)."""
    catalog = _state["catalog"]
    assert isinstance(catalog, NullTranslations)
    out = catalog.gettext(message)
    if _missing and language() != "en" and out == message:
        _missing[-1].add(message)
    return out


@contextmanager
def missing() -> Iterator[set[str]]:
    """Collect, in the set it gives, each message asked for in a language other
    than English that has no translation."""
    found: set[str] = set()
    _missing.append(found)
    try:
        yield found
    finally:
        _missing.pop()


@contextmanager
def speaking(language: str | None) -> Iterator[str]:
    """:func:`use` ``language`` inside the block, the previous one after it."""
    before = dict(_state)
    try:
        yield use(language)
    finally:
        _state.update(before)


__all__ = [
    "LANGUAGES",
    "LOCALE_DIR",
    "from_environment",
    "gettext",
    "language",
    "missing",
    "speaking",
    "use",
]
