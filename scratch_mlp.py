# %% [markdown]
# # The training loop from scratch
#
# Train a neural network with nothing but NumPy, writing every derivative yourself, following the
# article *The Training Loop From Scratch: Forward, Backward, Gradient Descent in NumPy*.
#
# **You need** derivatives and the chain rule, matrix products, NumPy, and the mean and variance
# of a random number. **You will** derive a network's backward pass by hand, check it with
# numbers, write the training loop, and train with Adam and softmax cross-entropy: what PyTorch's
# `loss.backward()` and `optimizer.step()` do for you. **About 45 minutes**, with the exercise.
# Every network trains by repeating four steps:
#
# 1. **forward**: compute the output from the input and the parameters;
# 2. **loss**: one number saying how wrong that output is;
# 3. **backward**: the gradient of the loss with respect to every parameter;
# 4. **update**: move every parameter a little against its gradient.
#
# **Notation.** The math uses the code's names:
#
# | symbol | code | meaning |
# |---|---|---|
# | $N$, $D$, $H$, $C$ | | examples, input features, hidden units, outputs |
# | $X$, $y$ | `X`, `y` | inputs $(N, D)$, one example per row, and targets |
# | $W_l$, $b_l$ | `W1`, `b1` | layer $l$'s weights and bias: $W_1$ is $(D, H)$, $b_1$ is $(1, H)$ |
# | $Z_l$, $A_l$ | `Z1`, `A1` | a layer's pre-activation (before the ReLU) and activation (after) |
# | $\partial L / \partial W_1$ | `dW1` | a parameter's gradient, shaped like $W_1$ |
# | $\partial L / \partial Z_1$ | `d_Z1` | the gradient with respect to an intermediate array |
# | $\eta$ | `lr` | the learning rate: how far each update moves |
# | $\mathbb 1[\cdot]$, $\odot$ | `(Z1 > 0)`, `*` | 1 where true, else 0; entry-by-entry product |

# %% tags=["fold"]
# Imports, input checks, data and figure helpers (nothing here is about training)
import contextlib
import contextvars
import functools
import inspect
import itertools
import math
import os
import signal
import sys
import threading

import numpy as np

# What a project copies this file for: the library.
__all__ = [
    "init_mlp",
    "linear_forward",
    "linear_backward",
    "relu_forward",
    "relu_backward",
    "RELU",
    "mlp_forward",
    "mlp_backward",
    "mse_loss",
    "softmax_cross_entropy",
    "loss_and_grads",
    "numerical_gradient",
    "grad_check",
    "GradCheckReport",
    "SGD",
    "RMSProp",
    "Adam",
    "train",
    "predict",
]
# The tutorial's helpers, which this page and the pages after it use to make data and figures.
# They serve the site, not your network, so they stay outside the library.
HELPERS = [
    "make_sine_data",
    "make_spirals",
    "split",
    "softmax",
    "article_loop",
    "draw_graph",
    "new_figure",
    "save_figure",
    "FIGURES_DIR",
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

        return Figure(**figure_kwargs)
    except ImportError:
        _say_once("matplotlib is not installed: figures are skipped (pip install matplotlib).")
    except Exception as error:  # a broken install or setting, such as MPLBACKEND=nonsense
        _say_once(f"matplotlib does not work here ({error}): figures are skipped.")
    return None


def save_figure(fig, name: str, alt: str) -> str | None:
    """Tutorial helper: write ``fig`` to ``figures/<name>`` and print the path.

    In a notebook (the rendered page) it shows that very PNG instead, with ``alt`` as its text
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
    except Exception as error:  # matplotlib imports but cannot draw (a broken backend setting)
        _say_once(f"matplotlib cannot draw here ({error}): figures are skipped.")
        return None
    if "ipykernel" not in sys.modules:
        print(f"figure written: {path}")
    else:
        import base64
        import html

        from IPython.display import HTML, display

        with open(path, "rb") as file:
            data = base64.b64encode(file.read()).decode("ascii")
        display(HTML(f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'))
    return path


# Input checks. The functions a user calls to train and to check (init_mlp, train, grad_check,
# loss_and_grads, predict, numerical_gradient, mlp_forward/mlp_backward and the optimizers' step)
# check what they are given once, on entry, before changing anything; the layer functions stay
# plain math, with a shape check where a wrong shape would broadcast silently. Inside train, which
# has checked everything on entry, the per-call checks are off (_CHECKING), so a step costs what
# its arithmetic costs.
_CHECKING = contextvars.ContextVar("scratch_mlp_checking", default=True)


@contextlib.contextmanager
def _checks(on: bool):
    """The per-call checks on or off within the block (a context variable: other threads and
    other contexts keep their own setting)."""
    token = _CHECKING.set(on)
    try:
        yield
    finally:
        _CHECKING.reset(token)


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


def _betas(name: str, value) -> tuple:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ValueError(f"{name} must be two numbers in [0, 1), got {value!r}")
    return tuple(_number(name, b, allow_low=True, below=1) for b in value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


class _Checked:
    """An optimizer's hyperparameter, checked whenever it is set (``adam.lr = x`` too), so a bad
    value is refused before a step uses it: by ``_number`` with ``bounds``, or by ``check``."""

    def __init__(self, check=_number, **bounds):
        self.check, self.bounds = check, bounds

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, optimizer, owner=None):
        return self if optimizer is None else optimizer.__dict__[self.name]

    def __set__(self, optimizer, value):
        optimizer.__dict__[self.name] = self.check(self.name, value, **self.bounds)


def _count(name: str, value, *, low: int = 0) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return int(value)


def _plain(value) -> bool:
    """Whether ``value`` is a NumPy array and not np.matrix, whose rows stay 2-D when indexed, nor
    a masked array, which hides entries from the checks but not from np.dot."""
    return isinstance(value, np.ndarray) and not isinstance(value, (np.matrix, np.ma.MaskedArray))


def _real(value) -> bool:
    """Whether ``value`` is a real number: a Python or NumPy int or float (not a bool), or a 0-d
    array of one."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, bool
    )
    return number or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
    )


def _array(name: str, value, ndim: int | None = None) -> np.ndarray:
    if not _plain(value):
        raise ValueError(f"{name} must be a NumPy array, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape}")
    return value


def _finite(name: str, value) -> None:
    # min and max are NaN or infinite exactly when some entry is, without a boolean copy.
    if value.dtype.kind == "f" and value.size and not np.isfinite([value.min(), value.max()]).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def _same_shape(name: str, value, shape) -> None:
    if _CHECKING.get() and getattr(value, "shape", None) != tuple(shape):
        raise ValueError(
            f"{name} must have shape {tuple(shape)}, got {getattr(value, 'shape', value)}"
        )


_FLOATS = (np.float32, np.float64)  # float16 is refused: Adam's eps = 1e-8 is 0 in float16


def _float_dtype(dtype: np.dtype) -> bool:
    """float32 or float64, in the machine's byte order."""
    return dtype.type in _FLOATS and dtype.isnative


def _generator(rng, method: str) -> bool:
    """Whether ``rng`` is a random generator object with ``method``: not a class, and not the
    np.random module, which would draw from NumPy's global state (this file never touches it)."""
    return (
        not isinstance(rng, type) and rng is not np.random and callable(getattr(rng, method, None))
    )


def _check_init(sizes, rng, dtype, weight_std, hidden_bias) -> None:
    listed = isinstance(sizes, (list, tuple, range)) or getattr(sizes, "ndim", 0) == 1
    if not listed or len(sizes) < 2:
        raise ValueError(f"sizes needs at least two entries [D, C] in a list, got {sizes!r}")
    for size in sizes:
        _count("sizes", size, low=1)
    if not _generator(rng, "standard_normal"):
        raise ValueError(f"rng must be a generator such as np.random.default_rng(0), got {rng!r}")
    try:
        float_type = _float_dtype(np.dtype(dtype))
    except TypeError:
        float_type = False
    if not float_type:
        raise ValueError(
            f"dtype must be a floating-point type, np.float32 or np.float64, got {dtype!r}"
        )
    if weight_std is not None:  # 0 is allowed: the all-zero start is a lesson of its own
        _number("weight_std", weight_std, allow_low=True)
    _number("hidden_bias", hidden_bias, low=-math.inf)
    # A weight is weight_std times a normal draw, which never reaches 1000: checked here, before
    # anything is drawn from rng.
    with np.errstate(over="ignore"):
        if not np.isfinite(np.dtype(dtype).type([(weight_std or 0.0) * 1e3, hidden_bias])).all():
            raise ValueError(f"weight_std or hidden_bias overflows {np.dtype(dtype)}")


_UNSET = object()  # "not given", where None is a value to check


