# %% [markdown]
# # The training loop from scratch
#
# In this page you train a neural network with nothing but NumPy, writing every derivative
# yourself. It grows out of the article *The Training Loop From Scratch: Forward, Backward,
# Gradient Descent in NumPy*: a network with one hidden layer learns a noisy sine curve. By the
# end you will have built, and checked, everything `loss.backward()` and `optimizer.step()` do
# for you in PyTorch, and used it to train a classifier.
#
# Every network trains by repeating four steps:
#
# 1. **forward**: compute the output from the input and the parameters;
# 2. **loss**: one number saying how wrong that output is;
# 3. **backward**: the gradient of the loss with respect to every parameter, by the chain rule;
# 4. **update**: move every parameter a little against its gradient.
#
# For the article's network, with inputs $X$ (one example per row) and targets $y$, the first
# two steps are
#
# $$Z_1 = X W_1 + b_1, \qquad A_1 = \operatorname{ReLU}(Z_1), \qquad
#   \mathrm{out} = A_1 W_2 + b_2, \qquad L = \frac{1}{N} \sum_{i=1}^{N} (\mathrm{out}_i - y_i)^2 ,$$
#
# and the update is $\theta \leftarrow \theta - \eta\, \partial L / \partial \theta$. Sections 1
# to 4 run, derive, check and package this loop; 5 to 7 cover the step size and Adam,
# mini-batches and held-out data, and a classifier.
#
# **Notation.** The math uses the code's names, so each equation can be matched to its line.
#
# | symbol | code | meaning |
# |---|---|---|
# | $N$, $D$, $H$, $C$ | | examples, input features, hidden units, outputs |
# | $X$, $y$ | `X`, `y` | inputs $(N, D)$ and targets |
# | $W_l$, $b_l$ | `W1`, `b1` | layer $l$'s weights and bias: $W_1$ is $(D, H)$, $b_1$ is $(1, H)$ |
# | $Z_l$, $A_l$ | `Z1`, `A1` | a layer's pre-activation and activation |
# | $\mathbb 1[\cdot]$ | `(Z1 > 0)` | 1 where the condition holds, 0 elsewhere |
# | $L$ | `loss` | the loss, a number |
# | $\partial L / \partial W_1$ | `dW1` | a parameter's gradient (same shape as $W_1$) |
# | $\partial L / \partial Z_1$ | `d_Z1` | the gradient with respect to an intermediate array |
# | $\eta$ | `lr` | the learning rate |
#
# `python scratch_mlp.py` runs this page and writes its figures into `figures/`.

# %% tags=["fold"]
# Imports, and __all__: the names a project copies this file for
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
# article_loop, dead_fraction) is a tutorial helper: it serves this page, not your network.
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
    return Figure(**figure_kwargs)


