"""Bad input: a ValueError that names the argument, raised before anything is modified, or a sane
result where the input is fine after all."""

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


def assert_train_refuses(params, X, y, loss_fn, match, steps=5, **kwargs):
    before = copy_params(params)
    optimizer = sm.Adam(lr=0.01)
    with pytest.raises(ValueError, match=match):
        sm.train(params, X, y, loss_fn, optimizer, steps=steps, **kwargs)
    assert_params_equal(params, before)
    assert optimizer.t == 0


def with_entry(array, index, value):
    array = array.copy()
    array[index] = value
    return array


# ---- train: data, labels, targets, counts -----------------------------------------------------

XENT, MSE = sm.softmax_cross_entropy, sm.mse_loss
TRAIN_CASES = {
    # name: (change to (params, X, labels, y) -> (params, X, targets, loss_fn, kwargs), match)
    "X not 2-D": (lambda p, X, l, y: (p, X.ravel(), l, XENT, {}), r"X must be 2-D"),
    "X of another width": (lambda p, X, l, y: (p, X[:, :1], l, XENT, {}), r"X must have 2 columns"),
    "X a list": (lambda p, X, l, y: (p, X.tolist(), l, XENT, {}), r"X must be a NumPy array"),
    "X of integers": (lambda p, X, l, y: (p, X.astype(int), l, XENT, {}), r"X has dtype int64"),
    "X big-endian": (
        lambda p, X, l, y: (p, X.astype(">f8"), l, XENT, {}),
        r"X\.astype\(np\.float64\)",
    ),
    "X with NaN": (lambda p, X, l, y: (p, with_entry(X, (3, 1), np.nan), l, XENT, {}), r"X .*NaN"),
    "X with inf": (lambda p, X, l, y: (p, with_entry(X, (0, 0), -np.inf), l, XENT, {}), r"X .*inf"),
    "y with NaN": (lambda p, X, l, y: (p, X, with_entry(y, (0, 0), np.nan), MSE, {}), r"y .*NaN"),
    "labels fewer than rows": (lambda p, X, l, y: (p, X, l[:5], XENT, {}), r"8 rows but y"),
    "y fewer than rows": (lambda p, X, l, y: (p, X, y[:5], MSE, {}), r"8 rows but y"),
    "labels of floats": (
        lambda p, X, l, y: (p, X, l.astype(float), XENT, {}),
        r"labels must be integer",
    ),
    "labels out of range": (
        lambda p, X, l, y: (p, X, with_entry(l, 0, 3), XENT, {}),
        r"labels must lie in \[0, 3\)",
    ),
    "labels negative": (
        lambda p, X, l, y: (p, X, with_entry(l, 0, -1), XENT, {}),
        r"labels must lie in \[0, 3\)",
    ),
    "integer regression targets": (
        lambda p, X, l, y: (p, X, y.astype(int), MSE, {}),
        r"int64 .*same shape and dtype",
    ),
    "float32 targets, float64 network": (
        lambda p, X, l, y: (p, X, y.astype(np.float32), MSE, {}),
        r"y is .*float32.*y\.astype\(np\.float64\)",
    ),
    "params of float32 with X of float64": (
        lambda p, X, l, y: ({k: v.astype(np.float32) for k, v in p.items()}, X, l, XENT, {}),
        r"X has dtype float64 but the parameters are float32",
    ),
    "params of mixed dtypes": (
        lambda p, X, l, y: ({**p, "b1": p["b1"].astype(np.float32)}, X, l, XENT, {}),
        r"params\['b1'\] is float32",
    ),
    "a parameter given as a list": (
        lambda p, X, l, y: ({**p, "W2": p["W2"].tolist()}, X, l, XENT, {}),
        r"params\['W2'\] is list",
    ),
    "params with wrong keys": (
        lambda p, X, l, y: ({"W1": p["W1"], "b2": p["b2"]}, X, l, XENT, {}),
        r"params must be a dict with keys W1, b1",
    ),
    "negative steps": (lambda p, X, l, y: (p, X, l, XENT, {"steps": -1}), r"steps must be at"),
    "steps True": (lambda p, X, l, y: (p, X, l, XENT, {"steps": True}), r"steps must be an int"),
    "log_every True": (
        lambda p, X, l, y: (p, X, l, XENT, {"log_every": True}),
        r"log_every must be an integer",
    ),
    "batch_size 0": (
        lambda p, X, l, y: (p, X, l, XENT, {"batch_size": 0, "rng": np.random.default_rng()}),
        r"batch_size must be at least 1",
    ),
    "batch_size above N": (
        lambda p, X, l, y: (p, X, l, XENT, {"batch_size": 9, "rng": np.random.default_rng()}),
        r"batch_size must be at most N = 8",
    ),
    "batch_size True": (
        lambda p, X, l, y: (p, X, l, XENT, {"batch_size": True, "rng": np.random.default_rng()}),
        r"batch_size must be an integer",
    ),
    "batch_size without rng": (
        lambda p, X, l, y: (p, X, l, XENT, {"batch_size": 4}),
        r"batch_size needs rng",
    ),
    "rng=0 with batch_size": (
        lambda p, X, l, y: (p, X, l, XENT, {"batch_size": 4, "rng": 0}),
        r"needs rng, a np\.random\.Generator, got 0",
    ),
    "loss_fn not a function": (lambda p, X, l, y: (p, X, l, "softmax", {}), r"loss_fn must be"),
    "a loss_fn that returns the loss alone": (
        lambda p, X, l, y: (p, X, l, lambda out, t: XENT(out, t)[0], {}),
        r"loss_fn must return \(loss, d_out\)",
    ),
    "a loss_fn whose d_out has another shape": (
        lambda p, X, l, y: (p, X, l, lambda out, t: (XENT(out, t)[0], out[:, :2]), {}),
        r"d_out .*must have shape \(2, 3\)",
    ),
    "W2 of the wrong shape": (
        lambda p, X, l, y: ({**p, "W2": p["W2"].T.copy()}, X, l, XENT, {}),
        r"params\['W2'\] must be 2-D with 5 rows",
    ),
    "0-d weights": (
        lambda p, X, l, y: ({**p, "W1": np.ones(())}, X, l, XENT, {}),
        r"params\['W1'\] must be 2-D",
    ),
    "a bias of the wrong shape": (
        lambda p, X, l, y: ({**p, "b1": p["b1"].ravel()}, X, l, XENT, {}),
        r"params\['b1'\] must have shape \(1, 5\)",
    ),
    "float16 params": (
        lambda p, X, l, y: (
            {k: v.astype(np.float16) for k, v in p.items()},
            X.astype(np.float16),
            l,
            XENT,
            {},
        ),
        r"float32 or float64",
    ),
    "NaN in params": (
        lambda p, X, l, y: ({**p, "W1": with_entry(p["W1"], (0, 0), np.nan)}, X, l, XENT, {}),
        r"params\['W1'\] contains NaN",
    ),
    "X an np.matrix": (
        lambda p, X, l, y: (p, np.asmatrix(X), l, XENT, {}),
        r"X must be a NumPy array",
    ),
    "activation a single function": (
        lambda p, X, l, y: (p, X, l, XENT, {"activation": sm.relu_forward}),
        r"activation must be a \(forward, backward\) pair",
    ),
    "activation without its backward": (
        lambda p, X, l, y: (p, X, l, XENT, {"activation": (sm.relu_forward, None)}),
        r"activation must be a \(forward, backward\) pair",
    ),
    "activation of three functions": (
        lambda p, X, l, y: (p, X, l, XENT, {"activation": (*sm.RELU, sm.relu_forward)}),
        r"activation must be a \(forward, backward\) pair",
    ),
    "an activation whose forward returns A alone": (
        lambda p, X, l, y: (p, X, l, XENT, {"activation": (np.tanh, sm.relu_backward)}),
        r"forward must return \(A, cache\)",
    ),
    "on_step not a function": (
        lambda p, X, l, y: (p, X, l, XENT, {"on_step": "print"}),
        r"on_step must be a function",
    ),
    "on_step of one argument": (
        lambda p, X, l, y: (p, X, l, XENT, {"on_step": lambda loss: None}),
        r"on_step must be a function \(step, loss, params\)",
    ),
    "activation None": (
        lambda p, X, l, y: (p, X, l, XENT, {"activation": None}),
        r"activation must be a \(forward, backward\) pair",
    ),
    "an activation whose backward gives NaN": (
        lambda p, X, l, y: (
            p,
            X,
            l,
            XENT,
            {"activation": (sm.relu_forward, lambda d, Z: d * np.log(Z))},
        ),
        r"activation gives NaN",
    ),
    "an activation that turns float32 into float64": (
        lambda p, X, l, y: (
            {k: v.astype(np.float32) for k, v in p.items()},
            X.astype(np.float32),
            l,
            XENT,
            {"activation": (lambda Z: (np.maximum(Z, 0).astype(np.float64), Z), sm.relu_backward)},
        ),
        r"forward must return \(A, cache\), A of its input's shape and dtype float32",
    ),
    "a loss_fn whose d_out is always one row": (
        lambda p, X, l, y: (p, X, l, lambda out, t: (XENT(out, t)[0], XENT(out, t)[1][:1]), {}),
        r"d_out .*must have shape \(2, 3\)",
    ),
    "a loss that is None": (
        lambda p, X, l, y: (p, X, l, lambda out, t: (None, XENT(out, t)[1]), {}),
        r"loss_fn must return \(loss, d_out\) with a real number loss",
    ),
    "a loss that is a string": (
        lambda p, X, l, y: (p, X, l, lambda out, t: ("0.5", XENT(out, t)[1]), {}),
        r"real number loss",
    ),
    "a masked X": (
        lambda p, X, l, y: (p, np.ma.masked_array(X, mask=X > 1), l, XENT, {}),
        r"X must be a NumPy array",
    ),
    "params as np.matrix": (
        lambda p, X, l, y: ({**p, "W1": np.asmatrix(p["W1"])}, X, l, XENT, {}),
        r"params\['W1'\] is float64: every parameter must be",
    ),
    "big-endian params": (
        lambda p, X, l, y: ({k: v.astype(">f8") for k, v in p.items()}, X, l, XENT, {}),
        r"byte order",
    ),
    "mse targets of shape (N,)": (
        lambda p, X, l, y: (p, X, y[:, 0], MSE, {}),
        r"y is \(8,\) float64 but the network output is \(8, 3\)",
    ),
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_refuses_bad_input_before_any_change(problem, case):
    change, match = TRAIN_CASES[case]
    params, X, targets, loss_fn, kwargs = change(*problem)
    assert_train_refuses(params, X, targets, loss_fn, match, **kwargs)


def test_train_refuses_an_optimizer_without_step(problem):
    params, X, labels, _ = problem
    before = copy_params(params)
    with pytest.raises(ValueError, match="optimizer must have .step"):
        sm.train(params, X, labels, XENT, 0.1, steps=2)
    assert_params_equal(params, before)


def test_a_label_out_of_range_in_a_later_mini_batch_is_refused_before_the_first_step(problem):
    params, X, labels, _ = problem
    bad = with_entry(labels, 7, 3)
    for seed in range(4):  # wherever the permutation puts row 7
        assert_train_refuses(
            params, X, bad, XENT, r"\[0, 3\)", batch_size=2, rng=np.random.default_rng(seed)
        )


def test_train_refuses_x_without_rows(problem):
    params, X, labels, _ = problem
    assert_train_refuses(params, X[:0], labels[:0], XENT, "X has no rows")


# ---- divergence -------------------------------------------------------------------------------


def test_divergence_stops_at_once_naming_the_step_and_the_learning_rate():
    rng = np.random.RandomState(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings on the way
        with pytest.raises(FloatingPointError, match=r"at step \d+.*smaller learning rate") as err:
            sm.train(params, X, y, MSE, sm.SGD(lr=1.0), steps=10_000)
    step = int(str(err.value).split("at step ")[1].split(":")[0])
    assert 0 < step < 10_000
    assert "lr = 1.0" in str(err.value)


def test_a_loss_not_finite_before_any_update_is_not_blamed_on_the_learning_rate():
    rng = np.random.default_rng(0)
    params = sm.init_mlp([1, 4, 1], rng, weight_std=1e200)
    X, y = rng.standard_normal((5, 1)), rng.standard_normal((5, 1))
    before = copy_params(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="at step 0, before any update"):
            sm.train(params, X, y, MSE, sm.SGD(lr=0.01), steps=3)
    assert_params_equal(params, before)


# ---- optimizers -------------------------------------------------------------------------------

HUGE = 10**400  # an int that float() cannot hold


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda lr: sm.SGD(lr), "lr"),
        (lambda lr: sm.RMSProp(lr), "lr"),
        (lambda lr: sm.Adam(lr), "lr"),
    ],
    ids=["SGD", "RMSProp", "Adam"],
)
@pytest.mark.parametrize(
    "lr",
    [0, -0.1, float("nan"), float("inf"), True, "0.1", HUGE],
    ids=["0", "negative", "nan", "inf", "True", "a string", "10**400"],
)
def test_optimizers_refuse_a_bad_learning_rate(make, match, lr):
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0"):
        make(lr)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: sm.SGD(0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: sm.SGD(0.1, momentum=-0.1), r"momentum must be a finite number >= 0"),
        (lambda: sm.RMSProp(alpha=1.0), r"alpha must be in \[0, 1\)"),
        (lambda: sm.RMSProp(eps=-1e-8), r"eps must be"),
        (lambda: sm.Adam(betas=(0.9, 1.0)), r"betas must be in \[0, 1\)"),
        (lambda: sm.Adam(betas=0.9), "betas must be two numbers"),
        (lambda: sm.Adam(betas=(0.9,)), "betas must be two numbers"),
        (lambda: sm.Adam(betas=(0.9, "a")), "betas must be a finite number"),
        (lambda: sm.Adam(betas=(-0.1, 0.99)), "betas must be a finite number"),
        (lambda: sm.Adam(eps=-1e-8), "eps must be"),
        (lambda: sm.Adam(eps="a"), "eps must be"),
    ],
)
def test_optimizers_refuse_bad_hyper_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


