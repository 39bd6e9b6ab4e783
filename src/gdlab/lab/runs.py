"""Runs that leave files behind: one training run, or a comparison, into a folder.

``train_into(folder, spec)`` trains with checkpoints in ``folder/checkpoints`` and
writes ``history.json``, ``history.csv``, ``loss.png`` and ``accuracy.png``;
``resume_into(folder)`` continues it. ``compare_into(folder, spec, ...)`` writes
``results.json``, ``results.csv``, the PNGs and ``report.html``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from gdlab import checkpoint
from gdlab.experiment import RunSpec, build
from gdlab.lab.compare import ALL_OPTIMIZERS, Comparison, compare
from gdlab.report import html, plots
from gdlab.train import History, fit, resume

Folder = str | os.PathLike[str]


def writable_folder(folder: Folder, option: str = "--out") -> Path:
    """Create ``folder`` if needed and check that files can be written into it."""
    path = Path(folder)
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


def write_history(folder: Path, history: History) -> list[Path]:
    """history.json/csv, the loss per iteration and the accuracy per epoch."""
    history.to_json(folder / "history.json")
    history.to_csv(folder / "history.csv")
    written = [folder / "history.json", folder / "history.csv"]
    losses = [s["loss"] for s in history.steps]
    if losses:
        written.append(
            plots.plot_loss_curves({"train (mini-batch)": losses}, folder / "loss.png")
        )
    rows = [e for e in history.epochs if e["train_acc"] is not None]
    if rows:
        curve = tuple(
            [float(e[k] or 0.0) for e in rows]
            for k in ("epoch", "train_acc", "test_acc")
        )
        accuracy = {"accuracy": (curve[0], curve[1], curve[2])}
        written.append(plots.plot_accuracy(accuracy, folder / "accuracy.png"))
    return written


def train_into(
    folder: Folder,
    spec: RunSpec,
    *,
    checkpoint_every: int | None = None,
    progress: bool = True,
) -> History:
    """Train ``spec`` with checkpoints in ``folder/checkpoints``; write its files."""
    root = writable_folder(folder)
    if checkpoint.paths(root / "checkpoints"):
        raise ValueError(
            f"{root} already holds a run: resume it with --resume {root}, "
            "or choose another --out"
        )
    run = build(spec)
    history = fit(
        run.model,
        run.optimizer,
        run.dataset,
        **run.fit_arguments(),
        checkpoint_dir=root / "checkpoints",
        checkpoint_every=checkpoint_every,
        progress=progress,
        verbose=True,
        spec=spec,
    )
    write_history(root, history)
    return history


def stored_spec(folder: Folder) -> RunSpec:
    """The spec of the run whose checkpoints are in ``folder/checkpoints``."""
    _, meta, _ = checkpoint.load_latest(Path(folder) / "checkpoints")
    if meta.get("spec") is None:
        raise ValueError(
            f"the checkpoints in {folder} do not record how the run was built"
        )
    return RunSpec.from_dict(meta["spec"])


def resume_into(
    folder: Folder, *, checkpoint_every: int | None = None, progress: bool = True
) -> History:
    """Continue the run in ``folder`` to its end; rewrite its files."""
    root = Path(folder)
    if not checkpoint.paths(root / "checkpoints"):
        raise ValueError(
            f"no checkpoint in {root / 'checkpoints'}: nothing to resume; "
            f"start the run with --out {root}"
        )
    history, _, _ = resume(
        root / "checkpoints",
        progress=progress,
        verbose=True,
        checkpoint_every=checkpoint_every,
    )
    write_history(writable_folder(root), history)
    return history


def compare_into(
    folder: Folder,
    spec: RunSpec,
    optimizers: Sequence[str] = ALL_OPTIMIZERS,
    *,
    seeds: int = 1,
    lrs: Mapping[str, float] | None = None,
    progress: bool = True,
    command: str = "gdlab compare",
) -> tuple[Comparison, Path]:
    """Run :func:`~gdlab.lab.compare.compare`; write results and ``report.html``."""
    root = writable_folder(folder)
    result = compare(spec, optimizers, seeds=seeds, lrs=lrs, progress=progress)
    result.save(root)
    return result, html.comparison_report(result.to_dict(), root, command=command)


def report_from(folder: Folder) -> Path:
    """Redraw ``report.html`` from the ``results.json`` a comparison left there."""
    result = Comparison.load(folder)
    return html.comparison_report(
        result.to_dict(), writable_folder(folder, "the run folder")
    )
