# %% [markdown]
# # When it breaks: the failure modes of a training loop
#
# Building the loop by hand has one payoff beyond understanding it: when training goes wrong, you
# can tell *why*. This page makes each classic mistake on purpose, in the backward pass, the
# optimiser, the initialisation and the numerics of the loss, and shows what it looks like and
# which check catches it; then the gradient check's false alarms. A table at the end maps what
# you see to the first thing to suspect.
#
# **How the bugs are planted.** Every mistake is a real function below, a copy of the right one
# from `scratch_mlp.py` with one line changed. A wrong ReLU backward goes in through the
# `activation=` argument that `grad_check`, `loss_and_grads` and `train` all take. A wrong linear
# layer goes into a private copy of the module, made by `with_bug`: `mlp_backward` looks up
# `linear_backward` in its own module each time it runs, so in a copy whose `linear_backward` is
# the buggy one the whole backward pass uses the buggy piece, while the `scratch_mlp` that
# everything else imports stays as it is. A bug in a loss's gradient is simply a different
# `loss_fn`. The tests
# in `tests/test_failure_modes.py` import this page and check, on these same functions, that each
# bug shows the symptom described here.
#
# **How to run it.** From the project root, `python -m docs.failure_modes` prints everything and
# writes the figures into `figures/`; importing it runs nothing.

# %% tags=["fold"]
# Imports, and the three small problems every bug is checked on
from __future__ import annotations

import dataclasses
import functools
import importlib.util
from collections.abc import Callable

import numpy as np

import scratch_mlp as sm


