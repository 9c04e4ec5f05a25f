"""Bad input: a ValueError that names the argument, raised before anything is modified."""

import warnings

import numpy as np
import pytest
from conftest import assert_params_equal, copy_params

import scratch_mlp as sm


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    params = sm.init_mlp([2, 5, 3], rng)
    X = rng.standard_normal((8, 2))
    labels = rng.integers(0, 3, size=8)
    y = rng.standard_normal((8, 3))
    return params, X, labels, y


def assert_train_refuses(params, X, y, loss_fn, match, **kwargs):
    before = copy_params(params)
    optimizer = sm.Adam(lr=0.01)
    with pytest.raises(ValueError, match=match):
        sm.train(params, X, y, loss_fn, optimizer, steps=kwargs.pop("steps", 5), **kwargs)
    assert_params_equal(params, before)
    assert optimizer.t == 0


def test_X_not_2d(problem):
    params, X, labels, _ = problem
    assert_train_refuses(params, X.ravel(), labels, sm.softmax_cross_entropy, "X must be a 2-D")
    with pytest.raises(ValueError, match="X must be 2-D"):
        sm.mlp_forward(params, X[:, :1])


def test_X_and_y_rows_differ(problem):
    params, X, labels, y = problem
    assert_train_refuses(params, X, labels[:5], sm.softmax_cross_entropy, "8 rows.*labels|8 rows")
    assert_train_refuses(params, X, y[:5], sm.mse_loss, "8 rows")
    with pytest.raises(ValueError, match="labels has 5 entries"):
        sm.softmax_cross_entropy(np.zeros((8, 3)), labels[:5])
    with pytest.raises(ValueError, match="y has shape"):
        sm.mse_loss(np.zeros((8, 3)), y[:5])


def test_labels_not_integers(problem):
    params, X, labels, _ = problem
    assert_train_refuses(
        params, X, labels.astype(float), sm.softmax_cross_entropy, "labels must be an integer array"
    )
    with pytest.raises(ValueError, match="labels holds class labels and must be 1-D"):
        sm.softmax_cross_entropy(np.zeros((8, 3)), labels.reshape(8, 1))


@pytest.mark.parametrize("bad", [-1, 3])
def test_labels_outside_the_classes(problem, bad):
    params, X, labels, _ = problem
    labels = labels.copy()
    labels[-1] = bad  # in the last mini-batch: still refused before the first step
    assert_train_refuses(
        params,
        X,
        labels,
        sm.softmax_cross_entropy,
        r"y must lie in \[0, 3\)",
        batch_size=2,
        rng=np.random.default_rng(0),
    )
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        sm.softmax_cross_entropy(np.zeros((8, 3)), labels)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_data(problem, value):
    params, X, labels, y = problem
    X_bad = X.copy()
    X_bad[3, 1] = value
    assert_train_refuses(params, X_bad, labels, sm.softmax_cross_entropy, "X contains NaN")
    y_bad = y.copy()
    y_bad[0, 0] = value
    assert_train_refuses(params, X, y_bad, sm.mse_loss, "y contains NaN")
    with pytest.raises(ValueError, match="X contains NaN"):
        sm.grad_check(params, X_bad, labels, sm.softmax_cross_entropy)


@pytest.mark.parametrize(
    "sizes, match",
    [
        ([3], "at least two"),
        ([], "at least two"),
        ([3, 0, 2], "positive"),
        ([3, -4], "positive"),
        ([3, 2.5], "positive integers"),
    ],
)
def test_bad_sizes(sizes, match):
    with pytest.raises(ValueError, match=f"sizes.*{match}|{match}.*sizes|sizes must be {match}"):
        sm.init_mlp(sizes, np.random.default_rng(0))


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_non_positive_learning_rate(lr):
    with pytest.raises(ValueError, match="lr must be a positive"):
        sm.SGD(lr)
    with pytest.raises(ValueError, match="lr must be a positive"):
        sm.Adam(lr)


