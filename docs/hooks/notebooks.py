"""Build hook: every executed page of the nav as a Jupyter notebook, to download and run.

Each ``.py`` page in the nav gets ``<page>.ipynb`` next to it in the built site, beside the copy
of its ``.py`` that mkdocs-jupyter's ``include_source`` puts there: its markdown and code cells,
no outputs, a Python 3 kernel. Cells tagged ``solution`` are left out, so ``exercises.ipynb``
holds the stubs to fill in while the site runs the page with its solutions. Three more tags fold
in the notebook what the site folds: a markdown cell tagged ``hint``, or ``answer`` (what a
prediction should have been), becomes a closed ``<details>`` box, titled by its leading bold
phrase (on the site its ``deeper`` tag folds it); a code cell tagged ``spoiler`` has its code
hidden until opened (``jupyter.source_hidden``; on the site its ``fold`` tag folds it).

The page's download buttons (``docs/overrides/main.html``) read ``page.notebook``:
the notebook's file name, and the other pages' ``.py`` files its code imports (a side page
imports ``scratch_mlp``), which must sit in the same folder for it to run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import jupytext
import nbformat

SOLUTION_TAG = "solution"
FOLDED_TAGS = ("hint", "answer")  # of a markdown cell
SPOILER_TAG = "spoiler"
_BOLD_START = re.compile(r"\A\s*\*\*(.+?)\*\*\s*", re.DOTALL)
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def page_notebook(path: str | Path) -> nbformat.NotebookNode:
    """The jupytext page at ``path`` as a plain notebook: its markdown and code cells without
    outputs or execution counts, minus every cell tagged ``solution``, with ``hint`` and
    ``answer`` markdown folded and ``spoiler`` code hidden; only the cells' tags (and the hidden
    code's flag) are kept of their metadata, and none of jupytext's."""
    return _plain(jupytext.read(path))


def _plain(page: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cells = []
    for cell in page.cells:
        tags = list(cell.metadata.get("tags", []))
        if SOLUTION_TAG in tags:
            continue
        metadata = {"tags": tags} if tags else {}
        source = cell.source
        if cell.cell_type == "markdown" and any(tag in tags for tag in FOLDED_TAGS):
            source = folded_hint(source)
        if cell.cell_type == "code" and SPOILER_TAG in tags:
            metadata["jupyter"] = {"source_hidden": True}  # JupyterLab shows it collapsed
        new_cell = getattr(nbformat.v4, f"new_{cell.cell_type}_cell")  # code, markdown or raw
        cell = new_cell(source, metadata=metadata)
        cell.id = f"cell-{len(cells)}"  # the same file at every build
        cells.append(cell)
    return nbformat.v4.new_notebook(
        cells=cells,
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
    )


def folded_hint(source: str) -> str:
    """A hint's (or an answer's) markdown as a closed ``<details>`` box: its leading bold phrase
    (``**Hint.**``) is the summary, the rest the body; the blank lines keep the body Markdown."""
    bold = _BOLD_START.match(source)
    summary, body = (bold.group(1).rstrip(".:"), source[bold.end() :]) if bold else ("Hint", source)
    return f"<details><summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def imported_modules(notebook: nbformat.NotebookNode) -> set[str]:
    """The top-level names of the modules the notebook's code cells import."""
    names = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # an IPython magic: no import to read there
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@dataclass(frozen=True)
class PageNotebook:
    """What a page's download buttons show: ``name``, the notebook's file name next to the page,
    and ``beside``, the site paths of the other pages' ``.py`` copies it imports."""

    name: str
    beside: tuple[str, ...]
    without_solutions: bool


def _source_copy(page) -> str:
    """The site path of the copy of the page's ``.py`` that ``include_source`` writes: the
    file's name, in the folder of the page's HTML."""
    folder = PurePosixPath(page.file.dest_uri).parent
    return (folder / PurePosixPath(page.file.src_uri).name).as_posix()


def write_page_notebook(page, pages) -> PageNotebook:
    """Write ``page``'s notebook next to its HTML in the built site; ``pages`` are the nav's
    executed pages, the modules it may import."""
    source = jupytext.read(page.file.abs_src_path)
    notebook = _plain(source)
    name = PurePosixPath(page.file.src_uri).stem + ".ipynb"
    folder = Path(page.file.abs_dest_path).parent
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / name)
    imported = imported_modules(notebook)
    beside = tuple(
        _source_copy(other)
        for other in pages
        if other is not page and PurePosixPath(other.file.src_uri).stem in imported
    )
    return PageNotebook(name, beside, without_solutions=len(notebook.cells) < len(source.cells))


def executed_pages(nav) -> list:
    """The nav's pages rendered from a ``.py`` file, in nav order."""
    return [page for page in nav.pages if page.file.src_uri.endswith(".py")]


def on_page_context(context, page, config, nav):
    pages = executed_pages(nav)
    if page in pages:
        page.notebook = write_page_notebook(page, pages)
    return context