def with_bug(name: str, replacement):
    """A private copy of scratch_mlp whose ``name`` is ``replacement``; the module that everything
    else imports is left as it is."""
    spec = importlib.util.spec_from_file_location("scratch_mlp_with_a_bug", sm.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    setattr(module, name, replacement)
    return module


def sine_bench():
    """The article's network [1, 64, 1] at its He initialisation and the article's data."""
    rng = np.random.RandomState(0)  # the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    return sm.init_mlp([1, 64, 1], rng), X, y


def square_bench(width: int = 4, n: int = 10):
    """A network [width, width, width]: every weight matrix square. ``n`` random points."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((n, width)), rng.standard_normal((n, width))
    return sm.init_mlp([width, width, width], rng), X, y


def spiral_bench(n_per_class: int = 10):
    """A classifier [2, 16, 16, 3] on ``3 * n_per_class`` spiral points with integer labels."""
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng, n_per_class=n_per_class)
    return sm.init_mlp([2, 16, 16, 3], rng), X, labels


def numeric_grads(params, X, y, loss_fn, dtype=np.float64, h: float = 1e-5):
    """Centred differences of the loss for every tensor, computed in ``dtype``, as float64.

    Unlike ``grad_check`` this skips nothing: entries on a ReLU kink are included.
    """
    p = {name: v.astype(dtype) for name, v in params.items()}
    X, y = X.astype(dtype), (y.astype(dtype) if y.dtype.kind == "f" else y)

    def loss(_):  # numerical_gradient moves one entry of p[name] in place
        return loss_fn(sm.mlp_forward(p, X)[0], y)[0]

    return {name: sm.numerical_gradient(loss, p[name], h).astype(np.float64) for name in p}


def max_rel_error(a, n) -> float:
    """``max |a - n| / max(|a|, |n|)`` over the entries, as ``grad_check`` reports it."""
    scale = np.maximum(np.abs(a), np.abs(n))
    return float((np.abs(a - n) / np.where(scale > 0, scale, 1.0)).max())


# %% [markdown]
# The bugs are checked on three small problems, each at a fresh **He initialisation**, the start
# `init_mlp` gives: every weight drawn from $\mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, where
# $\mathrm{fan}_\mathrm{in}$ is the number of inputs of the layer, and every bias 0 (the variance
# $2/\mathrm{fan}_\mathrm{in}$ keeps the scale of the signal about the same from layer to layer;
# section 3.3 shows what other scales do). The problems: **sine**, the article's network
# $[1, 64, 1]$ on its 200 points; **square**, a network $[4, 4, 4]$ on 10 random
# points, whose weight matrices are all square (section 1.3 says why that matters); and
# **spirals**, a classifier $[2, 16, 16, 3]$ on 30 spiral points, for the softmax loss.
#
# ## 1. Backward-pass bugs: what the gradient check sees
#
# `grad_check` compares each tensor's analytic gradient $a$ with centred finite differences $n$ of
# the loss, which involve no derivative at all, so a bug in the backward pass cannot hide in both.
# An entry passes when $|a - n| \le \mathrm{atol} + \mathrm{rtol}\,|n|$, with
# $\mathrm{rtol} = 10^{-6}$ and $\mathrm{atol} = 10^{-8}$ ([the training loop, section
# 3](../scratch_mlp/#3-gradient-checking) derives it). Read its table for **which tensors fail**,
# **the size of the error** (near 1: a wrong direction; the same on every tensor: one constant
# factor), and the **ratio analytic / numerical**, which often names the mistake. Which tensors fail
# locates the bug. The backward pass runs from the output to the input, so a wrong line on the path
# the gradient flows back along (`d_out`, `d_A`, `d_Z`) corrupts the gradients computed after it,
# those of the tensors between it and the input, and none of those between it and the output; a
# wrong line that computes one tensor's gradient only (a `dW` or a `db`) corrupts that tensor alone.
# The table lists the tensors from the input to the output, $W_1$ first, so its lowest failing row
# is the failing tensor nearest the output: the bug is in the backward step between that tensor and
# the passing row below it (in the loss's gradient, if even the last row fails).


# %% tags=["fold"]
# A bug, the problem it is checked on, and how it is planted


@dataclasses.dataclass(frozen=True)
class BackwardBug:
    """A one-line mistake in a backward pass, and the problem on which it is checked."""

    name: str
    wrong: str  # the line as written
    right: str  # the line as it should be
    bench: Callable  # () -> (params, X, y)
    loss_fn: Callable  # the correct loss for that problem
    buggy_loss_fn: Callable | None = None  # for a bug in the loss's own gradient
    patch: tuple = ()  # (function name in scratch_mlp, buggy replacement) for a bug in a layer
    affected: tuple = ()  # the tensors whose gradient it gets wrong
    activation: tuple = sm.RELU  # for a bug in the activation

    def planted(self, buggy: bool = True):
        """``(module, loss_fn, activation)`` that run the backward pass with this bug (none if
        not ``buggy``): the module is a private copy where the bug is in a layer."""
        if not buggy:
            return sm, self.loss_fn, sm.RELU
        module = with_bug(*self.patch) if self.patch else sm
        return module, self.buggy_loss_fn or self.loss_fn, self.activation

    def report(self, buggy: bool = True):
        """``grad_check`` on the bug's problem, with the bug planted (or not)."""
        params, X, y = self.bench()
        module, loss_fn, activation = self.planted(buggy)
        return module.grad_check(params, X, y, loss_fn, activation=activation)

    def grads(self, buggy: bool = True):
        """``(params, X, grads)``: ``loss_and_grads`` on the bug's problem, planted or not."""
        params, X, y = self.bench()
        module, loss_fn, activation = self.planted(buggy)
        return params, X, module.loss_and_grads(params, X, y, loss_fn, activation)[1]

    def ratios(self) -> dict[str, float]:
        """Per tensor, the median of analytic / numerical with the bug planted: 1 for a right
        gradient, the factor itself for a scale bug."""
        params, X, grads = self.grads()
        numeric = numeric_grads(params, X, self.bench()[2], self.loss_fn)
        return {
            k: float(np.median(grads[k][numeric[k] != 0] / numeric[k][numeric[k] != 0]))
            for k in params
        }


def show(bug: BackwardBug) -> None:
    """Print the bug's line and the gradient check's table with it planted."""
    print(f"{bug.name}\n  wrong: {bug.wrong}\n  right: {bug.right}\n")
    print(bug.report())


# %% [markdown]
# First the correct code on the three problems, so we know what "right" looks like.

# %%
if __name__ == "__main__":
    for bench, loss_fn in [
        (sine_bench, sm.mse_loss),
        (square_bench, sm.mse_loss),
        (spiral_bench, sm.softmax_cross_entropy),
    ]:
        report = sm.grad_check(*bench(), loss_fn)
        largest = max(row["max_rel_error"] for row in report.values())
        print(
            f"{bench.__name__:13s} every tensor ok: {report.ok}, largest relative error "
            f"{largest:.1e}"
        )

# %% [markdown]
# ### 1.1 The ReLU mask forgotten
#
# The ReLU's backward is a mask, $\mathtt{d\_Z} = \mathtt{d\_A} \odot \mathbb 1[Z > 0]$, where
# $\odot$ multiplies two arrays of the same shape entry by entry and $\mathbb 1[Z > 0]$ is 1 where
# $Z > 0$ and 0 elsewhere: `d_A * (Z > 0)` in NumPy. Forget it and the gradient flows back
# through every unit as if ReLU were the identity, including the units that were off and did not
# affect the loss at all.


# %%
def relu_backward_no_mask(d_A, Z):
    """``relu_backward`` with the mask forgotten: ReLU treated as the identity."""
    return d_A  # right: d_A * (Z > 0)


RELU_NO_MASK = BackwardBug(
    name="the ReLU mask forgotten",
    wrong="d_Z = d_A",
    right="d_Z = d_A * (Z > 0)",
    bench=sine_bench,
    loss_fn=sm.mse_loss,
    affected=("W1", "b1"),
    activation=(sm.relu_forward, relu_backward_no_mask),
)

if __name__ == "__main__":
    show(RELU_NO_MASK)

# %% [markdown]
# **How to tell it.** $W_2$ and $b_2$ are right, $W_1$ and $b_1$ are wrong (relative errors of
# 1.6 and 0.69): the bug sits between them, and the only thing between them is the ReLU. The
# errors are large, and not one constant factor: each unit's gradient gains the contributions of
# the examples on which the unit was off. With one input and zero biases every unit here is off
# on exactly half of the points (where $x\,W_{1,j} < 0$), so every entry of $W_1$ and $b_1$ is
# wrong.
#
# ### 1.2 The $1/N$ of the loss forgotten
#
# The MSE is a mean over its $M = N C$ entries, for $N$ rows and $C$ outputs per row,
# $L = \frac1M \sum (\mathrm{out} - y)^2$, so its gradient carries the $1/M$:
# $\partial L / \partial\,\mathrm{out} = \frac2M(\mathrm{out} - y)$. Forget it in the gradient,
# keep it in the loss, and every gradient is exactly $M$ times too large: here $M = N = 200$.


# %%
def mse_loss_no_mean(out, y):
    """``mse_loss`` whose gradient forgets the ``1/M`` of the mean; the loss keeps it."""
    diff = out - y  # (N, C)
    return np.mean(diff**2), 2 * diff  # right: 2 * diff / diff.size


MSE_NO_MEAN = BackwardBug(
    name="the 1/N of the MSE forgotten",
    wrong="d_out = 2 * (out - y)",
    right="d_out = 2 * (out - y) / M",
    bench=sine_bench,
    loss_fn=sm.mse_loss,
    buggy_loss_fn=mse_loss_no_mean,
    affected=("W1", "b1", "W2", "b2"),
)

if __name__ == "__main__":
    show(MSE_NO_MEAN)
    ratios = MSE_NO_MEAN.ratios()
    print("\nanalytic / numerical, median per tensor:", {k: round(r, 6) for k, r in ratios.items()})

# %% [markdown]
# **How to tell it.** Every tensor fails, with the *same* relative error, $1 - 1/200 = 0.995$
# (the table rounds it to 1.0e+00 or 9.9e-01), and the ratio analytic / numerical is exactly
# 200 everywhere: one constant factor that every gradient inherits from `d_out`. A ratio equal
# to the batch size is the missing mean.
#
# **Why the loss curve may not show it.** A gradient 200 times too large is a learning rate 200
# times too large, and nothing more. With SGD at a small learning rate the buggy run simply
# trains faster: it looks like an *improvement*. With Adam it is invisible: Adam divides the
# gradient by its own running size $\sqrt{\hat v}$, so a constant factor cancels (up to the tiny
# $\epsilon$), and the two loss curves agree to $10^{-5}$ for 500 steps. Only the check sees the
# bug.


# %%
def train_sine(loss_fn, optimizer, steps: int = 2001) -> list[float]:
    """Train the sine problem from ``sine_bench``'s start; return every step's loss."""
    params, X, y = sine_bench()
    return sm.train(params, X, y, loss_fn, optimizer, steps=steps)


if __name__ == "__main__":
    optimizers = {
        "Adam, lr = 0.01": lambda: sm.Adam(lr=0.01),
        "SGD, lr = 1e-5": lambda: sm.SGD(1e-5),
    }
    scale_runs = {
        name: {
            "correct": np.array(train_sine(sm.mse_loss, make())),
            "1/N forgotten": np.array(train_sine(mse_loss_no_mean, make())),
        }
        for name, make in optimizers.items()
    }
    for name, runs in scale_runs.items():
        print(
            f"{name:16s} loss after 2001 steps: correct {runs['correct'][-1]:.5f}, "
            f"1/N forgotten {runs['1/N forgotten'][-1]:.5f}"
        )
    adam = scale_runs["Adam, lr = 0.01"]
    gap = np.abs(adam["correct"] - adam["1/N forgotten"]) / adam["correct"]
    print(f"Adam: the two curves differ by at most {gap[:500].max():.1e} (relative) in 500 steps")

# %% [markdown]
# ### 1.3 A transposed weight gradient
#
# In this project a row is an example: a layer with $p$ inputs and $q$ units is $Z = X W + b$
# with $W$ of shape $(p, q)$, and its weight gradient is $\mathtt{dW} = X^\top G$, of the
# same shape, where $G = \partial L / \partial Z$. Many textbooks use columns instead: a layer is
# $z = W' x$ with $W'$ of shape $(q, p)$ and gradient $g\,x^\top$.
# Carry that formula over to rows and it becomes $G^\top X$, `d_Z.T @ X`: the transpose of the
# right gradient, of shape $(q, p)$.


# %%
def linear_backward_transposed(d_Z, cache, need_d_X: bool = True):
    """``linear_backward`` with the weight gradient transposed: ``(q, p)``, not ``(p, q)``."""
    X, W = cache
    dW = d_Z.T @ X  # right: X.T @ d_Z
    db = d_Z.sum(axis=0, keepdims=True)
    d_X = d_Z @ W.T if need_d_X else None
    return d_X, dW, db


TRANSPOSED = BackwardBug(
    name="a transposed weight gradient, square layers",
    wrong="dW = d_Z.T @ X",
    right="dW = X.T @ d_Z",
    bench=square_bench,
    loss_fn=sm.mse_loss,
    patch=("linear_backward", linear_backward_transposed),
    affected=("W1", "W2"),
)

if __name__ == "__main__":
    show(TRANSPOSED)
    params, X, grads = TRANSPOSED.grads()
    numeric = numeric_grads(params, X, square_bench()[2], sm.mse_loss)
    for name in TRANSPOSED.affected:
        print(
            f"{name}: analytic == numerical.T to 1e-7: "
            f"{np.allclose(grads[name], numeric[name].T, rtol=1e-7, atol=0)}"
        )

# %% [markdown]
# On square layers the transposed gradient has the right shape, so nothing complains until the
# numbers are compared: both weight tensors fail, the biases pass, and the analytic gradient is
# exactly the transpose of the numerical one. That last test names the bug.
#
# On the article's network the same line cannot get that far. $W_1$ is $(1, 64)$, so the
# transposed gradient is $(64, 1)$, and the optimizer's `step` checks every gradient's shape
# against its parameter's before it changes anything: `train` stops with a `ValueError` naming
# the tensor. The *shape* of the affected tensor decides what catches a transposition:
#
# | shape of $W$ | transposed gradient | caught by |
# |---|---|---|
# | square, $(n, n)$ | right shape, wrong numbers | the gradient check (table above) |
# | $(m, n)$, $m \ne n$, both $> 1$ | wrong shape, wrong numbers | the shape check |
# | a row or column, $(1, n)$ | wrong shape, *same numbers, same order* | only the shape check |
#
# The last row is the trap: `dW1.T` of a $(1, 64)$ matrix holds exactly the 64 numbers of `dW1`,
# in the same order, so a check that flattens both sides would pass it. Compare shapes first,
# then numbers; and test on a network whose layers differ in width and are wider than 1.

# %%
TRANSPOSED_NON_SQUARE = dataclasses.replace(
    TRANSPOSED, name="a transposed weight gradient, the article's network", bench=sine_bench
)


def shape_error(bug: BackwardBug) -> str:
    """The message of the ``ValueError`` that one step of ``train`` raises with ``bug`` planted:
    the optimizer names the first tensor, in the order of ``params``, whose gradient has the
    wrong shape."""
    params, X, y = bug.bench()
    module, loss_fn, activation = bug.planted()
    try:
        module.train(params, X, y, loss_fn, module.SGD(lr=0.01), 1, activation=activation)
    except ValueError as error:
        return str(error)
    raise AssertionError(f"{bug.name}: train accepted every gradient's shape")


if __name__ == "__main__":
    print(f"{TRANSPOSED_NON_SQUARE.name}: train raises ValueError:")
    print(f"  {shape_error(TRANSPOSED_NON_SQUARE)}")
    params, X, grads = TRANSPOSED_NON_SQUARE.grads()
    correct = TRANSPOSED_NON_SQUARE.grads(buggy=False)[2]
    print(
        "the transposed dW1, flattened, equals the right one flattened: "
        f"{np.array_equal(grads['W1'].ravel(), correct['W1'].ravel())}"
    )

# %% [markdown]
# ### 1.4 A bias gradient summed over the wrong axis, or without `keepdims`
#
# The bias $b$, of shape $(1, q)$, is broadcast over the $N$ rows of the batch, so
# its gradient is the sum of $G$ over the batch axis: `d_Z.sum(axis=0, keepdims=True)`. Two ways
# to get this line wrong:
#
# - **without `keepdims`**: `d_Z.sum(axis=0)` has the right numbers in shape
#   $(q,)$;
# - **over the wrong axis**: `d_Z.sum(axis=1, keepdims=True)` sums over the units instead of the
#   examples: shape $(N, 1)$, and numbers that mean nothing.
#
# Both are shape bugs, and the same shape check stops them, naming the tensor. `train` catches
# them before its first step, on a trial pass over two rows: the message below shows $N = 2$.


# %%
def linear_backward_bias_no_keepdims(d_Z, cache, need_d_X: bool = True):
    """``linear_backward`` with the bias gradient summed without ``keepdims``: ``(q,)``."""
    X, W = cache
    db = d_Z.sum(axis=0)  # right: d_Z.sum(axis=0, keepdims=True)
    return (d_Z @ W.T if need_d_X else None), X.T @ d_Z, db


def linear_backward_bias_wrong_axis(d_Z, cache, need_d_X: bool = True):
    """``linear_backward`` with the bias gradient summed over the units: ``(N, 1)``."""
    X, W = cache
    db = d_Z.sum(axis=1, keepdims=True)  # right: d_Z.sum(axis=0, keepdims=True)
    return (d_Z @ W.T if need_d_X else None), X.T @ d_Z, db


BIAS_NO_KEEPDIMS = BackwardBug(
    name="the bias gradient without keepdims",
    wrong="db = d_Z.sum(axis=0)",
    right="db = d_Z.sum(axis=0, keepdims=True)",
    bench=sine_bench,
    loss_fn=sm.mse_loss,
    patch=("linear_backward", linear_backward_bias_no_keepdims),
    affected=("b1", "b2"),
)
BIAS_WRONG_AXIS = dataclasses.replace(
    BIAS_NO_KEEPDIMS,
    name="the bias gradient summed over the wrong axis",
    wrong="db = d_Z.sum(axis=1, keepdims=True)",
    patch=("linear_backward", linear_backward_bias_wrong_axis),
)
VALUE_BUGS = (RELU_NO_MASK, MSE_NO_MEAN, TRANSPOSED)  # and SOFTMAX_NO_MEAN, in 1.5
SHAPE_BUGS = (TRANSPOSED_NON_SQUARE, BIAS_NO_KEEPDIMS, BIAS_WRONG_AXIS)

if __name__ == "__main__":
    for bug in (BIAS_NO_KEEPDIMS, BIAS_WRONG_AXIS):
        print(f"{bug.name}: train raises ValueError:\n  {shape_error(bug)}")

# %% [markdown]
# ### 1.5 The softmax gradient without its $1/N$
#
# The softmax cross-entropy is a mean over the batch, so its gradient is
# $\frac1N(\operatorname{softmax}(z) - \operatorname{one\_hot}(y))$. Forget the $1/N$ and it is
# the same scale bug as 1.2, on the classifier: $N = 30$ here.


# %%
def softmax_cross_entropy_no_mean(logits, labels):
    """``softmax_cross_entropy`` whose gradient forgets the ``1/N``; the loss keeps it."""
    loss, _ = sm.softmax_cross_entropy(logits, labels)  # the loss itself is right
    d_logits = sm.softmax(logits)  # (N, C)
    d_logits[np.arange(logits.shape[0]), labels] -= 1  # p - one_hot(y); right: then / N
    return loss, d_logits


SOFTMAX_NO_MEAN = BackwardBug(
    name="the softmax gradient without its 1/N",
    wrong="d_logits = softmax(z) - one_hot(y)",
    right="d_logits = (softmax(z) - one_hot(y)) / N",
    bench=spiral_bench,
    loss_fn=sm.softmax_cross_entropy,
    buggy_loss_fn=softmax_cross_entropy_no_mean,
    affected=("W1", "b1", "W2", "b2", "W3", "b3"),
)
VALUE_BUGS += (SOFTMAX_NO_MEAN,)

if __name__ == "__main__":
    show(SOFTMAX_NO_MEAN)
    ratios = SOFTMAX_NO_MEAN.ratios()
    print("\nanalytic / numerical, median per tensor:", {k: round(r, 6) for k, r in ratios.items()})

# %% [markdown]
# **How to tell it.** As in 1.2: every tensor fails by $1 - 1/N = 0.967$ and the ratio is
# $N = 30$ in every tensor. Which loss was in use tells which line lost its $1/N$. A ratio that is
# a constant but *not* the batch size (2, say, or $C$) points at another forgotten constant of the
# same line.
#
# ## 2. Optimiser bugs: what the loss curve and the step sizes show
#
# A right gradient can still be used badly. These bugs pass every gradient check; they show in the
# loss curve, or only in the size of the steps.
#
# ### 2.1 and 2.2 A learning rate too large, or too small
#
# How large is too large is set by the loss's **curvature**. Near any point the loss is close to
# a bowl. Along a direction in which its second derivative, the curvature, is $\lambda$, the
# slope is $\lambda$ times the distance from the bowl's bottom, so one step of size $\eta$
# multiplies that distance by $1 - \eta\lambda$, and the loss along that direction, which grows as
# the square of the distance, by $(1 - \eta\lambda)^2$. Below $\eta = 2/\lambda$ the distance
# shrinks; above it every step overshoots the bottom by more than it started from, and it grows.
# The steepest direction is the one to watch: its curvature $\lambda_\mathrm{max}$ is the largest
# eigenvalue of the **Hessian**, the matrix $H$ of second derivatives
# $\partial^2 L / \partial\theta_i \partial\theta_j$ over all 193 parameters $\theta$ of the
# article's network. The cell below builds $H$ a column at a time (column $k$ is how the gradient
# changes as $\theta_k$ moves: a centred difference of two gradients), at the article's start,
# and prints the factors for three learning rates. [The step size and
# curvature](../step_size/) follows $\lambda_\mathrm{max}$ through the article's own run.


# %%
def hessian(params, X, y, loss_fn, h: float = 1e-5) -> np.ndarray:
    """The Hessian of the loss over every parameter, in the order of ``params`` flattened: a
    symmetric matrix (P, P) for P parameters, by centred differences of ``loss_and_grads``."""
    names = list(params)
    theta = np.concatenate([params[k].ravel() for k in names])
    ends = np.cumsum([params[k].size for k in names])[:-1]  # where each tensor ends in theta

    def gradient(theta):
        parts = np.split(theta, ends)
        at = {k: part.reshape(params[k].shape) for k, part in zip(names, parts, strict=True)}
        grads = sm.loss_and_grads(at, X, y, loss_fn)[1]
        return np.concatenate([grads[k].ravel() for k in names])

    H = np.empty((theta.size, theta.size))
    for k in range(theta.size):
        step = np.zeros_like(theta)
        step[k] = h
        H[:, k] = (gradient(theta + step) - gradient(theta - step)) / (2 * h)
    return (H + H.T) / 2  # equal up to rounding; averaged so that it is exactly symmetric


if __name__ == "__main__":
    H = hessian(*sine_bench(), sm.mse_loss)
    lambda_max = float(np.linalg.eigvalsh(H)[-1])  # eigvalsh: a symmetric matrix's eigenvalues
    print(f"the Hessian of the article's network: {H.shape}")
    print(f"the article's start: lambda_max = {lambda_max:.1f}, so 2 / lambda_max = "
          f"{2 / lambda_max:.4f}")  # fmt: skip
    for lr in (0.05, 0.01, 1e-6):
        factor = abs(1 - lr * lambda_max)
        print(
            f"lr = {lr:<6g} |1 - lr lambda_max| = {factor:.6g} per step, its square {factor**2:.6g}"
        )

# %% [markdown]
# At the article's $\eta = 0.01$ the factor is 1.109, a little above 1: that is why the article's
# loss first climbs, and why it recovers is the subject of [the step size
# page](../step_size/). At $\eta = 0.05$ the distance along the steepest direction grows 9.55
# times per step, and the loss along it 91.1 times: the loss grows by tens of times per step
# until it overflows, and `train` stops at the first loss that is not finite, naming the step.
# At $\eta = 10^{-6}$ the factor is 0.999789: every direction shrinks, by almost nothing per step.


# %%
def run(params, X, y, loss_fn, optimizer, steps: int):
    """``train`` that keeps every finite loss: ``(params, losses, error)``, where ``error`` is
    ``train``'s ``FloatingPointError`` message if it stopped, else ``None``."""
    losses = []
    try:
        sm.train(params, X, y, loss_fn, optimizer, steps, on_step=lambda _, v, p: losses.append(v))
    except FloatingPointError as error:
        return params, losses, str(error)
    return params, losses, None


def run_sgd(lr: float, steps: int = 2001):
    """SGD at ``lr`` on the sine problem: ``(params, losses, error)``."""
    return run(*sine_bench(), sm.mse_loss, sm.SGD(lr), steps)


def gradient_norm(params, X, y, loss_fn) -> float:
    """The length of the whole gradient, every tensor together."""
    grads = sm.loss_and_grads(params, X, y, loss_fn)[1]
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


if __name__ == "__main__":
    lr_runs = {lr: run_sgd(lr) for lr in (0.05, 0.01, 1e-6)}
    for lr, (_, losses, error) in lr_runs.items():
        ending = f"stopped: {error}" if error else f"loss after 2001 steps {losses[-1]:.4f}"
        print(f"lr = {lr:<6g} start {losses[0]:.4f}, {ending}")
    article = np.array(lr_runs[0.01][1])
    print(f"lr = 0.01: highest loss {article.max():.2f}, at step {article.argmax()}")
    print("lr = 0.05, the loss of each step before it stopped:")
    print("  " + ", ".join(f"{v:.3g}" for v in lr_runs[0.05][1]))
    start, X, y = sine_bench()
    print(f"\ngradient norm at the start: {gradient_norm(start, X, y, sm.mse_loss):.3f}")
    for lr in (1e-6, 0.01):
        norm = gradient_norm(lr_runs[lr][0], X, y, sm.mse_loss)
        print(f"after 2001 steps at lr = {lr:g}: {norm:.3f}")

# %% tags=["fold"]
# Figure: the loss curves at three learning rates
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(9, 3.6))
    if fig is not None:
        left, right = fig.subplots(1, 2, width_ratios=[1, 2])
        losses = lr_runs[0.05][1]
        left.semilogy(losses, "o-", color="C3", label="lr = 0.05")
        last = len(losses) - 1  # the last finite loss; the next one is inf
        left.annotate(
            f"step {last}: {losses[-1]:.1e}\nstep {last + 1}: inf, train raises",
            (last, losses[-1]),
            xytext=(0.3, 1e60),
            arrowprops={"arrowstyle": "->"},
        )
        left.set(xlabel="step", ylabel="MSE loss (log scale)", xticks=range(len(losses) + 1))
        left.set_title("Too large: lr = 0.05", fontsize=10)
        for lr, color, label in [(0.01, "C0", "the article's"), (1e-6, "C1", "too small")]:
            right.semilogy(lr_runs[lr][1], color=color, label=f"lr = {lr:g} ({label})")
        right.axhline(0.01, color="gray", ls="--", lw=1, label="noise floor 0.01")
        right.set(xlabel="step", ylim=(5e-3, 20))
        right.set_title("Right, and too small", fontsize=10)
        right.legend(fontsize=8)
        fig.suptitle("SGD on the article's network, three learning rates")
        sm.save_figure(
            fig,
            "fm_learning_rate.png",
            alt=(
                "Left: at lr 0.05 the loss rises from 1.6 at step 0 to 1.2e120 at step 6; at "
                "step 7 it is inf and train stops. Right: at the article's lr 0.01 the loss "
                "first climbs to 8.4 at step 20, then falls to 0.042, near the noise floor 0.01, "
                "in 2001 steps, while at lr 1e-6 it only drifts from 1.6 to 1.0."
            ),
        )

