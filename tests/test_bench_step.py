"""The benchmark: every implementation runs and the table prints; bad options are refused in one
line before anything starts; a worker that fails stops it at once. A smoke test: it times nothing.
"""

import os
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pytest
from conftest import require

from benchmarks import bench_step  # the repository root is on sys.path (pyproject.toml)


class InProcess:
    """A stand-in for ``bench_step.Worker`` that runs its generator in this process."""

    def __init__(self, generator, *args):
        self.answers, self.pool = generator(*args), self

    def __call__(self):
        return next(self.answers)

    def ask(self):
        future = Future()
        future.set_result(self())
        return future

    def shutdown(self, **options):
        pass


def test_one_quick_round_of_every_implementation_prints_the_table(monkeypatch, capsys):
    require("torch"), require("sklearn")
    monkeypatch.setattr(bench_step, "Worker", InProcess)
    article, *others = bench_step.STEP_PROBLEMS  # the article's problem, and a tiny classifier
    tiny = {article: bench_step.STEP_PROBLEMS[article], "16-8-10": ([16, 8, 10], 32, "float32", 2)}
    monkeypatch.setattr(bench_step, "STEP_PROBLEMS", tiny)
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")  # main sets them for its workers: here, this process
    assert bench_step.main(["--quick", "--rounds", "1", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    for title in bench_step.STEP_PROBLEMS:
        assert f"Time per step, {title}" in out
    assert "Time per epoch, digits" in out
    for name in ("scratch_mlp", "article loop", "PyTorch eager", "scikit-learn MLPClassifier"):
        assert f"\n  {name} " in out
    assert "x scratch_mlp" in out and "held-out accuracy" in out
    assert "over 1 round." in out and err == ""


def test_one_round_gives_its_own_times_as_quartiles_and_the_ratio_to_scratch_mlp():
    results = {"a step": {"scratch_mlp": [(0.002, None)], "other": [(0.005, 0.5)]}}
    lines = bench_step.table(results, 1)
    assert lines[2].split() == ["scratch_mlp", "2.000", "ms", "2.000-2.000"]
    assert lines[3].split()[1:] == ["5.000", "ms", "5.000-5.000", "2.50", "50.0%", "(50.0%-50.0%)"]


BAD_OPTIONS = [
    ["--threads", "0"], ["--threads", "1.5"], ["--threads", ""], ["--threads"],
    ["--threads", str(bench_step.cores() + 1)],  # more than NumPy's BLAS would start
    ["--rounds", "0"], ["--rounds", "two"], ["--rounds", "9" * 5000],  # more digits than int reads
    ["--rounds=many", "--quick"], ["--quick=yes"],
]  # fmt: skip


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
    usage, error = err.splitlines()
    assert out == "" and usage.startswith("usage:")
    assert f"error: argument {argv[0].split('=')[0]}: " in error
    assert dict(os.environ) == environment  # the workers' thread settings are not even set


def test_the_defaults_and_what_it_says_without_pytorch(monkeypatch):
    default, quick = bench_step.parse_options([]), bench_step.parse_options(["--quick"])
    assert quick.rounds < default.rounds and 1 <= default.threads <= bench_step.cores()
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


@pytest.mark.parametrize(
    "job, error, says",
    [
        ((bench_step.scratch_mlp_steps, "no such problem", 2, 1), KeyError, "no such problem"),
        ((bench_step.scratch_mlp_steps, next(iter(bench_step.STEP_PROBLEMS)), -1, 1), ValueError,
         "steps must be"),
        ((os._exit, 3), BrokenProcessPool, None),  # its process ends at once, without a word
    ],
    ids=["fails to start", "raises", "dies"],
)  # fmt: skip
def test_a_worker_that_fails_stops_the_run_at_once_with_its_error(job, error, says):
    worker = bench_step.Worker(*job)
    try:
        future = worker.ask()
        if error is ValueError:  # it says what it runs on, then trains -1 steps
            assert "numpy" in future.result(timeout=30)
            future = worker.ask()
        with pytest.raises(error, match=says) as raised:
            future.result(timeout=30)
        if error is ValueError:
            assert "scratch_mlp_steps" in str(raised.value.__cause__)  # the worker's traceback
    finally:
        worker.pool.shutdown()
