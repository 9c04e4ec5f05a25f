"""Finite differences, and the gradient check built on them: it passes right gradients on any
network, tiny and large ones included, skips the entries on a kink, catches wrong ones from a
relative error of 1.5e-6 or an absolute one of 1.5e-8, and names the tensors that are wrong."""

import tracemalloc

import numpy as np
import pytest
from conftest import TANH, copy_params, make_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch_mlp as sm

XENT, MSE = sm.softmax_cross_entropy, sm.mse_loss


def test_numerical_gradient_is_the_derivative_and_puts_every_entry_back():
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    grad = sm.numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    np.testing.assert_allclose(grad, np.cos(before), rtol=1e-9)
    assert np.array_equal(x, before)  # every entry moved and put back, bit for bit

    def broken(v):
        if v[0] != 1.0:
            raise RuntimeError("f failed")
        return float(v.sum())

    x = np.array([1.0, 2.0])
    with pytest.raises(RuntimeError, match="f failed"):
        sm.numerical_gradient(broken, x)
    assert x.tolist() == [1.0, 2.0]  # put back when f raises
    # In float32, 100 + 1e-5 is 100.0000076: the slope of x is still 1 when divided by that step.
    for x in (np.array([100.0], dtype=np.float32), np.array([1e10])):
        slope = sm.numerical_gradient(lambda v: float(v.astype(np.float64)[0]), x)
        assert slope[0] == pytest.approx(1.0, rel=1e-6)


@settings(max_examples=30, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    N=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    xent=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    tanh=st.booleans(),
)
def test_grad_check_passes_every_entry_of_any_network(sizes, N, seed, xent, dtype, tanh):
    loss_fn = XENT if xent else MSE
    sizes[-1] = max(sizes[-1], 2) if xent else sizes[-1]
    params, X, y = make_problem(sizes, N, loss_fn, seed, dtype)
    before = copy_params(params)
    activation = TANH if tanh else sm.RELU
    report = sm.grad_check(params, X, y, loss_fn, activation=activation)
    assert report.ok and "FAIL" not in str(report), str(report)
    assert list(report) == list(params)
    for name, row in report.items():
        assert row["checked"] + row["kinks"] == params[name].size
        assert row["kinks"] == 0 or not tanh  # tanh has no kinks
        assert params[name].dtype == dtype and np.array_equal(params[name], before[name])


def test_an_error_counts_from_1e_8_where_gradients_are_tiny_and_1e_6_of_them_where_large(
    monkeypatch,
):
    params, X, labels = make_problem([2, 8, 8, 3], 30, XENT, seed=1)
    # A loss 1e4 times larger: gradients near 1e3, whose finite differences' rounding noise is
    # far above 1e-8. rtol absorbs it.
    assert sm.grad_check(params, X, labels, times(1e4, loss=True)).ok
    assert not sm.grad_check(params, X, labels, times(1e4, loss=True), rtol=0.0).ok
    # A nearly silent output layer: gradients below it near 1e-8, whose noise is far above 1e-6
    # of them. atol absorbs it, and a dW off by 1.5e-8 fails.
    params["W3"] *= 1e-6
    assert np.median(np.abs(sm.loss_and_grads(params, X, labels, XENT)[1]["W1"])) < 1e-7
    assert sm.grad_check(params, X, labels, XENT).ok
    assert not sm.grad_check(params, X, labels, XENT, atol=0.0)["W1"]["ok"]
    plant(monkeypatch, lambda d_X, dW, db: (d_X, dW + 1.5e-8, db))
    assert not sm.grad_check(params, X, labels, XENT)["W1"]["ok"]


def plant(monkeypatch, change):
    """A bug in linear_backward for the rest of the test: ``(d_X, dW, db)`` through ``change``."""
    backward = sm.linear_backward
    monkeypatch.setattr(sm, "linear_backward", lambda *a, **k: change(*backward(*a, **k)))


def times(factor, loss=False):
    """softmax_cross_entropy with its d_out, and with ``loss`` its loss, times ``factor``."""
    return lambda out, y: (lambda L, d: (L * (factor if loss else 1), factor * d))(*XENT(out, y))