# %% [markdown]
# **How to tell them.** Too large: the loss *rises* from the first steps, by tens of times per
# step and faster as the growing weights make the loss steeper still, and `train` stops within a
# few steps with its `FloatingPointError` (`inf` here; `nan` when an `inf - inf` comes first).
# Too small: the loss falls, smoothly and by almost nothing (from 1.5907 to 1.0040 in 2001 steps,
# where the article's rate reaches 0.0424), and the gradient stays large (a norm of 14.6 after
# 2001 steps, against 0.046 for the article's rate): the loss is not at a minimum, it is just not
# moving. A loss that has stopped falling *and* has a small gradient is a different story: a
# minimum, or a plateau of dead units (section 3).
#
# ### 2.3 Adam without bias correction
#
# Adam's moments start at $m_0 = v_0 = 0$, so after $t$ steps of a constant gradient $g$ they are
# $m_t = (1 - \beta_1^t)\,g$ and $v_t = (1 - \beta_2^t)\,g^2$: biased towards 0. Bias correction
# divides that factor out. Without it the step is
# $\eta\,(1 - \beta_1^t)/\sqrt{1 - \beta_2^t}$ instead of $\eta$: $3.16\,\eta$ at $t = 1$,
# $6.57\,\eta$ at $t = 12$, still above $\eta$ after a thousand steps ([the training loop, section
# 5](../scratch_mlp/#5-adam) derives the correction).
# `scratch_mlp.Adam(bias_correction=False)` gives that, the article's formula.
#
# ### 2.4 Adam with its step count advanced once per tensor
#
# $t$ counts *steps*: one `step` call is one $t$ for every tensor. A natural slip is to write
# `self.t += 1` inside the loop over tensors. Then $t$ runs ahead by the number of tensors $T$:
# at the $k$-th step the $i$-th tensor is corrected with $t = T(k-1) + i$, although its $m$ and $v$
# have seen only $k$ gradients. For a constant gradient its step is
#
# $$\eta\,\frac{1 - \beta_1^k}{1 - \beta_1^t}\sqrt{\frac{1 - \beta_2^t}{1 - \beta_2^k}}
#   \quad\text{instead of } \eta.$$
#
# On the first step the later tensors move *less* than $\eta$ (the first-moment factor is below
# 1), and for the next few hundred steps every tensor moves *more*, up to $\sqrt T\,\eta$.


