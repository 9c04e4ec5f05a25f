# %% [markdown]
# # Exercises
#
# Reading a backward pass is not the same as writing one. Each exercise below asks you to write a
# small piece of a training loop, and a checker tells you at once whether it is right: **PASS** or
# **FAIL**, with the number that decided it (the largest error, or the first step that differs)
# and, on a failure, a pointer to the likely mistake (a sign, a transpose, a missing $1/N$).
#
# The exercises go from easy to hard. Each has what to do and why it matters, a stub to fill in
# (it raises `NotImplementedError` until you do), a one-call checker, a hint, and a solution,
# folded away: open it only after you have tried. On this page the solutions are in place, so every
# checker shows PASS.
#
# <a href="exercises.ipynb" download class="md-button md-button--primary">Download the exercises
# as a notebook</a>
#
# **How to work on them.** The notebook holds the stubs and the checkers, without the solutions.
# Put it in one folder with `scratch_mlp.py` (the download button on
# [The training loop](../scratch_mlp/) page gives it), open it in Jupyter and run it top to bottom:
# every checker prints `FAIL: not written yet`. Fill in a stub, run its cell and the checker's
# cell, and repeat until it says PASS. From a copy of the project, `python -m docs.exercises` in its
# root folder runs this page, solutions included, and prints every checker's verdict.
#
# The checkers compare your code against centred finite differences in float64 (the
# `numerical_gradient` of the main page), against the project's own functions, or against a
# reference trajectory of the same optimizer written from its definition.

# %%
import functools
import math
from dataclasses import dataclass
from unittest import mock

import numpy as np

import scratch_mlp as sm


# %% tags=["fold"]
# The checkers: one call each, PASS or FAIL with the number that decided it
@dataclass
class Result:
    """A checker's verdict: ``passed``, the ``number`` that decided it, and the printed ``line``."""

    passed: bool
    number: float
    line: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        pass  # the checker has printed its line; a notebook shows nothing more


def checker(check):
    """Turn ``check`` (returning a Result) into a checker that prints one line and never raises."""

    @functools.wraps(check)
    def run(*args, **kwargs):
        try:
            with np.errstate(all="ignore"):  # a wrong answer may overflow: the line says so
                result = check(*args, **kwargs)
        except NotImplementedError:
            result = Result(False, math.nan, "FAIL: not written yet (the stub raises)")
        except Exception as error:  # the reader's code raised: report it, keep the notebook going
            result = Result(False, math.nan, f"FAIL: your code raised {error!r:.200}")
        print(result.line)
        return result

    return run


def _close(a, b, tol=1e-6):
    scale = max(float(np.abs(b).max(initial=0.0)), 1e-12)
    return a.shape == b.shape and float(np.abs(a - b).max(initial=0.0)) <= tol * scale


def _diagnose(got, want, N=None, suspects=()):
    """A short guess at what is wrong with ``got``, given the right ``want``."""
    for message, candidate in suspects:
        if _close(got, np.asarray(candidate, dtype=np.float64)):
            return message
    if not np.isfinite(got).all():
        return "it holds NaN or inf: something overflows; look for a numerically stable form"
    if got.size == 1:
        return f"it is {got.item():.6g}, not {want.item():.6g}"
    if _close(got, -want):
        return "the sign is flipped"
    if got.ndim == 2 and got.shape[0] == got.shape[1] and _close(got.T, want):
        return "it is transposed"
    if (want * want).sum() > 0:
        c = float((got * want).sum() / (want * want).sum())
        if c != 0 and _close(got, c * want):
            if N and math.isclose(c, N, rel_tol=1e-6):
                return f"it is {N} times too large: a missing 1/{N} (a mean, not a sum)"
            if N and math.isclose(c, 1 / N, rel_tol=1e-6):
                return f"it is {N} times too small: an extra 1/{N} (a sum, not a mean)"
            return f"it is {c:.4g} times the right answer: a missing or extra factor"
    both = (got != 0) & (want != 0)
    if (got != 0).sum() != (want != 0).sum() and _close(got[both], want[both]):
        return "right where both are nonzero, but zero in other places: check the mask"
    wrong = ~np.isclose(got, want, rtol=1e-6, atol=1e-9 * np.abs(want).max(initial=1.0))
    where = np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
    return (
        f"{wrong.sum()} of {wrong.size} entries differ, the most at index {tuple(map(int, where))}"
    )


def compare(name, got, want, *, tol=1e-6, N=None, suspects=()):
    """Result of comparing ``got`` with the right ``want``: the largest error, relative to the
    largest entry of ``want``, must be at most ``tol``."""
    want = np.asarray(want, dtype=np.float64)
    if got is None:
        return Result(False, math.nan, f"FAIL: {name} is None: return it")
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        hint = (
            "transposed?"
            if got.shape == want.shape[::-1]
            else "sum over the batch axis, axis=0, with keepdims=True?"
            if got.size * want.shape[0] == want.size or got.ndim != want.ndim
            else "check which axis you reduce"
        )
        return Result(
            False, math.nan, f"FAIL: {name} has shape {got.shape}, not {want.shape}: {hint}"
        )
    error = float(np.abs(got - want).max(initial=0.0)) / max(np.abs(want).max(initial=0.0), 1e-12)
    if math.isfinite(error) and error <= tol:
        return Result(True, error, f"PASS: {name}, largest error {error:.1e}")
    hint = _diagnose(got, want, N, suspects)
    return Result(False, error, f"FAIL: {name}, largest error {error:.1e}: {hint}")


def all_of(label, *checks):
    """Run ``checks`` (functions returning a Result) in order: the first failure, or a PASS with
    the largest error of all. A check runs only if those before it passed."""
    worst = 0.0
    for check in checks:
        result = check()
        if not result:
            return result
        worst = max(worst, result.number)
    return Result(True, worst, f"PASS: {label}, largest error {worst:.1e}")