def save_figure(fig, name: str, alt: str) -> str | None:
    """Tutorial helper: write ``fig`` to ``figures/<name>`` and print the path.

    In a notebook (the rendered page) it also shows that very PNG, with ``alt`` as its text
    for readers who cannot see it. Where ``figures/`` cannot be written (a read-only folder) it
    says so once and carries on: the figures are extras, the computation is the lesson.
    """
    path = os.path.join(FIGURES_DIR, name)
    try:
        os.makedirs(FIGURES_DIR, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
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


def _check_init(sizes, rng, dtype, weight_std, hidden_bias) -> None:
    if len(sizes) < 2 or not all(_count("sizes", s, low=1) for s in sizes):
        raise ValueError(f"sizes needs at least two entries [D, C], got {sizes}")
    if not callable(getattr(rng, "standard_normal", None)):
        raise ValueError(f"rng must be a np.random.Generator, got {rng!r}")
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating-point type, got {np.dtype(dtype)}")
    if weight_std is not None:  # 0 is allowed: the all-zero start is a lesson of its own
        _number("weight_std", weight_std, allow_low=True)
    _number("hidden_bias", hidden_bias, low=-math.inf)


def _check_params(params) -> int:
    """The number of layers K, after checking ``params`` is ``W1, b1, ..., WK, bK`` of one dtype."""
    K = len(params) // 2 if isinstance(params, dict) else 0
    if K == 0 or set(params) != {f"{kind}{l}" for l in range(1, K + 1) for kind in "Wb"}:
        raise ValueError(f"params must be a dict with keys W1, b1, ..., WK, bK; got {params!r:.80}")
    dtype = getattr(params["W1"], "dtype", None)
    for name, p in params.items():
        # One dtype for all: one float64 tensor would silently make a float32 network float64.
        if not isinstance(p, np.ndarray) or p.dtype != dtype or p.dtype.kind != "f":
            raise ValueError(
                f"params[{name!r}] is {getattr(p, 'dtype', type(p).__name__)}: every parameter "
                f"must be a floating-point NumPy array of one dtype (params['W1'] is {dtype})"
            )
    return K


def _check_X(X, W1) -> None:
    _array("X", X, ndim=2)
    if X.shape[1] != W1.shape[0]:
        raise ValueError(f"X must have {W1.shape[0]} columns (W1 is {W1.shape}), got {X.shape}")
    if X.dtype != W1.dtype:
        raise ValueError(
            f"X has dtype {X.dtype} but the parameters are {W1.dtype}; "
            f"convert it with X.astype(np.{W1.dtype.name})"
        )


def _check_data(params, X, y, loss_fn) -> None:
    """What train and grad_check need of their data, checked once before any work."""
    K = _check_params(params)
    _check_X(X, params["W1"])
    _finite("X", X)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: there is nothing to compute a loss on")
    if _array("y", y).shape[:1] != X.shape[:1]:
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {y.shape}")
    _finite("y", y)
    if np.issubdtype(y.dtype, np.integer) and loss_fn is not mse_loss:
        # Class labels: check them all now, not when a mini-batch first meets a bad one.
        _check_labels(y, params[f"W{K}"].shape[1], X.shape[0])


def _check_grads(params, grads) -> None:
    """Raise unless ``grads`` has the keys, shapes and dtypes of ``params``."""
    if not (isinstance(params, dict) and isinstance(grads, dict)) or set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}, got {grads!r:.80}")
    for name, p in params.items():
        g = grads[name]
        if not (isinstance(g, np.ndarray) and g.shape == p.shape and g.dtype == p.dtype):
            raise ValueError(
                f"grads[{name!r}] is {getattr(g, 'shape', type(g).__name__)} "
                f"{getattr(g, 'dtype', '')} but params[{name!r}] is {p.shape} {p.dtype}"
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
# The data: 200 points $x$ evenly spaced on $[-\pi, \pi]$, with targets
# $y = \sin(x) + \text{noise}$, the noise drawn from $\mathcal N(0, \sigma^2)$ with
# $\sigma = 0.1$. The network: one input, $H = 64$ hidden ReLU units, one output, so
# $W_1: (1, 64)$, $b_1: (1, 64)$, $W_2: (64, 1)$, $b_2: (1, 1)$.
#
# The weights start random, the biases at zero. `init_mlp` draws each weight from
# $\mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, where $\mathrm{fan}_\mathrm{in}$ is the number of
# inputs of the layer (He initialisation: the box below says why). Given the article's random
# generator it draws exactly the article's numbers, so the run below reproduces the article to
# the last digit.

# %% [markdown] tags=["deeper"]
# **Going deeper: why the variance $2/\mathrm{fan}_\mathrm{in}$.** Assume the weights of a layer
# are independent of each other and of its inputs, with mean 0, and that each pre-activation $z$
# is symmetric around 0 (true at initialisation, when the weights are). A unit sums
# $\mathrm{fan}_\mathrm{in}$ products $w\,a$, so
# $\operatorname{Var}(z) = \mathrm{fan}_\mathrm{in} \cdot \operatorname{Var}(w) \cdot
# \mathbb E[a^2]$. A ReLU zeroes the negative half of a symmetric $z$, so
# $\mathbb E[\operatorname{ReLU}(z)^2] = \operatorname{Var}(z)/2$. With
# $\operatorname{Var}(w) = 2/\mathrm{fan}_\mathrm{in}$ the two factors cancel: $\mathbb E[a^2]$
# is the same in every layer, and the signal neither dies out nor blows up with depth.


# %% tags=["fold"]
# Tutorial helper: the article's data
def make_sine_data(rng, n: int = 200, noise: float = 0.1):
    """The article's data: ``n`` points of ``sin(x)`` on ``[-pi, pi]`` plus Gaussian noise.

    ``rng`` is a ``np.random.Generator`` or a legacy ``np.random.RandomState``; with
    ``np.random.RandomState(0)`` the noise is the article's ``np.random.seed(0)`` noise.
    Returns ``X, y``, both of shape ``(n, 1)``.
    """
    X = np.linspace(-np.pi, np.pi, n).reshape(-1, 1)
    y = np.sin(X) + noise * rng.standard_normal(X.shape)
    return X, y


# %%
def init_mlp(sizes, rng, dtype=np.float64, *, weight_std=None, hidden_bias=0.0):
    """He-initialised parameters for a ReLU network with layer sizes ``[D, h1, ..., C]``.

    Returns ``{"W1", "b1", ..., "WK", "bK"}``: ``Wl`` of shape ``(sizes[l-1], sizes[l])`` from
    ``N(0, 2 / sizes[l-1])``, ``bl`` of shape ``(1, sizes[l])`` at zero. ``weight_std`` and
    ``hidden_bias`` make bad starts on purpose.

    >>> params = init_mlp([3, 5, 2], np.random.default_rng(0))
    >>> {name: p.shape for name, p in params.items()}
    {'W1': (3, 5), 'b1': (1, 5), 'W2': (5, 2), 'b2': (1, 2)}
    """
    sizes = list(sizes)
    _check_init(sizes, rng, dtype, weight_std, hidden_bias)
    K = len(sizes) - 1
    params = {}
    for l in range(1, K + 1):
        fan_in, fan_out = sizes[l - 1], sizes[l]
        std = np.sqrt(2 / fan_in) if weight_std is None else weight_std
        # Drawn in float64, then cast: float32 and float64 networks start from the same numbers.
        params[f"W{l}"] = (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)
        bias = hidden_bias if l < K else 0.0
        params[f"b{l}"] = np.full((1, fan_out), bias, dtype=dtype)
    return params


# %% tags=["fold"]
# Tutorial helper: article_loop, the article's loop line for line (section 2.1 derives it)
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
# `np.random.seed(0)`, so these are the article's numbers, without touching NumPy's global state.

# %%
if __name__ == "__main__":
    article_rng = np.random.RandomState(0)
    X_sine, y_sine = make_sine_data(article_rng)
    params_init = init_mlp([1, 64, 1], article_rng)  # the start every later comparison uses
    params_article = {name: p.copy() for name, p in params_init.items()}
    losses_article = article_loop(params_article, X_sine, y_sine, lr=0.01, steps=2001)

# %% tags=["fold"]
# Plotting: the loss curve, with the first 60 steps enlarged, and the fit
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax_all, ax_start = fig.subplots(1, 2, width_ratios=[3, 2])
        ax_all.semilogy(losses_article, color="C0")
        ax_all.axhline(0.01, color="gray", ls="--", lw=1, label="noise variance 0.01")
        ax_all.set(xlabel="step", ylabel="MSE loss (log scale)", title="2001 steps, lr = 0.01")
        ax_all.legend()
        ax_start.plot(range(61), losses_article[:61], color="C0", marker=".")
        peak = int(np.argmax(losses_article))
        ax_start.annotate(f"peak at step {peak}", (peak, losses_article[peak]), (32, 7.5))
        ax_start.set(xlabel="step", ylabel="MSE loss", title="steps 0 to 60")
        save_figure(
            fig,
            "01_article_loss.png",
            alt=(
                "Left: the loss of the article's loop on a log scale over 2001 steps, falling "
                "from about 1.6 towards the noise variance 0.01. Right: the first 60 steps on "
                "a linear scale: the loss halves at step 1, climbs to a peak of 8.4 at step "
                "20, then falls."
            ),
        )

        fig = new_figure(figsize=(8, 3.4))
        ax = fig.subplots()
        x_fine = np.linspace(-np.pi, np.pi, 400).reshape(-1, 1)
        p = params_article
        fit = np.maximum(0, x_fine @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        ax.scatter(X_sine[:, 0], y_sine[:, 0], s=8, color="gray", label="data (noisy)")
        ax.plot(x_fine[:, 0], np.sin(x_fine[:, 0]), color="k", lw=1, ls="--", label="sin(x)")
        ax.plot(x_fine[:, 0], fit[:, 0], color="C1", lw=2, label="network after 2001 steps")
        ax.set(xlabel="x", ylabel="y", title="The network's fit: straight pieces joined at kinks")
        ax.legend()
        save_figure(
            fig,
            "01_article_fit.png",
            alt=(
                "The 200 noisy data points, the true sine as a dashed line, and the network's "
                "fit after 2001 steps: a curve of straight pieces that follows the sine closely."
            ),
        )

# %% [markdown]
# The loss falls from 1.59 to 0.042 in 2001 steps, four times the noise: the fit follows the
# sine in the middle and less well near the ends. A ReLU network computes a function made of
# straight pieces: each hidden unit adds one kink where its $Z$ crosses 0, at $x = -b/w$. The
# biases start at 0, so every kink starts at $x = 0$, and most are still close to it: only a
# handful of bends are visible.
#
# One thing is odd. The loss does not fall steadily: it halves at the first step, then *climbs*
# for nineteen steps, to more than five times where it started, before it comes down. Section 5
# explains why: the learning rate is a little too large for the steepest direction of this loss.
# First, the gradients themselves.

# %% [markdown]
# ## 2. Backpropagation by hand
#
# The backward step computes $\partial L / \partial \theta$ for every parameter $\theta$: move
# $\theta$ by a small $\delta$ and the loss moves by about
# $\frac{\partial L}{\partial \theta}\,\delta$. The chain rule gets them all in one sweep from
# the loss back to the input. First, with numbers small enough to redo on paper.
#
# ### 2.1 A worked example
#
# Two examples ($N = 2$), one input, two hidden units, one output:
#
# $$X = \begin{pmatrix} 1 \\ -2 \end{pmatrix},\quad y = \begin{pmatrix} 1 \\ 0 \end{pmatrix},\quad
#   W_1 = \begin{pmatrix} 1 & -1 \end{pmatrix},\quad b_1 = \begin{pmatrix} 0.5 & 0.5 \end{pmatrix},
#   \quad W_2 = \begin{pmatrix} 1 \\ 0.5 \end{pmatrix},\quad b_2 = 0 .$$
#
# The cell computes the forward pass line by line, then the backward pass in reverse, each line
# the chain rule applied once: the gradient arriving at an array, times that array's local
# derivative. (This is the article's loop body; sections 2.2 to 2.5 derive each line.)

# %%
if __name__ == "__main__":
    X = np.array([[1.0], [-2.0]])
    y = np.array([[1.0], [0.0]])
    W1, b1 = np.array([[1.0, -1.0]]), np.array([[0.5, 0.5]])
    W2, b2 = np.array([[1.0], [0.5]]), np.array([[0.0]])
    N = X.shape[0]

    Z1 = X @ W1 + b1  # (2, 2)
    A1 = np.maximum(0, Z1)  # (2, 2)
    out = A1 @ W2 + b2  # (2, 1)
    loss = np.mean((out - y) ** 2)

    d_out = 2 * (out - y) / N  # (2, 1)   dL/d out
    dW2 = A1.T @ d_out  # (2, 1)
    db2 = d_out.sum(axis=0, keepdims=True)  # (1, 1)
    d_A1 = d_out @ W2.T  # (2, 2)
    d_Z1 = d_A1 * (Z1 > 0)  # (2, 2)   ReLU passes the gradient only where Z1 > 0
    dW1 = X.T @ d_Z1  # (1, 2)
    db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, 2)

    for name, value in [("Z1", Z1), ("A1", A1), ("out", out), ("loss", loss), ("d_out", d_out),
                        ("dW2", dW2), ("db2", db2), ("d_A1", d_A1), ("d_Z1", d_Z1),
                        ("dW1", dW1), ("db1", db1)]:  # fmt: skip
        print(f"{name:5s} = {np.asarray(value).tolist()}")

# %% [markdown]
# Follow one entry through (indices count from 0). $W_1[0, 1] = -1$ is the weight into hidden
# unit 1. It reaches the loss through $Z_1[0, 1]$ and $Z_1[1, 1]$, one path per example, so the
# chain rule *sums* over both paths:
#
# $$\frac{\partial L}{\partial W_1[0,1]}
#   = \sum_{i=0}^{1} \frac{\partial L}{\partial Z_1[i,1]}\,
#     \frac{\partial Z_1[i,1]}{\partial W_1[0,1]}
#   = \sum_{i} \mathtt{d\_Z1}[i,1]\; X[i,0]
#   = 0 \cdot 1 + 0.625 \cdot (-2) = -1.25 .$$
#
# Each $\mathtt{d\_Z1}[i,1]$ is itself a product along the path back from the loss:
# $\frac{\partial L}{\partial \mathrm{out}_i} \cdot W_2[1,0] \cdot \mathbb 1[Z_1[i,1] > 0]$. For
# example 0, unit 1 is off ($Z_1[0,1] = -0.5$), so that path carries nothing; for example 1 it
# is $1.25 \cdot 0.5 \cdot 1 = 0.625$. Summing over the examples is what the matrix product
# $X^\top \mathtt{d\_Z1}$ does: `dW1 = X.T @ d_Z1` is this sum for every entry at once.
#
# The transposes follow one rule. A weight's gradient sums over the examples, so the layer
# input's transpose goes on the left: `dW2 = A1.T @ d_out`, and
# $\mathtt{dW2}[1] = 0 \cdot 0.5 + 2.5 \cdot 1.25 = 3.125$. An input's gradient sums over the
# units it feeds, so the weight's transpose goes on the right: `d_A1 = d_out @ W2.T`, and
# $\mathtt{d\_A1}[1, 1] = 1.25 \cdot 0.5 = 0.625$.
#
# Check it without calculus: move $W_1[0,1]$ by $\pm 10^{-5}$ and measure the loss.

# %%
if __name__ == "__main__":

    def loss_of_W1(W1):
        out = np.maximum(0, X @ W1 + b1) @ W2 + b2
        return np.mean((out - y) ** 2)

    W1_plus, W1_minus = W1.copy(), W1.copy()
    W1_plus[0, 1] += 1e-5
    W1_minus[0, 1] -= 1e-5
    slope = (loss_of_W1(W1_plus) - loss_of_W1(W1_minus)) / 2e-5
    print(f"finite difference {slope:.8f}   chain rule dW1[0, 1] = {dW1[0, 1]:.8f}")

# %% [markdown]
# The same computation as a graph: each array is a node; the forward pass (black) runs left to
# right, labelled with the shape each edge carries; the backward pass (red) runs right to left,
# labelled with the formula of the gradient it carries. Every parameter receives the gradient of
# the node it feeds. The shapes are read from the arrays of the cell above.

# %% tags=["fold"]
# Plotting: the computational graph, drawn from the worked example's arrays
if __name__ == "__main__":
    fig = new_figure(figsize=(9.5, 4.4))
    if fig is not None:
        ax = fig.subplots()
        ax.set(xlim=(-0.6, 9.0), ylim=(-1.3, 2.1))
        ax.axis("off")
        values = {"X": X, "W1": W1, "b1": b1, "Z1": Z1, "A1": A1, "W2": W2, "b2": b2}
        values |= {"out": out, "y": y, "L": np.array(loss)}
        where = {"X": (0, 0), "Z1": (2, 0), "A1": (4, 0), "out": (6, 0), "L": (8, 0)}
        where |= {"W1": (1.3, 1.4), "b1": (2.7, 1.4), "W2": (5.3, 1.4), "b2": (6.7, 1.4)}
        where |= {"y": (8, 1.4)}
        for name, (x, yy) in where.items():
            parameter = name[0] in "Wb"
            box = {"boxstyle": "round", "fc": "#dbe4f3" if parameter else "#eeeeee"}
            ax.text(x, yy, name, ha="center", va="center", fontsize=12, bbox=box)

        def arrow(a, b, label, color, rad, dy):
            (x0, y0), (x1, y1) = where[a], where[b]
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={
                "arrowstyle": "->", "color": color, "shrinkA": 16, "shrinkB": 16,
                "connectionstyle": f"arc3,rad={rad}"})  # fmt: skip
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + dy, label, ha="center", fontsize=8.5,
                    color=color)  # fmt: skip

        for a, b in [("X", "Z1"), ("Z1", "A1"), ("A1", "out"), ("out", "L")]:
            arrow(a, b, str(values[a].shape), "black", 0, 0.12)
        for a, b in [("W1", "Z1"), ("b1", "Z1"), ("W2", "out"), ("b2", "out"), ("y", "L")]:
            arrow(a, b, "", "black", 0, 0)
            (x0, y0), (x1, y1) = where[a], where[b]
            ax.text(0.3 * x0 + 0.7 * x1 + (0.32 if x0 > x1 else -0.32), 0.55, str(values[a].shape),
                    ha="center", fontsize=8.5)  # fmt: skip
        backward = [
            ("L", "out", "d_out = 2(out - y)/N"),
            ("out", "A1", "d_A1 = d_out W2ᵀ"),
            ("A1", "Z1", "d_Z1 = d_A1 * [Z1 > 0]"),
        ]
        for a, b, label in backward:
            arrow(a, b, label, "C3", -0.45, -0.72)
        to_parameters = [
            ("out", "W2", "dW2 = A1ᵀ d_out"),
            ("out", "b2", "db2 = Σ d_out"),
            ("Z1", "W1", "dW1 = Xᵀ d_Z1"),
            ("Z1", "b1", "db1 = Σ d_Z1"),
        ]
        for a, b, label in to_parameters:
            arrow(a, b, "", "C3", -0.35 if "W" in b else 0.35, 0)
            x, yy = where[b]
            ax.text(x, yy + 0.38, label, ha="center", fontsize=8.5, color="C3")
        ax.set_title("The two-layer network as a graph: forward in black, backward in red")
        save_figure(
            fig,
            "02_graph.png",
            alt=(
                "A computational graph. Nodes X, Z1, A1, out and L in a row, with parameter "
                "nodes W1 and b1 feeding Z1, W2 and b2 feeding out, and y feeding L. Black "
                "forward arrows are labelled with shapes such as (2, 1) and (2, 2). Red "
                "backward arrows run from L back to Z1, labelled d_out = 2(out - y)/N, d_A1 = "
                "d_out W2 transposed and d_Z1 = d_A1 times [Z1 > 0], and up to the parameters, "
                "labelled dW2 = A1 transposed d_out, db2, dW1 = X transposed d_Z1 and db1."
            ),
        )

