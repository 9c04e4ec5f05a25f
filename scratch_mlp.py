# %% [markdown]
# # The training loop from scratch
#
# Every neural network trains through the same four steps, repeated:
#
# 1. **forward**: compute the network's output from the inputs and the parameters;
# 2. **loss**: one number saying how wrong that output is;
# 3. **backward**: the gradient of the loss with respect to every parameter, by the chain rule;
# 4. **update**: move every parameter a little against its gradient.
#
# This file does all four in NumPy, with every derivative written by hand. It starts from the
# article's two-layer network fit to a noisy sine, explains what each gradient means, checks every
# one of them numerically, turns the loop into small functions you can copy, replaces gradient
# descent with Adam, and ends with a softmax cross-entropy classifier.
#
# **How to read it.** Each section states an idea and its equations in prose, then a code cell
# implements exactly those equations with the same symbols, then a cell runs it and shows the
# result. The math uses the names the code uses: $W_1$ is `W1`, $Z_1$ is `Z1`,
# $\partial L / \partial W_1$ is `dW1`, $\partial L / \partial Z_1$ is `d_Z1`.
#
# **How to run it.** `python scratch_mlp.py` runs every section top to bottom, prints the results
# and writes the figures into `figures/`. `import scratch_mlp` runs nothing: it only defines the
# functions, so you can copy this file into a project and call them.
#
# Shapes: $N$ examples, $d_\text{in}$ input features, $H$ hidden units, $d_\text{out}$ outputs.
# A row of `X` is one example, so a layer is `X @ W + b` with `W` of shape $(d_\text{in}, H)$.

# %%
from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sys
import threading

import numpy as np

# What a project copies this file for. Everything else in it (data makers, figure helpers,
# article_loop, dead_fraction) is a tutorial helper: it serves the page, not a user's network.
__all__ = [
    "init_mlp",
    "linear_forward",
    "linear_backward",
    "relu_forward",
    "relu_backward",
    "mlp_forward",
    "mlp_backward",
    "mse_loss",
    "softmax_cross_entropy",
    "loss_and_grads",
    "numerical_gradient",
    "grad_check",
    "SGD",
    "RMSProp",
    "Adam",
    "train",
    "predict",
]


# %% tags=["fold"]
# Tutorial helpers: drawing and saving the figures
FIGURES_DIR = "figures"


@functools.cache
def _say_once(message: str) -> None:
    # functools.cache makes each message print once, however many figures are skipped.
    print(message)


