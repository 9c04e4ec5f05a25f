"""The exercises page: every checker passes its solution, fails its stub with "not written yet",
and fails a plausible wrong answer with a message that points at the mistake. The notebook that
readers download holds the stubs, not the solutions, and runs top to bottom without raising."""

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest

import scratch_mlp as sm
from docs import exercises as ex
from docs.hooks.notebooks import page_notebook

PAGE = Path(ex.__file__)


@pytest.fixture(scope="module")
def notebook():
    """exercises.ipynb, as the site offers it to download."""
    return page_notebook(PAGE)


@pytest.fixture(scope="module")
def notebook_run(notebook):
    """The notebook's code cells run in one namespace: that namespace and what they printed."""
    namespace = {"__name__": "__main__"}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                exec(compile(cell.source, "exercises.ipynb", "exec"), namespace)
    return namespace, output.getvalue()


def verdict(check, *args, capsys):
    result = check(*args)
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and line.startswith(("PASS:", "FAIL:")), line
    assert bool(result) == line.startswith("PASS:")
    return result, line


# Per exercise: the checker, the names it takes from the page, and wrong answers with the words
# their FAIL line must contain.
def wrong_tanh():
    return [
        ((lambda Z: (np.tanh(Z), Z), lambda d_A, Z: d_A * (1 - Z**2)), "uses Z where A"),
        ((ex.tanh_forward, lambda d_A, A: -d_A * (1 - A**2)), "sign is flipped"),
        ((ex.tanh_forward, lambda d_A, A: 1 - A**2), "upstream gradient"),
    ]


def _bce_naive(z, y):
    p = 1 / (1 + np.exp(-z))
    return np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)), (p - y) / z.size


def wrong_bce():
    return [
        ((_bce_naive,), "overflows"),
        (
            (lambda z, y: (ex.bce_with_logits(z, y)[0], ex.bce_with_logits(z, y)[1] * z.size),),
            "1/12",
        ),
        ((lambda z, y: (ex.bce_with_logits(z, y)[0], -ex.bce_with_logits(z, y)[1]),), "sign"),
    ]


def wrong_network():
    def transposed(params, X, y):
        loss, grads = ex.tanh_network_grads(params, X, y)
        return loss, {**grads, "W2": grads["W2"].T}

    return [
        ((lambda p, X, y: sm.loss_and_grads(p, X, y, ex.bce_with_logits),), "ReLU network"),
        ((transposed,), "transposed"),
    ]


def wrong_fixes():
    return [
        ((ex.buggy_mse_loss, ex.fixed_linear_backward, ex.fixed_relu_backward), "fixed_mse_loss"),
        ((ex.fixed_mse_loss, ex.buggy_linear_backward, ex.fixed_relu_backward), "b1, b2, b3 fail"),
        ((ex.fixed_mse_loss, ex.fixed_linear_backward, ex.buggy_relu_backward), "the same table"),
    ]


def wrong_nesterov():
    return [
        ((lambda lr, momentum: sm.SGD(lr, momentum),), "plain momentum"),
        ((lambda lr, momentum: sm.SGD(lr),), "plain SGD steps"),
    ]


def wrong_weight_decay():
    def half(grads, params, weight_decay):
        return {k: g + weight_decay * params[k] / 2 for k, g in grads.items()}

    class AdamL2(sm.Adam):
        def __init__(self, lr, weight_decay):
            super().__init__(lr)
            self.weight_decay = weight_decay

        def step(self, params, grads):
            super().step(params, ex.with_l2(grads, params, self.weight_decay))

    class DecayAfter(ex.AdamW):
        def step(self, params, grads):
            sm.Adam.step(self, params, grads)
            for p in params.values():
                p *= 1 - self.lr * self.weight_decay

    return [
        ((half, ex.AdamW), "not lambda * p / 2"),
        ((ex.with_l2, AdamL2), "Adam with L2 in the gradient"),
        ((ex.with_l2, DecayAfter), "decay first"),
    ]


