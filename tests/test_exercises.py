"""The exercises page: every checker passes its solution and fails plausible wrong answers, each
with a message that points at the mistake; the notebook readers download holds no solution and,
run top to bottom beside scratch_mlp.py, prints one "not written yet" per exercise."""

import contextlib
import copy
import inspect
import io
import re
import subprocess
import sys
import types
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import scratch_mlp as sm
from docs import exercises as ex
from docs.hooks.notebooks import page_notebook

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "exercises.py"

# Each checker of the page (check_<key>), in the page's order, and the names of what it takes:
# the page's own names for the answers.
CHECKERS = {
    name.removeprefix("check_"): list(inspect.signature(check).parameters)
    for name, check in vars(ex).items()
    if name.startswith("check_")
}


def verdict(key, capsys, answer=None) -> str:
    """The one line check_<key> prints for the page's answers with ``answer`` in place of one:
    the answer itself for a checker of one argument, a dict {argument: answer} for the others."""
    names = CHECKERS[key]
    if answer is None:
        replaced = {}
    elif len(names) == 1:
        replaced = {names[0]: answer}
    else:
        replaced = answer
    result = getattr(ex, f"check_{key}")(*[replaced.get(n, getattr(ex, n)) for n in names])
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith(("PASS: ", "FAIL: ")), line
    assert bool(result) == line.startswith("PASS: ")
    return line


# --- A learner's answers


def altered(fn, at, how):
    """``fn`` with its result at ``at`` (an index or a key) replaced by ``how(it, *arguments)``."""

    def wrong(*args):
        result = fn(*args)
        result = dict(result) if isinstance(result, dict) else list(result)
        result[at] = how(result[at], *args)
        return result if isinstance(result, dict) else tuple(result)

    return wrong


def layers(linear_backward, relu_backward):
    """article_backward built from layer functions: the library's, or the reader's own."""

    def article_backward(X, y, W2, Z1, A1, out):
        d_out = 2 * (out - y) / len(X)
        d_A1, dW2, db2 = linear_backward(d_out, (A1, W2))
        W1 = np.zeros((X.shape[1], Z1.shape[1]))
        _, dW1, db1 = linear_backward(relu_backward(d_A1, Z1), (X, W1))
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    return article_backward


def one_order(rng):
    """An rng whose every permutation is the first one it drew."""
    order = rng.permutation(48)
    return types.SimpleNamespace(permutation=lambda n: order)


def overfit(lr):
    """sanity_checks whose tiny batch is learned by Adam of another rate."""

    def sanity_checks(params, X, labels):
        p, loss = copy.deepcopy(params), sm.softmax_cross_entropy
        sm.train(p, X[:8], labels[:8], loss, sm.Adam(lr), 300)
        tiny = sm.loss_and_grads(p, X[:8], labels[:8], loss)[0]
        return ex.sanity_checks(params, X, labels) | {"tiny": tiny}

    return sanity_checks


def new_arrays(lr, **_):
    """An optimizer whose step puts new arrays in the dict, where it should change the old ones."""

    def step(params, grads):
        params.update({k: p - lr * grads[k] for k, p in params.items()})

    return types.SimpleNamespace(step=step)


class ShrinkAfter(ex.AdamW):
    def step(self, params, grads):
        sm.Adam.step(self, params, grads)
        for p in params.values():
            p *= 1 - self.lr * self.weight_decay


def adam_l2(lr, weight_decay):
    adam = sm.Adam(lr)
    adam.step = lambda p, g: sm.Adam.step(adam, p, ex.with_l2(g, p, weight_decay))
    return adam


