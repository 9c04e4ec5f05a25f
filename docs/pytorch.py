# %% [markdown]
# # The same model in PyTorch
#
# The last section of the training loop says that PyTorch's `loss.backward()` "does what
# `mlp_backward` does". This page checks that claim number by number. It writes the network and
# the loop of `scratch_mlp.py` again in PyTorch, line for line, starts both from the same weights,
# and compares everything they compute: the loss, $\partial L / \partial\,\mathrm{out}$, the
# gradient of every parameter, and the parameters after 100 optimizer steps.
#
# The comparisons are made by the functions defined on this page, and
# `tests/test_torch_parity.py` calls the same functions with thresholds, in CI. So the tables
# below are what the tests check, not a separate demonstration.
#
# `scratch_mlp.py` never imports PyTorch; only this page and the tests do. To run the page, from
# the project root: `python -m docs.pytorch`.

# %% tags=["fold"]
# Imports
from __future__ import annotations

import zlib

import numpy as np
import torch
import torch.nn.functional as F

from scratch_mlp import (
    RELU,
    SGD,
    Adam,
    RMSProp,
    init_mlp,
    make_sine_data,
    make_spirals,
    mlp_backward,
    mlp_forward,
    mse_loss,
    softmax_cross_entropy,
    train,
)

# %% [markdown]
# ## 1. The network, line for line
#
# | step | NumPy, `scratch_mlp` | PyTorch |
# |---|---|---|
# | parameters | `init_mlp(sizes, rng)` | `torch.tensor(p, requires_grad=True)` for each |
# | a layer | `Z = X @ W + b` | `Z = X @ W + b` |
# | ReLU | `A = np.maximum(Z, 0)` | `A = torch.relu(Z)` |
# | loss | `loss, d_out = mse_loss(out, y)` | `loss = F.mse_loss(out, y)` |
# | | `softmax_cross_entropy(out, labels)` | `F.cross_entropy(out, labels)` |
# | backward | `mlp_backward(params, cache, d_out)` | `loss.backward()`; read `param.grad` |
# | update | `optimizer.step(params, grads)` | `optimizer.step()` |
# | next step | nothing: `grads` is new every step | `optimizer.zero_grad()` |
#
# The forward pass is the same expression in both. What differs is who keeps the cache. In NumPy,
# `mlp_forward` returns the arrays the backward pass needs and `mlp_backward` takes them back. In
# PyTorch, `requires_grad=True` marks a tensor as a *leaf* whose gradient we want, and every
# operation on it records, as it runs, a node holding its backward rule and the tensors that rule
# needs. `loss.backward()` walks those nodes from the loss back to the leaves.
#
# The PyTorch network below is built from a `scratch_mlp` parameter dict: the same arrays, copied
# into tensors of the same dtype, so both start from exactly the same numbers. The losses are
# PyTorch's own `F.mse_loss` and `F.cross_entropy`, not a translation of ours: a check against an
# independent implementation can catch a wrong formula; a check against a copy of it cannot.


# %%
def torch_params(params) -> dict[str, torch.Tensor]:
    """Leaf tensors with copies of ``params`` (same names, shapes and dtype), ready for autograd."""
    return {name: torch.tensor(p, requires_grad=True) for name, p in params.items()}


def torch_forward(tparams, X):
    """``mlp_forward`` in PyTorch: ReLU after every hidden layer, a linear output layer.

    ``X``: a tensor (N, d_in). Returns ``out`` (N, d_out); autograd keeps the cache.
    """
    K = len(tparams) // 2  # the number of layers
    A = X
    for l in range(1, K + 1):
        Z = A @ tparams[f"W{l}"] + tparams[f"b{l}"]
        A = torch.relu(Z) if l < K else Z
    return Z


# PyTorch's own loss for each loss of scratch_mlp.
TORCH_LOSS = {mse_loss: F.mse_loss, softmax_cross_entropy: F.cross_entropy}


