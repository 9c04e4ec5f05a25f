"""Build hook: the exercises page as a notebook, with the stubs in place and the solutions removed.

``docs/exercises.py`` holds each exercise's stub and, in a cell tagged ``solution``, its solution.
The site runs the page with the solutions; readers download ``exercises.ipynb`` (written next to
the page at every build) to fill in the stubs themselves.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat

PAGE = Path(__file__).resolve().parents[1] / "exercises.py"
NOTEBOOK_NAME = "exercises.ipynb"


def notebook_without_solutions(path: str | Path) -> nbformat.NotebookNode:
    """The jupytext page at ``path`` as a notebook, minus every cell tagged ``solution``."""
    notebook = jupytext.read(path)
    notebook.cells = [
        cell for cell in notebook.cells if "solution" not in cell.metadata.get("tags", [])
    ]
    notebook.metadata.pop("jupytext", None)  # a plain notebook, not one paired with a .py
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def on_post_build(config, **kwargs) -> None:
    # The page docs/exercises.py is served at exercises/ (exercises.html without directory URLs);
    # the page's link, href="exercises.ipynb", is relative to that.
    site = Path(config["site_dir"])
    folder = site / "exercises" if config["use_directory_urls"] else site
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook_without_solutions(PAGE), folder / NOTEBOOK_NAME)
