"""The update rules against their published equations written out plainly: in float32 to the
last bit, and Adam without bias correction (which PyTorch does not offer) in float64."""

import math

import numpy as np
import pytest

import scratch_mlp as sm

F32 = np.float32


def sgd_reference(lr, momentum=0.0):
    state = {}

    def step(params, grads):
        for name, p in params.items():
            g = grads[name]
            if momentum:
                b = state.get(name, np.zeros_like(p))
                g = state[name] = F32(momentum) * b + g
            params[name] = p - F32(lr) * g

    return step


def rmsprop_reference(lr, alpha, eps):
    state = {}

    def step(params, grads):
        for name, p in params.items():
            g = grads[name]
            v = state[name] = F32(alpha) * state.get(name, np.zeros_like(p)) + F32(1 - alpha) * g**2
            params[name] = p - F32(lr) * g / (np.sqrt(v) + F32(eps))

    return step


def adam_reference(lr, betas, eps, bias_correction=True):
    """Algorithm 1 of Kingma & Ba, line for line, on arrays of any dtype."""
    beta1, beta2 = betas
    state = {"t": 0}

    def step(params, grads):
        state["t"] += 1
        t = state["t"]
        for name, p in params.items():
            g = grads[name]
            m = beta1 * state.get(("m", name), np.zeros_like(p)) + (1 - beta1) * g
            v = beta2 * state.get(("v", name), np.zeros_like(p)) + (1 - beta2) * g**2
            state[("m", name)], state[("v", name)] = m, v
            m_hat = m / (1 - beta1**t) if bias_correction else m
            v_hat = v / (1 - beta2**t) if bias_correction else v
            params[name] = p - lr * (m_hat / (np.sqrt(v_hat) + eps))

    return step


OPTIMIZERS = {
    "SGD": (lambda: sm.SGD(0.05), lambda: sgd_reference(0.05)),
    "SGD momentum 0.9": (lambda: sm.SGD(0.05, momentum=0.9), lambda: sgd_reference(0.05, 0.9)),
    "RMSProp": (
        lambda: sm.RMSProp(0.01, alpha=0.9, eps=1e-6),
        lambda: rmsprop_reference(0.01, 0.9, 1e-6),
    ),
    "Adam": (
        lambda: sm.Adam(0.01, betas=(0.8, 0.99), eps=1e-6),
        lambda: adam_reference(0.01, (0.8, 0.99), 1e-6),
    ),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_updates_equal_the_same_arithmetic_in_float32_bit_for_bit(name):
    rng = np.random.default_rng(2)
    shapes = {"W1": (4, 3), "b1": (1, 3), "W2": (3, 2), "b2": (1, 2)}
    params = {k: rng.standard_normal(s).astype(F32) for k, s in shapes.items()}
    expected = {k: p.copy() for k, p in params.items()}
    make, make_reference = OPTIMIZERS[name]
    optimizer, reference = make(), make_reference()
    for _ in range(400):  # past t = 356, where Adam's 1 - beta1^t rounds to 1
        grads = {k: rng.standard_normal(s).astype(F32) for k, s in shapes.items()}
        optimizer.step(params, grads)
        reference(expected, grads)
        for k in params:
            assert params[k].dtype == F32
            assert np.array_equal(params[k], expected[k]), k
    state = [a for attr in ("velocity", "m", "v") for a in getattr(optimizer, attr, {}).values()]
    assert {a.dtype for a in state} <= {np.dtype(F32)}
    assert len(state) == {"SGD": 0, "SGD momentum 0.9": 4, "RMSProp": 4, "Adam": 8}[name]


def test_adam_without_bias_correction_follows_the_articles_formula_for_100_steps():
    rng = np.random.default_rng(3)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((1, 2))}
    expected = {k: p.copy() for k, p in params.items()}
    adam = sm.Adam(lr=0.01, bias_correction=False)
    reference = adam_reference(0.01, (0.9, 0.999), 1e-8, bias_correction=False)
    for _ in range(100):
        # The gradient of sum(p^2 / 2) plus a little noise: a real descent, not random steps.
        grads = {k: p + 0.1 * rng.standard_normal(p.shape) for k, p in params.items()}
        adam.step(params, grads)
        reference(expected, grads)
    for k in params:
        np.testing.assert_array_equal(params[k], expected[k])
    assert adam.t == 100
    # The first uncorrected step is (1 - beta1) / sqrt(1 - beta2) = 3.16 times lr.
    params = {"W1": np.array([1.0])}
    sm.Adam(lr=0.1, bias_correction=False).step(params, {"W1": np.array([2.0])})
    assert 1.0 - params["W1"][0] == pytest.approx(0.1 * 0.1 / math.sqrt(0.001), rel=1e-6)


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
    # Had t advanced once per tensor, the later tensors would see another bias correction.
    for name in names:
        np.testing.assert_array_equal(params[name], alone[name][name])
