"""The benchmark runs, and a worker that fails stops it at once. A smoke test: it times nothing.

The benchmark needs PyTorch and scikit-learn (requirements-bench.txt). Where either is missing the
tests that run the benchmark are skipped, except where REQUIRE_TORCH=1 (as in CI): there they fail.
"""

import importlib
import os
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool

import pytest

from benchmarks import bench_step  # the repository root is on sys.path (conftest.py)

ARTICLE = next(iter(bench_step.STEP_PROBLEMS))


def outcome_within(seconds: float, call):
    """The exception ``call()`` raises, or None; fails if it has not returned after ``seconds``."""
    outcome = {}

    def run():
        try:
            call()
        except Exception as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return outcome.get("error")


@pytest.fixture(scope="module")
def quick_run():
    for module in ("torch", "sklearn"):
        if os.environ.get("REQUIRE_TORCH") == "1":
            importlib.import_module(module)  # an ImportError fails the test instead of skipping
        else:
            pytest.importorskip(module)
    script = bench_step.__file__
    return subprocess.run(
        [sys.executable, script, "--quick"], capture_output=True, text=True, timeout=60
    )


def test_quick_run_prints_the_table(quick_run):
    assert quick_run.returncode == 0, quick_run.stderr
    out = quick_run.stdout
    for title in bench_step.STEP_PROBLEMS:
        assert f"Time per step, {title}" in out
    assert "Time per epoch, digits" in out
    for name in ("scratch_mlp", "article loop", "PyTorch eager", "scikit-learn MLPClassifier"):
        assert f"\n  {name} " in out
    assert "x scratch_mlp" in out and "held-out accuracy" in out
    assert quick_run.stderr == ""  # no warnings on the way


def test_the_table_reports_no_verdicts(quick_run):
    words = quick_run.stdout.lower()
    assert not any(word in words for word in ("target", "bar", "missed", "pass", "fail"))


def test_a_worker_that_raises_fails_at_once_with_its_error():
    worker = bench_step.Worker(bench_step.scratch_mlp_steps, ARTICLE, -1, 1)  # -1 steps
    try:
        assert "numpy" in worker()  # what it runs on
        error = outcome_within(30, worker)  # then it trains -1 steps
    finally:
        worker.pool.shutdown()
    assert isinstance(error, ValueError)
    assert "steps must be" in str(error)
    assert "scratch_mlp_steps" in str(error.__cause__)  # the worker's traceback


def test_a_worker_that_fails_to_start_fails_at_once():
    worker = bench_step.Worker(bench_step.scratch_mlp_steps, "no such problem", 2, 1)
    try:
        error = outcome_within(30, worker)
    finally:
        worker.pool.shutdown()
    assert isinstance(error, KeyError)


def test_a_worker_that_dies_fails_at_once():
    worker = bench_step.Worker(os._exit, 3)  # ends its process at once, without a word
    try:
        error = outcome_within(30, worker)
    finally:
        worker.pool.shutdown()
    assert isinstance(error, BrokenProcessPool)


def test_the_digits_split_is_whole_batches():
    assert bench_step.N_TRAIN % bench_step.BATCH == 0
    assert bench_step.N_TRAIN + bench_step.N_HELD_OUT == 1797  # the images in load_digits