# %% [markdown]
# ## 2. What autograd records
#
# Run the article's network forward once in PyTorch and look at what was recorded. Each line
# below is one node of the graph, with the tensors it saved; indentation follows the graph from the
# loss back to the parameters, which is the order `loss.backward()` runs them in.


# %%
def autograd_graph(loss, tparams) -> str:
    """The nodes autograd recorded behind ``loss``, one a line, with the shapes each one saved."""
    names = {id(t): name for name, t in tparams.items()}
    lines = []

    def visit(node, depth):
        if node is None:  # an input that needs no gradient, such as X
            return
        if hasattr(node, "variable"):  # a leaf: backward() adds its gradient into .grad
            label = f"AccumulateGrad   into {names[id(node.variable)]}.grad"
        else:
            saved = []
            for attribute in ("_saved_self", "_saved_mat2", "_saved_result", "_saved_target"):
                value = getattr(node, attribute, None)
                if isinstance(value, torch.Tensor):
                    saved.append(f"{attribute.removeprefix('_saved_')} {tuple(value.shape)}")
            label = f"{type(node).__name__:16s} saved: {', '.join(saved) or 'nothing'}"
        lines.append("  " * depth + label)
        for child, _ in node.next_functions:
            visit(child, depth + 1)

    visit(loss.grad_fn, 0)
    return "\n".join(lines)


# %%
if __name__ == "__main__":
    article_rng = np.random.RandomState(0)
    X_sine, y_sine = make_sine_data(article_rng)
    params_sine = init_mlp([1, 64, 1], article_rng)
    tparams = torch_params(params_sine)
    out = torch_forward(tparams, torch.from_numpy(X_sine))
    loss = F.mse_loss(out, torch.from_numpy(y_sine))
    print(autograd_graph(loss, tparams))

# %% [markdown]
# Read from the top, each node's backward rule is one line of `scratch_mlp`:
#
# | node | recorded for | its backward rule, given $G$ | in `scratch_mlp` |
# |---|---|---|---|
# | `MseLossBackward0` | `F.mse_loss(out, y)` | $\frac{2}{M}(\mathrm{out} - y)$ | `mse_loss` |
# | `AddBackward0` | `... + b` | $G$ to both; for $b$ summed over the batch | `linear_backward` |
# | `MmBackward0` | `A @ W` | $G W^\top$ for $A$, $A^\top G$ for $W$ | `linear_backward` |
# | `ReluBackward0` | `torch.relu(Z)` | $G \odot \mathbb 1[A > 0]$ | `relu_backward` |
# | `AccumulateGrad` | a leaf | adds the gradient into `param.grad` | the `grads` dict |
#
# The bias row is the broadcasting rule of section 2.4 of the training loop: $b$ was stretched
# from $(1, d)$ to $(N, d)$ in the forward pass, so autograd sums its gradient back over the
# batch, exactly `db = d_Z.sum(axis=0, keepdims=True)`.
#
# Three details match by design rather than by accident:
#
# - **What is saved.** The first `MmBackward0`, for `X @ W1`, saved `X` but not `W1`: `W1` is only
#   needed for $\partial L / \partial X$, and `X` needs no gradient. That is `need_d_X=False` in
#   `linear_backward`, which skips the same product for the same reason.
# - **ReLU's kink.** `ReluBackward0` saved the ReLU's *output* $A$, where `relu_forward` caches its
#   input $Z$; the mask is the same, $A > 0$ exactly where $Z > 0$, and both give the gradient 0
#   at $Z = 0$.
# - **Softmax cross-entropy.** PyTorch records it as two nodes, `LogSoftmaxBackward0` and
#   `NllLossBackward0` (below). Chained, their rules give
#   $\frac{1}{N}(\operatorname{softmax}(z) - \operatorname{one\_hot}(y))$, the single line that
#   section 6 of the training loop derives.

