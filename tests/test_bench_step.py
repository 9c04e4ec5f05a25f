"""The benchmark script runs, and counts its FLOPs right. It times nothing here: a smoke test."""

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_step.py"
_spec = importlib.util.spec_from_file_location("bench_step", SCRIPT)
bench_step = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_step)


def test_matmul_flops_of_one_step():
    # Forward: 2 N (784 * 256 + 256 * 10); backward: the same again for the weight gradients,
    # plus 2 N 256 * 10 for the gradient of the hidden layer; none for the input.
    N = 1024
    forward = 2 * N * (784 * 256 + 256 * 10)
    assert bench_step.matmul_flops([784, 256, 10], N) == 2 * forward + 2 * N * 256 * 10


def test_the_benchmark_runs_without_torch():
    argv = ["--no-torch", "--threads", "1", "--rounds", "2", "--round-seconds", "0.01"]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--settle", "0"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = result.stdout
    assert "measuring this project alone" in out
    for name in ("scratch_mlp", "article loop", "NumPy (OpenBLAS)", "Memory"):
        assert name in out
    assert "PyTorch eager" not in out.split("Bars")[0]
