"""The "When it breaks" page: each symptom proven by a property (which tensors fail, a ratio, an
order of magnitude) or an independent oracle, not by the digits the page prints."""

import math

import numpy as np
import pytest

import scratch_mlp as sm
from docs import failure_modes as fm
from docs import step_size as ss


@pytest.mark.parametrize("bug", fm.VALUE_BUGS, ids=lambda bug: bug.name)
def test_a_value_bug_fails_the_check_on_exactly_the_tensors_it_touches(bug):
    report = bug.report()
    assert {name for name, row in report.items() if not row["ok"]} == set(bug.affected)


def test_a_forgotten_relu_mask_gets_every_first_layer_entry_wrong_by_no_single_factor():
    params, X, grads = fm.RELU_NO_MASK.grads()
    numeric = fm.numeric_grads(params, X, fm.sine_bench()[2], sm.mse_loss)
    # One input and zero biases: every unit is off on exactly half of the points, x W1 < 0.
    assert np.all((X @ params["W1"] + params["b1"] > 0).sum(axis=0) == len(X) // 2)
    for name in ("W1", "b1"):
        assert np.all(np.abs(grads[name] - numeric[name]) > 1e-8 + 1e-6 * np.abs(numeric[name]))
        ratio = grads[name] / numeric[name]
        assert ratio.max() - ratio.min() > 0.5  # not one constant factor, unlike a lost 1/N


@pytest.mark.parametrize("bug", [fm.MSE_NO_MEAN, fm.SOFTMAX_NO_MEAN], ids=lambda bug: bug.name)
def test_a_forgotten_mean_is_the_batch_size_in_every_tensor_and_a_rate_that_many_times_larger(bug):
    N = len(bug.bench()[1])
    assert bug.ratios() == pytest.approx(dict.fromkeys(bug.affected, N), rel=1e-6)
    # The correct run at N times the rate, to 1e-12: every entry of the gradient N times too large.
    buggy = sm.train(*bug.bench(), bug.buggy_loss_fn, sm.SGD(1e-5), 100)
    correct = sm.train(*bug.bench(), bug.loss_fn, sm.SGD(1e-5), 100)
    faster = sm.train(*bug.bench(), bug.loss_fn, sm.SGD(N * 1e-5), 100)
    np.testing.assert_allclose(buggy, faster, rtol=1e-12)
    assert buggy[-1] < correct[-1]  # with SGD the bug looks like an improvement


def test_a_transposed_dw_is_the_numerical_one_transposed_and_on_a_row_the_same_numbers():
    params, X, grads = fm.TRANSPOSED.grads()  # square layers: the right shape
    numeric = fm.numeric_grads(params, X, fm.square_bench()[2], sm.mse_loss)
    for name in fm.TRANSPOSED.affected:
        np.testing.assert_allclose(grads[name], numeric[name].T, rtol=1e-7)
    assert sm.linear_backward.__module__ == "scratch_mlp"  # planted in a private copy only
    wrong, right = (fm.TRANSPOSED_NON_SQUARE.grads(buggy)[2]["W1"] for buggy in (True, False))
    assert wrong.shape == right.T.shape != right.shape
    np.testing.assert_array_equal(wrong.ravel(), right.ravel())  # only the shape tells


@pytest.mark.parametrize("bug", fm.SHAPE_BUGS, ids=lambda bug: bug.name)
def test_a_shape_bug_stops_train_naming_the_first_wrong_tensor(bug):
    params, _, grads = bug.grads()
    wrong = [name for name in params if grads[name].shape != params[name].shape]
    assert wrong == list(bug.affected)
    assert f"grads['{wrong[0]}'] is " in fm.shape_error(bug)


def test_the_top_curvature_decides_which_rate_blows_up_which_crawls_and_which_trains():
    params, X, y = fm.sine_bench()
    eigenvalues, eigenvectors = np.linalg.eigh(fm.hessian(params, X, y, sm.mse_loss))
    v, lambda_max = eigenvectors[:, -1], eigenvalues[-1]

    def loss(s):  # an oracle that uses the loss alone, no gradient
        return sm.mse_loss(sm.mlp_forward(ss.moved(params, v, s), X)[0], y)[0]

    assert (loss(1e-3) - 2 * loss(0) + loss(-1e-3)) / 1e-6 == pytest.approx(lambda_max, rel=1e-4)
    assert 2 / lambda_max < 0.01 < 2.4 / lambda_max  # the article's rate: just past the limit
    # lr = 0.05: (1 - lr lambda)^2 > 81; the loss grows over 10 times a step until train stops.
    _, losses, error = fm.run_sgd(0.05)
    assert np.all(np.array(losses[1:]) / losses[:-1] > 10)
    assert f"the loss became inf at step {len(losses)}" in error and len(losses) < 10
    # lr = 1e-6: every direction shrinks, by almost nothing; the gradient stays large.
    (small, slow, _), (right, fast, _) = (fm.run_sgd(lr, steps=300) for lr in (1e-6, 0.01))
    assert np.all(np.diff(slow) < 0) and slow[0] - slow[-1] < (fast[0] - fast[-1]) / 10
    norm = fm.gradient_norm(small, X, y, sm.mse_loss)
    assert norm > 0.9 * fm.gradient_norm(params, X, y, sm.mse_loss)  # not at a minimum
    assert norm > 100 * fm.gradient_norm(right, X, y, sm.mse_loss)


def test_adam_with_t_per_tensor_corrects_each_tensor_with_the_wrong_t():
    grads = sm.loss_and_grads(*fm.sine_bench(), sm.mse_loss)[1]  # four tensors, four scales
    optimizer, k, T = fm.AdamPerParameterT(lr=0.01), np.arange(1, 1001), len(grads)
    sizes = list(fm.step_sizes(optimizer, grads, 1000).values())
    for i, size in enumerate(sizes, start=1):  # m and v have seen k gradients; corrected with t
        t = T * (k - 1) + i
        expected = (1 - 0.9**k) / (1 - 0.9**t) * np.sqrt((1 - 0.999**t) / (1 - 0.999**k))
        np.testing.assert_allclose(size, expected, rtol=1e-5)
    assert optimizer.t == T * 1000
    assert all(size[0] < 1 for size in sizes[1:]) and np.max(sizes) < math.sqrt(T)


def test_adams_bugs_and_a_lost_mean_under_adam_leave_a_healthy_loss_curve():
    adam = np.array(fm.train_sine(sm.mse_loss, sm.Adam(lr=0.01), 500))
    lost_mean = np.array(fm.train_sine(fm.mse_loss_no_mean, sm.Adam(lr=0.01), 500))
    assert np.max(np.abs(lost_mean - adam) / adam) < 1e-5  # Adam divides the factor out
    buggy = ("no bias correction", "t per tensor")
    runs = {name: fm.train_sine(sm.mse_loss, fm.ADAM_VARIANTS[name](), 300) for name in buggy}
    assert runs["no bias correction"][1] > runs["no bias correction"][0]  # it jumps up once
    assert all(0.8 * adam[299] < run[-1] < adam[299] for run in runs.values())  # lower at 300


@pytest.mark.parametrize("start", fm.DEAD_STARTS)
def test_dead_units_have_their_kink_off_the_data_and_their_weights_never_change(start):
    _, X, y = fm.sine_bench()
    params = sm.init_mlp([1, 64, 1], np.random.default_rng(1), **fm.DEAD_STARTS[start])
    # On x in [-pi, pi] a unit with bias b <= 0 is active on some point iff |w| pi > -b.
    dead = np.abs(params["W1"][0]) * np.pi <= -fm.DEAD_STARTS[start].get("hidden_bias", 0.0)
    before = fm.dead_fraction(params, X)
    assert before == dead.mean() and (before > 0.2) == (start != "He")
    frozen = {name: params[name][:, dead].copy() for name in ("W1", "b1")}
    sm.article_loop(params, X, y, lr=0.01, steps=300, log_every=0)
    for name, values in frozen.items():
        np.testing.assert_array_equal(params[name][:, dead], values)
    # He's start loses none; a negative bias keeps its dead; tiny weights lose more on the way.
    assert (fm.dead_fraction(params, X) > before) == (start == "tiny weights, negative bias")


def test_a_zero_start_learns_only_b2_or_moves_every_unit_in_lockstep_and_hides_a_bug():
    _, X, y = fm.sine_bench()
    params, losses = fm.train_zero_init(0.0, steps=300)
    assert not any(params[name].any() for name in ("W1", "b1", "W2"))
    assert fm.dead_fraction(params, X) == 1.0  # Z1 = 0 on every point: inactive too
    assert losses[-1] == pytest.approx(np.var(y), rel=1e-6)  # it predicts the mean of y
    params, losses = fm.train_zero_init(0.1, steps=300)
    assert np.abs(params["W1"]).max() > 0.01  # the units learn...
    assert all(spread == 0 for spread in fm.unit_spread(params).values())  # ...in lockstep
    distinct = {name: p + np.arange(p.size).reshape(p.shape) for name, p in params.items()}
    assert min(fm.unit_spread(distinct).values()) > 0  # as it would say of distinct units
    # So the network bends once, and no line with one bend fits: far above the noise.
    x, t = X.ravel(), y.ravel()  # the best line with one bend: a kink at any inner point
    J = [np.column_stack([x**0, x, np.maximum(0, s * (x - k))]) for k in x[1:-1] for s in (1, -1)]
    one_bend = min(np.linalg.lstsq(j, t)[1][0] for j in J) / len(x)
    assert losses[-1] >= one_bend > 10 * np.mean((t - np.sin(x)) ** 2)
    bug = fm.RELU_NO_MASK  # and at that symmetric point the check cannot see a forgotten mask
    assert sm.grad_check(fm.zero_start(0.1), X, y, bug.loss_fn, activation=bug.activation).ok


def test_a_weight_scale_off_hes_shrinks_or_grows_each_layer_then_stalls_or_blows_up_training():
    X, _ = fm.spiral_data()
    stats = {  # per scale: (std of Z per layer, dead fraction per layer, std of the logits)
        std: [fm.layer_stats(p, X) for p in (fm.deep_network(std), fm.train_deep(std, 1)[0])]
        for std in fm.SCALES.values()
    }
    for std in (0.01, 1.0):  # each layer multiplies the spread by sigma sqrt(fan_in / 2)
        z_std = stats[std][0][0]
        per_layer = (z_std[-1] / z_std[0]) ** (1 / (len(z_std) - 1))  # the geometric mean
        assert per_layer == pytest.approx(std * math.sqrt(64 / 2), rel=0.2)
    assert max(stats[None][0][0]) < 2 * min(stats[None][0][0])  # He's keeps it
    (_, at_init, _), (_, after, _) = stats[0.01]
    assert at_init == stats[None][0][1] == stats[1.0][0][1]  # ReLU(c z) = c ReLU(z)
    assert all(a >= 0.4 and a > b + 0.2 for b, a in zip(at_init[5:], after[5:], strict=True))
    assert min(stats[1.0][1][1]) >= 0.4  # every layer, the first included
    bias, weight = fm.first_step_ratios(0.01)
    assert bias[-1] > 1e7 and max(weight) < 1e-10 and min(fm.first_step_ratios(1.0)[1]) > 100
    # Too small: the loss stays at chance. Too large: huge, then far larger, then NaN.
    _, losses, error = fm.train_deep(0.01, steps=5)
    assert error is None
    np.testing.assert_allclose(losses, math.log(3), atol=1e-6)  # chance, three classes
    _, losses, error = fm.train_deep(1.0, steps=10)
    assert 1e5 < losses[0] < 1e6 and np.all(np.array(losses[1:]) / losses[:-1] > 1e20)
    assert f"nan at step {len(losses)}" in error and len(losses) < 5


def test_the_naive_losses_are_right_until_exp_overflows_or_underflows_and_then_stop_train():
    rng = np.random.default_rng(0)
    logits, labels = 3 * rng.standard_normal((20, 4)), rng.integers(0, 4, 20)
    expected = sm.softmax_cross_entropy(logits, labels)
    for loss_fn in fm.CROSS_ENTROPIES.values():  # ordinary logits: loss and gradient right
        for got, want in zip(loss_fn(logits, labels), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    info = np.finfo(np.float64)
    over, under = np.log(info.max), -np.log(info.smallest_subnormal)  # e^m = inf, e^-m = 0
    margins = np.array([over - 1, over + 1, under - 1, under + 1, 1e4])
    wrong = fm.three_losses(margins, label=1)  # logits (m, 0), the network confidently wrong
    np.testing.assert_allclose(wrong["softmax_cross_entropy"], margins, rtol=1e-15)
    assert np.isinf(wrong["log(softmax without the max)"]).tolist() == [0, 1, 1, 1, 1]
    assert np.isinf(wrong["log(softmax)"]).tolist() == [0, 0, 0, 1, 1]
    right = fm.three_losses(margins, label=0)
    assert (right["softmax_cross_entropy"] == 0).all() and (right["log(softmax)"] == 0).all()
    assert np.isnan(right["log(softmax without the max)"][1:]).all()
    X, labels = fm.spiral_data()  # on the too-large start only the stable loss is finite
    for name, value in [("log(softmax without the max)", "nan"), ("log(softmax)", "inf")]:
        with pytest.raises(FloatingPointError, match=f"the loss is {value} at step 0"):
            sm.train(fm.deep_network(1.0), X, labels, fm.CROSS_ENTROPIES[name], sm.SGD(1e-3), 1)


def test_float32_differences_miss_by_about_eps_loss_over_h_and_at_best_by_far_more_than_rtol():
    params, X, y = fm.sine_bench()
    loss, analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)
    numeric = fm.numeric_grads(params, X, y, sm.mse_loss, dtype=np.float32)  # h = 1e-5
    errors = {name: np.abs(analytic[name] - numeric[name]) for name in params}
    rounding = np.finfo(np.float32).eps * loss / 1e-5  # a loss's rounding error, over h
    assert all(np.any(e > 1e-8 + 1e-6 * np.abs(numeric[n])) for n, e in errors.items())  # all fail
    assert rounding / 10 < max(e.max() for e in errors.values()) < rounding
    wide, best, narrow = fm.error_versus_h(np.float32, fm.STEPS_H["float32"][2:5])  # h near 3e-3
    assert min(wide, narrow) > best > 1e-3  # the bottom of the V, still far above rtol
    assert fm.error_versus_h(np.float64, [3e-4])[0] < 1e-9


def test_a_zero_input_row_puts_every_first_layer_unit_on_its_kink():
    params, X, y = fm.kink_bench()
    report = sm.grad_check(params, X, y, sm.mse_loss)
    assert report.ok and report["b1"]["kinks"] == params["b1"].size  # none of b1 checked
    analytic = sm.loss_and_grads(params, X, y, sm.mse_loss)[1]
    numeric = fm.numeric_grads(params, X, y, sm.mse_loss)
    assert fm.max_rel_error(analytic["b1"], numeric["b1"]) > 0.1  # had it checked them: FAIL
    off_kink = sm.grad_check(*fm.kink_bench(hidden_bias=0.1), sm.mse_loss)
    assert off_kink.ok and not any(row["kinks"] for row in off_kink.values())  # all checked