# %%
if __name__ == "__main__":
    spiral_rng = np.random.default_rng(0)
    X_spiral, labels_spiral = make_spirals(spiral_rng, n_per_class=20)
    params_spiral = init_mlp([2, 8, 3], spiral_rng)
    tparams = torch_params(params_spiral)
    logits = torch_forward(tparams, torch.from_numpy(X_spiral))
    print(autograd_graph(F.cross_entropy(logits, torch.from_numpy(labels_spiral)), tparams))

# %% [markdown]
# ## 3. The loop, line for line
#
# `train` in NumPy and `torch_train` in PyTorch, one step each. `train` calls
# `loss_and_grads(params, X, y, loss_fn)`, which is the first three lines of the left column:
#
# | `scratch_mlp.train` | `torch_train` |
# |---|---|
# | | `optimizer.zero_grad()` |
# | `out, cache = mlp_forward(params, X)` | `out = torch_forward(tparams, X)` |
# | `loss, d_out = loss_fn(out, y)` | `loss = torch_loss(out, y)` |
# | `grads = mlp_backward(params, cache, d_out)` | `loss.backward()` |
# | `optimizer.step(params, grads)` | `optimizer.step()` |
#
# `optimizer.zero_grad()` is there because `AccumulateGrad` *adds* into `param.grad`. That is
# what a parameter used twice in one graph needs (its two gradients sum), but it means a second
# `backward()` without zeroing returns the sum of both steps' gradients, as the cell after the code
# shows. `mlp_backward` has nothing to zero: it returns new arrays every time.
#
# The optimizers are made from ours with the same hyper-parameters: `SGD(lr, momentum)` becomes
# `torch.optim.SGD(lr=lr, momentum=momentum)`, `RMSProp(lr, alpha, eps)` becomes
# `torch.optim.RMSprop(lr=lr, alpha=alpha, eps=eps)`, and `Adam(lr, betas, eps)` becomes
# `torch.optim.Adam(lr=lr, betas=betas, eps=eps)`, which implements the same Algorithm 1 of
# Kingma & Ba, with $\epsilon$ added after the bias correction.


# %%
def torch_optimizer(optimizer, tparams):
    """The ``torch.optim`` twin of a ``scratch_mlp`` ``SGD``, ``RMSProp`` or ``Adam``."""
    tensors = list(tparams.values())
    if isinstance(optimizer, SGD):
        return torch.optim.SGD(tensors, lr=optimizer.lr, momentum=optimizer.momentum)
    if isinstance(optimizer, RMSProp):
        return torch.optim.RMSprop(
            tensors, lr=optimizer.lr, alpha=optimizer.alpha, eps=optimizer.eps
        )
    if isinstance(optimizer, Adam):
        if not optimizer.bias_correction:
            raise ValueError("torch.optim.Adam always corrects the bias")
        return torch.optim.Adam(tensors, lr=optimizer.lr, betas=optimizer.betas, eps=optimizer.eps)
    raise TypeError(f"no torch twin for {type(optimizer).__name__}")


