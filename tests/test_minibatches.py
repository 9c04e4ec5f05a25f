"""The mini-batches page: its logs against ``train``, its operation counts against the layer
shapes, its held-out claims against the noise that sin(x) leaves on each set of points."""

import numpy as np
import pytest

import scratch_mlp as sm
from docs import minibatches as mb

SETS = {"training": mb.article_problem()[1:], "held-out": mb.held_out_points()}


@pytest.fixture(scope="module")
def held_out_run():
    """The page's section 2: full-batch Adam for 2000 updates, both sets logged every 20."""
    return mb.train_logged(2000, SETS)[1]


def test_both_sets_are_scored_on_the_parameters_train_has_at_that_moment():
    params, X, y = mb.article_problem()
    losses = sm.train(params, X, y, sm.mse_loss, sm.Adam(lr=0.01), steps=100)
    fitted, log = mb.train_logged(100, SETS, every=20)
    assert log["updates"].tolist() == [0, 20, 40, 60, 80, 100]
    assert len(log["training"]) == len(log["held-out"]) == len(log["updates"])
    # train's losses[k] is measured after k updates, before update k + 1.
    assert log["training"][:-1].tolist() == losses[::20]
    for name, points in SETS.items():  # the last: after update 100, what train returned
        assert log[name][-1] == mb.loss_on(fitted, *points) == mb.loss_on(params, *points)
    # Before any update one network scored on two draws of points: within a few percent.
    assert log["held-out"][0] == pytest.approx(log["training"][0], rel=0.05)


def test_small_batches_reach_the_threshold_on_fewer_examples_but_more_updates(held_out_run):
    runs = {1: 1200, 16: 400}  # updates enough to cross it
    seen = {b: mb.train_logged(n, SETS, batch_size=b)[1] for b, n in runs.items()}
    seen = {b: mb.examples_to_threshold(log, b) for b, log in seen.items()}
    seen[200] = mb.examples_to_threshold(held_out_run, 200)  # all rows at every update
    assert seen[1] < seen[16] < seen[200] / 4
    assert seen[1] / 1 > seen[16] / 16 > seen[200] / 200  # in updates the full batch is ahead


def test_a_200_row_step_has_far_less_than_200_times_the_arithmetic_or_the_time_of_a_1_row_step():
    sizes = [1, 64, 1]  # per row: X W1, A1 W2 forward; dW2, d_A1, dW1 backward: 64 each
    assert mb.multiply_adds_per_step(sizes, 1) == 5 * 64
    assert mb.multiply_adds_per_step([2, 3, 4], 5) == 5 * (2 * 2 * 3 + 3 * 3 * 4)
    parameters = sum(p.size for p in sm.init_mlp(sizes, np.random.default_rng(0)).values())
    one, full = mb.operations_per_step(sizes, 1), mb.operations_per_step(sizes, 200)
    assert one["update"] == full["update"]  # Adam's update: whatever the batch,
    assert one["update"] % parameters == 0  # a fixed count for each parameter
    assert all(full[part] == 200 * one[part] for part in ("products", "entrywise"))
    assert one["products"] == 2 * mb.multiply_adds_per_step(sizes, 1)  # a multiply-add is two
    assert one["update"] > one["products"] + one["entrywise"]  # at batch 1 the update outweighs
    arithmetic = full["total"] / one["total"]
    assert 20 < arithmetic < 100
    seconds = mb.seconds_per_step(1, steps=100), mb.seconds_per_step(200, steps=100)
    assert seconds[0] < seconds[1] < arithmetic / 5 * seconds[0]  # fixed costs dominate


def test_smooth_stretch_ends_before_the_training_loss_first_rises():
    log = {"updates": np.arange(0, 140, 20), "training": np.array([5, 4, 3, 3, 2, 2.5, 1.0])}
    assert log["updates"][mb.smooth_stretch(log, start=20)].tolist() == [20, 40, 60, 80]
    log = {"updates": np.arange(0, 60, 20), "training": np.array([3.0, 2, 1])}
    assert log["updates"][mb.smooth_stretch(log, start=0)].tolist() == [0, 20, 40]


def test_the_fit_beats_the_noise_on_its_own_points_and_not_on_fresh_ones(held_out_run):
    log = held_out_run
    noise = {name: mb.noise_of(*points) for name, points in SETS.items()}
    assert noise == pytest.approx(dict.fromkeys(SETS, 0.1**2), rel=0.2)  # the noise's variance
    training, held = log["training"], log["held-out"]
    assert training[-1] < noise["training"] and held[-1] > noise["held-out"]
    # From update 500, for hundreds of updates the training loss falls at every measurement
    # while the held-out loss does not fall: the gap widens.
    stretch = mb.smooth_stretch(log)
    assert log["updates"][stretch][-1] - 500 >= 500 and held[stretch][-1] >= held[stretch][0]
    last = log["updates"] > 1500  # and on average over Adam's jittery last 500 updates
    assert held[last].mean() - training[last].mean() > held[stretch][0] - training[stretch][0]
