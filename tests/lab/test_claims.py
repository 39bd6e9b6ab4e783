"""Pairwise claims: the paired t-test over studies, Holm's adjustment, verdicts,
the compact letter display, and the claim as a value that checks itself."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from gdlab.lab import claims, tuning

from ..conftest import raises_about


def test_the_paired_test_is_students_on_the_study_differences() -> None:
    a = [0.95, 0.97, 0.96, 0.94, 0.97]
    b = [0.93, 0.96, 0.93, 0.94, 0.95]
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean, (lo, hi), p = claims.paired_t(d)
    reference = stats.ttest_rel(a, b)
    assert p == pytest.approx(reference.pvalue, rel=1e-12)
    assert mean == pytest.approx(0.016)
    half = stats.t.ppf(0.975, 4) * stats.tstd(d) / math.sqrt(5)
    assert (lo, hi) == pytest.approx((0.016 - half, 0.016 + half))
    assert claims.paired_t([0.0, 0.0, 0.0])[2] == 1.0
    assert claims.paired_t([0.01, 0.01, 0.01])[2] == 0.0
    with raises_about("paired_t", "differences"):
        claims.paired_t([0.1])


def test_holm_steps_down_and_stays_monotone() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.06, 0.04*1)
    assert claims.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )
    assert claims.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_verdicts_follow_the_metrics_direction() -> None:
    good = [0.96, 0.97, 0.95, 0.96, 0.97]
    bad = [0.80, 0.85, 0.78, 0.83, 0.81]
    same = [0.96, 0.95, 0.96, 0.97, 0.96]
    found = claims.pairwise({"x": good, "y": bad, "z": same}, higher_is_better=True)
    by_pair = {(c.a, c.b): c for c in found}
    assert by_pair["x", "y"].verdict == "a" and by_pair["x", "y"].winner == "x"
    assert by_pair["y", "z"].verdict == "b" and by_pair["y", "z"].winner == "z"
    assert by_pair["x", "z"].verdict == "none"
    assert by_pair["x", "z"].p_adjusted >= claims.LEVEL
    losses = claims.pairwise({"x": bad, "y": good}, higher_is_better=False)
    assert losses[0].verdict == "a"  # x has the lower loss: x is better
    # a study whose reruns all diverged loses that study
    diverged = claims.pairwise({"x": good, "y": [None] * 5}, higher_is_better=True)
    assert diverged[0].verdict == "a"
    # one study: no claim is possible
    one = claims.pairwise({"x": [0.9], "y": [0.1]}, higher_is_better=True)
    assert one[0].verdict == "none" and one[0].ci95 is None


def test_letters_share_a_group_where_no_claim_was_made() -> None:
    made = [
        claims.Claim("a", "b", 0.1, (0.05, 0.15), 0.01, "a"),
        claims.Claim("a", "c", 0.05, (-0.01, 0.11), 0.2, "none"),
        claims.Claim("b", "c", -0.05, (-0.11, 0.01), 0.2, "none"),
    ]
    assert claims.letters(["a", "c", "b"], made) == {"a": "a", "c": "ab", "b": "b"}
    nothing = [claims.Claim("a", "b", 0.0, None, 1.0, "none")]
    assert claims.letters(["a", "b"], nothing) == {"a": "a", "b": "a"}
    text = claims.established(made, ["a", "b", "c"], 5)
    assert text.startswith("established 1 of 3 pairs over 5 studies")
    assert "a better than b" in text and "no claim about the other 2" in text
    assert claims.established(nothing, ["a", "b"], 5).startswith("established nothing")
    assert "cannot support a claim" in claims.established(nothing, ["a", "b"], 1)


def test_a_claim_round_trips_and_refuses_what_it_cannot_be() -> None:
    claim = claims.Claim("sgd", "adam", -0.01, (-0.02, 0.0), 0.3, "none")
    values = claim.to_dict()
    assert values == {
        "a": "sgd",
        "b": "adam",
        "difference": -0.01,
        "ci95": [-0.02, 0.0],
        "p_adjusted": 0.3,
        "verdict": "none",
    }
    assert claims.Claim.from_dict(values) == claim
    for key, bad, message in (
        ("verdict", "sgd", "verdict must be one of a, b, none"),
        ("verdict", "a", "verdict must be 'none' when p_adjusted >= 0.05"),
        ("p_adjusted", 1.5, "p_adjusted must be in"),
        ("ci95", [0.1, -0.1], r"ci95\[1\] must be"),
        ("difference", "x", "difference must be"),
    ):
        with pytest.raises(ValueError, match="Claim: " + message):
            claims.Claim.from_dict({**values, key: bad})
    with pytest.raises(ValueError, match=r"Claim: field .extra. must be one of a, b"):
        claims.Claim.from_dict({**values, "extra": 1})


def test_tunability_curves_take_diverged_trials_as_the_worst() -> None:
    # a loss: a diverged trial is +inf, the worst; the curve is inf until the
    # draws must include a finite one (here: at k = 1 only)
    curve = tuning.expected_best([math.inf, 0.5, 0.25], higher_is_better=False)
    assert curve[0] == math.inf
    assert curve[1] == pytest.approx((0.5 + 0.25 + 0.25) / 3)
    assert curve[2] == 0.25
    assert tuning.best_of_first([0.5, math.inf, 0.25], higher_is_better=False) == [
        0.5,
        0.5,
        0.25,
    ]
    assert tuning.best_of_first([0.2, 0.9, 0.5]) == [0.2, 0.9, 0.9]
    with raises_about("expected_best", "scores"):
        tuning.expected_best([math.inf, 0.5])  # +inf is the best accuracy: refused
