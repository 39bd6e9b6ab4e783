"""Issue 24's done-when, end to end: a user's model and dataset from one plugin
file (docs/examples/own_workload.py) through ``gdlab benchmark`` with a user suite
(``gdlab compare`` with worker processes: tests/test_cli_plugin.py; on Ray:
tests/lab/test_ray_cluster.py), and the example run as a user would."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from gdlab.data import registry as datasets
from gdlab.models import registry as models

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "own_workload.py"
GDLAB = [str(Path(sys.executable).parent / "gdlab")]


def gdlab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GDLAB_PLUGINS"}
    env["GDLAB_PARALLEL_WORK"] = "0"  # worker processes even for these small runs
    return subprocess.run(
        [*GDLAB, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def test_the_example_registers_a_model_and_a_dataset_in_a_few_lines() -> None:
    spec = importlib.util.spec_from_file_location("own_workload_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        from gdlab import models as gdlab_models
        from gdlab.experiment import RunSpec, build
        from gdlab.train import fit

        assert "my-softmax" in gdlab_models.names()
        run = build(RunSpec(data="blobs:n=600", model="my-softmax", lr=0.1))
        assert (run.dataset.n_train, run.dataset.n_features) == (540, 2)
        assert (
            gdlab_models.gradcheck(
                module.MySoftmax((2, 3), 0, "float64", 0.5),
                run.dataset.X_train[:5].astype("float64"),
                run.dataset.y_train[:5],
            )
            < 1e-7
        )  # its hand-written gradient is right
        fit(run.model, run.optimizer, run.dataset, run.spec.train, progress=False)
        assert run.model.accuracy(run.dataset.X_test, run.dataset.y_test) > 0.9
    finally:
        models.MODELS.remove("my-softmax")
        datasets.DATASETS.remove("blobs")


def test_benchmark_takes_the_plugin_model_and_dataset_in_a_user_suite(
    tmp_path: Path,
) -> None:
    # compare --plugin with worker processes: tests/test_cli_plugin.py
    (tmp_path / "suite.toml").write_text(
        "[mine]\ndata = 'blobs:n=200'\nmodel = 'my-softmax:scale=0.1'\n"
        "epochs = 2\nbatch_size = 32\ntarget = 0.8\n"
    )
    done = gdlab(
        "benchmark", "--plugin", str(EXAMPLE), "--suite", "suite.toml",
        "--optimizers", "adam,sgd", "--budget", "1", "--seeds", "1", "--studies",
        "1", "--workers", "1", "--out", "b", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    saved = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert (saved["format"], saved["version"]) == ("gdlab-benchmark", 3)
    mine = saved["workloads"]["mine"]
    assert (mine["spec"]["data"], mine["spec"]["model"]) == (
        "blobs:n=200",
        "my-softmax:scale=0.1",
    )
    assert set(saved["scores"]) == {"adam", "sgd"}
