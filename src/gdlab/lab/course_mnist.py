"""The course notes' MNIST experiment (``gdlab train --preset course-mnist``): what
the run says about itself, and its pictures drawn as the notes draw them.

The notes run Saito's ``train_neuralnet.py`` ("Deep Learning from Scratch", 2016,
§4.5): a 784-50-10 sigmoid net, 0.01·N(0, 1) weights, SGD at lr 0.1 on batches of
100 drawn with replacement, 10,000 iterations; after each update the loss of the
batch is recorded, and when ``i % iter_per_epoch == 0`` the train and test
accuracy are printed. gdlab's run does the same (``TrainConfig(notes_loop=True)``);
:func:`differences` names what still differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gdlab.history import History
from gdlab.i18n import gettext as _
from gdlab.report import course

TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "digits": "digits 8×8"}
"""How the data sets are named in the output and the plot titles."""


def data_title(config: Mapping[str, Any]) -> str:
    """The data set's name as a title: ``Fashion-MNIST``, ``MNIST``, ..."""
    name = str(config["data"]["name"])
    return TITLES.get(name, name)


def iter_per_epoch(config: Mapping[str, Any]) -> float:
    """The notes' ``max(train_size / batch_size, 1)``, a float as they write it."""
    n = int(config["data"]["train"][0])
    size = config["batch_size"]
    return max(n / (n if size == "full" else int(size)), 1)


def differences(config: Mapping[str, Any]) -> list[str]:
    """Each way this run differs from the notes' loop, one line each."""
    name = str(config["data"]["name"])
    out = []
    if name == "fashion-mnist":
        out.append(
            _(
                "data: Fashion-MNIST, not MNIST: Debian ships Fashion-MNIST (the same "
                "28×28 images, 60,000/10,000, 10 classes, harder); --data mnist "
                "--data-path DIR runs the notes' data"
            )
        )
    elif name != "mnist":
        out.append(
            _("data: {data}, not MNIST; --data mnist --data-path DIR runs the notes' "
              "data").format(data=data_title(config))
        )  # fmt: skip
    out += [
        _(
            "random numbers: batches and weights come from NumPy's seeded Generator "
            "(seed {seed}), not the global np.random: the same distributions, other "
            "draws"
        ).format(seed=config["seed"]),
        _(
            "plots: accuracy.png is its own figure; the notes' code calls plt.plot "
            "after plt.subplots, so their accuracy curves land in the zoom panel "
            "(ax2), which plt.ylim(0, 1.0) then rescales"
        ),
    ]
    per = iter_per_epoch(config)
    if per != int(per):
        out.append(
            _(
                "iter_per_epoch = {per:.4g} is not a whole number: "
                "i % iter_per_epoch == 0 holds only at i = 0, so the notes' loop "
                "evaluates once, after the first update (as here)"
            ).format(per=per)
        )
    return out


def summary(history: History) -> list[str]:
    """The lines the preset prints after its run: the data, the notes' evaluation
    schedule, the differences and what real MNIST gives."""
    config = history.config
    rows = history.epochs
    lines = [
        _("the course notes' MNIST experiment, on {data}").format(
            data=data_title(config)
        ),
        _(
            "loss recorded after each update, on its batch; {n} evaluations, after "
            "the updates i + 1 with i % iter_per_epoch == 0 (iter_per_epoch = "
            "{per:.6g})"
        ).format(n=len(rows), per=iter_per_epoch(config)),
    ]
    if rows and rows[-1]["test_acc"] is not None:
        last = rows[-1]
        lines.append(
            _("last evaluation (step {step}): train acc, test acc | {a:.4f}, {b:.4f}")
            .format(step=last["step"], a=last["train_acc"], b=last["test_acc"])
        )  # fmt: skip
    lines.append(_("where this run differs from the notes' loop:"))
    lines += [f"  - {d}" for d in differences(config)]
    lines.append(
        _(
            "on real MNIST this loop reaches about 0.94-0.95 train and test accuracy "
            "(Saito, Deep Learning from Scratch, 2016, §4.5.3, fig. 4-12); on "
            "Fashion-MNIST expect about 0.85"
        )
    )
    return lines


def write_plots(folder: Path, history: History) -> list[Path]:
    """loss.png and accuracy.png as the notes draw them, the data in each title."""
    title = data_title(history.config)
    written = []
    losses = [s["loss"] for s in history.steps]
    if losses:
        course.plot_notes_loss(
            losses,
            _("loss per iteration — {data}").format(data=title),
            path=folder / "loss.png",
        )
        written.append(folder / "loss.png")
    train = [e["train_acc"] for e in history.epochs]
    test = [e["test_acc"] for e in history.epochs]
    if train and None not in train and None not in test:
        course.plot_notes_accuracy(
            [float(a or 0.0) for a in train],
            [float(a or 0.0) for a in test],
            _("train and test accuracy — {data}").format(data=title),
            path=folder / "accuracy.png",
        )
        written.append(folder / "accuracy.png")
    return written


__all__ = ["TITLES", "data_title", "differences", "iter_per_epoch", "summary",
           "write_plots"]  # fmt: skip