# %% [markdown]
# Nothing in these lines depends on having two examples or two hidden units. The next sections
# derive each rule for any shapes, as a forward function with its backward function right after
# it, then chain them into a network of any depth.
#
# ### 2.2 The loss: mean squared error
#
# $L = \frac{1}{M} \sum_{i,k} (\mathrm{out}_{ik} - y_{ik})^2$ over all $M = N C$ entries (the
# article has $C = 1$, so $M = N$). Each entry appears in one term, so
#
# $$\frac{\partial L}{\partial\, \mathrm{out}_{ik}} = \frac{2}{M}\,(\mathrm{out}_{ik} - y_{ik}),
#   \qquad \mathtt{d\_out} = \tfrac{2}{M}(\mathrm{out} - y) \quad (N, C).$$
#
# The $1/M$ matters: without it the gradient grows with the batch, and so does the step.


# %%
def mse_loss(out, y):
    """Mean squared error over all entries, and its gradient with respect to ``out``.

    ``out`` and ``y``: (N, C), one dtype. Returns ``(loss, d_out)``, with
    ``d_out = 2 (out - y) / out.size``.

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
    diff = out - y  # (N, C)
    loss = np.mean(diff**2)
    d_out = 2 * diff / diff.size  # (N, C)   dL/d out = 2 (out - y) / M
    return loss, d_out


# %% [markdown]
# ### 2.3 A linear layer: $Z = X W + b$
#
# Here $X$ is the layer's input, $(N, p)$, $W$ is $(p, q)$ and $b$ is $(1, q)$. Entry by entry,
# $Z_{ij} = \sum_k X_{ik} W_{kj} + b_j$. Given the upstream gradient
# $G = \partial L / \partial Z$ (`d_Z`), of shape $(N, q)$, collect every path through which a
# number reaches the loss:
#
# - $W_{kj}$ appears in $Z_{ij}$ for every example $i$, with local derivative $X_{ik}$:
#   $\frac{\partial L}{\partial W_{kj}} = \sum_i X_{ik}\, G_{ij}$, that is
#   $\mathtt{dW} = X^\top G$, shape $(p, q)$.
# - $b_j$ appears in every $Z_{ij}$ with derivative 1:
#   $\frac{\partial L}{\partial b_j} = \sum_i G_{ij}$, the column sums of $G$, shape $(1, q)$.
#   The bias was broadcast over the batch in the forward pass, so its gradient is summed over
#   the batch in the backward pass.
# - $X_{ik}$ appears in $Z_{ij}$ for every unit $j$, with derivative $W_{kj}$:
#   $\frac{\partial L}{\partial X_{ik}} = \sum_j G_{ij} W_{kj}$, that is
#   $\mathtt{d\_X} = G\, W^\top$, shape $(N, p)$.
#
# Every gradient has the shape of the array it differentiates: a quick check on any line.


# %%
def linear_forward(X, W, b):
    """``Z = X @ W + b``. ``X``: (N, p), ``W``: (p, q), ``b``: (1, q).

    Returns ``Z`` of shape (N, q) and the cache ``(X, W)`` that the backward pass needs.
    """
    Z = np.dot(X, W) + b  # (N, q)   X W + b   (np.dot is X @ W; see the note below)
    return Z, (X, W)


def linear_backward(d_Z, cache, need_d_X: bool = True):
    """Gradients of a linear layer from the upstream gradient ``d_Z`` of shape (N, q).

    Returns ``(d_X, dW, db)``, shaped like ``X``, ``W``, ``b``. The first layer passes
    ``need_d_X=False`` (``d_X`` is then ``None``): nothing needs the gradient of the data.

    >>> X, W, b = np.ones((4, 3)), np.ones((3, 2)), np.zeros((1, 2))
    >>> Z, cache = linear_forward(X, W, b)
    >>> d_X, dW, db = linear_backward(np.ones_like(Z), cache)
    >>> d_X.shape, dW.shape, db.shape
    ((4, 3), (3, 2), (1, 2))
    """
    X, W = cache
    dW = np.dot(X.T, d_Z)  # (p, q)   dL/dW = X^T G
    db = d_Z.sum(axis=0, keepdims=True)  # (1, q)   dL/db = column sums of G
    d_X = np.dot(d_Z, W.T) if need_d_X else None  # (N, p)   dL/dX = G W^T
    return d_X, dW, db


# %% [markdown] tags=["deeper"]
# **Going deeper: why `np.dot` and not `@`.** For 2-D arrays they compute the same matrix
# product, and for most shapes through the same BLAS routine. One case differs: a column times a
# row, $(N, 1)$ times $(1, q)$, which the article's network meets twice a step (its input has
# one feature, its output one unit). There `@` runs a plain loop and `np.dot` calls BLAS, about
# six times faster; each entry is a single product, so the numbers are the same to the last
# bit. On the article's network that is about a third of a training step.

# %% [markdown]
# ### 2.4 ReLU: $A = \max(0, Z)$
#
# ReLU acts entry by entry, so each $A_{ij}$ depends on $Z_{ij}$ alone, with local derivative
# $1$ where $Z_{ij} > 0$ and $0$ where $Z_{ij} < 0$. At exactly 0 the derivative does not exist;
# we use 0 there, as PyTorch does. The chain rule is then a mask:
#
# $$\mathtt{d\_Z} = \mathtt{d\_A} \odot \mathbb 1[Z > 0] .$$
#
# A unit whose $Z$ is negative passes no gradient back: nothing upstream learns from it on that
# example, as unit 1 on example 0 above.


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
# ### 2.5 The whole network
#
# The backward pass is the forward pass read in reverse, each line one of the rules above:
#
# | forward | backward, as code | shape |
# |---|---|---|
# | $L = \mathrm{mean}((\mathrm{out} - y)^2)$ | `d_out = 2 * (out - y) / M` | $(N, C)$ |
# | $\mathrm{out} = A_1 W_2 + b_2$ | `dW2 = A1.T @ d_out` | $(H, C)$ |
# | | `db2 = d_out.sum(axis=0, keepdims=True)` | $(1, C)$ |
# | | `d_A1 = d_out @ W2.T` | $(N, H)$ |
# | $A_1 = \operatorname{ReLU}(Z_1)$ | `d_Z1 = d_A1 * (Z1 > 0)` | $(N, H)$ |
# | $Z_1 = X W_1 + b_1$ | `dW1 = X.T @ d_Z1` | $(D, H)$ |
# | | `db1 = d_Z1.sum(axis=0, keepdims=True)` | $(1, H)$ |
#
# `mlp_forward` runs these layers for any number of them, $W_1, b_1, \ldots, W_K, b_K$, and
# `mlp_backward` walks them backwards; `loss_and_grads` is forward, loss and backward in one
# call.
#
# **Your own layer.** Write `tanh_forward(Z) -> (A, cache)` and `tanh_backward(d_A, cache) ->
# d_Z`, pass `activation=(tanh_forward, tanh_backward)` to `mlp_forward`, `loss_and_grads`,
# `grad_check` or `train`, and the network uses them; the [exercises](../exercises/) do it.


# %%
def mlp_forward(params, X, activation=(relu_forward, relu_backward)):
    """Forward pass: ``activation`` after every hidden layer, a linear output layer.

    ``X``: (N, D). ``activation``: a ``(forward, backward)`` pair like ReLU's. Returns ``out``
    (N, C) and the cache for ``mlp_backward``.
    """
    K = _check_params(params)
    _check_X(X, params["W1"])
    act_forward, act_backward = activation
    cache = []
    A = X
    for l in range(1, K + 1):
        Z, linear_cache = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        if l < K:
            A, act_cache = act_forward(Z)
            cache.append((linear_cache, act_backward, act_cache))
        else:
            cache.append((linear_cache, None, None))
    return Z, cache


def mlp_backward(params, cache, d_out):
    """Backward pass: from ``d_out = dL/d out`` (shaped like ``out``) and the forward cache,
    the gradient of every parameter, in a dict keyed like ``params``."""
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
# ### 2.6 What a gradient predicts
#
# Back to the article's network at its initialisation: nudge the output weight whose gradient
# is largest by $\delta = 10^{-4}$, and compare the change of the loss with the gradient's
# prediction $\frac{\partial L}{\partial \theta}\,\delta$.

# %% tags=["fold"]
# The nudge: move one weight of W2 by delta, and compare
if __name__ == "__main__":
    loss, grads = loss_and_grads(params_init, X_sine, y_sine, mse_loss)
    i = int(np.argmax(np.abs(grads["W2"][:, 0])))
    delta = 1e-4
    nudged = {name: p.copy() for name, p in params_init.items()}
    nudged["W2"][i, 0] += delta
    nudged_loss, _ = loss_and_grads(nudged, X_sine, y_sine, mse_loss)
    predicted = grads["W2"][i, 0] * delta
    # L is quadratic in W2, with d2L/dW2[i,0]^2 = (2/N) sum_n A1[n, i]^2: this term is exact.
    A1_init = np.maximum(0, X_sine @ params_init["W1"] + params_init["b1"])
    second_order = 0.5 * (2 / len(X_sine)) * np.sum(A1_init[:, i] ** 2) * delta**2
    print(f"nudge W2[{i}, 0] by delta = {delta}:")
    print(f"  predicted change dW2[{i}, 0] * delta = {predicted:+.10f}")
    print(f"  measured change  L(W2 + delta) - L  = {nudged_loss - loss:+.10f}")
    print(f"  difference                          = {nudged_loss - loss - predicted:+.3e}")
    print(f"  second-order term (1/2) L'' delta^2 = {second_order:+.3e}")

# %% [markdown]
# The prediction is the first-order term of a Taylor expansion. The measured change also holds
# the second-order term $\tfrac12 \tfrac{\partial^2 L}{\partial W_2[i]^2} \delta^2$, and since
# $L$ is quadratic in $W_2$ nothing else: the difference is exactly that term.
#
# ### 2.7 Dead neurons
#
# Look again at `d_Z1 = d_A1 * (Z1 > 0)`. A first-layer unit with $Z_1 \le 0$ on every example
# is **dead**: its column of `d_Z1` is zero, so its weights never change, and since $X$ never
# changes either, neither does its $Z_1$. Under full-batch gradient descent it stays dead for
# good. Whether units start dead depends on the initialisation. Three starts, trained alike:
# **He** ($W \sim \mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, $b = 0$); **negative bias** (He
# weights, every hidden bias $-2$); **tiny weights, negative bias** ($W \sim \mathcal N(0,
# 0.1^2)$, $b = -0.1$).


# %% tags=["fold"]
# Tutorial helper: dead_fraction, the share of first-layer units never active
def dead_fraction(params, X) -> float:
    """Tutorial helper: the fraction of the first hidden layer's units that are inactive
    (``Z1 <= 0``) on every row of ``X``."""
    _check_params(params)
    _check_X(X, params["W1"])
    _finite("X", X)
    Z1 = X @ params["W1"] + params["b1"]  # (N, H)
    return float(np.mean(~(Z1 > 0).any(axis=0)))


# %% tags=["fold"]
# Three starts, 2001 steps each: how many units are dead
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
        final_loss = article_loop(start, X_sine, y_sine, lr=0.01, steps=2001, log_every=0)[-1]
        dead_after[label] = dead_fraction(start, X_sine)
        print(
            f"{label:28s} dead at init {dead_before[label]:5.1%}   after 2001 steps "
            f"{dead_after[label]:5.1%}   final loss {final_loss:.4f}"
        )

# %% tags=["fold"]
# Plotting: dead units before and after training
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax = fig.subplots()
        x = np.arange(len(starts))
        bars = ax.bar(x - 0.2, [dead_before[k] for k in starts], 0.4, label="at initialisation")
        ax.bar_label(bars, fmt="{:.0%}")
        bars = ax.bar(x + 0.2, [dead_after[k] for k in starts], 0.4, label="after 2001 steps")
        ax.bar_label(bars, fmt="{:.0%}")
        ax.set_xticks(x, list(starts))
        ax.set(ylabel="fraction of dead hidden units", ylim=(0, 1),
               title="Dead ReLU units: never active on any of the 200 points")  # fmt: skip
        ax.legend()
        save_figure(
            fig,
            "02_dead_neurons.png",
            alt=(
                "Bar chart of the fraction of dead hidden units, at initialisation and after "
                "2001 steps, for three starts: He 0% and 0%, negative bias 44% and 44%, tiny "
                "weights with a negative bias 33% and 42%."
            ),
        )

# %% [markdown]
# He initialisation loses no unit. The negative-bias start keeps the same 44% dead for all 2001
# steps; the tiny-weight start loses more *during* training, when an update pushes a unit's
# $Z_1$ below zero everywhere. Dead units did not cost loss here: the two biased starts even
# fit better, because their kinks start spread out at $x = -b/w$ instead of all at $x = 0$
# (section 1). On a curve this easy, 36 live units are plenty; a dead unit is still capacity
# the network paid for and cannot use. (All three starts draw the same weights, a different
# draw from section 1's.)

# %% [markdown]
# ## 3. Gradient checking
#
# A backward pass can be wrong and still train: a gradient off by a constant factor, or with one
# term missing, often still points downhill. So check it against a definition that needs no
# calculus, the **centred finite difference**, one entry at a time, as in section 2.1:
#
# $$\frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h},
#   \qquad h = 10^{-5}.$$
#
# Its error is about $10^{-11}$ in float64 (the box below says why), so the check always runs
# in float64.
#
# `numerical_gradient(f, x)` does this for any function `f` of one array `x`, so you can check
# a layer of your own with it. `grad_check` applies it to every parameter of a network and
# compares with `mlp_backward`'s gradient $g$. **An entry passes when
# $|g - g_\mathrm{num}| \le 10^{-8} + 10^{-6}\, |g_\mathrm{num}|$**, a thousand times the finite
# difference's own error (the rule of `torch.autograd.gradcheck`). A real bug, a wrong sign or
# factor or a forgotten mask, misses by far more.


# %% [markdown] tags=["deeper"]
# **Going deeper: the finite difference's own error.** It has two parts. Truncation: the centred
# form is off by about $\tfrac{h^2}{6} L'''$, $10^{-11}$ here (the one-sided $(L(\theta+h) -
# L(\theta))/h$ would be off by $O(h)$, a million times more). Rounding: $L(\theta + h) - L(\theta -
# h)$ cancels almost all the digits of $L$, which leaves a noise of about $\varepsilon_\mathrm{mach}
# |L| / h$: $10^{-11}$ in float64 ($\varepsilon_\mathrm{mach} \approx 2 \times 10^{-16}$), but
# $10^{-2}$ in float32, as large as the errors we hunt. So the check always runs in float64.


# %%
def numerical_gradient(f, x, h: float = 1e-5):
    """Centred finite differences of a scalar function ``f`` of the array ``x``.

    Moves each entry of ``x`` to ``x + h`` and ``x - h`` in place, calls ``f(x)``, and restores
    it. Returns ``(f(x + h) - f(x - h)) / 2h`` per entry, shaped like ``x``.

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
        if original + h == original - h:
            raise ValueError(f"h = {h} is too small to move x{list(idx)} = {original}")
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