# %%
class AdamPerParameterT(sm.Adam):
    """``scratch_mlp.Adam`` with one line moved: ``t`` advanced once per tensor, not per step."""

    def step(self, params, grads) -> None:
        if not self.m:
            self.m = {name: np.zeros_like(p) for name, p in params.items()}
            self.v = {name: np.zeros_like(p) for name, p in params.items()}
        beta1, beta2 = self.betas
        for name, p in params.items():
            self.t += 1  # right: once per step, before this loop
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g**2
            m_hat = m / (1 - beta1**self.t)
            v_hat = v / (1 - beta2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def step_sizes(optimizer, grads, steps: int) -> dict[str, np.ndarray]:
    """Feed ``optimizer`` the same ``grads`` ``steps`` times; per tensor, each step's largest
    move divided by ``optimizer.lr``: an array of shape (steps,). For a constant gradient every
    correct Adam step is ``lr`` (up to ``eps``), whatever the gradient's scale."""
    params = {name: np.zeros_like(g) for name, g in grads.items()}
    sizes = {name: np.empty(steps) for name in grads}
    for k in range(steps):
        before = {name: p.copy() for name, p in params.items()}
        optimizer.step(params, grads)
        for name in params:
            sizes[name][k] = np.abs(params[name] - before[name]).max() / optimizer.lr
    return sizes


ADAM_VARIANTS = {
    "Adam": lambda: sm.Adam(lr=0.01),
    "no bias correction": lambda: sm.Adam(lr=0.01, bias_correction=False),
    "t per tensor": lambda: AdamPerParameterT(lr=0.01),
}

if __name__ == "__main__":
    grads = sm.loss_and_grads(*sine_bench(), sm.mse_loss)[1]  # four tensors, different scales
    adam_steps = {label: step_sizes(make(), grads, 3000) for label, make in ADAM_VARIANTS.items()}
    print("step size / lr for a constant gradient, per tensor:")
    for label, sizes in adam_steps.items():
        for k in (0, 9, 99, 999):
            print(
                f"  {label:18s} step {k + 1:4d}: "
                + "  ".join(f"{name} {s[k]:.3f}" for name, s in sizes.items())
            )
    uncorrected = adam_steps["no bias correction"]["W1"]
    print(
        f"no bias correction: the longest step is {uncorrected.max():.2f} lr, "
        f"at step {np.argmax(uncorrected) + 1}"
    )
    optimizer = AdamPerParameterT(lr=0.01)
    step_sizes(optimizer, grads, 10)
    print(f"after 10 steps, t per tensor has counted t = {optimizer.t}")

# %% [markdown]
# The same three on the article's network, trained for 300 steps from the same start. Without
# bias correction the first steps are three to seven times too long: the loss jumps *up* on the
# first step and zigzags for a few dozen. With $t$ per tensor the first steps are shorter, then
# longer. Yet on this problem both buggy runs end *below* correct Adam at step 300: longer steps
# happen to help here. Neither curve looks broken, so the loss curve cannot be the test. The test
# is the one in the cell above: feed a constant gradient and every step must be $\eta$, and after
# $k$ steps `optimizer.t` must be $k$ (the buggy one has counted $4k$).

# %%
if __name__ == "__main__":
    adam_runs = {
        label: train_sine(sm.mse_loss, make(), steps=300) for label, make in ADAM_VARIANTS.items()
    }
    for label, losses in adam_runs.items():
        print(
            f"{label:18s} loss at steps 0-4: "
            + ", ".join(f"{v:.3f}" for v in losses[:5])
            + f"   after 300: {losses[-1]:.4f}"
        )

# %% [markdown]
# ## 3. Dead units and initialisation
#
# ### 3.1 Dead units
#
# A hidden unit $j$ of the article's network computes $\max(0,\, x w_j + b_j)$, with
# $w_j = W_1[0, j]$ and $b_j = b_1[0, j]$. As a function of $x$ that is 0 on one side of
# $x = -b_j/w_j$ and a straight line on the other: a bend, the unit's **kink**, where its
# pre-activation $Z$ crosses 0. The network's output adds up 64 such bent lines, one per unit, and
# the kinks are where its curve can bend.
#
# The ReLU's backward is `d_Z1 = d_A1 * (Z1 > 0)`. A first-layer unit with $Z_1 \le 0$ on every
# example is **dead**: its column of `d_Z1` is zero, so its weights and its bias receive a zero
# gradient and never change, and since $X$ never changes either, neither does its $Z_1$. Under
# full-batch gradient descent it stays dead for good. `dead_fraction` counts them.
#
# Whether units start dead depends on the initialisation. Three starts, each trained with the
# article's own loop (`article_loop`: plain SGD at $\eta = 0.01$ on all 200 points, 2001 steps):
#
# - **He**: weights from $\mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, biases 0;
# - **negative bias**: the same weights, every hidden bias $-2$;
# - **tiny weights, negative bias**: weights from $\mathcal N(0, 0.1^2)$, hidden biases $-0.1$.
#
# All three scale the same standard normal draws (from `np.random.default_rng(1)`, not the
# article's start), so they differ only where the list says.


# %%
def never_active(Z) -> float:
    """The fraction of the units (columns) of ``Z`` that are ``<= 0`` on every row."""
    return float(np.mean(~(Z > 0).any(axis=0)))


def dead_fraction(params, X) -> float:
    """The fraction of the first hidden layer's units that are inactive (``Z1 <= 0``) on every
    row of ``X``: dead units, which no gradient reaches."""
    Z1 = X @ params["W1"] + params["b1"]  # (N, H)
    return never_active(Z1)


DEAD_STARTS = {
    "He": {},
    "negative bias": {"hidden_bias": -2.0},
    "tiny weights, negative bias": {"weight_std": 0.1, "hidden_bias": -0.1},
}


def dead_before_and_after(options, steps: int = 2001):
    """From ``init_mlp([1, 64, 1], np.random.default_rng(1), **options)``, the article's loop on
    the sine data: ``(dead fraction at the start, dead fraction after, final loss)``."""
    _, X, y = sine_bench()
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), **options)
    before = dead_fraction(params, X)
    losses = sm.article_loop(params, X, y, lr=0.01, steps=steps, log_every=0)
    return before, dead_fraction(params, X), float(losses[-1])


