"""Runs that leave files behind: one training run, or a comparison, into a folder.

``train_into(folder, spec)`` trains with checkpoints in ``folder/checkpoints`` and
writes ``history.json``, ``history.csv``, ``loss.png``, ``accuracy.png`` and
``model.npz`` (the weights at the optimizer's evaluation point, those the history
measured: :mod:`gdlab.weights`); ``resume_into(folder)`` continues it. A
training folder is locked while a run writes it (``.gdlab.lock``), so a second
``gdlab train`` into it is refused instead of both writing and one run's files
silently replacing the other's.
``compare_into(folder, spec, ...)`` keeps its trials and reruns in
``folder/sweep.db`` and writes ``results.json``, the PNGs and ``report.html``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gdlab import checkpoint, outputs, weights
from gdlab.callbacks import Callback
from gdlab.experiment import Run, RunSpec, build
from gdlab.lab import compare, course_mnist
from gdlab.lab.compare import Comparison, Protocol
from gdlab.optim import Optimizer
from gdlab.report import plots
from gdlab.report.compare import comparison_report
from gdlab.train import History, Resumed, fit, restore

LOCK = ".gdlab.lock"
"""The lock file of a training folder, held while a run writes it."""

Folder = str | os.PathLike[str]
"""An output folder's path."""


def write_history(folder: Path, history: History) -> list[Path]:
    """history.json/csv, the loss per iteration and the accuracy per epoch (for
    the course notes' loop, as the notes draw them)."""
    history.to_json(folder / "history.json")
    history.to_csv(folder / "history.csv")
    written = [folder / "history.json", folder / "history.csv"]
    if history.config.get("notes_loop"):  # the course notes' run, drawn their way
        return written + course_mnist.write_plots(folder, history)
    losses = [s["loss"] for s in history.steps]
    if losses:
        plots.plot_loss_curves({"train (mini-batch)": losses}, path=folder / "loss.png")
        written.append(folder / "loss.png")
    rows = [e for e in history.epochs if e["train_acc"] is not None]
    if rows:

        def column(key: str) -> list[float]:
            values = [e[key] for e in rows]
            return (
                [float(v) for v in values if v is not None]
                if None not in values
                else []
            )

        curves = (column("epoch"), column("train_acc"), column("test_acc"))
        accuracy = {"accuracy": curves}
        val = column("val_acc")
        plots.plot_accuracy(
            accuracy,
            path=folder / "accuracy.png",
            validation={"accuracy": val} if val else None,
        )
        written.append(folder / "accuracy.png")
    return written


def _locked(root: Path, option: str) -> contextlib.AbstractContextManager[None]:
    checkpoints = root / "checkpoints"
    if checkpoints.is_symlink():
        raise ValueError(
            f"{option} {root}: {checkpoints} is a symbolic link, and gdlab writes "
            "only files of its own; remove it or choose another folder"
        )
    return outputs.locked(
        root / LOCK,
        f"another gdlab train is writing {root}; wait for it to finish or choose "
        f"another {option}",
        nested=True,
    )


def train_folder(folder: Folder, option: str = "--out") -> Path:
    """Claim ``folder`` for a new training run; refused if it holds one already,
    or if a run is writing it."""
    with training_folder(folder, option) as root:
        return root


@contextlib.contextmanager
def training_folder(folder: Folder, option: str = "--out") -> Iterator[Path]:
    """``folder`` claimed for a new training run and locked while the block runs
    (a command takes it while it checks its options and keeps it while it
    trains); refused if it holds a run already, or if another run is writing it."""
    root = outputs.claim(folder, "train", option)
    with _locked(root, option):
        if checkpoint.paths(root / "checkpoints"):
            raise ValueError(
                f"{root} already holds a run: resume it with --resume {root}, "
                "or choose another --out"
            )
        yield root