# %% tags=["fold"]
# The report grad_check returns: a dict per tensor, printed as a table
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


# %%
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

    An entry passes when ``|g - g_num| <= atol + rtol * |g_num|``; entries on a ReLU kink are
    skipped and counted. Refuses past ``max_evals`` loss evaluations (two per entry).

    >>> rng = np.random.default_rng(0)
    >>> params = init_mlp([3, 4, 2], rng)
    >>> X, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    >>> grad_check(params, X, y, mse_loss).ok
    True
    """
    _check_data(params, X, y, loss_fn)
    n_evals = 2 * sum(p.size for p in params.values())
    if n_evals > max_evals:
        raise ValueError(
            f"grad_check would evaluate the loss {n_evals:,} times (two per parameter entry), "
            f"more than max_evals = {max_evals:,}: check a smaller network built from the same "
            f"layers, or raise max_evals"
        )
    rtol, atol = _number("rtol", rtol, allow_low=True), _number("atol", atol, allow_low=True)
    loss_and_grads(params, X, y, loss_fn, activation)  # the loss function's own checks, as in train
    # float64 copies: in float32 the finite difference's rounding noise is as large as the
    # errors the check hunts (the text above derives it).
    params64 = {name: p.astype(np.float64) for name, p in params.items()}
    X64 = X.astype(np.float64)
    y64 = y.astype(np.float64) if np.issubdtype(y.dtype, np.floating) else y
    _, analytic = loss_and_grads(params64, X64, y64, loss_fn, activation)
    _check_grads(params64, analytic)  # a wrong shape would defeat the entry-by-entry comparison

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
        g, g_num = analytic[name][~kink], numeric[~kink]
        abs_error = np.abs(g - g_num)
        scale = np.maximum(np.abs(g), np.abs(g_num))
        rel_error = abs_error / np.where(scale > 0, scale, 1.0)  # 0, not 0/0, where both are 0
        report[name] = {
            "shape": p.shape,
            "checked": int(g.size),
            "kinks": int(kink.sum()),
            "max_abs_error": float(abs_error.max(initial=0.0)),
            "max_rel_error": float(rel_error.max(initial=0.0)),
            "ok": bool(np.all(abs_error <= atol + rtol * np.abs(g_num))),
        }
    return report


# %% [markdown]
# The article's network at its initialisation: all 193 numbers.

# %%
if __name__ == "__main__":
    print(grad_check(params_init, X_sine, y_sine, mse_loss))

# %% [markdown]
# Every entry agrees to about $10^{-11}$: ten digits. The column "on kink" counts entries
# skipped because they sit on ReLU's kink, where the finite difference is not a derivative. The
# second table below is the same network with one pre-activation put on the kink on purpose:
# one entry each of $W_1$ and $b_1$ is skipped, and the box says why.

# %% [markdown] tags=["deeper"]
# **Going deeper: ReLU's kink.** $L$ has no derivative where a pre-activation is exactly 0. If
# some $Z$ lies within $h$ of 0, one of $\theta \pm h$ switches that unit on or off, and the
# finite difference measures a slope that belongs to neither side. `grad_check` records which
# ReLU units are on at every evaluation, and skips (and counts) the entries whose two
# evaluations switched a unit. In the cell below, $b_1[0]$ is set so that $Z_1 = 10^{-7}$ for
# one example: one entry of $W_1$ and one of $b_1$ are skipped, everything else still agrees to
# $10^{-11}$, and the skipped entry of $b_1$ would have been off by 0.6%, a failure on a correct
# gradient.

# %% tags=["fold"]
# A pre-activation put on the kink, and the check that skips it
if __name__ == "__main__":
    on_kink = {name: p.copy() for name, p in params_init.items()}
    j, i = 0, 150
    on_kink["b1"][0, j] = 1e-7 - X_sine[i, 0] * on_kink["W1"][0, j]  # makes Z1[i, j] = 1e-7
    print(grad_check(on_kink, X_sine, y_sine, mse_loss))

    def loss_of_b1(b1):
        return mse_loss(mlp_forward({**on_kink, "b1": b1}, X_sine)[0], y_sine)[0]

    numeric = numerical_gradient(loss_of_b1, on_kink["b1"].copy())[0, j]
    analytic = loss_and_grads(on_kink, X_sine, y_sine, mse_loss)[1]["b1"][0, j]
    print(
        f"\nb1[{j}] on the kink: analytic {analytic:+.6e}, finite difference {numeric:+.6e}, "
        f"relative error {abs(analytic - numeric) / abs(analytic):.1e}"
    )

# %% [markdown] tags=["deeper"]
# **Going deeper: where a gradient check means something.** Check at initialisation, or early
# in training. After training, most gradients are tiny (below $10^{-6}$ on the spiral
# classifier of section 7), and for them the rule is decided by the absolute tolerance
# $10^{-8}$ alone: a wrong sign on a gradient of $10^{-9}$ would pass. At initialisation the
# gradients are large and the relative tolerance checks six digits. Also check on random,
# non-symmetric parameters: with all-zero weights every hidden unit computes the same thing, and
# a backward pass that mixes up two units still passes. And never check in float32: its
# rounding noise, $10^{-2}$ for $h = 10^{-5}$, fails correct code (the
# ["When it breaks"](../failure_modes/) page shows it).

# %% [markdown]
# ## 4. The loop, as functions
#
# All that remains is the update and the loop itself. **Gradient descent** moves every
# parameter against its gradient, $\theta \leftarrow \theta - \eta\, \partial L / \partial
# \theta$. `SGD` does it in place for every array of `params`; `train` repeats
# forward, loss, backward and update for a number of steps and returns every step's loss. With
# `batch_size` set, each step uses that many rows instead of all $N$ (section 6).
#
# Bad input raises a `ValueError` naming the argument before anything changes; a NaN loss stops
# `train` at that step; Ctrl-C stops it between two steps, never inside an update.


# %% tags=["fold"]
# The optimizers' shared check, and train's helpers
def _check_step(optimizer, params, grads) -> None:
    """Check every parameter and gradient before an optimizer changes any of them.

    An optimizer with state (momentum, Adam's moments) also remembers which arrays that state
    belongs to: stepping it on other arrays would carry one network's history into another.
    """
    if isinstance(params, dict):
        for name, p in params.items():
            if not (isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable):
                raise ValueError(f"params[{name!r}] must be a writeable floating-point NumPy array")
    _check_grads(params, grads)
    held = getattr(optimizer, "_held", None)
    if held is not None and (
        held.keys() != params.keys() or any(held[k] is not params[k] for k in held)
    ):
        raise ValueError(
            f"this {type(optimizer).__name__} holds state for other parameter arrays; "
            f"create a new {type(optimizer).__name__} for a new network or a copy of one"
        )


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


def _check_training(params, X, y, loss_fn, optimizer, steps, batch_size, rng, log_every):
    """train's arguments, checked once before the first step."""
    _check_data(params, X, y, loss_fn)
    _count("steps", steps), _count("log_every", log_every)
    N = X.shape[0]
    if batch_size is not None:
        if _count("batch_size", batch_size, low=1) > N:
            raise ValueError(f"batch_size must be at most N = {N}, got {batch_size}")
        if not callable(getattr(rng, "permutation", None)):
            raise ValueError(f"batch_size needs rng, a np.random.Generator, got {rng!r}")
    if not callable(loss_fn) or not callable(getattr(optimizer, "step", None)):
        raise ValueError("loss_fn must be a function and optimizer must have .step(params, grads)")


@contextlib.contextmanager
def _hold_ctrl_c():
    """Hold Ctrl-C (SIGINT) during the block. Yields a list that holds the signal if one
    arrived; the caller raises KeyboardInterrupt when it may."""
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread receives signals
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


# %%
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

    With ``batch_size``, each step takes the next rows of a permutation drawn from ``rng`` per
    epoch. ``on_step(step, loss, params)`` runs after every update (to log a held-out loss).
    Ctrl-C stops at the end of a step; a NaN loss raises ``FloatingPointError``.
    """
    _check_training(params, X, y, loss_fn, optimizer, steps, batch_size, rng, log_every)
    N = X.shape[0]
    batch_size = batch_size or N
    losses = []
    order, position = np.arange(N), N
    # Overflow shows up as an infinite loss, which the check below reports with its step;
    # NumPy's own warnings on the way there would only bury that message. Ctrl-C is held until
    # the step in progress is whole, so an update is never half applied.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _hold_ctrl_c() as stop:
        for step in range(steps):
            if batch_size == N:
                X_batch, y_batch = X, y
            else:
                if position + batch_size > N:  # a new epoch: reshuffle
                    order, position = rng.permutation(N), 0
                rows = order[position : position + batch_size]
                position += batch_size
                X_batch, y_batch = X[rows], y[rows]
            # The first three steps are loss_and_grads, written out so that `cache` lives on
            # until the next step's forward pass: NumPy then reuses its memory instead of asking
            # the system for fresh pages every step (a third of a step on the article's network).
            out, cache = mlp_forward(params, X_batch, activation)  # forward
            loss, d_out = loss_fn(out, y_batch)  # loss
            grads = mlp_backward(params, cache, d_out)  # backward
            if not math.isfinite(loss):
                raise FloatingPointError(_non_finite_loss_message(loss, step, optimizer))
            optimizer.step(params, grads)  # update
            losses.append(float(loss))
            if log_every and step % log_every == 0:
                print(f"Step {step:5d} loss={loss:.6f}")
            if on_step is not None:
                on_step(step, float(loss), params)
            if stop:  # Ctrl-C arrived during this step: stop now that it is whole
                raise KeyboardInterrupt
    return losses


# %% [markdown]
# These functions reproduce the article's loop exactly: the same operations in the same order,
# so the same floating-point numbers, every step.

# %%
if __name__ == "__main__":
    params_sgd = {name: p.copy() for name, p in params_init.items()}
    losses_sgd = train(params_sgd, X_sine, y_sine, mse_loss, SGD(lr=0.01), steps=2001)
    same = losses_sgd == [float(v) for v in losses_article] and all(
        np.array_equal(params_sgd[k], params_article[k]) for k in params_article
    )
    print(f"identical to the article's loop, bit for bit: {same}")

# %% [markdown]
# ## 5. The step size, and from SGD to Adam
#
# ### 5.1 Why the article's loss first climbs
#
# Around any point a loss is close to its second-order Taylor expansion, a bowl,
# $L \approx L^* + \tfrac12 \sum_k \lambda_k c_k^2$, where $c_k$ is the distance from the
# bowl's bottom along the $k$-th eigenvector of the Hessian (the matrix of second derivatives)
# and $\lambda_k$ its curvature, the eigenvalue. The gradient along
# that direction is $\lambda_k c_k$, so one step of gradient descent gives
# $c_k \leftarrow c_k - \eta \lambda_k c_k = (1 - \eta\lambda_k)\, c_k$. If $\eta\lambda_k < 2$
# then $|1 - \eta\lambda_k| < 1$ and $c_k$ shrinks; if $\lambda_k > 2/\eta$ every step overshoots
# the valley floor by more than it started, and $c_k$ grows by $|1 - \eta\lambda_k|$ per step,
# its share of the loss, $\tfrac12 \lambda_k c_k^2$, by the square of that.
#
# The article's $\eta = 0.01$ puts the limit at $2/\eta = 200$. Over its first 40 steps: the
# Hessian's largest eigenvalue $\lambda_\mathrm{max}$, the growth $|1 - \eta
# \lambda_\mathrm{max}|$ predicted for the gradient $g$ along its direction $v$, the growth
# measured, and the share of the loss along $v$, $(g \cdot v)^2 / (2\lambda_\mathrm{max} L)$.

# %% tags=["fold"]
# The top curvature over the first 40 steps, by power iteration
# (the Hessian times v is the change of the gradient along v: two calls of loss_and_grads)
if __name__ == "__main__":
    names = list(params_init)
    ends = np.cumsum([params_init[k].size for k in names])[:-1]  # where each tensor ends in v

    def flat(grads):
        return np.concatenate([grads[k].ravel() for k in names])

    def gradient_vector(params):
        return flat(loss_and_grads(params, X_sine, y_sine, mse_loss)[1])

    def shifted(params, v, step):
        parts = zip(names, np.split(v, ends), strict=True)
        return {k: params[k] + step * part.reshape(params[k].shape) for k, part in parts}

    def top_curvature(params, v, iterations):
        """Largest Hessian eigenvalue and its direction, by power iteration from v."""
        for _ in range(iterations):
            # H v = the change of the gradient along v, by a centred difference
            g_plus = gradient_vector(shifted(params, v, 1e-4))
            g_minus = gradient_vector(shifted(params, v, -1e-4))
            Hv = (g_plus - g_minus) / 2e-4
            curvature, v = v @ Hv, Hv / np.linalg.norm(Hv)
        return curvature, v

    params = {name: p.copy() for name, p in params_init.items()}
    v = np.ones(sum(p.size for p in params.values()))
    optimizer, rows = SGD(lr=0.01), []
    for step in range(41):
        curvature, v = top_curvature(params, v, 60 if step == 0 else 8)
        loss, grads = loss_and_grads(params, X_sine, y_sine, mse_loss)
        along_v = flat(grads) @ v
        rows.append((step, curvature, abs(along_v), float(loss)))
        optimizer.step(params, grads)
    print("step  lambda_max  predicted growth  measured growth   loss   share along v")
    for (step, curvature, along_v, loss), following in zip(rows, rows[1:], strict=False):
        if step in (0, 1, 5, 10, 15, 19, 20, 21, 25, 30, 39):
            share = along_v**2 / (2 * curvature) / loss
            predicted, measured = abs(1 - 0.01 * curvature), following[2] / along_v
            print(
                f"{step:4d} {curvature:11.1f} {predicted:17.3f} {measured:16.3f} {loss:7.3f} "
                f"{share:14.0%}"
            )
    peak = int(np.argmax([r[3] for r in rows]))
    print(f"peak of the loss at step {peak}; lambda_max first below 200 at step "
          f"{next(r[0] for r in rows if r[1] < 200)}")  # fmt: skip

# %% [markdown]
# The numbers add up. At initialisation $\lambda_\mathrm{max} = 211 > 200$: along $v$ the
# gradient grows by 1.11 per step, as predicted, and the loss along $v$ by its square, until
# almost all of the loss lies along $v$ (other directions shrink, which is why the first step
# helped). The large steps also move $W_1$ and $b_1$, which flattens the bowl:
# $\lambda_\mathrm{max}$ drifts down, and the loss peaks as it crosses 200.
#
# ### 5.2 Momentum, RMSProp and Adam on a bowl you can see
#
# One learning rate must suit the steepest direction (below $2/\lambda_\mathrm{max}$) and the
# flattest (where a small $\eta$ crawls). The ratio of the two curvatures, the **condition
# number**, says how hard that is. Three fixes, each a few lines:
#
# - **Momentum** keeps a running sum of gradients, the velocity $b$:
#   $b_t = \mu\, b_{t-1} + g_t$, $\theta_t = \theta_{t-1} - \eta\, b_t$. Components that flip sign
#   from step to step (the overshooting direction) cancel; consistent ones (the flat direction)
#   add up, to about $1/(1 - \mu)$ times the gradient. `SGD(lr, momentum=mu)`.
# - **RMSProp** divides each coordinate's step by the root of a running mean of its squared
#   gradient: $v_t = \alpha v_{t-1} + (1 - \alpha) g_t^2$,
#   $\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{v_t} + \epsilon)$. A coordinate with large
#   gradients takes smaller steps, one with small gradients larger ones.
# - **Adam** does both, below.


# %%
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


# %% [markdown]
# **Adam** (Kingma & Ba, 2015, Algorithm 1) keeps both running means. With $g_t$ the gradient
# at step $t = 1, 2, \ldots$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
#
# $m$ is momentum's velocity, as a running *mean*; $v$ is RMSProp's mean square.
# $\hat m / \sqrt{\hat v}$ is about $\pm 1$ for a steady gradient of any size, so every
# coordinate moves by about $\eta$ per step. **Bias correction:** $m_0 = v_0 = 0$, so the early
# means are too small ($m_1 = 0.1\, g_1$); dividing by $1 - \beta^t$ removes exactly that. The
# article's one-line formula, $\theta \mathrel{-}= \eta\, m / (\sqrt v + \epsilon)$, leaves it
# out, and its steps are $(1 - \beta_1^t)/\sqrt{1 - \beta_2^t}$ times too large: $3.2$ at
# $t = 1$, $6.6$ around $t = 12$, still $1.3$ at $t = 1000$. One `step` call is one $t$ for
# every tensor.
#
# Written as plainly as the equations, one parameter's update is:
#
# ```python
# m = beta1 * m + (1 - beta1) * g
# v = beta2 * v + (1 - beta2) * g**2
# m_hat = m / (1 - beta1**t)
# v_hat = v / (1 - beta2**t)
# p -= lr * m_hat / (np.sqrt(v_hat) + eps)
# ```
#
# `Adam.step` (folded below) computes exactly these lines, each under its equation, but in place
# in arrays kept from step to step; the box after it says why.


# %% tags=["fold"]
# Adam: the five lines above, each under its equation, computed in place (the box says why)
class Adam:
    """Adam (Kingma & Ba, Algorithm 1), in place. ``bias_correction=False`` is the article's
    uncorrected formula.

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


# %% [markdown] tags=["deeper"]
# **Going deeper: why `Adam.step` writes into kept arrays.** Each line of the plain version
# creates a new array the size of the parameter: about nine per tensor per step. For the
# 784 × 256 weights of an MNIST-sized network each is 0.8 MB, and a fresh array that large costs
# more (the operating system hands out and clears new memory) than the arithmetic on it: the
# plain version takes about 2 ms a step there, the in-place one 0.3 ms. So `m *= beta1` updates
# `m` where it lives, `out=buffer` reuses one scratch array, and $\hat m_t$, a number times
# $m_t$, is folded into the step size rather than stored. The numbers are those of the plain
# lines up to rounding; the tests hold it to `torch.optim.Adam` within $10^{-10}$ over 100 steps.

# %% [markdown]
# Below, all four on $L(\theta) = \tfrac12 \theta^\top A \theta$ with curvatures 10 and 0.2 (a
# condition number of 50) along axes tilted by 30°, 60 steps from the same start. The same
# classes that train the network update this two-number $\theta$.

# %% tags=["fold"]
# SGD, momentum, RMSProp and Adam on the bowl
if __name__ == "__main__":
    angle = np.pi / 6
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = rotation @ np.diag([10.0, 0.2]) @ rotation.T  # eigenvalues 10 and 0.2

    def descend(optimizer, steps=60, start=(-4.0, 1.0)):
        """The path of theta under `optimizer` on the bowl L = theta A theta / 2."""
        theta = np.array([start])
        path = [theta[0].copy()]
        for _ in range(steps):
            optimizer.step({"theta": theta}, {"theta": theta @ A})  # the gradient is A theta
            path.append(theta[0].copy())
        return np.array(path)

    def bowl_loss(path):
        return 0.5 * np.einsum("ni,ij,nj->n", path, A, path)

    paths = {
        "SGD, lr 0.18": descend(SGD(lr=0.18)),
        "momentum 0.8, lr 0.05": descend(SGD(lr=0.05, momentum=0.8)),
        "RMSProp, lr 0.3": descend(RMSProp(lr=0.3)),
        "Adam, lr 0.5": descend(Adam(lr=0.5)),
    }
    for label, path in paths.items():
        print(f"{label:22s} loss after 60 steps {bowl_loss(path)[-1]:.2e}")
    edge = {f"SGD, lr {lr}": descend(SGD(lr=lr), steps=20) for lr in (0.19, 0.21)}
    for label, path in edge.items():
        print(f"{label:22s} loss after 20 steps {bowl_loss(path)[-1]:.2e}  (2/lambda_max = 0.2)")

# %% tags=["fold"]
# Plotting: the four paths on the bowl, and SGD on either side of 2 / lambda_max
if __name__ == "__main__":
    fig = new_figure(figsize=(10, 6.6))
    if fig is not None:
        axes = fig.subplots(2, 3, sharex=True, sharey=True).ravel()
        grid = np.linspace(-4.5, 4.5, 200)
        g1, g2 = np.meshgrid(grid, grid)
        surface = bowl_loss(np.column_stack([g1.ravel(), g2.ravel()])).reshape(g1.shape)
        panels = list(paths.items()) + list(edge.items())
        for ax, (label, path), color in zip(axes, panels, ["C0", "C1", "C2", "C4", "C0", "C3"],
                                            strict=True):  # fmt: skip
            ax.contour(g1, g2, surface, levels=np.geomspace(0.02, 60, 12), colors="0.75",
                       linewidths=0.7)  # fmt: skip
            ax.plot(*path.T, marker=".", ms=4, lw=1, color=color)
            ax.plot(0, 0, "k*", ms=9)
            steps = len(path) - 1
            ax.set(title=f"{label}: {steps} steps", xlim=(-4.5, 4.5), ylim=(-4.5, 4.5),
                   aspect="equal")  # fmt: skip
        for ax in axes[3:]:
            ax.set_xlabel(r"$\theta_1$")
        for ax in axes[::3]:
            ax.set_ylabel(r"$\theta_2$")
        save_figure(
            fig,
            "05_optimizer_paths.png",
            alt=(
                "Six panels of contour lines of a tilted, elongated bowl with its minimum "
                "marked, each with one path from the same start. SGD zigzags "
                "across the narrow valley and creeps along it; momentum swings along the valley "
                "and settles near the minimum; RMSProp jumps into the valley and walks down it; "
                "Adam swings along the valley and is still far from the minimum. The last "
                "two panels: SGD with learning rate 0.19 zigzags inwards, with 0.21 it zigzags "
                "outwards, off the plot."
            ),
        )

# %% [markdown]
# SGD's step is capped by the steep direction ($\eta < 2/10$): it zigzags across the valley
# and crawls along it. Momentum builds up speed along the valley while the zigzag cancels, and
# ends with a loss 30 times lower. RMSProp and Adam rescale each coordinate, that is, each axis
# of the plot, but this valley runs diagonally, so no rescaling of the axes can straighten it:
# RMSProp walks down the valley no faster than SGD, and Adam swings along it. In a network, where
# gradient sizes differ by orders of magnitude from one coordinate to the next, the rescaling
# matters (section 5.3). The last two panels are section 5.1's limit: at $\eta = 0.19$, $|1 - \eta
# \lambda_\mathrm{max}| = 0.9$ and the zigzag shrinks; at $0.21$ it is $1.1$ and grows.

# %% [markdown]
# ### 5.3 Adam on the article's network
#
# From its initialisation, the first three steps with and without bias correction, and the size
# of each step, $\max_k |\Delta\theta_k|$:

# %% tags=["fold"]
# Adam's first three steps, with and without bias correction
if __name__ == "__main__":
    for corrected in (True, False):
        params = {name: p.copy() for name, p in params_init.items()}
        optimizer = Adam(lr=0.01, bias_correction=corrected)
        print("with bias correction:" if corrected else "without (the article's formula):")
        for t in range(1, 4):
            before = {name: p.copy() for name, p in params.items()}
            loss = train(params, X_sine, y_sine, mse_loss, optimizer, steps=1)[0]
            largest_step = max(np.abs(params[k] - before[k]).max() for k in params)
            print(f"  t={t}  loss {loss:.4f}  largest step {largest_step:.4f}  (lr = 0.01)")

# %% [markdown]
# Now the article's network trained for 2001 steps by SGD and by Adam, both at $\eta = 0.01$
# and from the same start. The noise floor is marked: $y$ carries noise of variance
# $\sigma^2 = 0.01$, which no function of $x$ can predict.

# %% tags=["fold"]
# SGD and Adam, 2001 steps from the same start
if __name__ == "__main__":
    curves = {}
    for label, optimizer in [("SGD, lr = 0.01", SGD(lr=0.01)), ("Adam, lr = 0.01", Adam(lr=0.01))]:
        params = {name: p.copy() for name, p in params_init.items()}
        curves[label] = train(params, X_sine, y_sine, mse_loss, optimizer, steps=2001)
        below = next((step for step, value in enumerate(curves[label]) if value < 0.02), None)
        print(f"{label:16s} loss after 2001 steps: {curves[label][-1]:.5f}   "
              f"first step below 0.02: {below}")  # fmt: skip

# %% tags=["fold"]
# Plotting: SGD against Adam
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
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
                "Loss curves of SGD and Adam at learning rate 0.01 from the same start, on a "
                "log scale: Adam reaches the noise floor 0.01 within a few hundred steps, SGD "
                "is still about four times above it after 2001 steps."
            ),
        )