if __name__ == "__main__":
    dead_runs = {label: dead_before_and_after(options) for label, options in DEAD_STARTS.items()}
    for label, (before, after, final_loss) in dead_runs.items():
        print(
            f"{label:28s} dead at the start {before:5.1%}, after 2001 steps {after:5.1%} "
            f"({round(64 * (1 - after))} units alive); final loss {final_loss:.4f}"
        )

# %% tags=["fold"]
# Figure: dead units at the start and after training
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax = fig.subplots()
        x = np.arange(len(dead_runs))
        for shift, index, label in [(-0.2, 0, "at the start"), (0.2, 1, "after 2001 steps")]:
            heights = [run[index] for run in dead_runs.values()]
            ax.bar_label(ax.bar(x + shift, heights, 0.4, label=label), fmt="{:.0%}")
        ax.set_xticks(x, list(dead_runs))
        ax.set(ylabel="fraction of dead hidden units", ylim=(0, 1))
        ax.set_title("Dead ReLU units: never active on any of the 200 points", fontsize=10)
        ax.legend()
        sm.save_figure(
            fig,
            "fm_dead_units.png",
            alt=(
                "Bar chart of the fraction of dead hidden units, at the start and after 2001 "
                "steps of SGD, for three starts: He 0% and 0%, negative bias 44% and 44%, tiny "
                "weights with a negative bias 33% and 42%."
            ),
        )

# %% [markdown]
# He's start loses no unit: with a zero bias and one input, every unit starts active on one side
# of $x = 0$, on half of the points, and none is pushed off all of them. The negative-bias start
# keeps the same 44% dead for all 2001 steps: a unit with bias $-2$ is active only where
# $x w_j > 2$, and on $[-\pi, \pi]$ that needs $|w_j| > 2/\pi$. The tiny-weight start loses more
# units *during* training, when an update pushes a unit's $Z_1$ below zero on every point. Dead
# units did not cost loss here: the two biased starts even end lower (0.0314 and 0.0344, against
# 0.0549 for He's), because their kinks start spread out at $x = -b_j/w_j$ instead of all at
# $x = 0$. On a curve this easy, 36 or 37 live units are plenty; a dead unit is still capacity the
# network paid for and cannot use.
#
# ### 3.2 All-zero weights
#
# Start every weight at 0 and the gradient is still right, the loss falls a little, and the
# network never becomes better than a line with a single bend. What goes wrong depends on the
# biases.
#
# - **Weights and biases all 0.** Every pre-activation is $Z_1 = X \cdot 0 + 0 = 0$, on the ReLU's
#   kink, where we take its derivative to be 0; and $W_2 = 0$ sends no gradient back anyway
#   (`d_A1 = d_out @ W2.T` is 0). `dW1`, `db1` and `dW2 = A1.T @ d_out` are all exactly zero,
#   forever. Only $b_2$ learns, and the network predicts the mean of $y$.
# - **Weights 0, hidden biases not.** Now the units are on, and they learn, but **symmetrically**.
#   Every hidden unit computes the same $Z_1$ column from the same weights, so it receives the
#   same gradient, takes the same step, and stays identical to every other: sixty-four units do
#   the work of one, and a single ReLU can bend the line only once.
#
# Random initialisation exists to break this symmetry; the scale of the random numbers is the
# subject of 3.3.


