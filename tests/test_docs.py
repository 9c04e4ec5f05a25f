"""The docs site: its build machinery, a strict build, and the built site read in Debian's Chromium.

- The folding of executed pages and the reference page's docstring handling are checked on
  small inputs, without building anything; so is the notebook each executed page offers, run
  top to bottom beside the module.
- One ``mkdocs build --strict`` per test session, into a temporary folder, as the README says;
  the build tests read its HTML.
- The browser tests serve that build on 127.0.0.1 and load each page once, in one Chromium: a
  1280-pixel window in the light palette, then a 390-pixel phone, then the dark palette. They
  check what a reader sees: figures loaded, with alt text; every formula typeset, none showing a
  backslash; nothing requested from outside the site; no console errors; code that fits the
  window; display equations that scroll rather than shrink on the phone. With
  DOCS_SCREENSHOTS=<folder> they also save screenshots of each page there.

The pages they check are listed in docs_support.py. Without the docs requirements or without
Chromium they skip, unless REQUIRE_BROWSER=1 (set by .ci/run), which makes a skip a failure.
"""

from __future__ import annotations

import base64
import functools
import html
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import MODULE_FIGURES
from docs_support import (
    MARKDOWN_PAGES,
    NOTEBOOK_PAGES,
    PAGES,
    ROOT,
    math_in_markdown,
    mkdocs_build,
    require_docs_packages,
    saved_figures,
    section_titles,
    skip_unless_required,
)

from docs.hooks import folds

MODULE = "scratch_mlp.py"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DEFAULT_ALT = "No description has been provided for this image"


def slug(page) -> str:
    return page.slug


# --- Folding, on HTML that mkdocs-jupyter renders from a small notebook (no kernel, no build)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """A function: notebook cells -> the HTML mkdocs-jupyter renders for them, as on the site."""
    require_docs_packages()
    import nbformat
    from mkdocs_jupyter import convert

    folder = tmp_path_factory.mktemp("notebook")

    def render(*cells) -> str:
        path = folder / "page.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=list(cells)), path)
        return convert.nb2html(str(path), execute=False, no_prompt=True)

    return render


def code(source: str, *tags: str, printed: str | None = None):
    import nbformat

    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    if printed is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    return cell


def markdown(source: str, *tags: str):
    import nbformat

    return nbformat.v4.new_markdown_cell(source, metadata={"tags": list(tags)} if tags else {})


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_a_fold_cell_collapses_its_code_under_its_first_comment_and_keeps_its_output(rendered):
    page = rendered(
        code(
            "# Plotting helpers: new_figure and save_figure\nx = 1\nprint('helpers ready')",
            "fold",
            printed="the printed output\n",
        ),
        code("y = 2  # not folded", printed="shown\n"),
    )
    folded, hidden = folds.fold_notebook(page)
    assert hidden == set()
    boxes = re.findall(r'<details class="fold">.*?</details>', folded, flags=re.DOTALL)
    assert len(boxes) == 1
    summary = re.search(r"<summary>(.*?)</summary>", boxes[0]).group(1)
    assert summary == "Plotting helpers: new_figure and save_figure"
    assert "x = 1" in text(boxes[0])  # the code, whole, inside the box
    printed = "the printed output"
    assert printed not in text(boxes[0]) and printed in text(folded)  # the output outside it
    assert "not folded" not in text("".join(boxes)) and "not folded" in text(folded)
    # The tag is for the build: the page no longer prints it above the code.
    tag = '<span class="cell-tag">fold</span>'
    assert tag in page and tag not in folded


def test_an_answer_cell_collapses_its_code_and_its_output(rendered):
    page = rendered(
        code("# The answer, computed\nx = 1\nprint(x)", "answer", printed="the answer is 1\n"),
        code("y = 2", printed="shown\n"),
    )
    folded, _ = folds.fold_notebook(page)
    [box] = re.findall(r'<details class="fold answer">.*?</details>', folded, flags=re.DOTALL)
    assert re.search(r"<summary>(.*?)</summary>", box).group(1) == "The answer, computed"
    assert "x = 1" in text(box) and "the answer is 1" in text(box)
    assert "the answer is 1" not in text(folded.replace(box, ""))
    assert "shown" in text(folded.replace(box, ""))