def numeric(f, x):
    """Centred differences of the scalar ``f`` at a float64 copy of ``x`` (``x`` is not moved)."""
    return sm.numerical_gradient(f, np.array(x, dtype=np.float64))


def first_difference(got, want, tol=1e-10):
    """The first index where two trajectories (lists of arrays) differ, or None."""
    for step, (a, b) in enumerate(zip(got, want, strict=False)):
        if a.shape != b.shape or not np.abs(a - b).max() <= tol * max(np.abs(b).max(), 1.0):
            return step
    return None if len(got) == len(want) else min(len(got), len(want))


# %% [markdown]
# ## 1. tanh, forward and backward
#
# **What to do.** Write the activation $A = \tanh(Z)$ as a forward/backward pair with the
# signatures of `relu_forward` and `relu_backward`: `tanh_forward(Z)` returns `A` and a cache,
# `tanh_backward(d_A, cache)` returns `d_Z`, the gradient of the loss with respect to `Z`.
#
# **Why it matters.** Every layer of a network is such a pair. The derivative of $\tanh$ is
# $1 - \tanh(Z)^2 = 1 - A^2$: it can be computed from the forward pass's output, so that output is
# the cache. Entry by entry, the chain rule gives
#
# $$\texttt{d\_Z} = \texttt{d\_A} \odot (1 - A^2) \quad (N, H).$$


# %%
def tanh_forward(Z):
    """``A = tanh(Z)`` entry by entry. Returns ``A`` and the cache ``tanh_backward`` needs."""
    raise NotImplementedError


def tanh_backward(d_A, cache):
    """``d_Z`` from the upstream gradient ``d_A`` and the cache of ``tanh_forward``."""
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: tanh_forward and tanh_backward
def tanh_forward(Z):
    """``A = tanh(Z)`` entry by entry. Returns ``A`` and the cache ``A``."""
    A = np.tanh(Z)
    return A, A


def tanh_backward(d_A, A):
    """``d_Z = d_A * (1 - A**2)``, with ``A = tanh(Z)`` from the forward pass."""
    return d_A * (1 - A**2)  # (N, H)


# %% [markdown] tags=["deeper"]
# **Hint.** `np.tanh` does the forward pass. Return `A` itself as the cache: the backward pass
# needs nothing else. Do not forget to multiply by `d_A`, the upstream gradient.


# %% tags=["fold"]
# The checker of exercise 1
@checker
def check_tanh(tanh_forward, tanh_backward):
    """tanh_forward against np.tanh; tanh_backward against finite differences of
    sum(tanh(Z) * G), whose gradient is d_Z for the upstream gradient d_A = G."""
    rng = np.random.default_rng(1)
    Z, G = 1.5 * rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    A, cache = tanh_forward(Z.copy())
    want = numeric(lambda z: np.sum(np.tanh(z) * G), Z)
    suspects = [
        ("it uses Z where A = tanh(Z) belongs: 1 - A**2", G * (1 - Z**2)),
        ("it misses the upstream gradient: multiply by d_A", 1 - np.tanh(Z) ** 2),
        ("the derivative of tanh is 1 - A**2, not 1 - A", G * (1 - np.tanh(Z))),
    ]
    return all_of(
        "tanh_forward and tanh_backward",
        lambda: compare("tanh_forward", A, np.tanh(Z), tol=1e-12),
        lambda: compare("tanh_backward", tanh_backward(G, cache), want, suspects=suspects),
    )


# %%
check_tanh(tanh_forward, tanh_backward)


# %% [markdown]
# ## 2. Binary cross-entropy from logits, in its stable form
#
# **What to do.** Write `bce_with_logits(logits, y)`, a loss with the signature of `mse_loss`:
# `logits` and targets `y` in $\{0, 1\}$, both $(N, d_\mathrm{out})$, and it returns the loss
# and `d_logits`. With $\sigma(z) = 1 / (1 + e^{-z})$ and the mean over all $M$ entries,
#
# $$L = \frac{1}{M} \sum_{n,k} \ell(z_{nk}, y_{nk}), \qquad
#   \ell(z, y) = -y \log \sigma(z) - (1 - y) \log(1 - \sigma(z)).$$
#
# **Why it matters.** A yes/no classifier needs it, and written as it stands it breaks: for
# $z = -1000$, $\sigma(z)$ underflows to 0 and $\log 0 = -\infty$. Since
# $\log \sigma(z) = -\log(1 + e^{-z})$ and $\log(1 - \sigma(z)) = -z - \log(1 + e^{-z})$, the
# loss of one entry is
#
# $$\ell(z, y) = \log(1 + e^{-z}) + (1 - y)\, z = \max(z, 0) - z y + \log(1 + e^{-|z|}),$$
#
# and the second form exponentiates only $-|z| \le 0$: nothing overflows. Its derivative is
# $\partial \ell / \partial z = \sigma(z) - y$, so $\texttt{d\_logits} = (\sigma(z) - y) / M$:
# the same "prediction minus target" as softmax cross-entropy.


