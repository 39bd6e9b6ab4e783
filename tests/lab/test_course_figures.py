"""The figures a learner of the notes wants, read back from their data and from the
drawn Figure: note 001's residuals and loss curve, SSE against cross-entropy,
Keskar's flat and sharp minima, momentum against NAG, AdamP's projection, and the
notes' MNIST loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdlab import losses, optim
from gdlab.lab import figures
from gdlab.report import course


def test_residuals_and_the_loss_curve_of_note_001() -> None:
    r = figures.residuals(lr=0.1, steps=3)
    np.testing.assert_array_equal(r.residuals, [1.0, -2.0])  # ŷ = 4, 3 for y = 3, 5
    # MSE(m, 5) = ½[(m + 2)² + (2m)²]; ∂/∂m = 5m + 2, so m: −1, −0.7, −0.55, −0.475
    np.testing.assert_allclose(r.steps, [-1.0, -0.7, -0.55, -0.475], rtol=1e-12)
    np.testing.assert_allclose(r.curve, 0.5 * ((r.grid + 2) ** 2 + 4 * r.grid**2))
    fig = course.plot_residuals(r)
    left, right = fig.axes
    segments = [ln.get_ydata() for ln in left.get_lines()[2:4]]
    assert [tuple(s) for s in segments] == [(3.0, 4.0), (5.0, 3.0)]
    np.testing.assert_allclose(right.get_lines()[1].get_xdata(), r.steps)


def test_sse_against_cross_entropy_on_saitos_output() -> None:
    c = figures.sse_vs_cee()
    _, wrong = c.outputs.values()
    assert c.sse["right (0.6 on class 2)"] == pytest.approx(0.0975)
    assert c.sse["wrong (0.6 on class 7)"] == pytest.approx(0.5975)
    assert c.cee["right (0.6 on class 2)"] == pytest.approx(-math.log(0.6))
    assert c.cee["wrong (0.6 on class 7)"] == pytest.approx(-math.log(0.1))
    t = np.eye(10)[2]
    assert losses.sse(wrong, t)[0] == pytest.approx(c.sse["wrong (0.6 on class 7)"])
    # near p = 0 SSE stays bounded while cross-entropy grows without bound
    assert c.sse_curve[0] < 0.6 and c.cee_curve[0] > 4.5
    fig = course.plot_sse_vs_cee(c)
    np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), -np.log(c.p))


def test_keskar_flat_minimum_loses_less_on_the_shifted_test_curve() -> None:
    f = figures.flat_sharp(shift=0.4)
    np.testing.assert_allclose(f.test, figures.well_loss(f.x - 0.4))
    gaps = f.gaps()

    def loss(z: float) -> float:  # the two wells, written out
        return 1 - math.exp(-((z + 2) ** 2) / 2.88) - math.exp(-((z - 2) ** 2) / 0.125)

    assert gaps["flat"] == pytest.approx(loss(-2.4) - loss(-2.0), rel=1e-12)
    assert gaps["sharp"] == pytest.approx(loss(1.6) - loss(2.0), rel=1e-12)
    assert gaps["flat"] == pytest.approx(0.054, abs=1e-3)
    assert gaps["sharp"] > 10 * gaps["flat"]
    train, test = course.plot_flat_sharp(f).axes[0].get_lines()[:2]
    assert test.get_linestyle() == "--"
    np.testing.assert_array_equal(train.get_ydata(), f.train)


def test_nesterov_ends_closer_than_momentum_on_the_quadratic() -> None:
    p = figures.momentum_nag_paths()
    finals = p.final_values()
    assert finals["nesterov (lr=0.1)"] < finals["momentum (lr=0.1)"] / 2
    heavy = np.array([-7.0, 2.0])
    v = np.zeros(2)
    for _ in range(40):  # b ← μb + g; θ ← θ − ηb on x²/20 + y²
        v = 0.9 * v + np.array([heavy[0] / 10, 2 * heavy[1]])
        heavy = heavy - 0.1 * v
    np.testing.assert_allclose(p.paths["momentum (lr=0.1)"][-1], heavy, rtol=1e-10)


def test_adamp_projects_on_a_scale_invariant_loss() -> None:
    p = figures.adamp_projection(steps=60)
    assert p.max_cosine < 1e-10 < p.threshold  # the projection acts at every step
    assert p.norms["Adam"][-1] > 2.0 * p.norms["AdamP"][-1]
    assert p.norms["AdamP"][-1] < 1.3
    # with the projection off (δ = 0) AdamP is Adam, step for step
    w = np.ones((1, 8)) / math.sqrt(8)
    a, b = w.copy(), w.copy()
    adam, off = optim.Adam({"w": a}, lr=0.1), optim.AdamP({"w": b}, lr=0.1, delta=0.0)
    g = np.arange(8.0).reshape(1, 8) - (np.arange(8.0) @ w[0]) * w
    for _ in range(3):
        adam.step({"w": g})
        off.step({"w": g})
    np.testing.assert_allclose(a, b, rtol=1e-12)
    left = course.plot_adamp(p).axes[0]
    np.testing.assert_allclose(left.get_lines()[1].get_ydata(), p.norms["AdamP"])


def test_the_notes_run_evaluates_every_third_iteration_on_digits() -> None:
    history = figures.notes_run(iterations=10)
    assert [r["step"] for r in history.epochs] == [1, 4, 7, 10]
    fig = course.plot_notes_run(
        [s["loss"] for s in history.steps],
        [r["train_acc"] for r in history.epochs],
        [r["test_acc"] for r in history.epochs],
        "the course notes' MNIST loop — digits 8×8",
    )
    whole, zoom, acc = fig.axes
    assert whole.get_ylim() == zoom.get_ylim() == (0.0, 3.0)
    assert acc.get_ylim() == (0.0, 1.0)
    assert [ln.get_linestyle() for ln in acc.get_lines()] == ["-", "--"]