def test_bad_adam_hyperparameters():
    with pytest.raises(ValueError, match="betas"):
        sm.Adam(betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps"):
        sm.Adam(eps=-1e-8)


@pytest.mark.parametrize("optimizer", [sm.SGD(0.1), sm.Adam(0.1)], ids=["SGD", "Adam"])
def test_grads_that_do_not_match_params(problem, optimizer):
    params, X, labels, _ = problem
    out, cache = sm.mlp_forward(params, X)
    grads = sm.mlp_backward(params, cache, sm.softmax_cross_entropy(out, labels)[1])
    before = copy_params(params)
    missing = {k: g for k, g in grads.items() if k != "b2"}
    transposed = {**grads, "W2": grads["W2"].T}
    float32 = {**grads, "b1": grads["b1"].astype(np.float32)}
    for bad, match in [
        (missing, "grads has keys"),
        (transposed, r"grads\['W2'\] is \(3, 5\)"),
        (float32, r"grads\['b1'\]"),
    ]:
        with pytest.raises(ValueError, match=match):
            optimizer.step(params, bad)
        assert_params_equal(params, before)
    assert getattr(optimizer, "t", 0) == 0


def test_adam_refuses_params_it_was_not_stepping(problem):
    params, X, labels, _ = problem
    adam = sm.Adam(0.01)
    sm.train(params, X, labels, sm.softmax_cross_entropy, adam, steps=2)
    other = sm.init_mlp([2, 4, 3], np.random.default_rng(1))
    grads = {k: np.zeros_like(p) for k, p in other.items()}
    before = copy_params(other)
    with pytest.raises(ValueError, match="do not match"):
        adam.step(other, grads)
    assert_params_equal(other, before)
    assert adam.t == 2


def test_dtype_mismatch_is_named(problem):
    params, X, labels, y = problem
    params32 = {k: p.astype(np.float32) for k, p in params.items()}
    assert_train_refuses(params32, X, labels, sm.softmax_cross_entropy, "X has dtype float64")
    assert_train_refuses(params, X, y.astype(np.float32), sm.mse_loss, "y has dtype float32")
    assert_train_refuses(params, X.astype(int), labels, sm.softmax_cross_entropy, "floating point")


def test_params_with_wrong_keys(problem):
    _, X, labels, _ = problem
    with pytest.raises(ValueError, match="params must have keys"):
        sm.mlp_forward({"W1": np.ones((2, 3)), "b2": np.ones((1, 3))}, X)


def test_bad_steps_and_batch_size(problem):
    params, X, labels, _ = problem
    assert_train_refuses(params, X, labels, sm.softmax_cross_entropy, "steps", steps=-1)
    assert_train_refuses(
        params,
        X,
        labels,
        sm.softmax_cross_entropy,
        "batch_size",
        batch_size=0,
        rng=np.random.default_rng(0),
    )
    assert_train_refuses(
        params,
        X,
        labels,
        sm.softmax_cross_entropy,
        "batch_size",
        batch_size=9,
        rng=np.random.default_rng(0),
    )
    assert_train_refuses(
        params, X, labels, sm.softmax_cross_entropy, "rng is required", batch_size=4
    )


def test_divergence_stops_at_once_with_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings on the way
        with pytest.raises(FloatingPointError, match=r"at step \d+.*smaller learning rate") as err:
            sm.train(params, X, y, sm.mse_loss, sm.SGD(lr=1.0), steps=10_000)
    step = int(str(err.value).split("at step ")[1].split(":")[0])
    assert 0 < step < 10_000
    assert "lr = 1.0" in str(err.value)


def test_a_loss_that_is_not_finite_before_any_update_is_not_blamed_on_the_learning_rate():
    rng = np.random.default_rng(0)
    params = sm.init_mlp([1, 4, 1], rng, weight_std=1e200)
    X, y = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
    before = copy_params(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="at step 0, before any update"):
            sm.train(params, X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=3)
    assert_params_equal(params, before)


def test_params_of_mixed_dtypes_are_named(problem):
    params, X, labels, _ = problem
    params32 = {k: p.astype(np.float32) for k, p in params.items()}
    params32["b1"] = params32["b1"].astype(np.float64)
    assert_train_refuses(
        params32,
        X.astype(np.float32),
        labels,
        sm.softmax_cross_entropy,
        r"params\['b1'\] is float64 but params\['W1'\] is float32",
    )


def test_no_rows(problem):
    params, X, labels, _ = problem
    assert_train_refuses(params, X[:0], labels[:0], sm.softmax_cross_entropy, "X has no rows")
    with pytest.raises(ValueError, match="X has no rows"):
        sm.grad_check(params, X[:0], labels[:0], sm.softmax_cross_entropy)


@pytest.mark.parametrize("argument", ["steps", "log_every", "batch_size"])
def test_booleans_are_not_counts(problem, argument):
    params, X, labels, _ = problem
    kwargs = {argument: True, "rng": np.random.default_rng(0)}
    assert_train_refuses(params, X, labels, sm.softmax_cross_entropy, argument, **kwargs)


def test_booleans_are_not_learning_rates():
    with pytest.raises(ValueError, match="lr"):
        sm.SGD(True)


def test_rng_that_cannot_shuffle(problem):
    params, X, labels, _ = problem
    assert_train_refuses(
        params, X, labels, sm.softmax_cross_entropy, "rng must be", batch_size=4, rng=0
    )


def test_loss_fn_and_optimizer_must_be_usable(problem):
    params, X, labels, _ = problem
    before = copy_params(params)
    with pytest.raises(ValueError, match="loss_fn"):
        sm.train(params, X, labels, "softmax", sm.SGD(0.1), steps=2)
    with pytest.raises(ValueError, match="optimizer"):
        sm.train(params, X, labels, sm.softmax_cross_entropy, 0.1, steps=2)
    assert_params_equal(params, before)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, "a"), (-0.1, 0.99)])
