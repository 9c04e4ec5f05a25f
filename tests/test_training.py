"""The loop: it is the article's loop, it learns, its mini-batches are right, it is deterministic,
float32 stays float32, the start is He's, and it stops cleanly: on Ctrl-C, on an error, at the
step where the loss stops being a number."""

import contextlib
import os
import signal
import warnings

import numpy as np
import pytest
from conftest import assert_params_equal, copy_params

import scratch_mlp as sm


@pytest.fixture(scope="module")
def article_problem():
    rng = np.random.RandomState(0)  # the generator behind the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    return X, y, sm.init_mlp([1, 64, 1], rng)


def test_train_with_sgd_is_the_article_loop_bit_for_bit_and_logs_as_it_does(
    article_problem, capsys
):
    X, y, params = article_problem
    by_article, by_train = copy_params(params), copy_params(params)
    expected = sm.article_loop(by_article, X, y, lr=0.02, steps=201, log_every=50)
    article_log = capsys.readouterr().out
    losses = sm.train(by_train, X, y, sm.mse_loss, sm.SGD(lr=0.02), steps=201, log_every=50)
    assert capsys.readouterr().out == article_log and article_log.count("\n") == 5
    assert losses == [float(v) for v in expected]
    assert_params_equal(by_train, by_article)


def test_adam_reaches_the_noise_floor_in_500_steps_where_sgd_is_ten_times_above_it(
    article_problem,
):
    X, y, params = article_problem
    adam = sm.train(copy_params(params), X, y, sm.mse_loss, sm.Adam(lr=0.01), steps=500)
    sgd = sm.train(copy_params(params), X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=500)
    assert adam[-1] < 0.011  # the noise's variance is 0.01
    assert sgd[-1] > 10 * adam[-1]


def test_the_spiral_classifier_learns_from_mini_batches_to_95_percent_on_held_out_points():
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng)
    X_train, y_train, X_test, y_test = sm.split(X, labels, rng)
    assert (len(X_train), len(X_test)) == (450, 150)
    assert not set(map(tuple, X_train)) & set(map(tuple, X_test))
    params = sm.init_mlp([2, 64, 64, 3], rng)
    losses = sm.train(
        params, X_train, y_train, sm.softmax_cross_entropy, sm.Adam(0.01), 200, 64, rng
    )
    assert losses[-1] < losses[0] / 50
    assert np.mean(sm.predict(params, X_test) == y_test) >= 0.95


@pytest.mark.parametrize("N", [8, 10], ids=["N divisible by the batch", "N not divisible"])
def test_mini_batches_walk_a_new_permutation_every_epoch_with_rows_and_targets_together(N):
    # Row i of X is (i, -i) and its target is i: a batch says which rows it took.
    X = np.column_stack([np.arange(N), -np.arange(N)]).astype(np.float64)
    y = np.arange(N, dtype=np.float64).reshape(-1, 1)
    seen = []

    def recording_loss(out, y_batch):
        seen.append(y_batch[:, 0].tolist())
        return sm.mse_loss(out, y_batch)

    params = sm.init_mlp([2, 3, 1], np.random.default_rng(1))
    sm.train(params, X, y, recording_loss, sm.SGD(1e-4), 6, 4, np.random.default_rng(0))
    batches = seen[1:]  # the first call is train's check of the loss function, before any step
    # Each epoch is the next permutation drawn from rng, cut into whole batches of 4; the rows a
    # last batch could not fill wait for the next permutation.
    reference = np.random.default_rng(0)
    expected = []
    for _ in range(3):
        order = reference.permutation(N).tolist()
        expected += [order[0:4], order[4:8]]
    assert batches == expected


def test_the_same_seed_gives_the_same_numbers_bit_for_bit():
    def run():
        rng = np.random.default_rng(11)
        X, labels = sm.make_spirals(rng, n_per_class=30)
        params = sm.init_mlp([2, 16, 3], rng)
        xent = sm.softmax_cross_entropy
        return params, sm.train(params, X, labels, xent, sm.Adam(0.01), 50, 16, rng)

    (p1, l1), (p2, l2) = run(), run()
    assert l1 == l2
    assert_params_equal(p1, p2)