# %% [markdown]
# Adam reaches the noise floor in a few hundred steps; SGD is still four times above it after
# 2001. But "the same learning rate" compares two different things. For SGD the step is
# $\eta\, g$, and stability needs $\eta < 2/\lambda_\mathrm{max}$, a bound set by the loss. For
# Adam, $\eta$ is about the step itself, per coordinate, whatever the gradient's size. A sweep
# shows each one's usable range: the loss after 500 steps for rates from $10^{-4}$ to 1.

# %% tags=["fold"]
# The learning-rate sweep: 500 steps at each rate
if __name__ == "__main__":
    learning_rates = np.geomspace(1e-4, 1, 9)
    final = {"SGD": [], "Adam": []}
    for lr in learning_rates:
        for label, optimizer in [("SGD", SGD(lr=lr)), ("Adam", Adam(lr=lr))]:
            params = {name: p.copy() for name, p in params_init.items()}
            try:
                loss = train(params, X_sine, y_sine, mse_loss, optimizer, steps=500)[-1]
            except FloatingPointError:  # diverged: the loss overflowed
                loss = math.inf
            final[label].append(loss)
    print("lr      " + "".join(f"{lr:9.0e}" for lr in learning_rates))
    for label, losses in final.items():
        print(f"{label:6s}  " + "".join(f"{loss:9.3f}" for loss in losses))