def new_figure(**figure_kwargs):
    """Tutorial helper: a fresh matplotlib ``Figure``, or ``None`` when figures are skipped.

    The object-oriented ``Figure`` needs no GUI backend and keeps no global pyplot state.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        _say_once("matplotlib is not installed: figures are skipped (pip install matplotlib).")
        return None
    return Figure(layout="constrained", **figure_kwargs)


def save_figure(fig, name: str, alt: str) -> str | None:
    """Tutorial helper: write ``fig`` to ``figures/<name>`` and print the path.

    In a notebook (the rendered page) it also shows that very PNG, with ``alt`` as its text
    for readers who cannot see it. Where ``figures/`` cannot be written (a read-only folder) it
    says so once and carries on: the figures are extras, the computation is the lesson.
    """
    path = os.path.join(FIGURES_DIR, name)
    try:
        os.makedirs(FIGURES_DIR, exist_ok=True)
        fig.savefig(path, dpi=110)
    except OSError as error:
        _say_once(f"cannot write {FIGURES_DIR}/ ({error.strerror}): figures are skipped.")
        return None
    print(f"figure written: {path}")
    if "ipykernel" in sys.modules:
        import base64
        import html

        from IPython.display import HTML, display

        with open(path, "rb") as file:
            data = base64.b64encode(file.read()).decode("ascii")
        display(HTML(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'))
    return path


# %% tags=["fold"]
# Input checks: each public function checks its arguments in a line or two
def _number(name: str, value, *, low: float = 0.0, allow_low: bool = False) -> float:
    """``value`` as a float, or a ValueError naming ``name``: finite and above ``low``."""
    # bool is an int to Python, but lr=True is a mistake, not a learning rate of 1.
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    try:
        number = float(value) if ok else math.nan
    except OverflowError:  # an int such as 10**400
        number = math.inf
    if not (math.isfinite(number) and (number > low or (allow_low and number == low))):
        bound = ">=" if allow_low else ">"
        raise ValueError(f"{name} must be a finite number {bound} {low}, got {value!r}")
    return number


def _count(name: str, value, *, low: int = 0) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _array(name: str, value, ndim: int | None = None) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape}")
    return value


def _finite(name: str, value) -> None:
    if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_params(params) -> int:
    """The number of layers L, after checking ``params`` is ``W1, b1, ..., WL, bL`` of one dtype."""
    L = len(params) // 2 if isinstance(params, dict) else 0
    if L == 0 or set(params) != {f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"}:
        raise ValueError(f"params must be a dict with keys W1, b1, ..., WL, bL; got {params!r:.80}")
    dtype = getattr(params["W1"], "dtype", None)
    for name, p in params.items():
        # One dtype for all: one float64 tensor would silently make a float32 network float64.
        if not isinstance(p, np.ndarray) or p.dtype != dtype or p.dtype.kind != "f":
            raise ValueError(
                f"params[{name!r}] is {getattr(p, 'dtype', type(p).__name__)}: every parameter "
                f"must be a floating-point NumPy array of one dtype (params['W1'] is {dtype})"
            )
    return L


def _check_X(X, W1) -> None:
    _array("X", X, ndim=2)
    if X.shape[1] != W1.shape[0]:
        raise ValueError(f"X must have {W1.shape[0]} columns (W1 is {W1.shape}), got {X.shape}")
    if X.dtype != W1.dtype:
        raise ValueError(
            f"X has dtype {X.dtype} but the parameters are {W1.dtype}; "
            f"convert it with X.astype(np.{W1.dtype.name})"
        )


def _check_labels(labels, n_classes: int, n_rows: int) -> None:
    _array("labels", labels, ndim=1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.shape[0] != n_rows:
        raise ValueError(f"labels has {labels.shape[0]} entries but logits has {n_rows} rows")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels must lie in [0, {n_classes}), got values from {labels.min()} to {labels.max()}"
        )


# %% [markdown]
# ## 1. The article's loop
#
# The article fits $y = \sin(x) + \varepsilon$, $\varepsilon \sim \mathcal N(0, 0.1^2)$, on 200
# points of $[-\pi, \pi]$ with a two-layer network:
#
# $$Z_1 = X W_1 + b_1, \qquad A_1 = \operatorname{ReLU}(Z_1), \qquad
#   \text{out} = A_1 W_2 + b_2, \qquad L = \frac{1}{N} \sum_{n=1}^{N} (\text{out}_n - y_n)^2 .$$
#
# with $X: (200, 1)$, $W_1: (1, 64)$, $b_1: (1, 64)$, $W_2: (64, 1)$, $b_2: (1, 1)$.
#
# **He initialisation.** Each weight is drawn from $\mathcal N(0, 2 / \text{fan\_in})$ and each bias
# starts at 0. Why $2/\text{fan\_in}$: a unit sums $\text{fan\_in}$ products $w\,a$, so
# $\operatorname{Var}(z) = \text{fan\_in} \cdot \operatorname{Var}(w) \cdot \mathbb E[a^2]$, and a
# ReLU zeroes half of a symmetric input, so $\mathbb E[\operatorname{ReLU}(z)^2] =
# \operatorname{Var}(z)/2$. With $\operatorname{Var}(w) = 2/\text{fan\_in}$ the two factors cancel
# and the signal keeps its scale from layer to layer, however deep the network.
#
# `init_mlp` does this for any list of layer sizes. Given the article's random generator it draws
# exactly the article's numbers in the article's order ($W_1$ first, then $W_2$), so the runs below
# reproduce the article to the last digit.


# %%
def make_sine_data(rng, n: int = 200, noise: float = 0.1):
    """The article's data: ``n`` points of ``sin(x)`` on ``[-pi, pi]`` plus Gaussian noise.

    ``rng`` is a ``np.random.Generator`` or a legacy ``np.random.RandomState``; with
    ``np.random.RandomState(0)`` the noise is the article's ``np.random.seed(0)`` noise.
    Returns ``X, y``, both of shape ``(n, 1)``.
    """
    X = np.linspace(-np.pi, np.pi, n).reshape(-1, 1)
    y = np.sin(X) + noise * rng.standard_normal(X.shape)
    return X, y


def init_mlp(sizes, rng, dtype=np.float64, *, weight_std=None, hidden_bias=0.0):
    """He-initialised parameters for a ReLU network with layer sizes ``[d_in, h1, ..., d_out]``.

    Returns a dict with ``"W1", "b1", ..., "WL", "bL"``: ``Wl`` of shape
    ``(sizes[l-1], sizes[l])`` drawn from ``N(0, 2 / sizes[l-1])`` and ``bl`` of shape
    ``(1, sizes[l])`` filled with zeros. ``weight_std`` replaces He's standard deviation and
    ``hidden_bias`` sets the hidden-layer biases: both exist to show what a bad start does.

    >>> params = init_mlp([3, 5, 2], np.random.default_rng(0))
    >>> {name: p.shape for name, p in params.items()}
    {'W1': (3, 5), 'b1': (1, 5), 'W2': (5, 2), 'b2': (1, 2)}
    """
    sizes = list(sizes)
    if len(sizes) < 2 or not all(_count("sizes", s, low=1) for s in sizes):
        raise ValueError(f"sizes needs at least two entries [d_in, d_out], got {sizes}")
    if not callable(getattr(rng, "standard_normal", None)):
        raise ValueError(f"rng must be a np.random.Generator, got {rng!r}")
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating-point type, got {np.dtype(dtype)}")
    if weight_std is not None:  # 0 is allowed: the all-zero start is a lesson of its own
        _number("weight_std", weight_std, allow_low=True)
    _number("hidden_bias", hidden_bias, low=-math.inf)
    L = len(sizes) - 1
    params = {}
    for l in range(1, L + 1):
        fan_in, fan_out = sizes[l - 1], sizes[l]
        std = np.sqrt(2 / fan_in) if weight_std is None else weight_std
        # Drawn in float64, then cast: float32 and float64 networks start from the same numbers.
        params[f"W{l}"] = (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)
        bias = hidden_bias if l < L else 0.0
        params[f"b{l}"] = np.full((1, fan_out), bias, dtype=dtype)
    return params


def article_loop(params, X, y, lr: float = 0.01, steps: int = 2001, log_every: int = 500):
    """The article's training loop, line for line; updates ``params`` in place.

    ``params`` holds ``W1, b1, W2, b2`` of a one-hidden-layer network. Returns the loss of every
    step, taken before that step's update, as the article records it.
    """
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    losses = []
    for step in range(steps):
        # Forward
        Z1 = X @ W1 + b1  # (N, H)
        A1 = np.maximum(0, Z1)  # (N, H)  ReLU
        out = A1 @ W2 + b2  # (N, 1)
        loss = np.mean((out - y) ** 2)
        losses.append(loss)
        # Backward: chain rule by hand (section 2 derives each line)
        N = X.shape[0]
        d_out_layer = 2 * (out - y) / N  # (N, 1)   dL/d out
        dW2 = A1.T @ d_out_layer  # (H, 1)
        db2 = d_out_layer.sum(axis=0, keepdims=True)  # (1, 1)
        d_A1 = d_out_layer @ W2.T  # (N, H)
        d_Z1 = d_A1 * (Z1 > 0)  # (N, H)   ReLU gradient
        dW1 = X.T @ d_Z1  # (1, H)
        db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, H)
        # Gradient-descent update, in place so that params sees it
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        if log_every and step % log_every == 0:
            print(f"Step {step:5d} loss={loss:.6f}")
    return losses


# %% [markdown]
# Run it with the article's seed. `np.random.RandomState(0)` is the generator behind
# `np.random.seed(0)`, so these are the article's numbers without touching NumPy's global state.

# %%
if __name__ == "__main__":
    article_rng = np.random.RandomState(0)
    X_sine, y_sine = make_sine_data(article_rng)
    params_init = init_mlp([1, 64, 1], article_rng)  # the state every later comparison starts from
    params_article = {name: p.copy() for name, p in params_init.items()}
    losses_article = article_loop(params_article, X_sine, y_sine, lr=0.01, steps=2001)

# %% [markdown]
# The loss does not fall steadily. The first step halves it; then it climbs for nineteen steps, to
# five times its first value, before it comes down. Gradient descent with step size $\eta$ is stable
# along a direction only if the loss's curvature there (an eigenvalue $\lambda$ of the Hessian)
# satisfies $\lambda < 2/\eta$. Along a steeper direction every step overshoots the valley floor
# and the error along that direction is multiplied by $|1 - \eta\lambda| > 1$: it grows, step
# after step.
#
# For the output layer the curvature is exact and easy: $L$ is quadratic in $W_2$, with
# $\partial^2 L / \partial W_2^2 = \tfrac{2}{N} A_1^\top A_1$, and the largest eigenvalue of
# the whole Hessian is at least the largest of this block. The cell below computes it. At He
# initialisation it is already above $2/\eta = 200$, so the start is unstable: the first step
# helps, because the steep direction barely matters yet, but the error along it grows with every
# step until it dominates the loss. The same large steps also move $W_1$ and $b_1$, which changes
# $A_1$ and with it the curvature; once the curvature is below $2/\eta$ the overshoot dies out and
# gradient descent descends. After training this block sits below the limit.

# %%
if __name__ == "__main__":

    def output_layer_curvature(params, X):
        """Largest eigenvalue of d2L/dW2^2 = (2/N) A1^T A1: a lower bound on the top curvature."""
        A1 = np.maximum(0, X @ params["W1"] + params["b1"])
        return np.linalg.eigvalsh(2 / X.shape[0] * A1.T @ A1)[-1]

    print(f"stability limit 2/lr             = {2 / 0.01:6.1f}")
    print(f"curvature of L in W2, at init    = {output_layer_curvature(params_init, X_sine):6.1f}")
    print(
        f"curvature of L in W2, after 2001 = {output_layer_curvature(params_article, X_sine):6.1f}"
    )
    print(
        f"loss at step 0 = {losses_article[0]:.3f}, highest = {max(losses_article):.3f}"
        f" at step {int(np.argmax(losses_article))}"
    )

    fig = new_figure(figsize=(7, 3.6))
    if fig is not None:
        ax = fig.subplots()
        ax.semilogy(losses_article, color="C0")
        ax.axhline(0.01, color="gray", ls="--", lw=1, label="noise variance 0.01")
        peak = int(np.argmax(losses_article))
        ax.annotate(
            "overshoot: curvature > 2/lr",
            (peak, losses_article[peak]),
            xytext=(250, 3),
            arrowprops={"arrowstyle": "->"},
        )
        ax.set(xlabel="step", ylabel="MSE loss (log scale)", title="The article's loop, lr = 0.01")
        ax.legend()
        save_figure(
            fig,
            "01_article_loss.png",
            alt=(
                "Loss of the article's loop on a log scale over 2001 steps: it halves at step"
                " 1, climbs to a peak near step 20, then falls steadily towards the noise "
                "variance 0.01."
            ),
        )

        fig = new_figure(figsize=(7, 3.6))
        ax = fig.subplots()
        x_fine = np.linspace(-np.pi, np.pi, 400).reshape(-1, 1)
        p = params_article
        fit = np.maximum(0, x_fine @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        ax.scatter(X_sine[:, 0], y_sine[:, 0], s=8, color="gray", label="data (noisy)")
        ax.plot(x_fine[:, 0], np.sin(x_fine[:, 0]), color="k", lw=1, ls="--", label="sin(x)")
        ax.plot(x_fine[:, 0], fit[:, 0], color="C1", lw=2, label="network after 2001 steps")
        ax.set(xlabel="x", ylabel="y", title="A piecewise-linear fit: 64 ReLU kinks")
        ax.legend()
        save_figure(
            fig,
            "01_article_fit.png",
            alt=(
                "The noisy sine data, the true sine as a dashed line, and the network's "
                "piecewise-linear fit after 2001 steps following it closely."
            ),
        )

# %% [markdown]
# ## 2. What each gradient means
#
# The backward pass computes $\partial L / \partial \theta$ for every parameter $\theta$, and
# $\partial L / \partial \theta$ has a plain meaning: nudge $\theta$ by a small $\epsilon$ and the
# loss changes by about $\frac{\partial L}{\partial \theta}\,\epsilon$. So `dW2[i, j] * epsilon`
# predicts how much the loss moves when `W2[i, j]` moves by `epsilon`; we check that below.
#
# The chain rule gets all of them in one sweep from the loss back to the input, each layer turning
# the gradient with respect to its output into the gradients with respect to its input and its
# parameters. Four pieces, derived here one at a time; each is a forward function with its backward
# function right after it.
#
# ### 2.1 The loss: mean squared error
#
# $L = \frac{1}{M} \sum_{n,k} (\text{out}_{nk} - y_{nk})^2$ over all $M = N\,d_\text{out}$ entries
# (the article has $d_\text{out} = 1$, so $M = N$). Each entry appears in one term, so
#
# $$\frac{\partial L}{\partial\, \text{out}_{nk}} = \frac{2}{M}\,(\text{out}_{nk} - y_{nk}),
#   \qquad \texttt{d\_out} = \tfrac{2}{M}(\text{out} - y) \quad (N, d_\text{out}).$$
#
# The $1/M$ matters: without it the gradient grows with the batch, and so does the step.


# %%
def mse_loss(out, y):
    """Mean squared error over all entries, and its gradient with respect to ``out``.

    ``out`` and ``y``: ``(N, d_out)`` of the same dtype. Returns ``(loss, d_out)``: a scalar of
    that dtype and ``d_out = 2 (out - y) / out.size`` of shape ``(N, d_out)``.

    >>> loss, d_out = mse_loss(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))
    >>> float(loss), d_out.ravel().tolist()
    (5.0, [1.0, 3.0])
    """
    _array("out", out)
    if _array("y", y).shape != out.shape or y.dtype != out.dtype:
        raise ValueError(
            f"y is {y.shape} {y.dtype} but the network output is {out.shape} {out.dtype}: "
            f"mse_loss needs targets of the same shape and dtype (y.astype(np.{out.dtype.name}))"
        )
    diff = out - y  # (N, d_out)
    loss = np.mean(diff**2)
    d_out = 2 * diff / diff.size  # (N, d_out)   dL/d out = 2 (out - y) / M
    return loss, d_out


# %% [markdown]
# ### 2.2 A linear layer: $Z = X W + b$
#
# Entry by entry, $Z_{nj} = \sum_i X_{ni} W_{ij} + b_j$. Given the upstream gradient
# $G = \partial L / \partial Z$ (`d_Z` in the code) of shape $(N, d_\text{out})$, collect every
# path through which a parameter reaches the loss:
#
# - $W_{ij}$ appears in $Z_{nj}$ for every example $n$, with local derivative
#   $\partial Z_{nj} / \partial W_{ij} = X_{ni}$, so
#   $\frac{\partial L}{\partial W_{ij}} = \sum_n X_{ni}\, G_{nj}$, that is
#   $\;\texttt{dW} = X^\top G \quad (d_\text{in}, d_\text{out})$.
# - $b_j$ appears in every $Z_{nj}$ with derivative 1:
#   $\frac{\partial L}{\partial b_j} = \sum_n G_{nj}$, that is
#   $\;\texttt{db} = \textstyle\sum_n G_{n,:} \quad (1, d_\text{out})$,
#   the column sums. The bias was broadcast over the batch in the forward pass, so its gradient
#   is summed over the batch in the backward pass.
# - $X_{ni}$ appears in $Z_{nj}$ for every unit $j$, with derivative $W_{ij}$:
#   $\frac{\partial L}{\partial X_{ni}} = \sum_j G_{nj} W_{ij}$, that is
#   $\;\texttt{d\_X} = G\, W^\top \quad (N, d_\text{in})$.
#
# Every gradient has the shape of the thing it differentiates: a quick check on any line.


# %%
def linear_forward(X, W, b):
    """``Z = X @ W + b``. ``X``: (N, d_in), ``W``: (d_in, d_out), ``b``: (1, d_out).

    Returns ``Z`` of shape (N, d_out) and the cache ``(X, W)`` that the backward pass needs.
    """
    Z = np.dot(X, W) + b  # (N, d_out)   X W + b   (np.dot is X @ W; see the note below)
    return Z, (X, W)


def linear_backward(d_Z, cache, need_d_X: bool = True):
    """Gradients of a linear layer from the upstream gradient ``d_Z`` of shape (N, d_out).

    Returns ``(d_X, dW, db)`` with the shapes of ``X``, ``W`` and ``b``. The first layer passes
    ``need_d_X=False``: nothing upstream needs the gradient of the data (``d_X`` is then
    ``None``), and skipping it saves a product as large as ``dW``'s.

    >>> X, W, b = np.ones((4, 3)), np.ones((3, 2)), np.zeros((1, 2))
    >>> Z, cache = linear_forward(X, W, b)
    >>> d_X, dW, db = linear_backward(np.ones_like(Z), cache)
    >>> d_X.shape, dW.shape, db.shape
    ((4, 3), (3, 2), (1, 2))
    """
    X, W = cache
    dW = np.dot(X.T, d_Z)  # (d_in, d_out)   dL/dW = X^T G
    db = d_Z.sum(axis=0, keepdims=True)  # (1, d_out)   dL/db = column sums of G
    d_X = np.dot(d_Z, W.T) if need_d_X else None  # (N, d_in)   dL/dX = G W^T
    return d_X, dW, db


# %% [markdown] tags=["deeper"]
# **Going deeper: why `np.dot` and not `@`.** For 2-D arrays they compute the same matrix
# product, and for most shapes through the same BLAS routine. One case differs: a column times a
# row, $(N, 1)$ times $(1, M)$, which the article's network meets twice a step (its input has one
# feature, its output one unit). There `@` runs a plain loop and `np.dot` calls BLAS, about six
# times faster; each entry is a single product, so the numbers are the same to the last bit.
# On the article's network this is a third of a training step.


# %% [markdown]
# ### 2.3 ReLU: $A = \max(0, Z)$
#
# ReLU acts entry by entry, so each $A_{nj}$ depends on $Z_{nj}$ alone, with local derivative
# $1$ where $Z_{nj} > 0$ and $0$ where $Z_{nj} < 0$. At exactly 0 the derivative does not exist;
# we use 0 there, as PyTorch does. The chain rule is then a mask:
#
# $$\texttt{d\_Z} = \texttt{d\_A} \odot \mathbb 1[Z > 0] \quad (N, H).$$
#
# A unit whose $Z$ is negative passes no gradient back: nothing upstream learns from it on that
# example. If that holds on *every* example the unit is **dead**, which section 2.6 measures.


# %%
def relu_forward(Z):
    """``A = max(0, Z)`` entry by entry. Returns ``A`` (same shape as ``Z``) and the cache ``Z``."""
    A = np.maximum(Z, 0)
    return A, Z


def relu_backward(d_A, Z):
    """``d_Z = d_A * [Z > 0]``: the upstream gradient where the unit was active, 0 elsewhere.

    >>> relu_backward(np.array([[5.0, 5.0, 5.0]]), np.array([[-1.0, 0.0, 2.0]]))
    array([[0., 0., 5.]])
    """
    return d_A * (Z > 0)  # (N, H)


# %% [markdown]
# ### 2.4 The whole network: chain the pieces
#
# For the article's network the backward pass is the forward pass read in reverse, each line one
# of the rules above:
#
# | forward | backward, as code | shape |
# |---|---|---|
# | $L = \text{mean}((\text{out} - y)^2)$ | `d_out = 2 * (out - y) / M` | $(N, d_\text{out})$ |
# | $\text{out} = A_1 W_2 + b_2$ | `dW2 = A1.T @ d_out` | $(H, d_\text{out})$ |
# | | `db2 = d_out.sum(axis=0, keepdims=True)` | $(1, d_\text{out})$ |
# | | `d_A1 = d_out @ W2.T` | $(N, H)$ |
# | $A_1 = \operatorname{ReLU}(Z_1)$ | `d_Z1 = d_A1 * (Z1 > 0)` | $(N, H)$ |
# | $Z_1 = X W_1 + b_1$ | `dW1 = X.T @ d_Z1` | $(d_\text{in}, H)$ |
# | | `db1 = d_Z1.sum(axis=0, keepdims=True)` | $(1, H)$ |
#
# (`d_out` is the article's `d_out_layer`: the gradient with respect to `out`. The article's
# `d_out` is the output width, written $d_\text{out}$ here.)
#
# Nothing in it is specific to two layers. `mlp_forward` runs linear and ReLU for every hidden
# layer and a plain linear output layer; `mlp_backward` walks the same list backwards. These two,
# with the pieces above, are the network for any depth and width.


# %%
def mlp_forward(params, X, activation=(relu_forward, relu_backward)):
    """Forward pass: ``activation`` after every hidden layer, a linear output layer.

    ``params``: ``W1, b1, ..., WL, bL`` from ``init_mlp``; ``X``: (N, d_in) of their dtype.
    ``activation`` is a ``(forward, backward)`` pair with the signatures of ``relu_forward`` and
    ``relu_backward``; ReLU by default. Returns ``out`` (N, d_out) and the cache that
    ``mlp_backward`` needs: per layer, its linear cache, and the activation's backward function
    and cache (``None`` for the output layer).
    """
    L = _check_params(params)
    _check_X(X, params["W1"])
    act_forward, act_backward = activation
    cache = []
    A = X
    for l in range(1, L + 1):
        Z, linear_cache = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        if l < L:
            A, act_cache = act_forward(Z)
            cache.append((linear_cache, act_backward, act_cache))
        else:
            cache.append((linear_cache, None, None))
    return Z, cache


def mlp_backward(params, cache, d_out):
    """Backward pass: the gradient of the loss for every parameter, from ``d_out = dL/d out``.

    ``d_out`` is shaped like ``out`` and comes from a loss function; ``cache`` from
    ``mlp_forward``. Returns a dict with the keys, shapes and dtypes of ``params``:
    ``grads["Wl"] = dL/dWl``, ``grads["bl"] = dL/dbl``.
    """
    grads = {}
    d_Z = d_out  # the output layer is linear: dL/dZ_L = dL/d out
    for l in range(len(cache), 0, -1):
        linear_cache, act_backward, act_cache = cache[l - 1]
        if act_backward is not None:
            d_Z = act_backward(d_Z, act_cache)  # (N, h_l)   through this layer's activation
        d_A, grads[f"W{l}"], grads[f"b{l}"] = linear_backward(d_Z, linear_cache, need_d_X=l > 1)
        d_Z = d_A  # this layer's input is the previous layer's output
    return {name: grads[name] for name in params}  # in the order of params


def loss_and_grads(params, X, y, loss_fn, activation=(relu_forward, relu_backward)):
    """One forward and backward pass: the loss and every parameter's gradient.

    ``loss_fn(out, y) -> (loss, d_out)`` is ``mse_loss`` or ``softmax_cross_entropy``.
    Returns ``(loss, grads)``, ``grads`` keyed like ``params``.

    >>> params = init_mlp([1, 4, 1], np.random.default_rng(0))
    >>> loss, grads = loss_and_grads(params, np.ones((3, 1)), np.zeros((3, 1)), mse_loss)
    >>> sorted(grads) == sorted(params)
    True
    """
    out, cache = mlp_forward(params, X, activation)  # forward
    loss, d_out = loss_fn(out, y)  # loss, and where the backward pass starts
    return loss, mlp_backward(params, cache, d_out)  # backward


# %% [markdown]
# ### 2.5 What a gradient predicts
#
# Now the claim at the top of this section, on the article's network at its initialisation: the
# gradient predicts the change of the loss.

# %%
if __name__ == "__main__":
    out, cache = mlp_forward(params_init, X_sine)
    loss, d_out = mse_loss(out, y_sine)
    grads = mlp_backward(params_init, cache, d_out)
    for name, g in grads.items():
        print(f"{name}: shape {g.shape}")

    i = int(np.argmax(np.abs(grads["W2"][:, 0])))  # the hidden unit whose weight matters most
    epsilon = 1e-4
    nudged = {name: p.copy() for name, p in params_init.items()}
    nudged["W2"][i, 0] += epsilon
    nudged_loss, _ = mse_loss(mlp_forward(nudged, X_sine)[0], y_sine)
    print(f"\nnudge W2[{i}, 0] by epsilon = {epsilon}:")
    first_order = grads["W2"][i, 0] * epsilon
    # L is quadratic in W2: d2L/dW2[i,0]^2 = (2/N) sum_n A1[n, i]^2, so this term is exact.
    (A1, _), _, _ = cache[1]  # the output layer's input, kept in the cache by the forward pass
    second_order = 0.5 * (2 / len(X_sine)) * np.sum(A1[:, i] ** 2) * epsilon**2
    print(f"  predicted change dW2[{i}, 0] * epsilon = {first_order:+.10f}")
    print(f"  measured change   L(W2 + e) - L(W2)    = {nudged_loss - loss:+.10f}")
    print(f"  difference                             = {nudged_loss - loss - first_order:+.3e}")
    print(f"  second-order term (1/2) L'' epsilon^2  = {second_order:+.3e}")

# %% [markdown]
# The prediction is the first-order term of a Taylor expansion. The measured change also contains
# the second-order term $\tfrac12 \tfrac{\partial^2 L}{\partial W_{2,i}^2} \epsilon^2$, and
# since $L$ is quadratic in $W_2$ nothing else: the difference between prediction and measurement
# is exactly that term, as the last two lines show.
#
# ### 2.6 Dead neurons
#
# Look again at `d_Z1 = d_A1 * (Z1 > 0)`. A first-layer unit $j$ with $Z_{1,nj} \le 0$ for every
# example $n$ is **dead**: column $j$ of `d_Z1` is all zeros, so `dW1[:, j]` and `db1[j]` are zero
# and its incoming weights never change; its output column of $A_1$ is zero too, so `dW2[j]` is
# zero as well. Its weights never change and its input $X$ is fixed, so $Z_1$ never changes: under
# full-batch gradient descent on this loss a dead first-layer unit stays dead, and the network has
# lost that unit's capacity for good. (A deeper unit's input is the layer below, which keeps
# learning, so a dead unit there can come back.)
#
# Whether units start dead depends on the initialisation. With He initialisation and zero biases
# every unit is active on half of the input line. Here are three starts, trained the same way:
#
# - **He**: $W \sim \mathcal N(0, 2/\text{fan\_in})$, $b = 0$;
# - **negative bias**: He weights, but every hidden bias starts at $-2$;
# - **tiny weights, negative bias**: $W \sim \mathcal N(0, 0.1^2)$, $b = -0.1$.


# %%
def dead_fraction(params, X) -> float:
    """Tutorial helper: the fraction of the first hidden layer's units that are inactive
    (``Z1 <= 0``) on every row of ``X``."""
    _check_params(params)
    _check_X(X, params["W1"])
    _finite("X", X)
    Z1 = X @ params["W1"] + params["b1"]  # (N, H)
    return float(np.mean(~(Z1 > 0).any(axis=0)))


# %%
if __name__ == "__main__":
    starts = {
        "He": {},
        "negative bias": {"hidden_bias": -2.0},
        "tiny weights, negative bias": {"weight_std": 0.1, "hidden_bias": -0.1},
    }
    dead_before, dead_after = {}, {}
    for label, options in starts.items():
        start = init_mlp([1, 64, 1], np.random.default_rng(1), **options)
        dead_before[label] = dead_fraction(start, X_sine)
        article_loop(start, X_sine, y_sine, lr=0.01, steps=2001, log_every=0)
        dead_after[label] = dead_fraction(start, X_sine)
        print(
            f"{label:28s} dead at init {dead_before[label]:5.1%}   "
            f"after 2001 steps {dead_after[label]:5.1%}"
        )

    fig = new_figure(figsize=(7, 3.6))
    if fig is not None:
        ax = fig.subplots()
        x = np.arange(len(starts))
        bars = ax.bar(x - 0.2, [dead_before[k] for k in starts], 0.4, label="at initialisation")
        ax.bar_label(bars, fmt="{:.0%}")
        bars = ax.bar(x + 0.2, [dead_after[k] for k in starts], 0.4, label="after 2001 steps")
        ax.bar_label(bars, fmt="{:.0%}")
        ax.set_xticks(x, list(starts))
        ax.set(
            ylabel="fraction of dead hidden units",
            ylim=(0, 1),
            title="Dead ReLU units: never active on any of the 200 points",
        )
        ax.legend()
        save_figure(
            fig,
            "02_dead_neurons.png",
            alt=(
                "Bar chart of the fraction of dead hidden units at initialisation and after "
                "training for three starts: none for He, about 44 percent for the negative "
                "bias, 33 then 42 percent for tiny weights."
            ),
        )

# %% [markdown]
# He initialisation loses no unit. The negative-bias start begins with four units in ten dead and
# ends with exactly the same ones dead: not one came back in 2001 steps. The tiny-weight start
# loses more units *during* training: an update that pushes a unit's pre-activation below zero on
# every point kills it, and then, as derived above, nothing moves it again. The sine is simple
# enough that the surviving units still fit it; the dead ones are capacity the network paid for and
# cannot use.


# %% [markdown]
# ## 3. Gradient checking
#
# A backward pass can be wrong and still train: a gradient off by a constant factor, or with one
# term missing, often still points downhill. So we check it against a definition that needs no
# calculus, the **centred finite difference**, one parameter entry at a time:
#
# $$\frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h}.$$
#
# *Why centred:* its error is $O(h^2)$ ($\tfrac{h^2}{6} L'''$), against $O(h)$ for the one-sided
# $(L(\theta+h) - L(\theta))/h$. *Why float64:* the difference $L(\theta+h) - L(\theta-h)$ cancels
# almost all digits of $L$, leaving about $\varepsilon_\text{mach} |L| / h$ of rounding noise:
# $10^{-16}/10^{-5} = 10^{-11}$ in float64, but $10^{-7}/10^{-5} = 10^{-2}$ in float32, as large as
# the errors we hunt. `grad_check` therefore always computes in float64.
#
# Compare the analytic gradient $a$ with the numerical one $n$ by the **relative error**, which
# does not depend on the gradient's scale:
#
# $$r = \frac{|a - n|}{\max(|a|,\ |n|,\ s)}, \qquad
#   s = 10^8 \cdot \frac{\varepsilon_\text{mach} \max(|L|, 1)}{h}.$$
#
# The floor $s$ is where the finite difference runs out of digits. The loss is computed with a
# rounding error of about $\varepsilon_\text{mach}$ times the size of the numbers it is made of
# (the loss itself, or 1 for the $\log(1 + \ldots)$ of a confident softmax); the difference
# $L(\theta + h) - L(\theta - h)$ keeps that error, and dividing by $2h$ turns it into a noise of
# about $\sigma = \varepsilon_\text{mach} \max(|L|, 1) / h$ in the estimate, $2 \times 10^{-11}$
# for $h = 10^{-5}$. A gradient smaller than $s = 10^8 \sigma$ (about 0.002) cannot be resolved
# to the 7 or 8 digits the scale below asks for, and dividing by it would call rounding noise a
# bug. Such entries are still compared, on the absolute scale $s$: there $r = 10^{-8}\,|a - n| /
# \sigma$, so a correct one shows $r \lesssim 10^{-7}$ and $r \ge 10^{-5}$ is an error a thousand
# times the noise: a bug, however small the gradient. With $s = 0$ this is the textbook
# $|a - n| / \max(|a|, |n|)$, taken as 0 when both are 0. How to read it:
#
# | relative error | verdict |
# |---|---|
# | $\lesssim 10^{-7}$ | right |
# | $10^{-7}$ to $10^{-2}$ | look closer (a kink, a tiny gradient) |
# | $\gtrsim 10^{-2}$, or $\gtrsim 10^{-5}$ on an entry below $s$ | a bug |
#
# **ReLU's kink.** $L$ is not differentiable where a pre-activation is exactly 0. If some $Z$ lies
# within $h$ of 0, one of $\theta \pm h$ flips that unit on or off, and the finite difference
# measures a slope that belongs to neither side: the check fails on a correct gradient. The cure is
# to notice it. `numerical_gradient` records, for each entry, whether any ReLU changed state
# between $\theta - h$ and $\theta + h$; such entries are reported and left out of the maximum.


# %%
def numerical_gradient(f, x, h: float = 1e-5):
    """Centred finite differences of a scalar function ``f`` of the array ``x``.

    ``f(x)`` returns a number. Each entry of ``x`` is moved to ``x + h`` and ``x - h`` in
    place, ``f`` evaluated, and the entry restored: ``x`` is unchanged afterwards. Returns an
    array shaped like ``x`` holding ``(f(x + h) - f(x - h)) / 2h`` entry by entry. Costs two
    calls of ``f`` per entry.

    >>> x = np.array([1.0, 2.0, 3.0])
    >>> numerical_gradient(lambda x: np.sum(x**2), x).round(6)  # the gradient of |x|^2 is 2x
    array([2., 4., 6.])
    """
    h = _number("h", h)
    if not (_array("x", x).dtype.kind == "f" and x.flags.writeable):
        raise ValueError(f"x must be a writeable floating-point array, got {x.dtype}")
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


class GradCheckReport(dict):
    """What ``grad_check`` returns: per tensor name, a dict with ``checked`` (entries compared),
    ``kinks`` (entries skipped because a ReLU switched within ``h``), ``max_abs_error``,
    ``max_rel_error`` and ``ok``. ``report.ok`` is True when every tensor passed;
    ``print(report)`` shows the table."""

    @property
    def ok(self) -> bool:
        return all(row["ok"] for row in self.values())

    def __str__(self) -> str:
        lines = [
            f"{'tensor':6s} {'shape':>10s} {'checked':>7s} {'on kink':>7s} "
            f"{'max abs error':>13s} {'max rel error':>13s}  result"
        ]
        for name, r in self.items():
            lines.append(
                f"{name:6s} {str(r['shape']):>10s} {r['checked']:7d} {r['kinks']:7d} "
                f"{r['max_abs_error']:13.1e} {r['max_rel_error']:13.1e}  "
                f"{'ok' if r['ok'] else 'FAIL'}"
            )
        return "\n".join(lines)


def grad_check(
    params,
    X,
    y,
    loss_fn,
    *,
    h: float = 1e-5,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    max_evals: int = 100_000,
    activation=(relu_forward, relu_backward),
):
    """Check ``mlp_backward`` against ``numerical_gradient``, every entry, in float64.

    An entry passes when ``|a - n| <= atol + rtol * |n|`` (``a`` analytic, ``n`` numerical).
    Entries where a ReLU unit switched on or off between ``theta - h`` and ``theta + h`` are
    skipped and counted: there the finite difference is not a derivative. The check costs two
    loss evaluations per parameter entry; past ``max_evals`` it refuses, naming the cost.
    Returns a ``GradCheckReport``.

    >>> rng = np.random.default_rng(0)
    >>> params = init_mlp([3, 4, 2], rng)
    >>> X, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    >>> grad_check(params, X, y, mse_loss).ok
    True
    """
    _check_params(params)
    n_evals = 2 * sum(p.size for p in params.values())
    if n_evals > max_evals:
        raise ValueError(
            f"grad_check would evaluate the loss {n_evals:,} times (two per parameter entry), "
            f"more than max_evals = {max_evals:,}: check a smaller network built from the same "
            f"layers, or raise max_evals"
        )
    rtol, atol = _number("rtol", rtol, allow_low=True), _number("atol", atol, allow_low=True)
    _finite("X", _array("X", X))
    loss_and_grads(params, X, y, loss_fn, activation)  # the same checks as a training step
    # float64 copies: in float32 the finite difference's rounding noise is as large as the
    # errors the check hunts (the text above derives it).
    params64 = {name: p.astype(np.float64) for name, p in params.items()}
    X64 = X.astype(np.float64)
    y64 = y.astype(np.float64) if np.issubdtype(y.dtype, np.floating) else y
    _, analytic = loss_and_grads(params64, X64, y64, loss_fn, activation)

    patterns = []  # which ReLU units were on, at each evaluation

    def loss_at(_theta):
        # numerical_gradient moved one entry of one tensor of params64 in place.
        out, cache = mlp_forward(params64, X64, activation)
        patterns.append([Z > 0 for _, backward, Z in cache if backward is relu_backward])
        return float(loss_fn(out, y64)[0])

    loss_at(None)
    start = patterns.pop()
    report = GradCheckReport()
    for name, p in params64.items():
        numeric = numerical_gradient(loss_at, p, h)
        switched = [
            any((s != q).any() for s, q in zip(start, pattern, strict=True)) for pattern in patterns
        ]
        patterns.clear()
        # Two evaluations per entry, in np.ndindex order: + h, then - h.
        kink = np.array(switched).reshape(-1, 2).any(axis=1).reshape(p.shape)
        a, n = analytic[name][~kink], numeric[~kink]
        abs_error = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel_error = abs_error / np.where(scale > 0, scale, 1.0)  # 0, not 0/0, where both are 0
        report[name] = {
            "shape": p.shape,
            "checked": int(a.size),
            "kinks": int(kink.sum()),
            "max_abs_error": float(abs_error.max(initial=0.0)),
            "max_rel_error": float(rel_error.max(initial=0.0)),
            "ok": bool(np.all(abs_error <= atol + rtol * np.abs(n))),
        }
    return report


# %% [markdown]
# The article's network, checked at its He initialisation and again after training. Every entry of
# every tensor is checked: 64 + 64 + 64 + 1 of them.

# %%
if __name__ == "__main__":
    print(grad_check(params_init, X_sine, y_sine, mse_loss))

# %% [markdown]
# Now put a pre-activation on the kink on purpose: choose $b_{1,j}$ so that
# $Z_{1,nj} = 10^{-7}$ for one example, well within $h = 10^{-5}$ of zero. The entries of $W_1$
# and $b_1$ of that unit now straddle the kink. For them the finite difference mixes the slopes of
# both sides: it is off by about half of that one example's contribution, 0.6% here, a relative
# error tens of thousands of times the $10^{-7}$ a right gradient shows. With the kink test they are
# reported and skipped, and everything else still checks to $10^{-7}$.

# %%
if __name__ == "__main__":
    on_kink = {name: p.copy() for name, p in params_init.items()}
    j, n = 0, 150
    on_kink["b1"][0, j] = 1e-7 - X_sine[n, 0] * on_kink["W1"][0, j]  # makes Z1[n, j] = 1e-7
    print(grad_check(on_kink, X_sine, y_sine, mse_loss))

    def loss_of_b1(b1):
        return mse_loss(mlp_forward({**on_kink, "b1": b1}, X_sine)[0], y_sine)[0]

    numeric = numerical_gradient(loss_of_b1, on_kink["b1"].copy())[0, j]
    analytic = loss_and_grads(on_kink, X_sine, y_sine, mse_loss)[1]["b1"][0, j]
    print(
        f"\nb1[{j}] on the kink: analytic {analytic:+.6e}, finite difference {numeric:+.6e}, "
        f"relative error {abs(analytic - numeric) / abs(analytic):.1e}"
    )


# %% [markdown]
# ## 4. Reusable building blocks
#
# The pieces so far are the whole network. What remains of the loop is the update and the loop
# itself. The public interface of this file, each usable on its own:
#
# | function | does |
# |---|---|
# | `init_mlp(sizes, rng, dtype)` | He-initialised `W1, b1, ..., WL, bL` for any depth |
# | `linear_forward` / `linear_backward` | $Z = XW + b$ and its three gradients |
# | `relu_forward` / `relu_backward` | $\max(0, Z)$ and its mask |
# | `mlp_forward(params, X)` | the forward pass, returning `(out, cache)` |
# | `mlp_backward(params, cache, d_out)` | every parameter's gradient |
# | `mse_loss(out, y)` | MSE and `d_out` |
# | `softmax_cross_entropy(logits, labels)` | section 6 |
# | `SGD(lr)`, `Adam(lr, betas, eps)` | `.step(params, grads)` updates `params` in place |
# | `grad_check(params, X, y, loss_fn)` | max relative error per tensor |
# | `train(params, X, y, loss_fn, optimizer, steps, ...)` | the loop; returns every step's loss |
#
# **Gradient descent**: $\theta \leftarrow \theta - \eta\, \partial L / \partial \theta$ for every
# parameter, with learning rate $\eta$ (`lr`).
#
# **Mini-batches**: with `batch_size` set, each step uses `batch_size` rows instead of all $N$;
# the rows are reshuffled every epoch (every pass over the data) with the given `rng`, and the loss
# recorded for a step is that batch's loss. Every batch has the same size, so every step's
# gradient is a mean over the same number of examples.
#
# Input is checked before anything changes: bad shapes, dtypes, labels, non-finite data or a bad
# learning rate raise a `ValueError` that names the argument. If the loss ever becomes NaN or
# infinite, `train` stops at that step and says so, instead of training on garbage.


# %%
def _check_step(optimizer, params, grads) -> None:
    """Check every parameter and gradient before an optimizer changes any of them.

    An optimizer with state (momentum, Adam's moments) also remembers which arrays that state
    belongs to: stepping it on other arrays would carry one network's history into another.
    """
    if not (isinstance(params, dict) and isinstance(grads, dict)) or set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}, got {grads!r:.80}")
    for name, p in params.items():
        g = grads[name]
        if not (isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable):
            raise ValueError(f"params[{name!r}] must be a writeable floating-point NumPy array")
        if not (isinstance(g, np.ndarray) and g.shape == p.shape and g.dtype == p.dtype):
            raise ValueError(
                f"grads[{name!r}] is {getattr(g, 'shape', type(g).__name__)} "
                f"{getattr(g, 'dtype', '')} but params[{name!r}] is {p.shape} {p.dtype}"
            )
    held = getattr(optimizer, "_held", None)
    if held is not None and (
        held.keys() != params.keys() or any(held[k] is not params[k] for k in held)
    ):
        raise ValueError(
            f"this {type(optimizer).__name__} holds state for other parameter arrays; "
            f"create a new {type(optimizer).__name__} for a new network or a copy of one"
        )


class SGD:
    """Gradient descent, with optional momentum as in ``torch.optim.SGD``; updates in place.

    ``momentum = 0``: ``p -= lr * g``. ``momentum = mu > 0``: ``b = mu * b + g`` (``b``
    starts at 0), then ``p -= lr * b``.

    >>> params, grads = {"W1": np.array([1.0])}, {"W1": np.array([2.0])}
    >>> SGD(lr=0.1).step(params, grads)
    >>> params["W1"]
    array([0.8])
    """

    def __init__(self, lr: float, momentum: float = 0.0):
        self.lr = _number("lr", lr)
        self.momentum = _number("momentum", momentum, allow_low=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.b = {}  # the velocity, per parameter

    def step(self, params, grads) -> None:
        _check_step(self, params, grads)
        if self.momentum and not self.b:
            self.b = {name: np.zeros_like(p) for name, p in params.items()}
            self._held = dict(params)
        for name, p in params.items():
            g = grads[name]
            if self.momentum:
                b = self.b[name]
                b *= self.momentum  # b_t = mu b_{t-1} + g_t
                b += g
                g = b
            p -= self.lr * g  # theta_t = theta_{t-1} - lr b_t   (b_t = g_t without momentum)


class RMSProp:
    """RMSProp as in ``torch.optim.RMSprop``: each coordinate's step divided by the root of a
    running mean of its squared gradient; updates in place.

    ``v = alpha * v + (1 - alpha) * g**2``, then ``p -= lr * g / (sqrt(v) + eps)``.
    """

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        self.lr = _number("lr", lr)
        self.alpha = _number("alpha", alpha, allow_low=True)
        if self.alpha >= 1:
            raise ValueError(f"alpha must be in [0, 1), got {alpha!r}")
        self.eps = _number("eps", eps, allow_low=True)
        self.v = {}

    def step(self, params, grads) -> None:
        _check_step(self, params, grads)
        if not self.v:
            self.v = {name: np.zeros_like(p) for name, p in params.items()}
            self._held = dict(params)
        for name, p in params.items():
            g, v = grads[name], self.v[name]
            v *= self.alpha  # v_t = alpha v_{t-1} + (1 - alpha) g_t^2
            v += (1 - self.alpha) * g**2
            p -= (
                self.lr * g / (np.sqrt(v) + self.eps)
            )  # theta_t = theta_{t-1} - lr g_t / (sqrt(v_t) + eps)


def _non_finite_loss_message(loss, step: int, optimizer) -> str:
    if step == 0:
        # No update has happened yet, so the learning rate cannot be the cause.
        return (
            f"the loss is {float(loss)} at step 0, before any update: the initial parameters or "
            f"the loss function overflow on this data (check the weight scale and the loss)"
        )
    return (
        f"the loss became {float(loss)} at step {step}: training diverged; try a smaller "
        f"learning rate (optimizer lr = {getattr(optimizer, 'lr', '?')})"
    )


@contextlib.contextmanager
def _whole_or_not_at_all():
    """Hold Ctrl-C (SIGINT) until the block ends, then raise it: an update is never half done."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


def train(
    params,
    X,
    y,
    loss_fn,
    optimizer,
    steps: int,
    batch_size=None,
    rng=None,
    log_every: int = 0,
    *,
    activation=(relu_forward, relu_backward),
    on_step=None,
) -> list[float]:
    """Train ``params`` in place for ``steps`` steps; return the loss of every step.

    ``loss_fn(out, y) -> (loss, d_out)`` is ``mse_loss`` or ``softmax_cross_entropy``;
    ``optimizer`` has ``.step(params, grads)``. Full batch by default; with ``batch_size`` each
    step takes the next ``batch_size`` rows of a permutation drawn from ``rng`` once per epoch
    (rows too few to fill a last batch are skipped that epoch). With ``log_every`` > 0 it prints
    the loss every ``log_every`` steps in the article's format. ``on_step(step, loss, params)``,
    if given, is called after every update: to log a held-out loss, or to keep the losses of a
    run you may interrupt.

    Ctrl-C stops training between two steps: every tensor and the optimizer's state are then
    those after the last whole step. Raises ``FloatingPointError`` naming the step if the loss
    becomes NaN or infinite.
    """
    _check_params(params)
    _check_X(X, params["W1"])
    _finite("X", X)
    if _array("y", y).shape[:1] != X.shape[:1]:
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {y.shape}")
    _finite("y", y)
    steps, log_every = _count("steps", steps), _count("log_every", log_every)
    N = X.shape[0]
    if batch_size is not None:
        if _count("batch_size", batch_size, low=1) > N:
            raise ValueError(f"batch_size must be at most N = {N}, got {batch_size}")
        if not callable(getattr(rng, "permutation", None)):
            raise ValueError(f"batch_size needs rng, a np.random.Generator, got {rng!r}")
    if not callable(loss_fn) or not callable(getattr(optimizer, "step", None)):
        raise ValueError("loss_fn must be a function and optimizer must have .step(params, grads)")
    batch_size = batch_size or N
    losses = []
    order, position = np.arange(N), N
    # Overflow shows up as an infinite loss, which the check below reports with its step;
    # NumPy's own warnings on the way there would only bury that message.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for step in range(steps):
            if batch_size == N:
                X_batch, y_batch = X, y
            else:
                if position + batch_size > N:  # a new epoch: reshuffle
                    order, position = rng.permutation(N), 0
                rows = order[position : position + batch_size]
                position += batch_size
                X_batch, y_batch = X[rows], y[rows]
            loss, grads = loss_and_grads(params, X_batch, y_batch, loss_fn, activation)
            if not math.isfinite(loss):
                raise FloatingPointError(_non_finite_loss_message(loss, step, optimizer))
            with _whole_or_not_at_all():
                optimizer.step(params, grads)
                losses.append(float(loss))
            if log_every and step % log_every == 0:
                print(f"Step {step:5d} loss={loss:.6f}")
            if on_step is not None:
                on_step(step, float(loss), params)
    return losses


# %% [markdown]
# The refactored loop reproduces the article's loop exactly: same initialisation, same order of
# operations, so the same floating-point numbers, every step.

# %%
if __name__ == "__main__":
    params_refactored = {name: p.copy() for name, p in params_init.items()}
    losses_refactored = train(
        params_refactored, X_sine, y_sine, mse_loss, SGD(lr=0.01), steps=2001, log_every=500
    )
    same = losses_refactored == [float(v) for v in losses_article] and all(
        np.array_equal(params_refactored[k], params_article[k]) for k in params_article
    )
    print(f"identical to the article's loop, bit for bit: {same}")

# %% [markdown]
# ## 5. Adam versus SGD
#
# Gradient descent takes the same step size $\eta$ for every parameter, so one $\eta$ must suit
# the steepest direction (section 1: above $2/\eta$ it overshoots) and the flattest (where it
# crawls). Adam (Kingma & Ba, 2015, Algorithm 1) gives each parameter its own step. With
# $g_t = \partial L/\partial\theta$ at step $t = 1, 2, \ldots$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
#
# - $m$, the **first moment**, is a running mean of the gradient (momentum): noise that flips sign
#   from step to step averages out, a consistent direction accumulates.
# - $v$, the **second moment**, is a running mean of the squared gradient: its square root is the
#   gradient's typical size, so $\hat m / \sqrt{\hat v}$ is about $\pm 1$ for a steady gradient
#   whatever its scale. Parameters with large gradients take smaller steps relative to their
#   gradient, those with small gradients larger ones: every step is about $\eta$ per coordinate.
# - **Bias correction.** $m_0 = v_0 = 0$, so early averages are biased towards 0: after one step
#   $m_1 = (1 - \beta_1) g_1 = 0.1\, g_1$ and $v_1 = 0.001\, g_1^2$. Dividing by $1 - \beta^t$
#   removes exactly that bias (for a constant gradient, $\hat m_t = g$ and $\hat v_t = g^2$ at
#   every $t$). The article's one-line formula, $W \mathrel{-}= \eta\, m / (\sqrt v + \epsilon)$,
#   leaves it out. Then the step is
#   $\eta\, \frac{1 - \beta_1^t}{\sqrt{1 - \beta_2^t}}$ per coordinate instead of $\eta$:
#   $3.2\,\eta$ at $t = 1$, up to $6.6\,\eta$ around $t = 12$, still $1.3\,\eta$ at $t = 1000$.
#   The first hundreds of steps are several times larger than the learning rate says.
#
# The step count $t$ belongs to the optimizer, not to a parameter: one `step` call is one $t$
# for every tensor. $\epsilon$ is added after the bias correction of $v$, as in the paper and in
# `torch.optim.Adam`.


# %%
class Adam:
    """Adam (Kingma & Ba, Algorithm 1), updating ``params`` in place; the moments ``m`` and ``v``
    are kept per parameter in its dtype. ``bias_correction=False`` gives the article's
    uncorrected formula, for comparison.

    The first step moves every coordinate by about ``lr``, whatever the gradient's scale:

    >>> params = {"W1": np.array([1.0, 1.0])}
    >>> Adam(lr=0.1).step(params, {"W1": np.array([1e-3, 50.0])})
    >>> params["W1"].round(4)
    array([0.9, 0.9])
    """

    def __init__(
        self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, bias_correction: bool = True
    ):
        self.lr = _number("lr", lr)
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.betas = tuple(_number("betas", b, allow_low=True) for b in betas)
        if max(self.betas) >= 1:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.eps = _number("eps", eps, allow_low=True)
        self.bias_correction = bool(bias_correction)
        self.t = 0  # steps taken: one per call, for every tensor
        self.m, self.v = {}, {}

    def step(self, params, grads) -> None:
        _check_step(self, params, grads)
        if not self.t:
            self.m = {name: np.zeros_like(p) for name, p in params.items()}
            self.v = {name: np.zeros_like(p) for name, p in params.items()}
            self._buffer = {name: np.empty_like(p) for name, p in params.items()}
            self._held = dict(params)
        self.t += 1
        t, (beta1, beta2), eps = self.t, self.betas, self.eps
        # 1 - beta^t, the bias corrections: numbers, so they stay numbers (see the note below).
        correction1 = 1 - beta1**t if self.bias_correction else 1.0
        correction2 = 1 - beta2**t if self.bias_correction else 1.0
        for name, p in params.items():
            g, m, v, buffer = grads[name], self.m[name], self.v[name], self._buffer[name]
            # m_t = beta1 m_{t-1} + (1 - beta1) g_t
            m *= beta1
            m += np.multiply(1 - beta1, g, out=buffer)
            # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
            v *= beta2
            v += np.multiply(1 - beta2, np.square(g, out=buffer), out=buffer)
            # v_hat_t = v_t / (1 - beta2^t), and the denominator sqrt(v_hat_t) + eps
            v_hat = np.divide(v, correction2, out=buffer)
            denominator = np.sqrt(v_hat, out=buffer)
            denominator += eps
            # m_hat_t = m_t / (1 - beta1^t): a number times m_t, so it joins the step size
            # theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)
            update = np.divide(m, denominator, out=buffer)
            update *= self.lr / correction1
            p -= update


# %% [markdown]
# First, what bias correction changes on the first steps. On the article's network from its
# initialisation, the first five steps of Adam with and without it, and the size of each step
# $\max_i |\Delta\theta_i|$:

# %%
if __name__ == "__main__":
    for corrected in (True, False):
        params = {name: p.copy() for name, p in params_init.items()}
        optimizer = Adam(lr=0.01, bias_correction=corrected)
        print("with bias correction:" if corrected else "\nwithout (the article's formula):")
        for t in range(1, 6):
            before = {name: p.copy() for name, p in params.items()}
            loss = train(params, X_sine, y_sine, mse_loss, optimizer, steps=1)[0]
            largest_step = max(np.abs(params[k] - before[k]).max() for k in params)
            print(f"  t={t}  loss {loss:.4f}  largest step {largest_step:.4f}  (lr = 0.01)")

    t = np.arange(1, 2001)
    inflation = (1 - 0.9**t) / np.sqrt(1 - 0.999**t)
    fig = new_figure(figsize=(7, 3.2))
    if fig is not None:
        ax = fig.subplots()
        ax.semilogx(t, inflation)
        ax.axhline(1, color="gray", lw=1, ls="--")
        ax.set(
            xlabel="step t",
            ylabel="uncorrected / corrected step",
            title=r"Uncorrected steps are $(1-\beta_1^t)/\sqrt{1-\beta_2^t}$ times the corrected",
        )
        save_figure(
            fig,
            "05_bias_correction.png",
            alt=(
                "Ratio of the uncorrected to the corrected Adam step against the step number "
                "on a log axis: 3.2 at step 1, peaking near 6.6 around step 12, and falling "
                "towards 1 by step 2000."
            ),
        )

# %% [markdown]
# Now the article's network from the same initialisation, trained for the same 2001 steps with
# SGD at the article's learning rate and with Adam. The noise floor is marked: $y$ carries noise
# of variance $0.1^2 = 0.01$, which no function of $x$ can predict, so a network that has learned
# $\sin$ and not the noise ends near 0.01.

# %%
if __name__ == "__main__":
    curves = {}
    for label, optimizer in [("SGD, lr = 0.01", SGD(lr=0.01)), ("Adam, lr = 0.01", Adam(lr=0.01))]:
        params = {name: p.copy() for name, p in params_init.items()}
        curves[label] = train(params, X_sine, y_sine, mse_loss, optimizer, steps=2001)
        below = next((step for step, value in enumerate(curves[label]) if value < 0.02), None)
        print(
            f"{label:16s} loss after 2001 steps: {curves[label][-1]:.5f}   "
            f"first step below 0.02: {below}"
        )

    fig = new_figure(figsize=(7, 3.6))
    if fig is not None:
        ax = fig.subplots()
        for label, curve in curves.items():
            ax.semilogy(curve, label=label)
        ax.axhline(0.01, color="gray", ls="--", lw=1, label="noise floor (variance 0.01)")
        ax.set(xlabel="step", ylabel="MSE loss (log scale)", title="Same network, same start")
        ax.legend()
        save_figure(
            fig,
            "05_sgd_vs_adam.png",
            alt=(
                "Loss curves of SGD and Adam from the same start at learning rate 0.01: Adam "
                "falls to the noise floor within a few hundred steps, SGD stays about four "
                "times above it after 2001 steps."
            ),
        )

# %% [markdown]
# With the same learning rate and the same start, Adam reaches the noise floor in a few hundred
# steps while SGD is still four times above it after 2001. Its per-parameter step avoids SGD's
# overshoot in the steep direction and keeps moving in the flat ones. It even ends slightly *below*
# 0.01: 193 parameters on 200 points can begin to fit the noise itself. The small spikes late in
# its curve are Adam's steps staying about $\eta$ in size near the minimum, where a fixed learning
# rate is too large; a decaying learning rate would remove them.


# %% [markdown]
# ## 6. Softmax cross-entropy classification
#
# For $C$ classes the network outputs $C$ **logits** per example, $z_n = \text{out}_{n,:}$.
# Softmax turns them into probabilities and cross-entropy scores the probability given to the
# true class $y_n$:
#
# $$p_{nk} = \frac{e^{z_{nk}}}{\sum_{c} e^{z_{nc}}}, \qquad
#   L = \frac{1}{N}\sum_{n} \ell_n, \qquad \ell_n = -\log p_{n y_n}
#   = \log \sum_c e^{z_{nc}} - z_{n y_n}.$$
#
# **The gradient.** Differentiate $\ell_n$ in its second form with respect to one logit $z_{nk}$.
# The log-sum-exp term gives
# $\frac{\partial}{\partial z_{nk}} \log \sum_c e^{z_{nc}}
#   = \frac{e^{z_{nk}}}{\sum_c e^{z_{nc}}} = p_{nk}$,
# the softmax itself; the second term gives $-\mathbb 1[k = y_n]$. So
#
# $$\frac{\partial \ell_n}{\partial z_{nk}} = p_{nk} - \mathbb 1[k = y_n], \qquad
#   \texttt{d\_logits} = \frac{1}{N}\big(\operatorname{softmax}(z) - \operatorname{one\_hot}(y)\big)
#   \quad (N, C).$$
#
# The $p$ comes from the normaliser (raising any logit enlarges $\sum_c e^{z_{nc}}$ and takes
# probability from every other class, the true one included), the $-1$ from the true class's own
# logit, and the $1/N$ from the mean over the batch. Going through the softmax's Jacobian
# $\partial p_{nj}/\partial z_{nk} = p_{nj}(\mathbb 1[j=k] - p_{nk})$ and then
# $\partial \ell_n / \partial p_{nj} = -\mathbb 1[j = y_n] / p_{nj}$ gives the same:
# $-\tfrac{1}{p_{ny_n}}\, p_{ny_n}(\mathbb 1[y_n = k] - p_{nk}) = p_{nk} - \mathbb 1[k = y_n]$.
#
# **Why subtract the row max.** Softmax does not change when a constant is subtracted from every
# logit of a row (it cancels between numerator and denominator). With $z_{n,:} - \max_c z_{nc}$
# the largest exponent is $e^0 = 1$: nothing overflows (`np.exp(1000.)` is `inf`), and the sum
# is at least 1, so its log is finite.
#
# **Why log-sum-exp, not `log(softmax)`.** For a badly wrong prediction $p_{ny_n}$ can be smaller
# than the smallest float ($e^{-20000}$ for logits of size $10^4$); it underflows to 0 and
# `log(0)` is $-\infty$. In the second form, $\ell_n = \log\sum_c e^{z_{nc} - \max} + \max -
# z_{ny_n}$, nothing is exponentiated that could vanish before the log is taken: the loss is
# exact, 20000 for that example.
#
# There is no `np.eye(C)[labels]` one-hot: subtracting 1 at `[rows, labels]` does the same without
# building an $N \times C$ float64 matrix.


# %%
def softmax(logits):
    """Row-wise softmax of (N, C) logits, with the row max subtracted so nothing overflows.

    >>> softmax(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """
    with np.errstate(under="ignore"):  # a far smaller logit's probability is 0: harmless
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # (N, C), row max 1
    return exp / exp.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of the softmax of ``logits`` against integer class ``labels``.

    ``logits``: (N, C); ``labels``: (N,) integers in ``[0, C)``. Returns ``(loss, d_logits)``
    with ``d_logits = (softmax(logits) - one_hot(labels)) / N`` of shape (N, C), both in the
    dtype of ``logits``. Finite for logits of any size:

    >>> loss, d_logits = softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))
    >>> float(loss), d_logits.tolist()
    (20000.0, [[1.0, -1.0]])
    """
    if _array("logits", logits, ndim=2).dtype.kind != "f":
        raise ValueError(f"logits must be floating point, got dtype {logits.dtype}")
    _check_labels(labels, logits.shape[1], logits.shape[0])
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), row max 0
    with np.errstate(under="ignore"):  # e^-800 is 0 here, and 0 is the right answer
        exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)  # (N,), >= 1
    loss = np.mean(np.log(sum_exp) - shifted[rows, labels])  # log-sum-exp minus the true logit
    d_logits = exp / sum_exp[:, None]  # (N, C)   softmax p
    d_logits[rows, labels] -= 1  # p - one_hot(y)
    d_logits /= N  # (N, C)   the 1/N of the mean
    return loss, d_logits


# %% [markdown]
# **The data.** Three interleaved spiral arms in the plane, one per class: not separable by any
# straight line, so the hidden layers must bend the space. A quarter of the points is held out and
# never trained on; accuracy is measured on them.


# %%
def make_spirals(rng, n_per_class: int = 200, n_classes: int = 3, noise: float = 0.15):
    """``n_classes`` spiral arms in 2-D. Returns ``X`` (N, 2) float64 and ``labels`` (N,) int64."""
    radius = np.linspace(0.05, 1.0, n_per_class)
    X, labels = [], []
    for k in range(n_classes):
        angle = 4.0 * radius + 2 * np.pi * k / n_classes + noise * rng.standard_normal(n_per_class)
        X.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(n_per_class, k))
    return np.concatenate(X), np.concatenate(labels)


def split(X, labels, rng, test_fraction: float = 0.25):
    """Tutorial helper: shuffle the rows, hold out ``test_fraction`` of them.

    Returns ``X_train, y_train, X_test, y_test``.
    """
    if _array("labels", labels).shape[:1] != _array("X", X).shape[:1]:
        raise ValueError(f"X has {X.shape[0]} rows but labels has shape {labels.shape}")
    if not 0 < _number("test_fraction", test_fraction) < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction!r}")
    order = rng.permutation(X.shape[0])
    n_test = int(round(test_fraction * X.shape[0]))
    test, train_rows = order[:n_test], order[n_test:]
    return X[train_rows], labels[train_rows], X[test], labels[test]


def predict(params, X, activation=(relu_forward, relu_backward)):
    """The predicted class of each row of ``X``: the argmax of the logits, shape (N,).

    ``activation`` must be the one the network was trained with.
    """
    _finite("X", _array("X", X))
    return mlp_forward(params, X, activation)[0].argmax(axis=1)


# %%
if __name__ == "__main__":
    spiral_rng = np.random.default_rng(0)
    X_spiral, labels_spiral = make_spirals(spiral_rng)
    X_train, y_train, X_test, y_test = split(X_spiral, labels_spiral, spiral_rng)
    classifier = init_mlp([2, 64, 64, 3], spiral_rng)
    train(
        classifier,
        X_train,
        y_train,
        softmax_cross_entropy,
        Adam(lr=0.01),
        steps=1500,
        log_every=250,
    )
    train_accuracy = np.mean(predict(classifier, X_train) == y_train)
    test_accuracy = np.mean(predict(classifier, X_test) == y_test)
    print(
        f"train accuracy {train_accuracy:.1%} on {len(y_train)} points, "
        f"test accuracy {test_accuracy:.1%} on {len(y_test)} held-out points"
    )

# %% [markdown]
# The classifier's gradients, checked like the regression's: every entry of all six tensors
# (4,547 numbers) on 60 training points, at a fresh initialisation and at the trained weights.
# After training the loss is tiny and so is every gradient: all of them fall below the floor $s$
# and are compared on the absolute scale only, where a right one shows about $10^{-10}$ and an error
# a thousand times the rounding noise would read BUG. That still catches a wrong sign or a wrong
# factor, but it checks far fewer digits than at initialisation, where most gradients are large:
# run a gradient check at initialisation, or early in training.

# %%
if __name__ == "__main__":
    fresh = init_mlp([2, 64, 64, 3], np.random.default_rng(1))
    print(grad_check(fresh, X_train[:60], y_train[:60], softmax_cross_entropy))

# %%
if __name__ == "__main__":
    fig = new_figure(figsize=(6.4, 6))
    if fig is not None:
        ax = fig.subplots()
        grid = np.linspace(-1.15, 1.15, 300)
        gx, gy = np.meshgrid(grid, grid)
        regions = predict(classifier, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        colors = ["#4c72b0", "#dd8452", "#55a868"]
        from matplotlib.colors import ListedColormap

        ax.contourf(
            gx, gy, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=ListedColormap(colors), alpha=0.3
        )
        for k in range(3):
            ax.scatter(*X_train[y_train == k].T, s=12, color=colors[k], label=f"class {k} (train)")
            ax.scatter(*X_test[y_test == k].T, s=30, color=colors[k], edgecolor="k", marker="^")
        ax.scatter([], [], s=30, color="white", edgecolor="k", marker="^", label="held out (test)")
        ax.set(
            xlabel="$x_1$",
            ylabel="$x_2$",
            aspect="equal",
            title=f"Decision regions, test accuracy {test_accuracy:.1%}",
        )
        ax.legend(loc="lower left", fontsize=8)
        save_figure(
            fig,
            "06_spiral_decision_regions.png",
            alt=(
                "Three spiral arms of training points and held-out triangles in the plane, "
                "with the classifier's three coloured decision regions following each arm."
            ),
        )

# %% [markdown]
# ## What you have built
#
# A network of any depth, its loss, every derivative by hand, a check that each derivative is
# right to seven digits, and two update rules: the whole training loop, with nothing automated.
# `torch`'s `loss.backward()` does what `mlp_backward` does here, recording each operation's local
# derivative in the forward pass and chaining them in reverse; `optimizer.step()` is
# `SGD.step` or `Adam.step`.