def test_float32_stays_float32_in_outputs_gradients_losses_and_training():
    rng = np.random.default_rng(5)
    params = sm.init_mlp([3, 8, 6, 4], rng, dtype=np.float32)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    labels, y = rng.integers(0, 4, size=10), rng.standard_normal((10, 4)).astype(np.float32)
    assert sm.mlp_forward(params, X)[0].dtype == np.float32
    for loss_fn, target in [(sm.mse_loss, y), (sm.softmax_cross_entropy, labels)]:
        loss, grads = sm.loss_and_grads(params, X, target, loss_fn)
        assert {loss.dtype, *(g.dtype for g in grads.values())} == {np.dtype(np.float32)}
    losses = sm.train(params, X, labels, sm.softmax_cross_entropy, sm.Adam(1e-2), 20, 5, rng)
    assert losses[-1] < losses[0]
    assert {p.dtype for p in params.values()} == {np.dtype(np.float32)}


def test_he_initialisation_keeps_the_pre_activations_mean_square_through_depth():
    # He et al. (2015): with weights of variance 2 / fan_in after ReLUs, each layer's Z has the
    # mean square of the one before; the first layer's, from unit-variance inputs, is 2. Finite
    # widths make each ratio wander, by up to 1.4 over 30 seeds.
    sizes = [64, 512, 128, 384, 96, 10]  # fan_in far from fan_out
    rng = np.random.default_rng(0)
    params = sm.init_mlp(sizes, rng)
    _, cache = sm.mlp_forward(params, rng.standard_normal((1000, 64)))
    mean_squares = [2.0] + [np.mean(Z**2) for _, _, Z in cache[:-1]]  # each hidden layer's Z
    ratios = np.array(mean_squares[1:]) / mean_squares[:-1]
    assert all(2 / 3 < ratios) and all(ratios < 3 / 2), ratios
    assert not any(p.any() for name, p in params.items() if name.startswith("b"))
    # float32 starts from the same numbers, rounded; the options set what they say they set.
    same = sm.init_mlp(sizes[:3], np.random.default_rng(0), dtype=np.float32)
    for name, p in same.items():
        assert p.dtype == np.float32 and np.array_equal(p, params[name].astype(np.float32))
    bad = sm.init_mlp([400, 300, 3], rng, weight_std=0.1, hidden_bias=-2.0)
    assert bad["W1"].std() == pytest.approx(0.1, rel=0.02)
    assert (bad["b1"] == -2.0).all() and (bad["b2"] == 0.0).all()  # never the output's bias


# ---- stopping ------------------------------------------------------------------------------------


class InterruptedSGD(sm.SGD):
    """SGD whose step ``at`` receives Ctrl-C after updating half of the tensors."""

    def __init__(self, lr, at):
        super().__init__(lr)
        self.at, self.calls = at, 0

    def step(self, params, grads):
        for i, (name, p) in enumerate(params.items()):
            p -= self.lr * grads[name]
            if self.calls == self.at and i == len(params) // 2 - 1:
                os.kill(os.getpid(), signal.SIGINT)
        self.calls += 1


def failing_at(step):
    def on_step(step_done, loss, params):
        if step_done == step:
            raise RuntimeError("stop here")

    return on_step


@pytest.mark.parametrize(
    "make_optimizer, on_step, error",
    [
        (lambda: InterruptedSGD(0.01, at=3), None, KeyboardInterrupt),
        (lambda: sm.SGD(0.01), failing_at(3), RuntimeError),
    ],
    ids=["Ctrl-C halfway through the update of step 3", "on_step raising at step 3"],
)
def test_training_stopped_at_step_3_has_four_whole_steps_and_their_losses(
    article_problem, make_optimizer, on_step, error
):
    X, y, params = article_problem
    handler = signal.getsignal(signal.SIGINT)
    stopped, recorded = copy_params(params), []

    def record(step, loss, p):
        recorded.append(loss)
        if on_step:
            on_step(step, loss, p)

    with pytest.raises(error):
        sm.train(stopped, X, y, sm.mse_loss, make_optimizer(), steps=10, on_step=record)
    assert signal.getsignal(signal.SIGINT) is handler
    whole = copy_params(params)
    assert recorded == sm.train(whole, X, y, sm.mse_loss, sm.SGD(0.01), steps=4)
    assert_params_equal(stopped, whole)  # every tensor got step 3's update, none step 4's


class SignalsInStep(sm.SGD):
    """SGD whose step 1 sends Ctrl-C ``times`` times, then records that it finished."""

    def __init__(self, lr, times):
        super().__init__(lr)
        self.times, self.calls, self.finished = times, 0, []

    def step(self, params, grads):
        super().step(params, grads)
        if self.calls == 1:
            for _ in range(self.times):
                os.kill(os.getpid(), signal.SIGINT)
        self.finished.append(self.calls)
        self.calls += 1