OPTIMIZERS = {
    "SGD": lambda: sm.SGD(0.1),
    "SGD momentum": lambda: sm.SGD(0.1, momentum=0.9),
    "RMSProp": lambda: sm.RMSProp(0.01),
    "Adam": lambda: sm.Adam(0.01),
}


def optimizer_state(optimizer):
    state = {"t": getattr(optimizer, "t", None)}
    for attr in ("velocity", "m", "v"):
        for name, a in getattr(optimizer, attr, {}).items():
            state[attr + name] = a.copy()
    return state


def assert_state_equal(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def grads_of(params, X, labels):
    return sm.loss_and_grads(params, X, labels, XENT)[1]


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_check_every_parameter_and_gradient_before_changing_any(problem, name):
    params, X, labels, _ = problem
    optimizer = OPTIMIZERS[name]()
    optimizer.step(params, grads_of(params, X, labels))  # some state to keep intact
    grads = grads_of(params, X, labels)
    read_only_last = {**params, "b2": params["b2"].copy()}
    read_only_last["b2"].flags.writeable = False
    bad_calls = [
        (read_only_last, grads, r"params\['b2'\] must be a writeable"),
        ({k: p.copy() for k, p in params.items()}, grads, "holds state for other parameter"),
        (params, {k: g for k, g in grads.items() if k != "b2"}, "grads must have the keys"),
        (params, {**grads, "W2": grads["W2"].T}, r"grads\['W2'\] is \(3, 5\)"),
        (params, {**grads, "b2": grads["b2"].astype(np.float32)}, r"grads\['b2'\] .*float32"),
        (params, {**grads, "b2": grads["b2"].tolist()}, r"grads\['b2'\] is list"),
    ]
    if name == "SGD":  # plain SGD keeps no state, so it may step any arrays
        bad_calls.pop(1)
    for bad_params, bad_grads, match in bad_calls:
        before, state = copy_params(bad_params), optimizer_state(optimizer)
        with pytest.raises(ValueError, match=match):
            optimizer.step(bad_params, bad_grads)
        assert_params_equal(bad_params, before)
        assert_state_equal(optimizer_state(optimizer), state)


# ---- the loss functions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sm.mse_loss([[1.0]], np.zeros((1, 1))), "out must be a NumPy array"),
        (lambda: sm.mse_loss(np.zeros((1, 1)), [[0.0]]), "y must be a NumPy array"),
        (lambda: sm.mse_loss(np.zeros((8, 3)), np.zeros((5, 3))), r"y is \(5, 3\)"),
        (lambda: sm.softmax_cross_entropy([[1.0, 0.0]], np.array([0])), "logits must be a NumPy"),
        (lambda: sm.softmax_cross_entropy(np.zeros((1, 2)), [0]), "labels must be a NumPy"),
        (lambda: sm.softmax_cross_entropy(np.zeros((8, 3)), np.zeros(5, int)), "labels has 5"),
        (lambda: sm.softmax_cross_entropy(np.zeros((8, 3)), np.zeros((8, 1), int)), "labels must"),
        (lambda: sm.softmax_cross_entropy(np.zeros((2, 3), int), np.zeros(2, int)), "logits must"),
    ],
)
def test_loss_functions_refuse_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("label", [0, 1])
def test_softmax_cross_entropy_under_errstate_raise_does_not_raise(label):
    with np.errstate(all="raise"):
        loss, d_logits = sm.softmax_cross_entropy(np.array([[0.0, -1000.0]]), np.array([label]))
    assert float(loss) == pytest.approx([0.0, 1000.0][label], abs=1e-12)
    assert d_logits.tolist() == [[[0.0, 0.0], [1.0, -1.0]][label]]