HAND, GUESS, LB, BN = ex.by_hand, ex.predictions, ex.linear_backward, ex.batchnorm_backward
LOSS = sm.softmax_cross_entropy
# fmt: off
ANSWERS = [  # (checker, answer, the words, or tuple of words, its line must hold)
    *[(key, None, "PASS: ") for key in CHECKERS],  # the page's solutions
    # Right in other ways: exact fractions and integers; the reader's own linear_backward; a tiny
    # batch learned with another rate.
    ("by_hand", HAND | {"dW2": [[Fraction(5, 2)], [Fraction(3, 2)]], "db2": np.array([[2]])},
     "PASS: "),
    ("article_backward", layers(LB, lambda d_A1, Z1: d_A1 * (Z1 > 0)), "PASS: "),
    ("sanity_checks", overfit(0.03), "PASS: "),
    # Wrong, each a change a learner plausibly makes
    ("by_hand", HAND | {"d_out": [[6.0], [3.0], [-3.0]]}, "3 times too large: a sum where"),
    ("by_hand", HAND | {"d_Z1": HAND["d_A1"]}, ("d_Z1[0, 1] = 2 is wrong", "is a mask missing?")),
    ("by_hand", HAND | {"db2": 2.0},
     "db2 has shape (), not (1, 1): write it as a list of rows, [[2.0]]"),
    ("linear_backward", lambda d_Z, cache: sm.linear_backward(d_Z, cache),
     "calls scratch_mlp's own linear_backward: write it yourself"),
    ("linear_backward", lambda d_Z, cache: LB(d_Z, cache)[::-1],
     "returned (db, dW, d_X): return (d_X, dW, db)"),
    ("linear_backward", altered(LB, 1, lambda dW, *_: dW.T), "(4, 3), not (3, 4): transposed"),
    ("linear_backward", altered(LB, 2, lambda db, *_: db / 5), "5 times too small: a mean where"),
    ("linear_backward", altered(LB, 2, lambda db, *_: db[0]), "keepdims=True keeps"),
    ("linear_backward", altered(LB, 0, lambda d_X, G, cache: G @ cache[1]), "raised ValueError"),
    ("linear_backward", altered(LB, 0, lambda d_X, *_: d_X + 0j), "d_X is complex"),
    ("article_backward", layers(sm.linear_backward, sm.relu_backward),
     "calls scratch_mlp's own linear_backward: write each line yourself"),
    ("article_backward",
     lambda X, y, W2, Z1, *a: ex.article_backward(X, y, W2, abs(Z1), *a),
     ("FAIL: dW1, ", "without the ReLU's mask: is the mask missing?")),
    ("article_backward", layers(LB, lambda d_A1, Z1: d_A1 * np.maximum(Z1, 0)),
     "multiplies d_A1 by A1, the ReLU's value"),
    ("article_backward", altered(ex.article_backward, "b1", lambda g, *_: g / 7),
     "db1, largest error 8.6e-01: 7 times too small"),
    ("article_backward", lambda *a: list(ex.article_backward(*a).values()), "return a dict"),
    ("bug_hunt", {"diagnosis": {"A": "mse_loss", "B": "linear_backward"}},
     "table A is not mse_loss's"),
    ("bug_hunt", {"fixed_linear_backward": ex.buggy_linear_backward}, ("b1, b2, b3 fail",
     "the same table")),
    ("bug_hunt", {"fixed_mse_loss": None}, "fixed_mse_loss is None, not a function"),
    ("softplus", {"softplus_forward": lambda Z: (np.log(1 + np.exp(Z)), Z)},
     "A at Z = +-1000 holds NaN"),
    ("softplus", {"softplus_backward": lambda G, Z: ex.softplus_backward(G ** 0, Z)},
     "multiply by d_A"),
    ("softplus", {"softplus_backward": lambda G, Z: G * ex.softplus_forward(Z)[0]},
     "the forward value"),
    ("softplus", {"softplus_backward": lambda G, Z: ex.softplus_backward(G, -abs(Z))},
     "the derivative at -|Z|"),
    ("sanity_checks", lambda *a: ex.sanity_checks(*a) | {"chance": 0.1},
     "'chance' on the digits is 0.1: that is the guess's"),
    ("sanity_checks",
     lambda p, X, l: ex.sanity_checks(p, X, l)
     | {"tiny": sm.loss_and_grads(p, X[:8], l[:8], LOSS)[0]},  # before any training
     "that is the loss on the 8 rows before training"),
    ("sanity_checks", overfit(1e-4), ("'tiny' on the digits is", "not nearly 0 (below 0.01)")),
    ("sanity_checks",
     lambda p, X, l: (ex.sanity_checks(p, X, l),
                      sm.train(p, X[:8], l[:8], LOSS, sm.SGD(0.1), 1))[0],  # trains p itself
     "changed its argument params"),
    ("train_loop", lambda p, X, y, f, o, s, b, r: sm.train(p, X, y, f, o, s, b, r),
     "calls scratch_mlp's own train: write the loop yourself"),
    ("train_loop", lambda *a: np.array(ex.train_loop(*a))[:, None],
     "each step's loss must be a number"),
    ("train_loop", lambda p, X, y, f, *a: ex.train_loop(p, X, y, sm.mse_loss, *a),
     "loss_fn was never called: compute each loss with the loss_fn given"),
    ("train_loop", lambda *a: ex.train_loop(*a[:-1], one_order(a[-1])),
     "every epoch takes the rows in the same order"),
    ("train_loop", lambda *a: ex.train_loop(*a[:-2], 48, a[-1]),
     "step 0 used a batch of 48 rows, not batch_size = 16"),
    ("train_loop", lambda *a: ex.train_loop(*a)[:-1], "returned 149 losses for 150 steps"),
    ("train_loop", lambda *a: ex.train_loop(*a[:-1], np.random.default_rng(1)),
     "rng was never used"),
    ("predictions", GUESS | {"momentum_speedup": 1.9}, ("predicted 1.9, the run gives 10",
     "solution on the Exercises page")),
    ("predictions", GUESS | {"rmsprop_first_step": [0.1]}, "not (): return a single number"),
    ("weight_decay", {"with_l2": lambda g, p, wd: ex.with_l2(g, p, wd / 2)}, "penalty part, half"),
    ("weight_decay",
     {"with_l2": lambda g, p, wd: {k: np.add(v, wd * p[k], out=v) for k, v in g.items()}},
     "changed its argument grads"),
    ("weight_decay", {"AdamW": adam_l2}, "this is Adam with L2 in the gradient"),
    ("weight_decay", {"AdamW": ShrinkAfter}, "the shrink comes after Adam's step"),
    ("weight_decay", {"AdamW": new_arrays},
     "AdamW.step put a new array in params['W1']: update the arrays in place"),
    ("nesterov", lambda lr, momentum: sm.SGD(lr, momentum), "these are plain momentum's steps"),
    ("nesterov", lambda lr, momentum: sm.SGD(lr),
     "step 0 is the first whose parameters differ: these are plain SGD's"),
    ("nesterov", lambda lr, momentum: types.SimpleNamespace(step=lambda p, g: None),
     "the parameters never move"),
    ("nesterov", new_arrays,
     "Nesterov.step put a new array in params['W1']: update the arrays in place"),
    ("batchnorm_backward", altered(BN, 0, lambda d_Z, G, c: G * c[1] * c[2]),
     "holds mu and sigma^2 fixed"),
    ("batchnorm_backward", altered(BN, 0, lambda d_Z, G, c: c[2] * (G * c[1] - (G * c[1]).mean(0))),
     "the path through sigma^2 is missing"),
    ("batchnorm_backward", altered(BN, 1, lambda d_gamma, G, c: (G * c[0]).sum(1, keepdims=True)),
     "(6, 1)"),
    ("digits",
     lambda X, labels, rng: lambda im: sm.predict(sm.init_mlp([64, 64, 10], rng), im / 16),
     "about chance, is the network trained?"),
    ("digits", lambda X, labels, rng: ex.train_digits(np.divide(X, 16, out=X), labels, rng),
     "train_digits changed its argument X"),
    ("digits",
     lambda *a: (lambda classify: lambda im: np.eye(10)[classify(im)])(ex.train_digits(*a)),
     "classify returned 10 numbers per image"),
]
# fmt: on