def _check_params(params, X=None, activation=_UNSET) -> int:
    """The number of layers K, after checking ``params`` (``W1, b1, ..., WK, bK`` of one float
    dtype, each layer's shapes fitting the next) and, if given, ``X`` and ``activation``."""
    K = len(params) // 2 if isinstance(params, dict) else 0
    if not _CHECKING.get():
        return K
    if K == 0 or set(params) != {f"{kind}{l}" for l in range(1, K + 1) for kind in "Wb"}:
        raise ValueError(f"params must be a dict with keys W1, b1, ..., WK, bK; got {params!r:.80}")
    dtype = getattr(params["W1"], "dtype", None)
    for l in range(1, K + 1):
        for name in (f"W{l}", f"b{l}"):
            p = params[name]
            # One dtype for all: one float64 tensor would silently make a float32 network float64.
            if not _plain(p) or p.dtype != dtype or not _float_dtype(dtype):
                raise ValueError(
                    f"params[{name!r}] is {getattr(p, 'dtype', type(p).__name__)}: every parameter "
                    f"must be a float32 or float64 NumPy array of one dtype, in the machine's byte "
                    f"order (W1 is {dtype}; p.astype(np.float64) converts)"
                )
        W, rows = params[f"W{l}"], params[f"W{l - 1}"].shape[1] if l > 1 else None
        if W.ndim != 2 or rows not in (None, W.shape[0]) or 0 in W.shape:
            fits = f" with {rows} rows, as W{l - 1} has {rows} columns" if rows else ""
            raise ValueError(f"params['W{l}'] must be 2-D{fits}; got shape {W.shape}")
        _same_shape(f"params['b{l}']", params[f"b{l}"], (1, W.shape[1]))
    if X is not None:
        if _array("X", X, ndim=2).shape[1] != params["W1"].shape[0]:
            W1 = params["W1"].shape
            raise ValueError(f"X must have {W1[0]} columns (W1 is {W1}), got {X.shape}")
        if X.dtype != dtype:
            raise ValueError(
                f"X has dtype {X.dtype} but the parameters are {dtype}; "
                f"convert it with X.astype(np.{dtype.name})"
            )
    if activation is not _UNSET:
        _check_activation(activation, dtype, params["W1"].shape[1])
    return K


def _check_activation(activation, dtype, width: int = 3) -> None:
    """``activation`` must be a (forward, backward) pair that works like ReLU's on a probe. A pair
    that passed is remembered, so a training loop pays for the probe once."""
    pair = isinstance(activation, (tuple, list)) and len(activation) == 2
    if not (pair and _takes(activation[0], 1) and _takes(activation[1], 2)):
        raise ValueError(
            f"activation must be a (forward, backward) pair of functions, got {activation!r}"
        )
    key = (*map(id, activation), dtype, width)
    if _ACTIVATIONS_SEEN.get(key) == tuple(activation):
        return
    if len(_ACTIVATIONS_SEEN) > 256:  # many throwaway pairs: forget them rather than grow
        _ACTIVATIONS_SEEN.clear()
    Z = np.resize(np.array([-1.5, 0.5, 2.0, 0.25, -0.75, 1.0], dtype=dtype), (2, width))
    try:
        with np.errstate(all="ignore"):  # a NaN here is reported below, not warned about
            out = activation[0](Z)
            d_Z = activation[1](np.ones_like(Z), out[1]) if isinstance(out, tuple) else None
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(
            f"activation fails on a pre-activation of shape {Z.shape}: {error}"
        ) from error
    A = out[0] if isinstance(out, tuple) and len(out) == 2 else None
    if not (isinstance(A, np.ndarray) and A.shape == Z.shape and A.dtype == Z.dtype):
        raise ValueError(
            f"activation's forward must return (A, cache), A of its input's shape and dtype "
            f"{Z.dtype}; got {getattr(A, 'shape', A)} {getattr(A, 'dtype', '')}"
        )
    if not (isinstance(d_Z, np.ndarray) and d_Z.shape == Z.shape and d_Z.dtype == Z.dtype):
        raise ValueError("activation's backward must return d_Z, shaped like its d_A")
    if not (np.isfinite(A).all() and np.isfinite(d_Z).all()):
        raise ValueError("activation gives NaN or infinite values on ordinary inputs")
    _ACTIVATIONS_SEEN[key] = tuple(activation)


_ACTIVATIONS_SEEN = {}  # the activation pairs that passed the probe, by identity


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


def _check_targets(out, y, shape=None, dtype=None) -> None:
    """mse_loss's y: the shape and dtype of ``out`` (or of the ``shape`` and ``dtype`` given)."""
    if shape is None:
        shape, dtype = _array("out", out).shape, out.dtype
    if _array("y", y).shape != shape or y.dtype != dtype:
        raise ValueError(
            f"y is {y.shape} {y.dtype} but the network output is {shape} {dtype}: "
            f"mse_loss needs targets of the same shape and dtype (y.astype(np.{dtype.name}))"
        )


def _check_logits(logits, labels) -> None:
    if _array("logits", logits, ndim=2).dtype.kind != "f":
        raise ValueError(f"logits must be floating point, got dtype {logits.dtype}")
    _check_labels(labels, logits.shape[1], logits.shape[0])


def _check_inputs(params, X, activation) -> int:
    """params, X and activation, as predict and _check_data need them: K, the number of layers."""
    K = _check_params(params, X, activation)
    for name, p in params.items():
        _finite(f"params[{name!r}]", p)
    _finite("X", X)
    return K


def _check_data(params, X, y, loss_fn, activation, probe: int | bool = False):
    """What train, grad_check and loss_and_grads need, checked once on entry: the parameters and
    the data and, with ``probe`` (the rows a step uses; True: all), one forward, loss and backward
    pass on two of them (on all, if loss_fn needs them), to check what loss_fn returns before a
    long run starts."""
    K = _check_inputs(params, X, activation)
    if X.shape[0] == 0:
        raise ValueError("X has no rows: there is nothing to compute a loss on")
    if _array("y", y).shape[:1] != X.shape[:1]:
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {y.shape}")
    _finite("y", y)
    # softmax_cross_entropy's y are class labels: check them all now, not when a mini-batch
    # first meets a bad one. (Looked up by name: the page defines it in a later section.)
    if loss_fn is globals().get("softmax_cross_entropy"):
        _check_labels(y, params[f"W{K}"].shape[1], X.shape[0])
    if loss_fn is globals().get("mse_loss"):  # its y has out's shape: say so with y's own shape
        _check_targets(None, y, (X.shape[0], params[f"W{K}"].shape[1]), X.dtype)
    if not _takes(loss_fn, 2):
        raise ValueError(f"loss_fn must be a function (out, y) -> (loss, d_out), got {loss_fn!r}")
    if probe:  # returns the gradients of the probe, for train to check its optimizer on
        rows = X.shape[0] if probe is True else probe
        # Overflow here is reported by train with its step, as in the loop.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            # Two rows are enough to check what loss_fn returns, and cheap; a loss_fn that only
            # works on whole batches (weights per row, say) is tried on the rows a step uses.
            for n in [2, rows] if rows > 2 else [rows]:
                out, cache = mlp_forward(params, X[:n], activation)
                try:
                    result = loss_fn(out, y[:n])
                    break
                except (TypeError, ValueError, IndexError) as error:
                    if n == rows:
                        raise ValueError(f"loss_fn fails on {n} rows: {error}") from error
            return mlp_backward(params, cache, _loss_output(result)[1])


def _loss_output(result):
    """What a loss_fn returned, if it is ``(loss, d_out)`` with a number for the loss."""
    if not (isinstance(result, tuple) and len(result) == 2 and _real(result[0])):
        raise ValueError(
            f"loss_fn must return (loss, d_out) with a real number loss, got {result!r:.80}"
        )
    return result


def _check_cache(params, cache, d_out) -> None:
    """mlp_backward's arguments: a cache that mlp_forward made from these params, and a d_out
    shaped like that pass's output."""
    if not _CHECKING.get():
        return
    K = _check_params(params)
    try:
        layers = [(layer[0][0], layer[0][1]) for layer in cache] if isinstance(cache, list) else []
    except (TypeError, IndexError, KeyError):
        layers = []
    if len(layers) != K:
        raise ValueError("cache must be the cache that mlp_forward returned for these params")
    if any(W is not params[f"W{l}"] for l, (_, W) in enumerate(layers, start=1)):
        raise ValueError("cache comes from mlp_forward on other params: run it on these params")
    X_last, W_last = layers[-1]
    _array("d_out", d_out)
    _same_shape(
        "d_out (what loss_fn returns as the gradient)", d_out, (len(X_last), W_last.shape[1])
    )
    if d_out.dtype != W_last.dtype:
        raise ValueError(f"d_out must have the parameters' dtype {W_last.dtype}, got {d_out.dtype}")


def _check_grads(params, grads, finite: bool = True) -> None:
    """Raise unless ``grads`` has the keys, shapes and dtypes of ``params``, and finite values."""
    if not (isinstance(params, dict) and isinstance(grads, dict)) or set(grads) != set(params):
        raise ValueError(f"grads must have the keys of params {sorted(params)}, got {grads!r:.80}")
    for name, p in params.items():
        g = grads[name]
        if not (_plain(g) and g.shape == p.shape and g.dtype == p.dtype):
            raise ValueError(
                f"grads[{name!r}] is {getattr(g, 'shape', type(g).__name__)} "
                f"{getattr(g, 'dtype', '')} but params[{name!r}] is {p.shape} {p.dtype}"
            )
        # A NaN or infinite gradient comes from the backward pass or the loss, not from the
        # learning rate: say so before it is written into the weights.
        if finite:
            _finite(f"grads[{name!r}] (from the backward pass)", g)


def _checked_step(step):
    """An optimizer's step, its arguments checked before it changes anything, and run whole:
    under np.seterr(all="raise") an underflow to 0, harmless here, would stop it half-way."""

    @functools.wraps(step)
    def checked(optimizer, params, grads):
        # SGD without momentum is the one optimizer here that keeps no state between steps.
        _check_step(optimizer, params, grads, keeps_state=getattr(optimizer, "momentum", 1) > 0)
        if not _CHECKING.get():  # inside train, whose loop ignores underflow already
            return step(optimizer, params, grads)
        with np.errstate(under="ignore"):
            return step(optimizer, params, grads)

    return checked