# ---- init_mlp ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, options, match",
    [
        (([3], 1), {}, "sizes needs at least two"),
        (([], 1), {}, "sizes needs at least two"),
        (([3, 0, 2], 1), {}, "sizes must be at least 1"),
        (([3, 2.5], 1), {}, "sizes must be an integer"),
        (([3, True], 1), {}, "sizes must be an integer"),
        (([2, 3], 0), {}, "rng must be a generator"),
        (([2, 3], 1), {"dtype": np.int32}, "dtype must be a floating-point"),
        (([2, 3], 1), {"weight_std": -1.0}, "weight_std"),
        (([2, 3], 1), {"weight_std": float("nan")}, "weight_std"),
        (([2, 3], 1), {"hidden_bias": float("nan")}, "hidden_bias"),
        (([2, 3], 1), {"hidden_bias": "0"}, "hidden_bias"),
    ],
)
def test_init_mlp_refuses_bad_arguments(args, options, match):
    sizes, rng = args
    rng = np.random.default_rng(0) if rng == 1 else rng
    with pytest.raises(ValueError, match=match):
        sm.init_mlp(sizes, rng, **options)


# ---- grad_check, numerical_gradient, predict, split ------------------------------------------


def test_grad_check_refuses_a_network_too_large_quickly_naming_the_cost():
    params = sm.init_mlp([784, 256, 10], np.random.default_rng(0))
    X, labels = np.zeros((2, 784)), np.array([0, 1])
    with pytest.raises(ValueError, match=r"407,060 times .*max_evals = 100,000"):
        sm.grad_check(params, X, labels, XENT)  # counted before a single evaluation


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda p, X: ({**p, "b1": p["b1"].astype(np.float32)}, X, {}), r"params\['b1'\] is"),
        (lambda p, X: (p, with_entry(X, (0, 0), np.nan), {}), "X contains NaN"),
        (lambda p, X: (p, X.tolist(), {}), "X must be a NumPy array"),
        (lambda p, X: (p, X, {"h": 0.0}), "h must be a finite number > 0"),
        (lambda p, X: (p, X, {"h": float("nan")}), "h must be a finite number > 0"),
        (lambda p, X: (p, X, {"rtol": -1.0}), "rtol must be"),
        (lambda p, X: (p, X, {"atol": float("inf")}), "atol must be"),
        (lambda p, X: (p, X[:0], {}), "X has no rows"),
    ],
)
def test_grad_check_refuses_bad_input(problem, change, match):
    params, X, labels, _ = problem
    params, X, options = change(params, X)
    before = copy_params(params)
    with pytest.raises(ValueError, match=match):
        sm.grad_check(params, X, labels[: len(X)], XENT, **options)
    assert_params_equal(params, before)