def torch_train(tparams, X, y, torch_loss, optimizer, steps: int) -> list[float]:
    """``scratch_mlp.train`` in PyTorch, full batch: updates ``tparams``, returns the losses.

    ``X``, ``y``: tensors; ``torch_loss``: ``F.mse_loss`` or ``F.cross_entropy``; ``optimizer``:
    a ``torch.optim`` optimizer over the tensors of ``tparams``.
    """
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        out = torch_forward(tparams, X)
        loss = torch_loss(out, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# %%
if __name__ == "__main__":
    tparams = torch_params(params_sine)
    X_t, y_t = torch.from_numpy(X_sine), torch.from_numpy(y_sine)
    for attempt in (1, 2):
        F.mse_loss(torch_forward(tparams, X_t), y_t).backward()
        print(f"after backward() number {attempt}: b2.grad = {tparams['b2'].grad.item():+.6f}")
    print("the second is twice the first: the gradients accumulated")

# %% [markdown]
# ## 4. Gradients: the same to the last digits
#
# For one network and one batch, `gradient_parity` computes the loss and every gradient both ways
# and compares them tensor by tensor. The measure is the largest difference relative to the
# tensor's largest entry,
#
# $$r = \frac{\max_i |a_i - t_i|}{\max_i |t_i|},$$
#
# with $a$ from `scratch_mlp` and $t$ from autograd. It is scaled by the largest entry, not entry
# by entry, because an entry that is nearly zero carries only rounding noise, and noise divided by
# nearly zero is not a meaningful ratio.
#
# How close should two correct float64 implementations be? Not bit for bit: PyTorch's matrix
# products come from a different BLAS, the library of matrix routines that does the arithmetic
# (Intel's MKL, where NumPy uses OpenBLAS), which adds up the same products in a different order,
# and floating-point addition is not associative. Each rounding is relative
# $2^{-53} \approx 1.1 \times 10^{-16}$, and a sum of $K$ terms can accumulate a few times $K$ of
# them; for the sizes here that is below $10^{-13}$. A wrong formula, a missing $1/N$ or a
# transposed product, is off by $10^{-1}$ or more. The tests ask for $10^{-12}$ in float64.

# %%
FLOAT64_TOLERANCE = 1e-12
FLOAT32_TOLERANCE = 1e-5  # float32 rounds at 2**-24, about 6e-8: the same margin of about 100x
OPTIMIZER_TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}  # after 100 steps, see section 5


def relative_difference(a, t, scale=None) -> float:
    """``max|a - t| / scale``, with ``scale = max|t|`` unless given; 0 when both are all zeros.

    >>> relative_difference(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    0.5
    """
    a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
    difference = float(np.abs(a - t).max())
    scale = float(np.abs(t).max()) if scale is None else scale
    return difference / scale if scale > 0 else difference


def numpy_loss_and_grads(params, X, y, loss_fn, activation=RELU):
    """The loss, ``d_out`` and every gradient from ``scratch_mlp``.

    The three steps of ``loss_and_grads``, written out: the comparison needs ``d_out`` too,
    which ``loss_and_grads`` keeps to itself.
    """
    out, cache = mlp_forward(params, X, activation)
    loss, d_out = loss_fn(out, y)
    return loss, d_out, mlp_backward(params, cache, d_out)


def torch_loss_and_grads(params, X, y, loss_fn):
    """The loss, ``d_out`` and every gradient from ``torch.autograd``, as NumPy arrays."""
    tparams = torch_params(params)
    out = torch_forward(tparams, torch.from_numpy(X))
    out.retain_grad()  # keep dL/d out, which autograd computes on the way but does not store
    loss = TORCH_LOSS[loss_fn](out, torch.from_numpy(y))
    loss.backward()
    grads = {name: t.grad.numpy() for name, t in tparams.items()}
    return loss.detach().numpy(), out.grad.numpy(), grads


def gradient_parity(params, X, y, loss_fn, activation=RELU) -> list[tuple[str, tuple, float]]:
    """Rows ``(tensor, shape, relative difference)`` for the loss, ``d_out`` and every gradient,
    between ``scratch_mlp`` and ``torch.autograd``, each in the dtype of ``params``.
    ``activation`` is the NumPy side's (PyTorch's is always ReLU): a way to plant a bug in it."""
    loss, d_out, grads = numpy_loss_and_grads(params, X, y, loss_fn, activation)
    t_loss, t_d_out, t_grads = torch_loss_and_grads(params, X, y, loss_fn)
    for name, value, t_value in [("loss", loss, t_loss), ("d_out", d_out, t_d_out)] + [
        (f"d{name}", grads[name], t_grads[name]) for name in params
    ]:
        if value.dtype != t_value.dtype:
            raise AssertionError(f"{name}: NumPy gives {value.dtype}, PyTorch {t_value.dtype}")
    rows = [
        ("loss", (), relative_difference(loss, t_loss)),
        ("d_out", d_out.shape, relative_difference(d_out, t_d_out)),
    ]
    rows += [
        (f"d{name}", grads[name].shape, relative_difference(grads[name], t_grads[name]))
        for name in params
    ]
    return rows