def _check_step(optimizer, params, grads, keeps_state: bool | None = True) -> None:
    """Check every parameter and gradient before an optimizer changes any of them.

    An optimizer with state (momentum, Adam's moments) also remembers which arrays that state
    belongs to: stepping it on other arrays would carry one network's history into another.
    ``keeps_state=None`` is train's check before its first step, on a probe's gradients, which
    may be NaN where the loss overflows (train reports that with its step).
    """
    if _CHECKING.get():
        _check_step_arguments(params, grads, finite=keeps_state is not None)
        _check_in_dtype(optimizer, params)
    held = getattr(optimizer, "_held", None)
    if held is not None and (
        held.keys() != params.keys() or any(held[k] is not params[k] for k in held)
    ):
        raise ValueError(
            f"this {type(optimizer).__name__} holds state for other parameter arrays; "
            f"create a new {type(optimizer).__name__} for a new network or a copy of one"
        )
    if held is None and keeps_state:
        optimizer._held = dict(params)


def _check_in_dtype(optimizer, params) -> None:
    """An lr or eps that the parameters' dtype turns into 0 or inf (eps = 1e-46 in float32) would
    write NaN or inf into them: refuse it."""
    dtype = next(iter(params.values())).dtype if params else None
    for name in ("lr", "eps"):
        value = vars(optimizer).get(name)
        if dtype is None or not isinstance(value, float):
            continue
        with np.errstate(over="ignore", under="ignore"):
            cast = dtype.type(value)
        if not np.isfinite(cast) or cast == 0:
            raise ValueError(f"{name} = {value} is {cast} in {dtype}, the parameters' dtype")


def _check_step_arguments(params, grads, finite: bool) -> None:
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of NumPy arrays, got {type(params).__name__}")
    for name, p in params.items():
        if not (_plain(p) and p.dtype.type in _FLOATS and p.flags.writeable):
            raise ValueError(f"params[{name!r}] must be a writeable float32 or float64 NumPy array")
    _check_grads(params, grads, finite)


def _check_numerical(f, x, h):
    """numerical_gradient's arguments: a writeable float array ``x`` that ``h`` can move, and an
    ``f`` that returns a number (tried once here, on ``x`` as it is). Returns ``h`` and ``f``
    wrapped to check each value it returns."""
    h = _number("h", h)
    if not (_array("x", x).dtype.type in _FLOATS and x.flags.writeable):
        raise ValueError(f"x must be a writeable float32 or float64 array, got {x.dtype}")
    _finite("x", x)
    with np.errstate(over="ignore"):
        representable = np.isfinite(x.dtype.type(h))
    if not representable:
        raise ValueError(f"h = {h} is too large for x's dtype {x.dtype}")
    stuck = x + h == x - h  # entries too large for h to move them
    if stuck.any():
        idx = [int(i) for i in np.argwhere(stuck)[0]]
        raise ValueError(f"h = {h} is too small to move x{idx} = {x[tuple(idx)]}")
    if not _takes(f, 1):
        raise ValueError(f"f must be a function of x that returns a number, got {f!r:.60}")

    def checked_f(x):
        value = f(x)
        if not _real(value):
            raise ValueError(f"f must be a function of x that returns a number, got {value!r:.60}")
        return value

    checked_f(x)
    return h, checked_f


def _check_training(
    params, X, y, loss_fn, optimizer, steps, batch_size, rng, log_every, activation, on_step
):
    """train's arguments, checked once before the first step."""
    rows = batch_size if isinstance(batch_size, (int, np.integer)) and batch_size > 0 else None
    grads = _check_data(params, X, y, loss_fn, activation, probe=rows or True)
    _count("steps", steps), _count("log_every", log_every)
    N = X.shape[0]
    if batch_size is not None:
        if _count("batch_size", batch_size, low=1) > N:
            raise ValueError(f"batch_size must be at most N = {N}, got {batch_size}")
        if not _generator(rng, "permutation"):
            raise ValueError(f"batch_size needs rng, a np.random.Generator, got {rng!r}")
    if isinstance(optimizer, type) or not _takes(getattr(optimizer, "step", None), 2):
        raise ValueError(
            f"optimizer must have .step(params, grads), as SGD(lr=0.01) has; got {optimizer!r}"
        )
    _check_step(optimizer, params, grads, keeps_state=None)  # writeable, and not another net's
    if on_step is not None and not _takes(on_step, 3):
        raise ValueError(f"on_step must be a function (step, loss, params), got {on_step!r}")


def _takes(function, n: int) -> bool:
    """Whether ``function`` can be called with ``n`` positional arguments (True where Python cannot
    tell, as for some built-in functions)."""
    if not callable(function):
        return False
    try:
        inspect.signature(function).bind(*range(n))
    except TypeError:
        return False
    except ValueError:  # no signature to read
        pass
    return True


def _stop_if_diverged(loss, d_out, out, step: int, optimizer) -> None:
    if getattr(d_out, "shape", None) != out.shape:  # the probe had two rows; batches have more
        raise ValueError(
            f"loss_fn returned d_out of shape {getattr(d_out, 'shape', d_out)} for "
            f"out of shape {out.shape} at step {step}: d_out must be shaped like out"
        )
    if not _real(loss):
        raise ValueError(
            f"loss_fn returned {loss!r:.40} as the loss at step {step}: it must return a number"
        )
    try:
        finite = math.isfinite(loss)
    except OverflowError:  # an int too large for a float
        finite = False
    if finite and np.isfinite(d_out).all():
        return
    if finite:  # then the gradient the loss returned is what is wrong
        raise FloatingPointError(
            f"loss_fn returned a NaN or infinite d_out at step {step} although the loss is "
            f"finite: check the loss function's gradient"
        )
    if step == 0:  # no update has happened yet, so the learning rate cannot be the cause
        raise FloatingPointError(
            f"the loss is {loss} at step 0, before any update: the initial parameters or "
            f"the loss function overflow on this data (check the weight scale and the loss)"
        )
    raise FloatingPointError(
        f"the loss became {loss} at step {step}: training diverged; try a smaller "
        f"learning rate (optimizer lr = {getattr(optimizer, 'lr', '?')}), or look for NaN in a "
        f"gradient of the step before (a custom activation's backward, or on_step)"
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


def _guarded(train):
    """train with its plumbing kept out of its four steps: its arguments checked once on entry,
    then its loop run under ``_training``, with ``loss_fn`` and ``on_step`` wrapped."""
    signature = inspect.signature(train)

    @functools.wraps(train)
    def guarded(*args, **kwargs):
        arguments = signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        given = arguments.arguments
        _check_training(**given)
        with _training(given["loss_fn"], given["optimizer"], given["on_step"]) as wrapped:
            return train(**{**given, **wrapped})

    return guarded


@contextlib.contextmanager
def _training(loss_fn, optimizer, on_step):
    """The conditions of train's loop, all undone on leaving it. Yields ``loss_fn`` and ``on_step``
    wrapped, as a dict of keyword arguments for train.

    - The per-call checks are off: train checked everything on entry. ``on_step``, the user's
      code, runs with the checks on, under the caller's own NumPy error settings.
    - NumPy's overflow warnings are off: a loss that is not finite stops training at its step
      (``loss_fn`` wrapped checks each loss before the backward pass uses it), with a message
      that says so, and the warnings on the way would bury it.
    - While Python's own Ctrl-C handler is in place, a Ctrl-C is held until the step in progress
      is whole: the wrapped ``on_step``, which train calls at the end of every step, raises
      KeyboardInterrupt then. A second Ctrl-C interrupts at once. A handler of the user's, or an
      ignored SIGINT, is left as it is (and only the main thread receives signals).
    """
    received, settings, steps = [], np.geterr(), itertools.count()

    def hold(signum, frame):
        if received:  # the second Ctrl-C: the user means it
            raise KeyboardInterrupt
        received.append(signum)

    def checked_loss_fn(out, y):
        loss, d_out = loss_fn(out, y)
        _stop_if_diverged(loss, d_out, out, next(steps), optimizer)
        return loss, d_out

    def end_of_step(step, loss, params):
        if on_step is not None:
            arrays = dict(params)
            with _checks(True), np.errstate(**settings):
                on_step(step, loss, params)
            if params.keys() != arrays.keys() or any(params[k] is not a for k, a in arrays.items()):
                raise ValueError(
                    "on_step must change params' arrays in place (params['W1'][...] = ...), not "
                    "add, remove or replace them: train and the optimizer hold these very arrays"
                )
        if received:  # Ctrl-C arrived during this step, which is now whole
            raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    hold_ctrl_c = main and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    quiet = np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")
    try:
        with _checks(False), quiet:
            if hold_ctrl_c:
                signal.signal(signal.SIGINT, hold)
            yield {"loss_fn": checked_loss_fn, "on_step": end_of_step}
    finally:
        if hold_ctrl_c and signal.getsignal(signal.SIGINT) is hold:  # unless on_step changed it
            signal.signal(signal.SIGINT, signal.default_int_handler)


def draw_graph(ax, nodes, edges, fontsize=9, family="sans-serif"):
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
        font = {"fontsize": fontsize, "family": family}
        if y0 == y1:
            ax.text(xm, ym + 0.12, value, ha="center", va="bottom", **font)
            ax.text(xm, ym - 0.12, gradient, ha="center", va="top", color="C3", **font)
        elif x0 == x1:  # a vertical arrow: the value on its left, the gradient on its right
            ax.text(xm - 0.1, ym, value, ha="right", va="center", **font)
            ax.text(xm + 0.1, ym, gradient, ha="left", va="center", color="C3", **font)
        else:  # a slanted arrow: each label in a corner the arrow does not cross
            up = 1 if y1 > y0 else -1
            ax.text(xm - 0.1 * up, ym + 0.05, value, ha="right" if up > 0 else "left",
                    va="bottom", **font)  # fmt: skip
            ax.text(xm + 0.1 * up, ym - 0.05, gradient, ha="left" if up > 0 else "right",
                    va="top", color="C3", **font)  # fmt: skip
    ax.axis("off")


def softmax(logits):
    """Row-wise softmax of (N, C) logits, with the row max subtracted so nothing overflows.

    Examples:
        >>> softmax(np.array([[1000.0, 1000.0]]))
        array([[0.5, 0.5]])
    """
    with np.errstate(under="ignore"):  # a far smaller logit's probability is 0: harmless
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))  # (N, C), row max 1
    return exp / exp.sum(axis=1, keepdims=True)


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


