# %% [markdown]
# # The training loop from scratch
#
# In this lesson you train a neural network with nothing but NumPy, writing every derivative
# yourself. It follows the article *The Training Loop From Scratch: Forward, Backward, Gradient
# Descent in NumPy*: a network with one hidden layer learns a noisy sine curve.
#
# **You need** derivatives and the chain rule, matrix products, and NumPy arrays.
# **You will be able to** derive a network's backward pass by hand, check it against numbers,
# write the training loop, and train with Adam and with softmax cross-entropy: what PyTorch's
# `loss.backward()` and `optimizer.step()` do for you. **It takes** about 30 minutes.
#
# Every network trains by repeating four steps:
#
# 1. **forward**: compute the output from the input and the parameters;
# 2. **loss**: one number saying how wrong that output is;
# 3. **backward**: the gradient of the loss with respect to every parameter;
# 4. **update**: move every parameter a little against its gradient.
#
# **Notation.** The math uses the code's names, so each equation can be matched to its line.
#
# | symbol | code | meaning |
# |---|---|---|
# | $N$, $D$, $H$, $C$ | | examples, input features, hidden units, outputs |
# | $X$, $y$ | `X`, `y` | inputs $(N, D)$, one example per row, and targets |
# | $W_l$, $b_l$ | `W1`, `b1` | layer $l$'s weights and bias: $W_1$ is $(D, H)$, $b_1$ is $(1, H)$ |
# | $Z_l$, $A_l$ | `Z1`, `A1` | a layer's pre-activation and activation |
# | $L$ | `loss` | the loss, a number |
# | $\partial L / \partial W_1$ | `dW1` | a parameter's gradient, shaped like $W_1$ |
# | $\partial L / \partial Z_1$ | `d_Z1` | the gradient with respect to an intermediate array |
# | $\eta$ | `lr` | the learning rate: how far each update moves |
# | $\mathbb 1[\cdot]$ | `(Z1 > 0)` | 1 where the condition holds, 0 elsewhere |
# | $\odot$ | `*` | the entry-by-entry product of two arrays of one shape |

# %% tags=["fold"]
# Imports and plumbing: input checks and figure saving (nothing here is about training)
from __future__ import annotations

import contextlib
import functools
import math
import os
import signal
import sys
import threading

import numpy as np

# What a project copies this file for. Everything else here (data makers, figure helpers,
# article_loop, softmax) is a tutorial helper: it serves the site, not your network.
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


def _number(name: str, value, *, low: float = 0.0, allow_low: bool = False, below=None) -> float:
    """``value`` as a float, or a ValueError naming ``name``: finite, above ``low`` (or equal
    to it with ``allow_low``) and, if given, below ``below``."""
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
    if below is not None and number >= below:
        raise ValueError(f"{name} must be in [{low:g}, {below:g}), got {value!r}")
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


def _check_params(params, X=None) -> int:
    """The number of layers K, after checking ``params`` is ``W1, b1, ..., WK, bK`` of one dtype
    and, if given, that ``X`` fits the first layer."""
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
    if X is not None:
        _check_X(X, params["W1"])
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
    K = _check_params(params, X)
    _finite("X", X)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: there is nothing to compute a loss on")
    if _array("y", y).shape[:1] != X.shape[:1]:
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {y.shape}")
    _finite("y", y)
    if np.issubdtype(y.dtype, np.integer) and loss_fn is not mse_loss:
        # Class labels: check them all now, not when a mini-batch first meets a bad one.
        _check_labels(y, params[f"W{K}"].shape[1], X.shape[0])


def _check_targets(out, y) -> None:
    _array("out", out)
    if _array("y", y).shape != out.shape or y.dtype != out.dtype:
        raise ValueError(
            f"y is {y.shape} {y.dtype} but the network output is {out.shape} {out.dtype}: "
            f"mse_loss needs targets of the same shape and dtype (y.astype(np.{out.dtype.name}))"
        )


def _check_logits(logits, labels) -> None:
    if _array("logits", logits, ndim=2).dtype.kind != "f":
        raise ValueError(f"logits must be floating point, got dtype {logits.dtype}")
    _check_labels(labels, logits.shape[1], logits.shape[0])


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


def _check_numerical(x, h) -> float:
    h = _number("h", h)
    if not (_array("x", x).dtype.kind == "f" and x.flags.writeable):
        raise ValueError(f"x must be a writeable floating-point array, got {x.dtype}")
    return h


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


def _stop_if_diverged(loss, step: int, optimizer) -> None:
    if math.isfinite(loss):
        return
    if step == 0:  # no update has happened yet, so the learning rate cannot be the cause
        raise FloatingPointError(
            f"the loss is {float(loss)} at step 0, before any update: the initial parameters or "
            f"the loss function overflow on this data (check the weight scale and the loss)"
        )
    raise FloatingPointError(
        f"the loss became {float(loss)} at step {step}: training diverged; try a smaller "
        f"learning rate (optimizer lr = {getattr(optimizer, 'lr', '?')})"
    )


def _batches(X, y, steps: int, batch_size, rng):
    """``steps`` pairs ``(X_batch, y_batch)``: all rows each time without ``batch_size``; else
    the next ``batch_size`` rows of a permutation drawn from ``rng`` at each new epoch."""
    N = X.shape[0]
    order, position = np.arange(N), N
    for _ in range(steps):
        if batch_size is None or batch_size == N:
            yield X, y
            continue
        if position + batch_size > N:  # a new epoch: reshuffle
            order, position = rng.permutation(N), 0
        rows = order[position : position + batch_size]
        position += batch_size
        yield X[rows], y[rows]


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


def make_sine_data(rng, n: int = 200, noise: float = 0.1):
    """Tutorial helper: the article's data, ``n`` points of ``sin(x)`` on ``[-pi, pi]`` plus
    Gaussian noise. With ``np.random.RandomState(0)`` the noise is the article's
    ``np.random.seed(0)`` noise. Returns ``X, y``, both of shape ``(n, 1)``."""
    X = np.linspace(-np.pi, np.pi, n).reshape(-1, 1)
    y = np.sin(X) + noise * rng.standard_normal(X.shape)
    return X, y


def make_spirals(rng, n_per_class: int = 200, n_classes: int = 3, noise: float = 0.15):
    """Tutorial helper: ``n_classes`` spiral arms in 2-D. Returns ``X`` (N, 2) float64 and
    ``labels`` (N,) int64."""
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