# %% tags=["fold"]
# Plotting: the loss after 500 steps against the learning rate
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax = fig.subplots()
        for (label, losses), marker in zip(final.items(), "os", strict=True):
            losses = np.array(losses)
            ax.loglog(learning_rates, np.where(np.isfinite(losses), losses, np.nan),
                      marker=marker, label=label)  # fmt: skip
            diverged = ~np.isfinite(losses)
            ax.plot(learning_rates[diverged], np.full(diverged.sum(), 3.0), "x", color="C3",
                    ms=9, label="diverged" if label == "SGD" else None)  # fmt: skip
        ax.axvline(2 / 211, color="gray", ls=":", lw=1, label=r"SGD's $2/\lambda_{max}$ at start")
        ax.axhline(0.01, color="gray", ls="--", lw=1, label="noise floor")
        ax.set(xlabel="learning rate (log scale)", ylabel="loss after 500 steps (log scale)",
               title="Each optimizer's usable learning rates")  # fmt: skip
        ax.legend(fontsize=8)
        save_figure(
            fig,
            "05_learning_rates.png",
            alt=(
                "The loss after 500 steps against the learning rate, both on log scales, for "
                "SGD and Adam. SGD improves as the rate grows up to about 0.01, near its "
                "stability limit, and diverges above it. Adam reaches the noise floor for "
                "rates from about 0.01 to 0.3 and degrades, without diverging, at 1."
            ),
        )

