"""The optimizers page, checked against formulas derived independently of the classes: the bowl's
eigenvalues, the roots of momentum's recurrence, the running means of a constant gradient, and
Adam's equations replayed on the gradients of the article's network."""

from __future__ import annotations

import numpy as np
import pytest

import scratch_mlp as sm
from docs import optimizers as op
from docs import step_size


def along(path):
    """A path's distances to the bottom along the steep and the flat axis: ``(steep, flat)``."""
    return (path @ op.AXES).T


def roots(lr_lambda, mu):
    """The roots of r^2 - (1 + mu - lr lambda) r + mu, momentum's recurrence along one axis."""
    return np.roots([1, -(1 + mu - lr_lambda), mu])


def test_the_bowl_has_curvatures_10_and_0_2_along_axes_turned_by_30_degrees():
    np.testing.assert_allclose(np.linalg.eigvalsh(op.A), [0.2, 10.0])
    np.testing.assert_allclose(op.A @ op.AXES, op.AXES * [10.0, 0.2], atol=1e-12)
    assert abs(op.AXES[0, 0]) == pytest.approx(np.cos(np.radians(30)))


@pytest.mark.parametrize(
    ("lr", "steep", "flat"), [(0.18, -0.8, 0.964), (0.19, -0.9, 0.962), (0.21, -1.1, 0.958)]
)
def test_sgd_multiplies_each_axis_distance_by_one_minus_lr_lambda(lr, steep, flat):
    for c, factor in zip(along(op.descend(sm.SGD(lr=lr), steps=10)), (steep, flat), strict=True):
        np.testing.assert_allclose(c[1:] / c[:-1], factor, rtol=1e-9)


@pytest.mark.parametrize(("lr", "mu"), [(0.05, 0.8), (0.02, 0.9), (0.35, 0.8)])
def test_momentum_swings_across_the_steep_axis_shrinking_by_sqrt_mu_at_the_roots_pace(lr, mu):
    steep = along(op.descend(sm.SGD(lr=lr, momentum=mu), steps=80))[0]
    crossings, decay = op.swings(steep)
    assert decay == pytest.approx(np.sqrt(mu), rel=0.01)
    # Half a turn of the complex roots between two crossings.
    angle = abs(np.angle(roots(lr * 10.0, mu)[0]))
    assert np.diff(crossings).mean() == pytest.approx(np.pi / angle, rel=0.05)
    assert len(crossings) >= 6


@pytest.mark.parametrize("mu", [0.5, 0.8, 0.9])
def test_momentums_roots_have_size_sqrt_mu_inside_the_stated_range_and_are_stable_below_2_1_mu(mu):
    lr_lambda = np.linspace(0.001, 4.5, 451)
    size = np.array([np.abs(roots(x, mu)) for x in lr_lambda])
    low, high, limit = (1 - np.sqrt(mu)) ** 2, (1 + np.sqrt(mu)) ** 2, 2 * (1 + mu)
    clear = np.min(np.abs(lr_lambda[:, None] - [low, high, limit]), axis=1) > 1e-6
    on_circle = np.isclose(size, np.sqrt(mu)).all(axis=1)
    np.testing.assert_array_equal(on_circle[clear], ((low < lr_lambda) & (lr_lambda < high))[clear])
    np.testing.assert_array_equal((size.max(axis=1) < 1)[clear], (lr_lambda < limit)[clear])


def test_momentum_past_2_one_plus_mu_over_lambda_grows_by_its_real_root_beyond_minus_1():
    outside = along(op.descend(sm.SGD(lr=0.37, momentum=0.8)))[0]  # the limit: 0.36
    root = min(roots(0.37 * 10.0, 0.8).real)
    assert root < -1 and outside[-1] / outside[-2] == pytest.approx(root, rel=1e-3)


def test_momentum_beats_sgd_at_its_best_rate_because_of_the_flat_axis():
    sgd, momentum = op.descend(sm.SGD(lr=0.18)), op.descend(sm.SGD(lr=0.05, momentum=0.8))
    assert op.bowl_loss(momentum)[-1] < op.bowl_loss(sgd)[-1] / 10
    flat = along(momentum)[1]
    assert flat[-1] / flat[-2] == pytest.approx(max(roots(0.05 * 0.2, 0.8).real), rel=1e-3)
    assert flat[-1] < along(sgd)[1][-1] / 4


