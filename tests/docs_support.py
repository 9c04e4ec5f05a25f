"""What the docs tests share: the site's pages and what each must show, and how to build it.

To publish another executed page, for instance ``docs/exercises.py``: add it to ``nav`` in
``mkdocs.yml`` and add a ``NotebookPage`` for it to ``NOTEBOOK_PAGES`` below. The build and
browser tests then check it like the main page.

Without the docs requirements or without Chromium the docs tests skip, unless REQUIRE_BROWSER=1
(set by .ci/run), which turns every such skip into a failure.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def saved_figures(source: str) -> list[str]:
    """The file names passed to ``save_figure`` in ``source`` (a path from the project root), in
    the order of the calls: the figures that executing the file writes and shows.

    Every call must name its file with a string literal, ``save_figure(fig, "name.png",
    alt=...)``, so the count can be read from the code; a page that draws figures another way
    gives its count by hand.
    """
    tree = ast.parse((ROOT / source).read_text(encoding="utf-8"))
    definitions = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "save_figure"
    ]
    inside_definition = {id(n) for d in definitions for n in ast.walk(d)}
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in inside_definition:
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if called != "save_figure":
            continue
        name = node.args[1] if len(node.args) > 1 else None
        name = next((k.value for k in node.keywords if k.arg == "name"), name)
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            raise ValueError(f"{source}:{node.lineno}: save_figure's file name is not a literal")
        names.append((node.lineno, name.value))
    return [name for _, name in sorted(names)]


@dataclass(frozen=True)
class Page:
    url: str  # the page's path in the built site

    @property
    def slug(self) -> str:
        return self.url.strip("/").replace("/", "-") or "home"


@dataclass(frozen=True)
class NotebookPage(Page):
    """A page rendered and executed from a jupytext ``.py`` file."""

    source: str  # the .py file, as a path from the project root
    figures: int  # how many figure images the executed page shows


@dataclass(frozen=True)
class MarkdownPage(Page):
    formulas: int  # how many formulas it has at least


def _notebook(source: str, url: str) -> NotebookPage:
    return NotebookPage(url, source, figures=len(saved_figures(source)))


NOTEBOOK_PAGES = [
    _notebook("scratch_mlp.py", "scratch_mlp/"),
    _notebook("docs/step_size.py", "step_size/"),
    _notebook("docs/optimizers.py", "optimizers/"),
    _notebook("docs/minibatches.py", "minibatches/"),
    _notebook("docs/failure_modes.py", "failure_modes/"),
    _notebook("docs/exercises.py", "exercises/"),
    _notebook("docs/pytorch.py", "pytorch/"),
]
MARKDOWN_PAGES = [MarkdownPage("", 5), MarkdownPage("benchmark/", 0), MarkdownPage("reference/", 0)]
PAGES = [MARKDOWN_PAGES[0], *NOTEBOOK_PAGES, *MARKDOWN_PAGES[1:]]


def markdown_cells(source: str) -> list[str]:
    """The text of the markdown cells of a jupytext percent-format file."""
    import jupytext

    notebook = jupytext.read(ROOT / source)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def math_in_markdown(source: str) -> list[str]:
    """Every ``$...$`` and ``$$...$$`` in the markdown cells, outside code: what the page must
    typeset, one MathJax element each."""
    text = "\n\n".join(markdown_cells(source))
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", "", text)
    return re.findall(r"\$\$.+?\$\$|\$[^$]+?\$", text, flags=re.DOTALL)


def section_titles(source: str) -> list[str]:
    """The ``##`` headings of the markdown cells, each up to its first math (the table of contents
    shows math typeset, so only the text before it can be compared)."""
    titles = []
    for cell in markdown_cells(source):
        for line in cell.splitlines():
            if line.startswith("## "):
                titles.append(line[3:].split("$")[0].strip())
    return titles


def skip_unless_required(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


DOCS_MODULES = ("mkdocs", "material", "mkdocs_jupyter", "mkdocstrings_handlers", "mathjax")


def missing_docs_package() -> str | None:
    """The first docs requirement not installed, or None."""
    # The site executes docs/pytorch.py, the same model in PyTorch.
    for module in (*DOCS_MODULES, "jupytext", "griffe", "torch"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def require_docs_packages() -> None:
    if missing := missing_docs_package():
        skip_unless_required(f"{missing} is not installed: pip install -r requirements-test.txt")


def mkdocs_build(
    project: Path, site_dir: Path, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """``mkdocs build --strict`` of ``project`` into ``site_dir``, started in ``project`` as the
    README says: the executed pages' kernels start there too, and write their figures there.
    Returns its exit status and its log (stdout and stderr together)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_NOTEBOOK_CACHE": "false", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout
