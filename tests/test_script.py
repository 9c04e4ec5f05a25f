"""The module as a user meets it: run as a script, imported, and described by the README."""

import re
import subprocess
import sys

import pytest
from conftest import ARTICLE_LINES, MODULE_FIGURES, ROOT

import scratch_mlp as sm

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SKIPPED = "figures are skipped"


def test_script_runs_and_prints_the_articles_five_lines_exactly(script_runs):
    _, returncode, lines, stderr = script_runs["written"]
    assert returncode == 0, stderr
    # A fresh matplotlib may say on stderr that it builds its font cache; nothing else belongs.
    assert "Warning" not in stderr and "Error" not in stderr, stderr
    assert [line for line in lines if line.startswith("Step ")][:5] == ARTICLE_LINES
    assert not any(SKIPPED in line for line in lines)


def test_script_writes_each_announced_figure_once_as_a_png(script_runs):
    cwd, _, lines, _ = script_runs["written"]
    announced = [
        line.removeprefix("figure written: ") for line in lines if "figure written" in line
    ]
    assert announced == [f"figures/{name}" for name in MODULE_FIGURES]
    assert len(set(announced)) == len(announced), "a figure announced twice"
    assert sorted(p.name for p in (cwd / "figures").iterdir()) == sorted(MODULE_FIGURES)
    for path in announced:
        data = (cwd / path).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000, path


def test_script_where_figures_cannot_be_written_says_so_once_and_runs_every_section(script_runs):
    cwd, returncode, lines, stderr = script_runs["blocked"]
    assert returncode == 0, stderr
    notices = [line for line in lines if SKIPPED in line]
    assert len(notices) == 1 and "cannot write figures/" in notices[0]
    assert (cwd / "figures").is_file()
    # Every other line is what the run that wrote its figures printed, but for measured times.
    _, _, written_lines, _ = script_runs["written"]

    def untimed(lines):
        return [line for line in lines if not re.search(r" ms\b|times faster", line)]

    assert untimed(line for line in lines if SKIPPED not in line) == untimed(
        line for line in written_lines if not line.startswith("figure written: ")
    )


def test_without_matplotlib_figures_are_skipped_with_one_message(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    sm._say_once.cache_clear()
    try:
        assert sm.new_figure() is None and sm.new_figure(figsize=(3, 3)) is None
    finally:
        sm._say_once.cache_clear()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "matplotlib is not installed" in out[0] and SKIPPED in out[0]


# The module and the pages after the lesson: importing any of them runs no demonstration.
IMPORTABLE = [
    "scratch_mlp",
    *(f"docs.{page}" for page in ("step_size", "optimizers", "minibatches", "failure_modes")),
]


@pytest.mark.parametrize("module", IMPORTABLE)
def test_importing_prints_writes_and_draws_nothing(tmp_path, module):
    probe = (
        "import sys\n"
        "import numpy as np\n"
        "np.random.seed(7)\n"
        "before = np.random.get_state()[1].copy()\n"
        f"import {module}\n"
        "assert (np.random.get_state()[1] == before).all(), 'global random state changed'\n"
        "assert 'matplotlib' not in sys.modules and 'torch' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert list(tmp_path.iterdir()) == [], "importing wrote a file"


def readme_api_names(text):
    """The identifiers in the first column of the table under the README's API heading."""
    lines = text.splitlines()
    headings = [i for i, line in enumerate(lines) if line.startswith("#") and "API" in line]
    assert headings, "README has no heading with API in it"
    start = headings[0]
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    names = []
    for row in table[2:]:  # past the header and its |---| line
        first_cell = row.split("|")[1]
        names += [re.match(r"\w+", span).group() for span in re.findall(r"`([^`]+)`", first_cell)]
    return names


def test_readme_api_table_lists_exactly_the_public_names():
    names = readme_api_names((ROOT / "README.md").read_text("utf-8"))
    assert sorted(names) == sorted(sm.__all__)
    assert len(names) == len(set(names)), "a name listed twice"


def test_script_piped_into_head_stops_quietly(tmp_path):
    # `python scratch_mlp.py | head -n 2`: when the reader stops reading, the script stops, as a
    # command-line tool does, without a BrokenPipeError traceback.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scratch_mlp.py")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = [process.stdout.readline() for _ in range(2)]
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert first[0].startswith("Step     0")
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
