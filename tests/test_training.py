"""The loop: it is the article's loop, it learns, its mini-batches are right, it is deterministic,
the start is He's, and it stops cleanly: on Ctrl-C, on an error, at the step where the loss stops
being a number. (float32 end to end: the optimizers' state in test_optimizers.py, the forward and
backward passes in test_torch_parity.py.)"""

import concurrent.futures
import contextlib
import os
import signal
import warnings

import numpy as np
import pytest
from conftest import assert_params_equal, copy_params

import scratch_mlp as sm

XENT, MSE = sm.softmax_cross_entropy, sm.mse_loss


@pytest.fixture
def article():
    rng = np.random.RandomState(0)  # the generator behind the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    return sm.init_mlp([1, 64, 1], rng), X, y


def test_train_with_sgd_is_the_article_loop_bit_for_bit_and_logs_as_it_does(article, capsys):
    params, X, y = article
    by_article, rng = copy_params(params), np.random.default_rng(0)
    expected = sm.article_loop(by_article, X, y, lr=0.02, steps=201, log_every=50)
    article_log, state = capsys.readouterr().out, rng.bit_generator.state
    losses = sm.train(params, X, y, MSE, sm.SGD(lr=0.02), 201, len(X), rng, log_every=50)
    assert capsys.readouterr().out == article_log and article_log.count("\n") == 5
    assert losses == [float(v) for v in expected]
    assert_params_equal(params, by_article)
    assert rng.bit_generator.state == state  # a batch of all the rows is never shuffled


def test_the_spiral_classifier_learns_from_mini_batches_the_same_way_from_the_same_seed():
    def run():
        rng = np.random.default_rng(0)
        X_train, y_train, X_test, y_test = sm.split(*sm.make_spirals(rng), rng)
        params = sm.init_mlp([2, 64, 64, 3], rng)
        losses = sm.train(params, X_train, y_train, XENT, sm.Adam(0.01), 200, 64, rng)
        return params, losses, np.mean(sm.predict(params, X_test) == y_test), X_train, X_test

    (params, losses, accuracy, X_train, X_test), again = run(), run()
    assert (len(X_train), len(X_test)) == (450, 150)
    assert not set(map(tuple, X_train)) & set(map(tuple, X_test))
    assert losses[-1] < losses[0] / 50 and accuracy >= 0.95  # on the held-out points
    assert again[1] == losses  # bit for bit
    assert_params_equal(again[0], params)


@pytest.mark.parametrize("N", [8, 10], ids=["N divisible by the batch", "N not divisible"])
def test_mini_batches_walk_a_new_permutation_every_epoch_with_rows_and_targets_together(N):
    # Row i of X is (i, -i) and its target is i: a batch says which rows it took.
    X = np.column_stack([np.arange(N), -np.arange(N)]).astype(np.float64)
    y, seen = np.arange(N, dtype=np.float64).reshape(-1, 1), []

    def recording_loss(out, y_batch):
        seen.append(y_batch[:, 0].tolist())
        return MSE(out, y_batch)

    params = sm.init_mlp([2, 3, 1], np.random.default_rng(1))
    sm.train(params, X, y, recording_loss, sm.SGD(1e-4), 6, 4, np.random.default_rng(0))
    # Each epoch is the next permutation drawn from rng, cut into whole batches of 4; the rows a
    # last batch could not fill wait for the next permutation.
    reference = np.random.default_rng(0)
    orders = [reference.permutation(N).tolist() for _ in range(3)]
    assert seen[1:] == [rows for order in orders for rows in (order[:4], order[4:8])]
    # seen[0]: train's check of the loss function, before any step


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


def test_train_runs_in_a_thread_other_than_the_main_one(article):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # where signals cannot be handled
        assert len(pool.submit(sm.train, *article, MSE, sm.SGD(0.01), 3).result()) == 3


# ---- stopping -----------------------------------------------------------------------------------


def changed_mse(change, step):
    """mse_loss, its ``(loss, d_out)`` passed through ``change`` from ``step`` on (train's first
    call, before any step, checks the loss function: step -1)."""
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        return change(*MSE(out, y)) if len(calls) - 2 >= step else MSE(out, y)

    return loss_fn


def ctrl_c(times):
    sent = []

    def change(loss, d_out):  # in the first step it is called, only
        for _ in range(0 if sent else times):
            os.kill(os.getpid(), signal.SIGINT)
        sent.append(times)
        return loss, d_out

    return change


def raising_at_step_3(step, loss, params):
    if step == 3:
        raise RuntimeError("stop here")


def user_s(signum, frame):
    user_s.calls.append(signum)