def test_a_fold_cell_must_start_with_a_comment(rendered):
    page = rendered(code("x = 1", "fold"))
    with pytest.raises(folds.FoldError, match="must start with a comment"):
        folds.fold_notebook(page)


def test_a_deeper_cell_becomes_a_collapsed_box_titled_by_its_bold_first_line(rendered):
    page = rendered(
        markdown("## 2.1 A section\n\nThe lesson."),
        markdown(
            "**Going deeper: the curvature behind the early rise.**\n\n"
            "Why $\\lambda > 2/\\eta$ diverges.\n\n### A heading inside",
            "deeper",
        ),
    )
    folded, hidden = folds.fold_notebook(page)
    box = re.search(r'<details class="deeper">(.*?)</details>', folded, flags=re.DOTALL).group(1)
    summary = re.search(r"<summary>(.*?)</summary>", box).group(1)
    assert summary == "Going deeper: the curvature behind the early rise."
    body = box.split("</summary>", 1)[1]
    assert "Going deeper" not in body  # the title is not repeated in the body
    # The math is left for MathJax, which typesets the whole page.
    assert "$\\lambda &gt; 2/\\eta$" in body
    # The heading inside is folded away: the table of contents must not link to it; the lesson's
    # own heading stays in view.
    inside = re.search(r'<h3 id="([^"]+)"', body).group(1)
    assert hidden == {inside}
    assert re.search(r'<h2 id="[^"]+">2.1 A section', folded.split('<details class="deeper">')[0])


def test_a_deeper_cell_titled_by_a_heading_keeps_the_heading_id_on_the_box(rendered):
    page = rendered(markdown("#### Going deeper: $W$ at init\n\nBody.", "deeper"))
    heading_id = re.search(r'<h4 id="([^"]+)"', page).group(1)
    folded, hidden = folds.fold_notebook(page)
    box = re.search(
        r'<details class="deeper" id="([^"]+)"><summary>(.*?)</summary>(.*?)</details>',
        folded,
        flags=re.DOTALL,
    )
    assert box.group(1) == heading_id
    assert box.group(2) == "Going deeper: $W$ at init"
    assert "<h4" not in box.group(3) and "Body." in box.group(3)
    assert hidden == set()


def test_a_deeper_cell_must_start_with_a_title(rendered):
    page = rendered(markdown("Plain text first.", "deeper"))
    with pytest.raises(folds.FoldError, match="heading or a bold phrase"):
        folds.fold_notebook(page)


def test_the_table_of_contents_is_read_from_the_headings_left_in_view(rendered):
    page = rendered(
        markdown("# Title\n\n## 1. Shapes of `d_out`\n\n### 1.1 Sub\n\n#### Too deep"),
        markdown("**Going deeper: aside.**\n\n### Inside the aside", "deeper"),
        markdown("## 2. Next"),
    )
    folded, hidden = folds.fold_notebook(page)
    ids = re.findall(r'<h[1-6] id="([^"]+)"', page)

    def outline(tokens):
        return [(t["level"], t["name"], outline(t["children"])) for t in tokens]

    tokens = folds.toc_tokens(folded, depth=3, leave_out=hidden)
    assert outline(tokens) == [
        (
            1,
            "Title",
            [(2, "1. Shapes of <code>d_out</code>", [(3, "1.1 Sub", [])]), (2, "2. Next", [])],
        )
    ]
    # Each entry links to an id the page has: the code span is part of it.
    linked = [tokens[0]["id"], *(t["id"] for t in tokens[0]["children"])]
    assert set(linked) <= set(ids)


def test_doctest_examples_in_docstrings_become_code_blocks():
    require_docs_packages()
    from docs.hooks.griffe_doctests import fence_doctests

    docstring = "Adds ``a``.\n\n>>> add(1, 2)\n3\n\nText after.\n>>> more()"
    expected = (
        "Adds ``a``.\n\n```pycon\n>>> add(1, 2)\n3\n```\n\nText after.\n\n```pycon\n>>> more()\n```"
    )
    assert fence_doctests(docstring) == expected
    assert fence_doctests(expected) == expected