if __name__ == "__main__" and "ipykernel" not in sys.modules and hasattr(signal, "SIGPIPE"):
    # Run as a script, this file's process is its own: `python scratch_mlp.py | head` then
    # stops quietly when head stops reading, as command-line tools do, not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


# %% [markdown]
# ## 1. The article's loop
#
# 200 points $x$ evenly spaced on $[-\pi, \pi]$, targets $y = \sin(x)$ plus noise from
# $\mathcal N(0, 0.1^2)$, and a network with one input, 64 hidden units and one output:
#
# $$Z_1 = X W_1 + b_1, \qquad A_1 = \operatorname{ReLU}(Z_1) = \max(0, Z_1), \qquad
#   \mathrm{out} = A_1 W_2 + b_2 .$$
#
# **ReLU** (rectified linear unit) replaces negative numbers by 0. The loss is the **mean squared
# error** $L = \frac{1}{N} \sum_{i} (\mathrm{out}_i - y_i)^2$; the update, **gradient descent**,
# is $\theta \leftarrow \theta - \eta\, \partial L / \partial \theta$ for every parameter
# $\theta$. The article's loop, line for line (section 2 derives each backward line):


# %%
def article_loop(params, X, y, lr: float = 0.01, steps: int = 2001, log_every: int = 500):
    """The article's loop: trains ``params`` (W1, b1, W2, b2) in place, returns every loss."""
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
# `RandomState(0)` is the generator behind the article's `np.random.seed(0)`, without NumPy's
# global state. Weights are drawn from $\mathcal N(0, 2/\mathrm{fan}_\mathrm{in})$, with
# $\mathrm{fan}_\mathrm{in}$ the layer's number of inputs (section 4 says why).

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
        ax_all, ax_start, ax_fit = fig.subplots(
            1, 3, width_ratios=[3, 2, 3], gridspec_kw={"wspace": 0.3}
        )
        ax_all.semilogy(losses_article, color="C0")
        ax_all.axhline(0.01, color="gray", ls="--", lw=1, label="noise variance 0.01")
        ax_all.set(xlabel="step", ylabel="MSE loss (log scale)", title="2001 steps, lr = 0.01")
        ax_all.legend()
        ax_start.plot(range(61), losses_article[:61], color="C0", marker=".", ms=3)
        peak = int(np.argmax(losses_article))
        ax_start.annotate(f"peak at step {peak}", (peak, losses_article[peak]), (24, 5.5),
                          arrowprops={"arrowstyle": "->", "color": "0.3"})  # fmt: skip
        ax_start.set(xlabel="step", ylabel="MSE loss", title="steps 0 to 60")
        x_fine = np.linspace(-np.pi, np.pi, 400).reshape(-1, 1)
        W1_end, b1_end, W2_end, b2_end = (params_article[k] for k in ("W1", "b1", "W2", "b2"))
        fit = np.maximum(0, x_fine @ W1_end + b1_end) @ W2_end + b2_end  # the trained network
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
                f"Three panels. Left: the loss over 2001 steps on a log scale: a spike in the "
                f"first steps, then a fall towards the noise variance 0.01. Middle: the first 60 "
                f"steps on a "
                f"linear scale: the loss halves at step 1, climbs to a peak of "
                f"{losses_article[peak]:.1f} at step {peak}, then falls. Right: the 200 noisy "
                f"points, the true sine dashed, and the network's fit, a curve of straight "
                f"pieces that follows the sine."
            ),
        )

# %% [markdown]
# The loss falls from 1.59 to 0.042, four times the noise's variance (0.01); the fit bends where a
# hidden unit's $Z_1$ crosses 0. Oddly, it halves at step 1, then *climbs* until step 20:
# $\eta$ is a little too large for the direction in which the loss curves most sharply, so along
# it each step overshoots and the loss there grows, while it shrinks along the others ([The step
# size and curvature](../step_size/) shows this, and why training recovers).
#
# ## 2. Backpropagation by hand
#
# Nudge a parameter $\theta$ by a small $\delta$ and $L$ moves by about
# $\frac{\partial L}{\partial \theta}\,\delta$. The **chain rule** gives every such gradient:
# if $L$ depends on $s$ only through $p$, then $\frac{\partial L}{\partial s} = \frac{\partial
# L}{\partial p} \frac{\partial p}{\partial s}$. So, going back from the loss, each operation
# multiplies the gradient arriving at its output by its own **local derivative**: that sweep is
# **backpropagation**.
#
# ### 2.1 One neuron, with numbers
#
# One input $x$, weight $w$, bias $b$ and target $y$, one operation at a time:
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
    # Backward: the arriving gradient times the local derivative
    d_p = 2 * (p - y)  # dL/dp
    d_s = d_p * (s > 0)  # dp/ds = 1 where s > 0, else 0
    d_u, db = d_s * 1, d_s * 1  # ds/du = ds/db = 1
    dw, d_x = d_u * x, d_u * w  # du/dw = x, du/dx = w
    print(f"L = {L}; dw = {dw}, db = {db}")


# %% tags=["fold"]
# Plotting: the neuron's graph, with its numbers
if __name__ == "__main__":
    fig = new_figure(figsize=(10, 3.2))
    if fig is not None:
        ax = fig.subplots()
        ax.set(xlim=(-0.5, 11.2), ylim=(-1.7, 1.7))
        nodes = {"x": (0, 1.2, False), "w": (0, -1.2, True), "×": (2.4, 0, False)}
        nodes |= {"b": (4.6, -1.4, True), "+": (4.6, 0, False), "max(0, ·)": (6.9, 0, False)}
        nodes |= {"y": (9.3, 1.4, False), "(· − y)²": (9.3, 0, False), "L": (11, 0, False)}
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
        ax.set_title(
            "One neuron: values forward, above the arrows; gradients backward, in red", fontsize=10
        )
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
# - **Add distributes**: $s = u + b$ passes the arriving gradient unchanged to each input
#   ($\mathtt{d\_u} = \mathtt{db} = 2$). In the network: the **bias**.
# - **Multiply swaps**: $u = w x$ gives each input the *other* input times the arriving gradient
#   ($\mathtt{dw} = 1.5 \cdot 2$, $\mathtt{d\_x} = 2 \cdot 2$). In the network: the **matrix
#   product**.
# - **Max routes**: $\max(0, s)$ passes the gradient where $s > 0$, blocks it where $s < 0$. In
#   the network: the **ReLU**. At $s = 0$ is a **kink** with no derivative; we use 0 there, as
#   PyTorch does. Real data almost never lands exactly on it, but a gradient check must allow
#   for it (section 3).
#
# The backward pass starts at $L$ with gradient 1 ($\partial L / \partial L$). Where a value
# feeds several paths, its gradient is the **sum** over the paths.
#
# ### 2.2 A worked example
#
# **From numbers to matrices.** A gradient has one entry per entry of its array, so the same
# shape. In $Z = X W$, the weight $W[k, j]$ multiplies $X[i, k]$ on every example $i$: multiply
# swaps, and the paths sum over $i$, so $\mathtt{dW}[k, j] = \sum_i X[i, k]\, \mathtt{d\_Z}[i,
# j]$, which is $X^\top \mathtt{d\_Z}$: $(D, N)$ times $(N, H)$ gives $(D, H)$, the only product
# of the two that has $W$'s shape. Likewise $X[i, k]$ multiplies $W[k, j]$ for every unit $j$, so
# $\mathtt{d\_X} = \mathtt{d\_Z}\, W^\top$. A bias, added on every row, gets the sum of its
# column's gradients over the rows.
#
# Two examples ($N = 2$), one input, two hidden units, one output:
#
# $$X = \begin{pmatrix} 1 \\ -2 \end{pmatrix},\quad y = \begin{pmatrix} 1 \\ 0 \end{pmatrix},\quad
#   W_1 = \begin{pmatrix} 1 & -1 \end{pmatrix},\quad b_1 = \begin{pmatrix} 0.5 & 0.5 \end{pmatrix},
#   \quad W_2 = \begin{pmatrix} 1 \\ 0.5 \end{pmatrix},\quad b_2 = 0 .$$
#
# **Try it first.** The forward pass gives $Z_1 = \begin{pmatrix} 1.5 & -0.5 \\ -1.5 & 2.5
# \end{pmatrix}$ and $\mathrm{out} = \begin{pmatrix} 1.5 \\ 1.25 \end{pmatrix}$; $L$ is the mean
# of $(\mathrm{out} - y)^2$. With a pencil and the rules above, work out $\mathtt{d\_out}$ (the
# article's `d_out_layer`), $\mathtt{d\_A1}$, $\mathtt{d\_Z1}$, $\mathtt{dW1}$ and
# $\mathtt{db1}$; then open the two answers.