@pytest.mark.parametrize(
    ("key", "answer", "words"),
    ANSWERS,
    ids=[f"{key}-{'right' if words == 'PASS: ' else 'wrong'}" for key, _, words in ANSWERS],
)
def test_each_checker_passes_right_answers_and_says_what_is_wrong(key, answer, words, capsys):
    line = verdict(key, capsys, answer)
    assert line.startswith("PASS: " if words == "PASS: " else "FAIL: "), line
    assert all(w in line for w in np.atleast_1d(words)), line


def test_every_checker_meets_a_wrong_answer():
    assert {key for key, _, words in ANSWERS if words != "PASS: "} == set(CHECKERS)


def test_an_error_of_the_checker_itself_is_not_reported_as_the_learners(monkeypatch, capsys):
    monkeypatch.setattr(ex, "numeric", None)  # a slip in the checker: it calls None
    with pytest.raises(ex.CheckerBug, match="not of your code"):
        ex.check_linear_backward(ex.linear_backward)
    assert capsys.readouterr().out == ""


def test_the_bug_hunt_leaves_the_module_everyone_uses_as_it_is(capsys):
    # The fixed linear_backward runs inside the check: meanwhile any other code, in any thread,
    # still finds the lesson's own function in scratch_mlp.
    lesson, seen = sm.linear_backward, []

    def fixed(d_Z, cache, need_d_X=True):
        seen.append(sm.linear_backward is lesson)
        return ex.fixed_linear_backward(d_Z, cache, need_d_X)

    line = verdict("bug_hunt", capsys, {"fixed_linear_backward": fixed})
    assert line.startswith("PASS: ") and seen and all(seen)


