"""The benchmark, smoke-tested: every implementation runs and the table prints; a bad option or a
missing library is refused in one line before anything starts; a failing worker stops the run."""

import os
import re
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
    article = next(iter(bench_step.STEP_PROBLEMS))  # the article's problem, and a tiny one
    tiny = {article: bench_step.STEP_PROBLEMS[article], "16-8-10": ([16, 8, 10], 32, "float32", 2)}
    monkeypatch.setattr(bench_step, "STEP_PROBLEMS", tiny)
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, "1")  # main sets them for its workers: here, this process
    assert bench_step.main(["--quick", "--rounds", "1", "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    titles = [line for line in out.splitlines() if line.startswith("Time per")]
    assert titles[:2] == [f"Time per step, {title}" for title in tiny] and len(titles) == 3
    rows = [re.split(r" {2,}", line)[1] for line in out.splitlines() if re.match(r"  \S", line)]
    assert rows == [
        "scratch_mlp", "article loop", "PyTorch eager", "scratch_mlp", "PyTorch eager",
        "scratch_mlp", "scikit-learn MLPClassifier",
    ]  # fmt: skip
    assert "over 1 round." in out and err == ""


def test_the_table_gives_a_rounds_quartiles_and_each_row_s_time_over_scratch_mlp_s():
    results = {"a step": {"scratch_mlp": [(0.002, None)], "other": [(0.005, 0.5)]}}
    lines = bench_step.table(results, rounds=1)
    assert lines[2].split() == ["scratch_mlp", "2.000", "ms", "2.000-2.000"]
    assert lines[3].split()[1:] == ["5.000", "ms", "5.000-5.000", "2.50", "50.0%", "(50.0%-50.0%)"]


@pytest.mark.parametrize(
    "argv",
    [["--threads", "0"], ["--threads", str(bench_step.cores() + 1)], ["--rounds", "0"],
     ["--rounds", "9" * 5000], ["--rounds=many", "--quick"], ["--quick=yes"]],
    ids=lambda argv: " ".join(argv)[:24],
)  # fmt: skip
def test_a_bad_option_is_refused_in_one_line_before_anything_starts(argv, monkeypatch, capsys):
    monkeypatch.setattr(bench_step, "Worker", None)  # starting one would raise a TypeError
    environment = dict(os.environ)
    with pytest.raises(SystemExit) as exit_:
        bench_step.main(argv)
    out, err = capsys.readouterr()
    usage, error = err.splitlines()
    assert exit_.value.code == 2 and out == "" and usage.startswith("usage:")
    assert f"error: argument {argv[0].split('=')[0]}: " in error
    assert dict(os.environ) == environment  # the workers' thread settings are not even set


def test_without_pytorch_it_says_what_to_install(monkeypatch):
    real_find_spec = bench_step.importlib.util.find_spec
    monkeypatch.setattr(
        bench_step.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "torch" else real_find_spec(name, *args),
    )
    monkeypatch.setattr(bench_step, "Worker", None)
    with pytest.raises(SystemExit, match=r"needs torch: pip install -r requirements-bench\.txt"):
        bench_step.main(["--quick"])


@pytest.mark.parametrize(
    "job, error",
    [((bench_step.scratch_mlp_steps, next(iter(bench_step.STEP_PROBLEMS)), -1, 1), ValueError),
     ((os._exit, 3), BrokenProcessPool)],  # its process ends at once, without a word
    ids=["raises", "dies"],
)  # fmt: skip
def test_a_worker_that_fails_stops_the_run_with_its_error(job, error):
    worker = bench_step.Worker(*job)
    try:
        if error is ValueError:  # it says what it runs on, then trains -1 steps
            assert "numpy" in worker.ask().result(timeout=30)
        with pytest.raises(error) as raised:
            worker.ask().result(timeout=30)
        if error is ValueError:
            assert "scratch_mlp_steps" in str(raised.value.__cause__)  # the worker's traceback
    finally:
        worker.pool.shutdown()
