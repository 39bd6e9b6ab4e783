"""Which optimizers a comparison compares when it is not told, and 'all'."""

from __future__ import annotations

import pytest

from gdlab import optim
from gdlab.lab import compare


def test_the_default_is_the_course_twelve_and_all_is_every_one() -> None:
    default = compare.chosen_optimizers(None)
    assert len(default) == 12 and set(default) == set(compare.COURSE_OPTIMIZERS)
    assert default == [n for n in optim.names(presets=True) if n in default]
    everything = compare.chosen_optimizers(["all"])
    assert everything == optim.names(presets=True)
    assert {"lion", "muon", "lbfgs"} <= set(everything) - set(default)
    assert compare.chosen_optimizers(["Adam", "sgd"]) == ["adam", "sgd"]
    with pytest.raises(ValueError, match=r"distinct names"):
        compare.chosen_optimizers(["adam", "ADAM"])


def test_a_dash_stands_for_an_underscore_in_optimizer_names() -> None:
    assert compare.chosen_optimizers(["schedulefree-adamw", "SGD"]) == [
        "schedulefree_adamw",
        "sgd",
    ]
    assert optim.resolve("Schedulefree-SGD")[0] == "schedulefree_sgd"