def test_grad_check_refuses_an_h_too_small_to_move_a_parameter(problem):
    params, X, labels, _ = problem
    with pytest.raises(ValueError, match="h"):
        sm.grad_check(params, X, labels, XENT, h=1e-300)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.ones(2, dtype=int), "x must be a writeable float32 or float64"),
        ([1.0, 2.0], "x must be"),
    ],
)
def test_numerical_gradient_refuses_what_it_cannot_nudge(x, match):
    with pytest.raises(ValueError, match=match):
        sm.numerical_gradient(lambda v: 0.0, x)


def test_predict_refuses_nan_and_lists(problem):
    params, X, _, _ = problem
    with pytest.raises(ValueError, match="X contains NaN"):
        sm.predict(params, with_entry(X, (2, 0), np.nan))
    with pytest.raises(ValueError, match="X must be a NumPy array"):
        sm.predict(params, X.tolist())


@pytest.mark.parametrize(
    "fraction, n_labels, match",
    [
        (-0.1, 8, "test_fraction must be a finite number > 0"),
        (0.0, 8, "test_fraction must be a finite number > 0"),
        (1.0, 8, "test_fraction must be between 0 and 1"),
        (1.5, 8, "test_fraction must be between 0 and 1"),
        (0.25, 9, r"X has 8 rows but labels has shape \(9,\)"),
    ],
)
def test_split_refuses_bad_fractions_and_label_counts(problem, fraction, n_labels, match):
    _, X, _, _ = problem
    with pytest.raises(ValueError, match=match):
        sm.split(X, np.zeros(n_labels, int), np.random.default_rng(0), fraction)


