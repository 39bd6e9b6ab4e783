"""The course's worked examples: the right numbers, the notes' numbers beside them,
and the data and pictures of the notes' figures (read back from the Figure)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from gdlab import optim, surfaces
from gdlab.lab import examples, figures
from gdlab.report import course


def close(values: tuple[float, ...], expected: tuple[float, ...]) -> None:
    np.testing.assert_allclose(values, expected, rtol=1e-9, atol=1e-12)


def slip(example: examples.Example, quantity: str) -> examples.Slip:
    return next(s for s in example.slips if s.quantity == quantity)


def test_regression_step_and_the_notes_slips() -> None:
    e = examples.get("regression")
    close(e.values["MSE"], (2.5,))
    close(e.values["gradient (∂m, ∂b)"], (-3.0, -1.0))
    close(e.values["(m, b) after one step"], (-0.7, 5.1))
    close(e.values["MSE after one step"], (0.5 * (1.4**2 + 1.3**2),))
    close(e.values["largest stable lr"], (2 / ((7 + math.sqrt(45)) / 2),))
    # The notes' −7 and −3 are Σx²·r and Σx·r: one factor x too many each.
    notes = (slip(e, "∂MSE/∂m").notes[0], slip(e, "∂MSE/∂b").notes[0])
    close(e.values["Σ x²·r, Σ x·r"], notes)
    assert notes == (-7.0, -3.0)
    step = slip(e, "(m, b) after one step")
    assert step.notes == (-1.7, 5.3)
    assert -1 - 0.1 * notes[0] == pytest.approx(-0.3)  # their rule, their gradient
    text = e.format()
    assert "correct (-0.7, 5.1), notes (-1.7, 5.3)" in text
    assert "5m + 3b − 13 = -3" in text and "3m + 2b − 8  = -1" in text


def test_rmsprop_from_the_notes_premise() -> None:
    e = examples.get("rmsprop")
    close(e.values["v"], (0.01, 0.09, 0.04))
    np.testing.assert_allclose(e.values["step"], (0.01, -0.01, 0.01), rtol=1e-6)
    np.testing.assert_allclose(e.values["θ new"], (0.79, 1.21, 0.49), rtol=1e-8)
    assert slip(e, "v").notes == (0.009, 0.081, 0.038)
    assert slip(e, "θ new").notes == (0.79, 1.11, 0.48)
    np.testing.assert_allclose(
        e.values["the notes' g²/√v"], (0.105409, 0.316228, 0.102598), rtol=1e-5
    )
    # The optimizer itself, started from v = g², agrees.
    theta = np.array(examples.THETA)
    opt = optim.RMSprop({"θ": theta}, lr=0.01, alpha=0.9)
    state = opt.state_dict()
    state["state"]["θ"] = {"square_avg": np.array(examples.GRAD) ** 2}
    opt.load_state_dict(state)
    opt.step({"θ": np.array(examples.GRAD)})
    close(tuple(theta), e.values["θ new"])


def test_adam_first_step_is_lr_times_the_sign() -> None:
    e = examples.get("adam-first-step")
    sign = (1.0, -1.0, 1.0)
    for beta2 in ("0.999", "0.99"):
        np.testing.assert_allclose(
            e.values[f"step, β2 = {beta2}"], np.multiply(1e-3, sign), rtol=1e-6
        )
    close(e.values["m/√v without correction, β2 = 0.999"], (0.1 / math.sqrt(1e-3),))
    close(e.values["m/√v without correction, β2 = 0.99"], (1.0,))
    assert "β2 = 0.99" in e.remarks[0] and "0.999" in e.remarks[0]


def test_ema_raw_and_corrected() -> None:
    e = examples.get("ema")
    series = [40.0, 49.0, 45.0, 44.0, 46.0, 50.0, 52.0, 48.0]
    v, raw, corrected = 0.0, [], []
    for t, x in enumerate(series, start=1):
        v = 0.9 * v + 0.1 * x
        raw.append(v)
        corrected.append(v / (1 - 0.9**t))
    close(e.values["v"], tuple(raw))
    close(e.values["v corrected"], tuple(corrected))
    assert e.values["v"][0] == pytest.approx(4.0)
    assert e.values["v corrected"][0] == pytest.approx(40.0)
    close(e.values["window"], (10.0,))


def test_the_three_momentum_forms_are_one_sgd() -> None:
    e = examples.get("momentum-forms")
    assert len(e.values["max |form − SGD|"]) == 3
    assert max(e.values["max |form − SGD|"]) < 1e-12
    # dampening=β only approximates the EMA form: far apart on the way.
    assert e.values["max |dampening=β − EMA form|"][0] > 1.0
    assert "lr=α(1−β)" in e.format()


def test_nesterov_look_ahead_form_is_sgd_nesterov() -> None:
    e = examples.get("nag")
    assert e.values["max |look-ahead − SGD|"][0] < 1e-12
    nesterov, momentum = e.values["MSE, Nesterov vs momentum"]
    assert nesterov < momentum


def test_adagrad_gives_the_rarely_updated_weight_the_larger_step() -> None:
    e = examples.get("adagrad")
    # At t = 5 each weight has g = 0.1 and has been updated 5, 3 and 1 times.
    np.testing.assert_allclose(
        e.values["step at t = 5"],
        [0.01 / math.sqrt(5), 0.01 / math.sqrt(3), 0.01],
        rtol=1e-7,
    )
    step = e.values["step at t = 5"]
    assert step[2] > step[1] > step[0]
    expected = tuple(0.01 / math.sqrt(t) for t in range(1, 6))
    np.testing.assert_allclose(e.values["|step[0]| at t = 1..5"], expected, rtol=1e-7)


def test_the_notes_step_lines_reproduce_their_numbers() -> None:
    e = examples.get("regression")
    m, b = e.values["the notes' step lines as written"]
    assert m == pytest.approx(-1.7)  # 'm ≔ −1 −7λ = −1.7': arithmetic right
    assert b == pytest.approx(4.7) != 5.3  # 'b ≔ 5 −3λ = 5.3': as written, 4.7
    rule = e.values["θ − λ·(the notes' gradient)"]
    close(rule, (-0.3, 5.3))  # their 5.3 is the rule applied to their −3
    why = slip(e, "(m, b) after one step").reason
    assert "4.7" in why and "5 − λ·(−3)" in why


def test_the_notes_rmsprop_update_is_their_rate_times_abs_g() -> None:
    e = examples.get("rmsprop")
    theirs = np.array(e.values["θ − (the notes' g²/√v)·|g|"])
    assert tuple(np.round(theirs, 2)) == slip(e, "θ new").notes == (0.79, 1.11, 0.48)
    # The written "lr" 0.2 times |g| would give 0.46, not 0.48.
    assert round(0.5 - 0.2 * 0.2, 2) == 0.46
    assert theirs[2] == pytest.approx(0.5 - 0.02 / math.sqrt(0.038) * 0.2)
    why = slip(e, "θ new").reason
    assert "0.46" in why and "0.103" in why


def test_the_notes_wrong_claims_about_momentum_are_corrected() -> None:
    text = examples.get("momentum-forms").format()
    assert "where the course notes' claims are wrong:" in text
    assert "note 000: momentum SGD prevents overfitting" in text
    assert "note 002: Momentum 문제점: 느림, 평탄한 지점에서 학습 불가" in text
    assert "plain SGD's problem" in text
    assert [c.note for c in examples.momentum_claims()] == ["000", "002"]


def test_adadelta_first_step_by_hand() -> None:
    e = examples.get("adadelta")
    deltas = e.values["Δ[0] at t = 1..5"]
    by_hand = math.sqrt(1e-6) / math.sqrt(0.1 * 0.01 + 1e-6) * 0.1
    close(e.values["first Δ[0], by hand"], (by_hand,))
    assert deltas[0] == pytest.approx(by_hand, rel=1e-9)
    assert list(deltas) == sorted(deltas)  # the steps grow as u fills


def test_every_example_formats_and_is_listed() -> None:
    assert list(examples.summaries()) == examples.names()
    for name in examples.names():
        e = examples.get(name)
        text = e.format()
        assert text.startswith(f"{name}: ")
        assert ("where the course notes differ:" in text) == bool(e.slips)
        assert "seeds" not in text
    with pytest.raises(ValueError, match=r"^examples: name must be one of"):
        examples.get("newton")


def test_line_fit_is_the_regression_surface_on_the_notes_points() -> None:
    f, g = surfaces.line_fit([1.0, 2.0], [3.0, 5.0]), surfaces.get("regression")
    points = np.random.default_rng(0).normal(size=(7, 2)) * 3
    np.testing.assert_allclose(f.value(points), g.value(points), atol=1e-12)
    np.testing.assert_allclose(f.grad(points), g.grad(points), atol=1e-12)
    np.testing.assert_allclose(f.minima[0], (2.0, 1.0), atol=1e-12)
    one = surfaces.line_fit([2.0], [5.0])  # one point: a line of minima
    assert one.min_value == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"^line_fit: x and y must be"):
        surfaces.line_fit([1.0, 2.0], [3.0])


@pytest.fixture(scope="module")
def modes() -> figures.BatchModes:
    return figures.batch_modes()


def test_batch_modes_use_sampled_gradients(modes: figures.BatchModes) -> None:
    full, mini, single = modes.paths
    # Full batch: exactly plain GD on the whole data set's MSE.
    gd = surfaces.trajectory(modes.surface, "sgd", (-1.0, 5.0), lr=0.1, steps=100)
    np.testing.assert_allclose(modes.paths[full], gd, rtol=1e-12, atol=1e-12)
    # Smaller batches: noisy (not GD), yet all end near the least-squares line.
    assert np.max(np.abs(modes.paths[single] - gd)) > 0.1
    assert modes.batch_sizes == {full: 100, mini: 10, single: 1}
    for label, cost in modes.costs.items():
        assert cost.shape == (101,)
        np.testing.assert_allclose(cost, modes.surface.value(modes.paths[label]))
        assert cost[-1] < 0.1 * cost[0]
        assert cost[-1] >= modes.surface.min_value
    assert np.any(np.diff(modes.costs[single]) > 0)  # stochastic: not monotone


def test_batch_modes_figure_holds_the_paths_and_costs(
    modes: figures.BatchModes, tmp_path: Path
) -> None:
    fig = course.plot_batch_modes(modes, path=tmp_path / "b.png")
    assert isinstance(fig, Figure) and (tmp_path / "b.png").stat().st_size > 0
    paths_ax, costs_ax = fig.axes[:2]
    for label, p in modes.paths.items():
        line = next(ln for ln in paths_ax.get_lines() if ln.get_label() == label)
        np.testing.assert_allclose(line.get_xydata(), p)
        line = next(ln for ln in costs_ax.get_lines() if ln.get_label() == label)
        np.testing.assert_allclose(line.get_ydata(), modes.costs[label])
    assert costs_ax.get_yscale() == "log"


def test_ema_figure_holds_raw_and_corrected_curves() -> None:
    series = figures.noisy_series(50)
    curves = figures.ema_curves(series)
    assert list(curves) == [0.5, 0.9, 0.98]
    fig = course.plot_ema_curves(series, curves)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    np.testing.assert_allclose(lines["θ_t"].get_ydata(), series)
    for beta in (0.5, 0.9, 0.98):
        raw = lines[f"β = {beta:g}, raw"].get_ydata()
        corrected = next(
            ln.get_ydata()
            for label, ln in lines.items()
            if label.startswith(f"β = {beta:g} (") and "bias-corrected" in label
        )
        assert raw[0] == pytest.approx((1 - beta) * series[0])
        assert corrected[0] == pytest.approx(series[0])
        np.testing.assert_allclose(corrected, raw / (1 - beta ** np.arange(1, 51)))


def test_lr_decay_curves_use_the_notes_parameterizations(tmp_path: Path) -> None:
    decay = figures.lr_decay(lr=0.1, rate=0.05, epochs=100, warmup=10)
    fig = course.plot_lr_decay(decay, 100, ax=None)
    lines = {ln.get_label(): ln.get_ydata() for ln in fig.axes[0].get_lines()}
    epochs = np.arange(100)
    np.testing.assert_allclose(
        lines["lr₀·e^(−k·epoch), k = 0.05"], 0.1 * np.exp(-0.05 * epochs)
    )
    np.testing.assert_allclose(
        lines["lr₀/(1 + k·epoch), k = 0.05"], 0.1 / (1 + 0.05 * epochs)
    )
    np.testing.assert_allclose(
        lines["step: ×0.5 every 20 epochs"], 0.1 * 0.5 ** (epochs // 20)
    )
    np.testing.assert_allclose(
        lines["polynomial: lr₀·(1 − epoch/max)²"], 0.1 * (1 - epochs / 100) ** 2
    )
    np.testing.assert_allclose(
        lines["cosine annealing"], 0.05 * (1 + np.cos(np.pi * epochs / 100)), atol=1e-15
    )
    warm = lines["warm-up 10 epochs, then cosine"]
    # torch's LinearLR with start_factor 1/(W+1): lr·(t+1)/(W+1), then the decay
    np.testing.assert_allclose(warm[:11], 0.1 * np.arange(1, 12) / 11, atol=1e-15)
    assert not list(tmp_path.iterdir())  # no path: nothing written


def test_a_figure_draws_into_a_given_axes() -> None:
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    series = figures.noisy_series(10)
    assert course.plot_ema_curves(series, figures.ema_curves(series), ax=ax) is fig
    assert len(ax.get_lines()) == 7