# %% [markdown]
# ## 1. The article's loop
#
# The data: 200 points $x$ evenly spaced on $[-\pi, \pi]$, with targets $y = \sin(x)$ plus
# noise drawn from $\mathcal N(0, 0.1^2)$. The network: one input, $H = 64$ hidden units, one
# output:
#
# $$Z_1 = X W_1 + b_1, \qquad A_1 = \operatorname{ReLU}(Z_1) = \max(0, Z_1), \qquad
#   \mathrm{out} = A_1 W_2 + b_2 .$$
#
# **ReLU** (rectified linear unit) keeps positive numbers and replaces negative ones by 0. The
# loss is the **mean squared error**, $L = \frac{1}{N} \sum_{i} (\mathrm{out}_i - y_i)^2$, and
# the update is **gradient descent**: $\theta \leftarrow \theta - \eta\, \partial L / \partial
# \theta$ for every parameter $\theta$, with $\eta = 0.01$.
#
# Here is the article's loop, line for line. Read it once now; section 2 derives each backward
# line, and by the end of section 4 you will have written every piece of it as a function.


# %%
def article_loop(params, X, y, lr: float = 0.01, steps: int = 2001, log_every: int = 500):
    """The article's training loop; updates ``params`` (W1, b1, W2, b2) in place and returns
    the loss of every step, taken before that step's update."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    losses = []
    for step in range(steps):
        # Forward
        Z1 = X @ W1 + b1  # (N, H)
        A1 = np.maximum(0, Z1)  # (N, H)  ReLU
        out = A1 @ W2 + b2  # (N, 1)
        loss = np.mean((out - y) ** 2)
        losses.append(loss)
        # Backward: the chain rule by hand
        N = X.shape[0]
        d_out_layer = 2 * (out - y) / N  # (N, 1)   dL/d out
        dW2 = A1.T @ d_out_layer  # (H, 1)
        db2 = d_out_layer.sum(axis=0, keepdims=True)  # (1, 1)
        d_A1 = d_out_layer @ W2.T  # (N, H)
        d_Z1 = d_A1 * (Z1 > 0)  # (N, H)   ReLU gradient
        dW1 = X.T @ d_Z1  # (1, H)
        db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, H)
        # Gradient-descent update, in place
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        if log_every and step % log_every == 0:
            print(f"Step {step:5d} loss={loss:.6f}")
    return losses


# %% [markdown]
# The article seeds NumPy's global generator with `np.random.seed(0)`; `np.random.RandomState(0)`
# is that same generator as an object of its own, so we get the article's numbers without
# touching NumPy's global state. Each weight is drawn from
# $\mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, where $\mathrm{fan}_\mathrm{in}$ is the number of
# inputs of its layer (section 4 says why).

# %%
if __name__ == "__main__":
    rng = np.random.RandomState(0)
    X_sine = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)  # (200, 1)
    y_sine = np.sin(X_sine) + 0.1 * rng.standard_normal(X_sine.shape)  # (200, 1)
    params_init = {
        "W1": rng.standard_normal((1, 64)) * np.sqrt(2 / 1),
        "b1": np.zeros((1, 64)),
        "W2": rng.standard_normal((64, 1)) * np.sqrt(2 / 64),
        "b2": np.zeros((1, 1)),
    }
    params_article = {name: p.copy() for name, p in params_init.items()}  # trained in place
    losses_article = article_loop(params_article, X_sine, y_sine, lr=0.01, steps=2001)

# %% tags=["fold"]
# Plotting: the loss curve, its first 60 steps, and the fit
if __name__ == "__main__":
    fig = new_figure(figsize=(11, 3.4))
    if fig is not None:
        ax_all, ax_start, ax_fit = fig.subplots(1, 3, width_ratios=[3, 2, 3])
        ax_all.semilogy(losses_article, color="C0")
        ax_all.axhline(0.01, color="gray", ls="--", lw=1, label="noise variance 0.01")
        ax_all.set(xlabel="step", ylabel="MSE loss (log scale)", title="2001 steps, lr = 0.01")
        ax_all.legend()
        ax_start.plot(range(61), losses_article[:61], color="C0", marker=".", ms=3)
        peak = int(np.argmax(losses_article))
        ax_start.annotate(f"peak at step {peak}", (peak, losses_article[peak]), (28, 7.5))
        ax_start.set(xlabel="step", ylabel="MSE loss", title="steps 0 to 60")
        x_fine = np.linspace(-np.pi, np.pi, 400).reshape(-1, 1)
        p = params_article
        fit = np.maximum(0, x_fine @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        ax_fit.scatter(X_sine[:, 0], y_sine[:, 0], s=6, color="gray", label="data")
        ax_fit.plot(x_fine[:, 0], np.sin(x_fine[:, 0]), color="k", lw=1, ls="--", label="sin(x)")
        ax_fit.plot(x_fine[:, 0], fit[:, 0], color="C1", lw=2, label="network")
        ax_fit.set(xlabel="x", ylabel="y", title="The fit after 2001 steps")
        ax_fit.legend(fontsize=8)
        for ax in (ax_all, ax_start, ax_fit):
            ax.title.set_fontsize(10)
        save_figure(
            fig,
            "01_article.png",
            alt=(
                f"Three panels. Left: the loss over 2001 steps on a log scale, falling from "
                f"about 1.6 towards the noise variance 0.01. Middle: the first 60 steps on a "
                f"linear scale: the loss halves at step 1, climbs to a peak of "
                f"{losses_article[peak]:.1f} at step {peak}, then falls. Right: the 200 noisy "
                f"points, the true sine dashed, and the network's fit, a curve of straight "
                f"pieces that follows the sine."
            ),
        )

# %% [markdown]
# The loss falls from 1.59 to 0.042, four times the noise's variance of 0.01. The fit is made of
# straight pieces: each hidden unit adds one bend where its $Z_1$ crosses 0.
#
# One thing is odd: the loss halves at the first step, then *climbs* for nineteen steps before it
# comes down. The learning rate is a little too large for the steepest direction of this loss,
# so the first steps overshoot; the page [The step size and curvature](../step_size/) measures
# why, and why training recovers. First, where the gradients come from.

# %% [markdown]
# ## 2. Backpropagation by hand
#
# The backward step computes $\partial L / \partial \theta$ for every parameter: nudge $\theta$
# by a small $\delta$ and the loss moves by about $\frac{\partial L}{\partial \theta}\,\delta$.
# The **chain rule** gets them all in one sweep from the loss back to the input: if $L$ depends
# on $s$ only through $p$, then $\frac{\partial L}{\partial s} = \frac{\partial L}{\partial p}
# \cdot \frac{\partial p}{\partial s}$. Going backwards, each operation takes the gradient that
# arrives at its output and multiplies it by its own **local derivative**. This sweep is
# **backpropagation**.
#
# ### 2.1 One neuron, with numbers
#
# Take one input $x$, one weight $w$, one bias $b$ and one target $y$, and write the neuron as a
# chain of single operations:
#
# $$u = w x, \qquad s = u + b, \qquad p = \max(0, s), \qquad L = (p - y)^2 .$$

# %%
if __name__ == "__main__":
    x, w, b, y = 1.5, 2.0, -1.0, 1.0
    # Forward, one operation a line
    u = w * x
    s = u + b
    p = max(0.0, s)
    L = (p - y) ** 2
    # Backward: the gradient arriving at each node times the node's local derivative
    d_p = 2 * (p - y)  # dL/dp for L = (p - y)^2
    d_s = d_p * (s > 0)  # max: dp/ds is 1 where s > 0, else 0
    d_u, db = d_s * 1, d_s * 1  # add: ds/du = ds/db = 1
    dw, d_x = d_u * x, d_u * w  # multiply: du/dw = x, du/dx = w
    print(f"forward:  u = {u}, s = {s}, p = {p}, L = {L}")
    print(f"backward: d_p = {d_p}, d_s = {d_s}, d_u = {d_u}, db = {db}, dw = {dw}, d_x = {d_x}")

# %% [markdown]
# The same computation as a graph, drawn from the numbers above: each value in black above the
# edge that carries it forward, each gradient in red below it.


# %% tags=["fold"]
# Tutorial helper: draw_graph, a computational graph with values above and gradients below
def draw_graph(ax, nodes, edges, fontsize=9):
    """Draw ``nodes`` ({name: (x, y, parameter?)}) and ``edges`` ([(a, b, value, gradient)]):
    an arrow from ``a`` to ``b`` with ``value`` in black above it and ``gradient`` in red below
    (beside it, on a slanted arrow)."""
    for name, (x, y, parameter) in nodes.items():
        box = {"boxstyle": "round", "fc": "#dbe4f3" if parameter else "#eeeeee"}
        ax.text(x, y, name, ha="center", va="center", fontsize=fontsize + 2, bbox=box)
    for a, b, value, gradient in edges:
        (x0, y0, _), (x1, y1, _) = nodes[a], nodes[b]
        ax.annotate("", (x1, y1), (x0, y0), arrowprops={
            "arrowstyle": "->", "color": "black", "shrinkA": 8 + 3.5 * len(a),
            "shrinkB": 8 + 3.5 * len(b)})  # fmt: skip
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        if y0 == y1:
            ax.text(xm, ym + 0.12, value, ha="center", va="bottom", fontsize=fontsize)
            ax.text(xm, ym - 0.12, gradient, ha="center", va="top", fontsize=fontsize, color="C3")
        else:  # a slanted arrow: each label in a corner the arrow does not cross
            up = 1 if y1 > y0 else -1
            ax.text(xm - 0.1 * up, ym + 0.05, value, ha="right" if up > 0 else "left",
                    va="bottom", fontsize=fontsize)  # fmt: skip
            ax.text(xm + 0.1 * up, ym - 0.05, gradient, ha="left" if up > 0 else "right",
                    va="top", fontsize=fontsize, color="C3")  # fmt: skip
    ax.axis("off")


# %% tags=["fold"]
# Plotting: the neuron's graph, with its numbers
if __name__ == "__main__":
    fig = new_figure(figsize=(10, 3.2))
    if fig is not None:
        ax = fig.subplots()
        ax.set(xlim=(-0.5, 11.2), ylim=(-1.7, 1.7))
        nodes = {"x": (0, 1.2, False), "w": (0, -1.2, True), "×": (2.4, 0, False)}
        nodes |= {"b": (3.4, -1.4, True), "+": (4.6, 0, False), "max(0, ·)": (6.9, 0, False)}
        nodes |= {"y": (8.3, 1.4, False), "(· − y)²": (9.3, 0, False), "L": (11, 0, False)}
        edges = [
            ("x", "×", f"x = {x}", f"d_x = {d_x}"),
            ("w", "×", f"w = {w}", f"dw = {dw}"),
            ("×", "+", f"u = {u}", f"d_u = {d_u}"),
            ("b", "+", f"b = {b}", f"db = {db}"),
            ("+", "max(0, ·)", f"s = {s}", f"d_s = {d_s}"),
            ("max(0, ·)", "(· − y)²", f"p = {p}", f"d_p = {d_p}"),
            ("y", "(· − y)²", f"y = {y}", ""),
            ("(· − y)²", "L", f"L = {L}", "1"),
        ]
        draw_graph(ax, nodes, edges)
        ax.set_title("One neuron: values forward (black), gradients backward (red)", fontsize=10)
        save_figure(
            fig,
            "02_neuron_graph.png",
            alt=(
                f"A graph of one neuron. x = {x} and w = {w} enter a multiply node giving "
                f"u = {u}; u and b = {b} enter an add node giving s = {s}; s enters max(0, s) "
                f"giving p = {p}; p and y = {y} enter the squared error giving L = {L}. Below "
                f"each edge in red, its gradient: d_p = {d_p}, d_s = {d_s}, d_u = {d_u}, "
                f"db = {db}, dw = {dw}, d_x = {d_x}."
            ),
        )

# %% [markdown]
# Three patterns cover every backward line of this lesson:
#
# - **Add distributes.** $s = u + b$ has local derivative 1 for each input, so both receive the
#   arriving gradient unchanged: $\mathtt{d\_u} = \mathtt{db} = \mathtt{d\_s} = 2$. In the
#   network this is the **bias**.
# - **Multiply swaps.** $u = w x$: the gradient of $w$ is the *other* input times the arriving
#   gradient, $\mathtt{dw} = x \cdot \mathtt{d\_u} = 3$, and $\mathtt{d\_x} = w \cdot
#   \mathtt{d\_u} = 4$. In the network this is the **matrix product** $X W$.
# - **Max routes.** $p = \max(0, s)$ passes the gradient through where $s > 0$ and blocks it where
#   $s < 0$. In the network this is the **ReLU**. At exactly $s = 0$ there is a **kink**, where
#   the derivative does not exist; we use 0 there, as PyTorch does. With real-valued data a
#   pre-activation lands exactly on 0 almost never, so the choice does not change training, but
#   it matters for checking gradients (section 3).
#
# One more rule: where a value feeds several paths, its gradient is the **sum** over the paths.
#
# ### 2.2 A worked example
#
# Now two examples ($N = 2$), one input, two hidden units, one output: the article's network in
# miniature.
#
# $$X = \begin{pmatrix} 1 \\ -2 \end{pmatrix},\quad y = \begin{pmatrix} 1 \\ 0 \end{pmatrix},\quad
#   W_1 = \begin{pmatrix} 1 & -1 \end{pmatrix},\quad b_1 = \begin{pmatrix} 0.5 & 0.5 \end{pmatrix},
#   \quad W_2 = \begin{pmatrix} 1 \\ 0.5 \end{pmatrix},\quad b_2 = 0 .$$
#
# **Try it first.** The forward pass gives $Z_1 = \begin{pmatrix} 1.5 & -0.5 \\ -1.5 & 2.5
# \end{pmatrix}$ and $\mathrm{out} = \begin{pmatrix} 1.5 \\ 1.25 \end{pmatrix}$. With a pencil
# and the three patterns, work out $\mathtt{d\_out} = \partial L / \partial\,\mathrm{out}$ for
# $L = \frac{1}{2}\sum_i (\mathrm{out}_i - y_i)^2$, then $\mathtt{d\_A1}$, $\mathtt{d\_Z1}$ and
# $\mathtt{dW1}$. Then open the answer, and compare with what the cell after it prints.

# %% [markdown] tags=["deeper"]
# **The answer, worked by hand.** The loss is a mean over $N = 2$, so
# $\mathtt{d\_out} = \tfrac{2}{2}(\mathrm{out} - y) = \begin{pmatrix} 0.5 \\ 1.25 \end{pmatrix}$.
# Multiply swaps: $\mathtt{d\_A1}[i, j] = \mathtt{d\_out}[i]\, W_2[j]$, so
# $\mathtt{d\_A1} = \begin{pmatrix} 0.5 & 0.25 \\ 1.25 & 0.625 \end{pmatrix}$. Max routes: the
# gradient stops where $Z_1 < 0$, at entries $[0, 1]$ and $[1, 0]$, so
# $\mathtt{d\_Z1} = \begin{pmatrix} 0.5 & 0 \\ 0 & 0.625 \end{pmatrix}$. Multiply swaps again,
# and the paths through the two examples sum: $\mathtt{dW1}[0, j] = \sum_i X[i]\,
# \mathtt{d\_Z1}[i, j]$, so $\mathtt{dW1} = (1 \cdot 0.5 + (-2) \cdot 0,\; 1 \cdot 0 + (-2) \cdot
# 0.625) = (0.5, -1.25)$.

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
    dW2 = A1.T @ d_out  # (2, 1)   multiply swaps: A1 times d_out, summed over examples
    db2 = d_out.sum(axis=0, keepdims=True)  # (1, 1)   add distributes, summed over examples
    d_A1 = d_out @ W2.T  # (2, 2)   multiply swaps: W2 times d_out
    d_Z1 = d_A1 * (Z1 > 0)  # (2, 2)   max routes: only where Z1 > 0
    dW1 = X.T @ d_Z1  # (1, 2)
    db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, 2)

    for name, value in [("loss", loss), ("d_out", d_out), ("dW2", dW2), ("db2", db2),
                        ("d_A1", d_A1), ("d_Z1", d_Z1), ("dW1", dW1), ("db1", db1)]:  # fmt: skip
        print(f"{name:5s} = {np.asarray(value).tolist()}")

# %% [markdown]
# Follow one entry through (indices count from 0). $W_1[0, 1] = -1$ feeds hidden unit 1 on both
# examples, through $Z_1[0, 1]$ and $Z_1[1, 1]$, so its gradient sums over both paths:
#
# $$\frac{\partial L}{\partial W_1[0,1]}
#   = \sum_{i=0}^{1} \mathtt{d\_Z1}[i,1]\; X[i,0]
#   = 0 \cdot 1 + 0.625 \cdot (-2) = -1.25 .$$
#
# On example 0 the unit is off ($Z_1[0,1] = -0.5$), so that path carries nothing; on example 1 it
# carries $\mathtt{d\_out}[1] \cdot W_2[1] \cdot 1 = 1.25 \cdot 0.5 = 0.625$. The sum over
# examples is exactly the matrix product $X^\top \mathtt{d\_Z1}$, for every entry at once.
#
# The transposes follow one rule. A weight's gradient sums over the examples, so the layer
# input's transpose goes on the left: `dW2 = A1.T @ d_out`. An input's gradient sums over the
# units it feeds, so the weight's transpose goes on the right: `d_A1 = d_out @ W2.T`. And each
# gradient has the shape of the array it belongs to, a check on every line.
#
# The whole example as a graph, drawn from the arrays above (each matrix row on its own line):

# %% tags=["fold"]
# Plotting: the worked example's graph, with its arrays
if __name__ == "__main__":

    def rows(a):
        return "\n".join("  ".join(f"{v:g}" for v in row) for row in np.atleast_2d(a))

    fig = new_figure(figsize=(11, 4.4))
    if fig is not None:
        ax = fig.subplots()
        ax.set(xlim=(-0.6, 11.8), ylim=(-1.4, 3.1))
        nodes = {"X": (0, 0, False), "Z1": (3, 0, False), "A1": (5.8, 0, False)}
        nodes |= {"out": (8.6, 0, False), "L": (11.2, 0, False), "y": (11.2, 2, False)}
        nodes |= {"W1": (1.5, 2, True), "b1": (3.8, 2, True)}
        nodes |= {"W2": (7.1, 2, True), "b2": (9.4, 2, True)}
        edges = [
            ("X", "Z1", rows(X), ""),
            ("Z1", "A1", rows(Z1), "d_Z1 = d_A1 ⊙ [Z1 > 0]\n" + rows(d_Z1)),
            ("A1", "out", rows(A1), "d_A1 = d_out W2ᵀ\n" + rows(d_A1)),
            ("out", "L", rows(out), "d_out = 2(out − y)/N\n" + rows(d_out)),
        ]
        feeds = [("W1", "Z1"), ("b1", "Z1"), ("W2", "out"), ("b2", "out"), ("y", "L")]
        edges += [(a, b, "", "") for a, b in feeds]
        draw_graph(ax, nodes, edges, fontsize=8)
        labels = {
            "W1": (W1, "dW1 = Xᵀ d_Z1", dW1),
            "b1": (b1, "db1 = Σ d_Z1\nover rows (axis 0)", db1),
            "W2": (W2, "dW2 = A1ᵀ d_out", dW2),
            "b2": (b2, "db2 = Σ d_out\nover rows (axis 0)", db2),
            "y": (y, None, None),
        }
        for name, (value, formula, gradient) in labels.items():
            x0, y0, _ = nodes[name]
            ax.text(x0 - 0.35, y0, rows(value), ha="right", va="center", fontsize=8)
            if formula:
                ax.text(x0, y0 + 0.3, f"{formula}\n{rows(gradient)}", ha="center", va="bottom",
                        fontsize=8, color="C3")  # fmt: skip
        ax.text(11.2, -0.35, f"loss = {loss:g}", ha="center", va="top", fontsize=8)
        ax.set_title("The worked example: arrays forward (black), gradients backward (red)",
                     fontsize=10)  # fmt: skip
        save_figure(
            fig,
            "02_graph.png",
            alt=(
                "The worked example as a graph. X, Z1, A1, out and L in a row, with W1 and b1 "
                "feeding Z1, W2 and b2 feeding out, and y feeding L. Above each edge, the array "
                f"it carries forward: Z1 = {Z1.tolist()}, A1 = {A1.tolist()}, out = "
                f"{out.tolist()}, loss {loss:g}. Below, in red, its gradient: d_out = "
                f"{d_out.tolist()}, d_A1 = {d_A1.tolist()}, d_Z1 = {d_Z1.tolist()}. Above each "
                f"parameter, its gradient: dW1 = {dW1.tolist()}, db1 = {db1.tolist()} (d_Z1 "
                f"summed over rows), dW2 = {dW2.tolist()}, db2 = {db2.tolist()}."
            ),
        )

# %% [markdown]
# Nothing in these lines depends on having two examples or two hidden units. The next sections
# derive each rule for any shapes, as a forward function with its backward function right after
# it, then chain them into a network of any depth.
#
# ### 2.3 The loss: mean squared error
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

    ``out`` and ``y``: (N, C), one dtype. Returns ``(loss, d_out)``.

    >>> loss, d_out = mse_loss(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))
    >>> float(loss), d_out.ravel().tolist()
    (5.0, [1.0, 3.0])
    """
    _check_targets(out, y)
    diff = out - y  # (N, C)
    loss = np.mean(diff**2)
    d_out = 2 * diff / diff.size  # (N, C)   dL/d out = 2 (out - y) / M
    return loss, d_out