# --- The notebook of an executed page (docs/hooks/notebooks.py), from a small page, no build

SIDE_PAGE = """\
# %% [markdown]
# # A side page
#
# It imports the module from the folder it runs in.

# %% tags=["fold"]
# Imports
import scratch_mlp as sm

# %% tags=["solution", "fold"]
# A solution: left out of the notebook
raise AssertionError("a solution cell ran")

# %%
print(sm.__file__)
"""


def test_a_page_notebook_runs_top_to_bottom_beside_the_module(tmp_path):
    require_docs_packages()
    import nbformat
    from nbclient import NotebookClient

    from docs.hooks.notebooks import imported_modules, page_notebook

    page = tmp_path / "side.py"
    page.write_text(SIDE_PAGE, encoding="utf-8")
    notebook = page_notebook(page)
    assert imported_modules(notebook) == {"scratch_mlp"}
    # What a reader does: the notebook and the module, alone in a folder.
    folder = tmp_path / "downloads"
    folder.mkdir()
    shutil.copy(ROOT / MODULE, folder / MODULE)
    nbformat.write(notebook, folder / "side.ipynb")
    downloaded = nbformat.read(folder / "side.ipynb", as_version=4)
    assert [cell.cell_type for cell in downloaded.cells] == ["markdown", "code", "code"]
    assert downloaded.cells[1].metadata == {"tags": ["fold"]}
    NotebookClient(downloaded, timeout=60, resources={"metadata": {"path": str(folder)}}).execute()
    printed = "".join(
        output.get("text", "") for cell in downloaded.cells[1:] for output in cell.outputs
    )
    assert Path(printed.strip()).resolve() == (folder / MODULE).resolve()


# --- The configuration, and a build without PyTorch (no page runs)


@pytest.fixture(scope="module")
def config():
    require_docs_packages()
    from mkdocs.config import load_config

    return load_config(str(ROOT / "mkdocs.yml"))


def test_a_failing_cell_fails_the_build(config):
    # mkdocs-jupyter's allow_errors defaults to true: a cell that raises prints its traceback
    # into the page and the build passes, even with --strict. Checked on the configuration the
    # plugin and the hook that runs the pages side by side receive, not by a second build.
    from docs.hooks.parallel_pages import nb2html_arguments

    jupyter = config.plugins["mkdocs-jupyter"].config
    arguments = nb2html_arguments(jupyter, str(ROOT / MODULE))
    assert arguments["execute"] is True
    assert arguments["allow_errors"] is False


def test_serve_watches_the_top_level_module(config):
    assert str(ROOT / MODULE) in [os.path.abspath(path) for path in config.watch]


def test_without_pytorch_the_build_stops_with_one_line(tmp_path):
    require_docs_packages()
    # An interpreter on which PyTorch looks uninstalled: `import torch` fails, find_spec is None.
    hide = tmp_path / "hide_torch"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text('import sys\nsys.modules["torch"] = None\n')
    pythonpath = os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])
    returncode, log = mkdocs_build(ROOT, tmp_path / "site", env={"PYTHONPATH": pythonpath})
    assert returncode != 0
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines == [
        "The 'Against PyTorch' page needs PyTorch: pip install -r requirements-docs.txt"
    ]


# --- The build


@dataclass(frozen=True)
class BuiltSite:
    path: Path
    log: str
    started: float  # time.time() when the build started


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    require_docs_packages()
    site = tmp_path_factory.mktemp("site")
    started = time.time()
    returncode, log = mkdocs_build(ROOT, site)
    assert returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return BuiltSite(site, log, started)


def page_html(site, url: str) -> str:
    return (site.path / url / "index.html").read_text(encoding="utf-8")


def output_images(page: str) -> list[bytes]:
    """The PNGs shown in the output areas of an executed page, in page order: displayed as
    images or, as save_figure does with its alt text, as HTML <img> elements."""
    outputs = re.split(r'<div class="[^"]*\bjp-OutputArea-output\b', page)[1:]
    images = []
    for output in outputs:
        output = output.split('<div class="jp-OutputArea-child', 1)[0]
        images += re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', output)
    return [base64.b64decode(data) for data in images]


