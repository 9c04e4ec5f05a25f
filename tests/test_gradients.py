"""Every hand-written derivative against finite differences: piece by piece, then whole networks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch_mlp as sm


def numeric_gradient(f, x, h=1e-6):
    """Centred differences of the scalar f() with respect to every entry of x (changed in place)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        plus = f()
        x[idx] = original - h
        minus = f()
        x[idx] = original
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def assert_close(analytic, numeric, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


# ---- each piece on its own --------------------------------------------------------------------


def test_linear_backward_matches_finite_differences(rng):
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    G = rng.standard_normal((5, 4))  # L = sum(G * Z) has dL/dZ = G

    def loss():
        return float(np.sum(G * sm.linear_forward(X, W, b)[0]))

    d_X, dW, db = sm.linear_backward(G, sm.linear_forward(X, W, b)[1])
    assert (d_X.shape, dW.shape, db.shape) == (X.shape, W.shape, b.shape)
    assert_close(d_X, numeric_gradient(loss, X))
    assert_close(dW, numeric_gradient(loss, W))
    assert_close(db, numeric_gradient(loss, b))


def test_linear_backward_can_skip_the_input_gradient(rng):
    X, W, b = rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), np.zeros((1, 4))
    G = rng.standard_normal((5, 4))
    cache = sm.linear_forward(X, W, b)[1]
    d_X, dW, db = sm.linear_backward(G, cache, need_d_X=False)
    assert d_X is None
    _, dW_full, db_full = sm.linear_backward(G, cache)
    assert np.array_equal(dW, dW_full) and np.array_equal(db, db_full)


def test_relu_backward_matches_finite_differences(rng):
    Z = rng.standard_normal((6, 5))
    Z[np.abs(Z) < 1e-3] = 0.5  # keep away from the kink, where there is no derivative
    G = rng.standard_normal(Z.shape)

    def loss():
        return float(np.sum(G * sm.relu_forward(Z)[0]))

    d_Z = sm.relu_backward(G, sm.relu_forward(Z)[1])
    assert_close(d_Z, numeric_gradient(loss, Z))


def test_relu_gradient_at_exactly_zero_is_zero():
    assert sm.relu_backward(np.array([[3.0]]), np.array([[0.0]]))[0, 0] == 0.0


@pytest.mark.parametrize("shape", [(1, 1), (7, 1), (4, 3)])
def test_mse_gradient_matches_finite_differences(rng, shape):
    out, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, d_out = sm.mse_loss(out, y)
    assert loss == pytest.approx(np.mean((out - y) ** 2), rel=1e-15)
    assert_close(d_out, numeric_gradient(lambda: float(sm.mse_loss(out, y)[0]), out))


