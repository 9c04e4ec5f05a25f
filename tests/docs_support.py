"""The docs site's build, which conftest.py starts as soon as the tests are collected and
test_docs.py reads."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, **output)
