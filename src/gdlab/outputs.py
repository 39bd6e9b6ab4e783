"""Every file gdlab writes, and the folders it writes them into.

Files are written atomically: into a temporary file beside the target, flushed,
fsynced, then renamed over it, so a crash, a full disk or a file-size limit leaves
either the old file or the new one, never half of one. A write that fails is a
:class:`WriteError` (an ``OSError``) naming the file; the temporary file is removed.
(CPython ignores SIGXFSZ, so a file-size limit is an ``EFBIG`` error here too.)

An output folder belongs to the command that made it: :func:`claim` records the
command in ``.gdlab.json`` and refuses a folder another command made, or one
holding other files, unless it is empty. gdlab never writes through a file it does
not own: a target that is a symbolic link, or not a regular file, is refused
(:func:`own_file`), and a lock file (:func:`locked`) is opened with ``O_NOFOLLOW``.

JSON is written strict (:func:`json_text`): a NaN or an infinity (a diverged loss)
is written as ``null``, never as the bare ``NaN`` token that JSON parsers refuse.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

MARKER = ".gdlab.json"
"""The file that names the command owning an output folder."""

KINDS = {
    # first: a study's folder holds a results.json too, and the first sign found wins
    "study batch-size": "batch-size-runs",
    "study edge-of-stability": "edge-of-stability-runs",
    "train": "checkpoints",
    "compare": "results.json",
    "sweep": "sweep.db",
    "benchmark": "benchmark.json",
}
"""The commands that own folders, and the file or folder only that command writes
there: an unmarked folder holding it was made by that command (by the library,
which writes no marker, or by a gdlab older than the marker)."""

Path_ = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0o022)  # read it once, at import, and put it back
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would give a new file (mkstemp gives 0600)


class WriteError(OSError):
    """A file could not be written (disk full, size limit, no permission, ...)."""


def _foreign(path: Path) -> str | None:
    """Why gdlab must not write ``path`` (a symbolic link, not a regular file), or
    None if it is missing or a regular file (checked with ``lstat``)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        return str(error.strerror or error)
    if stat.S_ISLNK(mode):
        return (
            "it is a symbolic link, and gdlab writes only files of its own; remove "
            "it or choose another folder"
        )
    return None if stat.S_ISREG(mode) else "it is not a regular file"


def own_file(path: Path_) -> Path:
    """``path`` if it is missing or a regular file; a :class:`WriteError` if it is
    a symbolic link or anything else (a folder, a FIFO, a device), which gdlab
    never writes through or over."""
    out = Path(path)
    problem = _foreign(out)
    if problem is not None:
        raise WriteError(f"cannot write {out}: {problem}")
    return out


def own_folder(path: Path_) -> Path:
    """``path`` as a subfolder gdlab writes into, created if missing; a ValueError
    if it is a symbolic link (files written there would land outside the output
    folder) or not a folder."""
    folder = Path(path)
    if folder.is_symlink():
        raise ValueError(
            f"cannot write into {folder}: it is a symbolic link, and gdlab writes "
            "only files of its own; remove it or choose another folder"
        )
    try:
        folder.mkdir(exist_ok=True)
    except FileExistsError:
        raise ValueError(f"cannot write into {folder}: it is not a folder") from None
    return folder