# ---- the rest of the boundary: what the user hands in, and what it returns --------------------


def test_train_refuses_the_optimizer_class_instead_of_an_instance(problem):
    params, X, labels, _ = problem
    before = copy_params(params)
    with pytest.raises(ValueError, match="optimizer must have .step"):
        sm.train(params, X, labels, XENT, sm.Adam, steps=2)
    assert_params_equal(params, before)


def test_targets_of_integers_are_labels_only_for_softmax_cross_entropy(problem):
    params, X, _, _ = problem
    params = sm.init_mlp([2, 4, 1], np.random.default_rng(0))

    def regression(out, y):  # a custom loss on integer targets of shape (N, 1), such as 0/1 or +-1
        return sm.mse_loss(out, y.astype(out.dtype))

    for targets in (np.arange(8).reshape(-1, 1) % 2, 2 * (np.arange(8).reshape(-1, 1) % 2) - 1):
        losses = sm.train(copy_params(params), X, targets, regression, sm.SGD(0.01), steps=3)
        assert len(losses) == 3


def test_numerical_gradient_puts_x_back_when_f_raises_and_divides_by_the_step_taken():
    x = np.array([1.0, 2.0])

    def broken(x):
        if x[0] != 1.0:
            raise RuntimeError("f failed")
        return float(x.sum())

    with pytest.raises(RuntimeError, match="f failed"):
        sm.numerical_gradient(broken, x)
    assert x.tolist() == [1.0, 2.0]
    # In float32, 100 + 1e-5 is 100.0000076: the slope of x is still 1 when divided by that step.
    for x in (np.array([100.0], dtype=np.float32), np.array([1e10])):
        slope = sm.numerical_gradient(lambda x: float(x.astype(np.float64)[0]), x)
        assert slope[0] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize(
    "f, match", [(lambda x: x * 2, "f must be a function of x that returns a number"),
                 (lambda x: None, "returns a number"), ("f", "returns a number")]
)  # fmt: skip
def test_numerical_gradient_refuses_an_f_that_returns_no_number(f, match):
    x = np.array([1.0, 2.0])
    with pytest.raises(ValueError, match=match):
        sm.numerical_gradient(f, x)
    assert x.tolist() == [1.0, 2.0]


def test_grad_check_refuses_max_evals_none(problem):
    params, X, labels, _ = problem
    with pytest.raises(ValueError, match="max_evals must be an integer"):
        sm.grad_check(params, X, labels, XENT, max_evals=None)


