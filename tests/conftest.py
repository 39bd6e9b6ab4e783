"""Fixtures and helpers shared by the test modules: torch in float64, the error
format's ``raises_about``, ``run_cli`` (a command in this process), and
``--slow-over`` (which tests make ``make test-fast`` slow)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def torch_float64() -> Iterator[None]:
    """torch's default dtype float64 for one test, as the references compute
    (torch keeps some scalar state, NAdam's mu_product, in the default dtype).
    A module uses it with ``pytestmark = pytest.mark.usefixtures("torch_float64")``."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def raises_about(
    owner: str,
    field: str,
    *,
    got: str | None = None,
    error: type[Exception] = ValueError,
) -> pytest.RaisesExc[Exception]:
    """``pytest.raises`` for gdlab's one error format, ``Owner: field must be ...,
    got X``: it asserts who refused which field (and, given ``got``, the value the
    message ends with), not the words between, so rewording a message breaks no
    test. Used as ``with raises_about("Adam", "betas[0]"):``."""
    pattern = rf"^{re.escape(owner)}: {re.escape(field)} must "
    if got is not None:
        pattern += rf".*, got {re.escape(got)}$"
    return pytest.raises(error, match=pattern)


def write_checkpoint(path: Path, arrays: Mapping[str, Any], meta: Any) -> Path:
    """Write a checkpoint file as an editor would, past ``checkpoint.save`` (which
    takes only a valid :class:`~gdlab.checkpoint.CheckpointMeta`): any JSON (bare
    NaN too), any arrays."""
    from gdlab import checkpoint

    text = json.dumps(meta, allow_nan=True).encode()
    with open(path, "wb") as f:
        np.savez(f, **arrays, **{checkpoint.META: np.frombuffer(text, np.uint8)})
    return path


def run_cli(*args: str) -> tuple[int, str, str]:
    """``gdlab ARGS`` in this process: exit status, stdout, stderr; an exception
    other than the exit is raised with its traceback (a bug, not a usage error)."""
    from click.testing import CliRunner

    from gdlab.cli import main

    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- make test-fast: which tests are slow ---------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow-over",
        type=float,
        default=None,
        metavar="SECONDS",
        help="after the run, list the tests not marked slow whose call took longer "
        "(candidates for @pytest.mark.slow; make test-fast passes 5)",
    )


_SLOW: dict[str, Any] = {"limit": None, "found": []}
"""--slow-over's limit and the (seconds, test) pairs over it."""


def pytest_configure(config: pytest.Config) -> None:
    _SLOW["limit"] = config.getoption("--slow-over")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    limit = _SLOW["limit"]
    over = limit is not None and report.when == "call" and report.duration > limit
    if over and "slow" not in report.keywords:
        _SLOW["found"].append((report.duration, report.nodeid))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _SLOW["found"]:
        return
    terminalreporter.section(f"tests over {_SLOW['limit']:g} s not marked slow")
    for seconds, nodeid in sorted(_SLOW["found"], reverse=True):
        terminalreporter.write_line(f"{seconds:6.1f}s {nodeid}")