# %% [markdown]
# SGD gets better as $\eta$ grows, right up to the cliff at $2/\lambda_\mathrm{max}$, past which
# it diverges. Adam reaches the noise floor for rates from 0.01 to 0.3, and has no cliff: too
# large a rate makes it rattle around the minimum with steps of about $\eta$, too small a rate
# makes it slow. SGD's best rate sits just below a cliff set by the loss's curvature, so it has
# to be tuned to each problem.

# %% [markdown]
# ## 6. Mini-batches and held-out data
#
# ### 6.1 Mini-batches
#
# With `batch_size`, `train` takes the rows in a new random order every epoch (every pass over
# the data), and each step uses the next `batch_size` of them. A batch's gradient is a noisy
# estimate of the full one, cheaper by $N / \mathrm{batch\ size}$. Below, Adam at $\eta = 0.01$
# with batches of 1, 16 and all 200 rows, 2001 steps each; `on_step` logs the loss on all 200
# rows every 20 steps, so the curves are measured alike.

# %% tags=["fold"]
# Adam with batches of 1, 16 and 200 rows
if __name__ == "__main__":

    def loss_on(params, X, y):
        return float(mse_loss(mlp_forward(params, X)[0], y)[0])

    batch_curves = {}
    for batch_size in (1, 16, 200):
        params = {name: p.copy() for name, p in params_init.items()}
        logged = []  # (step, loss on all rows)

        def log_full_loss(step, loss, params, logged=logged):
            if step % 20 == 0:
                logged.append((step, loss_on(params, X_sine, y_sine)))

        train(params, X_sine, y_sine, mse_loss, Adam(lr=0.01), steps=2001, batch_size=batch_size,
              rng=np.random.default_rng(0), on_step=log_full_loss)  # fmt: skip
        batch_curves[batch_size] = curve = np.array(logged)
        reached = curve[curve[:, 1] < 0.02, 0]
        seen = f"{int(reached[0] + 1) * batch_size:,}" if reached.size else "not reached"
        print(f"batch {batch_size:3d}: loss on all rows after 2001 steps {curve[-1, 1]:.4f}; "
              f"examples seen when it first went below 0.02: {seen}")  # fmt: skip

# %% tags=["fold"]
# Plotting: the loss against steps and against examples seen
if __name__ == "__main__":
    fig = new_figure(figsize=(10, 3.6))
    if fig is not None:
        ax_steps, ax_seen = fig.subplots(1, 2, sharey=True)
        for batch_size, curve in batch_curves.items():
            label = "full batch (200)" if batch_size == 200 else f"batch {batch_size}"
            ax_steps.semilogy(curve[:, 0], curve[:, 1], label=label)
            ax_seen.loglog((curve[:, 0] + 1) * batch_size, curve[:, 1], label=label)
        for ax in (ax_steps, ax_seen):
            ax.axhline(0.01, color="gray", ls="--", lw=1)
        ax_steps.set(xlabel="step", ylabel="loss on all 200 rows (log scale)",
                     title="Against steps")  # fmt: skip
        ax_seen.set(xlabel="examples seen (log scale)", title="Against examples seen")
        ax_steps.legend()
        save_figure(
            fig,
            "06_minibatches.png",
            alt=(
                "Loss on all rows for Adam with batches of 1, 16 and 200. Against steps, the "
                "full batch falls smoothly to the noise floor, batch 16 with small jitter, and "
                "batch 1 more slowly with large jumps. Against examples seen, batch 1 and batch 16 "
                "reach a given loss after seeing far fewer examples than the full batch."
            ),
        )

# %% [markdown]
# Per step, the full batch wins. Per example seen, which is what a step costs, small batches
# win by far: the loss on all rows first drops below 0.02 after the full batch has seen 44,200
# examples, batch 16 only 5,456, batch 1 only 1,101 (the loss is logged every 20 steps). The
# price is noise: each step follows only its batch, so with batch 1 the loss keeps jumping, far
# above the full batch's curve; a smaller $\eta$ late in training would calm it.
#
# ### 6.2 Held-out data
#
# The training loss says how well the network fits its 200 points; what matters is new points.
# Draw 200 fresh points of the same noisy sine and log their loss every 20 steps while Adam
# trains.

# %% tags=["fold"]
# Fresh points of the same sine, their loss logged while training
if __name__ == "__main__":
    held_out_rng = np.random.default_rng(7)
    X_held = np.sort(held_out_rng.uniform(-np.pi, np.pi, (200, 1)), axis=0)
    y_held = np.sin(X_held) + 0.1 * held_out_rng.standard_normal(X_held.shape)
    params = {name: p.copy() for name, p in params_init.items()}
    held_out = []

    def log_held_out(step, loss, params):
        if step % 20 == 0:
            held_out.append((step, loss_on(params, X_held, y_held)))

    train_curve = train(params, X_sine, y_sine, mse_loss, Adam(lr=0.01), steps=2001,
                        on_step=log_held_out)  # fmt: skip
    held_out = np.array(held_out)
    x_fine = np.linspace(-np.pi, np.pi, 1000).reshape(-1, 1)
    off_sine = np.mean((mlp_forward(params, x_fine)[0] - np.sin(x_fine)) ** 2)
    print(f"after 2001 steps: training loss {train_curve[-1]:.4f}, "
          f"held-out loss {held_out[-1, 1]:.4f}")  # fmt: skip
    noise_train = np.mean((y_sine - np.sin(X_sine)) ** 2)
    noise_held = np.mean((y_held - np.sin(X_held)) ** 2)
    print(f"the noise alone: {noise_train:.4f} on the training points, "
          f"{noise_held:.4f} on the held-out points")  # fmt: skip
    print(f"mean squared distance of the fit from sin(x): {off_sine:.4f}")