def test_grad_check_holds_one_forward_pass_of_memory_whatever_the_number_of_entries():
    import tracemalloc

    rng = np.random.default_rng(0)
    params = sm.init_mlp([4, 100, 1], rng)  # 601 entries, 1,202 loss evaluations
    X, y = rng.standard_normal((400, 4)), rng.standard_normal((400, 1))
    tracemalloc.start()
    try:
        assert sm.grad_check(params, X, y, MSE).ok
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One forward pass holds a few (400, 100) arrays, 320 kB each; keeping every evaluation's
    # ReLU pattern would take 1,202 x 40 kB = 48 MB.
    assert peak < 4e6


def test_grad_check_skips_the_kinks_of_an_activation_of_the_user_s_own():
    def leaky_forward(Z):
        return np.where(Z > 0, Z, 0.1 * Z), Z

    def leaky_backward(d_A, Z):
        return d_A * np.where(Z > 0, 1.0, 0.1)

    leaky_forward.kinks = lambda Z: Z > 0  # which side of its kink at 0 each entry lies on
    rng = np.random.default_rng(3)
    params = sm.init_mlp([1, 4, 1], rng)
    X, y = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    params["b1"][0, 0] = 1e-7 - X[2, 0] * params["W1"][0, 0]  # Z1[2, 0] = 1e-7: on the kink
    report = sm.grad_check(params, X, y, MSE, activation=(leaky_forward, leaky_backward))
    assert report.ok and report["b1"]["kinks"] == 1 and report["W1"]["kinks"] == 1
    del leaky_forward.kinks  # without it, the kink is not known, and that entry fails
    report = sm.grad_check(params, X, y, MSE, activation=(leaky_forward, leaky_backward))
    assert not report["b1"]["ok"]


