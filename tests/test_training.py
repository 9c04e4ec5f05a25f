"""The loop: it is the article's loop, it learns, its mini-batches are right, it is deterministic,
float32 stays float32, and Ctrl-C leaves a whole step."""

import os
import signal

import numpy as np
import pytest
from conftest import ARTICLE_LINES, assert_params_equal, copy_params

import scratch_mlp as sm


@pytest.fixture(scope="module")
def article_problem():
    rng = np.random.RandomState(0)  # the generator behind the article's np.random.seed(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    return X, y, params


def test_train_with_sgd_is_the_article_loop_bit_for_bit_and_prints_its_lines(
    article_problem, capsys
):
    X, y, params = article_problem
    by_article, by_train = copy_params(params), copy_params(params)
    expected = sm.article_loop(by_article, X, y, log_every=0)
    assert capsys.readouterr().out == ""
    losses = sm.train(by_train, X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=2001, log_every=500)
    assert capsys.readouterr().out.splitlines() == ARTICLE_LINES
    assert losses == [float(v) for v in expected]
    assert_params_equal(by_train, by_article)
    assert losses[-1] < losses[0] / 30
    # At another learning rate too.
    by_article, by_train = copy_params(params), copy_params(params)
    expected = sm.article_loop(by_article, X, y, lr=0.003, steps=20, log_every=0)
    assert sm.train(by_train, X, y, sm.mse_loss, sm.SGD(lr=0.003), 20) == [
        float(v) for v in expected
    ]
    assert_params_equal(by_train, by_article)


def test_adam_reaches_the_noise_floor_where_sgd_does_not(article_problem):
    X, y, params = article_problem
    losses = sm.train(copy_params(params), X, y, sm.mse_loss, sm.Adam(lr=0.01), steps=2001)
    assert losses[-1] < 0.011  # the noise's variance is 0.01
    sgd = sm.train(copy_params(params), X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=2001)
    assert losses[-1] < sgd[-1] / 3


def test_the_spiral_classifier_reaches_95_percent_on_held_out_points():
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng)
    X_train, y_train, X_test, y_test = sm.split(X, labels, rng)
    assert (len(X_train), len(X_test)) == (450, 150)
    assert not set(map(tuple, X_train)) & set(map(tuple, X_test))
    params = sm.init_mlp([2, 64, 64, 3], rng)
    losses = sm.train(params, X_train, y_train, sm.softmax_cross_entropy, sm.Adam(0.01), 300)
    assert losses[-1] < losses[0] / 50
    assert np.mean(sm.predict(params, X_test) == y_test) >= 0.95


def recorded_batches(monkeypatch, N, batch_size, steps, seed):
    """The (X, y) batches ``train`` takes. Row i of X is (i, -i) and its target is i."""
    X = np.column_stack([np.arange(N), -np.arange(N)]).astype(np.float64)
    y = np.arange(N, dtype=np.float64).reshape(-1, 1)
    inputs, targets = [], []
    real_forward = sm.mlp_forward

    def recording_forward(params, X_batch, activation):
        inputs.append(X_batch.copy())
        return real_forward(params, X_batch, activation)

    def recording_loss(out, y_batch):
        targets.append(y_batch.copy())
        return sm.mse_loss(out, y_batch)

    monkeypatch.setattr(sm, "mlp_forward", recording_forward)
    params = sm.init_mlp([2, 3, 1], np.random.default_rng(1))
    rng = np.random.default_rng(seed)
    sm.train(params, X, y, recording_loss, sm.SGD(1e-4), steps, batch_size=batch_size, rng=rng)
    # The first pass is train's check of the loss function, on one row, before any step.
    return list(zip(inputs, targets, strict=True))[1:]


@pytest.mark.parametrize("N", [8, 10], ids=["N divisible by the batch", "N not divisible"])
def test_mini_batches_walk_a_new_permutation_every_epoch_with_rows_and_targets_together(
    monkeypatch, N
):
    seen = recorded_batches(monkeypatch, N, batch_size=4, steps=6, seed=0)
    # Each epoch is the next permutation drawn from rng, cut into whole batches of 4; the rows a
    # last batch could not fill wait for the next permutation.
    reference = np.random.default_rng(0)
    expected = []
    for _ in range(3):
        order = reference.permutation(N)
        expected += [order[0:4], order[4:8]]
    for (X_batch, y_batch), rows in zip(seen, expected, strict=True):
        assert X_batch[:, 0].tolist() == rows.tolist()
        assert y_batch[:, 0].tolist() == rows.tolist()  # each target stays with its row


def test_same_seed_same_numbers_bit_for_bit():
    def run():
        rng = np.random.default_rng(11)
        X, labels = sm.make_spirals(rng, n_per_class=30)
        params = sm.init_mlp([2, 16, 3], rng)
        losses = sm.train(
            params, X, labels, sm.softmax_cross_entropy, sm.Adam(0.01), 50, batch_size=16, rng=rng
        )
        return params, losses

    (p1, l1), (p2, l2) = run(), run()
    assert l1 == l2
    assert_params_equal(p1, p2)


