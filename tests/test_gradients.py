"""Every hand-written derivative against finite differences, and the gradient check itself:
it passes right gradients, tiny ones included, and catches wrong ones, small errors included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch_mlp as sm


def assert_close(analytic, numeric, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


# ---- numerical_gradient, of any function ----------------------------------------------------


def test_numerical_gradient_of_any_function_and_x_is_restored(rng):
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = sm.numerical_gradient(lambda v: float(np.sum(np.sin(v))), x)
    assert_close(grad, np.cos(before), rtol=1e-9)
    assert np.array_equal(x, before)  # every entry moved and put back, bit for bit


# ---- each piece on its own --------------------------------------------------------------------


def test_linear_backward_matches_finite_differences(rng):
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    G = rng.standard_normal((5, 4))  # L = sum(G * Z) has dL/dZ = G
    Z, cache = sm.linear_forward(X, W, b)
    np.testing.assert_allclose(Z, X @ W + b, rtol=1e-12)
    d_X, dW, db = sm.linear_backward(G, cache)
    for analytic, arg in [(d_X, 0), (dW, 1), (db, 2)]:
        inputs = [X.copy(), W.copy(), b.copy()]

        def loss(v, arg=arg, inputs=inputs):
            inputs[arg] = v
            return float(np.sum(G * sm.linear_forward(*inputs)[0]))

        assert_close(analytic, sm.numerical_gradient(loss, inputs[arg]))
    # The first layer skips the input gradient; the others are unchanged.
    d_X_skipped, dW_again, db_again = sm.linear_backward(G, cache, need_d_X=False)
    assert d_X_skipped is None
    assert np.array_equal(dW_again, dW) and np.array_equal(db_again, db)


def test_relu_backward_matches_finite_differences_and_is_zero_at_the_kink(rng):
    Z = rng.standard_normal((6, 5))
    Z[np.abs(Z) < 1e-3] = 0.5  # away from the kink, where there is no derivative
    G = rng.standard_normal(Z.shape)
    A, cache = sm.relu_forward(Z)
    assert np.array_equal(A, np.maximum(Z, 0))
    numeric = sm.numerical_gradient(lambda v: float(np.sum(G * sm.relu_forward(v)[0])), Z.copy())
    assert_close(sm.relu_backward(G, cache), numeric)
    # At exactly 0 the derivative is taken as 0, as PyTorch does.
    assert sm.relu_backward(np.array([[3.0]]), np.array([[0.0]]))[0, 0] == 0.0


@pytest.mark.parametrize("shape", [(1, 1), (4, 3)])
def test_mse_loss_and_gradient(rng, shape):
    out, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, d_out = sm.mse_loss(out, y)
    assert loss == pytest.approx(np.mean((out - y) ** 2), rel=1e-14)
    numeric = sm.numerical_gradient(lambda v: float(sm.mse_loss(v, y)[0]), out.copy())
    assert_close(d_out, numeric)


@pytest.mark.parametrize("N, C", [(1, 2), (8, 10)])
def test_softmax_cross_entropy_and_gradient(rng, N, C):
    logits = 3 * rng.standard_normal((N, C))
    labels = rng.integers(0, C, size=N)
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # the definition, unguarded
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(N), labels])), rel=1e-12)
    numeric = sm.numerical_gradient(
        lambda v: float(sm.softmax_cross_entropy(v, labels)[0]), logits.copy()
    )
    assert_close(d_logits, numeric)
    one_hot = np.zeros((N, C))
    one_hot[np.arange(N), labels] = 1
    np.testing.assert_allclose(d_logits, (p - one_hot) / N, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_is_exact_for_logits_of_size_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [5e3, 1e4, 1e4]], dtype=dtype)
    labels = np.array([1, 0])
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    # Row 0: log-sum-exp is 1e4 (the other terms vanish), the true logit -1e4: loss 2e4.
    # Row 1: log-sum-exp is 1e4 + log 2, the true logit 5e3: loss 5e3 + log 2.
    assert loss.dtype == dtype and d_logits.dtype == dtype
    assert float(loss) == pytest.approx((2e4 + 5e3 + np.log(2)) / 2, rel=1e-6)
    expected = np.array([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]]) / 2
    np.testing.assert_allclose(d_logits, expected, rtol=0, atol=1e-7)


def test_a_gradient_predicts_the_change_of_the_loss_up_to_the_exact_second_order_term():
    # On the article's network, L is quadratic in W2: nudging W2[i, 0] by e changes the loss by
    # dW2[i, 0] e + (1/N) sum_n A1[n, i]^2 e^2, and by nothing else.
    rng = np.random.RandomState(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    loss, grads = sm.loss_and_grads(params, X, y, sm.mse_loss)
    A1 = np.maximum(X @ params["W1"] + params["b1"], 0)
    e = 1e-4
    for i in range(64):
        nudged = {**params, "W2": params["W2"].copy()}
        nudged["W2"][i, 0] += e
        change = sm.loss_and_grads(nudged, X, y, sm.mse_loss)[0] - loss
        second_order = np.sum(A1[:, i] ** 2) / len(X) * e**2
        assert change == pytest.approx(grads["W2"][i, 0] * e + second_order, rel=1e-6, abs=1e-15)


# ---- whole networks: grad_check on right code ------------------------------------------------


def make_problem(sizes, N, loss, seed):
    rng = np.random.default_rng(seed)
    params = sm.init_mlp(sizes, rng)
    # Random, non-zero biases: a zero start can hide a wrong bias gradient.
    for name in params:
        if name.startswith("b"):
            params[name] = 0.1 * rng.standard_normal(params[name].shape)
    X = rng.standard_normal((N, sizes[0]))
    if loss is sm.mse_loss:
        y = rng.standard_normal((N, sizes[-1]))
    else:
        y = rng.integers(0, sizes[-1], size=N)
    return params, X, y


CASES = [
    ([1, 64, 1], 9, sm.mse_loss),  # the article's
    ([4, 7, 3, 5], 1, sm.mse_loss),  # several hidden layers, none square, a batch of one
    ([2, 8, 8, 8, 3], 9, sm.softmax_cross_entropy),  # deeper, square hidden layers
    ([6, 1, 4], 5, sm.softmax_cross_entropy),  # a bottleneck of one unit
]


@pytest.mark.parametrize(
    "sizes, N, loss", CASES, ids=[f"{s}-N{n}-{f.__name__}" for s, n, f in CASES]
)
def test_grad_check_passes_every_entry_of_every_parameter(sizes, N, loss):
    params, X, y = make_problem(sizes, N, loss, seed=sum(sizes) + N)
    before = {name: p.copy() for name, p in params.items()}
    report = sm.grad_check(params, X, y, loss)
    assert report.ok, str(report)
    assert list(report) == list(params)
    assert [r["checked"] + r["kinks"] for r in report.values()] == [p.size for p in params.values()]
    assert all(r["max_abs_error"] < 1e-8 for r in report.values()), str(report)
    assert all(np.array_equal(params[k], before[k]) for k in params)


@settings(max_examples=20, deadline=None, database=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    N=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    use_xent=st.booleans(),
)
def test_grad_check_property_over_random_shapes(sizes, N, seed, use_xent):
    if use_xent:
        sizes[-1] = max(sizes[-1], 2)
    loss = sm.softmax_cross_entropy if use_xent else sm.mse_loss
    params, X, y = make_problem(sizes, N, loss, seed)
    out, cache = sm.mlp_forward(params, X)
    assert out.shape == (N, sizes[-1])
    grads = sm.mlp_backward(params, cache, loss(out, y)[1])
    assert list(grads) == list(params)
    assert all(grads[k].shape == p.shape and grads[k].dtype == p.dtype for k, p in params.items())
    report = sm.grad_check(params, X, y, loss)
    assert report.ok, str(report)


def test_grad_check_of_float32_parameters_runs_in_float64_and_passes():
    params, X, y = make_problem([3, 6, 2], 5, sm.mse_loss, seed=4)
    params32 = {k: p.astype(np.float32) for k, p in params.items()}
    report = sm.grad_check(params32, X.astype(np.float32), y.astype(np.float32), sm.mse_loss)
    assert report.ok, str(report)
    assert all(r["max_abs_error"] < 1e-8 for r in report.values()), str(report)


def spiral_batch(n=60):
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng)
    X_train, y_train, _, _ = sm.split(X, labels, rng)
    return X_train[:n], y_train[:n]


def test_no_false_alarm_on_the_spiral_classifier_at_initialisation():
    # Right code whose gradients are tiny: most entries of W2 are far below 1e-2.
    X, labels = spiral_batch()
    params = sm.init_mlp([2, 64, 64, 3], np.random.default_rng(1))
    _, grads = sm.loss_and_grads(params, X, labels, sm.softmax_cross_entropy)
    assert np.median(np.abs(grads["W2"])) < 1e-2
    report = sm.grad_check(params, X, labels, sm.softmax_cross_entropy)
    assert report.ok, str(report)


# ---- grad_check against wrong code -----------------------------------------------------------


def wrong_linear_backward(change):
    """linear_backward with ``change(d_X, dW, db)`` applied to its result."""
    original = sm.linear_backward

    def backward(d_Z, cache, need_d_X=True):
        return change(*original(d_Z, cache, need_d_X))

    return backward


def missing_one_over_n(logits, labels):
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    return loss, d_logits * len(labels)


PLANTED_BUGS = {
    "sign flip of dW": (wrong_linear_backward(lambda d_X, dW, db: (d_X, -dW, db)), None),
    "transposed dW": (
        wrong_linear_backward(
            lambda d_X, dW, db: (d_X, dW.T if dW.shape[0] == dW.shape[1] else dW, db)
        ),
        None,
    ),
    "missing 1/N": (None, missing_one_over_n),
    "forgotten ReLU mask": ("mask", None),
}


@pytest.mark.parametrize("bug", list(PLANTED_BUGS))
def test_grad_check_catches_a_planted_bug(monkeypatch, bug):
    # The spiral classifier's data, on a narrower copy of its network (square hidden layer for
    # the transpose), at initialisation.
    X, labels = spiral_batch(20)
    params = sm.init_mlp([2, 8, 8, 3], np.random.default_rng(1))
    backward, loss_fn = PLANTED_BUGS[bug]
    activation = (sm.relu_forward, sm.relu_backward)
    if backward == "mask":
        activation = (sm.relu_forward, lambda d_A, Z: d_A)
    elif backward is not None:
        monkeypatch.setattr(sm, "linear_backward", backward)
    loss_fn = loss_fn or sm.softmax_cross_entropy
    report = sm.grad_check(params, X, labels, loss_fn, activation=activation)
    assert not report.ok, str(report)
    wrong = {"sign flip of dW": "W2", "transposed dW": "W2", "missing 1/N": "b3"}.get(bug, "W1")
    assert not report[wrong]["ok"], str(report)
    if bug == "forgotten ReLU mask":
        assert report["W3"]["ok"] and report["b3"]["ok"], "the output layer has no ReLU"
    assert "FAIL" in str(report)


def test_grad_check_catches_a_relative_error_of_1e_4_at_its_default_tolerances():
    params, X, y = make_problem([3, 6, 2], 8, sm.mse_loss, seed=5)

    def mse_loss_slightly_off(out, y):
        loss, d_out = sm.mse_loss(out, y)
        return loss, (1 + 1e-4) * d_out

    report = sm.grad_check(params, X, y, mse_loss_slightly_off)
    assert not any(row["ok"] for row in report.values()), str(report)
    assert all(row["max_rel_error"] == pytest.approx(1e-4, rel=1e-2) for row in report.values()), (
        str(report)
    )


def test_grad_check_catches_an_absolute_error_of_1e_6_at_its_default_tolerances(monkeypatch):
    params, X, y = make_problem([3, 6, 2], 8, sm.mse_loss, seed=5)
    monkeypatch.setattr(
        sm, "linear_backward", wrong_linear_backward(lambda d_X, dW, db: (d_X, dW, db + 1e-6))
    )
    report = sm.grad_check(params, X, y, sm.mse_loss)
    assert not report["b1"]["ok"] and not report["b2"]["ok"], str(report)
    assert report["W1"]["ok"] and report["W2"]["ok"], str(report)
    assert report["b2"]["max_abs_error"] == pytest.approx(1e-6, rel=1e-3)


def test_grad_check_reports_and_skips_entries_on_the_kink():
    rng = np.random.default_rng(3)
    params = sm.init_mlp([1, 4, 1], rng)
    X, y = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    params["b1"][0, 2] = 1e-7 - X[0, 0] * params["W1"][0, 2]  # Z1[0, 2] = 1e-7: on the kink
    report = sm.grad_check(params, X, y, sm.mse_loss)
    assert report.ok, str(report)
    assert report["W1"]["kinks"] == report["b1"]["kinks"] == 1
    assert report["W1"]["checked"] == report["b1"]["checked"] == 3  # the other three units
    assert report["W2"]["kinks"] == report["b2"]["kinks"] == 0  # past the ReLU: no kink
    # Without the kink test that entry would fail: the finite difference is not a derivative.
    numeric = sm.numerical_gradient(
        lambda b1: float(sm.mse_loss(sm.mlp_forward({**params, "b1": b1}, X)[0], y)[0]),
        params["b1"].copy(),
    )[0, 2]
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]["b1"][0, 2]
    assert abs(analytic - numeric) > 1e-3 * abs(analytic)


# ---- another activation, plugged in ----------------------------------------------------------


def tanh_forward(Z):
    A = np.tanh(Z)
    return A, A


def tanh_backward(d_A, A):
    return d_A * (1 - A**2)


TANH = (tanh_forward, tanh_backward)


def test_a_tanh_activation_plugs_into_forward_grad_check_train_and_predict():
    rng = np.random.default_rng(6)
    params = sm.init_mlp([2, 6, 5, 3], rng)
    X, labels = rng.standard_normal((12, 2)), rng.integers(0, 3, size=12)
    out, _ = sm.mlp_forward(params, X, TANH)
    A = np.tanh(np.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"])
    np.testing.assert_allclose(out, A @ params["W3"] + params["b3"], rtol=1e-12)
    report = sm.grad_check(params, X, labels, sm.softmax_cross_entropy, activation=TANH)
    assert report.ok and all(r["kinks"] == 0 for r in report.values()), str(report)
    by_hand, adam = {k: p.copy() for k, p in params.items()}, sm.Adam(0.05)
    losses = sm.train(
        params, X, labels, sm.softmax_cross_entropy, sm.Adam(0.05), 30, activation=TANH
    )
    assert losses[-1] < losses[0] / 2
    for loss in losses:  # the same steps, taken by hand through the tanh network
        expected, grads = sm.loss_and_grads(by_hand, X, labels, sm.softmax_cross_entropy, TANH)
        adam.step(by_hand, grads)
        assert loss == expected
    assert all(np.array_equal(params[k], by_hand[k]) for k in params)
    logits = sm.mlp_forward(params, X, TANH)[0]
    assert np.array_equal(sm.predict(params, X, TANH), logits.argmax(axis=1))