# %% [markdown]
# The networks compared, here and in the tests: one hidden layer and three, wide and narrow
# layers, a batch of one example, both losses.


# %%
def parity_case(name: str, dtype=np.float64):
    """``(params, X, y, loss_fn)`` for one of ``PARITY_CASES``, drawn from a fixed seed."""
    sizes, batch, loss_fn = PARITY_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))  # a fixed seed per case
    params = init_mlp(sizes, rng, dtype)
    # Small random biases: at zero biases a wrong bias gradient could still hide behind symmetry.
    for key in params:
        if key.startswith("b"):
            params[key] += (0.1 * rng.standard_normal(params[key].shape)).astype(dtype)
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss_fn is mse_loss:
        y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
    else:
        y = rng.integers(0, sizes[-1], batch)
    return params, X, y, loss_fn


PARITY_CASES = {
    # name: (layer sizes, batch, loss)
    "1-64-1 like the article, MSE": ([1, 64, 1], 200, mse_loss),
    "3 hidden 5-32-16-8-3, MSE": ([5, 32, 16, 8, 3], 50, mse_loss),
    "batch of 1, 7-4-2, MSE": ([7, 4, 2], 1, mse_loss),
    "2-64-64-3, cross-entropy": ([2, 64, 64, 3], 60, softmax_cross_entropy),
    "784-256-10, cross-entropy": ([784, 256, 10], 128, softmax_cross_entropy),
    "batch of 1, 3-5-4, cross-entropy": ([3, 5, 4], 1, softmax_cross_entropy),
}


def format_parity(rows, tolerance) -> str:
    """The rows of ``gradient_parity`` as a text table, each marked against ``tolerance``."""
    lines = [f"  {'tensor':6s} {'shape':>10s} {'max relative difference':>24s}"]
    for name, shape, difference in rows:
        verdict = "ok" if difference < tolerance else "DIFFERENT"
        lines.append(f"  {name:6s} {str(shape):>10s} {difference:24.1e}  {verdict}")
    return "\n".join(lines)


# %%
if __name__ == "__main__":
    for case in PARITY_CASES:
        print(f"{case}, float64:")
        print(format_parity(gradient_parity(*parity_case(case)), FLOAT64_TOLERANCE))

# %% [markdown]
# Every difference is a few units of $10^{-16}$, the size of float64's rounding, and often
# exactly 0. The hand-written backward pass and autograd compute the same numbers.
#
# ## 5. Optimizers: step for step
#
# Gradients that agree are half of the loop; the update is the other half. `optimizer_parity`
# runs `scratch_mlp.train` and `torch_train` side by side from the same start, one step at a
# time, each computing its own gradients from its own parameters, and records after every step
# the largest relative difference of every parameter tensor and of the loss. Any difference in an
# update rule (a bias correction left out, $\epsilon$ added in another place) shows up at once;
# agreement over 100 steps means the two loops are the same computation.


# %%
def _compare_parameters(params, tparams, worst, largest) -> None:
    """Raise ``worst[name]`` to this step's relative difference of each parameter tensor. The scale
    is the largest magnitude the tensor has had so far (kept in ``largest``), so a parameter that
    passes near 0 is still judged on its own scale."""
    for name, p in params.items():
        t = tparams[name].detach().numpy()
        largest[name] = max(largest.get(name, 0.0), float(np.abs(t).max()))
        worst[name] = max(worst[name], relative_difference(p, t, scale=largest[name]))