# %%
def zero_start(hidden_bias: float):
    """The article's network [1, 64, 1] with every weight 0 and the given hidden bias."""
    return sm.init_mlp(
        [1, 64, 1], np.random.default_rng(0), weight_std=0.0, hidden_bias=hidden_bias
    )


def train_zero_init(hidden_bias: float, steps: int = 2001):
    """The sine problem from ``zero_start(hidden_bias)``, SGD at lr = 0.01: ``(params, losses)``."""
    _, X, y = sine_bench()
    params = zero_start(hidden_bias)
    losses = sm.train(params, X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=steps)
    return params, losses


def unit_spread(params) -> dict[str, float]:
    """The largest difference between two hidden units' incoming weights, biases and outgoing
    weights. 0 means all hidden units are identical."""
    return {
        "W1 columns": float(np.ptp(params["W1"], axis=1).max()),
        "b1 entries": float(np.ptp(params["b1"])),
        "W2 rows": float(np.ptp(params["W2"], axis=0).max()),
    }


if __name__ == "__main__":
    _, X_sine, y_sine = sine_bench()
    zero_runs = {hidden_bias: train_zero_init(hidden_bias) for hidden_bias in (0.0, 0.1)}
    he_params, X, y = sine_bench()
    he_losses = sm.train(he_params, X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=2001)
    print(f"variance of y (the loss of predicting its mean): {np.var(y_sine):.4f}")
    print(f"He initialisation: loss {he_losses[0]:.4f} -> {he_losses[-1]:.4f}")
    for hidden_bias, (params, losses) in zero_runs.items():
        spread = ", ".join(f"{k} {v:.1e}" for k, v in unit_spread(params).items())
        print(f"zero weights, hidden bias {hidden_bias}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")
        print(f"  after 2001 steps, spread between units: {spread}")
        print(
            f"  W1 moved by {np.abs(params['W1']).max():.3g}, b2 is now {params['b2'][0, 0]:+.4f}"
        )

# %% [markdown]
# **How to tell it.** The gradient is right and the loss curve only says "stuck high". Look at
# the parameters: hidden units that are exact copies of each other (a spread of 0 between them)
# can only come from a symmetric start.
#
# **A gradient check at a symmetric point checks little.** At the zero start the first layer's
# gradients are exactly 0, because $W_2 = 0$ sends nothing back, so a bug there has nothing to
# corrupt: with the ReLU mask of 1.1 forgotten, the check still passes on every tensor. Check
# gradients at a random point, such as He's initialisation; never at a zero or symmetric one.

# %%
if __name__ == "__main__":
    print("grad_check at the zero start (hidden bias 0.1), with the ReLU mask forgotten:")
    bug = RELU_NO_MASK
    print(sm.grad_check(zero_start(0.1), X_sine, y_sine, bug.loss_fn, activation=bug.activation))

# %% [markdown]
# ### 3.3 A weight scale far too small, or far too large
#
# He initialisation keeps the signal's scale from layer to layer: with
# $\operatorname{Var}(w) = 2/\mathrm{fan}_\mathrm{in}$,
# $\operatorname{Var}(Z_l) \approx \operatorname{Var}(Z_{l-1})$.
# With any other standard deviation $\sigma$, every layer multiplies the scale of $Z$ by about
# $\sigma\sqrt{\mathrm{fan}_\mathrm{in}/2}$, and in a deep network that factor is raised to the
# depth. Take eight hidden layers of 64 units on the 600 spiral points, with $\sigma = 0.01$ where
# He's is $\sqrt{2/64} = 0.18$: a factor $0.057$ per layer, and the logits come out with a spread
# of $3.6 \times 10^{-13}$. With $\sigma = 1$: a factor $5.7$ per layer, and a spread of
# $3.6 \times 10^{5}$. (The first layer has fan-in 2, where He's $\sigma$ is 1.)
#
# The dead fraction of each layer (units inactive on every one of the 600 points) says something
# surprising at initialisation: **it does not depend on the scale at all.** With zero biases,
# $\operatorname{ReLU}(c\,z) = c\operatorname{ReLU}(z)$ for $c > 0$, so multiplying every weight
# by $c$ switches no unit on or off. The scale shows in what the *first update* does, measured
# below as the size of the first SGD step ($\eta = 0.1$) against the size of what it changes:
#
# - **too small**: the logits are all about 0, so the loss is $\log 3 = 1.0986$, chance for three
#   classes. The weights' gradients vanish with the signal, but the biases' do not: in the last
#   hidden layer one bias step is $2 \times 10^7$ times the spread of the $Z$ it is added to. A
#   bias pushed below the vanishing signal kills its unit on every point: after the first step,
#   45% to 66% of the units of the last three layers are dead (12% to 19% at the start), and the
#   loss stays at chance for 40 steps, while He's start is down to 0.23.
# - **too large**: the loss is $2.46 \times 10^5$ and the gradients are huge. The first step
#   moves the weights of every layer by hundreds of times the largest of them; after it, 45% to
#   70% of the units of every layer are dead, the first layer included (52% there, where none was
#   dead at the start); the loss becomes $10^{32}$, then $10^{183}$, then NaN, and `train` stops
#   at step 3.


# %%
DEEP_SIZES = [2] + [64] * 8 + [3]
SCALES = {"too small, σ = 0.01": 0.01, "He": None, "too large, σ = 1": 1.0}


def spiral_data():
    """The 600 spiral points and their labels."""
    return sm.make_spirals(np.random.default_rng(0))


def deep_network(weight_std):
    """The eight-hidden-layer network, all layers initialised with ``weight_std`` (None: He)."""
    return sm.init_mlp(DEEP_SIZES, np.random.default_rng(1), weight_std=weight_std)


def layer_stats(params, X):
    """Per hidden layer, the standard deviation of its pre-activation ``Z`` and its fraction of
    dead units (inactive on every row of ``X``); and the standard deviation of the output."""
    out, cache = sm.mlp_forward(params, X)
    Zs = [Z for _, backward, Z in cache if backward is not None]  # the ReLU caches its input Z
    dead = [never_active(Z) for Z in Zs]
    return [float(Z.std()) for Z in Zs], dead, float(out.std())


def first_step_ratios(weight_std, lr: float = 0.1):
    """How far the first SGD step moves things, per hidden layer: the largest bias step over the
    standard deviation of that layer's ``Z``, and the largest weight step over the largest
    weight."""
    X, labels = spiral_data()
    params = deep_network(weight_std)
    grads = sm.loss_and_grads(params, X, labels, sm.softmax_cross_entropy)[1]
    z_std = layer_stats(params, X)[0]
    hidden = range(1, len(DEEP_SIZES) - 1)
    bias = [lr * np.abs(grads[f"b{l}"]).max() / z_std[l - 1] for l in hidden]
    weight = [lr * np.abs(grads[f"W{l}"]).max() / np.abs(params[f"W{l}"]).max() for l in hidden]
    return [float(v) for v in bias], [float(v) for v in weight]


def train_deep(weight_std, steps: int, lr: float = 0.1):
    """SGD on the spirals from ``deep_network(weight_std)``: ``(params, losses, error)``."""
    return run(
        deep_network(weight_std), *spiral_data(), sm.softmax_cross_entropy, sm.SGD(lr), steps
    )


