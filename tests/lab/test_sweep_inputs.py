"""A sweep store never returns the results of other data or other plugin code as
this data's or code's (issue 27): it records their digests and refuses to be reused
when one has changed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gdlab import data
from gdlab.experiment import RunSpec
from gdlab.lab import sweep
from gdlab.lab.sweep import inputs
from gdlab.train import TrainConfig

from ..conftest import raises_about

GDLAB = [str(Path(sys.executable).parent / "gdlab")]
MNIST = RunSpec(
    data="mnist",
    model="softmax",
    optimizer="sgd",
    lr=0.1,
    train=TrainConfig(epochs=1, batch_size=50),
)
STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_folder(folder: Path, seed: int, n_train: int = 200, n_test: int = 50) -> Path:
    """Four MNIST-shaped IDX files whose labels follow their images (learnable)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", n_train), ("t10k", n_test)):
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        x[np.arange(n), y, :] = 255  # the label's row lit
        stems = [s for s in STEMS if s.startswith(part)]
        data.write_idx(folder / f"{stems[0]}.gz", x)
        data.write_idx(folder / f"{stems[1]}.gz", y)
    return folder


def quiet(**kwargs: object) -> dict[str, object]:
    return {"progress": False, "report": False, "workers": 1, **kwargs}


def swept(grid: dict[str, list[int]], store: Path) -> sweep.SweepResult:
    """The sweep of MNIST and ``grid`` into the folder of ``store``."""
    plan = sweep.Sweep(MNIST, grid)
    return sweep.run(plan, out=store.parent, workers=1, progress=False, report=False)


def test_another_idx_folder_through_gdlab_data_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    idx_folder(tmp_path / "g1" / "mnist", seed=1)
    idx_folder(tmp_path / "g2" / "mnist", seed=2)
    store = tmp_path / "s" / "sweep.db"
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "g1"))
    first = swept({"seed": [0]}, store)
    assert first.ran == 1
    again = swept({"seed": [0]}, store)  # unchanged: resumed
    assert (again.ran, again.already_done) == (0, 1)
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "g2"))
    with pytest.raises(
        ValueError,
        match=r"sweep: .*sweep\.db: the data of 'mnist' changed since this store "
        r"was written \(data \[\"mnist\", null, \"float32\", 0\.1, 0\]: digest "
        r"[0-9a-f]{16} -> [0-9a-f]{16}\); its runs are not those of the present",
    ):
        swept({"seed": [0]}, store)
    fresh = swept({"seed": [0]}, tmp_path / "fresh" / "sweep.db")
    losses = [r.metrics.final_test_loss for r in (*first.runs, *fresh.runs)]
    assert losses[0] != losses[1]  # what the old store would have returned: wrong


def test_labels_permuted_in_place_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = idx_folder(tmp_path / "g" / "mnist", seed=1)
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "g"))
    store = tmp_path / "s" / "sweep.db"
    swept({"seed": [0]}, store)
    labels = folder / "train-labels-idx1-ubyte.gz"
    y = data.read_idx(labels)
    data.write_idx(labels, np.random.default_rng(0).permutation(y))
    with pytest.raises(ValueError, match="the data of 'mnist' changed"):
        sweep.prepare(sweep.Sweep(MNIST, {"seed": [0]}), out=store.parent)
    with pytest.raises(ValueError, match="the data of 'mnist' changed"):
        swept({"seed": [0, 1]}, store)
    assert len(sweep.Store(store).runs()) == 1  # nothing trained


PLUGIN = '''
from gdlab import optim
from gdlab.optim import SGD


class Flip(SGD):
    """SGD, or ascent: the plugin's own update."""

    def step(self, grads):
        for g in grads.buffers.values():
            g *= SIGN
        super().step(grads)


SIGN = {sign}
optim.register("flip", Flip)
'''


def test_a_plugin_whose_code_changed_is_refused(tmp_path: Path) -> None:
    plugin = tmp_path / "flip.py"
    plugin.write_text(textwrap.dedent(PLUGIN.format(sign="1.0")))
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "src")
    args = [
        *GDLAB, "sweep", "--plugin", str(plugin), "--optimizers", "flip",
        "--lrs", "0.1", "--model", "mlp:64-8-10", "--epochs", "1",
        "--workers", "1", "--out", str(tmp_path / "out"),
    ]  # fmt: skip

    def gdlab() -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, env=env)

    done = gdlab()
    assert done.returncode == 0, done.stderr
    again = gdlab()
    assert again.returncode == 0 and "0 to run)" in again.stdout, again.stderr
    plugin.write_text(textwrap.dedent(PLUGIN.format(sign="-1.0")))
    refused = gdlab()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1
    assert "the code of optimizer 'flip' changed since this store" in refused.stderr