# %% [markdown]
# ### 2.4 A linear layer: $Z = X W + b$
#
# Here $X$ is the layer's input, $(N, p)$, $W$ is $(p, q)$ and $b$ is $(1, q)$. Entry by entry,
# $Z_{ij} = \sum_k X_{ik} W_{kj} + b_j$. Given the arriving gradient
# $G = \partial L / \partial Z$ (`d_Z`), of shape $(N, q)$, sum over every path:
#
# - $W_{kj}$ multiplies $X_{ik}$ in $Z_{ij}$ for every example $i$ (multiply swaps, paths sum):
#   $\frac{\partial L}{\partial W_{kj}} = \sum_i X_{ik}\, G_{ij}$, that is
#   $\mathtt{dW} = X^\top G$, shape $(p, q)$.
# - $b_j$ is added to $Z_{ij}$ for every example (add distributes, paths sum):
#   $\frac{\partial L}{\partial b_j} = \sum_i G_{ij}$, the column sums of $G$, shape $(1, q)$.
#   The bias was broadcast over the batch in the forward pass, so its gradient is summed over
#   the batch in the backward pass.
# - $X_{ik}$ multiplies $W_{kj}$ for every unit $j$:
#   $\frac{\partial L}{\partial X_{ik}} = \sum_j G_{ij} W_{kj}$, that is
#   $\mathtt{d\_X} = G\, W^\top$, shape $(N, p)$.


