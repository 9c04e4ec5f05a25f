"""Shared fixtures: the repository root on sys.path, so tests import the top-level module."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The figures `python scratch_mlp.py` writes, in the order its sections write them.
MODULE_FIGURES = [
    "01_article_loss.png",
    "01_article_fit.png",
    "02_dead_neurons.png",
    "05_bias_correction.png",
    "05_sgd_vs_adam.png",
    "06_spiral_decision_regions.png",
]


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def copy_params(params):
    return {name: p.copy() for name, p in params.items()}


def assert_params_equal(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name
