"""The "When it breaks" page, checked: every failure mode it shows has the symptom it describes.

The page is imported, not copied: its buggy functions, its ``patched`` context manager and its
measurements are the ones tested here. Each failure mode is proven once; the check of
``grad_check`` itself against planted bugs lives with the other gradient tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scratch_mlp as sm
from docs import failure_modes as fm

# Figures a test draws go to a temporary folder.
pytestmark = pytest.mark.usefixtures("in_temporary_folder")


def test_patched_always_puts_the_original_back():
    original = sm.linear_backward
    with pytest.raises(RuntimeError), fm.patched("linear_backward", fm.linear_backward_transposed):
        assert sm.linear_backward is fm.linear_backward_transposed
        raise RuntimeError("a failing block")
    assert sm.linear_backward is original


# --- 1. backward-pass bugs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bench", "loss_fn"),
    [
        (fm.sine_bench, sm.mse_loss),
        (fm.square_bench, sm.mse_loss),
        (fm.spiral_bench, sm.softmax_cross_entropy),
    ],
)
def test_correct_code_passes_on_every_problem(bench, loss_fn):
    assert sm.grad_check(*bench(), loss_fn).ok


@pytest.mark.parametrize("bug", fm.VALUE_BUGS, ids=lambda bug: bug.name)
def test_grad_check_fails_exactly_the_affected_tensors(bug):
    report = bug.report()
    assert {name for name, row in report.items() if not row["ok"]} == set(bug.affected)
    assert all(report[name]["max_rel_error"] > 0.5 for name in bug.affected)
    assert sm.linear_backward.__module__ == "scratch_mlp"  # planted only inside the block


def test_a_forgotten_relu_mask_is_wrong_by_about_the_gradients_own_size():
    report = fm.RELU_NO_MASK.report()
    assert report["W1"]["max_rel_error"] == pytest.approx(1.56, abs=0.01)
    assert report["b1"]["max_rel_error"] == pytest.approx(0.69, abs=0.01)


@pytest.mark.parametrize(("bug", "N"), [(fm.MSE_NO_MEAN, 200), (fm.SOFTMAX_NO_MEAN, 30)])
def test_a_forgotten_mean_is_the_batch_size_in_every_tensor(bug, N):
    for row in bug.report().values():
        assert row["max_rel_error"] == pytest.approx(1 - 1 / N, rel=1e-6)
    for ratio in bug.ratios().values():
        assert ratio == pytest.approx(N, rel=1e-6)


def test_a_forgotten_mean_is_invisible_with_adam_and_a_speed_up_with_sgd():
    correct = np.array(fm.train_sine(sm.mse_loss, sm.Adam(lr=0.01), steps=500))
    buggy = np.array(fm.train_sine(fm.mse_loss_no_mean, sm.Adam(lr=0.01), steps=500))
    assert np.max(np.abs(correct - buggy) / correct) < 1e-5
    correct = fm.train_sine(sm.mse_loss, sm.SGD(lr=1e-5))
    buggy = fm.train_sine(fm.mse_loss_no_mean, sm.SGD(lr=1e-5))
    assert buggy[-1] < correct[-1] / 2  # the bug "helps": 0.115 against 0.234


def test_on_square_layers_the_transposed_gradient_is_the_numerical_one_transposed():
    params, X, grads = fm.TRANSPOSED.grads()
    numeric = fm.numeric_grads(params, X, fm.square_bench()[2], sm.mse_loss)
    for name in fm.TRANSPOSED.affected:
        assert grads[name].shape == params[name].shape
        np.testing.assert_allclose(grads[name], numeric[name].T, rtol=1e-7)


@pytest.mark.parametrize("bug", fm.SHAPE_BUGS, ids=lambda bug: bug.name)
def test_shape_bugs_stop_train_naming_the_tensor(bug):
    assert f"grads['{bug.affected[0]}'] is " in fm.shape_error(bug)
    params, _, grads = bug.grads()
    assert all(grads[name].shape != params[name].shape for name in bug.affected)


def test_a_transposed_row_gradient_holds_the_right_numbers_in_the_right_order():
    _, _, wrong = fm.TRANSPOSED_NON_SQUARE.grads()
    _, _, right = fm.TRANSPOSED_NON_SQUARE.grads(buggy=False)
    assert wrong["W1"].shape == (64, 1) and right["W1"].shape == (1, 64)
    np.testing.assert_array_equal(wrong["W1"].ravel(), right["W1"].ravel())


# --- 2. optimiser bugs ---------------------------------------------------------------------------


def test_a_learning_rate_too_large_grows_the_loss_tens_of_times_per_step_until_train_stops():
    _, losses, error = fm.run_sgd(0.05)
    assert "the loss became inf at step 7" in error and len(losses) == 7
    assert losses[0] == pytest.approx(1.5907, abs=1e-4)
    assert np.all(np.array(losses[1:]) / np.array(losses[:-1]) > 10)


def test_a_learning_rate_too_small_barely_moves_with_a_large_gradient():
    _, X, y = fm.sine_bench()
    for lr, loss, norm in [(1e-6, 1.004, 14.6), (0.01, 0.0424, 0.046)]:
        params, losses, error = fm.run_sgd(lr)
        assert error is None and (lr > 1e-6 or np.all(np.diff(losses) < 0))  # smooth if small
        assert losses[-1] == pytest.approx(loss, abs=1e-3)
        assert fm.gradient_norm(params, X, y, sm.mse_loss) == pytest.approx(norm, rel=0.01)


@pytest.fixture(scope="module")
def adam_steps():
    grads = sm.loss_and_grads(*fm.sine_bench(), sm.mse_loss)[1]
    return {label: fm.step_sizes(make(), grads, 1000) for label, make in fm.ADAM_VARIANTS.items()}


def test_adam_step_sizes_for_a_constant_gradient(adam_steps):
    k = np.arange(1, 1001)
    beta1, beta2 = 0.9, 0.999

    def expected(t):  # step / lr when m and v have seen k gradients and are corrected with t
        return (1 - beta1**k) / (1 - beta1**t) * np.sqrt((1 - beta2**t) / (1 - beta2**k))

    for sizes in adam_steps["Adam"].values():
        np.testing.assert_allclose(sizes, 1.0, rtol=1e-5)
    for sizes in adam_steps["no bias correction"].values():
        np.testing.assert_allclose(sizes, (1 - beta1**k) / np.sqrt(1 - beta2**k), rtol=1e-5)
        assert int(np.argmax(sizes)) + 1 == 12 and sizes.max() == pytest.approx(6.57, abs=0.01)
    per_tensor = adam_steps["t per tensor"]
    for i, sizes in enumerate(per_tensor.values(), start=1):
        np.testing.assert_allclose(sizes, expected(len(per_tensor) * (k - 1) + i), rtol=1e-5)
    optimizer = fm.AdamPerParameterT(lr=0.01)
    fm.step_sizes(optimizer, {"W1": np.ones(3), "b1": np.ones(1)}, 10)
    assert optimizer.t == 20  # counted per tensor: two tensors, ten steps


def test_adam_bugs_do_not_show_as_a_broken_loss_curve():
    runs = {
        label: fm.train_sine(sm.mse_loss, make(), steps=300)
        for label, make in fm.ADAM_VARIANTS.items()
    }
    assert runs["no bias correction"][1] > runs["no bias correction"][0]  # jumps up once
    for label in ("no bias correction", "t per tensor"):
        assert 0.8 * runs["Adam"][-1] < runs[label][-1] < runs["Adam"][-1]


def test_the_top_curvature_is_the_second_difference_of_the_loss_along_its_direction():
    params, X, y = fm.sine_bench()
    eigenvalues, eigenvectors = np.linalg.eigh(fm.hessian(params, X, y, sm.mse_loss))
    v, lambda_max = eigenvectors[:, -1], eigenvalues[-1]
    # An oracle that uses the loss alone, no gradient: (L(θ + εv) - 2 L(θ) + L(θ - εv)) / ε².
    names, eps = list(params), 1e-3
    ends = np.cumsum([params[k].size for k in names])[:-1]

    def loss_at(step):
        parts = np.split(step * v, ends)
        moved = {
            k: params[k] + d.reshape(params[k].shape) for k, d in zip(names, parts, strict=True)
        }
        return sm.mse_loss(sm.mlp_forward(moved, X)[0], y)[0]

    second = (loss_at(eps) - 2 * loss_at(0.0) + loss_at(-eps)) / eps**2
    assert second == pytest.approx(lambda_max, rel=1e-4)
    assert 2 / lambda_max < 0.01 < 2.5 / lambda_max  # the article's rate is just past the limit
    assert abs(1 - 0.05 * lambda_max) > 9  # at lr = 0.05 the loss grows tens of times a step


# --- 3. dead units and initialisation ------------------------------------------------------------


def test_a_dead_unit_stays_dead():
    _, X, y = fm.sine_bench()
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), hidden_bias=-2.0)
    dead = ~((X @ params["W1"] + params["b1"]) > 0).any(axis=0)
    assert dead.sum() > 10
    assert fm.dead_fraction(params, X) == dead.mean()
    W1_dead, b1_dead = params["W1"][:, dead].copy(), params["b1"][:, dead].copy()
    sm.train(params, X, y, sm.mse_loss, sm.SGD(0.01), steps=500)
    np.testing.assert_array_equal(params["W1"][:, dead], W1_dead)
    np.testing.assert_array_equal(params["b1"][:, dead], b1_dead)
    assert fm.dead_fraction(params, X) == dead.mean()
    # A unit whose pre-activation is exactly 0 everywhere is inactive too: it passes no gradient.
    params["W1"][:, ~dead] = 0.0
    params["b1"][:, ~dead] = 0.0
    assert fm.dead_fraction(params, X) == 1.0


@pytest.mark.parametrize("label", ["negative bias", "tiny weights, negative bias"])
def test_a_biased_start_kills_exactly_the_units_whose_kink_lies_beyond_the_data(label):
    # On x in [-pi, pi], a unit with bias b < 0 is active somewhere iff |w| pi > -b.
    _, X, _ = fm.sine_bench()
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), **fm.DEAD_STARTS[label])
    b = fm.DEAD_STARTS[label]["hidden_bias"]
    assert fm.dead_fraction(params, X) == np.mean(np.abs(params["W1"]) * np.pi <= -b)


def test_he_loses_no_unit_a_negative_bias_keeps_its_dead_and_tiny_weights_lose_more():
    runs = {label: fm.dead_before_and_after(options, steps=500) for label, options in
            fm.DEAD_STARTS.items()}  # fmt: skip
    assert runs["He"][:2] == (0.0, 0.0)
    before, after, _ = runs["negative bias"]
    assert before == after > 0.3
    before, after, _ = runs["tiny weights, negative bias"]
    assert after > before > 0.2
    # The article's loop is SGD at lr = 0.01 on all rows: train with SGD gives the same numbers.
    _, X, y = fm.sine_bench()
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), **fm.DEAD_STARTS["negative bias"])
    losses = sm.train(params, X, y, sm.mse_loss, sm.SGD(0.01), steps=500)
    assert losses[-1] == runs["negative bias"][2]


def test_all_zero_start_learns_only_the_output_bias():
    _, _, y = fm.sine_bench()
    params, losses = fm.train_zero_init(0.0)
    assert not any(params[name].any() for name in ("W1", "b1", "W2"))
    assert losses[-1] == pytest.approx(np.var(y), rel=1e-3)  # predicting the mean


def test_zero_weights_keep_every_hidden_unit_identical_and_hide_a_relu_bug():
    params, losses = fm.train_zero_init(0.1)
    assert np.abs(params["W1"]).max() > 0.05  # they did learn...
    assert all(spread == 0 for spread in fm.unit_spread(params).values())  # ...in lockstep
    assert 0.18 < losses[-1] < 0.19  # one bend, against 0.042 from He's start
    _, X, y = fm.sine_bench()
    bug = fm.RELU_NO_MASK
    assert sm.grad_check(fm.zero_start(0.1), X, y, bug.loss_fn, activation=bug.activation).ok


@pytest.fixture(scope="module")
def deep():
    X, _ = fm.spiral_data()
    return {
        label: (
            fm.layer_stats(fm.deep_network(std), X),
            fm.layer_stats(fm.train_deep(std, steps=1)[0], X),
        )
        for label, std in fm.SCALES.items()
    }


def test_each_layer_multiplies_the_signal_by_sigma_sqrt_fan_in_over_2(deep):
    for label, std in [("too small, σ = 0.01", 0.01), ("too large, σ = 1", 1.0)]:
        z_std = np.array(deep[label][0][0])
        per_layer = np.exp(np.mean(np.log(z_std[1:] / z_std[:-1])))
        assert per_layer == pytest.approx(std * math.sqrt(64 / 2), rel=0.2)
    assert np.all((np.array(deep["He"][0][0]) > 0.3) & (np.array(deep["He"][0][0]) < 0.7))


def test_the_scale_kills_no_unit_at_init_but_the_first_step_does(deep):
    dead_at_init = [stats[0][1] for stats in deep.values()]
    assert dead_at_init[0] == dead_at_init[1] == dead_at_init[2]
    init, small = deep["too small, σ = 0.01"][0][1], deep["too small, σ = 0.01"][1][1]
    assert all(
        after >= 0.4 and after > before + 0.2
        for before, after in zip(init[5:], small[5:], strict=True)
    )
    assert all(after >= 0.4 for after in deep["too large, σ = 1"][1][1])
    small_bias, small_weight = fm.first_step_ratios(0.01)
    assert small_bias[-1] > 1e7 and max(small_weight) < 1e-10
    assert min(fm.first_step_ratios(1.0)[1]) > 100


def test_too_small_stays_at_chance_and_too_large_blows_up_at_step_3():
    _, losses, error = fm.train_deep(0.01, steps=5)
    assert error is None
    np.testing.assert_allclose(losses, math.log(3), atol=1e-6)
    _, losses, error = fm.train_deep(1.0, steps=10)
    assert "nan at step 3" in error
    assert losses[0] == pytest.approx(2.461e5, rel=1e-3)
    assert 1e32 < losses[1] < 1e33 and 1e183 < losses[2] < 1e184


# --- 4. numerical bugs ---------------------------------------------------------------------------


def test_both_naive_losses_are_right_on_ordinary_logits():
    rng = np.random.default_rng(0)
    logits, labels = 3 * rng.standard_normal((20, 4)), rng.integers(0, 4, 20)
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    for softmax in (sm.softmax, fm.softmax_no_max):
        naive_loss, naive_d = fm.cross_entropy_via_softmax(logits, labels, softmax)
        assert naive_loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(naive_d, d_logits, rtol=1e-12, atol=1e-15)


def test_where_each_way_of_computing_the_loss_breaks():
    margins = np.array([700.0, 709.0, 710.0, 744.0, 746.0, 1e4])
    wrong = fm.three_losses(margins, label=1)
    np.testing.assert_allclose(wrong["softmax_cross_entropy"], margins, rtol=1e-15)
    assert np.isinf(wrong["log(softmax without the max)"]).tolist() == [0, 0, 1, 1, 1, 1]
    assert np.isinf(wrong["log(softmax)"]).tolist() == [0, 0, 0, 0, 1, 1]
    right = fm.three_losses(margins, label=0)
    assert (right["softmax_cross_entropy"] == 0).all() and (right["log(softmax)"] == 0).all()
    assert np.isnan(right["log(softmax without the max)"][2:]).all()


def test_naive_losses_stop_train_at_step_0_where_the_stable_one_is_finite():
    X, labels = fm.spiral_data()
    losses = sm.train(fm.deep_network(1.0), X, labels, sm.softmax_cross_entropy, sm.SGD(1e-3), 1)
    assert losses[0] == pytest.approx(2.461e5, rel=1e-3)
    for softmax, value in [(fm.softmax_no_max, "nan"), (sm.softmax, "inf")]:

        def loss_fn(z, y, softmax=softmax):
            return fm.cross_entropy_via_softmax(z, y, softmax)

        with pytest.raises(FloatingPointError, match=f"the loss is {value} at step 0"):
            sm.train(fm.deep_network(1.0), X, labels, loss_fn, sm.SGD(1e-3), steps=1)


# --- 5. false alarms -----------------------------------------------------------------------------


def test_float32_differences_fail_a_correct_gradient_that_grad_check_passes():
    params, X, y = fm.sine_bench()
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    numeric = fm.numeric_grads(params, X, y, sm.mse_loss, dtype=np.float32)
    errors = {name: fm.max_rel_error(analytic[name], numeric[name]) for name in params}
    assert all(errors[name] > 1e-2 for name in ("W1", "b1", "W2")) and errors["b2"] > 1e-4
    as32 = {name: p.astype(np.float32) for name, p in params.items()}
    assert sm.grad_check(as32, X.astype(np.float32), y.astype(np.float32), sm.mse_loss).ok


def test_float32s_v_never_gets_below_1e_3_where_float64_reaches_1e_10():
    assert fm.error_versus_h(np.float32, fm.STEPS_H["float32"]).min() > 1e-3
    assert fm.error_versus_h(np.float64, [3e-4])[0] < 1e-9


def test_a_zero_input_row_puts_every_first_layer_unit_on_its_kink():
    params, X, y = fm.kink_bench()
    report = sm.grad_check(params, X, y, sm.mse_loss)
    assert report.ok and report["b1"]["kinks"] == 16 and report["b1"]["checked"] == 0
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    numeric = fm.numeric_grads(params, X, y, sm.mse_loss)
    assert fm.max_rel_error(analytic["b1"], numeric["b1"]) > 0.3  # had it not skipped them
    off_kink = sm.grad_check(*fm.kink_bench(hidden_bias=0.1), sm.mse_loss)
    assert off_kink.ok and all(row["kinks"] == 0 for row in off_kink.values())
    assert sum(row["checked"] for row in off_kink.values()) == 16 + 16 + 16 + 1