if __name__ == "__main__":
    X_spiral, labels_spiral = spiral_data()
    init_stats, one_step_stats = {}, {}
    for label, weight_std in SCALES.items():
        init_stats[label] = layer_stats(deep_network(weight_std), X_spiral)
        one_step_stats[label] = layer_stats(train_deep(weight_std, steps=1)[0], X_spiral)
        z_std, dead, out_std = init_stats[label]
        bias_ratio, weight_ratio = first_step_ratios(weight_std)
        print(f"{label}:")
        for row, values, fmt in [
            ("std of Z per layer at init ", z_std, "7.1e"),
            ("dead fraction at init      ", dead, "7.2f"),
            ("dead after one SGD step    ", one_step_stats[label][1], "7.2f"),
            ("first step: bias / std Z   ", bias_ratio, "7.1e"),
            ("first step: weight / |W|max", weight_ratio, "7.1e"),
        ]:
            print(f"  {row} " + " ".join(format(v, fmt) for v in values))
        print(f"  std of the logits at init:   {out_std:.1e}")
        _, losses, error = train_deep(weight_std, steps=40)
        if error:
            print(
                "  SGD, lr = 0.1, the loss of each step: " + ", ".join(f"{v:.3g}" for v in losses)
            )
            print(f"  {error}")
        else:
            print(f"  40 steps of SGD, lr = 0.1: loss {losses[0]:.4f} -> {losses[-1]:.4f}")

# %% tags=["fold"]
# Figure: the spread of Z per layer, and the dead units before and after one step
if __name__ == "__main__":
    fig = sm.new_figure(figsize=(10, 3.8))
    if fig is not None:
        left, middle, right = fig.subplots(1, 3)
        layers = np.arange(1, len(DEEP_SIZES) - 1)
        for (label, (z_std, dead, _)), color, size in zip(
            init_stats.items(), ["C0", "C2", "C3"], [10, 6, 3], strict=True
        ):
            left.semilogy(layers, z_std, "o-", color=color, label=label)
            middle.plot(layers, dead, "o-", color=color, ms=size, label=label)
            right.plot(layers, one_step_stats[label][1], "o-", color=color, label=label)
        left.set(xlabel="hidden layer", ylabel="std of Z", title="Pre-activations at init")
        middle.set(
            xlabel="hidden layer",
            ylabel="fraction of dead units",
            ylim=(-0.03, 1.03),
            title="Dead units at init: the same",
        )
        right.set(xlabel="hidden layer", ylim=(-0.03, 1.03), title="Dead units after one step")
        for ax in (left, middle, right):
            ax.title.set_fontsize(10)
            ax.legend(fontsize=7)
        sm.save_figure(
            fig,
            "fm_init_scale.png",
            alt=(
                "Three panels over the eight hidden layers. Left, log scale: the spread of Z "
                "falls geometrically to 1e-11 for sigma 0.01, stays near 0.5 for He, and rises "
                "to 1e5 for sigma 1. Middle: the dead fractions at initialisation are the same "
                "three curves on top of each other. Right: after one SGD step the too-large "
                "start has 45% to 70% dead units in every layer, the too-small start 45% to 66% "
                "in the last three layers, and He's start is almost unchanged."
            ),
        )

# %% [markdown]
# **How to tell them.** Print the standard deviation of each layer's $Z$ at initialisation: it
# should stay roughly constant from the first layer to the last. A geometric fall means too small
# (and a classifier's loss pinned at $\log C$); a geometric rise means too large (a first loss in
# the thousands or more, then the same blow-up as a learning rate too large, but from the first
# step). A dead fraction that jumps after the first step, while the gradient check passes, is the
# mark of an update far out of scale with the signal.
#
# ## 4. Numerical bugs in the softmax
#
# Both bugs below compute the right function. They are exact for ordinary logits and break only
# for large ones, which is what makes them dangerous: a test on small random logits passes.
#
# - **4.1 Softmax without subtracting the row max.** $e^z$ overflows float64 for
#   $z > \log(1.8 \times 10^{308}) = 709.78$. Without the row max a logit of 1000 gives
#   `inf / inf = nan` for its own probability, and 0 for every other class. The fix costs one
#   subtraction: softmax is unchanged by any shift of a row, and with $z - \max_c z_c$ the largest
#   exponent is $e^0 = 1$.
# - **4.2 The log of a softmax that underflows.** Even a stable softmax cannot give $\log p$ for a
#   badly wrong class. With logits $(m, 0)$ the probability of the second class is
#   $1/(1 + e^{m})$; below the smallest float64, $4.9 \times 10^{-324} = e^{-744.4}$, it rounds
#   to 0, and $-\log 0 = \infty$. The loss of that example is just $m + \log(1 + e^{-m}) \approx
#   m$, perfectly finite: `softmax_cross_entropy` computes it as log-sum-exp minus the true logit
#   and never takes the log of a probability.
#
# `cross_entropy_via_softmax` is the cross-entropy written the obvious way, $-\log p_{n y_n}$,
# with the softmax of your choice: `softmax_no_max` (4.1) or the stable `scratch_mlp.softmax`
# (4.2). Its gradient is the right one; only the loss is computed badly.


# %%
def softmax_no_max(logits):
    """``scratch_mlp.softmax`` without the row max: overflows for logits above 709.78."""
    exp = np.exp(logits)  # right: np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def cross_entropy_via_softmax(logits, labels, softmax=sm.softmax):
    """Cross-entropy as ``-mean(log p[n, y_n])`` with ``p = softmax(logits)``: ``(loss, d_logits)``.

    Infinite once a true class's probability underflows to 0, whichever softmax is used.
    """
    N = logits.shape[0]
    rows = np.arange(N)
    p = softmax(logits)  # (N, C)
    loss = -np.mean(np.log(p[rows, labels]))  # right: log-sum-exp minus the true logit
    d_logits = p.copy()
    d_logits[rows, labels] -= 1
    return loss, d_logits / N


CROSS_ENTROPIES = {  # the same loss, three ways
    "softmax_cross_entropy": sm.softmax_cross_entropy,
    "log(softmax)": cross_entropy_via_softmax,
    "log(softmax without the max)": functools.partial(
        cross_entropy_via_softmax, softmax=softmax_no_max
    ),
}