# %%
def bce_with_logits(logits, y):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``y`` in {0, 1}.

    ``logits``, ``y``: (N, d_out). Returns ``(loss, d_logits)``, ``d_logits`` of shape (N, d_out).
    """
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: bce_with_logits
def bce_with_logits(logits, y):
    """Mean binary cross-entropy of ``sigmoid(logits)`` against ``y`` in {0, 1}.

    ``logits``, ``y``: (N, d_out). Returns ``(loss, d_logits)``, ``d_logits`` of shape (N, d_out).
    """
    M = logits.size
    # max(z, 0) - z y + log(1 + e^{-|z|}): only e^{-|z|} <= 1 is ever computed
    loss = np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits))))
    # sigma(z) = 1 / (1 + e^{-z}), written so that no exponent is positive
    e = np.exp(-np.abs(logits))
    sigma = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
    d_logits = (sigma - y) / M  # (N, d_out)
    return loss, d_logits


# %% [markdown] tags=["deeper"]
# **Hint.** `np.log1p(x)` is $\log(1 + x)$, accurate for small $x$. For the gradient,
# $\sigma(z) = 1/(1 + e^{-z})$ overflows in $e^{-z}$ for very negative $z$; for $z < 0$ use the
# equal $e^{z}/(1 + e^{z})$ instead (`np.where` picks per entry). Divide by `logits.size`.


# %% tags=["fold"]
# The checker of exercise 2
@checker
def check_bce(bce_with_logits):
    """The loss against log(1 + e^z) - z y (np.logaddexp, stable), d_logits against finite
    differences of that loss, and both at logits of +-1000."""
    rng = np.random.default_rng(2)
    logits = 3 * rng.standard_normal((6, 2))
    y = (rng.random((6, 2)) < 0.5).astype(np.float64)

    def reference(z):
        return np.mean(np.logaddexp(0, z) - z * y)

    loss, d_logits = bce_with_logits(logits.copy(), y)
    sigma = 1 / (1 + np.exp(-logits))
    suspects = [("the sign is flipped: it is sigma(z) - y", (y - sigma) / y.size)]
    big = np.array([[1000.0, -1000.0]])
    big_loss, big_d = bce_with_logits(big, np.array([[0.0, 1.0]]))
    return all_of(
        "bce_with_logits",
        lambda: compare("the loss", loss, reference(logits), tol=1e-12),
        lambda: compare(
            "d_logits", d_logits, numeric(reference, logits), N=y.size, suspects=suspects
        ),
        lambda: compare("the loss at logits of +-1000 (it should be 1000)", big_loss, 1000.0),
        lambda: compare("d_logits at logits of +-1000", big_d, [[0.5, -0.5]]),
    )


# %%
check_bce(bce_with_logits)

# %% [markdown]
# ## 3. A tanh network, gradient-checked
#
# **What to do.** Write `tanh_network_grads(params, X, y)`: the loss and every parameter's
# gradient for a network with $\tanh$ after each hidden layer and `bce_with_logits` as its loss.
# `sm.loss_and_grads` takes the activation pair as `activation=`, so this is one call. Then run
# `sm.grad_check` on the same network: it checks all of your exercise 1 and 2 at once.
#
# **Why it matters.** `mlp_forward` and `mlp_backward` never name ReLU: each layer calls the
# pair it is given. A new activation is a new pair, checked once on its own and then inside a
# whole network, where a wrong shape or a forgotten factor has nowhere to hide.


# %%
def tanh_network_grads(params, X, y):
    """``(loss, grads)`` of the network ``params`` with tanh hidden layers and the BCE loss."""
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: tanh_network_grads
def tanh_network_grads(params, X, y):
    """``(loss, grads)`` of the network ``params`` with tanh hidden layers and the BCE loss."""
    return sm.loss_and_grads(
        params, X, y, bce_with_logits, activation=(tanh_forward, tanh_backward)
    )


# %% [markdown] tags=["deeper"]
# **Hint.** `sm.loss_and_grads(params, X, y, loss_fn, activation=(forward, backward))`. Without
# `activation=` you get the gradients of a ReLU network, which the checker recognises.


# %% tags=["fold"]
# The checker of exercise 3
def tanh_problem():
    """A network [3, 5, 5, 2] and 8 points with binary targets."""
    rng = np.random.default_rng(3)
    params = sm.init_mlp([3, 5, 5, 2], rng)
    X = rng.standard_normal((8, 3))
    y = (rng.random((8, 2)) < 0.5).astype(np.float64)
    return params, X, y


def _reference_out(params, X, act=np.tanh):
    """The output of a network with activation ``act``, written without scratch_mlp."""
    L = len(params) // 2
    A = X
    for l in range(1, L + 1):
        Z = A @ params[f"W{l}"] + params[f"b{l}"]
        A = act(Z) if l < L else Z
    return A


def _reference_loss(params, X, y):
    """The BCE loss of the tanh network, by np.logaddexp(0, z) = log(1 + e^z)."""
    out = _reference_out(params, X)
    return np.mean(np.logaddexp(0, out) - out * y)


@checker
def check_tanh_network(tanh_network_grads):
    """Every gradient against finite differences of the loss of a tanh network."""
    params, X, y = tanh_problem()
    loss, grads = tanh_network_grads({k: p.copy() for k, p in params.items()}, X, y)
    relu_out = _reference_out(params, X, lambda Z: np.maximum(Z, 0))
    suspects = [
        (
            "it is a ReLU network's loss: pass activation=(tanh_forward, tanh_backward)",
            np.mean(np.logaddexp(0, relu_out) - relu_out * y),
        ),
        (
            "it is the MSE loss: pass bce_with_logits as loss_fn",
            np.mean((_reference_out(params, X) - y) ** 2),
        ),
    ]

    def check_tensor(name):
        want = numeric(lambda p: _reference_loss({**params, name: p}, X, y), params[name])
        return compare(f"grads[{name!r}]", grads.get(name), want)

    return all_of(
        "tanh_network_grads, every gradient",
        lambda: compare(
            "the loss", loss, _reference_loss(params, X, y), tol=1e-12, suspects=suspects
        ),
        *(functools.partial(check_tensor, name) for name in params),
    )


# %%
check_tanh_network(tanh_network_grads)

# %% [markdown]
# And the project's own gradient check on that network, with your activation pair: every entry
# of every tensor, against centred differences.

# %%
try:
    params_tanh, X_tanh, y_tanh = tanh_problem()
    activation = (tanh_forward, tanh_backward)
    print(sm.grad_check(params_tanh, X_tanh, y_tanh, bce_with_logits, activation=activation))
except NotImplementedError:
    print("not written yet: write exercises 1 and 2 first")


# %% [markdown]
# ## 4. Find the bug
#
# **What to do.** Each function below is a copy of one of the project's with one line changed.
# Before reading their code, read the three gradient-check tables under them: each comes from a
# ReLU network $[4, 6, 6, 3]$ with MSE loss in which one function was replaced by its buggy copy.
# From the table alone, say what kind of mistake it is: which tensors fail, and by how much?
# Then find the line and write the fixed function.
#
# **Why it matters.** A failing gradient check says *that* something is wrong; its pattern says
# *where*. A relative error of exactly 2 is a flipped sign; errors only in the biases point at
# the bias gradient; errors in every layer below the output but not in the output layer point at
# something between the layers.


# %%
def buggy_mse_loss(out, y):
    diff = out - y
    return np.mean(diff**2), 2 * (y - out) / diff.size


def buggy_linear_backward(d_Z, cache, need_d_X=True):
    X, W = cache
    dW = X.T @ d_Z
    db = d_Z.mean(axis=0, keepdims=True)
    d_X = d_Z @ W.T if need_d_X else None
    return d_X, dW, db


def buggy_relu_backward(d_A, Z):
    return d_A * np.maximum(Z, 0)


def bug_problem():
    """A ReLU network [4, 6, 6, 3] and 10 points with MSE targets."""
    rng = np.random.default_rng(4)
    params = sm.init_mlp([4, 6, 6, 3], rng)
    return params, rng.standard_normal((10, 4)), rng.standard_normal((10, 3))


def check_with(mse_loss=sm.mse_loss, linear_backward=None, relu_backward=sm.relu_backward):
    """``sm.grad_check`` on ``bug_problem`` with the given pieces in place of the project's."""
    params, X, y = bug_problem()
    activation = (sm.relu_forward, relu_backward)
    # mlp_backward calls the module's linear_backward: swap it for the length of the check
    with mock.patch.object(sm, "linear_backward", linear_backward or sm.linear_backward):
        return sm.grad_check(params, X, y, mse_loss, activation=activation)