STOPS_ON_SIGNALS = {
    # name: (SIGINT's handler, Ctrl-Cs in step 3, on_step, what train raises, the steps done)
    "Ctrl-C": (signal.default_int_handler, 1, None, KeyboardInterrupt, 4),  # step 3 is finished
    "a second Ctrl-C": (signal.default_int_handler, 2, None, KeyboardInterrupt, 3),  # at once
    "on_step raising": (signal.default_int_handler, 0, raising_at_step_3, RuntimeError, 4),
    "Ctrl-C ignored": (signal.SIG_IGN, 1, None, None, 6),
    "a handler of the user's": (user_s, 1, None, None, 6),
    "a handler of the user's, set in on_step": (
        signal.default_int_handler, 1, lambda *_: signal.signal(signal.SIGINT, user_s), None, 6),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STOPS_ON_SIGNALS))
def test_training_stops_after_whole_steps_keeping_their_losses_and_a_handler_of_the_user_s(
    article, case
):
    handler, ctrl_cs, on_step, error, steps_done = STOPS_ON_SIGNALS[case]
    params, X, y = article
    whole, recorded, user_s.calls = copy_params(params), [], []

    def record(step, loss, p):
        recorded.append(loss)
        return on_step and on_step(step, loss, p)

    signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(error) if error else contextlib.nullcontext():
            loss_fn = changed_mse(ctrl_c(ctrl_cs), step=3)
            sm.train(params, X, y, loss_fn, sm.SGD(0.01), 6, on_step=record)
        after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert after is (user_s if "user's" in case else handler)
    assert user_s.calls == ([signal.SIGINT] if "user's" in case else [])
    assert recorded == sm.train(whole, X, y, MSE, sm.SGD(0.01), steps=steps_done)
    assert_params_equal(params, whole)  # every tensor updated by whole steps only


def replace(step, loss, params):
    params["W1"] = params["W1"].astype(np.float32)


def predict_float32(step, loss, params):
    sm.predict(params, np.zeros((2, 1), np.float32))  # refused for a float64 network


@pytest.mark.parametrize(
    "on_step, error, match",
    [
        (lambda step, loss, p: np.clip(p["W1"], -0.1, 0.1, out=p["W1"]), None, None),
        (replace, ValueError, "on_step must change params' arrays in place"),
        (lambda step, loss, p: p.update(W3=p["W2"]), ValueError, "not add, remove or replace"),
        (predict_float32, ValueError, "X has dtype float32"),  # the checks are on in on_step
        (lambda *_: np.float64(1e308) * 10, FloatingPointError, "overflow"),  # np.errstate's
    ],
    ids=["changing params in place", "replacing an array", "adding one", "predict", "overflow"],
)
def test_on_step_runs_as_the_caller_s_code_and_may_change_params_only_in_place(
    article, on_step, error, match
):
    params, X, y = article
    refused = pytest.raises(error, match=match) if error else contextlib.nullcontext()
    with np.errstate(over="raise"), refused:
        sm.train(params, X, y, MSE, sm.Adam(0.01), 3, on_step=on_step)
    assert error or np.abs(params["W1"]).max() <= 0.1


STOPS = {
    # name: (weight scale, loss_fn, lr, the error and what it says)
    "diverging": (1, MSE, 1.0, FloatingPointError,
                  r"at step [1-9]\d*: .*smaller learning rate \(optimizer lr = 1.0\)"),
    "overflowing at the start": (1e200, MSE, 0.01, FloatingPointError, "at step 0, before any"),
    "a loss that stops being a number": (1, changed_mse(lambda loss, d: (None, d), 2), 0.01,
                                         ValueError, "loss_fn returned None as the loss at step 2"),
    "a NaN in d_out, the loss finite": (1, changed_mse(lambda loss, d: (loss, d / (d != d[0])), 2),
                                        0.01, FloatingPointError, "NaN .*d_out at step 2 although"),
    "a loss too large for a float": (1, changed_mse(lambda loss, d: (10**400, d), 2), 0.01,
                                     FloatingPointError, "loss became .* at step 2"),
    "a d_out that fits the probe's two rows only": (
        1, changed_mse(lambda loss, d: (loss, d[:2]), -1), 0.01, ValueError,
        r"d_out of shape \(2, 1\) for out of shape \(200, 1\) at step 0"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(STOPS))
def test_training_stops_at_the_step_where_the_loss_goes_wrong_and_says_why(article, case):
    scale, loss_fn, lr, error, match = STOPS[case]
    params, X, y = article
    params = {name: p * scale for name, p in params.items()}
    before = copy_params(params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow warnings on the way
        with pytest.raises(error, match=match):
            sm.train(params, X, y, loss_fn, sm.SGD(lr), steps=10_000)
    if "step 0" in match:
        assert_params_equal(params, before)
