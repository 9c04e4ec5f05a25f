"""The update rules against their published equations, written out plainly in float64: SGD and
its momentum as torch.optim.SGD documents them, RMSProp as Hinton's lecture 6e (and
torch.optim.RMSprop), Adam as Algorithm 1 of Kingma & Ba (2015), with and without its bias
correction. The implementations run in float32 and float64, on the same gradients."""

import numpy as np
import pytest
from conftest import gradient_steps

import scratch_mlp as sm


def sgd(lr, momentum=0.0):
    b = {}

    def step(theta, g, t):
        if momentum:  # b_t = mu b_{t-1} + g_t, from b_0 = 0; the step follows b_t
            b[t] = g if t == 1 else momentum * b[t - 1] + g
            g = b[t]
        return theta - lr * g

    return step


def rmsprop(lr, alpha, eps):
    v = {0: 0.0}

    def step(theta, g, t):
        v[t] = alpha * v[t - 1] + (1 - alpha) * g**2
        return theta - lr * g / (np.sqrt(v[t]) + eps)

    return step


def adam(alpha, beta1, beta2, eps, bias_correction=True):
    """Algorithm 1 as printed, its m_hat and v_hat the m and v themselves without correction."""
    m, v = {0: 0.0}, {0: 0.0}

    def step(theta, g, t):
        m[t] = beta1 * m[t - 1] + (1 - beta1) * g  # biased first moment estimate
        v[t] = beta2 * v[t - 1] + (1 - beta2) * g**2  # biased second raw moment estimate
        m_hat = m[t] / (1 - beta1**t) if bias_correction else m[t]
        v_hat = v[t] / (1 - beta2**t) if bias_correction else v[t]
        return theta - alpha * m_hat / (np.sqrt(v_hat) + eps)

    return step


OPTIMIZERS = {
    # name: (scratch_mlp's optimizer, the equations with the same hyperparameters)
    "SGD": (lambda: sm.SGD(0.05), lambda: sgd(0.05)),
    "SGD with momentum": (lambda: sm.SGD(0.05, momentum=0.9), lambda: sgd(0.05, 0.9)),
    "RMSProp": (lambda: sm.RMSProp(0.01, alpha=0.9, eps=1e-6), lambda: rmsprop(0.01, 0.9, 1e-6)),
    "RMSProp's defaults": (sm.RMSProp, lambda: rmsprop(0.01, 0.99, 1e-8)),
    "Adam": (lambda: sm.Adam(0.01, betas=(0.8, 0.99), eps=1e-6),
             lambda: adam(0.01, 0.8, 0.99, 1e-6)),
    "Adam's defaults": (sm.Adam, lambda: adam(1e-3, 0.9, 0.999, 1e-8)),  # the paper's
    "Adam without bias correction": (
        lambda: sm.Adam(0.01, bias_correction=False), lambda: adam(0.01, 0.9, 0.999, 1e-8, False)
    ),
}  # fmt: skip
# float64: 1e-12 of how far each tensor has travelled from its start. float32 rounds the
# parameters themselves at each step, by 6e-8 of their size: 1e-5 of it, after 400 steps.
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays.values()]).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_step_follows_the_published_equations(name, dtype):
    make_optimizer, make_equations = OPTIMIZERS[name]
    params, steps = gradient_steps(dtype, 400)  # past t = 356, where 1 - 0.9^t rounds to 1
    optimizer, equations = make_optimizer(), make_equations()
    start = theta = flat(params)  # every entry follows the equations on its own
    for t, grads in enumerate(steps, start=1):
        optimizer.step(params, grads)
        theta = equations(theta, flat(grads), t)
        scale = np.abs(theta - start if dtype == np.float64 else theta).max()
        assert np.abs(flat(params) - theta).max() <= TOLERANCE[dtype] * scale, t
    state = [a for attr in ("velocity", "m", "v") for a in getattr(optimizer, attr, {}).values()]
    assert {a.dtype for a in [*params.values(), *state]} == {np.dtype(dtype)}


def test_a_step_is_whole_where_numpy_raises_on_underflow():
    params = {"W": np.ones(3, np.float32), "b": np.ones(1, np.float32)}
    grads = {"W": np.full(3, 1e-25, np.float32), "b": np.full(1, 1e-25, np.float32)}
    adam = sm.Adam(0.1)
    with np.errstate(all="raise"):
        adam.step(params, grads)  # g**2 underflows to 0: harmless, and not an error
    assert adam.t == 1 and all(adam.m[k].all() for k in params)  # every tensor stepped