def test_the_code_digest_is_the_plugin_files_and_none_for_gdlab() -> None:
    assert inputs.code_digest("adam") is None
    assert inputs.code_digest("nesterov") is None


def test_compare_into_the_same_out_with_other_data_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gdlab.cli import main

    idx_folder(tmp_path / "g1" / "mnist", seed=1)
    idx_folder(tmp_path / "g2" / "mnist", seed=2)
    args = [
        "compare", "--data", "mnist", "--model", "mlp:784-32-10", "--optimizers",
        "sgd", "--budget", "2", "--seeds", "1", "--epochs", "2", "--workers", "1",
        "--quiet", "--out", str(tmp_path / "s"),
    ]  # fmt: skip
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "g1"))
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    monkeypatch.setenv("GDLAB_DATA", str(tmp_path / "g2"))
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 2, second.output
    assert second.stderr.startswith(
        f"gdlab: error: {tmp_path / 's' / 'sweep.db'}: the data of 'mnist' "
        "changed since this store was written (data "
    )
    assert second.stderr.count("\n") == 1


def test_inputs_are_a_record_merged_and_checked() -> None:
    stored = inputs.Inputs.from_dict({"data": {"a": "1"}})  # no plugin code: none
    found = inputs.Inputs(data={"a": "1", "b": "2"}, code={"opt": "3"})
    assert stored.code == {} and stored.merged(found) == found
    assert found.merged(stored) == found
    inputs.check_same_inputs(Path("s.db"), stored, found)  # nothing changed
    with pytest.raises(ValueError, match=r"the data of 'x' changed.*digest 1 -> 9"):
        inputs.check_same_inputs(
            Path("s.db"),
            inputs.Inputs(data={'["x"]': "1"}),
            inputs.Inputs(data={'["x"]': "9"}),
        )
    with raises_about("Inputs", "code"):
        inputs.Inputs.from_dict({"data": {}, "code": {"opt": 3}})
    with raises_about("Inputs", "field 'cod'"):
        inputs.Inputs.from_dict({"cod": {}})


def test_a_workers_result_is_checked_before_the_store_writes_it() -> None:
    from gdlab.lab.sweep.store import FinishedRun, RunOptions

    metrics = {
        "final_train_loss": 0.5, "final_train_acc": 0.9, "final_val_loss": None,
        "final_val_acc": None, "best_val_acc": None, "final_test_loss": 0.6,
        "final_test_acc": 0.8, "diverged": False, "steps": 10, "seconds": 0.25,
        "lambda_max": None,
    }  # fmt: skip
    result = {
        "key": "{}", "metrics": metrics, "history": {"steps": {}}, "message": "",
        "started_at": "2026-01-01T00:00:00+00:00", "host": "h", "pid": 7,
        "ray_node_id": None,
    }  # fmt: skip
    run = FinishedRun.from_dict(result)
    assert run.metrics.final_test_acc == 0.8 and run.metrics.steps == 10
    assert run.to_dict() == result  # the same plain form back
    with raises_about("FinishedRun", "metrics.steps"):  # its path named
        FinishedRun.from_dict({**result, "metrics": {**metrics, "steps": -1}})
    with raises_about("FinishedRun", "pid"):
        FinishedRun.from_dict({**result, "pid": "7"})
    with raises_about("FinishedRun", "field 'node'"):
        FinishedRun.from_dict({**result, "node": "n"})
    # what a worker is told: its options, a record too, as the store's meta holds it
    assert RunOptions.from_dict({"sharpness": True}).sharpness_samples == 1000
    with raises_about("RunOptions", "sharpness_samples"):
        RunOptions(sharpness=True, sharpness_samples=0)
    with raises_about("sweep", "options"):  # a dict, before anything trains
        sweep.check_specs(RunSpec(), [], "sweep.db", axes=[], options={})
