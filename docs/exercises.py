# %% [markdown]
# # Exercises
#
# Twelve exercises, from a backward pass with a pencil to a digit classifier. Each one says what to
# write, its signature and what its checker compares; you write it in the stub below the prompt,
# and one call checks it: **PASS** or **FAIL**, with the number that decided it and, on a FAIL,
# what the mistake most likely is. No prompt gives the formula you are meant to find. The
# **hint**, folded under the stub, may; the **solution** is folded under the hint. On this page
# the solutions are in place, so every checker shows PASS.
#
# | | exercise | what it practises |
# |---|---|---|
# | 1 | the worked example by hand, new numbers | the chain rule on numbers |
# | 2 | `linear_backward` from a blank stub | a layer's backward pass |
# | 3 | the article network's backward pass | a whole network's backward pass |
# | 4 | find the bug from the tables | reading a failing gradient check |
# | 5 | softplus | a derivative the lesson never gives, in a form that cannot overflow |
# | 6 | two sanity checks | the loss at the start, and a tiny batch learned by heart |
# | 7 | the training loop from a blank stub | the four steps, mini-batches and epochs |
# | 8 | predict, then run | what RMSProp, momentum and a gradient check will do |
# | 9 | L2 against decoupled weight decay | what Adam does to a penalty's gradient |
# | 10 | Nesterov momentum | rewriting an update so that it needs only the current gradient |
# | 11 | batch normalisation's backward pass | a backward pass where rows depend on each other |
# | 12 | a digit classifier | all of it, on real data, to 95% held-out accuracy |
#
# <a href="exercises.ipynb" download class="md-button md-button--primary">Download the exercises
# as a notebook</a>
#
# **How to work on them.** The notebook holds the stubs and the checkers, without the solutions.
# Put it in one folder with `scratch_mlp.py` (the download button on
# [The training loop](../scratch_mlp/) gives it), open it in Jupyter and run it top to bottom:
# each exercise's checker prints `FAIL: not written yet`. Fill in a stub, run its cell and the
# checker's cell, and repeat until it says PASS. Exercises 6 and 12 read scikit-learn's 8×8
# digits, which ship inside the package (`pip install scikit-learn`; nothing is downloaded).
# From a copy of the project, `python docs/exercises.py` runs this page, solutions included.
#
# **How the checkers decide.** Gradients are compared with centred finite differences in
# float64 (section 3's `numerical_gradient`); optimizers with their definitions, written out
# step by step; a loop by what it hands `scratch_mlp` and what it achieves. A function that
# changes its arguments fails, and so does one that calls the library's own version of what the
# exercise asks you to write; an error raised in your code is reported as yours, in one line,
# without stopping the notebook. Each checker's code is in a folded cell (collapsed in the
# notebook) above its call: open it to see how it decides.

# %% tags=["fold", "spoiler"]
# Imports, and the tools every checker shares
import contextlib
import copy
import decimal
import dis
import functools
import importlib.util
import math
import numbers
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

try:
    import scratch_mlp as sm
except ModuleNotFoundError:  # run as `python docs/exercises.py`: the module is one folder up
    if "__file__" not in globals():  # a notebook: the module belongs in its folder
        raise ModuleNotFoundError("put scratch_mlp.py in the folder of this notebook") from None
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import scratch_mlp as sm


@dataclass
class Result:
    """A checker's verdict: ``passed``, the ``number`` that decided it, and the ``line`` printed."""

    passed: bool
    number: float
    line: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        pass  # the checker has printed its line; a notebook shows nothing more


class NotWritten(Exception):
    """The answer is still the stub."""


class Failed(Exception):
    """A wrong answer: the text of the FAIL line, and the number that decided it."""

    def __init__(self, message: str, number: float = math.nan):
        super().__init__(message)
        self.number = number


class CheckerBug(RuntimeError):
    """A checker failed on its own: a bug of this page, whatever the answer."""


def checker(check):
    """``check`` (which returns a Result, or raises NotWritten or Failed) as a one-call checker
    that prints one line. An error of the checker's own is raised as a CheckerBug: it is never
    reported as the reader's."""

    @functools.wraps(check)
    def run(*args):
        try:
            with np.errstate(all="ignore"):  # a wrong answer may overflow: the line says so
                result = check(*args)
        except NotWritten as why:
            result = Result(False, math.nan, f"FAIL: not written yet ({why})")
        except Failed as failure:
            result = Result(False, failure.number, f"FAIL: {failure}")
        except Exception as error:
            raise CheckerBug(
                f"{check.__name__} failed on its own, whatever your answer: {error!r}. "
                "This is a bug of the exercises page, not of your code."
            ) from error
        print(result.line)
        return result

    return run


