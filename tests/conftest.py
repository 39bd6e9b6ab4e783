"""Fixtures shared by the test modules."""

from __future__ import annotations

import re
from collections.abc import Iterator

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
