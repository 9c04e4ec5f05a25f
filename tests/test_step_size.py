"""The step-size page against oracles apart from its power iteration: the whole Hessian, the
output layer's Hessian in closed form, the tangent kernel by hand, and ``train``'s own losses."""

import numpy as np
import pytest

import scratch_mlp as sm
from docs import step_size as ss

LR = 0.01  # the article's


def test_each_step_on_a_bowl_multiplies_the_distance_by_one_minus_lr_lambda():
    for lr, factor in [(0.05, 0.5), (0.15, -0.5), (0.21, -1.1)]:  # a slide, zigzags in and out
        path = ss.descend_on_a_bowl(10.0, lr)
        np.testing.assert_allclose(path[1:] / path[:-1], factor, rtol=1e-12)


def test_power_iteration_the_whole_hessian_and_two_closed_forms_agree_at_the_start():
    params, X, y = ss.article_start()
    eigenvalues, eigenvectors = np.linalg.eigh(H := ss.hessian(params, X, y))
    curvature, v = ss.top_curvature(params, X, y)
    assert curvature == pytest.approx(eigenvalues[-1], rel=1e-6)
    assert abs(v @ eigenvectors[:, -1]) == pytest.approx(1, abs=1e-6)  # the same direction
    # Two steep directions, one past 2 / lr and one inside; a step moves the rest by 3% at most.
    assert 1 / LR < eigenvalues[-2] < 2 / LR < eigenvalues[-1]
    assert np.abs(eigenvalues[:-2]).max() < 0.03 / LR
    # The loss is exactly quadratic in W2 and b2, the last 65 entries: its Hessian is 2 J^T J / N.
    Z1 = X @ params["W1"] + params["b1"]
    J = np.hstack([np.maximum(0, Z1), np.ones((len(X), 1))])
    np.testing.assert_allclose(H[-65:, -65:], 2 * J.T @ J / len(X), atol=1e-6)
    output = ss.output_layer_curvature(params, X)
    assert output == pytest.approx(np.linalg.eigvalsh(H[-65:, -65:])[-1], rel=1e-8)
    # The tangent kernel 2 J J^T / N, J the output's derivatives in all 193 parameters.
    J = np.hstack([X * (Z1 > 0) * params["W2"].T, (Z1 > 0) * params["W2"].T, J])
    kernel_top = np.linalg.eigvalsh(2 * J @ J.T / len(X))[-1]
    assert output <= kernel_top == pytest.approx(curvature, rel=0.01)


def test_the_articles_loss_climbs_as_predicted_and_peaks_where_lambda_max_crosses_2_over_lr():
    params, X, y = ss.article_start()
    climb = ss.sgd_with_curvature(params, X, y, LR, steps=26, iterations=8)
    losses = sm.train(params, X, y, sm.mse_loss, sm.SGD(LR), 27)
    np.testing.assert_allclose(climb["loss"], losses, rtol=1e-12)  # train's own loss curve
    curvature = climb["curvature"]  # above 2 / lr at the start (the Hessian test)
    np.testing.assert_allclose(climb["growth"][:4], np.abs(1 - LR * curvature[:4]), rtol=0.01)
    assert np.all(climb["growth"][:4] > 1)  # g . v grows: the climb
    peak, crossing = int(np.argmax(climb["loss"])), int(np.argmax(curvature < 2 / LR))
    assert climb["loss"][peak] > 4 * climb["loss"][0] and abs(crossing - peak) <= 2


def test_past_2_over_lambda_max_sgd_catapults_to_a_flatter_place_and_further_on_diverges():
    start = ss.article_start()  # lambda_max > 200 (the Hessian test): 0.018 > 1.8 * 2 / lambda_max
    article, *bumps, past = ss.final_losses(*start, [LR, 0.016, 0.02, 0.03])
    losses, params_end = ss.sgd_losses(*start, 0.018, steps=500)
    assert losses.max() > 100 * losses[0]  # a climb first
    assert ss.top_curvature(params_end, *start[1:])[0] < 2 / 0.018  # to where it is flatter
    assert losses[-1] < article < min(bumps) <= max(bumps) < np.inf  # 0.018 lower, two bumps
    assert past == np.inf


def test_edge_reads_the_last_safe_rate_the_first_divergence_and_where_all_diverge():
    final = np.array([0.1, 0.1, np.inf, 0.2, np.inf, np.inf, np.inf])
    assert ss.edge(np.arange(1, 8), final) == (2, 3, 5)
