"""Plugins of every kind: a model, a dataset or an optimizer from a user's file,
loaded before anything is built, in this process and in every worker process;
a plugin that cannot be imported is one line naming it."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gdlab import data, models, plugins
from gdlab.cli import main
from gdlab.experiment import RunSpec, load_data
from gdlab.lab import sweep
from gdlab.models import registry
from gdlab.train import TrainConfig


def model_plugin(path: Path, name: str) -> Path:
    """A plugin registering ``name``: gdlab's softmax regression under a new name."""
    path.write_text(
        textwrap.dedent(
            f"""
            from gdlab import models

            def build(dataset, *, seed, dtype):
                return models.SoftmaxRegression(
                    n_features=dataset.n_features, n_classes=dataset.n_classes,
                    seed=seed, dtype=dtype,
                )

            models.register({name!r}, build)
            """
        )
    )
    return path


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Model names a test's plugins register, forgotten after it, and
    $GDLAB_PLUGINS restored."""
    monkeypatch.setenv(plugins.ENV, "[]")
    names: list[str] = []
    yield names
    for name in names:
        registry.MODELS.remove(name)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "x = 1\nundefined_name()\n",
            r"importing it raised NameError: name "
            r"'undefined_name' is not defined \(broken\.py, line 2\)$",
        ),
        ("def f(:\n", r"importing it raised SyntaxError: .*\(broken\.py, line 1\)$"),
        ("import no_such_module_here_\n", r"importing it raised ModuleNotFoundError"),
    ],
)
def test_a_plugin_that_fails_to_import_is_one_line(
    tmp_path: Path, source: str, message: str
) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(source)
    with pytest.raises(ValueError, match=rf"^plugin {plugin}: {message}"):
        plugins.load(str(plugin))
    result = CliRunner().invoke(main, ["train", "--plugin", str(plugin)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"gdlab: error: plugin {plugin}: ")


def test_installed_models_load_through_their_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loaded: list[str]
) -> None:
    model_plugin(tmp_path / "pkg_model.py", "installed-net")
    info = tmp_path / "pkg_model-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pkg-model\nVersion: 1\n"
    )
    (info / "entry_points.txt").write_text("[gdlab.models]\nnet = pkg_model\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "_loaded_groups", set())
    loaded.append("installed-net")
    assert "installed-net" not in models.names()
    tiny = data.from_arrays([[0.0], [1.0]], [0, 1], [[0.5]], [1])
    run_model = registry.build("installed-net", tiny, seed=0, dtype="float32")
    assert isinstance(run_model, models.SoftmaxRegression)


def test_a_worker_process_loads_the_plugins_before_it_builds_a_run(
    tmp_path: Path, loaded: list[str]
) -> None:
    plugins.load(str(model_plugin(tmp_path / "net.py", "worker-net")))
    loaded.append("worker-net")
    assert json.loads(os.environ[plugins.ENV]) == [str(tmp_path / "net.py")]
    os.environ[plugins.ENV] = "[]"  # the worker gets its list from the pool itself
    spec = RunSpec(model="worker-net", train=TrainConfig(epochs=1, batch_size=64))
    key = json.dumps(spec.to_dict(), sort_keys=True)
    with sweep.Workers(2, plugins=[str(tmp_path / "net.py")]) as workers:
        options = sweep.RunOptions()
        (result,) = workers.submit(key, options, load_data(spec)).result(timeout=120)
    assert result.pid != os.getpid()
    assert result.metrics.final_val_acc > 0.5  # it trained the plugin's model


def test_a_store_refuses_runs_of_a_plugin_model_whose_code_changed(
    tmp_path: Path, loaded: list[str]
) -> None:
    plugin = model_plugin(tmp_path / "edited.py", "edited-net")
    plugins.load(str(plugin))
    loaded.append("edited-net")
    spec = RunSpec(model="edited-net", train=TrainConfig(epochs=1, batch_size=256))
    plan = sweep.Sweep(spec, {"seed": [0]})
    out = tmp_path / "out"
    quiet: dict[str, Any] = {"workers": 1, "progress": False, "report": False}
    assert len(sweep.run(plan, out=out, **quiet).runs) == 1
    assert sweep.run(plan, out=out, **quiet).ran == 0  # the same code
    plugin.write_text(plugin.read_text() + "# the model's code, edited\n")
    message = r"the code of model 'edited-net' changed since this store was written"
    with pytest.raises(ValueError, match=message + r" \(code model:edited-net: "):
        sweep.run(plan, out=out, **quiet)
