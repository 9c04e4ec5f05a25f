"""scratch_mlp against PyTorch: the same loss, gradients and optimizer trajectories.

Skipped where PyTorch is not installed, except where REQUIRE_TORCH=1 (as in CI): there a missing
PyTorch is a failure. The differences are relative to the largest entry of each tensor: two right
implementations differ only by the order of their sums (another BLAS), far below the tolerances.
"""

import os
import zlib

import numpy as np
import pytest

if os.environ.get("REQUIRE_TORCH") == "1":
    import torch  # an ImportError here fails the run instead of skipping
else:
    torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import scratch_mlp as sm  # noqa: E402

# These networks are tiny: one thread is faster than waking a pool, and leaves NumPy its cores.
torch.set_num_threads(1)

GRADIENT_TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
TRAJECTORY_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
TORCH_LOSS = {sm.mse_loss: F.mse_loss, sm.softmax_cross_entropy: F.cross_entropy}
DTYPES = [np.float64, np.float32]


def relative_difference(a, t, scale=None):
    a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
    scale = float(np.abs(t).max()) if scale is None else scale
    return float(np.abs(a - t).max()) / max(scale, 1e-300)


def torch_forward(tparams, X):
    L = len(tparams) // 2
    A = X
    for l in range(1, L + 1):
        Z = A @ tparams[f"W{l}"] + tparams[f"b{l}"]
        A = torch.relu(Z) if l < L else Z
    return Z


CASES = {
    # name: (layer sizes, batch, loss)
    "1-64-1, MSE": ([1, 64, 1], 200, sm.mse_loss),
    "3 hidden 5-32-16-8-3, MSE": ([5, 32, 16, 8, 3], 50, sm.mse_loss),
    "batch of one 7-4-2, MSE": ([7, 4, 2], 1, sm.mse_loss),
    "2-64-64-3, cross-entropy": ([2, 64, 64, 3], 60, sm.softmax_cross_entropy),
    "batch of one 3-5-4, cross-entropy": ([3, 5, 4], 1, sm.softmax_cross_entropy),
}


def make_case(name, dtype=np.float64):
    sizes, batch, loss_fn = CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    params = sm.init_mlp(sizes, rng, dtype)
    for key in params:  # random biases: a zero start can hide a wrong bias gradient
        if key.startswith("b"):
            params[key] += (0.1 * rng.standard_normal(params[key].shape)).astype(dtype)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss_fn is sm.mse_loss:
        y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    else:
        y = rng.integers(0, sizes[-1], batch)
    return params, X, y, loss_fn


def gradient_differences(params, X, y, loss_fn):
    out, cache = sm.mlp_forward(params, X)
    loss, d_out = loss_fn(out, y)
    grads = sm.mlp_backward(params, cache, d_out)
    tparams = {k: torch.tensor(p, requires_grad=True) for k, p in params.items()}
    t_out = torch_forward(tparams, torch.from_numpy(X))
    t_out.retain_grad()
    t_loss = TORCH_LOSS[loss_fn](t_out, torch.from_numpy(y))
    t_loss.backward()
    differences = {
        "loss": relative_difference(loss, t_loss.item()),
        "d_out": relative_difference(d_out, t_out.grad.numpy()),
    }
    for k in params:
        assert np.abs(grads[k]).max() > 0, f"{k}: nothing to compare"
        differences[k] = relative_difference(grads[k], tparams[k].grad.numpy())
    return differences


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(CASES))
def test_loss_and_every_gradient_equal_autograd(case, dtype):
    differences = gradient_differences(*make_case(case, dtype))
    tolerance = GRADIENT_TOLERANCE[dtype]
    assert {k: d for k, d in differences.items() if not d < tolerance} == {}


def test_relu_at_exactly_zero_has_autograd_s_derivative():
    params, X, y, loss_fn = make_case("3 hidden 5-32-16-8-3, MSE")
    params["b1"][:] = 0.0
    X[:10] = 0.0  # ten examples with every first-layer pre-activation exactly 0
    differences = gradient_differences(params, X, y, loss_fn)
    assert max(differences.values()) < GRADIENT_TOLERANCE[np.float64]


OPTIMIZERS = {
    # name: (problem, scratch_mlp optimizer, torch.optim twin)
    "SGD": ("1-64-1, MSE", lambda: sm.SGD(0.01), lambda t: torch.optim.SGD(t, lr=0.01)),
    "SGD momentum 0.9": (
        "2-64-64-3, cross-entropy",
        lambda: sm.SGD(0.05, momentum=0.9),
        lambda t: torch.optim.SGD(t, lr=0.05, momentum=0.9),
    ),
    "RMSProp defaults": (
        "3 hidden 5-32-16-8-3, MSE",
        lambda: sm.RMSProp(),
        lambda t: torch.optim.RMSprop(t),
    ),
    "RMSProp lr 0.003 alpha 0.9 eps 1e-6": (
        "2-64-64-3, cross-entropy",
        lambda: sm.RMSProp(0.003, alpha=0.9, eps=1e-6),
        lambda t: torch.optim.RMSprop(t, lr=0.003, alpha=0.9, eps=1e-6),
    ),
    "Adam defaults": (
        "2-64-64-3, cross-entropy",
        lambda: sm.Adam(),
        lambda t: torch.optim.Adam(t),
    ),
    "Adam lr 0.003 betas 0.8 0.99 eps 1e-6": (
        "3 hidden 5-32-16-8-3, MSE",
        lambda: sm.Adam(0.003, betas=(0.8, 0.99), eps=1e-6),
        lambda t: torch.optim.Adam(t, lr=0.003, betas=(0.8, 0.99), eps=1e-6),
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_train_follows_torch_optim_for_100_steps(name, dtype):
    problem, make_optimizer, make_twin = OPTIMIZERS[name]
    params, X, y, loss_fn = make_case(problem, dtype)
    tparams = {k: torch.tensor(p, requires_grad=True) for k, p in params.items()}
    twin = make_twin(list(tparams.values()))
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    worst, largest = dict.fromkeys(["loss", *params], 0.0), {}

    def compare(step, loss, params):
        twin.zero_grad()
        t_loss = TORCH_LOSS[loss_fn](torch_forward(tparams, X_t), y_t)
        t_loss.backward()
        twin.step()
        worst["loss"] = max(worst["loss"], relative_difference(loss, t_loss.item()))
        for k, p in params.items():
            t = tparams[k].detach().numpy()
            # Scaled by the largest the tensor has been, so a parameter passing near 0 is judged
            # on its own scale.
            largest[k] = max(largest.get(k, 0.0), float(np.abs(t).max()))
            worst[k] = max(worst[k], relative_difference(p, t, largest[k]))

    sm.train(params, X, y, loss_fn, make_optimizer(), steps=100, on_step=compare)
    tolerance = TRAJECTORY_TOLERANCE[dtype]
    assert {k: d for k, d in worst.items() if not d < tolerance} == {}
