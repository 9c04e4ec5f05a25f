"""The module as a user meets it: run as a script, imported, and described by the README."""

import re
import signal
import subprocess
import sys

import pytest
from conftest import MODULE_FIGURES, ROOT

import scratch_mlp as sm

# The article's published output: its loop prints these five lines, and so must the script.
ARTICLE_LINES = [
    "Step     0 loss=1.590716",
    "Step   500 loss=0.103490",
    "Step  1000 loss=0.068768",
    "Step  1500 loss=0.054070",
    "Step  2000 loss=0.042415",
]
SKIPPED = "figures are skipped"


def test_the_script_starts_with_the_articles_lines_and_writes_each_figure_once(script_run):
    cwd, returncode, lines, stderr = script_run
    assert returncode == 0, stderr
    # A fresh matplotlib may say on stderr that it builds its font cache; nothing else belongs.
    assert "Warning" not in stderr and "Error" not in stderr, stderr
    assert lines[:5] == ARTICLE_LINES
    # The lesson's own checks, as the script and the site print them.
    assert "same start: True; identical to the article's loop, bit for bit: True" in lines
    assert "Adam.step and the five lines, 100 steps, bit for bit: True" in lines
    assert "test accuracy 100.0% on the 150 held out" in lines[-2]  # as the README says
    announced = [line.removeprefix("figure written: ") for line in lines if "figure" in line]
    assert announced == [f"figures/{name}" for name in MODULE_FIGURES]
    assert sorted(path.name for path in (cwd / "figures").iterdir()) == sorted(MODULE_FIGURES)
    for path in announced:
        data = (cwd / path).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, path


def test_the_script_stops_quietly_when_its_reader_stops_reading(tmp_path):
    # `python scratch_mlp.py | head -n 2`: when the reader goes away the script stops, as a
    # command-line tool does, without a BrokenPipeError traceback. Here the reader is gone before
    # the first line, so the first write finds the pipe closed, buffered or not.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scratch_mlp.py")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == -signal.SIGPIPE
    assert stderr == ""


class Unwritable:
    def savefig(self, *args, **kwargs):
        raise ValueError("Key backend: 'nonsense' is not a valid value for backend")


SKIPS = {
    # name: (what the message says, the call, whether a file named figures is in the way)
    "without matplotlib": ("matplotlib is not installed", lambda: sm.new_figure(), 0),
    "figures/ cannot be written": ("cannot write figures/", lambda: sm.save_figure(0, "a", ""), 1),
    "a broken backend": ("nonsense", lambda: sm.save_figure(Unwritable(), "a", ""), 0),
}  # fmt: skip


@pytest.mark.parametrize("case", list(SKIPS))
def test_figures_that_cannot_be_made_are_skipped_with_one_message(
    case, monkeypatch, tmp_path, capsys
):
    says, call, blocked = SKIPS[case]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.chdir(tmp_path)
    if blocked:
        (tmp_path / "figures").write_text("a file, not a folder\n")
    sm._say_once.cache_clear()
    try:
        assert call() is None and call() is None
    finally:
        sm._say_once.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and says in out[0] and SKIPPED in out[0], out


def test_importing_the_module_or_a_page_prints_writes_and_draws_nothing(tmp_path):
    probe = """
import importlib, sys
import numpy as np
np.random.seed(7)
before = np.random.get_state()[1].copy()
for module in sys.argv[1:]:
    importlib.import_module(module)
    assert (np.random.get_state()[1] == before).all(), f"{module} changed the global random state"
    assert "matplotlib" not in sys.modules and "torch" not in sys.modules, module
"""
    pages = [f"docs.{page}" for page in ("step_size", "optimizers", "minibatches", "failure_modes")]
    result = subprocess.run(
        [sys.executable, "-c", probe, "scratch_mlp", *pages],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert list(tmp_path.iterdir()) == [], "importing wrote a file"


def test_the_readme_s_api_table_lists_exactly_the_public_names():
    text = (ROOT / "README.md").read_text("utf-8")
    section = re.search(r"^#+ API\n(.*?)(?=^#|\Z)", text, re.M | re.S).group(1)
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past the header
    codes = [code for row in rows for code in re.findall(r"`([^`]+)`", row.split("|")[1])]
    names = [re.match(r"\w+", code).group() for code in codes]
    assert sorted(names) == sorted(sm.__all__)
    assert len(names) == len(set(names)), "a name listed twice"


def test_the_complete_examples_in_the_readme_and_the_docs_run():
    # A block that starts with an import is a complete program: it must run against the module.
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    blocks = [
        block
        for doc in docs
        for block in re.findall(r"```python\n(.*?)```", doc.read_text("utf-8"), flags=re.DOTALL)
        if block.startswith(("import", "from"))
    ]
    assert blocks
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0 and "FAIL" not in result.stdout, f"{block}\n{result.stderr}"
