"""When is hand-written NumPy faster than autograd? scratch_mlp against PyTorch and scikit-learn.

    python benchmarks/bench_step.py                     # about 2 minutes
    python benchmarks/bench_step.py --threads 1         # threads of BLAS and PyTorch (default 2)
    python benchmarks/bench_step.py --quick             # a few seconds: checks that everything runs
    python benchmarks/bench_step.py --quick --rounds 1  # the same, in one round

It times one training step (forward, loss, backward, update) of three networks, from the same
weights, and trains one network on scikit-learn's digits with scratch_mlp and with MLPClassifier.
Each implementation runs in a process of its own, and the processes take turns: in every round
each does its work once, those of one problem one after another, in reverse order every other
round. Ratios are taken within a round, so a machine whose load changes from second to second
still compares like with like; the table gives medians over the rounds.
"""

import argparse
import importlib.util
import itertools
import multiprocessing
import os
import platform
import reprlib
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import scratch_mlp  # noqa: E402  (the scratch_mlp.py beside this folder, as it is now)

STEP_PROBLEMS = {
    # title: (layer sizes, batch, dtype, steps per timed block)
    "the article's: 1-64-1, N=200, float64, MSE, SGD": ([1, 64, 1], 200, "float64", 1000),
    "784-256-10, N=128, float32, cross-entropy, Adam": ([784, 256, 10], 128, "float32", 100),
    "784-256-10, N=1024, float32, cross-entropy, Adam": ([784, 256, 10], 1024, "float32", 25),
}
# Digits: 1344 = 21 x 64 images to train on, 453 held out. Every epoch is then 21 full batches for
# both (scratch_mlp.train skips a last partial batch, MLPClassifier would train on it).
HIDDEN, BATCH, EPOCHS, N_TRAIN, N_HELD_OUT = 128, 64, 30, 1344, 453


def numpy_about() -> str:
    """NumPy's version and BLAS, with the kernels it chose for this CPU (from threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info  # installed with scikit-learn
    except ImportError:
        return f"numpy {np.__version__}"
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    blas = next((pool for pool in pools if "numpy" in pool["filepath"]), pools[0])  # not SciPy's
    about = f"numpy {np.__version__} ({blas['internal_api']} {blas['version']}, "
    return about + f"{blas.get('architecture')} kernels, threads: {blas['num_threads']})"


def step_problem(title: str):
    """``(params, X, y, loss_fn, lr)``, the same numbers in every process."""
    sizes, batch, dtype, _ = STEP_PROBLEMS[title]
    if sizes == [1, 64, 1]:  # the article's data and weights, from its seed; MSE and SGD
        rng = np.random.RandomState(0)
        X, y = scratch_mlp.make_sine_data(rng, n=batch)
        return scratch_mlp.init_mlp(sizes, rng), X, y, scratch_mlp.mse_loss, 0.01
    rng = np.random.default_rng(0)  # random images and labels; cross-entropy and Adam
    params = scratch_mlp.init_mlp(sizes, rng, np.dtype(dtype))
    X, y = rng.standard_normal((batch, sizes[0])).astype(dtype), rng.integers(0, 10, batch)
    return params, X, y, scratch_mlp.softmax_cross_entropy, 0.001


def timed(train, steps: int, *args, **kwargs):
    """``(seconds per step, None)`` of ``train(*args, steps=steps, **kwargs)``, after one step
    untimed: it creates the optimizer's state and wakes the thread pools."""
    train(*args, steps=1, **kwargs)
    begin = time.perf_counter()
    train(*args, steps=steps, **kwargs)
    return (time.perf_counter() - begin) / steps, None


# Each implementation is a generator: it yields what it runs on, then one answer per round.


def scratch_mlp_steps(title: str, steps: int, threads: int):  # BLAS threads: set in main()
    params0, X, y, loss_fn, lr = step_problem(title)
    yield numpy_about()
    while True:
        params = {name: p.copy() for name, p in params0.items()}
        optimizer = scratch_mlp.SGD(lr) if loss_fn is scratch_mlp.mse_loss else scratch_mlp.Adam(lr)
        yield timed(scratch_mlp.train, steps, params, X, y, loss_fn, optimizer)


def article_loop_steps(title: str, steps: int, threads: int):
    params0, X, y, _, lr = step_problem(title)
    yield numpy_about()
    while True:
        params = {name: p.copy() for name, p in params0.items()}
        yield timed(scratch_mlp.article_loop, steps, params, X, y, lr, log_every=0)