def yours(what: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` for the reader's ``fn``: what it raises is reported as the
    reader's error, and NotImplementedError as not written yet."""
    if not callable(fn):
        raise Failed(f"{what} is {fn!r:.40}, not a function")
    try:
        return fn(*args, **kwargs)
    except (Failed, NotWritten):
        raise
    except NotImplementedError:
        raise NotWritten(f"{what} raises NotImplementedError") from None
    except Exception as error:
        raise Failed(f"{what} raised {type(error).__name__}: {str(error)[:150]}") from None


def written_yourself(what: str, fn, library: tuple[str, ...], instead: str) -> None:
    """A FAIL if the reader's ``fn`` calls one of scratch_mlp's functions named in ``library``
    rather than doing that work itself (``instead``). It reads the names the code uses, as
    globals and as attributes of the module, in ``fn``, the functions defined inside it and the
    functions of the reader's own that it calls."""
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        if not isinstance(f, types.FunctionType) or f.__code__ in seen:
            continue
        if f.__globals__ is not fn.__globals__:  # not the reader's own: a library's
            continue
        seen.add(f.__code__)
        loads, attributes, codes = set(), set(), [f.__code__]
        while codes:
            code = codes.pop()
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            for op in dis.get_instructions(code):
                if op.opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM"):
                    attributes.add(op.argval)
                elif op.opname in ("LOAD_GLOBAL", "LOAD_NAME", "IMPORT_NAME"):
                    loads.add(op.argval)
        values = [f.__globals__[name] for name in loads if name in f.__globals__]
        values += [*(f.__defaults__ or ()), *(f.__kwdefaults__ or {}).values()]
        for cell in f.__closure__ or ():
            with contextlib.suppress(ValueError):  # a cell not filled yet
                values.append(cell.cell_contents)
        module = "scratch_mlp" in loads or any(value is sm for value in values)
        for name in library:
            if any(value is getattr(sm, name) for value in values) or (
                module and name in attributes
            ):
                raise Failed(f"{what} calls scratch_mlp's own {name}: {instead}")
        todo += values


def theirs(what: str, fn):
    """The reader's ``fn``, wrapped to be handed to scratch_mlp: what it raises stays theirs."""
    if not callable(fn):
        raise Failed(f"{what} is {fn!r:.40}, not a function")
    return lambda *args, **kwargs: yours(what, fn, *args, **kwargs)


def refused(what: str, run):
    """``run()``, a call into scratch_mlp with the reader's functions or results in it: a
    ValueError from its input checks is about what the reader's code gave it."""
    try:
        return run()
    except ValueError as error:
        raise Failed(f"{what}: scratch_mlp refuses it: {str(error)[:150]}") from None


def describe(value) -> str:
    """What a returned value is, in a few words."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return f"{value!r:.40}"
    return f"a {type(value).__name__}"


def unpack(what: str, value, names):
    """``value`` if it is a tuple or list of ``len(names)`` items, else a FAIL saying so."""
    if not (isinstance(value, (tuple, list)) and len(value) == len(names)):
        wanted = ", ".join(names)
        raise Failed(f"{what} returned {describe(value)}: return ({wanted})")
    return value


def shape_hint(got: tuple, want: tuple) -> str:
    """What a wrong shape most likely means."""
    if not want:
        return ": return a single number (float(x) makes one)"
    if len(got) == len(want) == 2 and got == want[::-1]:
        return ": transposed?"
    if [n for n in got if n != 1] == [n for n in want if n != 1]:
        if len(got) > len(want):
            return ": an extra axis of length 1"
        return ": an axis of length 1 is missing (keepdims=True keeps a summed axis)"
    if len(got) == len(want) == 2 and want[0] == 1 and got[0] != 1:
        if got[1] == want[1]:
            return ": one row per example; sum over the rows (axis 0)"
        if got[1] == 1:
            return ": summed over axis 1; sum over the rows (axis 0)"
    return ""


def as_array(name: str, value, shape=None) -> np.ndarray:
    """``value`` as a float64 array of ``shape``, or a FAIL that says what is wrong with it."""
    if value is None:
        raise Failed(f"{name} is None: return it")
    try:
        array = np.asarray(value)
    except Exception as error:
        raise Failed(f"{name} is not an array of numbers ({str(error)[:80]})") from None
    if array.dtype == object and all(isinstance(v, numbers.Real) for v in array.flat):
        array = array.astype(np.float64)  # exact numbers, such as fractions.Fraction(5, 2)
    if array.dtype.kind == "c":
        raise Failed(f"{name} is complex ({array.dtype}): it must be real numbers")
    if array.dtype.kind not in "fiu":
        raise Failed(f"{name} is not an array of numbers: it holds {array.dtype} values")
    if shape is not None and array.shape != tuple(shape):
        hint = shape_hint(array.shape, tuple(shape))
        raise Failed(f"{name} has shape {array.shape}, not {tuple(shape)}{hint}")
    return array.astype(np.float64)


def diagnose(got: np.ndarray, want: np.ndarray, N=None) -> str:
    """A short guess at what is wrong with ``got``, shaped like the right ``want``."""
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-300)

    def close(a, b):
        return np.allclose(a, b, rtol=1e-6, atol=1e-9 * scale)

    if close(got, -want):
        return "the sign is flipped"
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1 and close(got.T, want):
        return "it is transposed"
    if (norm := float(np.sum(want * want))) > 0:
        c = float(np.sum(got * want)) / norm
        if c != 0 and close(got, c * want):
            for factor, message in [
                (N, f"{N} times too large: a sum where the mean over the {N} rows belongs"),
                (N and 1 / N, f"{N} times too small: a mean where a sum over the rows belongs"),
                (2, "twice the right size: an extra factor 2"),
                (0.5, "half the right size: a factor 2 is missing"),
            ]:
                if factor and math.isclose(c, factor, rel_tol=1e-6):
                    return message
            return f"{c:.4g} times the right answer: a factor is off"
    zero = want == 0
    if zero.any() and not close(got[zero], 0) and close(got[~zero], want[~zero]):
        return "right where the answer is nonzero, but not 0 where it is: is a mask missing?"
    if (got == 0).sum() > zero.sum() and close(got[got != 0], want[got != 0]):
        return "right where it is nonzero, but 0 in places where it should not be"
    wrong = ~np.isclose(got, want, rtol=1e-6, atol=1e-9 * scale)
    where = np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
    return f"{wrong.sum()} of {wrong.size} entries are wrong, the most at {tuple(map(int, where))}"


def compare(name: str, got, want, *, tol: float = 1e-6, N=None, suspects=()) -> float:
    """The largest error of ``got``, relative to the largest entry of the right ``want``; a FAIL
    that says what is wrong if it is above ``tol``. ``suspects``: (message, likely wrong answer)."""
    want = np.asarray(want, dtype=np.float64)
    got = as_array(name, got, want.shape)
    if not np.isfinite(got).all():
        raise Failed(f"{name} holds NaN or inf: something overflows")
    scale = max(float(np.abs(want).max(initial=0.0)), 1e-12)
    error = float(np.abs(got - want).max(initial=0.0)) / scale
    if error <= tol:
        return error
    why = next((m for m, s in suspects if np.allclose(got, s, rtol=1e-6, atol=1e-9 * scale)), None)
    raise Failed(f"{name}, largest error {error:.1e}: {why or diagnose(got, want, N)}", error)


def same(now, before) -> bool:
    """Whether ``now`` still equals ``before``, a deep copy taken earlier."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(now, np.ndarray)
            and now.shape == before.shape
            and bool(np.all((now == before) | ((now != now) & (before != before))))
        )
    if isinstance(before, dict):
        return (
            isinstance(now, dict)
            and now.keys() == before.keys()
            and all(same(now[k], before[k]) for k in before)
        )
    if isinstance(before, (tuple, list)):
        return len(now) == len(before) and all(map(same, now, before))
    return True


@contextlib.contextmanager
def must_not_change(what: str, **arguments):
    """Within the block the reader's ``what`` runs; afterwards each of ``arguments`` must be as
    it was."""
    before = copy.deepcopy(arguments)
    yield
    for name, value in arguments.items():
        if not same(value, before[name]):
            raise Failed(
                f"{what} changed its argument {name}: leave it as it was, return new arrays"
            )


def numeric(f, x) -> np.ndarray:
    """Centred differences of the scalar ``f`` at a float64 copy of ``x`` (``x`` is not moved)."""
    return sm.numerical_gradient(f, np.array(x, dtype=np.float64))


def flat(params: dict) -> np.ndarray:
    return np.concatenate([np.ravel(p) for p in params.values()])


def first_difference(got, want, tol: float = 1e-9):
    """The first step at which two trajectories (lists of arrays) differ, or None."""
    for step, (a, b) in enumerate(zip(got, want, strict=False)):
        if a.shape != b.shape or not np.abs(a - b).max() <= tol * max(np.abs(b).max(), 1.0):
            return step
    return None if len(got) == len(want) else min(len(got), len(want))


def digits():
    """scikit-learn's 8x8 digits: ``X`` (1797, 64), pixel values 0 to 16, and ``labels`` (1797,).
    A fresh copy at each call, read from the file that ``sklearn.datasets.load_digits`` reads;
    importing scikit-learn itself takes seconds."""
    X, labels = _digits()
    return X.copy(), labels.copy()


@functools.cache
def _digits():
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise Failed("this exercise reads scikit-learn's digits: pip install scikit-learn")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    if not path.is_file():  # another layout of the package: ask it
        from sklearn.datasets import load_digits

        return load_digits(return_X_y=True)
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1], data[:, -1].astype(np.int64)


# %% [markdown]
# ## 1. The worked example by hand, with new numbers
#
# The network of section 2.2, $Z_1 = X W_1 + b_1$, $A_1 = \max(0, Z_1)$,
# $\mathrm{out} = A_1 W_2 + b_2$ and the loss $L$, the mean of $(\mathrm{out} - y)^2$, now with
# three examples:
#
# $$X = \begin{pmatrix} 2 \\ -1 \\ 1 \end{pmatrix},\quad
#   y = \begin{pmatrix} 0.5 \\ 0.5 \\ 3 \end{pmatrix},\quad
#   W_1 = \begin{pmatrix} 1 & -1 \end{pmatrix},\quad b_1 = \begin{pmatrix} -0.5 & 0.5 \end{pmatrix},
#   \quad W_2 = \begin{pmatrix} 2 \\ 1 \end{pmatrix},\quad b_2 = 0.5 .$$
#
# **What to write.** With a pencil: the forward pass, then every gradient of the backward pass.
# Fill in `by_hand` with the numbers of `d_out`, `dW2`, `db2`, `d_A1`, `d_Z1`, `dW1` and `db1`,
# each as a list of rows (a $(3, 1)$ array is `[[a], [b], [c]]`).
#
# **What the checker compares.** Each array with the gradient of $L$ with respect to it,
# measured by finite differences, in the order of the backward pass. It names the first wrong
# entry.

# %%
by_hand = {
    "d_out": None,  # (3, 1)
    "dW2": None,  # (2, 1)
    "db2": None,  # (1, 1)
    "d_A1": None,  # (3, 2)
    "d_Z1": None,  # (3, 2)
    "dW1": None,  # (1, 2)
    "db1": None,  # (1, 2)
}

# %% [markdown] tags=["deeper", "hint"]
# **Hint.** The forward pass gives $Z_1 = \begin{pmatrix} 1.5 & -1.5 \\ -1.5 & 1.5 \\ 0.5 & -0.5
# \end{pmatrix}$ and $\mathrm{out} = (3.5, 2, 1.5)^\top$. Then, as in section 2.2:
# $\mathtt{d\_out} = \frac{2}{N}(\mathrm{out} - y)$ with $N = 3$; multiply swaps
# ($\mathtt{dW2} = A_1^\top \mathtt{d\_out}$, $\mathtt{d\_A1} = \mathtt{d\_out}\, W_2^\top$); max
# routes ($\mathtt{d\_Z1}$ is $\mathtt{d\_A1}$ where $Z_1 > 0$, else 0); $\mathtt{dW1} = X^\top
# \mathtt{d\_Z1}$; and a bias gets its column's gradients summed over the rows.

# %% tags=["solution", "fold"]
# Solution: the numbers
by_hand = {
    "d_out": [[2.0], [1.0], [-1.0]],  # 2/3 (out - y) = 2/3 (3, 1.5, -1.5)
    "dW2": [[2.5], [1.5]],  # A1^T d_out: 1.5 * 2 + 0.5 * (-1), 1.5 * 1
    "db2": [[2.0]],  # 2 + 1 - 1
    "d_A1": [[4.0, 2.0], [2.0, 1.0], [-2.0, -1.0]],  # d_out W2^T: each row d_out[i] * (2, 1)
    "d_Z1": [[4.0, 0.0], [0.0, 1.0], [-2.0, 0.0]],  # zero where Z1 < 0
    "dW1": [[6.0, -1.0]],  # X^T d_Z1: 2 * 4 + 1 * (-2), (-1) * 1
    "db1": [[2.0, 1.0]],  # the column sums of d_Z1
}


# %% tags=["fold", "spoiler"]
# The checker of exercise 1
def worked_example():
    """X, y, W1, b1, W2, b2 of exercise 1."""
    X, y = np.array([[2.0], [-1.0], [1.0]]), np.array([[0.5], [0.5], [3.0]])
    W1, b1 = np.array([[1.0, -1.0]]), np.array([[-0.5, 0.5]])
    W2, b2 = np.array([[2.0], [1.0]]), np.array([[0.5]])
    return X, y, W1, b1, W2, b2


@checker
def check_by_hand(by_hand):
    """Each array against centred differences of the loss with respect to it, in the order of
    the backward pass; the first wrong entry decides."""
    X, y, W1, b1, W2, b2 = worked_example()
    names = ["d_out", "dW2", "db2", "d_A1", "d_Z1", "dW1", "db1"]
    if not isinstance(by_hand, dict):
        raise Failed(f"by_hand is {describe(by_hand)}: keep it a dict of the seven arrays")
    if all(by_hand.get(name) is None for name in names):
        raise NotWritten("fill in the numbers of by_hand")

    def loss_of_out(out):
        return np.mean((out - y) ** 2)

    def loss_of_A1(A1, W2=W2, b2=b2):
        return loss_of_out(A1 @ W2 + b2)

    def loss_of_Z1(Z1):
        return loss_of_A1(np.maximum(Z1, 0))

    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    right = {
        "d_out": numeric(loss_of_out, A1 @ W2 + b2),
        "dW2": numeric(lambda W: loss_of_A1(A1, W2=W), W2),
        "db2": numeric(lambda b: loss_of_A1(A1, b2=b), b2),
        "d_A1": numeric(loss_of_A1, A1),
        "d_Z1": numeric(loss_of_Z1, Z1),
        "dW1": numeric(lambda W: loss_of_Z1(X @ W + b1), W1),
        "db1": numeric(lambda b: loss_of_Z1(X @ W1 + b), b1),
    }
    worst = 0.0
    for name, want in right.items():
        if by_hand.get(name) is None:
            raise Failed(f"{name} is not filled in")
        got = as_array(name, by_hand[name])
        if got.shape != want.shape:
            if got.shape == want.shape[::-1]:
                hint = ": transposed?"
            elif got.size == want.size:
                hint = f": write it as a list of rows, {got.reshape(want.shape).tolist()}"
            else:
                hint = shape_hint(got.shape, want.shape) or ": write it as a list of rows"
            raise Failed(f"{name} has shape {got.shape}, not {want.shape}{hint}")
        wrong = np.argwhere(~np.isclose(got, want, rtol=1e-6, atol=1e-6))
        if len(wrong):
            i, j = map(int, wrong[0])
            count = f"{len(wrong)} of the {got.size} entries of {name} are wrong"
            raise Failed(
                f"{name}[{i}, {j}] = {got[i, j]:g} is wrong ({count}): {diagnose(got, want, N=3)}",
                got[i, j],
            )
        worst = max(worst, float(np.abs(got - want).max()))
    return Result(True, worst, f"PASS: all seven arrays, every entry right (within {worst:.0e})")


# %%
if __name__ == "__main__":
    check_by_hand(by_hand)


# %% [markdown]
# ## 2. A linear layer's backward pass, from a blank stub
#
# **What to write.** `linear_backward(d_Z, cache)` for the layer $Z = X W + b$ of section 2.4,
# from the layer's equation alone: do not call `sm.linear_backward` (the checker fails an answer
# that does) or read its code. `cache` is `(X, W)`, as `sm.linear_forward` returns it, and `d_Z`
# is $\partial L / \partial Z$, of shape $(N, q)$. Return `(d_X, dW, db)`, shaped like $X$, $W$
# and $b$, and leave `d_Z` and the cache as they are.
#
# **What the checker compares.** Each of the three with centred finite differences of
# $\sum_{i,j} Z_{ij} G_{ij}$, a loss whose gradient with respect to $Z$ is a given $G$: 5 rows,
# 3 inputs and 4 units, so that a transpose or a sum over the wrong axis shows in the shape.


# %%
def linear_backward(d_Z, cache):
    """``(d_X, dW, db)`` of ``Z = X W + b`` from ``d_Z`` (N, q) and ``cache = (X, W)``."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** Sum over every path (section 2.2): $W_{kj}$ multiplies $X_{ik}$ for every example
# $i$, so $\mathtt{dW}_{kj} = \sum_i X_{ik} G_{ij}$, which is $X^\top G$, $(p, N)$ times
# $(N, q)$. Likewise $X_{ik}$ meets $W_{kj}$ for every unit $j$: $\mathtt{d\_X} = G W^\top$. And
# $b$ is added to every row, so $\mathtt{db}$ sums $G$ over the rows, with `keepdims=True` to keep
# the shape $(1, q)$.


# %% tags=["solution", "fold"]
# Solution: linear_backward
def linear_backward(d_Z, cache):
    """``(d_X, dW, db)`` of ``Z = X W + b`` from ``d_Z`` (N, q) and ``cache = (X, W)``."""
    X, W = cache
    dW = X.T @ d_Z  # (p, q)
    db = d_Z.sum(axis=0, keepdims=True)  # (1, q)
    d_X = d_Z @ W.T  # (N, p)
    return d_X, dW, db


# %% tags=["fold", "spoiler"]
# The checker of exercise 2
@checker
def check_linear_backward(linear_backward):
    """d_X, dW and db against centred differences of sum(Z * G), whose gradient with respect to
    Z is G."""
    rng = np.random.default_rng(2)
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    G = rng.standard_normal((5, 4))
    _, cache = sm.linear_forward(X, W, b)
    written_yourself("linear_backward", linear_backward, ("linear_backward",), "write it yourself")
    with must_not_change("linear_backward", d_Z=G, cache=cache):
        result = yours("linear_backward", linear_backward, G, cache)
    d_X, dW, db = unpack("linear_backward", result, ["d_X", "dW", "db"])
    by_shape = {X.shape: "d_X", W.shape: "dW", b.shape: "db"}
    order = [by_shape.get(getattr(r, "shape", None)) for r in result]
    if order != ["d_X", "dW", "db"] and sorted(map(str, order)) == sorted(by_shape.values()):
        raise Failed(f"linear_backward returned ({', '.join(order)}): return (d_X, dW, db)")

    def loss(X, W, b):
        return np.sum((X @ W + b) * G)

    worst = max(
        compare("d_X", d_X, numeric(lambda x: loss(x, W, b), X), N=5),
        compare("dW", dW, numeric(lambda w: loss(X, w, b), W), N=5),
        compare("db", db, numeric(lambda c: loss(X, W, c), b), N=5),
    )
    return Result(True, worst, f"PASS: linear_backward, largest error {worst:.1e}")


# %%
if __name__ == "__main__":
    check_linear_backward(linear_backward)

# %% [markdown]
# ## 3. The article's network: its backward pass from a blank stub
#
# **What to write.** `article_backward(X, y, W2, Z1, A1, out)`: the gradients of
# $L = \frac{1}{N} \sum_i (\mathrm{out}_i - y_i)^2$ for the article's network (section 1), given
# its forward pass, as the dict `{"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}`. These are the
# lines of the article's loop after the loss: write them without looking at them, and change
# none of the arguments. Your `linear_backward` of exercise 2 may help; the library's backward
# functions may not (the checker fails an answer that calls `sm.linear_backward`,
# `sm.relu_backward`, `sm.mlp_backward` or `sm.loss_and_grads`).
#
# **What the checker compares.** Each gradient with centred finite differences of $L$, on a
# network with 3 inputs, 5 hidden units and one output, and 7 examples.


# %%
def article_backward(X, y, W2, Z1, A1, out):
    """The gradients of ``mean((out - y)**2)`` for ``Z1 = X W1 + b1``, ``A1 = ReLU(Z1)``,
    ``out = A1 W2 + b2``: ``{"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}``."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** Start at the loss: $\mathtt{d\_out} = \frac{2}{N}(\mathrm{out} - y)$, $(N, 1)$. The
# output layer is exercise 2's linear layer with input $A_1$: its `dW2`, `db2`, and `d_A1`, the
# gradient it passes down. The ReLU routes:
# $\mathtt{d\_Z1} = \mathtt{d\_A1} \odot \mathbb 1[Z_1 > 0]$. Then the first layer, a linear
# layer with input $X$, as the second.


# %% tags=["solution", "fold"]
# Solution: article_backward
def article_backward(X, y, W2, Z1, A1, out):
    """The gradients of ``mean((out - y)**2)`` for ``Z1 = X W1 + b1``, ``A1 = ReLU(Z1)``,
    ``out = A1 W2 + b2``: ``{"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}``."""
    N = X.shape[0]
    d_out = 2 * (out - y) / N  # (N, 1)
    dW2 = A1.T @ d_out  # (H, 1)
    db2 = d_out.sum(axis=0, keepdims=True)  # (1, 1)
    d_A1 = d_out @ W2.T  # (N, H)
    d_Z1 = d_A1 * (Z1 > 0)  # (N, H)
    dW1 = X.T @ d_Z1  # (D, H)
    db1 = d_Z1.sum(axis=0, keepdims=True)  # (1, H)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# %% tags=["fold", "spoiler"]
# The checker of exercise 3
@checker
def check_article_backward(article_backward):
    """Every gradient against centred differences of the loss of a network [3, 5, 1]."""
    library = ("linear_backward", "relu_backward", "mlp_backward", "loss_and_grads")
    written_yourself("article_backward", article_backward, library, "write each line yourself")
    rng = np.random.default_rng(5)
    params = sm.init_mlp([3, 5, 1], rng)
    X, y = rng.standard_normal((7, 3)), rng.standard_normal((7, 1))
    W1, b1, W2, b2 = (params[name] for name in ("W1", "b1", "W2", "b2"))
    Z1 = X @ W1 + b1
    A1 = np.maximum(Z1, 0)
    out = A1 @ W2 + b2
    with must_not_change("article_backward", X=X, y=y, W2=W2, Z1=Z1, A1=A1, out=out):
        grads = yours("article_backward", article_backward, X, y, W2, Z1, A1, out)
    if not isinstance(grads, dict):
        raise Failed(f"article_backward returned {describe(grads)}: return a dict of the four")

    def loss(W1, b1, W2, b2, relu=lambda Z: np.maximum(Z, 0)):
        return np.mean((relu(X @ W1 + b1) @ W2 + b2 - y) ** 2)

    def unmasked(Z):  # the ReLU's values at this point, with a slope of 1 everywhere
        return Z + (A1 - Z1)

    def slope_A1(Z):  # the ReLU's values at this point, with a slope of A1 there
        return A1 + (np.maximum(Z, 0) ** 2 - A1**2) / 2

    where = {"W1": 0, "b1": 1, "W2": 2, "b2": 3}
    worst = 0.0
    for name in ("W2", "b2", "W1", "b1"):  # the order of the backward pass

        def loss_of(p, relu=lambda Z: np.maximum(Z, 0), name=name):
            args = [W1, b1, W2, b2]
            args[where[name]] = p
            return loss(*args, relu=relu)

        suspects = [
            (
                "it is the gradient without the ReLU's mask: is the mask missing?",
                numeric(lambda p: loss_of(p, unmasked), params[name]),
            ),
            (
                "d_Z1 multiplies d_A1 by A1, the ReLU's value, where its derivative belongs",
                numeric(lambda p: loss_of(p, slope_A1), params[name]),
            ),
        ]
        if name not in grads:
            raise Failed(f"the dict has no {name!r}: return W1, b1, W2 and b2")
        right = numeric(loss_of, params[name])
        worst = max(worst, compare(f"d{name}", grads[name], right, N=7, suspects=suspects))
    return Result(True, worst, f"PASS: article_backward, largest error {worst:.1e}")


# %%
if __name__ == "__main__":
    check_article_backward(article_backward)


# %% [markdown]
# ## 4. Find the bug from the tables
#
# Each table below is `sm.grad_check` of a ReLU network $[4, 6, 6, 3]$ with the MSE loss on 10
# examples, with one of three functions, `mse_loss`, `linear_backward` or `relu_backward`,
# replaced by a copy with one line changed; each table has a different one.
#
# **What to write.** First, from the tables alone, in `diagnosis`: the function behind table A,
# B and C, and, to yourself, what kind of mistake each pattern points to. Then open the three
# copies (the folded cell after the hint), find each changed line, and write `fixed_mse_loss`,
# `fixed_linear_backward` and `fixed_relu_backward`.
#
# **What the checker compares.** First your diagnosis with the copies behind the tables, before
# it runs any fix: a wrong one fails and names the table it got wrong. (Three tables leave few
# ways to guess, so trial and error would find it in a few runs; the exercise is to read it
# from the tables.) Then `sm.grad_check` with each fix in place of the lesson's function: every
# tensor must pass.

# %% [markdown]
# **Table A**
#
# ```text
# tensor      shape checked on kink max abs error max rel error  result
# W1         (4, 6)      24       0       7.4e-01       1.9e+00  FAIL
# b1         (1, 6)       6       0       6.8e-01       1.8e+00  FAIL
# W2         (6, 6)      36       0       7.8e-01       1.7e+00  FAIL
# b2         (1, 6)       6       0       3.5e-01       9.7e-01  FAIL
# W3         (6, 3)      18       0       1.7e-11       1.0e-07  ok
# b3         (1, 3)       3       0       1.5e-11       1.4e-10  ok
# ```
#
# **Table B**
#
# ```text
# tensor      shape checked on kink max abs error max rel error  result
# W1         (4, 6)      24       0       1.6e-11       4.7e-07  ok
# b1         (1, 6)       6       0       1.7e-01       9.0e-01  FAIL
# W2         (6, 6)      36       0       1.9e-11       1.5e-08  ok
# b2         (1, 6)       6       0       1.8e-01       9.0e-01  FAIL
# W3         (6, 3)      18       0       1.7e-11       1.0e-07  ok
# b3         (1, 3)       3       0       4.2e-01       9.0e-01  FAIL
# ```
#
# **Table C**
#
# ```text
# tensor      shape checked on kink max abs error max rel error  result
# W1         (4, 6)      24       0       6.2e-01       2.0e+00  FAIL
# b1         (1, 6)       6       0       3.7e-01       2.0e+00  FAIL
# W2         (6, 6)      36       0       8.3e-01       2.0e+00  FAIL
# b2         (1, 6)       6       0       4.1e-01       2.0e+00  FAIL
# W3         (6, 3)      18       0       1.4e+00       2.0e+00  FAIL
# b3         (1, 3)       3       0       9.4e-01       2.0e+00  FAIL
# ```

# %%
diagnosis = {"A": None, "B": None, "C": None}  # "mse_loss", "linear_backward" or "relu_backward"

# %% [markdown] tags=["deeper", "hint"]
# **Hint.** Three patterns. Every tensor failing at a relative error of exactly 2: $|g -
# g_\mathrm{num}|$ is twice their size when $g = -g_\mathrm{num}$, a flipped sign, and a sign
# that reaches every tensor starts where the backward pass starts. Only the `b` rows failing, each
# at 0.9 $= 1 - 1/N$ for $N = 10$: the bias gradients are $N$ times too small. The output
# layer's rows passing and every row below failing: something between the layers, which the
# output layer does not have.


# %% tags=["fold", "spoiler"]
# The three copies, each with one line changed (open after your diagnosis)
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


# %%
def fixed_mse_loss(out, y):
    raise NotImplementedError


def fixed_linear_backward(d_Z, cache, need_d_X=True):
    raise NotImplementedError


def fixed_relu_backward(d_A, Z):
    raise NotImplementedError


# %% tags=["solution", "fold"]
# Solution: the diagnosis and the three fixes
diagnosis = {"A": "relu_backward", "B": "linear_backward", "C": "mse_loss"}


# Table C: every tensor at relative error 2, a flipped sign from the loss down: d_out = 2(out - y)/M
def fixed_mse_loss(out, y):
    diff = out - y
    return np.mean(diff**2), 2 * (out - y) / diff.size


# Table B: only the biases fail, 10 = N times too small: db is the sum over the rows, not the mean
def fixed_linear_backward(d_Z, cache, need_d_X=True):
    X, W = cache
    dW = X.T @ d_Z
    db = d_Z.sum(axis=0, keepdims=True)
    d_X = d_Z @ W.T if need_d_X else None
    return d_X, dW, db


# Table A: the output layer has no ReLU and passes; below it, the backward pass multiplied by
# ReLU(Z), the forward value, where the derivative, the mask [Z > 0], belongs
def fixed_relu_backward(d_A, Z):
    return d_A * (Z > 0)


# %% tags=["fold", "spoiler"]
# The checker of exercise 4
def bug_problem():
    """A ReLU network [4, 6, 6, 3] and 10 points with MSE targets."""
    rng = np.random.default_rng(14)
    params = sm.init_mlp([4, 6, 6, 3], rng)
    return params, rng.standard_normal((10, 4)), rng.standard_normal((10, 3))


def grad_check_with(mse_loss=None, linear_backward=None, relu_backward=None):
    """sm.grad_check on bug_problem, with any of the three functions given in place of the
    lesson's. mlp_backward finds linear_backward in its own module, so the check runs in a copy of
    scratch_mlp loaded for this call alone: the module everyone else uses is never changed."""
    spec = importlib.util.spec_from_file_location("scratch_mlp_private", sm.__file__)
    private = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(private)
    if linear_backward is not None:
        private.linear_backward = linear_backward
    params, X, y = bug_problem()
    activation = (private.relu_forward, relu_backward or private.relu_backward)
    return private.grad_check(params, X, y, mse_loss or private.mse_loss, activation=activation)


COPIES = {
    "mse_loss": buggy_mse_loss,
    "linear_backward": buggy_linear_backward,
    "relu_backward": buggy_relu_backward,
}
FAILING = {  # the tensors each table shows failing
    "A": ("W1", "b1", "W2", "b2"),
    "B": ("b1", "b2", "b3"),
    "C": ("W1", "b1", "W2", "b2", "W3", "b3"),
}


@functools.cache
def with_copy(name: str) -> sm.GradCheckReport:
    """grad_check_with the copy of ``name`` in place of the lesson's function."""
    return grad_check_with(**{name: COPIES[name]})


@checker
def check_bug_hunt(diagnosis, fixed_mse_loss, fixed_linear_backward, fixed_relu_backward):
    """The diagnosis: the copy of the function named for each table fails grad_check on the
    tensors the table shows failing. Then grad_check with each fix in place of the lesson's."""
    if not isinstance(diagnosis, dict):
        raise Failed(f"diagnosis is {describe(diagnosis)}: keep it a dict")
    if all(diagnosis.get(label) is None for label in FAILING):
        raise NotWritten("write your diagnosis, then the three fixes")
    for label, failing in FAILING.items():
        said = [name for name in COPIES if name in str(diagnosis.get(label))]
        if len(said) != 1:
            raise Failed(f"table {label}: name one function, {', '.join(COPIES)}")
        if tuple(t for t, row in with_copy(said[0]).items() if not row["ok"]) != failing:
            raise Failed(f"table {label} is not {said[0]}'s: which tensors fail, and by how much?")
    largest = 0.0
    for name, fixed in [
        ("mse_loss", fixed_mse_loss),
        ("linear_backward", fixed_linear_backward),
        ("relu_backward", fixed_relu_backward),
    ]:
        piece = {name: theirs(f"fixed_{name}", fixed)}
        run = functools.partial(grad_check_with, **piece)
        report = refused(f"grad_check with fixed_{name}", run)
        worst = max(row["max_rel_error"] for row in report.values())
        if not report.ok:
            failing = ", ".join(t for t, row in report.items() if not row["ok"])
            unchanged = np.allclose(
                [row["max_rel_error"] for row in report.values()],
                [row["max_rel_error"] for row in with_copy(name).values()],
            )
            why = ": the same table as the buggy copy" if unchanged else ""
            raise Failed(f"fixed_{name}: {failing} fail grad_check (error {worst:.1e}){why}", worst)
        largest = max(largest, worst)
    return Result(True, largest, f"PASS: diagnosis right; all three fixes pass ({largest:.1e})")


# %%
if __name__ == "__main__":
    check_bug_hunt(diagnosis, fixed_mse_loss, fixed_linear_backward, fixed_relu_backward)

# %% [markdown]
# ## 5. Softplus: a derivative the lesson never gives
#
# $\operatorname{softplus}(z) = \log(1 + e^z)$ is a smooth ReLU: close to 0 for very negative
# $z$, close to $z$ for large $z$.
#
# **What to write.** `softplus_forward(Z)`, which returns `(A, cache)`, and
# `softplus_backward(d_A, cache)`, which returns `d_Z`: a pair with the signatures of
# `relu_forward` and `relu_backward`, for `activation=`. Derive the derivative yourself. Both must
# give finite, right values for any float64 $Z$, including $Z = \pm 1000$, where
# `np.exp(1000.0)` is `inf`.
#
# **What the checker compares.** `A` with $\log(1 + e^z)$ computed in exact decimal
# arithmetic, and `d_Z` with centred finite differences of
# $\sum \operatorname{softplus}(Z) \odot \mathtt{d\_A}$, first at ordinary $Z$, then at
# $Z = \pm 1000$ beside ordinary values; then `sm.grad_check` on a network $[3, 5, 5, 2]$ with
# your pair as its activation.


# %%
def softplus_forward(Z):
    """``A = log(1 + e^Z)`` entry by entry: ``(A, cache)``."""
    raise NotImplementedError


def softplus_backward(d_A, cache):
    """``d_Z`` from the upstream gradient ``d_A`` and the cache of ``softplus_forward``."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** The derivative of $\log u$ is $u'/u$; here $u = 1 + e^z$, so the derivative is
# $e^z / (1 + e^z) = 1 / (1 + e^{-z})$, the sigmoid $\sigma(z)$. At $z = 1000$, $e^z$ is `inf`:
# $\log(1 + e^z)$ is then `inf`, and $e^z / (1 + e^z)$ is `inf / inf`, NaN. The form
# $1 / (1 + e^{-z})$ gets through, as $1 / \infty = 0$, with a warning of overflow from NumPy
# at $z = -1000$. Forms that exponentiate only $-|z| \le 0$ never overflow:
# $\operatorname{softplus}(z) = \max(z, 0) + \log(1 + e^{-|z|})$ (`np.log1p`), and with
# $e = e^{-|z|}$, $\sigma(z) = 1/(1 + e)$ for $z \ge 0$ and $e/(1 + e)$ for $z < 0$ (`np.where`
# picks per entry). Keep $Z$ as the cache, and multiply by `d_A`.


# %% tags=["solution", "fold"]
# Solution: softplus_forward and softplus_backward
def softplus_forward(Z):
    """``A = log(1 + e^Z)`` entry by entry: ``(A, cache)``, the cache being ``Z``."""
    A = np.maximum(Z, 0) + np.log1p(np.exp(-np.abs(Z)))  # e^{-|Z|} <= 1: nothing overflows
    return A, Z


def softplus_backward(d_A, Z):
    """``d_Z = d_A * sigmoid(Z)``, the sigmoid written so that no exponent is positive."""
    e = np.exp(-np.abs(Z))
    sigmoid = np.where(Z >= 0, 1 / (1 + e), e / (1 + e))
    return d_A * sigmoid  # (N, H)


# %% tags=["fold", "spoiler"]
# The checker of exercise 5
def exact_softplus(Z) -> np.ndarray:
    """log(1 + e^z) of each entry, in decimal arithmetic of 50 digits, where e^1000 is a number
    like any other; rounded to float64 at the end."""
    with decimal.localcontext(prec=50):
        return np.vectorize(lambda z: float((1 + decimal.Decimal(z).exp()).ln()))(Z)


def exact_slope(Z, h=1e-5) -> np.ndarray:
    """Centred differences of exact_softplus, all entries at once: each entry of its output
    depends on the same entry of Z alone."""
    return (exact_softplus(Z + h) - exact_softplus(Z - h)) / ((Z + h) - (Z - h))


@checker
def check_softplus(softplus_forward, softplus_backward):
    """A against exact_softplus; d_Z against d_A times its centred differences, exact_slope;
    both at ordinary and at extreme Z; then sm.grad_check of a network with the pair."""
    rng = np.random.default_rng(4)
    worst = 0.0
    for label, Z in [
        ("", 2 * rng.standard_normal((5, 4))),
        (" at Z = +-1000", np.array([[1000.0, -1000.0, 0.5, -0.5], [-999.5, 999.5, 2.0, -2.0]])),
    ]:
        G = rng.standard_normal(Z.shape)
        with must_not_change("softplus_forward", Z=Z):
            forward = yours("softplus_forward", softplus_forward, Z)
        A, cache = unpack("softplus_forward", forward, ["A", "cache"])
        with must_not_change("softplus_backward", d_A=G):
            d_Z = yours("softplus_backward", softplus_backward, G, cache)
        suspects = [
            (
                "it multiplies d_A by softplus(Z), the forward value, not by its derivative",
                G * exact_softplus(Z),
            ),
            ("the upstream gradient is missing: multiply by d_A", exact_slope(Z)),
            ("it is the derivative at -Z: check the sign in the exponent", G * exact_slope(-Z)),
            (
                "right where Z < 0 but not where Z > 0: it is the derivative at -|Z|",
                G * exact_slope(-np.abs(Z)),
            ),
        ]
        worst = max(
            worst,
            compare(f"A{label}", A, exact_softplus(Z)),
            compare(f"d_Z{label}", d_Z, G * exact_slope(Z), suspects=suspects),
        )
    params = sm.init_mlp([3, 5, 5, 2], rng)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    pair = (
        theirs("softplus_forward", softplus_forward),
        theirs("softplus_backward", softplus_backward),
    )
    report = refused(
        "sm.grad_check with your pair",
        lambda: sm.grad_check(params, X, y, sm.mse_loss, activation=pair),
    )
    if not report.ok:
        failing = ", ".join(name for name, row in report.items() if not row["ok"])
        raise Failed(f"sm.grad_check with your pair fails on {failing}: print it to see")
    worst = max([worst] + [row["max_rel_error"] for row in report.values()])
    return Result(True, worst, f"PASS: softplus, and grad_check with it, largest error {worst:.1e}")


# %%
if __name__ == "__main__":
    check_softplus(softplus_forward, softplus_backward)


# %% [markdown]
# ## 6. Two sanity checks before a long run
#
# Two cheap checks catch most broken setups before a long run. *At the start*, a classifier's
# outputs are small and nearly random, so its loss should be close to the loss of a guess that
# gives each of its $C$ classes the same probability (section 6). *A handful of examples* must be
# learnable: a network that works can learn 8 of them by heart, driving their loss to nearly 0.
#
# **What to write.** `sanity_checks(params, X, labels)` for a classifier trained with
# `sm.softmax_cross_entropy`, returning a dict of three numbers:
#
# - `"start"`: the loss of `params` on all of `X` and `labels`;
# - `"chance"`: the loss of that uniform guess, for the classifier's number of classes $C$, read
#   from `params`;
# - `"tiny"`: the loss on the first 8 rows, measured after training a copy of `params` on those
#   8 rows alone, full batch, with `sm.train` and an optimizer and a number of steps of your
#   choice.
#
# `params` must come out unchanged.
#
# **What the checker compares.** `"start"` and `"chance"` with its own, on a classifier of
# scikit-learn's 8×8 digits ($C = 10$) and one of section 6's spirals ($C = 3$); `"tiny"` must
# be nearly 0, below 0.01, on both. The cell after it runs your checks on three digit
# classifiers, two of them broken.


# %%
def sanity_checks(params, X, labels):
    """``{"start": ..., "chance": ..., "tiny": ...}`` for the classifier ``params``."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** $C$ is the width of the last layer, the number of columns of its weights. For
# `"tiny"`: `p = {k: v.copy() for k, v in params.items()}`, then `sm.train(p, X[:8],
# labels[:8], sm.softmax_cross_entropy, sm.Adam(lr=0.01), steps=300)`. `train`'s losses are
# each measured before an update: measure once more after, with `sm.loss_and_grads`.


# %% tags=["solution", "fold"]
# Solution: sanity_checks
def sanity_checks(params, X, labels):
    """``{"start": ..., "chance": ..., "tiny": ...}`` for the classifier ``params``."""
    C = params[f"W{len(params) // 2}"].shape[1]
    start = sm.loss_and_grads(params, X, labels, sm.softmax_cross_entropy)[0]
    tiny_X, tiny_labels = X[:8], labels[:8]
    p = {name: value.copy() for name, value in params.items()}
    sm.train(p, tiny_X, tiny_labels, sm.softmax_cross_entropy, sm.Adam(lr=0.01), steps=300)
    tiny = sm.loss_and_grads(p, tiny_X, tiny_labels, sm.softmax_cross_entropy)[0]
    return {"start": float(start), "chance": math.log(C), "tiny": float(tiny)}


# %% tags=["fold", "spoiler"]
# The checker of exercise 6
TINY = 0.01  # "nearly 0" for the loss on the 8 rows after training


@checker
def check_sanity_checks(sanity_checks):
    """start and chance against the checker's own, on a digit and a spiral classifier; tiny
    below TINY on both."""
    X, labels = digits()
    rng = np.random.default_rng(7)
    spirals = sm.make_spirals(rng, n_per_class=20)
    cases = {
        "the digits": (sm.init_mlp([64, 32, 10], rng), X / 16, labels),
        "the spirals": (sm.init_mlp([2, 16, 3], rng), *spirals),
    }
    worst = 0.0
    for case, (params, X, labels) in cases.items():
        with must_not_change("sanity_checks", params=params, X=X, labels=labels):
            report = yours("sanity_checks", sanity_checks, params, X, labels)
        if not isinstance(report, dict):
            raise Failed(f"sanity_checks returned {describe(report)}: return a dict")
        C = params[f"W{len(params) // 2}"].shape[1]

        def loss(rows=slice(None), X=X, labels=labels, params=params):
            return sm.loss_and_grads(params, X[rows], labels[rows], sm.softmax_cross_entropy)[0]

        # the uniform guess by its definition: every class the same logit
        chance = sm.softmax_cross_entropy(np.zeros((len(labels), C)), labels)[0]
        start, start_8 = loss(), loss(slice(8))
        got = {}
        for key in ("start", "chance", "tiny"):
            if key not in report:
                raise Failed(f"the dict has no {key!r}: return start, chance and tiny")
            got[key] = float(as_array(f"{key!r}", report[key], ()))
        for key, right, mistakes in [
            ("start", start, [(start_8, "that is the loss on 8 rows: start is on all of X")]),
            (
                "chance",
                chance,
                [
                    (1 / C, "that is the guess's probability for a class, not its loss"),
                    (math.log10(C), "log10: the loss uses the natural log"),
                    (math.log2(C), "log2: the loss uses the natural log"),
                    (start, "that is the start: chance depends on C alone"),
                ],
            ),
        ]:
            error = abs(got[key] - right) / abs(right)
            if not error <= 1e-6:
                why = next((m for v, m in mistakes if math.isclose(got[key], v, rel_tol=1e-6)), "")
                raise Failed(f"{key!r} on {case} is {got[key]:.6g}: {why or 'not right'}", error)
            worst = max(worst, error)
        tiny = got["tiny"]
        if not 0 <= tiny < TINY:
            why = (
                "a loss is never negative"
                if tiny < 0
                else "that is the loss on the 8 rows before training"
                if math.isclose(tiny, start_8, rel_tol=1e-6)
                else f"not nearly 0 (below {TINY}): train the copy on the 8 rows alone, longer "
                "or faster, and measure the loss on them"
            )
            raise Failed(f"'tiny' on {case} is {tiny:.4g}: {why}", tiny)
    return Result(
        True, worst, f"PASS: sanity_checks on two classifiers, start and chance within {worst:.0e}"
    )


# %%
if __name__ == "__main__":
    check_sanity_checks(sanity_checks)


# %% [markdown]
# Your checks on three digit classifiers $[64, 32, 10]$ from one draw of weights: the pixels
# divided by 16; the raw pixels, 0 to 16; and the pixels divided by 16, but every hidden unit's
# bias at $-10$:


# %%
def sanity_setups():
    """Three digit classifiers [64, 32, 10] from one draw, and the images each is given."""
    X, labels = digits()
    return {
        "pixels / 16": (sm.init_mlp([64, 32, 10], np.random.default_rng(7)), X / 16, labels),
        "raw pixels": (sm.init_mlp([64, 32, 10], np.random.default_rng(7)), X, labels),
        "hidden bias -10": (
            sm.init_mlp([64, 32, 10], np.random.default_rng(7), hidden_bias=-10.0),
            X / 16,
            labels,
        ),
    }


if __name__ == "__main__":
    try:
        for label, setup in sanity_setups().items():
            r = sanity_checks(*setup)
            print(f"{label:16s} start {r['start']:6.3f} (chance {r['chance']:.3f}), "
                  f"8 rows after training {r['tiny']:.5f}")  # fmt: skip
    except Exception as error:  # not written, or not working yet: its checker says which
        print(f"(the three reports appear here once sanity_checks works: {type(error).__name__})")

# %% [markdown] tags=["deeper", "answer"]
# **What the three reports show.** The first classifier passes both checks. With raw pixels,
# inputs up to 16 make the logits large: the loss starts five times above chance, confidently
# wrong, yet 8 rows are still learned by heart, so only the first check sees the problem. With
# the hidden biases at $-10$ every hidden unit is off: the outputs are all 0, so the loss starts
# *exactly* at chance and the first check passes; but no gradient reaches the hidden layers, only
# the output bias learns, and the 8 rows stay near $\ln 8 = 2.08$, the best one guess can do for
# 8 different labels. Each check catches what the other misses: run both.


# %% [markdown]
# ## 7. The training loop from a blank stub
#
# **What to write.** `train_loop(params, X, y, loss_fn, optimizer, steps, batch_size, rng)`:
# `steps` steps of mini-batch training, returning the list of every step's loss. A step takes
# `batch_size` rows, runs them forward, computes `loss, d_out = loss_fn(out, y_batch)`, runs the
# backward pass and hands the gradients to `optimizer.step(params, grads)`, which changes
# `params` in place; the step's loss is the one before its update. The rows go in epochs: each
# epoch visits every row once, in a new random order drawn from `rng` (here $N$ is a multiple of
# `batch_size`). Use `sm.mlp_forward` and `sm.mlp_backward` (section 2.6), and the `loss_fn` and
# `optimizer` you are given; not `sm.train` (the checker fails a loop that calls it).
#
# **What the checker compares.** It trains a network $[1, 16, 1]$ on 48 points of a sine, 150
# steps of 16 rows with `sm.Adam`, through a `loss_fn` that records the rows it sees and an
# optimizer that records what it is given. It checks the number of losses and steps; each step's
# loss and gradients against those of its own batch (`sm.loss_and_grads` on its rows); that each
# epoch uses every row once, in an order of its own drawn from `rng`; and that the loss on all 48
# points falls at least tenfold. Any shuffle order passes.


# %%
def train_loop(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
    """Train ``params`` in place, ``steps`` steps of ``batch_size`` rows; return every loss."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** At the start of each epoch, `order = rng.permutation(N)`; its steps then take the
# slices `order[0:B]`, `order[B:2 * B]`, ... A step is four lines: `out, cache =
# sm.mlp_forward(params, X[rows])`, `loss, d_out = loss_fn(out, y[rows])`, `grads =
# sm.mlp_backward(params, cache, d_out)`, `optimizer.step(params, grads)`; then keep
# `float(loss)`.


# %% tags=["solution", "fold"]
# Solution: train_loop
def train_loop(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
    """Train ``params`` in place, ``steps`` steps of ``batch_size`` rows; return every loss."""
    N = X.shape[0]
    per_epoch = N // batch_size
    losses = []
    for step in range(steps):
        if step % per_epoch == 0:  # a new epoch: a new order
            order = rng.permutation(N)
        first = step % per_epoch * batch_size
        rows = order[first : first + batch_size]
        out, cache = sm.mlp_forward(params, X[rows])  # forward
        loss, d_out = loss_fn(out, y[rows])  # loss
        grads = sm.mlp_backward(params, cache, d_out)  # backward
        optimizer.step(params, grads)  # update
        losses.append(float(loss))
    return losses


# %% tags=["fold", "spoiler"]
# The checker of exercise 7
def loop_problem():
    """A network [1, 16, 1] and 48 points of a sine with a little noise."""
    rng = np.random.default_rng(6)
    X = rng.uniform(-3, 3, (48, 1))
    y = np.sin(X) + 0.05 * rng.standard_normal((48, 1))
    return sm.init_mlp([1, 16, 1], rng), X, y


class Recorder:
    """The loss_fn and the optimizer handed to the reader's loop. It records what it is given,
    copied: the rows each loss_fn call sees and its loss, the parameters and gradients of each
    step; the work is sm.mse_loss's and sm.Adam's."""

    def __init__(self, y):
        self.row_of = {value: row for row, value in enumerate(y[:, 0].tolist())}
        self.calls, self.steps = [], []  # (rows, loss); (loss_fn calls so far, params, grads)
        self.adam = sm.Adam(lr=0.02)

    def loss_fn(self, out, y):
        loss, d_out = sm.mse_loss(out, y)
        self.calls.append(([self.row_of.get(v, -1) for v in np.ravel(y).tolist()], float(loss)))
        return loss, d_out

    def step(self, params, grads):
        self.steps.append((len(self.calls), copy.deepcopy(params), copy.deepcopy(grads)))
        self.adam.step(params, grads)


@checker
def check_train_loop(train_loop):
    """150 steps of 16 rows on loop_problem, recorded: the count of losses and steps, each
    step's loss and gradients against its batch's, each epoch's rows, and the loss it reaches."""
    params, X, y = loop_problem()
    N, B, steps = 48, 16, 150
    start = copy.deepcopy(params)
    record, rng = Recorder(y), np.random.default_rng(0)
    rng_start = copy.deepcopy(rng.bit_generator.state)
    written_yourself("train_loop", train_loop, ("train",), "write the loop yourself")
    with must_not_change("train_loop", X=X, y=y):
        losses = yours(
            "train_loop", train_loop, params, X, y, record.loss_fn, record, steps, B, rng
        )
    if not isinstance(losses, (list, tuple, np.ndarray)):
        raise Failed(f"train_loop returned {describe(losses)}: return the list of the losses")
    losses = as_array("train_loop's losses", losses)
    if losses.ndim != 1:
        raise Failed(
            f"train_loop's losses have shape {losses.shape}: each step's loss must be a number "
            "(float(loss) makes one)"
        )
    if losses.size != steps:
        raise Failed(f"train_loop returned {losses.size} losses for {steps} steps: one a step")
    if not record.calls:
        raise Failed("loss_fn was never called: compute each loss with the loss_fn given")
    if len(record.steps) != steps:
        raise Failed(f"optimizer.step was called {len(record.steps)} times for {steps} steps")
    worst, epochs = 0.0, [[] for _ in range(steps * B // N)]
    for t, (calls, before, grads) in enumerate(record.steps):
        if calls == 0:
            raise Failed(f"step {t}: optimizer.step came before any loss_fn call")
        rows, batch_loss = record.calls[calls - 1]
        if -1 in rows:
            raise Failed(f"step {t}: loss_fn got targets that are not rows of y")
        if len(rows) != B:
            raise Failed(f"step {t} used a batch of {len(rows)} rows, not batch_size = {B}")
        epochs[t * B // N] += rows
        right_loss, right = refused(
            f"the parameters at step {t}",
            lambda: sm.loss_and_grads(before, X[rows], y[rows], sm.mse_loss),  # noqa: B023
        )
        if not math.isclose(batch_loss, right_loss, rel_tol=1e-9):
            raise Failed(f"step {t}: loss_fn was given the output of other parameters than these")
        if not math.isclose(losses[t], batch_loss, rel_tol=1e-9):
            raise Failed(f"step {t}'s loss is {losses[t]:.6g}, not its batch's, {batch_loss:.6g}")
        if not isinstance(grads, dict):
            raise Failed(f"step {t}: optimizer.step got {describe(grads)} as the gradients")
        for name in right:
            grad = compare(f"step {t}, grads[{name!r}]", grads.get(name), right[name], N=B)
            worst = max(worst, grad)
    if any(sorted(rows) != list(range(N)) for rows in epochs):
        e = next(e for e, rows in enumerate(epochs) if sorted(rows) != list(range(N)))
        raise Failed(f"epoch {e} uses some rows more than once and misses others", e)
    if epochs[0] == list(range(N)):
        raise Failed("the first epoch takes the rows in their stored order: shuffle them")
    if all(rows == epochs[0] for rows in epochs):
        raise Failed("every epoch takes the rows in the same order: draw a new one each epoch")
    if rng.bit_generator.state == rng_start:
        raise Failed("rng was never used: draw the orders from it, so that a seed repeats a run")
    if all(np.array_equal(params[name], start[name]) for name in params):
        raise Failed("params did not change: the optimizer must update the dict you were given")
    before, after = (sm.loss_and_grads(p, X, y, sm.mse_loss)[0] for p in (start, params))
    if not after <= before / 10:
        raise Failed(f"the loss on all rows went from {before:.3g} to {after:.3g}: not tenfold")
    return Result(
        True, worst, f"PASS: train_loop, every gradient right, loss {before:.3f} -> {after:.4f}"
    )


# %%
if __name__ == "__main__":
    check_train_loop(train_loop)


# %% [markdown]
# ## 8. Predict, then run
#
# Write each prediction down, with its reason, before you run anything:
#
# 1. `rmsprop_first_step`: the article's network at its start (section 4: `init_mlp([1, 64, 1])`
#    on the 200 sine points) takes one step of `sm.RMSProp(lr=0.01)`, with its default
#    $\alpha = 0.99$. The gradients of the 64 entries of $W_1$ range in size from about 0.02 to
#    0.9. How far does each entry move?
# 2. `momentum_speedup`: `sm.SGD(lr=0.1, momentum=0.9)` is given the same gradient $g$ at every
#    step. How long is its 100th step, the distance covered in that one step (not in all 100),
#    as a multiple of $\eta\, |g|$, the length of a step without momentum?
# 3. `grad_check_error`: `sm.grad_check` runs on the article's network with a loss whose `d_out`
#    lacks the factor 2 of the square. What does its `max rel error` column show?
#
# **What to write.** Your three numbers, in `predictions`.
#
# **What the checker compares.** Each prediction with what the three runs measure; within 2%
# passes. The cell before the checker's call prints the runs once your three predictions are
# written.

# %%
predictions = {
    "rmsprop_first_step": None,
    "momentum_speedup": None,
    "grad_check_error": None,
}

# %% [markdown] tags=["deeper", "hint"]
# **Hint.** (1) Section 5: RMSProp's running mean $v$ starts at 0, as Adam's does, but nothing
# corrects it for that start. (2) The velocity is a sum of all the gradients so far, the one
# from $k$ steps ago multiplied by $\mu^k$: a geometric series. (3) `grad_check`'s relative
# error of an entry is $|g - g_\mathrm{num}|$ divided by the larger of $|g|$ and
# $|g_\mathrm{num}|$.

# %% tags=["solution", "fold"]
# Solution: the three predictions
predictions = {
    # v = (1 - 0.99) g**2 after one step: the step is lr |g| / (0.1 |g|) = 10 lr, whatever g
    "rmsprop_first_step": 0.1,
    # velocity = g (1 + 0.9 + 0.9**2 + ... + 0.9**99), close to g / (1 - 0.9) = 10 g
    "momentum_speedup": 10.0,
    # g = g_num / 2: |g - g_num| / |g_num| = 1/2 on every entry of every tensor
    "grad_check_error": 0.5,
}


# %% tags=["fold", "spoiler"]
# The checker of exercise 8, and its three runs
PREDICTED = ("rmsprop_first_step", "momentum_speedup", "grad_check_error")


def run_experiments():
    """The three runs: for each prediction, the smallest and largest value measured; and the
    range of the gradients of W1 that RMSProp's step is given."""
    rng = np.random.RandomState(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    start = {name: p.copy() for name, p in params.items()}
    # 1. One step of RMSProp
    _, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
    sm.RMSProp(lr=0.01).step(params, grads)
    moved = np.abs(params["W1"] - start["W1"])
    # 2. Momentum, the same gradient 1 at every step: the last step, in units of lr * 1
    w, sgd = {"w": np.zeros(1)}, sm.SGD(lr=0.1, momentum=0.9)
    for _ in range(100):
        before = w["w"].copy()
        sgd.step(w, {"w": np.ones(1)})
    speedup = float((before - w["w"])[0]) / 0.1

    # 3. grad_check with d_out half the right one
    def mse_without_2(out, y):
        loss, d_out = sm.mse_loss(out, y)
        return loss, d_out / 2

    report = sm.grad_check(start, X, y, mse_without_2)
    errors = [row["max_rel_error"] for row in report.values()]
    return {
        "W1's |gradients|": (np.abs(grads["W1"]).min(), np.abs(grads["W1"]).max()),
        "rmsprop_first_step": (moved.min(), moved.max()),
        "momentum_speedup": (speedup, speedup),
        "grad_check_error": (min(errors), max(errors)),
    }


def show_runs(predictions):
    """The three runs, printed only once all three predictions are written."""
    if not isinstance(predictions, dict) or any(predictions.get(n) is None for n in PREDICTED):
        print("(the three runs print here once your three predictions are written)")
        return
    for name, (low, high) in run_experiments().items():
        print(f"{name:18s} from {low:.6f} to {high:.6f}")


@checker
def check_predictions(predictions):
    """Each prediction against the run: within 2% of every value it measured."""
    if not isinstance(predictions, dict):
        raise Failed(f"predictions is {describe(predictions)}: keep it a dict of three numbers")
    if all(predictions.get(name) is None for name in PREDICTED):
        raise NotWritten("write down your three predictions")
    measured, worst = run_experiments(), 0.0
    for name in PREDICTED:
        low, high = measured[name]
        if predictions.get(name) is None:
            raise Failed(f"{name} has no prediction")
        guess = float(as_array(name, predictions[name], ()))
        gap = max(abs(guess - low) / abs(low), abs(guess - high) / abs(high))
        if not gap <= 0.02:
            runs = (
                f"{low:.4g}"
                if math.isclose(low, high, rel_tol=1e-3)
                else f"{low:.4g} to {high:.4g}"
            )
            raise Failed(
                f"{name}: you predicted {guess:g}, the run gives {runs}; the hint, and the "
                "solution on the Exercises page, say why",
                gap,
            )
        worst = max(worst, gap)
    return Result(True, worst, f"PASS: all three predictions within 2% of the run ({worst:.1%})")


# %% tags=["answer"]
# The three runs (they print once your predictions are written)
if __name__ == "__main__":
    show_runs(predictions)

# %%
if __name__ == "__main__":
    check_predictions(predictions)

# %% [markdown]
# ## 9. L2 in the loss against decoupled weight decay
#
# Two ways to keep the weights small, with a rate $\lambda$ (`weight_decay`).
#
# **What to write.**
#
# 1. `with_l2(grads, params, weight_decay)`: the gradients of the loss plus
#    $\frac{\lambda}{2} \sum \theta^2$, the sum over every entry of every parameter, as a new dict
#    keyed like `grads`. It changes neither argument.
# 2. `AdamW(lr, betas, eps, weight_decay)`, Adam with decoupled weight decay, as
#    `torch.optim.AdamW` does it: each step first shrinks every parameter in place by the factor
#    that L2 gives plain gradient descent in one step of the same $\eta$ and $\lambda$ (derive it
#    from part 1), then takes Adam's step on the plain gradient.
#
# Then predict: trained 300 steps with $\lambda = 0.1$, which ends with the smaller weights, Adam
# with L2 in its gradient or AdamW? And gradient descent with L2, or with the same shrink?
#
# **What the checker compares.** `with_l2`'s gradients with centred finite differences of the
# penalised loss, and its arguments after the call; `AdamW`'s parameters over 30 steps with
# `sm.Adam`'s steps, each after a step of gradient descent on the penalty alone (its gradient
# measured by finite differences), told apart from Adam with L2 in the gradient.


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


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** The derivative of $\frac{\lambda}{2}\theta^2$ is $\lambda\theta$. Gradient descent
# on it steps $\theta - \eta(g + \lambda\theta) = (1 - \eta\lambda)\,\theta - \eta g$: a shrink
# by $1 - \eta\lambda$, then the plain step. In `AdamW.step`, multiply each parameter in place by
# `1 - self.lr * self.weight_decay`, then call `super().step(params, grads)`.


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
            p *= 1 - self.lr * self.weight_decay  # the shrink, outside Adam's normalisation
        super().step(params, grads)  # then Adam's step on the plain gradient


# %% tags=["fold", "spoiler"]
# The checker of exercise 9, and the tools of the optimizers' checkers
def optimizer_problem():
    """A ReLU network [2, 8, 1] and 16 points with MSE targets."""
    rng = np.random.default_rng(9)
    params = sm.init_mlp([2, 8, 1], rng)
    return params, rng.standard_normal((16, 2)), rng.standard_normal((16, 1))


def in_place(what: str, step):
    """The reader's ``step(params, grads)``, which must update the arrays of ``params`` in
    place: a FAIL if it puts new arrays in the dict instead."""

    def run(params, grads):
        arrays = dict(params)
        try:
            yours(what, step, params, grads)
        finally:
            replaced = next((k for k in arrays if params.get(k) is not arrays[k]), None)
            if replaced is not None:
                raise Failed(
                    f"{what} put a new array in params[{replaced!r}]: update the arrays in "
                    "place (p -= ..., p *= ...), not the dict's entries"
                )

    return run


def trajectory(step, steps=30, transform=None):
    """``step(params, grads)`` run ``steps`` times on optimizer_problem, full batch: the
    parameters after each step, flattened. ``transform(grads, params)`` changes the gradients
    first, if given."""
    params, X, y = optimizer_problem()
    path = []
    for t in range(steps):
        _, grads = refused(
            f"the parameters after step {t - 1}",
            lambda: sm.loss_and_grads(params, X, y, sm.mse_loss),  # noqa: B023
        )
        step(params, grads if transform is None else transform(grads, params))
        path.append(flat(params))
    return path


def compare_trajectories(name, got, want, suspects=()):
    """PASS if two trajectories agree, else a FAIL with the first step that differs."""
    step = first_difference(got, want)
    if step is None:
        error = max(float(np.abs(a - b).max()) for a, b in zip(got, want, strict=True))
        return Result(
            True, error, f"PASS: {name}, {len(want)} steps, largest difference {error:.1e}"
        )
    why = next((m for m, path in suspects if first_difference(got, path) is None), None)
    raise Failed(f"{name}: step {step} is the first whose parameters differ{why or ''}", step)


def penalty_gradient(p, weight_decay):
    """The gradient of weight_decay / 2 * sum(p**2), measured by centred differences."""
    return numeric(lambda q: weight_decay / 2 * np.sum(q**2), p)


def decoupled(step, lr, weight_decay, shrink_lr=None, after=False):
    """``step``, an optimizer's step on the plain gradient, and apart from it, before it (after
    it with ``after=True``), a step of gradient descent on the penalty alone, of rate
    ``shrink_lr`` (``lr`` unless given)."""

    def shrink(params):
        for p in params.values():
            p -= (lr if shrink_lr is None else shrink_lr) * penalty_gradient(p, weight_decay)

    def run(params, grads):
        if not after:
            shrink(params)
        step(params, grads)
        if after:
            shrink(params)

    return run


def penalty_gradients(params, X, y, weight_decay):
    """Centred differences of the MSE loss plus weight_decay / 2 * sum(p**2), per tensor."""

    def penalised(name, p):
        all_params = {**params, name: p}
        loss = sm.loss_and_grads(all_params, X, y, sm.mse_loss)[0]
        return loss + weight_decay / 2 * sum(np.sum(q**2) for q in all_params.values())

    return {name: numeric(functools.partial(penalised, name), p) for name, p in params.items()}


@checker
def check_weight_decay(with_l2, AdamW):
    """with_l2 against penalty_gradients, its arguments unchanged; AdamW over 30 steps against
    sm.Adam with the decoupled penalty step, and told apart from Adam with L2 in the gradient."""
    params, X, y = optimizer_problem()
    _, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
    wd, lr = 0.1, 0.01
    with must_not_change("with_l2", grads=grads, params=params):
        new = yours("with_l2", with_l2, grads, params, wd)
    if not isinstance(new, dict) or new.keys() != grads.keys():
        raise Failed(f"with_l2 returned {describe(new)}: return a dict keyed like grads")
    worst = 0.0
    for name, right in penalty_gradients(params, X, y, wd).items():
        got = as_array(f"with_l2(...)[{name!r}]", new[name], right.shape)
        penalty = right - grads[name]
        if np.allclose(got, penalty, rtol=1e-6, atol=1e-12):
            raise Failed(f"with_l2(...)[{name!r}] is the penalty's gradient alone: add the loss's")
        try:
            worst = max(worst, compare(f"with_l2(...)[{name!r}]", got, right))
        except Failed as failure:  # the loss's part is given: say what is wrong with the rest
            why = diagnose(got - grads[name], penalty)
            raise Failed(f"{failure}; in its penalty part, {why}", failure.number) from None
    adamw = yours("AdamW(lr, weight_decay=0.1)", AdamW, lr=lr, weight_decay=wd)
    got = trajectory(in_place("AdamW.step", getattr(adamw, "step", None)))
    suspects = [
        (
            ": this is Adam with L2 in the gradient; shrink the parameters instead",
            trajectory(
                sm.Adam(lr).step,
                transform=lambda g, p: {k: g[k] + penalty_gradient(p[k], wd) for k in g},
            ),
        ),
        (
            ": the shrink comes after Adam's step; shrink first",
            trajectory(decoupled(sm.Adam(lr).step, lr, wd, after=True)),
        ),
        (
            ": this shrinks by 1 - weight_decay; derive the factor",
            trajectory(decoupled(sm.Adam(lr).step, lr, wd, shrink_lr=1.0)),
        ),
        (": there is no shrink at all", trajectory(sm.Adam(lr).step)),
    ]
    right = trajectory(decoupled(sm.Adam(lr).step, lr, wd))
    result = compare_trajectories("AdamW", got, right, suspects)
    worst = max(worst, result.number)
    return Result(True, worst, f"PASS: with_l2 and AdamW, largest error {worst:.1e}")


def compare_decay(with_l2, AdamW, steps=300, lr=0.01, wd=0.1):
    """Gradient descent and Adam, each with L2 in the gradient (the reader's with_l2) and with
    the decoupled penalty (for Adam, the reader's AdamW): the size of the trained parameters."""
    l2 = functools.partial(with_l2, weight_decay=wd)
    runs = {
        "gradient descent": (
            trajectory(sm.SGD(lr).step, steps, transform=l2),
            trajectory(decoupled(sm.SGD(lr).step, lr, wd), steps),
        ),
        "Adam": (
            trajectory(sm.Adam(lr).step, steps, transform=l2),
            trajectory(AdamW(lr, weight_decay=wd).step, steps),
        ),
    }
    for label, (with_penalty, apart) in runs.items():
        gap = np.abs(with_penalty[-1] - apart[-1]).max()
        print(
            f"{label:16s} |theta| with L2 {np.linalg.norm(with_penalty[-1]):.4f}, "
            f"decoupled {np.linalg.norm(apart[-1]):.4f}, largest difference {gap:.1e}"
        )


# %%
if __name__ == "__main__":
    check_weight_decay(with_l2, AdamW)

# %% [markdown]
# Your prediction, run: the network of the checker trained 300 steps four ways with
# $\lambda = 0.1$. For each, the size $\lVert \theta \rVert$ of the trained parameters, and how
# far apart the two versions end.

# %%
if __name__ == "__main__":
    try:
        compare_decay(with_l2, AdamW)
    except Exception as error:  # not written, or not working yet: its checker says which
        print(f"(the four runs appear here once with_l2 and AdamW work: {type(error).__name__})")

# %% [markdown] tags=["deeper", "answer"]
# **What the runs show.** With gradient descent the two end at the same point, to rounding:
# there they are one method. With Adam they end far apart, and L2 in the gradient leaves the
# smaller weights. Adam divides each gradient by the running size of that parameter's
# gradients, the L2 term included: a weight whose loss gradient is small has its
# $\lambda\theta$ scaled up to a step of about $\eta$ towards 0, whatever $\lambda$ is. AdamW's
# shrink stays outside that division, so every weight shrinks by the same factor. With Adam, an
# L2 coefficient and a weight decay are two different knobs.


# %% [markdown]
# ## 10. Nesterov momentum
#
# Nesterov's method, in the form of Sutskever et al. (2013), keeps a velocity $v$, zero at the
# start, and takes the gradient where the velocity is about to carry the parameters $\theta$:
#
# $$v \leftarrow \mu v - \eta\, \nabla L(\theta + \mu v), \qquad \theta \leftarrow \theta + v.$$
#
# An optimizer's `step(params, grads)` is given the gradient at `params` only. So let `params`
# hold the look-ahead point $\phi = \theta + \mu v$ itself: then the gradient it is given is the
# one the method needs.
#
# **What to write.** `Nesterov(lr, momentum)` with `.step(params, grads)`, which updates the
# arrays of `params` in place (not the dict's entries) so that after each step they are
# $\theta + \mu v$. Derive the update of $\phi$ from the two lines above; keep whatever it needs
# between steps in the object.
#
# **What the checker compares.** 30 steps on a network $[2, 8, 1]$ with $\eta = 0.05$ and
# $\mu = 0.9$, against the two lines above run as they stand; it reports the first step whose
# parameters differ.


# %%
class Nesterov:
    """SGD with Nesterov momentum: ``step(params, grads)`` updates ``params`` in place."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum

    def step(self, params, grads):
        raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** With $\phi_t = \theta_t + \mu v_t$ and $g_t = \nabla L(\phi_t)$, the two lines give
#
# $$v_{t+1} = \mu v_t - \eta g_t, \qquad
#   \phi_{t+1} = \theta_{t+1} + \mu v_{t+1} = \phi_t - \mu v_t + (1 + \mu)\, v_{t+1}.$$
#
# It reads best with a velocity of gradients, $b = -v/\eta$: $b_{t+1} = \mu b_t + g_t$, and
#
# $$\phi_{t+1} = \phi_t - \eta\,(g_t + \mu\, b_{t+1}).$$
#
# Keep one $b$ per parameter, zero at the start; update it first, then step with the new one.


# %% tags=["solution", "fold"]
# Solution: Nesterov
class Nesterov:
    """SGD with Nesterov momentum: ``step(params, grads)`` updates ``params`` in place."""

    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum = lr, momentum
        self.velocity = {}  # b = -v / lr per parameter: a velocity of gradients, as in SGD

    def step(self, params, grads):
        for name, p in params.items():
            g = grads[name]
            b = self.velocity.setdefault(name, np.zeros_like(p))
            b *= self.momentum  # b_{t+1} = mu b_t + g_t
            b += g
            p -= self.lr * (g + self.momentum * b)  # phi_{t+1} = phi_t - lr (g_t + mu b_{t+1})


# %% tags=["fold", "spoiler"]
# The checker of exercise 10
def sutskever_nesterov(lr, momentum, steps=30):
    """The two lines of exercise 10 as they stand, the gradient taken at theta + mu v: the
    look-ahead point theta + mu v after each step."""
    theta, X, y = optimizer_problem()
    v = {name: np.zeros_like(p) for name, p in theta.items()}
    path = []
    for _ in range(steps):
        ahead = {name: theta[name] + momentum * v[name] for name in theta}
        _, g = sm.loss_and_grads(ahead, X, y, sm.mse_loss)
        for name in theta:
            v[name] = momentum * v[name] - lr * g[name]
            theta[name] = theta[name] + v[name]
        path.append(flat({name: theta[name] + momentum * v[name] for name in theta}))
    return path


@checker
def check_nesterov(Nesterov):
    """30 steps of Nesterov(lr=0.05, momentum=0.9) against sutskever_nesterov."""
    optimizer = yours("Nesterov(lr=0.05, momentum=0.9)", Nesterov, lr=0.05, momentum=0.9)
    got = trajectory(in_place("Nesterov.step", getattr(optimizer, "step", None)))
    suspects = [
        (": these are plain momentum's steps", trajectory(sm.SGD(0.05, momentum=0.9).step)),
        (": these are plain SGD's steps, with no velocity", trajectory(sm.SGD(0.05).step)),
        (": the parameters never move (update the arrays in place)", trajectory(lambda p, g: 0)),
    ]
    return compare_trajectories("Nesterov", got, sutskever_nesterov(0.05, 0.9), suspects)


# %%
if __name__ == "__main__":
    check_nesterov(Nesterov)

# %% [markdown]
# ## 11. The backward pass of batch normalisation
#
# Batch normalisation standardises each column of $Z$ $(N, D)$ over the batch, then scales and
# shifts it with learned $\gamma$ and $\beta$, both $(1, D)$:
#
# $$\mu = \frac{1}{N}\sum_n Z_{n,:}, \qquad \sigma^2 = \frac{1}{N}\sum_n (Z_{n,:} - \mu)^2,
#   \qquad \hat Z = \frac{Z - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
#   \mathrm{out} = \gamma \odot \hat Z + \beta.$$
#
# Every output of a column depends on every input of that column, through $\mu$ and $\sigma^2$.
#
# **What to write.** `batchnorm_forward` below is given. Write `batchnorm_backward(d_out,
# cache)`, returning `(d_Z, d_gamma, d_beta)` with the shapes of $Z$, $\gamma$ and $\beta$.
# Derive it on paper first. It must change neither argument.
#
# **What the checker compares.** Each of the three with centred finite differences of
# $\sum \mathrm{out} \odot G$ for a given $G$, on $N = 6$ rows and $D = 4$ columns.


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


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** $\beta$ and $\gamma$ are like a bias and a weight: $\mathtt{d\_beta} = \sum_n
# G_{n,:}$ and $\mathtt{d\_gamma} = \sum_n (G \odot \hat Z)_{n,:}$. For $Z$, work with
# $\mathtt{d\_Z\_hat} = G \odot \gamma$. Each $Z_{nd}$ reaches the loss three ways: through
# $\hat Z_{nd}$ with weight $1/\sqrt{\sigma^2 + \epsilon}$, through $\mu$ (weight $1/N$), and
# through $\sigma^2$ (weight $2(Z_{nd} - \mu)/N$). With
#
# $$\frac{\partial L}{\partial \mu} = -\frac{\sum_n \mathtt{d\_Z\_hat}_{n,:}}
#   {\sqrt{\sigma^2+\epsilon}}, \qquad
#   \frac{\partial L}{\partial \sigma^2} = -\tfrac12 (\sigma^2+\epsilon)^{-3/2} \sum_n
#   \mathtt{d\_Z\_hat}_{n,:} (Z - \mu)_{n,:},$$
#
# add the three and factor out $1/(N\sqrt{\sigma^2+\epsilon})$:
#
# $$\mathtt{d\_Z} = \frac{1}{N \sqrt{\sigma^2 + \epsilon}} \Big( N\, \mathtt{d\_Z\_hat} -
#   \sum_n \mathtt{d\_Z\_hat}_{n,:} - \hat Z \odot \sum_n (\mathtt{d\_Z\_hat} \odot \hat Z)_{n,:}
#   \Big).$$


# %% tags=["solution", "fold"]
# Solution: batchnorm_backward
def batchnorm_backward(d_out, cache):
    """``(d_Z, d_gamma, d_beta)`` from the upstream gradient ``d_out`` (N, D)."""
    Z_hat, gamma, inv_std = cache
    N = d_out.shape[0]
    d_beta = d_out.sum(axis=0, keepdims=True)  # (1, D)
    d_gamma = (d_out * Z_hat).sum(axis=0, keepdims=True)  # (1, D)
    d_Z_hat = d_out * gamma  # (N, D)
    through_mu = d_Z_hat.sum(axis=0, keepdims=True)  # (1, D)
    through_var = Z_hat * (d_Z_hat * Z_hat).sum(axis=0, keepdims=True)  # (N, D)
    d_Z = inv_std / N * (N * d_Z_hat - through_mu - through_var)  # (N, D)
    return d_Z, d_gamma, d_beta


# %% tags=["fold", "spoiler"]
# The checker of exercise 11
@checker
def check_batchnorm_backward(batchnorm_backward):
    """d_beta, d_gamma and d_Z against centred differences of sum(batchnorm_forward(...) * G).
    The likely mistakes are measured the same way, with mu or sigma^2 held fixed."""
    rng = np.random.default_rng(11)
    Z = 2 * rng.standard_normal((6, 4)) + 1
    gamma, beta = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    G = rng.standard_normal((6, 4))
    _, cache = batchnorm_forward(Z, gamma, beta)
    with must_not_change("batchnorm_backward", d_out=G, cache=cache):
        result = yours("batchnorm_backward", batchnorm_backward, G, cache)
    d_Z, d_gamma, d_beta = unpack("batchnorm_backward", result, ["d_Z", "d_gamma", "d_beta"])

    def loss(z, g=gamma, b=beta, mu=None, var=None):
        """sum(out * G), with mu or var held at the values given."""
        m = z.mean(axis=0, keepdims=True) if mu is None else mu
        v = ((z - m) ** 2).mean(axis=0, keepdims=True) if var is None else var
        return np.sum((g * (z - m) / np.sqrt(v + 1e-5) + b) * G)

    mu, var = Z.mean(axis=0, keepdims=True), Z.var(axis=0, keepdims=True)
    suspects = [
        (
            "it holds mu and sigma^2 fixed: Z reaches the loss through them too",
            numeric(lambda z: loss(z, mu=mu, var=var), Z),
        ),
        ("the path through sigma^2 is missing", numeric(lambda z: loss(z, var=var), Z)),
        ("the path through mu is missing", numeric(lambda z: loss(z, mu=mu), Z)),
        ("gamma is missing from d_Z", numeric(lambda z: loss(z, g=np.ones_like(gamma)), Z)),
    ]
    worst = max(
        compare("d_beta", d_beta, numeric(lambda b: loss(Z, b=b), beta)),
        compare("d_gamma", d_gamma, numeric(lambda g: loss(Z, g=g), gamma)),
        compare("d_Z", d_Z, numeric(loss, Z), N=6, suspects=suspects),
    )
    return Result(True, worst, f"PASS: batchnorm_backward, largest error {worst:.1e}")


# %%
if __name__ == "__main__":
    check_batchnorm_backward(batchnorm_backward)

# %% [markdown]
# ## 12. Capstone: a digit classifier
#
# scikit-learn's 8×8 digits: 1,797 small images of handwritten digits, each 64 pixel values from
# 0 to 16, labelled 0 to 9. The checker holds a quarter of them out; your code never sees them.
#
# **What to write.** `train_digits(X, labels, rng)`: train a classifier on the training images
# `X` $(N, 64)$ and their `labels` $(N,)$ with this project's functions (`sm.init_mlp`,
# `sm.train` or your `train_loop`, an optimizer, `sm.softmax_cross_entropy`, `sm.predict`),
# drawing every random number from `rng`, and return a function `classify(images)` that gives the
# predicted label of each row of `images`. Leave `X` and `labels` unchanged. Run exercise 6's
# checks on your network before training it.
#
# **What the checker compares.** The accuracy of `classify` on the held-out quarter, 449 images:
# at least 95% passes.


# %%
def train_digits(X, labels, rng):
    """Train a classifier on ``X`` (N, 64) and ``labels`` (N,); return ``classify(images)``."""
    raise NotImplementedError


# %% [markdown] tags=["deeper", "hint"]
# **Hint.** Divide the pixels by 16 before training: with raw values up to 16, the start is far
# from chance (exercise 6). `classify` is given raw images: prepare them as you prepared `X`. A
# network $[64, 64, 10]$, `sm.Adam(lr=0.01)` and batches of 64 rows for 300 steps (about 14
# epochs) train in a fraction of a second.


# %% tags=["solution", "fold"]
# Solution: train_digits
def train_digits(X, labels, rng):
    """Train a classifier on ``X`` (N, 64) and ``labels`` (N,); return ``classify(images)``."""
    params = sm.init_mlp([64, 64, 10], rng)
    optimizer = sm.Adam(lr=0.01)
    sm.train(params, X / 16, labels, sm.softmax_cross_entropy, optimizer, 300, 64, rng)

    def classify(images):
        return sm.predict(params, images / 16)

    return classify


# %% tags=["fold", "spoiler"]
# The checker of exercise 12
@checker
def check_digits(train_digits):
    """The held-out accuracy of what train_digits returns: at least 95%."""
    X, labels = digits()
    X_train, labels_train, X_test, labels_test = sm.split(X, labels, np.random.default_rng(12))
    with must_not_change("train_digits", X=X_train, labels=labels_train):
        classify = yours(
            "train_digits", train_digits, X_train, labels_train, np.random.default_rng(0)
        )
    with must_not_change("classify", images=X_test):
        predicted = yours("classify", classify, X_test)
    if getattr(predicted, "shape", None) == (len(X_test), 10):
        raise Failed(
            "classify returned 10 numbers per image: return the label, the largest's index"
        )
    predicted = as_array("classify(images)", predicted, labels_test.shape)
    accuracy = float(np.mean(predicted == labels_test))
    if not accuracy >= 0.95:
        why = ": about chance, is the network trained?" if accuracy < 0.2 else ""
        raise Failed(f"held-out accuracy {accuracy:.1%}, below the 95% needed{why}", accuracy)
    return Result(
        True,
        accuracy,
        f"PASS: held-out accuracy {accuracy:.1%} on {len(X_test)} images (95% needed)",
    )


# %%
if __name__ == "__main__":
    check_digits(train_digits)

# %% [markdown]
# ## Where to go next
#
# Every checker is an ordinary function in the folded cells (collapsed in the notebook): read
# one to see how it decides. The same tools check anything you add to a network: a
# forward/backward pair goes into `activation=`, a loss into `loss_fn`, and `sm.grad_check`
# compares the result with finite differences, entry by entry.
# [When it breaks](../failure_modes/) plants more backward-pass bugs in the article's network
# and shows the gradient check that each one fails.