def write_atomic(path: Path_, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary binary file beside ``path``, fsync it,
    then rename it over ``path``; return ``path``.

    Any ``OSError`` becomes a :class:`WriteError` naming ``path``; on any failure
    the temporary file is removed and the previous ``path`` is left untouched. A
    ``path`` that is a symbolic link or not a regular file is refused
    (:func:`own_file`).
    """
    out = own_file(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(
            dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"
        )
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _MODE)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
        tmp = None
        fsync_folder(out.parent)
    except OSError as error:
        raise WriteError(f"cannot write {out}: {error.strerror or error}") from error
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return out


def write_bytes(path: Path_, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_atomic(path, lambda f: f.write(data))


def write_text(path: Path_, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode())


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as strict JSON: NaN and infinities (in dicts, lists and tuples)
    become ``null``, so every parser reads it; anything else JSON cannot hold is a
    TypeError, as ``json.dumps`` gives it."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), indent=indent, allow_nan=False)


def write_json(path: Path_, value: Any, indent: int | None = 1) -> Path:
    """Write ``value`` as strict JSON (:func:`json_text`) to ``path`` atomically."""
    return write_text(path, json_text(value, indent) + "\n")


def write_csv(path: Path_, draw: Callable[[IO[str]], Any]) -> Path:
    """Call ``draw(text_file)`` (a ``csv.writer`` target), write the text atomically."""
    buffer = io.StringIO(newline="")
    draw(buffer)
    return write_text(path, buffer.getvalue())


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries to disk: a file renamed into it survives a power
    cut only once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- folders -------------------------------------------------------------------------


_HELD: dict[Path, int] = {}
"""Lock files this process holds, and how many times (:func:`locked` nests)."""


@contextlib.contextmanager
def locked(
    lock: Path_,
    busy: str,
    *,
    nested: bool = False,
    error: type[ValueError] = ValueError,
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``lock`` (created if missing) while
    the block runs; ``busy`` is the message of the ``error`` (a ValueError) raised
    when another process holds it. The file is opened with ``O_NOFOLLOW`` and must
    be a regular file, so a symbolic link planted in its place is refused, not
    followed. With ``nested``, this process may take it again while it holds it
    (the CLI takes the lock while it checks, the library again while it writes);
    else that is refused as another holder would be."""
    path = Path(lock)
    key = path.parent.resolve() / path.name
    if key in _HELD and not nested:
        raise error(busy)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # not on Unix: no lock
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, _MODE)
    except OSError as failed:
        problem = _foreign(path) or failed.strerror or str(failed)
        raise ValueError(f"cannot write {path}: {problem}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"cannot write {path}: it is not a regular file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise error(busy) from None
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def writable(folder: Path_, option: str = "--out") -> Path:
    """Create ``folder`` if needed and check that files can be written into it; a
    ValueError naming ``option`` if not."""
    path = Path(folder)
    if not str(folder):
        raise ValueError(f"{option} must name a folder, got ''")
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot write to {option} {path}: it is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(
            f"cannot write to {option} {path}: {error.strerror or error}; "
            "choose a folder you can write to"
        ) from None
    return path


def owner(folder: Path_) -> str | None:
    """The command that made ``folder`` (see :data:`KINDS`), or None if unknown."""
    path = Path(folder)
    marker = path / MARKER
    if marker.is_file():
        try:
            kind = json.loads(marker.read_text()).get("kind")
        except (OSError, ValueError, AttributeError) as error:
            raise ValueError(f"{marker} is unreadable: {error}") from None
        if not isinstance(kind, str):
            raise ValueError(f"{marker} is unreadable: it names no command")
        return kind
    for kind, sign in KINDS.items():
        if (path / sign).exists():
            return kind
    return None


def claim(folder: Path_, kind: str, option: str = "--out") -> Path:
    """Make ``folder`` (created if needed) an output folder of command ``kind``.

    A folder of ``kind`` is reused; any other is refused with a ValueError naming
    ``option``, unless it is empty: one command never overwrites another's files.
    """
    if kind not in KINDS:
        raise ValueError(f"claim: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    path = writable(folder, option)
    made_by = owner(path)
    if made_by != kind and any(p.name != MARKER for p in path.iterdir()):
        what = (
            f"the output of gdlab {made_by}"
            if made_by is not None
            else "files gdlab did not write"
        )
        raise ValueError(
            f"{option} {path} holds {what}; gdlab {kind} writes only into its own "
            "folders or an empty one: choose another"
        )
    if made_by != kind or not (path / MARKER).is_file():
        write_json(path / MARKER, {"kind": kind}, indent=None)
    return path


@contextlib.contextmanager
def claiming(folder: Path_, kind: str, option: str = "--out") -> Iterator[Path]:
    """:func:`claim` ``folder`` for a block that checks the rest of the input:
    when the block raises, the folders this call created are removed again, so a
    refused command leaves nothing behind (they held only the marker)."""
    path = Path(folder)
    created = [p for p in (path, *path.parents) if not p.exists()]
    claimed = claim(folder, kind, option)
    try:
        yield claimed
    except BaseException:
        if created:
            (claimed / MARKER).unlink(missing_ok=True)
            for made in created:  # deepest first; rmdir leaves a non-empty one
                try:
                    made.rmdir()
                except OSError:
                    break
        raise


STAGE = ".staging"
"""The folder inside an output folder where a set of files is written first."""


def publish(root: Path, write: Callable[[Path], object]) -> Path:
    """Write a set of files (a comparison's results.json, PNGs and report.html)
    as one: ``write(stage)`` writes them all into ``root/.staging``; only when
    every one is written are they renamed into ``root`` (a rename does not fail
    for lack of space or a size limit). A failed write removes the stage and
    leaves the previous set whole. Returns ``root/report.html``."""
    stage = root / STAGE
    shutil.rmtree(stage, ignore_errors=True)  # left by a killed process
    stage.mkdir()
    try:
        write(stage)
        for path in sorted(stage.iterdir()):
            os.replace(path, root / path.name)
        fsync_folder(root)  # the renames, as write_atomic syncs its own
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return root / "report.html"


__all__ = [
    "KINDS",
    "MARKER",
    "STAGE",
    "WriteError",
    "claim",
    "claiming",
    "fsync_folder",
    "json_text",
    "locked",
    "own_file",
    "own_folder",
    "owner",
    "publish",
    "writable",
    "write_atomic",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_text",
]