def three_losses(margins, label: int = 1):
    """The loss of one example with logits ``(m, 0)`` and true class ``label``, for each margin
    ``m``, computed the three ways. NumPy's overflow and divide warnings are silenced: the values
    show it."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # + 0.0 turns the -0.0 of -log(1.0) into 0.0.
        return {
            name: np.array([loss(np.array([[m, 0.0]]), np.array([label]))[0] for m in margins])
            + 0.0
            for name, loss in CROSS_ENTROPIES.items()
        }


if __name__ == "__main__":
    with np.errstate(over="ignore", invalid="ignore"):
        print(f"softmax_no_max([[1000, 0]])  = {softmax_no_max(np.array([[1000.0, 0.0]]))}")
    print(f"scratch_mlp.softmax(same)    = {sm.softmax(np.array([[1000.0, 0.0]]))}")
    for dtype in (np.float64, np.float32):
        info = np.finfo(dtype)
        print(
            f"{info.dtype}: exp overflows above {np.log(info.max):.2f}, exp(-m) underflows to 0 "
            f"above {-np.log(float(info.smallest_subnormal)):.2f}"
        )
    margins = [10.0, 100.0, 700.0, 720.0, 760.0, 1e4]
    for label in (0, 1):
        table = three_losses(margins, label)
        print(f"\nlogits (m, 0), true class {label}:")
        print(f"{'m':>8s} " + " ".join(f"{name:>28s}" for name in table))
        for i, m in enumerate(margins):
            print(f"{m:8g} " + " ".join(f"{values[i]:28.6g}" for values in table.values()))

# %% [markdown]
# With the true class 1 (the network confidently wrong), the naive softmax breaks first, at 709.78,
# where $e^m = \infty$ makes $p_1 = 1/\infty = 0$; the log of the stable softmax holds until about
# 745, where $p_1 \approx e^{-m}$ rounds to 0. With the true class 0 (confidently right) the loss
# should be about 0: the log of the stable softmax gets it, and the naive softmax gives NaN,
# $\infty/\infty$. In float32 the thresholds are 88.72 and about 103: a float32 network breaks
# with logits that are merely large.
#
# **In training.** Large logits are not exotic: they are the too-large initialisation of section
# 3.3, or a run whose learning rate is a little too large. On that network the naive losses stop
# `train` at step 0, where the stable one reports a huge but finite loss, and a gradient.
# `train`'s message says so: at step 0 no update has happened yet, so a loss that is not finite
# there is never the learning rate's fault. Look at the loss function, the data and the
# initialisation.

# %%
if __name__ == "__main__":
    X_spiral, labels_spiral = spiral_data()
    for name, loss_fn in CROSS_ENTROPIES.items():
        try:
            losses = sm.train(deep_network(1.0), X_spiral, labels_spiral, loss_fn, sm.SGD(1e-3), 1)
            print(f"{name:30s} first loss {losses[0]:.6g}")
        except FloatingPointError as error:
            print(f"{name:30s} {error}")

# %% [markdown]
# ## 5. False alarms: a gradient check that fails on correct code
#
# A failing check means "look", not always "bug". Two causes make a correct backward pass fail it,
# and both have a signature.
#
# ### 5.1 Finite differences in float32
#
# The centred difference $\frac{L(\theta + h) - L(\theta - h)}{2h}$ subtracts two nearly equal
# numbers: each carries a rounding error of about $\varepsilon_\mathrm{mach} |L|$, and the
# division by $2h$ magnifies it to about $\varepsilon_\mathrm{mach} |L| / h$. In float64,
# $\varepsilon_\mathrm{mach} = 2.2 \times 10^{-16}$ and with $h = 10^{-5}$ that is $10^{-11}$:
# invisible. In float32, $\varepsilon_\mathrm{mach} = 1.2 \times 10^{-7}$ and it is $10^{-2}$, the
# size of a real bug. That is why `grad_check` casts everything to float64 before it
# differentiates: the float32 network below passes it. Computed in float32, the same differences
# fail a correct gradient.

# %%
if __name__ == "__main__":
    params, X, y = sine_bench()
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    numeric32 = numeric_grads(params, X, y, sm.mse_loss, dtype=np.float32)
    print("float32 finite differences (h = 1e-5) against the float64 analytic gradient:")
    for name in params:
        a, n = analytic[name], numeric32[name]
        passes = np.all(np.abs(a - n) <= 1e-8 + 1e-6 * np.abs(n))
        print(
            f"  {name}: max relative error {max_rel_error(a, n):.2e}   {'ok' if passes else 'FAIL'}"
        )

    params32 = {name: p.astype(np.float32) for name, p in params.items()}
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    print("\ngrad_check on the float32 network (it computes in float64):")
    print(sm.grad_check(params32, X32, y32, sm.mse_loss))

# %% [markdown] tags=["deeper"]
# **Going deeper: the V of the error against $h$.** Making $h$ larger shrinks the rounding error
# but steps over more ReLU kinks (the MSE of a ReLU network is piecewise quadratic in each
# parameter, so between kinks the centred difference is exact). Making it smaller makes the
# rounding worse, as $\varepsilon_\mathrm{mach}/h$. The error as a function of $h$ is a V, and
# float32's V never gets below $10^{-3}$, far above the $\mathrm{rtol} = 10^{-6}$ the check asks
# for. A check in float32, at its best $h$ of a few thousandths, can still catch errors near 1
# like every bug of section 1, but nothing subtle.

# %%
STEPS_H = {"float64": np.logspace(-1, -8, 15), "float32": np.logspace(-1, -6, 11)}


def error_versus_h(dtype, hs):
    """The largest relative error, kinks included, of centred differences in ``dtype`` on the
    sine problem, for each ``h`` of ``hs``."""
    params, X, y = sine_bench()
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    largest = []
    for h in hs:
        numeric = numeric_grads(params, X, y, sm.mse_loss, dtype=dtype, h=h)
        largest.append(max(max_rel_error(analytic[k], numeric[k]) for k in params))
    return np.array(largest)


if __name__ == "__main__":
    v_curves = {name: error_versus_h(np.dtype(name), hs) for name, hs in STEPS_H.items()}
    for name, hs in STEPS_H.items():
        best = int(np.argmin(v_curves[name]))
        print(f"{name}: best max error {v_curves[name][best]:.1e}, at h = {hs[best]:.0e}")

# %% [markdown]
# **How to tell it.** Most tensors fail, by moderate amounts (here $10^{-4}$ to $0.4$) that change
# when you change $h$, and the same check in float64 passes. A real bug does not care about $h$
# or the dtype. What to do: check in float64, as `grad_check` does.
#
# ### 5.2 A pre-activation on the ReLU kink
#
# ReLU has no derivative at 0, and a finite difference across the kink measures a slope that
# belongs to neither side ([the training loop, section 3](../scratch_mlp/#3-gradient-checking),
# puts one unit on the kink and shows the error). `grad_check` notices when a step of $\pm h$
# switches a unit, and leaves such entries out of the comparison, counted as "on kink". That is
# not a failure, but left out is not checked. It happens more easily than it sounds: biases start
# at 0, so an input row of exact zeros (a padding row, a centred feature at its mean, $x = 0$ in a
# grid) puts *every* first-layer unit on its kink for that example. Here: seven points
# $x = -3, -2, \ldots, 3$, target $\cos x$, a network $[1, 16, 1]$ at its He initialisation.


# %%
def kink_bench(hidden_bias: float = 0.0):
    """Seven points x = -3..3 (x = 0 included), y = cos x, a [1, 16, 1] network at He init."""
    X = np.linspace(-3.0, 3.0, 7).reshape(-1, 1)
    params = sm.init_mlp([1, 16, 1], np.random.default_rng(0), hidden_bias=hidden_bias)
    return params, X, np.cos(X)


if __name__ == "__main__":
    params, X, y = kink_bench()
    print(f"Z1 on the row x = 0: {np.unique(X[3] @ params['W1'] + params['b1'])} for all 16 units")
    print(sm.grad_check(params, X, y, sm.mse_loss))
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    numeric = numeric_grads(params, X, y, sm.mse_loss)
    print(
        f"a check that did not skip them would report b1 off by "
        f"{max_rel_error(analytic['b1'], numeric['b1']):.2f} (relative)"
    )
    print("\nthe same check from a hidden bias of 0.1 instead of 0:")
    print(sm.grad_check(*kink_bench(hidden_bias=0.1), sm.mse_loss))

# %% [markdown]
# **How to tell it.** The table says "on kink" for entries of the first layer, here *all* of
# $b_1$: none of it was checked. A check that does not look for kinks fails those entries by a
# fraction of the gradient (here up to a third) while the rest of the table is right. Either way,
# move the check off the kink: a small non-zero bias (or a random one), or data without exact
# zeros, and every entry is checked again, and passes.
#
# ## 6. What you see, and what to suspect first
#
# | what you see | suspect first | § |
# |---|---|---|
# | the check fails near the input, passes near the output | the step in between | 1.1 |
# | all tensors fail alike; analytic / numerical is the batch size | a lost $1/N$ | 1.2, 1.5 |
# | the weights fail; analytic is numerical transposed | a transposed `dW` | 1.3 |
# | `ValueError: grads['b1'] is (64,) …` | a lost `keepdims`, wrong axis, a transpose | 1.3, 1.4 |
# | the loss grows tens of times per step, `train` stops | a learning rate too large | 2.1 |
# | the loss falls by almost nothing, the gradient stays large | a learning rate too small | 2.2 |
# | with Adam, the loss jumps up in the first steps | no bias correction | 2.3 |
# | `optimizer.t` is not the step count | Adam's $t$ per tensor | 2.4 |
# | units never active on any point; their weights never change | dead units, the start | 3.1 |
# | the check passes, the loss is stuck, hidden units are copies | a symmetric (zero) start | 3.2 |
# | activations shrink layer by layer, the loss sits at $\log C$ | weights too small | 3.3 |
# | activations grow layer by layer, units die at once | weights too large | 3.3 |
# | the loss is NaN or infinite at step 0 | the loss's numerics, the data, the init | 4 |
# | the check fails almost everywhere, by amounts that change with $h$ | float32 differences | 5.1 |
# | first-layer entries "on kink", where $Z = 0$ | zero inputs and zero biases | 5.2 |
#
# The gradient check, made at a random point, catches the bugs of the backward pass and nothing
# else: an optimiser, an initialisation or a loss that overflows all pass it. For those, the loss
# curve, the step sizes and the per-layer statistics are the checks, and the sections above show
# what each one looks like when it fails.
