"""Shared fixtures and helpers. pytest puts the project root on sys.path (``pythonpath`` in
pyproject.toml), so every test imports the module as ``import scratch_mlp``."""

import os
import re
from pathlib import Path

# The networks here are tiny: BLAS threads only wait on each other, several times slower than one
# thread on a busy 2-core machine. One thread, for this process and the scripts it starts (set
# before NumPy loads; a value already in the environment wins).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scratch_mlp.py"

# The figures `python scratch_mlp.py` writes, in the order its sections write them, read from
# the `save_figure(fig, "<name>", ...)` calls of the source.
MODULE_FIGURES = re.findall(r'save_figure\(\s*fig,\s*"([^"]+)"', SCRIPT.read_text("utf-8"))

# The article's published output: its loop prints these five lines, and so must the script.
ARTICLE_LINES = [
    "Step     0 loss=1.590716",
    "Step   500 loss=0.103490",
    "Step  1000 loss=0.068768",
    "Step  1500 loss=0.054070",
    "Step  2000 loss=0.042415",
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