# %%
def linear_forward(X, W, b):
    """``Z = X @ W + b``. ``X``: (N, p), ``W``: (p, q), ``b``: (1, q).

    Returns ``Z`` of shape (N, q) and the cache ``(X, W)`` that the backward pass needs.
    """
    Z = np.dot(X, W) + b  # (N, q)   X W + b   (np.dot is X @ W: see the note after 2.6)
    return Z, (X, W)


def linear_backward(d_Z, cache, need_d_X: bool = True):
    """Gradients of a linear layer from the arriving gradient ``d_Z`` of shape (N, q).

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


# %% [markdown]
# ### 2.5 ReLU: $A = \max(0, Z)$
#
# ReLU acts entry by entry with local derivative 1 where $Z > 0$ and 0 where $Z < 0$ (0 at the
# kink, as in 2.1). Max routes, so the chain rule is a mask:
#
# $$\mathtt{d\_Z} = \mathtt{d\_A} \odot \mathbb 1[Z > 0] .$$


# %%
def relu_forward(Z):
    """``A = max(0, Z)`` entry by entry. Returns ``A`` (same shape as ``Z``) and the cache ``Z``."""
    A = np.maximum(Z, 0)
    return A, Z


def relu_backward(d_A, Z):
    """``d_Z = d_A * [Z > 0]``: the arriving gradient where the unit was active, 0 elsewhere.

    >>> relu_backward(np.array([[5.0, 5.0, 5.0]]), np.array([[-1.0, 0.0, 2.0]]))
    array([[0., 0., 5.]])
    """
    return d_A * (Z > 0)  # (N, H)


# %% [markdown]
# ### 2.6 The whole network
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
# `mlp_forward` runs the layers $W_1, b_1, \ldots, W_K, b_K$ for any number $K$ of them,
# `mlp_backward` walks them backwards, and `loss_and_grads` is forward, loss and backward in one
# call. The `activation` argument takes any `(forward, backward)` pair shaped like ReLU's.


# %%
def mlp_forward(params, X, activation=(relu_forward, relu_backward)):
    """Forward pass: ``activation`` after every hidden layer, a linear output layer.

    ``X``: (N, D). ``activation``: a ``(forward, backward)`` pair like ReLU's. Returns ``out``
    (N, C) and the cache for ``mlp_backward``.
    """
    K = _check_params(params, X)
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
    d_Z = d_out  # the output layer is linear: dL/dZ_K = dL/d out
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
# On the worked example these functions give the numbers of 2.2:

# %%
if __name__ == "__main__":
    example = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    _, grads = loss_and_grads(example, X, y, mse_loss)
    by_hand = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    print("same as by hand:", all(np.array_equal(grads[k], by_hand[k]) for k in by_hand))

# %% [markdown] tags=["deeper"]
# **Going deeper: why `np.dot` and not `@`.** For 2-D arrays they compute the same matrix
# product, and for most shapes through the same BLAS routine (BLAS: the optimised library that
# NumPy hands matrix products to). One case differs: a column times a row, $(N, 1)$ times
# $(1, q)$, which the article's network meets twice a step. There `@` runs a plain loop and
# `np.dot` calls BLAS, several times faster, with the same numbers to the last bit. The
# [Benchmark](../benchmark/) page measures it.

# %% [markdown]
# ## 3. Gradient checking
#
# A backward pass can be wrong and still train: a gradient off by a constant factor, or with one
# term missing, often still points downhill. So check it against the definition of the
# derivative, which needs no calculus: the **centred finite difference**, one entry at a time,
#
# $$\frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h},
#   \qquad h = 10^{-5}.$$
#
# **Why centred, and why float64.** The one-sided $(L(\theta + h) - L(\theta))/h$ is off by about
# $\tfrac{h}{2} L''$; in the centred form the $L''$ terms of the two Taylor expansions cancel and
# only $\tfrac{h^2}{6} L'''$ is left. Here even that is zero: with a squared error, a ReLU
# network's loss is a quadratic function of any one parameter between kinks, and the centred
# difference of a quadratic is exact. What remains is rounding: the subtraction cancels almost
# all the digits of $L$, leaving an error of about $\varepsilon |L| / h$, where $\varepsilon$ is
# the spacing of floating-point numbers near 1. That is $10^{-11}$ in float64
# ($\varepsilon \approx 2 \times 10^{-16}$) but $10^{-2}$ in float32 ($\varepsilon \approx
# 10^{-7}$), as large as the errors we hunt. So the check always runs in float64.
#
# `numerical_gradient(f, x)` does this for any function `f` of one array `x`, so you can check a
# layer of your own with it.


# %%
def numerical_gradient(f, x, h: float = 1e-5):
    """Centred finite differences of a scalar function ``f`` of the array ``x``.

    Moves each entry of ``x`` to ``x + h`` and ``x - h`` in place, calls ``f(x)``, and restores
    it. Returns ``(f(x + h) - f(x - h)) / 2h`` per entry, shaped like ``x``.

    >>> x = np.array([1.0, 2.0, 3.0])
    >>> numerical_gradient(lambda x: np.sum(x**2), x).round(6)  # the gradient of |x|^2 is 2x
    array([2., 4., 6.])
    """
    h = _check_numerical(x, h)
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


# %% [markdown]
# `grad_check` applies it to every parameter of a network and compares with `mlp_backward`'s
# gradient $g$. **An entry passes when $|g - g_\mathrm{num}| \le 10^{-8} + 10^{-6}\,
# |g_\mathrm{num}|$**: a thousand times the finite difference's own error, and far less than a
# real bug (a wrong sign or factor, a forgotten mask) misses by. This is the form of the rule in
# `torch.autograd.gradcheck`, with tighter tolerances than its defaults ($10^{-5}$ and
# $10^{-3}$). One case needs care: the kink. If a pre-activation lies within $h$ of 0, one of
# $\theta \pm h$ switches its unit on or off, and the finite difference measures a slope that
# belongs to neither side. `grad_check` notices when an entry's two evaluations switched a unit,
# and skips and counts that entry ([When it breaks](../failure_modes/) shows one).


# %% tags=["fold"]
# grad_check: numerical_gradient on every entry of every tensor, in float64, skipping kinks
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
# The article's network at its initialisation, all 193 numbers:

# %%
if __name__ == "__main__":
    print(grad_check(params_init, X_sine, y_sine, mse_loss))

# %% [markdown]
# Every entry agrees to about $10^{-11}$: ten digits.
#
# **Why one backward pass, not finite differences.** The finite difference needs two loss
# evaluations per parameter, 386 forward passes for this network's 193 numbers, and two million
# for a network of a million. Backpropagation gets every gradient from one forward and one
# backward pass, which together cost a few forward passes whatever the number of parameters.
# Measured here:

# %% tags=["fold"]
# Timing: one forward and backward pass, against finite differences of every parameter
if __name__ == "__main__":
    import time

    def milliseconds(run, repeat=5):
        """The median time of ``run()`` in milliseconds."""
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))

    def all_finite_differences():
        p = {name: v.copy() for name, v in params_init.items()}

        def loss_of(_):  # numerical_gradient moves one entry of p[name] in place
            return mse_loss(mlp_forward(p, X_sine)[0], y_sine)[0]

        return {name: numerical_gradient(loss_of, p[name]) for name in p}

    backprop_ms = milliseconds(lambda: loss_and_grads(params_init, X_sine, y_sine, mse_loss), 50)
    finite_ms = milliseconds(all_finite_differences)
    print(f"forward + backward pass: {backprop_ms:.3f} ms")
    print(f"finite differences of all 193 parameters (386 forward passes): {finite_ms:.1f} ms")
    print(f"backpropagation is {finite_ms / backprop_ms:.0f} times faster here")

# %% [markdown]
# ## 4. The loop, as functions
#
# Three pieces remain: the starting point, the update, and the loop.
#
# **The start: He initialisation.** `init_mlp` draws each weight from $\mathcal N(0,
# 2/\mathrm{fan}_\mathrm{in})$ and sets each bias to 0. Why the 2: a unit sums
# $\mathrm{fan}_\mathrm{in}$ products $w\,a$, so with independent weights of mean 0,
# $\operatorname{Var}(z) = \mathrm{fan}_\mathrm{in}\, \operatorname{Var}(w)\, \mathbb E[a^2]$. A
# ReLU zeroes the negative half of a $z$ that is symmetric around 0, which halves its mean
# square: $\mathbb E[a^2] = \operatorname{Var}(z_\mathrm{prev})/2$. With $\operatorname{Var}(w) =
# 2/\mathrm{fan}_\mathrm{in}$ the factors cancel, so every layer's $Z$ has the variance of the
# layer before: the signal neither fades nor explodes with depth. (The scheme is He et al.'s,
# 2015; [When it breaks](../failure_modes/) shows what other scales do.)


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


# %% [markdown]
# Given the article's generator, it draws the article's numbers:

# %%
if __name__ == "__main__":
    rng = np.random.RandomState(0)
    X_sine, y_sine = make_sine_data(rng)  # the same 200 points as in section 1
    params = init_mlp([1, 64, 1], rng)
    print("init_mlp draws the article's start:",
          all(np.array_equal(params[k], params_init[k]) for k in params))  # fmt: skip

# %% [markdown]
# **The update.** Why does $\theta \leftarrow \theta - \eta\, g$, with $g$ the gradient, lower
# the loss? To first order, a change $\Delta\theta$ changes the loss by $g \cdot \Delta\theta$,
# the sum over all parameters of gradient times change. With $\Delta\theta = -\eta\, g$ that is
#
# $$\Delta L \approx -\eta\, \|g\|^2 < 0 ,$$
#
# a decrease, for any $g \ne 0$, as long as $\eta$ is small enough for the first order to
# dominate. On the article's network at its start:

# %%
if __name__ == "__main__":
    loss, grads = loss_and_grads(params_init, X_sine, y_sine, mse_loss)
    g_squared = sum(np.sum(g**2) for g in grads.values())  # ||g||^2
    for lr in (1e-4, 1e-2):
        stepped = {k: params_init[k] - lr * grads[k] for k in params_init}
        new_loss, _ = loss_and_grads(stepped, X_sine, y_sine, mse_loss)
        print(f"lr = {lr:g}: predicted change -lr ||g||^2 = {-lr * g_squared:+.6f}, "
              f"measured {new_loss - loss:+.6f}")  # fmt: skip

# %% [markdown]
# At $\eta = 10^{-4}$ the prediction is right within 1%. At the article's $\eta = 0.01$ the loss
# still falls, but by far less than predicted (the prediction would take it below zero): the
# step is long enough for the curvature, the second-order term, to count. That is what makes the
# loss climb after step 1 (the page on [the step size](../step_size/) follows it).
#
# `SGD` (stochastic gradient descent, the usual name of this update) applies it in place to every
# array of `params`. Its optional **momentum** $\mu$ keeps a **velocity** $b$, a running sum of
# past gradients, and steps along it: $b_t = \mu\, b_{t-1} + g_t$,
# $\theta_t = \theta_{t-1} - \eta\, b_t$ (section 5).
#
# **The loop.** `train` repeats forward, loss, backward and update. By default each step uses all
# $N$ rows; with `batch_size` it uses that many at a time, in a new random order at every
# **epoch** (one pass over the data); [Mini-batches and held-out data](../minibatches/) shows
# what that changes. Bad input raises a `ValueError` before anything changes, a loss that
# overflows stops `train` at that step, and Ctrl-C stops it between two steps.


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
        self.momentum = _number("momentum", momentum, allow_low=True, below=1)
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
    Ctrl-C stops at the end of a step; a loss that is not finite raises ``FloatingPointError``.
    """
    _check_training(params, X, y, loss_fn, optimizer, steps, batch_size, rng, log_every)
    losses = []
    # Overflow shows up as an infinite loss, reported with its step by _stop_if_diverged;
    # NumPy's warnings on the way would bury that message. Ctrl-C waits for the step to finish.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _hold_ctrl_c() as stop:
        for step, (X_batch, y_batch) in enumerate(_batches(X, y, steps, batch_size, rng)):
            out, cache = mlp_forward(params, X_batch, activation)  # forward
            loss, d_out = loss_fn(out, y_batch)  # loss
            grads = mlp_backward(params, cache, d_out)  # backward
            _stop_if_diverged(loss, step, optimizer)
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