@pytest.mark.parametrize("N, C", [(1, 2), (5, 3), (8, 10)])
def test_softmax_cross_entropy_gradient_matches_finite_differences(rng, N, C):
    logits = 3 * rng.standard_normal((N, C))
    labels = rng.integers(0, C, size=N)
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # the definition, unguarded
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(N), labels])), rel=1e-12)
    numeric = numeric_gradient(lambda: float(sm.softmax_cross_entropy(logits, labels)[0]), logits)
    assert_close(d_logits, numeric)
    one_hot = np.zeros((N, C))
    one_hot[np.arange(N), labels] = 1
    np.testing.assert_allclose(d_logits, (p - one_hot) / N, rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_is_exact_for_logits_of_size_1e4():
    logits = np.array([[1e4, -1e4, 0.0], [5e3, 1e4, 1e4]])
    labels = np.array([1, 0])
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    # Row 0: log-sum-exp is 1e4 (the other terms vanish), the true logit -1e4: loss 2e4.
    # Row 1: log-sum-exp is 1e4 + log 2, the true logit 5e3: loss 5e3 + log 2.
    assert np.isfinite(loss) and np.isfinite(d_logits).all()
    assert loss == pytest.approx((2e4 + 5e3 + np.log(2)) / 2, rel=1e-15)
    expected = np.array([[1.0, -1.0, 0.0], [-1.0, 0.5, 0.5]]) / 2
    np.testing.assert_allclose(d_logits, expected, rtol=0, atol=1e-300)


def test_softmax_cross_entropy_is_finite_in_float32_for_large_logits():
    logits = np.array([[1e4, -1e4]], dtype=np.float32)
    loss, d_logits = sm.softmax_cross_entropy(logits, np.array([1]))
    assert loss.dtype == np.float32 and d_logits.dtype == np.float32
    assert float(loss) == 2e4
    assert d_logits.tolist() == [[1.0, -1.0]]


# ---- whole networks ---------------------------------------------------------------------------

ARCHITECTURES = [
    [1, 64, 1],  # the article's
    [3, 5, 2],  # non-square, one hidden layer
    [4, 7, 3, 5],  # several hidden layers, none square
    [2, 8, 8, 8, 3],  # deeper, square hidden layers
    [6, 1, 4],  # a bottleneck of one unit
]


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


# Cross-entropy needs at least two classes, so it is checked on the architectures that have them.
CASES = [(sizes, sm.mse_loss) for sizes in ARCHITECTURES] + [
    (sizes, sm.softmax_cross_entropy) for sizes in ARCHITECTURES if sizes[-1] >= 2
]


@pytest.mark.parametrize("sizes, loss", CASES, ids=[f"{s}-{f.__name__}" for s, f in CASES])
@pytest.mark.parametrize("N", [1, 9])
def test_grad_check_every_parameter(sizes, loss, N):
    params, X, y = make_problem(sizes, N, loss, seed=sum(sizes) + N)
    errors = sm.grad_check(params, X, y, loss)
    assert set(errors) == set(params)
    assert max(errors.values()) < 1e-7, errors


def test_grad_check_covers_every_entry():
    params, X, y = make_problem([3, 5, 2], 4, sm.mse_loss, seed=0)
    rows = sm.grad_check_report(params, X, y, sm.mse_loss)
    assert [r["checked"] + r["kinks"] for r in rows] == [p.size for p in params.values()]


def test_numerical_gradient_leaves_params_alone():
    params, X, y = make_problem([3, 5, 2], 4, sm.mse_loss, seed=0)
    before = {name: p.copy() for name, p in params.items()}
    sm.numerical_gradient(params, X, y, sm.mse_loss)
    for name in params:
        assert np.array_equal(params[name], before[name])


def test_grad_check_flags_a_wrong_backward_pass(monkeypatch):
    params, X, y = make_problem([3, 6, 2], 8, sm.mse_loss, seed=1)
    monkeypatch.setattr(sm, "relu_backward", lambda d_A, Z: d_A)  # the mask forgotten
    errors = sm.grad_check(params, X, y, sm.mse_loss)
    assert errors["W1"] > 1e-2 and errors["b1"] > 1e-2
    assert errors["W2"] < 1e-7, "the output layer does not go through the ReLU's backward"


def test_grad_check_reports_and_skips_an_entry_on_the_kink():
    rng = np.random.default_rng(3)
    params = sm.init_mlp([1, 4, 1], rng)
    X, y = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    params["b1"][0, 2] = 1e-7 - X[0, 0] * params["W1"][0, 2]  # Z1[0, 2] = 1e-7: on the kink
    rows = {r["name"]: r for r in sm.grad_check_report(params, X, y, sm.mse_loss)}
    assert rows["W1"]["kinks"] >= 1 and rows["b1"]["kinks"] >= 1
    assert max(r["max_rel_error"] for r in rows.values()) < 1e-7
    # Without the kink test the same check would see a large error on that unit.
    numeric, kinks = sm.numerical_gradient(params, X, y, sm.mse_loss)
    out, cache = sm.mlp_forward(params, X)
    analytic = sm.mlp_backward(params, cache, sm.mse_loss(out, y)[1])
    assert kinks["b1"][0, 2]
    assert sm.relative_error(analytic["b1"], numeric["b1"])[0, 2] > 1e-3


def test_mlp_backward_returns_keys_shapes_and_dtypes_of_params():
    params, X, y = make_problem([4, 7, 3, 5], 6, sm.mse_loss, seed=2)
    out, cache = sm.mlp_forward(params, X)
    grads = sm.mlp_backward(params, cache, sm.mse_loss(out, y)[1])
    assert list(grads) == list(params)
    for name in params:
        assert grads[name].shape == params[name].shape
        assert grads[name].dtype == params[name].dtype


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    N=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    use_xent=st.booleans(),
)
def test_grad_check_property(sizes, N, seed, use_xent):
    if use_xent:
        sizes[-1] = max(sizes[-1], 2)
    loss = sm.softmax_cross_entropy if use_xent else sm.mse_loss
    params, X, y = make_problem(sizes, N, loss, seed)
    errors = sm.grad_check(params, X, y, loss)
    assert max(errors.values()) < 1e-7, errors


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 8), min_size=2, max_size=5),
    N=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_shapes_property(sizes, N, seed):
    params, X, y = make_problem(sizes, N, sm.mse_loss, seed)
    out, cache = sm.mlp_forward(params, X)
    assert out.shape == (N, sizes[-1])
    grads = sm.mlp_backward(params, cache, sm.mse_loss(out, y)[1])
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}


