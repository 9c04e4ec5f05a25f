"""What one training step costs: scratch_mlp against PyTorch eager, on a noisy machine.

    python benchmarks/bench_step.py                 # 2 threads, 30 rounds, about 2 minutes
    python benchmarks/bench_step.py --threads 1     # another thread count
    python benchmarks/bench_step.py --no-torch      # this project alone

Problems:

1. the article's: 200 x 1 -> 64 -> 1, float64, MSE, SGD(lr=0.01), full batch;
2. an MNIST-sized classifier: 784 -> 256 -> 10, float32, softmax cross-entropy, Adam(lr=1e-3),
   on synthetic data, at batch 128 and 1024;
3. a float32 2048 x 2048 matrix product, for the machine's matmul throughput.

Implementations: "scratch_mlp" is ``scratch_mlp.train`` itself (forward, loss, backward, optimizer
step, per step); "article loop" is ``scratch_mlp.article_loop``, the article's loop verbatim;
"PyTorch eager" is ``torch_train`` from docs/pytorch.py (``zero_grad``, forward, loss,
``backward()``, ``torch.optim`` step), started from the same weights.

How it measures. Each implementation runs in a process of its own, so that no library's threads,
allocator or caches affect another's. The processes take turns: in every round each one, after
a pause that lets the previous one's spinning threads go to sleep, resets its parameters and
optimizer, takes one untimed step, then times a block of steps. The order reverses every other
round. Per-step times are block times divided by the block's steps; the table gives their median
and quartiles over the rounds, and each ratio is the median of the ratios of the two times taken in
the same round, which is what holds when the machine's load changes from minute to minute.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROBLEMS = {
    # name: (layer sizes, batch, dtype, loss, optimizer)
    "sine": ([1, 64, 1], 200, "float64", "mse", "sgd"),
    "mnist-128": ([784, 256, 10], 128, "float32", "cross-entropy", "adam"),
    "mnist-1024": ([784, 256, 10], 1024, "float32", "cross-entropy", "adam"),
}
PROBLEM_TITLES = {
    "sine": "sine 1-64-1 N=200 f64",
    "mnist-128": "784-256-10 N=128 f32",
    "mnist-1024": "784-256-10 N=1024 f32",
}
IMPLEMENTATION_NAMES = {"numpy": "scratch_mlp", "article": "article loop", "torch": "PyTorch eager"}
MATMUL_SIZE = 2048

# The bars, as ratios of median step times (this project / the other): at most this much.
BARS = {
    ("sine", "torch"): 1 / 2.5,
    ("sine", "article"): 1.0,
    ("mnist-128", "torch"): 0.85,
    ("mnist-1024", "torch"): 0.85,
}
MATMUL_FRACTION_BAR = 0.60


def matmul_flops(sizes, batch: int) -> int:
    """Floating-point operations in the matrix products of one forward and backward pass.

    Forward ``A @ W`` for every layer; backward ``A.T @ d_Z`` (dW) for every layer and
    ``d_Z @ W.T`` (d_A) for every layer but the first: neither implementation computes the gradient
    of the data. A product of (n, k) and (k, m) is 2 n k m operations.
    """
    layers = list(zip(sizes[:-1], sizes[1:], strict=True))
    forward = sum(2 * batch * d_in * d_out for d_in, d_out in layers)
    d_weights = forward
    d_inputs = sum(2 * batch * d_in * d_out for d_in, d_out in layers[1:])
    return forward + d_weights + d_inputs


# ---------------------------------------------------------------------------------------------
# The worker side: one process per (implementation, problem).


def _load_torch_twin():
    """docs/pytorch.py as a module: the PyTorch network and loop that the parity tests check."""
    spec = importlib.util.spec_from_file_location("pytorch_page", ROOT / "docs" / "pytorch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_problem(name: str, seed: int = 0):
    """``(params, X, y, loss_fn, make_optimizer)`` for a problem, as NumPy data."""
    import numpy as np

    import scratch_mlp

    sizes, batch, dtype, loss, optimizer = PROBLEMS[name]
    rng = np.random.default_rng(seed)
    if name == "sine":
        # The article's data and initialisation, from its seed.
        article_rng = np.random.RandomState(0)
        X, y = scratch_mlp.make_sine_data(article_rng, n=batch)
        params = scratch_mlp.init_mlp(sizes, article_rng)
    else:
        params = scratch_mlp.init_mlp(sizes, rng, np.dtype(dtype))
        X = rng.standard_normal((batch, sizes[0])).astype(dtype)
        y = rng.integers(0, sizes[-1], batch)
    loss_fn = {"mse": scratch_mlp.mse_loss, "cross-entropy": scratch_mlp.softmax_cross_entropy}[
        loss
    ]
    if optimizer == "sgd":
        make_optimizer = lambda: scratch_mlp.SGD(lr=0.01)  # noqa: E731
    else:
        make_optimizer = lambda: scratch_mlp.Adam(lr=1e-3)  # noqa: E731
    return params, X, y, loss_fn, make_optimizer


def _numpy_runner(problem: str):
    """``(reset, run)``: ``reset()`` restores the start, ``run(k)`` trains k steps with train."""
    import scratch_mlp

    params0, X, y, loss_fn, make_optimizer = make_problem(problem)
    state = {}

    def reset():
        state["params"] = {name: p.copy() for name, p in params0.items()}
        state["optimizer"] = make_optimizer()

    def run(steps):
        scratch_mlp.train(state["params"], X, y, loss_fn, state["optimizer"], steps=steps)

    return reset, run


def _article_runner(problem: str):
    import scratch_mlp

    params0, X, y, _, make_optimizer = make_problem(problem)
    lr = make_optimizer().lr
    state = {}

    def reset():
        state["params"] = {name: p.copy() for name, p in params0.items()}

    def run(steps):
        scratch_mlp.article_loop(state["params"], X, y, lr=lr, steps=steps, log_every=0)

    return reset, run


def _torch_runner(problem: str, threads: int):
    import torch

    torch.set_num_threads(threads)
    twin = _load_torch_twin()
    params0, X, y, loss_fn, make_optimizer = make_problem(problem)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    torch_loss = twin.TORCH_LOSS[loss_fn]
    state = {}

    def reset():
        state["tparams"] = twin.torch_params(params0)
        state["optimizer"] = twin.torch_optimizer(make_optimizer(), state["tparams"])

    def run(steps):
        twin.torch_train(state["tparams"], X_t, y_t, torch_loss, state["optimizer"], steps)

    return reset, run


def _matmul_runner(library: str, threads: int):
    import numpy as np

    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((MATMUL_SIZE, MATMUL_SIZE)).astype(np.float32) for _ in "AB")
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
        A, B = torch.from_numpy(A), torch.from_numpy(B)

    def run(steps):
        for _ in range(steps):
            A @ B

    return (lambda: None), run


def _numpy_peak_bytes(reset, run) -> int:
    """Peak of the bytes allocated during one step and alive at once, by tracemalloc (NumPy
    reports its array buffers to it). Frees of memory allocated before the step are not counted."""
    import tracemalloc

    reset()
    run(2)  # the optimizer's state exists from the first step on
    tracemalloc.start()
    try:
        run(1)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the process's standard error, the C++ libraries' included, for a moment: the
    profiler announces its start and stop there, in the middle of the table."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _torch_peak_bytes(reset, run):
    """The same peak for PyTorch, from the allocation events of its profiler; None if they are
    not available."""
    from torch.profiler import ProfilerActivity, profile

    reset()
    run(2)
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run(1)
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:
        return None
    current = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        current += event.nbytes()
        peak = max(peak, current)
    return peak


def _library_info(implementation: str) -> dict:
    import numpy as np

    info = {"numpy": np.__version__}
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    if implementation.startswith("torch"):
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_blas"] = "MKL" if torch.backends.mkl.is_available() else "other"
    return info


def worker(conn, implementation: str, problem: str, threads: int, round_seconds: float) -> None:
    """Serve one implementation on one problem: ("time",) -> seconds per step of one block,
    ("memory",) -> peak bytes of one step, ("stop",)."""
    if implementation == "numpy":
        reset, run = _numpy_runner(problem)
    elif implementation == "article":
        reset, run = _article_runner(problem)
    elif implementation == "torch":
        reset, run = _torch_runner(problem, threads)
    else:  # "numpy-matmul" or "torch-matmul"
        reset, run = _matmul_runner(implementation.split("-")[0], threads)
    # Warm up, then size a block to take about round_seconds.
    reset()
    run(1)
    start = time.perf_counter()
    trial = 0
    while time.perf_counter() - start < min(0.2, round_seconds):
        run(1)
        trial += 1
    per_step = (time.perf_counter() - start) / trial
    block = max(1, round(round_seconds / per_step))
    conn.send({"block": block, **_library_info(implementation)})
    while True:
        command = conn.recv()
        if command == "stop":
            break
        if command == "time":
            reset()
            run(1)  # untimed: wakes the thread pools and creates the optimizer's state
            start = time.perf_counter()
            run(block)
            conn.send((time.perf_counter() - start) / block)
        elif command == "memory":
            if implementation == "torch":
                conn.send(_torch_peak_bytes(reset, run))
            elif implementation in ("numpy", "article"):
                conn.send(_numpy_peak_bytes(reset, run))
            else:
                conn.send(None)
    import resource

    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # Linux: KiB


# ---------------------------------------------------------------------------------------------
# The parent side: start the workers, take turns, print the tables.


def _quartiles(values):
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def _unit(seconds: float):
    """The unit to show a time in, as ``(name, seconds per unit)``."""
    return ("us", 1e-6) if seconds < 1e-3 else ("ms", 1e-3)


def _format_bytes(n) -> str:
    if n is None:
        return "n/a"
    return f"{n / 2**20:.2f} MiB"


def machine_description(threads: int, infos: dict) -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    numpy_info = next(iter(infos.values()))
    torch_info = next((i for i in infos.values() if "torch" in i), None)
    lines = [
        f"machine: {cpu}, {cores} cores available, {platform.system()} {platform.machine()}",
        f"python {platform.python_version()}, numpy {numpy_info['numpy']} "
        f"({numpy_info['numpy_blas']}, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})",
    ]
    if torch_info:
        lines.append(
            f"torch {torch_info['torch']} ({torch_info['torch_blas']}, "
            f"{torch_info['torch_threads']} threads)"
        )
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        lines.append(f"OPENBLAS_CORETYPE={coretype} (set in the environment)")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS and PyTorch")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of turns (default 30)")
    parser.add_argument(
        "--round-seconds", type=float, default=0.1, help="length of one timed block (0.1)"
    )
    parser.add_argument(
        "--settle", type=float, default=0.2, help="pause before each block, in seconds (0.2)"
    )
    parser.add_argument("--no-torch", action="store_true", help="measure this project alone")
    args = parser.parse_args(argv)

    # Before any worker starts: the BLAS and OpenMP thread pools read these once, at load.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    # PyTorch's warnings about its profiler would interleave with the table.
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    tasks = [("numpy", "sine"), ("article", "sine")]
    tasks += [("numpy", "mnist-128"), ("numpy", "mnist-1024"), ("numpy-matmul", "matmul")]
    if have_torch:
        tasks += [("torch", "sine"), ("torch", "mnist-128"), ("torch", "mnist-1024")]
        tasks += [("torch-matmul", "matmul")]
    else:
        reason = "--no-torch" if args.no_torch else "PyTorch is not installed"
        print(f"{reason}: measuring this project alone (pip install -r requirements-torch.txt)")

    context = multiprocessing.get_context("spawn")
    workers, infos = {}, {}
    print(f"starting {len(tasks)} worker processes ...", file=sys.stderr)
    for task in tasks:
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=worker, args=(child_end, *task, args.threads, args.round_seconds)
        )
        process.start()
        workers[task] = (process, parent_end)
        infos[task] = parent_end.recv()  # one at a time: no worker warms up beside another

    times = {task: [] for task in tasks}
    started = time.perf_counter()
    for round_number in range(args.rounds):
        order = tasks if round_number % 2 == 0 else tasks[::-1]
        for task in order:
            time.sleep(args.settle)
            _, conn = workers[task]
            conn.send("time")
            times[task].append(conn.recv())
        print(f"round {round_number + 1}/{args.rounds} done", end="\r", file=sys.stderr)
    elapsed = time.perf_counter() - started

    memory, rss = {}, {}
    for task, (_, conn) in workers.items():
        conn.send("memory")
        memory[task] = conn.recv()
    for task, (process, conn) in workers.items():
        conn.send("stop")
        rss[task] = conn.recv()
        process.join()

    print(" " * 40, end="\r", file=sys.stderr)
    print(report(tasks, times, memory, rss, infos, args, elapsed))
    return 0


def report(tasks, times, memory, rss, infos, args, elapsed) -> str:
    """The tables, as text."""
    lines = machine_description(args.threads, infos)
    lines.append(
        f"{args.rounds} rounds; in each, every implementation timed one block of about "
        f"{args.round_seconds:g} s after a {args.settle:g} s pause; {elapsed:.0f} s in all"
    )
    lines.append("")
    header = (
        f"{'problem':24s} {'implementation':14s} {'median':>9s} {'p25-p75':>11s} "
        f"{'best':>6s} {'vs scratch_mlp':>14s}"
    )
    lines += ["Time per training step", header, "-" * len(header)]
    ratios = {}
    for problem in PROBLEMS:
        for implementation in ("numpy", "article", "torch"):
            task = (implementation, problem)
            if task not in times:
                continue
            median = statistics.median(times[task])
            unit, scale = _unit(median)
            low, high = (q / scale for q in _quartiles(times[task]))
            relative = ""
            if implementation != "numpy":
                pairs = zip(times[("numpy", problem)], times[task], strict=True)
                ratios[(problem, implementation)] = [ours / other for ours, other in pairs]
                relative = f"{1 / statistics.median(ratios[(problem, implementation)]):.2f}x"
            title = PROBLEM_TITLES[problem] if implementation == "numpy" else ""
            digits = 1 if unit == "us" else 2
            quartiles = f"{low:.{digits}f}-{high:.{digits}f}"
            lines.append(
                f"{title:24s} {IMPLEMENTATION_NAMES[implementation]:14s} "
                f"{median / scale:6.{digits}f} {unit} {quartiles:>11s} "
                f"{min(times[task]) / scale:6.{digits}f} {relative:>14s}"
            )
    lines.append("p25-p75 and best: in the unit of the median. vs scratch_mlp: this time divided")
    lines.append("by scratch_mlp's in the same round, median over rounds.")

    lines += ["", "Bars (scratch_mlp time / other time; median over rounds, p25 - p75)"]
    for (problem, implementation), bar in BARS.items():
        name = f"{problem} vs {IMPLEMENTATION_NAMES[implementation]}"
        if (problem, implementation) not in ratios:
            lines.append(f"  {name:28s} not measured")
            continue
        paired = ratios[(problem, implementation)]
        median = statistics.median(paired)
        low, high = _quartiles(paired)
        verdict = "met" if median <= bar else "MISSED"
        lines.append(
            f"  {name:28s} {median:5.2f} ({low:.2f} - {high:.2f})   at most {bar:.2f}   {verdict}"
        )

    flops = 2 * MATMUL_SIZE**3
    throughput = {}
    for library in ("numpy", "torch"):
        task = (f"{library}-matmul", "matmul")
        if task in times:
            throughput[library] = flops / statistics.median(times[task])
    names = {"numpy": "NumPy (OpenBLAS)", "torch": "PyTorch (MKL)"}
    best = max(throughput.values())
    sizes, batch = PROBLEMS["mnist-1024"][:2]
    step_flops = matmul_flops(sizes, batch)
    lines += ["", f"Matmul throughput, float32 {MATMUL_SIZE} x {MATMUL_SIZE} x {MATMUL_SIZE}"]
    for library, value in throughput.items():
        lines.append(f"  {names[library]:16s} {value / 1e9:6.0f} GFLOP/s")
    lines.append(
        f"A step at batch {batch} does {step_flops / 1e9:.3f} GFLOP in matrix products; "
        f"as a fraction of the best above:"
    )
    for implementation in ("numpy", "torch"):
        task = (implementation, "mnist-1024")
        if task in times:
            achieved = step_flops / statistics.median(times[task])
            fraction = achieved / best
            bar = ""
            if implementation == "numpy":
                verdict = "met" if fraction >= MATMUL_FRACTION_BAR else "MISSED"
                bar = f"   at least {MATMUL_FRACTION_BAR:.0%}   {verdict}"
            lines.append(
                f"  {IMPLEMENTATION_NAMES[implementation]:16s} {achieved / 1e9:6.0f} GFLOP/s "
                f"= {fraction:4.0%}{bar}"
            )

    lines += [
        "",
        "Memory",
        f"  {'problem':10s} {'implementation':14s} {'step':>10s} {'process':>11s}",
    ]
    for problem in PROBLEMS:
        for implementation in ("numpy", "article", "torch"):
            task = (implementation, problem)
            if task in memory:
                lines.append(
                    f"  {problem:10s} {IMPLEMENTATION_NAMES[implementation]:14s} "
                    f"{_format_bytes(memory[task]):>10s} {_format_bytes(rss[task]):>11s}"
                )
    lines += [
        "  step: the most memory allocated during one step and in use at once, beyond what was",
        "  in use before it (NumPy: tracemalloc; PyTorch: its profiler's allocation events).",
        "  process: the peak resident memory of the worker process, libraries included.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