# %% [markdown] tags=["deeper"]
# **Going deeper: why `train` does not call `loss_and_grads`.** It writes the same three calls
# out, so that each step's arrays stay alive until the next step's forward pass has made its
# own. NumPy then reuses the freed memory instead of asking the operating system for fresh
# pages every step, which on the article's network costs more than the arithmetic. The
# [Benchmark](../benchmark/) page measures the loop.

# %% [markdown]
# ## 5. Adam
#
# The climb in section 1 shows the limit of a single learning rate: $\eta$ must be small enough
# for the steepest direction of the loss, where a large step overshoots, yet large enough to make
# progress along the flattest, where a small step crawls. Two older ideas attack this, and Adam
# combines them:
#
# - **Momentum** keeps a running average of the gradients: directions in which the gradient
#   keeps its sign build up speed, directions in which it flips back and forth partly cancel.
# - **RMSProp** divides each coordinate's step by the root of a running mean of that
#   coordinate's squared gradient, so every coordinate moves by about $\eta$ whatever the scale
#   of its gradient.
#
# **Adam** (Kingma & Ba, 2015, Algorithm 1) keeps both means. With $g_t$ the gradient at step
# $t = 1, 2, \ldots$ and $m_0 = v_0 = 0$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},$$
#
# with $\beta_1 = 0.9$, $\beta_2 = 0.999$ and $\epsilon = 10^{-8}$ by default. For a steady
# gradient $\hat m / \sqrt{\hat v}$ is about $\pm 1$, so each coordinate moves by about $\eta$.
# **Bias correction:** because $m_0 = v_0 = 0$, the early means are too small ($m_1 = 0.1\,
# g_1$); dividing by $1 - \beta^t$ removes exactly that shrinkage. Without it the steps start
# $(1 - \beta_1^t)/\sqrt{1 - \beta_2^t} \approx 3.2$ times too large at $t = 1$.
#
# The five lines of the update, one parameter at a time, exactly as the equations read:

