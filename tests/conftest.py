"""Shared fixtures and functions. pytest puts the project root on sys.path (``pythonpath`` in
pyproject.toml), so every test imports the module as ``import scratch_mlp``."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# The networks here are tiny: BLAS threads only wait on each other, several times slower than one
# thread on a busy 2-core machine. One thread, for this process and the scripts it starts (set
# before NumPy loads; a value already in the environment wins).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

# Hypothesis keeps caches in ./.hypothesis; tests write only under temporary directories.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis_")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)

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
def in_temporary_folder(tmp_path, monkeypatch):
    """Run the test in a temporary folder, where a page's figures/ may be written."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def copy_params(params):
    return {name: p.copy() for name, p in params.items()}


def assert_params_equal(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


# ---- `python scratch_mlp.py`, run once per test run -------------------------------------------
# Twice in fact, at the same time: once where it can write figures/, once where it cannot (a file
# named `figures` is in the way; chmod would not stop root). Both start as soon as collection
# shows a test that needs them, so they run while the other tests do.

_script_runs = {}


def _start_script_runs():
    for kind in ("written", "blocked"):
        cwd = Path(tempfile.mkdtemp(prefix=f"scratch_mlp_{kind}_"))
        if kind == "blocked":
            (cwd / "figures").write_text("a file, not a folder\n")
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _script_runs[kind] = (cwd, process)


def pytest_collection_finish(session):
    if any("script_runs" in getattr(item, "fixturenames", ()) for item in session.items):
        _start_script_runs()


@pytest.fixture(scope="session")
def script_runs():
    """``{"written" | "blocked": (cwd, returncode, stdout lines, stderr)}``."""
    if not _script_runs:
        _start_script_runs()
    results = {}
    for kind, (cwd, process) in _script_runs.items():
        stdout, stderr = process.communicate(timeout=600)
        results[kind] = (cwd, process.returncode, stdout.splitlines(), stderr)
    yield results
    for cwd, _ in _script_runs.values():
        shutil.rmtree(cwd, ignore_errors=True)


def pytest_sessionfinish(session):
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
    # A run stopped before the fixture (-x, a deselection): do not leave the scripts behind.
    for cwd, process in _script_runs.values():
        if process.poll() is None:
            process.kill()
            process.communicate()
        shutil.rmtree(cwd, ignore_errors=True)