def wrong_minibatch():
    def no_reshuffle(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
        order, losses = rng.permutation(X.shape[0]), []
        for step in range(steps):
            start = step * batch_size % (X.shape[0] - X.shape[0] % batch_size)
            rows = order[start : start + batch_size]
            loss, grads = sm.loss_and_grads(params, X[rows], y[rows], loss_fn)
            optimizer.step(params, grads)
            losses.append(float(loss))
        return losses

    def partial_batch(params, X, y, loss_fn, optimizer, steps, batch_size, rng):
        N, losses, position = X.shape[0], [], X.shape[0]
        for _ in range(steps):
            if position >= N:
                order, position = rng.permutation(N), 0
            rows = order[position : position + batch_size]
            position += batch_size
            loss, grads = sm.loss_and_grads(params, X[rows], y[rows], loss_fn)
            optimizer.step(params, grads)
            losses.append(float(loss))
        return losses

    return [
        ((no_reshuffle,), "step 3: a new epoch draws a new rng.permutation"),
        ((partial_batch,), "skip the rows too few"),
    ]


def wrong_batchnorm():
    def constants(d_out, cache):
        Z_hat, gamma, inv_std = cache
        _, d_gamma, d_beta = ex.batchnorm_backward(d_out, cache)
        return d_out * gamma * inv_std, d_gamma, d_beta

    def gamma_axis(d_out, cache):
        d_Z, _, d_beta = ex.batchnorm_backward(d_out, cache)
        return d_Z, (d_out * cache[0]).sum(axis=1, keepdims=True), d_beta

    return [
        ((constants,), "mu and sigma^2 as constants"),
        ((gamma_axis,), "shape (6, 1), not (1, 4)"),
    ]


EXERCISES = {
    "check_tanh": (("tanh_forward", "tanh_backward"), wrong_tanh),
    "check_bce": (("bce_with_logits",), wrong_bce),
    "check_tanh_network": (("tanh_network_grads",), wrong_network),
    "check_fixes": (
        ("fixed_mse_loss", "fixed_linear_backward", "fixed_relu_backward"),
        wrong_fixes,
    ),
    "check_nesterov": (("Nesterov",), wrong_nesterov),
    "check_weight_decay": (("with_l2", "AdamW"), wrong_weight_decay),
    "check_minibatch_train": (("minibatch_train",), wrong_minibatch),
    "check_batchnorm_backward": (("batchnorm_backward",), wrong_batchnorm),
}


def test_eight_exercises_each_with_a_stub_a_solution_and_a_hint(notebook):
    import jupytext

    page = jupytext.read(PAGE)
    solutions = [c for c in page.cells if "solution" in c.metadata.get("tags", [])]
    hints = [c for c in page.cells if c.source.startswith("**Hint.**")]
    assert len(solutions) == len(hints) == len(EXERCISES) >= 8
    assert all(c.source.startswith("# Solution: ") for c in solutions)
    assert all(c.metadata.get("tags") == ["deeper"] for c in hints)
    assert all(hasattr(ex, name) for name in EXERCISES)


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_checker_passes_the_solution(name, capsys):
    names, _ = EXERCISES[name]
    result, line = verdict(getattr(ex, name), *(getattr(ex, n) for n in names), capsys=capsys)
    assert result, line


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_checker_fails_the_stub_as_not_written_yet(name, notebook_run, capsys):
    namespace, _ = notebook_run
    names, _ = EXERCISES[name]
    result, line = verdict(namespace[name], *(namespace[n] for n in names), capsys=capsys)
    assert not result and "not written yet" in line, line


@pytest.mark.parametrize("name", list(EXERCISES))
def test_the_checker_fails_wrong_answers_and_points_at_the_mistake(name, capsys):
    _, wrong_answers = EXERCISES[name]
    for args, words in wrong_answers():
        result, line = verdict(getattr(ex, name), *args, capsys=capsys)
        assert not result and words in line, line


def test_the_notebook_has_the_stubs_and_no_solution(notebook):
    sources = [cell.source for cell in notebook.cells]
    assert not any("solution" in cell.metadata.get("tags", []) for cell in notebook.cells)
    assert not any(source.startswith("# Solution") for source in sources)
    assert sum("raise NotImplementedError" in source for source in sources) >= 8
    assert any('href="exercises.ipynb"' in source for source in sources)


def test_the_notebook_runs_and_every_checker_says_not_written_yet(notebook_run):
    _, printed = notebook_run
    verdicts = [line for line in printed.splitlines() if line.startswith(("PASS:", "FAIL:"))]
    assert len(verdicts) == len(EXERCISES)
    assert all(line.startswith("FAIL: not written yet") for line in verdicts), verdicts


def test_nesterov_solution_matches_torch():
    if os.environ.get("REQUIRE_TORCH") == "1":
        import torch  # an ImportError here fails the run instead of skipping
    else:
        torch = pytest.importorskip("torch")
    params, X, y = ex.optimizer_problem()
    tensors = {k: torch.tensor(p, requires_grad=True) for k, p in params.items()}
    reference = torch.optim.SGD(tensors.values(), lr=0.05, momentum=0.9, nesterov=True)
    optimizer = ex.Nesterov(lr=0.05, momentum=0.9)
    worst = 0.0
    for _ in range(100):
        _, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
        optimizer.step(params, grads)
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])  # the same gradients: only the update is compared
        reference.step()
        worst = max(
            worst, max(np.abs(params[k] - t.detach().numpy()).max() for k, t in tensors.items())
        )
        with torch.no_grad():  # continue both from numpy's parameters, so errors cannot grow
            for k, t in tensors.items():
                t.copy_(torch.tensor(params[k]))
    assert worst < 1e-10
