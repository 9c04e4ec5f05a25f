"""The step-size page, checked: its curvature measurements and the claims its prose makes.

The page is imported, not copied: the functions tested here are the ones that print its tables.
The oracles are independent of the power iteration they check: the whole Hessian's eigenvalues,
the output layer's Hessian written in closed form, and the loss curve of ``train`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratch_mlp as sm
from docs import step_size as ss

LR = 0.01  # the article's


# Figures a test draws go to a temporary folder.
pytestmark = pytest.mark.usefixtures("in_temporary_folder")


@pytest.fixture(scope="module")
def start():
    return ss.article_start()


@pytest.fixture(scope="module")
def top_at_start(start):
    return ss.top_curvature(*start)


@pytest.mark.parametrize(("lr", "factor"), [(0.05, 0.5), (0.15, -0.5), (0.21, -1.1)])
def test_each_step_on_a_bowl_multiplies_the_distance_by_one_minus_lr_lambda(lr, factor):
    path = ss.descend_on_a_bowl(10.0, lr, c0=1.0, steps=6)
    np.testing.assert_allclose(path[1:] / path[:-1], factor, rtol=1e-12)


def test_power_iteration_finds_the_largest_eigenvalue_of_the_whole_hessian(start, top_at_start):
    params, X, y = start
    H = ss.hessian(params, X, y)
    assert H.shape == (193, 193)
    eigenvalues, eigenvectors = np.linalg.eigh(H)
    curvature, v = top_at_start
    assert curvature == pytest.approx(eigenvalues[-1], rel=1e-6)
    assert abs(v @ eigenvectors[:, -1]) == pytest.approx(1, abs=1e-6)  # the same direction
    assert abs(eigenvalues[0]) < eigenvalues[-1]  # largest in size is the largest: no sign trap


def test_the_hessian_of_the_output_layer_is_two_j_transpose_j_over_n(start):
    # The loss is exactly quadratic in W2 and b2: a closed form the finite differences must match.
    params, X, y = start
    H = ss.hessian(params, X, y)
    A1 = np.maximum(0, X @ params["W1"] + params["b1"])
    J = np.hstack([A1, np.ones((len(X), 1))])
    output = slice(128, 193)  # W2 (64 entries) then b2 (1), after W1 and b1
    np.testing.assert_allclose(H[output, output], 2 * J.T @ J / len(X), atol=1e-6)
    assert ss.output_layer_curvature(params, X) == pytest.approx(
        np.linalg.eigvalsh(H[output, output])[-1], rel=1e-8
    )


def test_the_tangent_kernels_top_eigenvalue_nearly_equals_lambda_max_at_the_start(
    start, top_at_start
):
    # The neural tangent kernel of the loss mean((out - y)^2): 2 J J^T / N, with J the outputs'
    # derivatives in every parameter, written out by hand for [1, 64, 1] (an oracle independent
    # of the finite differences behind the Hessian).
    params, X, y = start
    Z1 = X @ params["W1"] + params["b1"]
    on = (Z1 > 0) * params["W2"].T  # d out / d Z1, (N, 64)
    J = np.hstack([X * on, on, np.maximum(0, Z1), np.ones((len(X), 1))])  # W1, b1, W2, b2
    kernel_top = np.linalg.eigvalsh(2 * J @ J.T / len(X))[-1]
    assert kernel_top == pytest.approx(top_at_start[0], rel=0.01)
    # The output layer's curvature is the top of a diagonal block of that matrix: a lower bound.
    assert ss.output_layer_curvature(params, X) <= kernel_top


def test_past_0_015_some_rates_end_above_the_articles_loss_and_some_below(start):
    rates = (0.01, 0.016, 0.018, 0.02)
    final = dict(zip(rates, ss.final_losses(*start, rates), strict=True))
    assert np.all(np.isfinite(list(final.values())))  # none diverged
    assert final[0.016] > final[0.01] and final[0.02] > final[0.01]  # the bumps
    assert final[0.018] < final[0.01]


def test_the_article_starts_just_past_the_limit_and_the_gradient_along_v_grows_as_predicted(
    start,
):
    climb = ss.sgd_with_curvature(*start, LR, steps=4)
    curvature = climb["curvature"]
    assert curvature[0] > 2 / LR
    predicted = np.abs(1 - LR * curvature[:4])
    np.testing.assert_allclose(climb["growth"][:4], predicted, rtol=0.01)
    assert np.all(climb["growth"][:4] > 1)  # it grows: the climb


def test_the_loss_peaks_where_lambda_max_falls_below_two_over_lr(start):
    climb = ss.sgd_with_curvature(*start, LR, steps=26, iterations=8)
    # The page's loss is train's own loss curve, step for step.
    params, X, y = start
    losses = sm.train({k: p.copy() for k, p in params.items()}, X, y, sm.mse_loss, sm.SGD(LR), 27)
    np.testing.assert_allclose(climb["loss"], losses, rtol=1e-12)
    peak = int(np.argmax(climb["loss"]))
    crossing = int(np.argmax(climb["curvature"] < 2 / LR))
    assert 10 < peak < 26 and climb["loss"][peak] > 4 * climb["loss"][0]  # a real climb
    assert abs(crossing - peak) <= 2


def test_sgd_converges_past_two_over_lambda_max_and_diverges_well_beyond_it(start, top_at_start):
    limit = 2 / top_at_start[0]
    assert 0.009 < limit < LR  # the article's rate is already past it
    past = 1.9 * limit  # 0.018: past the quadratic limit, below the edge
    losses, params_end = ss.sgd_losses(*start, past, steps=500)
    assert params_end is not None and len(losses) == 500
    assert losses.max() > 100 * losses[0]  # the catapult: a climb first
    assert losses[-1] < ss.sgd_losses(*start, LR, steps=500)[0][-1]  # then better than lr 0.01
    # Its curvature at the end is below 2 / lr: it has flattened the loss it trains on.
    assert ss.top_curvature(params_end, *start[1:])[0] < 2 / past
    losses, params_end = ss.sgd_losses(*start, 3.2 * limit, steps=500)  # 0.03
    assert params_end is None and len(losses) < 100


def test_edge_reads_the_last_safe_rate_the_first_divergence_and_where_all_diverge():
    rates = np.array([1, 2, 3, 4, 5, 6, 7])
    final = np.array([0.1, 0.1, np.inf, 0.2, np.inf, np.inf, np.inf])
    assert ss.edge(rates, final) == (2, 3, 5)


def test_final_losses_marks_a_diverged_run_as_inf(start):
    final = ss.final_losses(*start, [LR, 0.05], steps=50)
    assert np.isfinite(final[0]) and final[0] < 1 and final[1] == np.inf
