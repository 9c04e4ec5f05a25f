"""What the docs tests share: the site's pages, read from the nav in ``mkdocs.yml``, and its build.

Without the docs requirements or without Chromium the docs tests skip, unless REQUIRE_BROWSER=1
(set by .ci/run), which turns every such skip into a failure.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Page:
    title: str
    source: Path  # the file it is rendered from: under docs/, or the module at the project root
    url: str  # its folder in the built site: "" for Home, "step_size/" for step_size.py

    @property
    def slug(self) -> str:
        return self.url.strip("/") or "home"


class _Loader(yaml.SafeLoader):  # reads mkdocs.yml's !ENV values as None
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _page(title: str, name: str) -> Page:
    source = ROOT / "docs" / name
    url = "" if name == "index.md" else Path(name).with_suffix("").as_posix() + "/"
    return Page(title, source if source.is_file() else ROOT / name, url)


_NAV = yaml.load((ROOT / "mkdocs.yml").read_text("utf-8"), _Loader)["nav"]
PAGES = [_page(title, name) for entry in _NAV for title, name in entry.items()]
EXECUTED = [page for page in PAGES if page.source.suffix == ".py"]  # rendered by mkdocs-jupyter


def markdown(page: Page) -> str:
    """The page's Markdown: a ``.md`` page whole, the markdown cells of a ``.py`` page."""
    if page not in EXECUTED:
        return page.source.read_text("utf-8")
    import jupytext

    cells = jupytext.read(page.source).cells
    return "\n\n".join(cell.source for cell in cells if cell.cell_type == "markdown")


def code_cells(page: Page) -> list[tuple[str, str]]:
    """(marker line, code) of each code cell of a jupytext page, read line by line."""
    cells = []
    for line in page.source.read_text("utf-8").splitlines():
        if line.startswith("# %%"):
            cells.append((line, []))
        elif cells:
            cells[-1][1].append(line)
    return [(mark, "\n".join(code).strip()) for mark, code in cells if "[markdown]" not in mark]


def skip_unless_required(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


def missing_docs_package() -> str | None:
    # The site executes docs/pytorch.py, the same model in PyTorch.
    for module in ("mkdocs", "material", "mkdocs_jupyter", "mkdocstrings_handlers", "torch"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def require_docs_packages() -> None:
    if missing := missing_docs_package():
        skip_unless_required(f"{missing} is not installed: pip install -r requirements-test.txt")


def start_build(site_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``mkdocs build --strict`` into ``site_dir``, started in the project root as CONTRIBUTING
    says (the executed pages' kernels start there too, and write their figures there), in a
    process group of its own; its stdout is its log."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DOCS_NOTEBOOK_CACHE": "false", **(env or {})}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, **output)