def optimizer_parity(params, X, y, loss_fn, optimizer, steps: int = 100) -> dict[str, float]:
    """Train copies of ``params`` with ``scratch_mlp.train`` and with ``torch_train`` for
    ``steps`` steps; return the largest relative difference over all steps, per parameter tensor
    and for the loss. ``optimizer`` (``SGD``, ``RMSProp`` or ``Adam``) is used for the NumPy side
    and copied for the PyTorch side."""
    params = {name: p.copy() for name, p in params.items()}
    tparams = torch_params(params)
    t_optimizer = torch_optimizer(optimizer, tparams)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    worst, largest = dict.fromkeys(["loss", *params], 0.0), {}
    for _ in range(steps):
        (loss,) = train(params, X, y, loss_fn, optimizer, steps=1)
        (t_loss,) = torch_train(tparams, X_t, y_t, TORCH_LOSS[loss_fn], t_optimizer, steps=1)
        worst["loss"] = max(worst["loss"], relative_difference(loss, t_loss))
        _compare_parameters(params, tparams, worst, largest)
    return worst


OPTIMIZER_CASES = {
    # name: (problem from PARITY_CASES, the optimizer)
    "SGD, lr 0.01": ("1-64-1 like the article, MSE", lambda: SGD(lr=0.01)),
    "SGD, lr 0.1": ("2-64-64-3, cross-entropy", lambda: SGD(lr=0.1)),
    "SGD, lr 0.01, momentum 0.9": (
        "1-64-1 like the article, MSE",
        lambda: SGD(lr=0.01, momentum=0.9),
    ),
    "RMSProp, lr 0.001": ("3 hidden 5-32-16-8-3, MSE", lambda: RMSProp(lr=0.001)),
    "Adam, defaults": ("2-64-64-3, cross-entropy", lambda: Adam()),
    "Adam, lr 0.01": ("1-64-1 like the article, MSE", lambda: Adam(lr=0.01)),
    "Adam, lr 0.003, betas 0.8 0.99, eps 1e-6": (
        "3 hidden 5-32-16-8-3, MSE",
        lambda: Adam(lr=0.003, betas=(0.8, 0.99), eps=1e-6),
    ),
}


def format_optimizer_parity(results, tolerance) -> str:
    """One line per case ``{case: optimizer_parity(...)}``: the loss and the parameter tensor that
    differ most over all steps, marked against ``tolerance``."""
    lines = [f"{'optimizer':41s} {'loss':>7s} {'worst tensor':>13s}"]
    for case, worst in results.items():
        name = max((k for k in worst if k != "loss"), key=worst.get)
        verdict = "ok" if max(worst.values()) < tolerance else "DIFFERENT"
        lines.append(f"{case:41s} {worst['loss']:7.1e} {name:>4s} {worst[name]:8.1e}  {verdict}")
    return "\n".join(lines)


# %%
if __name__ == "__main__":
    print("100 steps of train and torch_train from the same start, float64:")
    results = {
        case: optimizer_parity(*parity_case(problem), make_optimizer(), steps=100)
        for case, (problem, make_optimizer) in OPTIMIZER_CASES.items()
    }
    print(format_optimizer_parity(results, OPTIMIZER_TOLERANCE[np.float64]))

# %% [markdown]
# After 100 steps the two loops still agree to about $10^{-15}$. Each step starts from parameters
# that already differ by a rounding error, so the differences could grow from step to step; they
# stay far below anything a wrong rule would produce. The tests allow $10^{-10}$.
#
# The update rule can also be checked on its own, away from any network: `update_parity` hands
# both optimizers the same gradients, random in sign and spread over eight orders of magnitude
# (from below $\epsilon$, where $\epsilon$ decides the step, to far above it), for 1000 steps.


