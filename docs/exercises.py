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
    return f"{wrong.sum()} of {wrong.size} entries differ, the most at index {tuple(map(int, where))}"


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
        return Result(False, math.nan, f"FAIL: {name} has shape {got.shape}, not {want.shape}: {hint}")
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
    return sm.loss_and_grads(params, X, y, bce_with_logits, activation=(tanh_forward, tanh_backward))


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
        lambda: compare("the loss", loss, _reference_loss(params, X, y), tol=1e-12, suspects=suspects),
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