@pytest.mark.parametrize("handler", ["ignored", "the user's", "the user's, set in on_step"])
def test_train_leaves_a_sigint_handler_that_is_not_python_s_own_in_charge(article_problem, handler):
    X, y, params = article_problem
    calls = []
    mine = signal.SIG_IGN if handler == "ignored" else (lambda signum, frame: calls.append(signum))
    on_step = None
    if handler.endswith("on_step"):
        on_step = lambda step, loss, p: signal.signal(signal.SIGINT, mine)  # noqa: E731
    else:
        signal.signal(signal.SIGINT, mine)
    try:
        losses = sm.train(
            copy_params(params), X, y, sm.mse_loss, SignalsInStep(0.01, 1), 4, on_step=on_step
        )
        assert len(losses) == 4  # not interrupted
        assert signal.getsignal(signal.SIGINT) is mine
        assert calls == ([] if handler == "ignored" else [signal.SIGINT])
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def test_a_second_ctrl_c_interrupts_at_once(article_problem):
    X, y, params = article_problem
    optimizer = SignalsInStep(0.01, times=2)
    with pytest.raises(KeyboardInterrupt):
        sm.train(copy_params(params), X, y, sm.mse_loss, optimizer, steps=4)
    assert optimizer.finished == [0]  # step 1 did not get to its end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.fixture
def small_problem():
    rng = np.random.default_rng(0)
    params = sm.init_mlp([2, 5, 3], rng)
    return params, rng.standard_normal((8, 2)), rng.integers(0, 3, size=8)


def clip(step, loss, params):
    np.clip(params["W1"], -1, 1, out=params["W1"])


def replace(step, loss, params):
    params["W1"] = params["W1"].astype(np.float32)


def overflow(step, loss, params):
    return np.float64(1e308) * 10


def predict_float32(step, loss, params):
    sm.predict(params, np.zeros((2, 2), np.float32))  # refused for a float64 network


@pytest.mark.parametrize(
    "on_step, error, match",
    [
        (clip, None, None),
        (replace, ValueError, "on_step must change params' arrays in place"),
        (predict_float32, ValueError, "X has dtype float32"),  # the checks are on in on_step
        (overflow, FloatingPointError, "overflow"),  # under the caller's np.errstate
    ],
    ids=["changing params in place", "replacing an array", "predict", "an overflow"],
)
def test_on_step_runs_as_the_caller_s_code_and_may_change_params_only_in_place(
    small_problem, on_step, error, match
):
    params, X, labels = small_problem
    refused = pytest.raises(error, match=match) if error else contextlib.nullcontext()
    with np.errstate(over="raise"), refused:
        sm.train(params, X, labels, sm.softmax_cross_entropy, sm.Adam(0.01), 3, on_step=on_step)
    assert error or np.abs(params["W1"]).max() <= 1


def later(wrong, after=3):
    """mse_loss, with its result changed by ``wrong(loss, d_out)`` from call ``after`` on (the
    first call is train's probe, before any step)."""
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        loss, d_out = sm.mse_loss(out, y)
        return wrong(loss, d_out) if len(calls) > after else (loss, d_out)

    return loss_fn


STOPS = {
    # name: (weight scale, loss_fn, lr, the error and what it says)
    "diverging": (1, lambda: sm.mse_loss, 1.0, FloatingPointError,
                  r"at step [1-9]\d*: .*smaller learning rate \(optimizer lr = 1.0\)"),
    "overflowing at the start": (1e200, lambda: sm.mse_loss, 0.01, FloatingPointError,
                                 "at step 0, before any update"),
    "a loss that stops being a number": (1, lambda: later(lambda loss, d: (None, d)), 0.01,
                                         ValueError, "loss_fn returned None as the loss at step 2"),
    "a NaN d_out with a finite loss": (1, lambda: later(lambda loss, d: (loss, d * np.nan)), 0.01,
                                       FloatingPointError, "NaN .*d_out at step 2 although"),
    "a d_out that fits the probe's two rows only": (
        1, lambda: later(lambda loss, d: (loss, d[:2]), after=0), 0.01, ValueError,
        r"d_out of shape \(2, 1\) for out of shape \(200, 1\) at step 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STOPS))
def test_training_stops_at_the_step_where_the_loss_goes_wrong_and_says_why(article_problem, case):
    scale, make_loss_fn, lr, error, match = STOPS[case]
    X, y, params = article_problem
    params = {name: p * scale for name, p in params.items()}
    before = copy_params(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings on the way
        with pytest.raises(error, match=match):
            sm.train(params, X, y, make_loss_fn(), sm.SGD(lr), steps=10_000)
    if "step 0" in match:
        assert_params_equal(params, before)