RAW_ERRORS = {
    "a (1, H) mask for an (N, H) gradient": (
        lambda: sm.relu_backward(np.ones((4, 3)), np.ones((1, 3))),
        r"d_A must have shape \(1, 3\)",
    ),
    "d_Z for a wider layer": (
        lambda: sm.linear_backward(np.ones((2, 5)), (np.ones((2, 3)), np.ones((3, 4)))),
        r"d_Z must have shape \(2, 4\)",
    ),
    "sizes an int": (lambda: sm.init_mlp(5, np.random.default_rng()), "sizes needs at least two"),
    "sizes None": (lambda: sm.init_mlp(None, np.random.default_rng()), "sizes needs at least two"),
    "dtype a word": (lambda: sm.init_mlp([2, 3], np.random.default_rng(), dtype="banana"), "dtype"),
    "dtype float16": (
        lambda: sm.init_mlp([2, 3], np.random.default_rng(), dtype=np.float16),
        "dtype",
    ),
    "params a list": (
        lambda: sm.SGD(0.1).step([np.ones(2)], [np.ones(2)]),
        "params must be a dict",
    ),
    "bias_correction a word": (lambda: sm.Adam(bias_correction="no"), "bias_correction must be"),
    "eps 0 for Adam, which would divide 0 by 0": (lambda: sm.Adam(eps=0.0), "eps must be"),
    "eps 0 for RMSProp": (lambda: sm.RMSProp(eps=0.0), "eps must be"),
    "a float16 step": (
        lambda: sm.SGD(0.1).step({"W": np.ones(2, np.float16)}, {"W": np.ones(2, np.float16)}),
        r"params\['W'\] must be a writeable float32 or float64",
    ),
    "numerical_gradient on float16": (
        lambda: sm.numerical_gradient(lambda x: 0.0, np.ones(2, np.float16)),
        "x must be a writeable float32 or float64",
    ),
    "numerical_gradient on NaN": (
        lambda: sm.numerical_gradient(lambda x: 0.0, np.array([np.nan])),
        "x contains NaN",
    ),
    "an h too large for float32": (
        lambda: sm.numerical_gradient(lambda x: 0.0, np.ones(2, np.float32), h=1e300),
        "too large for x's dtype",
    ),
    "an f that returns a list later": (
        lambda: sm.numerical_gradient(lambda x: 0.0 if x[0] == 1 else [0.0], np.ones(2)),
        "f must be a function of x that returns a number",
    ),
    "sizes a 0-d array": (lambda: sm.init_mlp(np.array(3), np.random.default_rng()), "sizes"),
    "rng the Generator class": (lambda: sm.init_mlp([2, 3], np.random.Generator), "rng must be"),
    "rng NumPy's global state": (lambda: sm.init_mlp([2, 3], np.random), "rng must be"),
    "sizes too large to allocate": (
        lambda: sm.init_mlp([10**20, 1], np.random.default_rng()),
        "sizes",
    ),
    "a weight_std that overflows float32": (
        lambda: sm.init_mlp([3, 2], np.random.default_rng(), dtype=np.float32, weight_std=1e39),
        "overflows float32",
    ),
    "a big-endian dtype": (
        lambda: sm.init_mlp([2, 3], np.random.default_rng(), dtype=">f8"),
        "dtype",
    ),
    "a cache of numbers": (
        lambda: sm.mlp_backward(
            sm.init_mlp([2, 2], np.random.default_rng()), [1, 2], np.ones((1, 2))
        ),
        "cache must be the cache",
    ),
    "a cache of empty tuples": (
        lambda: sm.mlp_backward(sm.init_mlp([2, 2], np.random.default_rng()), [(), ()], np.ones(1)),
        "cache must be the cache",
    ),
    "mlp_backward without params": (
        lambda: sm.mlp_backward(None, [], np.ones(1)),
        "params must be",
    ),
    "logits an np.matrix": (
        lambda: sm.softmax_cross_entropy(np.asmatrix(np.zeros((2, 3))), np.zeros(2, int)),
        "logits must be a NumPy array",
    ),
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
@pytest.mark.parametrize("case", list(RAW_ERRORS))
def test_raw_errors_are_clear_ones(case):
    call, match = RAW_ERRORS[case]
    with pytest.raises(ValueError, match=match):
        call()


def test_mlp_backward_refuses_another_network_s_cache(problem):
    params, X, _, _ = problem
    other = sm.init_mlp([2, 5, 3], np.random.default_rng(9))
    out, cache = sm.mlp_forward(other, X)
    with pytest.raises(ValueError, match="cache comes from mlp_forward on other params"):
        sm.mlp_backward(params, cache, np.ones_like(out))
    _, cache = sm.mlp_forward(sm.init_mlp([2, 3], np.random.default_rng(0)), X)
    with pytest.raises(ValueError, match="cache must be the cache"):
        sm.mlp_backward(params, cache, np.ones_like(out))


def test_a_nan_gradient_is_refused_before_it_reaches_the_weights(problem):
    params, X, labels, _ = problem
    grads = sm.loss_and_grads(params, X, labels, XENT)[1]
    grads["W2"][0, 0] = np.nan
    for optimizer in (sm.SGD(0.1), sm.Adam(0.01)):
        before = copy_params(params)
        with pytest.raises(
            ValueError, match=r"grads\['W2'\] \(from the backward pass\) contains NaN"
        ):
            optimizer.step(params, grads)
        assert_params_equal(params, before)


def test_a_hyperparameter_set_later_is_checked_when_set():
    adam = sm.Adam(lr=0.01)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        adam.lr = "0.01"
    assert adam.lr == 0.01


def test_loss_and_grads_and_predict_refuse_nan_as_train_does(problem):
    params, X, labels, _ = problem
    with pytest.raises(ValueError, match="X contains NaN"):
        sm.loss_and_grads(params, with_entry(X, (0, 0), np.nan), labels, XENT)
    with pytest.raises(ValueError, match=r"params\['b2'\] contains NaN"):
        sm.predict({**params, "b2": with_entry(params["b2"], (0, 0), np.nan)}, X)


def test_on_step_keeps_the_losses_when_training_stops_on_an_error(problem):
    params, X, labels, _ = problem
    kept = []

    def on_step(step, loss, params):
        kept.append(loss)
        if step == 2:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        sm.train(params, X, labels, XENT, sm.SGD(0.1), steps=10, on_step=on_step)
    assert len(kept) == 3


def test_a_broken_matplotlib_skips_the_figures_with_one_message(capsys):
    class Unwritable:
        def savefig(self, *args, **kwargs):
            raise ValueError("Key backend: 'nonsense' is not a valid value for backend")

    sm._say_once.cache_clear()
    try:
        assert sm.save_figure(Unwritable(), "x.png", alt="") is None
        assert sm.save_figure(Unwritable(), "y.png", alt="") is None
    finally:
        sm._say_once.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "figures are skipped" in out[0]


def test_adam_s_betas_and_bias_correction_are_checked_when_set_later():
    adam = sm.Adam()
    for attribute, value, match in [
        ("betas", (1.0, 0.999), r"betas must be in \[0, 1\)"),
        ("betas", "ab", "betas must be two numbers"),
        ("bias_correction", "no", "bias_correction must be True or False"),
    ]:
        before = getattr(adam, attribute)
        with pytest.raises(ValueError, match=match):
            setattr(adam, attribute, value)
        assert getattr(adam, attribute) == before


def test_on_step_runs_with_the_checks_on_inside_train(problem):
    params, X, labels, _ = problem
    X32 = X.astype(np.float32)

    def on_step(step, loss, params):
        sm.predict(params, X32)  # float32 X for a float64 network: predict refuses it

    with pytest.raises(ValueError, match="X has dtype float32 but the parameters are float64"):
        sm.train(params, X, labels, XENT, sm.SGD(0.1), steps=2, on_step=on_step)


def test_a_sigint_handler_installed_during_training_is_kept(problem):
    import signal

    params, X, labels, _ = problem
    mine = lambda signum, frame: None  # noqa: E731
    try:
        sm.train(params, X, labels, XENT, sm.SGD(0.1), steps=2,
                 on_step=lambda step, loss, p: signal.signal(signal.SIGINT, mine))  # fmt: skip
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


SECOND_ROUND = {
    "loss_fn of one argument": (
        lambda p, X, l: sm.train(p, X, l, sm.softmax, sm.SGD(0.1), steps=2),
        "loss_fn must be a function",
    ),
    "activation in the wrong order": (
        lambda p, X, l: sm.train(p, X, l, XENT, sm.SGD(0.1), 2, activation=sm.RELU[::-1]),
        "activation must be a",
    ),
    "an optimizer whose step takes no arguments": (
        lambda p, X, l: sm.train(p, X, l, XENT, type("Opt", (), {"step": lambda self: 0})(), 2),
        "optimizer must have .step",
    ),
    "an eps that float32 turns into 0": (
        lambda p, X, l: sm.Adam(eps=1e-46).step(
            {k: v.astype(np.float32) for k, v in p.items()},
            {k: np.zeros_like(v, dtype=np.float32) for k, v in p.items()},
        ),
        r"eps = 1e-46 is 0.0 in float32",
    ),
    "a masked gradient": (
        lambda p, X, l: sm.SGD(0.1).step(p, {k: np.ma.masked_array(v) for k, v in p.items()}),
        r"grads\['W1'\] is",
    ),
    "a layer of no units": (
        lambda p, X, l: sm.predict({**p, "W2": np.ones((5, 0)), "b2": np.ones((1, 0))}, X),
        r"params\['W2'\] must be 2-D",
    ),
}


@pytest.mark.parametrize("case", list(SECOND_ROUND))
def test_what_is_handed_in_is_checked_before_anything_changes(problem, case):
    params, X, labels, _ = problem
    call, match = SECOND_ROUND[case]
    before = copy_params(params)
    with pytest.raises(ValueError, match=match):
        call(params, X, labels)
    assert_params_equal(params, before)


def test_a_loss_that_stops_being_a_number_is_named_at_its_step(problem):
    params, X, labels, _ = problem
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss, d_out = XENT(out, y)
        return (None if len(calls) > 3 else loss), d_out

    with pytest.raises(ValueError, match=r"loss_fn returned None as the loss at step 2"):
        sm.train(params, X, labels, loss_fn, sm.SGD(0.1), steps=5)


def test_on_step_may_change_params_in_place_but_not_replace_them(problem):
    params, X, labels, _ = problem

    def clip(step, loss, params):
        np.clip(params["W1"], -1, 1, out=params["W1"])  # in place: fine

    assert len(sm.train(params, X, labels, XENT, sm.Adam(0.01), 3, on_step=clip)) == 3

    def replace(step, loss, params):
        params["W1"] = params["W1"].astype(np.float32)

    with pytest.raises(ValueError, match="on_step must change params' arrays in place"):
        sm.train(params, X, labels, XENT, sm.Adam(0.01), 3, on_step=replace)


def test_an_optimizer_step_is_whole_even_where_numpy_raises_on_underflow():
    params = {"W": np.ones(3, np.float32), "b": np.ones(1, np.float32)}
    grads = {"W": np.full(3, 1e-25, np.float32), "b": np.full(1, 1e-25, np.float32)}
    adam = sm.Adam(0.1)
    with np.errstate(all="raise"):
        adam.step(params, grads)  # g**2 underflows to 0: harmless, and not an error
    assert adam.t == 1 and all((adam.m[k] != 0).all() for k in params)  # every tensor stepped


def test_the_probes_fit_the_network_and_take_what_a_loss_may_return(problem):
    params, X, labels, _ = problem
    alpha = np.full((1, 5), 0.1)  # a per-unit slope for the 5 hidden units

    def leaky_forward(Z):
        return np.where(Z > 0, Z, alpha * Z), Z

    def leaky_backward(d_A, Z):
        return d_A * np.where(Z > 0, 1.0, alpha)

    losses = sm.train(
        params, X, labels, XENT, sm.SGD(0.1), 2, activation=(leaky_forward, leaky_backward)
    )
    assert len(losses) == 2
    weights = np.linspace(0.5, 1.5, len(X)).reshape(-1, 1)  # one weight per row: whole batches

    def weighted(out, y):
        return sm.mse_loss(out * weights, y * weights)

    targets = np.zeros((len(X), 3))
    assert len(sm.train(params, X, targets, weighted, sm.SGD(0.1), 2)) == 2
    x = np.array([1.0, 2.0])
    assert sm.numerical_gradient(lambda x: np.sum(x**2, keepdims=False) * np.ones(()), x).shape == (
        2,
    )


def test_init_mlp_refuses_an_overflowing_start_without_drawing_from_rng():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match="overflows float32"):
        sm.init_mlp([3, 2], rng, dtype=np.float32, weight_std=1e39)
    assert rng.bit_generator.state == state
