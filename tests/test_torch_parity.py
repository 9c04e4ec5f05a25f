"""scratch_mlp against PyTorch: the same losses, gradients and optimizer steps.

The comparisons are the functions of docs/pytorch.py, the page that shows these results to the
reader, so the page and the tests cannot disagree. They run where PyTorch is installed and are
skipped elsewhere, except where REQUIRE_TORCH=1 (as in CI): there a missing PyTorch is an error.
"""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("REQUIRE_TORCH") == "1":
    import torch  # noqa: F401  (an ImportError here fails the run instead of skipping)
else:
    pytest.importorskip("torch")

import scratch_mlp  # noqa: E402

PAGE = Path(__file__).resolve().parent.parent / "docs" / "pytorch.py"
_spec = importlib.util.spec_from_file_location("pytorch_page", PAGE)
twin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(twin)

DTYPES = [np.float64, np.float32]
GRADIENT_TOLERANCE = {np.float64: twin.FLOAT64_TOLERANCE, np.float32: twin.FLOAT32_TOLERANCE}


def test_the_bounds_are_the_issue_s():
    assert twin.FLOAT64_TOLERANCE <= 1e-12
    assert twin.OPTIMIZER_TOLERANCE[np.float64] <= 1e-10


def test_the_module_itself_does_not_import_torch():
    source = Path(scratch_mlp.__file__).read_text()
    assert "import torch" not in source and "from torch" not in source


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(twin.PARITY_CASES))
def test_loss_and_every_gradient_match_autograd(case, dtype):
    rows = twin.gradient_parity(*twin.parity_case(case, dtype))
    names = [name for name, _, _ in rows]
    sizes = twin.PARITY_CASES[case][0]
    assert names[:2] == ["loss", "d_out"]
    assert len(names) == 2 + 2 * (len(sizes) - 1)  # every parameter of every layer
    tolerance = GRADIENT_TOLERANCE[dtype]
    assert {name: d for name, _, d in rows if not d < tolerance} == {}
    # Every gradient has something to compare: no layer of the case is dead.
    _, _, grads = twin.numpy_loss_and_grads(*twin.parity_case(case, dtype))
    assert all(np.abs(g).max() > 0 for g in grads.values())


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(twin.OPTIMIZER_CASES))
def test_training_follows_torch_step_for_step(case, dtype):
    problem, make_optimizer = twin.OPTIMIZER_CASES[case]
    worst = twin.optimizer_parity(*twin.parity_case(problem, dtype), make_optimizer(), steps=100)
    tolerance = twin.OPTIMIZER_TOLERANCE[dtype]
    assert {name: d for name, d in worst.items() if not d < tolerance} == {}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", list(twin.OPTIMIZER_CASES))
def test_update_rule_matches_torch_optim_on_the_same_gradients(case, dtype):
    problem, make_optimizer = twin.OPTIMIZER_CASES[case]
    params = twin.parity_case(problem, dtype)[0]
    worst = twin.update_parity(params, make_optimizer(), steps=300)
    tolerance = twin.OPTIMIZER_TOLERANCE[dtype]
    assert {name: d for name, d in worst.items() if not d < tolerance} == {}


def test_the_cases_cover_what_the_issue_asks():
    sizes = [sizes for sizes, _, _ in twin.PARITY_CASES.values()]
    assert any(len(s) == 3 for s in sizes) and any(len(s) > 3 for s in sizes)  # 1 and several
    assert any(len(set(s)) == len(s) for s in sizes)  # non-square layers
    assert any(batch == 1 for _, batch, _ in twin.PARITY_CASES.values())
    losses = {loss for _, _, loss in twin.PARITY_CASES.values()}
    assert losses == {scratch_mlp.mse_loss, scratch_mlp.softmax_cross_entropy}
    optimizers = [make() for _, make in twin.OPTIMIZER_CASES.values()]
    adams = [o for o in optimizers if isinstance(o, scratch_mlp.Adam)]
    assert any(isinstance(o, scratch_mlp.SGD) for o in optimizers)
    default = scratch_mlp.Adam()
    assert any((o.lr, o.betas, o.eps) == (default.lr, default.betas, default.eps) for o in adams)
    assert any(o.betas != default.betas and o.eps != default.eps for o in adams)


