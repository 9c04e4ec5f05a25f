"""The loop: it reproduces the article, the loss falls, it is deterministic, float32 stays."""

import numpy as np
import pytest
from conftest import assert_params_equal, copy_params

import scratch_mlp as sm


@pytest.fixture(scope="module")
def article_problem():
    rng = np.random.RandomState(0)
    X, y = sm.make_sine_data(rng)
    params = sm.init_mlp([1, 64, 1], rng)
    return X, y, params


def test_article_loop_reproduces_the_article(article_problem, capsys):
    X, y, params = article_problem
    losses = sm.article_loop(copy_params(params), X, y)
    assert capsys.readouterr().out.splitlines()[0] == "Step     0 loss=1.590716"
    assert len(losses) == 2001
    assert losses[-1] == pytest.approx(0.042415, abs=5e-7)


def test_train_with_sgd_is_the_article_loop_bit_for_bit(article_problem):
    X, y, params = article_problem
    by_article, by_train = copy_params(params), copy_params(params)
    expected = sm.article_loop(by_article, X, y, log_every=0)
    losses = sm.train(by_train, X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=2001)
    assert losses == [float(v) for v in expected]
    assert_params_equal(by_train, by_article)


def test_the_loss_falls_with_sgd_and_with_adam(article_problem):
    X, y, params = article_problem
    sgd = sm.train(copy_params(params), X, y, sm.mse_loss, sm.SGD(lr=0.01), steps=2001)
    adam = sm.train(copy_params(params), X, y, sm.mse_loss, sm.Adam(lr=0.01), steps=2001)
    assert sgd[-1] < sgd[0] / 30
    # Adam reaches the noise floor (variance 0.01) and stays near it.
    assert adam[-1] < 0.011
    assert adam[-1] < sgd[-1] / 3


def test_classifier_reaches_95_percent_on_held_out_spirals():
    rng = np.random.default_rng(0)
    X, labels = sm.make_spirals(rng)
    X_train, y_train, X_test, y_test = sm.split(X, labels, rng)
    assert len(set(map(tuple, X_train)) & set(map(tuple, X_test))) == 0
    params = sm.init_mlp([2, 64, 64, 3], rng)
    losses = sm.train(params, X_train, y_train, sm.softmax_cross_entropy, sm.Adam(0.01), 1500)
    assert losses[-1] < losses[0] / 100
    assert np.mean(sm.predict(params, X_test) == y_test) >= 0.95


def test_train_logs_in_the_articles_format(article_problem, capsys):
    X, y, params = article_problem
    sm.train(copy_params(params), X, y, sm.mse_loss, sm.SGD(0.01), steps=1001, log_every=500)
    assert capsys.readouterr().out.splitlines() == [
        "Step     0 loss=1.590716",
        "Step   500 loss=0.103490",
        "Step  1000 loss=0.068768",
    ]


def test_mini_batches_are_full_distinct_within_an_epoch_and_reproducible(monkeypatch):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    params = sm.init_mlp([2, 3, 1], rng)
    seen = []
    real_forward = sm.mlp_forward

    def recording_forward(p, X_batch):
        seen.append(X_batch.copy())
        return real_forward(p, X_batch)

    monkeypatch.setattr(sm, "mlp_forward", recording_forward)
    sm.train(
        copy_params(params),
        X,
        y,
        sm.mse_loss,
        sm.SGD(0.01),
        steps=6,
        batch_size=4,
        rng=np.random.default_rng(0),
    )
    # 10 rows in batches of 4: each epoch is two batches of 4, then a reshuffle (the 2 rows left
    # over would make a short batch; they wait for the next permutation instead).
    assert [len(b) for b in seen] == [4, 4, 4, 4, 4, 4]
    epochs = [np.concatenate(seen[i : i + 2]) for i in (0, 2, 4)]
    assert all(len({tuple(row) for row in epoch}) == 8 for epoch in epochs)
    # Every epoch draws a new permutation: the three epochs visit the rows in different orders.
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    monkeypatch.undo()

    def run():
        p = copy_params(params)
        losses = sm.train(
            p,
            X,
            y,
            sm.mse_loss,
            sm.Adam(0.01),
            steps=20,
            batch_size=3,
            rng=np.random.default_rng(7),
        )
        return p, losses

    (p1, l1), (p2, l2) = run(), run()
    assert l1 == l2
    assert_params_equal(p1, p2)


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


def test_float32_in_float32_everywhere():
    rng = np.random.default_rng(5)
    params = sm.init_mlp([3, 8, 6, 4], rng, dtype=np.float32)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    labels = rng.integers(0, 4, size=10)
    y = rng.standard_normal((10, 4)).astype(np.float32)
    assert all(p.dtype == np.float32 for p in params.values())

    out, cache = sm.mlp_forward(params, X)
    assert out.dtype == np.float32
    for (X_l, W_l), Z_l in cache:
        assert X_l.dtype == W_l.dtype == np.float32
        assert Z_l is None or Z_l.dtype == np.float32
    for loss_fn, target in [(sm.mse_loss, y), (sm.softmax_cross_entropy, labels)]:
        loss, d_out = loss_fn(out, target)
        assert loss.dtype == np.float32 and d_out.dtype == np.float32
        grads = sm.mlp_backward(params, cache, d_out)
        assert all(g.dtype == np.float32 for g in grads.values())

    adam = sm.Adam(lr=1e-2)
    losses = sm.train(
        params, X, labels, sm.softmax_cross_entropy, adam, steps=20, batch_size=5, rng=rng
    )
    assert losses[-1] < losses[0]
    assert all(p.dtype == np.float32 for p in params.values())
    assert all(a.dtype == np.float32 for a in [*adam.m.values(), *adam.v.values()])
    sgd_params = sm.init_mlp([3, 8, 4], rng, dtype=np.float32)
    sm.train(sgd_params, X, y, sm.mse_loss, sm.SGD(1e-2), steps=5)
    assert all(p.dtype == np.float32 for p in sgd_params.values())


def test_float32_and_float64_start_from_the_same_numbers():
    p32 = sm.init_mlp([4, 5, 2], np.random.default_rng(0), dtype=np.float32)
    p64 = sm.init_mlp([4, 5, 2], np.random.default_rng(0))
    for name in p64:
        assert p64[name].dtype == np.float64
        np.testing.assert_array_equal(p32[name], p64[name].astype(np.float32))


def test_init_mlp_is_he_initialisation():
    params = sm.init_mlp([400, 300, 10], np.random.default_rng(0))
    assert params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert params["W2"].std() == pytest.approx(np.sqrt(2 / 300), rel=0.1)
    assert not params["b1"].any() and not params["b2"].any()
    assert params["b1"].shape == (1, 300) and params["b2"].shape == (1, 10)


def test_a_dead_unit_stays_dead(article_problem):
    X, y, _ = article_problem
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), hidden_bias=-2.0)
    dead = ~((X @ params["W1"] + params["b1"]) > 0).any(axis=0)
    assert dead.sum() > 10
    W1_dead, b1_dead = params["W1"][:, dead].copy(), params["b1"][:, dead].copy()
    sm.train(params, X, y, sm.mse_loss, sm.SGD(0.01), steps=500)
    np.testing.assert_array_equal(params["W1"][:, dead], W1_dead)
    np.testing.assert_array_equal(params["b1"][:, dead], b1_dead)
    assert sm.dead_fraction(params, X) == pytest.approx(dead.mean())