# The failure page plants a forgotten ReLU mask, a lost 1/N and a transposed dW on its own benches
# (test_failure_modes.py); here, a sign and errors just above the tolerances.
PLANTED_BUGS = {
    # name: (a change to linear_backward's (d_X, dW, db), loss_fn, what fails)
    "sign flip of dW": (lambda d_X, dW, db: (d_X, -dW, db), XENT, "W1 W2 W3"),
    "d_out 1.5e-6 too large": (None, times(1 + 1.5e-6), "W1 b1 W2 b2 W3 b3"),  # rtol is 1e-6
    "db 1e-6 too large": (lambda d_X, dW, db: (d_X, dW, db + 1e-6), XENT, "b1 b2 b3"),
}  # fmt: skip


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_grad_check_fails_exactly_the_tensors_a_planted_bug_makes_wrong(monkeypatch, bug):
    change, loss_fn, wrong = PLANTED_BUGS[bug]
    params, X, labels = make_problem([2, 8, 8, 3], 20, XENT, seed=1)
    if change:
        plant(monkeypatch, change)
    report = sm.grad_check(params, X, labels, loss_fn)
    assert {name for name, row in report.items() if not row["ok"]} == set(wrong.split())
    assert "FAIL" in str(report)
    # The report measures the planted error.
    if bug == "d_out 1.5e-6 too large":
        assert all(
            row["max_rel_error"] == pytest.approx(1.5e-6, rel=0.05) for row in report.values()
        )
    if bug == "db 1e-6 too large":
        assert report["b2"]["max_abs_error"] == pytest.approx(1e-6, rel=1e-3)


LEAKY = (lambda Z: (np.where(Z > 0, Z, 0.1 * Z), Z), lambda d_A, Z: d_A * np.where(Z > 0, 1, 0.1))
LEAKY[0].kinks = lambda Z: Z > 0  # which side of its kink at 0 each entry lies on


@pytest.mark.parametrize("activation", [sm.RELU, LEAKY], ids=["ReLU", "a leaky ReLU"])
def test_grad_check_skips_and_counts_the_entries_on_a_kink_the_activation_declares(activation):
    params, X, y = make_problem([1, 4, 1], 6, MSE, seed=3)
    params["b1"][0, 2] = 1e-7 - X[0, 0] * params["W1"][0, 2]  # Z1[0, 2] = 1e-7: on the kink
    report = sm.grad_check(params, X, y, MSE, activation=activation)
    assert report.ok, str(report)
    assert [row["kinks"] for row in report.values()] == [1, 1, 0, 0]  # W1, b1; none past it
    assert report["W1"]["checked"] == report["b1"]["checked"] == 3  # the other three units
    # Without its kinks, the entry fails: there the finite difference is not a derivative.
    undeclared = (lambda Z: activation[0](Z), activation[1])
    report = sm.grad_check(params, X, y, MSE, activation=undeclared)
    assert {name for name, row in report.items() if not row["ok"]} == {"W1", "b1"}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_is_exact_for_logits_of_size_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [5e3, 1e4, 1e4]], dtype=dtype)
    with np.errstate(all="raise"):  # e^-20000 underflows to 0, and 0 is right: no error
        loss, d_logits = XENT(logits, np.array([1, 0]))
    # Row 0: log-sum-exp is 1e4 (the other terms vanish), the true logit -1e4: loss 2e4.
    # Row 1: log-sum-exp is 1e4 + log 2, the true logit 5e3: loss 5e3 + log 2.
    assert loss.dtype == dtype and d_logits.dtype == dtype
    assert float(loss) == pytest.approx((2e4 + 5e3 + np.log(2)) / 2, rel=1e-6)
    expected = np.array([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]]) / 2
    np.testing.assert_allclose(d_logits, expected, rtol=0, atol=1e-7)


def test_grad_check_holds_one_forward_pass_of_memory_whatever_the_number_of_entries():
    params, X, y = make_problem([4, 50, 1], 400, MSE, seed=0)  # 301 entries
    tracemalloc.start()
    try:
        assert sm.grad_check(params, X, y, MSE).ok
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One forward pass holds a few (400, 50) arrays, 160 kB each; keeping every evaluation's
    # ReLU pattern would take 602 x 20 kB = 12 MB.
    assert peak < 2e6