# %%
for name, piece in [
    ("mse_loss", {"mse_loss": buggy_mse_loss}),
    ("linear_backward", {"linear_backward": buggy_linear_backward}),
    ("relu_backward", {"relu_backward": buggy_relu_backward}),
]:
    print(f"with buggy_{name}:\n{check_with(**piece)}\n")


# %%
def fixed_mse_loss(out, y):
    raise NotImplementedError


def fixed_linear_backward(d_Z, cache, need_d_X=True):
    raise NotImplementedError


def fixed_relu_backward(d_A, Z):
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: the three fixes
# buggy_mse_loss: the sign of d_out is flipped. Every tensor fails with relative error 2.
def fixed_mse_loss(out, y):
    diff = out - y
    return np.mean(diff**2), 2 * (out - y) / diff.size


# buggy_linear_backward: db is the mean over the batch, not the sum: an extra factor 1/N.
# Only the biases fail, each 10 = N times too small (relative error 1 - 1/N = 0.9).
def fixed_linear_backward(d_Z, cache, need_d_X=True):
    X, W = cache
    dW = X.T @ d_Z
    db = d_Z.sum(axis=0, keepdims=True)
    d_X = d_Z @ W.T if need_d_X else None
    return d_X, dW, db


# buggy_relu_backward multiplies by ReLU(Z), the forward value, instead of the derivative
# [Z > 0]. The output layer has no ReLU after it, so W3 and b3 pass; everything below fails.
def fixed_relu_backward(d_A, Z):
    return d_A * (Z > 0)


# %% [markdown] tags=["deeper"]
# **Hint.** Read the tables for three patterns: every tensor at relative error 2.0; only the `b`
# rows failing, with the same error in each; the output layer's rows passing and every row below
# failing. Then, in the matching function, compare each line with the derivation on the main
# page: which sign, which sum, which derivative?


# %% tags=["fold"]
# The checker of exercise 4
@checker
def check_fixes(fixed_mse_loss, fixed_linear_backward, fixed_relu_backward):
    """grad_check with each fix in place; the number is grad_check's largest relative error."""
    largest = 0.0
    for name, piece, buggy in [
        ("fixed_mse_loss", {"mse_loss": fixed_mse_loss}, {"mse_loss": buggy_mse_loss}),
        (
            "fixed_linear_backward",
            {"linear_backward": fixed_linear_backward},
            {"linear_backward": buggy_linear_backward},
        ),
        (
            "fixed_relu_backward",
            {"relu_backward": fixed_relu_backward},
            {"relu_backward": buggy_relu_backward},
        ),
    ]:
        report = check_with(**piece)
        worst = max(row["max_rel_error"] for row in report.values())
        largest = max(largest, worst)
        if not report.ok:
            failing = ", ".join(t for t, row in report.items() if not row["ok"])
            same = all(
                math.isclose(row["max_rel_error"], check_with(**buggy)[t]["max_rel_error"])
                for t, row in report.items()
            )
            hint = "the same table as the buggy copy" if same else "print(check_with(...))"
            return Result(
                False,
                worst,
                f"FAIL: {name}, grad_check's largest relative error {worst:.1e} "
                f"({failing} fail): {hint}",
            )
    return Result(
        True,
        largest,
        f"PASS: all three fixes pass grad_check, largest relative error {largest:.1e}",
    )


# %%
check_fixes(fixed_mse_loss, fixed_linear_backward, fixed_relu_backward)


