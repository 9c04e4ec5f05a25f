"""Shared fixtures and functions. pytest puts the project root on sys.path (``pythonpath`` in
pyproject.toml), so every test imports the module as ``import scratch_mlp``."""

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from subprocess import PIPE

# The networks here are tiny: BLAS threads only wait on each other, several times slower than one
# thread on a busy 2-core machine. One thread, for this process and the scripts it starts (set
# before NumPy loads; a value already in the environment wins).
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis.configuration import set_hypothesis_home_dir  # noqa: E402

import scratch_mlp as sm  # noqa: E402

# Hypothesis keeps caches in ./.hypothesis; tests write only under temporary directories.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="hypothesis_")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scratch_mlp.py"

# The figures `python scratch_mlp.py` writes, in the order its sections write them, read from
# the `save_figure(fig, "<name>", ...)` calls of the source.
MODULE_FIGURES = re.findall(r'save_figure\(\s*fig,\s*"([^"]+)"', SCRIPT.read_text("utf-8"))


def missing_docs_package() -> str | None:
    # The site executes docs/pytorch.py, the same model in PyTorch.
    for module in ("mkdocs", "material", "mkdocs_jupyter", "mkdocstrings_handlers", "torch"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def start_build(site_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``mkdocs build --strict`` into ``site_dir``, started in the project root as CONTRIBUTING
    says (the executed pages' kernels start there too, and write their figures there), in a
    process group of its own; its stdout is its log."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_NOTEBOOK_CACHE": "false", **(env or {})}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    output = {"stdout": PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, **output)


def require(name: str):
    """Import the optional ``name`` (torch, sklearn), or skip the test; where REQUIRE_TORCH=1 (as
    in CI) a missing one fails instead."""
    if os.environ.get("REQUIRE_TORCH") == "1":
        return importlib.import_module(name)
    return pytest.importorskip(name)


def copy_params(params):
    return {name: p.copy() for name, p in params.items()}


def assert_params_equal(a, b):
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


def make_problem(sizes, N, loss_fn, seed, dtype=np.float64):
    """``(params, X, y)``: a He start with small random biases (a zero bias can hide a wrong bias
    gradient), random inputs, and targets for ``loss_fn`` (labels for cross-entropy)."""
    rng = np.random.default_rng(seed)
    params = sm.init_mlp(sizes, rng)
    for name in params:
        if name.startswith("b"):
            params[name] = 0.1 * rng.standard_normal(params[name].shape)
    params = {name: p.astype(dtype) for name, p in params.items()}
    X = rng.standard_normal((N, sizes[0])).astype(dtype)
    if loss_fn is sm.mse_loss:
        return params, X, rng.standard_normal((N, sizes[-1])).astype(dtype)
    return params, X, rng.integers(0, sizes[-1], size=N)


# An activation of the user's own, without kinks: (forward, backward), its cache A = tanh(Z).
TANH = (lambda Z: (np.tanh(Z),) * 2, lambda d_A, A: d_A * (1 - A**2))
SHAPES = {"W1": (4, 3), "b1": (1, 3), "W2": (3, 2), "b2": (1, 2)}


def gradient_steps(dtype, steps, seed=0):
    """Parameters, and ``steps`` dicts of random gradients whose sizes spread from 1e-10 (where
    an optimizer's eps decides the step) to 1e-2."""
    rng = np.random.default_rng(seed)
    params = {name: rng.standard_normal(shape).astype(dtype) for name, shape in SHAPES.items()}
    sizes = [{n: 10 ** rng.uniform(-10, -2, s) for n, s in SHAPES.items()} for _ in range(steps)]
    return params, [{n: (g * rng.standard_normal(g.shape)).astype(dtype) for n, g in step.items()}
                    for step in sizes]  # fmt: skip


# `python scratch_mlp.py`, and the docs site's build, start as soon as collection shows a test that
# needs them, and run while the other tests do.
_script, _build = {}, {}


def pytest_collection_modifyitems(items):
    # The docs tests last (a stable sort), so that the site, whose build starts with them below,
    # builds while every other test runs.
    items.sort(key=lambda item: item.path.name == "test_docs.py")


def pytest_collection_finish(session):
    if any(item.path.name == "test_docs.py" for item in session.items):
        if not missing_docs_package():
            site = Path(tempfile.mkdtemp(prefix="site_"))
            _build.update(path=site, started=time.time(), process=start_build(site))
    if any("script_run" in getattr(item, "fixturenames", ()) for item in session.items):
        cwd = tempfile.mkdtemp(prefix="scratch_mlp_run_")
        _script[cwd] = subprocess.Popen(
            [sys.executable, SCRIPT], cwd=cwd, stdout=PIPE, stderr=PIPE, text=True
        )


@pytest.fixture(scope="session")
def script_run():
    """``(cwd, returncode, stdout lines, stderr)`` of ``python scratch_mlp.py``."""
    ((cwd, process),) = _script.items()
    stdout, stderr = process.communicate(timeout=600)
    return Path(cwd), process.returncode, stdout.splitlines(), stderr


@pytest.fixture(scope="session")
def site_build():
    """``(site folder, start time, the build's process)``, or None without the docs packages."""
    return (_build["path"], _build["started"], _build["process"]) if _build else None


def pytest_sessionfinish(session):
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
    if _build:  # still running after -x or a deselection: stop it
        if _build["process"].poll() is None:
            os.killpg(_build["process"].pid, signal.SIGKILL)
            _build["process"].communicate()
        shutil.rmtree(_build["path"], ignore_errors=True)
    for cwd, process in _script.items():  # still running after -x or a deselection: stop it
        process.kill()
        process.communicate()
        shutil.rmtree(cwd, ignore_errors=True)
