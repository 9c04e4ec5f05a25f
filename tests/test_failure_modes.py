"""The failure-modes page, checked: every bug it plants is caught the way the page says, and every
number the page's prose states is what the code produces.

The page ``docs/failure_modes.py`` is imported, not copied: its buggy functions, its context
manager and its measurements are the ones tested here. Importing it runs none of its demos.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "failure_modes.py"


def _import_page():
    spec = importlib.util.spec_from_file_location("failure_modes", PAGE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


fm = _import_page()
sm = fm.sm  # the very scratch_mlp module the page patches


def max_errors(rows) -> dict[str, float]:
    return {row["name"]: row["max_rel_error"] for row in rows}


# --- planting a bug ----------------------------------------------------------------------------


def test_patched_swaps_the_function_and_always_puts_it_back():
    original = sm.relu_backward
    with fm.patched("relu_backward", fm.relu_backward_no_mask):
        assert sm.relu_backward is fm.relu_backward_no_mask
    assert sm.relu_backward is original
    with pytest.raises(RuntimeError), fm.patched("relu_backward", fm.relu_backward_no_mask):
        raise RuntimeError("a failing block")
    assert sm.relu_backward is original


def test_importing_the_page_runs_no_demo(capsys):
    _import_page()
    assert capsys.readouterr().out == ""


# --- 1. backward-pass bugs -----------------------------------------------------------------------


@pytest.mark.parametrize("bug", fm.VALUE_BUGS + fm.SHAPE_BUGS, ids=lambda bug: bug.name)
def test_correct_code_passes_on_every_problem(bug):
    errors = max_errors(bug.report(buggy=False))
    assert all(error < 1e-7 for error in errors.values()), errors


@pytest.mark.parametrize("bug", fm.VALUE_BUGS, ids=lambda bug: bug.name)
def test_grad_check_flags_exactly_the_affected_tensors(bug):
    errors = max_errors(bug.report())
    assert set(bug.affected) <= set(errors)
    for name, error in errors.items():
        if name in bug.affected:
            assert error > 1e-3, (name, error)
            assert sm.grad_check_verdict(error) == "BUG"
        else:
            assert error < 1e-7, (name, error)
    # The bug was planted only for the check: scratch_mlp is whole again.
    assert all(error < 1e-7 for error in max_errors(bug.report(buggy=False)).values())


def test_forgotten_relu_mask_spares_the_layer_above_it():
    assert fm.RELU_NO_MASK.affected == ("W1", "b1")
    errors = max_errors(fm.RELU_NO_MASK.report())
    assert errors["W1"] > 1.0 and errors["b1"] > 0.5  # wrong by about their own size, or more


@pytest.mark.parametrize(
    ("bug", "batch_size"), [(fm.MSE_NO_MEAN, 200), (fm.SOFTMAX_NO_MEAN, 30)], ids=["mse", "softmax"]
)
def test_a_forgotten_mean_is_the_batch_size_in_every_tensor(bug, batch_size):
    errors = max_errors(bug.report())
    for error in errors.values():
        assert error == pytest.approx(1 - 1 / batch_size, rel=1e-6)
    for ratio in bug.ratios().values():
        assert ratio == pytest.approx(batch_size, rel=1e-6)


def test_square_layers_transposed_gradient_is_the_numerical_one_transposed():
    params, X, y = fm.square_bench()
    assert all(params[name].shape[0] == params[name].shape[1] for name in ("W1", "W2"))
    with fm.TRANSPOSED.planted() as loss_fn:
        analytic, numeric, _, _ = fm.gradients(params, X, y, loss_fn)
    for name in fm.TRANSPOSED.affected:
        assert not np.allclose(analytic[name], numeric[name], rtol=1e-3)
        np.testing.assert_allclose(analytic[name], numeric[name].T, rtol=1e-7)


@pytest.mark.parametrize("bug", fm.SHAPE_BUGS, ids=lambda bug: bug.name)
def test_shape_bugs_are_named_by_grad_check_and_by_the_optimizer(bug):
    params, X, y = bug.bench()
    expected = f"grads['{bug.affected[0]}'] is "
    assert expected in fm.shape_error(bug)
    with bug.planted() as loss_fn, pytest.raises(ValueError, match=expected.replace("[", r"\[")):
        sm.train(params, X, y, loss_fn, sm.SGD(lr=0.01), steps=1)
    # Every tensor the bug makes wrong has a shape other than its parameter's.
    _, _, grads = fm.backward_gradients(bug)
    for name in bug.affected:
        assert grads[name].shape != params[name].shape, name


def test_shape_check_comes_first_even_where_the_numbers_agree():
    # A (1, 64) matrix transposed holds the same numbers in the same order.
    params, X, y = fm.sine_bench()
    with fm.TRANSPOSED_NON_SQUARE.planted() as loss_fn:
        analytic, numeric, _, _ = fm.gradients(params, X, y, loss_fn)
    np.testing.assert_allclose(analytic["W1"].ravel(), numeric["W1"].ravel(), rtol=1e-7)
    assert analytic["W1"].shape == (64, 1) and params["W1"].shape == (1, 64)


def test_bias_without_keepdims_has_the_right_numbers_and_broadcasts_in_place():
    params, _, right = fm.backward_gradients(fm.BIAS_NO_KEEPDIMS, buggy=False)
    _, _, wrong = fm.backward_gradients(fm.BIAS_NO_KEEPDIMS)
    assert wrong["b1"].shape == (64,) and right["b1"].shape == (1, 64)
    np.testing.assert_array_equal(wrong["b1"], right["b1"][0])
    b1 = params["b1"].copy()
    b1 -= 0.01 * wrong["b1"]
    np.testing.assert_array_equal(b1, params["b1"] - 0.01 * right["b1"])


def test_bias_over_the_wrong_axis_broadcasts_to_a_bias_per_example():
    params, X, grads = fm.backward_gradients(fm.BIAS_WRONG_AXIS)
    assert grads["b1"].shape == (200, 1)
    b1 = params["b1"] - 0.01 * grads["b1"]
    assert b1.shape == (200, 64)
    assert (X @ params["W1"] + b1).shape == (200, 64)  # the forward pass still runs
    with pytest.raises(ValueError):
        X[:50] @ params["W1"] + b1


def test_a_forgotten_mean_is_invisible_in_adams_loss_curve_and_a_speed_up_with_sgd():
    correct = np.array(fm.train_sine(sm.mse_loss, sm.Adam(lr=0.01), steps=500))
    buggy = np.array(fm.train_sine(fm.mse_loss_no_mean, sm.Adam(lr=0.01), steps=500))
    assert np.max(np.abs(correct - buggy) / correct) < 1e-5
    correct = fm.train_sine(sm.mse_loss, sm.SGD(lr=1e-5))
    buggy = fm.train_sine(fm.mse_loss_no_mean, sm.SGD(lr=1e-5))
    assert buggy[-1] < correct[-1] / 2  # the bug "helps": 0.115 against 0.234


# --- 2. optimiser bugs ---------------------------------------------------------------------------


def test_learning_rate_too_large_rises_then_train_names_the_step():
    losses, error = fm.run_sgd(0.05)
    assert error is not None and "at step 7" in error
    assert len(losses) == 8 and math.isinf(losses[-1])
    assert losses[0] == pytest.approx(1.5907, abs=1e-4)
    growth = np.array(losses[1:-1]) / np.array(losses[:-2])
    assert np.all(growth > 10)  # tens of times per step, and faster


def test_learning_rate_too_small_barely_moves_with_a_large_gradient():
    small, error = fm.run_sgd(1e-6)
    article, _ = fm.run_sgd(0.01)
    assert error is None and len(small) == 2001
    assert small[-1] == pytest.approx(1.004, abs=1e-3)  # from 1.59: still 63 % of its start
    assert 0.6 < small[-1] / small[0] < 0.7
    assert np.all(np.diff(small) < 0)  # falling, smoothly
    assert article[-1] < 0.03 * article[0]
    for lr, expected in [(1e-6, 14.6), (0.01, 0.046)]:
        params, X, y = fm.sine_bench()
        sm.train(params, X, y, sm.mse_loss, sm.SGD(lr), steps=2001)
        assert fm.gradient_norm(params, X, y, sm.mse_loss) == pytest.approx(expected, rel=0.01)


def expected_adam_steps(k, t):
    """Step / lr of Adam for a constant gradient, when m and v have seen k gradients and are
    corrected with t."""
    beta1, beta2 = 0.9, 0.999
    return (1 - beta1**k) / (1 - beta1**t) * np.sqrt((1 - beta2**t) / (1 - beta2**k))


@pytest.fixture(scope="module")
def adam_steps():
    grads = fm.backprop(*fm.sine_bench(), sm.mse_loss)
    return {label: fm.step_sizes(make(), grads, 1000) for label, make in fm.ADAM_VARIANTS.items()}


def test_correct_adam_moves_every_coordinate_by_lr(adam_steps):
    for sizes in adam_steps["Adam"].values():
        np.testing.assert_allclose(sizes, 1.0, rtol=1e-5)


def test_adam_without_bias_correction_takes_inflated_steps(adam_steps):
    k = np.arange(1, 1001)
    uncorrected = (1 - 0.9**k) / np.sqrt(1 - 0.999**k)
    for sizes in adam_steps["no bias correction"].values():
        np.testing.assert_allclose(sizes, uncorrected, rtol=1e-5)
        assert sizes[0] == pytest.approx(3.162, abs=1e-3)
        assert int(np.argmax(sizes)) + 1 == 12 and sizes.max() == pytest.approx(6.57, abs=0.01)
        assert sizes[999] == pytest.approx(1.258, abs=1e-3)


def test_adam_with_t_per_tensor_matches_its_formula(adam_steps):
    sizes = adam_steps["t per tensor"]
    k = np.arange(1, 1001)
    n_tensors = len(sizes)
    for i, name in enumerate(sizes, start=1):
        np.testing.assert_allclose(
            sizes[name], expected_adam_steps(k, n_tensors * (k - 1) + i), rtol=1e-5
        )
    first = [s[0] for s in sizes.values()]
    np.testing.assert_allclose(first, [1.0, 0.744, 0.639, 0.581], atol=1e-3)
    assert all(1.8 < s.max() < math.sqrt(n_tensors) for s in sizes.values())
    optimizer = fm.AdamPerParameterT(lr=0.01)
    fm.step_sizes(optimizer, fm.backprop(*fm.sine_bench(), sm.mse_loss), 10)
    assert optimizer.t == 40


def test_adam_bugs_do_not_show_as_a_broken_loss_curve():
    runs = {
        label: fm.train_sine(sm.mse_loss, make(), steps=300)
        for label, make in fm.ADAM_VARIANTS.items()
    }
    assert runs["no bias correction"][1] > runs["no bias correction"][0]  # jumps up once
    assert runs["Adam"][1] < runs["Adam"][0]
    for label in ("no bias correction", "t per tensor"):
        assert runs[label][-1] < runs["Adam"][-1]  # both end below correct Adam here
        assert runs[label][-1] > 0.8 * runs["Adam"][-1]


# --- 3. initialisation ---------------------------------------------------------------------------


def test_all_zero_start_learns_only_the_output_bias():
    _, X, y = fm.sine_bench()
    grads = fm.backprop(fm.zero_start(0.0), X, y, sm.mse_loss)
    for name in ("W1", "b1", "W2"):
        assert not grads[name].any(), name
    params, losses = fm.train_zero_init(0.0)
    for name in ("W1", "b1", "W2"):
        assert not params[name].any(), name
    assert losses[-1] == pytest.approx(np.var(y), rel=1e-3)  # predicting the mean


def test_zero_weights_keep_every_hidden_unit_identical():
    params, losses = fm.train_zero_init(0.1)
    assert np.abs(params["W1"]).max() > 0.05  # they did learn...
    assert all(spread <= 1e-12 for spread in fm.unit_spread(params).values())  # ...in lockstep
    assert 0.18 < losses[-1] < 0.19  # one bend, against 0.042 from He's start


def test_a_check_at_the_zero_start_misses_a_forgotten_relu_mask():
    _, X, y = fm.sine_bench()
    for hidden_bias in (0.1, 0.0):
        with fm.RELU_NO_MASK.planted() as loss_fn:
            rows = sm.grad_check_report(fm.zero_start(hidden_bias), X, y, loss_fn)
        assert all(row["max_rel_error"] < 1e-7 for row in rows)
    first_layer = [row for row in rows if row["name"] in ("W1", "b1")]
    assert all(row["checked"] == 0 and row["kinks"] == 64 for row in first_layer)


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


def test_scale_multiplies_the_signal_by_sigma_sqrt_fan_in_over_2_per_layer(deep):
    for label, std in [("too small, σ = 0.01", 0.01), ("too large, σ = 1", 1.0)]:
        z_std = np.array(deep[label][0][0])
        per_layer = np.exp(np.mean(np.log(z_std[1:] / z_std[:-1])))
        assert per_layer == pytest.approx(std * math.sqrt(64 / 2), rel=0.2)
    he = np.array(deep["He"][0][0])
    assert np.all((he > 0.3) & (he < 0.7))
    assert deep["too small, σ = 0.01"][0][2] < 1e-12
    assert deep["too large, σ = 1"][0][2] > 1e5


def test_dead_fraction_at_init_does_not_depend_on_the_scale(deep):
    dead = [stats[0][1] for stats in deep.values()]
    assert dead[0] == dead[1] == dead[2]


def test_the_first_step_kills_units_when_the_scale_is_wrong(deep):
    (_, init_dead, _), (_, small_dead, _) = deep["too small, σ = 0.01"]
    assert small_dead[:4] == init_dead[:4]
    assert all(
        after >= 0.4 and after > before + 0.2
        for before, after in zip(init_dead[5:], small_dead[5:], strict=True)
    )
    assert all(after >= 0.4 for after in deep["too large, σ = 1"][1][1])
    he_init, he_after = deep["He"][0][1], deep["He"][1][1]
    assert max(abs(a - b) for a, b in zip(he_init, he_after, strict=True)) <= 0.05


def test_first_step_sizes_against_what_they_change():
    small_bias, small_weight = fm.first_step_ratios(0.01)
    assert small_bias[-1] > 1e7 and max(small_weight) < 1e-10
    large_bias, large_weight = fm.first_step_ratios(1.0)
    assert min(large_weight) > 100
    he_bias, he_weight = fm.first_step_ratios(None)
    assert max(he_bias + he_weight) < 0.05


def test_too_small_stays_at_chance_and_too_large_blows_up_at_step_3():
    _, losses, error = fm.train_deep(0.01, steps=100)
    assert error is None
    np.testing.assert_allclose(losses, math.log(3), atol=1e-6)
    _, losses, error = fm.train_deep(1.0, steps=100)
    assert "nan at step 3" in error
    assert losses[0] == pytest.approx(2.461e5, rel=1e-3)
    assert 1e32 < losses[1] < 1e33 and 1e183 < losses[2] < 1e184 and math.isnan(losses[3])
    _, losses, error = fm.train_deep(None, steps=100)
    assert error is None and losses[-1] < 0.05


# --- 4. numerical bugs ---------------------------------------------------------------------------


def test_both_naive_losses_are_right_on_ordinary_logits():
    rng = np.random.default_rng(0)
    logits, labels = 3 * rng.standard_normal((20, 4)), rng.integers(0, 4, 20)
    loss, d_logits = sm.softmax_cross_entropy(logits, labels)
    for softmax in (sm.softmax, fm.softmax_no_max):
        naive_loss, naive_d = fm.cross_entropy_via_softmax(logits, labels, softmax)
        assert naive_loss == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(naive_d, d_logits, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fm.softmax_no_max(logits), sm.softmax(logits), rtol=1e-12)


def test_softmax_without_the_max_overflows_to_nan():
    with np.errstate(over="ignore", invalid="ignore"):
        p = fm.softmax_no_max(np.array([[1000.0, 0.0]]))
    assert math.isnan(p[0, 0]) and p[0, 1] == 0.0
    np.testing.assert_array_equal(sm.softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])


def test_where_each_way_of_computing_the_loss_breaks():
    margins = np.array([700.0, 709.0, 710.0, 744.0, 746.0, 1e4])
    wrong = fm.three_losses(margins, label=1)
    np.testing.assert_allclose(wrong["softmax_cross_entropy"], margins, rtol=1e-15)
    assert np.isfinite(wrong["log(softmax without the max)"][:2]).all()
    assert np.isinf(wrong["log(softmax without the max)"][2:]).all()
    assert np.isfinite(wrong["log(softmax)"][:4]).all()
    assert np.isinf(wrong["log(softmax)"][4:]).all()
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

        with np.errstate(divide="ignore"), pytest.raises(FloatingPointError) as raised:
            sm.train(fm.deep_network(1.0), X, labels, loss_fn, sm.SGD(1e-3), steps=1)
        assert f"the loss is {value} at step 0, before any update" in str(raised.value)


# --- 5. false alarms -----------------------------------------------------------------------------


def test_float32_differences_fail_a_correct_gradient_that_float64_passes():
    params, X, y = fm.sine_bench()
    analytic, numeric, kinks, floor = fm.gradients(params, X, y, sm.mse_loss, dtype=np.float32)
    errors = {
        name: sm.relative_error(analytic[name], numeric[name], floor)[~kinks[name]].max()
        for name in params
    }
    assert all(errors[name] > 1e-2 for name in ("W1", "b1", "W2")), errors
    assert errors["b2"] > 1e-4
    params32 = {name: p.astype(np.float32) for name, p in params.items()}
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    assert all(e < 1e-7 for e in sm.grad_check(params32, X32, y32, sm.mse_loss).values())
    # The float32 backward pass itself is right to float32's precision, and no better.
    analytic32 = fm.backprop(params32, X32, y32, sm.mse_loss)
    _, numeric64, kinks, floor = fm.gradients(params, X, y, sm.mse_loss)
    for name in params:
        error = sm.relative_error(analytic32[name].astype(np.float64), numeric64[name], floor)
        assert 1e-8 < error[~kinks[name]].max() < 1e-6, name


def test_float32_v_never_gets_below_1e_3():
    float64 = fm.error_versus_h(np.float64, fm.STEPS_H["float64"])
    float32 = fm.error_versus_h(np.float32, fm.STEPS_H["float32"])
    assert float64.min() < 1e-9 and float64[0] > 0.5  # kinks crossed at h = 0.1
    assert float32.min() > 1e-3 and float32[-1] > 0.5


def test_a_kink_fails_a_check_that_does_not_look_for_it():
    params, X, y = fm.kink_bench()
    assert not (X[3] @ params["W1"] + params["b1"]).any()  # every unit on its kink at x = 0
    naive = fm.naive_check(params, X, y, sm.mse_loss)
    assert naive["b1"] > 0.3 and sm.grad_check_verdict(naive["b1"]) == "BUG"
    assert all(naive[name] < 1e-7 for name in ("W1", "W2", "b2"))
    rows = {row["name"]: row for row in sm.grad_check_report(params, X, y, sm.mse_loss)}
    assert rows["b1"]["kinks"] == 16 and rows["b1"]["checked"] == 0
    assert all(row["max_rel_error"] < 1e-7 for row in rows.values())


def test_the_kink_error_is_half_the_kinked_examples_contribution():
    params, X, y = fm.kink_bench()
    analytic, numeric, _, _ = fm.gradients(params, X, y, sm.mse_loss)
    d_out = sm.mse_loss(sm.mlp_forward(params, X)[0], y)[1]
    half = 0.5 * d_out[3, 0] * params["W2"][:, 0]
    np.testing.assert_allclose(numeric["b1"][0] - analytic["b1"][0], half, rtol=1e-4)


def test_a_non_zero_bias_moves_the_check_off_the_kink():
    rows = sm.grad_check_report(*fm.kink_bench(hidden_bias=0.1), sm.mse_loss)
    assert all(row["kinks"] == 0 and row["max_rel_error"] < 1e-7 for row in rows)
    assert sum(row["checked"] for row in rows) == 16 + 16 + 16 + 1