def test_adam_betas_of_the_wrong_form(betas):
    with pytest.raises(ValueError, match="betas"):
        sm.Adam(betas=betas)


def test_adam_eps_that_is_not_a_number():
    with pytest.raises(ValueError, match="eps"):
        sm.Adam(eps="a")


def test_adam_refuses_params_of_another_dtype_than_its_state(problem):
    params, X, labels, _ = problem
    adam = sm.Adam(0.01)
    sm.train(params, X, labels, sm.softmax_cross_entropy, adam, steps=2)
    params32 = {k: p.astype(np.float32) for k, p in params.items()}
    grads32 = {k: np.ones_like(p) for k, p in params32.items()}
    before = copy_params(params32)
    with pytest.raises(ValueError, match="dtypes"):
        adam.step(params32, grads32)
    assert_params_equal(params32, before)
    assert adam.t == 2 and adam.m["W1"].dtype == np.float64


@pytest.mark.parametrize(
    "options, match",
    [
        ({"weight_std": -1.0}, "weight_std"),
        ({"weight_std": float("nan")}, "weight_std"),
        ({"hidden_bias": float("nan")}, "hidden_bias"),
        ({"hidden_bias": "0"}, "hidden_bias"),
    ],
)
def test_bad_initialisation_options(options, match):
    with pytest.raises(ValueError, match=match):
        sm.init_mlp([2, 3, 1], np.random.default_rng(0), **options)


def test_lists_instead_of_arrays(problem):
    params, X, _, y = problem
    with pytest.raises(ValueError, match="X must be a NumPy array"):
        sm.mlp_forward(params, X.tolist())
    with pytest.raises(ValueError, match="y must be a NumPy array"):
        sm.mse_loss(np.zeros((8, 3)), y.tolist())


def test_integer_targets_are_read_as_labels_and_named_y(problem):
    params, X, labels, _ = problem
    assert_train_refuses(
        params, X, np.zeros((8, 3), dtype=int), sm.mse_loss, r"y holds class labels and must be 1-D"
    )