def test_strict_build_logs_no_warning(built_site):
    # --strict already turns a warning into a failed build; this also names it.
    warnings = [line for line in built_site.log.splitlines() if re.match(r"WARNING\b", line)]
    assert warnings == []


def test_module_is_published_from_the_top_level_file(built_site):
    assert not list((ROOT / "docs").rglob(MODULE)), "docs/ must not keep a copy of the module"
    assert (built_site.path / "scratch_mlp" / "index.html").is_file()
    published = built_site.path / "scratch_mlp" / MODULE
    assert published.read_bytes() == (ROOT / MODULE).read_bytes()


def test_saved_figures_are_read_from_the_code():
    # The module's figures, in the order the sections write them.
    assert saved_figures(MODULE) == MODULE_FIGURES


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_page_shows_each_figure_the_build_wrote(built_site, page):
    rendered = page_html(built_site, page.url)
    images = output_images(rendered)
    assert len(images) == page.figures
    # save_figure shows the very file it wrote: each image, in the order of the page's
    # save_figure calls, must be the PNG this build just wrote there, byte for byte.
    written = [f"figures/{name}" for name in saved_figures(page.source)]
    for path, image in zip(written, images, strict=True):
        png = ROOT / path
        assert png.stat().st_mtime >= built_site.started - 1, f"{path} was not written by the build"
        assert image == png.read_bytes(), f"the page does not show the {path} just written"


def test_printed_results_appear_under_their_cells(built_site):
    shown = text(page_html(built_site, "scratch_mlp/"))
    for printed in (
        "Step 2000 loss=",
        "identical to the article's loop, bit for bit: True",
        "Adam.step and the five lines, 100 steps, bit for bit: True",
        "test accuracy",
    ):
        assert printed in shown


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_no_markdown_heading_sits_inside_a_code_cell(built_site, page):
    # A `# %% [markdown]` marker left out turns the prose under it, headings included, into
    # comments of the code cell above.
    sources = re.findall(
        r'<div class="clipboard-copy-txt"[^>]*>(.*?)</div>', page_html(built_site, page.url), re.S
    )
    misplaced = [
        line
        for source in sources
        for line in html.unescape(source).splitlines()
        if re.match(r"# %%|# #{1,6} ", line)
    ]
    assert misplaced == [], f"{page.source}: markdown in a code cell (a missing `# %% [markdown]`?)"


def test_reference_lists_exactly_the_modules_all(built_site):
    import scratch_mlp

    reference = page_html(built_site, "reference/")
    # mkdocstrings gives each object's heading its dotted path as id.
    listed = re.findall(r'<h2 id="scratch_mlp\.([A-Za-z_]\w*)"', reference)
    assert sorted(listed) == sorted(scratch_mlp.__all__)
    assert len(listed) == len(set(listed))


def test_home_links_every_page_of_the_nav(built_site, config):
    home = page_html(built_site, "")
    article = home.split("<article", 1)[1].split("</article>", 1)[0]
    links = {href.split("#")[0] for href in re.findall(r'<a [^>]*href="([^"]+)"', article)}
    pages = [page for page in config.nav if isinstance(page, dict)]
    for title, source in (next(iter(p.items())) for p in pages):
        if source == "index.md":
            continue
        url = Path(source).with_suffix("").as_posix() + "/"
        assert url in links, f"Home does not link {title} ({source})"