def pytorch_steps(title: str, steps: int, threads: int):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    params0, X, y, loss_fn, lr = step_problem(title)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    sgd = loss_fn is scratch_mlp.mse_loss
    torch_loss = F.mse_loss if sgd else F.cross_entropy

    def train(params, optimizer, steps):  # scratch_mlp.train, in PyTorch
        W1, b1, W2, b2 = params
        for _ in range(steps):
            optimizer.zero_grad()
            loss = torch_loss(torch.relu(X @ W1 + b1) @ W2 + b2, y)
            loss.backward()
            optimizer.step()
            loss.item()  # train() keeps every step's loss as a Python float

    yield f"torch {torch.__version__} (threads: {torch.get_num_threads()})"
    while True:
        params = [torch.tensor(p, requires_grad=True) for p in params0.values()]
        optimizer = (torch.optim.SGD if sgd else torch.optim.Adam)(params, lr)
        yield timed(train, steps, params, optimizer)


def digits():
    """Standardised digits, float64, split once: ``X_train, y_train, X_test, y_test``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=N_TRAIN, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), y_train, scaler.transform(X_test), y_test


def scratch_mlp_digits(epochs: int):
    X_train, y_train, X_test, y_test = digits()
    yield numpy_about()
    for seed in itertools.count():
        begin = time.perf_counter()
        rng = np.random.default_rng(seed)
        params = scratch_mlp.init_mlp([64, HIDDEN, 10], rng)  # He normal weights, zero biases
        loss_fn, optimizer = scratch_mlp.softmax_cross_entropy, scratch_mlp.Adam(lr=0.001)
        steps = epochs * (N_TRAIN // BATCH)
        scratch_mlp.train(params, X_train, y_train, loss_fn, optimizer, steps, BATCH, rng)
        seconds = time.perf_counter() - begin
        yield seconds / epochs, np.mean(scratch_mlp.predict(params, X_test) == y_test)


def sklearn_digits(epochs: int):
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, y_train, X_test, y_test = digits()
    yield f"scikit-learn {sklearn.__version__}"
    for seed in itertools.count():
        classifier = MLPClassifier(
            hidden_layer_sizes=(HIDDEN,),
            activation="relu",
            solver="adam",  # betas 0.9 and 0.999, epsilon 1e-8: scratch_mlp.Adam's defaults
            learning_rate_init=0.001,
            batch_size=BATCH,
            shuffle=True,
            alpha=0.0,  # no L2 penalty (the default is 1e-4): scratch_mlp adds none
            early_stopping=False,  # trains on all the training images
            max_iter=epochs,
            n_iter_no_change=epochs,  # never stops early: exactly `epochs` epochs
            random_state=seed,  # Glorot uniform weights and biases
        )
        begin = time.perf_counter()
        with warnings.catch_warnings():
            # Stopping at max_iter is the plan. MLPClassifier warns that the loss could still go
            # down: true, and beside the point of a fixed number of epochs.
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(X_train, y_train)
        seconds = time.perf_counter() - begin
        if classifier.n_iter_ != epochs or classifier.coefs_[0].dtype != np.float64:
            raise RuntimeError("MLPClassifier did not train as set up")
        yield seconds / epochs, classifier.score(X_test, y_test)


_answers = None  # in a worker process: the generator it runs


def _next(generator, args):
    """In a worker process: the next value of ``generator(*args)``, started at the first call."""
    global _answers
    if _answers is None:
        _answers = generator(*args)
    return next(_answers)


class Worker:
    """``generator(*args)`` in a process of its own. ``worker.ask()`` is a future of its next
    value, ``worker()`` that value. If the generator raises, ``result()`` raises its exception
    (with the worker's traceback); if the process dies, ``BrokenProcessPool``."""

    def __init__(self, generator, *args):
        spawn = multiprocessing.get_context("spawn")  # a new interpreter: nothing inherited
        self.pool, self.job = ProcessPoolExecutor(1, spawn), (generator, args)

    def ask(self):
        return self.pool.submit(_next, *self.job)

    def __call__(self):
        return self.ask().result()


def table(results, rounds: int) -> list[str]:
    """``results[title][implementation]``: its worker's answers, round by round."""
    lines = [f"{'':28s} {'median':>10s} {'p25-p75':>15s}  x scratch_mlp  held-out accuracy"]
    for title, answers in results.items():
        per = "epoch" if title.startswith("digits") else "step"
        lines.append(f"Time per {per}, {title}")
        reference = [seconds for seconds, _ in answers["scratch_mlp"]]
        for name, values in answers.items():
            seconds, accuracy = zip(*values, strict=True)
            quartiles = (
                statistics.quantiles(seconds, method="inclusive") if rounds > 1 else seconds * 3
            )
            q1, median, q3 = (1e3 * q for q in quartiles)
            ratio = statistics.median(s / r for s, r in zip(seconds, reference, strict=True))
            ratio = "" if name == "scratch_mlp" else f"{ratio:.2f}"
            row = f"  {name:26s} {median:7.3f} ms {f'{q1:.3f}-{q3:.3f}':>15s}  {ratio:>13s}"
            if accuracy[0] is not None:
                low, high = min(accuracy), max(accuracy)
                row += f"  {statistics.median(accuracy):.1%} ({low:.1%}-{high:.1%})"
            lines.append(row.rstrip())
    return lines + [
        f"median, p25-p75: over {rounds} round{'s' if rounds > 1 else ''}. x scratch_mlp: the row's"
        " time divided by",
        "scratch_mlp's in the same round, median over the rounds. Per epoch: the whole fit, set-up",
        f"included, divided by the epochs. Accuracy on the {N_HELD_OUT} held-out images: median",
        "(lowest-highest) over the rounds, each with its own seed for the weights and the shuffle.",
    ]


def cores() -> int:
    """The cores this process may run on: the most threads NumPy's OpenBLAS will start."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def whole_number(low: int, high: int | None = None, high_means: str = ""):
    """An argparse ``type``: the text as an int from ``low`` to ``high``, or a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            bound = f"{low} or more" if high is None else f"from {low} to {high}{high_means}"
            raise argparse.ArgumentTypeError(f"a whole number {bound}, not {reprlib.repr(text)}")
        return value

    return parse


def parse_options(argv=None) -> argparse.Namespace:
    """The command line's options, checked; exits with status 2 and one line on a bad value."""
    top = cores()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--threads",
        type=whole_number(1, top, ", the cores this process may use"),
        default=min(2, top),
        metavar="N",
        help=f"threads of BLAS and of PyTorch, 1 to {top} (default: {min(2, top)})",
    )
    parser.add_argument(
        "--rounds",
        type=whole_number(1),
        metavar="N",
        help="rounds of turns (default: 21, or 2 with --quick; a value given here wins)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="little work in each round (2 steps a timed block, 2 epochs, no pause), in 2"
        " rounds unless --rounds says otherwise: checks that everything runs; its times mean"
        " little",
    )
    options = parser.parse_args(argv)
    if options.rounds is None:
        options.rounds = 2 if options.quick else 21
    return options


