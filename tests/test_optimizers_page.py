"""The optimizers page against oracles derived apart from the classes: the bowl's eigenvalues, the
roots of momentum's recurrence, the running means of a constant gradient, the signs of gradients."""

import numpy as np
import pytest

import scratch_mlp as sm
from docs import optimizers as op
from docs import step_size


def roots(lr_lambda, mu):
    """The roots of r^2 - (1 + mu - lr lambda) r + mu, momentum's recurrence along one axis."""
    return np.roots([1, -(1 + mu - lr_lambda), mu])


@pytest.mark.parametrize(
    ("lr", "mu", "axis", "ratio"),  # axis 0 is the steep one (curvature 10), 1 the flat one (0.2)
    [
        (0.18, 0, 0, -0.8),
        (0.18, 0, 1, 0.964),
        (0.21, 0, 0, -1.1),  # past 2 / lambda: a zigzag that grows
        (0.05, 0.8, 1, max(roots(0.05 * 0.2, 0.8).real)),
        (0.37, 0.8, 0, min(roots(0.37 * 10, 0.8).real)),  # < -1
    ],
)
def test_each_axis_of_the_bowl_shrinks_or_grows_by_its_recurrences_factor(lr, mu, axis, ratio):
    c = op.descend(sm.SGD(lr=lr, momentum=mu)) @ op.AXES[:, axis]  # the distance to the bottom
    np.testing.assert_allclose(c[-5:] / c[-6:-1], ratio, rtol=1e-3)


def test_on_the_turned_bowl_momentum_beats_sgd_at_its_best_rate():
    sgd, momentum = op.descend(sm.SGD(lr=0.18)), op.descend(sm.SGD(lr=0.05, momentum=0.8))
    assert op.bowl_loss(momentum)[-1] < op.bowl_loss(sgd)[-1] / 10
    assert momentum[-1] @ op.AXES[:, 1] < sgd[-1] @ op.AXES[:, 1] / 4  # by the flat axis


@pytest.mark.parametrize(("lr", "mu"), [(0.05, 0.8), (0.35, 0.8)])  # the page's; by its limit
def test_momentum_swings_across_the_steep_axis_shrinking_by_sqrt_mu_at_the_roots_pace(lr, mu):
    steep = op.descend(sm.SGD(lr=lr, momentum=mu), steps=80) @ op.AXES[:, 0]
    crossings, decay = op.swings(steep)
    assert decay == pytest.approx(np.sqrt(mu), rel=0.01)
    # Half a turn of the complex roots between two crossings.
    angle = abs(np.angle(roots(lr * 10.0, mu)[0]))
    assert np.diff(crossings).mean() == pytest.approx(np.pi / angle, rel=0.05)
    assert len(crossings) >= 6


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
    first = np.abs(op.descend(make(), 1)[1] - op.START) / 0.01  # another gradient, same step
    np.testing.assert_allclose(first, steps[0, 1], rtol=1e-6)


def test_adams_steps_on_the_network_are_lr_at_first_then_short_where_the_gradient_flipped():
    (params, X, y), lr = step_size.article_start(), 0.01
    optimizer, gradients, losses, steps = sm.Adam(lr=lr), [], [], []
    for _ in range(3):
        before = step_size.flat(params)
        gradients.append(step_size.gradient(params, X, y))
        losses += sm.train(params, X, y, sm.mse_loss, optimizer, steps=1)
        steps.append(np.abs(step_size.flat(params) - before))
    g, steps = np.array(gradients), np.array(steps)  # (3, 193): t = 1, 2, 3
    table = op.largest_and_smallest_steps(sm.Adam(lr=lr), *step_size.article_start(), 3)
    assert table == list(zip(losses, steps.max(axis=1), steps.min(axis=1), strict=True))
    np.testing.assert_allclose(steps[0], lr, rtol=1e-5)  # every parameter, whatever its gradient
    short, flipped = steps[2] < lr / 2, np.any(np.sign(g[1:]) != np.sign(g[:-1]), axis=0)
    assert steps[2].min() < lr / 50 and short.sum() > len(short) / 2 and np.all(flipped[short])


def test_sgd_diverges_past_its_edge_where_adam_reaches_the_noise_over_a_wide_range():
    params, X, y = step_size.article_start()
    assert op.final_loss(sm.SGD(lr=0.0316), params, X, y, steps=100) == np.inf
    noise = np.mean((y - np.sin(X)) ** 2)  # the loss of the true curve
    for lr in (0.00562, 0.0316, 0.178):  # the sweep's; from about 0.3 the outcome is ragged
        assert op.final_loss(sm.Adam(lr=lr), params, X, y) < 1.1 * noise
