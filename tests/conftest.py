"""Fixtures shared by the test modules."""

from __future__ import annotations

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
