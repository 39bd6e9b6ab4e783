"""Pairwise claims between optimizers, with studies as the unit of replication.

A comparison runs S *studies* (whole tuning procedures: search, selection,
reruns). For optimizers a and b, study i gives d_i = mean over its reruns of
a's test score minus b's, on matched rerun seeds (same initialization and batch
order for every optimizer). The claim rests on the S study differences only —
reruns of one study share its selected setting and are not independent:

* a paired t-test of H0: E[d] = 0, t = mean(d) / (sd(d) / sqrt(S)) with
  S − 1 degrees of freedom (Student 1908; any statistics text, e.g. Wasserman,
  *All of Statistics*, §10.5), two-sided, and the 95% interval
  mean(d) ± t_{0.975, S−1} · sd(d) / sqrt(S);
* the p-values of all pairs are adjusted by Holm's step-down procedure
  (Holm 1979, *Scand. J. Statist.* 6:65–70), which keeps the family-wise error
  rate at 0.05 whatever the dependence between pairs: sorted p(1) <= ... <= p(m),
  p_adj(j) = max_{k<=j} min(1, (m − k + 1) · p(k));
* the verdict is ``"a"`` or ``"b"`` (the better one) when p_adj < 0.05, else
  ``"none"``: no claim.

Optimizers with no claim between them share a letter in a compact letter display
(Piepho 2004, *J. Comput. Graph. Statist.* 13:456–466, insert-and-absorb).
With S = 1 no claim is possible (df = 0). ``gdlab``'s A/A check measures the
calibration (``tests/lab/test_claims_calibration.py``,
``benchmarks/bench_calibration.py``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from gdlab import _checks
from gdlab.results import LEVEL, VERDICTS, Claim, Verdict


def paired_t(differences: Sequence[float]) -> tuple[float, tuple[float, float], float]:
    """Mean, 95% interval and two-sided p-value of a paired t-test on the
    per-study differences (df = S − 1). Needs S >= 2.

    Zero spread: p = 1 if every difference is 0, else p = 0 (t is infinite).
    The t distribution is SciPy's ``stdtr``/``stdtrit`` (what ``scipy.stats.t``'s
    ``sf`` and ``ppf`` compute, without importing ``scipy.stats``).
    """
    from scipy.special import stdtr, stdtrit

    d = [float(x) for x in differences]
    if len(d) < 2 or not all(math.isfinite(x) for x in d):
        _checks.fail("paired_t", "differences", ">= 2 finite numbers", d)
    s = len(d)
    mean = statistics.fmean(d)
    sd = statistics.stdev(d)
    if sd == 0.0:
        return mean, (mean, mean), 1.0 if mean == 0.0 else 0.0
    se = sd / math.sqrt(s)
    half = float(stdtrit(s - 1, 0.975)) * se
    p = float(2.0 * stdtr(s - 1, -abs(mean) / se))
    return mean, (mean - half, mean + half), min(1.0, p)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda k: pvalues[k])
    adjusted = [1.0] * m
    running = 0.0
    for rank, k in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(pvalues[k])))
        adjusted[k] = running
    return adjusted


def pairwise(
    per_study: Mapping[str, Sequence[float | None]], *, higher_is_better: bool
) -> list[Claim]:
    """A claim for every pair (in the order of ``per_study``) from each
    optimizer's per-study score (mean of its reruns; None: every rerun diverged,
    which counts as the worst score there is: the other wins that study).

    Studies where both are None carry no information and are left out.
    """
    names = list(per_study)
    counts = {len(v) for v in per_study.values()}
    if len(counts) > 1:
        _checks.fail("pairwise", "per_study", "the same studies for all", counts)
    worst = -math.inf if higher_is_better else math.inf
    tests: list[tuple[str, str, float | None, tuple[float, float] | None, float]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            d = []
            for x, y in zip(per_study[a], per_study[b], strict=True):
                if x is None and y is None:
                    continue
                xa = worst if x is None else float(x)
                yb = worst if y is None else float(y)
                diff = xa - yb
                if math.isinf(diff):  # one diverged: the largest gap seen decides
                    diff = math.copysign(1.0, diff) * _big(per_study)
                d.append(diff)
            if len(d) < 2:
                mean = statistics.fmean(d) if d else None
                tests.append((a, b, mean, None, 1.0))
            else:
                tests.append((a, b, *paired_t(d)))
    adjusted = holm([p for *_, p in tests])
    out = []
    for (a, b, mean, ci, _), p_adj in zip(tests, adjusted, strict=True):
        verdict: Verdict = "none"
        if mean is not None and p_adj < LEVEL and mean != 0.0:
            a_better = mean > 0 if higher_is_better else mean < 0
            verdict = "a" if a_better else "b"
        out.append(Claim(a, b, mean, ci, p_adj, verdict))
    return out


def _big(per_study: Mapping[str, Sequence[float | None]]) -> float:
    """A stand-in gap for a study where one side diverged: the range of all
    finite scores (at least 1), so the diverged side loses it clearly."""
    xs = [float(v) for vs in per_study.values() for v in vs if v is not None]
    return max(1.0, max(xs, default=0.0) - min(xs, default=0.0))


def letters(order: Sequence[str], claims: Sequence[Claim]) -> dict[str, str]:
    """A compact letter display: optimizers sharing a letter have no claim
    between them (Piepho 2004's insert-and-absorb). ``order`` (best first) only
    decides which group gets "a"."""
    groups: list[set[str]] = [set(order)]
    for c in claims:
        if c.verdict == "none":
            continue
        split: list[set[str]] = []
        for g in groups:
            if c.a in g and c.b in g:
                split += [g - {c.a}, g - {c.b}]
            else:
                split.append(g)
        groups = [g for g in split if not any(g < h for h in split)]
        groups = [g for k, g in enumerate(groups) if g not in groups[:k]]
    rank = {n: k for k, n in enumerate(order)}
    groups.sort(key=lambda g: min(rank[n] for n in g))
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    return {
        n: "".join(alphabet[k % 26] for k, g in enumerate(groups) if n in g)
        for n in order
    }


def established(claims: Sequence[Claim], names: Sequence[str], studies: int) -> str:
    """One line: what the comparison established and what it did not."""
    pairs = len(claims)
    won = [c for c in claims if c.verdict != "none"]
    if studies < 2:
        return (
            f"established nothing: {studies} study cannot support a claim "
            "(the study is the unit of replication; use --studies 2 or more)"
        )
    if not pairs:
        return "established nothing: one optimizer, no pair to compare"
    if not won:
        return (
            f"established nothing: no difference among {len(names)} optimizers "
            f"survived the test over {studies} studies ({pairs} pairs, "
            "Holm-adjusted at 0.05)"
        )
    said = "; ".join(
        f"{c.winner} better than {c.b if c.winner == c.a else c.a}" for c in won
    )
    rest = pairs - len(won)
    return (
        f"established {len(won)} of {pairs} pairs over {studies} studies "
        f"(Holm-adjusted at 0.05): {said}"
        + (f"; no claim about the other {rest}" if rest else "")
    )


__all__ = [
    "LEVEL",
    "VERDICTS",
    "Claim",
    "Verdict",
    "established",
    "holm",
    "letters",
    "paired_t",
    "pairwise",
]