T = np.arange(1, 1001)[:, None]  # the steps, as a column


@pytest.mark.parametrize(
    ("make", "m_bias", "v_bias"),  # for a constant g, m_t = m_bias g and v_t = v_bias g^2
    [
        (lambda: sm.RMSProp(lr=0.01), 1, 1 - 0.99**T),
        (lambda: sm.Adam(lr=0.01), 1, np.ones_like(T)),  # both corrected away
        (lambda: sm.Adam(lr=0.01, bias_correction=False), 1 - 0.9**T, 1 - 0.999**T),
    ],
    ids=["RMSProp", "Adam", "Adam without bias correction"],
)
def test_a_steady_gradients_steps_follow_the_running_means_of_a_constant(make, m_bias, v_bias):
    g = np.abs(op.STEADY_GRADIENT)  # two coordinates, 50,000 times apart
    steps = op.steady_steps(make(), op.STEADY_GRADIENT, 1000) / 0.01
    np.testing.assert_allclose(steps, m_bias * g / (np.sqrt(v_bias) * g + 1e-8), rtol=1e-9)


@pytest.mark.parametrize(
    ("make", "size"), [(lambda: sm.RMSProp(lr=0.3), 3.0), (lambda: sm.Adam(lr=0.5), 0.5)]
)
def test_the_first_step_on_the_bowl_is_the_same_in_both_coordinates(make, size):
    np.testing.assert_allclose(np.abs(op.descend(make(), 1)[1] - op.START), size, rtol=1e-6)


def test_adams_steps_on_the_network_are_lr_at_first_then_short_where_the_gradient_flipped():
    params, X, y = step_size.article_start()
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    optimizer, gradients, steps = sm.Adam(lr=lr), [], []
    for _ in range(3):
        before = step_size.flat(params)
        gradients.append(step_size.gradient(params, X, y))
        sm.train(params, X, y, sm.mse_loss, optimizer, steps=1)
        steps.append(np.abs(step_size.flat(params) - before))
    g, steps = np.array(gradients), np.array(steps)  # (3, 193): t = 1, 2, 3
    np.testing.assert_allclose(steps[0], lr, rtol=1e-5)  # every parameter, whatever its gradient
    # Step 3 from Adam's equations: m and v are weighted sums of the three gradients.
    m_hat = ((1 - beta1) * beta1 ** np.arange(2, -1, -1)) @ g / (1 - beta1**3)
    v_hat = ((1 - beta2) * beta2 ** np.arange(2, -1, -1)) @ g**2 / (1 - beta2**3)
    np.testing.assert_allclose(steps[2], lr * np.abs(m_hat) / (np.sqrt(v_hat) + eps), rtol=1e-6)
    short, flipped = steps[2] < lr / 2, np.any(np.sign(g[1:]) != np.sign(g[:-1]), axis=0)
    assert steps[2].min() < lr / 50 and short.sum() > len(short) / 2 and np.all(flipped[short])
    # Without the correction the first step is lr (1 - beta1) / sqrt(1 - beta2), and overshoots.
    uncorrected = sm.Adam(lr=lr, bias_correction=False)
    (loss_1, largest, smallest), (loss_2, *_) = op.largest_and_smallest_steps(
        uncorrected, *step_size.article_start(), 2
    )
    assert largest == pytest.approx(lr * (1 - beta1) / np.sqrt(1 - beta2), rel=1e-6)
    assert smallest == pytest.approx(largest, rel=1e-4) and loss_2 > loss_1


def test_sgd_diverges_past_its_edge_where_adam_reaches_the_noise_over_a_wide_range():
    params, X, y = step_size.article_start()
    assert op.final_loss(sm.SGD(lr=0.0316), params, X, y, steps=100) == np.inf
    assert np.isfinite(op.final_loss(sm.SGD(lr=0.0178), params, X, y, steps=100))
    noise = np.mean((y - np.sin(X)) ** 2)  # the loss of the true curve
    for lr in (0.00562, 0.178):  # two of the sweep's rates; from about 0.3 the outcome is ragged
        assert op.final_loss(sm.Adam(lr=lr), params, X, y) < 1.1 * noise