# %% tags=["fold"]
# Plotting: training and held-out loss
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax = fig.subplots()
        ax.semilogy(train_curve, label="training loss (200 points trained on)")
        ax.semilogy(held_out[:, 0], held_out[:, 1], label="held-out loss (200 fresh points)")
        ax.axhline(0.01, color="gray", ls="--", lw=1, label="noise variance 0.01")
        ax.set(xlabel="step", ylabel="MSE loss (log scale)", ylim=(0.005, 2),
               title="Adam, lr = 0.01: fitting the data, and fitting its noise")  # fmt: skip
        ax.legend()
        save_figure(
            fig,
            "06_held_out.png",
            alt=(
                "Training and held-out loss of Adam on a log scale over 2001 steps. Both fall "
                "together to about the noise variance 0.01; then the training loss keeps "
                "creeping below 0.01 while the held-out loss stays above it."
            ),
        )

# %% [markdown]
# Both curves fall together while the network learns the sine, then part. No function of $x$
# predicts the noise, so the best loss on any set of points is the noise it carries: 0.0105 on
# the training points. The training loss ends *below* that, at 0.0087: the fit bends towards
# the particular noise of its 200 points. On fresh points that bending is error: the held-out
# loss is their noise, 0.0094, plus about the fit's distance from the true sine, 0.0013, and it
# flattens out while the training loss keeps creeping down. That gap is memorisation; stopping
# early, fewer parameters or more data are the usual remedies.


# %% [markdown]
# ## 7. Softmax cross-entropy classification
#
# For $C$ classes the network outputs $C$ **logits** per example, $z_i = \mathrm{out}_{i,:}$.
# Softmax turns them into probabilities and cross-entropy scores the probability given to the
# true class $y_i$:
#
# $$p_{ik} = \frac{e^{z_{ik}}}{\sum_{c} e^{z_{ic}}}, \qquad
#   L = \frac{1}{N}\sum_{i} \ell_i, \qquad \ell_i = -\log p_{i y_i}
#   = \log \sum_c e^{z_{ic}} - z_{i y_i}.$$
#
# **The gradient.** Differentiate $\ell_i$ in its second form with respect to one logit
# $z_{ik}$. The log-sum-exp term gives
# $\frac{\partial}{\partial z_{ik}} \log \sum_c e^{z_{ic}} = \frac{e^{z_{ik}}}{\sum_c e^{z_{ic}}}
# = p_{ik}$, the softmax itself; the second term gives $-\mathbb 1[k = y_i]$. So
#
# $$\frac{\partial \ell_i}{\partial z_{ik}} = p_{ik} - \mathbb 1[k = y_i], \qquad
#   \mathtt{d\_logits} = \frac{1}{N}\big(\operatorname{softmax}(z) -
#   \operatorname{one\_hot}(y)\big) \quad (N, C).$$
#
# The $p$ comes from the normaliser (raising any logit takes probability from every class, the
# true one included), the $-1$ from the true class's own logit, and the $1/N$ from the mean.
#
# The code subtracts each row's largest logit before exponentiating, and computes the loss as
# log-sum-exp minus the true logit rather than as `log(softmax)`: the box below says why.

# %% [markdown] tags=["deeper"]
# **Going deeper: why subtract the row max, and why log-sum-exp.** Softmax does not change when a
# constant is subtracted from every logit of a row. With $z_{i,:} - \max_c z_{ic}$ the largest
# exponent is $e^0 = 1$: nothing overflows (`np.exp(1000.)` is `inf`), and the sum is at least 1, so
# its log is finite.
#
# *Log-sum-exp, not `log(softmax)`.* For a badly wrong prediction $p_{iy_i}$ can be
# smaller than the smallest float ($e^{-20000}$ for logits of size $10^4$); it underflows to 0
# and `log(0)` is $-\infty$. In the second form nothing that could vanish is exponentiated before
# the log is taken: the loss is exact, 20000 for that example.

# %% [markdown] tags=["deeper"]
# **Going deeper: the same gradient through the softmax's Jacobian.** The longer route gives
# the same answer. $\partial p_{ij}/\partial z_{ik} = p_{ij}(\mathbb 1[j=k] - p_{ik})$ and
# $\partial \ell_i / \partial p_{ij} = -\mathbb 1[j = y_i] / p_{ij}$, so
#
# $$\frac{\partial \ell_i}{\partial z_{ik}} = -\frac{1}{p_{iy_i}}\, p_{iy_i}(\mathbb 1[y_i = k]
#   - p_{ik}) = p_{ik} - \mathbb 1[k = y_i].$$
#
# The code never builds a one-hot matrix: subtracting 1 at `[rows, labels]` does the same
# without an $N \times C$ array.


# %% tags=["fold"]
# Tutorial helper: softmax on its own
def softmax(logits):
    """Row-wise softmax of (N, C) logits, with the row max subtracted so nothing overflows.

    >>> softmax(np.array([[1000.0, 1000.0]]))
    array([[0.5, 0.5]])
    """
    with np.errstate(under="ignore"):  # a far smaller logit's probability is 0: harmless
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # (N, C), row max 1
    return exp / exp.sum(axis=1, keepdims=True)


# %%
def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of the softmax of ``logits`` against integer class ``labels``.

    ``logits``: (N, C); ``labels``: (N,) integers in ``[0, C)``. Returns ``(loss, d_logits)``,
    ``d_logits = (softmax(logits) - one_hot(labels)) / N``. Finite for logits of any size:

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
# **The data.** Three interleaved spiral arms in the plane, one per class: no straight line
# separates them, so the hidden layers must bend the space. A quarter of the points is held out
# and never trained on; accuracy is measured on them. The network has two hidden layers of 64,
# `[2, 64, 64, 3]`. Its first loss, 1.38, is above $\ln 3 \approx 1.10$, the loss of a uniform
# guess: He-initialised logits are not small, so the first guesses are confidently wrong.


# %% tags=["fold"]
# Tutorial helpers: the spiral data, and a train/test split
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


# %%
def predict(params, X, activation=(relu_forward, relu_backward)):
    """The predicted class of each row of ``X``: the argmax of the logits, shape (N,).

    ``activation`` must be the one the network was trained with.
    """
    _finite("X", _array("X", X))
    return mlp_forward(params, X, activation)[0].argmax(axis=1)


# %% tags=["fold"]
# The spiral classifier: 500 steps of Adam
if __name__ == "__main__":
    spiral_rng = np.random.default_rng(0)
    X_spiral, labels_spiral = make_spirals(spiral_rng)
    X_train, y_train, X_test, y_test = split(X_spiral, labels_spiral, spiral_rng)
    classifier = init_mlp([2, 64, 64, 3], spiral_rng)
    losses = train(classifier, X_train, y_train, softmax_cross_entropy, Adam(lr=0.01), steps=500)
    print(f"loss {losses[0]:.3f} at step 0, {losses[-1]:.5f} after 500 steps")
    train_accuracy = np.mean(predict(classifier, X_train) == y_train)
    test_accuracy = np.mean(predict(classifier, X_test) == y_test)
    print(f"train accuracy {train_accuracy:.1%} on {len(y_train)} points, "
          f"test accuracy {test_accuracy:.1%} on {len(y_test)} held-out points")  # fmt: skip

# %% [markdown]
# The classifier's gradients, checked like the regression's, at a fresh initialisation: every
# entry of all six tensors (4,547 numbers) on 60 training points.

# %%
if __name__ == "__main__":
    fresh = init_mlp([2, 64, 64, 3], np.random.default_rng(1))
    print(grad_check(fresh, X_train[:60], y_train[:60], softmax_cross_entropy))

# %% [markdown]
# Some relative errors reach $10^{-5}$, yet every entry passes: those entries are gradients of
# about $10^{-6}$, where an absolute error of $10^{-11}$, the finite difference's own noise, is
# a large fraction. That is why the rule has an absolute part.

# %% tags=["fold"]
# Plotting: the decision regions
if __name__ == "__main__":
    fig = new_figure(figsize=(6.4, 6))
    if fig is not None:
        ax = fig.subplots()
        grid = np.linspace(-1.15, 1.15, 300)
        gx, gy = np.meshgrid(grid, grid)
        regions = predict(classifier, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        colors = ["#4c72b0", "#dd8452", "#55a868"]
        from matplotlib.colors import ListedColormap

        ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=ListedColormap(colors),
                    alpha=0.3)  # fmt: skip
        for k in range(3):
            ax.scatter(*X_train[y_train == k].T, s=12, color=colors[k], label=f"class {k} (train)")
            ax.scatter(*X_test[y_test == k].T, s=30, color=colors[k], edgecolor="k", marker="^")
        ax.scatter([], [], s=30, color="white", edgecolor="k", marker="^", label="held out (test)")
        ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
               title=f"Decision regions, test accuracy {test_accuracy:.1%}")  # fmt: skip
        ax.legend(loc="lower left", fontsize=8)
        save_figure(
            fig,
            "07_spiral_decision_regions.png",
            alt=(
                "Three spiral arms of training points and held-out triangles in the plane, with "
                "the classifier's three coloured decision regions following each arm."
            ),
        )

# %% [markdown]
# ## What you have built
#
# A network of any depth, its loss, every derivative by hand, a check that each is right to ten
# digits, and four update rules: the whole training loop, nothing automated. PyTorch's
# `loss.backward()` does what `mlp_backward` does; `optimizer.step()` is `SGD.step` or
# `Adam.step`. Next:
#
# - [When it breaks](../failure_modes/): bugs and bad settings made on purpose, and the
#   symptom each shows;
# - [Exercises](../exercises/): write a layer, a loss, an optimizer yourself, checked by the
#   page;
# - [Against PyTorch](../pytorch/): the same loop in PyTorch, gradient for gradient.
