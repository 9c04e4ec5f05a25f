"""The benchmark runs, refuses bad options before it starts anything, and a worker that fails
stops it at once. A smoke test: it times nothing.

The benchmark needs PyTorch and scikit-learn (requirements-bench.txt). Where either is missing the
tests that run the benchmark are skipped, except where REQUIRE_TORCH=1 (as in CI): there they fail.
"""

import importlib
import os
import subprocess
import sys
import threading
import time
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
    return subprocess.run(  # little work in one round: every row of the table, in a few seconds
        [sys.executable, script, "--quick", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=60,
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
    assert "over 1 round." in out  # --rounds given with --quick wins
    assert quick_run.stderr == ""  # no warnings on the way


def test_the_table_reports_no_verdicts(quick_run):
    words = quick_run.stdout.lower()
    assert not any(word in words for word in ("target", "bar", "missed", "pass", "fail"))


BAD_OPTIONS = [
    ["--threads", "0"],
    ["--threads", "-1"],
    ["--threads", "1.5"],
    ["--threads", "two"],
    ["--threads", ""],
    ["--threads", str(bench_step.cores() + 1)],  # more than NumPy's BLAS would start
    ["--threads", "100000"],  # libgomp cannot create them
    ["--threads"],
    ["--rounds", "0"],
    ["--rounds", "-3"],
    ["--rounds", "2.5"],
    ["--rounds", "1e3"],
    ["--rounds", "9" * 5000],  # more digits than int() reads
    ["--rounds=many", "--quick"],
    ["--quick=yes"],
]


@pytest.mark.parametrize("argv", BAD_OPTIONS, ids=lambda argv: " ".join(argv)[:24])
def test_a_bad_option_is_refused_in_one_line_before_anything_starts(argv, monkeypatch, capsys):
    def no_worker(*args):
        raise AssertionError("a worker was started")

    monkeypatch.setattr(bench_step, "Worker", no_worker)
    environment = dict(os.environ)
    begin = time.perf_counter()
    with pytest.raises(SystemExit) as exit_:
        bench_step.main(argv)
    assert time.perf_counter() - begin < 1.0
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 and lines[0].startswith("usage:")
    assert f"error: argument {argv[0].split('=')[0]}: " in lines[1]
    assert "Traceback" not in err
    assert dict(os.environ) == environment  # the workers' thread settings are not even set


def test_threads_0_on_the_command_line_ends_in_two_lines_and_status_2():
    result = subprocess.run(
        [sys.executable, bench_step.__file__, "--threads", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and result.stdout == ""
    usage, error = result.stderr.splitlines()  # no libgomp warnings, no worker's traceback
    assert usage.startswith("usage: bench_step.py")
    assert error.startswith("bench_step.py: error: argument --threads: ")


def test_rounds_given_win_over_quick():
    default, quick = bench_step.parse_options([]), bench_step.parse_options(["--quick"])
    assert quick.rounds < default.rounds
    assert bench_step.parse_options(["--quick", "--rounds", "5"]).rounds == 5
    assert bench_step.parse_options(["--rounds", "1"]).rounds == 1
    assert 1 <= default.threads <= bench_step.cores()


def test_without_pytorch_it_says_so_before_anything_starts(monkeypatch):
    real_find_spec = bench_step.importlib.util.find_spec
    monkeypatch.setattr(
        bench_step.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "torch" else real_find_spec(name, *args),
    )
    monkeypatch.setattr(bench_step, "Worker", None)  # calling it would raise a TypeError
    with pytest.raises(SystemExit) as exit_:
        bench_step.main(["--quick"])
    assert "torch" in str(exit_.value.code) and "requirements-bench.txt" in str(exit_.value.code)


def test_one_round_gives_its_own_times_as_quartiles():
    results = {"a step": {"scratch_mlp": [(0.002, None)], "other": [(0.005, 0.5)]}}
    lines = bench_step.table(results, 1)
    assert "  2.000 ms     2.000-2.000" in lines[2]
    assert lines[3].split()[1:5] == ["5.000", "ms", "5.000-5.000", "2.50"]  # 5 ms / 2 ms
    assert "over 1 round." in lines[4]


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