# %% [markdown] tags=["deeper"]
# **The answer, worked by hand.** $\mathtt{d\_out} = \tfrac{2}{2}(\mathrm{out} - y) =
# \begin{pmatrix} 0.5 \\ 1.25 \end{pmatrix}$. Multiply swaps: $\mathtt{d\_A1}[i, j] =
# \mathtt{d\_out}[i]\, W_2[j]$, so $\mathtt{d\_A1} = \begin{pmatrix} 0.5 & 0.25 \\ 1.25 & 0.625
# \end{pmatrix}$. Max routes: the gradient stops where $Z_1 < 0$, at $[0, 1]$ and $[1, 0]$, so
# $\mathtt{d\_Z1} = \begin{pmatrix} 0.5 & 0 \\ 0 & 0.625 \end{pmatrix}$. Multiply swaps, and the
# two examples' paths sum: $\mathtt{dW1}[0, j] = \sum_i X[i]\, \mathtt{d\_Z1}[i, j]$, so
#
# $$\mathtt{dW1} = (1 \cdot 0.5 + (-2) \cdot 0,\;\; 1 \cdot 0 + (-2) \cdot 0.625)
#   = (0.5,\, -1.25).$$
#
# Add distributes, summed over the rows: $\mathtt{db1} = (0.5 + 0,\; 0 + 0.625) = (0.5, 0.625)$.

# %% tags=["answer"]
# The answer, computed
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
    dW2 = A1.T @ d_out  # (2, 1)   multiply swaps
    db2 = d_out.sum(axis=0, keepdims=True)  # (1, 1)   add distributes
    d_A1 = d_out @ W2.T  # (2, 2)   multiply swaps
    d_Z1 = d_A1 * (Z1 > 0)  # (2, 2)   max routes
    dW1 = X.T @ d_Z1  # (1, 2)
    db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, 2)
    results = dict(loss=loss, d_out=d_out, dW2=dW2, db2=db2, d_A1=d_A1, d_Z1=d_Z1, dW1=dW1, db1=db1)
    for name, value in results.items():
        print(f"{name:5s} = {np.asarray(value).tolist()}")

# %% [markdown]
# Each line is one pattern; `dW2 = A1.T @ d_out` and `d_A1 = d_out @ W2.T` are the matrix rules
# above. The same answer drawn as a graph, every value and gradient on its edge:

# %% tags=["answer"]
# The answer as a graph: arrays forward, gradients backward
if __name__ == "__main__":

    def rows(a):  # a matrix as text, one row a line, columns aligned
        return "\n".join(" ".join(f"{v:>6g}" for v in row) for row in np.atleast_2d(a))

    fig = new_figure(figsize=(11, 4.4))
    if fig is not None:
        ax = fig.subplots()
        ax.set(xlim=(-0.6, 11.8), ylim=(-1.0, 3.1))
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
        draw_graph(ax, nodes, edges, fontsize=8, family="monospace")
        labels = {
            "W1": (W1, "dW1 = Xᵀ d_Z1", dW1),
            "b1": (b1, "db1 = Σ d_Z1\nover rows (axis 0)", db1),
            "W2": (W2, "dW2 = A1ᵀ d_out", dW2),
            "b2": (b2, "db2 = Σ d_out\nover rows (axis 0)", db2),
            "y": (y, None, None),
        }
        for name, (value, formula, gradient) in labels.items():
            x0, y0, _ = nodes[name]
            ax.text(x0 - 0.35, y0, rows(value), ha="right", va="center", fontsize=8,
                    family="monospace")  # fmt: skip
            if formula:
                ax.text(x0, y0 + 0.3, f"{formula}\n{rows(gradient)}", ha="center", va="bottom",
                        fontsize=8, color="C3", family="monospace")  # fmt: skip
        ax.text(11.2, -0.35, f"loss = {loss:g}", ha="center", va="top", fontsize=8)
        ax.set_title("The worked example: arrays forward; gradients backward, in red",
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
# Next, each rule for any shapes: a forward function, its backward function right after it.
#
# ### 2.3 The loss: mean squared error
#
# $L = \frac{1}{M} \sum_{i,k} (\mathrm{out}_{ik} - y_{ik})^2$ over all $M = N C$ entries. Each
# entry appears in one term, so
#
# $$\mathtt{d\_out} = \frac{\partial L}{\partial\, \mathrm{out}} = \tfrac{2}{M}(\mathrm{out} - y)
#   \quad (N, C).$$
#
# Without the $1/M$ the gradient, and so the step, would grow with the number of examples.


# %%
def mse_loss(out, y):
    """Mean squared error of ``out`` against ``y``, both (N, C): ``(loss, d_out)``."""
    _check_targets(out, y)
    diff = out - y  # (N, C)
    loss = np.mean(diff**2)
    d_out = 2 * diff / diff.size  # (N, C)   dL/d out = 2 (out - y) / M
    return loss, d_out


# %% [markdown]
# ### 2.4 A linear layer: $Z = X W + b$
#
# Input $X$ is $(N, p)$, $W$ is $(p, q)$, $b$ is $(1, q)$: $Z_{ij} = \sum_k X_{ik} W_{kj} + b_j$.
# With $G = \partial L / \partial Z$ (`d_Z`), $(N, q)$, sum over every path:
#
# - $W_{kj}$ multiplies $X_{ik}$ for every example $i$: $\frac{\partial L}{\partial W_{kj}} =
#   \sum_i X_{ik} G_{ij}$, so $\mathtt{dW} = X^\top G$, shape $(p, q)$.
# - $b_j$ is added for every example: $\frac{\partial L}{\partial b_j} = \sum_i G_{ij}$, the column
#   sums of $G$, $(1, q)$. Added to every example going forward, summed over them going back.
# - $X_{ik}$ multiplies $W_{kj}$ for every unit $j$: $\frac{\partial L}{\partial X_{ik}} =
#   \sum_j G_{ij} W_{kj}$, so $\mathtt{d\_X} = G W^\top$, shape $(N, p)$.
#
# The backward pass needs the forward pass's $X$ and $W$, so `linear_forward` returns them as a
# **cache** for `linear_backward`.


# %%
def linear_forward(X, W, b):
    """``Z = X W + b`` for ``X`` (N, p), ``W`` (p, q), ``b`` (1, q): ``(Z, cache)``."""
    Z = np.dot(X, W) + b  # (N, q)   X @ W, by np.dot: faster for a column times a row
    return Z, (X, W)


def linear_backward(d_Z, cache, need_d_X: bool = True):
    """From ``d_Z`` (N, q): ``(d_X, dW, db)``, shaped like ``X``, ``W``, ``b``."""
    X, W = cache
    _same_shape("d_Z", d_Z, (X.shape[0], W.shape[1]))  # a wrong shape would broadcast
    dW = np.dot(X.T, d_Z)  # (p, q)   X^T G
    db = d_Z.sum(axis=0, keepdims=True)  # (1, q)   column sums of G
    d_X = np.dot(d_Z, W.T) if need_d_X else None  # (N, p)   G W^T; the data needs none
    return d_X, dW, db


# %% [markdown]
# ### 2.5 ReLU: $A = \max(0, Z)$
#
# Entry by entry, with local derivative 1 where $Z > 0$ and 0 elsewhere. Max routes, so the chain
# rule is a mask: $\mathtt{d\_Z} = \mathtt{d\_A} \odot \mathbb 1[Z > 0]$.


# %%
def relu_forward(Z):
    """``A = max(0, Z)`` entry by entry: ``(A, cache)``."""
    return np.maximum(Z, 0), Z


def relu_backward(d_A, Z):
    """``d_Z = d_A * [Z > 0]``: 0 where the unit was off, and at the kink.

    Examples:
        >>> relu_backward(np.array([[5.0, 5.0, 5.0]]), np.array([[-1.0, 0.0, 2.0]]))
        array([[0., 0., 5.]])
    """
    _same_shape("d_A", d_A, Z.shape)  # a wrong shape would broadcast silently
    return d_A * (Z > 0)  # (N, H)


RELU = (relu_forward, relu_backward)
"""The default ``activation``: ReLU's (forward, backward) pair."""


# %% [markdown]
# ### 2.6 The whole network
#
# `mlp_forward` chains the layers $1, \ldots, K$, for any $K$; `mlp_backward` is the same chain
# read in reverse, one rule a line, as in the worked example; `loss_and_grads` does forward, loss
# and backward. `activation` takes any `(forward, backward)` pair shaped like ReLU's.


# %%
def mlp_forward(params, X, activation=RELU):
    """``X`` (N, D) through ``params`` (W1, b1, ..., WK, bK): ``(out, cache)``, out (N, C)."""
    K = _check_params(params, X, activation)
    act_forward, act_backward = activation
    cache = []
    A = X
    for l in range(1, K + 1):
        Z, linear_cache = linear_forward(A, params[f"W{l}"], params[f"b{l}"])
        if l < K:  # a hidden layer
            A, act_cache = act_forward(Z)
            cache.append((linear_cache, act_backward, act_cache))
        else:  # the output layer is linear
            cache.append((linear_cache, None, None))
    return Z, cache


def mlp_backward(params, cache, d_out):
    """From ``d_out`` (shaped like out) and the cache: every gradient, keyed like ``params``."""
    _check_cache(params, cache, d_out)
    grads = {}
    d_A = d_out  # the gradient arriving at the top layer's output
    for l in range(len(cache), 0, -1):
        linear_cache, act_backward, act_cache = cache[l - 1]
        # Through the activation (the output layer has none: its Z is out), then the layer;
        # linear_backward's d_X is the gradient arriving at the layer below.
        d_Z = d_A if act_backward is None else act_backward(d_A, act_cache)  # (N, h_l)
        d_A, grads[f"W{l}"], grads[f"b{l}"] = linear_backward(d_Z, linear_cache, need_d_X=l > 1)
    return {name: grads[name] for name in params}


def loss_and_grads(params, X, y, loss_fn, activation=RELU):
    """Forward, loss and backward: ``(loss, grads)``. ``loss_fn(out, y) -> (loss, d_out)``."""
    _check_data(params, X, y, loss_fn, activation)
    out, cache = mlp_forward(params, X, activation)  # forward
    loss, d_out = _loss_output(loss_fn(out, y))  # loss
    return loss, mlp_backward(params, cache, d_out)  # backward


# %% [markdown]
# Every line of the article's loop in section 1 is now one of these rules.

# %% [markdown]
# ## 3. Gradient checking
#
# A wrong gradient can still point downhill and train. So check every entry against the
# definition of the derivative, the **centred finite difference**:
#
# $$\frac{\partial L}{\partial \theta} \approx \frac{L(\theta + h) - L(\theta - h)}{2h},
#   \qquad h = 10^{-5}.$$
#
# **Why centred, and why float64.** The one-sided $(L(\theta + h) - L(\theta))/h$ is off by about
# $\tfrac{h}{2} L''$; centred, the $L''$ terms cancel. Here the error is even zero: between kinks
# the output is linear in any one parameter, so a squared error is quadratic in it, and the
# centred difference of a quadratic is exact. Rounding remains: each $L$ is off by about
# $\varepsilon |L|$, divided by $2h$, where $\varepsilon$ is the float spacing near 1:
# $10^{-11}$ in float64 ($\varepsilon \approx 2 \times 10^{-16}$), but $10^{-2}$ in float32
# ($\varepsilon \approx 10^{-7}$), as large as the errors we hunt. So the check runs in float64.


# %%
def numerical_gradient(f, x, h: float = 1e-5):
    """``(f(x + h) - f(x - h)) / 2h`` for each entry of ``x``, for a scalar function ``f``.

    Examples:
        >>> numerical_gradient(lambda x: np.sum(x**2), np.array([1.0, 2.0])).round(6)  # 2x
        array([2., 4.])
    """
    h, f = _check_numerical(f, x, h)  # f comes back wrapped, to check its values
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        try:
            x[idx] = original + h  # moved in place, so f sees it
            x_plus, f_plus = x[idx], f(x)
            x[idx] = original - h
            x_minus, f_minus = x[idx], f(x)
        finally:
            x[idx] = original  # put back, even if f raised
        # by the step x took: 2h but for rounding (float32 stores 100 + 1e-5 as 100.0000076)
        grad[idx] = (f_plus - f_minus) / (float(x_plus) - float(x_minus))
    return grad


# %% [markdown]
# `grad_check` compares it with `mlp_backward`'s $g$. **An entry passes when $|g - g_\mathrm{num}|
# \le 10^{-8} + 10^{-6} |g_\mathrm{num}|$**: far above rounding, far below a real bug (PyTorch's
# `gradcheck` rule has this form, with looser defaults: $10^{-5}$, $10^{-3}$). If $\theta \pm h$
# flips the sign of a pre-activation, the sides of a kink are mixed and correct code fails:
# `grad_check` skips and counts such entries ([When it breaks](../failure_modes/) shows one).


# %% tags=["fold"]
# grad_check: centred differences of every entry, in float64, kinks skipped
class GradCheckReport(dict):
    """What ``grad_check`` returns: per tensor name, a dict with ``checked`` (entries compared),
    ``kinks`` (entries skipped because ``+h`` or ``-h`` crossed a kink), ``max_abs_error``,
    ``max_rel_error`` and ``ok``. ``report.ok`` is True when every tensor passed;
    ``print(report)`` shows the table."""

    @property
    def ok(self) -> bool:
        """True when every tensor passed."""
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


def _relu_side(Z):
    """Which side of ReLU's kink at 0 each entry of its cache, Z, lies on."""
    return Z > 0


# An activation's `kinks`: a function of its cache that tells which side of its kinks each entry
# lies on. grad_check skips an entry whose +h or -h moves some pre-activation across a kink. Give
# your own kinked activation's forward function one, as here, and grad_check handles it alike.
relu_forward.kinks = _relu_side


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
    activation=RELU,
):
    """Check ``mlp_backward`` against centred differences of the loss, every entry, in float64.

    An entry passes when ``|g - g_num| <= atol + rtol * |g_num|``. Entries whose ``+h`` or ``-h``
    moves a pre-activation across a kink of the activation (given by its forward function's
    ``kinks`` attribute, as ``relu_forward.kinks``) are skipped and counted. Refuses past
    ``max_evals`` loss evaluations (two per entry). Memory beyond the network's own arrays is
    that of one forward pass.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> params = init_mlp([3, 4, 2], rng)
        >>> X, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
        >>> grad_check(params, X, y, mse_loss).ok
        True
    """
    _check_data(params, X, y, loss_fn, activation, probe=True)
    h, rtol = _number("h", h), _number("rtol", rtol, allow_low=True)
    atol = _number("atol", atol, allow_low=True)
    n_evals = 2 * sum(p.size for p in params.values())
    if n_evals > _count("max_evals", max_evals):
        raise ValueError(
            f"grad_check would evaluate the loss {n_evals:,} times (two per parameter entry), "
            f"more than max_evals = {max_evals:,}: check a smaller network built from the same "
            f"layers, or raise max_evals"
        )
    # float64 copies: in float32 the finite difference's rounding noise is as large as the
    # errors the check hunts (the text above derives it).
    params64 = {name: p.astype(np.float64) for name, p in params.items()}
    for name, p in params64.items():
        if (p + h == p - h).any():
            raise ValueError(f"h = {h} is too small to move some entries of params[{name!r}]")
    X64 = X.astype(np.float64, copy=False)
    y64 = y.astype(np.float64) if y.dtype.kind == "f" else y
    _, analytic = loss_and_grads(params64, X64, y64, loss_fn, activation)
    _check_grads(params64, analytic)  # a wrong shape would defeat the entry-by-entry comparison
    side = getattr(activation[0], "kinks", None)
    if side is not None and not callable(side):
        raise ValueError("an activation's forward.kinks must be a function of its cache")

    def sides(cache):
        """Which side of its kinks each unit lies on, layer by layer."""
        return [side(act) for _, backward, act in cache if backward is not None] if side else []

    start = sides(mlp_forward(params64, X64, activation)[1])
    crossed = []  # per loss evaluation: did it move a pre-activation across a kink?

    def loss_at(_theta):
        # numerical_gradient moved one entry of one tensor of params64 in place; only whether a
        # kink was crossed is kept, so memory stays that of one forward pass.
        out, cache = mlp_forward(params64, X64, activation)
        crossed.append(
            any(np.any(np.asarray(a) != b) for a, b in zip(start, sides(cache), strict=True))
        )
        return float(loss_fn(out, y64)[0])

    report = GradCheckReport()
    with _checks(False):  # all checked above, and the loss is evaluated twice per entry
        for name, p in params64.items():
            numeric = numerical_gradient(loss_at, p, h)
            # crossed[0] is numerical_gradient's try of f; then + h and - h for each entry.
            kink = np.array(crossed[1:]).reshape(-1, 2).any(axis=1).reshape(p.shape)
            crossed.clear()
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
# The article's network at its start, all 193 numbers:

# %%
if __name__ == "__main__":
    print(grad_check(params_init, X_sine, y_sine, mse_loss))

# %% [markdown]
# All agree to about $10^{-11}$. **Why not use finite differences?** They cost two forward passes
# per parameter, two million for a million parameters; backpropagation gets every gradient from
# one forward and one backward pass. Measured:

# %% tags=["fold"]
# Timing: backpropagation against finite differences
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
        moved = {name: p.copy() for name, p in params_init.items()}

        def loss_of(_):  # numerical_gradient moves one entry of moved[name] in place
            return mse_loss(mlp_forward(moved, X_sine)[0], y_sine)[0]

        return {name: numerical_gradient(loss_of, moved[name]) for name in moved}

    backprop_ms = milliseconds(lambda: loss_and_grads(params_init, X_sine, y_sine, mse_loss), 50)
    finite_ms = milliseconds(all_finite_differences)
    print(f"forward + backward pass: {backprop_ms:.3f} ms")
    print(f"finite differences of all 193 parameters (386 forward passes): {finite_ms:.1f} ms")
    print(f"backpropagation is {finite_ms / backprop_ms:.0f} times faster here")

# %% [markdown]
# ## 4. The loop, as functions
#
# **The start: He initialisation.** `init_mlp` draws each weight from $\mathcal N(0,
# 2/\mathrm{fan}_\mathrm{in})$, each bias 0. Why the 2: a unit sums $\mathrm{fan}_\mathrm{in}$
# products $w\,a$, so with independent weights of mean 0, $\operatorname{Var}(z) =
# \mathrm{fan}_\mathrm{in} \operatorname{Var}(w)\, \mathbb E[a^2]$. Each input $a =
# \operatorname{ReLU}(z_\mathrm{prev})$ comes from the layer before, whose $z_\mathrm{prev}$ is
# symmetric around 0; the ReLU zeroes its negative half, halving its mean square: $\mathbb E[a^2] =
# \operatorname{Var}(z_\mathrm{prev})/2$. With $\operatorname{Var}(w) = 2/\mathrm{fan}_\mathrm{in}$
# the factors cancel: every layer's $Z$ keeps the variance of the one before, and the signal neither
# fades nor explodes with depth (He et al., 2015).