# %% [markdown]
# ## 5. Nesterov momentum
#
# **What to do.** Write `Nesterov(lr, momentum)`, an optimizer with `.step(params, grads)` that
# updates `params` in place, as `torch.optim.SGD(lr, momentum, nesterov=True)` does. With
# velocity $b$ (zero at the start), momentum $\mu$ and learning rate $\eta$, each step is
#
# $$b_t = \mu\, b_{t-1} + g_t, \qquad \theta_t = \theta_{t-1} - \eta\,(g_t + \mu\, b_t).$$
#
# **Why it matters.** Plain momentum (`sm.SGD(lr, momentum)`) steps by $\eta\, b_t$: the velocity
# alone. Nesterov's step adds $\mu b_t$ to the current gradient, which is the gradient-descent
# step as seen from where the velocity is about to carry the parameters: it corrects an overshoot
# one step sooner. The checker trains a small network for 30 steps with your optimizer and with a
# reference written from the two equations above, and reports the first step where the
# parameters differ.


# %%
class Nesterov:
    """SGD with Nesterov momentum, as ``torch.optim.SGD(nesterov=True)``; updates in place."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.b = {}  # the velocity, per parameter

    def step(self, params, grads):
        raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: Nesterov
class Nesterov:
    """SGD with Nesterov momentum, as ``torch.optim.SGD(nesterov=True)``; updates in place."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.b = {}  # the velocity, per parameter

    def step(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            b = self.b.setdefault(name, np.zeros_like(p))
            b *= self.momentum  # b_t = mu b_{t-1} + g_t
            b += g
            p -= self.lr * (g + self.momentum * b)  # theta_t = theta_{t-1} - lr (g_t + mu b_t)


# %% [markdown] tags=["deeper"]
# **Hint.** Keep one velocity array per parameter name, created with `np.zeros_like(p)` on the
# first step. Update the velocity first, then use the *new* velocity in the step. Update `p` in
# place (`p -= ...`): the caller's dict holds the same arrays.


# %% tags=["fold"]
# The checker of exercise 5
def optimizer_problem():
    """A ReLU network [2, 8, 1] and 16 points with MSE targets."""
    rng = np.random.default_rng(5)
    params = sm.init_mlp([2, 8, 1], rng)
    return params, rng.standard_normal((16, 2)), rng.standard_normal((16, 1))


def trajectory(optimizer, steps=30, transform=None):
    """The parameters, flattened into one vector, after each of ``steps`` full-batch steps.

    ``transform(grads, params)``, if given, changes the gradients before each step."""
    params, X, y = optimizer_problem()
    path = []
    for _ in range(steps):
        _, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
        if transform is not None:
            grads = transform(grads, params)
        optimizer.step(params, grads)
        path.append(np.concatenate([p.ravel() for p in params.values()]))
    return path


class ReferenceNesterov:
    """The two equations of exercise 5, written out (with the velocity as a plain dict)."""

    def __init__(self, lr, momentum, nesterov=True):
        self.lr, self.mu, self.nesterov, self.b = lr, momentum, nesterov, {}

    def step(self, params, grads):
        for name, p in params.items():
            self.b[name] = self.mu * self.b.get(name, 0.0) + grads[name]
            lookahead = grads[name] + self.mu * self.b[name] if self.nesterov else self.b[name]
            p -= self.lr * lookahead


def compare_trajectories(name, got, want, suspects=()):
    """PASS if the two trajectories agree, else FAIL with the first step that differs."""
    step = first_difference(got, want)
    if step is None:
        error = max(float(np.abs(a - b).max()) for a, b in zip(got, want, strict=True))
        return Result(
            True, error, f"PASS: {name}, {len(want)} steps, largest difference {error:.1e}"
        )
    hint = next(
        (message for message, path in suspects if first_difference(got, path) is None),
        "compare your step with the equations, line by line",
    )
    return Result(False, step, f"FAIL: {name}, the first step that differs is step {step}: {hint}")


@checker
def check_nesterov(Nesterov):
    """30 steps of Nesterov(lr=0.05, momentum=0.9) against ReferenceNesterov."""
    got = trajectory(Nesterov(lr=0.05, momentum=0.9))
    suspects = [
        (
            "these are plain momentum's steps: step by g + mu * b, not b",
            trajectory(ReferenceNesterov(0.05, 0.9, nesterov=False)),
        ),
        ("these are plain SGD steps: there is no velocity", trajectory(sm.SGD(lr=0.05))),
    ]
    want = trajectory(ReferenceNesterov(0.05, 0.9))
    return compare_trajectories("Nesterov", got, want, suspects)


# %%
check_nesterov(Nesterov)

# %% [markdown]
# ## 6. Decoupled weight decay (AdamW) against L2 in the loss
#
# **What to do.** Two ways to keep weights small, with decay rate $\lambda$ (`weight_decay`):
#
# 1. `with_l2(grads, params, weight_decay)`: add $\frac{\lambda}{2} \sum \theta^2$ to the loss,
#    which adds $\lambda\, \theta$ to each gradient. Return the new gradients; change nothing.
# 2. `AdamW(lr, betas, eps, weight_decay)`: shrink every parameter directly, then take Adam's
#    step on the plain gradient, as `torch.optim.AdamW` does:
#    $$\theta \leftarrow (1 - \eta \lambda)\, \theta, \qquad \text{then Adam's update of } \theta.$$
#
# **Why it matters.** For plain gradient descent the two are the same: the step
# $\eta(g + \lambda\theta)$ is $\eta g$ plus a shrink by $\eta\lambda\theta$. Adam is not: it
# divides each gradient by $\sqrt{\hat v}$, the running size of that parameter's gradients, so an
# L2 term inside the gradient is divided too. A parameter with large gradients is then hardly
# decayed, and one with small gradients is pulled towards 0 at about $\eta$ per step, whatever
# $\lambda$ is: how strongly a weight decays depends on its gradient history. AdamW takes the
# decay out of the gradient, so every parameter shrinks by the same factor $1 - \eta\lambda$ per
# step. The cell after the checker shows both.


# %%
def with_l2(grads, params, weight_decay):
    """The gradients of ``loss + weight_decay / 2 * sum(p**2)``: a new dict keyed like ``grads``."""
    raise NotImplementedError


class AdamW(sm.Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``; updates in place."""

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(lr, betas, eps)
        self.weight_decay = weight_decay

    def step(self, params, grads):
        raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: with_l2 and AdamW
def with_l2(grads, params, weight_decay):
    """The gradients of ``loss + weight_decay / 2 * sum(p**2)``: a new dict keyed like ``grads``."""
    return {name: g + weight_decay * params[name] for name, g in grads.items()}


class AdamW(sm.Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``; updates in place."""

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(lr, betas, eps)
        self.weight_decay = weight_decay

    def step(self, params, grads):
        for p in params.values():
            p *= 1 - self.lr * self.weight_decay  # decay first, outside Adam's normalisation
        super().step(params, grads)  # then Adam's step on the plain gradient


# %% [markdown] tags=["deeper"]
# **Hint.** The derivative of $\frac{\lambda}{2}\theta^2$ is $\lambda\theta$. For `AdamW`, the
# parent class already does Adam's step: multiply each parameter in place by
# $1 - \eta\lambda$ (`self.lr`, `self.weight_decay`), then call `super().step(params, grads)`.


# %% tags=["fold"]
# The checker of exercise 6
def l2_reference(grads, params, weight_decay):
    return {name: g + weight_decay * params[name] for name, g in grads.items()}


class ReferenceAdamW:
    """torch.optim.AdamW's update, from its definition."""

    def __init__(self, lr, weight_decay, decay_first=True, decay_with_lr=True):
        self.lr, self.wd, self.first, self.with_lr = lr, weight_decay, decay_first, decay_with_lr
        self.m, self.v, self.t = {}, {}, 0

    def step(self, params, grads):
        self.t += 1
        shrink = 1 - (self.lr if self.with_lr else 1.0) * self.wd
        for name, p in params.items():
            g = grads[name]
            if self.first:
                p *= shrink
            self.m[name] = 0.9 * self.m.get(name, 0.0) + 0.1 * g
            self.v[name] = 0.999 * self.v.get(name, 0.0) + 0.001 * g**2
            m_hat, v_hat = self.m[name] / (1 - 0.9**self.t), self.v[name] / (1 - 0.999**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            if not self.first:
                p *= shrink


@checker
def check_weight_decay(with_l2, AdamW):
    """with_l2 against finite differences of the penalised loss; AdamW over 30 steps against
    ReferenceAdamW, and told apart from Adam with L2 in the gradient."""
    params, X, y = optimizer_problem()
    _, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
    wd, lr = 0.1, 0.01
    new = with_l2(grads, {k: p.copy() for k, p in params.items()}, wd)

    def check_tensor(name):
        def penalised(p):
            loss = sm.loss_and_grads({**params, name: p}, X, y, sm.mse_loss)[0]
            return loss + wd / 2 * sum(np.sum(q**2) for q in {**params, name: p}.values())

        g, p = grads[name], params[name]
        suspects = [
            ("the gradient of (lambda/2) p**2 is lambda * p, not lambda * p / 2", g + wd * p / 2),
            ("the gradient of (lambda/2) p**2 is lambda * p, not 2 lambda p", g + 2 * wd * p),
            ("the penalty's gradient is added, not subtracted", g - wd * p),
            ("the loss's own gradient is missing: add lambda * p to it", wd * p),
        ]
        return compare(
            f"with_l2 [{name!r}]", new.get(name), numeric(penalised, p), suspects=suspects
        )

    def check_adamw():
        got = trajectory(AdamW(lr=lr, weight_decay=wd))
        suspects = [
            (
                "this is Adam with L2 in the gradient: decay the parameters, not the gradient",
                trajectory(sm.Adam(lr=lr), transform=lambda g, p: l2_reference(g, p, wd)),
            ),
            (
                "the decay comes after Adam's step: decay first",
                trajectory(ReferenceAdamW(lr, wd, False)),
            ),
            (
                "the decay factor is 1 - lr * weight_decay, not 1 - weight_decay",
                trajectory(ReferenceAdamW(lr, wd, decay_with_lr=False)),
            ),
            ("there is no decay at all", trajectory(sm.Adam(lr=lr))),
        ]
        want = trajectory(ReferenceAdamW(lr, wd))
        return compare_trajectories("AdamW", got, want, suspects)

    return all_of(
        "with_l2 and AdamW",
        *(functools.partial(check_tensor, name) for name in params),
        check_adamw,
    )


# %%
check_weight_decay(with_l2, AdamW)

# %% [markdown]
# Where they differ. The same network, trained for 300 steps four ways with
# $\lambda = 0.1$: gradient descent and Adam, each with L2 in the loss and with decoupled decay.
# For each, the size $\lVert \theta \rVert$ of the trained weights and how far apart the two
# versions end.

# %%
try:

    def decayed(optimizer, lr, wd):
        """A step that first shrinks every parameter by 1 - lr * wd, then calls ``optimizer``."""

        class Decayed:
            def step(self, params, grads):
                for p in params.values():
                    p *= 1 - lr * wd
                optimizer.step(params, grads)

        return Decayed()

    lr, wd = 0.01, 0.1
    for label, l2_run, decoupled_run in [
        (
            "gradient descent",
            trajectory(sm.SGD(lr), 300, transform=lambda g, p: with_l2(g, p, wd)),
            trajectory(decayed(sm.SGD(lr), lr, wd), 300),
        ),
        (
            "Adam",
            trajectory(sm.Adam(lr), 300, transform=lambda g, p: with_l2(g, p, wd)),
            trajectory(AdamW(lr, weight_decay=wd), 300),
        ),
    ]:
        gap = np.abs(l2_run[-1] - decoupled_run[-1]).max()
        print(
            f"{label:16s}  |theta| with L2 {np.linalg.norm(l2_run[-1]):.4f}, "
            f"decoupled {np.linalg.norm(decoupled_run[-1]):.4f}, largest difference {gap:.1e}"
        )
except NotImplementedError:
    print("not written yet: write with_l2 and AdamW first")

# %% [markdown]
# With gradient descent the two runs end at the same point, to rounding. With Adam they end far
# apart: here L2 in the loss shrinks the weights much more than decoupled decay with the same
# $\lambda$, because the many weights with small gradients have their L2 term normalised up to a
# step of about $\eta$. With Adam, an L2 coefficient and a weight decay are different knobs.


# %% [markdown]
# ## 7. The mini-batch loop
#
# **What to do.** Write `minibatch_train(params, X, y, loss_fn, optimizer, steps, batch_size,
# rng)`: `steps` steps of training on mini-batches, returning the loss of every step (the batch's
# loss, before that step's update), in exactly the order `sm.train` uses:
#
# - an epoch starts with `order = rng.permutation(N)`, a fresh shuffle of the $N$ rows;
# - the steps of an epoch take consecutive slices of it: `order[0:batch_size]`, then
#   `order[batch_size:2 * batch_size]`, and so on;
# - when the rows left are too few to fill a batch, they are skipped and a new epoch starts.
#
# **Why it matters.** A step on a batch of $B$ rows costs $B/N$ of a full-batch step, and its
# gradient is an unbiased estimate of the full one. Shuffling every epoch keeps consecutive
# batches from repeating the same pattern; skipping a short last batch keeps every step's
# gradient a mean over the same number of rows. The checker runs yours and `sm.train` from the
# same seed on 10 rows with batches of 3 and reports the first step whose loss differs.


# %%
def minibatch_train(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
    """Train ``params`` in place on mini-batches; return the loss of every step."""
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: minibatch_train
def minibatch_train(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
    """Train ``params`` in place on mini-batches; return the loss of every step."""
    N = X.shape[0]
    losses = []
    order, position = None, N  # no epoch yet: the first step starts one
    for _ in range(steps):
        if position + batch_size > N:  # too few rows left for a batch: a new epoch
            order, position = rng.permutation(N), 0
        rows = order[position : position + batch_size]
        position += batch_size
        loss, grads = sm.loss_and_grads(params, X[rows], y[rows], loss_fn)
        optimizer.step(params, grads)
        losses.append(float(loss))
    return losses


# %% [markdown] tags=["deeper"]
# **Hint.** Keep two variables across steps: the current `order` and the `position` of the next
# batch in it. Start with `position = N`, so that the first step finds no rows left and draws the
# first permutation. Take the batch's rows with `X[rows]` and `y[rows]`.


# %% tags=["fold"]
# The checker of exercise 7
@checker
def check_minibatch_train(minibatch_train):
    """12 steps, N = 10, batch_size = 3 (three batches an epoch, one row skipped), SGD, against
    sm.train with the same seed: the first step whose loss differs."""
    rng = np.random.default_rng(7)
    start = sm.init_mlp([2, 6, 1], rng)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    sizes = []

    def recording_mse(out, y):
        sizes.append(out.shape[0])
        return sm.mse_loss(out, y)

    def run(fn):
        params = {k: p.copy() for k, p in start.items()}
        return fn(params, X, y, recording_mse, sm.SGD(lr=0.1), 12, 3, np.random.default_rng(0))

    want = run(sm.train)
    sizes.clear()
    got = run(minibatch_train)
    step = first_difference([np.float64(v) for v in got], [np.float64(v) for v in want], 1e-12)
    if step is None:
        return Result(True, 0, "PASS: minibatch_train, all 12 losses equal sm.train's")
    if any(size != 3 for size in sizes):
        hint = f"a batch of {min(sizes)} rows was used: skip the rows too few for a batch"
    elif step == 0:
        hint = "the first batch is rows order[:batch_size] of order = rng.permutation(N)"
    elif step % 3 == 0:
        hint = "a new epoch draws a new rng.permutation(N)"
    elif len(got) != len(want):
        hint = f"it returned {len(got)} losses for 12 steps"
    else:
        hint = "take consecutive slices of the permutation, and the loss before the update"
    return Result(
        False, step, f"FAIL: minibatch_train, the first step that differs is step {step}: {hint}"
    )


# %%
check_minibatch_train(minibatch_train)

# %% [markdown]
# ## 8. The backward pass of batch normalisation
#
# **What to do.** Batch normalisation standardises each column of $Z$ $(N, D)$ over the batch,
# then scales and shifts it with learned $\gamma$ and $\beta$, both $(1, D)$:
#
# $$\mu = \frac{1}{N}\sum_n Z_{n,:}, \qquad \sigma^2 = \frac{1}{N}\sum_n (Z_{n,:} - \mu)^2,
#   \qquad \hat Z = \frac{Z - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
#   \mathrm{out} = \gamma \odot \hat Z + \beta.$$
#
# `batchnorm_forward` below is given. Write `batchnorm_backward(d_out, cache)`, returning
# `(d_Z, d_gamma, d_beta)` with the shapes of `Z`, `gamma` and `beta`.
#
# **Why it matters.** It is the classic hard backward pass: $\mu$ and $\sigma^2$ depend on every
# row of $Z$, so each output depends on every input of its column, not just its own. Write
# $G = \texttt{d\_out}$ and $\texttt{d\_Z\_hat} = G \odot \gamma$. The parameters are easy:
# $\texttt{d\_beta} = \sum_n G_{n,:}$ and $\texttt{d\_gamma} = \sum_n (G \odot \hat Z)_{n,:}$.
# For $Z$, the chain rule through $\hat Z$, $\mu$ and $\sigma^2$ sums to
#
# $$\texttt{d\_Z} = \frac{1}{N \sqrt{\sigma^2 + \epsilon}} \Big( N\, \texttt{d\_Z\_hat}
#   - \sum_n \texttt{d\_Z\_hat}_{n,:} - \hat Z \odot \sum_n (\texttt{d\_Z\_hat} \odot \hat Z)_{n,:}
#   \Big) \quad (N, D).$$
#
# The two sums are the paths through $\mu$ and through $\sigma^2$. Derive it on paper first.


# %%
def batchnorm_forward(Z, gamma, beta, eps=1e-5):
    """Batch normalisation in training mode. ``Z``: (N, D); ``gamma``, ``beta``: (1, D).

    Returns ``out`` (N, D) and the cache ``(Z_hat, gamma, inv_std)``.
    """
    mu = Z.mean(axis=0, keepdims=True)  # (1, D)
    var = Z.var(axis=0, keepdims=True)  # (1, D), the biased variance (1/N)
    inv_std = 1 / np.sqrt(var + eps)  # (1, D)
    Z_hat = (Z - mu) * inv_std  # (N, D)
    return gamma * Z_hat + beta, (Z_hat, gamma, inv_std)


def batchnorm_backward(d_out, cache):
    """``(d_Z, d_gamma, d_beta)`` from the upstream gradient ``d_out`` (N, D)."""
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: batchnorm_backward
def batchnorm_backward(d_out, cache):
    """``(d_Z, d_gamma, d_beta)`` from the upstream gradient ``d_out`` (N, D)."""
    Z_hat, gamma, inv_std = cache
    N = d_out.shape[0]
    d_beta = d_out.sum(axis=0, keepdims=True)  # (1, D)
    d_gamma = (d_out * Z_hat).sum(axis=0, keepdims=True)  # (1, D)
    d_Z_hat = d_out * gamma  # (N, D)
    d_Z = (
        inv_std
        / N
        * (
            N * d_Z_hat
            - d_Z_hat.sum(axis=0, keepdims=True)  # the path through mu
            - Z_hat * (d_Z_hat * Z_hat).sum(axis=0, keepdims=True)  # the path through sigma^2
        )
    )  # (N, D)
    return d_Z, d_gamma, d_beta


# %% [markdown] tags=["deeper"]
# **Hint.** Work with $\hat Z$ rather than $Z$. Then
#
# $$\frac{\partial L}{\partial \sigma^2} = -\tfrac12 (\sigma^2+\epsilon)^{-3/2} \sum_n
#   \mathtt{d\_Z\_hat}_{n,:} (Z - \mu)_{n,:}$$
#
# and $\partial L/\partial \mu = -(\sigma^2+\epsilon)^{-1/2} \sum_n \mathtt{d\_Z\_hat}_{n,:}$ (the
# term of $\partial \sigma^2 / \partial \mu$ is a sum of $Z - \mu$, which is 0). Each $Z_{nd}$
# reaches the loss three ways: through $\hat Z_{nd}$ with weight $(\sigma^2+\epsilon)^{-1/2}$,
# through $\mu$ with weight $1/N$, and through $\sigma^2$ with weight $2(Z_{nd} - \mu)/N$. Add
# the three and factor out $(\sigma^2+\epsilon)^{-1/2}/N$. Every sum keeps `keepdims=True`.


# %% tags=["fold"]
# The checker of exercise 8
@checker
def check_batchnorm_backward(batchnorm_backward):
    """d_Z, d_gamma and d_beta against finite differences of sum(batchnorm_forward(...) * G)."""
    rng = np.random.default_rng(8)
    Z = 2 * rng.standard_normal((6, 4)) + 1
    gamma, beta = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    G = rng.standard_normal((6, 4))
    _, cache = batchnorm_forward(Z, gamma, beta)
    d_Z, d_gamma, d_beta = batchnorm_backward(G.copy(), cache)
    Z_hat, _, inv_std = cache
    d_Z_hat = G * gamma
    suspects = [
        (
            "it treats mu and sigma^2 as constants: add the paths through them",
            d_Z_hat * inv_std,
        ),
        (
            "the path through sigma^2 is missing",
            inv_std * (d_Z_hat - d_Z_hat.mean(axis=0, keepdims=True)),
        ),
        (
            "the path through mu is missing",
            inv_std * (d_Z_hat - Z_hat * (d_Z_hat * Z_hat).mean(axis=0, keepdims=True)),
        ),
        ("gamma is missing: d_Z_hat = d_out * gamma", batchnorm_backward_reference(G, cache, 1.0)),
    ]
    return all_of(
        "batchnorm_backward",
        lambda: compare(
            "d_beta", d_beta, numeric(lambda b: np.sum(batchnorm_forward(Z, gamma, b)[0] * G), beta)
        ),
        lambda: compare(
            "d_gamma",
            d_gamma,
            numeric(lambda g: np.sum(batchnorm_forward(Z, g, beta)[0] * G), gamma),
        ),
        lambda: compare(
            "d_Z",
            d_Z,
            numeric(lambda z: np.sum(batchnorm_forward(z, gamma, beta)[0] * G), Z),
            N=Z.shape[0],
            suspects=suspects,
        ),
    )


def batchnorm_backward_reference(d_out, cache, gamma=None):
    """d_Z of the derivation above; with ``gamma`` given, that gamma instead of the cache's."""
    Z_hat, cached_gamma, inv_std = cache
    d_Z_hat = d_out * (cached_gamma if gamma is None else gamma)
    N = d_out.shape[0]
    sum_path = d_Z_hat.sum(axis=0, keepdims=True)
    var_path = Z_hat * (d_Z_hat * Z_hat).sum(axis=0, keepdims=True)
    return inv_std / N * (N * d_Z_hat - sum_path - var_path)


# %%
check_batchnorm_backward(batchnorm_backward)

# %% [markdown]
# ## Where to go next
#
# Every checker above is an ordinary function defined in the folded cells: read one to see how
# it decides. The same tools check anything you add to the network: a forward/backward pair goes
# into `activation=`, a loss into `loss_fn`, and `sm.grad_check` compares the result with finite
# differences, entry by entry.