def test_relu_kink_convention_is_the_same():
    """At Z = 0 exactly both sides use the derivative 0."""
    params, X, y, loss_fn = twin.parity_case("3 hidden 5-32-16-8-3, MSE")
    params["b1"][:] = 0.0
    X[:10] = 0.0  # ten examples with every first-layer pre-activation exactly 0
    _, cache = scratch_mlp.mlp_forward(params, X)
    assert (cache[0][1][:10] == 0).all()
    rows = twin.gradient_parity(params, X, y, loss_fn)
    assert max(d for _, _, d in rows) < twin.FLOAT64_TOLERANCE


# The comparisons must be able to fail: a backward pass or an update rule with a mistake in it
# has to be caught.


def test_a_missing_relu_mask_is_caught(monkeypatch):
    monkeypatch.setattr(scratch_mlp, "relu_backward", lambda d_A, Z: d_A)
    rows = dict(
        (name, d)
        for name, _, d in twin.gradient_parity(*twin.parity_case("2-64-64-3, cross-entropy"))
    )
    assert rows["loss"] < 1e-12 and rows["d_out"] < 1e-12  # the forward pass is untouched
    assert rows["dW1"] > 1e-2


def test_a_bias_gradient_not_summed_over_the_batch_is_caught(monkeypatch):
    def linear_backward_with_mean_bias(d_Z, cache, need_d_X=True):
        d_X, dW, _ = original(d_Z, cache, need_d_X)
        return d_X, dW, d_Z.mean(axis=0, keepdims=True)

    original = scratch_mlp.linear_backward
    monkeypatch.setattr(scratch_mlp, "linear_backward", linear_backward_with_mean_bias)
    rows = dict(
        (name, d)
        for name, _, d in twin.gradient_parity(*twin.parity_case("1-64-1 like the article, MSE"))
    )
    assert rows["db1"] > 1e-2 and rows["db2"] > 1e-2


class _AdamWithoutBiasCorrection(scratch_mlp.Adam):
    """The article's uncorrected Adam, presented to the comparison as the paper's."""

    def step(self, params, grads):
        self.bias_correction = False
        try:
            super().step(params, grads)
        finally:
            self.bias_correction = True


def test_an_adam_without_bias_correction_is_caught():
    params, X, y, loss_fn = twin.parity_case("2-64-64-3, cross-entropy")
    worst = twin.optimizer_parity(params, X, y, loss_fn, _AdamWithoutBiasCorrection(), steps=3)
    assert max(worst.values()) > 1e-3


class _SGDWithMomentum(scratch_mlp.SGD):
    """SGD that keeps a little of the previous step, presented to the comparison as plain SGD."""

    def __init__(self, lr):
        super().__init__(lr)
        self.previous = None

    def step(self, params, grads):
        steps = {name: self.lr * g for name, g in grads.items()}
        if self.previous is not None:
            steps = {name: s + 0.01 * self.previous[name] for name, s in steps.items()}
        for name, p in params.items():
            p -= steps[name]
        self.previous = steps


def test_an_sgd_that_is_not_plain_sgd_is_caught():
    params = twin.parity_case("3 hidden 5-32-16-8-3, MSE")[0]
    worst = twin.update_parity(params, _SGDWithMomentum(lr=0.01), steps=5)
    assert max(worst.values()) > 1e-6


def test_float32_training_stays_float32():
    params, X, y, loss_fn = twin.parity_case("784-256-10, cross-entropy", np.float32)
    optimizer = scratch_mlp.Adam()
    scratch_mlp.train(params, X, y, loss_fn, optimizer, steps=2)
    state = [*params.values(), *optimizer.m.values(), *optimizer.v.values()]
    assert {a.dtype for a in state} == {np.dtype(np.float32)}