# %%
if __name__ == "__main__":

    def adam_update(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        """One Adam step for one parameter array: the new ``(p, m, v)``."""
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        return p, m, v

    params = {name: p.copy() for name, p in params_init.items()}
    m = {name: np.zeros_like(p) for name, p in params.items()}
    v = {name: np.zeros_like(p) for name, p in params.items()}
    for t in range(1, 101):
        _, grads = loss_and_grads(params, X_sine, y_sine, mse_loss)
        for name in params:
            params[name], m[name], v[name] = adam_update(
                params[name], grads[name], m[name], v[name], t, lr=0.01
            )

# %% [markdown]
# The library's `Adam` class (folded below, with `RMSProp`) computes the same five lines, but
# writes every result into arrays it keeps from step to step instead of making new ones, which
# is faster on large tensors. Its numbers are the same to the last bit:


# %% tags=["fold"]
# RMSProp and Adam: the update equations above, each computed in place
class RMSProp:
    """RMSProp as in ``torch.optim.RMSprop``: each coordinate's step divided by the root of a
    running mean of its squared gradient; updates in place.

    ``v = alpha * v + (1 - alpha) * g**2``, then ``p -= lr * g / (sqrt(v) + eps)``.
    """

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        self.lr = _number("lr", lr)
        self.alpha = _number("alpha", alpha, allow_low=True, below=1)
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
            p -= self.lr * g / (np.sqrt(v) + self.eps)  # theta_t = theta_{t-1} - lr g_t / (...)


class Adam:
    """Adam (Kingma & Ba, Algorithm 1), in place. ``bias_correction=False`` leaves out the
    division by ``1 - beta**t``, as the article's one-line formula does.

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
            # Two scratch arrays per tensor, reused every step: a new array as large as a
            # parameter costs more than the arithmetic on it (the Benchmark page measures it).
            self._scratch = {n: (np.empty_like(p), np.empty_like(p)) for n, p in params.items()}
            self._held = dict(params)
        self.t += 1
        t, (beta1, beta2), eps, lr = self.t, self.betas, self.eps, self.lr
        correction1 = 1 - beta1**t if self.bias_correction else 1.0
        correction2 = 1 - beta2**t if self.bias_correction else 1.0
        for name, p in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m_hat, denominator = self._scratch[name]
            # m_t = beta1 m_{t-1} + (1 - beta1) g_t
            m *= beta1
            m += np.multiply(1 - beta1, g, out=m_hat)
            # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
            v *= beta2
            v += np.multiply(1 - beta2, np.square(g, out=denominator), out=denominator)
            # m_hat_t = m_t / (1 - beta1^t),  v_hat_t = v_t / (1 - beta2^t)
            np.divide(m, correction1, out=m_hat)
            v_hat = np.divide(v, correction2, out=denominator)
            # theta_t = theta_{t-1} - lr m_hat_t / (sqrt(v_hat_t) + eps)
            denominator = np.sqrt(v_hat, out=denominator)
            denominator += eps
            update = np.multiply(lr, m_hat, out=m_hat)
            update /= denominator
            p -= update


# %%
if __name__ == "__main__":
    params_adam = {name: p.copy() for name, p in params_init.items()}
    optimizer = Adam(lr=0.01)
    for _ in range(100):
        _, grads = loss_and_grads(params_adam, X_sine, y_sine, mse_loss)
        optimizer.step(params_adam, grads)
    print("Adam.step and the five lines, 100 steps, bit for bit:",
          all(np.array_equal(params_adam[k], params[k]) for k in params))  # fmt: skip

# %% [markdown]
# Now the article's network trained for 2001 steps by SGD and by Adam, both at $\eta = 0.01$ from
# the same start. The noise floor is marked: $y$ carries noise of variance $0.1^2 = 0.01$, which
# no function of $x$ can predict.

# %% tags=["fold"]
# SGD and Adam, 2001 steps from the same start
if __name__ == "__main__":
    curves = {"SGD, lr = 0.01": losses_sgd}
    params = {name: p.copy() for name, p in params_init.items()}
    curves["Adam, lr = 0.01"] = train(params, X_sine, y_sine, mse_loss, Adam(lr=0.01), steps=2001)
    for label, curve in curves.items():
        below = next((step for step, value in enumerate(curve) if value < 0.02), None)
        print(f"{label:16s} loss after 2001 steps: {curve[-1]:.5f}   "
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
        sgd_end, adam_end = (curve[-1] for curve in curves.values())
        save_figure(
            fig,
            "05_sgd_vs_adam.png",
            alt=(
                f"Loss curves of SGD and Adam at learning rate 0.01 from the same start, on a "
                f"log scale. Adam falls to the noise floor 0.01 within a few hundred steps and "
                f"ends at {adam_end:.4f}; SGD ends at {sgd_end:.3f}, about "
                f"{sgd_end / 0.01:.0f} times the floor, after 2001 steps."
            ),
        )

# %% [markdown]
# Adam reaches the noise floor in a few hundred steps; SGD is still several times above it after
# 2001. "The same learning rate" means different things, though: SGD's step is $\eta\, g$, so its
# usable $\eta$ depends on the loss's curvature, while Adam's step is about $\eta$ per coordinate
# whatever the gradient. [Optimizers you can see](../optimizers/) draws momentum, RMSProp and
# Adam on a loss surface and sweeps the learning rate of each.
#
# ## 6. Softmax cross-entropy classification
#
# For $C$ classes the network outputs $C$ **logits** per example, $z_i = \mathrm{out}_{i,:}$, any
# real numbers. **Softmax** turns them into probabilities, and **cross-entropy** scores the
# probability given to the true class $y_i$:
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
#   \mathtt{d\_logits} = \frac{1}{N}\big(p - \operatorname{one\_hot}(y)\big) \quad (N, C),$$
#
# where $\operatorname{one\_hot}(y)$ has a 1 in each row at the true class and 0 elsewhere. The
# $p$ comes from the normaliser (raising any logit takes probability from every class), the
# $-1$ from the true class's own logit, and the $1/N$ from the mean.
#
# **Two numerical safeguards**, both exact rewrites. *Subtract each row's largest logit* first:
# softmax does not change when a constant is subtracted from a whole row, and afterwards the
# largest exponent is $e^0 = 1$, so nothing overflows (`np.exp(1000.)` is `inf`). *Compute the
# loss as log-sum-exp minus the true logit*, not as `log(p)`: for a badly wrong prediction
# $p_{iy_i}$ can be smaller than the smallest float and round to 0, and `log(0)` is $-\infty$,
# while the second form takes no log of anything that can vanish (the sum is at least 1).


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
    _check_logits(logits, labels)
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), row max 0
    with np.errstate(under="ignore"):  # e^-800 is 0 here, and 0 is the right answer
        exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)  # (N,), >= 1
    loss = np.mean(np.log(sum_exp) - shifted[rows, labels])  # log-sum-exp minus the true logit
    d_logits = exp / sum_exp[:, None]  # (N, C)   softmax p
    d_logits[rows, labels] -= 1  # p - one_hot(y), without building the one-hot matrix
    d_logits /= N  # (N, C)   the 1/N of the mean
    return loss, d_logits


def predict(params, X, activation=(relu_forward, relu_backward)):
    """The predicted class of each row of ``X``: the argmax of the logits, shape (N,).

    ``activation`` must be the one the network was trained with.
    """
    _finite("X", _array("X", X))
    return mlp_forward(params, X, activation)[0].argmax(axis=1)


# %% [markdown]
# **The data.** Three interleaved spiral arms in the plane, one class each: no straight line
# separates them, so the hidden layers must bend the space. A quarter of the points is held out,
# never trained on, to measure accuracy on points the network has not seen. The network has two
# hidden layers of 64 units, `[2, 64, 64, 3]`. Before training, a sanity check: a classifier that
# knows nothing should score about $\ln 3 \approx 1.10$, the loss of a uniform guess.

# %%
if __name__ == "__main__":
    spiral_rng = np.random.default_rng(0)
    X_spiral, labels_spiral = make_spirals(spiral_rng)
    X_train, y_train, X_test, y_test = split(X_spiral, labels_spiral, spiral_rng)
    classifier = init_mlp([2, 64, 64, 3], spiral_rng)
    logits = mlp_forward(classifier, X_train)[0]
    print(f"at initialisation: loss {softmax_cross_entropy(logits, y_train)[0]:.3f} "
          f"(ln 3 = {np.log(3):.3f}), logits' standard deviation {logits.std():.2f}, "
          f"largest probability {softmax(logits).max(axis=1).mean():.2f} on average, "
          f"accuracy {np.mean(logits.argmax(axis=1) == y_train):.0%}")  # fmt: skip
    losses = train(classifier, X_train, y_train, softmax_cross_entropy, Adam(lr=0.01), steps=500)
    print(f"after 500 steps of Adam: loss {losses[-1]:.5f}")
    train_accuracy = np.mean(predict(classifier, X_train) == y_train)
    test_accuracy = np.mean(predict(classifier, X_test) == y_test)
    print(f"train accuracy {train_accuracy:.1%} on {len(y_train)} points, "
          f"test accuracy {test_accuracy:.1%} on {len(y_test)} held-out points")  # fmt: skip

# %% [markdown]
# The first loss is close to $\ln 3$ but above it: the random logits are small but not zero, so
# each point's guess leans a little towards one class, more often a wrong one than the right
# one. A first loss far from $\ln C$ would mean a bug or a bad scale. Training then separates the
# arms, and the held-out accuracy shows the network learned the spirals, not the points. The
# classifier's gradients pass the same check as the regression's, at a fresh initialisation:
# every entry of all six tensors (4,547 numbers), on 60 training points.

# %%
if __name__ == "__main__":
    fresh = init_mlp([2, 64, 64, 3], np.random.default_rng(1))
    print(grad_check(fresh, X_train[:60], y_train[:60], softmax_cross_entropy))

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
            "06_spiral_decision_regions.png",
            alt=(
                "Three spiral arms of training points and held-out triangles in the plane, with "
                "the classifier's three coloured decision regions following each arm."
            ),
        )

# %% [markdown]
# ## What you have built
#
# A network of any depth, its loss, every derivative by hand and a check that each is right to
# ten digits, the update rules from gradient descent to Adam, and a classifier: the whole
# training loop, nothing automated. PyTorch's `loss.backward()` does what `mlp_backward` does;
# `optimizer.step()` is `SGD.step` or `Adam.step`. Next, in this order:
#
# - [The step size and curvature](../step_size/): why the article's loss climbs first, and
#   where the largest usable learning rate really lies;
# - [Optimizers you can see](../optimizers/): momentum, RMSProp and Adam on a loss surface;
# - [Mini-batches and held-out data](../minibatches/): the noise of small batches, and fitting
#   the data versus fitting its noise;
# - [When it breaks](../failure_modes/): bugs and bad settings made on purpose, and the symptom
#   each shows;
# - [Exercises](../exercises/): write a layer, a loss and an optimizer yourself, checked by the
#   page;
# - [Against PyTorch](../pytorch/): the same loop in PyTorch, gradient for gradient.