def test_a_tensor_with_every_entry_on_a_kink_is_reported_unchecked():
    rows = [
        {
            "name": "b1",
            "shape": (1, 2),
            "max_rel_error": 0.0,
            "checked": 0,
            "kinks": 2,
            "tiny": 0,
            "max_rel_error_tiny": 0.0,
        }
    ]
    assert sm.format_grad_check(rows).splitlines()[1].endswith("unchecked")
    assert sm.grad_check_verdict(0.0, checked=0) == "unchecked"
    assert sm.grad_check_verdict(1e-9) == "right"
    assert sm.grad_check_verdict(1e-4) == "look closer"
    assert sm.grad_check_verdict(0.5) == "BUG"
    assert sm.grad_check_verdict(1e-6, rel_error_tiny=1e-6) == "look closer"
    assert sm.grad_check_verdict(1e-4, rel_error_tiny=1e-4) == "BUG"


def test_the_floor_is_1e8_times_the_rounding_noise():
    eps = np.finfo(np.float64).eps
    assert sm.grad_check_floor(0.5, 1e-5) == pytest.approx(1e8 * eps / 1e-5)
    assert sm.grad_check_floor(-30.0, 1e-4) == pytest.approx(1e8 * eps * 30 / 1e-4)


@pytest.mark.parametrize("h", [0.0, -1e-5, float("nan")])
def test_grad_check_refuses_a_bad_h(h):
    params, X, y = make_problem([3, 5, 2], 4, sm.mse_loss, seed=0)
    with pytest.raises(ValueError, match="h must be a positive"):
        sm.grad_check(params, X, y, sm.mse_loss, h=h)


def test_grad_check_refuses_an_h_too_small_to_move_a_parameter():
    params, X, y = make_problem([3, 5, 2], 4, sm.mse_loss, seed=0)
    with pytest.raises(ValueError, match="too small to change"):
        sm.grad_check(params, X, y, sm.mse_loss, h=1e-300)


def test_a_one_percent_error_is_not_called_right():
    params, X, y = make_problem([3, 6, 2], 8, sm.mse_loss, seed=5)

    def mse_loss_one_percent_off(out, y):
        loss, d_out = sm.mse_loss(out, y)
        return loss, 1.01 * d_out

    errors = sm.grad_check(params, X, y, mse_loss_one_percent_off)
    assert all(0.005 < e < 0.011 for e in errors.values()), errors  # 1 - 1/1.01 = 0.0099


@pytest.fixture(scope="module")
def trained_classifier():
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng, n_per_class=30)
    params = sm.init_mlp([2, 16, 3], rng)
    sm.train(params, X, labels, sm.softmax_cross_entropy, sm.Adam(0.02), steps=1500)
    return params, X[::4], labels[::4]  # 22 points from all three arms


def test_after_training_most_gradients_are_below_the_floor_and_a_right_one_passes(
    trained_classifier,
):
    rows = sm.grad_check_report(*trained_classifier, sm.softmax_cross_entropy)
    assert sum(r["tiny"] for r in rows) >= 0.75 * sum(r["checked"] for r in rows)
    verdicts = [
        sm.grad_check_verdict(r["max_rel_error"], r["checked"], r["max_rel_error_tiny"])
        for r in rows
    ]
    assert verdicts == ["right"] * len(rows), sm.format_grad_check(rows)


@pytest.mark.parametrize("factor", [-1.0, 2.0], ids=["sign flipped", "doubled"])
def test_a_wrong_gradient_below_the_floor_is_still_a_bug(trained_classifier, factor):
    def wrong_loss(logits, labels):
        loss, d_logits = sm.softmax_cross_entropy(logits, labels)
        return loss, factor * d_logits

    rows = sm.grad_check_report(*trained_classifier, wrong_loss)
    for r in rows:
        # On the entries below the floor alone the error is far above 1e3 times the noise.
        assert r["max_rel_error_tiny"] >= 1e-5
        assert sm.grad_check_verdict(0.0, r["checked"], r["max_rel_error_tiny"]) == "BUG"
    assert "BUG" in sm.format_grad_check(rows)