def train_into(
    folder: Folder,
    spec: RunSpec | Run,
    *,
    checkpoint_every: int | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``spec`` (or the run already built from it, as the CLI does to check
    its options first) with checkpoints in ``folder/checkpoints``; write its files."""
    with training_folder(folder) as root:
        run = build(spec) if isinstance(spec, RunSpec) else spec
        history = fit(
            run.model,
            run.optimizer,
            run.dataset,
            run.spec.train,
            checkpoint_dir=root / "checkpoints",
            checkpoint_every=checkpoint_every,
            progress=progress,
            verbose=True,
            spec=run.spec.to_dict(),
            callbacks=callbacks,
        )
        write_history(root, history)
        write_model(root, run.model.params, run.optimizer)
    return history


def write_model(
    folder: Folder, params: Mapping[str, np.ndarray], optimizer: Optimizer
) -> Path:
    """``folder/model.npz``: the trained weights at the optimizer's evaluation
    point (Schedule-Free's x, not the y it trains at), the model a user loads."""
    return weights.save(Path(folder) / weights.FILE, params, optimizer)


def stored_spec(folder: Folder) -> RunSpec:
    """The spec of the run whose checkpoints are in ``folder/checkpoints``."""
    _, meta, path = checkpoint.load_latest(Path(folder) / "checkpoints")
    _, spec = checkpoint.Meta(meta, path).check()
    if spec is None:
        raise ValueError(
            f"the checkpoints in {folder} do not record how the run was built"
        )
    return _spec(spec, path)


def changes(stored: RunSpec, given: RunSpec, names: Collection[str]) -> list[str]:
    """``"lr: 0.1 -> 0.2"`` for each of the fields ``names`` in which ``given``
    differs from ``stored`` (a run resumed with other settings); the ``hyper`` and
    ``schedule_args`` given update the stored ones key by key."""
    old, new = stored.to_dict(), given.to_dict()
    changed = []
    for name in (n for n in new if n in names):
        value = new[name]
        if name in ("hyper", "schedule_args"):
            value = {**old[name], **value}
        if value != old[name]:
            changed.append(f"{name}: {old[name]!r} -> {value!r}")
    return changed


def _spec(values: object, path: Path) -> RunSpec:
    """A RunSpec read from checkpoint ``path``: a ValueError names the file."""
    try:
        if not isinstance(values, dict):
            raise ValueError(f"an object, got {type(values).__name__}")
        return RunSpec.from_dict(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {path}: spec: {error}") from None


def rebuild(values: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The model, optimizer and dataset of a RunSpec stored as a dict (for
    :func:`gdlab.train.resume`)."""
    run = build(RunSpec.from_dict(values))
    return run.model, run.optimizer, run.dataset


@contextlib.contextmanager
def resuming(
    folder: Folder,
    *,
    checkpoint_every: int | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> Iterator[Resumed]:
    """The run in ``folder``, checked and restored from its newest checkpoint
    (:func:`gdlab.train.restore`: a ValueError names the file and the field of a
    checkpoint that disagrees with itself or its spec), the folder locked while
    the block runs; ``.run()`` continues it."""
    root = Path(folder)
    if not checkpoint.paths(root / "checkpoints"):
        raise ValueError(
            f"no checkpoint in {root / 'checkpoints'}: nothing to resume; "
            f"start the run with --out {root}"
        )
    root = outputs.claim(root, "train", "--resume")
    with _locked(root, "--resume"):
        yield restore(
            root / "checkpoints",
            rebuild=rebuild,
            progress=progress,
            verbose=True,
            checkpoint_every=checkpoint_every,
            callbacks=callbacks,
        )


def resume_into(
    folder: Folder,
    *,
    checkpoint_every: int | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Continue the run in ``folder`` to its end; rewrite its files."""
    with resuming(
        folder,
        checkpoint_every=checkpoint_every,
        progress=progress,
        callbacks=callbacks,
    ) as resumed:
        history = resumed.run()
        write_history(Path(folder), history)
        write_model(folder, resumed.model.params, resumed.optimizer)
    return history


def compare_into(
    folder: Folder,
    spec: RunSpec,
    optimizers: Sequence[str] | None = None,
    protocol: Protocol | None = None,
    *,
    workers: int | None = None,
    backend: str = "local",
    progress: bool = True,
    command: str = "gdlab compare",
) -> tuple[Comparison, Path]:
    """:func:`~gdlab.lab.compare.compare` into ``folder`` (its store
    ``folder/sweep.db``, ``results.json`` and ``report.html`` beside it); the
    comparison and its report's path."""
    result = compare.compare(
        spec,
        optimizers,
        protocol,
        out=folder,
        workers=workers,
        backend=backend,
        progress=progress,
        command=command,
    )
    return result, Path(folder) / "report.html"


def load_comparison(folder: Folder) -> Comparison:
    """The comparison whose ``results.json`` is in ``folder``, a folder that
    :func:`report_from` may write into."""
    root = Path(folder)
    made_by = outputs.owner(root)
    if made_by == "sweep":
        raise ValueError(
            f"{root} holds a sweep: run the same gdlab sweep command again to "
            "redraw its report"
        )
    if made_by not in (None, "compare"):
        raise ValueError(
            f"{root} holds the output of gdlab {made_by}, not a comparison"
        )
    result = Comparison.load(root)
    outputs.writable(root, "the comparison folder")
    return result


def report_from(folder: Folder, result: Comparison | None = None) -> Path:
    """Redraw ``report.html`` from the ``results.json`` a comparison left there
    (or from ``result``, already read by :func:`load_comparison`)."""
    loaded = load_comparison(folder) if result is None else result
    return outputs.publish(Path(folder), lambda stage: comparison_report(loaded, stage))