# %%
def update_parity(params, optimizer, steps: int = 1000, seed: int = 0) -> dict[str, float]:
    """Give ``optimizer`` and its ``torch.optim`` twin the same random gradients for ``steps``
    steps; return the largest relative difference of each parameter tensor over all steps."""
    rng = np.random.default_rng(seed)
    params = {name: p.copy() for name, p in params.items()}
    tparams = torch_params(params)
    t_optimizer = torch_optimizer(optimizer, tparams)
    worst, largest = dict.fromkeys(params, 0.0), {}
    for _ in range(steps):
        grads = {}
        for name, p in params.items():
            scale = 10.0 ** rng.uniform(-10, -2, size=p.shape)
            grads[name] = (scale * rng.standard_normal(p.shape)).astype(p.dtype)
        optimizer.step(params, grads)
        for name, t in tparams.items():
            t.grad = torch.from_numpy(grads[name])
        t_optimizer.step()
        _compare_parameters(params, tparams, worst, largest)
    return worst


# %%
if __name__ == "__main__":
    print("1000 steps on the same random gradients, float64:")
    results = {
        case: update_parity(parity_case(problem)[0], make_optimizer())
        for case, (problem, make_optimizer) in OPTIMIZER_CASES.items()
    }
    print(format_optimizer_parity({k: {"loss": 0.0, **v} for k, v in results.items()}, 1e-12))

# %% [markdown]
# ## 6. In float32
#
# The same comparisons with every array in float32. Both sides stay in float32 from input to
# gradient (`gradient_parity` checks that the dtypes match), so the differences are float32's:
# its rounding unit is $2^{-24} \approx 6 \times 10^{-8}$, and sums over hundreds of terms in a
# different order leave differences of $10^{-7}$ to $10^{-6}$. The tests allow $10^{-5}$, for the
# gradients and for the parameters after 100 steps.

# %%
if __name__ == "__main__":
    for case in ["3 hidden 5-32-16-8-3, MSE", "784-256-10, cross-entropy"]:
        print(f"{case}, float32:")
        print(format_parity(gradient_parity(*parity_case(case, np.float32)), FLOAT32_TOLERANCE))
    print("\n100 steps of train and torch_train from the same start, float32:")
    results = {
        case: optimizer_parity(*parity_case(problem, np.float32), make_optimizer(), steps=100)
        for case, (problem, make_optimizer) in OPTIMIZER_CASES.items()
    }
    print(format_optimizer_parity(results, OPTIMIZER_TOLERANCE[np.float32]))

# %% [markdown]
# One float32 run drifts further, and the reason is worth knowing. Train the 784-256-10
# classifier for 100 steps and the largest difference in $W_1$ reaches about $10^{-4}$, a thousand
# times float32's rounding. Nothing is wrong with either side: among its $128 \times 256$
# pre-activations per step, now and then one lies within float32's rounding of 0. There the two
# libraries, summing in different orders, can land on opposite sides of ReLU's kink: one passes
# that example's gradient through the unit and the other does not, and from then on the two runs
# train on slightly different gradients. In float64 the band around 0 is $10^{9}$ times narrower
# and a split like that practically never happens.

# %%
if __name__ == "__main__":
    case = "784-256-10, cross-entropy"
    for dtype in (np.float64, np.float32):
        worst = optimizer_parity(*parity_case(case, dtype), Adam(), steps=100)
        print(f"Adam, 100 steps of {case}, {np.dtype(dtype).name}: W1 differs by {worst['W1']:.1e}")

# %% [markdown]
# ## What this shows
#
# The backward pass that `scratch_mlp` derives by hand and the one that autograd assembles from
# its recorded nodes compute the same gradients, to float64's rounding, for any depth and width
# and both losses; and `SGD` (with or without momentum), `RMSProp` and `Adam` make the same
# updates as `torch.optim`. Autograd's
# advantage is that nobody has to write `mlp_backward`: it follows whatever forward pass you
# write. The [benchmark](../benchmark/) measures what that convenience costs per step.