# %% tags=["fold"]
# init_mlp: He initialisation, as above, for any layer sizes
def init_mlp(sizes, rng, dtype=np.float64, *, weight_std=None, hidden_bias=0.0):
    """He-initialised parameters for a ReLU network with layer sizes ``[D, h1, ..., C]``.

    Returns ``{"W1", "b1", ..., "WK", "bK"}``: ``Wl`` of shape ``(sizes[l-1], sizes[l])`` from
    ``N(0, 2 / sizes[l-1])``, ``bl`` of shape ``(1, sizes[l])`` at zero. ``weight_std`` and
    ``hidden_bias`` make bad starts on purpose.

    Examples:
        >>> params = init_mlp([3, 5, 2], np.random.default_rng(0))
        >>> {name: p.shape for name, p in params.items()}
        {'W1': (3, 5), 'b1': (1, 5), 'W2': (5, 2), 'b2': (1, 2)}
    """
    _check_init(sizes, rng, dtype, weight_std, hidden_bias)
    sizes = list(sizes)
    K = len(sizes) - 1
    params = {}
    for l in range(1, K + 1):
        fan_in, fan_out = sizes[l - 1], sizes[l]
        std = np.sqrt(2 / fan_in) if weight_std is None else weight_std
        # Drawn in float64, then cast: float32 and float64 networks start from the same numbers.
        try:
            draw = rng.standard_normal((fan_in, fan_out))
        except (ValueError, MemoryError) as error:
            raise ValueError(
                f"sizes: a {fan_in} x {fan_out} layer cannot be made ({error})"
            ) from None
        with np.errstate(over="ignore"):  # an overflow is reported just below
            params[f"W{l}"] = (draw * std).astype(dtype)
        # _check_init kept weight_std and hidden_bias within the dtype: only an rng of the
        # caller's own that draws NaN, inf or huge numbers can fail here.
        _finite(f"params['W{l}'] (drawn from rng.standard_normal)", params[f"W{l}"])
        bias = hidden_bias if l < K else 0.0
        params[f"b{l}"] = np.full((1, fan_out), bias, dtype=dtype)
    return params


# %% [markdown]
# **The update.** Why does $\theta \leftarrow \theta - \eta\, g$ lower the loss? To first order
# $\Delta L \approx g \cdot \Delta\theta$ (summed over parameters), so $\Delta L \approx -\eta\,
# \|g\|^2 < 0$, as long as $\eta$ is small enough for the first order to dominate.
#
# `SGD` makes this update in place ("stochastic" when each step takes a random batch of rows; here
# each takes all). With **momentum** $\mu > 0$ it steps along a decaying sum of past gradients
# (section 5).
# `train` repeats forward, loss, backward and update, on all $N$ rows or, with `batch_size`, on
# that many at a time, reshuffled every **epoch** (pass over the data; see [Mini-batches and
# held-out data](../minibatches/)).


# %%
class SGD:
    """Gradient descent with optional momentum, as ``torch.optim.SGD``; updates in place."""

    lr, momentum = _Checked(), _Checked(allow_low=True, below=1)  # checked whenever assigned

    def __init__(self, lr: float, momentum: float = 0.0):
        self.lr, self.momentum = lr, momentum
        self.velocity = {}  # per parameter, with momentum

    @_checked_step  # params and grads checked before anything changes
    def step(self, params, grads) -> None:
        """One update of every array in ``params``, in place, from ``grads`` (same names)."""
        for name, p in params.items():
            g = grads[name]
            if self.momentum:
                if name not in self.velocity:  # the velocity starts at 0
                    self.velocity[name] = np.zeros_like(p)
                velocity = self.velocity[name]
                velocity *= self.momentum  # velocity_t = mu velocity_{t-1} + g_t
                velocity += g
                g = velocity
            p -= self.lr * g  # theta_t = theta_{t-1} - lr g   (g is the velocity with momentum)


@_guarded  # arguments checked once; a diverged loss stops it; Ctrl-C waits for the step's end
def train(
    params, X, y, loss_fn, optimizer, steps, batch_size=None, rng=None, log_every=0, *,
    activation=RELU, on_step=None
):  # fmt: skip
    """Train ``params`` in place; return every step's loss. ``on_step(step, loss, params)`` runs
    after each update (to keep the losses if training stops early)."""
    losses = []
    for step, (X_batch, y_batch) in enumerate(_batches(X, y, steps, batch_size, rng)):
        out, cache = mlp_forward(params, X_batch, activation)  # forward
        loss, d_out = loss_fn(out, y_batch)  # loss
        grads = mlp_backward(params, cache, d_out)  # backward
        optimizer.step(params, grads)  # update
        losses.append(float(loss))
        if log_every and step % log_every == 0:
            print(f"Step {step:5d} loss={loss:.6f}")
        if on_step is not None:
            on_step(step, float(loss), params)
    return losses


# %% [markdown]
# Given the article's generator, `init_mlp` draws its start and `train` repeats its loop to the
# last bit:

# %%
if __name__ == "__main__":
    rng = np.random.RandomState(0)
    X_sine, y_sine = make_sine_data(rng)  # section 1's 200 points
    params = init_mlp([1, 64, 1], rng)
    same_start = all(np.array_equal(params[k], params_init[k]) for k in params)
    losses_sgd = train(params, X_sine, y_sine, mse_loss, SGD(lr=0.01), steps=2001)
    same_run = all(np.array_equal(params[k], params_article[k]) for k in params)
    print(f"same start: {same_start}; identical to the article's loop, bit for bit: {same_run}")

# %% [markdown]
# ## 5. Adam
#
# One learning rate must be small enough where the loss curves most (section 1) yet large enough
# where it is flat. **Momentum** helps: gradients that keep their sign build up speed, ones that
# flip partly cancel. **RMSProp** divides each coordinate's step by the root of a running mean of
# its squared gradient, so each moves about $\eta$ whatever its gradient's scale. **Adam** (Kingma
# & Ba, 2015) does both. With $g_t$ the gradient at step $t = 1, 2, \ldots$ and $m_0 = v_0 = 0$:
#
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2,$$
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
#   \theta_t = \theta_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon},$$
#
# by default $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$. **Bias correction:** from 0,
# the early means are too small, $v$ far more than $m$ ($m_1 = 0.1\, g_1$, $v_1 = 0.001\, g_1^2$),
# so the first step would be $0.1\, g_1 / \sqrt{0.001\, g_1^2} \approx 3.2$ times too large;
# dividing by $1 - \beta^t$ undoes exactly that. The update of one parameter, as the equations read:

# %%
if __name__ == "__main__":

    def adam_update(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * (m_hat / (np.sqrt(v_hat) + eps))
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
# The library's `Adam` (folded below, with `RMSProp`) computes these lines into arrays it keeps
# between steps, faster on large tensors, and gets the same numbers to the bit:


# %% tags=["fold"]
# RMSProp and Adam: the update equations above, each computed in place
class RMSProp:
    """RMSProp as in ``torch.optim.RMSprop``: each coordinate's step divided by the root of a
    running mean of its squared gradient; updates in place.

    ``v = alpha * v + (1 - alpha) * g**2``, then ``p -= lr * g / (sqrt(v) + eps)``.
    """

    lr, alpha, eps = _Checked(), _Checked(allow_low=True, below=1), _Checked()  # eps > 0: no 0/0

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8):
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.v = {}

    @_checked_step
    def step(self, params, grads) -> None:
        """One update of every array in ``params``, in place, from ``grads`` (same names)."""
        if not self.v:
            self.v = {name: np.zeros_like(p) for name, p in params.items()}
        for name, p in params.items():
            g, v = grads[name], self.v[name]
            v *= self.alpha  # v_t = alpha v_{t-1} + (1 - alpha) g_t^2
            v += (1 - self.alpha) * g**2
            p -= self.lr * g / (np.sqrt(v) + self.eps)  # theta_t = theta_{t-1} - lr g_t / (...)


class Adam:
    """Adam (Kingma & Ba, Algorithm 1), in place. ``bias_correction=False`` leaves out the
    division by ``1 - beta**t``, as the article's one-line formula does.

    Examples:
        The first step moves every coordinate by about ``lr``, whatever the gradient's scale:

        >>> params = {"W1": np.array([1.0, 1.0])}
        >>> Adam(lr=0.1).step(params, {"W1": np.array([1e-3, 50.0])})
        >>> params["W1"].round(4)
        array([0.9, 0.9])
    """

    lr, eps = _Checked(), _Checked()  # checked whenever set; eps > 0, or a zero gradient gives 0/0
    betas, bias_correction = _Checked(_betas), _Checked(_flag)

    def __init__(
        self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, bias_correction: bool = True
    ):
        self.lr, self.eps, self.betas, self.bias_correction = lr, eps, betas, bias_correction
        self.t = 0  # steps taken: one per call, for every tensor
        self.m, self.v = {}, {}

    @_checked_step
    def step(self, params, grads) -> None:
        """One update of every array in ``params``, in place, from ``grads`` (same names)."""
        if not self.t:
            self.m = {name: np.zeros_like(p) for name, p in params.items()}
            self.v = {name: np.zeros_like(p) for name, p in params.items()}
            # Two scratch arrays per tensor, reused every step: a new array as large as a
            # parameter costs more than the arithmetic on it (the Benchmark page measures it).
            self._scratch = {n: (np.empty_like(p), np.empty_like(p)) for n, p in params.items()}
        self.t += 1
        t, (beta1, beta2), eps, lr = self.t, self.betas, self.eps, self.lr
        correction1 = 1 - beta1**t if self.bias_correction else 1.0
        correction2 = 1 - beta2**t if self.bias_correction else 1.0
        for name, p in params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            scratch, denominator = self._scratch[name]
            # m_t = beta1 m_{t-1} + (1 - beta1) g_t
            m *= beta1
            m += np.multiply(1 - beta1, g, out=denominator)
            # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
            v *= beta2
            v += np.multiply(1 - beta2, np.square(g, out=denominator), out=denominator)
            # v_hat_t = v_t / (1 - beta2^t), and the denominator sqrt(v_hat_t) + eps
            np.divide(v, correction2, out=denominator)
            np.sqrt(denominator, out=denominator)
            denominator += eps
            # m_hat_t = m_t / (1 - beta1^t): once 1 - beta1^t rounds to 1 (from t = 356 for 0.9),
            # m_hat_t is m_t exactly, and neither the division nor the second array is needed
            m_hat = m if correction1 == 1.0 else np.divide(m, correction1, out=scratch)
            # theta_t = theta_{t-1} - lr (m_hat_t / (sqrt(v_hat_t) + eps))
            step = np.divide(m_hat, denominator, out=denominator)
            step *= lr
            p -= step