def main(argv=None) -> int:
    args = parse_options(argv)
    missing = [name for name in ("torch", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:  # found without importing them: no worker starts only to fail
        sys.exit(
            f"bench_step.py needs {' and '.join(missing)}: pip install -r requirements-bench.txt"
        )
    # The workers' libraries read these as they load. The parent itself computes nothing.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    pause, epochs = (0.0, 2) if args.quick else (0.2, EPOCHS)

    groups = {}  # title: {implementation: its worker}, scratch_mlp first
    for title, (sizes, _, _, steps) in STEP_PROBLEMS.items():
        steps = 2 if args.quick else steps
        groups[title] = {"scratch_mlp": Worker(scratch_mlp_steps, title, steps, args.threads)}
        if sizes == [1, 64, 1]:
            groups[title]["article loop"] = Worker(article_loop_steps, title, steps, args.threads)
        groups[title]["PyTorch eager"] = Worker(pytorch_steps, title, steps, args.threads)
    groups[f"digits: 64-{HIDDEN}-10, float64, Adam, batch {BATCH}, {epochs} epochs"] = {
        "scratch_mlp": Worker(scratch_mlp_digits, epochs),
        "scikit-learn MLPClassifier": Worker(sklearn_digits, epochs),
    }
    workers = [worker for group in groups.values() for worker in group.values()]
    results = {title: {name: [] for name in group} for title, group in groups.items()}
    try:
        # Every process says what it runs on, then warms up in a first round that is not counted.
        # Nothing is timed yet, so all the processes start and warm up at once.
        starts = [(worker.ask(), worker.ask()) for worker in workers]
        abouts = [about.result() for about, _ in starts]
        for _, warm_up in starts:
            warm_up.result()
        for round_number in range(args.rounds):
            for title, group in groups.items():
                for name in list(group) if round_number % 2 == 0 else list(group)[::-1]:
                    time.sleep(pause)  # lets the previous process's threads stop spinning
                    results[title][name].append(group[name]())
    finally:
        for worker in workers:  # all end together: Python waits for them as it exits
            worker.pool.shutdown(wait=False, cancel_futures=True)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((x.split(":")[1].strip() for x in cpuinfo.splitlines() if "model name" in x), "?")
    machine = [f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"]
    machine += dict.fromkeys(abouts)  # each library once
    openblas = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # when set, they choose its kernels
    machine += [f"{v}={os.environ[v]}" for v in openblas if v in os.environ]
    machine += [f"threads for BLAS and PyTorch: {args.threads}", ""]
    print("\n".join(machine + table(results, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