@pytest.fixture(scope="module")
def notebook():
    """exercises.ipynb as the site offers it, and what its code cells print when run top to
    bottom in a fresh namespace from the project root, as beside scratch_mlp.py."""
    book = page_notebook(PAGE)
    namespace, printed = {"__name__": "__main__"}, io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(printed):
        for cell in book.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "exercises.ipynb", "exec"), namespace)
    return book, printed.getvalue()


def test_the_notebook_prints_not_written_yet_once_per_exercise_and_no_answer(notebook):
    # A solution left in the notebook would make its checker print PASS.
    lines = notebook[1].splitlines()
    verdicts = [line for line in lines if "not written yet" in line]
    assert len(verdicts) == len(CHECKERS) == 12
    named = zip(verdicts, CHECKERS.values(), strict=True)
    assert all(v.startswith("FAIL: not written yet (") for v in verdicts), verdicts
    assert all(any(name in line for name in names) for line, names in named), verdicts
    # Every other line says where a run's results will appear, and shows none of them.
    others = [line for line in lines if line not in verdicts]
    assert others and all(re.fullmatch(r"\(\D*(\d\D+)*\)", line) for line in others), others


def test_the_notebook_hides_the_checkers_and_folds_hints_and_answers(notebook):
    cells = notebook[0].cells
    hidden = [c.source for c in cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    # Exactly the checkers, the tools they share and the buggy copies: no stub is hidden.
    tools = ("def compare(", "def buggy_mse_loss(")
    assert len(hidden) == len(CHECKERS) + len(tools)
    assert all(f"def check_{key}(" in "".join(hidden) for key in CHECKERS)
    assert all(any(f"def check_{k}(" in c for k in CHECKERS) or any(t in c for t in tools)
               for c in hidden)  # fmt: skip

    def summaries(tag):  # of the markdown cells tagged ``tag``
        tagged = [
            c for c in cells if c.cell_type == "markdown" and tag in c.metadata.get("tags", [])
        ]
        return [c.source.partition("</summary>")[0] for c in tagged]

    assert summaries("hint") == ["<details><summary>Hint"] * 12
    assert [s[:26] for s in summaries("answer")] == ["<details><summary>What the"] * 2


def readable(table: str) -> str:
    """A grad_check table's words; an error of 1e-5 or less is rounding, which differs from
    machine to machine, and reads as 'small'."""
    return re.sub(r"\b\d\.\de-(0[5-9]|[1-9]\d)\b", "small", " ".join(table.split()))


def test_the_bug_tables_on_the_page_are_what_grad_check_prints(notebook):
    book, _ = notebook
    for label, name in ex.diagnosis.items():  # the solution's: the copy behind each table
        cell = next(c.source for c in book.cells if f"**Table {label}**" in c.source)
        shown = re.search(rf"\*\*Table {label}\*\*\s*```text\n(.*?)\n```", cell, re.S)
        assert readable(shown.group(1)) == readable(str(ex.with_copy(name)))


def test_the_page_runs_as_a_script_from_any_folder(tmp_path):
    # `python docs/exercises.py` puts docs/, not the project root, first on sys.path; here even
    # the working directory is elsewhere. Its definitions must still find scratch_mlp.
    run = f"import runpy; runpy.run_path({str(PAGE)!r}); print('defined')"
    result = subprocess.run(
        [sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "defined\n", result.stderr
