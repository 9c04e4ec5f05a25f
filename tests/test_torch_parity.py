"""scratch_mlp against PyTorch's own layers, losses, autograd and optimizers.

The PyTorch side is built from ``torch.nn`` modules (``nn.Linear``, ``nn.ReLU``, ``nn.Tanh``) and
``torch.nn.functional``'s losses, not from a translation of the module's code. Differences are
relative to the largest entry of each tensor: two right implementations differ by the order of
their sums (another BLAS), far below the tolerances; a wrong formula, far above them.
"""

import numpy as np
import pytest
from conftest import TANH, make_problem, require
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch_mlp as sm

torch = require("torch")
F = torch.nn.functional
torch.set_num_threads(1)  # tiny networks: one thread is faster than waking a pool

# float32 rounds at 6e-8: a sum that cancels (an output near 0) keeps its terms' rounding.
TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}
TORCH_LOSS = {sm.mse_loss: F.mse_loss, sm.softmax_cross_entropy: F.cross_entropy}
TORCH_ACTIVATION = {sm.RELU: torch.nn.ReLU, TANH: torch.nn.Tanh}


def relative_difference(a, t, scale=None):
    """``max|a - t|`` over the largest ``|t|``, or over ``scale``."""
    a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
    scale = float(np.abs(t).max()) if scale is None else scale
    return float(np.abs(a - t).max()) / max(scale, 1e-300)


def torch_twin(params, activation=sm.RELU):
    """An ``nn.Sequential`` of ``nn.Linear`` layers holding copies of ``params``."""
    K, layers = len(params) // 2, []
    for l in range(1, K + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        linear = torch.nn.Linear(*W.shape, dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))  # nn.Linear keeps W as (out, in)
            linear.bias.copy_(torch.from_numpy(b[0]))
        layers += [linear, TORCH_ACTIVATION[activation]()] if l < K else [linear]
    return torch.nn.Sequential(*layers)


def twin_arrays(twin, grad=False):
    """The twin's parameters, or their gradients, as arrays keyed and shaped as scratch_mlp's."""
    named, linears = {}, [m for m in twin if isinstance(m, torch.nn.Linear)]
    for l, linear in enumerate(linears, start=1):
        W, b = (linear.weight.grad, linear.bias.grad) if grad else (linear.weight, linear.bias)
        named[f"W{l}"], named[f"b{l}"] = W.detach().numpy().T, b.detach().numpy()[None]
    return named


@settings(max_examples=40, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(1, 7), min_size=2, max_size=5),
    N=st.integers(1, 7),
    seed=st.integers(0, 2**32 - 1),
    xent=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    tanh=st.booleans(),
    zeros=st.booleans(),
)
def test_output_loss_and_every_gradient_equal_autograd(sizes, N, seed, xent, dtype, tanh, zeros):
    loss_fn = sm.softmax_cross_entropy if xent else sm.mse_loss
    sizes[-1] = max(sizes[-1], 2) if xent else sizes[-1]
    activation = TANH if tanh else sm.RELU
    params, X, y = make_problem(sizes, N, loss_fn, seed, dtype)
    if zeros:  # pre-activations exactly 0: ReLU's derivative there is 0, as in PyTorch
        X[: N // 2 + 1], params["b1"][:] = 0, 0
    out = sm.mlp_forward(params, X, activation)[0]
    d_out = loss_fn(out, y)[1]
    loss, grads = sm.loss_and_grads(params, X, y, loss_fn, activation)
    twin = torch_twin(params, activation)
    t_out = twin(torch.from_numpy(X))
    t_out.retain_grad()
    t_loss = TORCH_LOSS[loss_fn](t_out, torch.from_numpy(y))
    t_loss.backward()
    t_grads = twin_arrays(twin, grad=True)
    pairs = {"out": (out, t_out), "loss": (loss, t_loss), "d_out": (d_out, t_out.grad)}
    pairs = {k: (a, t.detach().numpy()) for k, (a, t) in pairs.items()}
    pairs |= {k: (grads[k], t_grads[k]) for k in params}
    # A gradient is a sum, which can cancel to far below its terms (a bias's, over the rows): its
    # rounding is judged on the scale of the largest gradient.
    gradients = [k for k in pairs if k not in ("out", "loss")]
    scale = max(float(np.abs(pairs[k][1]).max()) for k in gradients)
    for name, (value, t_value) in pairs.items():
        assert value.dtype == t_value.dtype == dtype and value.shape == t_value.shape, name
        difference = relative_difference(value, t_value, scale if name in gradients else None)
        assert difference < TOLERANCE[value.dtype], name


TRAINING = {
    # name: (layer sizes, loss, activation, optimizer, its torch.optim twin)
    "cross-entropy, tanh, Adam": (
        [3, 16, 8, 4], sm.softmax_cross_entropy, TANH, lambda: sm.Adam(0.01),
        lambda t: torch.optim.Adam(t, lr=0.01),
    ),
    "MSE, ReLU, SGD with momentum": (
        [5, 32, 2], sm.mse_loss, sm.RELU, lambda: sm.SGD(0.05, momentum=0.9),
        lambda t: torch.optim.SGD(t, lr=0.05, momentum=0.9),
    ),
    "cross-entropy, ReLU, RMSProp": (
        [4, 16, 3], sm.softmax_cross_entropy, sm.RELU, lambda: sm.RMSProp(0.01, alpha=0.9),
        lambda t: torch.optim.RMSprop(t, lr=0.01, alpha=0.9),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TRAINING))
def test_train_and_predict_follow_pytorch_for_100_steps(case):
    sizes, loss_fn, activation, make_optimizer, make_twin = TRAINING[case]
    params, X, y = make_problem(sizes, 40, loss_fn, seed=7)
    twin = torch_twin(params, activation)
    optimizer = make_twin(twin.parameters())
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    largest = dict.fromkeys(params, 0.0)

    def compare(step, loss, params):
        optimizer.zero_grad()
        t_loss = TORCH_LOSS[loss_fn](twin(X_t), y_t)
        t_loss.backward()
        optimizer.step()
        assert relative_difference(loss, t_loss.item()) < 1e-10
        for k, t in twin_arrays(twin).items():
            # Scaled by the largest the tensor has been: a parameter near 0 is judged on its scale.
            largest[k] = max(largest[k], float(np.abs(t).max()))
            assert float(np.abs(params[k] - t).max()) < 1e-10 * largest[k], k

    losses = sm.train(
        params, X, y, loss_fn, make_optimizer(), 100, activation=activation, on_step=compare
    )
    assert losses[-1] < losses[0] / 2
    logits = torch_twin(params, activation)(X_t).detach().numpy()
    assert np.array_equal(sm.predict(params, X, activation), logits.argmax(axis=1))
