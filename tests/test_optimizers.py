"""SGD and Adam, step by step, against arithmetic done by hand."""

import math

import numpy as np
import pytest

import scratch_mlp as sm


def test_sgd_step_is_lr_times_the_gradient():
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
    grads = {"W1": np.array([[0.3, 0.1]]), "b1": np.array([[-1.0]])}
    sm.SGD(lr=0.5).step(params, grads)
    np.testing.assert_array_equal(params["W1"], [[1.0 - 0.15, -2.0 - 0.05]])
    np.testing.assert_array_equal(params["b1"], [[1.0]])


def test_adam_trajectory_computed_by_hand():
    # L = w^2 / 2, so g = w. lr = 0.1, betas (0.9, 0.999), eps 1e-8, w0 = 1.
    # t=1: g=1, m=0.1, v=0.001, m_hat=1, v_hat=1: w1 = 1 - 0.1 * 1 / (1 + 1e-8)
    # t=2: g=w1~0.9, m = 0.9*0.1 + 0.1*0.9 = 0.18, v = 0.999*0.001 + 0.001*0.81 = 0.001809,
    #      m_hat = 0.18 / (1 - 0.81) = 18/19, v_hat = 0.001809 / (1 - 0.998001) = 1809/1999
    #      w2 = 0.9 - 0.1 * (18/19) / sqrt(1809/1999)           (eps negligible here)
    w1 = 1 - 0.1 / (1 + 1e-8)
    w2_by_hand = 0.9 - 0.1 * (18 / 19) / math.sqrt(1809 / 1999)
    params = {"W1": np.array([[1.0]])}
    adam = sm.Adam(lr=0.1)
    trajectory = []
    for _ in range(3):
        adam.step(params, {"W1": params["W1"].copy()})
        trajectory.append(float(params["W1"][0, 0]))
    assert trajectory[0] == pytest.approx(w1, rel=1e-15)
    assert trajectory[1] == pytest.approx(w2_by_hand, rel=1e-7)
    # The same recursion in scalar arithmetic, exactly as Algorithm 1 of Kingma & Ba states it.
    w, m, v = 1.0, 0.0, 0.0
    expected = []
    for t in range(1, 4):
        g = w
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w -= 0.1 * (m / (1 - 0.9**t)) / (math.sqrt(v / (1 - 0.999**t)) + 1e-8)
        expected.append(w)
    np.testing.assert_allclose(trajectory, expected, rtol=1e-14)
    assert adam.t == 3


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_adam_first_step_is_about_lr_per_coordinate_whatever_the_gradient_scale(scale):
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal((1, 3))}
    start = {name: p.copy() for name, p in params.items()}
    # Gradients of magnitude 0.5 to 1.5 times scale, both signs, so none is near eps.
    grads = {
        name: scale * rng.choice([-1, 1], p.shape) * rng.uniform(0.5, 1.5, p.shape)
        for name, p in params.items()
    }
    sm.Adam(lr=0.01).step(params, grads)
    for name in params:
        step = start[name] - params[name]
        # m_hat / sqrt(v_hat) = g / |g| at t = 1, so each coordinate moves by lr against its sign.
        # (eps shortens it by eps / |g|, at most 2e-5 here.)
        np.testing.assert_allclose(step, 0.01 * np.sign(grads[name]), rtol=1e-4)


def test_adam_counts_t_once_per_step_for_all_tensors():
    rng = np.random.default_rng(1)
    names = ["W1", "b1", "W2", "b2"]
    params = {name: rng.standard_normal((3, 2)) for name in names}
    alone = {name: {name: params[name].copy()} for name in names}
    together = sm.Adam(lr=0.05, betas=(0.8, 0.99))
    separate = {name: sm.Adam(lr=0.05, betas=(0.8, 0.99)) for name in names}
    for _ in range(5):
        grads = {name: rng.standard_normal((3, 2)) for name in names}
        together.step(params, grads)
        for name in names:
            separate[name].step(alone[name], {name: grads[name]})
    assert together.t == 5
    # Had t advanced once per tensor, the last tensors would see t = 4 x steps and a different
    # bias correction; one count per step makes each tensor's update independent of the others.
    for name in names:
        np.testing.assert_array_equal(params[name], alone[name][name])


def test_adam_without_bias_correction_takes_the_larger_first_step():
    params = {"W1": np.array([1.0])}
    sm.Adam(lr=0.1, bias_correction=False).step(params, {"W1": np.array([2.0])})
    # m = 0.1 g, v = 0.001 g^2: m / sqrt(v) = 0.1 / sqrt(0.001) = 3.16..., a step of 3.16 lr.
    assert 1.0 - params["W1"][0] == pytest.approx(0.1 * 0.1 / math.sqrt(0.001), rel=1e-6)


def test_optimizer_state_and_params_stay_float32():
    params = {"W1": np.ones((2, 2), dtype=np.float32)}
    adam = sm.Adam(lr=1e-3)
    for _ in range(3):
        adam.step(params, {"W1": np.full((2, 2), 0.5, dtype=np.float32)})
    assert params["W1"].dtype == np.float32
    assert adam.m["W1"].dtype == np.float32 and adam.v["W1"].dtype == np.float32