def test_float32_stays_float32_in_outputs_gradients_losses_and_training():
    rng = np.random.default_rng(5)
    params = sm.init_mlp([3, 8, 6, 4], rng, dtype=np.float32)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    labels = rng.integers(0, 4, size=10)
    y = rng.standard_normal((10, 4)).astype(np.float32)
    assert {p.dtype for p in params.values()} == {np.dtype(np.float32)}
    out, _ = sm.mlp_forward(params, X)
    assert out.dtype == np.float32
    for loss_fn, target in [(sm.mse_loss, y), (sm.softmax_cross_entropy, labels)]:
        loss, grads = sm.loss_and_grads(params, X, target, loss_fn)
        assert loss.dtype == np.float32
        assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    losses = sm.train(
        params, X, labels, sm.softmax_cross_entropy, sm.Adam(1e-2), steps=20, batch_size=5, rng=rng
    )
    assert losses[-1] < losses[0]
    assert {p.dtype for p in params.values()} == {np.dtype(np.float32)}


def test_init_mlp_is_he_initialisation_and_its_options_touch_what_they_say():
    p64 = sm.init_mlp([400, 300, 10], np.random.default_rng(0))
    assert p64["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert p64["W2"].std() == pytest.approx(np.sqrt(2 / 300), rel=0.1)
    assert not p64["b1"].any() and not p64["b2"].any()
    # float32 starts from the same numbers as float64, rounded.
    p32 = sm.init_mlp([400, 300, 10], np.random.default_rng(0), dtype=np.float32)
    for name in p64:
        assert p32[name].dtype == np.float32
        assert np.array_equal(p32[name], p64[name].astype(np.float32))
    # hidden_bias sets the hidden layers' biases, never the output's; weight_std the weights.
    bad = sm.init_mlp([2, 5, 4, 3], np.random.default_rng(0), weight_std=0.1, hidden_bias=-2.0)
    assert (bad["b1"] == -2.0).all() and (bad["b2"] == -2.0).all()
    assert (bad["b3"] == 0.0).all()
    he = sm.init_mlp([2, 5, 4, 3], np.random.default_rng(0))
    np.testing.assert_allclose(bad["W2"], he["W2"] * 0.1 / np.sqrt(2 / 5), rtol=1e-12)


class InterruptedSGD(sm.SGD):
    """SGD whose step ``at`` receives Ctrl-C after updating half of the tensors."""

    def __init__(self, lr, at):
        super().__init__(lr)
        self.at, self.calls = at, 0

    def step(self, params, grads):
        names = list(params)
        for i, name in enumerate(names):
            params[name] -= self.lr * grads[name]
            if self.calls == self.at and i == len(names) // 2 - 1:
                os.kill(os.getpid(), signal.SIGINT)
        self.calls += 1


def interrupt_training(params, X, y):
    """Train a copy of ``params`` with Ctrl-C arriving halfway through the update of step 3."""
    handler = signal.getsignal(signal.SIGINT)
    interrupted, recorded = copy_params(params), []
    with pytest.raises(KeyboardInterrupt):
        sm.train(
            interrupted,
            X,
            y,
            sm.mse_loss,
            InterruptedSGD(0.01, at=3),
            steps=10,
            on_step=lambda step, loss, p: recorded.append(loss),
        )
    assert signal.getsignal(signal.SIGINT) is handler
    whole = copy_params(params)
    expected = sm.train(whole, X, y, sm.mse_loss, sm.SGD(0.01), steps=4)
    return interrupted, recorded, whole, expected


def test_ctrl_c_during_an_update_stops_train_after_that_whole_step(article_problem):
    X, y, params = article_problem
    interrupted, _, whole, _ = interrupt_training(params, X, y)
    assert_params_equal(interrupted, whole)  # every tensor got step 3's update, none step 4's


def test_ctrl_c_during_an_update_leaves_on_step_the_loss_of_every_applied_step(article_problem):
    X, y, params = article_problem
    _, recorded, _, expected = interrupt_training(params, X, y)
    assert recorded == expected  # four updates applied: four losses


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


@pytest.mark.parametrize("handler", ["ignored", "the user's"])
def test_train_leaves_a_sigint_handler_that_is_not_python_s_own_in_charge(article_problem, handler):
    X, y, params = article_problem
    calls = []
    own = signal.SIG_IGN if handler == "ignored" else (lambda signum, frame: calls.append(signum))
    previous = signal.signal(signal.SIGINT, own)
    try:
        optimizer = SignalsInStep(0.01, times=1)
        losses = sm.train(copy_params(params), X, y, sm.mse_loss, optimizer, steps=4)
        assert len(losses) == 4  # not interrupted
        assert signal.getsignal(signal.SIGINT) is own
        assert calls == ([] if handler == "ignored" else [signal.SIGINT])
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_interrupts_at_once(article_problem):
    X, y, params = article_problem
    optimizer = SignalsInStep(0.01, times=2)
    with pytest.raises(KeyboardInterrupt):
        sm.train(copy_params(params), X, y, sm.mse_loss, optimizer, steps=4)
    assert optimizer.finished == [0]  # step 1 did not get to its end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