class _Resources(html.parser.HTMLParser):
    """The URLs a page loads by itself (scripts, styles, icons, images, frames), not its links."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and attrs.get("rel") not in ("canonical", "alternate", "prev", "next"):
            self.urls.append(attrs.get("href"))
        elif tag in ("script", "img", "iframe", "source", "audio", "video", "embed"):
            self.urls.append(attrs.get("src"))


def test_pages_load_nothing_from_outside_the_site(built_site):
    pages = list(built_site.path.rglob("*.html"))
    assert len(pages) >= len(PAGES)
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        external = [u for u in parser.urls if u and re.match(r"(https?:)?//", u)]
        assert external == [], f"{page.relative_to(built_site.path)} loads {external}"
    # The math engine is there, from the pinned package, with the extension it loads.
    mathjax = built_site.path / "javascripts" / "mathjax"
    assert (mathjax / "tex-svg.js").stat().st_size > 1_000_000
    assert (mathjax / "input" / "tex" / "extensions" / "textmacros.js").is_file()


def download_links(page_html: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"[^>]*\bdownload\b', page_html)


def test_download_links_serve_the_sources(built_site):
    sources = {Path(page.source).name: ROOT / page.source for page in NOTEBOOK_PAGES}
    notebooks = {Path(page.source).stem + ".ipynb" for page in NOTEBOOK_PAGES}
    for page in built_site.path.rglob("*.html"):
        for href in download_links(page.read_text("utf-8")):
            target = (page.parent / href).resolve()
            assert target.is_file(), f"{page.relative_to(built_site.path)}: {href} is missing"
            if target.name in notebooks:  # read in the test below
                continue
            assert target.read_bytes() == sources[target.name].read_bytes()
    home = page_html(built_site, "")
    assert re.search(r'<a [^>]*href="scratch_mlp/scratch_mlp.py"[^>]*\bdownload\b', home)


def code_cells(source: str) -> list[tuple[str, str]]:
    """The code cells of a jupytext percent-format file, read line by line without jupytext:
    (the cell's marker line, its code without the blank lines around it)."""
    cells = []
    for line in (ROOT / source).read_text("utf-8").splitlines():
        if line.startswith("# %%"):
            cells.append((line, []))
        elif cells:
            cells[-1][1].append(line)
    return [
        (marker, "\n".join(lines).strip()) for marker, lines in cells if "[markdown]" not in marker
    ]


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_every_executed_page_offers_its_notebook(built_site, page):
    # The page links <page>.ipynb, next to it in the site: its code cells, the solutions left
    # out, without outputs, for a Python 3 kernel.
    rendered = page_html(built_site, page.url)
    name = Path(page.source).stem + ".ipynb"
    assert name in download_links(rendered), f"{page.url} offers no {name}"
    notebook = json.loads((built_site.path / page.url / name).read_text("utf-8"))
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    assert "jupytext" not in notebook["metadata"]
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    expected = [code for marker, code in code_cells(page.source) if '"solution"' not in marker]
    assert ["".join(cell["source"]).strip() for cell in code] == expected
    # A page that imports the module says, under its buttons, that both files run beside it,
    # and links the module's copy; the module's own notebook needs nothing beside it.
    imports_module = any(
        re.match(r"(import|from) scratch_mlp\b", line)
        for code in expected
        for line in code.splitlines()
    )
    note = re.search(r'<p class="md-downloads__note">(.*?)</p>', rendered, flags=re.DOTALL)
    if page.source == MODULE:
        assert not imports_module and note is None
        return
    assert imports_module, f"{page.source} does not import scratch_mlp"
    assert note and "run in one folder with scratch_mlp.py" in text(note.group(1))
    [href] = download_links(note.group(1))
    module_copy = (built_site.path / page.url / href).resolve()
    assert module_copy.read_bytes() == (ROOT / MODULE).read_bytes()


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("doc", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_complete_examples_in_the_docs_run(doc: Path):
    # A block that starts with an import is a complete program: it must run against the module.
    blocks = [b for b in python_blocks(doc.read_text("utf-8")) if b.startswith(("import", "from"))]
    for block in blocks:
        result = subprocess.run(
            [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"{doc.name}:\n{block}\n{result.stderr}"


# --- In the browser: each page loaded once, everything measured in that one visit


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site served on 127.0.0.1, as ``http://127.0.0.1:<port>/``."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_unless_required("playwright is not installed (pip install -r requirements-test.txt)")
    if not Path(CHROMIUM).is_file():
        skip_unless_required(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


# What a reader sees of the page as loaded (folded boxes closed), in the 1280-pixel window.
READ_PAGE_JS = r"""() => {
  const article = document.querySelector("article");
  const all = (selector) => [...article.querySelectorAll(selector)];
  // The article's text without code, typeset math and hidden copy-button sources: whatever
  // MathJax should have typeset and did not is still in here.
  const skip = "pre, code, script, style, mjx-container, .clipboard-copy-txt";
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const prose = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest(skip)) prose.push(walker.currentNode.data);
  }
  const math = Array.from(MathJax.startup.document.math);
  const tokens = (item) => MathJax.startup.toMML(item.root).replace(/<[^>]*>/g, "");
  return {
    prose: prose.join(""),
    figures: all(".jp-OutputArea-output img").map((i) => [i.naturalWidth, i.getAttribute("alt")]),
    alts: all("img").map((i) => i.getAttribute("alt")),
    typeset: all("mjx-container").length,
    arithmatex: all(".arithmatex").length,
    arithmatexTypeset: all(".arithmatex mjx-container").length,
    unparsed: math.filter((m) => m.typesetRoot.querySelector('[data-mml-node="merror"]'))
                  .map((m) => m.math),
    // A backslash left in the typeset math: a macro MathJax read as text, as \_ inside \text{}
    // without the textmacros extension.
    backslashes: math.filter((m) => tokens(m).includes("\\")).map((m) => m.math),
    copyDiffers: all(".clipboard-copy-txt").filter((copy) => {
      const code = copy.parentElement.querySelector("pre").textContent;
      return copy.textContent.trimEnd() !== code.trimEnd();
    }).map((copy) => copy.id),
    toc: [...document.querySelectorAll(".md-sidebar--secondary a.md-nav__link")].map((a) => {
      const target = document.getElementById(decodeURIComponent(a.hash.slice(1)));
      return {
        title: a.innerText.trim(),
        found: target !== null,
        folded: target !== null && target.parentElement.closest("details:not([open])") !== null,
      };
    }),
    download: article.querySelector("a[download]")?.getAttribute("href") ?? null,
    // What a reader has to read: the text in view with folds closed, less the copy of each
    // formula MathJax keeps for screen readers.
    visibleCharacters: (() => {
      const hidden = all("mjx-assistive-mml");
      hidden.forEach((m) => m.style.setProperty("display", "none", "important"));
      const length = article.innerText.length;
      hidden.forEach((m) => m.style.removeProperty("display"));
      return length;
    })(),
  };
}"""

# With every folded box open: the code and output blocks wider than their box, the widths of
# the display equations, whether the page itself scrolls sideways, and markdown cells narrower
# than the column.
MEASURE_JS = r"""() => {
  const article = document.querySelector("article");
  return {
    wideBlocks: [...article.querySelectorAll("pre, pre > code")]
      .filter((b) => b.scrollWidth > b.clientWidth)
      .map((b) => b.textContent.split("\n")[0]),
    equations: [...article.querySelectorAll('mjx-container[display="true"]')].map((m) => ({
      tex: Array.from(MathJax.startup.document.math).find((item) => item.typesetRoot === m)?.math,
      width: m.querySelector("svg").getBoundingClientRect().width,
      clipped: m.scrollWidth > m.clientWidth,
      scrolls: ["auto", "scroll"].includes(getComputedStyle(m).overflowX),
    })),
    pageWidth: document.documentElement.scrollWidth,
    // Inline math cannot wrap or scroll: one wider than the column pushes the page sideways.
    // In a table it scrolls with the table.
    wideInline: Array.from(MathJax.startup.document.math)
      .filter((m) => !m.display && !m.typesetRoot.closest("table"))
      .filter((m) => m.typesetRoot.getBoundingClientRect().width > article.clientWidth)
      .map((m) => m.math),
    // Text squeezed beside the floated download button for a whole cell's height.
    narrowText: [...article.querySelectorAll(".jp-RenderedMarkdown")]
      .filter((m) => m.getBoundingClientRect().width < 0.9 * article.clientWidth)
      .map((m) => m.textContent.trim().slice(0, 60)),
  };
}"""

OPEN_FOLDS_JS = """() => document.querySelectorAll("details:not([open])").forEach((d) => {
  d.open = true;
  d.dataset.testOpened = "";
})"""
CLOSE_FOLDS_JS = """() => document.querySelectorAll("details[data-test-opened]").forEach((d) => {
  d.open = false;
})"""


@dataclass
class Report:
    """What one visit to a page saw."""

    read: dict
    wide: dict  # MEASURE_JS in the 1280-pixel window
    phone: dict  # MEASURE_JS in a 390-pixel window
    dark_filters: list[str]  # each figure's CSS filter in the dark palette
    light_filters: list[str]
    downloaded: bytes | None
    outside: list[str]
    failed: list[str]
    console_errors: list[str]


def screenshot(page, name: str) -> None:
    folder = os.environ.get("DOCS_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", animations="disabled")


@dataclass
class Tab:
    """A page opened in the browser, with everything it asked the network for."""

    page: object
    info: object  # the docs_support page it shows
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_tab(context, base_url: str, info) -> Tab:
    """Start loading a page, recording its requests, failures and console errors."""
    tab = Tab(context.new_page(), info)
    page = tab.page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("requestfailed", lambda request: tab.failed.append(request.url))
    page.on("response", lambda response: response.status >= 400 and tab.failed.append(response.url))
    page.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    page.goto(base_url + info.url, wait_until="commit")
    return tab


def inspect(tab: Tab, base_url: str) -> Report:
    page, info = tab.page, tab.info
    page.wait_for_load_state("load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")
    page.evaluate("() => Promise.all([...document.images].map(i => i.decode().catch(() => 0)))")
    read = page.evaluate(READ_PAGE_JS)
    screenshot(page, f"{info.slug}-1280-light")
    figures = "article .jp-OutputArea-output img"
    filters = "images => images.map(i => getComputedStyle(i).filter)"
    light_filters = page.eval_on_selector_all(figures, filters)

    page.evaluate(OPEN_FOLDS_JS)
    wide = page.evaluate(MEASURE_JS)
    page.set_viewport_size({"width": 390, "height": 844})
    phone = page.evaluate(MEASURE_JS)
    page.evaluate(CLOSE_FOLDS_JS)
    screenshot(page, f"{info.slug}-390-light")
    page.set_viewport_size({"width": 1280, "height": 900})

    dark_filters = []
    if light_filters or os.environ.get("DOCS_SCREENSHOTS"):
        page.locator("label[title='Switch to dark mode']").click()
        page.wait_for_function("() => document.body.dataset.mdColorScheme === 'slate'")
        dark_filters = page.eval_on_selector_all(figures, filters)
        if light_filters:
            page.locator(figures).first.evaluate("i => i.scrollIntoView({block: 'center'})")
        screenshot(page, f"{info.slug}-1280-dark")
        # Material keeps the chosen palette in local storage: pages opened later start light.
        page.evaluate("() => localStorage.clear()")

    downloaded = None
    if read["download"]:
        response = page.request.get(page.url + read["download"])
        downloaded = response.body() if response.ok else b""
    outside = [u for u in tab.requests if not u.startswith((base_url, "data:", "blob:"))]
    return Report(
        read, wide, phone, dark_filters, light_filters, downloaded, outside, tab.failed, tab.errors
    )


@pytest.fixture(scope="session")
def reports(browser, site_url) -> dict[str, Report]:
    """Every page of the site, each loaded once, one after the other, in one browser context
    (its cache keeps MathJax and Material's scripts from one page to the next, as a reader's
    browser does). Loading them side by side in several tabs was no faster on two cores."""
    context = browser.new_context(color_scheme="light")
    # Anything addressed outside the local server is refused (and recorded), never fetched.
    outside = re.compile(r"^(?!" + re.escape(site_url) + ")https?://.*")
    context.route(outside, lambda route: route.abort())
    try:
        return {page.slug: inspect(open_tab(context, site_url, page), site_url) for page in PAGES}
    finally:
        context.close()


@pytest.mark.parametrize("page", PAGES, ids=slug)
def test_nothing_is_requested_outside_the_site_and_nothing_fails(reports, page):
    report = reports[page.slug]
    assert report.outside == []
    assert report.failed == []
    assert report.console_errors == []


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_every_figure_loads(reports, page):
    figures = reports[page.slug].read["figures"]
    assert len(figures) == page.figures
    assert all(width > 0 for width, _ in figures), figures


@pytest.mark.parametrize("page", PAGES, ids=slug)
def test_every_image_has_alt_text_of_its_own(reports, page):
    alts = reports[page.slug].read["alts"]
    assert DEFAULT_ALT not in alts, "an image shown without alt text (nbconvert's default)"
    assert all(alt and alt.strip() for alt in alts), alts


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_every_equation_is_typeset(reports, page):
    read = reports[page.slug].read
    assert read["typeset"] == len(math_in_markdown(page.source))
    assert read["unparsed"] == [], "MathJax could not parse this math"
    for raw in ("$$", "\\(", "\\["):
        assert raw not in read["prose"]
    assert not re.search(r"\$[^$\s][^$]*\$", read["prose"]), "inline math left as text"


@pytest.mark.parametrize("page", MARKDOWN_PAGES, ids=slug)
def test_markdown_pages_are_typeset(reports, page):
    read = reports[page.slug].read
    # pymdownx.arithmatex wraps each formula in an .arithmatex element for MathJax.
    assert read["arithmatex"] >= page.formulas
    assert read["arithmatexTypeset"] == read["arithmatex"]
    assert read["unparsed"] == []
    assert "\\(" not in read["prose"] and "$$" not in read["prose"]


@pytest.mark.parametrize("page", PAGES, ids=slug)
def test_no_formula_shows_a_backslash(reports, page):
    assert reports[page.slug].read["backslashes"] == []


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_copy_buttons_copy_the_code_not_typeset_math(reports, page):
    assert reports[page.slug].read["copyDiffers"] == []


@pytest.mark.parametrize("page", PAGES, ids=slug)
def test_code_fits_a_1280_pixel_window(reports, page):
    # Folded code included: the boxes are opened to measure it.
    assert reports[page.slug].wide["wideBlocks"] == []


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_text_takes_the_whole_column(reports, page):
    report = reports[page.slug]
    assert report.wide["narrowText"] == []
    assert report.phone["narrowText"] == []


@pytest.mark.parametrize("page", PAGES, ids=slug)
def test_formulas_stay_readable_on_a_phone(reports, page):
    report = reports[page.slug]
    # A display equation wider than the column keeps its size and scrolls in its own box.
    for wide, phone in zip(report.wide["equations"], report.phone["equations"], strict=True):
        assert phone["width"] == pytest.approx(wide["width"], abs=1), f"shrunk: {phone['tex']}"
        assert phone["scrolls"] or not phone["clipped"], f"cut off: {phone['tex']}"
    assert report.phone["wideInline"] == [], "inline math wider than a phone: make it $$display$$"
    assert report.phone["pageWidth"] <= 390, "the page itself scrolls sideways on a phone"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_table_of_contents_lists_the_sections_and_each_entry_lands_in_view(reports, page):
    toc = reports[page.slug].read["toc"]
    titles = [entry["title"] for entry in toc]
    for title in section_titles(page.source):
        assert any(entry.startswith(title) for entry in titles), f"{title!r} not in the TOC"
    assert [e["title"] for e in toc if not e["found"]] == [], "entries linking to nothing"
    assert [e["title"] for e in toc if e["folded"]] == [], "entries linking into a closed box"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES, ids=slug)
def test_download_button_serves_the_file(reports, page):
    assert reports[page.slug].downloaded == (ROOT / page.source).read_bytes()


@pytest.mark.parametrize("page", [p for p in NOTEBOOK_PAGES if p.figures], ids=slug)
def test_figures_are_redrawn_for_the_dark_palette(reports, page):
    report = reports[page.slug]
    assert set(report.light_filters) == {"none"}
    assert all("invert" in f for f in report.dark_filters), report.dark_filters


def test_the_lesson_reads_in_one_sitting(reports):
    # The main page is a first lesson, about 30 minutes: at most 25,000 characters in view with
    # its folds closed. Depth belongs on the pages after it.
    assert reports["scratch_mlp"].read["visibleCharacters"] <= 25_000
