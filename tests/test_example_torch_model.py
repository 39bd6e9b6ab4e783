"""docs/examples/torch_model.py: a torch model trained by fit with gdlab's Adam and
with torch.optim's, the same numbers from the same start; and issue 24's
done-when as a user types it: the file as a plugin of ``gdlab compare`` and of
``gdlab benchmark`` (a user suite beside the built-in CNN workload), compare with
worker processes, on digits. (On Ray: tests/lab/test_ray_cluster.py.)"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from gdlab.models import registry

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "torch_model.py"
GDLAB = [str(Path(sys.executable).parent / "gdlab")]
SHORT = ("--budget", "1", "--seeds", "1", "--studies", "1", "--quiet")
"""The overrides that shorten the done-when's commands to a test's time: one
trial, one rerun, one study (one epoch: each run's ``--epochs`` or its suite's)."""


def gdlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    env["GDLAB_PARALLEL_WORK"] = "0"  # worker processes even for these small runs
    return subprocess.run(
        [*GDLAB, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


@pytest.mark.slow
def test_the_torch_example_trains_both_adams_alike() -> None:
    spec = importlib.util.spec_from_file_location("torch_model_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)  # registers tiny_cnn
        found = module.main()
    finally:
        del sys.modules[spec.name]
        registry.MODELS.remove("tiny_cnn")
    assert found["adam"] > 0.85
    assert found["torch:Adam"] == pytest.approx(found["adam"], abs=0.02)


@pytest.mark.slow  # a whole command, two workers importing torch
def test_compare_takes_the_torch_plugin_with_two_workers(tmp_path: Path) -> None:
    done = gdlab(
        "compare", "--plugin", str(EXAMPLE), "--model", "tiny_cnn",
        "--optimizers", "adam,torch:Adam,sgd", "--workers", "2",
        "--epochs", "1", *SHORT, "--out", "c", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "c" / "results.json").read_text())
    assert (results["spec"]["data"], results["spec"]["model"]) == ("digits", "tiny_cnn")
    assert list(results["optimizers"]) == ["adam", "torch:adam", "sgd"]
    ours, theirs, sgd = (s["summary"] for s in results["optimizers"].values())
    # the same start, batches and lr grid: the two Adams agree to float32's noise
    assert theirs["val_loss"]["mean"] == pytest.approx(
        ours["val_loss"]["mean"], rel=1e-4
    )
    for name in ("adam", "torch:adam", "sgd"):  # a trial and a rerun each, trained
        (study,) = results["optimizers"][name]["studies"]
        assert (len(study["trials"]), len(study["reruns"])) == (1, 1)
        assert 0 < study["trials"][0]["val_loss"] < 10
    assert sgd["val_loss"]["mean"] != ours["val_loss"]["mean"]


@pytest.mark.slow  # a whole command
def test_benchmark_takes_the_torch_plugin_and_the_built_in_cnn_in_a_user_suite(
    tmp_path: Path,
) -> None:
    (tmp_path / "suite.toml").write_text(
        "[mine]\nmodel = 'tiny_cnn'\nepochs = 1\nbatch_size = 64\ntarget = 0.5\n"
        "eval_every = 5\n[cnn]\nworkload = 'cnn-digits'\nepochs = 1\n"
    )
    done = gdlab(
        "benchmark", "--plugin", str(EXAMPLE), "--suite", "suite.toml",
        "--optimizers", "adam,torch:Adam,sgd", "--workers", "2", *SHORT,
        "--out", "b", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert set(saved["workloads"]) == {"mine", "cnn"}
    assert saved["workloads"]["cnn"]["spec"]["model"] == "cnn"
    assert set(saved["scores"]) == {"adam", "torch:adam", "sgd"}