# %%
if __name__ == "__main__":
    params_adam, optimizer = {k: p.copy() for k, p in params_init.items()}, Adam(lr=0.01)
    for _ in range(100):
        optimizer.step(params_adam, loss_and_grads(params_adam, X_sine, y_sine, mse_loss)[1])
    same = all(np.array_equal(params_adam[k], params[k]) for k in params)
    print(f"Adam.step and the five lines, 100 steps, bit for bit: {same}")

# %% [markdown]
# The article's network, SGD against Adam at $\eta = 0.01$ from one start. The dashed line is the
# noise's variance, 0.01: about what the true sine itself scores.

# %% tags=["fold"]
# SGD and Adam, 2001 steps from the same start
if __name__ == "__main__":
    curves = {"SGD, lr = 0.01": losses_sgd}
    params = {name: p.copy() for name, p in params_init.items()}
    curves["Adam, lr = 0.01"] = train(params, X_sine, y_sine, mse_loss, Adam(lr=0.01), steps=2001)
    for label, curve in curves.items():
        print(f"{label:16s} loss after 2001 steps: {curve[-1]:.5f}")
    print(f"sin(x) itself, on these 200 points: {np.mean((np.sin(X_sine) - y_sine) ** 2):.5f}")

# %% tags=["fold"]
# Plotting: SGD against Adam
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 3.4))
    if fig is not None:
        ax = fig.subplots()
        for label, curve in curves.items():
            ax.semilogy(curve, label=label)
        ax.axhline(0.01, color="gray", ls="--", lw=1, label="the noise's variance, 0.01")
        ax.set(xlabel="step", ylabel="MSE loss (log scale)", title="Same network, same start")
        ax.legend()
        sgd_end, adam_end = (curve[-1] for curve in curves.values())
        save_figure(
            fig,
            "05_sgd_vs_adam.png",
            alt=(
                f"Loss curves of SGD and Adam at learning rate 0.01 from the same start, on a "
                f"log scale. Adam falls to the noise's variance, 0.01, within a few hundred "
                f"steps, then slightly below it, with a few small spikes late on, and ends at "
                f"{adam_end:.4f}; SGD ends at {sgd_end:.3f}, about {sgd_end / 0.01:.0f} times "
                f"the noise's variance, after 2001 steps."
            ),
        )

# %% [markdown]
# Adam reaches the noise level in a few hundred steps, then goes below what the true sine scores,
# with a few spikes: it starts fitting the noise of these 200 points ([Mini-batches and held-out
# data](../minibatches/) shows what that costs on fresh points). SGD ends four times above it.
# One $\eta$ means two things, though: SGD steps $\eta\, g$, Adam at most about $\eta$ whatever $g$
# (see [Optimizers you can see](../optimizers/)).
#
# ## 6. Softmax cross-entropy classification
#
# For $C$ classes the network outputs $C$ **logits** $z_{ik}$ per example, any real numbers;
# **softmax** makes them probabilities, and **cross-entropy** scores the true class $y_i$'s:
#
# $$p_{ik} = \frac{e^{z_{ik}}}{\sum_{c} e^{z_{ic}}}, \qquad
#   L = \frac{1}{N}\sum_{i} \ell_i, \qquad \ell_i = -\log p_{i y_i}
#   = \log \sum_c e^{z_{ic}} - z_{i y_i}.$$
#
# **The gradient.** In the second form, log-sum-exp differentiates to $\frac{e^{z_{ik}}}{\sum_c
# e^{z_{ic}}} = p_{ik}$, the softmax itself, and the true logit to $-\mathbb 1[k = y_i]$:
#
# $$\frac{\partial \ell_i}{\partial z_{ik}} = p_{ik} - \mathbb 1[k = y_i], \qquad
#   \mathtt{d\_logits} = \tfrac{1}{N}\big(p - \operatorname{one\_hot}(y)\big) \quad (N, C),$$
#
# with $\operatorname{one\_hot}(y)$ 1 at the true class, 0 elsewhere. **Two exact safeguards.**
# *Subtract each row's largest logit*: softmax is unchanged, and the largest exponent becomes
# $e^0 = 1$, so nothing overflows (`np.exp(1000.)` is `inf`). *Take log-sum-exp minus the true
# logit*, not `log(p)`: for a badly wrong guess $p_{iy_i}$ rounds to 0 and $\log 0 = -\infty$,
# while the sum inside log-sum-exp is at least 1.


# %%
def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(``logits``) (N, C) against integer ``labels`` (N,):
    ``(loss, d_logits)``; nothing overflows in exp, whatever the logits' size."""
    _check_logits(logits, labels)
    rows = np.arange(logits.shape[0])
    shifted = logits - logits.max(axis=1, keepdims=True)  # (N, C), row max 0
    with np.errstate(under="ignore"):  # e^-800 is 0 here, and 0 is the right answer
        exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)  # (N,), >= 1
    loss = np.mean(np.log(sum_exp) - shifted[rows, labels])  # log-sum-exp minus the true logit
    d_logits = exp / sum_exp[:, None]  # (N, C)   p
    d_logits[rows, labels] -= 1  # p - one_hot(y)
    d_logits /= len(rows)  # the 1/N of the mean
    return loss, d_logits


def predict(params, X, activation=RELU):
    """The predicted class of each row of ``X``: the largest logit's index, shape (N,)."""
    _check_inputs(params, X, activation)
    return mlp_forward(params, X, activation)[0].argmax(axis=1)


# %% [markdown]
# **The data**: three interleaved spiral arms, a class each; a quarter of the points is held out.
# The network: `[2, 64, 64, 3]`. A sanity check first: a
# classifier that knows nothing scores $\ln 3 \approx 1.10$, the loss of a uniform guess.

# %%
if __name__ == "__main__":
    spiral_rng = np.random.default_rng(0)
    X_spiral, labels_spiral = make_spirals(spiral_rng)
    X_train, y_train, X_test, y_test = split(X_spiral, labels_spiral, spiral_rng)
    classifier = init_mlp([2, 64, 64, 3], spiral_rng)
    start_loss = loss_and_grads(classifier, X_train, y_train, softmax_cross_entropy)[0]
    print(f"loss at the start {start_loss:.3f}, ln 3 = {np.log(3):.3f}, accuracy "
          f"{np.mean(predict(classifier, X_train) == y_train):.0%}")  # fmt: skip
    losses = train(classifier, X_train, y_train, softmax_cross_entropy, Adam(lr=0.01), steps=500)
    train_accuracy = np.mean(predict(classifier, X_train) == y_train)
    test_accuracy = np.mean(predict(classifier, X_test) == y_test)
    print(f"after 500 steps of Adam: loss {losses[-1]:.5f}")
    print(f"accuracy {train_accuracy:.1%} on the {len(y_train)} training points, "
          f"test accuracy {test_accuracy:.1%} on the {len(y_test)} held out")  # fmt: skip

# %% [markdown]
# The first loss is above $\ln 3$: each random guess leans towards some class, on this start more
# often a wrong one (19% right, below chance). A first loss far from $\ln C$ would point to a bug
# or a bad scale. The held-out accuracy shows the network learned the arms.

# %% tags=["fold"]
# Plotting: the decision regions
if __name__ == "__main__":
    fig = new_figure(figsize=(8, 6))
    if fig is not None:
        ax = fig.subplots()
        grid = np.linspace(-1.15, 1.15, 300)
        gx, gy = np.meshgrid(grid, grid)
        regions = predict(classifier, np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        colors = ["#4c72b0", "#dd8452", "#55a868"]
        from matplotlib.colors import ListedColormap

        ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=ListedColormap(colors),
                    alpha=0.3)  # fmt: skip
        for c in range(3):  # each class
            ax.scatter(*X_train[y_train == c].T, s=12, color=colors[c], label=f"class {c} (train)")
            ax.scatter(*X_test[y_test == c].T, s=30, color=colors[c], edgecolor="k", marker="^")
        ax.scatter([], [], s=30, color="white", edgecolor="k", marker="^", label="held out (test)")
        ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
               title=f"Decision regions, held-out accuracy {test_accuracy:.1%}")  # fmt: skip
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
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
# A network of any depth, every derivative by hand and checked, gradient descent, Adam and a
# classifier: the whole training loop. PyTorch's `loss.backward()` computes what `mlp_backward`
# does, for any network, by recording the forward pass; `optimizer.step()` is `Adam.step`. Next:
# [the step size](../step_size/),
# [optimizers you can see](../optimizers/), [mini-batches and held-out data](../minibatches/),
# [when it breaks](../failure_modes/), the [exercises](../exercises/) and
# [PyTorch](../pytorch/) side by side.
