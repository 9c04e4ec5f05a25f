"""The exercises page: every checker passes its solution and fails plausible wrong answers, each
with a message that points at the mistake; the notebook readers download holds no solution and,
run top to bottom beside scratch_mlp.py, prints one "not written yet" per exercise."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratch_mlp as sm
from docs import exercises as ex
from docs.hooks.notebooks import page_notebook

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "exercises.py"

# Each checker of the page (check_<key>), in the page's order, and the names of what it takes.
CHECKERS = {
    "by_hand": ["by_hand"],
    "linear_backward": ["linear_backward"],
    "predictions": ["predictions"],
    "softplus": ["softplus_forward", "softplus_backward"],
    "article_backward": ["article_backward"],
    "train_loop": ["train_loop"],
    "sanity_checks": ["sanity_checks"],
    "bug_hunt": ["diagnosis", "fixed_mse_loss", "fixed_linear_backward", "fixed_relu_backward"],
    "nesterov": ["Nesterov"],
    "weight_decay": ["with_l2", "AdamW"],
    "batchnorm_backward": ["batchnorm_backward"],
    "digits": ["train_digits"],
}


def verdict(key, args, capsys) -> str:
    """The one line that check_<key> prints for ``args``."""
    result = getattr(ex, f"check_{key}")(*args)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith(("PASS: ", "FAIL: ")), line
    assert bool(result) == line.startswith("PASS: ")
    return line


def answers(key, wrong=None):
    """The page's answers for check_<key>, with ``wrong`` in place of one of them: the answer
    itself for a checker of one argument, a dict {argument: answer} for the others."""
    names = CHECKERS[key]
    replaced = {} if wrong is None else wrong if len(names) > 1 else {names[0]: wrong}
    return [replaced.get(name, getattr(ex, name)) for name in names]


# --- Wrong answers, each a change a learner plausibly makes


def linear(d_X=None, dW=None, db=None):
    """linear_backward with some of its results computed another way, from (G, X, W)."""

    def backward(d_Z, cache):
        X, W = cache
        right = (d_Z @ W.T, X.T @ d_Z, d_Z.sum(axis=0, keepdims=True))
        return tuple(f(d_Z, X, W) if f else r for f, r in zip((d_X, dW, db), right, strict=True))

    return backward


def clearing_d_Z(d_Z, cache):
    grads = ex.linear_backward(d_Z, cache)
    d_Z[...] = 0  # "frees" what is no longer needed
    return grads


def article(no_mask=False, **scale):
    """article_backward with its gradients scaled; with Z1 given as all positive, unmasked."""

    def backward(X, y, W2, Z1, A1, out):
        grads = ex.article_backward(X, y, W2, np.ones_like(Z1) if no_mask else Z1, A1, out)
        return {k: g * scale.get(k, scale.get("all", 1.0)) for k, g in grads.items()}

    return backward


def loop(order="each epoch", batch=None, fewer=0):
    """train_loop drawing its orders another way, or with other batches, or fewer losses."""

    def train_loop(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
        N, B = len(X), batch or batch_size
        first = rng.permutation(N) if order == "once" else None
        own, losses = np.random.default_rng(1), []
        for step in range(steps):
            if step % (N // B) == 0:
                draw = {"each epoch": rng.permutation, "own": own.permutation}.get(order)
                drawn = draw(N) if draw else first
            rows = drawn[step % (N // B) * B :][:B]
            out, cache = sm.mlp_forward(params, X[rows])
            loss, d_out = loss_fn(out, y[rows])
            optimizer.step(params, sm.mlp_backward(params, cache, d_out))
            losses.append(float(loss))
        return losses[: steps - fewer]

    return train_loop


def sanity(chance=None, train_params=False):
    def sanity_checks(params, X, labels):
        report = ex.sanity_checks(params, X, labels)
        if train_params:
            sm.train(params, X[:8], labels[:8], sm.softmax_cross_entropy, sm.Adam(0.01), 1)
        return report if chance is None else {**report, "chance": chance}

    return sanity_checks


class NotInPlace(ex.Nesterov):
    def step(self, params, grads):
        for name, p in params.items():
            p = p - self.lr * grads[name]  # rebinds the name; params keeps the old array


def adam_l2(lr, weight_decay):
    adam = sm.Adam(lr)
    adam.step = lambda p, g: sm.Adam.step(adam, p, ex.with_l2(g, p, weight_decay))
    return adam


class ShrinkAfter(ex.AdamW):
    def step(self, params, grads):
        sm.Adam.step(self, params, grads)
        for p in params.values():
            p *= 1 - self.lr * self.weight_decay


def l2_in_place(grads, params, weight_decay):
    for name, g in grads.items():
        g += weight_decay * params[name]
    return grads


def batchnorm(d_Z=None, d_gamma=None):
    """batchnorm_backward with d_Z from (G, gamma, inv_std) or d_gamma from (G, Z_hat) changed."""

    def backward(d_out, cache):
        right, (Z_hat, gamma, inv_std) = ex.batchnorm_backward(d_out, cache), cache
        changed = (d_Z and d_Z(d_out, gamma, inv_std), d_gamma and d_gamma(d_out, Z_hat), None)
        return tuple(r if c is None else c for c, r in zip(changed, right, strict=True))

    return backward


def untrained(scale_in_place=False, logits=False):
    """train_digits that forgets to train, or scales X in place, or returns the logits."""

    def train_digits(X, labels, rng):
        if scale_in_place:
            X /= 16
        params = sm.init_mlp([64, 64, 10], rng)
        if logits:
            return lambda images: sm.mlp_forward(params, images / 16)[0]
        return lambda images: sm.predict(params, images / 16)

    return train_digits


HAND, GUESS = ex.by_hand, ex.predictions
# fmt: off
WRONG = [  # (checker, wrong answer, the words, or tuple of words, its FAIL line must hold)
    ("by_hand", HAND | {"d_out": [[6.0], [3.0], [-3.0]]}, "3 times too large: a sum where"),
    ("by_hand", HAND | {"d_Z1": HAND["d_A1"]}, ("d_Z1[0, 1] = 2 is wrong", "is a mask missing?")),
    ("by_hand", HAND | {"dW1": [[6.0, 1.0]]}, "dW1[0, 1] = 1 is wrong (1 of the 2 entries"),
    ("by_hand", HAND | {"db1": HAND["d_Z1"]}, "db1 has shape (3, 2), not (1, 2)"),
    ("by_hand", HAND | {"d_A1": None}, "d_A1 is not filled in"),
    ("linear_backward", linear(dW=lambda G, X, W: G.T @ X), "(4, 3), not (3, 4): transposed"),
    ("linear_backward", linear(db=lambda G, X, W: G.mean(0, keepdims=True)), "5 times too small"),
    ("linear_backward", linear(db=lambda G, X, W: G.sum(0)), "keepdims=True keeps"),
    ("linear_backward", linear(db=lambda G, X, W: G.sum(0)[None, None]), "an extra axis"),
    ("linear_backward", linear(d_X=lambda G, X, W: G @ W), "linear_backward raised ValueError"),
    ("linear_backward", linear(d_X=lambda G, X, W: G @ W.T + 0j), "d_X is complex"),
    ("linear_backward", clearing_d_Z, "changed its argument d_Z"),
    ("predictions", GUESS | {"momentum_speedup": 1.9}, "predicted 1.9, the run gives 10"),
    ("predictions", GUESS | {"adam_first_step": [0.05]}, "not (): return a single number"),
    ("predictions", GUESS | {"grad_check_error": 0.5j}, "grad_check_error is complex"),
    ("softplus", {"softplus_forward": lambda Z: (np.log(1 + np.exp(Z)), Z)}, "A at Z = +-1000 holds NaN"),  # noqa: E501
    ("softplus", {"softplus_backward": lambda G, Z: G * np.exp(Z) / (1 + np.exp(Z))}, "holds NaN"),
    ("softplus", {"softplus_backward": lambda G, Z: ex.softplus_backward(G ** 0, Z)}, "multiply by d_A"),  # noqa: E501
    ("softplus", {"softplus_backward": lambda G, Z: G * ex.softplus_forward(Z)[0]}, "the forward value"),  # noqa: E501
    ("article_backward", article(no_mask=True), ("FAIL: dW1, ", "without the ReLU's mask")),
    ("article_backward", article(all=7), "dW2, largest error 6.0e+00: 7 times too large"),
    ("article_backward", article(b1=1 / 7), "db1, largest error 8.6e-01: 7 times too small"),
    ("article_backward", lambda *a: list(ex.article_backward(*a).values()), "return a dict"),
    ("train_loop", loop(order="once"), "every epoch takes the rows in the same order"),
    ("train_loop", loop(batch=48), "step 0 used a batch of 48 rows, not batch_size = 16"),
    ("train_loop", loop(fewer=1), "returned 149 losses for 150 steps"),
    ("train_loop", loop(order="own"), "rng was never used"),
    ("sanity_checks", sanity(chance=0.1), "'chance' on the digits is 0.1: that is the guess's"),
    ("sanity_checks", sanity(train_params=True), "changed its argument params"),
    ("sanity_checks", lambda params, X, labels: [1.0, 2.0, 3.0], "returned a list of 3"),
    ("bug_hunt", {"diagnosis": {"A": "mse_loss", "B": "linear_backward"}}, "table A is not mse_loss's"),  # noqa: E501
    ("bug_hunt", {"fixed_linear_backward": ex.buggy_linear_backward}, ("b1, b2, b3 fail", "the same table")),  # noqa: E501
    ("bug_hunt", {"fixed_mse_loss": None}, "fixed_mse_loss is None, not a function"),
    ("nesterov", lambda lr, momentum: sm.SGD(lr, momentum), "these are plain momentum's steps"),
    ("nesterov", lambda lr, momentum: sm.SGD(lr), "step 0 is the first whose parameters differ: these are plain SGD's"),  # noqa: E501
    ("nesterov", NotInPlace, "the parameters never move"),
    ("weight_decay", {"with_l2": lambda g, p, wd: ex.with_l2(g, p, wd / 2)}, "penalty part, half"),
    ("weight_decay", {"with_l2": l2_in_place}, "changed its argument grads"),
    ("weight_decay", {"AdamW": adam_l2}, "this is Adam with L2 in the gradient"),
    ("weight_decay", {"AdamW": ShrinkAfter}, "the shrink comes after Adam's step"),
    ("batchnorm_backward", batchnorm(d_Z=lambda G, g, s: G * g * s), "holds mu and sigma^2 fixed"),
    ("batchnorm_backward", batchnorm(d_Z=lambda G, g, s: s * (G * g - (G * g).mean(0))), "the path through sigma^2 is missing"),  # noqa: E501
    ("batchnorm_backward", batchnorm(d_gamma=lambda G, Zh: (G * Zh).sum(1, keepdims=True)), "(6, 1)"),  # noqa: E501
    ("digits", untrained(), "about chance, is the network trained?"),
    ("digits", untrained(scale_in_place=True), "train_digits changed its argument X"),
    ("digits", untrained(logits=True), "classify returned 10 numbers per image"),
]
# fmt: on


@pytest.mark.parametrize("key", CHECKERS)
def test_the_checker_passes_the_solution(key, capsys):
    assert verdict(key, answers(key), capsys).startswith("PASS: ")


@pytest.mark.parametrize(("key", "wrong", "words"), WRONG, ids=[w[0] for w in WRONG])
def test_the_checker_fails_a_wrong_answer_and_names_the_mistake(key, wrong, words, capsys):
    line = verdict(key, answers(key, wrong), capsys)
    assert line.startswith("FAIL: ") and all(w in line for w in np.atleast_1d(words)), line


def test_every_checker_meets_two_wrong_answers_or_more():
    tried = [key for key, _, _ in WRONG]
    assert all(tried.count(key) >= 2 for key in CHECKERS)


def test_an_error_of_the_checker_itself_is_not_reported_as_the_learners(monkeypatch, capsys):
    def broken(f, x):
        raise IndexError("a slip in the checker")

    monkeypatch.setattr(ex, "numeric", broken)
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

    line = verdict("bug_hunt", answers("bug_hunt", {"fixed_linear_backward": fixed}), capsys)
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


def test_the_notebook_prints_not_written_yet_once_per_exercise_and_nothing_else(notebook):
    _, printed = notebook
    lines = printed.splitlines()
    verdicts = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert len(verdicts) == len(CHECKERS) == 12
    assert all(line.startswith("FAIL: not written yet (") for line in verdicts), verdicts
    named = zip(verdicts, CHECKERS.values(), strict=True)
    assert all(any(name in line for name in names) for line, names in named), verdicts
    assert sum("not written yet" in line for line in lines) == len(CHECKERS)


def test_the_notebook_holds_stubs_and_checkers_folded_hints_and_no_solution(notebook):
    book, _ = notebook
    code = "\n".join(cell.source for cell in book.cells if cell.cell_type == "code")
    assert "# Solution" not in code and all(f"def check_{key}(" in code for key in CHECKERS)
    hints = [cell.source for cell in book.cells if "hint" in cell.metadata.get("tags", [])]
    assert len(hints) == 12 and all(h.startswith("<details><summary>Hint</summary>") for h in hints)
    hidden = [cell for cell in book.cells if cell.metadata.get("jupyter", {}).get("source_hidden")]
    assert [cell.source.splitlines()[0] for cell in hidden] == [
        "# The three copies, each with one line changed (open after your diagnosis)"
    ]


def test_the_page_runs_as_a_script_from_any_folder(tmp_path):
    # `python docs/exercises.py` puts docs/, not the project root, first on sys.path; here even
    # the working directory is elsewhere. Its definitions must still find scratch_mlp.
    run = f"import runpy; runpy.run_path({str(PAGE)!r}); print('defined')"
    result = subprocess.run(
        [sys.executable, "-c", run], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "defined\n", result.stderr
