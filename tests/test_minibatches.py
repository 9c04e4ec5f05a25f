"""The "Mini-batches and held-out data" page, checked on its own functions: what its text says
holds, measured by independent means where there are any."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_mlp as sm
from docs import minibatches as mb


def test_a_logged_loss_is_the_loss_train_reports_before_that_update():
    # train's losses[k] is measured on the parameters after k updates, before update k + 1: the
    # log must have measured the same parameters, so the same number, bit for bit.
    params, X, y = mb.article_problem()
    losses = sm.train(params, X, y, sm.mse_loss, sm.Adam(lr=0.01), steps=101)
    _, log = mb.train_logged(101, {"training": (X, y)}, every=20)
    assert log["updates"].tolist() == [0, 20, 40, 60, 80, 100]
    assert log["training"].tolist() == [losses[k] for k in log["updates"]]


def test_training_and_held_out_losses_are_measured_at_the_same_moments():
    _, X, y = mb.article_problem()
    sets = {"training": (X, y), "held-out": mb.held_out_points()}
    params, log = mb.train_logged(60, sets, every=20)
    assert len(log["updates"]) == len(log["training"]) == len(log["held-out"]) == 4
    # The last entries are the losses of the parameters train returned.
    for name, points in sets.items():
        assert log[name][-1] == mb.loss_on(params, *points)
    # Before any update the two sets score the same network: within a few percent of each other.
    assert log["held-out"][0] == pytest.approx(log["training"][0], rel=0.05)


def test_small_batches_reach_the_threshold_after_fewer_examples_but_more_updates():
    _, X, y = mb.article_problem()
    seen = {}
    for b in (1, 16, 200):
        log = mb.train_logged(1200, {"training": (X, y)}, batch_size=b)[1]
        seen[b] = mb.examples_to_threshold(log, b)
    assert seen[1] < seen[16] < seen[200] / 4
    assert seen[1] > seen[200] // 200  # in updates (examples / batch), the full batch is ahead


def test_multiply_adds_grow_with_the_rows_and_count_each_product_once():
    # [1, 64, 1]: forward 64 + 64, backward dW 64 + 64, d_X of the second layer 64.
    assert mb.multiply_adds_per_step([1, 64, 1], 1) == 320
    assert mb.multiply_adds_per_step([1, 64, 1], 200) == 200 * 320
    assert mb.multiply_adds_per_step([2, 3, 4], 5) == 5 * (2 * 6 + 3 * 12)


def test_the_operation_count_grows_with_the_rows_except_adams_update():
    sizes = [1, 64, 1]
    parameters = sum(p.size for p in sm.init_mlp(sizes, np.random.RandomState(0)).values())
    one, full = mb.operations_per_step(sizes, 1), mb.operations_per_step(sizes, 200)
    assert one["update"] == full["update"] == mb.ADAM_OPERATIONS * parameters == 13 * 193
    for part in ("products", "entrywise"):
        assert full[part] == 200 * one[part]
    assert one["products"] == 2 * mb.multiply_adds_per_step(sizes, 1)  # a multiply-add is 2
    assert one["total"] == one["products"] + one["entrywise"] + one["update"]
    # At batch 1 Adam's update outweighs the forward and backward passes, so the whole step
    # grows far less than 200-fold.
    assert one["update"] > one["products"] + one["entrywise"]
    assert 20 < full["total"] / one["total"] < 100


def test_a_200_row_step_costs_nowhere_near_its_arithmetic_multiple_of_a_1_row_step():
    one, full = mb.seconds_per_step(1, steps=200), mb.seconds_per_step(200, steps=200)
    arithmetic = (
        mb.operations_per_step([1, 64, 1], 200)["total"]
        / (mb.operations_per_step([1, 64, 1], 1)["total"])
    )
    assert one < full < arithmetic / 5 * one  # 56 times the arithmetic; about 2 times the time


def test_smooth_stretch_ends_before_the_training_loss_first_rises():
    log = {"updates": np.arange(0, 140, 20), "training": np.array([5, 4, 3, 3, 2, 2.5, 1.0])}
    assert log["updates"][mb.smooth_stretch(log, start=20)].tolist() == [20, 40, 60, 80]
    falling = {"updates": np.arange(0, 60, 20), "training": np.array([3.0, 2, 1])}
    assert falling["updates"][mb.smooth_stretch(falling, start=0)].tolist() == [0, 20, 40]


def test_the_fit_beats_the_noise_on_its_own_points_and_not_on_fresh_ones():
    _, X, y = mb.article_problem()
    X_held, y_held = mb.held_out_points()
    # The true function scores the noise: an independent oracle for the noise of each set.
    assert mb.noise_of(X, y) == pytest.approx(0.01, rel=0.2)
    assert mb.noise_of(X_held, y_held) == pytest.approx(0.01, rel=0.2)
    _, log = mb.train_logged(2000, {"training": (X, y), "held-out": (X_held, y_held)})
    training, held = log["training"], log["held-out"]
    assert training[-1] < mb.noise_of(X, y)
    assert held[-1] > mb.noise_of(X_held, y_held)
    # Before the jitter, the training loss falls at every measurement, for hundreds of updates,
    # while the held-out loss does not fall: the gap widens.
    stretch = mb.smooth_stretch(log)
    updates = log["updates"][stretch]
    assert updates[0] == 500 and updates[-1] - updates[0] >= 500
    assert np.all(np.diff(training[stretch]) <= 0)
    assert held[stretch][-1] >= held[stretch][0]
    # Averaged over the jittery last 500 updates the gap is still wider than at update 500.
    last = log["updates"] > 1500
    assert held[last].mean() - training[last].mean() > held[stretch][0] - training[stretch][0]
