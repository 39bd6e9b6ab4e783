"""A sweep's run trains a torch model on one torch thread, as on one BLAS thread
wherever it runs, and gives the process its count back (issue 24: two workers
on torch's default of a thread a core oversubscribed 2 cores)."""

from __future__ import annotations

from typing import Any

import pytest

from gdlab.experiment import RunSpec
from gdlab.lab.sweep import worker
from gdlab.lab.sweep.grid import spec_key
from gdlab.lab.sweep.store import RunOptions
from gdlab.train import TrainConfig

torch = pytest.importorskip("torch")


def test_a_run_trains_on_one_torch_thread_and_gives_the_count_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    fit = worker.fit

    def counting_fit(*args: Any, **kwargs: Any) -> Any:
        seen.append(torch.get_num_threads())
        return fit(*args, **kwargs)

    monkeypatch.setattr(worker, "fit", counting_fit)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # torch's default on 2 cores
    try:
        spec = RunSpec(
            data="digits",
            model="cnn:channels=2",
            train=TrainConfig(epochs=1, batch_size=512),
        )
        (result,) = worker.execute(spec_key(spec), RunOptions())
        assert (seen, torch.get_num_threads()) == ([1], 2)
    finally:
        torch.set_num_threads(before)
    assert result.metrics.steps == 3  # 1,293 training rows in batches of 512
