"""The optimizers page, checked: each optimizer does on the bowl and on the network what its prose
says, against formulas derived independently of the classes (the bowl's eigenvalues, the roots
of momentum's recurrence, the running means of a constant gradient)."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_mlp as sm
from docs import optimizers as op
from docs import step_size

# Figures a test draws go to a temporary folder.
pytestmark = pytest.mark.usefixtures("in_temporary_folder")


def test_the_bowl_has_curvatures_10_and_0_2_along_its_turned_axes():
    eigenvalues, eigenvectors = np.linalg.eigh(op.A)
    np.testing.assert_allclose(eigenvalues, [0.2, 10.0])
    for k, curvature in enumerate((10.0, 0.2)):
        np.testing.assert_allclose(op.A @ op.AXES[:, k], curvature * op.AXES[:, k], atol=1e-12)
    assert abs(op.AXES[0, 0]) == pytest.approx(np.cos(np.radians(30)))  # turned by 30 degrees


@pytest.mark.parametrize(("lr", "factor"), [(0.18, -0.8), (0.19, -0.9), (0.21, -1.1)])
def test_sgd_multiplies_the_steep_coordinate_by_one_minus_lr_lambda(lr, factor):
    steep = (op.descend(sm.SGD(lr=lr), steps=10) @ op.AXES)[:, 0]
    np.testing.assert_allclose(steep[1:] / steep[:-1], factor, rtol=1e-9)


@pytest.mark.parametrize(("lr", "mu"), [(0.05, 0.8), (0.02, 0.9)])
def test_momentum_on_the_steep_axis_is_a_damped_oscillation_shrinking_by_sqrt_mu(lr, mu):
    steep = (op.descend(sm.SGD(lr=lr, momentum=mu), steps=80) @ op.AXES)[:, 0]
    crossings, decay = op.swings(steep)
    assert decay == pytest.approx(np.sqrt(mu), rel=0.01)
    # Half a turn of the complex roots of r^2 - (1 + mu - lr lambda) r + mu between crossings.
    angle = np.arccos((1 + mu - lr * 10.0) / (2 * np.sqrt(mu)))
    assert np.diff(crossings).mean() == pytest.approx(np.pi / angle, rel=0.05)
    assert len(crossings) >= 6  # not a zigzag at every step, and not a slide to one side
    assert np.diff(crossings).min() >= 2


@pytest.mark.parametrize("mu", [0.5, 0.8, 0.9])
def test_momentums_roots_have_size_sqrt_mu_exactly_inside_the_stated_range(mu):
    low, high = (1 - np.sqrt(mu)) ** 2, (1 + np.sqrt(mu)) ** 2
    for lr_lambda in np.linspace(0.001, 4.5, 451):
        roots = np.roots([1, -(1 + mu - lr_lambda), mu])
        inside = low < lr_lambda < high
        if inside or min(abs(lr_lambda - low), abs(lr_lambda - high)) > 1e-6:
            assert np.allclose(np.abs(roots), np.sqrt(mu)) == inside


def test_momentum_raises_the_stable_limit_from_2_to_2_one_plus_mu_over_lambda():
    mu, limit = 0.8, 2 * (1 + 0.8) / 10.0  # 0.36 on the bowl, against 0.2 for SGD
    inside = (op.descend(sm.SGD(lr=0.35, momentum=mu)) @ op.AXES)[:, 0]
    assert 0.35 > 2 / 10.0 and abs(inside[-1]) < abs(inside[0]) / 100
    assert op.swings(inside)[1] == pytest.approx(np.sqrt(mu), rel=0.01)  # complex roots
    outside = (op.descend(sm.SGD(lr=0.37, momentum=mu)) @ op.AXES)[:, 0]
    # Past 2 (1 + mu) / lambda a real root lies below -1, and the steep axis grows by its size.
    root = min(np.roots([1, -(1 + mu - 0.37 * 10.0), mu]).real)
    assert root < -1 and 0.37 > limit
    assert outside[-1] / outside[-2] == pytest.approx(root, rel=1e-3)


def test_momentum_beats_sgd_at_its_best_rate_because_of_the_flat_axis():
    sgd = op.descend(sm.SGD(lr=0.18))
    momentum = op.descend(sm.SGD(lr=0.05, momentum=0.8))
    assert op.bowl_loss(momentum)[-1] < op.bowl_loss(sgd)[-1] / 10
    flat_sgd, flat_momentum = (sgd @ op.AXES)[:, 1], (momentum @ op.AXES)[:, 1]
    assert flat_momentum[-1] / flat_momentum[-2] == pytest.approx(
        max(np.roots([1, -(1 + 0.8 - 0.05 * 0.2), 0.8]).real), rel=1e-3
    )
    assert flat_momentum[-1] < flat_sgd[-1] / 4


def test_rmsprop_first_step_is_ten_lr_in_every_coordinate_on_the_bowl():
    lr = 0.3
    first = np.abs(op.descend(sm.RMSProp(lr=lr), steps=1)[1] - np.array(op.START))
    np.testing.assert_allclose(first, 10 * lr, rtol=1e-6)  # 1 / sqrt(1 - alpha), alpha = 0.99


T = np.arange(1, 1001)[:, None]  # the steps, as a column
G = np.abs(op.STEADY_GRADIENT)  # two coordinates, 50,000 times apart
EPS = 1e-8


def test_for_a_steady_gradient_rmsprop_steps_are_lr_over_sqrt_of_one_minus_alpha_to_the_t():
    # v_t = (1 - alpha^t) g^2, so the step is lr g / (sqrt(1 - alpha^t) |g| + eps).
    steps = op.steady_steps(sm.RMSProp(lr=0.01), op.STEADY_GRADIENT, 1000) / 0.01
    np.testing.assert_allclose(steps, G / (np.sqrt(1 - 0.99**T) * G + EPS), rtol=1e-9)
    assert steps[0] == pytest.approx([10, 10], rel=1e-3)  # 1 / sqrt(1 - 0.99)
    assert steps[-1] == pytest.approx([1, 1], rel=1e-3)  # every coordinate about lr, in the end


def test_adam_steps_are_lr_from_the_first_and_the_uncorrected_ones_follow_their_formula():
    corrected = op.steady_steps(sm.Adam(lr=0.01), op.STEADY_GRADIENT, 1000) / 0.01
    np.testing.assert_allclose(corrected, G / (G + EPS) * np.ones_like(T), rtol=1e-9)
    raw = op.steady_steps(sm.Adam(lr=0.01, bias_correction=False), op.STEADY_GRADIENT, 1000) / 0.01
    np.testing.assert_allclose(raw, (1 - 0.9**T) * G / (np.sqrt(1 - 0.999**T) * G + EPS), rtol=1e-9)


def test_adam_first_step_on_the_bowl_and_on_the_network_is_lr_per_coordinate():
    first = np.abs(op.descend(sm.Adam(lr=0.5), steps=1)[1] - np.array(op.START))
    np.testing.assert_allclose(first, 0.5, rtol=1e-8)
    params, X, y = step_size.article_start()
    (loss, largest, smallest), _ = op.largest_and_smallest_steps(sm.Adam(lr=0.01), params, X, y, 2)
    assert largest == pytest.approx(0.01, rel=1e-6) and smallest == pytest.approx(0.01, rel=1e-5)
    uncorrected = sm.Adam(lr=0.01, bias_correction=False)
    raw = op.largest_and_smallest_steps(uncorrected, *step_size.article_start(), 2)
    assert raw[0][1] == pytest.approx(0.01 * 0.1 / np.sqrt(0.001), rel=1e-6)
    assert raw[1][0] > raw[0][0]  # without the correction the loss jumps up after the first step


def test_adams_short_steps_on_the_network_belong_to_gradients_that_changed_sign():
    # Adam's third step computed from its equations, from the gradients of train's own run.
    params, X, y = step_size.article_start()
    lr, (beta1, beta2), eps = 0.01, (0.9, 0.999), 1e-8
    optimizer, gradients = sm.Adam(lr=lr), []
    for _ in range(3):
        before = step_size.flat(params)
        gradients.append(step_size.gradient(params, X, y))
        sm.train(params, X, y, sm.mse_loss, optimizer, steps=1)
    g = np.array(gradients)  # (3, 193): t = 1, 2, 3
    m_hat = ((1 - beta1) * beta1 ** np.arange(2, -1, -1)) @ g / (1 - beta1**3)
    v_hat = ((1 - beta2) * beta2 ** np.arange(2, -1, -1)) @ g**2 / (1 - beta2**3)
    step = np.abs(step_size.flat(params) - before)
    np.testing.assert_allclose(step, lr * np.abs(m_hat) / (np.sqrt(v_hat) + eps), rtol=1e-6)
    assert step.min() < lr / 50  # far below lr by the third step
    short = step < lr / 2
    flipped = np.any(np.sign(g[1:]) != np.sign(g[:-1]), axis=0)
    assert short.sum() > len(step) / 2 and np.all(flipped[short])


def test_sgd_diverges_past_its_edge_where_adam_trains_to_the_noise():
    params, X, y = step_size.article_start()
    assert op.final_loss(sm.SGD(lr=0.0316), params, X, y, steps=100) == np.inf
    assert np.isfinite(op.final_loss(sm.SGD(lr=0.0178), params, X, y, steps=100))
    noise = np.mean((y - np.sin(X)) ** 2)
    assert op.final_loss(sm.Adam(lr=0.0316), params, X, y, steps=500) < 1.2 * noise
